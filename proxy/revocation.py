"""Revoking one person's sign-ins without rotating every key (T52).

The proxy keeps no sessions or grants, so revocation is a *not-before* list the administrator
keeps in a file (``SKILLPORT_REVOCATION_FILE``), one person per line::

    # who (sub or email)       not before (UTC)
    alice@corp.example         2026-12-02T10:00:00Z
    1049238412341234           2026-12-02T10:00:00Z

Every session cookie, OAuth grant (refresh token) and access token of that person that started
before the time is refused at once, on every replica that reads the file; signing in again after
the time works (unless the identity provider or the organization rules refuse it). A time in the
future blocks the person until then. The file is re-read when it changes (checked at most once a
second); a broken edit is logged and the previous list stays in force.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from builder.errors import BadInput

logger = logging.getLogger("skillport.revocation")


def parse_revocations(text: str, source: str = "revocation file") -> dict[str, float]:
    """``who -> not-before`` (seconds since the epoch); ``BadInput`` naming the line otherwise."""
    out: dict[str, float] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            raise BadInput(f"{source}:{number}: write `<sub or email> <UTC time like 2026-12-02T10:00:00Z>`")
        who, when = parts
        try:
            moment = datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError as exc:
            raise BadInput(f"{source}:{number}: {when!r} is not a time like 2026-12-02T10:00:00Z") from exc
        if moment.tzinfo is None:
            raise BadInput(f"{source}:{number}: {when!r} needs a time zone: end it with Z (UTC)")
        key = who.lower() if "@" in who else who
        out[key] = max(out.get(key, 0.0), moment.timestamp())
    return out


def load_revocations(path: str | Path) -> dict[str, float]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"{path}: cannot read the revocation file ({exc.strerror})") from exc
    return parse_revocations(text, str(path))


class RevocationList:
    """The not-before list of one file, re-read when the file changes."""

    def __init__(self, path: str | Path | None, *, check_every: float = 1.0) -> None:
        self._path = Path(path) if path else None
        self._check_every = check_every
        self._lock = threading.Lock()
        self._entries: Mapping[str, float] = {}
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        if self._path is not None:
            self._entries = load_revocations(self._path)
            self._stamp = self._file_stamp()
            self._checked = time.monotonic()

    def _file_stamp(self) -> tuple[int, int] | None:
        assert self._path is not None
        try:
            st = os.stat(self._path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _current(self) -> Mapping[str, float]:
        if self._path is None:
            return self._entries
        with self._lock:
            tick = time.monotonic()
            if tick - self._checked >= self._check_every:
                self._checked = tick
                stamp = self._file_stamp()
                if stamp != self._stamp:
                    try:
                        self._entries = load_revocations(self._path)
                        self._stamp = stamp
                    except BadInput as exc:
                        logger.error("revocation file not reloaded, the previous list stays: %s", exc)
            return self._entries

    def revoked(self, sub: str, email: str, started: float) -> bool:
        """True when this person's sign-in/grant that started at ``started`` is revoked."""
        entries = self._current()
        if not entries:
            return False
        for who in (sub, email.lower()):
            not_before = entries.get(who)
            if who and not_before is not None and started < not_before:
                return True
        return False


def revocations_for(path: str) -> RevocationList | None:
    """The ``RevocationList`` of ``path`` (None when unset). ``Services`` makes one and gives it to
    the OAuth server and the sessions alike."""
    return RevocationList(path) if path else None
