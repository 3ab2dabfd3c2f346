"""``skillport validate`` and ``skillport build`` as real processes: output, exit codes (0 clean,
1 problems, 2 usage), keys from SKILLPORT_SIGNING_KEYS, --dev, --json and --quiet."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from builder import publish
from tests.support.marketplaces import edit_json, make_marketplace, skill_text, write_skill

KEY = "k" * 40
REPO = Path(__file__).resolve().parent.parent


def run(*args: str, keys: str | None = KEY) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SKILLPORT_SIGNING_KEYS"}
    env["NO_MKDOCS_2_WARNING"] = "1"
    if keys is not None:
        env["SKILLPORT_SIGNING_KEYS"] = keys
    return subprocess.run(
        [sys.executable, "-m", "builder.cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def mp(tmp_path: Path) -> Path:
    return make_marketplace(tmp_path / "mp", {"tools": ["alpha", "beta"]})


# -- validate --


def test_validate_a_clean_marketplace_exits_0(mp: Path) -> None:
    done = run("validate", str(mp))
    assert done.returncode == 0, done.stderr
    assert "2 skill(s) in 1 plugin(s): 0 error(s), 0 warning(s)" in done.stdout


def test_validate_reports_every_problem_with_location_rule_and_fix_and_exits_1(mp: Path) -> None:
    (mp / "plugins/tools/skills/alpha/SKILL.md").write_text(
        skill_text("alpha", "Use <this>.", extra="owner: x\n")
    )
    write_skill(mp, "tools", "Beta-Two")
    done = run("validate", str(mp))
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if ": error: " in line]
    notes = done.stdout.splitlines()
    assert any(
        line.startswith("plugins/tools/skills/alpha/SKILL.md:3: warning: [skill-description-tags]")
        for line in notes
    ), done.stdout
    unknown = "plugins/tools/skills/alpha/SKILL.md:4: warning: [skill-unknown-key]"
    assert any(unknown in line for line in notes)
    assert any("plugins/tools/skills/Beta-Two/SKILL.md:2: error: [skill-name]" in line for line in lines)
    assert all("(fix: " in line for line in lines)
    assert "error(s)" in done.stderr.splitlines()[-1]


def test_validate_json_lists_problems(mp: Path) -> None:
    edit_json(mp / ".claude-plugin/marketplace.json", name="Bad Name")
    done = run("validate", str(mp), "--json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["ok"] is False and report["errors"] == 1
    (problem,) = report["problems"]
    assert problem["rule"] == "marketplace-name" and problem["file"] == ".claude-plugin/marketplace.json"
    assert set(problem) == {"file", "line", "rule", "severity", "message", "fix"}


def test_validate_warnings_alone_exit_0(mp: Path) -> None:
    (mp / "plugins/tools/skills/alpha/SKILL.md").write_text(skill_text("alpha", extra="model: opus\n"))
    done = run("validate", str(mp), "--json")
    assert done.returncode == 0
    report = json.loads(done.stdout)
    assert report["ok"] is True and report["warnings"] == 1


@pytest.mark.parametrize("args", [["validate", "--bogus"], ["build"], ["frobnicate"], []])
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert run(*args).returncode == 2


@pytest.mark.threat("T48")
def test_t48_validate_against_a_previous_index(mp: Path, tmp_path: Path) -> None:
    assert run("build", str(mp), "--out", str(tmp_path / "site"), "--quiet").returncode == 0
    (mp / "plugins/tools/skills/beta/references/notes.md").write_text("changed\n")
    previous = str(tmp_path / "site/index.json")
    done = run("validate", str(mp), "--previous-index", previous)
    assert done.returncode == 1 and "[version-not-bumped]" in done.stderr and "beta" in done.stderr
    assert run("validate", str(mp), "--previous-index", previous, keys=None).returncode == 2
    assert run("validate", str(mp), "--previous-index", previous, keys="x" * 40).returncode == 1


# -- build --


def test_build_refuses_without_keys_and_says_how_to_set_them(mp: Path, tmp_path: Path) -> None:
    done = run("build", str(mp), "--out", str(tmp_path / "site"), keys=None)
    assert done.returncode == 2 and "SKILLPORT_SIGNING_KEYS" in done.stderr and "--dev" in done.stderr
    assert not (tmp_path / "site").exists()
    short = run("build", str(mp), "--out", str(tmp_path / "site"), keys="short")
    assert short.returncode == 2 and "at least 32" in short.stderr


def test_build_dev_uses_an_ephemeral_key_and_says_so(mp: Path, tmp_path: Path) -> None:
    done = run("build", str(mp), "--out", str(tmp_path / "site"), "--dev", keys=None)
    assert done.returncode == 0, done.stderr
    assert "ephemeral" in done.stderr and "built 2 skill(s) in 1 plugin(s)" in done.stdout
    assert (tmp_path / "site/index.json.sig").is_file()


def test_build_quiet_prints_nothing_and_json_prints_a_summary(mp: Path, tmp_path: Path) -> None:
    quiet = run("build", str(mp), "--out", str(tmp_path / "site"), "--quiet")
    assert quiet.returncode == 0 and quiet.stdout == ""
    done = run(
        "build", str(mp), "--out", str(tmp_path / "site"), "--json", "--base-url", "https://s.acme.example"
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["skills"] == 2 and summary["plugins"] == 1
    assert (summary["packaged"], summary["reused"]) == (0, 3)
    assert summary["out"] == str((tmp_path / "site").resolve())
    index = json.loads((tmp_path / "site/index.json").read_text())
    assert index["base_url"] == "https://s.acme.example/" and index["serial"] == summary["serial"]


def test_a_failing_build_exits_1_and_writes_nothing(mp: Path, tmp_path: Path) -> None:
    write_skill(mp, "tools", "claude-helper")  # a warning: Claude Code only; --strict makes it an error
    done = run("build", str(mp), "--out", str(tmp_path / "site"), "--strict")
    assert done.returncode == 1
    assert "[skill-name-reserved-word]" in done.stderr and "nothing was written" in done.stderr
    assert not (tmp_path / "site").exists()


@pytest.mark.threat("T47")
def test_t47_build_while_another_holds_the_lock_exits_1_with_a_clear_message(
    mp: Path, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    assert run("build", str(mp), "--out", str(out), "--quiet").returncode == 0
    before = (out / "index.json").read_bytes()
    with publish.build_lock(out.resolve()):
        done = run("build", str(mp), "--out", str(out))
    assert done.returncode == 1 and "another build is writing" in done.stderr
    assert (out / "index.json").read_bytes() == before


def test_a_previous_index_that_does_not_verify_stops_the_build(mp: Path, tmp_path: Path) -> None:
    assert run("build", str(mp), "--out", str(tmp_path / "a"), "--quiet", keys="o" * 40).returncode == 0
    done = run(
        "build", str(mp), "--out", str(tmp_path / "b"), "--previous-index", str(tmp_path / "a/index.json")
    )
    assert done.returncode == 1 and "does not verify" in done.stderr
    assert not (tmp_path / "b").exists()
