"""JSON-lines audit log (sign-ins, links minted, downloads, refusals) and log redaction (T21).

Never records secrets: values of fields whose names look secret are replaced, and ``redact``
scrubs codes, tokens, signed links and cookies out of free text such as access-log lines.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

SECRET_FIELD = re.compile(
    r"(token|secret|code|cookie|password|state|nonce|verifier|key|link|authorization)", re.IGNORECASE
)
_SECRET_QUERY = re.compile(
    r"(?i)\b(code|state|token|access_token|refresh_token|id_token|client_secret|code_verifier|nonce)=[^&\s\"']+"
)
_SIGNED_PATH = re.compile(r"/d/[A-Za-z0-9_\-.]+")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9_\-.~+/=]+")
REDACTED = "[redacted]"


class MemberLike(Protocol):
    @property
    def sub(self) -> str: ...
    @property
    def email(self) -> str: ...


def redact(text: str) -> str:
    """Scrub secrets (query codes/states/tokens, ``/d/<token>`` links, bearer tokens) from text."""
    text = _SECRET_QUERY.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    text = _SIGNED_PATH.sub("/d/" + REDACTED, text)
    return _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts every record's rendered message (install on uvicorn loggers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the format string and each argument in place, keeping the arguments' shape:
        formatters such as uvicorn's access formatter unpack ``record.args`` (T54)."""
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_value(a) for a in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {k: _redact_value(v) for k, v in record.args.items()}
        try:
            message = record.getMessage()
        except Exception:  # pragma: no cover - a broken record is still logged, as-is
            return True
        if redact(message) != message:  # a secret split between the format and an argument
            record.msg, record.args = redact(message), ()
        return True


def _redact_value(value: object) -> object:
    return redact(value) if isinstance(value, str) else value


def install_log_redaction(names: tuple[str, ...] = ("uvicorn", "uvicorn.access", "uvicorn.error")) -> None:
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())


def _plain(value: Any) -> Any:
    """A JSON-safe copy of a field value: scalars as they are, text redacted, containers walked,
    anything else as its (redacted) text."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): REDACTED if SECRET_FIELD.search(str(k)) else _plain(v) for k, v in value.items()}
    return redact(str(value))


class AuditLog:
    """Appends one JSON object per line: ``time``, ``action``, ``user``, ``email``, ``ip`` + fields."""

    def __init__(self, path: str | Path = "-", *, stream: IO[str] | None = None) -> None:
        self._lock = threading.Lock()
        self._path = None if str(path) == "-" else Path(path)
        self._stream = stream

    def record(
        self,
        action: str,
        *,
        member: MemberLike | None = None,
        ip: str | None = None,
        now: datetime | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        moment = now or datetime.now(UTC)
        entry: dict[str, Any] = {
            "time": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "action": action,
            "user": member.sub if member else None,
            "email": member.email if member else None,
            "ip": ip,
        }
        for key, value in fields.items():
            entry[str(key)] = REDACTED if SECRET_FIELD.search(str(key)) else _plain(value)
        # ASCII-only: U+2028/U+2029/U+0085 and control characters are escaped, so no reader using
        # splitlines() (or a terminal) sees one record as two (T57)
        line = json.dumps(entry, sort_keys=False, ensure_ascii=True, default=str) + "\n"
        with self._lock:
            if self._stream is not None:
                self._stream.write(line)
                self._stream.flush()
            elif self._path is not None:
                with self._path.open("a", encoding="utf-8") as handle:
                    handle.write(line)
            else:
                sys.stderr.write(line)
                sys.stderr.flush()
        return entry
