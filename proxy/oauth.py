"""OAuth 2.1 authorization server for MCP clients — stateless and signed.

The proxy is both the authorization server (AS) and the resource server (RS) of ``/mcp``. It uses
the MCP SDK's building blocks (``mcp.server.auth``: metadata, registration, authorize and token
handlers with PKCE S256 checks) and supplies a provider whose every record is signed with
``builder.signing.serializer`` under its own purpose, so nothing is stored server-side:

- client registration (RFC 7591): the ``client_id`` *is* the signed registration (redirect URIs,
  name, auth method); a confidential client's secret is an HMAC of its ``client_id``;
- ``/authorize`` sends the member through the proxy's sign-in (``/login?next=…``) to a consent page
  naming the client; the POST carries a CSRF token bound to the member and the request (T16);
- authorization codes (short-lived) and access tokens carry the member and are bound to the
  ``/mcp`` resource (``aud``, T33); refresh tokens rotate on every use.

Single use of codes and refresh tokens is enforced by a per-process ``ReplayGuard``
(``proxy.replay``): every unexpired entry is kept, one per grant for refresh tokens, and new
sign-ins are refused when it is full (T51). **Multi-replica deployments:** each replica has its own
guard, so a code or refresh token replayed against a *different* replica is not caught there; PKCE
still binds a code to its client's verifier, and lifetimes bound the window. Route ``/token`` to
one replica (sticky) to get strict single use everywhere (docs/admin/revocation.md).

A grant (the chain of refresh tokens from one consent) lives at most ``grant_lifetime`` from its
start; each refresh and each access token re-checks the organization rules and the revocation
list (T52). ``/authorize`` never redirects to a client's URI before the member has seen the consent
page: errors are shown as a page (T50).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer
from mcp.server.auth.handlers.metadata import MetadataHandler
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    AuthorizeError,
    RefreshToken,
    RegistrationError,
    TokenError,
    construct_redirect_uri,
)
from mcp.server.auth.routes import (
    build_metadata,
    cors_middleware,
    create_auth_routes,
    create_protected_resource_routes,
)
from mcp.server.auth.settings import ClientRegistrationOptions, RevocationOptions
from mcp.shared.auth import OAuthClientInformationFull, OAuthMetadata, OAuthToken, ProtectedResourceMetadata
from pydantic import AnyHttpUrl, AnyUrl
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from builder.signing import Purpose, serializer
from proxy.audit import AuditLog
from proxy.pages import Action, look_of, paragraph, render
from proxy.replay import GuardFull, ReplayGuard
from proxy.revocation import RevocationList, revocations_for
from proxy.security import cross_site

SCOPE = "skillport"
BUSY = "this server is at its limit of active sign-ins; try again later"
WITHDRAWN = "your access to this catalog was withdrawn; sign in again"
CLAUDE_CALLBACKS = frozenset(
    {"https://claude.ai/api/mcp/auth_callback", "https://claude.com/api/mcp/auth_callback"}
)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
DEFAULT_REDIRECT_HOSTS = ("claude.ai", "claude.com", *sorted(LOOPBACK_HOSTS))
CONSENT_PATH = "/oauth/consent"
AS_METADATA_PATH = "/.well-known/oauth-authorization-server"
CONSENT_LIFETIME = 600
REGISTRATION_LIFETIME = 365 * 86400
MAX_REDIRECT_URIS = 10
CONSENT_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}


class Clock:
    """Seconds since the epoch; injected so tests can move time."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self.now = now


def redirect_uri_problem(uri: str, hosts: tuple[str, ...] = DEFAULT_REDIRECT_HOSTS) -> str | None:
    """Why ``uri`` may not be a redirect URI (None when fine): HTTPS on an allowed host, plain HTTP
    only on loopback (Claude Code), no user@ part, no fragments, no other schemes (T35, T50)."""
    try:
        parts = urlsplit(uri)
        host = parts.hostname
    except ValueError:
        return f"{uri!r} is not a URL"
    if parts.fragment:
        return f"{uri!r} must not contain a fragment"
    if "@" in parts.netloc:
        return f"{uri!r} must not contain a user name (user@host): use https://host/…"
    if parts.scheme in ("https", "http") and host and host not in hosts and "*" not in hosts:
        return (
            f"{uri!r} is refused: {host} is not an allowed redirect host "
            f"(the administrator's SKILLPORT_OAUTH_REDIRECT_HOSTS: {', '.join(hosts)})"
        )
    if parts.scheme == "https" and host:
        return None
    if parts.scheme == "http" and host in LOOPBACK_HOSTS:
        return None
    return (
        f"{uri!r} is refused: use an https:// redirect URI (Claude.ai: "
        f"https://claude.ai/api/mcp/auth_callback) or a loopback http://127.0.0.1:PORT/… one"
    )


