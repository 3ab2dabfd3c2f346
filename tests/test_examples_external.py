"""The example marketplace passes the real external validators and installs with the real Claude Code.

- `agentskills validate` (PyPI skills-ref, the Agent Skills reference validator) on every skill folder
  in the repository;
- `claude plugin validate --strict` on the marketplace root and on every plugin folder;
- `claude plugin marketplace add` + `claude plugin install` of every plugin into a throwaway HOME, then
  every skill's files are where Claude Code loads them from, byte for byte.

Claude Code runs offline (telemetry and non-essential traffic off), each call bounded by 60 s.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = REPO_ROOT / "examples" / "marketplace"
CALL_TIMEOUT_S = 60
SKILL_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def _skill_dirs() -> list[Path]:
    """Every shipped skill folder in the repository (a folder holding a SKILL.md).

    Skips tool and build trees, and tests/ and benchmarks/, whose fixtures are broken on purpose."""
    skipped = {".venv", ".tools", "node_modules", ".git", "site", "tests", "benchmarks", "build", "dist"}
    found = []
    for folder, subdirs, files in os.walk(REPO_ROOT):
        if Path(folder) == REPO_ROOT:
            subdirs[:] = [d for d in subdirs if d not in skipped]
        subdirs[:] = [d for d in subdirs if not d.endswith("cache") and d not in {"node_modules", ".git"}]
        if "SKILL.md" in files:
            found.append(Path(folder))
    return sorted(found)


def _plugin_dirs() -> list[Path]:
    return sorted(p.parent.parent for p in EXAMPLES.glob("plugins/*/.claude-plugin/plugin.json"))


def _marketplace() -> dict[str, object]:
    data = json.loads((EXAMPLES / ".claude-plugin" / "marketplace.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _plugin_version(plugin_dir: Path) -> str:
    manifest = json.loads((plugin_dir / ".claude-plugin" / "plugin.json").read_text(encoding="utf-8"))
    return str(manifest["version"])


def _frontmatter(skill_md: Path) -> dict[str, object]:
    text = skill_md.read_text(encoding="utf-8")
    assert text.startswith("---\n"), f"{skill_md}: SKILL.md must start with a '---' frontmatter line"
    head, sep, _ = text[4:].partition("\n---\n")
    assert sep, f"{skill_md}: frontmatter has no closing '---' line"
    data = yaml.safe_load(head)
    assert isinstance(data, dict), f"{skill_md}: frontmatter is not a mapping"
    return data


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


SKILL_DIRS = _skill_dirs()
PLUGIN_DIRS = _plugin_dirs()


def _rel(path: Path) -> str:
    return path.relative_to(REPO_ROOT).as_posix()


# --- the shape the external checks rely on (no external tool needed) -------------------------------


def test_example_marketplace_has_the_promised_shape() -> None:
    market = _marketplace()
    assert market["name"] == "corp-skills"
    entries = market["plugins"]
    assert isinstance(entries, list)
    names = [e["name"] for e in entries]
    assert sorted(names) == sorted(p.name for p in PLUGIN_DIRS), "marketplace.json and plugins/ disagree"
    assert "skillport" in names
    assert len(names) >= 5, "at least 4 plugins besides skillport"
    for entry in entries:
        assert entry["source"] == f"./plugins/{entry['name']}"
        assert "version" not in entry, f"{entry['name']}: the version belongs in plugin.json only"
    example_skills = [d for d in SKILL_DIRS if EXAMPLES in d.parents]
    assert len([d for d in example_skills if d.name != "skillport"]) >= 8
    assert any(len(list(p.glob("skills/*/SKILL.md"))) >= 2 for p in PLUGIN_DIRS)
    assert any(all((d / sub).is_dir() for sub in ("scripts", "references", "assets")) for d in example_skills)


@pytest.mark.parametrize("skill_dir", SKILL_DIRS, ids=_rel)
def test_skill_names_are_portable(skill_dir: Path) -> None:
    """agentskills accepts non-ASCII names; Claude.ai does not, nor names containing the vendor's."""
    name = _frontmatter(skill_dir / "SKILL.md").get("name")
    assert name == skill_dir.name, f"{_rel(skill_dir)}: frontmatter name must equal the folder name"
    assert isinstance(name, str) and SKILL_NAME.match(name) and len(name) <= 64
    assert "claude" not in name and "anthropic" not in name


def test_one_skill_carries_its_own_version() -> None:
    """At least one skill overrides its plugin's version with metadata.version (and they differ)."""
    overrides = []
    for plugin in PLUGIN_DIRS:
        for skill_md in plugin.glob("skills/*/SKILL.md"):
            meta = _frontmatter(skill_md).get("metadata") or {}
            assert isinstance(meta, dict)
            own = meta.get("version")
            if own is not None and own != _plugin_version(plugin) and plugin.name != "skillport":
                overrides.append(skill_md.parent.name)
    assert overrides, "expected a skill with metadata.version different from its plugin's version"


# --- Agent Skills reference validator --------------------------------------------------------------


