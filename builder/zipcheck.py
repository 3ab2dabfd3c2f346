"""Check an uploaded skill zip (bytes) before anything is written (T45).

Refused, with a ``BadInput`` naming the entry and the rule:

- not a zip, encrypted entries, compression other than stored/deflated;
- more than ``max_files`` files (or ``max_entries`` entries with folders);
- total uncompressed size over ``max_total_bytes``, counted from the central directory *and* while
  inflating (an entry that inflates past what it declared is refused on the spot);
- an entry of at least ``ratio_min_bytes`` whose size / compressed size exceeds ``max_ratio``;
- entries whose data overlap (the "overlapping files" zip bomb) or run past the central directory;
- names that are absolute, start with a drive letter, contain a backslash, NUL or control
  character, a ``..``/``.``/empty part;
- symlinks and other non-regular files (Unix mode in ``external_attr``);
- nested archives (``builder.policy.ARCHIVE_SUFFIXES``: ``.zip``, ``.jar``, ``.tar``, ``.gz`` … by
  extension; Office files such as ``.docx`` are allowed — skills ship them as templates);
- duplicate names, also when they differ only by case, and a name used as both file and folder;
- a layout other than exactly one root folder holding SKILL.md, or SKILL.md at the root; a second
  SKILL.md further down.

macOS Finder litter (``__MACOSX/…``, ``.DS_Store``) passes the name checks and is then dropped.
The files come back as ``SkillFile`` records relative to the skill folder (the shape used by
``builder.package`` and ``builder.digest``), sorted by path.
"""

from __future__ import annotations

import io
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass

from builder.errors import BadInput
from builder.model import SkillFile
from builder.policy import UPLOAD_MAX_BYTES, UPLOAD_MAX_FILES, is_archive, path_problem

_LOCAL_HEADER = struct.Struct("<4s22xHH")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class ZipLimits:
    """Limits for an uploaded skill zip; the defaults are Claude.ai's reported upload limits."""

    max_files: int = UPLOAD_MAX_FILES
    max_entries: int = 1000
    max_total_bytes: int = UPLOAD_MAX_BYTES
    max_ratio: int = 100
    ratio_min_bytes: int = 64 * 1024

    def __post_init__(self) -> None:
        for name in ("max_files", "max_entries", "max_total_bytes", "max_ratio"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"ZipLimits.{name} must be a positive integer, not {value!r}")
        if not isinstance(self.ratio_min_bytes, int) or self.ratio_min_bytes < 0:
            raise ValueError("ZipLimits.ratio_min_bytes must be a non-negative integer")


@dataclass(frozen=True)
class CheckedZip:
    """A zip that passed every check: the root folder's name (``None`` when SKILL.md was at the
    root) and the skill's files relative to the skill folder."""

    folder: str | None
    files: tuple[SkillFile, ...]


def _reject(name: str, rule: str, fix: str) -> BadInput:
    return BadInput(f"zip entry {name!r}: {rule}; {fix}")


def _is_litter(name: str) -> bool:
    return name.startswith("__MACOSX/") or name.rstrip("/").rsplit("/", 1)[-1] == ".DS_Store"


def _check_entry(info: zipfile.ZipInfo, limits: ZipLimits) -> None:
    raw = info.orig_filename
    name = raw
    if "\0" in raw:
        raise _reject(raw, "the name contains a NUL byte", "rename the file")
    is_dir = raw.endswith("/")
    problem = path_problem(raw[:-1] if is_dir else raw)
    if problem:
        raise _reject(name, f"the name {problem}", "zip the skill folder with relative paths only")
    if info.flag_bits & 0x1:
        raise _reject(name, "the entry is encrypted", "zip it without a password")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _reject(name, f"compression method {info.compress_type} is not allowed", "use plain deflate")
    mode = info.external_attr >> 16
    if info.create_system == 3 and mode:
        kind = stat.S_IFMT(mode)
        if kind == stat.S_IFLNK:
            raise _reject(name, "the entry is a symbolic link", "replace the link with the file it points to")
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise _reject(name, "the entry is not a regular file or folder", "remove it from the zip")
        if (kind == stat.S_IFDIR) != is_dir and kind != 0:
            raise _reject(name, "the entry's type does not match its name", "re-create the zip")
    if is_dir:
        if info.file_size:
            raise _reject(name, "a folder entry carries data", "re-create the zip")
        return
    if is_archive(raw):
        raise _reject(name, "nested archives are not allowed", "unpack it into the skill folder instead")
    if info.file_size >= limits.ratio_min_bytes and info.file_size > limits.max_ratio * max(
        info.compress_size, 1
    ):
        ratio = info.file_size // max(info.compress_size, 1)
        raise _reject(
            name,
            f"compression ratio {ratio}:1 is over the limit of {limits.max_ratio}:1 (zip bomb)",
            "remove the file or ship it in a less compressible form",
        )


