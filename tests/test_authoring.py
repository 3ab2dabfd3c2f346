"""Authoring on a marketplace checkout: new, bump, delete, edit — as the real CLI process, with real
git, and with nothing left half-changed when a step fails."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from builder.authoring.apply import applied, apply_plan, read_checkout
from builder.authoring.plans import (
    FileChange,
    Plan,
    dump_json,
    json_style,
    plan_bump,
    plan_delete,
    plan_new,
    plugins_of,
    render_skill,
    set_metadata_version,
    skills_of,
)
from builder.errors import BadInput, ValidationFailed
from builder.model import Problem
from tests.support.authoring import (
    SKILL_TWO,
    git,
    git_env,
    init_repo,
    load,
    make_marketplace,
    run_cli,
    snapshot,
)


@pytest.fixture
def market(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    git_env(monkeypatch, tmp_path)
    return init_repo(make_marketplace(tmp_path / "market"))


def changed_files(root: Path) -> list[str]:
    return sorted(
        line[3:] for line in git(root, "status", "--porcelain", "--untracked-files=all").splitlines()
    )


# ------------------------------------------------------------------------------------------------ new


def test_new_skill_in_new_plugin_creates_plugin_entry_and_commit(market: Path) -> None:
    done = run_cli(
        market,
        "new",
        "gamma/weekly-report",
        "--description",
        "Write the weekly report.",
        "--with",
        "scripts",
        "--with",
        "references",
        "--commit",
    )
    assert done.returncode == 0, done.stderr
    skill = market / "plugins/gamma/skills/weekly-report"
    text = (skill / "SKILL.md").read_text()
    assert text.startswith('---\nname: weekly-report\ndescription: "Write the weekly report."\n---\n')
    assert (skill / "scripts/README.md").is_file() and (skill / "references/REFERENCE.md").is_file()
    assert not (skill / "assets").exists()
    assert load(market, "plugins/gamma/.claude-plugin/plugin.json") == {
        "name": "gamma",
        "version": "0.1.0",
        "description": "Write the weekly report.",
    }
    entries = load(market, ".claude-plugin/marketplace.json")["plugins"]
    assert isinstance(entries, list)
    assert entries[-1] == {
        "name": "gamma",
        "source": "./plugins/gamma",
        "description": "Write the weekly report.",
    }
    # the existing text is kept line for line: the new entry only adds lines
    stat_line = git(market, "show", "--format=", "--numstat", "HEAD", "--", ".claude-plugin/marketplace.json")
    assert stat_line.split()[:2] == ["5", "0"]
    assert changed_files(market) == []
    assert git(market, "log", "-1", "--format=%s").strip() == "Add skill weekly-report to new plugin gamma"
    assert "version: 0.1.0" in done.stdout


def test_new_skill_in_existing_plugin_bumps_only_the_plugin_version(market: Path) -> None:
    done = run_cli(
        market, "new", "alpha/three", "-d", "Third skill.", "--with", "assets", "--version", "3.0.0"
    )
    assert done.returncode == 0, done.stderr
    assert changed_files(market) == [  # the plugin archive gains a skill: its version moves (a patch)
        "plugins/alpha/.claude-plugin/plugin.json",
        "plugins/alpha/skills/three/SKILL.md",
        "plugins/alpha/skills/three/assets/README.md",
    ]
    assert load(market, "plugins/alpha/.claude-plugin/plugin.json")["version"] == "1.2.4"
    text = (market / "plugins/alpha/skills/three/SKILL.md").read_text()
    assert 'metadata:\n  version: "3.0.0"\n' in text
    assert (market / "plugins/alpha/skills/three/assets/README.md").is_file()


@pytest.mark.external
def test_new_skill_passes_the_agent_skills_reference_validator(market: Path, agentskills_bin: str) -> None:
    done = run_cli(
        market,
        "new",
        "alpha/checked",
        "-d",
        "Checks things: carefully.",
        "--license",
        "MIT",
        "--author",
        "Me",
        "--with",
        "scripts",
        "--with",
        "references",
        "--with",
        "assets",
    )
    assert done.returncode == 0, done.stderr
    check = subprocess.run(
        [agentskills_bin, "validate", str(market / "plugins/alpha/skills/checked")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.threat("T43")
def test_t43_new_refuses_a_name_taken_in_another_plugin(market: Path) -> None:
    before = snapshot(market)
    done = run_cli(market, "new", "beta/one", "-d", "Again.")
    assert done.returncode == 1
    assert "already exists in plugin 'alpha'" in done.stderr
    assert snapshot(market) == before


@pytest.mark.threat("T38")
@pytest.mark.parametrize(
    "ref",
    [
        "alpha/../../etc",
        "../x/y",
        "alpha/One",
        "alpha/my--skill",
        "alpha/claude-helper",
        "alpha/" + "a" * 65,
        "Alpha/x",
    ],
)
def test_t38_new_refuses_unsafe_or_invalid_names(market: Path, ref: str) -> None:
    before = snapshot(market)
    done = run_cli(market, "new", ref, "-d", "Nope.")
    assert done.returncode in (1, 2)
    assert "error:" in done.stderr
    assert snapshot(market) == before


def test_new_without_description_does_not_prompt_when_stdin_is_not_a_terminal(market: Path) -> None:
    done = run_cli(market, "new", "alpha/quiet", stdin="typed description\n")
    assert done.returncode == 2  # a usage error: the argument is missing
    assert "--description" in done.stderr
    assert "Description" not in done.stdout
    assert not (market / "plugins/alpha/skills/quiet").exists()


def test_outside_a_marketplace_is_a_clear_error(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "bump", "one", "patch")
    assert done.returncode == 1
    assert "marketplace.json" in done.stderr and "--marketplace" in done.stderr


# ------------------------------------------------------------------------------------------------ bump


def test_bump_skill_without_own_version_bumps_plugin_json_only_that_line(market: Path) -> None:
    done = run_cli(market, "bump", "one", "patch", "--commit")
    assert done.returncode == 0, done.stderr
    assert load(market, "plugins/alpha/.claude-plugin/plugin.json")["version"] == "1.2.4"
    diff = git(market, "show", "--format=", "--numstat", "HEAD").split()
    assert diff == ["1", "1", "plugins/alpha/.claude-plugin/plugin.json"]
    message = git(market, "log", "-1", "--format=%B")
    assert message.startswith("Bump one to 1.2.4\n\n1.2.3 -> 1.2.4 (patch)")
    assert "also versions two" in message


def test_bump_skill_with_own_version_edits_the_version_line_and_bumps_its_plugin(market: Path) -> None:
    done = run_cli(market, "bump", "alpha/two", "minor")
    assert done.returncode == 0, done.stderr
    text = (market / "plugins/alpha/skills/two/SKILL.md").read_text()
    assert text == SKILL_TWO.replace("version: '0.9.0'", "version: '0.10.0'")
    # the plugin archive holds the changed SKILL.md, so the plugin's version moves too (a patch)
    assert load(market, "plugins/alpha/.claude-plugin/plugin.json")["version"] == "1.2.4"
    assert changed_files(market) == [
        "plugins/alpha/.claude-plugin/plugin.json",
        "plugins/alpha/skills/two/SKILL.md",
    ]


def test_bump_keeps_plugin_json_and_marketplace_entry_equal(market: Path) -> None:
    # beta: the version is only in the marketplace entry (a pre-release)
    done = run_cli(market, "bump", "solo", "patch")
    assert done.returncode == 0, done.stderr
    beta = load(market, ".claude-plugin/marketplace.json")["plugins"][1]
    assert beta["version"] == "2.0.0"  # the pre-release is finalized
    assert "version" not in load(market, "plugins/beta/.claude-plugin/plugin.json")
    # now both places hold a version: a bump moves both together
    manifest = load(market, "plugins/beta/.claude-plugin/plugin.json")
    (market / "plugins/beta/.claude-plugin/plugin.json").write_bytes(
        dump_json({**manifest, "version": "2.0.0"})
    )
    assert run_cli(market, "bump", "solo", "major").returncode == 0
    assert load(market, "plugins/beta/.claude-plugin/plugin.json")["version"] == "3.0.0"
    assert load(market, ".claude-plugin/marketplace.json")["plugins"][1]["version"] == "3.0.0"


@pytest.mark.parametrize(
    ("part", "expected"),
    [("prerelease", "1.2.4-rc.1"), ("2.0.0-beta.1", "2.0.0-beta.1"), ("minor", "1.3.0"), ("major", "2.0.0")],
)
def test_bump_parts_and_explicit_versions(market: Path, part: str, expected: str) -> None:
    assert plan_bump(read_checkout(market), "one", part).version == expected


def test_bump_takes_plugin_colon_skill_names(market: Path) -> None:
    assert plan_bump(read_checkout(market), "alpha:one", "minor").version == "1.3.0"


def test_bump_release_of_a_release_is_refused(market: Path) -> None:
    with pytest.raises(BadInput, match=r"already 1\.2\.3"):
        plan_bump(read_checkout(market), "one", "release")


def test_bump_refuses_lower_versions_and_nonsense(market: Path) -> None:
    done = run_cli(market, "bump", "one", "1.0.0")
    assert done.returncode == 1 and "not higher than the current version 1.2.3" in done.stderr
    done = run_cli(market, "bump", "one", "huge")
    assert done.returncode == 1 and "patch, minor, major" in done.stderr
    done = run_cli(market, "bump", "nine", "patch")
    assert done.returncode == 1 and "no skill 'nine'" in done.stderr and "alpha/one" in done.stderr
    assert changed_files(market) == []


def test_set_metadata_version_changes_only_the_version_byte_range() -> None:
    raw = SKILL_TWO.replace("\n", "\r\n").encode()
    out = set_metadata_version(raw, "SKILL.md", "1.0.0")
    assert out == raw.replace(b"'0.9.0'", b"'1.0.0'")
    with pytest.raises(BadInput, match="cannot find a 'version:' line"):
        set_metadata_version(b"---\nname: x\ndescription: y\n---\nversion: 1.0.0\n", "SKILL.md", "1.0.1")


def test_json_style_is_detected_and_reproduced() -> None:
    value = {"name": "x", "keywords": ["a", "b"], "author": {"name": "A"}}
    for text in (json.dumps(value, indent=2) + "\n", json.dumps(value, indent=4), dump_json(value).decode()):
        assert dump_json(value, json_style(text, value)).decode() == text


# ------------------------------------------------------------------------------------------------ delete


def test_delete_one_of_several_skills_keeps_the_plugin(market: Path) -> None:
    done = run_cli(market, "delete", "two", "--commit")
    assert done.returncode == 0, done.stderr
    assert not (market / "plugins/alpha/skills/two").exists()
    assert (market / "plugins/alpha/skills/one/SKILL.md").is_file()
    assert [e["name"] for e in load(market, ".claude-plugin/marketplace.json")["plugins"]] == [
        "alpha",
        "beta",
    ]
    assert git(market, "log", "-1", "--format=%s").strip() == "Delete skill two from plugin alpha"
    assert changed_files(market) == []


def test_delete_last_skill_removes_plugin_and_marketplace_entry(market: Path) -> None:
    done = run_cli(market, "delete", "beta/solo", "--commit")
    assert done.returncode == 0, done.stderr
    assert not (market / "plugins/beta").exists()
    assert [e["name"] for e in load(market, ".claude-plugin/marketplace.json")["plugins"]] == ["alpha"]
    assert git(market, "log", "-1", "--format=%s").strip() == "Delete skill solo and its plugin beta"
    assert changed_files(market) == []


def test_dry_run_changes_nothing(market: Path) -> None:
    before = snapshot(market)
    done = run_cli(market, "delete", "solo", "--dry-run")
    assert done.returncode == 0 and "delete plugins/beta/skills/solo/SKILL.md" in done.stdout
    assert snapshot(market) == before


# ------------------------------------------------------------------------------------------------ edit


def editor(tmp_path: Path, body: str) -> str:
    script = tmp_path / "editor.py"
    script.write_text(
        f"import sys\np = sys.argv[1]\ntext = open(p).read()\n{body}\nopen(p, 'w').write(text)\n"
    )
    return f"{sys.executable} {script}"


def test_edit_opens_editor_validates_and_commits(market: Path, tmp_path: Path) -> None:
    command = editor(tmp_path, "text = text + '\\nMore instructions.\\n'")
    done = run_cli(
        market, "edit", "one", "--bump", "patch", "--commit", env={"EDITOR": command, "VISUAL": ""}
    )
    assert done.returncode == 0, done.stderr
    assert (market / "plugins/alpha/skills/one/SKILL.md").read_text().endswith("More instructions.\n")
    assert load(market, "plugins/alpha/.claude-plugin/plugin.json")["version"] == "1.2.4"
    assert git(market, "log", "-1", "--format=%s").strip() == "Edit skill one (SKILL.md), bump to 1.2.4"


@pytest.mark.threat("T40")
def test_t40_edit_that_breaks_frontmatter_is_not_saved(market: Path, tmp_path: Path) -> None:
    before = snapshot(market)
    command = editor(tmp_path, "text = text.replace('name: one', 'name: [broken')")
    done = run_cli(market, "edit", "one", "--commit", env={"EDITOR": command, "VISUAL": ""})
    assert done.returncode == 1
    assert "not saved" in done.stderr and "kept in" in done.stderr
    assert snapshot(market) == before
    assert changed_files(market) == []
    kept = Path(done.stderr.split("kept in ")[1].split()[0])
    assert "name: [broken" in kept.read_text()
    shutil.rmtree(kept.parent)


def test_edit_without_changes_or_editor(market: Path, tmp_path: Path) -> None:
    done = run_cli(market, "edit", "one", env={"EDITOR": editor(tmp_path, "pass"), "VISUAL": ""})
    assert done.returncode == 0 and "no changes" in done.stdout
    done = run_cli(market, "edit", "one", env={"EDITOR": "", "VISUAL": ""})
    assert done.returncode == 1 and "$EDITOR" in done.stderr


# ------------------------------------------------------------------------------------------------ atomicity


def refuse_everything(root: Path) -> list[Problem]:
    return [Problem("x", None, "test-rule", "refused by the test", "none")]


def test_validation_failure_restores_every_file(market: Path) -> None:
    before = snapshot(market)
    co = read_checkout(market)
    for plan in (
        plan_delete(co, "solo"),
        plan_bump(co, "two", "major"),
        plan_new(co, "zeta", "fresh", render_skill("fresh", "Fresh.", dirs=["scripts"])),
    ):
        with pytest.raises(ValidationFailed, match="refused by the test"):
            apply_plan(market, plan, validate=refuse_everything)
        assert snapshot(market) == before, plan.action
    assert stat.S_IMODE((market / "plugins/alpha/skills/two/scripts/run.py").stat().st_mode) == 0o755


def test_failure_midway_and_in_the_follow_up_step_roll_back(market: Path) -> None:
    before = snapshot(market)
    co = read_checkout(market)
    # the second write cannot happen: its parent folder is a file
    plan = Plan(
        "edit",
        "alpha",
        "one",
        (
            FileChange("plugins/alpha/skills/one/SKILL.md", b"changed"),
            FileChange("plugins/alpha/skills/two/scripts/run.py/inner.txt", b"x"),
        ),
        "Edit",
    )
    with pytest.raises(OSError):
        apply_plan(market, plan)
    assert snapshot(market) == before
    # the caller's next step (e.g. git commit) fails after the files were swapped in
    with pytest.raises(RuntimeError), applied(market, plan_delete(co, "two")):
        assert not (market / "plugins/alpha/skills/two").exists()
        raise RuntimeError("commit failed")
    assert snapshot(market) == before


def test_failing_commit_hook_leaves_nothing_changed(market: Path) -> None:
    hook = market / ".git/hooks/pre-commit"
    hook.write_text("#!/bin/sh\necho 'hook says no' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = snapshot(market)
    done = run_cli(market, "bump", "one", "patch", "--commit")
    assert done.returncode == 2 and "hook says no" in done.stderr
    assert snapshot(market) == before
    assert changed_files(market) == []


@pytest.mark.threat("T44")
def test_t44_refuses_to_write_through_a_symlinked_folder(market: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (market / "plugins/alpha/skills/one").rename(outside / "one")
    (market / "plugins/alpha/skills/one").symlink_to(outside / "one")
    with pytest.raises(BadInput, match="symlink"):
        apply_plan(
            market,
            Plan("edit", "alpha", "one", (FileChange("plugins/alpha/skills/one/SKILL.md", b"evil"),), "Edit"),
        )
    assert (outside / "one/SKILL.md").read_text().startswith("---\nname: one")


# ------------------------------------------------------------------------------------------------ example


def test_bumping_every_example_skill_changes_one_line_each(
    examples_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    git_env(monkeypatch, tmp_path)
    root = init_repo(Path(shutil.copytree(examples_dir, tmp_path / "example")))
    co = read_checkout(root)
    skills = [f"{s.plugin.name}/{s.name}" for p in plugins_of(co) for s in skills_of(co, p)]
    assert skills
    for ref in skills:
        done = run_cli(root, "bump", ref, "patch", "--commit")
        assert done.returncode == 0, done.stderr
        numstat = git(root, "show", "--format=", "--numstat", "HEAD").split()
        assert numstat[:2] == ["1", "1"] and len(numstat) in (3, 6), (ref, numstat)
    done = run_cli(root, "new", "team-rituals/standup-notes", "-d", "Write stand-up notes.", "--commit")
    assert done.returncode == 0, done.stderr
    assert changed_files(root) == []


@pytest.mark.threat("T38")
def test_t38_a_plan_using_one_path_as_file_and_folder_is_refused() -> None:
    with pytest.raises(BadInput, match="both a file and a folder"):
        Plan(
            action="edit",
            plugin="tools",
            skill="alpha",
            changes=(FileChange("b", None), FileChange("b/a", b"")),
            message="conflicting change",
        )


def _skillport(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed ``skillport`` entry point (builder.cli), as a member types it."""
    return subprocess.run(
        [sys.executable, "-m", "builder.cli", *args, "--marketplace", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_usage_errors_exit_2_and_near_miss_names_get_a_suggestion(market: Path) -> None:
    before = snapshot(market)
    for args in (
        ["new", "no-plugin-part", "-d", "x"],
        ["new", "alpha/quiet"],
        ["bump", "one"],
        ["frobnicate"],
    ):
        done = _skillport(market, *args)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.strip(), args  # says what is wrong
    for command in (
        ["bump", "sollo", "patch"],
        ["delete", "soloo", "--yes"],
        ["edit", "slo"],
    ):
        done = _skillport(market, *command)
        assert done.returncode == 1, (command, done.stderr)
        assert "Did you mean: solo?" in done.stderr, done.stderr
    far = _skillport(market, "bump", "zzzzzz", "patch")
    assert far.returncode == 1 and "Did you mean" not in far.stderr and "beta/solo" in far.stderr
    assert snapshot(market) == before
