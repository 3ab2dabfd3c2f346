"""Faults, end to end: the real proxy under uvicorn, signed-in members, real failing parts.

- The HTTP origin goes down, comes back serving a corrupt index, then an older (lower serial) validly
  signed one: members keep getting the last good catalog, ``/readyz`` names the problem, and the proxy
  moves on as soon as a good newer index appears (T27, T29). Unit-level origin checks live in
  ``test_proxy_origin.py``.
- The identity provider process dies in the middle of a sign-in: that sign-in gets a clear 503 page,
  existing sessions and MCP tokens keep working (T12). Provider down/slow before sign-in and at first
  sign-in: ``test_proxy_idp.py::test_t12_*``.
- Signing-key rotation across a rebuild: proxy with ``old,new``, site rebuilt with ``old,new`` while
  members keep downloading — zero failed requests — then ``old`` dropped from the proxy.
- A build killed mid-way leaves the previous site byte-identical:
  ``test_build.py::test_t47_a_build_killed_while_packaging_leaves_the_previous_site_byte_identical``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from tests.support.marketplaces import make_marketplace
from tests.support.servers import fake_idp, login_with_fake, publish_index, run_proxy, serve, write_site

DEADLINE = 20.0  # generous upper bound for a condition that normally holds within ~1 s


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` until it holds (bounded; no timing is asserted)."""
    end = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for: {what}")
        time.sleep(0.1)


# -- an HTTP origin the test controls ------------------------------------------------------------


class OriginServer:
    """Static files from ``root`` over HTTP on a fixed port; ``stop()``/``start()`` take it off the
    network for real (connection refused), ``root`` can be pointed at another tree."""

    def __init__(self, root: Path) -> None:
        self.root = root
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}/"
        self._running: Any = None

    def app(self) -> Starlette:
        async def file(request: Request) -> Response:
            rel = request.path_params["path"]
            target = (self.root / rel).resolve()
            if not target.is_relative_to(self.root.resolve()) or not target.is_file():
                return Response("not found", status_code=404)
            return FileResponse(target)

        return Starlette(routes=[Route("/{path:path}", file)])

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self._running = serve(self.app(), sock)
        self._running.__enter__()

    def stop(self) -> None:
        if self._running is not None:
            self._running.__exit__(None, None, None)
            self._running = None


def ready(proxy_url: str) -> dict[str, Any]:
    r = httpx.get(proxy_url + "readyz", timeout=10)
    body: dict[str, Any] = r.json()
    body["http_status"] = r.status_code
    return body


