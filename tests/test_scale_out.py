"""Scale-out: two proxy *processes* (``python -m proxy.serve``) behind one public URL, sharing only
their secrets and the site. Whatever one of them issues — a session cookie, sign-in state, an OAuth
client registration, an authorization code, an MCP access token, a signed download link — the
other accepts. Nothing is kept server-side, so any replica can answer any request.

Both processes are configured with the same ``SKILLPORT_PUBLIC_URL`` (replica A's address stands in
for the load balancer); requests sent to B carry that public ``Host``, as a load balancer would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.connector import (
    MCP_HEADERS,
    TOOLS_LIST,
    Proxy,
    authorize_url,
    exchange,
    free_port,
    oidc_provider,
    pkce,
    proxy_env,
    register,
    sign_in_and_consent,
    wait_http,
    write_site,
)
from tests.support.servers import BROWSER


@dataclass
class Replica:
    url: str  # where this process listens: http://127.0.0.1:PORT
    host: str  # the public Host header (the load balancer's)
    proc: subprocess.Popen[bytes]

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        headers = {"Host": self.host, **dict(kwargs.pop("headers", {}) or {})}  # type: ignore[call-overload]
        return httpx.get(self.url + path, headers=headers, timeout=10, **kwargs)  # type: ignore[arg-type]

    def mcp(self, access: str) -> httpx.Response:
        headers = {**MCP_HEADERS, "Host": self.host, "Authorization": f"Bearer {access}"}
        return httpx.post(self.url + "/mcp", json=TOOLS_LIST, headers=headers, timeout=10)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    write_site(root)
    return root


@pytest.fixture(scope="module")
def replicas(site: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Replica, Replica]]:
    logs = tmp_path_factory.mktemp("logs")
    port_a, port_b = free_port(), free_port()
    public_host = f"127.0.0.1:{port_a}"
    started: list[Replica] = []
    with oidc_provider() as issuer:
        try:
            for name, port in (("a", port_a), ("b", port_b)):
                env = proxy_env(site, issuer, port_a, logs / f"audit-{name}.jsonl")
                env = {**os.environ, **env, "SKILLPORT_INDEX_REFRESH_SECONDS": "1"}
                proc = subprocess.Popen(
                    [sys.executable, "-m", "proxy.serve", "--port", str(port), "--log-level", "warning"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=(logs / f"proxy-{name}.log").open("wb"),
                )
                started.append(Replica(f"http://127.0.0.1:{port}", public_host, proc))
                wait_http(started[-1].url + "/healthz")
            yield started[0], started[1]
        finally:
            for replica in started:
                replica.proc.terminate()
                replica.proc.wait(10)


def _as_proxy(replica: Replica) -> Proxy:
    return Proxy(url=replica.url, issuer="", audit_path=Path("/dev/null"))


def test_both_replicas_are_separate_processes_serving_the_same_index(
    replicas: tuple[Replica, Replica], site: Path
) -> None:
    a, b = replicas
    assert a.proc.pid != b.proc.pid and a.proc.poll() is None and b.proc.poll() is None
    built = json.loads((site / "index.json").read_bytes())["serial"]
    assert a.get("/readyz").json()["serial"] == b.get("/readyz").json()["serial"] == built


@pytest.mark.threat("T09")
def test_t09_sign_in_started_on_b_finishes_on_a_and_the_session_works_on_both(
    replicas: tuple[Replica, Replica],
) -> None:
    a, b = replicas
    with httpx.Client(follow_redirects=False, timeout=10) as http:
        start = http.get(b.url + "/login", params={"next": "/index.json"}, headers={"Host": b.host})
        assert start.status_code == 302
        form = start.headers["location"]
        back = http.post(form, data={"sub": "alice"})
        assert back.status_code == 302
        callback = back.headers["location"]
        assert callback.startswith(a.url + "/auth/callback")  # the public URL: replica A here
        # the sign-in state cookie was set by B (cookies are per host, not per port)
        done = http.get(callback)
        assert done.status_code in (302, 303), done.text[:300]
        session = dict(http.cookies)
    assert session, "no session cookie was set"
    for replica in (a, b):
        r = replica.get("/index.json", cookies=session)
        assert r.status_code == 200, (replica.url, r.status_code)
        assert {s["name"] for s in r.json()["skills"]} == {"pdf-forms", "brand-voice", "skillport"}
    # and without the cookie B sends the browser to sign in (and anything else gets 401)
    assert b.get("/index.json", headers=BROWSER).status_code == 302
    assert b.get("/index.json").status_code == 401


def test_client_registered_on_a_authorizes_on_b_and_its_token_works_on_both(
    replicas: tuple[Replica, Replica],
) -> None:
    a, b = replicas
    registered = register(_as_proxy(a))
    assert registered.status_code == 201, registered.text
    client_id = registered.json()["client_id"]
    verifier, challenge = pkce()
    url = authorize_url(_as_proxy(b), client_id, challenge, state="st-xyz", resource=f"http://{a.host}/mcp")
    result = sign_in_and_consent(url, "bob")
    assert result.get("state") == "st-xyz" and "code" in result, result
    # the code minted by (A or B) is exchanged on B
    tokens = exchange(_as_proxy(b), client_id, result["code"], verifier)
    assert tokens.status_code == 200, tokens.text
    access = tokens.json()["access_token"]
    for replica in (a, b):
        r = replica.mcp(access)
        assert r.status_code == 200, (replica.url, r.status_code, r.text[:200])
        assert [t["name"] for t in r.json()["result"]["tools"]] == ["skillport"]
        who = replica.get("/api/v1/whoami", headers={"Authorization": f"Bearer {access}"})
        assert who.status_code == 200 and "bob@corp.example" in who.text
    # a refresh token issued on B is accepted by A
    refreshed = httpx.post(
        a.url + "/token",
        data={
            "grant_type": "refresh_token",
            "client_id": client_id,
            "refresh_token": tokens.json()["refresh_token"],
        },
        timeout=10,
    )
    assert refreshed.status_code == 200, refreshed.text
    assert b.mcp(refreshed.json()["access_token"]).status_code == 200


@pytest.mark.threat("T32")
def test_t32_download_link_minted_on_a_downloads_on_b_and_a_forged_one_does_not(
    replicas: tuple[Replica, Replica],
) -> None:
    a, b = replicas
    client_id = register(_as_proxy(a)).json()["client_id"]
    verifier, challenge = pkce()
    url = authorize_url(_as_proxy(a), client_id, challenge, resource=f"http://{a.host}/mcp")
    code = sign_in_and_consent(url, "alice")["code"]
    access = exchange(_as_proxy(a), client_id, code, verifier).json()["access_token"]
    install = a.get(
        "/api/v1/skills/pdf-forms/install",
        params={"surface": "claude-ai"},
        headers={"Authorization": f"Bearer {access}"},
    )
    assert install.status_code == 200, install.text
    link = install.json()["download"]
    assert link.startswith(f"http://{a.host}/d/")
    on_b = b.url + link.removeprefix(f"http://{a.host}")
    r = httpx.get(on_b, headers={"Host": b.host}, timeout=10)
    assert r.status_code == 200 and r.content[:2] == b"PK"
    assert r.headers["content-disposition"].endswith('pdf-forms-1.2.0.zip"')
    tampered = on_b[:-3] + ("aaa" if not on_b.endswith("aaa") else "bbb")
    assert httpx.get(tampered, headers={"Host": b.host}, timeout=10).status_code in (403, 404, 410)
