"""The catalog site: index document + SKILL.md bodies -> Markdown pages (Jinja2) -> HTML (MkDocs-Material).

This module is the ONE seam to the site engine. Everything engine-specific (the generated
``mkdocs.yml``, the in-process MkDocs call, the theme overrides under ``templates/theme``) is here or
in the templates, so switching to another engine that reads the same configuration (Zensical) is a
one-file change.

Skill text is untrusted (T46). It reaches a page in two ways only:

- short fields (description, author, tags, commit subjects …) are HTML-escaped by Jinja autoescape
  and placed only inside HTML blocks, which Markdown leaves alone;
- the SKILL.md body is rendered here with raw HTML turned off (it shows as text), then cleaned with
  nh3 (an allowlist: no scripts, no event handlers, no ``style``, no comments, only http(s)/mailto
  links; relative links point at the skill's published files or are dropped).

Every link is relative, so the site works under any base path. Pages that list entries of several
plugins wrap each entry in ``<!--sp-plugin:NAME-->…<!--/sp-plugin-->`` (docs/site-layout.md) and are
kept out of the search index; skill and plugin pages are not in the navigation.
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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
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

from builder import changes, install_guide, search_index
from builder.contract.index import IndexDocument, ZipRecord
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
    body_html: Markup


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
    body_html: Markup
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


def _reference_pages(
    view: SkillView, texts: Mapping[str, str], render_body: Callable[[str, SkillView, str, str], Markup]
) -> tuple[ReferencePage, ...]:
    """``references/<stem>.md`` files of the skill as pages (other files stay downloads)."""
    pages = []
    for path in sorted(texts):
        match = REFERENCE_RE.fullmatch(path)
        if match is None or path not in {f.path for f in view.files}:
            continue
        stem = match.group(1)
        heading = re.search(r"^#\s+(.+?)\s*#*\s*$", texts[path], re.MULTILINE)
        title = heading.group(1) if heading else stem.replace("-", " ").replace("_", " ")
        pages.append(ReferencePage(path, stem, title, Markup("")))
    # each page is rendered knowing every reference page (links between them stay pages)
    view = replace(view, references=tuple(pages))
    return tuple(
        replace(p, body_html=render_body(texts[p.path], view, REFERENCE_ROOT, "references")) for p in pages
    )


def reference_texts(files: Iterable[Any]) -> dict[str, str]:
    """``references/*.md`` files (objects with ``path`` and ``data``) as text, for their pages."""
    return {
        f.path: f.data.decode("utf-8", errors="replace")
        for f in files
        if REFERENCE_RE.fullmatch(f.path) and len(f.data) <= MAX_REFERENCE_BYTES
    }


def catalog_from_index(
    index_doc: IndexDocument,
    bodies: Mapping[str, str],
    render_body: Callable[[str, SkillView, str, str], Markup],
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
        body = bodies.get(s.name, "")
        texts = (references or {}).get(s.name, {})
        view = replace(view, references=_reference_pages(view, texts, render_body))
        view = replace(view, body_html=render_body(body, view, SKILL_ROOT, "") if body else Markup(""))
        skills.append(view)
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


class CachedRenderer:
    """A body renderer with an on-disk cache in the work directory, so a rebuild renders only the
    bodies that changed. The key covers the body, the skill's name and files, and the versions of
    this module and of the libraries, so a change to the sanitizer invalidates every entry; entries
    not used by a build are removed after it."""

    def __init__(self, render: Callable[[str, SkillView, str, str], Markup], cache_dir: Path) -> None:
        self._render = render
        self._dir = cache_dir
        self._dir.mkdir(parents=True, exist_ok=True)
        self._used: set[str] = set()
        self._salt = "\0".join(
            (hashlib.sha256(Path(__file__).read_bytes()).hexdigest(), markdown.__version__, _version("nh3"))
        )

    def __call__(self, body: str, skill: SkillView, root: str = SKILL_ROOT, folder: str = "") -> Markup:
        material = json.dumps(
            [
                self._salt,
                skill.name,
                sorted(f.path for f in skill.files),
                [r.path for r in skill.references],
                root,
                folder,
                body,
            ]
        )
        key = hashlib.sha256(material.encode("utf-8")).hexdigest()
        self._used.add(key)
        path = self._dir / f"{key}.html"
        try:
            return Markup(path.read_text(encoding="utf-8"))  # noqa: S704 - written by us, sanitized
        except FileNotFoundError:
            pass
        rendered = self._render(body, skill, root, folder)
        path.write_text(str(rendered), encoding="utf-8")
        return rendered

    def prune(self) -> None:
        for path in self._dir.glob("*.html"):
            if path.stem not in self._used:
                path.unlink()


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
    # Titles go to front matter; MkDocs themes print page.meta.title unescaped, so escape first.
    env.filters["yaml_title"] = lambda text: Markup(json.dumps(html.escape(str(text)), ensure_ascii=False))  # noqa: S704
    return env


def generate_pages(
    catalog: Catalog,
    env: jinja2.Environment,
    *,
    site_name: str,
    now: datetime,
    groups: tuple[GroupPlugins, ...] = (),
) -> dict[str, str]:
    """Every generated page: docs-relative path -> Markdown text."""
    common: dict[str, Any] = {
        "marketplace_name": catalog.marketplace_name,
        "catalog_url": catalog.catalog_url,
    }
    recent = recent_candidates(catalog.skills)
    tag_entries = chip_entries(catalog.skills, lambda s: s.tags)
    category_entries = chip_entries(catalog.skills, lambda s: [s.category] if s.category else [])
    pages: dict[str, str] = {
        "index.md": env.get_template("home.md.j2").render(
            site_name=site_name,
            marketplace={"name": catalog.marketplace_name, "description": catalog.marketplace_description},
            recent=recent,
            plugins=catalog.plugins,
            tags=tag_entries,
            categories=category_entries,
            built_at=now.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            **common,
        ),
        "plugins/index.md": env.get_template("plugins.md.j2").render(plugins=catalog.plugins),
        "admin/index.md": env.get_template("admin.md.j2").render(
            plugins=catalog.plugins,
            plugins_by_name={p.name: p for p in catalog.plugins},
            groups=groups,
            **common,
        ),
        "skills/index.md": env.get_template("skills.md.j2").render(
            skills=catalog.skills, surface_labels=SURFACE_LABELS
        ),
        "tags/index.md": env.get_template("chips_index.md.j2").render(
            title="Tags", kind="tags", entries=tag_entries
        ),
        "categories/index.md": env.get_template("chips_index.md.j2").render(
            title="Categories", kind="categories", entries=category_entries
        ),
    }
    common["owner"] = {"name": catalog.owner_name, "email": catalog.owner_email}
    plugin_template = env.get_template("plugin.md.j2")
    for p in catalog.plugins:
        target = install_guide.Target(catalog.catalog_url, catalog.marketplace_name, p.name)
        pages[f"plugins/{p.name}/index.md"] = plugin_template.render(
            p=p, claude_code=install_guide.claude_code(target), **common
        )
    skill_template = env.get_template("skill.md.j2")
    reference_template = env.get_template("reference.md.j2")
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
        pages[f"skills/{s.name}/index.md"] = skill_template.render(s=s, guide=guide, **common)
        for ref in s.references:
            pages[f"skills/{s.name}/references/{ref.stem}/index.md"] = reference_template.render(s=s, ref=ref)
    chip_template = env.get_template("chip_page.md.j2")
    for kind, labels, pick in (
        ("tags", catalog.tags, lambda s, lab: lab in s.tags),
        ("categories", catalog.categories, lambda s, lab: s.category == lab),
    ):
        for lab in labels:
            members = [s for s in catalog.skills if pick(s, lab)]
            pages[f"{kind}/{lab.slug}/index.md"] = chip_template.render(
                heading=lab.label, kind=kind, skills=members
            )
    return pages


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


def prepare_catalog(
    index_doc: IndexDocument,
    bodies: Mapping[str, str],
    *,
    config_path: Path,
    templates_dir: Path,
    work_dir: Path,
    now: datetime,
    references: Mapping[str, Mapping[str, str]] | None = None,
    docs_base: Path | None = None,
) -> Path:
    """Write the generated Markdown and ``mkdocs.yml`` into ``work_dir``; return that config file.
    The config's ``docs_dir`` (extra pages) is relative to ``docs_base`` (default: its folder)."""
    base = load_base_config(config_path)
    renderer = CachedRenderer(BodyRenderer(), work_dir / "body-cache")
    catalog = catalog_from_index(index_doc, bodies, renderer, references)
    renderer.prune()
    site_name = str(base.get("site_name") or catalog.marketplace_name)
    groups = group_plugins(index_doc.access, (p.name for p in catalog.plugins))
    pages = generate_pages(catalog, _environment(templates_dir), site_name=site_name, now=now, groups=groups)

    docs = work_dir / "docs"
    if docs.exists():
        shutil.rmtree(docs)
    docs.mkdir(parents=True)
    extra_docs = (docs_base or config_path.parent) / str(base.get("docs_dir") or "docs")
    if base.get("docs_dir") and extra_docs.is_dir():
        for source in sorted(extra_docs.rglob("*")):
            relative = source.relative_to(extra_docs)
            if relative.parts[0] in GENERATED_TOP:
                raise BadInput(
                    f"{source}: the catalog generates {relative.parts[0]!r}; rename this extra page"
                )
            if source.is_file():
                (docs / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, docs / relative)
    for relative_path, text in pages.items():
        target = docs / relative_path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    extra_nav = base.get("nav") or []
    if not isinstance(extra_nav, list):
        raise BadInput(f"{config_path}: nav must be a list of extra pages")
    config = engine_config(base, custom_dir=(templates_dir / "theme").resolve(), extra_nav=extra_nav)
    config_file = work_dir / "mkdocs.yml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return config_file


def build_site(config_file: Path) -> Path:
    """Run MkDocs in-process on a prepared config; return the directory it built into."""
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import ConfigurationError, MkDocsException

    try:
        config = load_config(config_file=str(config_file))
    except ConfigurationError as exc:
        raise BadInput(f"site configuration: {exc}") from exc
    config.plugins.on_startup(command="build", dirty=False)
    try:
        build(config)
    except MkDocsException as exc:
        raise UpstreamError(f"MkDocs failed to build the catalog: {exc}") from exc
    finally:
        config.plugins.on_shutdown()
    return Path(config.site_dir)


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
) -> None:
    """Build the catalog pages for ``index_doc`` into ``out_dir`` (other files there are kept).

    ``bodies`` maps skill name -> SKILL.md body (Markdown after the frontmatter). ``work_dir`` keeps
    the generated Markdown and ``mkdocs.yml`` (``mkdocs build -f work_dir/mkdocs.yml`` rebuilds it).
    ``references`` maps skill name -> {``references/x.md``: text}: those files get pages of their own."""
    config_file = prepare_catalog(
        index_doc,
        bodies,
        config_path=config_path,
        templates_dir=templates_dir,
        work_dir=work_dir,
        now=now,
        references=references,
        docs_base=docs_base,
    )
    built = build_site(config_file)
    trim_search_index(built, index_doc)
    out_dir.mkdir(parents=True, exist_ok=True)
    _move_into(built, out_dir)


def trim_search_index(site_dir: Path, index_doc: IndexDocument) -> None:
    """Rewrite the built ``search/search_index.json`` to what search needs (builder/search_index.py)."""
    path = site_dir / "search" / "search_index.json"
    if path.is_file():  # absent when the organization's mkdocs.yml turns search off
        path.write_bytes(search_index.trim(path.read_bytes(), search_index.summaries(index_doc)))
