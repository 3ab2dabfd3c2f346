"""Read the skills a sync uploads from a built site: the upload zips the index lists, checked against it.

A skill without an upload zip (Claude Code only: what Claude.ai's upload refuses) is not uploadable; the
sync reports it and moves on. Each zip's sha256 must match the index, and its SKILL.md must carry the origin
marker the packager writes (``builder.origin``), or the sync could not recognise the skill next time.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

from builder import frontmatter
from builder.apisync.plan import CatalogSkill
from builder.contract.index import IndexDocument, SkillEntry, ZipRecord
from builder.errors import BadInput, IndexMalformed
from builder.origin import parse_origin

Reader = Callable[[str], bytes]  # site-relative path -> bytes


@dataclass(frozen=True)
class Catalog:
    marketplace: str
    skills: tuple[CatalogSkill, ...]
    not_uploadable: tuple[tuple[str, str], ...]  # (plugin:skill, why)


def upload_files(data: bytes, name: str) -> tuple[tuple[str, bytes], ...]:
    """The files of an upload zip as ``(name/path, bytes)``: one top-level folder named after the skill,
    ``SKILL.md`` at its root. Refuses anything else (the API would)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [(i.filename, archive.read(i)) for i in archive.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise BadInput(f"{name}: the upload zip cannot be read ({exc}); rebuild the site") from exc
    prefix = f"{name}/"
    stray = [path for path, _ in members if not path.startswith(prefix)]
    if stray:
        raise BadInput(
            f"{name}: the upload zip has {stray[0]!r} outside the folder {prefix!r}; rebuild the site"
        )
    if not any(path == f"{prefix}SKILL.md" for path, _ in members):
        raise BadInput(f"{name}: the upload zip has no {prefix}SKILL.md; rebuild the site")
    return tuple(sorted(members))


def _skill(entry: SkillEntry, record: ZipRecord, marketplace: str, read: Reader) -> CatalogSkill:
    name, plugin, version, folder = entry.name, entry.plugin, entry.version, entry.skill
    data = read(record.path)
    if hashlib.sha256(data).hexdigest() != record.sha256:
        raise BadInput(f"{plugin}:{name}: {record.path} does not match the index's sha256; rebuild the site")
    files = upload_files(data, folder)
    skill_md = dict(files)[f"{folder}/SKILL.md"].decode("utf-8", errors="replace")
    description = frontmatter.parse(skill_md).data.get("description")
    origin = parse_origin(description) if isinstance(description, str) else None
    if origin is None or (origin.marketplace, origin.plugin, origin.version) != (
        marketplace,
        plugin,
        version,
    ):
        raise BadInput(
            f"{plugin}:{name}: its upload zip does not carry this catalog's origin marker "
            "(built by an older skillport, or a plugin name with spaces); rebuild the site with this version"
        )
    return CatalogSkill(plugin, name, version, files)


def catalog_from_index(index: IndexDocument, read: Reader) -> tuple[Catalog, tuple[tuple[str, str], ...]]:
    """The uploadable skills of ``index`` and, apart, those that failed to load ``(plugin:skill, why)``."""
    marketplace = index.marketplace.name
    skills: list[CatalogSkill] = []
    skipped: list[tuple[str, str]] = []
    failed: list[tuple[str, str]] = []
    for entry in index.skills:
        key = f"{entry.plugin}:{entry.name}"
        if entry.zip is None:
            skipped.append((key, "Claude Code only: Claude.ai's upload (and the API) would refuse it"))
            continue
        try:
            skills.append(_skill(entry, entry.zip, marketplace, read))
        except (BadInput, KeyError, ValueError) as exc:
            failed.append((key, str(exc)))
    return Catalog(marketplace, tuple(skills), tuple(skipped)), tuple(failed)


def parse_index(data: bytes, where: str) -> IndexDocument:
    """An index read without its signature (no signing keys at hand), checked against the contract."""
    try:
        return IndexDocument.from_json(data)
    except IndexMalformed as exc:
        raise BadInput(
            f"{where}: not a Skillport index.json ({exc}); point at a site built by `skillport build`"
        ) from exc
