"""The site engine: MkDocs-Material, with the catalog's own pages rendered outside MkDocs' page pipeline.

This module is the ONE seam to the site engine. The catalog's pages arrive here already as HTML
(``HtmlPage``: title, content, headings — builder/site.py renders them with Jinja2). MkDocs builds
the organization's own Markdown pages and the navigation pages (home, All skills, Plugins, Tags,
Categories, Provisioning; those arrive as one-line stubs whose content is swapped for ours). Every
other catalog page (a page per skill, plugin, tag, category, reference file, and list pages after
the first) goes through the SAME theme template (``main.html`` of Material plus our overrides, with
the context MkDocs gives its own pages), without Markdown conversion, search indexing or
per-page plugin events. That is what makes 10,000 skills cheap (issue 15):

- a page whose inputs did not change is not rendered again: its key is the digest of the frame
  (configuration, theme files, engine versions, navigation) and of the page's own title and HTML —
  or, for the pages of single skills (``DeferredPage``), of what the HTML is made from, so those
  are not even rendered to be compared;
  the previous site's file is hard-linked when its recorded digest still matches the file on disk
  (``pages.json`` in the work folder), else the page is rendered;
- the pages to render are split across processes (builder/parallel.py).

The result is the same bytes whether a page was reused or rendered (a test builds incrementally and
from scratch and compares the trees).
"""

from __future__ import annotations

import hashlib
import html
import itertools
import json
import os
import re
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from importlib.metadata import version as _version
from pathlib import Path
from typing import Any

from builder import parallel, publish
from builder.errors import BadInput, UpstreamError

MANIFEST = "pages.json"
_HEADING = re.compile(r'<h([12])(?: id="([^"]*)")?>(.*?)</h\1>', re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class HtmlPage:
    """One catalog page: ``src`` is its docs-relative name (``skills/x/index.md``); ``title`` plain text;
    ``content`` the page's HTML. ``directory_url`` False writes ``a/b.html`` rather than
    ``a/b/index.html``."""

    src: str
    title: str
    content: str
    hide_toc: bool = False
    directory_url: bool = True

    @property
    def key(self) -> str:
        material = json.dumps([self.src, self.title, self.hide_toc, self.directory_url, self.content])
        return hashlib.sha256(material.encode("utf-8")).hexdigest()

    def stub(self) -> str:
        """The Markdown MkDocs reads for a navigation page (its content is replaced by ours)."""
        title = json.dumps(html.escape(self.title), ensure_ascii=False)
        hide = "hide:\n  - toc\n" if self.hide_toc else ""
        return f"---\ntitle: {title}\nsearch:\n  exclude: true\n{hide}---\n\n<!--sp-content-->\n"


@dataclass(frozen=True)
class DeferredPage:
    """A page like ``HtmlPage`` whose content is rendered only when needed: its key is the digest of
    ``inputs`` (everything the content is made from, including the code and templates that make it),
    so an unchanged page of a 10,000-skill catalog is reused without being rendered at all."""

    src: str
    title: str
    make: Callable[[], str] = field(repr=False, compare=False)
    inputs: str
    hide_toc: bool = False
    directory_url: bool = True

    @property
    def key(self) -> str:
        material = json.dumps(
            [self.src, self.title, self.hide_toc, self.directory_url, "inputs", self.inputs]
        )
        return hashlib.sha256(material.encode("utf-8")).hexdigest()

    @cached_property
    def content(self) -> str:
        return self.make()


AnyPage = HtmlPage | DeferredPage


Heading = tuple[int, str, str]  # level, anchor, title (HTML)


def headings(content: str) -> list[Heading]:
    """The headings of our HTML that make the table of contents: the first h1, and h2s with an id."""
    found: list[Heading] = []
    for level, anchor, title in _HEADING.findall(content):
        if level == "1" and not any(h[0] == 1 for h in found):
            found.append((1, anchor or "", _TAG.sub("", title).strip()))
        elif level == "2" and anchor:
            found.append((2, anchor, _TAG.sub("", title).strip()))
    return found


def table_of_contents(found: Sequence[Heading]) -> Any:
    """MkDocs' table of contents for ``headings``: the h2s under the h1 when there is one."""
    from mkdocs.structure.toc import AnchorLink, TableOfContents

    top: Any = None
    items: list[Any] = []
    for level, anchor, title in found:
        link = AnchorLink(title, anchor, level)
        if level == 1:
            top = link
            items.append(top)
        else:
            (top.children if top is not None else items).append(link)
    if items:
        items[0].active = True
    return TableOfContents(items)


def frame_key(config_file: Path, theme_dir: Path, extra_docs: Iterable[Path]) -> str:
    """What every page's frame depends on besides the page itself."""
    digest = hashlib.sha256()
    for part in (
        Path(__file__).read_bytes(),
        config_file.read_bytes(),
        _version("mkdocs").encode(),
        _version("mkdocs-material").encode(),
    ):
        digest.update(hashlib.sha256(part).digest())
    for root in (theme_dir, *extra_docs):
        add_tree(digest, root)
    return digest.hexdigest()


def add_tree(digest: Any, root: Path, suffixes: Container[str] | None = None) -> None:
    """Feed ``digest`` the relative path and digest of each file under ``root`` (of those
    ``suffixes`` only, when given), in a fixed order; nothing when ``root`` is not a folder."""
    for path in sorted(root.rglob("*")):
        if path.is_file() and (suffixes is None or path.suffix in suffixes):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())


