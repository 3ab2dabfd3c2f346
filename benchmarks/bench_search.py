"""Browser search: what every member downloads before the first result, and how fast it comes.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_search.py [--sizes 1000 10000] [--description-chars 200]
        [--no-browser] [--no-proxy]

For each size N it renders the catalog of N generated skills (``bench_site.generate``, descriptions
padded with random words to about ``--description-chars`` characters, each holding one word of its
own) with ``builder.site``, in this one process, and prints:

- the bytes of MkDocs-Material's own ``search/search_index.json`` (every page's full text, one entry
  per heading) against the catalog's trimmed one (builder/search_index.py), raw and gzip-compressed;
- in real Chromium (Playwright, ``/usr/bin/chromium`` or ``$SKILLPORT_CHROMIUM``), with Skillport's
  search worker, the site served on 127.0.0.1 twice: by a static host (``http.server``, no
  compression) and through the real proxy (``create_app``, a signed-in member's session: the index
  filtered per member and gzip-encoded): the bytes of the search index as received (encoded, on the
  wire) and of every response of the page, the time from navigation until the page is idle (index
  fetched and handed to the worker), and the time from typing the middle skill's own word until the
  first result shows (that skill must be the first result).

Prints figures and ratios; never fails on speed. Target (issue 15): <= 2 MB before the first result
and <= 300 ms from typing to the first result at 10,000 skills.
"""

from __future__ import annotations

import argparse
import gzip
import http.server
import json
import os
import random
import string
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import mkdocs_baseline  # noqa: E402
from bench_package import WORDS  # noqa: E402
from bench_site import NOW, generate  # noqa: E402

from builder import site  # noqa: E402
from builder.contract.index import IndexDocument  # noqa: E402
from builder.limits import DEFAULT_LIMITS  # noqa: E402

SEARCH = "search/search_index.json"
CHROMIUM = os.environ.get("SKILLPORT_CHROMIUM", "/usr/bin/chromium")


def own_word(i: int) -> str:
    """A word no other skill has (letters only: the search separator splits on '-' and spaces)."""
    letters = ""
    while True:
        i, rest = divmod(i, 26)
        letters = string.ascii_lowercase[rest] + letters
        if i == 0:
            return "zq" + letters


def with_descriptions(document: IndexDocument, chars: int, seed: int) -> IndexDocument:
    rnd = random.Random(seed)
    skills = []
    for i, s in enumerate(document.skills):
        words = [s.description, own_word(i)]
        while sum(len(w) + 1 for w in words) < chars:
            words.append(rnd.choice(WORDS))
        skills.append(replace(s, description=" ".join(words)))
    return replace(document, skills=tuple(skills))


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def static_server(site_dir: Path) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The built site as a static host serves it (``python -m http.server``: no compression)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(site_dir)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", []
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def proxy_server(site_dir: Path, document: IndexDocument) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The built site through the real proxy (``proxy.app.create_app``: per-member filtering, gzip),
    its index signed as the builder signs it, with a signed-in member's session cookie."""
    from proxy.app import create_app
    from proxy.session import Member
    from proxy.settings import Settings
    from tests.support.servers import SIGNING, free_socket, proxy_env, serve
    from tests.support.sites import republish

    republish(site_dir, json.loads(document.to_json()), [SIGNING], now=datetime.now(UTC))
    sock = free_socket()
    public = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    env = proxy_env(
        public,
        "http://127.0.0.1:9",  # no sign-in happens: the session cookie is made here
        site_dir,
        audit_log=str(site_dir.parent / "audit.jsonl"),
        index_refresh_seconds="30",
    )
    app = create_app(Settings.from_env(env))
    cookie = app.state.skillport.sessions.encode(Member("bench", "alice@corp.example"), now=datetime.now(UTC))
    with serve(app, sock) as url:
        yield url, [{"name": "skillport", "value": cookie, "url": url}]


