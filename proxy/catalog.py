"""Search, get and updates over the verified index document (pure, fast).

The index is the typed ``IndexDocument`` of ``builder.contract.index``. The first call for a given
``serial`` builds a small precomputed structure (an inverted index of name, tag, plugin and
description words, with a sorted vocabulary for prefix matches, and parsed versions); later calls
for the same serial reuse it, so a 10,000-skill catalog answers in about a millisecond.

``readable`` is a predicate over plugin names: entries of other plugins are never returned, so a
member cannot learn that they exist (T26).
"""

from __future__ import annotations

import bisect
import functools
import heapq
import itertools
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from builder import changes
from builder.contract.index import IndexDocument, SkillEntry
from builder.model import Version

Readable = Callable[[str], bool]

MAX_QUERY_CHARS = 200
MAX_QUERY_TERMS = 8
MAX_RESULTS = 50
MAX_INSTALLED = 1000
_WORD = re.compile(r"[a-z0-9]+")
_NAME_WEIGHT = 8.0
_TAG_WEIGHT = 4.0
_PLUGIN_WEIGHT = 2.0
_TEXT_WEIGHT = 1.0
_PREFIX_FACTOR = 0.5
_TERM_MEMO = 4096


def everyone(_plugin: str) -> bool:
    """The ``readable`` predicate that admits every plugin."""
    return True


