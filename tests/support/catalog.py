"""The catalog render step on a real build: fixture marketplace ``catalog`` (three plugins, a skill with
a Git history and a reference file, one hostile skill) built by the real builder, then rendered again
by ``builder.site.render_catalog`` into a folder a test owns (T46 pages, markers, links)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from builder import frontmatter
from builder.contract.index import IndexDocument
from tests.support.paths import REPO_ROOT
from tests.support.sites import FIXTURES, built_site, read_index

NOW = datetime(2026, 11, 29, 14, 0, tzinfo=UTC)
UNIQUE_WORD = "zebracrossing"  # appears only in one skill's description
HOSTILE = "evil-skill"  # its description, body and reference file try scripts, handlers and markers
KEYS = ("c" * 40,)


def sample_index(site_dir: Path | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """(index document, SKILL.md bodies) of the built ``catalog`` fixture. With ``site_dir``, the
    built upload zips are copied there, where the index says they are."""
    built = built_site("catalog", KEYS)
    document = read_index(built)
    bodies = {
        skill.parent.name: frontmatter.parse(skill.read_text()).body
        for skill in (FIXTURES / "catalog").glob("plugins/*/skills/*/SKILL.md")
    }
    if site_dir is not None:
        for record in [*document["skills"], *document["plugins"]]:
            if record.get("zip"):
                target = site_dir / record["zip"]["path"]
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(built / record["zip"]["path"], target)
    return document, bodies


def render(
    out: Path,
    work: Path,
    *,
    now: datetime = NOW,
    base_url: str | None = None,
    references: dict[str, dict[str, str]] | None = None,
) -> dict[str, Any]:
    """Render the catalog of the built fixture into ``out``; return its index document."""
    from builder.site import render_catalog

    out.mkdir(parents=True, exist_ok=True)
    document, bodies = sample_index(out)
    document["base_url"] = base_url
    render_catalog(
        IndexDocument.from_json(document),
        bodies,
        out,
        config_path=REPO_ROOT / "mkdocs.yml",
        templates_dir=REPO_ROOT / "templates",
        work_dir=work,
        now=now,
        references=references,
    )
    return document