def _check_layout(data: bytes, zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> None:
    """Each entry's data must sit between its local header and the next entry (or the central
    directory): no overlapping entries, no header that disagrees in a way we can't skip."""
    end_of_data = getattr(zf, "start_dir", len(data))
    spans: list[tuple[int, int, str]] = []
    for info in infos:
        offset = info.header_offset
        header = data[offset : offset + _LOCAL_HEADER.size]
        if len(header) < _LOCAL_HEADER.size or offset < 0:
            raise _reject(info.orig_filename, "its local header is missing", "re-create the zip")
        signature, name_len, extra_len = _LOCAL_HEADER.unpack(header)
        if signature != _LOCAL_SIGNATURE:
            raise _reject(info.orig_filename, "its local header is corrupt", "re-create the zip")
        start = offset + _LOCAL_HEADER.size + name_len + extra_len
        spans.append((offset, start + info.compress_size, info.orig_filename))
    if not spans:
        return  # an empty archive: the layout check reports the missing SKILL.md
    spans.sort()
    for (_, end, name), (next_offset, _, _) in zip(spans, [*spans[1:], (end_of_data, 0, "")], strict=True):
        if end > next_offset:
            raise _reject(name, "its data overlaps another entry (zip bomb trick)", "re-create the zip")


def _read(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
    """The entry's bytes, stopping as soon as they exceed what it declared or the size budget."""
    cap = min(info.file_size, budget)
    parts: list[bytes] = []
    got = 0
    try:
        with zf.open(info) as fh:
            while True:
                chunk = fh.read(_CHUNK)
                if not chunk:
                    break
                got += len(chunk)
                if got > cap:
                    rule = (
                        "inflates past its declared size"
                        if got > info.file_size
                        else "total size over the limit"
                    )
                    raise _reject(info.orig_filename, rule, "re-create the zip")
                parts.append(chunk)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError, zlib.error) as exc:
        raise _reject(info.orig_filename, f"its data is corrupt ({exc})", "re-create the zip") from exc
    if got != info.file_size:
        raise _reject(info.orig_filename, "its data is shorter than declared", "re-create the zip")
    return b"".join(parts)


def check_zip(data: bytes, limits: ZipLimits | None = None) -> CheckedZip:
    """Check ``data`` as an uploaded skill zip and return its files (see the module docstring)."""
    limits = limits or ZipLimits()
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        ValueError,
        OSError,
        EOFError,
        struct.error,
        NotImplementedError,
        UnicodeDecodeError,
    ) as exc:
        raise BadInput(
            f"upload: not a readable zip archive ({exc}); upload a .zip of the skill folder"
        ) from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_entries:
            raise BadInput(
                f"upload: the zip has {len(infos)} entries, over the limit of {limits.max_entries}; "
                "remove files"
            )
        for info in infos:
            _check_entry(info, limits)
        _check_layout(data, zf, infos)

        seen: dict[str, str] = {}
        folders: set[str] = set()
        kept: list[zipfile.ZipInfo] = []
        for info in infos:
            name = info.orig_filename
            bare = name.rstrip("/")
            key = bare.casefold()
            if key in seen:
                other = seen[key]
                rule = (
                    "the name appears twice" if other == name else f"the name clashes with {other!r} (case)"
                )
                raise _reject(name, rule, "keep one of them")
            seen[key] = name
            parts = key.split("/")
            folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
            if not _is_litter(name):
                kept.append(info)
        for key, name in seen.items():
            if not name.endswith("/") and key in folders:
                raise _reject(name, "the name is used as both a file and a folder", "rename one of them")

        files = [i for i in kept if not i.is_dir()]
        if len(files) > limits.max_files:
            raise BadInput(
                f"upload: the zip has {len(files)} files, over the limit of {limits.max_files}; remove files"
            )
        declared = sum(i.file_size for i in files)
        if declared > limits.max_total_bytes:
            raise BadInput(
                f"upload: the files add up to {declared} bytes uncompressed, over the limit of "
                f"{limits.max_total_bytes}; remove or shrink files"
            )

        folder, prefix = _root(kept, files)
        budget = limits.max_total_bytes
        out: list[SkillFile] = []
        for info in files:
            content = _read(zf, info, budget)
            budget -= len(content)
            out.append(SkillFile(info.orig_filename[len(prefix) :], content))

    extra = [
        f.path for f in out if f.path != "SKILL.md" and f.path.rsplit("/", 1)[-1].casefold() == "skill.md"
    ]
    if extra:
        raise _reject(
            prefix + extra[0], "a skill has exactly one SKILL.md", "remove or rename the second one"
        )
    return CheckedZip(folder=folder, files=tuple(sorted(out, key=lambda f: f.path.encode("utf-8"))))


def _root(kept: list[zipfile.ZipInfo], files: list[zipfile.ZipInfo]) -> tuple[str | None, str]:
    """``(folder, prefix)``: SKILL.md at the root, or exactly one root folder holding SKILL.md."""
    names = [i.orig_filename for i in files]
    if "SKILL.md" in names:
        return None, ""
    tops = {i.orig_filename.split("/", 1)[0] for i in kept}
    loose = [n for n in names if "/" not in n]
    if len(tops) == 1 and not loose:
        folder = tops.pop()
        if f"{folder}/SKILL.md" in names:
            return folder, folder + "/"
        raise BadInput(
            f"upload: the zip's folder {folder!r} has no SKILL.md at its top level; "
            "add SKILL.md (exact case) to the skill folder"
        )
    shown = ", ".join(sorted(tops)[:5]) or "nothing"
    raise BadInput(
        f"upload: the zip must hold exactly one skill folder with SKILL.md in it, or SKILL.md at its "
        f"root; its top level has: {shown}"
    )