@dataclass(frozen=True)
class Manifest:
    """What the previous build rendered: the frame, and per output file its page key and sha256."""

    frame: str
    pages: Mapping[str, tuple[str, str]]

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            data = json.loads(path.read_bytes())
            pages = {str(k): (str(v[0]), str(v[1])) for k, v in data["pages"].items()}
            return cls(str(data["frame"]), pages)
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return cls("", {})

    def write(self, path: Path) -> None:
        data = {"frame": self.frame, "pages": {k: list(v) for k, v in sorted(self.pages.items())}}
        publish.write_atomic(path, json.dumps(data, separators=(",", ":")).encode("utf-8"))


@dataclass
class RenderStats:
    rendered: int = 0
    reused: int = 0


class _Render:
    """Renders engine pages through the theme's ``main.html`` with MkDocs' own page context."""

    def __init__(self, config: Any, env: Any, nav: Any, files: Any) -> None:
        self.config, self.env, self.nav = config, env, nav
        self.doc_files = files.documentation_pages()
        self.template = env.get_template("main.html")

    def dest(self, page: AnyPage) -> str:
        from mkdocs.structure.files import File

        file = File(page.src, None, self.config.site_dir, page.directory_url)
        return file.dest_uri

    def __call__(self, page: AnyPage) -> bytes:
        return self.text(page, html.escape(page.title), page.content, headings(page.content)).encode(
            "utf-8", errors="xmlcharrefreplace"
        )

    def text(self, page: AnyPage, title: str, content: str, found: Sequence[Heading]) -> str:
        """``main.html`` for ``page`` with this (HTML) title, content and table of contents."""
        from mkdocs.commands.build import get_context
        from mkdocs.structure.files import File
        from mkdocs.structure.pages import Page

        file = File(page.src, None, self.config.site_dir, page.directory_url)
        mk_page = Page(title, file, self.config)  # Material prints titles as HTML (`striptags` unescapes)
        mk_page.edit_url = None  # generated: there is no source file to edit
        mk_page.content = content
        mk_page.toc = table_of_contents(found)
        mk_page.meta = {"title": title, **({"hide": ["toc"]} if page.hide_toc else {})}
        context = get_context(self.nav, self.doc_files, self.config, mk_page)
        output: str = self.template.render(context)
        return output


_MARK = re.compile("\ue000([A-Z])(\\d*)\ue001")


