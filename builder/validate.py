"""``skillport validate``: load a marketplace and run every rule, reporting all problems at once."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from builder import rules
from builder.contract.index import IndexDocument
from builder.digest import skill_digest
from builder.limits import DEFAULT_LIMITS, BuildLimits
from builder.load import load
from builder.model import Marketplace, Problem, skill_keys
from builder.plan import plugin_version, published_skill_version


def validate_marketplace(
    root: Path,
    *,
    previous_index: IndexDocument | None = None,
    limits: BuildLimits = DEFAULT_LIMITS,
    strict: bool = False,
) -> tuple[Marketplace, list[Problem]]:
    """The loaded marketplace and every problem (load, rules, and version bumps against
    ``previous_index`` when given), sorted by file and line. ``strict`` (an organization's own CI)
    makes every warning an error."""
    if not root.is_dir():
        return Marketplace(str(root), {}, ()), [
            Problem(
                str(root),
                None,
                "marketplace-missing",
                f"{root} is not a folder",
                "pass the marketplace checkout's folder",
            )
        ]
    marketplace, problems = load(root, limits)
    problems += rules.check(marketplace, limits)
    if previous_index:
        keys = skill_keys(marketplace.plugins)
        current = [
            (s, published_skill_version(s, p), skill_digest(s.files), keys[(p.name, s.name)])
            for p in marketplace.plugins
            for s in p.skills
        ]
        problems += rules.check_version_bumps(current, previous_index)
        plugins = [(p, *plugin_version(p)) for p in marketplace.plugins]
        problems += rules.check_plugin_bumps(plugins, previous_index)
    if strict:
        problems = [dataclasses.replace(p, severity="error") for p in problems]
    return marketplace, sorted(set(problems), key=lambda p: (p.file, p.line or 0, p.rule, p.message))


def validate_dir(path: Path, *, previous_index: IndexDocument | None = None) -> list[Problem]:
    """Every problem of the marketplace at ``path`` (errors and warnings)."""
    return validate_marketplace(path, previous_index=previous_index)[1]
