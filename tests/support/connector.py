"""The connector tests' harness: a site built by the real builder, the real proxy under uvicorn with
``oidc-provider-mock`` as identity provider, signing in and consenting over HTTP, the OAuth steps by
hand (register, PKCE, authorize, token exchange, bearer headers) and the MCP SDK's OAuth client driving
discovery, registration, PKCE authorization and token exchange."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import httpx2
import uvicorn
from mcp import Client
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)

from tests.support.sites import copy_site, republish

SIGNING_KEY = "index-signing-key-for-tests-0123456789abcdef"
SECRET_KEY = "proxy-secret-key-for-tests-0123456789abcdefgh"
USERS = {
    "alice": {
        "sub": "alice",
        "email": "alice@corp.example",
        "email_verified": True,
        "hd": "corp.example",
        "name": "Alice",
    },
    "bob": {
        "sub": "bob",
        "email": "bob@corp.example",
        "email_verified": True,
        "hd": "corp.example",
        "name": "Bob",
    },
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_site(root: Path, *, serial: int | None = None) -> dict[str, Any]:
    """The real build of fixture marketplace ``office`` (plugins office, finance-tools for the group
    finance: bob, skillport; skills with a Git version history) copied to ``root``; with ``serial``
    its index is re-signed with that serial. Returns the index document."""
    document = copy_site("office", root, [SIGNING_KEY])
    return document if serial is None else republish(root, document, [SIGNING_KEY], serial=serial)


@contextlib.contextmanager
def oidc_provider() -> Iterator[str]:
    """``oidc-provider-mock`` as a real process on 127.0.0.1; yields its issuer URL."""
    port = free_port()
    exe = Path(sys.executable).parent / "oidc-provider-mock"
    cmd = [str(exe), "-p", str(port), "-H", "127.0.0.1"]
    for claims in USERS.values():
        cmd += ["--user-claims", json.dumps(claims)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    issuer = f"http://127.0.0.1:{port}"
    try:
        wait_http(issuer + "/.well-known/openid-configuration")
        yield issuer
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def wait_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@dataclass
class Proxy:
    url: str
    issuer: str
    audit_path: Path
    state: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def audit(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.audit_path.read_text().splitlines() if line.strip()]


def proxy_env(site: Path, issuer: str, port: int, audit: Path, **extra: str) -> dict[str, str]:
    env = {
        "SKILLPORT_PUBLIC_URL": f"http://127.0.0.1:{port}/",
        "SKILLPORT_SECRET_KEYS": SECRET_KEY,
        "SKILLPORT_SIGNING_KEYS": SIGNING_KEY,
        "SKILLPORT_ORIGIN": str(site),
        "SKILLPORT_OIDC_ISSUER": issuer,
        "SKILLPORT_OIDC_CLIENT_ID": "skillport-test",
        "SKILLPORT_OIDC_CLIENT_SECRET": "test-secret",
        "SKILLPORT_ALLOWED_DOMAINS": "corp.example",
        "SKILLPORT_AUDIT_LOG": str(audit),
    }
    env.update(extra)
    return env


class BearerInjector:
    """A small ASGI layer for clients that cannot send headers (the MCP conformance suite): once
    ``token`` is set, requests to ``/mcp`` without an ``Authorization`` header get ``Bearer token``."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.token = ""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = scope.get("headers", [])
        if (
            scope["type"] == "http"
            and self.token
            and scope["path"] == "/mcp"
            and not any(k == b"authorization" for k, _ in headers)
        ):
            scope = {**scope, "headers": [*headers, (b"authorization", f"Bearer {self.token}".encode())]}
        await self.app(scope, receive, send)