@dataclass(frozen=True)
class OAuthConfig:
    """What the authorization server needs from the proxy settings."""

    public_url: str
    keys: tuple[str, ...]
    code_lifetime: int = 300
    access_lifetime: int = 3600
    refresh_lifetime: int = 30 * 86400
    grant_lifetime: int = 90 * 86400
    redirect_hosts: tuple[str, ...] = DEFAULT_REDIRECT_HOSTS
    replay_entries: int = 200_000
    # the organization rules for a member record ({"email", "hd", …}); None: not re-checked
    member_allowed: Callable[[Mapping[str, str]], bool] | None = None
    revocations: RevocationList | None = None

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("OAuthConfig needs at least one secret key")
        if not self.public_url.endswith("/"):
            object.__setattr__(self, "public_url", self.public_url + "/")

    @classmethod
    def from_settings(cls, settings: Any, revocations: RevocationList | None = None) -> OAuthConfig:
        """``revocations``: the proxy's one list (``Services``); read from the settings' file if not given."""
        from proxy.identity import org_allows

        def member_allowed(member: Mapping[str, str]) -> bool:
            return org_allows(str(member.get("email") or ""), member.get("hd") or None, settings)

        return cls(
            public_url=str(settings.public_url),
            keys=tuple(settings.secrets),
            code_lifetime=int(settings.oauth_code_lifetime),
            access_lifetime=int(settings.access_token_lifetime),
            refresh_lifetime=int(settings.refresh_token_lifetime),
            grant_lifetime=int(settings.grant_max_lifetime),
            redirect_hosts=tuple(settings.oauth_redirect_hosts),
            replay_entries=int(settings.oauth_replay_max_entries),
            member_allowed=member_allowed,
            revocations=revocations or revocations_for(settings.revocation_file),
        )

    @property
    def issuer(self) -> str:
        return self.public_url

    @property
    def resource(self) -> str:
        """The protected resource: the MCP endpoint (and the ``aud`` of every access token)."""
        return self.public_url + "mcp"

    @property
    def origin(self) -> str:
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}"

    def url(self, path: str) -> str:
        return self.public_url + path.lstrip("/")


class SkillportCode(AuthorizationCode):
    jti: str
    member: dict[str, str]


class SkillportRefresh(RefreshToken):
    jti: str
    member: dict[str, str]
    family: str = ""
    generation: int = 0
    started: float = 0.0


def _loads(s: URLSafeTimedSerializer, token: str, max_age: int) -> dict[str, Any] | None:
    if not isinstance(token, str) or len(token) > 8192:
        return None
    try:
        value = s.loads(token, max_age=max_age)
    except (BadSignature, ValueError, TypeError):
        return None
    return value if isinstance(value, dict) else None


