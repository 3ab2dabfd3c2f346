"""Bearer access tokens on the served catalog files, for clients that cannot hold a browser session.

Claude Code adds ``<public URL>claude-code/marketplace.json`` as a marketplace by URL and sends the
``headers`` (or ``headersHelper`` output) its settings declare — ``Authorization: Bearer <access
token>`` from the proxy's own OAuth server (``skillport auth-header`` prints one). The token must be
one the proxy issued for its resource (T33), unexpired; the member it names then sees exactly what
their browser session would: the same per-plugin filtering (T26), ``Cache-Control: private``.

Only the ``Bearer`` scheme is read; a request without it falls back to the session cookie. A
``Bearer`` header that does not verify is a 401 with ``WWW-Authenticate`` — never a silent
fallback to the cookie, and never a redirect to sign-in.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from proxy.identity import client_ip
from proxy.oauth import OAuthConfig, SkillportOAuthProvider, www_authenticate
from proxy.session import Member
from proxy.settings import Settings

__all__ = ["MEMBER_KEY", "VIA_KEY", "BearerAuth", "bearer_token"]

MEMBER_KEY = "skillport.member"  # the request-scope cache ``proxy.identity.current_member`` reads
VIA_KEY = "skillport.via"
MAX_TOKEN_CHARS = 4096
AUDITED_PATHS = frozenset({"claude-code/marketplace.json"})


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; ``""`` for an empty or oversized
    one; ``None`` when there is no header or it uses another scheme."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = value.strip()
    return token if 0 < len(token) <= MAX_TOKEN_CHARS else ""


class BearerAuth:
    """Verifies access tokens for the catalog routes (GET/HEAD of served files)."""

    def __init__(self, settings: Settings, state: object | None = None) -> None:
        config = OAuthConfig.from_settings(settings)
        self.provider = SkillportOAuthProvider(config)
        self.resource = config.resource
        self.state = state

    async def member(self, token: str) -> Member | None:
        """The member a valid access token for this server speaks for, else ``None``."""
        if not token:
            return None
        found = await self.provider.load_access_token(token)
        if found is None or found.resource != self.resource:
            return None
        claims = found.claims or {}
        try:
            return Member(
                sub=str(claims.get("sub") or ""),
                email=str(claims.get("email") or ""),
                name=str(claims.get("name") or ""),
                hd=str(claims.get("hd") or ""),
            )
        except ValueError:
            return None

    async def authenticate(self, request: Request, path: str = "") -> Response | None:
        """``None`` when the request carries no bearer token (the session decides) or a valid one
        (then ``current_member(request)`` returns its member); a 401 response otherwise (T33)."""
        token = bearer_token(request)
        if token is None:
            return None
        member = await self.member(token)
        if member is None:
            return self.refused()
        request.scope[MEMBER_KEY] = member
        request.scope[VIA_KEY] = "bearer"
        audit = getattr(self.state, "audit", None)
        if audit is not None and path in AUDITED_PATHS and request.method == "GET":
            audit.record("catalog-read", member=member, ip=client_ip(request), path=path, via="bearer")
        return None

    def refused(self) -> Response:
        return JSONResponse(
            {
                "error": "invalid_token",
                "detail": "the bearer token is not valid here (expired, or issued by another server); "
                "get a new one with `skillport auth-header` or sign in again",
            },
            status_code=401,
            headers={
                "WWW-Authenticate": www_authenticate(self.provider.config, "invalid_token"),
                "Cache-Control": "no-store",
            },
        )
