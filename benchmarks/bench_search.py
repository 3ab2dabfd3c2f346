"""Browser search: what every member downloads before the first result, and how fast it comes.

    .venv/bin/python benchmarks/bench_search.py [--sizes 1000 10000] [--description-chars 200] [--no-browser]

For each size N it renders the catalog of N generated skills (``bench_site.generate``, descriptions
padded with random words to about ``--description-chars`` characters, each holding one word of its
own) with ``builder.site``, in this one process, and prints:

- the bytes of MkDocs-Material's own ``search/search_index.json`` (every page's full text, one entry
  per heading) against the catalog's trimmed one (builder/search_index.py), raw and gzip-compressed;
- in real Chromium (Playwright, ``/usr/bin/chromium`` or ``$SKILLPORT_CHROMIUM``), the site served on
  127.0.0.1: the bytes of search data the page downloaded, the time from navigation until the page
  is idle (search index fetched), and the time from typing the middle skill's own word until the
  first result shows (that skill must be the first result).

Prints figures and ratios; never fails on speed. Target (issue 15): <= 2 MB before the first result
and <= 300 ms from typing to the first result at 10,000 skills.
"""

from __future__ import annotations

import argparse
import gzip
import http.server
import os
import random
import string
import sys
import tempfile
import threading
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_package import WORDS  # noqa: E402
from bench_site import NOW, generate  # noqa: E402

from builder import site  # noqa: E402
from builder.contract.index import IndexDocument  # noqa: E402

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


def browser_figures(site_dir: Path, word: str, skill: str) -> tuple[int, float, float, str]:
    """(search bytes downloaded, s to idle, s from typing to first result, first result's href)."""
    from playwright.sync_api import sync_playwright

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(site_dir)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    downloaded: list[int] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(120_000)
            page.on(
                "response",
                lambda r: downloaded.append(len(r.body())) if "search_index.json" in r.url else None,
            )
            start = time.perf_counter()
            page.goto(base + f"skills/{skill}/", wait_until="networkidle")
            idle = time.perf_counter() - start
            box = page.locator("input.md-search__input")
            box.click()
            start = time.perf_counter()
            box.press_sequentially(word)
            first = page.locator(".md-search-result__item").first
            first.wait_for(state="visible")
            typed = time.perf_counter() - start
            href = page.locator("a.md-search-result__link").first.get_attribute("href") or ""
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    return sum(downloaded), idle, typed, href


def run(count: int, chars: int, browser: bool) -> None:
    document, bodies = generate(count)
    document = with_descriptions(document, chars, seed=count)
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        root = Path(tmp)
        config_file = site.prepare_catalog(
            document,
            bodies,
            config_path=REPO_ROOT / "mkdocs.yml",
            templates_dir=REPO_ROOT / "templates",
            work_dir=root / "work",
            now=NOW,
        )
        built = site.build_site(config_file)
        path = built / "search" / "search_index.json"
        untrimmed = path.read_bytes()
        start = time.perf_counter()
        site.trim_search_index(built, document)
        trim_s = time.perf_counter() - start
        trimmed = path.read_bytes()
        print(f"== {count} skills, descriptions ~{chars} characters")
        for label, data in (("MkDocs-Material index", untrimmed), ("trimmed index", trimmed)):
            print(
                f"{label + ':':24}{len(data):>12,} bytes  gzip {len(gzip.compress(data, 6)):>10,} bytes"
                f"  ({len(data) / count:,.0f} bytes/skill)"
            )
        print(f"trimmed / MkDocs:       {len(trimmed) / len(untrimmed):12.3f}  (trim step {trim_s:.2f} s)")
        if browser:
            middle = count // 2
            name = document.skills[middle].name
            downloaded, idle, typed, href = browser_figures(built, own_word(middle), name)
            verdict = "first result is that skill" if f"skills/{name}/" in href else f"FIRST RESULT {href}"
            print(
                f"Chromium: search data downloaded {downloaded:,} bytes (uncompressed); page idle "
                f"{idle * 1000:,.0f} ms; typing {own_word(middle)!r} -> first result {typed * 1000:,.0f} ms"
                f" ({verdict})"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--description-chars", type=int, default=200)
    parser.add_argument("--no-browser", action="store_true", help="sizes only, no Chromium")
    args = parser.parse_args()
    for count in args.sizes:
        run(count, args.description_chars, not args.no_browser)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
