"""Test helpers: real servers on 127.0.0.1 — the proxy under uvicorn, `oidc-provider-mock` as a
subprocess, a tiny controllable identity provider (``FakeIdP``) for forged-token tests, a site built by
the real builder from a fixture marketplace, and sign-in over plain HTTP."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import uvicorn
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from tests.support.sites import copy_site, republish

SECRET = "s" * 40
SECRET_2 = "t" * 40
SIGNING = "k" * 40
CLIENT_ID = "skillport-test"
CLIENT_SECRET = "client-secret-value-123"
# What Chromium sends on a navigation: only such requests are sent to sign in (others get 401).
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"}


# -- servers -----------------------------------------------------------------------------------


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # proto => TCP_NODELAY
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def free_port() -> int:
    with free_socket() as sock:
        return int(sock.getsockname()[1])


@contextmanager
def serve(app: ASGIApp, sock: socket.socket | None = None, **options: Any) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread; yield its base URL (``http://127.0.0.1:PORT/``)."""
    sock = sock or free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", proxy_headers=False, **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@contextmanager
def mock_provider(users: list[dict[str, Any]]) -> Iterator[str]:
    """``oidc-provider-mock`` in its own process; yields the issuer URL (no trailing slash)."""
    port = free_port()
    exe = str(Path(sys.executable).parent / "oidc-provider-mock")
    args = [exe, "-p", str(port), "-H", "127.0.0.1"]
    for user in users:
        args += ["--user-claims", json.dumps(user)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    issuer = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(issuer + "/.well-known/openid-configuration", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("oidc-provider-mock did not start")
            time.sleep(0.1)
        yield issuer
    finally:
        proc.terminate()
        proc.wait(10)


def login_with_mock(client: httpx.Client, proxy: str, sub: str, next_path: str = "/") -> httpx.Response:
    """Sign in through the real redirects: proxy /login -> provider form -> POST sub -> callback."""
    response = client.get(proxy + "login", params={"next": next_path})
    assert response.status_code == 302, response.text
    authorize = response.headers["location"]
    form = client.get(authorize)
    assert form.status_code == 200
    back = client.post(authorize, data={"sub": sub})
    assert back.status_code == 302, back.text
    return client.get(back.headers["location"])


# -- a controllable identity provider ----------------------------------------------------------

_KEYS: dict[str, RSAKey] = {}


def rsa_key(kid: str) -> RSAKey:
    """One RSA key per kid per test session (generating keys is slow)."""
    if kid not in _KEYS:
        _KEYS[kid] = RSAKey.generate_key(2048, parameters={"kid": kid})
    return _KEYS[kid]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class FakeIdP:
    """A tiny OIDC provider whose tokens the tests can forge. PKCE is enforced (unlike the mock)."""

    claims: dict[str, Any] = field(
        default_factory=lambda: {
            "sub": "u-alice",
            "email": "alice@corp.example",
            "email_verified": True,
            "hd": "corp.example",
            "name": "Alice",
        }
    )
    mode: str = "good"  # good | none | hmac-public | bad-sig | unknown-kid | down | slow
    override: dict[str, Any] = field(default_factory=dict)
    header_override: dict[str, Any] = field(default_factory=dict)
    issuer: str = ""
    slow_seconds: float = 3.0
    jwks_fetches: int = 0
    discovery_fetches: int = 0
    key: RSAKey = field(default_factory=lambda: rsa_key("k1"))
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def rotate(self, kid: str) -> None:
        self.key = rsa_key(kid)

    def id_token(self, nonce: str | None) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 300, **self.claims}
        if nonce is not None:
            claims["nonce"] = nonce
        claims.update(self.override)
        claims = {k: v for k, v in claims.items() if v is not None}
        header = {"alg": "RS256", "kid": self.key.kid, **self.header_override}
        if self.mode == "none":
            head = {"alg": "none", "typ": "JWT"}
            return f"{_b64(json.dumps(head).encode())}.{_b64(json.dumps(claims).encode())}."
        if self.mode == "hmac-public":
            head = {"alg": "HS256", "kid": self.key.kid}
            signing_input = f"{_b64(json.dumps(head).encode())}.{_b64(json.dumps(claims).encode())}"
            public_pem = self.key.as_pem(private=False)
            sig = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
            return f"{signing_input}.{_b64(sig)}"
        if self.mode == "unknown-kid":
            other = rsa_key("attacker")
            kid = "kid-" + secrets.token_hex(4)
            return jwt.encode({"alg": "RS256", "kid": kid}, claims, other)
        token = jwt.encode(header, claims, self.key)
        if self.mode == "bad-sig":
            head, _, sig = token.split(".")
            forged = dict(claims, email="mallory@corp.example")
            token = f"{head}.{_b64(json.dumps(forged).encode())}.{sig}"
        return token

    async def _gate(self) -> Response | None:
        if self.mode == "down":
            return JSONResponse({"error": "down"}, status_code=503)
        if self.mode == "slow":
            await asyncio.sleep(self.slow_seconds)
        return None

    def app(self) -> Starlette:
        async def discovery(request: Request) -> Response:
            self.discovery_fetches += 1
            gate = await self._gate()
            if gate is not None:
                return gate
            return JSONResponse(
                {
                    "issuer": self.issuer,
                    "authorization_endpoint": self.issuer + "/authorize",
                    "token_endpoint": self.issuer + "/token",
                    "jwks_uri": self.issuer + "/jwks",
                    "response_types_supported": ["code"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "code_challenge_methods_supported": ["S256"],
                }
            )

        async def jwks(request: Request) -> Response:
            self.jwks_fetches += 1
            gate = await self._gate()
            if gate is not None:
                return gate
            return JSONResponse(KeySet([self.key]).as_dict(private=False))

        async def authorize(request: Request) -> Response:
            q = request.query_params
            code = secrets.token_urlsafe(16)
            self.codes[code] = {
                "challenge": q.get("code_challenge"),
                "nonce": q.get("nonce"),
                "redirect_uri": q.get("redirect_uri"),
                "client_id": q.get("client_id"),
            }
            target = q["redirect_uri"] + "?" + urlencode({"code": code, "state": q.get("state", "")})
            return RedirectResponse(target, status_code=302)

        async def token(request: Request) -> Response:
            gate = await self._gate()
            if gate is not None:
                return gate
            form = dict(await request.form())
            self.token_requests.append({k: str(v) for k, v in form.items()})
            grant = self.codes.pop(str(form.get("code")), None)
            verifier = str(form.get("code_verifier", ""))
            if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            expected = _b64(hashlib.sha256(verifier.encode()).digest())
            if grant["challenge"] != expected:
                return JSONResponse({"error": "invalid_grant", "error_description": "PKCE"}, status_code=400)
            return JSONResponse(
                {
                    "access_token": "at-" + secrets.token_hex(8),
                    "token_type": "Bearer",
                    "id_token": self.id_token(grant["nonce"]),
                }
            )

        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", discovery),
                Route("/jwks", jwks),
                Route("/authorize", authorize),
                Route("/token", token, methods=["POST"]),
            ]
        )


