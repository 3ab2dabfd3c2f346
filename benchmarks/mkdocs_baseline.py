"""The baseline the catalog's engine is measured against: plain ``mkdocs build`` of the same pages.

``capture()`` records what a build hands to the site engine (``builder.engine.build_site``: the
generated ``mkdocs.yml`` and every catalog page as HTML); ``mkdocs_build()`` then writes each of those
pages as a Markdown file (front matter + the same HTML, which Markdown passes through) next to the
organization's pages and times MkDocs-Material building them all the ordinary way, in this process
(search plugin included), as a site without Skillport's engine would.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from builder import engine


@dataclass
class Captured:
    config_file: Path | None = None
    pages: Sequence[engine.HtmlPage] = ()
    docs: dict[str, bytes] | None = None  # the organization's own pages (the stubs excluded)


@contextmanager
def capture() -> Iterator[Captured]:
    """While active, each build's engine input is kept (the last one wins)."""
    seen = Captured()
    original = engine.build_site

    def recording(
        config_file: Path,
        nav_pages: Sequence[engine.HtmlPage],
        other_pages: Iterable[engine.HtmlPage],
        **kw: Any,
    ) -> Any:
        others = list(other_pages)
        seen.config_file, seen.pages = config_file, [*nav_pages, *others]
        docs = config_file.parent / "docs"
        stubs = {p.src for p in nav_pages}
        seen.docs = {
            p.relative_to(docs).as_posix(): p.read_bytes()
            for p in docs.rglob("*")
            if p.is_file() and p.relative_to(docs).as_posix() not in stubs
        }
        return original(config_file, nav_pages, others, **kw)

    engine.build_site = recording  # type: ignore[assignment]
    try:
        yield seen
    finally:
        engine.build_site = original  # type: ignore[assignment]


def _markdown(page: engine.HtmlPage) -> str:
    meta = {"title": page.title, **({"hide": ["toc"]} if page.hide_toc else {})}
    return f"---\n{yaml.safe_dump(meta, allow_unicode=True)}---\n\n{page.content}\n"


def mkdocs_build(seen: Captured, scratch: Path, *, keep: Sequence[str] = ()) -> tuple[float, int]:
    """Seconds ``mkdocs build`` takes for the captured pages, and how many pages it wrote. The files of
    the built site named in ``keep`` (such as ``search/search_index.json``) are left in ``scratch``."""
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    assert seen.config_file is not None and seen.docs is not None, "no build was captured"
    if scratch.exists():
        shutil.rmtree(scratch)
    docs = scratch / "docs"
    for rel, data in seen.docs.items():
        (docs / rel).parent.mkdir(parents=True, exist_ok=True)
        (docs / rel).write_bytes(data)
    for page in seen.pages:
        (docs / page.src).parent.mkdir(parents=True, exist_ok=True)
        (docs / page.src).write_text(_markdown(page), encoding="utf-8")
    config = yaml.safe_load(seen.config_file.read_text(encoding="utf-8"))
    config.update(docs_dir=str(docs), site_dir=str(scratch / "site"))
    config_file = scratch / "mkdocs.yml"
    config_file.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    start = time.perf_counter()
    loaded = load_config(config_file=str(config_file))
    loaded.plugins.on_startup(command="build", dirty=False)
    try:
        build(loaded)
    finally:
        loaded.plugins.on_shutdown()
    seconds = time.perf_counter() - start
    written = sum(1 for _ in (scratch / "site").rglob("*.html"))
    kept = {rel: (scratch / "site" / rel).read_bytes() for rel in keep}
    shutil.rmtree(scratch)
    for rel, data in kept.items():
        (scratch / rel).parent.mkdir(parents=True, exist_ok=True)
        (scratch / rel).write_bytes(data)
    return seconds, written
