"""The catalog site: index document + SKILL.md bodies -> HTML pages (Jinja2) -> the theme's frame.

Pure page generation lives here; the site engine (MkDocs-Material, its configuration, the frame and
the render cache) is behind one seam, builder/engine.py, and ``engine_config`` below.

Skill text is untrusted (T46). It reaches a page in two ways only:

- short fields (description, author, tags, commit subjects …) are HTML-escaped by Jinja autoescape;
- the SKILL.md body is rendered here with raw HTML turned off (it shows as text), then cleaned with
  nh3 (an allowlist: no scripts, no event handlers, no ``style``, no comments, only http(s)/mailto
  links; relative links point at the skill's published files or are dropped).

Every link is relative, so the site works under any base path. Pages that list entries of several
plugins wrap each entry in ``<!--sp-plugin:NAME-->…<!--/sp-plugin-->`` (docs/site-layout.md) and are
kept out of the search index; skill and plugin pages are not in the navigation. Long lists (All
skills, a tag, a category) come in pages of ``page_size`` skills: ``index.html``, ``index-2.html``, …
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import posixpath
import re
import shutil
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from importlib.metadata import version as _version
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import jinja2
import markdown
import nh3
import yaml
from markdown.extensions.toc import slugify as _toc_slugify
from markupsafe import Markup

from builder import changes, engine, install_guide, publish, search_index
from builder.contract.index import IndexDocument, ZipRecord
from builder.engine import AnyPage, DeferredPage, HtmlPage
from builder.errors import BadInput, UpstreamError
from builder.provisioning import GroupPlugins, group_plugins
from builder.scan import ScanResult

PLACEHOLDER_URL = "https://catalog.invalid/"  # replaced in the browser by skillport.js
RECENT_COUNT = 8
REFERENCE_RE = re.compile(r"references/([A-Za-z0-9][A-Za-z0-9_-]{0,80})\.md")
MAX_REFERENCE_BYTES = 512 * 1024
SURFACES = ("claude-ai", "claude-code", "other-agents")
SURFACE_LABELS = {
    "claude-ai": "Claude.ai / Desktop / mobile",
    "claude-code": "Claude Code",
    "other-agents": "Other agents",
}
SKILL_ROOT = "../../"  # from skills/<skill>/ to the site root
REFERENCE_ROOT = "../../../../"  # from skills/<skill>/references/<stem>/
MAX_CONFIG_BYTES = 1024 * 1024
GENERATED_TOP = ("index.md", "plugins", "skills", "tags", "categories", "assets", "search")

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "dd",
    "del",
    "div",
    "dl",
    "dt",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "kbd",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "code": {"class"},
    "div": {"class"},
    "pre": {"class"},
    "span": {"class"},
    **{f"h{n}": {"id"} for n in range(1, 7)},
}


# --------------------------------------------------------------------------- views (pure)


@dataclass(frozen=True)
class Label:
    """A tag or category as shown (``label``) and as a URL segment (``slug``)."""

    label: str
    slug: str


@dataclass(frozen=True)
class ZipRef:
    path: str
    file: str
    sha256: str
    size: str


@dataclass(frozen=True)
class FileRow:
    path: str
    size: str


@dataclass(frozen=True)
class HistoryRow:
    version: str
    date: str
    commit: str
    subject: str


@dataclass(frozen=True)
class VersionRow:
    version: str
    date: str
    note: str
    summary: str  # "2 file(s) changed (+12 −3); added x"
    files: tuple[str, ...]  # one line per file: "+ path", "− path", "~ path (+3 −1)"


def _version_rows(raw: Any) -> tuple[VersionRow, ...]:
    rows = []
    for v in raw if isinstance(raw, list) else []:
        if not isinstance(v, Mapping):
            continue
        raw_summary = v.get("summary")
        summary: Mapping[str, Any] = raw_summary if isinstance(raw_summary, Mapping) else {}
        files = [f"+ {f.get('path')}" for f in summary.get("added") or [] if isinstance(f, Mapping)]
        files += [f"− {f.get('path')}" for f in summary.get("removed") or [] if isinstance(f, Mapping)]
        for f in summary.get("changed") or []:
            if isinstance(f, Mapping):
                counted = f.get("lines_added") is not None
                lines = f" (+{f.get('lines_added')} −{f.get('lines_removed')})" if counted else ""
                files.append(f"~ {f.get('path')}{lines}")
        rows.append(
            VersionRow(
                str(v.get("version") or ""),
                _date(str(v.get("date") or "")),
                changes.note_of(v),
                changes.summary_text(summary),
                tuple(files),
            )
        )
    return tuple(rows)


@dataclass(frozen=True)
class ReferencePage:
    """A reference file (``references/<stem>.md``) of a skill, rendered as its own page."""

    path: str
    stem: str
    title: str
    body_html: Markup | LazyHtml


@dataclass(frozen=True)
class SkillView:
    name: str
    plugin: str
    version: str
    description: str
    license: str
    compatibility: str
    author: str
    allowed_tools: str
    tags: tuple[Label, ...]
    category: Label | None
    updated_at: str
    updated: str
    files: tuple[FileRow, ...]
    zip: ZipRef | None  # None: Claude Code only (no upload zip)
    history: tuple[HistoryRow, ...]
    body_html: Markup | LazyHtml
    repository: str = ""
    references: tuple[ReferencePage, ...] = ()
    surfaces: tuple[str, ...] = SURFACES  # where it installs (the All skills page filters on it)
    scan: ScanResult | None = None  # the security scan the index records (None: an older index)
    versions: tuple[VersionRow, ...] = ()  # one row per version with its note and file summary


@dataclass(frozen=True)
class PluginView:
    name: str
    version: str
    description: str
    author: str
    category: Label | None
    tags: tuple[Label, ...]
    skills: tuple[SkillView, ...]
    zip: ZipRef | None
    repository: str = ""
    components: tuple[ComponentRow, ...] = ()
    external: str = ""  # the source kind (github, url, git-subdir, npm) of a plugin fetched elsewhere


@dataclass(frozen=True)
class ComponentRow:
    """A command, agent, hook event, MCP/LSP server or output style a plugin installs."""

    kind: str
    name: str
    description: str


@dataclass(frozen=True)
class ChipEntry:
    """One tag/category chip on an aggregate page, for ONE plugin (so access markers can wrap it)."""

    plugin: str
    label: str
    slug: str
    count: int


@dataclass(frozen=True)
class Catalog:
    marketplace_name: str
    marketplace_description: str
    catalog_url: str
    plugins: tuple[PluginView, ...]
    skills: tuple[SkillView, ...]
    tags: tuple[Label, ...]
    categories: tuple[Label, ...]
    owner_name: str = ""
    owner_email: str = ""
    repository: str = ""


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _zip(record: ZipRecord | None) -> ZipRef | None:
    if record is None:
        return None
    return ZipRef(path=record.path, file=record.file, sha256=record.sha256, size=human_size(record.size))


def slugify(label: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60] or "x"


def assign_slugs(labels: Iterable[str]) -> dict[str, str]:
    """Stable, collision-free URL slugs for labels (same input -> same slugs)."""
    slugs: dict[str, str] = {}
    taken: set[str] = set()
    for label in sorted(set(labels)):
        slug = slugify(label)
        if slug in taken:
            slug = f"{slug}-{hashlib.sha256(label.encode('utf-8')).hexdigest()[:8]}"
        taken.add(slug)
        slugs[label] = slug
    return slugs


def _labels(values: Iterable[str]) -> list[str]:
    return [v.strip() for v in values if v.strip()]


def _date(moment: str) -> str:
    return moment[:10] if re.match(r"^\d{4}-\d{2}-\d{2}", moment) else moment


def _reference_pages(view: SkillView, texts: Mapping[str, str]) -> tuple[ReferencePage, ...]:
    """``references/<stem>.md`` files of the skill as pages (other files stay downloads), not yet
    rendered: each body is rendered knowing every reference page (links between them stay pages)."""
    pages = []
    files = {f.path for f in view.files}
    for path in sorted(texts):
        match = REFERENCE_RE.fullmatch(path)
        if match is None or path not in files:
            continue
        stem = match.group(1)
        heading = re.search(r"^#\s+(.+?)\s*#*\s*$", texts[path], re.MULTILINE)
        title = heading.group(1) if heading else stem.replace("-", " ").replace("_", " ")
        pages.append(ReferencePage(path, stem, title, Markup("")))
    return tuple(pages)


def reference_texts(files: Iterable[Any]) -> dict[str, str]:
    """``references/*.md`` files (objects with ``path`` and ``data``) as text, for their pages."""
    return {
        f.path: f.data.decode("utf-8", errors="replace")
        for f in files
        if REFERENCE_RE.fullmatch(f.path) and len(f.data) <= MAX_REFERENCE_BYTES
    }


BodyJob = tuple[str, "SkillView", str, str]  # Markdown, its skill, root from the page, folder in the skill


def catalog_from_index(
    index_doc: IndexDocument,
    bodies: Mapping[str, str],
    render_body: Callable[[BodyJob], LazyHtml],
    references: Mapping[str, Mapping[str, str]] | None = None,
) -> Catalog:
    """Shape the verified index document for the templates (the contract has checked it)."""
    market = index_doc.marketplace
    base_url = index_doc.base_url
    catalog_url = (base_url.rstrip("/") + "/") if base_url else PLACEHOLDER_URL
    plugin_docs = index_doc.plugins_by_name
    market_repository = market.repository or ""

    all_tags: list[str] = []
    all_categories: list[str] = []
    labelled = [(p.tags, p.category) for p in index_doc.plugins] + [
        (s.tags, s.category) for s in index_doc.skills
    ]
    for tags, category in labelled:
        all_tags += _labels(tags)
        if category and category.strip():
            all_categories.append(category.strip())
    tag_slugs = assign_slugs(all_tags)
    category_slugs = assign_slugs(all_categories)

    def label_of(text: str, slugs: Mapping[str, str]) -> Label:
        return Label(label=text, slug=slugs[text])

    skills: list[SkillView] = []
    for s in index_doc.skills:
        plugin_doc = plugin_docs.get(s.plugin)
        category = (s.category or "").strip() or ((plugin_doc.category if plugin_doc else None) or "").strip()
        updated_at = s.updated_at or ""
        view = SkillView(
            name=s.name,
            plugin=s.plugin,
            version=s.version,
            description=s.description,
            license=s.license or "",
            compatibility=s.compatibility or "",
            author=s.author or (plugin_doc.author if plugin_doc else None) or "",
            allowed_tools=s.allowed_tools or "",
            tags=tuple(label_of(t, tag_slugs) for t in _labels(s.tags)),
            category=label_of(category, category_slugs) if category else None,
            updated_at=updated_at,
            updated=_date(updated_at),
            files=tuple(FileRow(path=f.path, size=human_size(f.size)) for f in s.files),
            zip=_zip(s.zip),
            history=tuple(
                HistoryRow(version=h.version, date=_date(h.date), commit=h.commit[:12], subject=h.subject)
                for h in s.history
            ),
            body_html=Markup(""),
            repository=(plugin_doc.repository if plugin_doc else None) or market_repository,
            surfaces=SURFACES if s.surface == "all" else ("claude-code",),
            scan=ScanResult.from_dict(s.scan) if s.scan is not None else None,
            versions=_version_rows(list(s.versions)),
        )
        texts = (references or {}).get(s.name, {})
        view = replace(view, references=_reference_pages(view, texts))
        # bodies are rendered when a page prints them (LazyHtml)
        refs = tuple(
            replace(r, body_html=render_body((texts[r.path], view, REFERENCE_ROOT, "references")))
            for r in view.references
        )
        body = bodies.get(s.name, "")
        body_html = render_body((body, view, SKILL_ROOT, "")) if body else Markup("")
        skills.append(replace(view, references=refs, body_html=body_html))
    skills.sort(key=lambda v: v.name)

    plugins: list[PluginView] = []
    for name in sorted(plugin_docs):
        p = plugin_docs[name]
        category = (p.category or "").strip()
        plugins.append(
            PluginView(
                name=name,
                version=p.version or "",
                description=p.description,
                author=p.author or "",
                category=label_of(category, category_slugs) if category else None,
                tags=tuple(label_of(t, tag_slugs) for t in _labels(p.tags)),
                skills=tuple(v for v in skills if v.plugin == name),
                zip=_zip(p.zip),
                repository=p.repository or market_repository,
                components=tuple(ComponentRow(c.kind, c.name, c.description) for c in p.components),
                external=p.source_kind if p.external else "",
            )
        )
    used_tags = {t for v in skills for t in v.tags}
    used_categories = {v.category for v in skills if v.category}
    return Catalog(
        marketplace_name=market.name,
        marketplace_description=market.description,
        catalog_url=catalog_url,
        plugins=tuple(plugins),
        skills=tuple(skills),
        tags=tuple(sorted(used_tags, key=lambda t: (t.label.casefold(), t.slug))),
        categories=tuple(sorted(used_categories, key=lambda t: (t.label.casefold(), t.slug))),
        owner_name=market.owner_field("name"),
        owner_email=market.owner_field("email"),
        repository=market_repository,
    )


def chip_entries(
    skills: Iterable[SkillView], pick: Callable[[SkillView], Iterable[Label]]
) -> list[ChipEntry]:
    """Chips per (label, plugin) with the number of that plugin's skills carrying the label."""
    counts: dict[tuple[Label, str], int] = {}
    for s in skills:
        for label in pick(s):
            counts[(label, s.plugin)] = counts.get((label, s.plugin), 0) + 1
    ordered = sorted(counts.items(), key=lambda kv: (kv[0][0].label.casefold(), kv[0][0].slug, kv[0][1]))
    return [ChipEntry(plugin=p, label=lab.label, slug=lab.slug, count=n) for (lab, p), n in ordered]


# --------------------------------------------------------------------------- skill bodies (pure)


class BodyRenderer:
    """SKILL.md body -> safe HTML. Raw HTML in the body is shown as text; the result is cleaned by nh3.

    Not thread-safe (one Python-Markdown instance, reset per body); make one per build."""

    def __init__(self) -> None:
        self._md = markdown.Markdown(
            extensions=["tables", "sane_lists", "toc", "pymdownx.highlight", "pymdownx.superfences"],
            extension_configs={
                "toc": {"baselevel": 3, "slugify": lambda value, sep: "sp-" + _toc_slugify(value, sep)},
                "pymdownx.highlight": {"use_pygments": True},
            },
        )
        # Raw HTML off: block HTML and inline tags become escaped text (T46).
        self._md.preprocessors.deregister("html_block")
        self._md.inlinePatterns.deregister("html")

    def __call__(self, body: str, skill: SkillView, root: str = SKILL_ROOT, folder: str = "") -> Markup:
        """``root`` leads from the page being rendered to the site root; ``folder`` is the rendered
        file's folder inside the skill (relative links resolve from there)."""
        self._md.reset()
        rendered = self._md.convert(body)
        files = {f.path for f in skill.files}
        pages = {r.path: r.stem for r in skill.references}

        def keep(element: str, attribute: str, value: str) -> str | None:
            if (element, attribute) in (("a", "href"), ("img", "src")):
                return _safe_url(value, element, skill.name, files, root, pages, folder)
            return value

        cleaned = nh3.clean(
            rendered,
            tags=ALLOWED_TAGS,
            attributes=ALLOWED_ATTRIBUTES,
            url_schemes={"http", "https", "mailto"},
            strip_comments=True,
            link_rel="noopener noreferrer nofollow",
            attribute_filter=keep,
        )
        return Markup(cleaned)  # noqa: S704 - nh3 output is sanitized HTML


@dataclass(frozen=True, eq=False)
class LazyHtml:
    """A skill body's sanitized HTML, rendered (or read from the cache) only when a template prints it
    (Jinja2 calls ``__html__``): a rebuild that reuses an unchanged skill's page never renders its
    body, and the build does not hold 10,000 bodies' HTML at once. Its ``repr`` is its cache key, so
    a page keyed by its inputs changes when the body, its files or the renderer change."""

    key: str
    job: BodyJob = field(repr=False)
    renderer: CachedRenderer = field(repr=False)

    def __html__(self) -> str:
        return self.renderer.html(self.key, self.job)

    def __str__(self) -> str:
        return self.__html__()


class CachedRenderer:
    """Renders bodies on demand with an on-disk cache in the work directory, so a rebuild renders
    only the bodies that changed and are shown (pages are rendered across processes, and so are
    their bodies, builder/parallel.py). The key covers the body, the skill's name and files, and the
    versions of this module and of the libraries, so a change to the sanitizer invalidates every
    entry; entries not used by a build are removed after it."""

    def __init__(self, render: Callable[[str, SkillView, str, str], Markup], cache_dir: Path) -> None:
        self._render = render
        self._dir = cache_dir
        self._dir.mkdir(parents=True, exist_ok=True)
        self._used: set[str] = set()
        self._salt = "\0".join(
            (hashlib.sha256(Path(__file__).read_bytes()).hexdigest(), markdown.__version__, _version("nh3"))
        )

    def _key(self, job: BodyJob) -> str:
        body, skill, root, folder = job
        files = sorted(f.path for f in skill.files)
        body_digest = hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()
        material = json.dumps(
            [self._salt, skill.name, files, [r.path for r in skill.references], root, folder, body_digest]
        )
        return hashlib.sha256(material.encode("utf-8")).hexdigest()

    def __call__(self, job: BodyJob) -> LazyHtml:
        key = self._key(job)
        self._used.add(key)
        return LazyHtml(key, job, self)

    def html(self, key: str, job: BodyJob) -> str:
        path = self._dir / f"{key}.html"
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            pass
        rendered = str(self._render(*job))
        publish.write_atomic(path, rendered.encode("utf-8"))
        return rendered

    def prune(self) -> None:
        for path in self._dir.iterdir():
            if path.suffix != ".html" or path.stem not in self._used:  # a killed writer's part too
                path.unlink(missing_ok=True)


def _safe_url(
    value: str,
    element: str,
    skill: str,
    files: set[str],
    root: str,
    pages: Mapping[str, str],
    folder: str = "",
) -> str | None:
    """External http(s)/mailto links stay (images do not: no tracking pixels); links to the skill's
    reference files point at their pages, to its other files at their published copies under
    .well-known; everything else is dropped. ``root`` leads from the page to the site root."""
    parts = urlsplit(value.strip())
    if parts.scheme:
        return value if element == "a" and parts.scheme.lower() in ("http", "https", "mailto") else None
    if parts.netloc or not parts.path:
        return value if element == "a" and not parts.netloc and value.startswith("#") else None
    path = posixpath.normpath(posixpath.join(folder, unquote(parts.path)))
    if path.startswith(("/", "../")) or path not in files:
        return None
    if element == "a" and path in pages:
        target = f"{root}skills/{skill}/references/{quote(pages[path])}/"
    else:
        target = f"{root}.well-known/agent-skills/{skill}/{quote(path)}"
    return target + (f"#{parts.fragment}" if parts.fragment else "")


# --------------------------------------------------------------------------- pages (pure)


def _environment(templates_dir: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    # `code` in install steps' prose (builder/install_guide.py): escape first, then mark up.
    env.filters["ticks"] = lambda text: Markup(  # noqa: S704 - escaped before the <code> tags are added
        re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(str(text), quote=True))
    )
    env.filters["anchor"] = lambda text: _toc_slugify(str(text), "-") or "top"  # as MkDocs' toc would
    return env


@dataclass(frozen=True)
class ListPage:
    """One page of a long list of skills: which slice, and the links to its sibling pages."""

    number: int
    count: int
    skills: tuple[SkillView, ...]

    def href(self, number: int) -> str:
        """The link from this page to page ``number`` of the same list (they share a folder)."""
        return "./" if number == 1 else f"index-{number}.html"


def paginate(skills: Sequence[SkillView], size: int) -> list[ListPage]:
    """``skills`` in pages of ``size`` (at least one page, possibly empty)."""
    count = max(1, -(-len(skills) // size))
    return [ListPage(n + 1, count, tuple(skills[n * size : (n + 1) * size])) for n in range(count)]


def _list_src(folder: str, page: ListPage) -> tuple[str, bool]:
    """Source name and directory-URL flag of a list page: page 1 is the folder's index page, page N
    ``folder/index-N.html`` (a name no skill, tag or plugin can take: they have no dots)."""
    if page.number == 1:
        return f"{folder}/index.md", True
    return f"{folder}/index-{page.number}.md", False


def _digest(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part.encode("utf-8", "surrogatepass")).digest())
    return digest.hexdigest()


def render_code_key(templates_dir: Path) -> str:
    """What a page's HTML depends on besides its data: the page templates and the builder's code
    (its filters, install guides, views). Part of every ``DeferredPage`` key."""
    digest = hashlib.sha256()
    for root in (templates_dir, Path(__file__).parent):
        engine.add_tree(digest, root, (".py", ".j2", ".html", ".css", ".js", ".xml"))
    return digest.hexdigest()


def generate_pages(
    catalog: Catalog,
    env: jinja2.Environment,
    *,
    site_name: str,
    now: datetime,
    groups: tuple[GroupPlugins, ...] = (),
    page_size: int = 500,
    code_key: str = "",
) -> tuple[list[HtmlPage], Iterator[AnyPage]]:
    """Every generated page, as HTML (builder/engine.py puts each into the theme's frame): the
    navigation pages, and the others one at a time (10,000 skills' pages need not all be in memory)."""
    common: dict[str, Any] = {
        "marketplace_name": catalog.marketplace_name,
        "catalog_url": catalog.catalog_url,
    }
    recent = recent_candidates(catalog.skills)
    tag_entries = chip_entries(catalog.skills, lambda s: s.tags)
    category_entries = chip_entries(catalog.skills, lambda s: [s.category] if s.category else [])

    # a large catalog's provisioning page lists plugins; each plugin's skills get a page of their own
    split_admin = len(catalog.skills) > page_size

    def nav(src: str, page_title: str, template: str, **values: Any) -> HtmlPage:
        content = env.get_template(template).render(**values)
        return HtmlPage(src, page_title, content, hide_toc=True)

    pages = [
        nav(
            "index.md",
            "Home",
            "home.html.j2",
            site_name=site_name,
            marketplace={"name": catalog.marketplace_name, "description": catalog.marketplace_description},
            recent=recent,
            plugins=catalog.plugins,
            tags=tag_entries,
            categories=category_entries,
            built_at=now.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            **common,
        ),
        nav("plugins/index.md", "Plugins", "plugins.html.j2", plugins=catalog.plugins),
        nav(
            "admin/index.md",
            "Provisioning",
            "admin.html.j2",
            plugins=catalog.plugins,
            plugins_by_name={p.name: p for p in catalog.plugins},
            groups=groups,
            split=split_admin,
            **common,
        ),
        nav("tags/index.md", "Tags", "chips_index.html.j2", title="Tags", kind="tags", entries=tag_entries),
        nav(
            "categories/index.md",
            "Categories",
            "chips_index.html.j2",
            title="Categories",
            kind="categories",
            entries=category_entries,
        ),
    ]
    all_template = env.get_template("skills.html.j2")
    all_skills = paginate(catalog.skills, page_size)
    content = all_template.render(part=all_skills[0], surface_labels=SURFACE_LABELS)
    pages.append(HtmlPage("skills/index.md", "All skills", content, hide_toc=True))
    return pages, _catalog_pages(catalog, env, common, all_skills, split_admin, page_size, code_key)


def _catalog_pages(
    catalog: Catalog,
    env: jinja2.Environment,
    common: dict[str, Any],
    all_skills: Sequence[ListPage],
    split_admin: bool,
    page_size: int,
    code_key: str,
) -> Iterator[AnyPage]:
    """The pages outside the navigation, in a fixed order. ``code_key``: ``render_code_key``."""
    admin_template = env.get_template("admin_plugin.html.j2")
    for p in catalog.plugins:
        if split_admin and p.skills:
            content = admin_template.render(p=p)
            yield HtmlPage(f"admin/{p.name}/index.md", f"Provisioning: {p.name}", content, True)
    all_template = env.get_template("skills.html.j2")
    for part in all_skills[1:]:
        src, directory = _list_src("skills", part)
        content = all_template.render(part=part, surface_labels=SURFACE_LABELS)
        yield HtmlPage(src, "All skills", content, True, directory)
    common = {**common, "owner": {"name": catalog.owner_name, "email": catalog.owner_email}}
    plugin_template = env.get_template("plugin.html.j2")
    for p in catalog.plugins:
        target = install_guide.Target(catalog.catalog_url, catalog.marketplace_name, p.name)
        content = plugin_template.render(p=p, claude_code=install_guide.claude_code(target), **common)
        yield HtmlPage(f"plugins/{p.name}/index.md", p.name, content)
    skill_template = env.get_template("skill.html.j2")
    reference_template = env.get_template("reference.html.j2")
    for s in catalog.skills:
        zip_file, zip_link = (s.zip.file, f"../../{s.zip.path}") if s.zip else ("", "")
        target = install_guide.Target(
            catalog.catalog_url, catalog.marketplace_name, s.plugin, s.name, zip_file, zip_link
        )
        # the web session installs with `skillport install`, which needs the upload zip
        guide = [
            g
            for g in install_guide.surfaces(target)
            if g.id in s.surfaces or (s.zip and g.id == "claude-code-web")
        ]
        # keyed by what they are made from: an unchanged skill's pages are not rendered again
        inputs = _digest(code_key, repr((s, guide, common)))
        make = partial(skill_template.render, s=s, guide=guide, **common)
        yield DeferredPage(f"skills/{s.name}/index.md", s.name, make, inputs)
        for ref in s.references:
            src = f"skills/{s.name}/references/{ref.stem}/index.md"
            make = partial(reference_template.render, s=s, ref=ref)
            yield DeferredPage(src, f"{ref.title} · {s.name}", make, _digest(inputs, repr(ref)))
    chip_template = env.get_template("chip_page.html.j2")
    members: dict[tuple[str, Label], list[SkillView]] = {}
    for s in catalog.skills:  # one pass, not one per label: 10,000 skills carry thousands of tags
        for t in s.tags:
            members.setdefault(("tags", t), []).append(s)
        if s.category:
            members.setdefault(("categories", s.category), []).append(s)
    for kind, labels in (("tags", catalog.tags), ("categories", catalog.categories)):
        for lab in labels:
            for part in paginate(members.get((kind, lab), []), page_size):
                src, directory = _list_src(f"{kind}/{lab.slug}", part)
                content = chip_template.render(heading=lab.label, kind=kind, part=part)
                yield HtmlPage(src, lab.label, content, True, directory)


def recent_candidates(skills: Iterable[SkillView]) -> list[SkillView]:
    """The newest ``RECENT_COUNT`` skills of EACH plugin, newest first. The proxy drops the plugins a
    member may not read, and the page shows the first ``RECENT_COUNT`` of what is left (CSS), so every
    member sees their own most recent skills (docs/site-layout.md)."""
    ordered = sorted(skills, key=lambda s: (s.updated_at, s.name), reverse=True)
    per_plugin: dict[str, int] = {}
    picked = []
    for s in ordered:
        if per_plugin.get(s.plugin, 0) < RECENT_COUNT:
            per_plugin[s.plugin] = per_plugin.get(s.plugin, 0) + 1
            picked.append(s)
    return picked


def engine_config(base: Mapping[str, Any], *, custom_dir: Path, extra_nav: list[Any]) -> dict[str, Any]:
    """The MkDocs configuration for a build: the organization's base plus what the catalog needs."""
    config = {k: v for k, v in base.items() if k not in ("site_url", "INHERIT")}
    theme = base.get("theme") or {}
    if isinstance(theme, str):
        theme = {"name": theme}
    if not isinstance(theme, Mapping) or theme.get("name") != "material":
        raise BadInput("mkdocs.yml: theme.name must be 'material' (the catalog's templates extend it)")
    if theme.get("custom_dir"):
        raise BadInput(
            "mkdocs.yml: theme.custom_dir is set by Skillport; put template overrides in templates/theme/"
        )
    features = list(theme.get("features") or [])
    if "content.code.copy" not in features:
        features.append("content.code.copy")
    config["theme"] = {**theme, "custom_dir": str(custom_dir), "features": features}
    plugins = list(base.get("plugins") or [])
    if not any(p == "search" or (isinstance(p, Mapping) and "search" in p) for p in plugins):
        plugins.insert(0, "search")
    config["plugins"] = plugins
    config["docs_dir"] = "docs"
    config["site_dir"] = "_site"
    config["use_directory_urls"] = True
    config["nav"] = [
        {"Home": "index.md"},
        {"All skills": "skills/index.md"},
        {"Plugins": "plugins/index.md"},
        {"Tags": "tags/index.md"},
        {"Categories": "categories/index.md"},
        *extra_nav,
    ]
    config["validation"] = {"nav": {"omitted_files": "ignore", "not_found": "warn"}}
    return config


# --------------------------------------------------------------------------- edges (I/O)


def load_base_config(config_path: Path) -> dict[str, Any]:
    try:
        data = config_path.read_bytes()
    except OSError as exc:
        raise BadInput(f"{config_path}: cannot read the site configuration ({exc.strerror})") from exc
    if len(data) > MAX_CONFIG_BYTES:
        raise BadInput(f"{config_path}: larger than {MAX_CONFIG_BYTES} bytes")
    try:
        loaded = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise BadInput(
            f"{config_path}: not plain YAML ({exc}); use no !!python or !ENV tags so Zensical can read it too"
        ) from exc
    if not isinstance(loaded, dict):
        raise BadInput(f"{config_path}: must be a YAML mapping (site_name, theme, …)")
    return loaded


def _write_docs(docs: Path, nav_pages: Sequence[engine.HtmlPage], extra_docs: Path | None) -> None:
    """The folder MkDocs reads: the organization's extra pages and a stub per navigation page."""
    if docs.exists():
        shutil.rmtree(docs)
    docs.mkdir(parents=True)
    if extra_docs is not None:
        for source in sorted(extra_docs.rglob("*")):
            relative = source.relative_to(extra_docs)
            if relative.parts[0] in GENERATED_TOP:
                raise BadInput(
                    f"{source}: the catalog generates {relative.parts[0]!r}; rename this extra page"
                )
            if source.is_file():
                (docs / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, docs / relative)
    for page in nav_pages:
        target = docs / page.src
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page.stub(), encoding="utf-8")


def render_catalog(
    index_doc: IndexDocument,
    bodies: Mapping[str, str],
    out_dir: Path,
    *,
    config_path: Path,
    templates_dir: Path,
    work_dir: Path,
    now: datetime,
    references: Mapping[str, Mapping[str, str]] | None = None,
    docs_base: Path | None = None,
    previous_site: Path | None = None,
    page_size: int = 500,
    processes: int = 1,
) -> engine.RenderStats:
    """Build the catalog pages for ``index_doc`` into ``out_dir`` (other files there are kept).

    ``bodies`` maps skill name -> SKILL.md body (Markdown after the frontmatter). ``work_dir`` keeps
    the generated ``mkdocs.yml``, the stubs MkDocs reads and the render caches. ``references`` maps
    skill name -> {``references/x.md``: text}: those files get pages of their own. Pages whose inputs
    did not change are hard-linked from ``previous_site`` (the published site) instead of rendered."""
    base = load_base_config(config_path)
    work_dir.mkdir(parents=True, exist_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    renderer = CachedRenderer(BodyRenderer(), work_dir / "body-cache")
    catalog = catalog_from_index(index_doc, bodies, renderer, references)
    site_name = str(base.get("site_name") or catalog.marketplace_name)
    groups = group_plugins(index_doc.access, (p.name for p in catalog.plugins))
    env = _environment(templates_dir)
    nav_pages, other_pages = generate_pages(
        catalog,
        env,
        site_name=site_name,
        now=now,
        groups=groups,
        page_size=page_size,
        code_key=render_code_key(templates_dir),
    )

    extra_docs = (docs_base or config_path.parent) / str(base.get("docs_dir") or "docs")
    extra = extra_docs if base.get("docs_dir") and extra_docs.is_dir() else None
    _write_docs(work_dir / "docs", nav_pages, extra)
    extra_nav = base.get("nav") or []
    if not isinstance(extra_nav, list):
        raise BadInput(f"{config_path}: nav must be a list of extra pages")
    theme_dir = (templates_dir / "theme").resolve()
    config = engine_config(base, custom_dir=theme_dir, extra_nav=extra_nav)
    config_file = work_dir / "mkdocs.yml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    frame = engine.frame_key(config_file, theme_dir, [extra] if extra else [])
    built, stats = engine.build_site(
        config_file,
        nav_pages,
        other_pages,
        frame=frame,
        work_dir=work_dir,
        previous_site=previous_site,
        processes=processes,
        out_dir=out_dir,
    )
    renderer.prune()
    search = built / "search" / "search_index.json"
    if search.is_file():  # absent when the organization's mkdocs.yml turns search off
        texts, titles = search_index.summaries(index_doc), search_index.titles(index_doc)
        search.write_bytes(search_index.trim(search.read_bytes(), texts, titles))
    _move_into(built, out_dir)
    return stats


def _move_into(source: Path, out_dir: Path) -> None:
    """Move the built tree into ``out_dir``, keeping files already there (zips, index): a folder that
    does not exist there yet moves in one rename, one that does is merged file by file."""
    for entry in sorted(source.iterdir()):
        target = out_dir / entry.name
        if entry.is_dir() and target.is_dir():
            _move_into(entry, target)
        elif entry.is_dir() and target.exists():
            raise UpstreamError(f"{target} is a file where the catalog needs a folder")
        else:
            os.replace(entry, target)
    source.rmdir()
