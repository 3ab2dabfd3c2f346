"""The Agent Skills Discovery v0.2.0 index (cloudflare/agent-skills-discovery-rfc) and its files.

Written under ``SITE/.well-known/agent-skills/``:

- ``index.json``: ``{"version": "0.2.0", "skills": [...]}``; one entry per skill, sorted by name, with
  the RFC's fields ``name``, ``description``, ``digest`` (skill-level digest, see ``builder.digest``),
  ``files`` (``[{"path", "digest"}]``, SKILL.md first, then byte order of the path) and, only when
  asked for, ``package`` (``{"url", "digest"}``). Nothing else: clients must ignore unknown fields,
  but other agents gain nothing from ours.
- ``<skill>/<path>`` for every file, exactly the bytes the digests cover (the caller passes the
  stamped SKILL.md, the same one packaged in the zips).
- with ``packages=True``, ``<skill>.zip``: a deterministic zip with the skill folder's contents at
  the archive root (the RFC's archive structure, not the upload zips' ``<skill>/`` root). Its URL is
  ``<base_url>.well-known/agent-skills/<skill>.zip`` when ``base_url`` is given, else relative to
  the index (``<skill>.zip``).

The RFC restricts names to the Agent Skills spec (``[a-z0-9-]``, 1-64) and file paths to printable
ASCII without ``\\ ? # [ ]``; anything else is ``BadInput`` naming the skill and file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from builder import policy
from builder.digest import file_digest, skill_digest
from builder.errors import BadInput
from builder.model import SkillFile
from builder.package import archive

WELL_KNOWN_VERSION = "0.2.0"
WELL_KNOWN_DIR = ".well-known/agent-skills"


@dataclass(frozen=True)
class DiscoverySkill:
    """What the well-known index needs of one skill: its name, description and served files."""

    name: str
    description: str
    files: tuple[SkillFile, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", tuple(self.files))
        if not policy.is_name(self.name):
            raise BadInput(
                f"agent-skills index: skill name {self.name!r} must be 1-{policy.MAX_NAME_CHARS} lowercase "
                "letters, digits and single hyphens"
            )
        if not isinstance(self.description, str) or not self.description.strip():
            raise BadInput(f"agent-skills index: skill {self.name!r} needs a non-empty description")
        paths = [f.path for f in self.files]
        if "SKILL.md" not in paths:
            raise BadInput(f"agent-skills index: skill {self.name!r} has no SKILL.md at its top level")
        if len(set(paths)) != len(paths):
            raise BadInput(f"agent-skills index: skill {self.name!r} lists a file twice")
        for path in paths:
            problem = policy.rfc_path_problem(path)
            if problem:
                raise BadInput(
                    f"agent-skills index: skill {self.name!r}: file {path!r} {problem}; rename the file"
                )


@dataclass(frozen=True)
class WellKnown:
    """The index document and every file to write, as paths relative to ``.well-known/agent-skills/``
    (``index.json`` included, encoded by ``encode``)."""

    index: dict[str, Any]
    files: tuple[tuple[str, bytes], ...]


def _ordered(files: Sequence[SkillFile]) -> list[SkillFile]:
    return sorted(files, key=lambda f: (f.path != "SKILL.md", f.path.encode("utf-8")))


def encode(index: dict[str, Any]) -> bytes:
    """The index as served: UTF-8 JSON with the RFC's field order, newline-terminated."""
    return (json.dumps(index, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def well_known_index(
    skills: Sequence[DiscoverySkill], *, packages: bool = False, base_url: str | None = None
) -> WellKnown:
    """The v0.2.0 index over ``skills`` and the files to write (deterministic for the same input)."""
    names = [s.name for s in skills]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise BadInput(f"agent-skills index: skill name(s) {dup} appear more than once; names must be unique")
    if base_url is not None and not base_url.endswith("/"):
        base_url += "/"
    entries: list[dict[str, Any]] = []
    out: list[tuple[str, bytes]] = []
    for skill in sorted(skills, key=lambda s: s.name):
        ordered = _ordered(skill.files)
        entry: dict[str, Any] = {
            "name": skill.name,
            "description": skill.description,
            "digest": skill_digest(ordered),
            "files": [{"path": f.path, "digest": "sha256:" + f.sha256} for f in ordered],
        }
        out.extend((f"{skill.name}/{f.path}", f.data) for f in ordered)
        if packages:
            data = archive(ordered)
            rel = f"{skill.name}.zip"
            url = f"{base_url}{WELL_KNOWN_DIR}/{rel}" if base_url is not None else rel
            entry["package"] = {"url": url, "digest": file_digest(data)}
            out.append((rel, data))
        entries.append(entry)
    index: dict[str, Any] = {"version": WELL_KNOWN_VERSION, "skills": entries}
    out.insert(0, ("index.json", encode(index)))
    return WellKnown(index=index, files=tuple(out))
