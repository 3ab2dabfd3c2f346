"""Bearer access tokens, for clients that cannot hold a browser session.

Claude Code adds ``<public URL>claude-code/marketplace.json`` as a marketplace by URL and sends the
``headers`` (or ``headersHelper`` output) its settings declare — ``Authorization: Bearer <access
token>`` from the proxy's own OAuth server (``skillport auth-header`` prints one); the member CLI
calls ``/api/v1`` the same way. The token must be one the proxy issued for its resource (T33),
unexpired; the member it names then sees exactly what their browser session would.

Only the ``Bearer`` scheme is read. ``Services.authenticate`` (proxy/services.py) is the one place a
request becomes a member: with a ``Bearer`` header that does not verify it raises ``InvalidToken``
(401 + ``WWW-Authenticate``) — never a silent fallback to the cookie, never a redirect to sign-in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from proxy.oauth import SkillportOAuthProvider
from proxy.session import Member

__all__ = ["MEMBER_KEY", "VIA_KEY", "BearerVerifier", "bearer_token", "member_from_claims"]

MEMBER_KEY = "skillport.member"  # the request-scope cache of the authenticated member
VIA_KEY = "skillport.via"
MAX_TOKEN_CHARS = 4096


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; ``""`` for an empty or oversized
    one; ``None`` when there is no header or it uses another scheme."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = value.strip()
    return token if 0 < len(token) <= MAX_TOKEN_CHARS else ""


class BearerVerifier:
    """Access tokens of the proxy's one OAuth provider, bound to its resource, to members."""

    def __init__(self, provider: SkillportOAuthProvider) -> None:
        self.provider = provider
        self.resource = provider.config.resource

    async def member(self, token: str) -> Member | None:
        """The member a valid access token for this server speaks for, else ``None``."""
        if not token:
            return None
        found = await self.provider.load_access_token(token)
        if found is None or found.resource != self.resource:
            return None
        return member_from_claims(found.claims or {})


def member_from_claims(claims: Mapping[str, Any]) -> Member | None:
    """The member an access token's claims name (``/mcp`` reads them through the MCP SDK)."""
    try:
        return Member(
            sub=str(claims.get("sub") or ""),
            email=str(claims.get("email") or ""),
            name=str(claims.get("name") or ""),
            hd=str(claims.get("hd") or ""),
        )
    except ValueError:
        return None