@contextlib.contextmanager
def run_proxy(site: Path, issuer: str, audit: Path, *, wrap: Any = None, **extra: str) -> Iterator[Proxy]:
    """The real proxy (``create_app``) under uvicorn in a thread on a free 127.0.0.1 port; ``wrap``
    (an ASGI layer class) goes in front of it, reachable as ``Proxy.extra["wrap"]``."""
    from builder.cli import site_build
    from proxy.app import create_app
    from proxy.settings import Settings

    port = free_port()
    settings = Settings.from_env(proxy_env(site, issuer, port, audit, **extra))
    app = create_app(settings, site_build=site_build)  # composed as `skillport serve` does
    front = wrap(app) if wrap is not None else app
    config = uvicorn.Config(front, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/healthz")
        yield Proxy(
            url=url, issuer=issuer, audit_path=audit, state=app.state.skillport, extra={"wrap": front}
        )
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def sample_proxy(tmp_path_factory: Any) -> Iterator[Proxy]:
    """The real proxy over the built ``office`` fixture site, with its own OIDC provider and audit log."""
    root = tmp_path_factory.mktemp("site")
    write_site(root)
    audit = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    with oidc_provider() as issuer, run_proxy(root, issuer, audit) as running:
        yield running


def sign_in_and_consent(authorize_url: str, user: str, *, decision: str = "allow") -> dict[str, str]:
    """A person signing in by HTTP: follow /authorize -> consent -> /login -> IdP form (POST sub) ->
    back -> consent form POST. Returns the query of the final redirect to the client."""
    with httpx.Client(follow_redirects=False, timeout=10.0) as http:
        url = authorize_url
        for _ in range(12):
            r = http.get(url)
            if r.status_code in (301, 302, 303, 307):
                target = urljoin(url, r.headers["location"])
                if (
                    not target.startswith(("http://127.0.0.1", "http://localhost"))
                    or "code=" in target
                    or "error=" in target
                ):
                    return {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}
                url = target
                continue
            if "<form" in r.text and "sub" in r.text and "decision" not in r.text:
                # the identity provider's sign-in form
                r = http.post(url, data={"sub": user})
                assert r.status_code in (302, 303), r.text[:300]
                url = urljoin(url, r.headers["location"])
                continue
            if 'name="decision"' in r.text:
                form = hidden_fields(r.text)
                r = http.post(urljoin(url, "/oauth/consent"), data={**form, "decision": decision})
                assert r.status_code in (302, 303), r.text[:300]
                target = r.headers["location"]
                return {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}
            raise AssertionError(f"unexpected page at {url}: {r.status_code} {r.text[:300]}")
    raise AssertionError("too many redirects")


def hidden_fields(page: str) -> dict[str, str]:
    import re

    return {
        m.group(1): _unescape(m.group(2))
        for m in re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
    }


def _unescape(text: str) -> str:
    import html

    return html.unescape(text)


def env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


LOOPBACK = "http://127.0.0.1:43111/callback"


CLAUDE_AI = "https://claude.ai/api/mcp/auth_callback"


MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


TOOLS_LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}


def register(proxy: Proxy, redirect: str = LOOPBACK, **extra: Any) -> httpx.Response:
    body = {
        "client_name": "Test client",
        "redirect_uris": [redirect],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        **extra,
    }
    return httpx.post(proxy.url + "/register", json=body)


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def authorize_url(
    proxy: Proxy, client_id: str, challenge: str, redirect: str = LOOPBACK, **extra: str
) -> str:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "st-123",
        "resource": proxy.url + "/mcp",
        **extra,
    }
    return proxy.url + "/authorize?" + urlencode(query)


def get_code(proxy: Proxy, user: str = "alice", redirect: str = LOOPBACK) -> tuple[str, str, str]:
    client_id = register(proxy, redirect).json()["client_id"]
    verifier, challenge = pkce()
    result = sign_in_and_consent(authorize_url(proxy, client_id, challenge, redirect), user)
    assert result["state"] == "st-123" and "code" in result, result
    return client_id, result["code"], verifier


def token(proxy: Proxy, **form: str) -> httpx.Response:
    return httpx.post(proxy.url + "/token", data=form)


def exchange(
    proxy: Proxy, client_id: str, code: str, verifier: str, redirect: str = LOOPBACK
) -> httpx.Response:
    return token(
        proxy,
        grant_type="authorization_code",
        client_id=client_id,
        code=code,
        code_verifier=verifier,
        redirect_uri=redirect,
    )


def mcp(proxy: Proxy, access: str | None, **headers: str) -> httpx.Response:
    h = dict(MCP_HEADERS)
    if access:
        h["Authorization"] = f"Bearer {access}"
    h.update(headers)
    return httpx.post(proxy.url + "/mcp", json=TOOLS_LIST, headers=h)


def bearer(proxy: Proxy, user: str) -> dict[str, str]:
    client_id, code, verifier = get_code(proxy, user)
    return {"Authorization": "Bearer " + exchange(proxy, client_id, code, verifier).json()["access_token"]}


class MemoryStorage(TokenStorage):
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


def oauth_client(
    proxy: Proxy, user: str, storage: MemoryStorage, *, redirect: str = "http://127.0.0.1:33418/callback"
) -> OAuthClientProvider:
    result: dict[str, str] = {}

    async def redirect_handler(url: str) -> None:
        result.update(await asyncio.to_thread(sign_in_and_consent, url, user))

    async def callback_handler() -> AuthorizationCodeResult:
        assert "code" in result, result
        return AuthorizationCodeResult(code=result["code"], state=result.get("state"), iss=result.get("iss"))

    return OAuthClientProvider(
        server_url=proxy.url + "/mcp",
        client_metadata=OAuthClientMetadata(
            client_name="Test Claude Code",
            redirect_uris=[redirect],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )


async def mcp_session(proxy: Proxy, user: str, mode: str, calls: list[dict[str, Any]]) -> dict[str, Any]:
    storage = MemoryStorage()
    out: dict[str, Any] = {}
    async with httpx2.AsyncClient(auth=oauth_client(proxy, user, storage), timeout=30.0) as http:
        transport = streamable_http_client(proxy.url + "/mcp", http_client=http)
        async with Client(transport, mode=mode) as client:  # type: ignore[arg-type]
            listed = await client.list_tools()
            out["tools"] = listed
            out["results"] = []
            for args in calls:
                result = await client.call_tool("skillport", args)
                text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
                out["results"].append((bool(result.is_error), text))
    out["storage"] = storage
    return out
