"""What the MCP conformance suite and its authorization checks found, fixed and pinned (issue 11, item
5), against the real proxy under uvicorn with the real OAuth flow: the authorization-server metadata
admits public PKCE clients and RFC 9207 ``iss`` (which the redirect carries); a 401 without a token
names the metadata and the scope and no ``error``; unknown ``/.well-known/*`` paths are 404; the
protected-resource metadata names the URL it is served for; no prompts or resources are advertised;
GET ``/mcp`` is 405."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from mcp import Client

from tests.support.connector import (
    MCP_HEADERS,
    TOOLS_LIST,
    MemoryStorage,
    Proxy,
    exchange,
    get_code,
    mcp,
    oauth_client,
    sample_proxy,
)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    with sample_proxy(tmp_path_factory) as running:
        yield running


@pytest.fixture(scope="module")
def access(proxy: Proxy) -> str:
    client_id, code, verifier = get_code(proxy)
    return str(exchange(proxy, client_id, code, verifier).json()["access_token"])


def test_authorization_server_metadata_admits_public_pkce_clients_and_iss(proxy: Proxy) -> None:
    asm = httpx.get(proxy.url + "/.well-known/oauth-authorization-server").json()
    assert "none" in asm["token_endpoint_auth_methods_supported"]
    assert asm["authorization_response_iss_parameter_supported"] is True
    assert asm["code_challenge_methods_supported"] == ["S256"]
    # and what it advertises is true: the redirect carries iss, and a public client gets a token
    client_id, code, verifier = get_code(proxy)
    assert exchange(proxy, client_id, code, verifier).status_code == 200


def test_the_authorization_response_carries_iss(proxy: Proxy) -> None:
    from tests.support.connector import authorize_url, pkce, register, sign_in_and_consent

    client_id = register(proxy).json()["client_id"]
    _, challenge = pkce()
    result = sign_in_and_consent(authorize_url(proxy, client_id, challenge), "alice")
    assert result["iss"] == httpx.get(proxy.url + "/.well-known/oauth-authorization-server").json()["issuer"]


@pytest.mark.threat("T25")
def test_t25_401_without_a_token_names_metadata_and_scope_but_no_error(proxy: Proxy) -> None:
    metadata = proxy.url + "/.well-known/oauth-protected-resource/mcp"
    no_token = [
        mcp(proxy, None),
        httpx.get(proxy.url + "/api/v1/whoami", headers={"Accept": "application/json"}),
        httpx.get(proxy.url + "/claude-code/marketplace.json", headers={"Accept": "application/json"}),
    ]
    for r in no_token:
        challenge = r.headers["www-authenticate"]
        assert r.status_code == 401 and challenge.startswith("Bearer "), (r.request.url, challenge)
        assert f'resource_metadata="{metadata}"' in challenge and 'scope="skillport"' in challenge
        assert "error=" not in challenge, (r.request.url, challenge)
    # a token that was sent and refused says so
    refused = [
        mcp(proxy, "not-a-token"),
        httpx.get(proxy.url + "/api/v1/whoami", headers={"Authorization": "Bearer not-a-token"}),
    ]
    for r in refused:
        challenge = r.headers["www-authenticate"]
        assert r.status_code == 401 and 'error="invalid_token"' in challenge
        assert 'scope="skillport"' in challenge


def test_unknown_well_known_paths_are_404_not_a_sign_in_redirect(proxy: Proxy) -> None:
    with httpx.Client(follow_redirects=False) as http:
        for path in (
            "/.well-known/openid-configuration",
            "/.well-known/oauth-protected-resource",
            "/.well-known/oauth-authorization-server/mcp",
            "/.well-known/security.txt",
        ):
            r = http.get(proxy.url + path, headers={"Accept": "text/html"})
            assert r.status_code == 404, (path, r.status_code, r.headers.get("location"))
        # the served well-known tree still needs a signed-in member
        r = http.get(proxy.url + "/.well-known/agent-skills/index.json", headers={"Accept": "text/html"})
        assert r.status_code == 302 and r.headers["location"].startswith("/login")


def test_protected_resource_metadata_names_the_url_it_is_served_for(proxy: Proxy) -> None:
    prm = httpx.get(proxy.url + "/.well-known/oauth-protected-resource/mcp").json()
    # RFC 9728 section 3: /.well-known/oauth-protected-resource + the resource's path
    assert prm["resource"] == proxy.url + "/mcp"
    assert prm["scopes_supported"] == ["skillport"]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_only_tools_are_advertised(proxy: Proxy, mode: str) -> None:
    async def capabilities() -> object:
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        auth = oauth_client(proxy, "alice", MemoryStorage())
        async with httpx2.AsyncClient(auth=auth, timeout=30.0) as http:
            transport = streamable_http_client(proxy.url + "/mcp", http_client=http)
            async with Client(transport, mode=mode) as client:  # type: ignore[arg-type]
                return client.server_capabilities

    caps = asyncio.run(capabilities())
    assert caps.tools is not None  # type: ignore[attr-defined]
    assert caps.prompts is None and caps.resources is None  # type: ignore[attr-defined]


def test_get_mcp_on_the_2025_wire_is_405(proxy: Proxy, access: str) -> None:
    headers = {"Authorization": f"Bearer {access}", "Accept": "text/event-stream"}
    for version in ("2025-11-25", "2025-06-18"):
        r = httpx.get(proxy.url + "/mcp", headers={**headers, "MCP-Protocol-Version": version}, timeout=10)
        assert r.status_code == 405 and r.headers["allow"] == "POST", version
    # POST still works with the same token
    r = httpx.post(
        proxy.url + "/mcp", json=TOOLS_LIST, headers={**MCP_HEADERS, "Authorization": f"Bearer {access}"}
    )
    assert r.status_code == 200 and r.json()["result"]["tools"][0]["name"] == "skillport"
