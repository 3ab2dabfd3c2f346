"""A skill's own files never run in the proxy's origin (T49): served inert (text/plain, images,
downloads) with ``Content-Security-Policy: sandbox; default-src 'none'`` and ``nosniff`` — checked
in real Chromium, with files that would steal the member's index if they ran."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.browser import CHROMIUM_ARGS
from tests.support.servers import RunningProxy, login_with_mock, mock_provider, run_proxy, write_site

USERS = [{"sub": "alice", "email": "alice@corp.example", "email_verified": True, "hd": "corp.example"}]
STEAL = "document.title='PWNED';fetch('/index.json').then(r=>r.text()).then(t=>fetch('/pwned?'+t.length))"
FILES = {
    "assets/x.svg": (
        '<svg xmlns="http://www.w3.org/2000/svg" onload="' + STEAL.replace("'", "&apos;") + '">'
        f"<script>{STEAL}</script><rect width='10' height='10'/></svg>"
    ).encode(),
    "assets/page.html": b'<!doctype html><html><body><script src="x.js"></script><h1>hi</h1></body></html>',
    "assets/x.js": STEAL.encode(),
    "assets/doc.xhtml": (
        '<html xmlns="http://www.w3.org/1999/xhtml"><body><script>' + STEAL + "</script></body></html>"
    ).encode(),
    "assets/pixel.png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 32,
    "assets/blob.bin": b"\xff\xfe\x00\x01binary",
}


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    root = tmp_path_factory.mktemp("inert")
    site = root / "site"
    write_site(site)
    # files that slipped into a skill (an older builder, a merged pull request): served as they are
    for path, data in FILES.items():
        target = site / ".well-known/agent-skills/pdf-writer" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    with mock_provider(USERS) as issuer, run_proxy(site, issuer, root) as running:
        yield running


def _url(proxy: RunningProxy, path: str) -> str:
    return proxy.url + ".well-known/agent-skills/pdf-writer/" + path


@pytest.mark.threat("T49")
def test_t49_skill_files_are_served_inert_with_a_sandbox_csp(proxy: RunningProxy) -> None:
    with httpx.Client(follow_redirects=False, timeout=10) as client:
        login_with_mock(client, proxy.url, "alice")
        expected = {
            "assets/x.svg": "image/svg+xml",
            "assets/page.html": "text/plain; charset=utf-8",
            "assets/x.js": "text/plain; charset=utf-8",
            "assets/doc.xhtml": "text/plain; charset=utf-8",
            "assets/pixel.png": "image/png",
            "assets/blob.bin": "application/octet-stream",
            "SKILL.md": "text/plain; charset=utf-8",
        }
        for path, media_type in expected.items():
            r = client.get(_url(proxy, path))
            assert r.status_code == 200, path
            assert r.headers["content-type"] == media_type, path
            assert r.headers["content-security-policy"] == "sandbox; default-src 'none'", path
            assert r.headers["x-content-type-options"] == "nosniff", path
        for path in ("assets/x.svg", "assets/blob.bin"):
            assert client.get(_url(proxy, path)).headers["content-disposition"].startswith("attachment;")
        # every other non-page response is sandboxed too; pages keep their own policy
        zip_path = "skills/pdf-writer/pdf-writer-1.0.0.zip"
        others = ("index.json", zip_path, ".well-known/agent-skills/index.json")
        for path in others:
            r = client.get(proxy.url + path)
            assert r.status_code == 200, path
            assert r.headers["content-security-policy"] == "sandbox; default-src 'none'", path
        page = client.get(proxy.url + "skills/pdf-writer/")
        assert "script-src 'self'" in page.headers["content-security-policy"]


@pytest.mark.browser
@pytest.mark.external
@pytest.mark.threat("T49")
def test_t49_svg_html_and_xhtml_from_a_skill_do_not_run_in_chromium(
    proxy: RunningProxy, chromium_path: str
) -> None:
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(accept_downloads=True)
            page = context.new_page()
            stolen: list[str] = []
            context.on("request", lambda req: stolen.append(req.url) if "/pwned" in req.url else None)
            page.goto(proxy.url + "skills/pdf-writer/")
            page.click("button[value='alice']")
            page.wait_for_url(proxy.url + "skills/pdf-writer/")
            for path in ("assets/x.svg", "assets/page.html", "assets/doc.xhtml", "assets/x.js"):
                try:
                    page.goto(_url(proxy, path))
                except Error as exc:  # a download instead of a document: nothing to run
                    assert "Download is starting" in str(exc), exc
                page.wait_for_timeout(500)
                assert page.title() != "PWNED", path
            # the SVG as an image inside a page of the proxy's origin: shown, still inert
            page.goto(proxy.url + "skills/pdf-writer/")
            page.evaluate(
                "u => { const i = document.createElement('img'); i.src = u; document.body.append(i); }",
                _url(proxy, "assets/x.svg"),
            )
            page.wait_for_timeout(500)
            assert page.title() != "PWNED"
            assert stolen == []
        finally:
            browser.close()
