"""Microsoft Entra ID sign-in: Entra sends ``xms_edov`` (email domain owner verified) instead of
``email_verified`` for work accounts. It counts as verification only from an Entra issuer
(``https://login.microsoftonline.com/<tenant id>/v2.0``); every other issuer still needs
``email_verified: true`` (T06). End to end: the real proxy signs in against a forged-token identity
provider that answers as an Entra tenant (its issuer URL is routed to 127.0.0.1)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from builder.errors import BadInput
from proxy.app import create_app
from proxy.errors import SignInRefused
from proxy.identity import OidcClient, is_entra_issuer, member_from_claims
from proxy.services import Services
from proxy.settings import Settings
from tests.support.servers import BROWSER, FakeIdP, free_socket, proxy_env, serve, write_site

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
ENTRA = f"https://login.microsoftonline.com/{TENANT}/v2.0"
WORK_ACCOUNT = {  # an Entra ID token's identity claims: no email_verified, no hd
    "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
    "oid": "00000000-0000-0000-66f3-3332eca7ea81",
    "tid": TENANT,
    "email": "alice@corp.example",
    "name": "Alice",
    "xms_edov": True,
}


def settings_for(issuer: str, tmp_path: Path) -> Settings:
    return Settings.from_env(proxy_env("http://127.0.0.1:9/", issuer, tmp_path))


def claims(issuer: str, **changes: Any) -> dict[str, Any]:
    found = {"iss": issuer, **WORK_ACCOUNT, **changes}
    return {k: v for k, v in found.items() if v is not None}


def test_entra_issuers_are_only_single_tenant_login_microsoftonline_com() -> None:
    assert is_entra_issuer(ENTRA)
    for other in (
        "https://login.microsoftonline.com/common/v2.0",
        "https://login.microsoftonline.com/organizations/v2.0",
        f"https://login.microsoftonline.com/{TENANT}",  # v1 endpoint
        f"https://login.microsoftonline.com.evil.example/{TENANT}/v2.0",
        f"https://evil.example/login.microsoftonline.com/{TENANT}/v2.0",
        f"http://login.microsoftonline.com/{TENANT}/v2.0",
        f"https://login.microsoftonline.com/{TENANT}/v2.0/extra",
        "https://accounts.google.com",
    ):
        assert not is_entra_issuer(other), other


def test_entra_work_account_with_xms_edov_signs_in(tmp_path: Path) -> None:
    member = member_from_claims(claims(ENTRA), settings_for(ENTRA, tmp_path))
    assert (member.email, member.sub, member.name, member.hd) == (
        "alice@corp.example",
        WORK_ACCOUNT["sub"],
        "Alice",
        "",
    )
    # email_verified: true still works from Entra (e.g. a guest account with a verified email)
    verified = claims(ENTRA, xms_edov=None, email_verified=True)
    assert member_from_claims(verified, settings_for(ENTRA, tmp_path)).email == "alice@corp.example"


@pytest.mark.threat("T06")
@pytest.mark.parametrize(
    "changes",
    [
        {"xms_edov": None},  # neither claim
        {"xms_edov": False},
        {"xms_edov": "true"},  # only the JSON boolean counts
        {"xms_edov": 1},
        {"email_verified": False},  # an explicit "not verified" wins over xms_edov
        {"email_verified": "true"},
    ],
)
def test_t06_entra_without_a_true_verification_claim_is_refused(
    tmp_path: Path, changes: dict[str, Any]
) -> None:
    with pytest.raises(SignInRefused, match="not verified"):
        member_from_claims(claims(ENTRA, **changes), settings_for(ENTRA, tmp_path))


@pytest.mark.threat("T06")
@pytest.mark.parametrize(
    "issuer",
    [
        "https://idp.corp.example",
        "https://accounts.google.com",
        "https://login.microsoftonline.com/common/v2.0",
        f"https://login.microsoftonline.com.evil.example/{TENANT}/v2.0",
    ],
)
def test_t06_xms_edov_from_any_other_issuer_is_refused(tmp_path: Path, issuer: str) -> None:
    with pytest.raises(SignInRefused, match="not verified"):
        member_from_claims(claims(issuer), settings_for(issuer, tmp_path))


@pytest.mark.threat("T06")
def test_t06_xms_edov_claiming_an_entra_issuer_under_another_configured_issuer_is_refused(
    tmp_path: Path,
) -> None:
    # the configured issuer decides, not what the token says about itself
    with pytest.raises(SignInRefused, match="not verified"):
        member_from_claims(claims(ENTRA), settings_for("https://idp.corp.example", tmp_path))


def test_settings_accept_the_entra_issuer_but_domains_are_still_enforced(tmp_path: Path) -> None:
    settings = settings_for(ENTRA, tmp_path)
    assert settings.oidc_issuer == ENTRA and not settings.require_hd
    with pytest.raises(SignInRefused, match="not an account of this organization"):
        member_from_claims(claims(ENTRA, email="alice@other.example"), settings)
    with pytest.raises(BadInput):
        Settings.from_env(
            proxy_env("http://127.0.0.1:9/", f"http://login.microsoftonline.com/{TENANT}/v2.0", tmp_path)
        )


# -- end to end: the proxy signing in against an "Entra" tenant on 127.0.0.1 ------------------------


class _ToLoopback(httpx.AsyncHTTPTransport):
    """Sends requests for the Entra issuer's URLs to the fake provider on 127.0.0.1 instead."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if url.startswith(ENTRA):
            request.url = httpx.URL(self.base + url[len(ENTRA) :])
        return await super().handle_async_request(request)


