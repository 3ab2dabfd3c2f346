"""What a sync must do, decided from data alone (no I/O, no clock).

Every upload zip carries an origin marker at the end of its SKILL.md description (``builder.origin``).
The API gives back each version's description, so the marker tells, for any API skill, whether this
catalog created it (``--prune`` deletes nothing else) and which catalog version its latest API version
holds (a catalog skill's content cannot change without its version, T48).

Two syncs racing may both create the same skill; the next sync keeps the oldest and deletes the
others it created (``dedupe``), so races never leave duplicates a later run cannot resolve.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from builder.origin import Origin


@dataclass(frozen=True)
class CatalogSkill:
    """A catalog skill that may be uploaded, with the exact files to upload (``folder/...`` paths)."""

    plugin: str
    name: str
    version: str
    files: tuple[tuple[str, bytes], ...]

    @property
    def key(self) -> str:
        return f"{self.plugin}:{self.name}"


@dataclass(frozen=True)
class ApiSkill:
    """A custom skill in the workspace, as its latest version describes it."""

    id: str
    name: str
    created_at: datetime
    origin: Origin | None

    def key(self) -> str | None:
        return f"{self.origin.plugin}:{self.name}" if self.origin else None


class Kind(StrEnum):
    CREATE = "create"  # new skill with its first version
    VERSION = "version"  # a new version of a skill this catalog created
    SKIP = "skip"  # already at the catalog's version
    CONFLICT = "conflict"  # an API skill with this name exists that this catalog did not create
    PRUNE = "prune"  # created by this catalog, no longer in it (only with --prune)
    DEDUPE = "dedupe"  # a second copy left by two racing syncs


@dataclass(frozen=True)
class Step:
    kind: Kind
    skill: str  # plugin:name
    version: str | None = None  # the catalog version uploaded (create/version) or held (skip)
    api_id: str | None = None  # the API skill acted on (version/skip/prune/dedupe)
    detail: str = ""

    def as_dict(self) -> dict[str, str | None]:
        return {
            "action": self.kind.value,
            "skill": self.skill,
            "version": self.version,
            "api_id": self.api_id,
            "detail": self.detail,
        }


def _ours(workspace: Iterable[ApiSkill], marketplace: str) -> dict[str, list[ApiSkill]]:
    groups: dict[str, list[ApiSkill]] = {}
    for api in workspace:
        key = api.key()
        if key is not None and api.origin is not None and api.origin.marketplace == marketplace:
            groups.setdefault(key, []).append(api)
    for copies in groups.values():
        copies.sort(key=lambda a: (a.created_at, a.id))
    return groups


def plan_sync(
    marketplace: str, catalog: Sequence[CatalogSkill], workspace: Sequence[ApiSkill], *, prune: bool
) -> tuple[Step, ...]:
    """The steps that make ``workspace`` hold every ``catalog`` skill at its version, in a stable order."""
    ours = _ours(workspace, marketplace)
    foreign = {a.name for a in workspace if a.origin is None or a.origin.marketplace != marketplace}
    steps: list[Step] = []
    for key, copies in sorted(ours.items()):
        steps.extend(
            Step(
                Kind.DEDUPE,
                key,
                api_id=extra.id,
                detail=f"duplicate of {copies[0].id} left by a concurrent sync",
            )
            for extra in copies[1:]
        )
    wanted = {c.key for c in catalog}
    for skill in sorted(catalog, key=lambda c: c.key):
        held_copies = ours.get(skill.key)
        if held_copies:
            held = held_copies[0]
            assert held.origin is not None
            if held.origin.version == skill.version:
                steps.append(Step(Kind.SKIP, skill.key, skill.version, held.id, "already at this version"))
            else:
                steps.append(
                    Step(
                        Kind.VERSION,
                        skill.key,
                        skill.version,
                        held.id,
                        f"{held.origin.version} -> {skill.version}",
                    )
                )
        elif skill.name in foreign:
            steps.append(
                Step(
                    Kind.CONFLICT,
                    skill.key,
                    skill.version,
                    detail=(
                        f"the workspace has a skill named {skill.name!r} that this catalog did not upload; "
                        "delete it in the workspace (or rename the catalog skill) and sync again"
                    ),
                )
            )
        else:
            steps.append(Step(Kind.CREATE, skill.key, skill.version))
    if prune:  # the copies beyond the first already have their dedupe step
        for key, copies in sorted(ours.items()):
            if key not in wanted and copies[0].origin is not None:
                version = copies[0].origin.version
                steps.append(Step(Kind.PRUNE, key, version, copies[0].id, "no longer in the catalog"))
    return tuple(steps)
