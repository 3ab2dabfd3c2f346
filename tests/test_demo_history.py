"""The demo's marketplace history (``proxy.demo_history``): the example skills replayed as months of
Git work, so the catalog shows versions with notes and summaries."""

from __future__ import annotations

import filecmp
from datetime import UTC, datetime
from pathlib import Path

from builder import index
from builder.build import build
from proxy.demo_history import demo_checkout

KEYS = ["k" * 40]
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _same_tree(a: Path, b: Path) -> bool:
    cmp = filecmp.dircmp(a, b, ignore=[".git"])
    pending = [cmp]
    while pending:
        c = pending.pop()
        if c.left_only or c.right_only or c.diff_files or c.funny_files:
            return False
        pending += c.subdirs.values()
    return True


def test_the_demo_history_ends_at_the_examples_and_the_catalog_shows_it(
    examples_dir: Path, tmp_path: Path
) -> None:
    market = demo_checkout(examples_dir, tmp_path / "marketplace")
    assert _same_tree(examples_dir, market)
    out = tmp_path / "site"
    build(market, out, keys=KEYS, now=NOW, base_url="http://127.0.0.1:9/")
    doc = index.verify(
        (out / "index.json").read_bytes(), (out / "index.json.sig").read_bytes(), KEYS, now=NOW
    ).to_dict()
    skills = {s["name"]: s for s in doc["skills"]}
    meeting = skills["meeting-notes"]["versions"]
    assert [v["version"] for v in meeting] == ["1.3.0", "1.2.0", "1.1.0"]
    assert meeting[0]["note"].startswith("Recaps go to the meeting's channel")
    assert meeting[0]["date"] == "2026-10-01"
    assert [c["path"] for c in meeting[0]["summary"]["changed"]] == ["SKILL.md"]
    assert meeting[0]["summary"]["changed"][0]["lines_added"] > 0
    # a version without a note shows the subjects of its commits
    metrics = skills["metric-definitions"]["versions"][0]
    assert metrics["version"] == "2.0.1" and metrics["note"] == ""
    assert metrics["subjects"] == [
        "Bump data-guides to 2.0.1",
        "Explain how to reconcile two dashboards that disagree",
    ]
    page = (out / "skills/meeting-notes/index.html").read_text()
    assert "Meeting notes ask for the agenda or attendee list" in page
    assert "1 file(s) changed" in page
