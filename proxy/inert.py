"""How a skill's own files are served: inert, never as active content in the proxy's origin (T49).

Skill files (``.well-known/agent-skills/<skill>/…``) are written by editors, not by the builder, and
are served from the members-only origin; served by extension, an ``.svg`` or ``.html`` with a script
would run as the colleague who opens it. So:

- raster images keep their image type (pages show them); SVG keeps ``image/svg+xml`` for ``<img>``
  but is a download when opened directly;
- text of any kind (HTML, XML, JavaScript, Markdown, code) is ``text/plain`` — shown, never run;
- anything else is ``application/octet-stream``, a download.

Every one of these responses also gets ``Content-Security-Policy: sandbox; default-src 'none'`` and
``X-Content-Type-Options: nosniff`` (``proxy.security``).
"""

from __future__ import annotations

from urllib.parse import quote

SKILL_FILES_PREFIX = ".well-known/agent-skills/"
WELL_KNOWN_INDEX = ".well-known/agent-skills/index.json"
IMAGE_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "avif": "image/avif",
}
SANDBOX_CSP = "sandbox; default-src 'none'"


def is_skill_file(path: str) -> bool:
    """A file a skill brought (not the well-known index the builder wrote)."""
    return path.startswith(SKILL_FILES_PREFIX) and path != WELL_KNOWN_INDEX


def _attachment(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    ascii_name = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def inert_file(path: str, data: bytes) -> tuple[str, dict[str, str]]:
    """``(media type, extra headers)`` under which a skill file can be served without running."""
    suffix = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    if suffix in IMAGE_TYPES:
        return IMAGE_TYPES[suffix], {}
    if suffix == "svg":
        return "image/svg+xml", {"Content-Disposition": _attachment(path)}
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream", {"Content-Disposition": _attachment(path)}
    return "text/plain; charset=utf-8", {}
