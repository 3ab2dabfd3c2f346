"""The per-member filters the proxy served before views (proxy/views.py), kept as the reference the
views are checked against: for every member, a view must be byte for byte what these make (T26).
They parse and filter each file whole, for one member, as the proxy did through 2026-12-02."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from builder.contract.index import IndexDocument
from proxy.access import AccessRules, MemberLike

MARKER = re.compile(r"<!--sp-plugin:([^>]*?)-->(.*?)<!--/sp-plugin-->", re.DOTALL)
EDITORS = re.compile(r"<!--sp-editors-->(.*?)<!--/sp-editors-->", re.DOTALL)


def filter_index(rules: AccessRules, doc: IndexDocument, member: MemberLike) -> dict[str, Any]:
    """The index a member may see (as JSON): only readable plugins and their skills; no access rules."""
    return doc.with_only(
        plugins=[p for p in doc.plugins if rules.can_read(member, p.name)],
        skills=[s for s in doc.skills if rules.can_read(member, s.plugin)],
    ).to_dict(with_access=False)


def filter_marketplace(rules: AccessRules, data: bytes, member: MemberLike) -> bytes:
    """``claude-code/marketplace.json`` without the plugins the member may not read."""
    return _filter_json_list(data, "plugins", lambda e: rules.can_read(member, str(e.get("name"))))


def filter_well_known(rules: AccessRules, data: bytes, member: MemberLike) -> bytes:
    """``.well-known/agent-skills/index.json`` without the skills the member may not read."""

    def readable(entry: dict[str, Any]) -> bool:
        plugin = rules.skill_plugin.get(str(entry.get("name")))
        return plugin is not None and rules.can_read(member, plugin)

    return _filter_json_list(data, "skills", readable)


def filter_search(rules: AccessRules, data: bytes, member: MemberLike) -> bytes:
    """``search/search_index.json`` without entries under unreadable skill/plugin pages."""
    return _filter_json_list(data, "docs", lambda e: rules.path_readable(member, str(e.get("location", ""))))


def filter_html(rules: AccessRules, html: str, member: MemberLike) -> str:
    """Drop ``<!--sp-plugin:NAME-->…`` blocks of plugins the member may not read, and
    ``<!--sp-editors-->…`` blocks unless the member edits some plugin."""

    def keep(match: re.Match[str]) -> str:
        return match.group(0) if rules.can_read(member, match.group(1).strip()) else ""

    html = MARKER.sub(keep, html)
    return html if rules.can_edit_any(member) else EDITORS.sub("", html)


def _filter_json_list(data: bytes, key: str, keep: Callable[[dict[str, Any]], bool]) -> bytes:
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return b"{}"
    if not isinstance(doc, dict):
        return b"{}"
    entries = doc.get(key)
    if isinstance(entries, list):
        doc[key] = [e for e in entries if isinstance(e, dict) and keep(e)]
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")
