"""``proxy.catalog``: ranked search, get and updates over an index document (pure functions).

These unit tests build the typed records directly (the contract's constructors check them); the proxy's
HTTP and connector tests run on sites the real builder made (tests/support/sites.py)."""

from __future__ import annotations

import pytest

from builder.contract.index import HistoryEntry, IndexDocument, MarketplaceInfo, SkillEntry
from proxy import catalog


def skill(
    name: str,
    plugin: str = "office",
    version: str = "1.0.0",
    description: str = "",
    tags: list[str] | None = None,
    history: list[str] | None = None,
) -> SkillEntry:
    return SkillEntry(
        name=name,
        plugin=plugin,
        version=version,
        description=description or f"About {name}.",
        tags=tuple(tags or ()),
        history=tuple(
            HistoryEntry(version=v, date="2026-11-01", commit="c", subject=f"v{v}")
            for v in reversed(history or [version])
        ),
    )


def doc(serial: int, *skills: SkillEntry) -> IndexDocument:
    return IndexDocument(
        serial=serial,
        generated_at="2026-11-01T00:00:00Z",
        expires_at="2026-12-01T00:00:00Z",
        marketplace=MarketplaceInfo("corp-skills"),
        skills=skills,
    )


INDEX = doc(
    1,
    skill(
        "pdf-forms",
        description="Fill and check PDF forms.",
        tags=["pdf", "documents"],
        version="1.2.0",
        history=["1.0.0", "1.1.0", "1.2.0"],
    ),
    skill("pdf-merge", description="Merge PDF files into one.", tags=["pdf"]),
    skill(
        "brand-voice",
        description="Write in the brand voice; mentions pdf once.",
        tags=["writing"],
        version="2.0.0-rc.1",
        history=["1.0.0", "2.0.0-rc.1"],
    ),
    skill(
        "ledger-close",
        plugin="finance-tools",
        description="Month-end ledger close with PDF reports.",
        tags=["finance"],
    ),
)


def test_search_ranks_name_and_tag_matches_above_description_matches() -> None:
    names = [r["name"] for r in catalog.search(INDEX, "pdf")]
    assert names[:2] == ["pdf-forms", "pdf-merge"]
    assert names.index("brand-voice") > 1 and set(names) == {
        "pdf-forms",
        "pdf-merge",
        "brand-voice",
        "ledger-close",
    }


def test_exact_name_wins_and_every_word_must_match() -> None:
    assert catalog.search(INDEX, "pdf-merge")[0]["name"] == "pdf-merge"
    assert [r["name"] for r in catalog.search(INDEX, "pdf forms")] == ["pdf-forms"]
    assert catalog.search(INDEX, "pdf nothing-like-this") == []


def test_prefix_words_match() -> None:
    assert [r["name"] for r in catalog.search(INDEX, "led")] == ["ledger-close"]


def test_results_are_compact_one_liners() -> None:
    result = catalog.search(INDEX, "merge")[0]
    assert result == {
        "name": "pdf-merge",
        "plugin": "office",
        "version": "1.0.0",
        "description": "Merge PDF files into one.",
    }
    long = doc(2, skill("long", description="word " * 200))
    assert len(catalog.search(long, "long")[0]["description"]) <= 160


def test_tag_filter_and_empty_query_lists_by_name() -> None:
    assert [r["name"] for r in catalog.search(INDEX, "", tag="pdf")] == ["pdf-forms", "pdf-merge"]
    assert [r["name"] for r in catalog.search(INDEX, "")][:2] == ["brand-voice", "ledger-close"]


@pytest.mark.threat("T26")
def test_t26_unreadable_plugins_are_invisible_everywhere() -> None:
    def readable(plugin: str) -> bool:
        return plugin != "finance-tools"

    assert "ledger-close" not in [r["name"] for r in catalog.search(INDEX, "pdf", readable=readable)]
    assert catalog.get(INDEX, "ledger-close", readable) is None
    assert catalog.get(INDEX, "ledger-close") is not None
    result = catalog.updates(INDEX, [{"name": "ledger-close", "version": "0.1.0"}], readable)
    assert result == {"updates": [], "current": [], "unknown": ["ledger-close"]}


def test_updates_use_semver_and_list_what_changed() -> None:
    result = catalog.updates(
        INDEX,
        [
            {"name": "pdf-forms", "version": "1.0.0"},
            {"name": "pdf-merge", "version": "1.0.0"},
            {"name": "brand-voice", "version": "1.0.0"},
            {"name": "gone", "version": "1.0.0"},
            {"name": "pdf-forms", "version": "not-a-version"},
        ],
    )
    by_name = {u["name"]: u for u in result["updates"]}
    assert [c["version"] for c in by_name["pdf-forms"]["changes"]] == ["1.2.0", "1.1.0"]
    assert by_name["brand-voice"]["latest"] == "2.0.0-rc.1"  # a pre-release of 2.0.0 is newer than 1.0.0
    assert result["current"] == ["pdf-merge"] and result["unknown"] == ["gone"]
    assert result["invalid_version"] == ["pdf-forms"]
    newer_installed = catalog.updates(INDEX, [{"name": "brand-voice", "version": "2.0.0"}])
    assert newer_installed["updates"] == [] and newer_installed["current"] == ["brand-voice"]


def test_structure_is_built_once_per_document_and_anew_for_a_new_one() -> None:
    current = doc(50, skill("alpha"))
    first = catalog.catalog_for(current)
    assert catalog.catalog_for(current) is first
    newer = doc(51, skill("beta"))
    assert catalog.catalog_for(newer) is not first
    assert [r["name"] for r in catalog.search(newer, "")] == ["beta"]


@pytest.mark.threat("T38")
def test_t38_huge_or_odd_queries_are_bounded() -> None:
    assert catalog.search(INDEX, "pdf " * 10_000)[0]["name"] == "pdf-forms"
    assert catalog.search(INDEX, "../../etc/passwd\0") == []
    assert len(catalog.search(INDEX, "", limit=10_000)) == 4
