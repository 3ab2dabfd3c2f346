"""Filtered views per access set (proxy/views.py): byte-identical to the per-member filters on real
builds, shared by members with the same access, bounded, dropped with the index they were made for,
and never showing a member a plugin they cannot read (T26)."""

from __future__ import annotations

import asyncio
import json
import platform
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.responses import JSONResponse

from builder.build import build
from builder.contract.index import IndexDocument
from proxy.access import AccessRules
from proxy.origin import IndexStore, LocalOrigin
from proxy.serve import tune_malloc
from proxy.session import Member
from proxy.views import FILES, MemberViews
from tests.support import reference_filters as reference
from tests.support.marketplaces import make_marketplace
from tests.support.servers import (
    SIGNING,
    RunningProxy,
    login_with_mock,
    mock_provider,
    publish_index,
    run_proxy,
    write_site,
)
from tests.support.sites import EXAMPLE, built_site

MEMBERS = [
    Member("alice", "alice@corp.example"),
    Member("bob", "bob@corp.example"),
    Member("carol", "carol@corp.example"),
    Member("dave", "dave@other.example"),
    Member("erin", "erin@corp.example"),
]
ACCESS = """\
groups:
  finance:
    - bob@corp.example
    - erin@corp.example
  platform:
    - carol@corp.example
default:
  read:
    - "@corp.example"
  edit:
    - platform
plugins:
  ledger-tools:
    read:
      - finance
    edit:
      - erin@corp.example
  open-tools:
    read:
      - "*"
  secret-tools:
    read:
      - carol@corp.example
      - dave@other.example
"""