@pytest.mark.external
@pytest.mark.parametrize("skill_dir", SKILL_DIRS, ids=_rel)
def test_agentskills_validate_passes(agentskills_bin: str, skill_dir: Path) -> None:
    result = subprocess.run(
        [agentskills_bin, "validate", str(skill_dir)],
        capture_output=True,
        text=True,
        timeout=CALL_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, f"agentskills rejects {_rel(skill_dir)}:\n{result.stdout}{result.stderr}"


# --- Claude Code ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    args: tuple[str, ...]
    returncode: int
    output: str

    def explain(self) -> str:
        return f"`claude {' '.join(self.args)}` exited {self.returncode}:\n{self.output}"


ClaudeRunner = Callable[..., Run]


def _claude_env(home: Path) -> dict[str, str]:
    """A minimal environment: a throwaway HOME, offline, nothing inherited that could redirect config."""
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
    }
    if "TMPDIR" in os.environ:
        env["TMPDIR"] = os.environ["TMPDIR"]
    return env


def _make_runner(claude_bin: str, home: Path) -> ClaudeRunner:
    home.mkdir(parents=True, exist_ok=True)
    env = _claude_env(home)

    def run(*args: str, cwd: Path | None = None) -> Run:
        # Own process group, so a hung CLI and anything it spawned are killed together at the timeout.
        proc = subprocess.Popen(
            [claude_bin, *args],
            cwd=cwd or home,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            out, _ = proc.communicate(timeout=CALL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            pytest.fail(f"`claude {' '.join(args)}` took longer than {CALL_TIMEOUT_S} s:\n{out}")
        return Run(tuple(args), proc.returncode, out)

    return run


@pytest.fixture(scope="session")
def claude(claude_bin: str, tmp_path_factory: pytest.TempPathFactory) -> ClaudeRunner:
    """Runs the Claude Code CLI with one throwaway HOME shared by the read-only validate calls."""
    return _make_runner(claude_bin, tmp_path_factory.mktemp("claude-home"))


@pytest.mark.external
@pytest.mark.parametrize("target", [EXAMPLES, *PLUGIN_DIRS], ids=_rel)
def test_claude_plugin_validate_strict_passes(claude: ClaudeRunner, target: Path) -> None:
    run = claude("plugin", "validate", "--strict", str(target))
    assert run.returncode == 0, run.explain()
    assert "Validation passed" in run.output, run.explain()


@pytest.mark.external
def test_claude_plugin_validate_strict_catches_a_broken_skill(claude: ClaudeRunner, tmp_path: Path) -> None:
    """Guards the check above: the same CLI call fails on a plugin whose SKILL.md is malformed."""
    plugin = tmp_path / "team-rituals"
    shutil.copytree(EXAMPLES / "plugins" / "team-rituals", plugin)
    (plugin / "skills" / "meeting-notes" / "SKILL.md").write_text("---\nname: [meeting-notes\n---\nbody\n")
    run = claude("plugin", "validate", "--strict", str(plugin))
    assert run.returncode == 1, run.explain()
    assert "meeting-notes" in run.output


@dataclass(frozen=True)
class Installed:
    home: Path
    marketplace: str
    results: dict[str, Run]
    listing: Run


@pytest.fixture(scope="session")
def installed(claude_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """A copy of the marketplace added to a fresh HOME, with every plugin installed (once per session)."""
    base = tmp_path_factory.mktemp("claude-install")
    market_dir = base / "marketplace"
    shutil.copytree(EXAMPLES, market_dir)
    run = _make_runner(claude_bin, base / "home")
    added = run("plugin", "marketplace", "add", str(market_dir), cwd=base)
    if added.returncode != 0:
        pytest.fail(added.explain())
    name = str(_marketplace()["name"])
    results = {p.name: run("plugin", "install", f"{p.name}@{name}", cwd=base) for p in PLUGIN_DIRS}
    listing = run("plugin", "list", "--json", cwd=base)
    yield Installed(base / "home", name, results, listing)


@pytest.mark.external
@pytest.mark.parametrize("plugin_dir", PLUGIN_DIRS, ids=lambda p: p.name)
def test_claude_installs_plugin_with_every_skill_file(installed: Installed, plugin_dir: Path) -> None:
    result = installed.results[plugin_dir.name]
    assert result.returncode == 0, result.explain()
    cache = installed.home / ".claude" / "plugins" / "cache" / installed.marketplace / plugin_dir.name
    cache = cache / _plugin_version(plugin_dir)
    skills = sorted(plugin_dir.glob("skills/*/SKILL.md"))
    assert skills, f"{plugin_dir.name} has no skills"
    for skill_md in skills:
        skill = skill_md.parent.name
        landed = cache / "skills" / skill / "SKILL.md"
        assert landed.is_file(), f"{skill}: not installed at {landed}"
        assert _files(landed.parent) == _files(skill_md.parent), f"{skill}: installed files differ"


@pytest.mark.external
def test_claude_lists_every_installed_plugin_at_its_version(installed: Installed) -> None:
    assert installed.listing.returncode == 0, installed.listing.explain()
    out = installed.listing.output
    listed, _ = json.JSONDecoder().raw_decode(out, out.index("["))
    got = {item["id"]: item.get("version") for item in listed}
    for plugin_dir in PLUGIN_DIRS:
        assert got.get(f"{plugin_dir.name}@{installed.marketplace}") == _plugin_version(plugin_dir), got
