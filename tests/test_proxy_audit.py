"""Audit log lines and log redaction (T21)."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime

import pytest

from proxy.audit import AuditLog, RedactingFilter, redact
from proxy.session import Member


@pytest.mark.threat("T21")
def test_t21_access_log_lines_are_redacted() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("skillport-test-access")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.addFilter(RedactingFilter())
    logger.propagate = False
    logger.warning(
        '%s - "GET %s HTTP/1.1" 302', "127.0.0.1", "/auth/callback?code=SECRETCODE123&state=SECRETSTATE456"
    )
    logger.warning('"GET /d/eyJ1IjoiYWxpY2UifQ.aww2wg.SIGNATURE HTTP/1.1" 200')
    logger.warning("Authorization: Bearer TOKENVALUE789")
    text = stream.getvalue()
    for secret in ("SECRETCODE123", "SECRETSTATE456", "eyJ1IjoiYWxpY2UifQ", "TOKENVALUE789"):
        assert secret not in text
    assert "/auth/callback?code=[redacted]" in text


@pytest.mark.threat("T21")
def test_t21_audit_entries_never_carry_secrets() -> None:
    stream = io.StringIO()
    log = AuditLog(stream=stream)
    entry = log.record(
        "download",
        member=Member("u1", "alice@corp.example"),
        ip="127.0.0.1",
        now=datetime(2026, 11, 29, tzinfo=UTC),
        skill="pdf-writer",
        version="1.0.0",
        token="abc.def",
        url="https://x/d/abc.def",
    )
    line = json.loads(stream.getvalue())
    assert line == entry
    assert line["user"] == "u1" and line["skill"] == "pdf-writer" and line["time"].startswith("2026-11-29T00")
    assert line["token"] == "[redacted]" and "abc.def" not in stream.getvalue()


def test_redact_leaves_ordinary_text_alone() -> None:
    assert redact("GET /skills/pdf-writer/ HTTP/1.1") == "GET /skills/pdf-writer/ HTTP/1.1"


@pytest.mark.threat("T57")
def test_t57_line_separators_and_control_characters_never_split_an_audit_record() -> None:
    stream = io.StringIO()
    log = AuditLog(stream=stream)
    hostile = 'pdf\u2028{"action": "forged"}\u2029x\x85y\r\nz\x1b[31m\x00\x7f'
    log.record(
        "publish",
        member=Member("u1\u2028", "alice@corp.example"),
        ip="127.0.0.1",
        skill=hostile,
        files=[hostile],
        meta={"note": hostile},
        other=object(),
    )
    log.record("download", member=Member("u2", "bob@corp.example"), skill="ok")
    text = stream.getvalue()
    assert text.isascii()
    lines = text.splitlines()  # splits on U+2028/U+2029/U+0085 and every control line break
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["skill"] == hostile and first["files"] == [hostile] and first["meta"] == {"note": hostile}
    assert first["user"] == "u1\u2028" and isinstance(first["other"], str)
    assert second["action"] == "download"
