"""Every browser flow in real Chromium (Playwright + Debian chromium) against the real proxy serving
the real build of examples/marketplace, with oidc-provider-mock's own sign-in page:

- catalog sign-in and sign-out (the account bar's Sign out is a POST form, T59);
- the connector's OAuth authorization for a client registered by real dynamic registration with a
  loopback redirect URI: IdP page -> consent -> Allow / Deny -> back to the client (T16: under the
  old ``Referrer-Policy: no-referrer`` Chromium sent ``Origin: null`` and Allow was refused);
- ``skillport login`` finished in Chromium, on this computer ($BROWSER) and over SSH (paste flow in
  a pseudo-terminal);
- the proxy's own pages (consent, signed out, not in organization, not found, IdP outage) in the
  catalog's header and palette. Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server
import json
import os
import pty
import secrets
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.support.browser import chromium
from tests.support.servers import SIGNING, RunningProxy, free_port, mock_provider, run_proxy
from tests.support.sites import EXAMPLE, copy_site

pytestmark = [pytest.mark.browser, pytest.mark.external]

REPO_ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"
USERS = [
    {"sub": "alice", "email": "alice@corp.example", "email_verified": True, "hd": "corp.example"},
    {"sub": "eve", "email": "eve@gmail.com", "email_verified": True},
]
HEADER_COLOR = "() => getComputedStyle(document.querySelector('.md-header')).backgroundColor"


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    root = tmp_path_factory.mktemp("flows")
    copy_site(EXAMPLE, root / "site", [SIGNING])
    with mock_provider(USERS) as issuer, run_proxy(root / "site", issuer, root) as running:
        yield running


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    with chromium(chromium_path) as instance:
        yield instance


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1100, "height": 800})
    ctx.set_default_timeout(20_000)
    try:
        yield ctx
    finally:
        ctx.close()


class Client:
    """A tiny OAuth client's loopback server: records the redirect's query at /cb; also serves an
    attacker's page at /attack.html (reached as http://localhost:PORT, another site)."""

    def __init__(self, attack_html: str = "") -> None:
        self.queries: list[dict[str, str]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                body = b"ok"
                if parts.path == "/cb":
                    outer.queries.append({k: v[0] for k, v in parse_qs(parts.query).items()})
                    body = b"<!doctype html><title>client</title><p>client got the answer"
                elif parts.path == "/attack.html":
                    body = attack_html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.redirect_uri = f"http://127.0.0.1:{self.port}/cb"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def _register(proxy: RunningProxy, redirect_uri: str, name: str) -> str:
    reg = httpx.post(
        proxy.url + "register",
        json={
            "client_name": name,
            "redirect_uris": [redirect_uri],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
        },
    )
    assert reg.status_code == 201, reg.text
    return str(reg.json()["client_id"])


def _authorize_url(proxy: RunningProxy, client_id: str, redirect_uri: str, challenge: str, state: str) -> str:
    return (
        proxy.url
        + "authorize?"
        + urlencode(
            {
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": redirect_uri,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "state": state,
                "resource": proxy.url + "mcp",
            }
        )
    )


def _sign_in_at_idp(page: Any, user: str) -> None:
    page.locator(f"button[value='{user}']").click()


def _catalog_header_color(page: Any, proxy: RunningProxy) -> str:
    page.goto(proxy.url)
    return str(page.evaluate(HEADER_COLOR))


def test_catalog_sign_in_and_sign_out_with_the_post_button(proxy: RunningProxy, context: Any) -> None:
    page = context.new_page()
    page.goto(proxy.url + "skills/meeting-notes/")
    assert "/authorize" in page.url  # the identity provider's own page
    _sign_in_at_idp(page, "alice")
    page.wait_for_url(proxy.url + "skills/meeting-notes/")
    bar = page.locator(".sp-account")
    assert "Signed in as alice@corp.example" in bar.inner_text()
    shot(page, "flow-catalog-signed-in")
    page.locator(".md-header").screenshot(path=str(SCREENSHOTS / "flow-catalog-header.png"))
    bar.screenshot(path=str(SCREENSHOTS / "flow-account-bar.png"))
    catalog_color = str(page.evaluate(HEADER_COLOR))
    bar.get_by_role("button", name="Sign out").click()
    page.wait_for_url(proxy.url + "signed-out")
    assert page.locator("h1").inner_text() == "Signed out"
    assert page.evaluate(HEADER_COLOR) == catalog_color  # the catalog's header, same palette
    assert page.locator("a[href='/']").count() >= 1  # links home
    shot(page, "flow-signed-out")
    page.goto(proxy.url + "skills/meeting-notes/")
    assert "/authorize" in page.url  # really signed out: sent to sign in again
    assert any(e["action"] == "sign-out" for e in proxy.audit())


@pytest.mark.threat("T59")
def test_t59_cross_site_link_or_form_does_not_sign_out(proxy: RunningProxy, context: Any) -> None:
    attack = (
        f'<!doctype html><a id="link" href="{proxy.url}logout">win a prize</a>'
        f'<form method="post" action="{proxy.url}logout"><button id="post">or here</button></form>'
    )
    evil = Client(attack)
    try:
        page = context.new_page()
        page.goto(proxy.url)
        _sign_in_at_idp(page, "alice")
        page.wait_for_url(proxy.url)
        attacker = f"http://localhost:{evil.port}/attack.html"  # another site than 127.0.0.1
        page.goto(attacker)
        page.locator("#link").click()  # top-level GET: the Lax session cookie goes along
        page.wait_for_url(proxy.url + "logout")
        assert page.locator("h1").inner_text() == "Sign out?"  # it only asks
        shot(page, "flow-sign-out-confirm")
        page.goto(attacker)
        page.locator("#post").click()
        page.wait_for_load_state()
        assert "Cross-site request refused" in page.content()
        page.goto(proxy.url + "skills/meeting-notes/")
        assert page.url == proxy.url + "skills/meeting-notes/"  # still signed in
        assert "Signed in as alice@corp.example" in page.locator(".sp-account").inner_text()
    finally:
        evil.close()


@pytest.mark.threat("T16")
def test_t16_connector_authorization_allow_and_deny_in_chromium(proxy: RunningProxy, context: Any) -> None:
    client = Client()
    try:
        client_id = _register(proxy, client.redirect_uri, "Claude")
        verifier, challenge = _pkce()
        page = context.new_page()
        posts: list[dict[str, str]] = []
        page.on(
            "request",
            lambda r: posts.append(r.headers) if r.method == "POST" and "/oauth/consent" in r.url else None,
        )
        page.goto(_authorize_url(proxy, client_id, client.redirect_uri, challenge, "s-allow"))
        _sign_in_at_idp(page, "alice")
        page.wait_for_url("**/oauth/consent?req=*")
        assert page.locator("h1").inner_text() == "Allow access to your skills?"
        facts = page.locator("dl.sp-facts").inner_text()
        assert "127.0.0.1" in facts and "a program on this computer" in facts
        assert "\u201cClaude\u201d" in facts and "not checked" in facts  # T56: a claim, apart
        assert page.evaluate(HEADER_COLOR) == _catalog_header_color(context.new_page(), proxy)
        shot(page, "flow-consent")
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(client.redirect_uri + "?*")
        answer = client.queries[-1]
        assert answer["state"] == "s-allow" and answer["code"]
        assert posts and posts[0].get("origin") == proxy.url.rstrip("/")  # the real origin, not null
        token = httpx.post(
            proxy.url + "token",
            data={
                "grant_type": "authorization_code",
                "client_id": client_id,
                "code": answer["code"],
                "code_verifier": verifier,
                "redirect_uri": client.redirect_uri,
            },
        )
        assert token.status_code == 200 and token.json()["access_token"], token.text

        # the same member, already signed in, denies a second request
        page.goto(_authorize_url(proxy, client_id, client.redirect_uri, challenge, "s-deny"))
        page.wait_for_url("**/oauth/consent?req=*")
        page.get_by_role("button", name="Deny").click()
        page.wait_for_url(client.redirect_uri + "?*")
        assert client.queries[-1]["error"] == "access_denied" and "code" not in client.queries[-1]
        assert client.queries[-1]["state"] == "s-deny"
    finally:
        client.close()
    actions = [e["action"] for e in proxy.audit()]
    assert "oauth.consent" in actions and "oauth.deny" in actions


def _cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER", "SSH_CONNECTION", "SSH_TTY")
    }
    env.update(HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "xdg"), **extra)
    return env


