"""Identity-provider faults and forged ID tokens against a controllable local provider (T01–T12)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.servers import (
    FakeIdP,
    RunningProxy,
    fake_idp,
    login_with_fake,
    query_of,
    run_proxy,
    write_site,
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("idp-site")
    write_site(root)
    return root


@pytest.fixture(scope="module")
def shared_idp() -> Iterator[FakeIdP]:
    with fake_idp() as provider:
        yield provider


@pytest.fixture
def idp(shared_idp: FakeIdP) -> FakeIdP:
    """The module's provider, reset to honest behaviour for each test."""
    shared_idp.mode = "good"
    shared_idp.override = {}
    shared_idp.header_override = {}
    shared_idp.rotate("k1")
    return shared_idp


@pytest.fixture(scope="module")
def proxy(
    shared_idp: FakeIdP, site: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningProxy]:
    with run_proxy(
        site, shared_idp.issuer, tmp_path_factory.mktemp("idp"), oidc_timeout_seconds="1"
    ) as running:
        yield running


def _signed_in(client: httpx.Client, proxy: RunningProxy) -> bool:
    return client.get(proxy.url + "index.json").status_code == 200


def test_good_token_signs_in(idp: FakeIdP, proxy: RunningProxy) -> None:
    with httpx.Client() as client:
        done = login_with_fake(client, proxy.url)
        assert done.status_code == 302
        assert _signed_in(client, proxy)
    # PKCE S256 was sent and the verifier checked by the provider
    assert idp.token_requests[-1]["code_verifier"]


@pytest.mark.threat("T01")
@pytest.mark.parametrize("mode", ["none", "hmac-public", "bad-sig"])
def test_t01_forged_signatures_are_rejected(idp: FakeIdP, proxy: RunningProxy, mode: str) -> None:
    idp.mode = mode
    with httpx.Client() as client:
        done = login_with_fake(client, proxy.url)
        assert done.status_code == 403
        assert not _signed_in(client, proxy)


@pytest.mark.threat("T02")
@pytest.mark.parametrize("override", [{"exp": 1000}, {"iat": 4_000_000_000}, {"nbf": 4_000_000_000}])
def test_t02_expired_or_future_tokens_are_rejected(idp: FakeIdP, proxy: RunningProxy, override: dict) -> None:
    idp.override = override
    with httpx.Client() as client:
        assert login_with_fake(client, proxy.url).status_code == 403
        assert not _signed_in(client, proxy)


@pytest.mark.threat("T03")
@pytest.mark.parametrize(
    "override",
    [
        {"aud": "someone-else"},
        {"aud": ["skillport-test", "other"]},
        {"aud": ["skillport-test", "other"], "azp": "other"},
    ],
)
def test_t03_wrong_audience_or_azp_is_rejected(idp: FakeIdP, proxy: RunningProxy, override: dict) -> None:
    idp.override = override
    with httpx.Client() as client:
        assert login_with_fake(client, proxy.url).status_code == 403


@pytest.mark.threat("T03")
def test_t03_several_audiences_with_our_azp_are_accepted(idp: FakeIdP, proxy: RunningProxy) -> None:
    idp.override = {"aud": ["skillport-test", "other"], "azp": "skillport-test"}
    with httpx.Client() as client:
        assert login_with_fake(client, proxy.url).status_code == 302


@pytest.mark.threat("T04")
def test_t04_wrong_issuer_is_rejected(idp: FakeIdP, proxy: RunningProxy) -> None:
    idp.override = {"iss": "https://evil.example"}
    with httpx.Client() as client:
        assert login_with_fake(client, proxy.url).status_code == 403


@pytest.mark.threat("T05")
@pytest.mark.parametrize(
    "claims",
    [
        {"email": "alice@corp.example", "hd": "other.example"},
        {"email": "alice@gmail.com", "hd": None},
        {"email": "alice@corp.example.evil.com", "hd": None},
    ],
)
def test_t05_outside_the_organization_is_403(idp: FakeIdP, proxy: RunningProxy, claims: dict) -> None:
    idp.override = claims
    with httpx.Client() as client:
        page = login_with_fake(client, proxy.url)
        body = page.json()  # a client that did not ask for HTML: the one JSON error shape
        assert page.status_code == 403 and body["error"] == "forbidden"
        assert "not an account of this organization" in body["message"]
        assert not _signed_in(client, proxy)


@pytest.mark.threat("T05")
def test_t05_hd_missing_is_refused_when_hd_is_required(idp: FakeIdP, site: Path, tmp_path: Path) -> None:
    idp.override = {"hd": None}  # a personal account whose email looks like ours
    with run_proxy(site, idp.issuer, tmp_path, oidc_require_hd="true") as proxy, httpx.Client() as client:
        assert login_with_fake(client, proxy.url).status_code == 403


