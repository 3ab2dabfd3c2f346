"""The one policy: what a name, a path and an archive are, and the upload limits (one definition each).

Everything that checks a skill or plugin name, a file path inside a skill or plugin, a nested archive
or Claude.ai's upload limits imports it from here: the rules (``builder.rules``), packaging
(``builder.package``), the zip check (``builder.zipcheck``), authoring, the well-known index, the
catalog and the proxy's tool arguments (``proxy.tool_spec``, ``proxy.connector``). Pure data and pure
functions; no I/O.
"""

from __future__ import annotations

import re

# ------------------------------------------------------------------------------------------- names

NAME_TEXT = r"[a-z0-9]+(?:-[a-z0-9]+)*"
"""A skill name (and a kebab-case plugin or marketplace name): lowercase letters, digits and single
hyphens, not starting or ending with one (Agent Skills spec)."""
NAME_PATTERN = rf"^{NAME_TEXT}$"
"""The same, anchored, for JSON schemas and pydantic ``pattern=`` (the length is ``MAX_NAME_CHARS``)."""
NAME_RE = re.compile(NAME_PATTERN)
MAX_NAME_CHARS = 64

PLUGIN_NAME_TEXT = r"[A-Za-z0-9][A-Za-z0-9._-]*"
"""A plugin name Claude Code installs (kebab-case is only recommended)."""
PLUGIN_NAME_RE = re.compile(rf"^{PLUGIN_NAME_TEXT}$")

SKILL_KEY_RE = re.compile(rf"^(?:[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_NAME_CHARS - 1}}}\.)?{NAME_TEXT}$")
"""A skill's index name: bare, or ``plugin.skill`` when several plugins have a skill of that name."""
MAX_SKILL_KEY_CHARS = 2 * MAX_NAME_CHARS + 1

SKILL_REF_PATTERN = rf"^(?:[A-Za-z0-9][A-Za-z0-9_-]{{0,{MAX_NAME_CHARS - 1}}}[:.])?{NAME_TEXT}$"
"""What a caller may name a skill by: ``skill``, ``plugin:skill`` or the index name ``plugin.skill``
(never a ``/`` or ``..``: T38)."""

RESERVED_WORDS = ("claude", "anthropic")
"""Words Claude.ai's upload refuses in a skill name."""


def is_name(value: object) -> bool:
    """Whether ``value`` is a valid skill name (kebab-case, 1-64 characters)."""
    return isinstance(value, str) and len(value) <= MAX_NAME_CHARS and NAME_RE.match(value) is not None


def has_reserved_word(name: str) -> bool:
    """Whether ``name`` contains a word Claude.ai's upload refuses ('claude', 'anthropic')."""
    lowered = name.lower()
    return any(word in lowered for word in RESERVED_WORDS)


def name_problem(name: object, what: str = "skill") -> str | None:
    """Why ``name`` is not a valid skill (or kebab-case plugin) name, or ``None``."""
    if not isinstance(name, str) or not name:
        return f"a {what} name is required"
    if len(name) > MAX_NAME_CHARS:
        return f"{what} name {name!r} is {len(name)} characters; use at most {MAX_NAME_CHARS}"
    if not NAME_RE.match(name):
        return (
            f"{what} name {name!r} must use only lowercase letters a-z, digits and single hyphens, "
            "not starting or ending with a hyphen"
        )
    return None


# ------------------------------------------------------------------------------------------- paths

MAX_PATH_CHARS = 1024
MAX_PATH_PART_CHARS = 255
_DRIVE = re.compile(r"[A-Za-z]:")
_RFC_FILE_PATH = re.compile(r"[\x20-\x7e]+")
RFC_FORBIDDEN = frozenset("\\?#[]")


def path_problem(path: str) -> str | None:
    """Why ``path`` is not a safe relative POSIX member name (archive entry, skill file), else ``None``."""
    if not path:
        return "is empty"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
        return "contains a NUL or control character"
    if "\\" in path:
        return "contains a backslash (use '/' between folders)"
    if path.startswith("/"):
        return "is an absolute path (must be relative to the folder)"
    if _DRIVE.match(path):
        return "starts with a drive letter (must be relative to the folder)"
    if any(part in ("", ".", "..") for part in path.split("/")):
        return "contains a '..', '.' or empty path part"
    return None


def long_path_problem(path: str) -> str | None:
    """``path_problem`` plus the length caps (a path, and each of its parts)."""
    if len(path) > MAX_PATH_CHARS:
        return f"is longer than {MAX_PATH_CHARS} characters"
    if any(len(part) > MAX_PATH_PART_CHARS for part in path.split("/")):
        return f"has a part longer than {MAX_PATH_PART_CHARS} characters"
    return path_problem(path)


def rfc_path_problem(path: str) -> str | None:
    """Why ``path`` cannot be served as an Agent Skills Discovery file (or packaged), else ``None``."""
    problem = path_problem(path)
    if problem:
        return problem
    if not _RFC_FILE_PATH.fullmatch(path):
        return "has a character outside printable ASCII, which the Agent Skills Discovery RFC forbids"
    bad = sorted(RFC_FORBIDDEN & set(path))
    if bad:
        return f"contains {' '.join(bad)}, which the Agent Skills Discovery RFC forbids in file paths"
    return None


# ---------------------------------------------------------------------------------------- archives

ARCHIVE_SUFFIXES = (
    *(".zip", ".jar", ".war", ".ear", ".apk", ".aar", ".whl", ".egg", ".nupkg", ".crx", ".xpi"),
    *(".tar", ".tgz", ".gz", ".tbz", ".tbz2", ".bz2", ".txz", ".xz", ".tzst", ".zst"),
    *(".lz", ".lzma", ".lz4", ".z", ".7z", ".rar", ".cab", ".cpio", ".rpm", ".deb", ".dmg", ".iso"),
    ".skill",
)
"""Files that are archives by their name (Claude.ai's upload refuses archives inside a skill). Office
files (``.docx``, ``.xlsx`` …) are zips too but are not listed: skills ship them as templates."""


def is_archive(path: str) -> bool:
    """Whether ``path`` names an archive (by its suffix, case-insensitively)."""
    return path.lower().endswith(ARCHIVE_SUFFIXES)


# ------------------------------------------------------------------------------------------ limits

UPLOAD_MAX_FILES = 200
"""Claude.ai / Desktop / API upload: at most this many files in a skill."""
UPLOAD_MAX_BYTES = 30 * 1024 * 1024
"""Claude.ai / Desktop / API upload: at most this many bytes (uncompressed) in a skill."""
UPLOAD_LIMITS_TEXT = f"{UPLOAD_MAX_FILES} files, {UPLOAD_MAX_BYTES // (1024 * 1024)} MB"
MAX_DESCRIPTION_CHARS = 1024
MAX_COMPATIBILITY_CHARS = 500
