"""End to end: the proxy under uvicorn, oidc-provider-mock as the identity provider, httpx following
the real redirects. Members see the catalog filtered by their access; everything is audited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.servers import BROWSER, RunningProxy, login_with_mock, mock_provider, run_proxy, write_site

USERS = [
    {
        "sub": "alice",
        "email": "alice@corp.example",
        "email_verified": True,
        "hd": "corp.example",
        "name": "Alice",
    },
    {"sub": "bob", "email": "bob@corp.example", "email_verified": True, "hd": "corp.example", "name": "Bob"},
    {"sub": "eve", "email": "eve@gmail.com", "email_verified": True, "name": "Eve"},
    {"sub": "mallory", "email": "mallory@corp.example", "email_verified": True, "name": "Mallory"},
]


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    with mock_provider(USERS) as url:
        yield url


@pytest.fixture(scope="module")
def proxy(issuer: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    root = tmp_path_factory.mktemp("signin")
    write_site(root / "site")
    with run_proxy(root / "site", issuer, root) as running:
        yield running


def test_alice_signs_in_and_returns_to_where_she_was_going(proxy: RunningProxy) -> None:
    with httpx.Client(headers=BROWSER) as client:
        first = client.get(proxy.url + "skills/pdf-writer/")
        assert first.status_code == 302
        assert first.headers["location"].startswith("/login?next=")
        done = login_with_mock(client, proxy.url, "alice", "/skills/pdf-writer/")
        assert done.status_code == 302 and done.headers["location"] == "/skills/pdf-writer/"
        page = client.get(proxy.url + "skills/pdf-writer/")
        assert page.status_code == 200 and "pdf-writer" in page.text
        assert page.headers["cache-control"].startswith("private")
        assert "script-src 'self'" in page.headers["content-security-policy"]
    assert any(e["action"] == "sign-in" and e["user"] == "alice" for e in proxy.audit())


@pytest.mark.threat("T26")
def test_t26_alice_cannot_see_or_download_the_finance_plugin(proxy: RunningProxy) -> None:
    with httpx.Client() as client:
        login_with_mock(client, proxy.url, "alice")
        home = client.get(proxy.url)
        assert "pdf-writer" in home.text and "ledger" not in home.text
        listing = client.get(proxy.url + "plugins/")
        assert (
            listing.status_code == 200 and "writing" in listing.text and "finance-tools" not in listing.text
        )
        assert client.get(proxy.url + "plugins/finance-tools").status_code == 404  # no redirect hint
        index = client.get(proxy.url + "index.json").json()
        assert [s["name"] for s in index["skills"]] == ["pdf-writer"]
        assert "access" not in index
        for path in (
            "skills/ledger/",
            "skills/ledger/ledger-2.1.0.zip",
            "plugins/finance-tools-2.1.0.zip",
            "plugins/finance-tools/",
            ".well-known/agent-skills/ledger/SKILL.md",
            "index.json.sig",
        ):
            assert client.get(proxy.url + path).status_code == 404, path
        search = client.get(proxy.url + "search/search_index.json").json()
        locations = [d["location"] for d in search["docs"]]
        assert "skills/pdf-writer/" in locations
        assert not [x for x in locations if "ledger" in x or "finance-tools" in x]
        market = client.get(proxy.url + "claude-code/marketplace.json").json()
        assert [p["name"] for p in market["plugins"]] == ["writing"]
        wk = client.get(proxy.url + ".well-known/agent-skills/index.json").json()
        assert [s["name"] for s in wk["skills"]] == ["pdf-writer"]
        ok = client.get(proxy.url + "skills/pdf-writer/pdf-writer-1.0.0.zip")
        assert ok.status_code == 200 and ok.content[:2] == b"PK"


def test_bob_in_finance_sees_and_downloads_ledger(proxy: RunningProxy) -> None:
    with httpx.Client() as client:
        login_with_mock(client, proxy.url, "bob")
        assert "ledger" in client.get(proxy.url).text
        got = client.get(proxy.url + "skills/ledger/ledger-2.1.0.zip")
        assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    assert any(e["action"] == "download" and e["user"] == "bob" for e in proxy.audit())


@pytest.mark.threat("T05")
def test_t05_personal_account_gets_a_friendly_403(proxy: RunningProxy) -> None:
    with httpx.Client(headers=BROWSER) as client:
        page = login_with_mock(client, proxy.url, "eve")
        assert page.status_code == 403
        assert "Not in your organization" in page.text and "eve@gmail.com" in page.text
        assert client.get(proxy.url).status_code == 302


@pytest.mark.threat("T25")
def test_t25_api_clients_get_401_with_www_authenticate(proxy: RunningProxy) -> None:
    for path, headers in (
        ("index.json", {"Accept": "application/json"}),
        ("skills/pdf-writer/pdf-writer-1.0.0.zip", {"Accept": "application/json"}),
    ):
        r = httpx.get(proxy.url + path, headers=headers)
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Bearer")
    mcp = httpx.post(
        proxy.url + "mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Accept": "application/json, text/event-stream"},
    )
    assert mcp.status_code == 401 and mcp.headers["www-authenticate"].startswith("Bearer")
    r = httpx.get(proxy.url + "skills/pdf-writer/pdf-writer-1.0.0.zip", headers=BROWSER)
    assert r.status_code == 302 and "next=%2Fskills%2Fpdf-writer" in r.headers["location"]


def test_login_next_with_query_round_trips(proxy: RunningProxy) -> None:
    target = "/authorize?client_id=abc&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&state=xyz"
    with httpx.Client() as client:
        done = login_with_mock(client, proxy.url, "alice", target)
        assert done.headers["location"] == target


def test_healthz_and_readyz(proxy: RunningProxy) -> None:
    health = httpx.get(proxy.url + "healthz")
    assert health.status_code == 200 and health.text == "ok"
    ready = httpx.get(proxy.url + "readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


@pytest.mark.threat("T18")
def test_t18_sign_out_ends_the_session(proxy: RunningProxy) -> None:
    with httpx.Client(headers=BROWSER) as client:
        login_with_mock(client, proxy.url, "alice")
        assert client.get(proxy.url).status_code == 200
        out = client.post(proxy.url + "logout", headers={"Origin": proxy.url.rstrip("/")})
        assert out.status_code == 303
        assert client.get(proxy.url).status_code == 302


def test_signed_download_link_works_without_cookie_and_is_audited(
    proxy: RunningProxy, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    from proxy.session import Member

    state = proxy.app.state.skillport
    link = state.links.mint(
        Member("alice", "alice@corp.example"), "pdf-writer", "1.0.0", now=datetime.now(UTC)
    )
    assert link.startswith(proxy.url + "d/")
    got = httpx.get(link)
    assert got.status_code == 200 and got.content[:2] == b"PK"
    actions = [e["action"] for e in proxy.audit()]
    assert "link-minted" in actions
    assert not any(link.split("/d/")[1] in line for line in proxy.audit_path.read_text().splitlines())


@pytest.mark.threat("T25")
def test_t25_curl_gets_401_never_a_sign_in_page(proxy: RunningProxy, tmp_path: Path) -> None:
    """The install line ``curl -fsSL <zip> -o …`` fails loudly (exit 22) instead of saving the
    identity provider's HTML as the "zip"; only a client asking for HTML is sent to sign in."""
    import shutil
    import subprocess

    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    target = tmp_path / "skill.zip"
    for path in ("skills/pdf-writer/pdf-writer-1.0.0.zip", "skills/pdf-writer/", "index.json", "nope"):
        done = subprocess.run(
            [curl, "-fsSL", proxy.url + path, "-o", str(target), "-D", "-"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 22, (path, done.stdout, done.stderr)
        assert " 401" in done.stdout.splitlines()[0], done.stdout
        assert "www-authenticate: bearer" in done.stdout.lower()
        assert not target.exists() or b"<html" not in target.read_bytes().lower()
    as_browser = subprocess.run(
        [
            curl,
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{redirect_url}",
            "-H",
            f"Accept: {BROWSER['Accept']}",
            proxy.url + "skills/pdf-writer/",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert as_browser.stdout.startswith("302 ") and "/login?next=" in as_browser.stdout
    error = httpx.get(proxy.url + "login", headers={"Accept": "*/*"}, follow_redirects=False)
    assert error.status_code == 302  # /login itself is a sign-in page: asked for by name