def one_line(text: str, limit: int = 160) -> str:
    """The first sentence-ish line of a description, shortened to ``limit`` characters."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    return line[: limit - 1].rstrip() + "…"


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


@dataclass(frozen=True)
class Entry:
    """One skill, as search and updates need it."""

    name: str
    plugin: str
    version: str
    parsed: Version | None
    summary: str
    tags: frozenset[str]
    raw: SkillEntry

    def brief(self) -> dict[str, str]:
        return {
            "name": self.name,
            "plugin": self.plugin,
            "version": self.version,
            "description": self.summary,
        }


@dataclass(frozen=True)
class Catalog:
    """The precomputed search structure of one index serial."""

    serial: int
    entries: tuple[Entry, ...]
    by_name: Mapping[str, int]
    postings: Mapping[str, Mapping[int, float]]
    vocabulary: tuple[str, ...]
    by_name_order: tuple[int, ...] = ()
    _memo: dict[str, tuple[Mapping[int, float], tuple[tuple[float, str, int], ...]]] = field(
        default_factory=dict, compare=False, repr=False
    )
    _versions: dict[str, Version | None] = field(default_factory=dict, compare=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    @classmethod
    def build(cls, doc: IndexDocument) -> Catalog:
        entries: list[Entry] = []
        postings: dict[str, dict[int, float]] = {}
        for raw in doc.skills:
            version = raw.version
            parsed = Version.parse(version) if Version.is_valid(version) else None
            tags = frozenset(t.lower() for t in raw.tags)
            entry = Entry(
                name=raw.name,
                plugin=raw.plugin,
                version=version,
                parsed=parsed,
                summary=one_line(raw.description),
                tags=tags,
                raw=raw,
            )
            i = len(entries)
            entries.append(entry)
            fields: list[tuple[Iterable[str], float]] = [
                (_words(entry.name), _NAME_WEIGHT),
                ((w for t in tags for w in _words(t)), _TAG_WEIGHT),
                (_words(entry.plugin), _PLUGIN_WEIGHT),
                (_words(raw.description), _TEXT_WEIGHT),
            ]
            for words, weight in fields:
                for word in words:
                    slot = postings.setdefault(word, {})
                    if slot.get(i, 0.0) < weight:
                        slot[i] = weight
        by_name = {e.name: i for i, e in enumerate(entries)}
        return cls(
            serial=doc.serial,
            entries=tuple(entries),
            by_name=by_name,
            postings=postings,
            vocabulary=tuple(sorted(postings)),
            by_name_order=tuple(sorted(range(len(entries)), key=lambda i: entries[i].name)),
        )

    def _term_scores(self, term: str) -> Mapping[int, float]:
        """Scores of one query word: exact word matches count fully, prefix matches half (cached)."""
        cached = self._memo.get(term)
        if cached is not None:
            return cached[0]
        scores: dict[int, float] = dict(self.postings.get(term, {}))
        start = bisect.bisect_left(self.vocabulary, term)
        for word in self.vocabulary[start:]:
            if not word.startswith(term):
                break
            if word == term:
                continue
            for i, weight in self.postings[word].items():
                value = weight * _PREFIX_FACTOR
                if scores.get(i, 0.0) < value:
                    scores[i] = value
        ranked = tuple(sorted((-score, self.entries[i].name, i) for i, score in scores.items()))
        with self._lock:
            if len(self._memo) >= _TERM_MEMO:
                self._memo.clear()
            self._memo[term] = (scores, ranked)
        return scores

    def _term_ranked(self, term: str) -> tuple[tuple[float, str, int], ...]:
        self._term_scores(term)
        return self._memo[term][1]

    def search(
        self, query: str, *, tag: str | None = None, readable: Readable = everyone, limit: int = 20
    ) -> list[dict[str, str]]:
        limit = max(1, min(limit, MAX_RESULTS))
        terms = list(dict.fromkeys(_words(query[:MAX_QUERY_CHARS])))[:MAX_QUERY_TERMS]
        wanted_tag = tag.strip().lower() if tag else None
        allowed = _memo(readable)

        def admitted(i: int) -> bool:
            e = self.entries[i]
            return allowed(e.plugin) and (wanted_tag is None or wanted_tag in e.tags)

        picked: list[int]
        if not terms:
            picked = list(itertools.islice((i for i in self.by_name_order if admitted(i)), limit))
        elif len(terms) == 1:
            picked = list(
                itertools.islice((i for _, _, i in self._term_ranked(terms[0]) if admitted(i)), limit)
            )
        else:
            # every word must match (AND); the rarest word's hits bound the candidates
            per_term = sorted((self._term_scores(t) for t in terms), key=len)
            total: dict[int, float] = dict(per_term[0])
            for scores in per_term[1:]:
                total = {i: s + scores[i] for i, s in total.items() if i in scores}
            best = heapq.nsmallest(
                limit, ((-s, self.entries[i].name, i) for i, s in total.items() if admitted(i))
            )
            picked = [i for _, _, i in best]
        exact = self.by_name.get(query.strip().lower())
        if exact is None and terms:
            exact = self.by_name.get("-".join(terms))
        if exact is not None and exact in picked:
            picked.remove(exact)
            picked.insert(0, exact)
        elif (
            exact is not None
            and terms
            and admitted(exact)
            and all(exact in self._term_scores(t) for t in terms)
        ):
            picked = [exact, *picked[: limit - 1]]
        return [self.entries[i].brief() for i in picked]

    def find(self, name: str) -> int | None:
        """The entry a skill reference names: its index name (the bare skill name when it is unique,
        else ``plugin.skill``) or ``plugin:skill``. A bare name several plugins share names none."""
        i = self.by_name.get(name)
        if i is None and ":" in name:
            plugin, _, skill = name.partition(":")
            for key in (f"{plugin}.{skill}", skill):
                j = self.by_name.get(key)
                if j is not None and self.entries[j].plugin == plugin:
                    return j
        return i

    def get(self, name: str, *, readable: Readable = everyone) -> SkillEntry | None:
        i = self.find(name)
        if i is None:
            return None
        entry = self.entries[i]
        return entry.raw if readable(entry.plugin) else None

    def _version(self, text: str) -> Version | None:
        """Parsed SemVer (memoized: the same few version strings come up again and again)."""
        if text in self._versions:
            return self._versions[text]
        parsed = Version.parse(text) if len(text) <= 64 and Version.is_valid(text) else None
        if len(self._versions) < 100_000:
            self._versions[text] = parsed
        return parsed

    def _newer(self, than: Version, text: str) -> bool:
        seen = self._version(text)
        return seen is not None and seen > than

    def updates(
        self, installed: Sequence[Mapping[str, Any]], *, readable: Readable = everyone
    ) -> dict[str, Any]:
        """Which installed skills have a newer version here, and what changed since.

        ``installed`` is a list of ``{"name", "version"}``; names this member cannot read are
        reported as unknown, exactly like names that do not exist."""
        allowed = _memo(readable)
        newer: list[dict[str, Any]] = []
        current: list[str] = []
        unknown: list[str] = []
        invalid: list[str] = []
        for item in installed[:MAX_INSTALLED]:
            name = str(item.get("name") or "")
            have = str(item.get("version") or "")
            i = self.find(name)
            entry = self.entries[i] if i is not None else None
            if entry is None or not allowed(entry.plugin):
                unknown.append(name)
                continue
            mine = self._version(have)
            if mine is None or entry.parsed is None:
                invalid.append(name)
                continue
            if entry.parsed > mine:
                notes = version_notes(entry.raw, functools.partial(self._newer, mine))
                newer.append(
                    {
                        "name": entry.name,  # the index name: plugin:skill resolved
                        "plugin": entry.plugin,
                        "installed": have,
                        "latest": entry.version,
                        "changes": notes,
                    }
                )
            else:
                current.append(entry.name)
        result: dict[str, Any] = {"updates": newer, "current": current}
        if unknown:
            result["unknown"] = unknown
        if invalid:
            result["invalid_version"] = invalid
        return result


def version_notes(entry: SkillEntry, newer: Callable[[str], bool]) -> list[dict[str, str]]:
    """Every published version ``newer`` accepts, newest first, each with its date, note (or its
    commits' subjects) and file summary; from ``history`` rows for an index without ``versions``."""
    out = []
    rows: Sequence[Mapping[str, Any]] = entry.versions or [h.to_json() for h in entry.history]
    for v in rows:
        if not newer(str(v.get("version"))):
            continue
        note = changes.note_of(v) if entry.versions else str(v.get("subject", ""))
        out.append(
            {
                "version": str(v.get("version", "")),
                "date": str(v.get("date", "")),
                "note": note,
                "subject": note,  # the field older clients print
                "summary": changes.summary_text(v.get("summary")),
            }
        )
    return out


def _memo(readable: Readable) -> Readable:
    seen: dict[str, bool] = {}

    def check(plugin: str) -> bool:
        if plugin not in seen:
            seen[plugin] = bool(readable(plugin))
        return seen[plugin]

    return check


def catalog_for(doc: IndexDocument) -> Catalog:
    """The precomputed catalog of ``doc``, built once per verified document and dropped with it."""
    return doc.derived("proxy.catalog", Catalog.build)


def search(
    doc: IndexDocument, query: str, tag: str | None = None, readable: Readable = everyone, limit: int = 20
) -> list[dict[str, str]]:
    """Ranked skills matching every word of ``query`` (prefixes count): name, plugin, version and a
    one-line description each. An empty query lists skills by name."""
    return catalog_for(doc).search(query, tag=tag, readable=readable, limit=limit)


def get(doc: IndexDocument, name: str, readable: Readable = everyone) -> SkillEntry | None:
    """The index entry of skill ``name``, or None when it does not exist or is not readable."""
    return catalog_for(doc).get(name, readable=readable)


def updates(
    doc: IndexDocument, installed: Sequence[Mapping[str, Any]], readable: Readable = everyone
) -> dict[str, Any]:
    """``{"updates": [{name, plugin, installed, latest, changes}], "current": [...], "unknown": [...]}``."""
    return catalog_for(doc).updates(installed, readable=readable)