class SkillportOAuthProvider:
    """``OAuthAuthorizationServerProvider`` with signed, self-describing records (no storage)."""

    def __init__(self, config: OAuthConfig, *, clock: Clock | None = None, guard: ReplayGuard | None = None):
        self.config = config
        self.clock = clock or Clock()
        self.guard = guard if guard is not None else ReplayGuard(config.replay_entries)
        keys = list(config.keys)
        self._client = serializer(keys, Purpose.OAUTH_CLIENT)
        self._code = serializer(keys, Purpose.OAUTH_CODE)
        self._access = serializer(keys, Purpose.OAUTH_ACCESS)
        self._refresh = serializer(keys, Purpose.OAUTH_REFRESH)
        self._consent = serializer(keys, Purpose.CONSENT)
        self._secret_keys = [
            hashlib.sha256(("skillport.oauth-client-secret|" + k).encode()).digest() for k in keys
        ]

    # -- clients ----------------------------------------------------------------------------------

    def _client_secret(self, client_id: str, key: bytes) -> str:
        return hmac.new(key, client_id.encode(), hashlib.sha256).hexdigest()

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        uris = [str(u) for u in client_info.redirect_uris or []]
        if not uris or len(uris) > MAX_REDIRECT_URIS:
            raise RegistrationError(
                "invalid_redirect_uri", f"register 1 to {MAX_REDIRECT_URIS} redirect_uris"
            )
        for uri in uris:
            problem = redirect_uri_problem(uri, self.config.redirect_hosts)
            if problem:
                raise RegistrationError("invalid_redirect_uri", problem)
        method = client_info.token_endpoint_auth_method or "none"
        payload: dict[str, Any] = {
            "r": uris,
            "n": (client_info.client_name or "")[:100],
            "m": method,
            "g": list(client_info.grant_types),
            "s": client_info.scope or SCOPE,
            "i": int(self.clock.now()),
            "x": secrets.token_urlsafe(8),
        }
        client_id = str(self._client.dumps(payload))
        client_info.client_id = client_id
        client_info.client_id_issued_at = payload["i"]
        client_info.scope = payload["s"]
        client_info.client_secret = (
            None if method == "none" else self._client_secret(client_id, self._secret_keys[-1])
        )

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        data = _loads(self._client, client_id, REGISTRATION_LIFETIME)
        if data is None:
            return None
        uris = [str(u) for u in data.get("r") or []]
        if any(redirect_uri_problem(u, self.config.redirect_hosts) for u in uris):
            return None  # registered before the allow-list changed: register again (T50)
        method = str(data.get("m") or "none")
        secret = None
        if method != "none":
            # accept a secret minted under any current key: pick the one the client holds lazily
            secret = self._client_secret(client_id, self._secret_keys[-1])
        return OAuthClientInformationFull(
            client_id=client_id,
            client_secret=secret,
            client_id_issued_at=data.get("i"),
            redirect_uris=[AnyUrl(u) for u in data.get("r") or []],
            client_name=data.get("n") or None,
            token_endpoint_auth_method=method,
            grant_types=list(data.get("g") or ["authorization_code", "refresh_token"]),
            response_types=["code"],
            scope=str(data.get("s") or SCOPE),
        )

    @staticmethod
    def client_hosts(client: OAuthClientInformationFull) -> list[str]:
        """Where a client sends the code: the redirect URIs' host names only — never their userinfo
        (``claude.ai@evil.example`` is ``evil.example``) nor the self-chosen name (T56)."""
        return sorted({(urlsplit(str(u)).hostname or "").lower() for u in client.redirect_uris or []} - {""})

    @classmethod
    def client_label(cls, client: OAuthClientInformationFull) -> str:
        """How the consent page names a client: by the hosts it sends the code to (T56)."""
        return ", ".join(cls.client_hosts(client)) or "an unknown address"

    def client_label_from_id(self, client_id: object) -> str:
        data = _loads(self._client, str(client_id), REGISTRATION_LIFETIME) or {}
        return str(data.get("n") or "unnamed client")

    # -- authorization ----------------------------------------------------------------------------

    def _check_resource(self, resource: str | None) -> str:
        if resource is None:
            return self.config.resource
        if resource.rstrip("/") != self.config.resource:
            raise AuthorizeError(
                "invalid_target", f"this server only issues tokens for {self.config.resource}"
            )
        return self.config.resource

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        resource = self._check_resource(params.resource)
        request = {
            "t": "req",
            "c": client.client_id,
            "r": str(params.redirect_uri),
            "e": params.redirect_uri_provided_explicitly,
            "x": params.code_challenge,
            "st": params.state,
            "sc": params.scopes or [SCOPE],
            "rs": resource,
        }
        return self.config.url(CONSENT_PATH) + "?req=" + quote(str(self._consent.dumps(request)))

    def load_consent_request(self, token: str) -> dict[str, Any] | None:
        data = _loads(self._consent, token, CONSENT_LIFETIME)
        return data if data and data.get("t") == "req" else None

    def csrf_token(self, request_token: str, member_sub: str) -> str:
        digest = hashlib.sha256(request_token.encode()).hexdigest()
        return str(self._consent.dumps({"t": "csrf", "h": digest, "sub": member_sub}))

    def check_csrf(self, token: str, request_token: str, member_sub: str) -> bool:
        data = _loads(self._consent, token, CONSENT_LIFETIME)
        digest = hashlib.sha256(request_token.encode()).hexdigest()
        return bool(
            data
            and data.get("t") == "csrf"
            and data.get("sub") == member_sub
            and hmac.compare_digest(str(data.get("h")), digest)
        )

    def issue_code(self, request: dict[str, Any], member: dict[str, str]) -> str:
        now = self.clock.now()
        payload: dict[str, Any] = {
            "jti": secrets.token_urlsafe(16),
            "c": request["c"],
            "r": request["r"],
            "e": bool(request["e"]),
            "x": request["x"],
            "sc": request["sc"],
            "rs": request["rs"],
            "m": member,
            "exp": now + self.config.code_lifetime,
        }
        return str(self._code.dumps(payload))

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> SkillportCode | None:
        data = _loads(self._code, authorization_code, self.config.code_lifetime)
        if data is None:
            return None
        return SkillportCode(
            code=authorization_code,
            scopes=list(data["sc"]),
            expires_at=float(data["exp"]),
            client_id=str(data["c"]),
            code_challenge=str(data["x"]),
            redirect_uri=AnyUrl(str(data["r"])),
            redirect_uri_provided_explicitly=bool(data["e"]),
            resource=str(data["rs"]),
            subject=str(data["m"].get("sub")),
            jti=str(data["jti"]),
            member=dict(data["m"]),
        )

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: SkillportCode
    ) -> OAuthToken:
        now = self.clock.now()
        if authorization_code.expires_at < now:
            raise TokenError("invalid_grant", "authorization code has expired")
        try:
            fresh = self.guard.first_use("code:" + authorization_code.jti, authorization_code.expires_at, now)
        except GuardFull:
            raise TokenError("invalid_grant", BUSY) from None
        if not fresh:
            raise TokenError("invalid_grant", "authorization code was already used")
        member = authorization_code.member
        if not self._member_ok(member, now, now):
            raise TokenError("invalid_grant", WITHDRAWN)
        return self._tokens(
            client.client_id, member, authorization_code.scopes, secrets.token_urlsafe(12), started=now
        )

    # -- tokens -----------------------------------------------------------------------------------

    def _member_ok(self, member: Mapping[str, str], started: float, now: float) -> bool:
        """Organization rules and the revocation list still let this grant's member in (T52)."""
        if self.config.member_allowed is not None and not self.config.member_allowed(member):
            return False
        revocations = self.config.revocations
        return not (
            revocations is not None
            and revocations.revoked(str(member.get("sub") or ""), str(member.get("email") or ""), started)
        )

    def _tokens(
        self,
        client_id: str,
        member: dict[str, str],
        scopes: list[str],
        family: str,
        *,
        started: float | None = None,
        generation: int = 0,
    ) -> OAuthToken:
        """An access token and the next refresh token of a grant; neither outlives the grant (T52)."""
        now = self.clock.now()
        started = now if started is None else started
        end = started + self.config.grant_lifetime
        access_exp = int(min(now + self.config.access_lifetime, end))
        access = {
            "c": client_id,
            "m": member,
            "sc": scopes,
            "aud": self.config.resource,
            "st": started,
            "exp": access_exp,
        }
        refresh = {
            "c": client_id,
            "m": member,
            "sc": scopes,
            "aud": self.config.resource,
            "f": family,
            "g": generation,
            "st": started,
            "jti": secrets.token_urlsafe(16),
            "exp": int(min(now + self.config.refresh_lifetime, end)),
        }
        return OAuthToken(
            access_token=str(self._access.dumps(access)),
            expires_in=max(access_exp - int(now), 0),
            scope=" ".join(scopes),
            refresh_token=str(self._refresh.dumps(refresh)),
        )

    async def load_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: str
    ) -> SkillportRefresh | None:
        data = _loads(self._refresh, refresh_token, self.config.refresh_lifetime)
        if data is None or data.get("aud") != self.config.resource:
            return None
        return SkillportRefresh(
            token=refresh_token,
            client_id=str(data["c"]),
            scopes=list(data["sc"]),
            expires_at=int(data["exp"]),
            resource=str(data["aud"]),
            subject=str(data["m"].get("sub")),
            jti=str(data["jti"]),
            member=dict(data["m"]),
            family=str(data.get("f", "")),
            generation=int(data.get("g", 0)),
            # tokens minted before grants had a start: their grant starts at their own issue time
            started=float(data.get("st", int(data["exp"]) - self.config.refresh_lifetime)),
        )

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: SkillportRefresh, scopes: list[str]
    ) -> OAuthToken:
        now = self.clock.now()
        expires = float(refresh_token.expires_at or now)
        if expires < now:
            raise TokenError("invalid_grant", "refresh token has expired")
        started = refresh_token.started
        end = started + self.config.grant_lifetime
        if now >= end:
            raise TokenError("invalid_grant", "this sign-in reached its maximum age; sign in again")
        member = dict(refresh_token.member)
        if not self._member_ok(member, started, now):
            raise TokenError("invalid_grant", WITHDRAWN)
        family = refresh_token.family
        if self.guard.seen("revoked:" + family, now):
            raise TokenError("invalid_grant", "this sign-in was revoked after a refresh token was reused")
        try:
            fresh = self.guard.advance("grant:" + family, refresh_token.generation, expires, now)
        except GuardFull:
            raise TokenError("invalid_grant", BUSY) from None
        if not fresh:
            # a rotated token came back: someone holds a copy. Refuse it and its whole grant.
            self.guard.mark("revoked:" + family, end, now)
            raise TokenError("invalid_grant", "refresh token was already used; sign in again")
        return self._tokens(
            client.client_id,
            member,
            scopes or refresh_token.scopes,
            family,
            started=started,
            generation=refresh_token.generation + 1,
        )

    async def load_access_token(self, token: str) -> AccessToken | None:
        data = _loads(self._access, token, self.config.access_lifetime)
        now = self.clock.now()
        if data is None or data.get("exp", 0) < now:
            return None
        member = dict(data.get("m") or {})
        started = float(data.get("st", int(data["exp"]) - self.config.access_lifetime))
        if not self._member_ok(member, started, now):
            return None
        return AccessToken(
            token=token,
            client_id=str(data.get("c")),
            scopes=list(data.get("sc") or []),
            expires_at=int(data["exp"]),
            resource=str(data.get("aud")),
            subject=member.get("sub"),
            claims={"iss": self.config.issuer, **member},
        )

    async def verify_token(self, token: str) -> AccessToken | None:
        """``TokenVerifier`` for the resource server (the bearer middleware of ``/mcp`` and the API)."""
        return await self.load_access_token(token)

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        """Stateless tokens cannot be revoked one by one; short lifetimes bound them (T18)."""

    async def exchange_identity_assertion(
        self, client: OAuthClientInformationFull, params: Any
    ) -> OAuthToken:
        raise TokenError("unsupported_grant_type", "the JWT bearer grant is not supported")


