"""``proxy.oauth`` provider records without a server: expiry with a moved clock, signed records that
do not verify across purposes, the bounded replay guard, redirect URI rules, key rotation."""

from __future__ import annotations

import asyncio
from urllib.parse import unquote

import pytest
from mcp.server.auth.provider import AuthorizationParams, AuthorizeError, RegistrationError, TokenError
from mcp.shared.auth import OAuthClientInformationFull
from pydantic import AnyUrl

from proxy.oauth import Clock, OAuthConfig, ReplayGuard, SkillportOAuthProvider, redirect_uri_problem
from proxy.replay import GuardFull

KEY_A = "a" * 40
KEY_B = "b" * 40
MEMBER = {"sub": "alice", "email": "alice@corp.example", "name": "Alice", "hd": "corp.example"}


class Moving(Clock):
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.t = start
        super().__init__(lambda: self.t)


def make(keys: tuple[str, ...] = (KEY_A,), clock: Clock | None = None) -> SkillportOAuthProvider:
    return SkillportOAuthProvider(
        OAuthConfig(
            "https://skills.corp.example/", keys, code_lifetime=60, access_lifetime=300, refresh_lifetime=3600
        ),
        clock=clock,
    )


def registered(
    p: SkillportOAuthProvider, uri: str = "https://claude.ai/api/mcp/auth_callback", method: str = "none"
) -> OAuthClientInformationFull:
    info = OAuthClientInformationFull(
        client_id="tmp",
        redirect_uris=[AnyUrl(uri)],
        client_name="Claude",
        token_endpoint_auth_method=method,
        grant_types=["authorization_code", "refresh_token"],
    )
    asyncio.run(p.register_client(info))
    return info


def code_for(p: SkillportOAuthProvider, client: OAuthClientInformationFull) -> str:
    url = asyncio.run(
        p.authorize(
            client,
            AuthorizationParams(
                state="s",
                scopes=["skillport"],
                code_challenge="c" * 43,
                redirect_uri=AnyUrl(str(client.redirect_uris[0])),
                redirect_uri_provided_explicitly=True,
                resource="https://skills.corp.example/mcp",
            ),
        )
    )
    request = p.load_consent_request(unquote(url.split("req=", 1)[1]))
    assert request is not None
    return p.issue_code(request, MEMBER)


def test_registration_is_self_describing_and_survives_a_restart() -> None:
    client = registered(make())
    again = asyncio.run(make().get_client(client.client_id))  # a fresh process with the same keys
    assert again is not None and [str(u) for u in again.redirect_uris or []] == [
        "https://claude.ai/api/mcp/auth_callback"
    ]
    assert again.client_name == "Claude"


def test_confidential_client_secret_is_derived_and_checked() -> None:
    p = make()
    client = registered(p, method="client_secret_post")
    assert client.client_secret
    again = asyncio.run(p.get_client(client.client_id))
    assert again is not None and again.client_secret == client.client_secret


@pytest.mark.threat("T35")
@pytest.mark.parametrize(
    "uri,ok",
    [
        ("https://claude.ai/api/mcp/auth_callback", True),
        ("https://claude.com/api/mcp/auth_callback", True),
        ("http://127.0.0.1:5555/cb", True),
        ("http://localhost/cb", True),
        ("http://[::1]:1/cb", True),
        ("http://corp.example/cb", False),
        ("ftp://x/cb", False),
        ("https://claude.ai/cb#x", False),
        ("http://localhost.evil.example/cb", False),
    ],
)
def test_t35_redirect_uri_rules(uri: str, ok: bool) -> None:
    assert (redirect_uri_problem(uri) is None) is ok
    if not ok:
        with pytest.raises(RegistrationError):
            registered(make(), uri)


@pytest.mark.threat("T33")
def test_t33_authorize_for_another_resource_is_invalid_target() -> None:
    p = make()
    client = registered(p)
    with pytest.raises(AuthorizeError) as err:
        asyncio.run(
            p.authorize(
                client,
                AuthorizationParams(
                    state=None,
                    scopes=None,
                    code_challenge="c" * 43,
                    redirect_uri=AnyUrl(str(client.redirect_uris[0])),
                    redirect_uri_provided_explicitly=True,
                    resource="https://other.example/mcp",
                ),
            )
        )
    assert err.value.error == "invalid_target"


@pytest.mark.threat("T36")
def test_t36_expired_code_is_refused() -> None:
    clock = Moving()
    p = make(clock=clock)
    client = registered(p)
    code = code_for(p, client)
    clock.t += 61
    loaded = asyncio.run(p.load_authorization_code(client, code))
    assert loaded is not None and loaded.expires_at < clock.t  # the SDK's token handler refuses this too
    with pytest.raises(TokenError) as err:
        asyncio.run(p.exchange_authorization_code(client, loaded))
    assert err.value.error == "invalid_grant"


@pytest.mark.threat("T33")
def test_t33_access_token_expires_and_is_bound_to_the_resource() -> None:
    clock = Moving()
    p = make(clock=clock)
    client = registered(p)
    code = asyncio.run(p.load_authorization_code(client, code_for(p, client)))
    assert code is not None
    tokens = asyncio.run(p.exchange_authorization_code(client, code))
    access = asyncio.run(p.verify_token(tokens.access_token))
    assert (
        access is not None
        and access.resource == "https://skills.corp.example/mcp"
        and access.subject == "alice"
    )
    assert asyncio.run(p.verify_token(tokens.refresh_token or "")) is None  # another purpose
    clock.t += 301
    assert asyncio.run(p.verify_token(tokens.access_token)) is None


@pytest.mark.threat("T15")
def test_t15_key_rotation_keeps_old_tokens_during_the_overlap_only() -> None:
    old = make((KEY_A,))
    client = registered(old)
    code = asyncio.run(old.load_authorization_code(client, code_for(old, client)))
    assert code is not None
    tokens = asyncio.run(old.exchange_authorization_code(client, code))
    assert asyncio.run(make((KEY_A, KEY_B)).verify_token(tokens.access_token)) is not None
    assert asyncio.run(make((KEY_B,)).verify_token(tokens.access_token)) is None
    assert asyncio.run(make((KEY_B,)).get_client(client.client_id)) is None


@pytest.mark.threat("T36")
def test_t36_replay_guard_is_single_use_and_bounded() -> None:
    guard = ReplayGuard(max_entries=100)
    assert guard.first_use("x", 10.0, 0.0) and not guard.first_use("x", 10.0, 0.0)
    full = 0
    for i in range(1000):
        try:
            guard.first_use(f"k{i}", 10.0, 0.0)
        except GuardFull:
            full += 1
    assert len(guard) <= 100 and full == 901
    assert not guard.first_use("x", 10.0, 5.0)  # still remembered: nothing unexpired was dropped
    assert guard.first_use("k999", 20.0, 12.0) and len(guard) == 1  # expired entries make room
