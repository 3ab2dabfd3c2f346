"""The one tool is honest about its arguments (issue 11, item 4): through the official MCP SDK client
(real OAuth, real proxy) every argument the help names is read — `tag` filters, `part` picks the
version part, `confirm` deletes — and an argument outside the schema is refused with the fields that
exist. The schema, the `help` action and the `skillport` skill's reference come from one definition."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import jsonschema
import pytest

from builder.errors import BadInput
from proxy.tool_spec import FIELDS, TOOL_SCHEMA, ToolArgs, actions_markdown, parse_args
from tests.support.authoring import git
from tests.support.connector import Proxy, bearer, mcp_session, sample_proxy
from tests.support.publishing import editing_proxy

SKILL_DIR = Path(__file__).parent.parent / "examples/marketplace/plugins/skillport/skills/skillport"
# A full schema (every argument typed, three enums, `installed` items, additionalProperties false) is
# ~720 bytes by itself, so the 600-byte target cannot hold: this is the measured figure plus headroom
# (see benchmarks/bench_connector.py and docs/performance.md).
MAX_TOOLS_LIST_BYTES = 900


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    with sample_proxy(tmp_path_factory) as running:
        yield running


def _json(text: str) -> Any:
    return json.loads(text)


@pytest.mark.threat("T38")
@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_t38_an_argument_outside_the_schema_is_refused_naming_the_fields(proxy: Proxy, mode: str) -> None:
    calls: list[dict[str, Any]] = [
        {"action": "search", "query": "pdf", "tags": "finance"},
        {"action": "bump", "skill": "pdf-forms", "more": {"part": "minor"}},
        {"action": "updates", "installed": [{"name": "pdf-forms", "version": "1.0.0", "extra": 1}]},
        {"action": "search", "limit": "many"},
        {"action": "install", "skill": "pdf-forms", "surface": "web"},
    ]
    out = asyncio.run(mcp_session(proxy, "alice", mode, calls))
    (tags, more, item, limit, surface) = out["results"]
    assert tags[0] and "`tags` is not an argument of this tool" in tags[1]
    assert all(f in tags[1] for f in FIELDS)
    assert more[0] and "`more` is not an argument" in more[1]
    assert item[0] and "installed.0.extra" in item[1]
    assert limit[0] and "`limit` must be a whole number" in limit[1]
    assert surface[0] and "`surface` must be one of: claude-ai, desktop, claude-code, api" in surface[1]
    for is_error, text in out["results"]:
        # one sentence to act on: no pydantic dump, no documentation URL
        assert is_error and "errors.pydantic.dev" not in text and "validation error" not in text, text
    # the listed schema is the generated one, and it would have refused the same calls
    listed = out["tools"].tools[0].input_schema
    assert listed["properties"] == TOOL_SCHEMA["properties"] and listed["additionalProperties"] is False
    for call in calls[:2]:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(call, listed)


def test_search_by_tag_filters(proxy: Proxy) -> None:
    calls = [
        {"action": "search", "tag": "writing"},
        {"action": "search", "query": "", "tag": "documents"},
        {"action": "search", "tag": "finance"},
        {"action": "search"},
        {"action": "search", "limit": 2},
    ]
    res = asyncio.run(mcp_session(proxy, "bob", "legacy", calls))["results"]
    names = [[r["name"] for r in _json(text)["results"]] for _, text in res]
    assert names[0] == ["brand-voice"] and names[1] == ["pdf-forms"] and names[2] == ["ledger-close"]
    assert len(names[3]) == 4 and len(names[4]) == 2


def test_tools_list_on_the_wire_is_small_and_declares_every_argument(proxy: Proxy) -> None:
    storage = asyncio.run(mcp_session(proxy, "alice", "legacy", []))["storage"]
    token = storage.tokens.access_token
    r = httpx2.post(
        proxy.url + "/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": "2025-11-25",
        },
    )
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    size = len(json.dumps(result, separators=(",", ":")).encode())
    (tool,) = result["tools"]
    schema = tool["inputSchema"]
    assert set(schema["properties"]) == set(ToolArgs.model_fields)
    assert schema["properties"]["action"]["enum"][0] == "help"
    assert schema["properties"]["surface"]["enum"] == ["claude-ai", "desktop", "claude-code", "api"]
    assert schema["properties"]["installed"]["items"]["required"] == ["name", "version"]
    print(f"tools/list result on the 2025 wire: {size} bytes")
    assert size <= MAX_TOOLS_LIST_BYTES, (size, result)


def test_editor_over_mcp_bumps_the_part_asked_and_deletes_with_confirm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with editing_proxy(tmp_path, monkeypatch) as proxy:
        calls: list[dict[str, Any]] = [
            {"action": "bump", "skill": "one", "part": "minor"},
            {"action": "bump", "skill": "one", "part": "major"},
            {"action": "delete", "skill": "solo"},
            {"action": "delete", "skill": "solo", "confirm": True},
            {"action": "get", "skill": "solo"},
        ]
        res = asyncio.run(mcp_session(proxy, "bob", "legacy", calls))["results"]
    minor, major, ask, delete, gone = res
    assert not minor[0] and _json(minor[1])["version"] == "1.3.0", minor
    assert not major[0] and _json(major[1])["version"] == "2.0.0", major
    assert not ask[0] and _json(ask[1])["confirm_needed"] is True
    assert not delete[0] and _json(delete[1])["action"] == "delete", delete
    assert gone[0] and "no skill named 'solo'" in gone[1]
    assert "plugins/beta" not in git(tmp_path / "market.git", "ls-tree", "--name-only", "main", "plugins/")
    log = git(tmp_path / "market.git", "log", "--format=%s", "main")
    assert "Bump one to 1.3.0" in log and "Bump one to 2.0.0" in log


# -- one definition: schema, help and the skill's reference agree -----------------------------------------


def test_the_skill_reference_is_generated_from_the_tool_definition() -> None:
    checked_in = (SKILL_DIR / "references/actions.md").read_text()
    assert checked_in == actions_markdown(), (
        "references/actions.md is stale: run `python -m proxy.tool_spec > "
        "examples/marketplace/plugins/skillport/skills/skillport/references/actions.md` and bump the skill"
    )


def _examples(text: str) -> list[dict[str, Any]]:
    found = []
    for m in re.finditer(r'\{"action": [^\n`]*\}', text):
        snippet = m.group(0).replace(", …", "").replace("…", "x").replace('"NAME"', '"pdf-forms"')
        found.append(json.loads(snippet))
    return found


def test_every_call_the_skill_shows_fits_the_schema_and_the_parser() -> None:
    examples = [e for md in sorted(SKILL_DIR.rglob("*.md")) for e in _examples(md.read_text())]
    assert len(examples) >= 10
    for call in examples:
        jsonschema.validate(call, TOOL_SCHEMA)
        parse_args(call)
    # and no page still teaches the old `more` container
    assert not any('"more"' in md.read_text() for md in SKILL_DIR.rglob("*.md"))


def test_help_lists_each_action_with_the_fields_it_reads(proxy: Proxy) -> None:
    (help_,) = asyncio.run(mcp_session(proxy, "alice", "legacy", [{"action": "help"}]))["results"]
    body = _json(help_[1])
    assert list(body["arguments"]) == list(FIELDS) == list(TOOL_SCHEMA["properties"])
    assert body["actions"]["search"].startswith("query?, tag?, limit? ->")
    assert body["actions"]["delete"].startswith("skill, confirm? ->")
    assert "`minor`" in body["arguments"]["part"]


def test_type_errors_read_as_one_sentence_each() -> None:
    with pytest.raises(BadInput) as caught:
        parse_args({"action": "search", "query": "x" * 500, "limit": 0})
    message = str(caught.value)
    assert message == (
        "`query` must be at most 200 characters long; `limit` must be at least 1 (see action=help)."
    )
    with pytest.raises(BadInput, match=r"`files\.a` must be text"):
        parse_args({"action": "publish", "skill": "x", "files": {"a": 1}})
    # lists sent as JSON text (as some clients do) are read, not refused
    parsed = parse_args({"action": "updates", "installed": '[{"name": "a", "version": "1.0.0"}]'})
    assert parsed.installed[0].name == "a"


def test_the_json_api_reads_the_same_arguments_and_refuses_the_same(proxy: Proxy) -> None:
    headers = bearer(proxy, "bob")
    url = proxy.url + "/api/v1/actions"
    r = httpx.post(url, json={"action": "search", "tag": "finance"}, headers=headers)
    assert r.status_code == 200 and [s["name"] for s in r.json()["results"]] == ["ledger-close"]
    r = httpx.post(url, json={"action": "search", "more": {"tag": "finance"}}, headers=headers)
    assert r.status_code == 400 and "`more` is not an argument of this tool" in r.json()["message"]
    doc = httpx.get(proxy.url + "/api/v1/openapi.json").json()
    body = doc["paths"]["/actions"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == TOOL_SCHEMA