@pytest.mark.threat("T06")
@pytest.mark.parametrize("value", [False, None, "true"])
def test_t06_unverified_email_is_403(idp: FakeIdP, proxy: RunningProxy, value: object) -> None:
    idp.override = {"email_verified": value}
    with httpx.Client() as client:
        page = login_with_fake(client, proxy.url)
        assert page.status_code == 403 and "not verified" in page.text


@pytest.mark.threat("T07")
@pytest.mark.parametrize(
    "email",
    [
        "a@evil.com@corp.example",
        "alice@corp.example.",
        "аlice@corp.example",
        "alice@corp.examplе",
        " alice@corp.example",
    ],
)
def test_t07_email_tricks_are_refused(idp: FakeIdP, proxy: RunningProxy, email: str) -> None:
    idp.override = {"email": email, "hd": None}
    with httpx.Client() as client:
        assert login_with_fake(client, proxy.url).status_code == 403


@pytest.mark.threat("T07")
def test_t07_identity_is_keyed_on_sub_and_email_case_folded(idp: FakeIdP, proxy: RunningProxy) -> None:
    idp.override = {"email": "Alice@Corp.Example", "sub": "sub-123"}
    with httpx.Client() as client:
        assert login_with_fake(client, proxy.url).status_code == 302
    entry = [e for e in proxy.audit() if e["action"] == "sign-in"][-1]
    assert entry["user"] == "sub-123" and entry["email"] == "alice@corp.example"


@pytest.mark.threat("T08")
@pytest.mark.parametrize("nonce", [None, "not-the-nonce"])
def test_t08_missing_or_wrong_nonce_is_rejected(idp: FakeIdP, proxy: RunningProxy, nonce: str | None) -> None:
    idp.override = {"nonce": nonce}
    with httpx.Client() as client:
        assert login_with_fake(client, proxy.url).status_code == 403


@pytest.mark.threat("T09")
def test_t09_state_missing_mismatched_or_reused_is_403(idp: FakeIdP, proxy: RunningProxy) -> None:
    with httpx.Client() as client:
        start = client.get(proxy.url + "login")
        back = client.get(start.headers["location"]).headers["location"]
        q = query_of(back)
        wrong = client.get(proxy.url + "auth/callback", params={"code": q["code"], "state": "forged"})
        assert wrong.status_code == 403
        assert "skillport-signin" in wrong.headers.get("set-cookie", "")  # the state cookie is cleared
    with httpx.Client() as client:
        no_cookie = client.get(back)
        assert no_cookie.status_code == 403
    with httpx.Client() as client:
        start = client.get(proxy.url + "login")
        cookie = client.cookies.get("skillport-signin")
        back = client.get(start.headers["location"]).headers["location"]
        assert client.get(back).status_code == 302
        client.cookies.set("skillport-signin", cookie)
        replay = client.get(back)  # same state + cookie again
        assert replay.status_code == 403


@pytest.mark.threat("T09")
def test_t09_stale_state_is_403(idp: FakeIdP, proxy: RunningProxy) -> None:
    from itsdangerous import URLSafeTimedSerializer  # noqa: F401  (the cookie format is itsdangerous)

    from builder.signing import Purpose, serializer
    from tests.support.servers import SECRET

    stale = serializer([SECRET], Purpose.OIDC_STATE).dumps(
        {"s": "abc", "n": "n", "v": "v" * 43, "x": "/", "t": 1_000_000}
    )
    with httpx.Client(cookies={"skillport-signin": str(stale)}) as client:
        r = client.get(proxy.url + "auth/callback", params={"code": "c", "state": "abc"})
        assert r.status_code == 403 and "expired" in r.text


@pytest.mark.threat("T10")
def test_t10_wrong_pkce_verifier_or_injected_code_fails(idp: FakeIdP, proxy: RunningProxy) -> None:
    with httpx.Client() as attacker:  # the attacker's own code, injected into the victim's flow
        start = attacker.get(proxy.url + "login")
        injected = query_of(attacker.get(start.headers["location"]).headers["location"])["code"]
    with httpx.Client() as victim:
        start = victim.get(proxy.url + "login")
        back = query_of(victim.get(start.headers["location"]).headers["location"])
        r = victim.get(proxy.url + "auth/callback", params={"code": injected, "state": back["state"]})
        assert r.status_code == 403
        assert not _signed_in(victim, proxy)


@pytest.mark.threat("T11")
def test_t11_unknown_kid_refetches_once_then_rate_limits(idp: FakeIdP, proxy: RunningProxy) -> None:
    with httpx.Client() as client:
        assert login_with_fake(client, proxy.url).status_code == 302
    before = idp.jwks_fetches
    idp.mode = "unknown-kid"
    for _ in range(10):
        with httpx.Client() as client:
            assert login_with_fake(client, proxy.url).status_code == 403
    assert idp.jwks_fetches - before <= 1