# -- consent page ----------------------------------------------------------------------------------


def _member_dict(member: Any) -> dict[str, str]:
    return {k: str(getattr(member, k, "") or "") for k in ("sub", "email", "name", "hd")}


def _host_line(host: str) -> str:
    where = " (a program on this computer)" if host in LOOPBACK_HOSTS else ""
    return f"<strong>{html.escape(host)}</strong>{where}"


def consent_body(client: OAuthClientInformationFull, who: str) -> list[str]:
    """The consent page's text. The client is named by its redirect hosts; its self-chosen name is
    shown apart, as a claim, in quotes (T56)."""
    hosts = SkillportOAuthProvider.client_hosts(client)
    name = " ".join((client.client_name or "").split())[:100]
    claimed = (
        f"<dd>&ldquo;{html.escape(name)}&rdquo; <em>(a name the application chose; not checked)</em></dd>"
        if name
        else "<dd><em>no name given</em></dd>"
    )
    return [
        f"<p>An application asks to use your organization's skills catalog as "
        f"<strong>{html.escape(who)}</strong>.</p>",
        '<dl class="sp-facts"><dt>Access goes to</dt>'
        f"<dd>{', '.join(_host_line(h) for h in hosts) or 'an unknown address'}</dd>"
        f"<dt>It calls itself</dt>{claimed}</dl>",
        "<p>If you allow it, it can search the skills you can see, read them and get download links "
        "for them. It cannot see anything you cannot see.</p>",
        '<p class="sp-note">Allow only if you just connected Claude, Claude Code or '
        "<code>skillport login</code> to this catalog, and the address above is where you expect it "
        "(claude.ai for Claude, 127.0.0.1 for a program on your computer). Otherwise choose Deny.</p>",
    ]


