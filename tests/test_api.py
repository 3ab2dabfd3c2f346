"""``/api/v1`` over real HTTP: the same actions as the MCP tool for bearer tokens, the OpenAPI
document, and ``{error, message}`` errors with the right status."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.connector import Proxy, bearer, sample_proxy


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    with sample_proxy(tmp_path_factory) as running:
        yield running


@pytest.fixture(scope="module")
def alice(proxy: Proxy) -> dict[str, str]:
    return bearer(proxy, "alice")


@pytest.fixture(scope="module")
def bob(proxy: Proxy) -> dict[str, str]:
    return bearer(proxy, "bob")


def api(proxy: Proxy) -> str:
    return proxy.url + "/api/v1"


def test_openapi_document_lists_every_action(proxy: Proxy) -> None:
    doc = httpx.get(api(proxy) + "/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert {
        "/search",
        "/skills/{name}",
        "/skills/{name}/install",
        "/updates",
        "/whoami",
        "/help",
        "/skills/{name}/bump",
        "/skills/{name}/publish",
        "/actions",
    } <= set(doc["paths"])


def test_actions_answer_like_the_tool(proxy: Proxy, alice: dict[str, str]) -> None:
    base = api(proxy)
    assert (
        httpx.get(base + "/search", params={"query": "brand"}, headers=alice).json()["results"][0]["name"]
        == "brand-voice"
    )
    got = httpx.get(base + "/skills/pdf-forms", headers=alice).json()
    assert got["plugin"] == "office" and "Body of pdf-forms." in got["skill_md"]
    inst = httpx.get(
        base + "/skills/pdf-forms/install", params={"surface": "claude-code"}, headers=alice
    ).json()
    assert "unzip" in inst["direct"]
    ups = httpx.post(
        base + "/updates", json={"installed": [{"name": "brand-voice", "version": "1.0.0"}]}, headers=alice
    ).json()
    assert ups["updates"][0]["latest"] == "2.0.0"
    assert httpx.get(base + "/whoami", headers=alice).json()["email"] == "alice@corp.example"
    generic = httpx.post(base + "/actions", json={"action": "search", "query": "pdf"}, headers=alice).json()
    assert generic["results"][0]["name"] == "pdf-forms"


@pytest.mark.threat("T25")
def test_t25_no_or_bad_token_is_401_with_www_authenticate(proxy: Proxy) -> None:
    for headers, code in (({}, "unauthorized"), ({"Authorization": "Bearer nonsense"}, "invalid_token")):
        r = httpx.get(api(proxy) + "/search", params={"query": "pdf"}, headers=headers)
        assert r.status_code == 401 and r.json() == {"error": code, "message": r.json()["message"]}
        assert "resource_metadata=" in r.headers["www-authenticate"]


@pytest.mark.threat("T38")
def test_t38_errors_have_error_and_message_with_the_right_status(proxy: Proxy, alice: dict[str, str]) -> None:
    base = api(proxy)
    r = httpx.get(base + "/skills/no-such-skill", headers=alice)
    assert r.status_code == 404 and set(r.json()) == {"error", "message"}
    r = httpx.get(base + "/skills/..%2F..%2Findex.json", headers=alice)
    assert r.status_code == 404 and "skillport/index" not in r.text
    r = httpx.get(base + "/skills/Bad_Name%00", headers=alice)
    assert r.status_code == 400 and r.json()["error"] == "bad_request" and "skill" in r.json()["message"]
    r = httpx.post(base + "/actions", json={"action": "explode"}, headers=alice)
    assert r.status_code == 400 and "action" in r.json()["message"]
    r = httpx.post(base + "/updates", content=b"installed=x", headers={**alice, "Content-Type": "text/plain"})
    assert r.status_code == 415


@pytest.mark.threat("T39")
def test_t39_editor_endpoints_refuse_non_editors_and_say_not_configured_to_editors(
    proxy: Proxy, alice: dict[str, str], bob: dict[str, str]
) -> None:
    base = api(proxy)
    r = httpx.post(base + "/skills/pdf-forms/bump", json={"part": "minor"}, headers=alice)
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    r = httpx.delete(base + "/skills/pdf-forms", params={"confirm": "true"}, headers=alice)
    assert r.status_code == 403
    r = httpx.post(base + "/skills/pdf-forms/bump", json={"part": "minor"}, headers=bob)
    assert r.status_code == 501 and r.json()["error"] == "not_configured"
    assert any(
        e["action"] == "denied" and e["user"] == "alice" and e.get("via") is None for e in proxy.audit()
    )


@pytest.mark.threat("T26")
def test_t26_api_hides_unreadable_plugins(proxy: Proxy, alice: dict[str, str], bob: dict[str, str]) -> None:
    base = api(proxy)
    assert httpx.get(base + "/skills/ledger-close", headers=alice).status_code == 404
    assert httpx.get(base + "/skills/ledger-close", headers=bob).status_code == 200


def test_asking_for_a_version_that_is_not_published_says_which_is(
    proxy: Proxy, alice: dict[str, str]
) -> None:
    r = httpx.post(
        api(proxy) + "/actions",
        json={"action": "install", "skill": "pdf-forms", "version": "1.0.0"},
        headers=alice,
    )
    assert r.status_code == 404 and "current version is 1.2.0" in r.json()["message"]


@pytest.mark.threat("T53")
def test_t53_publish_answers_alike_for_hidden_and_missing_names(proxy: Proxy, alice: dict[str, str]) -> None:
    """``ledger-close`` exists in finance-tools, which alice may not read; ``no-such-skill`` does not
    exist at all. Whatever she sends, the two names get the same status and message."""

    def answer(name: str, body: dict[str, object]) -> tuple[int, str]:
        r = httpx.post(api(proxy) + f"/skills/{name}/publish", json=body, headers=alice)
        return r.status_code, r.json()["message"].replace(name, "NAME")

    files = {"SKILL.md": "---\nname: x\ndescription: d\n---\n"}
    for body in (
        {"files": files},
        {"plugin": "office", "files": files},
        {"plugin": "finance-tools", "files": files},
        {"plugin": "no-such-plugin", "files": files},
    ):
        hidden, missing = answer("ledger-close", body), answer("no-such-skill", body)
        assert hidden == missing, body
        assert hidden[0] in (400, 403, 404)


@pytest.mark.threat("T58")
@pytest.mark.parametrize("path", ["/actions", "/updates", "/skills/pdf-forms/publish", "/skills/x/bump"])
def test_t58_deeply_nested_json_is_400_not_500(proxy: Proxy, alice: dict[str, str], path: str) -> None:
    body = b"[" * 200_000 + b"]" * 200_000
    headers = {**alice, "Content-Type": "application/json"}
    r = httpx.post(api(proxy) + path, content=body, headers=headers, timeout=30)
    assert r.status_code in (400, 413), r.text[:300]
    assert r.json()["error"] in ("bad_request", "payload_too_large", "too_large")
    deep_object = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    r = httpx.post(api(proxy) + path, content=deep_object[:900_000], headers=headers, timeout=30)
    assert r.status_code == 400, r.text[:300]


@pytest.mark.threat("T58")
@pytest.mark.parametrize("path", ["/register", "/mcp"])
def test_t58_deeply_nested_json_on_oauth_and_mcp_endpoints_is_4xx_not_500(proxy: Proxy, path: str) -> None:
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    r = httpx.post(proxy.url + path, content=b"[" * 200_000, headers=headers, timeout=30)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
