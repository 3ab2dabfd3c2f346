"""Bearer access tokens on the served catalog files (Claude Code's marketplace by URL with an
``Authorization`` header): ``claude-code/marketplace.json`` and plugin zips for the token's member,
filtered like a session (T26), bad tokens 401 (T33); ``skillport auth-header`` prints (and refreshes)
the header; the real Claude Code CLI adds the marketplace by URL with it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from builder.client.credentials import Credentials, credentials_path
from builder.client.member import EXIT_SIGN_IN
from proxy.app import create_app
from proxy.oauth import Clock, OAuthConfig, SkillportOAuthProvider
from proxy.settings import Settings
from tests.support.connector import (
    SECRET_KEY,
    SIGNING_KEY,
    Proxy,
    exchange,
    get_code,
    oidc_provider,
    proxy_env,
    run_proxy,
)
from tests.support.member import cli_env, skillport
from tests.support.servers import free_socket, login_with_mock, serve, write_site
from tests.support.tls import self_signed

REPO_ROOT = Path(__file__).resolve().parent.parent
MARKETPLACE = "claude-code/marketplace.json"
WRITING_ZIP = "plugins/writing-1.0.0.zip"
FINANCE_ZIP = "plugins/finance-tools-2.1.0.zip"


def _marketplace(root: Path) -> None:
    """A marketplace.json shaped like the builder's (``archive`` sources), which Claude Code accepts."""
    plugins = [("writing", "1.0.0"), ("finance-tools", "2.1.0")]
    doc = {
        "name": "corp-skills",
        "owner": {"name": "Corp"},
        "plugins": [
            {
                "name": name,
                "version": version,
                "description": f"{name} plugin",
                "source": {
                    "source": "archive",
                    "url": f"https://skills.corp.example/plugins/{name}-{version}.zip",
                    "sha256": "0" * 64,
                },
            }
            for name, version in plugins
        ],
    }
    (root / MARKETPLACE).write_text(json.dumps(doc, indent=2))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    write_site(root, keys=(SIGNING_KEY,))  # `finance-tools` is readable by bob (group finance) only
    _marketplace(root)
    return root


