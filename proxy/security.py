"""Security middleware (pure ASGI): headers + CSP on HTML, CSRF check, request body limit.

- Every response: ``X-Content-Type-Options``, ``Referrer-Policy: same-origin``, ``X-Frame-Options``;
  HSTS over HTTPS; a CSP with ``script-src 'self'`` on HTML (T46); ``sandbox; default-src 'none'`` on
  everything else but the site's own scripts, so no file opened directly can run in this origin (T49).
  ``same-origin`` sends no Referer to any other site (signed links, codes and consent requests never
  leak, not even the origin) yet lets browsers send our real ``Origin`` on our own form POSTs — under
  ``no-referrer`` Chromium sends ``Origin: null`` there, which a strict check cannot tell from a
  sandboxed attacker.
- Unsafe methods from another site are refused (``Sec-Fetch-Site`` / ``Origin``, see
  :func:`cross_site`), except on endpoints that use bearer or client credentials rather than
  cookies (T16).
- Bodies larger than the limit get 413, whether announced by Content-Length or streamed (T24).
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "frame-ancestors 'none'; form-action 'self'"
)
NON_PAGE_CSP = "sandbox; default-src 'none'"
# the site's own scripts (theme, search worker) are subresources of its pages, never skill files
SCRIPT_TYPES = ("text/javascript", "application/javascript")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_EXEMPT = ("/mcp", "/token", "/register", "/revoke")
REFERRER_POLICY = "same-origin"


def cross_site(sec_fetch_site: str | None, origin: str | None, public_origin: str) -> bool:
    """Whether an unsafe request must be refused as cross-site (T16).

    A browser that sends ``Sec-Fetch-Site`` is believed when it says ``same-origin`` (or ``none``:
    the member typed it), and refused for anything else (``same-site``, ``cross-site``). An
    ``Origin`` header must then be ours — except ``null``, which Chromium sends on a same-origin
    POST from a page whose referrer policy hides the origin; it is accepted only together with
    ``Sec-Fetch-Site: same-origin`` (an opaque origin, e.g. a sandboxed attacker frame, is
    ``cross-site`` there). Without ``Sec-Fetch-Site`` (older browsers, non-browser clients) a
    present ``Origin`` must equal ours, ``null`` included; no ``Origin`` at all is a non-browser
    client, which carries no ambient cookie of a victim."""
    if sec_fetch_site is not None and sec_fetch_site not in ("same-origin", "none"):
        return True
    if origin is None:
        return False
    if origin == "null":
        return sec_fetch_site != "same-origin"
    return origin != public_origin


class _BodyTooLarge(Exception):
    pass


class SecurityMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        public_origin: str,
        https: bool,
        max_body_bytes: int,
        csrf_exempt: Iterable[str] = CSRF_EXEMPT,
    ) -> None:
        self.app = app
        self.public_origin = public_origin
        self.https = https
        self.max_body_bytes = max_body_bytes
        self.csrf_exempt = tuple(csrf_exempt)

    def _cross_site(self, scope: Scope) -> bool:
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1")
            for k, v in scope["headers"]
            if k in (b"sec-fetch-site", b"origin")
        }
        return cross_site(headers.get("sec-fetch-site"), headers.get("origin"), self.public_origin)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if method in UNSAFE_METHODS and not path.startswith(self.csrf_exempt) and self._cross_site(scope):
            await PlainTextResponse("Cross-site request refused.", status_code=403)(scope, receive, send)
            return
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None:
            try:
                too_big = int(length) > self.max_body_bytes
            except ValueError:
                too_big = True
            if too_big:
                await PlainTextResponse("Request body too large.", status_code=413)(scope, receive, send)
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge
            return message

        async def secure_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                headers.setdefault("x-content-type-options", "nosniff")
                headers.setdefault("referrer-policy", REFERRER_POLICY)
                headers.setdefault("x-frame-options", "DENY")
                if self.https:
                    headers.setdefault("strict-transport-security", "max-age=31536000")
                content_type = headers.get("content-type", "")
                if content_type.startswith("text/html"):
                    headers.setdefault("content-security-policy", CSP)
                elif not content_type.startswith(SCRIPT_TYPES):
                    # anything that is not a page: if a browser opens it, it runs nothing (T49)
                    headers.setdefault("content-security-policy", NON_PAGE_CSP)
            await send(message)

        try:
            await self.app(scope, limited_receive, secure_send)
        except _BodyTooLarge:
            if not started:
                await PlainTextResponse("Request body too large.", status_code=413)(scope, receive, send)
