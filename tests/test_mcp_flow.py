"""End to end: the real proxy under uvicorn, ``oidc-provider-mock`` as the organization's identity
provider, and the official MCP SDK client with its OAuth provider doing discovery (RFC 9728 / 8414),
dynamic registration (RFC 7591), PKCE authorization (signing in by HTTP) and token exchange, then
calling every action of the one tool — in the 2025 ("legacy", Claude.ai) and current protocol modes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from proxy.tool_spec import TOOL_SCHEMA
from tests.support.connector import (
    Proxy,
    mcp_session,
    oidc_provider,
    run_proxy,
    sample_proxy,
    write_site,
)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    with sample_proxy(tmp_path_factory) as running:
        yield running


def _json(text: str) -> Any:
    return json.loads(text)


ALL_ACTIONS = [
    {"action": "help"},
    {"action": "search", "query": "pdf"},
    {"action": "get", "skill": "pdf-forms"},
    {"action": "install", "skill": "pdf-forms", "surface": "claude-ai"},
    {"action": "install", "skill": "pdf-forms", "surface": "claude-code"},
    {
        "action": "updates",
        "installed": [{"name": "pdf-forms", "version": "1.0.0"}, {"name": "brand-voice", "version": "2.0.0"}],
    },
    {"action": "whoami"},
    {"action": "bump", "skill": "pdf-forms", "part": "minor"},
]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_sdk_client_signs_in_with_oauth_and_calls_every_action(proxy: Proxy, mode: str) -> None:
    out = asyncio.run(mcp_session(proxy, "alice", mode, ALL_ACTIONS))
    tools = out["tools"].tools
    assert [t.name for t in tools] == ["skillport"]
    (help_, search, get, install_ai, install_cc, updates, whoami, bump) = out["results"]
    assert not help_[0] and "/d/" in _json(help_[1])["skill"]["download"]
    assert not search[0] and _json(search[1])["results"][0]["name"] == "pdf-forms"
    got = _json(get[1])
    assert got["version"] == "1.2.0" and "Body of pdf-forms." in got["skill_md"]
    # the index has no scan record: Claude is told it is not scanned (never "safe") before installing
    assert got["scan"]["status"] == "not-scanned" and "NOT SCANNED" in got["scan"]["advice"]
    ai = _json(install_ai[1])
    assert ai["scan"]["status"] == "not-scanned"
    assert ai["download"].startswith(proxy.url + "/d/") and any("Upload" in s for s in ai["steps"])
    cc = _json(install_cc[1])
    assert "~/.claude/skills" in cc["direct"]
    assert "In Claude Code: /plugin install office@corp-skills" in cc["steps"]
    source = cc["settings"]["extraKnownMarketplaces"]["corp-skills"]["source"]
    assert source["headersHelper"] == "skillport auth-header"
    assert f"In a terminal: skillport login --server {proxy.url}/" in cc["on_the_web"]
    ups = _json(updates[1])
    assert ups["updates"][0]["name"] == "pdf-forms" and ups["updates"][0]["latest"] == "1.2.0"
    assert [c["version"] for c in ups["updates"][0]["changes"]] == ["1.2.0", "1.1.0"]
    assert ups["current"] == ["brand-voice"]
    me = _json(whoami[1])
    assert (
        me["email"] == "alice@corp.example" and "finance-tools" not in me["plugins"] and me["can_edit"] == []
    )
    assert bump[0] and "may not edit" in bump[1]
    # the signed link from `install` downloads the zip without any cookie
    with httpx2.Client() as http:
        r = http.get(ai["download"])
    assert r.status_code == 200 and r.content[:2] == b"PK"
    actions = [e.get("tool_action") for e in proxy.audit() if e["action"] == "tool" and e["user"] == "alice"]
    assert {"help", "search", "get", "install", "updates", "whoami", "bump"} <= set(actions)


@pytest.mark.threat("T26")
def test_t26_member_never_sees_plugins_they_cannot_read(proxy: Proxy) -> None:
    calls = [
        {"action": "search", "query": "ledger"},
        {"action": "get", "skill": "ledger-close"},
        {"action": "updates", "installed": [{"name": "ledger-close", "version": "0.1.0"}]},
        {"action": "install", "skill": "ledger-close"},
    ]
    alice = asyncio.run(mcp_session(proxy, "alice", "legacy", calls))["results"]
    assert _json(alice[0][1])["results"] == []
    assert alice[1][0] and "no skill named" in alice[1][1]
    assert _json(alice[2][1]) == {"updates": [], "current": [], "unknown": ["ledger-close"]}
    assert alice[3][0]
    bob = asyncio.run(mcp_session(proxy, "bob", "legacy", calls[:1]))["results"]
    assert _json(bob[0][1])["results"][0]["name"] == "ledger-close"


@pytest.mark.threat("T39")
def test_t39_editor_actions_by_a_non_editor_are_refused_and_audited(proxy: Proxy) -> None:
    calls = [
        {"action": "delete", "skill": "pdf-forms", "confirm": True},
        {"action": "publish", "skill": "pdf-forms", "files": {"SKILL.md": "x"}},
    ]
    results = asyncio.run(mcp_session(proxy, "alice", "legacy", calls))["results"]
    assert all(is_error and "may not edit plugin 'office'" in text for is_error, text in results)
    denied = [e for e in proxy.audit() if e["action"] == "denied" and e["user"] == "alice"]
    assert {e["tool_action"] for e in denied} >= {"delete", "publish"}
    # an editor passes the permission check and learns editing is not configured yet
    bob = asyncio.run(
        mcp_session(
            proxy,
            "bob",
            "legacy",
            [{"action": "bump", "skill": "pdf-forms"}, {"action": "delete", "skill": "pdf-forms"}],
        )
    )["results"]
    assert bob[0][0] and "not configured" in bob[0][1]
    assert not bob[1][0] and _json(bob[1][1])["confirm_needed"] is True


@pytest.mark.threat("T38")
def test_t38_traversal_unknown_skill_and_huge_inputs_are_tool_errors(proxy: Proxy) -> None:
    calls = [
        {"action": "get", "skill": "../../index.json"},
        {"action": "get", "skill": "no-such-skill"},
        {"action": "search", "query": "x" * 5000},
        {"action": "install", "skill": "pdf-forms/../../etc"},
        {"action": "nope"},
        {"action": "publish", "skill": "pdf-forms", "files": {"../evil": "x"}},
    ]
    results = asyncio.run(mcp_session(proxy, "bob", "legacy", calls))["results"]
    assert all(is_error for is_error, _ in results), results
    assert "skill" in results[0][1] and "no skill named" in results[1][1]
    assert "safe relative path" in results[5][1]


def test_tools_list_is_one_tool_with_the_generated_schema(proxy: Proxy) -> None:
    # its size on the wire: tests/test_mcp_tool_args.py
    for mode in ("legacy", "auto"):
        listed = asyncio.run(mcp_session(proxy, "alice", mode, []))["tools"]
        (tool,) = listed.tools
        assert tool.input_schema["properties"] == TOOL_SCHEMA["properties"], mode


def test_unauthenticated_mcp_gets_401_pointing_at_resource_metadata(proxy: Proxy) -> None:
    r = httpx2.post(
        proxy.url + "/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Accept": "application/json, text/event-stream"},
    )
    assert r.status_code == 401
    assert "/.well-known/oauth-protected-resource/mcp" in r.headers["www-authenticate"]


def test_create_app_serves_the_exact_mcp_path(tmp_path: Path) -> None:
    write_site(tmp_path)
    with (
        oidc_provider() as issuer,
        run_proxy(tmp_path, issuer, tmp_path / "audit.jsonl") as p,
    ):
        r = httpx2.post(
            p.url + "/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Accept": "application/json, text/event-stream"},
        )
    assert r.status_code == 401
