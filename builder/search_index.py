"""The browser's search data, trimmed to what search needs (issue 15).

MkDocs-Material's search plugin writes ``search/search_index.json`` with every page's full text and
one entry per heading, and every browser downloads it before the first result. For the pages of one
skill or one plugin the catalog keeps ONE entry: the page itself, whose text is the description,
the plugin, the category and the tags (HTML-escaped: Material shows the text as HTML). Skill bodies,
install steps, file lists and histories are left out; the pages show them. Other pages (the
organization's own) keep what MkDocs wrote.

Locations stay ``skills/<name>/`` and ``plugins/<name>/``, so the proxy's per-member filter
(proxy/views.py, by ``AccessRules.path_need``) keeps working unchanged. Pure: same input, same bytes.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

from builder.contract.index import IndexDocument
from builder.errors import UpstreamError


def _text(description: str, facts: list[tuple[str, str]], tags: tuple[str, ...]) -> str:
    parts = [f"<p>{html.escape(description, quote=False)}</p>"] if description else []
    parts += [f"{label} {html.escape(value, quote=False)}" for label, value in facts if value]
    if tags:
        parts.append("Tags " + " ".join(html.escape(t, quote=False) for t in tags))
    return " ".join(parts)


def titles(index_doc: IndexDocument) -> dict[str, str]:
    """The title of each skill and plugin page, keyed like ``summaries``."""
    found = {f"plugins/{p.name}/": p.name for p in index_doc.plugins}
    found.update({f"skills/{s.name}/": s.name for s in index_doc.skills})
    return found


def summaries(index_doc: IndexDocument) -> dict[str, str]:
    """Search text of each skill and plugin page, keyed by its location in the search index."""
    texts: dict[str, str] = {}
    for p in index_doc.plugins:
        texts[f"plugins/{p.name}/"] = _text(p.description, [("Category", p.category or "")], p.tags)
    for s in index_doc.skills:
        facts = [("Plugin", s.plugin), ("Category", s.category or "")]
        texts[f"skills/{s.name}/"] = _text(s.description, facts, s.tags)
    return texts


def trim(data: bytes, texts: Mapping[str, str], page_titles: Mapping[str, str]) -> bytes:
    """``search_index.json`` with each page in ``texts`` as one entry holding that text: MkDocs' entry
    reduced, or a new one (builder/engine.py renders those pages without MkDocs' search plugin)."""
    try:
        document = json.loads(data)
        entries = document["docs"]
    except (UnicodeDecodeError, ValueError, TypeError, KeyError) as exc:
        raise UpstreamError(f"search/search_index.json: not the search plugin's format ({exc})") from exc
    docs: list[dict[str, Any]] = []
    for entry in entries:
        location = str(entry.get("location", ""))
        page = location.split("#", 1)[0]
        if page not in texts:
            docs.append(entry)
        elif location == page:
            docs.append({**entry, "text": texts[page]})
        # a heading section of a skill or plugin page: dropped
    present = {str(entry.get("location", "")) for entry in docs}
    docs += [
        {"location": page, "title": html.escape(page_titles.get(page, page), quote=False), "text": text}
        for page, text in sorted(texts.items())
        if page not in present
    ]
    document["docs"] = docs
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
