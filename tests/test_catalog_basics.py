"""Catalog basics people expect (issue 11, item 6), in real Chromium under the strict CSP the proxy
sends: the All skills page with plugin / tag / category / surface filters (static host, no proxy);
reference files as rendered pages; the maintainer and source repository on skill and plugin pages;
long commands that never break inside a URL; on a phone, buttons and their labels together; and, through
the real proxy, "Recently updated" chosen after access filtering. Screenshots: artifacts/screenshots/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import test_catalog_browser
from tests.support.browser import SCREENSHOTS, Watch
from tests.support.connector import SIGNING_KEY, oidc_provider, run_proxy
from tests.support.marketplaces import make_marketplace
from tests.support.servers import login_with_mock

pytestmark = [pytest.mark.browser, pytest.mark.external]

PHONE = {"width": 390, "height": 844}
browser = test_catalog_browser.browser  # the shared Chromium fixture
served_example = test_catalog_browser.served_example  # the example marketplace on a static host


@pytest.fixture(scope="module")
def example(served_example: tuple[str, Path]) -> tuple[str, dict[str, Any]]:
    """The example marketplace built by the real builder, on a static host (no proxy)."""
    base, site_dir = served_example
    return base, json.loads((site_dir / "index.json").read_text())


def _visible_cards(page: Any) -> list[str]:
    return [
        c.locator(".sp-card__title").inner_text()
        for c in page.locator(".sp-all .sp-card").all()
        if c.is_visible()
    ]


def test_all_skills_page_filters_by_plugin_tag_category_and_surface(
    example: tuple[str, dict[str, Any]], browser: Any
) -> None:
    base, index = example
    every = sorted(s["name"] for s in index["skills"])
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watch = Watch(page)
    page.goto(base, wait_until="networkidle")
    page.get_by_role("link", name="Browse all skills").click()
    page.wait_for_url("**/catalog/skills/")
    assert sorted(_visible_cards(page)) == every
    assert page.locator("[data-sp-shown]").inner_text() == str(len(every))

    page.select_option("select[name=plugin]", "data-guides")
    expected = sorted(s["name"] for s in index["skills"] if s["plugin"] == "data-guides")
    assert sorted(_visible_cards(page)) == expected and len(expected) >= 2
    assert "plugin=data-guides" in page.url  # a filtered list can be shared
    page.select_option("select[name=plugin]", "")

    tag = next(t for s in index["skills"] for t in s["tags"] if t == "writing")
    page.select_option("select[name=tag]", label=tag)
    expected = sorted(s["name"] for s in index["skills"] if tag in s["tags"])
    assert sorted(_visible_cards(page)) == expected
    page.select_option("select[name=category]", label="data")  # no skill is tagged writing AND data
    assert _visible_cards(page) == [] and page.locator(".sp-empty").is_visible()
    page.select_option("select[name=tag]", "")
    expected = sorted(s["name"] for s in index["skills"] if s["category"] == "data")
    assert sorted(_visible_cards(page)) == expected
    page.select_option("select[name=category]", "")

    page.select_option("select[name=surface]", "claude-code")
    assert sorted(_visible_cards(page)) == every  # every example skill installs everywhere

    # the state in the address opens the same list
    page.goto(base + "skills/?plugin=data-guides", wait_until="networkidle")
    assert page.locator("select[name=plugin]").input_value() == "data-guides"
    assert len(_visible_cards(page)) == len([s for s in index["skills"] if s["plugin"] == "data-guides"])
    page.screenshot(path=str(SCREENSHOTS / "catalog-all-skills.png"), full_page=True)
    assert watch.problems == [] and watch.dialogs == []
    context.close()


def test_reference_files_are_pages_and_skill_pages_name_maintainer_and_source(
    example: tuple[str, dict[str, Any]], browser: Any
) -> None:
    base, _ = example
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watch = Watch(page)
    page.goto(base + "skills/sql-style-guide/", wait_until="networkidle")
    facts = page.locator("dl.sp-facts").inner_text()
    assert "Maintained by" in facts and "Corp Platform Team" in facts
    source = page.locator("dl.sp-facts a.sp-url")
    assert source.get_attribute("href") == "https://git.corp.example/platform/claude-skills"

    page.locator(".sp-refs a").first.click()
    page.wait_for_url("**/skills/sql-style-guide/references/**")
    page.wait_for_load_state("networkidle")
    body = page.locator(".sp-body")
    assert body.locator("h1, h2, h3").count() >= 1  # rendered Markdown, not "# …" text
    assert not body.inner_text().lstrip().startswith("#")
    page.screenshot(path=str(SCREENSHOTS / "catalog-reference.png"), full_page=True)

    page.goto(base + "plugins/data-guides/", wait_until="networkidle")
    facts = page.locator("dl.sp-facts").inner_text()
    assert "Maintained by" in facts and "Source" in facts
    assert watch.problems == []
    context.close()


_ONE_LINE_TOKENS = """() => {
  // every URL inside a command or settings block is laid out on ONE line (it may scroll, never wrap)
  const broken = [];
  const codes = '.sp-run code, .sp-start code, .sp-install p code';
  for (const code of document.querySelectorAll(codes)) {
    const walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
    for (let t = walker.nextNode(); t; t = walker.nextNode()) {
      for (const m of t.nodeValue.matchAll(/(https?:\\/\\/|[\\w.-]+\\.zip)\\S*/g)) {
        const range = document.createRange();
        range.setStart(t, m.index);
        range.setEnd(t, m.index + m[0].length);
        const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        if (tops.size > 1) broken.push(m[0]);
      }
    }
  }
  return broken;
}"""


def test_phone_keeps_urls_whole_and_buttons_with_their_labels(
    example: tuple[str, dict[str, Any]], browser: Any
) -> None:
    base, _ = example
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    page = context.new_page()
    watch = Watch(page)
    for path, shot in (("skills/sql-style-guide/", "phone-skill.png"), ("", "phone-home.png")):
        page.goto(base + path, wait_until="networkidle")
        assert page.evaluate(_ONE_LINE_TOKENS) == [], path
        # nothing pushes the page wider than the phone
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
        page.screenshot(path=str(SCREENSHOTS / shot), full_page=True)
    page.goto(base + "skills/sql-style-guide/", wait_until="networkidle")
    button = page.locator(".sp-install a.sp-download").first.bounding_box()
    label = page.locator(".sp-install .sp-keep .sp-size").first.bounding_box()
    assert button is not None and label is not None
    assert label["y"] < button["y"] + button["height"] and label["y"] + label["height"] > button["y"]
    assert label["x"] >= button["x"] + button["width"] - 1  # beside it, on the same line
    assert button["x"] + button["width"] <= PHONE["width"] and label["x"] + label["width"] <= PHONE["width"]
    whole = page.locator(".sp-install a.sp-download").first.evaluate("b => b.scrollWidth <= b.clientWidth")
    assert whole, "the button's label is cut off"
    page.goto(base + "skills/", wait_until="networkidle")
    page.screenshot(path=str(SCREENSHOTS / "phone-all-skills.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert watch.problems == []
    context.close()


# -- recently updated, through the proxy -------------------------------------------------------------


@pytest.fixture(scope="module")
def restricted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    """Twenty skills: the ten newest in a plugin alice may not read."""
    from builder.build import build

    root = tmp_path_factory.mktemp("recent")
    mp = make_marketplace(
        root / "mp",
        {
            "open-tools": [f"open-skill-{n:02d}" for n in range(10)],
            "secret-tools": [f"secret-skill-{n:02d}" for n in range(10)],
        },
    )
    (mp / ".skillport").mkdir()
    (mp / ".skillport/access.yaml").write_text(
        'default:\n  read: ["*"]\nplugins:\n  secret-tools:\n    read: ["bob@corp.example"]\n'
    )
    site = root / "site"
    build(mp, site, keys=[SIGNING_KEY], now=datetime.now(UTC))  # one time for all: newest = last by name
    index = json.loads((site / "index.json").read_text())
    with oidc_provider() as issuer, run_proxy(site, issuer, root / "audit.jsonl") as proxy:
        yield proxy.url + "/", index


def test_recently_updated_shows_a_members_own_newest_skills(
    restricted: tuple[str, dict[str, Any]], browser: Any
) -> None:
    url, index = restricted
    newest = sorted(index["skills"], key=lambda s: (s["updated_at"], s["name"]), reverse=True)
    assert [s["plugin"] for s in newest[:8]] == ["secret-tools"] * 8  # the case that went wrong
    readable = [s["name"] for s in newest if s["plugin"] == "open-tools"][:8]
    with httpx.Client(timeout=20) as http:
        login_with_mock(http, url, "alice")
        cookies = [{"name": c.name, "value": c.value or "", "url": url} for c in http.cookies.jar]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies(cookies)
    page = context.new_page()
    watch = Watch(page)
    page.goto(url, wait_until="networkidle")
    shown = [
        c.locator(".sp-card__title").inner_text()
        for c in page.locator(".sp-recent .sp-card").all()
        if c.is_visible()
    ]
    assert shown == readable
    assert "secret" not in page.content()
    page.screenshot(path=str(SCREENSHOTS / "catalog-recent-filtered.png"), full_page=True)
    # the All skills page through the proxy: only what alice may read, and no filter names the rest
    page.goto(url + "skills/", wait_until="networkidle")
    assert sorted(_visible_cards(page)) == sorted(
        s["name"] for s in index["skills"] if s["plugin"] == "open-tools"
    )
    options = page.locator("select[name=plugin] option").all_inner_texts()
    assert options == ["Any", "open-tools"] and "secret" not in page.content()
    assert watch.problems == []
    context.close()
