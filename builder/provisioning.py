"""What the admin page (``admin/``) offers an organization's Claude owners: which plugins each group
of ``.skillport/access.yaml`` may read, to assign as plugin bundles in Claude.ai, beside the skill zips
that ``skillport sync-api`` uploads to a Claude API workspace.

Pure: the index's normalized ``access`` section in, records out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class GroupPlugins:
    """A group named in the access rules, its size, and the plugins that name it as readers."""

    name: str
    members: int
    plugins: tuple[str, ...]


def _names(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return ()


def group_plugins(access: Mapping[str, Any] | None, plugin_names: Iterable[str]) -> tuple[GroupPlugins, ...]:
    """For each group, the plugins whose read rule names it (a plugin every member reads, ``*``, goes to
    the whole organization instead); groups in name order, plugins in ``plugin_names`` order."""
    if not isinstance(access, Mapping):
        return ()
    groups = access.get("groups") if isinstance(access.get("groups"), Mapping) else {}
    default = access.get("default") if isinstance(access.get("default"), Mapping) else {}
    rules = access.get("plugins") if isinstance(access.get("plugins"), Mapping) else {}
    assert isinstance(groups, Mapping) and isinstance(default, Mapping) and isinstance(rules, Mapping)
    names = list(plugin_names)

    def readers(plugin: str) -> tuple[str, ...]:
        rule = rules.get(plugin)
        if isinstance(rule, Mapping) and "read" in rule:
            return _names(rule["read"])
        return _names(default.get("read", ["*"]))

    return tuple(
        GroupPlugins(str(group), len(_names(groups[group])), tuple(p for p in names if group in readers(p)))
        for group in sorted(groups)
    )
