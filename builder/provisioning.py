"""What the admin page (``admin/``) offers an organization's Claude owners: which plugins each group
of ``.skillport/access.yaml`` may read, to assign as plugin bundles in Claude.ai, beside the skill zips
that ``skillport sync-api`` uploads to a Claude API workspace.

Pure: the index's typed access section in, records out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from builder.contract.index import AccessSection


@dataclass(frozen=True)
class GroupPlugins:
    """A group named in the access rules, its size, and the plugins that name it as readers."""

    name: str
    members: int
    plugins: tuple[str, ...]


def group_plugins(access: AccessSection | None, plugin_names: Iterable[str]) -> tuple[GroupPlugins, ...]:
    """For each group, the plugins whose read rule names it (a plugin every member reads, ``*``, goes to
    the whole organization instead); groups in name order, plugins in ``plugin_names`` order."""
    if access is None:
        return ()
    names = list(plugin_names)
    return tuple(
        GroupPlugins(
            group, len(access.groups[group]), tuple(p for p in names if group in access.rule(p).read)
        )
        for group in sorted(access.groups)
    )
