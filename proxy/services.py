"""``Services``: the proxy's per-process objects, built once at start-up and passed explicitly.

``Services.create(settings)`` makes each of them exactly once — the origin and the index store, the
access policy, signed links, the audit log, sessions, the OIDC client, THE OAuth provider (with its
replay guard), the editor publisher — and ``create_app`` hands the one object to every route. It is
also stored at ``app.state.skillport`` for the few places that only have a request
(``services_of``). ``authenticate`` is the one way a request becomes a member: a bearer token when
the request carries ``Authorization: Bearer``, else the session cookie.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.requests import Request

from builder.contract.index import IndexDocument
from proxy.access import AccessRules, MemberLike
from proxy.audit import AuditLog
from proxy.bearer import MEMBER_KEY, VIA_KEY, BearerVerifier, bearer_token
from proxy.errors import InvalidToken
from proxy.identity import OidcClient
from proxy.links import LinkGrant, Links
from proxy.oauth import OAuthConfig, SkillportOAuthProvider, www_authenticate
from proxy.origin import IndexStore, Origin, open_origin
from proxy.pages import LookCache
from proxy.publisher import ProxyPublisher, SiteBuild, publisher_from_settings
from proxy.revocation import revocations_for
from proxy.session import Member, Sessions
from proxy.settings import Settings
from proxy.views import MemberViews


class AccessPolicy:
    """Access rules of the index currently trusted (recomputed when the index changes)."""

    def __init__(self, index: IndexStore) -> None:
        self._index = index
        # the document itself, not its id(): a later document may be allocated where a freed one was
        self._cached: tuple[IndexDocument, AccessRules] | None = None

    def for_index(self, doc: IndexDocument | None) -> AccessRules:
        if doc is None:
            return AccessRules({}, ("*",), (), {}, {})
        if self._cached is not None and self._cached[0] is doc:
            return self._cached[1]
        rules = AccessRules.from_index(doc)
        self._cached = (doc, rules)
        return rules

    def current(self) -> AccessRules | None:
        doc = self._index.current()
        return None if doc is None else self.for_index(doc)

    def can_read(self, member: MemberLike, plugin: str) -> bool:
        rules = self.current()
        return rules is not None and rules.can_read(member, plugin)

    def can_edit(self, member: MemberLike, plugin: str) -> bool:
        rules = self.current()
        return rules is not None and rules.can_edit(member, plugin)


class AuditedLinks:
    """``Links`` that write a ``link-minted`` audit entry for every link they mint."""

    def __init__(self, links: Links, audit: AuditLog) -> None:
        self.inner = links
        self.audit = audit

    def mint(
        self, member: Any, skill_name: str, version: str, *, now: datetime, ip: str | None = None
    ) -> str:
        url = self.inner.mint(member, skill_name, version, now=now)
        self.audit.record("link-minted", member=member, ip=ip, now=now, skill=skill_name, version=version)
        return url

    @property
    def lifetime(self) -> int:
        return self.inner.lifetime

    def check(self, token: str, *, now: datetime) -> LinkGrant:
        return self.inner.check(token, now=now)


@dataclass(frozen=True)
class Services:
    settings: Settings
    origin: Origin
    index: IndexStore
    access: AccessPolicy
    links: AuditedLinks
    audit: AuditLog
    sessions: Sessions
    oidc: OidcClient
    oauth: SkillportOAuthProvider
    bearer: BearerVerifier
    publisher: ProxyPublisher | None
    look: LookCache
    views: MemberViews

    @classmethod
    def create(
        cls,
        settings: Settings,
        *,
        audit: AuditLog | None = None,
        origin: Origin | None = None,
        site_build: SiteBuild | None = None,
    ) -> Services:
        """Everything the proxy needs, once. ``site_build`` (the builder, injected by ``skillport
        serve``) is needed only with ``SKILLPORT_REBUILD``."""
        origin = origin or open_origin(
            settings.origin,
            {k: v.get_secret_value() for k, v in settings.origin_headers.items()},
            settings.origin_timeout_seconds,
            settings.max_origin_bytes,
        )
        index = IndexStore(
            origin,
            settings.index_keys,
            refresh_seconds=settings.index_refresh_seconds,
            expiry=settings.index_expiry,
            serial_floor=settings.index_serial_floor,
            serial_file=Path(settings.state_dir) / "index-serial.json" if settings.state_dir else None,
            origin_name=settings.origin,
        )
        audit = audit or AuditLog(settings.audit_log)
        revocations = revocations_for(settings.revocation_file)
        oauth = SkillportOAuthProvider(OAuthConfig.from_settings(settings, revocations))

        async def refresh(now: datetime) -> None:
            await index.refresh(now=now, force=True)

        return cls(
            settings=settings,
            origin=origin,
            index=index,
            access=AccessPolicy(index),
            links=AuditedLinks(Links(settings.secrets, settings.public_url, settings.link_lifetime), audit),
            audit=audit,
            sessions=Sessions(
                settings.secrets,
                lifetime=settings.session_lifetime,
                https=settings.is_https,
                revocations=revocations,
            ),
            oidc=OidcClient(settings),
            oauth=oauth,
            bearer=BearerVerifier(oauth),
            # editing through the proxy (issue 7): None unless SKILLPORT_MARKETPLACE_GIT is set
            publisher=publisher_from_settings(settings, refresh, site_build),
            look=LookCache(),
            views=MemberViews(
                settings.view_cache_entries, settings.view_cache_bytes, settings.index_refresh_seconds
            ),
        )

    async def authenticate(self, request: Request, *, cookie: bool = True) -> Member | None:
        """The member this request speaks for: a bearer token when it sends ``Authorization:
        Bearer`` (an invalid one raises ``InvalidToken``, never a fallback to the cookie, T33), else
        the session cookie (only when ``cookie``: the API takes cookies on GET alone). Cached on the
        request, so later calls and ``current_member`` agree."""
        cached = request.scope.get(MEMBER_KEY, False)
        if cached is not False:
            return cached  # type: ignore[no-any-return]
        token = bearer_token(request)
        if token is not None:
            member = await self.bearer.member(token)
            if member is None:
                raise InvalidToken(
                    "the bearer token is not valid here (expired, or issued by another server); "
                    "get a new one with `skillport auth-header` or sign in again",
                    challenge=www_authenticate(self.oauth.config, "invalid_token"),
                )
            request.scope[VIA_KEY] = "bearer"
        elif not cookie:
            return None
        else:
            member = self.sessions.decode(request.cookies.get(self.sessions.name), now=datetime.now(UTC))
        request.scope[MEMBER_KEY] = member
        return member

    async def aclose(self) -> None:
        await self.oidc.aclose()
        await self.origin.aclose()


def services_of(request: Request) -> Services:
    """The ``Services`` of the app serving ``request``."""
    found = request.app.state.skillport
    assert isinstance(found, Services)
    return found