def _mark(kind: str, n: int | str = "") -> str:
    return f"\ue000{kind}{n}\ue001"


@dataclass(frozen=True)
class _Frame:
    """``main.html`` rendered once with marks for the title, content and headings: ``parts`` alternate
    literal text and slot names. Filling it gives the bytes a full render gives (a test checks)."""

    parts: tuple[str, ...]

    def fill(self, title: str, content: str, found: Sequence[Heading]) -> bytes:
        values = {"T": title, "C": content}
        for i, (_level, anchor, text) in enumerate(found):
            values[f"I{i}"], values[f"H{i}"] = anchor, text
        out = [values[part] if i % 2 else part for i, part in enumerate(self.parts)]
        return "".join(out).encode("utf-8", errors="xmlcharrefreplace")


class Frames:
    """Renders engine pages by filling a frame per kind of page instead of running the theme's
    template for each: pages of one kind (same folder depth, same table-of-contents shape, toc shown
    or not, an h1 or not) differ only in title, content and headings. A kind whose frame would depend
    on anything else (the page's own URL, a filter applied to the title) is rendered in full."""

    def __init__(self, render: _Render) -> None:
        self.render = render
        self.frames: dict[tuple[Any, ...], _Frame | None] = {}

    def __call__(self, page: AnyPage) -> bytes:
        found = headings(page.content)
        has_h1 = "<h1" in page.content
        dest = self.render.dest(page)
        kind = (dest.split("/", 1)[0], dest.count("/"), page.hide_toc, has_h1, tuple(h[0] for h in found))
        if kind not in self.frames:
            self.frames[kind] = self._frame(page, found, has_h1)
        frame = self.frames[kind]
        if frame is None or "\ue000" in page.title + page.content:
            return self.render(page)
        return frame.fill(html.escape(page.title), page.content, found)

    def _frame(self, page: AnyPage, found: Sequence[Heading], has_h1: bool) -> _Frame | None:
        marks = [(level, _mark("I", i), _mark("H", i)) for i, (level, _a, _t) in enumerate(found)]
        content = _mark("C") + ("<h1>" if has_h1 else "")
        top, *middle, name = page.src.split("/")  # a page of the same kind elsewhere: same top folder
        probe = "/".join([top, *(f"sp-probe-{i}" for i in range(len(middle))), name])
        texts = [
            self.render.text(
                HtmlPage(src, "", "", page.hide_toc, directory_url=page.directory_url),
                _mark("T"),
                content,
                marks,
            )
            for src in (page.src, probe)
        ]
        if texts[0] != texts[1] or texts[0].count(content) != 1:
            return None  # the frame depends on the page's URL, or the content is not printed once as is
        text = texts[0].replace(content, _mark("C"))
        parts = _MARK.split(text)
        literal, slots = parts[0::3], [kind + n for kind, n in zip(parts[1::3], parts[2::3], strict=True)]
        expected = {"T", "C", *(f"I{i}" for i in range(len(found))), *(f"H{i}" for i in range(len(found)))}
        if (
            "\ue000" in "".join(literal)
            or "%EE%80%80" in "".join(literal).upper()
            or not set(slots) <= expected
        ):
            return None  # a mark was transformed (escaped, url-encoded …): no safe substitution
        merged: list[str] = [literal[0]]
        for slot, text_part in zip(slots, literal[1:], strict=True):
            merged += [slot, text_part]
        return _Frame(tuple(merged))


def _write(site_dir: Path, dest: str, data: bytes) -> tuple[str, str]:
    publish.write_file(site_dir, dest, data)
    return dest, hashlib.sha256(data).hexdigest()


BATCH = 2000  # pages held in memory at once while rendering


