"""``skillport serve`` as a real process (``python -m proxy.serve``): what its own uvicorn does at the
default log level (the access log, redacted: T54) and with slow or idle connections (T55)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.connector import free_port, proxy_env, wait_http, write_site


@contextmanager
def serve_process(tmp_path: Path, *args: str, **env: str) -> Iterator[tuple[str, Path]]:
    """``python -m proxy.serve`` on a free port; yields its URL and the file its stderr goes to."""
    site = tmp_path / "site"
    write_site(site)
    port = free_port()
    log = tmp_path / "serve.log"
    full_env = {
        **os.environ,
        **proxy_env(site, "http://127.0.0.1:9", port, tmp_path / "audit.jsonl"),
        **env,
    }
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "proxy.serve", "--port", str(port), *args],
            env=full_env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_http(url + "/healthz")
            yield url, log
        finally:
            proc.terminate()
            proc.wait(10)


@pytest.mark.threat("T54")
def test_t54_access_lines_at_log_level_info_are_intact_and_redacted(tmp_path: Path) -> None:
    with serve_process(tmp_path, "--log-level", "info") as (url, log):
        for _ in range(3):
            httpx.get(url + "/healthz", timeout=5)
        httpx.get(url + "/auth/callback?code=SECRETCODE123&state=SECRETSTATE456", timeout=5)
        httpx.get(url + "/d/eyJ1IjoiYWxpY2UifQ.aww2wg.SIGNATURE", timeout=5)
        time.sleep(0.5)
        text = log.read_text()
    assert "Traceback" not in text and "Logging error" not in text, text[-2000:]
    lines = text.splitlines()
    assert sum('"GET /healthz HTTP/1.1" 200 OK' in line for line in lines) >= 3, text[-2000:]
    callback = [line for line in lines if "/auth/callback" in line]
    assert callback and "code=[redacted]" in callback[0] and "state=[redacted]" in callback[0]
    assert any('"GET /d/[redacted] HTTP/1.1"' in line for line in lines), text[-2000:]
    for secret in ("SECRETCODE123", "SECRETSTATE456", "eyJ1IjoiYWxpY2UifQ"):
        assert secret not in text


def _closed_within(sock: socket.socket, seconds: float) -> float:
    """Seconds until the server closes ``sock`` (fails if it is still open after ``seconds``)."""
    start = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        pytest.fail(f"the server kept a half-sent request open for more than {seconds} s")
    except ConnectionResetError:
        pass
    return time.monotonic() - start


@pytest.mark.threat("T55")
def test_t55_half_sent_requests_and_idle_connections_are_closed_within_the_bound(tmp_path: Path) -> None:
    with serve_process(tmp_path, "--log-level", "warning", SKILLPORT_HTTP_HEADER_TIMEOUT_SECONDS="1") as (
        url,
        _,
    ):
        port = int(url.rsplit(":", 1)[1])
        half = socket.create_connection(("127.0.0.1", port))
        idle = socket.create_connection(("127.0.0.1", port))
        drip = socket.create_connection(("127.0.0.1", port))
        half.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # no blank line: never finished
        for piece in (b"GET /hea", b"lthz HTTP/1.1\r\n", b"Host: x\r\n"):  # a byte now and then
            drip.sendall(piece)
            time.sleep(0.3)
        for sock in (half, idle, drip):
            assert _closed_within(sock, 6) < 6
            sock.close()
        # a whole request is still answered, and its kept-alive connection is closed after a while
        ok = socket.create_connection(("127.0.0.1", port))
        ok.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert ok.recv(4096).startswith(b"HTTP/1.1 200")
        assert _closed_within(ok, 10) < 10
        ok.close()
        assert httpx.get(url + "/healthz", timeout=5).status_code == 200
