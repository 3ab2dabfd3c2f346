"""Deterministic zips (T45) and the SKILL.md origin stamp.

Same input bytes → byte-identical archive, whatever the order the files are given in:

- entries sorted by name (byte order of the UTF-8 name); explicit directory entries for every parent
  folder (``dir/``), each listed just before its contents — the shape ``zip -r`` and Finder make,
  which every unzip tool recreates with the right modes;
- every timestamp 1980-01-01 00:00:00 (the ZIP epoch); ``create_system`` 3 (Unix);
- modes: folders ``0755``, files ``0644``, or ``0755`` for the paths passed in ``executable``;
- ZIP_DEFLATED level 6 for every file (folders are stored), no extra fields, no comment;
- names are relative POSIX paths: no absolute path, drive letter, backslash, ``.``/``..``/empty
  part, control character, or two names that differ only by case (``BadInput`` otherwise).

Shapes: ``upload_zip`` (Claude.ai / Desktop / API: one root folder ``<skill>/`` holding SKILL.md),
``plugin_zip`` (Claude Code plugin archive: the plugin folder's contents at the root) and
``archive`` (any folder's contents at the root, e.g. an Agent Skills Discovery package).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from builder import frontmatter, origin, policy, publish
from builder.errors import BadInput
from builder.model import SPEC_FRONTMATTER_KEYS, SkillFile
from builder.origin import origin_or_none, with_origin

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
COMPRESS_LEVEL = 6
FILE_MODE = 0o644
EXEC_MODE = 0o755
DIR_MODE = 0o755
_UNIX = 3
_S_IFREG = 0o100000
_S_IFDIR = 0o040000
_MSDOS_DIR = 0x10

ORIGIN_KEYS = ("version", "marketplace", "plugin")


def check_member_path(path: str, *, where: str = "archive") -> str:
    """``path`` if it is a safe relative POSIX name for an archive member, else ``BadInput``."""
    problem = policy.path_problem(path)
    if problem:
        raise BadInput(f"{where}: file name {path!r} {problem}; rename the file")
    return path


def archive(files: Sequence[SkillFile], *, root: str = "", executable: Collection[str] = ()) -> bytes:
    """A deterministic zip of ``files`` under ``root`` (``""`` = at the archive root, else a folder
    name). ``executable`` lists file paths (relative to the files' folder) stored with mode 0755."""
    if root:
        check_member_path(root, where="archive root")
    prefix = f"{root}/" if root else ""
    by_name: dict[str, SkillFile] = {}
    folded: dict[str, str] = {}
    for f in files:
        check_member_path(f.path)
        name = prefix + f.path
        key = name.casefold()
        if key in folded:
            other = folded[key]
            raise BadInput(
                f"archive: {name!r} and {other!r} name the same file on case-insensitive systems; "
                "rename one of them"
            )
        folded[key] = name
        by_name[name] = f
    unknown = set(executable) - {f.path for f in files}
    if unknown:
        raise BadInput(f"archive: executable paths {sorted(unknown)} are not among the files")
    folders = {name[: i + 1] for name in by_name for i, c in enumerate(name) if c == "/"}
    clash = sorted(n for n in by_name if (n + "/") in folders)
    if clash:
        raise BadInput(f"archive: {clash[0]!r} is both a file and a folder; rename one of them")
    exec_set = frozenset(prefix + p for p in executable)
    names = sorted([*by_name, *folders], key=lambda n: n.encode("utf-8"))

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name in names:
            info = zipfile.ZipInfo(name, ZIP_EPOCH)
            info.create_system = _UNIX
            if name.endswith("/"):
                info.external_attr = ((_S_IFDIR | DIR_MODE) << 16) | _MSDOS_DIR
                info.compress_type = zipfile.ZIP_STORED
                zf.writestr(info, b"")
            else:
                mode = EXEC_MODE if name in exec_set else FILE_MODE
                info.external_attr = (_S_IFREG | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, by_name[name].data, compresslevel=COMPRESS_LEVEL)
    return buffer.getvalue()


def upload_zip(skill_name: str, files: Sequence[SkillFile], *, executable: Collection[str] = ()) -> bytes:
    """Claude.ai / Desktop / API upload shape: one root folder ``<skill_name>/`` with SKILL.md in it.
    ``files`` are relative to the skill folder (SKILL.md already stamped by the caller)."""
    if not policy.is_name(skill_name):
        raise BadInput(
            f"upload zip: skill name {skill_name!r} must be 1-{policy.MAX_NAME_CHARS} lowercase letters, "
            "digits and single hyphens (like 'pdf-tools')"
        )
    if not any(f.path == "SKILL.md" for f in files):
        raise BadInput(f"upload zip for {skill_name!r}: the skill folder has no SKILL.md at its top level")
    return archive(files, root=skill_name, executable=executable)


def plugin_zip(files: Sequence[SkillFile], *, executable: Collection[str] = ()) -> bytes:
    """Claude Code plugin archive: the plugin folder's contents at the archive root
    (``.claude-plugin/plugin.json``, ``skills/<skill>/SKILL.md`` …); paths relative to that folder."""
    return archive(files, executable=executable)


# --- SKILL.md origin stamp ---------------------------------------------------------------------


def stamp_skill_md(text: str, *, version: str, marketplace: str, plugin: str, name: str | None = None) -> str:
    """SKILL.md with a frontmatter keeping only the six spec keys (in their order) and a ``metadata``
    that also carries ``version``, ``marketplace`` and ``plugin`` (other entries kept), and a description
    ending with the origin marker (``builder.origin``: what Claude.ai and the API show). The body from
    the closing ``---`` line on is kept byte for byte; the frontmatter keeps the file's line ending.

    Read with the build's strict parser (``builder.frontmatter``), scalars as written; the output
    parses under strictyaml, YAML 1.1 and 1.2 alike: block style, values another reader could take
    for a non-string quoted (``on``, ``1.10``), strings as written (an ``allowed-tools`` list
    becomes the spec's space-separated string). ``name`` (the folder's
    name, which Claude Code uses) replaces a frontmatter name that differs."""
    for key, value in (("version", version), ("marketplace", marketplace), ("plugin", plugin)):
        if not isinstance(value, str) or not value.strip():
            raise BadInput(f"SKILL.md stamp: {key} must be a non-empty string, not {value!r}")
    try:
        loaded = frontmatter.parse(text, as_written=True)
    except frontmatter.FrontmatterError as exc:
        at = f" line {exc.line}" if exc.line else ""
        raise BadInput(f"SKILL.md{at}: {exc}; {exc.fix}") from exc

    front: dict[str, Any] = {}
    for key, value in loaded.data.items():
        if key not in SPEC_FRONTMATTER_KEYS:
            continue
        if key == "allowed-tools" and isinstance(value, list):
            value = " ".join(str(v) for v in value)
        front[key] = value
    if name is not None:
        front["name"] = name
    existing = front.get("metadata")
    metadata: dict[str, Any] = dict(existing) if isinstance(existing, Mapping) else {}
    metadata.update({"version": version, "marketplace": marketplace, "plugin": plugin})
    front["metadata"] = metadata
    origin = origin_or_none(marketplace, plugin, version)
    if origin is not None and isinstance(front.get("description"), str):
        front["description"] = with_origin(front["description"], origin)

    return frontmatter.replace(text, front)


class StampCache:
    """Stamped SKILL.md files kept between builds in the work folder (``.SITE.cache/stamps``), keyed by
    the file's bytes and everything the stamp writes, so a rebuild of 10,000 skills parses only the
    SKILL.md files that changed. Entries a build did not use are removed after it (``prune``)."""

    def __init__(self, folder: Path) -> None:
        self._dir = folder
        self._dir.mkdir(parents=True, exist_ok=True)
        self._used: set[str] = set()
        code = hashlib.sha256()  # the stamp's code: a new Skillport version stamps afresh
        for module in (__file__, frontmatter.__file__, origin.__file__):
            code.update(Path(module).read_bytes())
        self._salt = code.hexdigest()

    def stamp(self, data: bytes, **fields: str) -> bytes:
        material = json.dumps([self._salt, sorted(fields.items()), hashlib.sha256(data).hexdigest()])
        key = hashlib.sha256(material.encode()).hexdigest()
        self._used.add(key)
        path = self._dir / key
        try:
            return path.read_bytes()
        except FileNotFoundError:
            pass
        stamped = _stamp_bytes(data, **fields)
        publish.write_atomic(path, stamped)
        return stamped

    def prune(self) -> None:
        for path in self._dir.iterdir():
            if path.name not in self._used:
                path.unlink()


def _stamp_bytes(data: bytes, **fields: str) -> bytes:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput("SKILL.md: is not UTF-8 text; save it as UTF-8") from exc
    return stamp_skill_md(text, **fields).encode("utf-8")


def stamp_files(
    files: Iterable[SkillFile],
    *,
    version: str,
    marketplace: str,
    plugin: str,
    name: str | None = None,
    cache: StampCache | None = None,
) -> tuple[SkillFile, ...]:
    """``files`` with the top-level SKILL.md stamped (``stamp_skill_md``); the others unchanged."""
    fields = {"version": version, "marketplace": marketplace, "plugin": plugin}
    fields |= {"name": name} if name is not None else {}
    out = []
    for f in files:
        if f.path == "SKILL.md":
            stamped = cache.stamp(f.data, **fields) if cache else _stamp_bytes(f.data, **fields)
            f = SkillFile(f.path, stamped)
        out.append(f)
    return tuple(out)