EXPIRED = "Connection requests are valid for 10 minutes and for the person who started them."


def _page(request: Request, status: int, title: str, message: str, *, again: bool = True) -> Response:
    step = "Go back to the application (Claude, Claude Code or your terminal) and connect again."
    body = [paragraph(message), f'<p class="sp-note">{html.escape(step)}</p>' if again else ""]
    return render(look_of(request), title, body, status=status, headers=CONSENT_HEADERS)


# the signed-in member of a request (``Services.authenticate``), or None
MemberOf = Callable[[Request], Awaitable[Any]]


def consent_routes(provider: SkillportOAuthProvider, audit: AuditLog, member_of: MemberOf) -> list[BaseRoute]:
    config = provider.config

    async def show(request: Request) -> Response:
        token = request.query_params.get("req", "")
        data = provider.load_consent_request(token)
        if data is None:
            return _page(request, 400, "This sign-in link is invalid or expired", EXPIRED)
        member = await member_of(request)
        if member is None:
            next_path = CONSENT_PATH + "?req=" + quote(token)
            return RedirectResponse("/login?next=" + quote(next_path, safe=""), status_code=303)
        client = await provider.get_client(str(data["c"]))
        if client is None:
            return _page(
                request, 400, "Unknown application", "This application's registration is not valid here."
            )
        who = str(getattr(member, "email", "") or getattr(member, "sub", ""))
        fields = (("req", token), ("csrf", provider.csrf_token(token, str(member.sub))))
        decisions = (
            Action("Allow", CONSENT_PATH, post=True, fields=fields, name="decision", value="allow"),
            Action(
                "Deny", CONSENT_PATH, post=True, fields=fields, name="decision", value="deny", primary=False
            ),
        )
        # browsers apply form-action to the redirect after the POST: allow the client's callback too
        target = urlsplit(str(data["r"]))
        csp = f"default-src 'none'; style-src 'unsafe-inline'; form-action 'self' {target.scheme}://{target.netloc}"
        return render(
            look_of(request),
            "Allow access to your skills?",
            consent_body(client, who),
            actions=decisions,
            headers={**CONSENT_HEADERS, "Content-Security-Policy": csp},
        )

    async def decide(request: Request) -> Response:
        # the security middleware checks this too; repeated here so the routes are safe on their own
        if cross_site(request.headers.get("sec-fetch-site"), request.headers.get("origin"), config.origin):
            return _page(request, 403, "Cross-site request refused", "Use the consent page of this server.")
        form = await request.form()
        token = str(form.get("req") or "")
        data = provider.load_consent_request(token)
        member = await member_of(request)
        if data is None or member is None:
            return _page(request, 400, "This sign-in link is invalid or expired", EXPIRED)
        if not provider.check_csrf(str(form.get("csrf") or ""), token, str(member.sub)):
            return _page(request, 403, "Request refused", "The form was not sent from this consent page.")
        ip = request.client.host if request.client else None
        if form.get("decision") != "allow":
            audit.record("oauth.deny", member=member, ip=ip, client=provider.client_label_from_id(data["c"]))
            return RedirectResponse(
                construct_redirect_uri(
                    str(data["r"]), error="access_denied", state=data.get("st"), iss=config.issuer
                ),
                status_code=303,
            )
        code = provider.issue_code(data, _member_dict(member))
        audit.record("oauth.consent", member=member, ip=ip, client=provider.client_label_from_id(data["c"]))
        return RedirectResponse(
            construct_redirect_uri(str(data["r"]), code=code, state=data.get("st"), iss=config.issuer),
            status_code=303,
        )

    return [Route(CONSENT_PATH, show, methods=["GET"]), Route(CONSENT_PATH, decide, methods=["POST"])]


