"""The signed catalog index: encode, sign, verify (with typed errors), and pick the next serial.

``index.json`` is the catalog's source of truth for the proxy and the CLI; ``index.json.sig`` is an
itsdangerous signature (purpose ``Purpose.INDEX``) over its exact bytes. Everything here is pure:
the caller passes ``now`` and the serial it already trusts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from itsdangerous import BadSignature

from builder.errors import (
    IndexBadSignature,
    IndexExpired,
    IndexMalformed,
    IndexRollback,
    IndexWrongPurpose,
)
from builder.signing import Purpose, signer

INDEX_TYPE = "skillport/index"
INDEX_FORMAT = 1
REQUIRED_FIELDS = (
    "_type",
    "format",
    "serial",
    "generated_at",
    "expires_at",
    "marketplace",
    "plugins",
    "skills",
)
MAX_INDEX_BYTES = 256 * 1024 * 1024


def encode(document: Mapping[str, Any]) -> bytes:
    """Canonical bytes of an index document: sorted keys, UTF-8, newline-terminated."""
    return (json.dumps(document, sort_keys=True, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def sign(data: bytes, keys: Sequence[str]) -> bytes:
    """Detached signature over ``data`` with the newest key."""
    return signer(keys, Purpose.INDEX).get_signature(data) + b"\n"


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def next_serial(previous_serial: int | None, now: datetime) -> int:
    """Serials only grow: at least the previous one + 1, and at least the build's Unix time, so a
    build without the previous index at hand still outranks every earlier one."""
    floor = int(now.timestamp())
    return max(floor, (previous_serial or 0) + 1)


def _signature_matches(data: bytes, signature: bytes, keys: Sequence[str], purpose: Purpose) -> bool:
    try:
        return signer(keys, purpose).verify_signature(data, signature)
    except (BadSignature, ValueError):
        return False


def verify(
    data: bytes,
    signature: bytes | str | None,
    keys: Sequence[str],
    *,
    now: datetime,
    trusted_serial: int | None = None,
    allow_expired: bool = False,
) -> dict[str, Any]:
    """Check an index's signature, type, serial and expiry; return the parsed document.

    Raises ``IndexBadSignature`` (tampered, swapped or missing signature), ``IndexWrongPurpose``
    (a valid signature made for something else), ``IndexMalformed``, ``IndexRollback`` (serial
    lower than ``trusted_serial``) or ``IndexExpired`` (unless ``allow_expired``)."""
    if isinstance(signature, str):
        signature = signature.encode("ascii", "replace")
    signature = (signature or b"").strip()
    if not signature:
        raise IndexBadSignature("the index has no signature (index.json.sig missing or empty)")
    if len(data) > MAX_INDEX_BYTES:
        raise IndexMalformed(f"the index is larger than {MAX_INDEX_BYTES} bytes")
    if not _signature_matches(data, signature, keys, Purpose.INDEX):
        for other in Purpose:
            if other is not Purpose.INDEX and _signature_matches(data, signature, keys, other):
                raise IndexWrongPurpose(f"the signature was made for {other.value!r}, not for an index")
        raise IndexBadSignature(
            "the index signature does not match its bytes under any configured key "
            "(tampered, swapped, or signed with a key not in SKILLPORT_SIGNING_KEYS)"
        )
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexMalformed(f"the index is not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("_type") != INDEX_TYPE:
        raise IndexMalformed(f"the signed document is not a Skillport index (_type must be {INDEX_TYPE!r})")
    missing = [f for f in REQUIRED_FIELDS if f not in document]
    if missing:
        raise IndexMalformed(f"the index lacks {', '.join(missing)}")
    serial = document["serial"]
    if not isinstance(serial, int) or isinstance(serial, bool) or serial < 1:
        raise IndexMalformed("the index serial must be a positive integer")
    if trusted_serial is not None and serial < trusted_serial:
        raise IndexRollback(f"index serial {serial} is older than the trusted serial {trusted_serial}")
    try:
        expires_at = parse_time(str(document["expires_at"]))
    except ValueError as exc:
        raise IndexMalformed("the index expires_at is not a UTC time like 2026-01-31T00:00:00Z") from exc
    if now >= expires_at and not allow_expired:
        raise IndexExpired(f"the index expired at {document['expires_at']}; rebuild and republish the site")
    return document
