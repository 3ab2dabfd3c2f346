"""Per-plugin read/edit rules from the index's ``access`` field, and filters over what members see (T26).

Principals: ``*`` (every signed-in member), an email, ``@domain``, or a group name from ``groups``.
A plugin not under ``plugins`` uses ``default``; no ``access`` at all means everyone reads, nobody edits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from builder.contract.index import IndexDocument

_MARKER = re.compile(r"<!--sp-plugin:([^>]*?)-->(.*?)<!--/sp-plugin-->", re.DOTALL)
_EDITORS = re.compile(r"<!--sp-editors-->(.*?)<!--/sp-editors-->", re.DOTALL)
ADMIN_PREFIX = "admin/"  # the provisioning page: editors only (builder/provisioning.py)


class MemberLike(Protocol):
    @property
    def email(self) -> str: ...


@dataclass(frozen=True)
class AccessRules:
    """The access rules of one index document, plus the name maps the filters need."""

    groups: Mapping[str, tuple[str, ...]]
    default_read: tuple[str, ...]
    default_edit: tuple[str, ...]
    plugins: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]]
    skill_plugin: Mapping[str, str]
    plugin_names: frozenset[str] = frozenset()

    @classmethod
    def from_index(cls, doc: IndexDocument) -> AccessRules:
        skill_plugin = {s.name: s.plugin for s in doc.skills}
        names = frozenset(doc.plugins_by_name) | frozenset(skill_plugin.values())
        access = doc.access
        if access is None:
            return cls({}, ("*",), (), {}, skill_plugin, names)
        return cls(
            dict(access.groups),
            access.default.read,
            access.default.edit,
            {name: (rule.read, rule.edit) for name, rule in access.plugins.items()},
            skill_plugin,
            names,
        )

    def _matches(self, email: str, principals: Iterable[str], depth: int = 0) -> bool:
        email = email.lower()
        for principal in principals:
            p = principal.strip().lower()
            if p == "*":
                return True
            if p.startswith("@"):
                if email.endswith(p) and email.count("@") == 1:
                    return True
            elif "@" in p:
                if email == p:
                    return True
            elif depth == 0 and principal in self.groups and self._matches(email, self.groups[principal], 1):
                return True
        return False

    def can_read(self, member: MemberLike, plugin: str) -> bool:
        read = self.plugins[plugin][0] if plugin in self.plugins else self.default_read
        return self._matches(member.email, read)

    def can_edit(self, member: MemberLike, plugin: str) -> bool:
        edit = self.plugins[plugin][1] if plugin in self.plugins else self.default_edit
        return self._matches(member.email, edit)

    def can_edit_any(self, member: MemberLike) -> bool:
        """Whether the member edits at least one plugin (or every plugin without a rule of its own)."""
        rules = [edit for _, edit in self.plugins.values()]
        if self.plugin_names - set(self.plugins):
            rules.append(self.default_edit)
        return any(self._matches(member.email, edit) for edit in rules)

    def can_read_skill(self, member: MemberLike, skill: str) -> bool:
        plugin = self.skill_plugin.get(skill)
        return plugin is not None and self.can_read(member, plugin)

    # -- filters --------------------------------------------------------------------------------

    def filter_index(self, doc: IndexDocument, member: MemberLike) -> dict[str, Any]:
        """The index a member may see (as JSON): only readable plugins and their skills; no access rules."""
        return doc.with_only(
            plugins=[p for p in doc.plugins if self.can_read(member, p.name)],
            skills=[s for s in doc.skills if self.can_read(member, s.plugin)],
        ).to_dict(with_access=False)

    def filter_marketplace(self, data: bytes, member: MemberLike) -> bytes:
        """``claude-code/marketplace.json`` without the plugins the member may not read."""
        return _filter_json_list(data, "plugins", lambda e: self.can_read(member, str(e.get("name"))))

    def filter_well_known(self, data: bytes, member: MemberLike) -> bytes:
        """``.well-known/agent-skills/index.json`` without the skills the member may not read."""
        return _filter_json_list(data, "skills", lambda e: self.can_read_skill(member, str(e.get("name"))))

    def filter_search(self, data: bytes, member: MemberLike) -> bytes:
        """MkDocs ``search/search_index.json`` without entries under unreadable skill/plugin pages."""
        return _filter_json_list(
            data, "docs", lambda e: self.path_readable(member, str(e.get("location", "")))
        )

    def filter_html(self, html: str, member: MemberLike) -> str:
        """Drop ``<!--sp-plugin:NAME-->…<!--/sp-plugin-->`` blocks of plugins the member may not read,
        and ``<!--sp-editors-->…<!--/sp-editors-->`` blocks unless the member edits some plugin."""

        def keep(match: re.Match[str]) -> str:
            return match.group(0) if self.can_read(member, match.group(1).strip()) else ""

        html = _MARKER.sub(keep, html)
        return html if self.can_edit_any(member) else _EDITORS.sub("", html)

    def path_readable(self, member: MemberLike, path: str) -> bool:
        """Whether a site path (no leading /) under ``skills/<s>/`` or ``plugins/<p>/`` may be seen."""
        parts = path.lstrip("/").split("/")
        if path.lstrip("/").startswith(ADMIN_PREFIX):  # admin/ and, for a large catalog, admin/<plugin>/
            if len(parts) >= 3 and parts[1] in self.plugin_names and not self.can_read(member, parts[1]):
                return False
            return self.can_edit_any(member)
        if len(parts) >= 2 and parts[0] in ("skills", "plugins"):
            name = parts[1].split("#")[0]
            if len(parts) == 2 and name.endswith(".zip"):
                return False  # zips are checked against the index elsewhere
            known = self.skill_plugin if parts[0] == "skills" else self.plugin_names
            if len(parts) == 2 and name not in known:
                return True  # a listing page such as plugins/index.html (filtered by markers)
            if parts[0] == "skills":
                return self.can_read_skill(member, name)
            return name in self.plugin_names and self.can_read(member, name)
        if len(parts) >= 3 and parts[:2] == [".well-known", "agent-skills"] and parts[2] != "index.json":
            return self.can_read_skill(member, parts[2])
        return True


def _filter_json_list(data: bytes, key: str, keep: Callable[[dict[str, Any]], bool]) -> bytes:
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return b"{}"
    if not isinstance(doc, dict):
        return b"{}"
    entries = doc.get(key)
    if isinstance(entries, list):
        doc[key] = [e for e in entries if isinstance(e, dict) and keep(e)]
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")