def test_skillport_login_completes_in_chromium(proxy: RunningProxy, context: Any, tmp_path: Path) -> None:
    opened = tmp_path / "opened-url"
    opener = tmp_path / "open-browser"
    opener.write_text(f'#!/bin/sh\nprintf "%s" "$1" > {opened}\n')
    opener.chmod(0o755)
    env = _cli_env(tmp_path, BROWSER=f"{opener} %s")
    proc = subprocess.Popen(
        [sys.executable, "-m", "builder.cli", "login", "--server", proxy.url],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (opened.exists() and opened.read_text()):
            assert proc.poll() is None and time.monotonic() < deadline, "login opened no browser"
            time.sleep(0.1)
        page = context.new_page()
        page.goto(opened.read_text())  # what the member's browser opens
        _sign_in_at_idp(page, "alice")
        page.wait_for_url("**/oauth/consent?req=*")
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url("http://127.0.0.1:*/callback?*")
        assert "Signed in. You can close this tab." in page.content()
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert f"Signed in to {proxy.url.rstrip('/')} as alice@corp.example" in out
    assert json.loads((tmp_path / "xdg" / "skillport" / "credentials.json").read_text())["access_token"]


def _read_until(fd: int, needle: str, timeout: float) -> str:
    seen = ""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"no {needle!r} in: {seen}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk.decode("utf-8", "replace")
    return seen


def test_skillport_login_over_ssh_pastes_the_address(
    proxy: RunningProxy, context: Any, tmp_path: Path
) -> None:
    """No display, an SSH session, a real pseudo-terminal: the CLI prints the address, the member
    opens it in a browser elsewhere (the 127.0.0.1 redirect cannot reach this host) and pastes the
    address the browser ended on."""
    env = _cli_env(tmp_path, SSH_CONNECTION="192.0.2.10 50000 192.0.2.20 22", TERM="dumb")
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "builder.cli", "login", "--server", proxy.url],
        cwd=REPO_ROOT,
        env=env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    try:
        shown = _read_until(master, "press Enter", 30)
        assert "No browser can be opened here" in shown
        url = next(line.strip() for line in shown.splitlines() if "/authorize?" in line)
        page = context.new_page()
        failed: list[str] = []
        page.on("requestfailed", lambda r: failed.append(r.url) if "/callback?" in r.url else None)
        page.goto(url)
        _sign_in_at_idp(page, "alice")
        page.wait_for_url("**/oauth/consent?req=*")
        with contextlib.suppress(Exception):  # the browser cannot reach 127.0.0.1 of the SSH host
            page.get_by_role("button", name="Allow").click()
        deadline = time.monotonic() + 15
        while not failed:
            assert time.monotonic() < deadline, "the browser was never sent back to the CLI"
            page.wait_for_timeout(100)
        os.write(master, b"this is not it\n")
        assert "paste it again" in _read_until(master, "paste it again", 15)
        os.write(master, failed[0].encode() + b"\n")  # what the member copies from the address bar
        done = _read_until(master, "Signed in to", 30)
        assert "as alice@corp.example" in _read_until(master, "credentials", 10) or "alice" in done
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)


