"""The uploaded-zip checker (T45): every rule against a hostile zip built here."""

from __future__ import annotations

import io
import os
import random
import shutil
import struct
import subprocess
import warnings
import zipfile
from pathlib import Path

import pytest

from builder.errors import BadInput
from builder.model import SkillFile
from builder.package import upload_zip
from builder.zipcheck import ZipLimits, check_zip

SKILL_MD = b"---\nname: demo\ndescription: A demo skill. Use when testing.\n---\n# Demo\n"


def make_zip(entries: list[tuple[str | zipfile.ZipInfo, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns on duplicate names; we want them
        with zipfile.ZipFile(buffer, "w", compression=method) as zf:
            for name, data in entries:
                zf.writestr(name, data)
    return buffer.getvalue()


def unix_entry(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = mode << 16
    return info


def good(*extra: tuple[str | zipfile.ZipInfo, bytes]) -> bytes:
    return make_zip([("demo/SKILL.md", SKILL_MD), ("demo/scripts/run.sh", b"#!/bin/sh\n"), *extra])


def test_a_skill_folder_zip_comes_back_as_its_files() -> None:
    checked = check_zip(good())
    assert checked.folder == "demo"
    assert [(f.path, f.data) for f in checked.files] == [
        ("SKILL.md", SKILL_MD),
        ("scripts/run.sh", b"#!/bin/sh\n"),
    ]


def test_skill_md_at_the_root_is_normalized_the_same_way() -> None:
    checked = check_zip(make_zip([("SKILL.md", SKILL_MD), ("scripts/run.sh", b"#!/bin/sh\n")]))
    assert checked.folder is None
    assert [f.path for f in checked.files] == ["SKILL.md", "scripts/run.sh"]


def test_our_own_upload_zip_round_trips() -> None:
    files = (SkillFile("SKILL.md", SKILL_MD), SkillFile("a/b/c.txt", random.Random(3).randbytes(5000)))
    checked = check_zip(upload_zip("demo", files))
    assert checked.folder == "demo"
    assert checked.files == files


def test_macos_finder_litter_is_dropped() -> None:
    checked = check_zip(good(("__MACOSX/demo/._SKILL.md", b"\0\5\26\7"), ("demo/.DS_Store", b"\0\0\0\1Bud1")))
    assert [f.path for f in checked.files] == ["SKILL.md", "scripts/run.sh"]


@pytest.mark.external
def test_a_zip_made_by_info_zip_is_accepted(tmp_path: Path) -> None:
    if not shutil.which("zip"):
        pytest.skip("Info-ZIP `zip` not installed")
    (tmp_path / "demo" / "scripts").mkdir(parents=True)
    (tmp_path / "demo" / "SKILL.md").write_bytes(SKILL_MD)
    (tmp_path / "demo" / "scripts" / "run.sh").write_bytes(b"#!/bin/sh\n")
    subprocess.run(["zip", "-qr", "out.zip", "demo"], cwd=tmp_path, check=True)
    checked = check_zip((tmp_path / "out.zip").read_bytes())
    assert [f.path for f in checked.files] == ["SKILL.md", "scripts/run.sh"]


# --- hostile zips -----------------------------------------------------------------------------------


@pytest.mark.threat("T45")
def test_t45_not_a_zip_is_refused() -> None:
    with pytest.raises(BadInput, match="not a readable zip"):
        check_zip(b"PK\3\4 this is not really a zip")


@pytest.mark.threat("T45")
def test_t45_too_many_files_is_refused() -> None:
    data = good(*((f"demo/f{i}.txt", b"x") for i in range(3)))
    assert len(check_zip(data, ZipLimits(max_files=5)).files) == 5
    with pytest.raises(BadInput, match="6 files, over the limit of 5"):
        check_zip(good(*((f"demo/f{i}.txt", b"x") for i in range(4))), ZipLimits(max_files=5))


@pytest.mark.threat("T45")
def test_t45_default_limit_of_200_files() -> None:
    with pytest.raises(BadInput, match="201 files, over the limit of 200"):
        check_zip(good(*((f"demo/f{i}.txt", b"x") for i in range(199))))


@pytest.mark.threat("T45")
def test_t45_too_many_entries_is_refused_before_reading() -> None:
    data = good(*((f"demo/d{i}/", b"") for i in range(20)))
    with pytest.raises(BadInput, match="22 entries, over the limit of 10"):
        check_zip(data, ZipLimits(max_entries=10))


@pytest.mark.threat("T45")
def test_t45_total_uncompressed_size_over_the_limit_is_refused() -> None:
    rnd = random.Random(7)
    data = good(("demo/a.bin", rnd.randbytes(600)), ("demo/b.bin", rnd.randbytes(600)))
    with pytest.raises(BadInput, match="over the limit of 1000"):
        check_zip(data, ZipLimits(max_total_bytes=1000))


@pytest.mark.threat("T45")
def test_t45_high_ratio_zip_bomb_entry_is_refused() -> None:
    bomb = bytes(20 * 1024 * 1024)  # 20 MB of zeros deflates about 1000:1, under the 30 MB total
    data = good(("demo/assets/zeros.bin", bomb))
    assert len(data) < 100 * 1024
    with pytest.raises(BadInput, match=r"'demo/assets/zeros.bin'.*compression ratio \d+:1 .* limit of 100:1"):
        check_zip(data)


@pytest.mark.threat("T45")
def test_t45_small_compressible_files_are_not_mistaken_for_bombs() -> None:
    checked = check_zip(good(("demo/blank.txt", b" " * 20_000)))
    assert any(f.path == "blank.txt" for f in checked.files)


@pytest.mark.threat("T45")
def test_t45_entry_lying_about_its_size_is_caught_while_inflating() -> None:
    payload = random.Random(5).randbytes(200_000)
    data = bytearray(good(("demo/big.bin", payload)))
    # Shrink the declared size to 1000 bytes in both the local header and the central directory.
    declared = struct.pack("<I", len(payload))
    assert data.count(declared) == 2
    data = bytearray(bytes(data).replace(declared, struct.pack("<I", 1000)))
    with pytest.raises(BadInput, match=r"'demo/big.bin'.*corrupt"):
        check_zip(bytes(data))


@pytest.mark.threat("T45")
def test_t45_corrupt_deflate_stream_is_bad_input_not_zlib_error() -> None:
    data = bytearray(make_zip([("demo/SKILL.md", SKILL_MD)]))
    data[30 + len("demo/SKILL.md")] = 0  # first byte of the compressed data: an invalid block
    with pytest.raises(BadInput, match=r"'demo/SKILL.md'.*corrupt.*re-create the zip"):
        check_zip(bytes(data))


@pytest.mark.threat("T45")
def test_t45_overlapping_entries_bomb_is_refused() -> None:
    data = bytearray(good(("demo/b.txt", b"B" * 100)))
    # Point the last central-directory entry at the first local header (David Fifield's trick).
    central = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 42, 0)
    with pytest.raises(BadInput, match="overlaps another entry"):
        check_zip(bytes(data))


@pytest.mark.threat("T45")
@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("demo/../../etc/cron.d/evil", r"'\.\.'"),
        ("/etc/passwd", "absolute path"),
        ("C:/Windows/evil.dll", "drive letter"),
        ("demo\\..\\evil.txt", "backslash"),
        ("demo/./x.txt", r"'\.'"),
        ("demo//x.txt", "empty path part"),
        ("demo/bell\x07.txt", "control character"),
    ],
)
def test_t45_unsafe_entry_names_are_refused(name: str, rule: str) -> None:
    with pytest.raises(BadInput, match=rule):
        check_zip(good((name, b"x")))


@pytest.mark.threat("T45")
def test_t45_nul_in_an_entry_name_is_refused() -> None:
    # zipfile silently cuts names at NUL, so patch the raw bytes after writing.
    data = good(("demo/evilXname.md", b"x")).replace(b"demo/evilXname.md", b"demo/evil\0name.md")
    with pytest.raises(BadInput, match="NUL"):
        check_zip(data)


@pytest.mark.threat("T45")
def test_t45_symlink_entry_is_refused() -> None:
    data = good((unix_entry("demo/secrets", 0o120777), b"/etc/shadow"))
    with pytest.raises(BadInput, match=r"'demo/secrets'.*symbolic link"):
        check_zip(data)


@pytest.mark.threat("T45")
@pytest.mark.external
def test_t45_symlink_stored_by_info_zip_is_refused(tmp_path: Path) -> None:
    if not shutil.which("zip"):
        pytest.skip("Info-ZIP `zip` not installed")
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "SKILL.md").write_bytes(SKILL_MD)
    os.symlink("/etc/passwd", tmp_path / "demo" / "passwd")
    subprocess.run(["zip", "-qry", "out.zip", "demo"], cwd=tmp_path, check=True)  # -y: store links
    with pytest.raises(BadInput, match=r"'demo/passwd'.*symbolic link"):
        check_zip((tmp_path / "out.zip").read_bytes())


