"""Real Chromium: sign in through the identity provider's page, browse to a skill, download it."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import CHROMIUM_ARGS
from tests.support.servers import RunningProxy, mock_provider, run_proxy, write_site
from tests.support.sites import EXAMPLE, copy_site

USERS = [{"sub": "alice", "email": "alice@corp.example", "email_verified": True, "hd": "corp.example"}]


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    root = tmp_path_factory.mktemp("browser")
    write_site(root / "site")
    with mock_provider(USERS) as issuer, run_proxy(root / "site", issuer, root) as running:
        yield running


@pytest.mark.browser
@pytest.mark.external
def test_member_signs_in_browses_and_downloads(
    proxy: RunningProxy, chromium_path: str, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(accept_downloads=True).new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(proxy.url + "skills/pdf-writer/")
            assert "/authorize" in page.url  # sent to the identity provider
            page.click("button[value='alice']")
            page.wait_for_url(proxy.url + "skills/pdf-writer/")
            assert page.locator("h1").inner_text() == "pdf-writer"
            page.goto(proxy.url)
            assert page.locator("a", has_text="pdf-writer").count() == 1
            assert page.locator("a", has_text="ledger").count() == 0
            page.click("text=pdf-writer")
            with page.expect_download() as info:
                page.click("a.sp-download")
            target = tmp_path / "skill.zip"
            info.value.save_as(target)
            with zipfile.ZipFile(target) as archive:
                assert "pdf-writer/SKILL.md" in archive.namelist()
            assert not [e for e in errors if "Content Security Policy" in e]
        finally:
            browser.close()
    assert [e["action"] for e in proxy.audit()].count("download") == 1


@pytest.mark.browser
@pytest.mark.external
@pytest.mark.threat("T46")
def test_t46_real_catalog_renders_under_the_csp(chromium_path: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from tests.support.servers import SIGNING

    copy_site(EXAMPLE, tmp_path / "site", [SIGNING])
    with (
        mock_provider(USERS) as issuer,
        run_proxy(tmp_path / "site", issuer, tmp_path) as proxy,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            violations: list[str] = []
            page.on(
                "console",
                lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
            )
            page.goto(proxy.url)
            page.click("button[value='alice']")
            page.wait_for_url(proxy.url)
            page.wait_for_load_state("networkidle")
            assert page.title()
            assert violations == []
        finally:
            browser.close()
