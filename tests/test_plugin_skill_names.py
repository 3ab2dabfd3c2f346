"""Skills are ``plugin:skill``: two plugins may each have a ``configure``. The builder publishes both
(index names, pages and download paths apart), and the proxy's API (the connector's actions, which the
member CLI calls) tells them apart; a bare name still works where it is unique (T43)."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from builder import index
from builder.build import build
from tests.support.connector import SIGNING_KEY, Proxy, bearer, oidc_provider, run_proxy
from tests.support.marketplaces import make_marketplace, skill_text, write_skill


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_marketplace(
        tmp_path_factory.mktemp("mp") / "mp", {"tools": ["alpha", "configure"], "more": []}
    )
    write_skill(root, "more", "configure", skill_text("configure", "Configure the more plugin's settings."))
    out = tmp_path_factory.mktemp("site") / "site"
    build(root, out, keys=[SIGNING_KEY], now=datetime.now(UTC))
    return out


@pytest.fixture(scope="module")
def proxy(site: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    audit = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    with oidc_provider() as issuer, run_proxy(site, issuer, audit) as running:
        yield running


def _doc(site: Path) -> dict[str, Any]:
    return index.verify(
        (site / "index.json").read_bytes(),
        (site / "index.json.sig").read_bytes(),
        [SIGNING_KEY],
        now=datetime.now(UTC),
    ).to_dict()


@pytest.mark.threat("T43")
def test_t43_two_plugins_with_a_configure_skill_publish_two_skills(site: Path) -> None:
    skills = {s["id"]: s for s in _doc(site)["skills"]}
    assert set(skills) == {"tools:alpha", "tools:configure", "more:configure"}
    assert skills["tools:alpha"]["name"] == "alpha"  # unique: the bare name
    assert (skills["tools:configure"]["name"], skills["more:configure"]["name"]) == (
        "tools.configure",
        "more.configure",
    )
    paths = {s["zip"]["path"] for s in skills.values()}
    assert len(paths) == 3 and all((site / p).is_file() for p in paths)
    for key in ("tools.configure", "more.configure"):
        assert (site / "skills" / key / "index.html").is_file()
        with zipfile.ZipFile(site / skills[key.replace(".", ":")]["zip"]["path"]) as zf:
            assert zf.namelist()[0] == "configure/"  # the upload zip still holds the skill's own folder
    more = next(p for p in _doc(site)["plugins"] if p["name"] == "more")
    with zipfile.ZipFile(site / more["zip"]["path"]) as zf:
        assert "Configure the more plugin" in zf.read("skills/configure/SKILL.md").decode()


@pytest.mark.threat("T43")
def test_t43_the_api_tells_plugin_skill_names_apart_and_bare_names_work_when_unique(proxy: Proxy) -> None:
    alice = bearer(proxy, "alice")
    api = proxy.url + "/api/v1"
    tools = httpx.get(api + "/skills/tools:configure", headers=alice)
    more = httpx.get(api + "/skills/more:configure", headers=alice)
    assert tools.status_code == more.status_code == 200, tools.text + more.text
    assert (tools.json()["plugin"], more.json()["plugin"]) == ("tools", "more")
    assert httpx.get(api + "/skills/more.configure", headers=alice).json()["plugin"] == "more"
    assert httpx.get(api + "/skills/configure", headers=alice).status_code == 404  # ambiguous
    assert httpx.get(api + "/skills/alpha", headers=alice).status_code == 200
    assert httpx.get(api + "/skills/tools:alpha", headers=alice).status_code == 200
    assert httpx.get(api + "/skills/more:alpha", headers=alice).status_code == 404
    found = httpx.get(api + "/search", params={"query": "configure"}, headers=alice).json()["results"]
    assert {(r["name"], r["plugin"]) for r in found} >= {
        ("tools.configure", "tools"),
        ("more.configure", "more"),
    }


def test_installing_more_configure_downloads_that_plugin_s_zip(proxy: Proxy, site: Path) -> None:
    alice = bearer(proxy, "alice")
    r = httpx.get(
        proxy.url + "/api/v1/skills/more:configure/install", params={"surface": "claude-ai"}, headers=alice
    )
    assert r.status_code == 200, r.text
    data = httpx.get(r.json()["download"], follow_redirects=True).content
    entry = next(s for s in _doc(site)["skills"] if s["id"] == "more:configure")
    assert hashlib.sha256(data).hexdigest() == entry["zip"]["sha256"] == r.json()["sha256"]
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert "Configure the more plugin" in zf.read("configure/SKILL.md").decode()