@pytest.mark.threat("T45")
def test_t45_fifo_and_device_entries_are_refused() -> None:
    for mode in (0o010644, 0o020644, 0o060644):
        with pytest.raises(BadInput, match="not a regular file"):
            check_zip(good((unix_entry("demo/odd", mode), b"")))


@pytest.mark.threat("T45")
@pytest.mark.parametrize(
    "name", ["demo/inner.zip", "demo/lib/x.JAR", "demo/data.tar", "demo/data.tar.gz", "demo/a.7z"]
)
def test_t45_nested_archives_are_refused(name: str) -> None:
    with pytest.raises(BadInput, match="nested archives"):
        check_zip(good((name, b"PK\3\4")))


def test_office_files_are_not_nested_archives() -> None:
    checked = check_zip(good(("demo/assets/template.docx", b"PK\3\4 docx")))
    assert any(f.path == "assets/template.docx" for f in checked.files)


@pytest.mark.threat("T45")
def test_t45_duplicate_names_are_refused() -> None:
    with pytest.raises(BadInput, match=r"'demo/SKILL.md'.*appears twice"):
        check_zip(good(("demo/SKILL.md", b"---\nname: evil\n---\n")))


@pytest.mark.threat("T45")
def test_t45_case_only_duplicate_names_are_refused() -> None:
    with pytest.raises(BadInput, match=r"'demo/Scripts/run.sh'.*clashes"):
        check_zip(good(("demo/Scripts/run.sh", b"#!/bin/sh\nrm -rf ~\n")))


