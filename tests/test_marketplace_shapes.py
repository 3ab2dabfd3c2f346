"""Real-world marketplace shapes (tests/fixtures/marketplaces/, one folder per shape), each checked three
ways: what ``skillport build`` publishes; that Claude Code installs the published plugin with the same
components (and, for a plugin in its own folder, the same cache tree) as it installs from the source;
and that ``agentskills validate`` passes every upload zip."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from builder import index
from builder.build import build

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "marketplaces"
KEYS = ["f" * 40]
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

# What each fixture publishes: plugin -> (skills, {(component kind, name)}, Claude Code only skills).
EXPECTED: dict[str, dict[str, tuple[set[str], set[tuple[str, str]], set[str]]]] = {
    "root-skills-list": {
        "office-docs": ({"sheet-tidy", "memo-writer", "slide-outline"}, set(), set()),
        "design-helpers": ({"color-picker"}, set(), set()),
    },
    "strict-false": {
        "release-kit": (
            {"changelog"},
            {
                ("command", "ship"),
                ("agent", "release-captain"),
                ("hook", "Stop"),
                ("mcp-server", "release-tracker"),
            },
            set(),
        ),
        "lint-kit": ({"lint-fix"}, set(), set()),
    },
    "whole-plugin": {
        "ops-suite": (
            {"incident-notes"},
            {
                ("command", "page-oncall"),
                ("agent", "triage"),
                ("hook", "PostToolUse"),
                ("mcp-server", "status-page"),
                ("lsp-server", "yaml-ls"),
                ("output-style", "terse"),
            },
            set(),
        ),
        "commands-only": (set(), {("command", "standup")}, set()),
    },
    "layouts": {
        "single": ({"single"}, set(), set()),
        "listed": ({"offsite", "onsite"}, set(), set()),
        "grouped": ({"budget-check", "invoice-match"}, set(), set()),
    },
    "surfaces": {
        "mixed": (
            {"claude-tuner", "tagged", "bundled", "renamed", "plain"},
            set(),
            {"claude-tuner", "tagged", "bundled"},
        ),
        "cc-tagged": ({"terminal-only"}, set(), {"terminal-only"}),
    },
}
EXTERNAL = {"layouts": {"upstream-tools": "github", "npm-tools": "npm", "subdir-tools": "git-subdir"}}
SHAPES = sorted(EXPECTED)


def _build_fixture(shape: str, tmp: Path) -> tuple[Path, Path, dict[str, Any]]:
    source = tmp / shape
    shutil.copytree(FIXTURES / shape, source, symlinks=True)
    site = tmp / "site"
    build(source, site, keys=KEYS, now=NOW)
    doc = index.verify(
        (site / "index.json").read_bytes(), (site / "index.json.sig").read_bytes(), KEYS, now=NOW
    )
    return source, site, doc


@pytest.fixture(scope="module", params=SHAPES)
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path, Path, Any]:
    shape = str(request.param)
    source, site, doc = _build_fixture(shape, tmp_path_factory.mktemp(shape))
    return shape, source, site, doc


def test_the_build_publishes_every_plugin_with_the_skills_and_components_claude_code_loads(
    built: tuple[str, Path, Path, dict[str, Any]],
) -> None:
    shape, _, site, doc = built
    local = {p["name"]: p for p in doc["plugins"] if not p["external"]}
    assert set(local) == set(EXPECTED[shape])
    for name, (skills, components, cc_only) in EXPECTED[shape].items():
        plugin = local[name]
        assert set(plugin["skills"]) == skills, name
        assert {(c["kind"], c["name"]) for c in plugin["components"]} == components, name
        mine = [s for s in doc["skills"] if s["plugin"] == name]
        assert {s["name"] for s in mine} == skills
        assert {s["name"] for s in mine if s["surface"] == "claude-code"} == cc_only
        assert all((s["zip"] is None) == (s["name"] in cc_only) for s in mine)
        assert (site / plugin["zip"]["path"]).is_file()
    external = {p["name"]: p["source"]["source"] for p in doc["plugins"] if p["external"]}
    assert external == EXTERNAL.get(shape, {})


def test_the_published_marketplace_keeps_every_entry_field_and_passes_external_sources_through(
    built: tuple[str, Path, Path, dict[str, Any]],
) -> None:
    _, source, site, _ = built
    original = {
        e["name"]: e for e in json.loads((source / ".claude-plugin/marketplace.json").read_text())["plugins"]
    }
    published = {
        e["name"]: e for e in json.loads((site / "claude-code/marketplace.json").read_text())["plugins"]
    }
    assert set(published) == set(original)
    for name, entry in original.items():
        out = published[name]
        if isinstance(entry["source"], Mapping):
            assert out == entry  # passed through unchanged
            continue
        assert out["source"]["source"] == "archive"
        for key, value in entry.items():
            if key not in ("source", "version"):
                assert out[key] == value, (name, key)


@pytest.mark.external
def test_every_upload_zip_passes_agentskills_validate(
    built: tuple[str, Path, Path, dict[str, Any]], agentskills_bin: str, tmp_path: Path
) -> None:
    _, _, site, doc = built
    zips = [s for s in doc["skills"] if s["zip"]]
    assert zips or all(s["surface"] == "claude-code" for s in doc["skills"])
    for s in zips:
        with zipfile.ZipFile(site / s["zip"]["path"]) as zf:
            zf.extractall(tmp_path / s["name"])
        folder = tmp_path / s["name"] / s["name"]
        done = subprocess.run(
            [agentskills_bin, "validate", str(folder)], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, f"{s['name']}: {done.stdout}{done.stderr}"


# -- Claude Code installs the same thing from the source and from the published site --


def _claude(claude_bin: str, home: Path, *args: str) -> str:
    env = {
        **os.environ,
        "HOME": str(home),
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    done = subprocess.run(
        [claude_bin, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"claude {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


INVENTORY = re.compile(r"^\s+(Skills|Agents|Hooks|MCP servers|LSP servers) \(\d+\)(.*)$")


def _install_all(
    claude_bin: str, home: Path, marketplace: Path
) -> dict[str, tuple[dict[str, set[str]], Path]]:
    """Each local plugin's inventory (``claude plugin details``) and installed cache folder."""
    home.mkdir()
    doc = json.loads((marketplace / ".claude-plugin/marketplace.json").read_text())
    _claude(claude_bin, home, "plugin", "marketplace", "add", str(marketplace))
    out = {}
    for entry in doc["plugins"]:
        if not isinstance(entry["source"], str):
            continue
        plugin_id = f"{entry['name']}@{doc['name']}"
        _claude(claude_bin, home, "plugin", "install", plugin_id)
        inventory: dict[str, set[str]] = {}
        for line in _claude(claude_bin, home, "plugin", "details", plugin_id).splitlines():
            m = INVENTORY.match(line)
            if m:
                names = m.group(2).strip().split("  ")[0]
                inventory[m.group(1)] = {n.strip() for n in names.split(",") if n.strip()}
        (cache,) = (home / ".claude/plugins/cache" / doc["name"] / entry["name"]).iterdir()
        out[entry["name"]] = (inventory, cache)
    return out


