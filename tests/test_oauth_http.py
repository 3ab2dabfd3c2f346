"""The OAuth 2.1 authorization server over real HTTP (proxy under uvicorn, oidc-provider-mock):
metadata, registration rules, consent CSRF, code single use, PKCE, refresh rotation, audience binding
and the transport checks of ``/mcp``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from proxy.oauth import OAuthConfig, SkillportOAuthProvider
from tests.support.connector import (
    CLAUDE_AI,
    LOOPBACK,
    MCP_HEADERS,
    SECRET_KEY,
    Proxy,
    authorize_url,
    exchange,
    get_code,
    mcp,
    pkce,
    register,
    sample_proxy,
    sign_in_and_consent,
    token,
)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    with sample_proxy(tmp_path_factory) as running:
        yield running


def test_metadata_documents_discovery(proxy: Proxy) -> None:
    asm = httpx.get(proxy.url + "/.well-known/oauth-authorization-server").json()
    assert asm["code_challenge_methods_supported"] == ["S256"]
    assert asm["registration_endpoint"] == proxy.url + "/register"
    prm = httpx.get(proxy.url + "/.well-known/oauth-protected-resource/mcp").json()
    assert prm["resource"] == proxy.url + "/mcp"
    assert prm["authorization_servers"] == [asm["issuer"]]


def test_full_flow_gives_a_token_that_lists_one_tool(proxy: Proxy) -> None:
    client_id, code, verifier = get_code(proxy)
    tokens = exchange(proxy, client_id, code, verifier).json()
    assert tokens["token_type"] == "Bearer" and tokens["refresh_token"]
    r = mcp(proxy, tokens["access_token"])
    assert r.status_code == 200 and [t["name"] for t in r.json()["result"]["tools"]] == ["skillport"]


@pytest.mark.threat("T35")
@pytest.mark.parametrize(
    "uri",
    [
        "http://evil.example/cb",
        "javascript:alert(1)",
        "myapp://cb",
        "http://127.0.0.1.evil.example/cb",
        "https://claude.ai/cb#frag",
    ],
)
def test_t35_non_https_non_loopback_redirect_is_refused_at_registration(proxy: Proxy, uri: str) -> None:
    r = register(proxy, uri)
    assert r.status_code == 400 and r.json()["error"] in ("invalid_redirect_uri", "invalid_client_metadata")


@pytest.mark.threat("T35")
def test_t35_claude_callbacks_and_loopback_are_accepted_but_only_as_registered(proxy: Proxy) -> None:
    for uri in (CLAUDE_AI, "https://claude.com/api/mcp/auth_callback", LOOPBACK, "http://localhost:9999/cb"):
        assert register(proxy, uri).status_code == 201, uri
    client_id = register(proxy, CLAUDE_AI).json()["client_id"]
    _, challenge = pkce()
    r = httpx.get(authorize_url(proxy, client_id, challenge, redirect="https://claude.ai/api/mcp/other"))
    assert r.status_code == 400 and "location" not in r.headers


def test_consent_page_names_the_client_and_requires_sign_in(proxy: Proxy) -> None:
    client_id = register(proxy).json()["client_id"]
    _, challenge = pkce()
    with httpx.Client() as http:
        r = http.get(authorize_url(proxy, client_id, challenge))
        assert r.status_code == 302 and "/oauth/consent?req=" in r.headers["location"]
        r = http.get(r.headers["location"])
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=%2Foauth%2Fconsent")


@pytest.mark.threat("T16")
def test_t16_consent_post_without_its_csrf_token_or_from_another_site_is_refused(proxy: Proxy) -> None:
    client_id = register(proxy).json()["client_id"]
    _, challenge = pkce()
    url = authorize_url(proxy, client_id, challenge)
    req = httpx.get(url).headers["location"].split("req=", 1)[1]
    from urllib.parse import unquote

    r = httpx.post(
        proxy.url + "/oauth/consent", data={"req": unquote(req), "csrf": "forged", "decision": "allow"}
    )
    assert r.status_code in (400, 403) and "code=" not in r.headers.get("location", "")
    r = httpx.post(
        proxy.url + "/oauth/consent",
        data={"req": unquote(req), "decision": "allow"},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403


def test_deny_returns_access_denied_to_the_client(proxy: Proxy) -> None:
    client_id = register(proxy).json()["client_id"]
    _, challenge = pkce()
    result = sign_in_and_consent(authorize_url(proxy, client_id, challenge), "alice", decision="deny")
    assert result["error"] == "access_denied" and "code" not in result


@pytest.mark.threat("T36")
def test_t36_code_replay_is_invalid_grant(proxy: Proxy) -> None:
    client_id, code, verifier = get_code(proxy)
    assert exchange(proxy, client_id, code, verifier).status_code == 200
    again = exchange(proxy, client_id, code, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


@pytest.mark.threat("T36")
def test_t36_code_used_by_another_client_is_invalid_grant(proxy: Proxy) -> None:
    _, code, verifier = get_code(proxy)
    other = register(proxy).json()["client_id"]
    r = exchange(proxy, other, code, verifier)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


@pytest.mark.threat("T10")
def test_t10_wrong_pkce_verifier_is_refused(proxy: Proxy) -> None:
    client_id, code, _ = get_code(proxy)
    r = exchange(proxy, client_id, code, pkce()[0])
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


@pytest.mark.threat("T37")
def test_t37_rotated_refresh_token_reuse_is_refused_and_revokes_the_family(proxy: Proxy) -> None:
    client_id, code, verifier = get_code(proxy)
    first = exchange(proxy, client_id, code, verifier).json()
    second = token(
        proxy, grant_type="refresh_token", client_id=client_id, refresh_token=first["refresh_token"]
    )
    assert second.status_code == 200 and second.json()["refresh_token"] != first["refresh_token"]
    reuse = token(
        proxy, grant_type="refresh_token", client_id=client_id, refresh_token=first["refresh_token"]
    )
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    # after a reuse, the legitimate-looking newest refresh token is refused too
    newest = token(
        proxy, grant_type="refresh_token", client_id=client_id, refresh_token=second.json()["refresh_token"]
    )
    assert newest.status_code == 400 and newest.json()["error"] == "invalid_grant"


@pytest.mark.threat("T33")
def test_t33_tokens_for_another_resource_or_upstream_tokens_get_401(proxy: Proxy) -> None:
    client_id, code, verifier = get_code(proxy)
    tokens = exchange(proxy, client_id, code, verifier).json()
    # same keys, other public URL: a token minted for a different resource
    other = SkillportOAuthProvider(OAuthConfig(public_url="https://other.example/", keys=(SECRET_KEY,)))
    foreign = other._tokens(client_id, {"sub": "alice", "email": "alice@corp.example"}, ["skillport"], "f")
    google_like = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2FjY291bnRzLmdvb2dsZS5jb20ifQ.c2ln"
    for bad in (
        foreign.access_token,
        google_like,
        tokens["refresh_token"],
        tokens["access_token"][:-2] + "xx",
    ):
        r = mcp(proxy, bad)
        assert r.status_code == 401 and "resource_metadata=" in r.headers["www-authenticate"]
    assert mcp(proxy, tokens["access_token"]).status_code == 200


@pytest.mark.threat("T34")
def test_t34_host_origin_content_type_and_size_are_checked(proxy: Proxy) -> None:
    client_id, code, verifier = get_code(proxy)
    access = exchange(proxy, client_id, code, verifier).json()["access_token"]
    assert mcp(proxy, access, Host="evil.example").status_code == 421
    assert mcp(proxy, access, Origin="https://evil.example").status_code == 403
    r = httpx.post(
        proxy.url + "/mcp",
        content=b"action=search",
        headers={
            **MCP_HEADERS,
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": f"Bearer {access}",
        },
    )
    assert r.status_code in (400, 415)
    big = b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"x":"' + b"a" * (2 * 1024 * 1024) + b'"}}'
    r = httpx.post(
        proxy.url + "/mcp", content=big, headers={**MCP_HEADERS, "Authorization": f"Bearer {access}"}
    )
    assert r.status_code == 413


@pytest.mark.threat("T50")
@pytest.mark.parametrize(
    "extra",
    [
        {"response_type": "token"},
        {"code_challenge_method": "plain"},
        {"resource": "https://elsewhere.example/mcp"},
        {"scope": "admin"},
    ],
)
def test_t50_authorize_never_redirects_to_the_client_before_consent(
    proxy: Proxy, extra: dict[str, str]
) -> None:
    """A self-registered client cannot turn ``/authorize`` into an open redirect: a bad request from
    it is an error page on the proxy, not a redirect to its (unverified) URI."""
    client_id = register(proxy).json()["client_id"]
    _, challenge = pkce()
    r = httpx.get(authorize_url(proxy, client_id, challenge, **extra))
    assert r.status_code == 400, (r.status_code, r.headers.get("location"))
    assert "location" not in r.headers
    assert r.headers["content-type"].startswith("text/html") and "refused" in r.text
    assert LOOPBACK not in r.text
    # a good request still goes to the consent page (through sign-in)
    good = httpx.get(authorize_url(proxy, client_id, challenge))
    assert good.status_code == 302 and good.headers["location"].startswith(proxy.url + "/oauth/consent?")


@pytest.mark.threat("T52")
def test_t52_revocation_file_cuts_one_members_mcp_access_at_once(tmp_path: Path) -> None:
    from tests.support.connector import oidc_provider, run_proxy, write_site

    site, revocations = tmp_path / "site", tmp_path / "revoked.txt"
    write_site(site)
    revocations.write_text("")
    with (
        oidc_provider() as issuer,
        run_proxy(
            site, issuer, tmp_path / "audit.jsonl", SKILLPORT_REVOCATION_FILE=str(revocations)
        ) as proxy,
    ):
        grants = {}
        for user in ("alice", "bob"):
            client_id, code, verifier = get_code(proxy, user)
            grants[user] = (client_id, exchange(proxy, client_id, code, verifier).json())
            assert mcp(proxy, grants[user][1]["access_token"]).status_code == 200
        not_before = datetime.now(UTC) + timedelta(seconds=1)
        time.sleep(1.1)  # the file is looked at at most once a second
        revocations.write_text(f"alice@corp.example {not_before.strftime('%Y-%m-%dT%H:%M:%SZ')}\n")
        time.sleep(1.1)
        client_id, tokens = grants["alice"]
        assert mcp(proxy, tokens["access_token"]).status_code == 401
        refreshed = token(
            proxy, grant_type="refresh_token", client_id=client_id, refresh_token=tokens["refresh_token"]
        )
        assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
        assert mcp(proxy, grants["bob"][1]["access_token"]).status_code == 200  # nobody else
        client_id, code, verifier = get_code(proxy, "alice")  # signing in again after the time works
        again = exchange(proxy, client_id, code, verifier).json()
        assert mcp(proxy, again["access_token"]).status_code == 200