@pytest.mark.threat("T27")
@pytest.mark.threat("T29")
def test_t27_t29_origin_down_corrupt_or_rolled_back_keeps_serving_the_last_good_index(tmp_path: Path) -> None:
    good = tmp_path / "good"
    doc = write_site(good, serial=100)
    corrupt = tmp_path / "corrupt"
    shutil.copytree(good, corrupt)
    data = bytearray((corrupt / "index.json").read_bytes())
    data[data.index(b'"ledger"') + 2] ^= 0x01  # one byte of the signed index changed
    (corrupt / "index.json").write_bytes(bytes(data))
    older = tmp_path / "older"
    shutil.copytree(good, older)
    publish_index(older, dict(doc, serial=50))  # validly signed, but a rollback
    newer = tmp_path / "newer"
    shutil.copytree(good, newer)
    publish_index(newer, dict(doc, serial=200))

    origin = OriginServer(good)
    origin.start()
    try:
        with (
            fake_idp() as idp,
            run_proxy(origin.url, idp.issuer, tmp_path) as proxy,
            httpx.Client(timeout=10) as member,
        ):
            assert login_with_fake(member, proxy.url).status_code == 302
            zip_path = "skills/pdf-writer/pdf-writer-1.0.0.zip"

            def catalog_ok() -> None:
                index = member.get(proxy.url + "index.json")
                assert index.status_code == 200
                assert [s["name"] for s in index.json()["skills"]] == ["pdf-writer"]

            def download_ok() -> None:
                r = member.get(proxy.url + zip_path)
                assert r.status_code == 200 and r.content == (good / zip_path).read_bytes()

            assert ready(proxy.url) == {"http_status": 200, "status": "ready", "serial": 100}
            catalog_ok()
            download_ok()

            # 1. the origin goes away: the catalog is served from the held index, files are a clear 503
            origin.stop()
            wait_for(lambda: "reason" in ready(proxy.url), "readyz to report the origin")
            state = ready(proxy.url)
            assert (state["http_status"], state["status"], state["serial"]) == (200, "degraded", 100)
            assert "unreachable" in state["reason"]
            catalog_ok()
            search = member.get(proxy.url + "api/v1/search", params={"query": "pdf"})
            assert search.status_code == 200 and "pdf-writer" in search.text
            r = member.get(proxy.url + zip_path)
            assert r.status_code == 503 and "unavailable" in r.text.lower() and "Traceback" not in r.text

            # 2. back, but serving a corrupt index: last good kept, downloads work again
            origin.root = corrupt
            origin.start()
            wait_for(
                lambda: "signature" in ready(proxy.url).get("reason", ""), "readyz to name the signature"
            )
            assert ready(proxy.url)["serial"] == 100
            catalog_ok()
            download_ok()

            # 3. an older, validly signed index (rollback): refused, last good kept
            origin.root = older
            wait_for(
                lambda: "serial" in ready(proxy.url).get("reason", "").lower(), "readyz to name the rollback"
            )
            state = ready(proxy.url)
            assert (state["http_status"], state["serial"]) == (200, 100)
            catalog_ok()
            download_ok()

            # 4. a good newer index: picked up, ready again
            origin.root = newer
            wait_for(lambda: ready(proxy.url).get("serial") == 200, "the newer index")
            assert ready(proxy.url) == {"http_status": 200, "status": "ready", "serial": 200}
            catalog_ok()
            download_ok()
    finally:
        origin.stop()


# -- identity provider dies mid-sign-in -----------------------------------------------------------


@pytest.mark.threat("T12")
def test_t12_provider_killed_mid_sign_in_is_a_clear_503_and_existing_access_keeps_working(
    tmp_path: Path,
) -> None:
    from tests.support.connector import exchange, get_code
    from tests.support.connector import run_proxy as run_mcp_proxy
    from tests.support.connector import write_site as write_mcp_site

    site = tmp_path / "site"
    write_mcp_site(site)
    with (
        contextmanager(_killable_provider)() as (issuer, kill),
        run_mcp_proxy(site, issuer, tmp_path / "audit.jsonl") as proxy,
    ):
        # a member with a browser session, and an MCP client with a token
        member = httpx.Client(timeout=10)
        start = member.get(proxy.url + "/login", params={"next": "/index.json"})
        back = member.post(start.headers["location"], data={"sub": "alice"})
        assert member.get(back.headers["location"]).status_code == 302
        client_id, code, verifier = get_code(proxy, "alice")
        access = exchange(proxy, client_id, code, verifier).json()["access_token"]

        # a newcomer gets as far as the provider's form, then the provider dies
        with httpx.Client(timeout=10) as newcomer:
            start = newcomer.get(proxy.url + "/login")
            back = newcomer.post(start.headers["location"], data={"sub": "bob"})
            kill()
            page = newcomer.get(back.headers["location"], headers={"Accept": "text/html"})
            assert page.status_code == 503
            assert page.headers["content-type"].startswith("text/html")
            assert "sign-in" in page.text.lower() or "identity provider" in page.text.lower()
            assert "Traceback" not in page.text and issuer not in page.text

        # existing session and token are untouched
        assert member.get(proxy.url + "/index.json").status_code == 200
        r = httpx.post(
            proxy.url + "/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={
                "Accept": "application/json, text/event-stream",
                "Authorization": f"Bearer {access}",
            },
            timeout=10,
        )
        assert r.status_code == 200 and "skillport" in r.text
        member.close()