def _published_directory(site: Path, target: Path) -> Path:
    """The published claude-code/marketplace.json as a local directory marketplace: every archive
    unpacked beside it (Claude Code installs archive sources only over non-loopback HTTPS)."""
    doc = json.loads((site / "claude-code/marketplace.json").read_text())
    entries = []
    for entry in doc["plugins"]:
        if entry["source"].get("source") != "archive":
            continue
        folder = target / "plugins" / entry["name"]
        url = entry["source"]["url"]
        with zipfile.ZipFile(site / url) as zf:
            zf.extractall(folder)
        for info in zipfile.ZipFile(site / url).infolist():
            mode = info.external_attr >> 16
            if mode & 0o111 and not info.is_dir():
                (folder / info.filename).chmod(0o755)
        entries.append({**entry, "source": f"./plugins/{entry['name']}"})
    (target / ".claude-plugin").mkdir(parents=True)
    (target / ".claude-plugin/marketplace.json").write_text(json.dumps({**doc, "plugins": entries}))
    return target


def _tree(root: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            rel = p.relative_to(root).as_posix()
            out[rel] = p.read_bytes()
            if (
                rel == ".claude-plugin/plugin.json"
            ):  # the published one carries the version it is published at
                out[rel] = {k: v for k, v in json.loads(p.read_bytes()).items() if k != "version"}
    return out


@pytest.mark.external
def test_claude_code_installs_the_published_plugins_with_the_components_it_installs_from_the_source(
    built: tuple[str, Path, Path, dict[str, Any]], claude_bin: str, tmp_path: Path
) -> None:
    shape, source, site, doc = built
    from_source = _install_all(claude_bin, tmp_path / "home-source", source)
    from_site = _install_all(
        claude_bin, tmp_path / "home-site", _published_directory(site, tmp_path / "published")
    )
    assert set(from_source) == set(from_site) == set(EXPECTED[shape])
    for name, (inventory, cache) in from_source.items():
        published_inventory, published_cache = from_site[name]
        assert published_inventory == inventory, name
        plugin = next(p for p in doc["plugins"] if p["name"] == name)
        commands = {c["name"] for c in plugin["components"] if c["kind"] == "command"}
        assert inventory["Skills"] == set(plugin["skills"]) | commands  # Claude Code lists commands as skills
        assert inventory["Agents"] == {c["name"] for c in plugin["components"] if c["kind"] == "agent"}
        assert inventory["Hooks"] == {c["name"] for c in plugin["components"] if c["kind"] == "hook"}
        assert inventory["MCP servers"] == {
            c["name"] for c in plugin["components"] if c["kind"] == "mcp-server"
        }
        assert published_cache.name == plugin["version"].replace("+", "-")  # Claude Code's folder name
        if plugin["source"] != "./":  # a "./" plugin's source cache is the whole repository
            assert _tree(published_cache) == _tree(cache), name


@pytest.mark.external
def test_claude_code_validates_the_published_marketplace(
    built: tuple[str, Path, Path, dict[str, Any]], claude_bin: str, tmp_path: Path
) -> None:
    _, _, site, _ = built
    doc = json.loads((site / "claude-code/marketplace.json").read_text())
    for entry in doc["plugins"]:  # as served under an https --base-url
        if entry["source"].get("source") == "archive":
            entry["source"]["url"] = "https://skills.example.com/" + entry["source"]["url"]
    (tmp_path / "m/.claude-plugin").mkdir(parents=True)
    (tmp_path / "m/.claude-plugin/marketplace.json").write_text(json.dumps(doc))
    (tmp_path / "home").mkdir()
    out = _claude(claude_bin, tmp_path / "home", "plugin", "validate", str(tmp_path / "m"))
    assert "Validation passed" in out


def test_the_catalog_says_which_skills_are_claude_code_only_and_what_else_a_plugin_installs(
    built: tuple[str, Path, Path, dict[str, Any]],
) -> None:
    shape, _, site, doc = built
    for name, (_, components, cc_only) in EXPECTED[shape].items():
        page = (site / "plugins" / name / "index.html").read_text()
        for kind, component in components:
            assert f"<code>{component}</code>" in page and kind in page
        for s in doc["skills"]:
            if s["plugin"] == name:
                skill_page = (site / "skills" / s["name"] / "index.html").read_text()
                assert ("Claude Code only" in skill_page) == (s["name"] in cc_only)
                assert ("sp-download" in skill_page) == (s["name"] not in cc_only)  # the upload zip button
    for name in EXTERNAL.get(shape, {}):
        assert "external" in (site / "plugins" / name / "index.html").read_text()
