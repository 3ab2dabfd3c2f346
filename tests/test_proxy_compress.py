"""gzip for catalog text responses (proxy/compress.py, issue 15), over the real proxy under uvicorn:
compressed when the client accepts it and the body is large, after per-member filtering (T26); never
for zips, byte ranges or ``no-store`` pages; ``Vary: Accept-Encoding`` on every text response."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from proxy.compress import accepts_gzip, compressed
from tests.support.servers import FakeIdP, RunningProxy, fake_idp, login_with_fake, run_proxy, write_site

GZIP = {"Accept-Encoding": "gzip"}
IDENTITY = {"Accept-Encoding": "identity"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("compress")
    write_site(root / "site")
    # an organization page with a long text, so the filtered search index is worth compressing
    search = root / "site" / "search" / "search_index.json"
    document = json.loads(search.read_bytes())
    document["docs"].append(
        {"location": "handbook/", "title": "Handbook", "text": "<p>how we work</p> " * 200}
    )
    search.write_text(json.dumps(document))
    return root / "site"


@pytest.fixture(scope="module")
def idp() -> Iterator[FakeIdP]:
    with fake_idp() as provider:
        yield provider


@pytest.fixture(scope="module")
def proxy(idp: FakeIdP, site: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    with run_proxy(site, idp.issuer, tmp_path_factory.mktemp("p")) as running:
        yield running


@pytest.fixture
def alice(idp: FakeIdP, proxy: RunningProxy) -> Iterator[httpx.Client]:
    idp.claims = {**idp.claims, "sub": "u-alice", "email": "alice@corp.example"}
    with httpx.Client() as client:
        assert login_with_fake(client, proxy.url).status_code == 302
        yield client


def raw(client: httpx.Client, url: str, headers: dict[str, str]) -> tuple[httpx.Response, bytes]:
    """The response and its body exactly as sent (httpx would decode gzip)."""
    with client.stream("GET", url, headers=headers) as response:
        return response, b"".join(response.iter_raw())


def varies(response: httpx.Response) -> bool:
    return "accept-encoding" in [v.strip().lower() for v in response.headers.get("vary", "").split(",")]


def test_catalog_pages_css_and_js_are_gzipped_when_accepted(
    alice: httpx.Client, proxy: RunningProxy, site: Path
) -> None:
    css = next((site / "assets" / "stylesheets").glob("main.*.min.css")).relative_to(site).as_posix()
    for path in ("", "skills/pdf-writer/", css, "assets/javascripts/skillport-search.js"):
        plain, plain_body = raw(alice, proxy.url + path, IDENTITY)
        packed, packed_body = raw(alice, proxy.url + path, GZIP)
        assert plain.status_code == packed.status_code == 200, path
        assert "content-encoding" not in plain.headers and varies(plain), path
        assert packed.headers["content-encoding"] == "gzip" and varies(packed), path
        assert gzip.decompress(packed_body) == plain_body, path
        assert int(packed.headers["content-length"]) == len(packed_body) < len(plain_body), path
        assert "accept-ranges" not in packed.headers, path
    refused, _ = raw(alice, proxy.url, {"Accept-Encoding": "gzip;q=0, identity"})
    assert "content-encoding" not in refused.headers


@pytest.mark.threat("T26")
def test_t26_search_index_is_filtered_then_gzipped(
    alice: httpx.Client, proxy: RunningProxy, site: Path
) -> None:
    on_disk = json.loads((site / "search" / "search_index.json").read_bytes())
    assert any(d["location"].startswith("skills/ledger/") for d in on_disk["docs"])  # finance-tools: bob only
    response, body = raw(alice, proxy.url + "search/search_index.json", GZIP)
    assert response.status_code == 200 and response.headers["content-encoding"] == "gzip" and varies(response)
    received = json.loads(gzip.decompress(body))
    locations = [d["location"] for d in received["docs"]]
    assert "skills/pdf-writer/" in locations and "handbook/" in locations
    assert not [x for x in locations if "ledger" in x or "finance-tools" in x]
    assert b"ledger" not in gzip.decompress(body)


def test_zips_ranges_and_small_or_non_text_bodies_are_not_gzipped(
    alice: httpx.Client, proxy: RunningProxy, site: Path
) -> None:
    for path in ("skills/pdf-writer/pdf-writer-1.0.0.zip", "plugins/writing-1.0.0.zip"):
        response, body = raw(alice, proxy.url + path, GZIP)
        assert response.status_code == 200 and "content-encoding" not in response.headers, path
        assert body[:2] == b"PK", path
    ranged, body = raw(
        alice, proxy.url + "assets/javascripts/skillport-search.js", {**GZIP, "Range": "bytes=0-99"}
    )
    assert ranged.status_code == 206 and "content-encoding" not in ranged.headers and len(body) == 100
    # a skill's own files are served inert as text/plain: left as they are
    skill_md, _ = raw(alice, proxy.url + ".well-known/agent-skills/pdf-writer/SKILL.md", GZIP)
    assert skill_md.status_code == 200 and "content-encoding" not in skill_md.headers
    # the proxy's own pages (sign-in, consent, signed out) say no-store and stay uncompressed
    signed_out, _ = raw(alice, proxy.url + "signed-out", GZIP)
    assert "no-store" in signed_out.headers["cache-control"] and "content-encoding" not in signed_out.headers


def run(request: Request, response: Response) -> Response:
    return asyncio.run(compressed(request, response))


def _request(accept_encoding: str | None) -> Request:
    headers = [(b"accept-encoding", accept_encoding.encode())] if accept_encoding is not None else []
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "query_string": b""})


def test_rules_of_compressed() -> None:
    big = "<p>" + "catalog text " * 200 + "</p>"
    assert accepts_gzip(_request("gzip, deflate, br")) and accepts_gzip(_request("br;q=1, GZIP;q=0.5"))
    assert (
        not accepts_gzip(_request("gzip;q=0"))
        and not accepts_gzip(_request("br"))
        and not accepts_gzip(_request(None))
    )
    done = run(_request("gzip"), HTMLResponse(big))
    assert done.headers["content-encoding"] == "gzip" and gzip.decompress(done.body) == big.encode()
    # BREACH caution: a page that may reflect a secret says no-store and is never compressed
    secret = run(_request("gzip"), HTMLResponse(big, headers={"Cache-Control": "no-store"}))
    assert "content-encoding" not in secret.headers and secret.body == big.encode()
    small = run(_request("gzip"), HTMLResponse("<p>short</p>"))
    assert "content-encoding" not in small.headers and small.headers["vary"] == "Accept-Encoding"
    attachment = HTMLResponse(big, headers={"Content-Disposition": 'attachment; filename="x.html"'})
    assert "content-encoding" not in run(_request("gzip"), attachment).headers
    partial = run(_request("gzip"), HTMLResponse(big, status_code=206))
    assert "content-encoding" not in partial.headers
    binary = run(_request("gzip"), Response(big.encode(), media_type="application/zip"))
    assert "content-encoding" not in binary.headers and "vary" not in binary.headers
    kept = run(_request("gzip"), HTMLResponse(big, headers={"Vary": "Cookie"}))
    assert kept.headers["vary"] == "Cookie, Accept-Encoding"


def test_compressed_copies_are_kept_within_their_byte_budget() -> None:
    """Issue 15: members with the same access share one compressed copy of a large filtered file, and
    the copies never take more than their budget, however many kinds of members ask."""
    import gzip
    import os

    from proxy.compress import GzipCache

    cache = GzipCache(max_bytes=64 * 1024, entries=256)
    bodies = [(f"view {i} ".encode() + os.urandom(6000)) * 2 for i in range(40)]  # ~6 KB compressed
    for body in bodies:
        assert gzip.decompress(cache.gzip(body)) == body
        assert cache.held_bytes <= 64 * 1024
    assert cache.gzip(bodies[-1]) is cache.gzip(bodies[-1])  # a recent one is served from the cache
    huge = os.urandom(32 * 1024)  # compressed, still over a quarter of the budget: not kept
    assert cache.gzip(huge) is not cache.gzip(huge)