@contextmanager
def fake_idp(**kwargs: Any) -> Iterator[FakeIdP]:
    idp = FakeIdP(**kwargs)
    sock = free_socket()
    idp.issuer = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with serve(idp.app(), sock):
        yield idp


def login_with_fake(client: httpx.Client, proxy: str, next_path: str = "/") -> httpx.Response:
    """Proxy /login -> fake authorize (302 straight back) -> callback; returns the callback response."""
    response = client.get(proxy + "login", params={"next": next_path})
    if response.status_code != 302:
        return response
    back = client.get(response.headers["location"])
    assert back.status_code == 302, back.text
    return client.get(back.headers["location"])


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


# -- a site made by the real builder --------------------------------------------------------------


def write_site(
    root: Path,
    *,
    serial: int | None = None,
    now: datetime | None = None,
    keys: tuple[str, ...] = (SIGNING,),
    expires_in: timedelta | None = None,
) -> dict[str, Any]:
    """The real build of fixture marketplace ``restricted`` (plugins ``writing`` for all,
    ``finance-tools`` for the group finance: bob) copied to ``root``; with ``serial``, ``now`` or
    ``expires_in`` its index is re-signed with those values. Returns the index document."""
    document = copy_site("restricted", root, keys)
    if serial is None and now is None and expires_in is None:
        return document
    return republish(root, document, keys, serial=serial, now=now, expires_in=expires_in)