def _killable_provider() -> Iterator[tuple[str, Callable[[], None]]]:
    """``oidc-provider-mock`` as a process the test can kill (SIGKILL) at any moment."""
    import json

    from tests.support.connector import USERS, free_port, wait_http

    port = free_port()
    cmd = [str(Path(sys.executable).parent / "oidc-provider-mock"), "-p", str(port), "-H", "127.0.0.1"]
    for claims in USERS.values():
        cmd += ["--user-claims", json.dumps(claims)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    issuer = f"http://127.0.0.1:{port}"

    def kill() -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)

    try:
        wait_http(issuer + "/.well-known/openid-configuration")
        yield issuer, kill
    finally:
        kill()


# -- signing-key rotation across a rebuild --------------------------------------------------------

OLD_KEY = "old-signing-key-" + "o" * 32
NEW_KEY = "new-signing-key-" + "n" * 32


def skillport_build(mp: Path, out: Path, keys: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SKILLPORT_SIGNING_KEYS": keys}
    exe = str(Path(sys.executable).parent / "skillport")
    return subprocess.Popen(
        [exe, "build", str(mp), "--out", str(out), "--quiet"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_signing_key_rotation_across_a_rebuild_has_no_failed_request(tmp_path: Path) -> None:
    mp = make_marketplace(tmp_path / "mp", {"tools": ["alpha", "beta"]})
    site = tmp_path / "site"
    first = skillport_build(mp, site, OLD_KEY)
    assert first.wait(120) == 0, first.communicate()[1].decode()

    with fake_idp() as idp:
        with run_proxy(site, idp.issuer, tmp_path, signing_keys=f"{OLD_KEY},{NEW_KEY}") as proxy:
            first_serial = ready(proxy.url)["serial"]
            with httpx.Client(timeout=10) as member:
                assert login_with_fake(member, proxy.url).status_code == 302
                zip_path = next(
                    s["zip"]["path"] for s in member.get(proxy.url + "index.json").json()["skills"]
                )
                failures: list[str] = []
                requests = 0
                rebuild = skillport_build(mp, site, f"{OLD_KEY},{NEW_KEY}")
                done = threading.Event()

                def wait_for_rebuild() -> None:
                    rebuild.wait(120)
                    done.set()

                threading.Thread(target=wait_for_rebuild, daemon=True).start()
                # members keep browsing and downloading while the site is rebuilt and swapped;
                # then until the proxy has picked up the new index
                while not done.is_set() or ready(proxy.url).get("serial") == first_serial:
                    for path in ("index.json", zip_path, "readyz"):
                        r = member.get(proxy.url + path)
                        requests += 1
                        if r.status_code != 200:
                            failures.append(f"{path}: {r.status_code} {r.text[:120]}")
                    if requests > 30_000:
                        raise AssertionError("the proxy never picked up the rebuilt index")
                assert rebuild.returncode == 0, rebuild.communicate()[1].decode()
                assert failures == [] and requests >= 3
                new_serial = ready(proxy.url)["serial"]
                assert new_serial > first_serial

        # the rebuilt index is signed by the new key: a proxy with only the old key refuses it ...
        with run_proxy(site, idp.issuer, tmp_path, signing_keys=OLD_KEY) as stale:
            state = ready(stale.url)
            assert state["http_status"] == 503 and "signature" in state["reason"]
        # ... and after dropping the old key (restart) the proxy still serves everything
        with (
            run_proxy(site, idp.issuer, tmp_path, signing_keys=NEW_KEY) as proxy,
            httpx.Client(timeout=10) as member,
        ):
            assert ready(proxy.url) == {"http_status": 200, "status": "ready", "serial": new_serial}
            assert login_with_fake(member, proxy.url).status_code == 302
            assert member.get(proxy.url + zip_path).status_code == 200
            assert member.get(proxy.url).status_code == 200
