"""Changes you can read: ``skillport bump --note`` records a Change-note trailer, ``bump`` names every
version it moves, ``edit`` warns when a change needs a bump, and the build puts each version's note
(or its commits' subjects) and a file-level summary in the index and on the skill page."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from builder import changes, index
from builder.build import build
from builder.errors import BadInput
from tests.support.authoring import run_cli
from tests.support.history import git
from tests.support.marketplaces import make_marketplace, skill_text, write_skill

KEYS = ["k" * 40]
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ada",
    "GIT_AUTHOR_EMAIL": "ada@acme.example",
    "GIT_COMMITTER_NAME": "Ada",
    "GIT_COMMITTER_EMAIL": "ada@acme.example",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_SYSTEM": os.devnull,
}


@pytest.fixture
def market(tmp_path: Path) -> Path:
    """Plugin ``tools`` (1.0.0): ``alpha`` versions itself (metadata.version), ``beta`` and ``gamma``
    follow the plugin. One commit."""
    mp = make_marketplace(tmp_path / "mp", {"tools": ["alpha", "beta", "gamma"]})
    write_skill(
        mp,
        "tools",
        "alpha",
        skill_text("alpha", extra="metadata:\n  version: 1.0.0\n", body="# Alpha\n\nStep one.\n"),
    )
    git(mp, "init", "-q", "-b", "main")
    git(mp, "add", "-A")
    git(mp, "commit", "-q", "-m", "Add the tools plugin", date="2026-10-01T09:00:00+00:00")
    return mp


def _doc(out: Path) -> dict[str, Any]:
    return index.verify(
        (out / "index.json").read_bytes(), (out / "index.json.sig").read_bytes(), KEYS, now=NOW
    ).to_dict()


def test_bump_with_a_note_reports_every_version_it_moves(market: Path) -> None:
    done = run_cli(
        market, "bump", "alpha", "minor", "--note", "Covers the new expense form", "--commit", env=GIT_ENV
    )
    assert done.returncode == 0, done.stderr
    assert "skill tools:alpha: 1.0.0 -> 1.1.0" in done.stdout
    # alpha versions itself; the plugin's archive changed, so the plugin and the skills that follow
    # its version move too, and bump says so
    assert "plugin tools: 1.0.0 -> 1.0.1" in done.stdout
    assert "skill tools:beta: 1.0.0 -> 1.0.1" in done.stdout
    assert "follow the plugin's version: beta, gamma" in done.stdout
    body = git(market, "log", "-1", "--format=%B")
    assert "Change-note: Covers the new expense form" in body
    done = run_cli(market, "bump", "beta", "patch", "--commit", env=GIT_ENV)
    assert done.returncode == 0, done.stderr
    assert "plugin tools: 1.0.1 -> 1.0.2" in done.stdout
    assert "skill tools:beta: 1.0.1 -> 1.0.2" in done.stdout
    assert "skill tools:gamma: 1.0.1 -> 1.0.2" in done.stdout
    assert "tools:alpha" not in done.stdout
    assert "versions its skills together: beta and gamma all move to 1.0.2" in done.stdout


def test_a_note_must_be_one_short_line(market: Path) -> None:
    with pytest.raises(BadInput):
        changes.check_note("x" * 201)
    with pytest.raises(BadInput):
        changes.check_note("   ")
    done = run_cli(market, "bump", "alpha", "minor", "--note", "", "--commit", env=GIT_ENV)
    assert done.returncode != 0 and "--note" in done.stderr
    assert git(market, "rev-list", "--count", "HEAD") == "1"  # nothing committed


def test_edit_warns_when_the_change_needs_a_bump(market: Path, tmp_path: Path) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\necho "Step two." >> "$1"\n')
    editor.chmod(0o755)
    done = run_cli(market, "edit", "alpha", env={**GIT_ENV, "EDITOR": str(editor)})
    assert done.returncode == 0, done.stderr
    assert "tools/alpha changed but its version stays 1.0.0" in done.stderr
    assert "skillport bump tools/alpha patch" in done.stderr
    done = run_cli(market, "edit", "alpha", "--bump", "patch", env={**GIT_ENV, "EDITOR": str(editor)})
    assert done.returncode == 0, done.stderr
    assert "version stays" not in done.stderr
    assert "skill tools:alpha: 1.0.0 -> 1.0.1" in done.stdout


def test_the_index_and_page_carry_each_version_with_note_and_summary(market: Path, tmp_path: Path) -> None:
    folder = market / "plugins/tools/skills/alpha"
    (folder / "SKILL.md").write_text(
        skill_text("alpha", extra="metadata:\n  version: 1.0.0\n", body="# Alpha\n\nStep one.\nStep two.\n")
    )
    (folder / "references/form.md").write_text("Field 1\nField 2\nField 3\n")
    git(market, "add", "-A")
    git(market, "commit", "-q", "-m", "Describe the form fields", date="2026-10-05T09:00:00+00:00")
    done = run_cli(
        market, "bump", "alpha", "minor", "--note", "Covers the new expense form", "--commit", env=GIT_ENV
    )
    assert done.returncode == 0, done.stderr
    # beta changes without a note: its version row falls back to the commit subjects
    (market / "plugins/tools/skills/beta/references/notes.md").unlink()
    git(market, "add", "-A")
    git(market, "commit", "-q", "-m", "Drop beta's stale notes", date="2026-10-06T09:00:00+00:00")
    assert run_cli(market, "bump", "beta", "patch", "--commit", env=GIT_ENV).returncode == 0
    out = tmp_path / "site"
    build(market, out, keys=KEYS, now=NOW, base_url="https://skills.acme.example/")
    skills = {s["name"]: s for s in _doc(out)["skills"]}
    alpha = skills["alpha"]["versions"]
    assert [v["version"] for v in alpha] == ["1.1.0", "1.0.0"]
    assert alpha[0]["note"] == "Covers the new expense form"
    assert alpha[0]["summary"]["added"] == [
        {"path": "references/form.md", "lines_added": 3, "lines_removed": 0}
    ]
    # the edit added a line; the bump rewrote the metadata.version line
    assert alpha[0]["summary"]["changed"] == [{"path": "SKILL.md", "lines_added": 2, "lines_removed": 1}]
    assert alpha[1]["note"] == "" and alpha[1]["subjects"] == ["Add the tools plugin"]
    assert {f["path"] for f in alpha[1]["summary"]["added"]} == {"SKILL.md", "references/notes.md"}
    beta = skills["beta"]["versions"]
    assert [v["version"] for v in beta] == ["1.0.2", "1.0.1", "1.0.0"]
    assert beta[0]["note"] == ""
    assert beta[1]["note"] == ""  # alpha's note is about alpha, not the skills that moved with the plugin
    assert beta[1]["subjects"] == ["Bump alpha to 1.1.0"]
    assert "Drop beta's stale notes" in beta[0]["subjects"]
    assert beta[0]["summary"]["removed"] == [
        {"path": "references/notes.md", "lines_added": 0, "lines_removed": 1}
    ]
    page = (out / "skills/alpha/index.html").read_text()
    assert "Covers the new expense form" in page
    assert "1 file(s) changed" in page and "added references/form.md" in page
    beta_page = (out / "skills/beta/index.html").read_text()
    assert "Drop beta&#39;s stale notes" in beta_page or "Drop beta's stale notes" in beta_page


def test_group_by_version_ships_edits_with_the_next_bump() -> None:
    rows = [
        {"version": "1.1.0", "commit": "c3", "subject": "Bump", "date": "2026-10-03"},
        {"version": "1.0.0", "commit": "c2", "subject": "Edit", "date": "2026-10-02"},
        {"version": "1.0.0", "commit": "c1", "subject": "Add", "date": "2026-10-01"},
    ]
    groups = changes.group_by_version(rows)
    assert [[r["commit"] for r in g] for g in groups] == [["c1"], ["c2", "c3"]]
    versions = changes.skill_versions({"a": rows}, {}, {})["a"]
    assert [(v["version"], v["date"], v["subjects"]) for v in versions] == [
        ("1.1.0", "2026-10-03", ["Bump", "Edit"]),
        ("1.0.0", "2026-10-01", ["Add"]),
    ]


def test_updates_list_every_newer_version_with_its_note(market: Path, tmp_path: Path) -> None:
    from builder.contract.index import IndexDocument
    from proxy.catalog import Catalog

    assert (
        run_cli(
            market, "bump", "alpha", "minor", "--note", "Adds the form", "--commit", env=GIT_ENV
        ).returncode
        == 0
    )
    assert (
        run_cli(
            market, "bump", "alpha", "patch", "--note", "Fixes a typo", "--commit", env=GIT_ENV
        ).returncode
        == 0
    )
    out = tmp_path / "site"
    build(market, out, keys=KEYS, now=NOW, base_url="https://skills.acme.example/")
    catalog = Catalog.build(IndexDocument.from_json(_doc(out)))
    report = catalog.updates([{"name": "alpha", "version": "1.0.0"}])
    (update,) = report["updates"]
    assert update["latest"] == "1.1.1"
    assert [(c["version"], c["note"]) for c in update["changes"]] == [
        ("1.1.1", "Fixes a typo"),
        ("1.1.0", "Adds the form"),
    ]
    assert "1 file(s) changed" in update["changes"][0]["summary"]