@pytest.mark.threat("T45")
def test_t45_a_name_used_as_file_and_folder_is_refused() -> None:
    with pytest.raises(BadInput, match="both a file and a folder"):
        check_zip(good(("demo/scripts", b"x")))


@pytest.mark.threat("T45")
def test_t45_encrypted_entries_are_refused() -> None:
    data = bytearray(good(("demo/secret.txt", b"x")))
    # zipfile clears flag bits when writing: set "encrypted" (bit 0) in both headers of the last entry.
    local = data.rfind(b"PK\x03\x04")
    central = data.rfind(b"PK\x01\x02")
    data[local + 6] |= 0x1
    data[central + 8] |= 0x1
    with pytest.raises(BadInput, match=r"'demo/secret.txt'.*encrypted"):
        check_zip(bytes(data))


@pytest.mark.threat("T45")
def test_t45_unusual_compression_methods_are_refused() -> None:
    data = make_zip([("demo/SKILL.md", SKILL_MD)], method=zipfile.ZIP_BZIP2)
    with pytest.raises(BadInput, match="compression method 12"):
        check_zip(data)


@pytest.mark.threat("T45")
@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([("a/SKILL.md", SKILL_MD), ("b/SKILL.md", SKILL_MD)], "exactly one skill folder"),
        ([("demo/README.md", b"x")], "no SKILL.md at its top level"),
        ([("demo/skill.md", SKILL_MD)], "no SKILL.md at its top level"),
        ([("demo/SKILL.md", SKILL_MD), ("loose.txt", b"x")], "exactly one skill folder"),
        ([("demo/SKILL.md", SKILL_MD), ("demo/sub/SKILL.md", SKILL_MD)], "exactly one SKILL.md"),
        ([("SKILL.md", SKILL_MD), ("other/skill.md", SKILL_MD)], "exactly one SKILL.md"),
        ([("demo/", b"")], "exactly one skill folder|no SKILL.md"),
    ],
)
def test_t45_layout_must_be_one_skill_folder_or_skill_md_at_root(
    entries: list[tuple[str, bytes]], message: str
) -> None:
    with pytest.raises(BadInput, match=message):
        check_zip(make_zip(list(entries)))


def test_zip_limits_validate_their_values() -> None:
    with pytest.raises(ValueError, match="max_files"):
        ZipLimits(max_files=0)
    assert ZipLimits().max_total_bytes == 30 * 1024 * 1024
