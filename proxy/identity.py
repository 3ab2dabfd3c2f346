"""OIDC sign-in (authorization code + state + nonce + PKCE S256), organization rules, current member.

Routes: ``GET /login?next=<local path>``, ``GET /auth/callback``, ``POST /logout`` (``GET /logout``
only asks, T59), ``GET /signed-out``.
Nothing is kept server-side except bounded caches: discovery, JWKS (refetched once on an unknown
``kid``, rate-limited — T11) and a replay guard of used sign-in states and nonces (T08, T09).
"""

from __future__ import annotations

import base64
import html
import json
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlencode, urlsplit

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from itsdangerous import BadData
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from builder.signing import Purpose, serializer
from proxy.errors import IdentityProviderUnavailable, SignInFailed, SignInRefused
from proxy.pages import Action, look_of, paragraph, render
from proxy.replay import GuardFull
from proxy.session import Member, Sessions, clear_cookie, cookie_name, set_cookie
from proxy.settings import Settings

if TYPE_CHECKING:  # the services hold the sign-in client; routes get the services
    from proxy.services import Services

__all__ = ["Member", "OidcClient", "identity_routes", "safe_next"]

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
DISCOVERY_TTL = 3600.0
MAX_NEXT_CHARS = 2048
_EMAIL = re.compile(
    r"^[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$"
)


def safe_next(value: str | None) -> str:
    """A local path (with query) to return to after sign-in, or ``/`` for anything else (T19)."""
    if not value or len(value) > MAX_NEXT_CHARS:
        return "/"
    decoded = value
    for _ in range(3):
        decoded = unquote(decoded)
    for candidate in (value, decoded):
        if not candidate.startswith("/") or candidate.startswith(("//", "/\\")):
            return "/"
        if "\\" in candidate or any(ord(c) < 33 or ord(c) == 127 for c in candidate):
            return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


def strict_email(value: object) -> str | None:
    """A lower-cased ASCII email with exactly one ``@`` and no trailing dot, else ``None`` (T07)."""
    if not isinstance(value, str) or not value.isascii() or len(value) > 254:
        return None
    email = value.strip().lower()
    if email != value.lower() or not _EMAIL.match(email):
        return None
    return email


@dataclass(frozen=True)
class SignInState:
    state: str
    nonce: str
    verifier: str
    next: str
    issued_at: int


