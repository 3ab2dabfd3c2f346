"""Agent Skills Discovery v0.2 content digests (cloudflare/agent-skills-discovery-rfc, section
"Integrity and Verification").

- File digest: ``sha256:<hex>`` of the file's raw bytes.
- Skill digest: SHA-256 over the manifest lines ``{path}\\0{hex}\\n`` of every file, sorted by path in
  byte order (UTF-8), formatted ``sha256:<hex>``.

Skill files are ``builder.model.SkillFile`` records (their ``sha256`` is computed once, on
construction), the one file shape used by ``package``, ``wellknown`` and ``zipcheck`` too.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from builder.model import SkillFile

PREFIX = "sha256:"
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def file_digest(data: bytes) -> str:
    """``sha256:<hex>`` of raw bytes."""
    return PREFIX + hashlib.sha256(data).hexdigest()


def skill_digest(files: Iterable[SkillFile]) -> str:
    """The RFC's skill-level digest over ``files`` (their order does not matter).

    A path listed twice is a caller bug (a skill folder cannot hold two files with one name), so it
    raises ``ValueError`` rather than hashing an ambiguous manifest."""
    entries = sorted(((f.path.encode("utf-8"), f.sha256) for f in files), key=lambda e: e[0])
    manifest = hashlib.sha256()
    previous: bytes | None = None
    for path, hexdigest in entries:
        if path == previous:
            raise ValueError(f"file {path.decode()!r} is listed twice in one skill")
        previous = path
        manifest.update(path + b"\0" + hexdigest.encode("ascii") + b"\n")
    return PREFIX + manifest.hexdigest()


def is_digest(text: object) -> bool:
    """Whether ``text`` is a well-formed ``sha256:<64 lowercase hex>`` digest."""
    return isinstance(text, str) and _DIGEST.fullmatch(text) is not None
