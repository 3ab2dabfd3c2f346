"""`skillport sync-api`: a built site pushed to a Claude API workspace through the official SDK.

The workspace is the Skills API stand-in in tests/support (Anthropic cannot be reached from here); the
site is built by the real builder from the example marketplace; the command runs as a process, as a CI
job runs it.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from builder.apisync.plan import ApiSkill, CatalogSkill, Kind, plan_sync
from builder.build import build
from builder.frontmatter import parse
from builder.model import SPEC_FRONTMATTER_KEYS
from builder.origin import MAX_DESCRIPTION, Origin, parse_origin, with_origin
from tests.support.anthropic_api import SkillsApi, running
from tests.support.connector import bearer, sample_proxy
from tests.support.member import cli_env, login, skillport
from tests.support.servers import SIGNING

KEY = "sk-ant-test-" + "x" * 20
T0 = datetime(2026, 12, 1, tzinfo=UTC)


# -- the pure plan -------------------------------------------------------------------------------


def _catalog(*specs: tuple[str, str, str]) -> list[CatalogSkill]:
    return [
        CatalogSkill(plugin, name, version, ((f"{name}/SKILL.md", b""),)) for plugin, name, version in specs
    ]


def _api(id_: str, name: str, origin: Origin | None, age: int = 0) -> ApiSkill:
    return ApiSkill(id_, name, T0 + timedelta(seconds=age), origin)


def test_plan_creates_skips_versions_and_refuses_foreign_names() -> None:
    catalog = _catalog(
        ("p", "new", "1.0.0"), ("p", "same", "1.0.0"), ("p", "moved", "1.1.0"), ("p", "taken", "1.0.0")
    )
    workspace = [
        _api("s1", "same", Origin("m", "p", "1.0.0")),
        _api("s2", "moved", Origin("m", "p", "1.0.0")),
        _api("s3", "taken", None),  # uploaded by hand
    ]
    steps = {s.skill: s for s in plan_sync("m", catalog, workspace, prune=False)}
    assert steps["p:new"].kind == Kind.CREATE
    assert (steps["p:same"].kind, steps["p:same"].api_id) == (Kind.SKIP, "s1")
    assert (steps["p:moved"].kind, steps["p:moved"].api_id, steps["p:moved"].version) == (
        Kind.VERSION,
        "s2",
        "1.1.0",
    )
    assert steps["p:taken"].kind == Kind.CONFLICT and "did not upload" in steps["p:taken"].detail


def test_plan_prunes_only_what_this_catalog_created() -> None:
    workspace = [
        _api("ours", "gone", Origin("m", "p", "1.0.0")),
        _api("other-catalog", "gone2", Origin("another", "p", "1.0.0")),
        _api("by-hand", "gone3", None),
    ]
    assert plan_sync("m", [], workspace, prune=False) == ()
    pruned = plan_sync("m", [], workspace, prune=True)
    assert [(s.kind, s.api_id) for s in pruned] == [(Kind.PRUNE, "ours")]


def test_plan_keeps_the_oldest_copy_left_by_racing_syncs() -> None:
    workspace = [
        _api("late", "dup", Origin("m", "p", "1.0.0"), age=5),
        _api("early", "dup", Origin("m", "p", "1.0.0"), age=1),
    ]
    steps = plan_sync("m", _catalog(("p", "dup", "1.0.0")), workspace, prune=False)
    assert [(s.kind, s.api_id) for s in steps] == [(Kind.DEDUPE, "late"), (Kind.SKIP, "early")]


def test_same_skill_name_in_two_plugins_is_two_api_skills() -> None:
    catalog = _catalog(("a", "configure", "1.0.0"), ("b", "configure", "2.0.0"))
    workspace = [_api("s1", "configure", Origin("m", "a", "1.0.0"))]
    steps = {s.skill: s.kind for s in plan_sync("m", catalog, workspace, prune=True)}
    assert steps == {"a:configure": Kind.SKIP, "b:configure": Kind.CREATE}


def test_origin_marker_round_trips_and_fits_the_description_limit() -> None:
    origin = Origin("corp-skills", "finance-ops", "1.4.0-rc.1")
    text = with_origin("Reconcile invoices.", origin)
    assert text == "Reconcile invoices. (corp-skills/finance-ops 1.4.0-rc.1)"
    assert parse_origin(text) == origin
    assert with_origin(text, Origin("corp-skills", "finance-ops", "1.5.0")).count("(corp-skills/") == 1
    long = with_origin("x" * MAX_DESCRIPTION, origin)
    assert len(long) == MAX_DESCRIPTION and parse_origin(long) == origin
    assert parse_origin("Plain description (see docs)") is None


# -- the command against the stand-in ---------------------------------------------------------------


@pytest.fixture
def marketplace(examples_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "marketplace"
    shutil.copytree(examples_dir, copy)
    return copy


def _build(marketplace: Path, site: Path) -> dict[str, Any]:
    build(marketplace, site, keys=[SIGNING], now=datetime.now(UTC))
    doc: dict[str, Any] = json.loads((site / "index.json").read_text())
    return doc


@pytest.fixture
def api() -> Iterator[tuple[SkillsApi, str]]:
    with running(KEY) as served:
        yield served


def _sync(base_url: str, *args: str, key: str = KEY) -> tuple[int, dict[str, Any] | None, str]:
    env = {
        **os.environ,
        "ANTHROPIC_API_KEY": key,
        "ANTHROPIC_BASE_URL": base_url,
        "SKILLPORT_SIGNING_KEYS": SIGNING,
    }
    r = skillport(env, "sync-api", *args)
    summary = json.loads(r.stdout) if "--json" in args and r.stdout.strip() else None
    return r.returncode, summary, r.stdout + r.stderr


def _uploadable(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in doc["skills"] if s.get("zip")}


def test_first_sync_uploads_every_uploadable_skill_byte_for_byte(
    marketplace: Path, tmp_path: Path, api: tuple[SkillsApi, str]
) -> None:
    fake, url = api
    doc = _build(marketplace, tmp_path / "site")
    code, summary, out = _sync(url, str(tmp_path / "site"), "--json", "--workspace", "wrkspc_test")
    assert code == 0, out
    assert summary is not None and summary["counts"]["create"] == len(_uploadable(doc))
    held = {s.versions[-1].name: s for s in fake.skills.values()}
    assert set(held) == set(_uploadable(doc))
    for name, entry in _uploadable(doc).items():
        version = held[name].versions[-1]
        with zipfile.ZipFile(tmp_path / "site" / entry["zip"]["path"]) as z:
            in_zip = {i.filename: z.read(i) for i in z.infolist() if not i.is_dir()}
        assert version.files == in_zip  # what the page offers is what was uploaded, byte for byte
        assert {p.split("/", 1)[0] for p in version.files} == {name}
        front = parse(version.files[f"{name}/SKILL.md"].decode()).data
        assert set(front) <= set(SPEC_FRONTMATTER_KEYS)
        assert parse_origin(version.description) == Origin(
            doc["marketplace"]["name"], entry["plugin"], entry["version"]
        )
    assert {r.workspace for r in fake.requests} == {"wrkspc_test"}


def test_second_sync_changes_nothing_and_a_bump_adds_one_version_per_moved_skill(
    marketplace: Path, tmp_path: Path, api: tuple[SkillsApi, str]
) -> None:
    fake, url = api
    site = tmp_path / "site"
    before = _uploadable(_build(marketplace, site))
    assert _sync(url, str(site))[0] == 0
    posts = len(fake.calls("POST", r"/v1/skills.*"))

    code, summary, out = _sync(url, str(site), "--json")
    assert code == 0, out
    assert summary is not None and summary["counts"]["create"] == summary["counts"]["version"] == 0
    assert len(fake.calls("POST", r"/v1/skills.*")) == posts

    bump = skillport(
        dict(os.environ), "bump", "brand-voice", "minor", "--marketplace", str(marketplace), "--yes"
    )
    assert bump.returncode == 0, bump.stdout + bump.stderr
    after = _uploadable(_build(marketplace, site))
    moved = {name for name in after if after[name]["version"] != before[name]["version"]}
    assert "brand-voice" in moved  # with every skill that takes its version from the same plugin
    code, summary, out = _sync(url, str(site), "--json")
    assert code == 0, out
    assert summary is not None and (summary["counts"]["create"], summary["counts"]["version"]) == (
        0,
        len(moved),
    )
    assert len(fake.calls("POST", r"/v1/skills/[^/]+/versions")) == len(moved)
    for skill in fake.skills.values():
        name = skill.versions[0].name
        assert len(skill.versions) == (2 if name in moved else 1)
        origin = parse_origin(skill.versions[-1].description)
        assert origin is not None and origin.version == after[name]["version"]


def test_dry_run_plans_without_changing_anything(
    marketplace: Path, tmp_path: Path, api: tuple[SkillsApi, str]
) -> None:
    fake, url = api
    doc = _build(marketplace, tmp_path / "site")
    code, _, out = _sync(url, str(tmp_path / "site"), "--dry-run")
    assert code == 0, out
    assert out.count("would create ") == len(_uploadable(doc))
    assert fake.skills == {} and not fake.calls("POST", r".*")


def test_prune_deletes_only_skills_this_catalog_created(
    marketplace: Path, tmp_path: Path, api: tuple[SkillsApi, str]
) -> None:
    fake, url = api
    site = tmp_path / "site"
    _build(marketplace, site)
    assert _sync(url, str(site))[0] == 0
    by_hand = fake.add_foreign("team-notes", "Notes someone uploaded by hand.")
    gone = skillport(dict(os.environ), "delete", "brand-voice", "--marketplace", str(marketplace), "--yes")
    assert gone.returncode == 0, gone.stdout + gone.stderr
    _build(marketplace, site)

    code, summary, out = _sync(url, str(site), "--json")
    assert code == 0 and summary is not None and summary["counts"]["prune"] == 0, out
    assert any(s.versions[0].name == "brand-voice" for s in fake.skills.values())

    code, summary, out = _sync(url, str(site), "--json", "--prune")
    assert code == 0, out
    assert summary is not None and [s["skill"] for s in summary["steps"] if s["action"] == "prune"] == [
        "brand-and-comms:brand-voice"
    ]
    names = {s.versions[0].name for s in fake.skills.values()}
    assert "brand-voice" not in names and by_hand.id in fake.skills


def test_a_name_taken_by_hand_is_a_conflict_and_the_rest_still_syncs(
    marketplace: Path, tmp_path: Path, api: tuple[SkillsApi, str]
) -> None:
    fake, url = api
    doc = _build(marketplace, tmp_path / "site")
    fake.add_foreign("brand-voice", "Someone's own brand voice skill.")
    code, summary, _ = _sync(url, str(tmp_path / "site"), "--json")
    assert code == 1
    assert summary is not None and not summary["ok"]
    conflict = [s for s in summary["steps"] if s["action"] == "conflict"]
    assert [c["skill"] for c in conflict] == ["brand-and-comms:brand-voice"]
    assert summary["counts"]["create"] == len(_uploadable(doc)) - 1
    assert sum(1 for s in fake.skills.values() if s.versions[0].name == "brand-voice") == 1


def test_racing_syncs_leave_duplicates_the_next_run_resolves(
    marketplace: Path, tmp_path: Path, api: tuple[SkillsApi, str]
) -> None:
    fake, url = api
    site = tmp_path / "site"
    _build(marketplace, site)
    assert _sync(url, str(site))[0] == 0
    original = next(s for s in fake.skills.values() if s.versions[0].name == "brand-voice")
    # a second CI job that read the workspace before the first one's create landed creates it again
    client = anthropic.Anthropic(api_key=KEY, base_url=url)
    files = [(p, d) for p, d in sorted(original.versions[-1].files.items())]
    racer = client.skills.create(files=files)
    assert racer.id != original.id

    code, summary, out = _sync(url, str(site), "--json")
    assert code == 0, out
    assert summary is not None and [s["api_id"] for s in summary["steps"] if s["action"] == "dedupe"] == [
        racer.id
    ]
    assert [s.id for s in fake.skills.values() if s.versions[0].name == "brand-voice"] == [original.id]
    code, summary, _ = _sync(url, str(site), "--json")
    assert summary is not None and summary["counts"]["dedupe"] == 0


def test_429_is_retried_after_the_time_the_api_asks(
    marketplace: Path, tmp_path: Path, api: tuple[SkillsApi, str]
) -> None:
    fake, url = api
    doc = _build(marketplace, tmp_path / "site")
    fake.fail_next("POST", "/v1/skills", 429, {"retry-after": "1"})
    code, _, out = _sync(url, str(tmp_path / "site"), "--json")
    assert code == 0, out
    creates = fake.calls("POST", "/v1/skills")
    assert [c.status for c in creates[:2]] == [429, 200]
    assert creates[1].at - creates[0].at >= 0.9
    assert len(fake.skills) == len(_uploadable(doc))


def test_a_failing_skill_does_not_stop_the_others(
    marketplace: Path, tmp_path: Path, api: tuple[SkillsApi, str]
) -> None:
    fake, url = api
    doc = _build(marketplace, tmp_path / "site")
    fake.fail_next("POST", "/v1/skills", 503, times=2)  # the first create fails, retry included
    code, _, out = _sync(url, str(tmp_path / "site"), "--max-retries", "1")
    assert code == 1
    assert out.count("FAILED create ") == 1 and "HTTP 503" in out
    assert len(fake.calls("POST", "/v1/skills")) == len(_uploadable(doc)) + 1
    assert len(fake.skills) == len(_uploadable(doc)) - 1
    code, _, out = _sync(url, str(tmp_path / "site"))  # the next run catches up
    assert code == 0, out
    assert len(fake.skills) == len(_uploadable(doc))


def test_a_refused_key_is_one_clear_line(
    marketplace: Path, tmp_path: Path, api: tuple[SkillsApi, str]
) -> None:
    fake, url = api
    _build(marketplace, tmp_path / "site")
    code, _, out = _sync(url, str(tmp_path / "site"), key="sk-ant-wrong")
    assert code == 1
    assert "HTTP 401" in out and "ANTHROPIC_API_KEY" in out and "Traceback" not in out
    assert fake.skills == {}


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    code, _, out = _sync("http://127.0.0.1:9", key="")
    assert code == 2 and "SITE" in out
    code, _, out = _sync("http://127.0.0.1:9", str(tmp_path), key="")
    assert code == 2 and "ANTHROPIC_API_KEY" in out


def test_upload_zip_in_the_site_carries_the_origin_marker(tmp_path: Path, examples_dir: Path) -> None:
    doc = _build(examples_dir, tmp_path / "site")
    for entry in _uploadable(doc).values():
        with zipfile.ZipFile(io.BytesIO((tmp_path / "site" / entry["zip"]["path"]).read_bytes())) as z:
            front = parse(z.read(f"{entry['name']}/SKILL.md").decode()).data
        assert front["description"].startswith(entry["description"].rstrip())
        assert parse_origin(front["description"]) == Origin(
            doc["marketplace"]["name"], entry["plugin"], entry["version"]
        )


def test_index_url_reads_the_published_site_through_the_proxy_with_the_members_sign_in(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, api: tuple[SkillsApi, str]
) -> None:
    fake, url = api
    with sample_proxy(tmp_path_factory) as proxy:
        env = cli_env(tmp_path)
        signed_in = login(env, proxy.url, "alice")
        assert signed_in.returncode == 0, signed_in.stderr
        seen = httpx.get(proxy.url + "/index.json", headers=bearer(proxy, "alice")).json()
        uploadable = {s["skill"] for s in seen["skills"] if s.get("zip")}
        env.update(ANTHROPIC_API_KEY=KEY, ANTHROPIC_BASE_URL=url)
        done = skillport(env, "sync-api", "--index", proxy.url + "/index.json", "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        assert json.loads(done.stdout)["counts"]["create"] == len(uploadable) > 0
        assert {s.versions[-1].name for s in fake.skills.values()} == uploadable
        refused = skillport(env, "sync-api", "--index", proxy.url + "/index.json", "--prune")
        assert refused.returncode == 2 and "--prune needs the whole catalog" in refused.stderr
