"""The catalog site in real Chromium (Playwright + Debian chromium), served over HTTP on 127.0.0.1
under a sub-path (``/catalog/``) with a strict Content-Security-Policy, as the proxy will send it.

Flow a member follows: home -> search a word from one skill's description -> open the skill ->
download its upload zip (sha256 must equal the index's). Plus: a hostile SKILL.md renders inert.
Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import re
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import SCREENSHOTS, Watch, chromium
from tests.support.catalog import HOSTILE, NOW, UNIQUE_WORD, render

pytestmark = [pytest.mark.browser, pytest.mark.external]

REPO_ROOT = Path(__file__).resolve().parent.parent
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


class _Handler(http.server.SimpleHTTPRequestHandler):
    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", CSP)
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/catalog/"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    root = tmp_path_factory.mktemp("served")
    document = render(root / "catalog", root / "work")
    server, base = _serve(root)
    try:
        yield base, document
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    with chromium(chromium_path) as instance:
        yield instance


def _search(page: Any, word: str) -> Any:
    box = page.locator("input.md-search__input")  # visible in the header at desktop width
    box.click()
    box.press_sequentially(word, delay=20)  # Material listens to key events
    results = page.locator(".md-search-result__item")
    results.first.wait_for(state="visible", timeout=15_000)
    return results


def test_search_open_and_download_under_a_strict_csp(
    served: tuple[str, dict[str, Any]], browser: Any
) -> None:
    base, document = served
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    watch = Watch(page)
    search_data: list[bytes] = []
    page.on("response", lambda r: search_data.append(r.body()) if "search_index.json" in r.url else None)
    page.goto(base, wait_until="networkidle")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "sample-home.png"), full_page=True)
    assert page.locator("[data-sp-count='skills']").inner_text() == str(len(document["skills"]))
    assert page.locator("[data-sp-count='plugins']").inner_text() == str(len(document["plugins"]))

    results = _search(page, UNIQUE_WORD)  # a word of one skill's description only
    link = page.locator("a.md-search-result__link").first
    assert "skills/sql-style-guide/" in (link.get_attribute("href") or ""), results.all_inner_texts()
    # what the browser downloaded to search holds the description, not the skill's body (issue 15)
    assert len(search_data) == 1 and UNIQUE_WORD.encode() in search_data[0]
    link.click()
    page.wait_for_url("**/catalog/skills/sql-style-guide/**")
    page.wait_for_load_state("networkidle")
    assert "snake_case" in page.locator(".sp-body").inner_text()
    assert b"snake_case" not in search_data[0]
    page.screenshot(path=str(SCREENSHOTS / "sample-skill.png"), full_page=True)

    # copy buttons (Material, no inline script) and the catalog URL filled in by our script
    copy_buttons = page.locator("button.md-code__button[data-md-type='copy']")
    assert copy_buttons.count() >= 4
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base.split("/catalog/")[0])
    copy_buttons.first.click()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied.strip() == f"skillport login --server {base}"  # the catalog URL filled in by skillport.js

    skill = next(s for s in document["skills"] if s["name"] == "sql-style-guide")
    with page.expect_download() as info:
        page.locator("a.sp-download").click()
    downloaded = Path(info.value.path()).read_bytes()
    assert hashlib.sha256(downloaded).hexdigest() == skill["zip"]["sha256"]
    assert info.value.suggested_filename == "sql-style-guide-1.0.0.zip"
    assert skill["zip"]["sha256"] in page.locator(".sp-sha__value").inner_text()

    assert watch.problems == [] and watch.dialogs == []
    context.close()


_INERT_CHECK = """() => {
  const bad = [];
  for (const s of document.querySelectorAll('script')) {
    const src = s.getAttribute('src') || '';
    if (s.type !== 'application/json' && !/assets\\/javascripts\\//.test(src)) bad.push('script ' + src);
  }
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      if (a.name.startsWith('on')) bad.push(el.tagName + ' ' + a.name);
      if (/^\\s*javascript:/i.test(a.value)) bad.push(el.tagName + ' ' + a.name + '=' + a.value);
    }
  }
  return bad;
}"""


@pytest.mark.threat("T46")
def test_t46_hostile_skill_renders_inert_in_chromium(
    served: tuple[str, dict[str, Any]], browser: Any
) -> None:
    base, _ = served
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    watch = Watch(page)
    for path in (f"skills/{HOSTILE}/", "plugins/sketchy/", "", "tags/data/", "plugins/"):
        page.goto(base + path, wait_until="networkidle")
        assert page.evaluate(_INERT_CHECK) == [], path
        # hovering / clicking the hostile text fires nothing
        page.locator("article").first.click(position={"x": 5, "y": 5})
    page.goto(base + f"skills/{HOSTILE}/", wait_until="networkidle")
    assert '<script>alert("body")</script>' in page.locator(".sp-body").inner_text()  # shown as text
    page.screenshot(path=str(SCREENSHOTS / "catalog-hostile-skill.png"), full_page=True)
    _search(page, "harmless")  # search results render the hostile description as text too
    page.wait_for_timeout(300)
    assert page.evaluate(_INERT_CHECK) == []
    assert watch.dialogs == [], watch.dialogs
    assert watch.problems == [], watch.problems
    context.close()


@pytest.mark.threat("T46")
def test_t46_search_query_and_highlighted_hostile_text_stay_text(
    served: tuple[str, dict[str, Any]], browser: Any
) -> None:
    """Skillport's worker marks matches inside the index's escaped text: a query written as HTML finds
    the hostile description, whose markup shows as text with the words highlighted; nothing runs."""
    base, _ = served
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    watch = Watch(page)
    workers: list[str] = []
    page.on("worker", lambda w: workers.append(w.url))
    page.goto(base, wait_until="networkidle")
    assert [u for u in workers if u.endswith("/catalog/assets/javascripts/skillport-search.js")], workers
    _search(page, "<img src=x onerror=alert(1)>")
    page.wait_for_timeout(300)
    first = page.locator(".md-search-result__item").first
    assert f"skills/{HOSTILE}/" in (
        page.locator("a.md-search-result__link").first.get_attribute("href") or ""
    )
    assert "<img src=x onerror=alert(1)>" in first.inner_text()  # the description's markup, as text
    marks = first.locator("mark").all_inner_texts()
    assert {"img", "src", "x", "onerror", "alert", "1"} <= {m.lower() for m in marks}, marks
    assert first.locator("img, script").count() == 0
    assert page.evaluate(_INERT_CHECK) == []
    first.locator("a.md-search-result__link").first.click()  # the page highlights the words too
    page.wait_for_url(f"**/skills/{HOSTILE}/**")
    page.wait_for_load_state("networkidle")
    assert page.evaluate(_INERT_CHECK) == []
    assert watch.dialogs == [], watch.dialogs
    assert watch.problems == [], watch.problems
    context.close()


@pytest.fixture(scope="module")
def served_example(
    tmp_path_factory: pytest.TempPathFactory, examples_dir: Path
) -> Iterator[tuple[str, Path]]:
    """The real build (builder.build) of the embedded example marketplace."""
    build_module = pytest.importorskip("builder.build")
    root = tmp_path_factory.mktemp("example")
    build_module.build(examples_dir, root / "catalog", keys=["k" * 40], now=NOW, base_url=None)
    server, base = _serve(root)
    try:
        yield base, root / "catalog"
    finally:
        server.shutdown()
        server.server_close()


def _unique_description_word(skills: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """A word that appears in exactly one skill's description (and in no other skill's name/tags)."""

    def words(text: str) -> set[str]:
        return {w.lower() for w in re.findall(r"[A-Za-z]{7,}", text)}

    for skill in skills:
        others: set[str] = set()
        for other in skills:
            if other is not skill:
                others |= words(other["description"] + " " + other["name"] + " " + " ".join(other["tags"]))
        candidates = sorted(words(skill["description"]) - others)
        if candidates:
            return candidates[0], skill
    raise AssertionError("no skill has a description word of its own")


def test_example_marketplace_search_open_and_download(served_example: tuple[str, Path], browser: Any) -> None:
    base, site_dir = served_example
    document = json.loads((site_dir / "index.json").read_text())
    word, skill = _unique_description_word(document["skills"])
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    watch = Watch(page)
    page.goto(base, wait_until="networkidle")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "catalog-home.png"), full_page=True)
    assert page.locator("[data-sp-count='skills']").inner_text() == str(len(document["skills"]))

    results = _search(page, word)
    first = page.locator("a.md-search-result__link").first
    assert f"skills/{skill['name']}/" in (first.get_attribute("href") or ""), results.all_inner_texts()
    first.click()
    page.wait_for_url(f"**/catalog/skills/{skill['name']}/**")
    page.wait_for_load_state("networkidle")
    assert skill["description"][:40] in page.locator("article").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "catalog-skill.png"), full_page=True)

    with page.expect_download() as info:
        page.locator("a.sp-download").click()
    assert hashlib.sha256(Path(info.value.path()).read_bytes()).hexdigest() == skill["zip"]["sha256"]
    assert watch.problems == [] and watch.dialogs == []
    context.close()