class OidcClient:
    """Talks to the identity provider: discovery, JWKS, token exchange; verifies ID tokens."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.oidc_timeout_seconds), follow_redirects=False, transport=transport
        )
        self._discovery: dict[str, Any] | None = None
        self._discovered_at = 0.0
        self._keys: KeySet | None = None
        self._jwks_fetched_at: float | None = None
        self.jwks_fetches = 0

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = await self._http.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise IdentityProviderUnavailable(
                "the identity provider did not answer in time; try again in a minute"
            ) from exc
        if not isinstance(data, dict):
            raise IdentityProviderUnavailable("the identity provider sent an unexpected answer")
        return data

    async def discovery(self) -> dict[str, Any]:
        now = time.monotonic()
        if self._discovery is None or now - self._discovered_at > DISCOVERY_TTL:
            doc = await self._get_json(self.settings.oidc_issuer + "/.well-known/openid-configuration")
            if doc.get("issuer") != self.settings.oidc_issuer:
                raise IdentityProviderUnavailable(
                    "the identity provider's discovery document names "
                    "another issuer (check SKILLPORT_OIDC_ISSUER)"
                )
            for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(doc.get(key), str):
                    raise IdentityProviderUnavailable(f"the identity provider's discovery lacks {key}")
            self._discovery, self._discovered_at = doc, now
        return self._discovery

    async def _fetch_keys(self) -> KeySet:
        jwks = await self._get_json(str((await self.discovery())["jwks_uri"]))
        self.jwks_fetches += 1
        self._jwks_fetched_at = time.monotonic()
        try:
            self._keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise IdentityProviderUnavailable("the identity provider's JWKS is not usable") from exc
        return self._keys

    async def keys_for(self, kid: str | None) -> KeySet:
        """The key set, refetched once if ``kid`` is unknown — at most every N seconds (T11)."""
        keys = self._keys or await self._fetch_keys()
        known = {k.kid for k in keys.keys}
        if kid is not None and kid not in known:
            last = self._jwks_fetched_at or 0.0
            if time.monotonic() - last >= self.settings.jwks_min_refetch_seconds:
                keys = await self._fetch_keys()
        return keys

    async def authorize_url(self, sign_in: SignInState) -> str:
        doc = await self.discovery()
        params = {
            "response_type": "code",
            "client_id": self.settings.oidc_client_id,
            "redirect_uri": self.settings.redirect_uri,
            "scope": "openid email profile",
            "state": sign_in.state,
            "nonce": sign_in.nonce,
            "code_challenge": create_s256_code_challenge(sign_in.verifier),
            "code_challenge_method": "S256",
        }
        if self.settings.require_hd and len(self.settings.allowed_domains) == 1:
            params["hd"] = self.settings.allowed_domains[0]
        endpoint = str(doc["authorization_endpoint"])
        return endpoint + ("&" if "?" in endpoint else "?") + urlencode(params)

    async def exchange(self, code: str, verifier: str) -> dict[str, Any]:
        doc = await self.discovery()
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.settings.redirect_uri,
            "code_verifier": verifier,
        }
        auth = (self.settings.oidc_client_id, self.settings.oidc_client_secret.get_secret_value())
        try:
            response = await self._http.post(
                str(doc["token_endpoint"]), data=data, auth=auth, headers={"Accept": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise IdentityProviderUnavailable("the identity provider did not answer in time") from exc
        if response.status_code >= 500:
            raise IdentityProviderUnavailable(f"the identity provider failed ({response.status_code})")
        try:
            body = response.json()
        except ValueError:
            body = None
        if (
            response.status_code != 200
            or not isinstance(body, dict)
            or not isinstance(body.get("id_token"), str)
        ):
            raise SignInFailed("the identity provider refused the sign-in code; please sign in again")
        return body

    async def verify_id_token(self, token: str, *, nonce: str, now: datetime) -> dict[str, Any]:
        """Claims of a valid ID token for us; ``SignInFailed`` otherwise (T01–T04, T08)."""
        header = _unverified_header(token)
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise SignInFailed(f"the ID token uses algorithm {str(alg)[:20]!r}, which is not accepted")
        kid = header.get("kid")
        keys = await self.keys_for(kid if isinstance(kid, str) else None)
        try:
            decoded = jwt.decode(token, keys, algorithms=ALGORITHMS)
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise SignInFailed("the ID token's signature is not valid") from exc
        claims = dict(decoded.claims)
        check_claims(claims, self.settings, nonce=nonce, now=now)
        return claims


def _unverified_header(token: str) -> dict[str, Any]:
    try:
        head = token.split(".")[0]
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, IndexError, RecursionError) as exc:
        raise SignInFailed("the ID token is malformed") from exc
    if not isinstance(header, dict):
        raise SignInFailed("the ID token is malformed")
    return header


def check_claims(claims: dict[str, Any], settings: Settings, *, nonce: str, now: datetime) -> None:
    """Issuer, audience/azp, times (with skew) and nonce of verified ID token claims."""
    skew = settings.clock_skew_seconds
    stamp = now.timestamp()
    client = settings.oidc_client_id
    if claims.get("iss") != settings.oidc_issuer:
        raise SignInFailed("the ID token was issued by someone else (iss)")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if client not in audiences:
        raise SignInFailed("the ID token is not meant for this application (aud)")
    azp = claims.get("azp")
    if (len(audiences) > 1 or azp is not None) and azp != client:
        raise SignInFailed("the ID token was requested by another application (azp)")
    for name in ("exp", "iat"):
        if not isinstance(claims.get(name), int | float):
            raise SignInFailed(f"the ID token lacks {name}")
    if claims["exp"] <= stamp - skew:
        raise SignInFailed("the ID token has expired")
    if claims["iat"] > stamp + skew:
        raise SignInFailed("the ID token was issued in the future (check clocks)")
    nbf = claims.get("nbf")
    if nbf is not None and (not isinstance(nbf, int | float) or nbf > stamp + skew):
        raise SignInFailed("the ID token is not valid yet (nbf)")
    if not isinstance(claims.get("nonce"), str) or not secrets.compare_digest(str(claims["nonce"]), nonce):
        raise SignInFailed("the ID token does not belong to this sign-in (nonce)")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise SignInFailed("the ID token lacks a subject (sub)")


_ENTRA_ISSUER = re.compile(
    r"^https://login\.microsoftonline\.com/"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/v2\.0$"
)


def is_entra_issuer(issuer: str) -> bool:
    """A single-tenant Microsoft Entra ID v2.0 issuer: ``https://login.microsoftonline.com/<tenant
    id>/v2.0`` with the directory (tenant) ID, never ``common``/``organizations``/``consumers``."""
    return bool(_ENTRA_ISSUER.match(issuer))


def email_is_verified(claims: dict[str, Any], settings: Settings) -> bool:
    """``email_verified: true``; or, from an Entra issuer only and with no ``email_verified`` claim at
    all, Entra's ``xms_edov: true`` (the email's domain is verified by the tenant owner) (T06)."""
    if "email_verified" in claims:
        return claims["email_verified"] is True
    return (
        is_entra_issuer(settings.oidc_issuer)
        and claims.get("iss") == settings.oidc_issuer
        and claims.get("xms_edov") is True
    )


def org_allows(email: str, hd: object, settings: Settings) -> bool:
    """The organization rules (allowed emails and domains, ``hd``) for a verified email; also
    re-checked on every OAuth refresh and access token, so removing a domain or email takes effect."""
    email = email.lower()
    if "@" not in email:
        return False
    domain = email.rsplit("@", 1)[1]
    if email in settings.allowed_emails:
        return True
    if not settings.allowed_domains:
        return False
    if settings.require_hd:
        return isinstance(hd, str) and hd.lower() in settings.allowed_domains and domain == hd.lower()
    return domain in settings.allowed_domains and (hd is None or str(hd).lower() == domain)


def member_from_claims(claims: dict[str, Any], settings: Settings) -> Member:
    """The member, if the organization rules let them in; ``SignInRefused`` otherwise (T05–T07)."""
    if not email_is_verified(claims, settings):
        raise SignInRefused(
            "your email address is not verified with the identity provider, so this "
            "catalog cannot tell who you are. Verify it there and sign in again."
        )
    email = strict_email(claims.get("email"))
    if email is None:
        raise SignInRefused("your account's email address is not one this catalog accepts.")
    hd = claims.get("hd")
    if not org_allows(email, hd, settings):
        raise SignInRefused(
            f"You signed in as {email}, which is not an account of this organization. "
            "Sign out and sign in with your organization account."
        )
    return Member(
        sub=str(claims["sub"]),
        email=email,
        name=str(claims.get("name") or ""),
        hd=str(hd) if isinstance(hd, str) else "",
    )


ACCOUNT_MARKER = "<!--sp-account-->"


def account_bar(member: Member, settings: Settings) -> str:
    """The "signed in as … · Sign out" line the proxy puts in place of the theme's marker. Signing
    out changes state, so it is a small POST form (T59), never a link a cross-site page could GET."""
    who = html.escape(member.email or member.name or member.sub)
    logout = html.escape(settings.url("logout"))
    return (
        f'<div class="sp-account md-grid">Signed in as {who} · <form class="sp-signout" method="post" '
        f'action="{logout}"><button type="submit">Sign out</button></form></div>'
    )


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


class SignIn:
    """The three sign-in endpoints."""

    def __init__(self, state: Services) -> None:
        self.state = state
        self.settings: Settings = state.settings
        self.oidc: OidcClient = state.oidc
        self.sessions: Sessions = state.sessions
        self._state_serializer = serializer(self.settings.secrets, Purpose.OIDC_STATE)
        self.state_cookie = cookie_name("skillport-signin", self.settings.is_https)
        self.replay = state.oauth.guard  # the process's one replay guard (proxy/replay.py)

    async def login(self, request: Request) -> Response:
        target = safe_next(request.query_params.get("next"))
        if await self.state.authenticate(request) is not None:
            return RedirectResponse(target, status_code=302)
        now = datetime.now(UTC)
        sign_in = SignInState(
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            verifier=secrets.token_urlsafe(48),
            next=target,
            issued_at=int(now.timestamp()),
        )
        url = await self.oidc.authorize_url(sign_in)
        response = RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})
        value = self._state_serializer.dumps(
            {
                "s": sign_in.state,
                "n": sign_in.nonce,
                "v": sign_in.verifier,
                "x": sign_in.next,
                "t": sign_in.issued_at,
            }
        )
        set_cookie(
            response,
            self.state_cookie,
            str(value),
            https=self.settings.is_https,
            max_age=self.settings.oidc_state_lifetime,
        )
        return response

    def _first_use(self, value: str, now: datetime) -> bool:
        """True the first time ``value`` is seen within the sign-in's lifetime (T36)."""
        stamp = now.timestamp()
        try:
            return self.replay.first_use(value, stamp + self.settings.oidc_state_lifetime, stamp)
        except GuardFull:  # fail closed: too many sign-ins in flight to remember one more
            raise SignInFailed("too many sign-ins are in progress; please try again in a minute") from None

    def _read_state(self, request: Request, now: datetime) -> SignInState:
        raw = request.cookies.get(self.state_cookie)
        if not raw or len(raw) > 2000:
            raise SignInFailed(
                "this sign-in has no matching start (it expired or was already used); please sign in again"
            )
        try:
            p: Any = self._state_serializer.loads(raw)
            found = SignInState(
                state=str(p["s"]),
                nonce=str(p["n"]),
                verifier=str(p["v"]),
                next=str(p["x"]),
                issued_at=int(p["t"]),
            )
        except (BadData, KeyError, TypeError, ValueError) as exc:
            raise SignInFailed("this sign-in's state is not valid; please sign in again") from exc
        age = now.timestamp() - found.issued_at
        if age < -5 or age > self.settings.oidc_state_lifetime:
            raise SignInFailed("this sign-in took too long and expired; please sign in again")
        given = request.query_params.get("state", "")
        if not given or not secrets.compare_digest(given, found.state):
            raise SignInFailed("this sign-in's state does not match; please sign in again")
        if not self._first_use("oidc-state:" + found.state, now):
            raise SignInFailed("this sign-in was already used; please sign in again")
        return found

    async def callback(self, request: Request) -> Response:
        now = datetime.now(UTC)
        try:
            return await self._callback(request, now)
        except (SignInFailed, SignInRefused) as exc:
            from proxy.errors import error_response

            self.state.audit.record(
                "sign-in-refused", ip=client_ip(request), reason=type(exc).__name__, detail=str(exc), now=now
            )
            response = error_response(request, exc)
            clear_cookie(response, self.state_cookie, https=self.settings.is_https)
            return response

    async def _callback(self, request: Request, now: datetime) -> Response:
        sign_in = self._read_state(request, now)
        if request.query_params.get("error"):
            raise SignInFailed("the identity provider did not sign you in; please try again")
        code = request.query_params.get("code")
        if not code or len(code) > 4096:
            raise SignInFailed("the identity provider sent no sign-in code; please sign in again")
        tokens = await self.oidc.exchange(code, sign_in.verifier)
        claims = await self.oidc.verify_id_token(str(tokens["id_token"]), nonce=sign_in.nonce, now=now)
        if not self._first_use("oidc-nonce:" + sign_in.nonce, now):
            raise SignInFailed("this ID token was already used")
        member = member_from_claims(claims, self.settings)
        response = RedirectResponse(sign_in.next, status_code=302, headers={"Cache-Control": "no-store"})
        clear_cookie(response, self.state_cookie, https=self.settings.is_https)
        self.sessions.start(response, member, now=now)
        self.state.audit.record("sign-in", member=member, ip=client_ip(request), now=now)
        return response

    async def confirm_logout(self, request: Request) -> Response:
        """``GET /logout`` changes nothing (T59): it shows a button that POSTs the sign-out."""
        if await self.state.authenticate(request) is None:
            return RedirectResponse("/signed-out", status_code=303, headers={"Cache-Control": "no-store"})
        return render(
            look_of(request),
            "Sign out?",
            [paragraph("Sign out of the skills catalog on this browser.")],
            actions=(Action("Sign out", "/logout", post=True), Action("Stay signed in", "/", primary=False)),
        )

    async def logout(self, request: Request) -> Response:
        """``POST /logout`` (the cross-site check of the security middleware applies, T16)."""
        member = await self.state.authenticate(request)
        response = RedirectResponse("/signed-out", status_code=303, headers={"Cache-Control": "no-store"})
        self.sessions.end(response)
        if member is not None:
            self.state.audit.record("sign-out", member=member, ip=client_ip(request))
        return response


async def signed_out(request: Request) -> Response:
    return render(
        look_of(request),
        "Signed out",
        [
            paragraph("You are signed out of the skills catalog on this browser."),
            paragraph(
                "Claude and the skillport command keep their own sign-in; remove the connector or "
                "delete ~/.config/skillport/credentials.json to end those too."
            ),
        ],
        actions=(Action("Sign in again", "/login"),),
    )


def identity_routes(state: Services) -> list[BaseRoute]:
    sign_in = SignIn(state)
    return [
        Route("/login", sign_in.login, methods=["GET"]),
        Route("/auth/callback", sign_in.callback, methods=["GET"]),
        Route("/logout", sign_in.confirm_logout, methods=["GET"]),
        Route("/logout", sign_in.logout, methods=["POST"]),
        Route("/signed-out", signed_out, methods=["GET"]),
    ]
