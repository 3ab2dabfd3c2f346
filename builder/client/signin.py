"""``skillport login``: browser sign-in through the proxy's OAuth server — dynamic client
registration, PKCE S256, a one-shot loopback redirect on 127.0.0.1 — or, over SSH or without a
display, the address to open on any device and the address the browser ended on, pasted back."""

from __future__ import annotations

import base64
import hashlib
import secrets
import sys
import threading
import webbrowser
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from builder.client.credentials import TIMEOUT, Credentials, NotSignedIn
from builder.errors import BadInput, UpstreamError

CLIENT_NAME = "Skillport CLI"


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


def json_body(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise UpstreamError(f"{what}: the server answered {response.status_code} without JSON")
    return body


def discover(http: httpx.Client, server: str) -> dict[str, str]:
    """Endpoints and the resource (the proxy's ``/mcp``) from the RFC 9728 / RFC 8414 metadata."""
    try:
        prm = json_body(http.get(server + "/.well-known/oauth-protected-resource"), "resource metadata")
        issuer = str((prm.get("authorization_servers") or [server])[0]).rstrip("/")
        asm = json_body(http.get(issuer + "/.well-known/oauth-authorization-server"), "server metadata")
    except httpx.HTTPError as exc:
        raise UpstreamError(f"could not reach {server}: {exc}") from exc
    return {
        "resource": str(prm.get("resource") or server + "/mcp"),
        "register": str(asm.get("registration_endpoint") or server + "/register"),
        "authorize": str(asm.get("authorization_endpoint") or server + "/authorize"),
        "token": str(asm.get("token_endpoint") or server + "/token"),
    }


def browser_available(env: Mapping[str, str]) -> bool:
    """Whether ``webbrowser`` can show a page to the person at this terminal: ``$BROWSER`` set, or a
    graphical session (macOS, Windows, ``$DISPLAY``/``$WAYLAND_DISPLAY``) that is not an SSH login."""
    if env.get("BROWSER"):
        return True
    display = bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
    if env.get("SSH_CONNECTION") or env.get("SSH_TTY"):
        return display  # a forwarded X display, or nothing the member can see
    return display or sys.platform in ("darwin", "win32")


def parse_pasted(text: str) -> dict[str, str] | None:
    """The query of a pasted ``http://127.0.0.1:PORT/callback?code=…&state=…`` address (or of its
    ``?…`` part); ``None`` when it holds neither a code nor an error."""
    text = text.strip().strip("'\"<>")
    query = urlsplit(text).query if "://" in text else text.lstrip("?")
    found = {k: v[0] for k, v in parse_qs(query).items()}
    return found if ("code" in found or "error" in found) and "state" in found else None


PASTE_HELP = """No browser can be opened here (an SSH session or no display). To sign in:
  1. Open this address in a browser on any computer or phone:
{url}
  2. Sign in and choose Allow. The browser then tries to open {redirect}?code=…
     and shows an error page ("This site can't be reached") - that is expected.
  3. Copy the whole address from the browser's address bar, paste it here and press Enter."""


class _Callback:
    """Where the authorization redirect arrives: a one-shot HTTP server on 127.0.0.1 (``serve``),
    and/or the address the member pastes into the terminal (``paste``). Without ``serve`` the port
    is only reserved (bound, not listening): the browser is elsewhere and cannot reach it."""

    def __init__(self) -> None:
        self.result: dict[str, str] | None = None
        self.done = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != "/callback" or outer.done.is_set():
                    self.send_error(404)
                    return
                outer.result = {k: v[0] for k, v in parse_qs(parts.query).items()}
                ok = "code" in outer.result
                body = (
                    b"<!doctype html><title>Skillport</title><p>Signed in. You can close this tab."
                    if ok
                    else b"<!doctype html><title>Skillport</title><p>Sign-in did not complete."
                )
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                outer.done.set()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = HTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.server.server_bind()
        self.redirect_uri = f"http://127.0.0.1:{self.server.server_address[1]}/callback"

    def _read_pasted(self) -> None:
        for line in sys.stdin:
            if self.done.is_set():
                return
            if not line.strip():
                continue
            found = parse_pasted(line)
            if found is None:
                print(
                    "That is not the address the browser ended on (it contains ?code=… and state=…); "
                    "paste it again:",
                    file=sys.stderr,
                    flush=True,
                )
                continue
            self.result = found
            self.done.set()
            return

    def wait(self, timeout: float, *, serve: bool, paste: bool) -> dict[str, str]:
        if serve:
            self.server.server_activate()
            threading.Thread(
                target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
            ).start()
        if paste:
            threading.Thread(target=self._read_pasted, daemon=True).start()
        try:
            if not self.done.wait(timeout):
                raise UpstreamError(f"no sign-in within {int(timeout)} seconds; run `skillport login` again")
        finally:
            if serve:
                self.server.shutdown()
            self.server.server_close()
        assert self.result is not None
        return self.result


def sign_in_mode(*, no_browser: bool, env: Mapping[str, str], interactive: bool) -> str:
    """``browser`` (open it, receive the redirect on 127.0.0.1), ``print`` (--no-browser: print the
    address, receive the redirect, accept a pasted address too), ``paste`` (no browser can open:
    the member opens the address elsewhere and pastes where it ended). With no browser and no
    terminal to paste into, fail at once rather than wait for a sign-in that cannot happen."""
    if no_browser:
        return "print"
    if browser_available(env):
        return "browser"
    if interactive:
        return "paste"
    raise BadInput(
        "no browser can be opened here (no display, or an SSH session) and standard input is not a "
        "terminal to paste into: run `skillport login` in an interactive terminal, or pass --no-browser "
        "to print the sign-in address and open it yourself on this computer"
    )


def login(server: str, *, mode: str, timeout: float, now: float) -> Credentials:
    callback = _Callback()
    verifier, challenge = _pkce()
    state = secrets.token_urlsafe(16)
    with httpx.Client(timeout=TIMEOUT) as http:
        endpoints = discover(http, server)
        reg = http.post(
            endpoints["register"],
            json={
                "client_name": CLIENT_NAME,
                "redirect_uris": [callback.redirect_uri],
                "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
            },
        )
        client_id = str(json_body(reg, "client registration").get("client_id") or "")
        if reg.status_code >= 400 or not client_id:
            raise UpstreamError(f"client registration was refused ({reg.status_code})")
        url = (
            endpoints["authorize"]
            + "?"
            + urlencode(
                {
                    "response_type": "code",
                    "client_id": client_id,
                    "redirect_uri": callback.redirect_uri,
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                    "state": state,
                    "resource": endpoints["resource"],
                }
            )
        )
        if mode == "paste":
            print(PASTE_HELP.format(url=url, redirect=callback.redirect_uri), file=sys.stderr, flush=True)
        else:
            print(f"Sign in to Skillport in your browser:\n{url}", file=sys.stderr, flush=True)
        if mode == "browser" and not webbrowser.open(url):
            print("Could not open a browser: open the address above yourself.", file=sys.stderr, flush=True)
        interactive = mode == "paste" or (mode == "print" and sys.stdin.isatty())
        result = callback.wait(timeout, serve=mode != "paste", paste=interactive)
        if result.get("state") != state:
            raise BadInput("the sign-in answer did not match this login (state); run `skillport login` again")
        if "code" not in result:
            raise NotSignedIn(f"sign-in refused: {result.get('error_description') or result.get('error')}")
        tok = http.post(
            endpoints["token"],
            data={
                "grant_type": "authorization_code",
                "client_id": client_id,
                "code": result["code"],
                "code_verifier": verifier,
                "redirect_uri": callback.redirect_uri,
            },
        )
        body = json_body(tok, "token exchange")
        if tok.status_code >= 400 or "access_token" not in body:
            raise NotSignedIn(
                f"the server refused the sign-in: {body.get('error_description') or tok.status_code}"
            )
    return Credentials(
        server=server,
        client_id=client_id,
        access_token=str(body["access_token"]),
        refresh_token=str(body.get("refresh_token") or ""),
        expires_at=now + float(body.get("expires_in") or 3600),
    )
