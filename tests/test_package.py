"""Deterministic zips (T45) and the SKILL.md origin stamp."""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

import pytest
import yaml

from builder.errors import BadInput
from builder.model import SkillFile
from builder.origin import Origin, with_origin
from builder.package import archive, plugin_zip, stamp_files, stamp_skill_md, upload_zip

SKILL_MD = b"""---
name: pdf-tools
description: Extract text from PDFs. Use when the user mentions PDFs.
---
# PDF tools

Run `scripts/extract.py`.
"""
FILES = [
    SkillFile("SKILL.md", SKILL_MD),
    SkillFile("scripts/extract.py", b"print('hi')\n" * 50),
    SkillFile("reference/FORMS.md", b"# Forms\n"),
    SkillFile("assets/logo.bin", bytes(random.Random(1).randbytes(3000))),
]


def _entries(data: bytes) -> list[zipfile.ZipInfo]:
    return zipfile.ZipFile(io.BytesIO(data)).infolist()


@pytest.mark.threat("T45")
def test_t45_zip_is_byte_identical_across_calls_and_input_orders() -> None:
    first = upload_zip("pdf-tools", FILES)
    assert upload_zip("pdf-tools", FILES) == first
    for seed in range(5):
        shuffled = FILES[:]
        random.Random(seed).shuffle(shuffled)
        assert upload_zip("pdf-tools", shuffled) == first
    assert plugin_zip(list(reversed(FILES))) == plugin_zip(FILES)


@pytest.mark.threat("T45")
def test_t45_upload_zip_has_exactly_the_expected_entries_with_fixed_metadata() -> None:
    data = upload_zip("pdf-tools", FILES, executable={"scripts/extract.py"})
    infos = _entries(data)
    assert [i.filename for i in infos] == [
        "pdf-tools/",
        "pdf-tools/SKILL.md",
        "pdf-tools/assets/",
        "pdf-tools/assets/logo.bin",
        "pdf-tools/reference/",
        "pdf-tools/reference/FORMS.md",
        "pdf-tools/scripts/",
        "pdf-tools/scripts/extract.py",
    ]
    modes = {i.filename: i.external_attr >> 16 for i in infos}
    assert modes["pdf-tools/"] == 0o40755
    assert modes["pdf-tools/SKILL.md"] == 0o100644
    assert modes["pdf-tools/scripts/extract.py"] == 0o100755
    for info in infos:
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.create_system == 3
        assert info.extra == b""
        expected = zipfile.ZIP_STORED if info.is_dir() else zipfile.ZIP_DEFLATED
        assert info.compress_type == expected
    zf = zipfile.ZipFile(io.BytesIO(data))
    assert zf.testzip() is None
    assert zf.read("pdf-tools/SKILL.md") == SKILL_MD
    assert zf.comment == b""


def test_plugin_zip_puts_the_plugin_folder_contents_at_the_root() -> None:
    files = [
        SkillFile(".claude-plugin/plugin.json", b'{"name": "pdf", "version": "1.0.0"}'),
        *(SkillFile(f"skills/pdf-tools/{f.path}", f.data) for f in FILES),
    ]
    names = [i.filename for i in _entries(plugin_zip(files))]
    assert names[:2] == [".claude-plugin/", ".claude-plugin/plugin.json"]
    assert "skills/pdf-tools/SKILL.md" in names
    assert all(not n.startswith("/") for n in names)


def test_archive_at_root_has_no_folder_prefix() -> None:
    names = [i.filename for i in _entries(archive(FILES)) if not i.is_dir()]
    assert sorted(names) == sorted(f.path for f in FILES)


def test_upload_zip_changes_when_content_changes() -> None:
    changed = [SkillFile("SKILL.md", SKILL_MD + b"\nMore.\n"), *FILES[1:]]
    assert upload_zip("pdf-tools", changed) != upload_zip("pdf-tools", FILES)


@pytest.mark.threat("T45")
@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("C:/Windows/evil.dll", "drive letter"),
        ("notes\x01.md", "control character"),
        ("bad\x7fname", "control character"),
    ],
)
def test_t45_unsafe_member_names_are_refused(path: str, reason: str) -> None:
    with pytest.raises(BadInput, match=reason):
        upload_zip("pdf-tools", [FILES[0], SkillFile(path, b"x")])


@pytest.mark.threat("T45")
def test_t45_case_only_duplicates_and_file_folder_clashes_are_refused() -> None:
    with pytest.raises(BadInput, match="case-insensitive"):
        upload_zip("pdf-tools", [FILES[0], SkillFile("a.md", b"1"), SkillFile("A.md", b"2")])
    with pytest.raises(BadInput, match="both a file and a folder"):
        plugin_zip([SkillFile("docs", b"1"), SkillFile("docs/a.md", b"2")])


@pytest.mark.threat("T45")
@pytest.mark.parametrize("name", ["../evil", "Pdf-Tools", "a/b", "", "x" * 65, "-lead"])
def test_t45_upload_zip_refuses_a_bad_root_folder_name(name: str) -> None:
    with pytest.raises(BadInput, match="skill name"):
        upload_zip(name, FILES)


def test_upload_zip_needs_skill_md_and_known_executables() -> None:
    with pytest.raises(BadInput, match=r"no SKILL\.md"):
        upload_zip("pdf-tools", FILES[1:])
    with pytest.raises(BadInput, match="executable"):
        upload_zip("pdf-tools", FILES, executable={"scripts/missing.sh"})