def publish_index(root: Path, document: dict[str, Any], keys: tuple[str, ...] = (SIGNING,)) -> None:
    """Re-sign and publish ``document`` (a built index, changed by a signing or rollback test)."""
    republish(root, document, keys)


def proxy_env(public_url: str, issuer: str, origin: Path | str, **extra: str) -> dict[str, str]:
    env = {
        "SKILLPORT_PUBLIC_URL": public_url,
        "SKILLPORT_SECRET_KEYS": SECRET,
        "SKILLPORT_SIGNING_KEYS": SIGNING,
        "SKILLPORT_ORIGIN": str(origin),
        "SKILLPORT_OIDC_ISSUER": issuer,
        "SKILLPORT_OIDC_CLIENT_ID": CLIENT_ID,
        "SKILLPORT_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "SKILLPORT_ALLOWED_DOMAINS": "corp.example",
        "SKILLPORT_INDEX_REFRESH_SECONDS": "1",
        "SKILLPORT_JWKS_MIN_REFETCH_SECONDS": "60",
    }
    env.update({("SKILLPORT_" + k.upper()): v for k, v in extra.items()})
    return env


@dataclass
class RunningProxy:
    url: str
    app: Any
    audit_path: Path

    def audit(self) -> list[dict[str, Any]]:
        if not self.audit_path.exists():
            return []
        return [json.loads(line) for line in self.audit_path.read_text().splitlines() if line.strip()]


@contextmanager
def run_proxy(site: Path | str, issuer: str, workdir: Path, **extra: str) -> Iterator[RunningProxy]:
    """The proxy under uvicorn on a free port, configured through the environment mapping."""
    from proxy.app import create_app
    from proxy.settings import Settings

    sock = free_socket()
    public = extra.pop("public_url", f"http://127.0.0.1:{sock.getsockname()[1]}/")
    audit_path = workdir / f"audit-{secrets.token_hex(4)}.jsonl"
    env = proxy_env(public, issuer, site, audit_log=str(audit_path), **extra)
    app = create_app(Settings.from_env(env))
    with serve(app, sock) as url:
        yield RunningProxy(url=url, app=app, audit_path=audit_path)


@contextmanager
def example_proxy(
    marketplace: Path, root: Path, users: list[dict[str, Any]], *, page_size: int | None = None
) -> Iterator[tuple[RunningProxy, dict[str, Any]]]:
    """``marketplace`` built by the real builder into ``root/site`` (for https://skills.corp.example/),
    served by the real proxy with the mock OIDC provider signing ``users`` in; yields it and its index.
    ``page_size``: skills per page of long lists (a small one makes the example a "large" catalog)."""
    from datetime import UTC, datetime

    from builder.build import build
    from builder.limits import DEFAULT_LIMITS, BuildLimits

    build(
        marketplace,
        root / "site",
        keys=[SIGNING],
        now=datetime.now(UTC),
        base_url="https://skills.corp.example/",
        limits=BuildLimits(catalog_page_skills=page_size) if page_size else DEFAULT_LIMITS,
    )
    doc = json.loads((root / "site" / "index.json").read_text())
    with mock_provider(users) as issuer, run_proxy(root / "site", issuer, root) as proxy:
        yield proxy, doc


def wait_until_up(url: str, process: subprocess.Popen[str], timeout: float, what: str) -> None:
    """Poll ``url`` until it answers 200; fail when ``process`` exits first or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{what} did not start (exit code {process.poll()})")
        time.sleep(0.2)