# -- routes ----------------------------------------------------------------------------------------


def protected_resource_metadata(config: OAuthConfig) -> ProtectedResourceMetadata:
    """RFC 9728 metadata of ``/mcp``, served at ``/.well-known/oauth-protected-resource/mcp`` (the
    one URL whose ``resource`` it names; there is no root document, as no other resource exists)."""
    return ProtectedResourceMetadata(
        resource=AnyHttpUrl(config.resource),
        authorization_servers=[AnyHttpUrl(config.issuer)],
        scopes_supported=[SCOPE],
        resource_name="Skillport",
    )


def resource_metadata_url(config: OAuthConfig) -> str:
    return config.url(".well-known/oauth-protected-resource/mcp")


def www_authenticate(config: OAuthConfig, error: str | None = None, description: str | None = None) -> str:
    """The ``WWW-Authenticate`` challenge of a 401 (RFC 6750 section 3, MCP authorization): where the
    metadata is and which scope to ask for; ``error`` only when a token was sent and refused."""
    parts = [f'resource_metadata="{resource_metadata_url(config)}"', f'scope="{SCOPE}"']
    if error:
        parts.append(f'error="{error}"')
        if description:
            parts.append(f'error_description="{description}"')
    return "Bearer " + ", ".join(parts)


def authorization_server_metadata(
    config: OAuthConfig, registration: ClientRegistrationOptions
) -> OAuthMetadata:
    """RFC 8414 metadata: the SDK's, plus public PKCE clients (``none``) and RFC 9207 ``iss``."""
    base = build_metadata(AnyHttpUrl(config.issuer), None, registration, RevocationOptions(enabled=False))
    methods = list(base.token_endpoint_auth_methods_supported or [])
    return base.model_copy(
        update={
            "token_endpoint_auth_methods_supported": ["none", *[m for m in methods if m != "none"]],
            "authorization_response_iss_parameter_supported": True,
        }
    )