@pytest.mark.threat("T11")
def test_t11_rotated_provider_keys_are_picked_up(idp: FakeIdP, site: Path, tmp_path: Path) -> None:
    with run_proxy(site, idp.issuer, tmp_path, jwks_min_refetch_seconds="1") as proxy:
        with httpx.Client() as client:
            assert login_with_fake(client, proxy.url).status_code == 302
        idp.rotate("k2")
        import time

        time.sleep(1.1)
        with httpx.Client() as client:
            assert login_with_fake(client, proxy.url).status_code == 302


@pytest.mark.threat("T12")
@pytest.mark.parametrize("mode", ["down", "slow"])
def test_t12_provider_down_or_slow_is_503_and_sessions_keep_working(
    idp: FakeIdP, proxy: RunningProxy, mode: str
) -> None:
    with httpx.Client() as member:
        assert login_with_fake(member, proxy.url).status_code == 302
        idp.mode = mode
        idp.discovery_fetches = 0
        with httpx.Client() as newcomer:
            # discovery is cached; the token or JWKS call hits the fault
            page = login_with_fake(newcomer, proxy.url)
            assert page.status_code == 503
            assert "unavailable" in page.text.lower()
        assert _signed_in(member, proxy)


@pytest.mark.threat("T17")
def test_t17_fresh_session_at_sign_in(idp: FakeIdP, proxy: RunningProxy) -> None:
    with httpx.Client() as client:
        client.cookies.set("skillport", "attacker-chosen-value", domain="127.0.0.1")
        login_with_fake(client, proxy.url)
        assert client.cookies.get("skillport") not in (None, "attacker-chosen-value")
        first = client.cookies.get("skillport")
        client.post(proxy.url + "logout")  # sign-out is POST-only (T59)
        login_with_fake(client, proxy.url)
        assert client.cookies.get("skillport") != first


@pytest.mark.threat("T19")
@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "/\\evil.example",
        "/%09/evil.example",
        "https://corp.evil",
        "javascript:alert(1)",
        "%2F%2Fevil.example",
        "/%2F%2Fevil.example",
        "/%5Cevil.example",
        "http:/evil",
        "",
    ],
)
def test_t19_open_redirects_fall_back_to_root(idp: FakeIdP, proxy: RunningProxy, target: str) -> None:
    with httpx.Client() as client:
        done = login_with_fake(client, proxy.url, target)
        assert done.status_code == 302 and done.headers["location"] == "/"


@pytest.mark.threat("T20")
def test_t20_forwarded_headers_do_not_change_redirect_uri(idp: FakeIdP, proxy: RunningProxy) -> None:
    r = httpx.get(
        proxy.url + "login",
        headers={
            "Host": "evil.example",
            "X-Forwarded-Host": "evil.example",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": "6.6.6.6",
        },
    )
    assert r.status_code == 302
    assert query_of(r.headers["location"])["redirect_uri"] == proxy.url + "auth/callback"
    with httpx.Client() as client:
        login_with_fake(client, proxy.url)
        client.get(proxy.url + "index.json", headers={"X-Forwarded-For": "6.6.6.6"})
    assert all(e["ip"] != "6.6.6.6" for e in proxy.audit())


@pytest.mark.threat("T21")
def test_t21_codes_states_and_cookies_never_reach_the_audit_log(idp: FakeIdP, proxy: RunningProxy) -> None:
    idp.override = {"email_verified": False}
    with httpx.Client() as client:
        start = client.get(proxy.url + "login")
        back = client.get(start.headers["location"]).headers["location"]
        client.get(back)
    q = query_of(back)
    log = proxy.audit_path.read_text()
    assert "sign-in-refused" in log
    assert q["code"] not in log and q["state"] not in log and "client-secret-value" not in log


@pytest.mark.threat("T12")
def test_t12_provider_down_at_first_sign_in_is_a_friendly_503(site: Path, tmp_path: Path) -> None:
    with (
        fake_idp(mode="down") as down,
        run_proxy(site, down.issuer, tmp_path, oidc_timeout_seconds="1") as proxy,
    ):
        page = httpx.get(proxy.url + "login", headers={"Accept": "text/html"})
        assert page.status_code == 503
        assert "Sign-in is unavailable right now" in page.text and "<script" not in page.text
        api = httpx.get(proxy.url + "login", headers={"Accept": "application/json"})
        assert api.status_code == 503 and api.json()["error"] == "unavailable"
        assert "identity provider did not answer" in api.json()["message"]
