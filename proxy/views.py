"""Filtered views of the catalog's JSON files and listing pages, cached per access, not per member (T26).

A filtered JSON file (the index, ``claude-code/marketplace.json``, the well-known index, the search
index) is split once per trusted index into pre-serialized entries, each with what seeing it takes
(``proxy.access.Need``). A member's view is the join of the entries their ``AccessKey`` allows, in the
file's order: byte for byte what filtering the whole file for that member makes (the reference the tests
hold, tests/support/reference_filters.py), without parsing the file again. Views are cached by ``(file,
AccessKey)``: members with the same access share one entry, and the cache is a bounded LRU
(``SKILLPORT_VIEW_CACHE_ENTRIES`` / ``SKILLPORT_VIEW_CACHE_BYTES``).

Everything here belongs to one trusted index document: the splits (whose needs come from that index's
rules) and the cached views are dropped together when another document is trusted, and a request whose
snapshot (document, rules, key) is no longer the current one is answered without the cache.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from array import array
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from builder.contract.index import IndexDocument
from builder.contract.stream import stream_object
from proxy.access import (
    EDIT_ANY,
    READ,
    READ_AND_EDIT_ANY,
    SEEN_BY_ALL,
    SEEN_BY_NONE,
    AccessKey,
    AccessRules,
    MemberLike,
    Need,
)

PLUGIN_BLOCK = b"<!--sp-plugin:"  # proxy/access.py's block marker, in catalog listing pages
MAX_REMEMBERED_KEYS = 10_000  # emails whose access key is remembered (then forgotten all at once)
ENTRY_OVERHEAD = 200  # bytes counted per cached view besides its body (key, bookkeeping)


@dataclass(frozen=True)
class Entries:
    """One list's pre-serialized entries in a single ``blob``, joined by the list's separator: entry
    ``k`` is ``blob[starts[k]:ends[k]]`` and may be seen with ``needs[need_ids[k]]`` (a few thousand
    small objects less per file, and one allocation that goes back to the system with the index)."""

    blob: bytes
    starts: array[int]
    ends: array[int]
    need_ids: array[int]

    @classmethod
    def of(cls, pieces: Iterable[tuple[bytes, Need]], separator: bytes, needs: dict[Need, int]) -> Entries:
        blob = bytearray()  # one growing buffer: no thousands of freed pieces left behind
        starts, ends, need_ids = array("Q"), array("Q"), array("I")
        for data, need in pieces:
            if starts:
                blob += separator
            starts.append(len(blob))
            blob += data
            ends.append(len(blob))
            need_ids.append(needs.setdefault(need, len(needs)))
        return cls(bytes(blob), starts, ends, need_ids)

    def kept(self, allowed: list[bool]) -> list[memoryview]:
        """Runs of consecutive entries that ``allowed`` keeps (each with its inner separators)."""
        view, runs = memoryview(self.blob), []
        start = end = -1
        for k, need in enumerate(self.need_ids):
            if allowed[need]:
                if start < 0:
                    start = self.starts[k]
                end = self.ends[k]
            elif start >= 0:
                runs.append(view[start:end])
                start = -1
        if start >= 0:
            runs.append(view[start:end])
        return runs


@dataclass(frozen=True)
class SplitJson:
    """A JSON document as constant ``parts`` around ``lists`` of pre-serialized entries: the document
    is ``parts[0] + "[" + sep.join(lists[0]) + "]" + parts[1] + … + parts[-1]``."""

    parts: tuple[bytes, ...]
    lists: tuple[Entries, ...]
    separator: bytes
    needs: tuple[Need, ...]

    @classmethod
    def of(
        cls, parts: Iterable[bytes], lists: Iterable[Iterable[tuple[bytes, Need]]], separator: bytes
    ) -> SplitJson:
        needs: dict[Need, int] = {}
        entries = tuple(Entries.of(pieces, separator, needs) for pieces in lists)
        return cls(tuple(parts), entries, separator, tuple(needs))

    def view(self, rules: AccessRules, key: AccessKey) -> bytes:
        allowed = [key.allows(rules, need) for need in self.needs]
        out: list[bytes | memoryview] = [self.parts[0]]
        for entries, part in zip(self.lists, self.parts[1:], strict=True):
            out += (b"[", self.separator.join(entries.kept(allowed)), b"]", part)
        return b"".join(out)

    @property
    def size(self) -> int:
        return sum(map(len, self.parts)) + sum(len(e.blob) for e in self.lists)


def _template(document: dict[str, Any], keys: Iterable[str], dump: Callable[[Any], str]) -> list[bytes]:
    """``dump(document)`` cut where each list under ``keys`` goes (a random marker that occurs once)."""
    keys = list(keys)
    while True:
        markers = [f"\x00{secrets.token_hex(16)}" for _ in keys]
        text = dump({**document, **dict(zip(keys, markers, strict=True))})
        encoded = [json.dumps(m, ensure_ascii=False) for m in markers]
        if all(text.count(m) == 1 for m in encoded):
            break
    parts = []
    for marker in encoded:
        head, _, text = text.partition(marker)
        parts.append(head.encode("utf-8"))
    parts.append(text.encode("utf-8"))
    return parts


def _dump_file(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)  # as a filtered file is written


def _dump_response(value: Any) -> str:  # as Starlette's JSONResponse writes it
    return json.dumps(value, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))


def split_file(data: bytes, key: str, need: Callable[[dict[str, Any]], Need]) -> SplitJson:
    """A site JSON file whose list ``key`` is filtered entry by entry for each ``AccessKey``.

    The entries are parsed one at a time (a large file never becomes one big tree of objects in
    memory); a file of another shape (not UTF-8, repeated keys, …) is parsed whole, as the filters do."""
    try:
        found = _split_streaming(data.decode("utf-8"), key, need)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        found = None
    return found if found is not None else _split_whole(data, key, need)


def _piece(entry: Any, need: Callable[[dict[str, Any]], Need]) -> tuple[bytes, Need]:
    if not isinstance(entry, dict):
        return (b"", SEEN_BY_NONE)
    return (_dump_file(entry).encode("utf-8"), need(entry))


def _split_whole(data: bytes, key: str, need: Callable[[dict[str, Any]], Need]) -> SplitJson:
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return SplitJson.of((b"{}",), (), b", ")
    if not isinstance(document, dict):
        return SplitJson.of((b"{}",), (), b", ")
    entries = document.get(key)
    if not isinstance(entries, list):
        return SplitJson.of((_dump_file(document).encode("utf-8"),), (), b", ")
    pieces = (_piece(e, need) for e in entries)
    return SplitJson.of(_template(document, [key], _dump_file), (pieces,), b", ")


def _split_streaming(text: str, key: str, need: Callable[[dict[str, Any]], Need]) -> SplitJson | None:
    """``_split_whole`` one entry at a time, for a top-level object with a list under ``key``."""
    members = stream_object(text, (key,), lambda _, __, entry: _piece(entry, need))
    if members is None or not isinstance(members.get(key), list):
        return None
    return SplitJson.of(_template({**members, key: None}, [key], _dump_file), (members[key],), b", ")


def split_index(doc: IndexDocument) -> SplitJson:
    """The index as members are served it (no access rules), split by plugin and skill."""
    template = doc.with_only(plugins=[], skills=[]).to_dict(with_access=False)
    plugins = ((_dump_response(p.to_json()).encode("utf-8"), (READ, p.name)) for p in doc.plugins)
    skills = ((_dump_response(s.to_json()).encode("utf-8"), (READ, s.plugin)) for s in doc.skills)
    return SplitJson.of(_template(template, ["plugins", "skills"], _dump_response), (plugins, skills), b",")


def canonical_needs(
    rules: AccessRules, need: Callable[[dict[str, Any]], Need]
) -> Callable[[dict[str, Any]], Need]:
    """``need``, answering with one shared tuple per distinct need, made before the file is parsed:
    the pieces never keep strings of the parsed file alive (they would pin its freed memory)."""
    names = set(rules.plugin_names) | set(rules.plugins)
    known: dict[Need, Need] = {n: n for n in (SEEN_BY_ALL, SEEN_BY_NONE, (EDIT_ANY, ""))}
    known.update({(kind, name): (kind, name) for name in names for kind in (READ, READ_AND_EDIT_ANY)})

    def shared(entry: dict[str, Any]) -> Need:
        found = need(entry)
        held = known.get(found)
        if held is None:  # a name the index does not know: a copy of it, shared from now on
            copy = found[1].encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass")
            held = known[(found[0], copy)] = (found[0], copy)
        return held

    return shared


# site path -> (list key, what seeing an entry takes under some rules)
FILES: dict[str, tuple[str, Callable[[AccessRules, dict[str, Any]], Need]]] = {
    "claude-code/marketplace.json": ("plugins", lambda rules, e: (READ, str(e.get("name")))),
    ".well-known/agent-skills/index.json": ("skills", lambda rules, e: rules.skill_need(str(e.get("name")))),
    "search/search_index.json": ("docs", lambda rules, e: rules.path_need(str(e.get("location", "")))),
}
INDEX = "index.json"


class ViewCache:
    """A bounded LRU of bytes (or text) by key: at most ``entries`` values and ``max_bytes`` in all;
    a value larger than a quarter of ``max_bytes`` is not kept."""

    def __init__(self, entries: int, max_bytes: int) -> None:
        self.entries = entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[Hashable, bytes | str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable) -> bytes | str | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: Hashable, value: bytes | str) -> None:
        size = len(value) + ENTRY_OVERHEAD
        if size > self.max_bytes // 4 or key in self._items:
            return
        self._items[key] = value
        self.bytes += size
        while len(self._items) > self.entries or self.bytes > self.max_bytes:
            _, dropped = self._items.popitem(last=False)
            self.bytes -= len(dropped) + ENTRY_OVERHEAD

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0

    def drop(self, stale: Callable[[Hashable], bool]) -> None:
        """Forget every value whose key is ``stale``."""
        for key in [k for k in self._items if stale(k)]:
            self.bytes -= len(self._items.pop(key)) + ENTRY_OVERHEAD


class MemberViews:
    """The filtered views of the trusted index document's files, per ``AccessKey``."""

    def __init__(self, entries: int, max_bytes: int, recheck_seconds: float) -> None:
        self.cache = ViewCache(entries, max_bytes)
        self.recheck_seconds = recheck_seconds
        self._doc: IndexDocument | None = None
        self._splits: dict[str, tuple[SplitJson, str, float]] = {}  # path -> (split, digest, checked at)
        self.splits_made = 0
        self._keys: dict[str, AccessKey] = {}  # email -> key, under ``self._key_rules``
        self._key_rules: AccessRules | None = None

    def key_for(self, rules: AccessRules, member: MemberLike) -> AccessKey:
        """``rules.access_key(member)``, remembered per email for the rules of the trusted index."""
        if rules is not self._key_rules:
            self._key_rules = rules
            self._keys = {}
        found = self._keys.get(member.email)
        if found is None:
            if len(self._keys) >= MAX_REMEMBERED_KEYS:
                self._keys.clear()
            found = self._keys[member.email] = rules.access_key(member)
        return found

    def bind(self, doc: IndexDocument) -> None:
        """Serve views of ``doc``, the index document just taken as trusted (before any ``await``):
        everything made for another document is dropped."""
        if doc is not self._doc:
            self._doc = doc
            self._splits.clear()
            self.cache.clear()

    def needs_origin_read(self, doc: IndexDocument, path: str, now: float) -> bool:
        """Whether ``path`` must be read from the origin again (no split yet, or checked long ago)."""
        if doc is not self._doc:
            return True
        held = self._splits.get(path)
        return held is None or now - held[2] >= self.recheck_seconds

    def forget(self, doc: IndexDocument, path: str) -> None:
        """``path`` is gone from the origin: drop its split and views."""
        if doc is self._doc:
            self._splits.pop(path, None)
            self.cache.drop(lambda k: isinstance(k, tuple) and k[0] == path)

    def file_view(
        self,
        doc: IndexDocument,
        rules: AccessRules,
        key: AccessKey,
        path: str,
        data: bytes | None,
        now: float,
    ) -> bytes | None:
        """The view of site JSON file ``path`` for ``key``; ``data``: its bytes just read from the
        origin (``None``: not read, use the split held, see ``needs_origin_read``). ``None`` when
        the bytes are needed after all (another index was trusted meanwhile): read and ask again."""
        list_key, need = FILES[path]
        if doc is not self._doc:  # the index changed while this request read the origin: no cache
            if data is None:
                return None
            return split_file(data, list_key, canonical_needs(rules, lambda e: need(rules, e))).view(
                rules, key
            )
        held = self._splits.get(path)
        if data is not None:
            digest = hashlib.sha256(data).hexdigest()
            if held is None or held[1] != digest:
                split = split_file(data, list_key, canonical_needs(rules, lambda e: need(rules, e)))
                self.splits_made += 1
                self.cache.drop(lambda k: isinstance(k, tuple) and k[0] == path)  # the old bytes' views
                held = (split, digest, now)
            else:
                held = (held[0], digest, now)
            self._splits[path] = held
        if held is None:
            return None
        return self._view(path, held[0], rules, key)

    def index_view(self, doc: IndexDocument, rules: AccessRules, key: AccessKey) -> bytes:
        """The index as this ``key`` may see it (readable plugins and their skills, as JSON bytes)."""
        if doc is not self._doc:
            return split_index(doc).view(rules, key)
        held = self._splits.get(INDEX)
        if held is None:
            held = (split_index(doc), "", float("inf"))
            self.splits_made += 1
            self._splits[INDEX] = held
        return self._view(INDEX, held[0], rules, key)

    def _view(self, path: str, split: SplitJson, rules: AccessRules, key: AccessKey) -> bytes:
        found = self.cache.get((path, key))
        if isinstance(found, bytes):
            return found
        view = split.view(rules, key)
        self.cache.put((path, key), view)
        return view

    def html_view(
        self, doc: IndexDocument, rules: AccessRules, key: AccessKey, path: str, data: bytes
    ) -> str:
        """A catalog page without the blocks ``key`` may not see (``AccessRules.filter_html``); a
        listing page (one with plugin blocks) is cached per ``(path, page digest, key)``, the others
        (one skill's or plugin's page) are cheap to filter and too many to cache."""
        if doc is not self._doc or PLUGIN_BLOCK not in data:
            return rules.filter_html(data.decode("utf-8", "replace"), key)
        cache_key = ("html:" + path, hashlib.sha256(data).digest(), key)
        found = self.cache.get(cache_key)
        if isinstance(found, str):
            return found
        html = rules.filter_html(data.decode("utf-8", "replace"), key)
        self.cache.put(cache_key, html)
        return html