def browser_figures(base: str, cookies: list[dict[str, Any]], word: str, skill: str) -> dict[str, Any]:
    """Open ``skills/<skill>/`` at ``base``, wait until idle, type ``word``: bytes received (encoded,
    as on the wire) for the search index and for everything, times, the first result and the worker."""
    from playwright.sync_api import sync_playwright

    responses: list[Any] = []
    workers: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        if cookies:
            context.add_cookies(cookies)
        page = context.new_page()
        page.set_default_timeout(120_000)
        page.on("response", lambda r: responses.append(r))
        page.on("worker", lambda w: workers.append(w.url.rsplit("/", 1)[-1]))
        start = time.perf_counter()
        page.goto(base + f"skills/{skill}/", wait_until="networkidle")
        idle = time.perf_counter() - start
        box = page.locator("input.md-search__input")
        box.click()
        start = time.perf_counter()
        box.press_sequentially(word)
        page.locator(".md-search-result__item").first.wait_for(state="visible")
        typed = time.perf_counter() - start
        href = page.locator("a.md-search-result__link").first.get_attribute("href") or ""
        search = [r for r in responses if "search_index.json" in r.url]
        figures = {
            "search_wire": sum(r.request.sizes()["responseBodySize"] for r in search),
            "search_raw": sum(len(r.body()) for r in search),
            "encoding": ",".join(sorted({r.all_headers().get("content-encoding", "none") for r in search})),
            "all_wire": sum(r.request.sizes()["responseBodySize"] for r in responses),
            "requests": len(responses),
            "idle": idle,
            "typed": typed,
            "href": href,
            "workers": workers,
        }
        browser.close()
    return figures


def run(count: int, chars: int, browser: bool, proxy: bool, repeat: int = 1) -> None:
    document, bodies = generate(count)
    document = with_descriptions(document, chars, seed=count)
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        root = Path(tmp)
        built = root / "site"
        start = time.perf_counter()
        with mkdocs_baseline.capture() as seen:
            site.render_catalog(
                document,
                bodies,
                built,
                config_path=REPO_ROOT / "mkdocs.yml",
                templates_dir=REPO_ROOT / "templates",
                work_dir=root / "work",
                now=NOW,
                processes=DEFAULT_LIMITS.processes,
            )
        render_s = time.perf_counter() - start
        trimmed = (built / "search" / "search_index.json").read_bytes()
        # MkDocs-Material's own index of the same pages: what a plain `mkdocs build` would publish
        mkdocs_s, _ = mkdocs_baseline.mkdocs_build(seen, root / "mkdocs", keep=[SEARCH])
        untrimmed = (root / "mkdocs" / SEARCH).read_bytes()
        print(f"== {count} skills, descriptions ~{chars} characters")
        for label, data in (("MkDocs-Material index", untrimmed), ("trimmed index", trimmed)):
            print(
                f"{label + ':':24}{len(data):>12,} bytes  gzip {len(gzip.compress(data, 6)):>10,} bytes"
                f"  ({len(data) / count:,.0f} bytes/skill)"
            )
        print(
            f"trimmed / MkDocs:       {len(trimmed) / len(untrimmed):12.3f}  (catalog build {render_s:.1f} s,"
            f" plain mkdocs build {mkdocs_s:.1f} s)"
        )
        if not browser:
            return
        middle = count // 2
        name, word = document.skills[middle].name, own_word(middle)
        servers = [("static host", partial(static_server, built))]
        if proxy:
            servers.append(("through the proxy", partial(proxy_server, built, document)))
        for label, server in servers:
            with server() as (base, cookies):
                runs = [browser_figures(base, cookies, word, name) for _ in range(repeat)]
            f = sorted(runs, key=lambda r: r["typed"])[len(runs) // 2]  # the median run
            if repeat > 1:
                each = ", ".join(f"{r['typed'] * 1000:,.0f}" for r in runs)
                print(
                    f"Chromium, {label}: typing -> first result in {repeat} fresh pages: {each} ms"
                    " (median below)"
                )
            verdict = (
                "first result is that skill"
                if f"skills/{name}/" in f["href"]
                else f"FIRST RESULT {f['href']}"
            )
            print(
                f"Chromium, {label} (worker {', '.join(f['workers'])}): search index received "
                f"{f['search_wire']:,} bytes ({f['encoding']}; {f['search_raw']:,} decoded); all "
                f"{f['requests']} responses {f['all_wire']:,} bytes; page idle {f['idle'] * 1000:,.0f} ms; "
                f"typing {word!r} -> first result {f['typed'] * 1000:,.0f} ms ({verdict})"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--description-chars", type=int, default=200)
    parser.add_argument("--no-browser", action="store_true", help="sizes only, no Chromium")
    parser.add_argument(
        "--no-proxy", action="store_true", help="in Chromium, only the static host (not the real proxy too)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="browser runs per server (the median is shown)")
    args = parser.parse_args()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for count in args.sizes:
        run(count, args.description_chars, not args.no_browser, not args.no_proxy, max(1, args.repeat))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
