"""Git facts in the index: ``source.commit`` is HEAD and each skill's ``history`` lists its versions with
dates and subjects, from a real Git repository made in a temp folder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from builder import history, index
from builder.build import build
from tests.support.history import git
from tests.support.marketplaces import make_marketplace, skill_text

KEYS = ["k" * 40]
NOW = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository with the marketplace in ``market/``: added, alpha bumped, then an unrelated commit."""
    root = tmp_path_factory.mktemp("git") / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    mp = make_marketplace(root / "market", {"tools": ["alpha", "beta"]})
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "Add the tools plugin", date="2026-01-10T09:00:00+00:00")
    (mp / "plugins/tools/skills/alpha/SKILL.md").write_text(
        skill_text("alpha", extra='metadata:\n  version: "1.1.0"\n', body="Better steps.\n")
    )
    git(root, "commit", "-q", "-am", "Improve alpha's steps", date="2026-02-01T10:30:00+01:00")
    (root / "README.md").write_text("unrelated\n")
    git(root, "add", "README.md")
    git(root, "commit", "-q", "-m", "Docs only", date="2026-03-01T08:00:00+00:00")
    git(root, "remote", "add", "origin", "https://ci-bot:s3cret-token@git.acme.example/platform/skills.git")
    return root


@pytest.fixture(scope="module")
def site(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("git-site") / "site"
    build(repo / "market", out, keys=KEYS, now=NOW)
    return out


@pytest.fixture(scope="module")
def doc(site: Path) -> dict[str, Any]:
    return index.verify(
        (site / "index.json").read_bytes(), (site / "index.json.sig").read_bytes(), KEYS, now=NOW
    ).to_dict()


def _skill(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in doc["skills"] if s["name"] == name)


def test_source_commit_is_head(repo: Path, doc: dict[str, Any]) -> None:
    assert doc["source"]["commit"] == git(repo, "rev-parse", "HEAD")
    assert history.head_commit(repo / "market") == git(repo, "rev-parse", "HEAD")


def test_history_lists_each_version_with_date_and_subject_newest_first(
    repo: Path, doc: dict[str, Any]
) -> None:
    alpha = _skill(doc, "alpha")
    assert [(h["version"], h["date"], h["subject"]) for h in alpha["history"]] == [
        ("1.1.0", "2026-02-01", "Improve alpha's steps"),
        ("1.0.0", "2026-01-10", "Add the tools plugin"),
    ]
    shas = git(repo, "log", "--format=%H").splitlines()
    assert alpha["history"][0]["commit"] == shas[1][:12] and alpha["history"][1]["commit"] == shas[2][:12]
    assert alpha["updated_at"] == "2026-02-01T09:30:00Z"
    assert alpha["version"] == "1.1.0"


def test_a_skill_that_did_not_change_keeps_its_first_entry(doc: dict[str, Any]) -> None:
    beta = _skill(doc, "beta")
    assert [(h["version"], h["date"]) for h in beta["history"]] == [("1.0.0", "2026-01-10")]
    assert beta["updated_at"] == "2026-01-10T09:00:00Z"
    assert all(set(h) == {"version", "date", "commit", "subject"} for h in beta["history"])


def test_history_is_capped(repo: Path) -> None:
    found = history.skill_histories(
        repo / "market", [("alpha", "plugins/tools/skills/alpha", "plugins/tools")], limit=1
    )
    assert [h["version"] for h in found["alpha"]] == ["1.1.0"]


def test_outside_git_there_is_no_commit_and_updated_at_is_kept_across_rebuilds(tmp_path: Path) -> None:
    mp = make_marketplace(tmp_path / "mp", {"tools": ["alpha"]})
    out = tmp_path / "site"
    assert history.head_commit(mp) is None
    build(mp, out, keys=KEYS, now=NOW)
    build(mp, out, keys=KEYS, now=NOW + timedelta(days=2))
    doc = index.verify(
        (out / "index.json").read_bytes(),
        (out / "index.json.sig").read_bytes(),
        KEYS,
        now=NOW + timedelta(days=2),
    ).to_dict()
    assert doc["source"]["commit"] is None
    assert _skill(doc, "alpha")["history"] == []
    assert _skill(doc, "alpha")["updated_at"] == index.format_time(NOW)


def test_the_remote_is_the_source_link_without_its_credentials(doc: dict[str, Any], site: Path) -> None:
    assert doc["marketplace"]["repository"] == "https://git.acme.example/platform/skills"
    for page in ("skills/alpha/index.html", "plugins/tools/index.html"):
        text = (site / page).read_text()
        assert 'href="https://git.acme.example/platform/skills"' in text and "s3cret" not in text
    assert "s3cret" not in (site / "index.json").read_text()


@pytest.mark.parametrize(
    ("remote", "link"),
    [
        ("git@github.com:corp/skills.git", "https://github.com/corp/skills"),
        ("ssh://git@git.corp.example:2222/corp/skills.git", "https://git.corp.example/corp/skills"),
        ("https://x-access-token:abc@github.com/corp/skills.git\n", "https://github.com/corp/skills"),
        ("http://git.corp.example/corp/skills/", "https://git.corp.example/corp/skills"),
        ("/srv/git/skills.git", None),
        ("file:///srv/git/skills.git", None),
        ("https://github.com/corp/../etc", None),
        ("https://github.com/", None),
    ],
)
def test_browse_url_turns_remotes_into_links(remote: str, link: str | None) -> None:
    assert history.browse_url(remote) == link
