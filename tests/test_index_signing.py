"""The signed index of a real build: ``index.verify`` refuses tampering, missing or swapped signatures,
signatures for other purposes, rollback and expiry (T27-T30), with typed errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from builder import index
from builder.build import build
from builder.errors import (
    IndexBadSignature,
    IndexExpired,
    IndexMalformed,
    IndexRejected,
    IndexRollback,
    IndexWrongPurpose,
    UpstreamError,
)
from builder.signing import Purpose, signer
from tests.support.marketplaces import make_marketplace

OLD_KEY, KEY = "o" * 40, "n" * 40
NOW = datetime(2026, 11, 29, 14, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes, bytes, bytes]:
    """(index, signature) of two successive builds of the same marketplace."""
    root = tmp_path_factory.mktemp("signing")
    mp = make_marketplace(root / "mp", {"tools": ["alpha"]})
    out = root / "site"
    build(mp, out, keys=[OLD_KEY, KEY], now=NOW)
    first = ((out / "index.json").read_bytes(), (out / "index.json.sig").read_bytes())
    build(mp, out, keys=[OLD_KEY, KEY], now=NOW)
    second = ((out / "index.json").read_bytes(), (out / "index.json.sig").read_bytes())
    return first[0], first[1], second[0], second[1]


def test_a_built_index_verifies(signed: tuple[bytes, bytes, bytes, bytes]) -> None:
    data, sig, _, _ = signed
    doc = index.verify(data, sig, [KEY], now=NOW)
    assert doc.serial == int(NOW.timestamp())
    assert [s.name for s in doc.skills] == ["alpha"]


@pytest.mark.threat("T27")
@pytest.mark.parametrize("position", [0, 10, -2, "serial"])
def test_t27_a_one_byte_change_is_refused(
    signed: tuple[bytes, bytes, bytes, bytes], position: int | str
) -> None:
    data, sig, _, _ = signed
    at = data.index(b'"serial"') + 12 if position == "serial" else int(position) % len(data)
    tampered = data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]
    assert tampered != data and len(tampered) == len(data)
    with pytest.raises(IndexBadSignature):
        index.verify(tampered, sig, [KEY], now=NOW)


@pytest.mark.threat("T27")
@pytest.mark.parametrize("signature", [None, b"", b"\n", "garbage"])
def test_t27_a_removed_or_empty_signature_is_refused(
    signed: tuple[bytes, bytes, bytes, bytes], signature: bytes | str | None
) -> None:
    with pytest.raises(IndexBadSignature):
        index.verify(signed[0], signature, [KEY], now=NOW)


@pytest.mark.threat("T27")
def test_t27_a_signature_swapped_from_another_index_is_refused(
    signed: tuple[bytes, bytes, bytes, bytes],
) -> None:
    first, first_sig, second, second_sig = signed
    assert first != second
    index.verify(second, second_sig, [KEY], now=NOW)
    with pytest.raises(IndexBadSignature):
        index.verify(first, second_sig, [KEY], now=NOW)
    with pytest.raises(IndexBadSignature):
        index.verify(second, first_sig, [KEY], now=NOW)


@pytest.mark.threat("T27")
def test_t27_a_key_outside_the_configured_list_is_refused(signed: tuple[bytes, bytes, bytes, bytes]) -> None:
    with pytest.raises(IndexBadSignature):
        index.verify(signed[0], signed[1], [OLD_KEY], now=NOW)  # signed with the newest key, KEY
    with pytest.raises(IndexBadSignature):
        index.verify(signed[0], signed[1], ["x" * 40], now=NOW)


def test_rotation_an_index_signed_with_the_old_key_still_verifies(
    signed: tuple[bytes, bytes, bytes, bytes],
) -> None:
    data = signed[0]
    old_sig = index.sign(data, [OLD_KEY])
    index.verify(data, old_sig, [OLD_KEY, KEY], now=NOW)
    assert index.sign(data, [OLD_KEY, KEY]) == signed[1]  # signing uses the newest


@pytest.mark.threat("T28")
@pytest.mark.parametrize("purpose", [Purpose.SESSION, Purpose.DOWNLOAD_LINK, Purpose.OAUTH_ACCESS])
def test_t28_a_signature_for_another_purpose_is_refused(
    signed: tuple[bytes, bytes, bytes, bytes], purpose: Purpose
) -> None:
    data = signed[0]
    other = signer([KEY], purpose).get_signature(data)
    with pytest.raises(IndexWrongPurpose, match=purpose.value):
        index.verify(data, other, [KEY], now=NOW)


@pytest.mark.threat("T29")
def test_t29_rollback_to_a_lower_serial_is_refused(signed: tuple[bytes, bytes, bytes, bytes]) -> None:
    first, first_sig, second, second_sig = signed
    newer = index.verify(second, second_sig, [KEY], now=NOW).serial
    index.verify(second, second_sig, [KEY], now=NOW, trusted_serial=newer)  # the same serial is fine
    with pytest.raises(IndexRollback):
        index.verify(first, first_sig, [KEY], now=NOW, trusted_serial=newer)


@pytest.mark.threat("T30")
def test_t30_an_expired_index_is_refused_unless_allowed(signed: tuple[bytes, bytes, bytes, bytes]) -> None:
    data, sig, _, _ = signed
    expires = index.parse_time(json.loads(data)["expires_at"])
    assert expires == NOW + timedelta(days=30)
    index.verify(data, sig, [KEY], now=expires - timedelta(seconds=1))
    with pytest.raises(IndexExpired, match="expired"):
        index.verify(data, sig, [KEY], now=expires)
    assert index.verify(data, sig, [KEY], now=expires + timedelta(days=365), allow_expired=True)


def test_a_signed_document_that_is_not_an_index_is_malformed() -> None:
    for doc in [b"[]", b'{"_type": "other"}', b'{"_type": "skillport/index"}', b"not json"]:
        with pytest.raises(IndexMalformed):
            index.verify(doc, index.sign(doc, [KEY]), [KEY], now=NOW)


def test_rejections_are_upstream_errors_with_one_base() -> None:
    for cls in (IndexBadSignature, IndexWrongPurpose, IndexRollback, IndexExpired, IndexMalformed):
        assert issubclass(cls, IndexRejected) and issubclass(cls, UpstreamError)


def test_next_serial_only_grows() -> None:
    assert index.next_serial(None, NOW) == int(NOW.timestamp())
    assert index.next_serial(int(NOW.timestamp()) + 100, NOW) == int(NOW.timestamp()) + 101
    assert index.next_serial(5, NOW) == int(NOW.timestamp())


def test_encoding_is_canonical(tmp_path: Path) -> None:
    assert index.encode({"b": 1, "a": "é"}) == index.encode({"a": "é", "b": 1})
    assert "é".encode() in index.encode({"a": "é"})
