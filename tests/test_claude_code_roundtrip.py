"""The round trip a Claude Code user makes: the marketplace repository served over loopback smart HTTP
(``git http-backend``), added with ``claude plugin marketplace add``, a plugin installed; an editor
publishes a bump through the proxy's API; ``claude plugin marketplace update`` + ``claude plugin
update`` move the installed plugin to the new version."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.connector import bearer
from tests.support.publishing import editing_proxy

pytestmark = pytest.mark.external


@contextmanager
def git_http(root: Path) -> Iterator[str]:
    """``git http-backend`` as CGI behind a tiny threaded HTTP server on 127.0.0.1 (read-only)."""
    backend = subprocess.run(["git", "--exec-path"], capture_output=True, text=True, check=True)
    exe = str(Path(backend.stdout.strip()) / "git-http-backend")

    class Handler(BaseHTTPRequestHandler):
        def _cgi(self) -> None:
            parts = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            env = {
                "PATH": os.environ.get("PATH", ""),
                "GIT_PROJECT_ROOT": str(root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": "safe.directory",
                "GIT_CONFIG_VALUE_0": "*",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": parts.path,
                "QUERY_STRING": parts.query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_ADDR": self.client_address[0],
                "GATEWAY_INTERFACE": "CGI/1.1",
                "SERVER_PROTOCOL": "HTTP/1.1",
            }
            for key, value in self.headers.items():
                env["HTTP_" + key.upper().replace("-", "_")] = value
            done = subprocess.run([exe], input=body, env=env, capture_output=True, timeout=60, check=False)
            head, _, payload = done.stdout.partition(b"\r\n\r\n")
            status = 200
            headers: list[tuple[str, str]] = []
            for line in head.decode("latin-1").split("\r\n"):
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = int(value.strip().split()[0])
                elif name:
                    headers.append((name, value.strip()))
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = _cgi
        do_POST = _cgi

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def claude(claude_bin: str, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HOME": str(home),
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    return subprocess.run(
        [claude_bin, *args], env=env, capture_output=True, text=True, timeout=90, check=False
    )


def installed_version(home: Path) -> set[str]:
    cache = home / ".claude/plugins/cache/test-market/alpha"
    return (
        {p.name for p in cache.iterdir() if (p / "skills/one/SKILL.md").is_file()}
        if cache.is_dir()
        else set()
    )


def test_claude_code_user_gets_a_bump_published_through_the_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, claude_bin: str
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with (
        editing_proxy(tmp_path, monkeypatch, rebuild=False) as proxy,
        git_http(tmp_path) as git_url,
    ):
        remote = tmp_path / "market.git"
        added = claude(claude_bin, home, "plugin", "marketplace", "add", f"{git_url}/{remote.name}")
        assert added.returncode == 0, added.stdout + added.stderr
        inst = claude(claude_bin, home, "plugin", "install", "alpha@test-market")
        assert inst.returncode == 0, inst.stdout + inst.stderr
        assert installed_version(home) == {"1.2.3"}

        r = httpx.post(
            proxy.url + "/api/v1/skills/one/bump",
            json={"part": "minor"},
            headers=bearer(proxy, "bob"),
            timeout=60,
        )
        assert r.status_code == 200, r.text
        assert (r.json()["version"], r.json()["status"]) == ("1.3.0", "pushed")

        upd = claude(claude_bin, home, "plugin", "marketplace", "update", "test-market")
        assert upd.returncode == 0, upd.stdout + upd.stderr
        moved = claude(claude_bin, home, "plugin", "update", "alpha@test-market")
        assert moved.returncode == 0, moved.stdout + moved.stderr
        assert "1.3.0" in installed_version(home)
        text = (home / ".claude/plugins/cache/test-market/alpha/1.3.0/skills/one/SKILL.md").read_text()
        assert "Body of one." in text
        registry = json.loads((home / ".claude/plugins/installed_plugins.json").read_text())
        assert [p["version"] for p in registry["plugins"]["alpha@test-market"]] == ["1.3.0"]
