"""The signed session cookie (T13–T15, T17): who is signed in, carried by the browser.

Signed with ``Purpose.SESSION`` and the secret key list (newest signs, any verifies, so keys rotate).
``__Host-`` name over HTTPS; Secure, HttpOnly, SameSite=Lax, Path=/, no Domain. Anything wrong with
the cookie (tampered, truncated, old key removed, expired) just means "signed out".
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from itsdangerous import BadData
from starlette.responses import Response

from builder.signing import Purpose, serializer
from proxy.revocation import RevocationList

MAX_COOKIE_CHARS = 4000


@dataclass(frozen=True)
class Member:
    """A signed-in member, keyed on the identity provider's ``sub``."""

    sub: str
    email: str
    name: str = ""
    hd: str = ""

    def __post_init__(self) -> None:
        if not self.sub or not self.email or "@" not in self.email:
            raise ValueError("a member needs a sub and an email")


def cookie_name(base: str, https: bool) -> str:
    return f"__Host-{base}" if https else base


def set_cookie(response: Response, name: str, value: str, *, https: bool, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", secure=https, httponly=True, samesite="lax")


def clear_cookie(response: Response, name: str, *, https: bool) -> None:
    response.delete_cookie(name, path="/", secure=https, httponly=True, samesite="lax")


class Sessions:
    """Encode and decode session cookies."""

    def __init__(
        self, keys: Sequence[str], *, lifetime: int, https: bool, revocations: RevocationList | None = None
    ) -> None:
        self._serializer = serializer(keys, Purpose.SESSION)
        self.revocations = revocations
        self.lifetime = lifetime
        self.https = https
        self.name = cookie_name("skillport", https)

    def encode(self, member: Member, *, now: datetime) -> str:
        payload = {
            "u": member.sub,
            "e": member.email,
            "n": member.name,
            "h": member.hd,
            "t": int(now.timestamp()),
            "i": secrets.token_urlsafe(12),
        }
        value = self._serializer.dumps(payload)
        return value if isinstance(value, str) else value.decode()

    def decode(self, value: str | None, *, now: datetime) -> Member | None:
        if not value or len(value) > MAX_COOKIE_CHARS:
            return None
        try:
            payload: Any = self._serializer.loads(value)
            issued = int(payload["t"])
            member = Member(
                sub=str(payload["u"]),
                email=str(payload["e"]),
                name=str(payload.get("n", "")),
                hd=str(payload.get("h", "")),
            )
        except (BadData, KeyError, TypeError, ValueError):
            return None
        age = now.timestamp() - issued
        if age < -60 or age > self.lifetime:
            return None
        if self.revocations is not None and self.revocations.revoked(member.sub, member.email, issued):
            return None  # the administrator revoked this person's sign-ins before this one (T52)
        return member

    def start(self, response: Response, member: Member, *, now: datetime) -> None:
        """A fresh session (new cookie value) — called at every sign-in (T17)."""
        set_cookie(response, self.name, self.encode(member, now=now), https=self.https, max_age=self.lifetime)

    def end(self, response: Response) -> None:
        clear_cookie(response, self.name, https=self.https)