# --- stamping --------------------------------------------------------------------------------------

HOSTILE_MD = """---
name: pdf-tools
description: "Extract text: tables and forms from PDFs. Use when # a PDF is mentioned"
license: Apache-2.0
compatibility: Needs python3 and pdfplumber
model: sonnet
disable-model-invocation: true
argument-hint: "[file]"
allowed-tools: [Read, Bash]
metadata:
  version: "0.0.1"
  min-app: 2.10
  beta: yes
  tags: pdf, documents
---
# PDF tools

Body with --- dashes, `code: here`, trailing spaces<SP>
and no final newline""".replace("<SP>", "   ")


def _front(text: str) -> dict[str, object]:
    front = text.split("---\n", 2)[1]
    loaded = yaml.load(front, Loader=yaml.BaseLoader)  # noqa: S506 - BaseLoader builds no objects
    assert isinstance(loaded, dict)
    return loaded


def test_stamp_keeps_only_spec_keys_and_adds_origin_to_metadata() -> None:
    out = stamp_skill_md(HOSTILE_MD, version="1.2.0", marketplace="corp-skills", plugin="pdf")
    front = _front(out)
    assert list(front) == ["name", "description", "license", "compatibility", "allowed-tools", "metadata"]
    assert front["description"] == (
        "Extract text: tables and forms from PDFs. Use when # a PDF is mentioned (corp-skills/pdf 1.2.0)"
    )  # the origin marker Claude.ai and the API show (builder.origin)
    assert front["allowed-tools"] == "Read Bash"
    assert front["metadata"] == {
        "version": "1.2.0",
        "min-app": "2.10",  # kept as written, not turned into the float 2.1
        "beta": "yes",
        "tags": "pdf, documents",
        "marketplace": "corp-skills",
        "plugin": "pdf",
    }


def test_stamp_keeps_the_body_byte_for_byte() -> None:
    out = stamp_skill_md(HOSTILE_MD, version="1.2.0", marketplace="m", plugin="p")
    body = HOSTILE_MD[HOSTILE_MD.index("\n---\n# PDF") :]
    assert out.endswith(body)


def test_stamp_keeps_crlf_files_crlf() -> None:
    text = "---\r\nname: a\r\ndescription: b\r\n---\r\n# A\r\n"
    out = stamp_skill_md(text, version="1.0.0", marketplace="m", plugin="p")
    assert out.endswith("---\r\n# A\r\n")
    assert "\n" not in out.replace("\r\n", "")
    assert "  version: 1.0.0\r\n" in out


def test_stamp_is_idempotent() -> None:
    once = stamp_skill_md(HOSTILE_MD, version="1.2.0", marketplace="m", plugin="p")
    assert stamp_skill_md(once, version="1.2.0", marketplace="m", plugin="p") == once


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# no frontmatter\n", "does not start with"),
        ("---\nname: a\n", "never closed"),
        ("---\n- a\n- b\n---\nbody\n", "mapping"),
        ("---\nname: [a\n---\nbody\n", "not valid YAML"),
    ],
)
def test_stamp_refuses_a_broken_frontmatter_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        stamp_skill_md(text, version="1.0.0", marketplace="m", plugin="p")


@pytest.mark.external
def test_stamped_skill_passes_the_reference_validator(tmp_path: Path) -> None:
    skills_ref = pytest.importorskip("skills_ref")
    original = tmp_path / "orig" / "pdf-tools"
    original.mkdir(parents=True)
    (original / "SKILL.md").write_text(HOSTILE_MD)
    assert skills_ref.validate(original), "the unstamped file must fail (Claude Code-only keys)"

    files = stamp_files(
        [SkillFile("SKILL.md", HOSTILE_MD.encode()), FILES[1]],
        version="1.2.0",
        marketplace="corp-skills",
        plugin="pdf",
    )
    # Unpack the real upload zip and validate what Claude.ai would receive.
    out = tmp_path / "unzipped"
    zipfile.ZipFile(io.BytesIO(upload_zip("pdf-tools", files))).extractall(out)
    assert skills_ref.validate(out / "pdf-tools") == []
    props = skills_ref.read_properties(out / "pdf-tools")
    assert props.metadata["version"] == "1.2.0"
    assert props.metadata["marketplace"] == "corp-skills"
    assert props.metadata["plugin"] == "pdf"
    assert props.metadata["min-app"] == "2.10"


@pytest.mark.external
@pytest.mark.parametrize(
    "description",
    [
        "Plain description. Use when asked.",
        "Colon: inside and 'quotes' and \"double quotes\"",
        "Starts with a dash? - no, with * star and & ampersand",
        "Ünïcödé – dashes — and emoji 🎉",
        "yes",
        "1.0",
        "Multi\nline description",
    ],
)
def test_stamped_descriptions_parse_under_strictyaml(tmp_path: Path, description: str) -> None:
    skills_ref = pytest.importorskip("skills_ref")
    source = "---\n" + yaml.safe_dump({"name": "demo", "description": description}) + "---\nBody\n"
    folder = tmp_path / "demo"
    folder.mkdir()
    (folder / "SKILL.md").write_text(
        stamp_skill_md(source, version="2.0.0-rc.1", marketplace="m", plugin="p"), encoding="utf-8"
    )
    assert skills_ref.validate(folder) == []
    expected = with_origin(description, Origin("m", "p", "2.0.0-rc.1"))
    assert skills_ref.read_properties(folder).description == expected