@dataclass
class Entra:
    idp: FakeIdP
    idp_base: str  # where the fake provider really listens
    proxy: str


@pytest.fixture
def entra(tmp_path: Path) -> Iterator[Entra]:
    """A fake provider whose issuer is ``ENTRA`` (served on 127.0.0.1), and the real proxy using it."""
    idp = FakeIdP(claims=dict(WORK_ACCOUNT), issuer=ENTRA)
    idp_sock = free_socket()
    base = f"http://127.0.0.1:{idp_sock.getsockname()[1]}"
    site = tmp_path / "site"
    write_site(site)
    sock = free_socket()
    public = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    settings = Settings.from_env(proxy_env(public, ENTRA, site, audit_log=str(tmp_path / "audit.jsonl")))
    state = Services.create(settings)
    asyncio.run(state.oidc.aclose())
    state = dataclasses.replace(state, oidc=OidcClient(settings, transport=_ToLoopback(base)))
    with serve(idp.app(), idp_sock), serve(create_app(settings, services=state), sock) as url:
        yield Entra(idp=idp, idp_base=base, proxy=url)


def sign_in(entra: Entra, browser: httpx.Client) -> httpx.Response:
    """/login -> the "Entra" authorize URL (fetched at 127.0.0.1) -> /auth/callback's response."""
    start = browser.get(entra.proxy + "login", params={"next": "/plugins/"})
    assert start.status_code == 302
    authorize = start.headers["location"]
    assert authorize.startswith(ENTRA + "/authorize?")
    back = browser.get(entra.idp_base + authorize[len(ENTRA) :])
    assert back.status_code == 302
    return browser.get(back.headers["location"])


def test_entra_sign_in_end_to_end_with_xms_edov(entra: Entra) -> None:
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        done = sign_in(entra, browser)
        assert done.status_code == 302 and done.headers["location"] == "/plugins/", done.text
        page = browser.get(entra.proxy + "plugins/")
        assert page.status_code == 200 and "writing" in page.text
    assert entra.idp.token_requests  # the code really went to the "Entra" token endpoint


@pytest.mark.threat("T06")
def test_t06_entra_sign_in_without_xms_edov_is_refused_end_to_end(entra: Entra) -> None:
    entra.idp.override = {"xms_edov": None}
    with httpx.Client(follow_redirects=False, timeout=10, headers=BROWSER) as browser:
        done = sign_in(entra, browser)
        assert done.status_code == 403 and "not verified" in done.text
        assert browser.get(entra.proxy + "plugins/").status_code == 302  # still signed out
