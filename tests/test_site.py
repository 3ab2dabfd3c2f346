"""The catalog site (builder.site), rendered from the real build of fixture marketplace ``catalog``
(tests/support/catalog.py; the browser tests use it too): pages, T46 sanitizing, access markers, nav,
relative links, no inline scripts, determinism.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from builder.contract.index import IndexDocument
from builder.errors import BadInput, IndexMalformed
from tests.support.catalog import HOSTILE, NOW, REPO_ROOT, UNIQUE_WORD, render, sample_index


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    out = root / "site"
    out.mkdir()
    (out / "index.json").write_text("{}\n")  # written by the pipeline: must survive the render
    render(out, root / "work")
    return out


class Page(HTMLParser):
    """Every element and comment of one HTML page, in order."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.events: list[tuple[str, str]] = []  # ("comment", text) / ("start", tag) in order
        self.scripts: list[tuple[dict[str, str], str]] = []
        self._in_script: dict[str, str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.elements.append((tag, attributes))
        self.events.append(("start", tag + " " + attributes.get("class", "")))
        if tag == "script":
            self._in_script = attributes
            self.scripts.append((attributes, ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = None

    def handle_data(self, data: str) -> None:
        if self._in_script is not None and self.scripts:
            attributes, text = self.scripts[-1]
            self.scripts[-1] = (attributes, text + data)

    def handle_comment(self, data: str) -> None:
        self.events.append(("comment", data))


def pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def parse(path: Path) -> Page:
    return Page(path.read_text(encoding="utf-8"))


def test_every_catalog_page_is_built_and_pipeline_files_are_kept(site: Path) -> None:
    for page in (
        "index.html",
        "plugins/index.html",
        "tags/index.html",
        "categories/index.html",
        "plugins/data-guides/index.html",
        "skills/sql-style-guide/index.html",
        "skills/evil-skill/index.html",
        "tags/data/index.html",
        "categories/data/index.html",
        "about/index.html",
        "search/search_index.json",
    ):
        assert (site / page).is_file(), page
    assert (site / "index.json").read_text() == "{}\n"
    assert (site / "skills/sql-style-guide/sql-style-guide-1.0.0.zip").is_file()
    assert not (site / "sitemap.xml").exists()  # it would list every skill to every member


def test_skill_page_shows_facts_install_files_and_history(site: Path) -> None:
    document, _ = sample_index()
    skill = next(s for s in document["skills"] if s["name"] == "sql-style-guide")
    text = (site / "skills/sql-style-guide/index.html").read_text()
    for expected in (
        "House SQL style",
        "1.0.0",
        "data-guides",
        "Platform Team",
        "Apache-2.0",
        "Needs Python 3.11",
        skill["updated_at"][:10],
        "references/guide.md",
        "4.0 KB",
        "current release",
        "First draft &lt;b&gt;x",
        "Settings › Capabilities",
        "Upload skill",
        "Claude mobile",
        "/plugin install data-guides@corp-skills",
        "extraKnownMarketplaces",
        "headersHelper",
        "skillport install sql-style-guide",
        "skillport login --server",
        "claude mcp add --transport http --scope user skillport",
        "Claude Code on the web",
        ".well-known/agent-skills/index.json",
        'href="../../skills/sql-style-guide/sql-style-guide-1.0.0.zip"',
        skill["zip"]["sha256"],
        "<table",
        "snake_case",
        'href="../../tags/sql/"',
        'href="../../categories/data/"',
    ):
        assert expected in text, expected


def test_base_url_fills_the_install_commands(tmp_path: Path) -> None:
    out = tmp_path / "site"
    render(out, tmp_path / "work", base_url="https://skills.corp.example/")
    text = (out / "skills/meeting-notes/index.html").read_text()
    assert "&#34;url&#34;: &#34;https://skills.corp.example/claude-code/marketplace.json&#34;" in text
    assert "skillport login --server https://skills.corp.example/" in text
    assert "skillport https://skills.corp.example/mcp" in text  # the connector
    # lines that cannot sign in behind the proxy are gone (issue 11)
    for stale in ("curl -fsSL", "npx skills add", "/plugin marketplace add"):
        assert stale not in text, stale


@pytest.mark.threat("T46")
def test_t46_hostile_skill_text_is_escaped_or_stripped(site: Path) -> None:
    for path in pages(site):
        page = parse(path)
        for tag, attributes in page.elements:
            assert not [a for a in attributes if a.startswith("on")], (path, tag, attributes)
            for link in ("href", "src", "action", "formaction"):
                assert not attributes.get(link, "").strip().lower().startswith(("javascript:", "data:")), path
            assert "style" not in attributes or tag not in ("a", "img", "div", "p"), (path, tag)
        for attributes, _ in page.scripts:  # only our files and Material's JSON config
            assert attributes.get("src", "").startswith(("assets/", "../")) or attributes.get("type") == (
                "application/json"
            ), (path, attributes)
    evil = (site / "skills/evil-skill/index.html").read_text()
    assert "&lt;script&gt;alert(&#34;desc&#34;)" in evil  # the description, shown as text
    assert '&lt;script&gt;alert("body")' in evil or "&lt;script&gt;alert(&#34;body" in evil
    assert "tracker.example" not in evil  # no third-party images (tracking pixels)
    assert "/etc/passwd" not in evil and "nope.md" not in evil  # links to nowhere dropped
    assert 'href="../../.well-known/agent-skills/evil-skill/references/guide.md"' in evil


@pytest.mark.threat("T46")
def test_t46_no_inline_scripts_so_a_strict_csp_works(site: Path) -> None:
    for path in pages(site):
        for attributes, text in parse(path).scripts:
            if attributes.get("type") == "application/json":
                continue
            assert "src" in attributes and not text.strip(), (path, text[:80])


def _marker_runs(page: Page) -> list[tuple[str, list[str]]]:
    """(plugin, [start tags]) for each marker pair, checking pairs are balanced and not nested."""
    runs: list[tuple[str, list[str]]] = []
    current: tuple[str, list[str]] | None = None
    for kind, value in page.events:
        if kind == "comment" and value.startswith("sp-plugin:"):
            assert current is None, "nested marker"
            current = (value.removeprefix("sp-plugin:"), [])
        elif kind == "comment" and value == "/sp-plugin":
            assert current is not None, "closing marker without opening"
            runs.append(current)
            current = None
        elif kind == "start" and current is not None:
            current[1].append(value)
    assert current is None, "unclosed marker"
    return runs


@pytest.mark.threat("T46")
def test_t46_access_markers_wrap_every_entry_and_skill_text_cannot_forge_them(site: Path) -> None:
    document, _ = sample_index()
    plugin_of = {s["name"]: s["plugin"] for s in document["skills"]}
    for name in (
        "index.html",
        "plugins/index.html",
        "tags/index.html",
        "categories/index.html",
        "tags/data/index.html",
        "categories/data/index.html",
    ):
        page = parse(site / name)
        runs = _marker_runs(page)
        assert runs, name
        wrapped = sum(len(tags) for _, tags in runs)
        entries = [v for k, v in page.events if k == "start" and ("sp-card" in v or "sp-chip " in v + " ")]
        entry_count = sum(
            1
            for tag, attributes in page.elements
            if "sp-card" in attributes.get("class", "").split() or attributes.get("class") == "sp-chip"
        )
        assert entry_count == len(runs), (name, entries)  # exactly one entry per marker pair
        assert wrapped >= entry_count
        for plugin, _tags in runs:
            assert plugin in {p["name"] for p in document["plugins"]}, plugin
    tags_page = parse(site / "tags/data/index.html")
    hrefs = [a.get("href", "") for t, a in tags_page.elements if t == "a" and "sp-card" in a.get("class", "")]
    runs = _marker_runs(tags_page)
    assert [p for p, _ in runs] == [plugin_of[h.split("/")[-2]] for h in hrefs]
    for path in pages(site):  # the hostile "<!--/sp-plugin-->" in skill text never becomes a comment
        for kind, value in parse(path).events:
            if kind == "comment" and "sp-plugin" in value:
                assert value == "/sp-plugin" or NAME.match(value.removeprefix("sp-plugin:")), (path, value)


NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def test_skill_and_plugin_pages_are_not_in_the_navigation(site: Path) -> None:
    for name in ("index.html", "skills/sql-style-guide/index.html", "tags/index.html"):
        page = parse(site / name)
        nav_links = [
            a.get("href", "") for t, a in page.elements if t == "a" and "md-nav__link" in a.get("class", "")
        ]
        assert nav_links, name
        # the listing pages (All skills, Plugins) are; single skill and plugin pages are not
        assert not [h for h in nav_links if re.search(r"(skills|plugins)/[a-z]", h)], nav_links
    home = (site / "index.html").read_text()
    assert "About" in home and "Plugins" in home and "Tags" in home and "All skills" in home


def test_search_index_holds_skill_and_plugin_pages_not_aggregate_pages(site: Path) -> None:
    index = json.loads((site / "search/search_index.json").read_text())
    locations = {doc["location"].split("#")[0] for doc in index["docs"]}
    assert "skills/sql-style-guide/" in locations and "plugins/data-guides/" in locations
    assert not locations & {
        "",
        "tags/",
        "tags/data/",
        "categories/",
        "plugins/",
    }  # the proxy filters by location
    text = " ".join(
        doc["text"] for doc in index["docs"] if doc["location"].startswith("skills/sql-style-guide/")
    )
    assert UNIQUE_WORD in text
    notes = " ".join(
        d["title"] + " " + d["text"] for d in index["docs"] if d["location"].startswith("skills/meeting-")
    )
    assert (
        "meeting-notes" in notes and "quokkafest" in notes and "crisp notes" in notes
    )  # name, tags, description


def test_search_index_holds_no_skill_body_text(site: Path) -> None:
    """Every browser downloads search_index.json before its first result (issue 15): skill and plugin
    pages keep one entry each (description, plugin, category, tags), not their bodies or sections."""
    data = (site / "search/search_index.json").read_text()
    index = json.loads(data)
    on_pages = {
        "snake_case": "sql-style-guide",  # body
        "Read the transcript": "meeting-notes",  # body, under a heading
        "skillport login": "meeting-notes",  # install steps
    }
    for text, skill in on_pages.items():
        assert text in (site / "skills" / skill / "index.html").read_text()  # on the page
        assert text not in data  # not in what search downloads
    catalog_entries = [d for d in index["docs"] if d["location"].startswith(("skills/", "plugins/"))]
    assert not [d["location"] for d in catalog_entries if "#" in d["location"]]
    assert len(catalog_entries) == len({d["location"] for d in catalog_entries})
    assert "About this catalog" in {d["title"] for d in index["docs"]}  # the organization's page is kept
    assert "&lt;script&gt;" in data and "<script>" not in data  # hostile descriptions stay text


def test_every_link_is_relative(site: Path) -> None:
    for path in pages(site):
        for tag, attributes in parse(path).elements:
            for attribute in ("href", "src"):
                value = attributes.get(attribute)
                if value is None or (tag == "a" and value.startswith(("https://", "http://", "mailto:"))):
                    continue  # links out (skill bodies may link to the web)
                assert not value.startswith(("/", "http:", "https:")), (path, tag, value)


def test_building_twice_gives_the_same_site(tmp_path: Path) -> None:
    render(tmp_path / "a", tmp_path / "wa")
    render(tmp_path / "b", tmp_path / "wb")
    later = datetime(2027, 1, 1, tzinfo=UTC)
    render(tmp_path / "c", tmp_path / "wc", now=later)

    def snapshot(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    a, b, c = snapshot(tmp_path / "a"), snapshot(tmp_path / "b"), snapshot(tmp_path / "c")
    assert a == b
    assert sorted(name for name in a if a[name] != c.get(name)) == ["index.html"]  # only the build stamp


def test_pages_filled_into_a_frame_are_the_pages_the_theme_renders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine renders Material's template once per kind of page and fills in title, content and
    headings (builder/engine.py Frames): byte for byte what rendering each page in full gives,
    hostile titles and reference pages included."""
    from builder import engine

    render(tmp_path / "framed", tmp_path / "w1", references=REFERENCES)
    monkeypatch.setattr(engine.Frames, "_frame", lambda *args: None)  # every page in full
    render(tmp_path / "full", tmp_path / "w2", references=REFERENCES)

    def snapshot(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*.html")}

    framed, full = snapshot(tmp_path / "framed"), snapshot(tmp_path / "full")
    assert len(framed) > 20 and f"skills/{HOSTILE}/references/guide/index.html" in framed
    assert framed == full


def test_a_bad_index_names_the_field(tmp_path: Path) -> None:
    from builder.site import render_catalog

    document, bodies = sample_index()
    document["skills"][0]["name"] = "../../etc"
    with pytest.raises(IndexMalformed, match=r"skills\[0\]\.name"):
        render_catalog(
            IndexDocument.from_json(document),
            bodies,
            tmp_path / "out",
            config_path=REPO_ROOT / "mkdocs.yml",
            templates_dir=REPO_ROOT / "templates",
            work_dir=tmp_path / "w",
            now=NOW,
        )


def test_the_base_config_is_plain_yaml_and_a_bad_one_is_named(tmp_path: Path) -> None:
    from builder.site import render_catalog

    assert yaml.safe_load((REPO_ROOT / "mkdocs.yml").read_text())["theme"]["name"] == "material"
    bad = tmp_path / "mkdocs.yml"
    bad.write_text(
        "site_name: x\nmarkdown_extensions:\n  - pymdownx.emoji:\n      emoji_index: !!python/name:x.y\n"
    )
    document, bodies = sample_index()
    with pytest.raises(BadInput, match=r"mkdocs\.yml"):
        render_catalog(
            IndexDocument.from_json(document),
            bodies,
            tmp_path / "out",
            config_path=bad,
            templates_dir=REPO_ROOT / "templates",
            work_dir=tmp_path / "w",
            now=NOW,
        )


def test_every_relative_link_of_the_example_build_resolves(tmp_path: Path, examples_dir: Path) -> None:
    """The real build (builder.build) of the example marketplace: every relative href/src on every page
    points at a file that exists (pages, zips, the skills' published files, assets)."""
    from builder.build import build
    from builder.limits import BuildLimits

    out = tmp_path / "catalog"
    build(
        examples_dir, out, keys=["k" * 40], now=NOW, base_url=None, limits=BuildLimits(catalog_page_skills=3)
    )
    # long lists come in pages (3 skills each here): together they list every skill once
    listed = [
        card
        for page in sorted((out / "skills").glob("index*.html"))
        for card in re.findall(r'class="sp-card sp-skill-entry"[^>]*href="([^"]+)/"', page.read_text())
    ]
    assert len(listed) == len(set(listed)) == len([p for p in (out / "skills").iterdir() if p.is_dir()])
    assert (out / "skills" / "index-2.html").is_file() and 'href="index-2.html"' in (
        out / "skills/index.html"
    ).read_text()
    # so is the provisioning page: each plugin's zips on a page of its own (links checked below)
    admin = (out / "admin/index.html").read_text()
    assert 'href="brand-and-comms/"' in admin and "sp-admin__table" not in admin
    plugin_page = (out / "admin/brand-and-comms/index.html").read_text()
    assert 'class="sp-admin__zip" href="../../skills/' in plugin_page
    broken = []
    checked = 0
    for path in pages(out):
        for _tag, attributes in parse(path).elements:
            for attribute in ("href", "src"):
                value = attributes.get(attribute)
                if not value or value.startswith(("#", "http://", "https://", "mailto:")):
                    continue
                target = (path.parent / value.split("#")[0].split("?")[0]).resolve()
                if target.is_dir():
                    target = target / "index.html"
                checked += 1
                if not target.is_file() or out.resolve() not in target.parents:
                    broken.append((path.relative_to(out).as_posix(), value))
    assert checked > 100
    assert broken == []


# --------------------------------------------------------------------------- reference pages

HOSTILE_REFERENCE = """# Guide <script>alert("ref")</script>

See [the other](other.md), [the skill's guide](guide.md) and <img src=x onerror=alert(1)>.

[js](javascript:alert(3))
"""


REFERENCES = {
    "sql-style-guide": {"references/guide.md": "# The guide\n\n## Joins\n\nExplicit joins only.\n"},
    HOSTILE: {"references/guide.md": HOSTILE_REFERENCE, "scripts/x.md": "# not a reference"},
}


@pytest.mark.threat("T46")
def test_t46_reference_files_become_sanitized_pages_linked_from_the_skill(tmp_path: Path) -> None:
    out = tmp_path / "site"
    render(
        out,
        tmp_path / "work",
        references=REFERENCES,
    )
    skill = (out / "skills/sql-style-guide/index.html").read_text()
    assert 'href="references/guide/"' in skill  # the body's link and the References list
    assert (
        '.well-known/agent-skills/sql-style-guide/references/guide.md"'
        not in skill.split("sp-body")[1][:2000]
    )
    page = out / "skills/sql-style-guide/references/guide/index.html"
    text = page.read_text()
    assert "<h3" in text and "Explicit joins only." in text and "## Joins" not in text
    assert 'href="../../"' in text  # back to the skill

    evil = parse(out / f"skills/{HOSTILE}/references/guide/index.html")
    for tag, attributes in evil.elements:
        assert not [a for a in attributes if a.startswith("on")], (tag, attributes)
        assert not attributes.get("href", "").lower().startswith("javascript:"), attributes
    for attributes, _ in evil.scripts:
        assert attributes.get("src", "").startswith("../") or attributes.get("type") == "application/json"
    raw = (out / f"skills/{HOSTILE}/references/guide/index.html").read_text()
    assert "&lt;script&gt;alert(" in raw
    assert 'href="../../../../skills/evil-skill/references/guide/"' in raw  # relative to references/
    assert "other.md" not in raw  # a file the skill does not have: dropped
    assert not (out / f"skills/{HOSTILE}/references/x").exists()  # only references/*.md get pages


def test_search_turned_off_by_the_organization_leaves_no_search_box(tmp_path: Path) -> None:
    """``search: {enabled: false}`` in the organization's mkdocs.yml: no index is written and no page
    (MkDocs' or the engine's) has a search box, so no browser fetches an index or starts the worker."""
    from builder.site import render_catalog

    base = yaml.safe_load((REPO_ROOT / "mkdocs.yml").read_text())
    base["plugins"] = [{"search": {"enabled": False}}]
    config = tmp_path / "mkdocs.yml"
    config.write_text(yaml.safe_dump(base))
    document, bodies = sample_index()
    out = tmp_path / "out"
    render_catalog(
        IndexDocument.from_json(document),
        bodies,
        out,
        config_path=config,
        templates_dir=REPO_ROOT / "templates",
        work_dir=tmp_path / "w",
        now=NOW,
        docs_base=REPO_ROOT,
    )
    assert not (out / "search" / "search_index.json").exists()
    skill = document["skills"][0]["name"]
    for page in ("index.html", "skills/index.html", f"skills/{skill}/index.html"):
        html = (out / page).read_text()
        assert "<h1" in html and 'name="search"' not in html and "md-search__input" not in html, page


def test_pages_name_skillports_search_worker(site: Path) -> None:
    """Material's pages start the worker named in ``__config``: Skillport's, on MkDocs' pages and the
    engine's alike, and it is published with the site."""
    assert (site / "assets/javascripts/skillport-search.js").is_file()
    for page in ("index.html", "skills/index.html", f"skills/{HOSTILE}/index.html"):
        html = (site / page).read_text()
        config = json.loads(
            re.search(r'<script id="__config" type="application/json">(.*?)</script>', html, re.S)[1]
        )
        assert config["search"].endswith("assets/javascripts/skillport-search.js"), page
        assert 'name="search"' in html, page
