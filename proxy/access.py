"""Per-plugin read/edit rules from the index's ``access`` field, and filters over what members see (T26).

Principals: ``*`` (every signed-in member), an email, ``@domain``, or a group name from ``groups``.
A plugin not under ``plugins`` uses ``default``; no ``access`` at all means everyone reads, nobody edits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from builder.contract.index import IndexDocument

_MARKER = re.compile(r"<!--sp-plugin:([^>]*?)-->(.*?)<!--/sp-plugin-->", re.DOTALL)
_EDITORS = re.compile(r"<!--sp-editors-->(.*?)<!--/sp-editors-->", re.DOTALL)
ADMIN_PREFIX = "admin/"  # the provisioning page: editors only (builder/provisioning.py)


class MemberLike(Protocol):
    @property
    def email(self) -> str: ...


# What seeing one entry (a path, a list entry, an HTML block) takes: ``(kind, plugin)``.
ALWAYS, NEVER, READ, EDIT_ANY, READ_AND_EDIT_ANY = range(5)
Need = tuple[int, str]
SEEN_BY_ALL: Need = (ALWAYS, "")
SEEN_BY_NONE: Need = (NEVER, "")


@dataclass(frozen=True)
class AccessKey:
    """Everything the filters ask about one member, under one set of rules: which plugins that have
    a rule of their own the member reads, whether the default rule lets them read, and whether they
    edit any plugin. Members with equal keys see byte-identical filtered views, so views are cached
    per key, never per member (proxy/views.py)."""

    readable: frozenset[str]
    default_read: bool
    edits_any: bool

    def reads(self, rules: AccessRules, plugin: str) -> bool:
        return plugin in self.readable if plugin in rules.plugins else self.default_read

    def allows(self, rules: AccessRules, need: Need) -> bool:
        return _allows(need, lambda plugin: self.reads(rules, plugin), lambda: self.edits_any)


def _allows(need: Need, reads: Callable[[str], bool], edits_any: Callable[[], bool]) -> bool:
    """Whether ``need`` is met by someone who ``reads`` these plugins and ``edits_any`` or not."""
    kind, plugin = need
    if kind == ALWAYS:
        return True
    if kind == READ:
        return reads(plugin)
    if kind == EDIT_ANY:
        return edits_any()
    if kind == READ_AND_EDIT_ANY:
        return edits_any() and reads(plugin)
    return False


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

    def access_key(self, member: MemberLike) -> AccessKey:
        """The member's ``AccessKey`` under these rules (what every filter below depends on)."""
        return AccessKey(
            frozenset(name for name, (read, _) in self.plugins.items() if self._matches(member.email, read)),
            self._matches(member.email, self.default_read),
            self.can_edit_any(member),
        )

    def allows(self, member: MemberLike, need: Need) -> bool:
        return _allows(need, lambda plugin: self.can_read(member, plugin), lambda: self.can_edit_any(member))

    # -- what seeing an entry takes ---------------------------------------------------------------

    def skill_need(self, skill: str) -> Need:
        plugin = self.skill_plugin.get(skill)
        return SEEN_BY_NONE if plugin is None else (READ, plugin)

    def path_need(self, path: str) -> Need:
        """What seeing a site path (no leading /) takes: ``skills/<s>/…`` and ``plugins/<p>/…`` their
        plugin's read access, ``admin/…`` editing some plugin (and reading ``admin/<plugin>/``'s)."""
        parts = path.lstrip("/").split("/")
        if path.lstrip("/").startswith(ADMIN_PREFIX):  # admin/ and, for a large catalog, admin/<plugin>/
            if len(parts) >= 3 and parts[1] in self.plugin_names:
                return (READ_AND_EDIT_ANY, parts[1])
            return (EDIT_ANY, "")
        if len(parts) >= 2 and parts[0] in ("skills", "plugins"):
            name = parts[1].split("#")[0]
            if len(parts) == 2 and name.endswith(".zip"):
                return SEEN_BY_NONE  # zips are checked against the index elsewhere
            known = self.skill_plugin if parts[0] == "skills" else self.plugin_names
            if len(parts) == 2 and name not in known:
                return SEEN_BY_ALL  # a listing page such as plugins/index.html (filtered by markers)
            if parts[0] == "skills":
                return self.skill_need(name)
            return (READ, name) if name in self.plugin_names else SEEN_BY_NONE
        if len(parts) >= 3 and parts[:2] == [".well-known", "agent-skills"] and parts[2] != "index.json":
            return self.skill_need(parts[2])
        return SEEN_BY_ALL

    # -- filters --------------------------------------------------------------------------------

    def filter_html(self, html: str, key: AccessKey) -> str:
        """Drop ``<!--sp-plugin:NAME-->…<!--/sp-plugin-->`` blocks of plugins ``key`` does not read,
        and ``<!--sp-editors-->…<!--/sp-editors-->`` blocks unless it edits some plugin: the page as
        every member with that key sees it (what views cache)."""

        def keep(match: re.Match[str]) -> str:
            return match.group(0) if key.reads(self, match.group(1).strip()) else ""

        html = _MARKER.sub(keep, html)
        return html if key.edits_any else _EDITORS.sub("", html)

    def path_readable(self, member: MemberLike, path: str) -> bool:
        """Whether a site path (no leading /) under ``skills/<s>/`` or ``plugins/<p>/`` may be seen."""
        return self.allows(member, self.path_need(path))