def test_proxy_pages_look_like_the_catalog_and_say_what_next(
    proxy: RunningProxy, context: Any, tmp_path: Path
) -> None:
    page = context.new_page()
    page.goto(proxy.url)
    _sign_in_at_idp(page, "alice")
    page.wait_for_url(proxy.url)
    catalog_color = page.evaluate(HEADER_COLOR)
    site_name = page.locator(".md-header__topic .md-ellipsis").first.inner_text().strip()

    response = page.goto(proxy.url + "skills/no-such-skill/")
    assert response is not None and response.status == 404
    assert page.locator("h1").inner_text() == "Not found"
    assert "Check the address" in page.locator("main").inner_text()
    assert page.evaluate(HEADER_COLOR) == catalog_color
    assert page.locator("header").inner_text().strip() == site_name
    shot(page, "flow-not-found")

    eve = context.browser.new_context(viewport={"width": 1100, "height": 800})
    try:
        other = eve.new_page()
        other.goto(proxy.url)
        _sign_in_at_idp(other, "eve")
        other.wait_for_load_state()
        assert other.locator("h1").inner_text() == "Not in your organization"
        assert "eve@gmail.com" in other.locator("main").inner_text()
        assert other.evaluate(HEADER_COLOR) == catalog_color
        shot(other, "flow-not-in-organization")
        other.get_by_role("button", name="Sign out").click()
        other.wait_for_url(proxy.url + "signed-out")
    finally:
        eve.close()

    dead_issuer = f"http://127.0.0.1:{free_port()}"  # nothing listens: the IdP is down
    with (
        run_proxy(Path(proxy.app.state.skillport.settings.origin), dead_issuer, tmp_path) as down,
        contextlib.closing(context.browser.new_context(viewport={"width": 1100, "height": 800})) as fresh,
    ):
        outage = fresh.new_page()  # cookies are per host, not per port: a browser never signed in
        response = outage.goto(down.url + "skills/meeting-notes/")
        assert response is not None and response.status == 503
        assert outage.locator("h1").inner_text() == "Sign-in is unavailable right now"
        assert "try again" in outage.locator("main").inner_text().lower()
        assert outage.get_by_role("link", name="Try signing in again").count() == 1
        assert outage.evaluate(HEADER_COLOR) == catalog_color  # palette read from the site itself
        shot(outage, "flow-idp-outage")
