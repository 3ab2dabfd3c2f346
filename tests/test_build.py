"""``builder.build.build`` end to end on real folders: what SITE/ holds, atomic publication (T47),
deterministic zips (T45), incremental reuse, and the outputs checked by the real external validators."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from builder import index, publish, site
from builder.build import BuildResult, build
from builder.errors import ValidationFailed
from builder.limits import BuildLimits
from builder.model import SPEC_FRONTMATTER_KEYS
from tests.support.marketplaces import edit_json, make_marketplace, skill_text, write_skill

KEYS = ["k" * 40]
NOW = datetime(2026, 11, 29, 14, 0, tzinfo=UTC)
BASE = "https://skills.acme.example/"
REPO = Path(__file__).resolve().parent.parent


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes (what "byte-identical" compares)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _build(mp: Path, out: Path, now: datetime = NOW, **kwargs: Any) -> BuildResult:
    return build(mp, out, keys=KEYS, now=now, base_url=BASE, **kwargs)


@pytest.fixture(scope="session")
def example_site(tmp_path_factory: pytest.TempPathFactory, examples_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("example") / "site"
    _build(examples_dir, out)
    return out


@pytest.fixture(scope="session")
def example_site_again(tmp_path_factory: pytest.TempPathFactory, examples_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("example-again") / "site"
    _build(examples_dir, out, now=NOW + timedelta(hours=1))
    return out


def _doc(site_dir: Path) -> dict[str, Any]:
    return index.verify(
        (site_dir / "index.json").read_bytes(), (site_dir / "index.json.sig").read_bytes(), KEYS, now=NOW
    ).to_dict()


# -- what SITE/ holds --


def test_the_index_verifies_and_names_every_zip_by_its_hash(example_site: Path) -> None:
    doc = _doc(example_site)
    assert doc["base_url"] == BASE and len(doc["skills"]) == 9 and len(doc["plugins"]) == 5
    for entry in [*doc["skills"], *doc["plugins"]]:
        data = (example_site / entry["zip"]["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["zip"]["sha256"]
        assert len(data) == entry["zip"]["size"]


def test_every_upload_zip_has_one_root_folder_and_a_spec_only_skill_md(example_site: Path) -> None:
    doc = _doc(example_site)
    for entry in doc["skills"]:
        with zipfile.ZipFile(example_site / entry["zip"]["path"]) as zf:
            names = zf.namelist()
            assert {n.split("/", 1)[0] for n in names} == {entry["name"]}
            assert len([n for n in names if n.endswith("/SKILL.md")]) == 1
            text = zf.read(f"{entry['name']}/SKILL.md").decode()
        fm = yaml.safe_load(text.split("---\n", 2)[1])
        assert set(fm) <= SPEC_FRONTMATTER_KEYS
        assert fm["metadata"]["version"] == entry["version"]
        assert fm["metadata"]["marketplace"] == "corp-skills"
        assert fm["metadata"]["plugin"] == entry["plugin"]


def test_claude_code_marketplace_points_at_the_zips_by_absolute_url_and_sha256(example_site: Path) -> None:
    cc = json.loads((example_site / "claude-code/marketplace.json").read_text())
    doc = _doc(example_site)
    assert cc["name"] == "corp-skills" and len(cc["plugins"]) == len(doc["plugins"])
    for entry in cc["plugins"]:
        source = entry["source"]
        assert source["source"] == "archive" and source["url"].startswith(BASE)
        data = (example_site / source["url"][len(BASE) :]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == source["sha256"]


def test_well_known_digests_match_the_served_files(example_site: Path) -> None:
    root = example_site / ".well-known/agent-skills"
    known = json.loads((root / "index.json").read_text())
    assert known["version"] == "0.2.0" and len(known["skills"]) == 9
    for skill in known["skills"]:
        for f in skill["files"]:
            data = (root / skill["name"] / f["path"]).read_bytes()
            assert f["digest"] == "sha256:" + hashlib.sha256(data).hexdigest()


def test_index_digest_and_files_describe_the_repository_files(example_site: Path, examples_dir: Path) -> None:
    doc = _doc(example_site)
    skill = next(s for s in doc["skills"] if s["name"] == "expense-policy")
    folder = examples_dir / "plugins/finance-ops/skills/expense-policy"
    for f in skill["files"]:
        data = (folder / f["path"]).read_bytes()
        assert f["digest"] == "sha256:" + hashlib.sha256(data).hexdigest() and f["size"] == len(data)


@pytest.mark.threat("T45")
def test_t45_two_separate_builds_give_byte_identical_zips(
    example_site: Path, example_site_again: Path
) -> None:
    first = {k: v for k, v in tree(example_site).items() if k.endswith(".zip")}
    second = {k: v for k, v in tree(example_site_again).items() if k.endswith(".zip")}
    assert len(first) == 14 and first == second
    assert (example_site / "claude-code/marketplace.json").read_bytes() == (
        example_site_again / "claude-code/marketplace.json"
    ).read_bytes()


@pytest.mark.threat("T45")
def test_t45_zip_members_are_regular_files_with_fixed_times_and_modes(example_site: Path) -> None:
    for path in example_site.rglob("*.zip"):
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                assert info.date_time == (1980, 1, 1, 0, 0, 0)
                assert not info.filename.startswith("/") and ".." not in info.filename.split("/")
                mode = info.external_attr >> 16
                assert mode in (0o100644, 0o100755, 0o040755), (path.name, info.filename, oct(mode))


# -- the real external validators --


def _claude(claude_bin: str, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HOME": str(home),
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    return subprocess.run(
        ["timeout", "60", claude_bin, *args], env=env, capture_output=True, text=True, check=False
    )


@pytest.mark.external
def test_claude_code_accepts_the_archive_marketplace_strictly(
    example_site: Path, claude_bin: str, tmp_path: Path
) -> None:
    target = tmp_path / "mp" / ".claude-plugin"
    target.mkdir(parents=True)
    shutil.copy(example_site / "claude-code/marketplace.json", target / "marketplace.json")
    (tmp_path / "home").mkdir()
    done = _claude(claude_bin, tmp_path / "home", "plugin", "validate", "--strict", str(tmp_path / "mp"))
    assert done.returncode == 0, done.stdout + done.stderr
    # and the check can fail: a broken copy is refused
    broken = json.loads((target / "marketplace.json").read_text())
    broken["plugins"][0]["name"] = "Not Kebab"
    del broken["owner"]
    (target / "marketplace.json").write_text(json.dumps(broken))
    done = _claude(claude_bin, tmp_path / "home", "plugin", "validate", "--strict", str(tmp_path / "mp"))
    assert done.returncode != 0


@pytest.mark.external
def test_agentskills_accepts_every_upload_zip_and_well_known_folder(
    example_site: Path, agentskills_bin: str, tmp_path: Path
) -> None:
    doc = _doc(example_site)
    for entry in doc["skills"]:
        with zipfile.ZipFile(example_site / entry["zip"]["path"]) as zf:
            zf.extractall(tmp_path / "unzipped")
    folders = [tmp_path / "unzipped" / s["name"] for s in doc["skills"]]
    folders += [example_site / ".well-known/agent-skills" / s["name"] for s in doc["skills"]]
    for folder in folders:
        done = subprocess.run(
            [agentskills_bin, "validate", str(folder)], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, f"{folder}: {done.stdout}{done.stderr}"


@pytest.mark.external
def test_claude_code_only_keys_are_dropped_so_agentskills_accepts_the_zip(
    tmp_path: Path, agentskills_bin: str
) -> None:
    mp = make_marketplace(tmp_path / "mp", {"tools": ["alpha"]})
    (mp / "plugins/tools/skills/alpha/SKILL.md").write_text(
        skill_text("alpha", extra="argument-hint: a file\ndisable-model-invocation: true\n")
    )
    result = _build(mp, tmp_path / "site")
    assert {w.rule for w in result.warnings} == {"skill-claude-code-key"}
    with zipfile.ZipFile(tmp_path / "site/skills/alpha/alpha-1.0.0.zip") as zf:
        zf.extractall(tmp_path / "x")
    assert "argument-hint" not in (tmp_path / "x/alpha/SKILL.md").read_text()
    done = subprocess.run(
        [agentskills_bin, "validate", str(tmp_path / "x/alpha")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout
    done = subprocess.run(
        [agentskills_bin, "validate", str(mp / "plugins/tools/skills/alpha")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0  # the repository copy is what the validator would refuse


# -- rebuilds: serial, incremental reuse --


@pytest.fixture
def mp(tmp_path: Path) -> Path:
    return make_marketplace(tmp_path / "mp", {"tools": ["alpha", "beta"], "more": ["gamma"]})


def test_serial_only_grows_even_when_the_clock_goes_back(mp: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    first = _build(mp, out).serial
    assert first == int(NOW.timestamp())
    second = _build(mp, out).serial
    third = _build(mp, out, now=NOW - timedelta(days=3)).serial
    assert first < second < third
    assert _doc(out)["serial"] == third


def test_an_unchanged_skill_is_not_rezipped_and_a_bumped_one_is(mp: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    first = _build(mp, out)
    assert (first.packaged, first.reused) == (5, 0)
    beta_zip = out / "skills/beta/beta-1.0.0.zip"
    before = beta_zip.stat()
    second = _build(mp, out)
    assert (second.packaged, second.reused) == (0, 5)
    assert beta_zip.stat().st_ino == before.st_ino and beta_zip.stat().st_mtime_ns == before.st_mtime_ns

    (mp / "plugins/tools/skills/alpha/SKILL.md").write_text(
        skill_text("alpha", extra='metadata:\n  version: "1.1.0"\n', body="New text.\n")
    )
    gamma_zip = out / "skills/gamma/gamma-1.0.0.zip"
    gamma_before = gamma_zip.stat()
    # the plugin archive holds alpha's SKILL.md: the plugin's version moves too (beta, without a
    # version of its own, follows it)
    edit_json(mp / "plugins/tools/.claude-plugin/plugin.json", version="1.0.1")
    third = _build(mp, out)
    # alpha, beta and their plugin's zip are built; gamma and the other plugin are reused
    assert (third.packaged, third.reused) == (3, 2) and third.failed == ()
    assert gamma_zip.stat().st_ino == gamma_before.st_ino
    assert (out / "skills/alpha/alpha-1.1.0.zip").is_file()
    assert not (out / "skills/alpha/alpha-1.0.0.zip").exists()
    with zipfile.ZipFile(out / "skills/alpha/alpha-1.1.0.zip") as zf:
        assert "New text." in zf.read("alpha/SKILL.md").decode()
    assert next(s for s in _doc(out)["skills"] if s["name"] == "alpha")["version"] == "1.1.0"


def test_an_incremental_build_writes_the_same_bytes_as_a_build_from_scratch(tmp_path: Path) -> None:
    """Issue 15: a rebuild reuses the pages whose inputs did not change and renders the others; the
    site it publishes is byte for byte the site a build from scratch publishes."""
    market = tmp_path / "market"
    shutil.copytree(REPO / "examples" / "marketplace", market)
    limits = BuildLimits(catalog_page_skills=4)  # All skills, tags and categories come in pages
    out = tmp_path / "site"
    first = build(market, out, keys=KEYS, now=NOW, limits=limits)
    assert first.pages_reused == 0 and first.pages_rendered > 30
    assert (out / "skills" / "index-3.html").is_file()
    shutil.copyfile(out / "index.json", tmp_path / "first-index.json")
    shutil.copyfile(out / "index.json.sig", tmp_path / "first-index.json.sig")

    md = market / "plugins/brand-and-comms/skills/brand-voice/SKILL.md"
    md.write_text(md.read_text() + "\nOne more rule: no exclamation marks.\n")
    edit_json(market / "plugins/brand-and-comms/.claude-plugin/plugin.json", version="1.2.0")
    later = NOW + timedelta(hours=1)
    again = build(market, out, keys=KEYS, now=later, limits=limits)
    assert again.failed == ()
    assert 0 < again.pages_rendered < again.pages_reused  # work follows the change
    scratch = tmp_path / "scratch"
    first_index = str(tmp_path / "first-index.json")
    build(market, scratch, keys=KEYS, now=later, limits=limits, previous_index=first_index)

    assert "no exclamation marks" in (out / "skills/brand-voice/index.html").read_text()
    assert tree(out) == tree(scratch)

    # a published page changed on disk is rendered again, not reused (its digest no longer matches)
    (out / "skills/sql-style-guide/index.html").write_text("tampered")
    third = build(market, out, keys=KEYS, now=later, limits=limits, previous_index=first_index)
    assert third.pages_rendered == 1
    assert tree(out) == tree(scratch)

    # a changed page template renders again the pages made from it (it is part of their key)
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    build(market, out, keys=KEYS, now=later, limits=limits, templates_dir=templates)
    skill_template = templates / "skill.html.j2"
    skill_template.write_text(skill_template.read_text() + "<p>Template changed.</p>\n")
    fourth = build(market, out, keys=KEYS, now=later, limits=limits, templates_dir=templates)
    assert fourth.pages_reused > 0
    assert all("Template changed." in p.read_text() for p in (out / "skills").glob("*/index.html"))


@pytest.mark.threat("T48")
def test_t48_changed_content_without_a_bump_keeps_that_plugin_at_its_published_version(
    mp: Path, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    _build(mp, out)
    before = tree(out)
    published = {p["name"]: p for p in _doc(out)["plugins"]}
    (mp / "plugins/more/skills/gamma/references/notes.md").write_text("silently changed\n")
    with pytest.raises(ValidationFailed) as err:
        _build(mp, out, strict=True)
    assert {p.rule for p in err.value.problems if p.is_error} == {
        "version-not-bumped",
        "plugin-version-not-bumped",
    }
    assert tree(out) == before
    write_skill(mp, "tools", "delta")  # the rest of the catalog still publishes
    edit_json(mp / "plugins/tools/.claude-plugin/plugin.json", version="1.1.0")
    result = _build(mp, out)
    assert {p.rule for p in result.failed} == {"version-not-bumped", "plugin-version-not-bumped"}
    assert result.kept == ("more",)
    doc = _doc(out)
    assert {p["name"]: p for p in doc["plugins"]}["more"] == published["more"]
    assert "delta" in {s["name"] for s in doc["skills"]}
    gamma = next(s for s in doc["skills"] if s["name"] == "gamma")
    assert (out / gamma["zip"]["path"]).read_bytes() == before[gamma["zip"]["path"]]
    notes = ".well-known/agent-skills/gamma/references/notes.md"
    assert (out / notes).read_bytes() == before[notes]  # still served to other agents, unchanged
    assert "Some instructions." in (out / "skills/gamma/index.html").read_text()  # its page keeps its body
    edit_json(mp / "plugins/more/.claude-plugin/plugin.json", version="1.0.1")
    assert _build(mp, out).failed == ()


@pytest.mark.threat("T48")
def test_t48_an_explicit_previous_index_is_checked(mp: Path, tmp_path: Path) -> None:
    _build(mp, tmp_path / "published")
    (mp / "plugins/more/skills/gamma/references/notes.md").write_text("silently changed\n")
    with pytest.raises(ValidationFailed):  # its last version is not at hand: publishing would drop it
        _build(mp, tmp_path / "fresh", previous_index=str(tmp_path / "published/index.json"))
    assert not (tmp_path / "fresh").exists()


def test_a_failing_plugin_never_published_is_left_out_and_the_rest_publishes(
    mp: Path, tmp_path: Path
) -> None:
    write_skill(mp, "more", "broken")
    (mp / "plugins/more/skills/broken/SKILL.md").write_text("no frontmatter\n")
    result = _build(mp, tmp_path / "site")
    assert result.left_out == ("more",) and result.kept == ()
    assert [(p.file, p.rule) for p in result.failed] == [
        ("plugins/more/skills/broken/SKILL.md", "frontmatter-missing")
    ]
    doc = _doc(tmp_path / "site")
    assert "more" not in {p["name"] for p in doc["plugins"]} and {p["name"] for p in doc["plugins"]}
    cc = json.loads((tmp_path / "site/claude-code/marketplace.json").read_text())
    assert "more" not in {e["name"] for e in cc["plugins"]}


def test_a_previous_site_signed_with_another_key_is_ignored_with_a_warning(mp: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    build(mp, out, keys=["o" * 40], now=NOW)
    result = _build(mp, out)
    assert "previous-index-unverified" in {w.rule for w in result.warnings}
    assert result.reused == 0


# -- atomic publication (T47) --


@pytest.mark.threat("T47")
def test_t47_a_second_build_while_the_lock_is_held_fails_and_the_site_stays(mp: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    _build(mp, out)
    before = tree(out)
    with publish.build_lock(out), pytest.raises(publish.BuildInProgress, match="another build"):
        _build(mp, out)
    assert tree(out) == before
    _build(mp, out)  # the lock is released afterwards


@pytest.mark.threat("T47")
def test_t47_a_step_that_raises_leaves_the_previous_site_byte_identical(
    mp: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "site"
    _build(mp, out)
    before = tree(out)
    edit_json(mp / "plugins/tools/.claude-plugin/plugin.json", version="2.0.0")

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(site, "render_catalog", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        _build(mp, out)
    assert tree(out) == before
    assert [p.name for p in tmp_path.iterdir() if ".build-" in p.name] == []


@pytest.mark.threat("T47")
def test_t47_a_validation_failure_writes_nothing(mp: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    _build(mp, out)
    before = tree(out)
    write_skill(mp, "tools", "Bad_Name")
    with pytest.raises(ValidationFailed):  # --strict: any error fails the whole build
        _build(mp, out, strict=True)
    assert tree(out) == before
    edit_json(mp / ".claude-plugin/marketplace.json", owner=None)  # an error outside any plugin
    with pytest.raises(ValidationFailed):
        _build(mp, out)
    assert tree(out) == before


KILLED_BUILD = """
import sys, time
from datetime import datetime, UTC
from pathlib import Path
from builder import plan, build

