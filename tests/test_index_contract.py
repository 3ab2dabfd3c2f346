"""The typed index contract (``builder/contract/index.py``): what the builder writes reads back as the same
records and the same bytes, lookups find skills and zips, bad fields are refused by name, and the
documentation lists exactly the records' fields."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from builder.build import build
from builder.contract import index as index_module
from builder.contract.index import (
    RECORDS,
    WHERE,
    AccessSection,
    Component,
    FileRecord,
    HistoryEntry,
    IndexDocument,
    MarketplaceInfo,
    PluginEntry,
    Rule,
    SkillEntry,
    SourceInfo,
    ZipRecord,
    field_table,
    json_fields,
    verify,
)
from builder.errors import IndexMalformed

ROOT = Path(__file__).resolve().parent.parent
KEYS = ["k" * 40]
NOW = datetime(2026, 11, 29, 14, 0, tzinfo=UTC)
SOURCES = {
    "example": ROOT / "examples" / "marketplace",
    "whole-plugin": ROOT / "tests/fixtures/marketplaces/whole-plugin",
    "layouts": ROOT / "tests/fixtures/marketplaces/layouts",
    "surfaces": ROOT / "tests/fixtures/marketplaces/surfaces",
}


@pytest.fixture(scope="module", params=sorted(SOURCES))
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, bytes, bytes]:
    """(name, index.json bytes, signature) of a site the real builder made."""
    tmp = tmp_path_factory.mktemp(str(request.param))
    source = tmp / "mp"
    shutil.copytree(SOURCES[str(request.param)], source, symlinks=True)
    build(source, tmp / "site", keys=KEYS, now=NOW)
    return (
        str(request.param),
        (tmp / "site/index.json").read_bytes(),
        (tmp / "site/index.json.sig").read_bytes(),
    )


def test_a_built_index_reads_back_as_the_same_bytes(built: tuple[str, bytes, bytes]) -> None:
    _, data, sig = built
    doc = verify(data, sig, KEYS, now=NOW)
    assert doc.to_json() == data
    assert IndexDocument.from_json(json.loads(data)).to_json() == data


def test_lookups_find_skills_by_name_and_id_and_zips_by_path(built: tuple[str, bytes, bytes]) -> None:
    _, data, sig = built
    doc = verify(data, sig, KEYS, now=NOW)
    assert doc.skills, "every fixture publishes skills"
    for s in doc.skills:
        assert (
            doc.skill(s.name) is s
            and doc.skill(f"{s.plugin}:{s.skill}") is s
            and s.id == f"{s.plugin}:{s.skill}"
        )
        assert (s.zip is None) == (s.surface == "claude-code")
        if s.zip:
            assert doc.by_zip[s.zip.path] == (s.plugin, s.zip)
    for p in doc.plugins:
        assert doc.plugins_by_name[p.name] is p
        if p.zip:
            assert doc.by_zip[p.zip.path] == (p.name, p.zip)
        assert p.external == (p.zip is None)
    assert doc.skill("no-such-skill") is None and "plugins/nothing-1.0.0.zip" not in doc.by_zip


def test_shared_skill_names_are_told_apart_by_id(tmp_path: Path) -> None:
    from tests.support.marketplaces import make_marketplace

    mp = make_marketplace(tmp_path / "mp", {"alpha-tools": ["configure"], "beta-tools": ["configure"]})
    build(mp, tmp_path / "site", keys=KEYS, now=NOW)
    doc = IndexDocument.from_json((tmp_path / "site/index.json").read_bytes())
    a, b = doc.skill("alpha-tools:configure"), doc.skill("beta-tools:configure")
    assert a is not None and b is not None and a.name == "alpha-tools.configure" and b.skill == "configure"
    assert doc.skill("configure") is None  # a bare name several plugins share names none of them


def _sample() -> dict[str, Any]:
    doc = IndexDocument(
        serial=7,
        generated_at="2026-11-29T14:00:00Z",
        expires_at="2026-12-29T14:00:00Z",
        marketplace=MarketplaceInfo("corp-skills", {"name": "IT"}),
        plugins=(
            PluginEntry(
                "office", "1.0.0", skills=("pdf",), zip=ZipRecord("plugins/office-1.0.0.zip", "a" * 64, 3)
            ),
        ),
        skills=(
            SkillEntry(
                "pdf",
                "office",
                "1.0.0",
                files=(FileRecord("SKILL.md", 10, "sha256:" + "b" * 64),),
                zip=ZipRecord("skills/pdf/pdf-1.0.0.zip", "c" * 64, 5, "k"),
                history=(HistoryEntry("1.0.0", "2026-11-01", "abc", "first"),),
            ),
        ),
        access=AccessSection({"it": ("@corp.example",)}, Rule(("*",), ()), {"office": Rule(("it",), ())}),
    )
    return dict(json.loads(doc.to_json()))


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (("skills", 0, "name"), "../../etc", r"skills\[0\]\.name"),
        (("skills", 0, "zip", "sha256"), "not-hex", r"skills\[0\]\.zip\.sha256"),
        (("skills", 0, "zip", "path"), "../index.json", r"skills\[0\]\.zip\.path"),
        (("skills", 0, "version"), "one", r"skills\[0\]\.version"),
        (("skills", 0, "files", 0, "size"), "10", r"skills\[0\]\.files\[0\]\.size"),
        (("skills", 0, "surface"), "everywhere", r"skills\[0\]\.surface"),
        (("skills", 0, "plugin"), "nowhere", r"plugin 'nowhere'"),
        (("plugins", 0, "strict"), "yes", r"plugins\[0\]\.strict"),
        (("access", "plugins", "office", "read"), "it", r"access\.plugins\.office\.read"),
        (("base_url",), "javascript:alert(1)", r"base_url"),
        (("expires_at",), "tomorrow", r"expires_at"),
        (("format",), 2, r"format 2 is not understood"),
    ],
)
def test_a_wrong_field_is_refused_by_its_path(path: tuple[Any, ...], value: Any, named: str) -> None:
    doc = _sample()
    IndexDocument.from_json(doc)  # the sample itself is fine
    target: Any = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    with pytest.raises(IndexMalformed, match=named):
        IndexDocument.from_json(doc)


def test_an_older_format_1_index_gets_the_documented_defaults() -> None:
    doc = _sample()
    for key in ("id", "skill", "surface"):
        del doc["skills"][0][key]
    for key in ("strict", "external", "components", "digest"):
        del doc["plugins"][0][key]
    del doc["access"]
    read = IndexDocument.from_json(doc)
    s, p = read.skills[0], read.plugins[0]
    assert (s.id, s.skill, s.surface) == ("office:pdf", "pdf", "all")
    assert (p.strict, p.external, p.components, p.digest) == (True, False, (), None)
    assert read.access is None


# --------------------------------------------------------------------------- the documentation


def _doc_text() -> str:
    return (ROOT / "docs/site-layout.md").read_text(encoding="utf-8")


def test_the_documented_field_table_is_generated_from_the_records() -> None:
    text = _doc_text()
    found = re.search(r"<!-- contract-fields:start -->\n(.*?)<!-- contract-fields:end -->", text, re.S)
    assert found, "docs/site-layout.md lost its contract-fields markers"
    assert found.group(1) == field_table(), (
        "regenerate it: print(builder.contract.index.field_table()) into docs/site-layout.md"
    )
    assert set(WHERE) == set(RECORDS)


def test_the_documented_example_has_exactly_the_records_fields() -> None:
    block = re.search(r"## `index.json`.*?```json\n(.*?)```", _doc_text(), re.S)
    assert block
    example = json.loads(block.group(1))
    plugin, external = example["plugins"]
    skill = example["skills"][0]
    expected: list[tuple[type, dict[str, Any]]] = [
        (IndexDocument, example),
        (SourceInfo, example["source"]),
        (MarketplaceInfo, example["marketplace"]),
        (AccessSection, example["access"]),
        (Rule, example["access"]["default"]),
        (PluginEntry, plugin),
        (Component, plugin["components"][0]),
        (ZipRecord, plugin["zip"]),
        (ZipRecord, skill["zip"]),
        (SkillEntry, skill),
        (FileRecord, skill["files"][0]),
        (HistoryEntry, skill["history"][0]),
    ]
    for record, obj in expected:
        assert set(obj) == set(json_fields(record)), f"{record.__name__}: the example and the record disagree"
    assert set(external) <= set(json_fields(PluginEntry)) and external["external"] is True


def test_no_writer_can_publish_an_index_its_readers_refuse() -> None:
    doc = IndexDocument.from_json(_sample())
    bad = replace(doc, plugins=(replace(doc.plugins[0], name="has space"),), skills=())
    with pytest.raises(IndexMalformed, match=r"plugins\[0\]\.name"):
        bad.to_json()
    unsafe = replace(doc, skills=(replace(doc.skills[0], zip=ZipRecord("../x.zip", "c" * 64, 5)),))
    with pytest.raises(IndexMalformed, match=r"skills\[0\]\.zip\.path"):
        unsafe.to_json()


def test_verify_reads_a_built_index_one_entry_at_a_time(
    built: tuple[str, bytes, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never the whole index as one tree of parsed JSON next to its typed document (proxy memory at
    10,000 skills, issue 15): the same document, without ``json.loads`` of the whole."""
    _, data, sig = built
    expected = IndexDocument.from_json(json.loads(data))

    loads = json.loads

    def whole(text: Any, *args: Any, **kwargs: Any) -> Any:
        assert text not in (data, data.decode()), "the whole index was parsed at once"
        return loads(text, *args, **kwargs)

    monkeypatch.setattr(index_module.json, "loads", whole)
    assert verify(data, sig, KEYS, now=NOW) == expected


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (("skills", 0, "name"), "../../etc", r"skills\[0\]\.name"),
        (("skills", 0, "files", 0, "size"), "10", r"skills\[0\]\.files\[0\]\.size"),
        (("skills", 0, "plugin"), "nowhere", r"plugin 'nowhere'"),
        (("plugins", 0, "strict"), "yes", r"plugins\[0\]\.strict"),
        (("skills",), {"a": 1}, r"skills must be a list"),
        (("expires_at",), "tomorrow", r"expires_at"),
    ],
)
def test_verify_refuses_a_signed_index_with_a_wrong_field_by_its_path(
    path: tuple[Any, ...], value: Any, named: str
) -> None:
    doc = _sample()
    target: Any = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    data = index_module.encode(doc)
    with pytest.raises(IndexMalformed, match=named):
        verify(data, index_module.sign(data, KEYS), KEYS, now=NOW)
    repeated = data.replace(b'\n "serial"', b'\n "serial": 1,\n "serial"', 1)  # read whole: same answer
    with pytest.raises(IndexMalformed, match=named):
        verify(repeated, index_module.sign(repeated, KEYS), KEYS, now=NOW)
