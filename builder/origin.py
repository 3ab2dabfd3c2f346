"""The origin marker an upload zip's SKILL.md description ends with: `` (MARKETPLACE/PLUGIN VERSION)``.

Claude.ai and the Claude API show and return a skill's description, never its other frontmatter, so the
marker is how an organization admin (and ``skillport sync-api``) can tell which catalog and version an
uploaded skill holds. The packager writes it; the API sync reads it back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from builder.errors import BadInput

MAX_DESCRIPTION = 1024  # Claude.ai and the Skills API refuse longer descriptions
_MARKER = re.compile(
    r" \((?P<marketplace>[^\s()/]+)/(?P<plugin>[^\s()/]+) (?P<version>[0-9][0-9A-Za-z.+-]*)\)$"
)


@dataclass(frozen=True)
class Origin:
    """Where an uploaded skill came from: read from, and written to, its description's marker."""

    marketplace: str
    plugin: str
    version: str

    def __post_init__(self) -> None:
        for field, value in (("marketplace", self.marketplace), ("plugin", self.plugin)):
            if not value or any(c.isspace() or c in "()/" for c in value):
                raise BadInput(f"origin marker: {field} {value!r} cannot carry spaces, '/', '(' or ')'")
        if not re.fullmatch(r"[0-9][0-9A-Za-z.+-]*", self.version):
            raise BadInput(f"origin marker: version {self.version!r} is not a SemVer version")

    @property
    def marker(self) -> str:
        return f" ({self.marketplace}/{self.plugin} {self.version})"


def parse_origin(description: str) -> Origin | None:
    """The origin a description ends with, or None (not uploaded by Skillport)."""
    m = _MARKER.search(description.rstrip())
    if m is None:
        return None
    try:
        return Origin(m["marketplace"], m["plugin"], m["version"])
    except BadInput:
        return None


def with_origin(description: str, origin: Origin) -> str:
    """``description`` ending with ``origin``'s marker, at most 1024 characters (an earlier marker of the
    same marketplace is replaced; a description too long for both is shortened)."""
    text = description.rstrip()
    old = _MARKER.search(text)
    if old is not None and old["marketplace"] == origin.marketplace:
        text = text[: old.start()].rstrip()
    room = MAX_DESCRIPTION - len(origin.marker)
    if len(text) > room:
        text = text[: room - 1].rstrip() + "…"
    return text + origin.marker


def origin_or_none(marketplace: str, plugin: str, version: str) -> Origin | None:
    """The origin, or None when a name cannot be carried in a marker (the skill then cannot be synced)."""
    try:
        return Origin(marketplace, plugin, version)
    except BadInput:
        return None
