"""The proxy's own pages copy the catalog's name and palette (proxy/pages.py)."""

from __future__ import annotations

from proxy.pages import Action, Look, look_from_home, render

HOME = (
    '<body dir="ltr" data-md-color-scheme="default" data-md-color-primary="indigo" '
    'data-md-color-accent="teal"><div class="md-header__topic">\n  <span class="md-ellipsis">\n'
    "    Corp &amp; Co skills\n  </span></div>"
)


def test_look_is_read_from_the_catalog_home_page() -> None:
    assert look_from_home(HOME) == Look(site_name="Corp & Co skills", primary="indigo", accent="teal")
    assert look_from_home("<html>no theme</html>") == Look()
    hostile = look_from_home(HOME.replace("indigo", "x;background:url(//evil)"))
    assert hostile.primary == "deep-purple"  # only Material's own palette names are used


def test_pages_carry_the_palette_escape_text_and_link_home() -> None:
    page = render(
        Look(site_name="<Corp>", primary="indigo", accent="teal"),
        "Title <x>",
        ["<p>fragment</p>"],
        actions=(Action("Sign out", "/logout", post=True),),
        status=403,
    )
    body = bytes(page.body).decode()
    assert page.status_code == 403 and page.headers["cache-control"] == "no-store"
    assert "background:#4051b5" in body and "<title>Title &lt;x&gt; - &lt;Corp&gt;</title>" in body
    assert '<a href="/" title="&lt;Corp&gt;">' in body and "Back to &lt;Corp&gt;" in body
    assert '<form method="post" action="/logout"><button class="sp-btn" type="submit">Sign out' in body
    assert "<script" not in body


def test_an_unexpected_error_is_a_catalog_page_for_browsers_and_json_for_others() -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from proxy.errors import unexpected_error_handler

    async def broken(request: Request) -> None:
        raise RuntimeError("secret-token-123 leaked?")

    app = Starlette(routes=[Route("/x", broken)], exception_handlers={Exception: unexpected_error_handler})
    client = TestClient(app, raise_server_exceptions=False)
    page = client.get("/x", headers={"Accept": "text/html"})
    assert page.status_code == 500 and "<h1>Something went wrong</h1>" in page.text
    assert "secret-token-123" not in page.text and 'href="/"' in page.text
    api = client.get("/x", headers={"Accept": "*/*"})
    assert api.status_code == 500 and api.json()["error"] == "server_error"
    assert "secret-token-123" not in api.text
