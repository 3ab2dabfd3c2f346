"""Search in real Chromium behind the real proxy (issue 15): the example marketplace built by the real
builder, members signed in through the mock identity provider's page. Skillport's search worker
answers from the search index the proxy filtered for the member and sent gzip-encoded; a member
never finds, nor downloads, the skills of a plugin they may not read (T26)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import Watch, chromium
from tests.support.servers import RunningProxy, example_proxy

pytestmark = [pytest.mark.browser, pytest.mark.external]

USERS = [
    {"sub": "alice", "email": "alice@corp.example", "email_verified": True, "hd": "corp.example"},
    {"sub": "bob", "email": "bob@corp.example", "email_verified": True, "hd": "corp.example"},
]


@pytest.fixture(scope="module")
def served(
    examples_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningProxy, Any]]:
    with example_proxy(examples_dir, tmp_path_factory.mktemp("search"), USERS) as running:
        yield running


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    with chromium(chromium_path) as instance:
        yield instance


def own_word(skill: dict[str, Any], skills: list[dict[str, Any]]) -> str:
    """A word of ``skill``'s description that no other skill's name, description or tags holds."""

    def words(text: str) -> set[str]:
        return {w.lower() for w in re.findall(r"[A-Za-z]{6,}", text)}

    others: set[str] = set()
    for other in skills:
        if other is not skill:
            others |= words(other["description"] + " " + other["name"] + " " + " ".join(other["tags"]))
    candidates = sorted(words(skill["description"]) - others)
    assert candidates, skill["name"]
    return candidates[0]


class Member:
    """One member's browser page, signed in, with the search index responses it received."""

    def __init__(self, browser: Any, proxy: RunningProxy, sub: str) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.watch = Watch(self.page)
        self.search_responses: list[Any] = []
        self.workers: list[str] = []
        self.page.on(
            "response", lambda r: self.search_responses.append(r) if "search_index.json" in r.url else None
        )
        self.page.on("worker", lambda w: self.workers.append(w.url))
        self.page.goto(proxy.url)
        assert "/authorize" in self.page.url  # sent to the identity provider
        self.page.click(f"button[value='{sub}']")
        self.page.wait_for_url(proxy.url)
        self.page.wait_for_load_state("networkidle")
        self.watch.problems.clear()  # the identity provider's own page loads a stylesheet from a CDN

    def search(self, query: str) -> list[str]:
        """Type ``query``; the hrefs of the results (empty when "No matching documents")."""
        box = self.page.locator("input.md-search__input")
        box.click()
        box.fill("")
        box.press_sequentially(query, delay=10)
        meta = self.page.locator(".md-search-result__meta")
        self.page.wait_for_function(
            """(query) => {
                const meta = document.querySelector('.md-search-result__meta').textContent;
                return document.querySelector('input.md-search__input').value === query
                    && !/type to start searching/i.test(meta);
            }""",
            arg=query,
        )
        self.page.wait_for_timeout(200)  # the last keystroke's answer
        if "no matching" in meta.inner_text().lower():
            return []
        links = self.page.locator("a.md-search-result__link")
        links.first.wait_for(state="visible")
        return [link.get_attribute("href") or "" for link in links.all()]


@pytest.mark.threat("T26")
def test_t26_search_finds_readable_skills_only_from_a_filtered_gzipped_index(
    served: tuple[RunningProxy, Any], browser: Any
) -> None:
    proxy, doc = served
    rules = (doc.get("access") or {}).get("plugins", {})
    hidden = [s for s in doc["skills"] if s["plugin"] == "finance-ops"]
    assert hidden and rules["finance-ops"]["read"] == ["finance"]  # bob only
    visible = [s for s in doc["skills"] if s["plugin"] != "finance-ops"]

    alice = Member(browser, proxy, "alice")
    # Material's page runs Skillport's worker, not lunr
    assert [u for u in alice.workers if u.endswith("assets/javascripts/skillport-search.js")], alice.workers
    target = visible[len(visible) // 2]
    results = alice.search(own_word(target, doc["skills"]))
    assert results and f"skills/{target['name']}/" in results[0], results
    for skill in hidden:
        word = own_word(skill, doc["skills"])
        assert alice.search(word) == [], (skill["name"], word)
        for query in (skill["name"], skill["plugin"], "finance"):
            assert not [r for r in alice.search(query) if skill["name"] in r or "finance-ops" in r], query

    # what alice's browser received: gzip-encoded, and none of the finance skills in it
    assert alice.search_responses
    for response in alice.search_responses:
        assert response.status == 200 and response.all_headers().get("content-encoding") == "gzip"
        body = response.body()  # decoded by Chromium
        assert 0 < response.request.sizes()["responseBodySize"] < len(body)  # bytes on the wire
        locations = [d["location"] for d in json.loads(body)["docs"]]
        assert f"skills/{target['name']}/" in locations
        for skill in hidden:
            assert not [x for x in locations if skill["name"] in x or "finance-ops" in x]
            assert skill["description"][:30].encode() not in body
    assert alice.watch.problems == [] and alice.watch.dialogs == []

    # bob may read finance-ops: the same words find its skills first (the checks above can fail)
    bob = Member(browser, proxy, "bob")
    for skill in hidden:
        results = bob.search(own_word(skill, doc["skills"]))
        assert results and f"skills/{skill['name']}/" in results[0], results
    alice.context.close()
    bob.context.close()
