"""Signed, short-lived download links ``/d/<token>`` bound to a user, a skill and a version (T32)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from itsdangerous import BadData

from builder.errors import PermissionDenied
from builder.signing import Purpose, serializer

MAX_FUTURE_SKEW = 5


class MemberLike(Protocol):
    @property
    def sub(self) -> str: ...
    @property
    def email(self) -> str: ...


@dataclass(frozen=True)
class LinkGrant:
    """What a valid link allows: this user downloads this version of this skill."""

    sub: str
    email: str
    skill: str
    version: str
    issued_at: int


class Links:
    """Mint and check download links. ``base_url`` is the public URL (ends with ``/``)."""

    def __init__(self, keys: Sequence[str], base_url: str, lifetime: int) -> None:
        self._serializer = serializer(keys, Purpose.DOWNLOAD_LINK)
        self._base_url = base_url
        self.lifetime = lifetime

    def token(self, member: MemberLike, skill_name: str, version: str, *, now: datetime) -> str:
        payload = {
            "u": member.sub,
            "e": member.email,
            "s": skill_name,
            "v": version,
            "t": int(now.timestamp()),
        }
        token = self._serializer.dumps(payload)
        return token if isinstance(token, str) else token.decode()

    def mint(self, member: MemberLike, skill_name: str, version: str, *, now: datetime) -> str:
        """An absolute URL under the public URL that downloads the skill's upload zip."""
        return f"{self._base_url}d/{self.token(member, skill_name, version, now=now)}"

    def check(self, token: str, *, now: datetime) -> LinkGrant:
        """The grant of a valid link; ``PermissionDenied`` when altered, expired, or from the future."""
        try:
            payload: Any = self._serializer.loads(token)
        except BadData as exc:
            raise PermissionDenied(
                "this download link is not valid (altered or signed with an old key)"
            ) from exc
        if not isinstance(payload, dict):
            raise PermissionDenied("this download link is not valid")
        try:
            grant = LinkGrant(
                sub=str(payload["u"]),
                email=str(payload["e"]),
                skill=str(payload["s"]),
                version=str(payload["v"]),
                issued_at=int(payload["t"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise PermissionDenied("this download link is not valid") from exc
        age = int(now.timestamp()) - grant.issued_at
        if age < -MAX_FUTURE_SKEW:
            raise PermissionDenied("this download link is not valid yet (issued in the future)")
        if age > self.lifetime:
            raise PermissionDenied("this download link has expired: ask for a new one")
        return grant
