"""``proxy.oauth`` provider records without a server: expiry with a moved clock, signed records that
do not verify across purposes, the bounded replay guard, redirect URI rules, key rotation."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

import pytest
from mcp.server.auth.provider import AuthorizationParams, AuthorizeError, RegistrationError, TokenError
from mcp.shared.auth import OAuthClientInformationFull
from pydantic import AnyUrl

from builder.errors import BadInput
from proxy.oauth import Clock, OAuthConfig, ReplayGuard, SkillportOAuthProvider, redirect_uri_problem
from proxy.replay import GuardFull
from proxy.revocation import revocations_for
from proxy.session import Member, Sessions
from proxy.settings import Settings

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


# -- T51: the replay guard never forgets a rotated refresh token ------------------------------------


def _grant(p: SkillportOAuthProvider, client: OAuthClientInformationFull) -> tuple[str, str]:
    """A fresh grant: (access token, refresh token)."""
    code = asyncio.run(p.load_authorization_code(client, code_for(p, client)))
    assert code is not None
    tokens = asyncio.run(p.exchange_authorization_code(client, code))
    assert tokens.refresh_token
    return tokens.access_token, tokens.refresh_token


def _refresh(p: SkillportOAuthProvider, client: OAuthClientInformationFull, refresh: str) -> str:
    loaded = asyncio.run(p.load_refresh_token(client, refresh))
    assert loaded is not None
    out = asyncio.run(p.exchange_refresh_token(client, loaded, []))
    assert out.refresh_token
    return out.refresh_token


@pytest.mark.threat("T51")
def test_t51_rotated_refresh_token_stays_refused_after_many_unrelated_refreshes() -> None:
    guard = ReplayGuard(max_entries=50)
    p = SkillportOAuthProvider(make().config, clock=Moving(), guard=guard)
    client = registered(p)
    _, stolen = _grant(p, client)
    current = _refresh(p, client, stolen)  # `stolen` is rotated out
    refused = 0
    for _ in range(200):  # other members' sign-ins and refreshes fill the guard
        try:
            _, other = _grant(p, client)
            _refresh(p, client, other)
        except TokenError:
            refused += 1  # fail closed: the guard is full, nothing it holds is forgotten
    assert refused > 0
    with pytest.raises(TokenError, match="already used"):
        _refresh(p, client, stolen)
    with pytest.raises(TokenError, match="revoked"):  # and the thief's replay ended the whole grant
        _refresh(p, client, current)


@pytest.mark.threat("T51")
def test_t51_one_guard_entry_per_grant_however_often_it_refreshes() -> None:
    p = make(clock=Moving())
    client = registered(p)
    _, refresh = _grant(p, client)
    for _ in range(25):
        refresh = _refresh(p, client, refresh)
    assert len(p.guard) == 2  # the code, and the grant's newest generation


# -- T52: grants end -----------------------------------------------------------------------------


@pytest.mark.threat("T52")
def test_t52_refresh_never_extends_a_grant_past_its_maximum_life() -> None:
    clock = Moving()
    start = clock.t
    config = OAuthConfig(
        "https://skills.corp.example/",
        (KEY_A,),
        access_lifetime=300,
        refresh_lifetime=3600,
        grant_lifetime=7200,
    )
    p = SkillportOAuthProvider(config, clock=clock)
    client = registered(p)
    _, refresh = _grant(p, client)
    for _ in range(2):
        clock.t += 3000
        refresh = _refresh(p, client, refresh)
    loaded = asyncio.run(p.load_refresh_token(client, refresh))
    assert loaded is not None and loaded.expires_at is not None and loaded.expires_at <= start + 7200
    clock.t = start + 7200
    with pytest.raises(TokenError):
        _refresh(p, client, refresh)


def _settings(tmp_path: Path, **extra: str) -> Settings:
    from tests.support.servers import proxy_env

    return Settings.from_env(
        proxy_env("https://skills.corp.example/", "https://accounts.google.com", tmp_path, **extra)
    )


@pytest.mark.threat("T52")
def test_t52_refresh_and_access_recheck_the_organization_rules(tmp_path: Path) -> None:
    before = _settings(tmp_path, allowed_domains="corp.example", oidc_require_hd="false")
    p = SkillportOAuthProvider(OAuthConfig.from_settings(before), clock=Moving())
    client = registered(p)
    access, refresh = _grant(p, client)
    assert asyncio.run(p.verify_token(access)) is not None
    # the administrator drops the domain (a merger undone, a contractor domain removed) and restarts
    after = _settings(tmp_path, allowed_domains="other.example", oidc_require_hd="false")
    q = SkillportOAuthProvider(OAuthConfig.from_settings(after), clock=Moving())
    assert asyncio.run(q.verify_token(access)) is None
    loaded = asyncio.run(q.load_refresh_token(client, refresh))
    assert loaded is not None
    with pytest.raises(TokenError, match="withdrawn"):
        asyncio.run(q.exchange_refresh_token(client, loaded, []))


@pytest.mark.threat("T52")
def test_t52_revocation_file_ends_one_persons_grants_and_sessions_without_new_keys(tmp_path: Path) -> None:
    revocations = tmp_path / "revoked.txt"
    revocations.write_text("# nobody yet\n")
    settings = _settings(tmp_path, revocation_file=str(revocations))
    clock = Moving(time.time())
    p = SkillportOAuthProvider(OAuthConfig.from_settings(settings), clock=clock)
    client = registered(p)
    access, refresh = _grant(p, client)
    sessions = Sessions(
        settings.secrets, lifetime=3600, https=True, revocations=revocations_for(str(revocations))
    )
    now = datetime.now(UTC)
    cookie = sessions.encode(Member("alice", "alice@corp.example"), now=now)
    bob_cookie = sessions.encode(Member("bob", "bob@corp.example"), now=now)
    assert asyncio.run(p.verify_token(access)) is not None and sessions.decode(cookie, now=now) is not None
    time.sleep(1.1)  # the file is looked at at most once a second
    stamp = datetime.fromtimestamp(clock.t + 1, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    revocations.write_text(f"ALICE@corp.example   {stamp}   # offboarded\n")
    assert asyncio.run(p.verify_token(access)) is None
    assert sessions.decode(cookie, now=now) is None
    assert sessions.decode(bob_cookie, now=now) is not None  # everyone else is untouched
    loaded = asyncio.run(p.load_refresh_token(client, refresh))
    assert loaded is not None
    with pytest.raises(TokenError, match="withdrawn"):
        asyncio.run(p.exchange_refresh_token(client, loaded, []))
    clock.t += 60  # signing in again after the not-before time works
    fresh, _ = _grant(p, client)
    assert asyncio.run(p.verify_token(fresh)) is not None


def test_a_bad_revocation_file_stops_start_up_naming_the_line(tmp_path: Path) -> None:
    revocations = tmp_path / "revoked.txt"
    revocations.write_text("alice@corp.example yesterday\n")
    with pytest.raises(BadInput, match=r"SKILLPORT_REVOCATION_FILE.*revoked.txt:1"):
        _settings(tmp_path, revocation_file=str(revocations))


# -- T50: redirect URIs --------------------------------------------------------------------------


@pytest.mark.threat("T50")
@pytest.mark.parametrize(
    "uri",
    [
        "https://evil.example/cb",
        "https://claude.ai@evil.example/api/mcp/auth_callback",
        "https://user:pw@claude.ai/api/mcp/auth_callback",
        "http://x@127.0.0.1:5555/cb",
    ],
)
def test_t50_redirect_uris_outside_the_allow_list_or_with_userinfo_are_refused(uri: str) -> None:
    assert redirect_uri_problem(uri) is not None
    with pytest.raises(RegistrationError):
        registered(make(), uri)


@pytest.mark.threat("T50")
def test_t50_admin_allow_list_admits_hosts_and_clients_outside_it_stop_working(tmp_path: Path) -> None:
    wide = SkillportOAuthProvider(
        OAuthConfig.from_settings(_settings(tmp_path, oauth_redirect_hosts="claude.ai,agents.corp.example"))
    )
    client = registered(wide, "https://agents.corp.example/cb")
    assert asyncio.run(wide.get_client(client.client_id)) is not None
    narrow = SkillportOAuthProvider(OAuthConfig.from_settings(_settings(tmp_path)))
    assert asyncio.run(narrow.get_client(client.client_id)) is None


@pytest.mark.threat("T56")
def test_t56_consent_names_a_client_by_redirect_host_apart_from_its_chosen_name() -> None:
    from proxy.oauth import consent_body

    client = OAuthClientInformationFull(
        client_id="c",
        client_name="Claude (claude.ai)",
        redirect_uris=[AnyUrl("https://claude.ai@evil.example:8443/api/mcp/auth_callback")],
        token_endpoint_auth_method="none",
    )
    assert SkillportOAuthProvider.client_hosts(client) == ["evil.example"]
    assert SkillportOAuthProvider.client_label(client) == "evil.example"
    page = "".join(consent_body(client, "alice@corp.example"))
    assert "<dt>Access goes to</dt><dd><strong>evil.example</strong></dd>" in page
    assert "claude.ai@" not in page and "8443" not in page
    # the self-chosen name only as a quoted claim, in its own row
    assert "<dt>It calls itself</dt><dd>&ldquo;Claude (claude.ai)&rdquo; <em>(a name the application" in page
    spoof = OAuthClientInformationFull(
        client_id="c",
        client_name="<b>Claude</b>\n\n  by Anthropic",
        redirect_uris=[AnyUrl("http://127.0.0.1:9/cb")],
        token_endpoint_auth_method="none",
    )
    shown = "".join(consent_body(spoof, "alice@corp.example"))
    assert "&lt;b&gt;Claude&lt;/b&gt; by Anthropic" in shown and "<b>" not in shown
    assert "<strong>127.0.0.1</strong> (a program on this computer)" in shown


@pytest.mark.threat("T16")
@pytest.mark.parametrize(
    ("site", "origin", "refused"),
    [
        ("same-origin", "https://skills.corp.example", False),
        ("same-origin", "null", False),  # Chromium on our own form under a hiding referrer policy
        ("same-origin", None, False),
        (None, None, False),  # not a browser: no ambient cookie of a victim
        (None, "https://skills.corp.example", False),
        (None, "null", True),  # a browser without Fetch Metadata: cannot tell a sandboxed frame
        (None, "https://evil.example", True),
        ("cross-site", "null", True),  # a sandboxed attacker frame
        ("cross-site", None, True),
        ("same-site", "https://other.corp.example", True),
        ("same-origin", "https://evil.example", True),
        ("none", "https://evil.example", True),
    ],
)
def test_t16_cross_site_check(site: str | None, origin: str | None, refused: bool) -> None:
    from proxy.security import cross_site

    assert cross_site(site, origin, "https://skills.corp.example") is refused
