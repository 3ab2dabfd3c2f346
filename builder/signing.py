"""Keys and purposes: one itsdangerous salt per purpose, key lists (oldest -> newest) for rotation.

Signing always uses the newest key; verification accepts any key in the list, so rotating means
appending a new key, waiting out the longest lifetime, then dropping the oldest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from enum import StrEnum

from itsdangerous import Signer, URLSafeTimedSerializer


class Purpose(StrEnum):
    """Every purpose something is signed for. A signature for one never verifies as another."""

    INDEX = "skillport.index.v1"
    SESSION = "skillport.session.v1"
    OIDC_STATE = "skillport.oidc-state.v1"
    DOWNLOAD_LINK = "skillport.download-link.v1"
    OAUTH_CLIENT = "skillport.oauth-client.v1"
    OAUTH_CODE = "skillport.oauth-code.v1"
    OAUTH_ACCESS = "skillport.oauth-access.v1"
    OAUTH_REFRESH = "skillport.oauth-refresh.v1"
    CONSENT = "skillport.consent.v1"


MIN_KEY_LENGTH = 32


def parse_keys(raw: str | Sequence[str] | None) -> list[str]:
    """``"k1,k2"`` or a list -> ``["k1", "k2"]`` (oldest -> newest), blanks dropped."""
    if raw is None:
        return []
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    return [k.strip() for k in items if k and k.strip()]


def key_problems(keys: Sequence[str], setting: str) -> list[str]:
    """What is wrong with a key list, as sentences naming the setting (empty when fine)."""
    if not keys:
        return [
            f"{setting} is empty: set it to one or more comma-separated random keys "
            f"(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        ]
    return [
        f"{setting}: key #{i + 1} is {len(k)} characters; use at least {MIN_KEY_LENGTH} random characters"
        for i, k in enumerate(keys)
        if len(k) < MIN_KEY_LENGTH
    ]


def signer(keys: Sequence[str], purpose: Purpose) -> Signer:
    """A detached-signature signer for raw bytes (used for the index)."""
    if not keys:
        raise ValueError("no signing keys given")
    return Signer(list(keys), salt=purpose.value, key_derivation="hmac", digest_method=hashlib.sha256)


def serializer(keys: Sequence[str], purpose: Purpose) -> URLSafeTimedSerializer:
    """A timed, URL-safe serializer for small JSON payloads (cookies, tokens, links)."""
    if not keys:
        raise ValueError("no secret keys given")
    return URLSafeTimedSerializer(
        list(keys),
        salt=purpose.value,
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256},
    )