def stuck(self):
    Path(sys.argv[3]).write_text("packaging")
    time.sleep(600)
    return b""

plan.SkillPlan.build_zip = stuck
build.build(Path(sys.argv[1]), Path(sys.argv[2]), keys=["k" * 40], now=datetime.now(UTC))
"""


@pytest.mark.threat("T47")
def test_t47_a_build_killed_while_packaging_leaves_the_previous_site_byte_identical(
    mp: Path, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    _build(mp, out)
    before = tree(out)
    edit_json(mp / "plugins/tools/.claude-plugin/plugin.json", version="2.0.0")
    flag = tmp_path / "flag"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_BUILD, str(mp), str(out), str(flag)], cwd=REPO)
    try:
        for _ in range(600):
            if flag.exists() or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert flag.exists(), "the build never reached packaging"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert tree(out) == before
    assert [p.name for p in tmp_path.iterdir() if ".build-" in p.name]  # the dead build's staging folder
    result = _build(mp, out)  # the dead build's lock is gone
    assert _doc(out)["serial"] == result.serial
    assert [p.name for p in tmp_path.iterdir() if ".build-" in p.name or ".md-" in p.name] == []


def test_the_index_is_written_last_over_exact_bytes(example_site: Path) -> None:
    data = (example_site / "index.json").read_bytes()
    assert data == index.encode(json.loads(data))
    assert (example_site / "index.json.sig").read_bytes() == index.sign(data, KEYS)


def test_a_zip_entry_can_be_read_back_with_the_standard_library(example_site: Path) -> None:
    doc = _doc(example_site)
    entry = doc["plugins"][0]
    with zipfile.ZipFile(io.BytesIO((example_site / entry["zip"]["path"]).read_bytes())) as zf:
        assert zf.testzip() is None
        assert ".claude-plugin/plugin.json" in zf.namelist()
        manifest = json.loads(zf.read(".claude-plugin/plugin.json"))
        assert manifest["version"] == entry["version"]


# -- plugin versions follow content --


@pytest.mark.threat("T48")
def test_t48_a_skill_bump_that_changes_the_plugin_archive_needs_a_plugin_bump(
    mp: Path, tmp_path: Path
) -> None:
    gamma = mp / "plugins/more/skills/gamma/SKILL.md"
    gamma.write_text(skill_text("gamma", extra='metadata:\n  version: "1.0.0"\n'))
    out = tmp_path / "site"
    _build(mp, out)
    gamma.write_text(skill_text("gamma", extra='metadata:\n  version: "1.1.0"\n', body="# New\n\nNew.\n"))
    result = _build(mp, out)
    (problem,) = result.failed
    assert (problem.rule, problem.plugin, problem.file) == (
        "plugin-version-not-bumped",
        "more",
        "plugins/more/.claude-plugin/plugin.json",
    )
    assert "skillport bump" in problem.fix and result.kept == ("more",)
    edit_json(mp / "plugins/more/.claude-plugin/plugin.json", version="1.0.1")
    assert _build(mp, out).failed == ()
    assert {p["name"]: p["version"] for p in _doc(out)["plugins"]}["more"] == "1.0.1"


def test_an_unversioned_plugin_gets_a_version_that_follows_its_content(mp: Path, tmp_path: Path) -> None:
    edit_json(mp / "plugins/more/.claude-plugin/plugin.json", version=None)
    out = tmp_path / "site"
    result = _build(mp, out)
    assert "plugin-version-missing" in {w.rule for w in result.warnings}
    first = {p["name"]: p for p in _doc(out)["plugins"]}["more"]
    assert re.fullmatch(r"0\.0\.0\+[0-9a-f]{12}", first["version"])
    assert first["zip"]["path"] == f"plugins/more-{first['version']}.zip"
    with zipfile.ZipFile(out / first["zip"]["path"]) as zf:
        assert json.loads(zf.read(".claude-plugin/plugin.json"))["version"] == first["version"]
    assert first["version"] in (out / "plugins/more/index.html").read_text()
    assert _build(mp, out).failed == ()  # same content, same version
    assert {p["name"]: p for p in _doc(out)["plugins"]}["more"]["version"] == first["version"]
    (mp / "plugins/more/skills/gamma/references/notes.md").write_text("changed\n")
    result = _build(mp, out)
    moved = {p["name"]: p for p in _doc(out)["plugins"]}["more"]["version"]
    assert moved != first["version"] and re.fullmatch(r"0\.0\.0\+[0-9a-f]{12}", moved)
    assert result.failed == ()
    gamma = next(s for s in _doc(out)["skills"] if s["name"] == "gamma")
    assert gamma["version"] == moved  # its skills carry the plugin's version