def render_pages(
    render: _Render,
    pages: Iterable[AnyPage],
    *,
    site_dir: Path,
    previous: Manifest,
    previous_site: Path | None,
    frame: str,
    processes: int,
) -> tuple[Manifest, RenderStats]:
    """Write every engine page into ``site_dir``: reused from ``previous_site`` when its key and
    digest match, rendered otherwise (in batches of ``BATCH``). Returns the new manifest."""
    stats = RenderStats()
    recorded: dict[str, tuple[str, str]] = {}
    frames = Frames(render)
    reusable = previous.pages if previous_site is not None and previous.frame == frame else {}
    batch = list(itertools.islice(pages, BATCH))
    while batch:
        todo: list[tuple[str, AnyPage]] = []
        keys: dict[str, str] = {}
        for page in batch:
            dest = render.dest(page)
            if dest in recorded or dest in keys:
                raise UpstreamError(f"two catalog pages would be written to {dest}")
            keys[dest] = key = page.key
            old = reusable.get(dest)
            if (
                old
                and old[0] == key
                and previous_site is not None
                and publish.reuse_file(previous_site, site_dir, dest, old[1])  # digest checked
            ):
                recorded[dest] = old
                stats.reused += 1
            else:
                todo.append((dest, page))
        results = parallel.map_forked(lambda job: _write(site_dir, job[0], frames(job[1])), todo, processes)
        for dest, sha in results:
            recorded[dest] = (keys[dest], sha)
        stats.rendered += len(results)
        batch = list(itertools.islice(pages, BATCH))
    return Manifest(frame, recorded), stats


def _plugin(nav_pages: Mapping[str, HtmlPage], run: Any) -> Any:
    from mkdocs.plugins import BasePlugin

    class CatalogPages(BasePlugin):  # type: ignore[type-arg,no-untyped-call]
        """Swaps the stubs' content for ours; renders the other catalog pages after MkDocs' own."""

        def on_nav(self, nav: Any, /, *, config: Any, files: Any) -> Any:
            self.nav = nav
            return nav

        def on_env(self, env: Any, /, *, config: Any, files: Any) -> Any:
            self.env, self.files = env, files
            return env

        def on_page_content(self, html_text: str, /, *, page: Any, config: Any, files: Any) -> str:
            ours = nav_pages.get(page.file.src_uri)
            if ours is None:
                return html_text
            page.toc = table_of_contents(headings(ours.content))
            return ours.content

        def on_post_build(self, *, config: Any) -> None:
            run(_Render(config, self.env, self.nav, self.files))

    return CatalogPages()


def build_site(
    config_file: Path,
    nav_pages: Sequence[HtmlPage],
    other_pages: Iterable[AnyPage],
    *,
    frame: str,
    work_dir: Path,
    previous_site: Path | None,
    processes: int,
    out_dir: Path,
) -> tuple[Path, RenderStats]:
    """Run MkDocs in-process on a prepared config (its docs folder holds the stubs and the
    organization's pages) and return the folder it built; the engine pages go straight into
    ``out_dir`` (moving 20,000 files afterwards would cost more than writing them)."""
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import ConfigurationError, MkDocsException

    try:
        config = load_config(config_file=str(config_file))
    except ConfigurationError as exc:
        raise BadInput(f"site configuration: {exc}") from exc
    manifest_path = work_dir / MANIFEST
    previous = Manifest.read(manifest_path)
    outcome: list[tuple[Manifest, RenderStats]] = []

    def run(render: _Render) -> None:
        outcome.append(
            render_pages(
                render,
                iter(other_pages),
                site_dir=out_dir,
                previous=previous,
                previous_site=previous_site,
                frame=frame,
                processes=processes,
            )
        )

    config.plugins["skillport/catalog-pages"] = _plugin({p.src: p for p in nav_pages}, run)
    config.plugins.on_startup(command="build", dirty=False)
    try:
        build(config)
    except MkDocsException as exc:
        raise UpstreamError(f"MkDocs failed to build the catalog: {exc}") from exc
    finally:
        config.plugins.on_shutdown()
    manifest, stats = outcome[0]
    manifest.write(manifest_path)
    return Path(config.site_dir), stats