@pytest.fixture(scope="module")
def generated_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A marketplace with four plugins under different read rules, built by the real builder."""
    root = tmp_path_factory.mktemp("views")
    market = make_marketplace(
        root / "market",
        {
            "open-tools": ["alpha", "beta"],
            "ledger-tools": ["ledger", "close-books"],
            "secret-tools": ["vault"],
            "team-tools": ["standup", "retro"],
        },
    )
    (market / ".skillport").mkdir()
    (market / ".skillport" / "access.yaml").write_text(ACCESS)
    build(
        market, root / "site", keys=[SIGNING], now=datetime.now(UTC), base_url="https://skills.corp.example/"
    )
    return root / "site"


def load(site: Path) -> tuple[IndexDocument, AccessRules]:
    doc = IndexDocument.from_json(json.loads((site / "index.json").read_bytes()))
    return doc, AccessRules.from_index(doc)


def old_filter(rules: AccessRules, path: str) -> Any:
    found = {
        "claude-code/marketplace.json": reference.filter_marketplace,
        ".well-known/agent-skills/index.json": reference.filter_well_known,
        "search/search_index.json": reference.filter_search,
    }[path]
    return lambda data, member: found(rules, data, member)


@pytest.mark.threat("T26")
@pytest.mark.parametrize("name", ["example", "generated"])
def test_t26_views_are_byte_identical_to_the_per_member_filters(name: str, generated_site: Path) -> None:
    site = built_site(EXAMPLE, [SIGNING]) if name == "example" else generated_site
    doc, rules = load(site)
    views = MemberViews(256, 64 * 1024 * 1024, 30)
    views.bind(doc)
    pages = [p for p in site.rglob("*.html") if b"<!--sp-" in p.read_bytes()]
    assert pages, "the build marks plugin blocks in its listing pages"
    seen: dict[str, set[bytes]] = {}
    for _ in range(2):  # the second round is answered from the cache
        for member in MEMBERS:
            key = views.key_for(rules, member)
            for path in FILES:
                data = (site / path).read_bytes()
                expected = old_filter(rules, path)(data, member)
                assert views.file_view(doc, rules, key, path, data, 0.0) == expected, (path, member)
                assert views.file_view(doc, rules, key, path, None, 1.0) == expected, (path, member)
                seen.setdefault(path, set()).add(expected)
            expected_index = JSONResponse(reference.filter_index(rules, doc, member)).body
            assert views.index_view(doc, rules, key) == expected_index, member
            seen.setdefault("index.json", set()).add(expected_index)
            for page in pages:
                text = page.read_bytes()
                rel = str(page.relative_to(site))
                assert views.html_view(doc, rules, key, rel, text) == reference.filter_html(
                    rules, text.decode("utf-8", "replace"), member
                ), (rel, member)
    # the members really see different things (else this test would compare nothing)
    assert all(len(variants) > 1 for path, variants in seen.items() if path != "claude-code/marketplace.json")
    assert views.splits_made == len(FILES) + 1  # one split per file, whatever the number of members


@pytest.mark.threat("T26")
@pytest.mark.parametrize(
    "data",
    [
        b'{"docs": []}',
        b' {\n "config": {"a": [1, 2.5e3]}, "docs" : [ {"location": "skills/ledger/"} , 3, "s",'
        b' {"location": "plugins/"}, {"location": "admin/"}, {"location": "skills/alpha/#x"} ] ,'
        b' "z": null } \n',
        b'{"docs": [{"location": "skills/alpha/"}], "docs": [{"location": "skills/ledger/"}]}',
        b'\xef\xbb\xbf{"docs": [{"location": "skills/ledger/"}, {"location": "skills/alpha/"}]}',
        b'{"docs": {"location": "skills/ledger/"}}',
        b'{"config": 1}',
        b"[1, 2]",
        b"not json",
        b'{"docs": [{"location": "skills/ledger/"},]}',
        b'{"a": "\\u0000x \xc3\xa9", "docs": [{"location": "\\ud83d\\ude00", "t": "\\"\\u00e9"}]}',
        b'{"docs": [{"location": "skills/vault/"}, {"location": "admin/ledger-tools/x/"}]} trailing',
    ],
)
def test_t26_views_of_unusual_files_match_the_filter(data: bytes, generated_site: Path) -> None:
    doc, rules = load(generated_site)
    views = MemberViews(256, 64 * 1024 * 1024, 30)
    views.bind(doc)
    path = "search/search_index.json"
    for member in MEMBERS:
        got = views.file_view(doc, rules, views.key_for(rules, member), path, data, 0.0)
        assert got == reference.filter_search(rules, data, member), member


def test_members_with_the_same_access_share_one_view_and_the_cache_is_bounded(generated_site: Path) -> None:
    doc, rules = load(generated_site)
    views = MemberViews(256, 64 * 1024 * 1024, 30)
    views.bind(doc)
    crowd = [Member(f"m{i}", f"m{i}@corp.example") for i in range(100)] + MEMBERS
    keys = {views.key_for(rules, m) for m in crowd}
    for member in crowd:
        key = views.key_for(rules, member)
        views.index_view(doc, rules, key)
        path = "search/search_index.json"
        views.file_view(doc, rules, key, path, (generated_site / path).read_bytes(), 0.0)
    assert len(keys) == 5  # corp members, bob (finance), erin (finance, edits), carol, dave (outside)
    assert len(views.cache) == 2 * len(keys)
    small = MemberViews(3, 1024 * 1024, 30)
    small.bind(doc)
    for member in crowd:
        small.index_view(doc, rules, small.key_for(rules, member))
    assert len(small.cache) <= 3 and small.cache.bytes <= 1024 * 1024
    tiny = MemberViews(100, 1024 * 1024, 30)  # a view over a quarter of the budget is not kept
    tiny.bind(doc)
    big = tiny.index_view(doc, rules, tiny.key_for(rules, MEMBERS[0]))
    assert len(big) > 1024 * 1024 // 4 or len(tiny.cache) == 1
    assert tiny.cache.bytes <= 1024 * 1024


def test_views_are_dropped_when_another_index_is_trusted(generated_site: Path) -> None:
    doc, rules = load(generated_site)
    views = MemberViews(256, 64 * 1024 * 1024, 30)
    views.bind(doc)
    key = views.key_for(rules, MEMBERS[0])
    views.index_view(doc, rules, key)
    assert len(views.cache) == 1
    other, _ = load(generated_site)  # a new document object: another trusted index
    views.bind(other)
    assert len(views.cache) == 0
    # a request that took its snapshot before the swap is answered from that snapshot, uncached
    expected = JSONResponse(reference.filter_index(rules, doc, MEMBERS[0])).body
    assert views.index_view(doc, rules, key) == expected
    assert len(views.cache) == 0
    path = "claude-code/marketplace.json"
    assert views.file_view(doc, rules, key, path, None, 0.0) is None  # needs the bytes
    data = (generated_site / path).read_bytes()
    expected = reference.filter_marketplace(rules, data, MEMBERS[0])
    assert views.file_view(doc, rules, key, path, data, 0.0) == expected


def test_the_index_store_keeps_one_parsed_document_while_the_bytes_do_not_change(tmp_path: Path) -> None:
    document = write_site(tmp_path / "site")
    store = IndexStore(LocalOrigin(tmp_path / "site", 1 << 30), [SIGNING], refresh_seconds=1)
    asyncio.run(store.refresh(now=datetime.now(UTC), force=True))
    first = store.current()
    assert first is not None
    asyncio.run(store.refresh(now=datetime.now(UTC), force=True))
    assert store.current() is first  # not parsed again
    publish_index(tmp_path / "site", {**document, "serial": document["serial"] + 1})
    asyncio.run(store.refresh(now=datetime.now(UTC), force=True))
    assert store.current() is not first and store.serial == document["serial"] + 1


# -- through the real proxy, signed in through the test OIDC provider ---------------------------------

USERS = [
    {"sub": s, "email": f"{s}@corp.example", "email_verified": True, "hd": "corp.example"}
    for s in ("alice", "bob", "carol")
]
PATHS = [
    "index.json",
    "claude-code/marketplace.json",
    ".well-known/agent-skills/index.json",
    "search/search_index.json",
    "",
    "plugins/",
]


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[tuple[RunningProxy, Path, dict[str, Any]]]:
    document = write_site(tmp_path / "site")  # finance-tools (skill ledger) for bob only
    with mock_provider(USERS) as issuer, run_proxy(tmp_path / "site", issuer, tmp_path) as running:
        yield running, tmp_path / "site", document


def finance_visible(path: str, response: httpx.Response) -> bool:
    """Whether the response shows the finance-tools plugin or its skill ``ledger``."""
    assert response.status_code == 200, (path, response.status_code)
    if path == "index.json":
        body = response.json()
        names = [p["name"] for p in body["plugins"]] + [s["name"] for s in body["skills"]]
    elif path == "claude-code/marketplace.json":
        names = [p["name"] for p in response.json()["plugins"]]
    elif path == ".well-known/agent-skills/index.json":
        names = [s["name"] for s in response.json()["skills"]]
    elif path == "search/search_index.json":
        names = [d["location"].split("/")[1] for d in response.json()["docs"] if "/" in d["location"]]
    else:
        return "sp-plugin:finance-tools" in response.text or "skills/ledger/" in response.text
    return "finance-tools" in names or "ledger" in names


@pytest.mark.threat("T26")
def test_t26_two_members_of_different_access_on_the_same_paths_concurrently(
    proxy: tuple[RunningProxy, Path, dict[str, Any]],
) -> None:
    running, _, _ = proxy
    clients = {u["sub"]: httpx.Client() for u in USERS}
    try:
        for sub, client in clients.items():
            login_with_mock(client, running.url, sub)
        problems: list[str] = []

        def hammer(sub: str) -> None:
            for _ in range(4):
                for path in PATHS:
                    response = clients[sub].get(running.url + path)
                    if finance_visible(path, response) != (sub == "bob"):
                        problems.append(f"{sub} {path}")

        threads = [threading.Thread(target=hammer, args=(sub,)) for sub in clients for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert problems == []
        # alice and carol have the same access: the very same bytes, from one cached view
        for path in PATHS[:4]:
            assert (
                clients["alice"].get(running.url + path).content
                == clients["carol"].get(running.url + path).content
            )
        views = running.app.state.skillport.views
        assert len(views.cache) <= 2 * len(PATHS)  # two access sets, not three members
    finally:
        for client in clients.values():
            client.close()


@pytest.mark.threat("T26")
def test_t26_a_rebuilt_site_is_filtered_afresh_and_old_views_are_never_served(
    proxy: tuple[RunningProxy, Path, dict[str, Any]],
) -> None:
    running, site, document = proxy
    with httpx.Client() as alice, httpx.Client() as bob:
        login_with_mock(alice, running.url, "alice")
        login_with_mock(bob, running.url, "bob")
        for client in (alice, bob):  # warm the cache
            for path in PATHS:
                client.get(running.url + path)
        # a rebuild: the marketplace file changes and the index is re-signed with finance-tools now
        # readable by alice only
        market = json.loads((site / "claude-code/marketplace.json").read_text())
        market["metadata"] = {**market.get("metadata", {}), "rebuilt": "yes"}
        (site / "claude-code/marketplace.json").write_text(json.dumps(market))
        access = json.loads(json.dumps(document["access"]))
        access["plugins"]["finance-tools"]["read"] = ["alice@corp.example"]
        serial = document["serial"] + 1
        publish_index(site, {**document, "serial": serial, "access": access})
        for _ in range(100):
            if alice.get(running.url + "readyz").json().get("serial") == serial:
                break
            threading.Event().wait(0.1)
        threading.Event().wait(1.2)  # past the origin re-check interval (1 s in tests)
        for path in PATHS:
            assert finance_visible(path, alice.get(running.url + path)), path
            assert not finance_visible(path, bob.get(running.url + path)), path
        for client in (alice, bob):
            assert (
                client.get(running.url + "claude-code/marketplace.json").json()["metadata"]["rebuilt"]
                == "yes"
            )


def test_a_filtered_file_changed_or_removed_at_the_origin_is_read_again_within_the_refresh_interval(
    proxy: tuple[RunningProxy, Path, dict[str, Any]],
) -> None:
    running, site, _ = proxy
    path = "search/search_index.json"
    with httpx.Client() as bob:
        login_with_mock(bob, running.url, "bob")
        before = bob.get(running.url + path).json()
        changed = {**before, "config": {**before.get("config", {}), "changed": "yes"}}
        (site / path).write_text(json.dumps(changed))  # the same index: only the file changed
        threading.Event().wait(1.2)  # past the origin re-check interval (1 s in tests)
        assert bob.get(running.url + path).json() == changed
        (site / path).unlink()  # and gone: 404, as before views
        threading.Event().wait(1.2)
        assert bob.get(running.url + path).status_code == 404
        assert bob.get(running.url + path).status_code == 404


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
def test_serve_tunes_malloc_unless_the_environment_does() -> None:
    assert tune_malloc({"MALLOC_ARENA_MAX": "8"}) is False
    assert tune_malloc({}) is True


@pytest.mark.threat("T26")
def test_t26_access_rules_follow_the_trusted_document_even_at_a_reused_address(
    generated_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new index document may be allocated where a freed one was (same ``id()``): the rules must
    still be the new document's."""
    from dataclasses import replace

    from proxy import services

    doc, _ = load(generated_site)
    everyone = replace(doc, access=None)  # no access rules: everyone reads everything
    monkeypatch.setattr(services, "id", lambda _: 1, raising=False)  # every address "reused"
    policy = services.AccessPolicy(IndexStore(LocalOrigin(tmp_path, 1024), [SIGNING], refresh_seconds=1))
    alice = MEMBERS[0]
    assert not policy.for_index(doc).can_read(alice, "ledger-tools")
    assert policy.for_index(everyone).can_read(alice, "ledger-tools")
    assert not policy.for_index(doc).can_read(alice, "ledger-tools")


def test_only_listing_pages_are_cached(generated_site: Path) -> None:
    doc, rules = load(generated_site)
    views = MemberViews(256, 64 * 1024 * 1024, 30)
    views.bind(doc)
    key = views.key_for(rules, MEMBERS[0])
    skill_page = generated_site / "skills" / "alpha" / "index.html"
    home = generated_site / "index.html"
    assert b"<!--sp-plugin:" not in skill_page.read_bytes() and b"<!--sp-plugin:" in home.read_bytes()
    views.html_view(doc, rules, key, "skills/alpha/index.html", skill_page.read_bytes())
    assert len(views.cache) == 0  # thousands of skill pages would only push the listings out
    views.html_view(doc, rules, key, "index.html", home.read_bytes())
    assert len(views.cache) == 1
