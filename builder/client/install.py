"""Installed skills: read the version stamped in each SKILL.md, and install a skill's zip — fetched
through a signed link, checked against the signed index's sha256 and ``builder.zipcheck`` — into a
skills folder in one rename."""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from builder import frontmatter
from builder.client.api import Api
from builder.errors import BadInput, SkillportError, UpstreamError
from builder.model import bare_skill_name
from builder.zipcheck import check_zip

MAX_ZIP_BYTES = 64 * 1024 * 1024


class IntegrityError(SkillportError):
    """A downloaded zip does not match the signed index (or is unsafe); nothing was installed."""


def skills_dir(target: str | None) -> Path:
    if not target or target == "claude-code":
        return Path(os.environ.get("HOME") or Path.home()) / ".claude" / "skills"
    return Path(target).expanduser()


def installed_skills(folder: Path) -> list[dict[str, str]]:
    """``{name, version, plugin, marketplace}`` of each skill folder whose SKILL.md carries a Skillport
    version stamp (``metadata.version``); other folders are skipped."""
    out: list[dict[str, str]] = []
    if not folder.is_dir():
        return out
    for child in sorted(folder.iterdir()):
        md = child / "SKILL.md"
        if child.is_symlink() or not md.is_file() or md.is_symlink():
            continue
        try:
            fm = frontmatter.parse(md.read_text(encoding="utf-8"))
        except (BadInput, UnicodeDecodeError, OSError):
            continue
        meta = fm.data.get("metadata")
        if not isinstance(meta, Mapping) or not meta.get("version"):
            continue
        out.append(
            {
                "name": str(fm.data.get("name") or child.name),
                "version": str(meta["version"]),
                "plugin": str(meta.get("plugin") or ""),
                "marketplace": str(meta.get("marketplace") or ""),
            }
        )
    return out


def _download(api: Api, url: str) -> bytes:
    server = urlsplit(api.creds.server)
    if urlsplit(url).netloc != server.netloc:
        raise IntegrityError(f"the download link points at {urlsplit(url).netloc}, not {server.netloc}")
    chunks: list[bytes] = []
    size = 0
    with api.http.stream("GET", url) as r:
        if r.status_code != 200:
            raise UpstreamError(f"the download failed ({r.status_code}); try again")
        for chunk in r.iter_bytes():
            size += len(chunk)
            if size > MAX_ZIP_BYTES:
                raise IntegrityError(f"the download is larger than {MAX_ZIP_BYTES} bytes; refused")
            chunks.append(chunk)
    return b"".join(chunks)


def _executable_paths(data: bytes, folder: str | None) -> frozenset[str]:
    """Paths (relative to the skill folder) stored with an execute bit in an already checked zip."""
    prefix = f"{folder}/" if folder else ""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return frozenset(
            info.filename.removeprefix(prefix)
            for info in archive.infolist()
            if not info.is_dir() and (info.external_attr >> 16) & 0o111
        )


def install_skill(api: Api, name: str, folder: Path) -> dict[str, Any]:
    """Download, verify and unpack ``name`` (a skill or ``plugin:skill``) into ``folder/<skill>``
    (replacing it). Nothing is written unless the zip's sha256 matches the signed index and every
    entry is safe."""
    answer = api.call("GET", f"/skills/{name}/install", params={"surface": "claude-code"})
    expected = str(answer.get("sha256") or "").lower()
    if len(expected) != 64:
        raise IntegrityError(
            "the server did not give the zip's sha256 from the signed index; refusing to install "
            "(upgrade the Skillport server)"
        )
    data = _download(api, str(answer.get("download") or ""))
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise IntegrityError(f"{name}: the zip's sha256 {actual} is not the signed index's {expected}")
    try:
        checked = check_zip(data)
    except BadInput as exc:
        raise IntegrityError(f"{name}: unsafe zip: {exc}") from exc
    ref, name = name, bare_skill_name(name)  # plugin:skill installs into the skill's own folder
    if checked.folder not in (None, name):
        raise IntegrityError(f"{ref}: the zip holds folder {checked.folder!r}, not {name!r}")
    executable = _executable_paths(data, checked.folder)
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=folder))
    try:
        for f in checked.files:
            target = staging / f.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(f.data)
            if f.executable or f.path in executable:
                target.chmod(0o755)
        final = folder / name
        old = folder / f".{name}.old-{secrets.token_hex(4)}"
        if final.is_symlink() or final.is_file():
            final.unlink()
        elif final.exists():
            final.rename(old)
        staging.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {
        "name": name,
        "version": answer.get("version"),
        "path": str(folder / name),
        "sha256": actual,
        "scan": answer.get("scan") or {"status": "not-scanned", "reason": "the server sent no scan record"},
    }


def scan_line(record: Mapping[str, Any]) -> str:
    """The security scan of an installed skill in one line (never "safe" when it was not scanned)."""
    if record.get("status") != "scanned":
        why = record.get("reason") or "no scan record"
        return f"Security scan: NOT SCANNED ({why}); read its SKILL.md and scripts before using it."
    findings = [f for f in record.get("findings") or [] if isinstance(f, Mapping)]
    if not findings:
        return f"Security scan: no findings ({record.get('scanner')})."
    worst, scanner = record.get("max_severity"), record.get("scanner")
    lines = [f"Security scan: {len(findings)} finding(s), highest {worst} ({scanner}):"]
    for f in findings:
        where = f"{f.get('file')}:{f.get('line')}" if f.get("line") else str(f.get("file") or "")
        lines.append(f"    {f.get('severity')} {f.get('rule')} {where} {f.get('title')}")
    return "\n".join(lines)
