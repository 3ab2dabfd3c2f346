"""``ProxyState``: the per-process objects every route shares (stored at ``app.state.skillport``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from builder.contract.index import IndexDocument
from proxy.access import AccessRules, MemberLike
from proxy.audit import AuditLog
from proxy.identity import OidcClient
from proxy.links import Links
from proxy.origin import IndexStore, Origin, open_origin
from proxy.revocation import revocations_for
from proxy.session import Sessions
from proxy.settings import Settings


class AccessPolicy:
    """Access rules of the index currently trusted (recomputed when the index changes)."""

    def __init__(self, index: IndexStore) -> None:
        self._index = index
        self._cached: tuple[int, AccessRules] | None = None

    def for_index(self, doc: IndexDocument | None) -> AccessRules:
        if doc is None:
            return AccessRules({}, ("*",), (), {}, {})
        if self._cached is not None and self._cached[0] == id(doc):
            return self._cached[1]
        rules = AccessRules.from_index(doc)
        self._cached = (id(doc), rules)
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

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@dataclass
class ProxyState:
    settings: Settings
    origin: Origin
    index: IndexStore
    access: AccessPolicy
    links: AuditedLinks
    audit: AuditLog
    sessions: Sessions
    oidc: OidcClient
    publisher: Any = None
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(
        cls, settings: Settings, *, audit: AuditLog | None = None, origin: Origin | None = None
    ) -> ProxyState:
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
        state = cls(
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
                revocations=revocations_for(settings.revocation_file),
            ),
            oidc=OidcClient(settings),
        )
        # editing through the proxy (issue 7): None unless SKILLPORT_MARKETPLACE_GIT is set
        from proxy.publisher import publisher_from_settings

        state.publisher = publisher_from_settings(settings, lambda now: index.refresh(now=now, force=True))
        return state

    async def aclose(self) -> None:
        await self.oidc.aclose()
        await self.origin.aclose()