def no_redirect_before_consent(app: ASGIApp, consent_url: str) -> ASGIApp:
    """``/authorize`` may only redirect to the consent page. The SDK's handler answers a bad request
    from a known client with a redirect to the client's URI; before the member has approved that
    client the URI is unverified (an open redirect, RFC 9700 §4.11.2), so show the error instead (T50)."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        refused: str | None = None

        async def guarded_send(message: Message) -> None:
            nonlocal refused
            if message["type"] == "http.response.start" and 300 <= int(message["status"]) < 400:
                location = dict(message.get("headers") or []).get(b"location", b"").decode("latin-1")
                if not location.startswith(consent_url + "?"):
                    refused = location
                    return
            if refused is None:
                await send(message)
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                await _authorize_error_page(Request(scope), refused)(scope, receive, send)

        await app(scope, receive, guarded_send)

    return guarded


def _authorize_error_page(request: Request, location: str) -> Response:
    query = parse_qs(urlsplit(location).query)
    error = (query.get("error") or ["invalid_request"])[0][:100]
    detail = (query.get("error_description") or [""])[0][:300]
    return _page(
        request,
        400,
        "This application's sign-in request was refused",
        f"{error}: {detail}. Nothing was shared." if detail else f"{error}. Nothing was shared.",
    )


def oauth_routes(provider: SkillportOAuthProvider, audit: AuditLog, member_of: MemberOf) -> list[BaseRoute]:
    """Routes of the authorization server (RFC 8414 metadata, RFC 7591 registration, /authorize,
    /token, the consent page) and the RFC 9728 protected-resource metadata of /mcp, over the one
    ``provider`` of the proxy's ``Services``."""
    config = provider.config
    registration = ClientRegistrationOptions(enabled=True, valid_scopes=[SCOPE], default_scopes=[SCOPE])
    as_metadata = authorization_server_metadata(config, registration)
    routes: list[BaseRoute] = [
        # ours first, so it answers instead of the SDK's copy (which omits `none` and `iss`)
        Route(
            AS_METADATA_PATH,
            endpoint=cors_middleware(MetadataHandler(as_metadata).handle, ["GET", "OPTIONS"]),
            methods=["GET", "OPTIONS"],
        )
    ]
    auth_routes = [
        route
        for route in create_auth_routes(
            provider=provider,  # type: ignore[arg-type]
            issuer_url=AnyHttpUrl(config.issuer),
            client_registration_options=registration,
            revocation_options=RevocationOptions(enabled=False),
        )
        if getattr(route, "path", None) != AS_METADATA_PATH
    ]
    for route in auth_routes:
        if isinstance(route, Route) and route.path == "/authorize":
            route.app = no_redirect_before_consent(route.app, config.url(CONSENT_PATH))
    routes.extend(auth_routes)
    metadata = protected_resource_metadata(config)
    routes.extend(
        create_protected_resource_routes(
            resource_url=metadata.resource,
            authorization_servers=metadata.authorization_servers,
            scopes_supported=[SCOPE],
            resource_name="Skillport",
        )
    )
    routes.extend(consent_routes(provider, audit, member_of))
    return routes
