"""The loader on real file systems: links and special files are refused and never packaged (T44)."""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from builder.build import build
from builder.errors import ValidationFailed
from builder.load import load
from tests.support.marketplaces import errors, make_marketplace, problems

KEYS = ["k" * 40]


@pytest.fixture
def mp(tmp_path: Path) -> Path:
    return make_marketplace(tmp_path / "mp")


def _alpha(mp: Path) -> Path:
    return mp / "plugins/tools/skills/alpha"


def _refused_and_not_built(mp: Path, tmp_path: Path, rule: str, rel: str) -> None:
    found = [p for p in problems(mp) if p.is_error]
    assert [p.rule for p in found] == [rule]
    assert found[0].file == f"plugins/tools/skills/alpha/{rel}"
    marketplace, _ = load(mp)
    alpha = next(s for s in marketplace.skills if s.name == "alpha")
    assert rel not in {f.path for f in alpha.files}
    out = tmp_path / "site"
    with pytest.raises(ValidationFailed):
        build(mp, out, keys=KEYS, now=datetime.now(UTC))
    assert not out.exists()


@pytest.mark.threat("T44")
def test_t44_a_symlinked_file_is_refused_and_never_zipped(mp: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret\n")
    (_alpha(mp) / "leak.md").symlink_to(secret)
    _refused_and_not_built(mp, tmp_path, "skill-symlink", "leak.md")


@pytest.mark.threat("T44")
def test_t44_a_symlinked_folder_is_refused_and_not_followed(mp: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "id_rsa").write_text("key\n")
    (_alpha(mp) / "linked").symlink_to(outside, target_is_directory=True)
    _refused_and_not_built(mp, tmp_path, "skill-symlink", "linked")


@pytest.mark.threat("T44")
def test_t44_a_symlinked_skill_folder_is_refused(mp: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere" / "gamma"
    other.mkdir(parents=True)
    (other / "SKILL.md").write_text("---\nname: gamma\ndescription: d\n---\nx\n")
    (mp / "plugins/tools/skills/gamma").symlink_to(other, target_is_directory=True)
    assert "skill-symlink" in errors(mp)
    marketplace, _ = load(mp)
    assert "gamma" not in {s.name for s in marketplace.skills}


@pytest.mark.threat("T44")
def test_t44_a_hardlink_is_refused_and_never_zipped(mp: Path, tmp_path: Path) -> None:
    outside = tmp_path / "shadow"
    outside.write_text("shared bytes\n")
    os.link(outside, _alpha(mp) / "hard.md")
    _refused_and_not_built(mp, tmp_path, "skill-hardlink", "hard.md")


@pytest.mark.threat("T44")
def test_t44_a_fifo_is_refused_without_blocking(mp: Path, tmp_path: Path) -> None:
    os.mkfifo(_alpha(mp) / "pipe")  # reading it would block forever
    _refused_and_not_built(mp, tmp_path, "skill-special-file", "pipe")


@pytest.mark.threat("T44")
def test_t44_a_device_node_is_refused(mp: Path, tmp_path: Path) -> None:
    try:
        os.mknod(_alpha(mp) / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("creating a device node needs root")
    _refused_and_not_built(mp, tmp_path, "skill-special-file", "null")


@pytest.mark.threat("T44")
def test_t44_a_symlinked_manifest_is_refused(mp: Path, tmp_path: Path) -> None:
    pjson = mp / "plugins/tools/.claude-plugin/plugin.json"
    real = tmp_path / "plugin.json"
    real.write_bytes(pjson.read_bytes())
    pjson.unlink()
    pjson.symlink_to(real)
    assert "manifest-not-regular" in errors(mp)


def test_os_litter_is_skipped_and_executable_bits_are_kept(mp: Path) -> None:
    (_alpha(mp) / ".DS_Store").write_bytes(b"\0\1")
    (_alpha(mp) / "__pycache__").mkdir()
    (_alpha(mp) / "__pycache__/x.pyc").write_bytes(b"\0")
    (_alpha(mp) / "scripts").mkdir()
    (_alpha(mp) / "scripts/run.py").write_text("print('hi')\n")
    (_alpha(mp) / "scripts/run.py").chmod(0o755)
    marketplace, found = load(mp)
    assert found == []
    alpha = next(s for s in marketplace.skills if s.name == "alpha")
    assert [f.path for f in alpha.files] == ["SKILL.md", "references/notes.md", "scripts/run.py"]
    assert [f.path for f in alpha.files if f.executable] == ["scripts/run.py"]


def test_a_folder_without_skill_md_is_a_warning_as_claude_code_skips_it(mp: Path) -> None:
    (mp / "plugins/tools/skills/empty").mkdir()
    (mp / "plugins/tools/skills/empty/README.md").write_text("x\n")
    found = problems(mp)
    assert [(p.rule, p.file, p.severity) for p in found] == [
        ("skill-md-missing", "plugins/tools/skills/empty/SKILL.md", "warning")
    ]


def test_skill_md_that_is_not_utf8_is_reported(mp: Path) -> None:
    (_alpha(mp) / "SKILL.md").write_bytes(b"---\nname: alpha\ndescription: caf\xe9\n---\n")
    assert "skill-md-encoding" in errors(mp)


@pytest.mark.threat("T44")
def test_t44_a_symlink_inside_the_marketplace_is_followed_and_packaged_as_a_file(
    mp: Path, tmp_path: Path
) -> None:
    (mp / "shared").mkdir()
    (mp / "shared/glossary.md").write_text("Shared glossary.\n")
    (_alpha(mp) / "glossary.md").symlink_to("../../../../shared/glossary.md")
    (_alpha(mp) / "docs").symlink_to("../../../../shared", target_is_directory=True)
    assert problems(mp) == []
    marketplace, _ = load(mp)
    alpha = next(s for s in marketplace.skills if s.name == "alpha")
    files = {f.path: f.data for f in alpha.files}
    assert files["glossary.md"] == files["docs/glossary.md"] == b"Shared glossary.\n"
    out = tmp_path / "site"
    build(mp, out, keys=KEYS, now=datetime.now(UTC))
    zips = list((out / "plugins").glob("tools-*.zip"))
    with zipfile.ZipFile(zips[0]) as zf:
        info = zf.getinfo("skills/alpha/glossary.md")
        assert zf.read(info) == b"Shared glossary.\n" and not (info.external_attr >> 16) & 0o020000


@pytest.mark.threat("T44")
def test_t44_a_link_loop_inside_the_marketplace_is_refused(mp: Path) -> None:
    (_alpha(mp) / "loop").symlink_to(".", target_is_directory=True)
    found = [p for p in problems(mp) if p.is_error]
    assert [(p.rule, p.file) for p in found] == [("skill-symlink", "plugins/tools/skills/alpha/loop")]


def test_frontmatter_parsed_by_an_earlier_build_is_reused_until_the_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 15: a rebuild parses the YAML of the SKILL.md files that changed, not of all 10,000;
    what it reuses gives the same marketplace as parsing again."""
    from builder import frontmatter
    from builder.load import parse_cache

    market = tmp_path / "market"
    shutil.copytree(Path(__file__).resolve().parent.parent / "examples" / "marketplace", market)
    plain, _ = load(market)
    cache = tmp_path / "cache" / "frontmatter.json"
    with parse_cache(cache):
        load(market)
    parsed: list[str] = []
    real_parse = frontmatter.parse
    monkeypatch.setattr(
        frontmatter, "parse", lambda text, *a, **k: parsed.append(text) or real_parse(text, *a, **k)
    )
    with parse_cache(cache):
        again, _ = load(market)
    assert parsed == [] and again == plain

    md = market / "plugins/brand-and-comms/skills/brand-voice/SKILL.md"
    md.write_text(md.read_text().replace("description: ", "description: Now shorter. ", 1))
    with parse_cache(cache):
        changed, _ = load(market)
    assert len(parsed) == 1 and "Now shorter." in parsed[0]
    skill = next(s for p in changed.plugins for s in p.skills if s.name == "brand-voice")
    assert str(skill.frontmatter["description"]).startswith("Now shorter.")

    cache.write_text("{not json")  # a damaged cache is ignored, never trusted
    with parse_cache(cache):
        assert load(market)[0] == changed