@pytest.fixture(scope="module")
def proxy(site: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    audit = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    with oidc_provider() as issuer, run_proxy(site, issuer, audit) as running:
        yield running


def tokens(proxy: Proxy, user: str) -> dict[str, Any]:
    """Access + refresh token from the proxy's OAuth server, after a real sign-in and consent."""
    client_id, code, verifier = get_code(proxy, user)
    body: dict[str, Any] = exchange(proxy, client_id, code, verifier).json()
    body["client_id"] = client_id
    return body


@pytest.fixture(scope="module")
def alice(proxy: Proxy) -> dict[str, Any]:
    return tokens(proxy, "alice")


@pytest.fixture(scope="module")
def bob(proxy: Proxy) -> dict[str, Any]:
    return tokens(proxy, "bob")


def get(proxy: Proxy, path: str, token: str | None, **headers: str) -> httpx.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.get(f"{proxy.url}/{path}", headers=headers, follow_redirects=False)


def plugin_names(response: httpx.Response) -> list[str]:
    return [p["name"] for p in response.json()["plugins"]]


@pytest.mark.threat("T26")
def test_t26_bearer_token_gets_marketplace_and_plugin_zips_filtered_per_member(
    proxy: Proxy, site: Path, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    mine = get(proxy, MARKETPLACE, alice["access_token"])
    assert mine.status_code == 200, mine.text
    assert plugin_names(mine) == ["writing"]
    assert mine.headers["cache-control"].startswith("private")
    assert plugin_names(get(proxy, MARKETPLACE, bob["access_token"])) == ["writing", "finance-tools"]

    zipped = get(proxy, WRITING_ZIP, alice["access_token"])
    assert zipped.status_code == 200 and zipped.content == (site / WRITING_ZIP).read_bytes()
    assert zipped.headers["content-type"] == "application/zip"
    assert zipped.headers["cache-control"].startswith("private")
    assert get(proxy, FINANCE_ZIP, alice["access_token"]).status_code == 404
    assert get(proxy, FINANCE_ZIP, bob["access_token"]).content == (site / FINANCE_ZIP).read_bytes()
    # any other served file, filtered the same way
    assert [p["name"] for p in get(proxy, "index.json", alice["access_token"]).json()["plugins"]] == [
        "writing"
    ]
    assert get(proxy, ".well-known/agent-skills/ledger/SKILL.md", alice["access_token"]).status_code == 404

    entries = proxy.audit()
    assert any(
        e["action"] == "download"
        and e["path"] == WRITING_ZIP
        and e["via"] == "bearer"
        and e["user"] == "alice"
        for e in entries
    )
    assert any(e["action"] == "catalog-read" and e["via"] == "bearer" and e["user"] == "bob" for e in entries)
    assert not any(alice["access_token"] in json.dumps(e) for e in entries)


@pytest.mark.threat("T33")
def test_t33_bad_expired_or_foreign_tokens_get_401_with_www_authenticate(
    proxy: Proxy, alice: dict[str, Any]
) -> None:
    public = proxy.url + "/"
    member = {"sub": "alice", "email": "alice@corp.example"}
    other = SkillportOAuthProvider(OAuthConfig(public_url="https://other.example/", keys=(SECRET_KEY,)))
    foreign = other._tokens("c", member, ["skillport"], "f").access_token
    past = Clock(lambda: time.time() - 7200)
    old = SkillportOAuthProvider(OAuthConfig(public_url=public, keys=(SECRET_KEY,)), clock=past)
    expired = old._tokens("c", member, ["skillport"], "f").access_token
    wrong_key = SkillportOAuthProvider(OAuthConfig(public_url=public, keys=("x" * 48,)))
    forged = wrong_key._tokens("c", member, ["skillport"], "f").access_token
    for bad in (
        "nonsense",
        foreign,
        expired,
        forged,
        alice["refresh_token"],
        alice["access_token"][:-2] + "xx",
        "x" * 5000,
    ):
        for path in (MARKETPLACE, WRITING_ZIP, "index.html"):
            r = get(proxy, path, bad, Accept="text/html")
            assert r.status_code == 401, (path, r.status_code)
            challenge = r.headers["www-authenticate"]
            assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge
            assert "resource_metadata=" in challenge
            assert "writing" not in r.text and r.headers["cache-control"] == "no-store"
    assert get(proxy, MARKETPLACE, alice["access_token"]).status_code == 200


@pytest.mark.threat("T33")
def test_t33_a_bad_bearer_token_does_not_fall_back_to_the_session_cookie(proxy: Proxy) -> None:
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        signed_in = login_with_mock(browser, proxy.url + "/", "bob")
        assert signed_in.status_code == 302 and signed_in.headers["location"] == "/"
        assert plugin_names(browser.get(f"{proxy.url}/{MARKETPLACE}")) == ["writing", "finance-tools"]
        r = browser.get(f"{proxy.url}/{MARKETPLACE}", headers={"Authorization": "Bearer nonsense"})
        assert r.status_code == 401 and "finance" not in r.text


@pytest.mark.threat("T25")
def test_t25_without_a_token_browsers_still_go_to_sign_in_and_api_clients_get_401(proxy: Proxy) -> None:
    browser = get(proxy, MARKETPLACE, None, Accept="text/html")
    assert browser.status_code == 302 and browser.headers["location"].startswith("/login?next=")
    api = get(proxy, MARKETPLACE, None, Accept="application/json")
    assert api.status_code == 401 and "resource_metadata=" in api.headers["www-authenticate"]
    basic = get(proxy, MARKETPLACE, None, Accept="application/json", Authorization="Basic YTpi")
    assert basic.status_code == 401  # another scheme is not a token: treated as signed out


# -- skillport auth-header ------------------------------------------------------------------------


def store(env: dict[str, str], proxy: Proxy, body: dict[str, Any], expires_at: float) -> Path:
    """What ``skillport login`` stores (the sign-in itself is covered by test_member_cli)."""
    path = credentials_path(env)
    Credentials(
        server=proxy.url,
        client_id=body["client_id"],
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
        expires_at=expires_at,
    ).save(path)
    return path


def test_auth_header_prints_the_stored_token_and_refreshes_it_when_due(proxy: Proxy, tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    body = tokens(proxy, "alice")
    path = store(env, proxy, body, time.time() + 3000)
    done = skillport(env, "auth-header")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"Authorization": f"Bearer {body['access_token']}"}

    store(env, proxy, body, time.time() + 60)  # due within the default 300 s: refreshed first
    done = skillport(env, "auth-header")
    assert done.returncode == 0, done.stderr
    header = json.loads(done.stdout)["Authorization"]
    saved = json.loads(path.read_text())  # refreshed and re-saved: new expiry, rotated refresh token
    assert saved["expires_at"] > time.time() + 3000 and saved["refresh_token"] != body["refresh_token"]
    assert header == f"Bearer {saved['access_token']}"
    r = httpx.get(f"{proxy.url}/{MARKETPLACE}", headers={"Authorization": header})
    assert r.status_code == 200 and plugin_names(r) == ["writing"]

    assert skillport(env, "auth-header", "--server", "https://elsewhere.example").returncode == EXIT_SIGN_IN


def test_auth_header_without_login_exits_3_and_prints_nothing_on_stdout(tmp_path: Path) -> None:
    done = skillport(cli_env(tmp_path), "auth-header")
    assert done.returncode == EXIT_SIGN_IN and done.stdout == ""
    assert "skillport login" in done.stderr


# -- the real Claude Code CLI ---------------------------------------------------------------------


def claude(
    binary: str, home: Path, *args: str, cwd: Path | None = None, ca: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    if ca is not None:
        env["NODE_EXTRA_CA_CERTS"] = str(ca)
    return subprocess.run(
        ["timeout", "60", binary, *args],
        env=env,
        cwd=cwd or home,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


@pytest.mark.external
def test_claude_code_adds_the_marketplace_by_url_with_the_bearer_header(
    proxy: Proxy, claude_bin: str, tmp_path: Path
) -> None:
    env = cli_env(tmp_path)
    store(env, proxy, tokens(proxy, "alice"), time.time() + 3000)
    headers = json.loads(skillport(env, "auth-header").stdout)
    home = tmp_path / "claude-home"
    (home / ".claude").mkdir(parents=True)
    settings = {
        "extraKnownMarketplaces": {
            "corp-skills": {
                "source": {"source": "url", "url": f"{proxy.url}/{MARKETPLACE}", "headers": headers}
            }
        }
    }
    (home / ".claude/settings.json").write_text(json.dumps(settings))
    before = len(proxy.audit())

    # a headless run reconciles the declared marketplaces first, then stops (no Claude account here);
    # it may exit before the reconcile is recorded, so give it up to three starts
    known: dict[str, Any] = {}
    for _ in range(3):
        claude(claude_bin, home, "-p", "hi")
        listed = claude(claude_bin, home, "plugin", "marketplace", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        known = {m["name"]: m for m in json.loads(listed.stdout)}
        if "corp-skills" in known:
            break
    assert known["corp-skills"]["url"] == f"{proxy.url}/{MARKETPLACE}", listed.stdout
    cached = json.loads(Path(known["corp-skills"]["installLocation"]).read_text())
    assert [p["name"] for p in cached["plugins"]] == ["writing"]  # alice's view, not bob's

    updated = claude(claude_bin, home, "plugin", "marketplace", "update", "corp-skills")
    assert updated.returncode == 0, updated.stdout + updated.stderr
    reads = [
        e
        for e in proxy.audit()[before:]
        if e["action"] == "catalog-read" and e["via"] == "bearer" and e["user"] == "alice"
    ]
    assert len(reads) >= 2  # the first fetch and the update both sent the header


@pytest.mark.external
def test_claude_code_headers_helper_runs_skillport_auth_header_over_https(
    site: Path, claude_bin: str, tmp_path: Path
) -> None:
    """Claude Code runs ``headersHelper`` only for https marketplace URLs: the proxy under TLS, the
    helper is ``skillport auth-header``, and ``claude plugin marketplace update`` fetches with it."""
    cert, key = self_signed(tmp_path)
    sock = free_socket()
    port = sock.getsockname()[1]
    audit = tmp_path / "audit.jsonl"
    env = proxy_env(site, "http://127.0.0.1:9", port, audit)
    env["SKILLPORT_PUBLIC_URL"] = f"https://localhost:{port}/"
    settings = Settings.from_env(env)
    issued = SkillportOAuthProvider(OAuthConfig.from_settings(settings))._tokens(
        "cli", {"sub": "bob", "email": "bob@corp.example"}, ["skillport"], "f"
    )
    with serve(create_app(settings), sock, ssl_certfile=str(cert), ssl_keyfile=str(key)):
        server = f"https://localhost:{port}"
        home = tmp_path / "claude-home"  # Claude Code's HOME, also the one the helper's CLI reads
        Credentials(server, "cli", issued.access_token, issued.refresh_token or "", time.time() + 3000).save(
            credentials_path({"HOME": str(home)})  # ~/.config/skillport/credentials.json
        )
        helper = f"{Path(sys.executable).parent / 'skillport'} auth-header"
        (home / ".claude/plugins").mkdir(parents=True)
        source = {"source": "url", "url": f"{server}/{MARKETPLACE}", "headersHelper": helper}
        (home / ".claude/settings.json").write_text(
            json.dumps({"extraKnownMarketplaces": {"corp-skills": {"source": source}}})
        )
        # what Claude Code records once it has reconciled the declaration (its first start)
        location = home / ".claude/plugins/marketplaces/corp-skills"
        (home / ".claude/plugins/known_marketplaces.json").write_text(
            json.dumps(
                {
                    "corp-skills": {
                        "source": source,
                        "installLocation": str(location),
                        "lastUpdated": "2026-01-01T00:00:00.000Z",
                    }
                }
            )
        )
        updated = claude(
            claude_bin, home, "plugin", "marketplace", "update", "corp-skills", cwd=REPO_ROOT, ca=cert
        )
        assert updated.returncode == 0, updated.stdout + updated.stderr
        assert [p["name"] for p in json.loads(location.read_text())["plugins"]] == [
            "writing",
            "finance-tools",
        ]
    reads = [json.loads(line) for line in audit.read_text().splitlines()]
    assert any(e["action"] == "catalog-read" and e["via"] == "bearer" and e["user"] == "bob" for e in reads)
