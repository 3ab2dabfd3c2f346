"""The admin page (issue 17): what an organization's Claude owners upload, shown to editors only.

The example marketplace is built by the real builder and served by the real proxy with a real OIDC
provider. alice edits (platform group), bob edits finance-ops, carol edits nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from builder.contract.index import AccessSection, Rule
from builder.provisioning import group_plugins
from tests.support.servers import (
    BROWSER,
    RunningProxy,
    example_proxy,
    login_with_mock,
)

USERS = [
    {"sub": sub, "email": f"{sub}@corp.example", "email_verified": True, "hd": "corp.example"}
    for sub in ("alice", "bob", "carol")
]


@pytest.fixture(scope="module")
def served(
    examples_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningProxy, Any]]:
    with example_proxy(examples_dir, tmp_path_factory.mktemp("admin"), USERS) as served:
        yield served


@contextlib.contextmanager
def _member(proxy: RunningProxy, sub: str) -> Iterator[httpx.Client]:
    with httpx.Client(headers=BROWSER) as client:
        login_with_mock(client, proxy.url, sub)
        yield client


def test_group_plugins_follow_the_access_rules() -> None:
    access = AccessSection(
        groups={"finance": ("bob@corp.example",), "comms": ("a@x", "b@x")},
        default=Rule(("*",), ("comms",)),
        plugins={"ledger": Rule(("finance",), ("finance",)), "brand": Rule(("comms", "finance"), ("comms",))},
    )
    groups = {g.name: g for g in group_plugins(access, ["brand", "ledger", "open"])}
    assert groups["finance"].plugins == ("brand", "ledger") and groups["finance"].members == 1
    assert groups["comms"].plugins == ("brand",) and groups["comms"].members == 2
    assert group_plugins(None, ["open"]) == ()


@pytest.mark.threat("T26")
def test_t26_admin_page_lists_upload_zips_for_editors_only(served: tuple[RunningProxy, Any]) -> None:
    proxy, doc = served
    with _member(proxy, "alice") as alice, _member(proxy, "bob") as bob, _member(proxy, "carol") as carol:
        page = alice.get(proxy.url + "admin/")
        assert page.status_code == 200
        readable = {
            s["name"]: s
            for s in alice.get(proxy.url + "index.json", headers={"Accept": "application/json"}).json()[
                "skills"
            ]
        }
        links = set(re.findall(r'class="sp-admin__zip" href="\.\./(skills/[^"]+\.zip)"', page.text))
        # every upload zip alice may read, exactly the zips `skillport sync-api` uploads
        assert links == {s["zip"]["path"] for s in readable.values() if s.get("zip")}
        for path in sorted(links)[:2]:
            data = alice.get(proxy.url + path).content
            entry = next(s for s in readable.values() if s.get("zip") and s["zip"]["path"] == path)
            assert hashlib.sha256(data).hexdigest() == entry["zip"]["sha256"]
        assert "Organization settings" in page.text and "(corp-skills/PLUGIN 1.2.0)" in page.text
        hidden = [s for s in doc["skills"] if s["name"] not in readable]
        assert hidden, "the example hides the finance plugin from alice"
        assert all(f"skills/{s['name']}/" not in page.text for s in hidden)
        assert 'href="admin/"' in alice.get(proxy.url).text  # the home page points editors at it

        bob_page = bob.get(proxy.url + "admin/")
        assert bob_page.status_code == 200
        assert all(f"skills/{s['name']}/" in bob_page.text for s in hidden)
        assert re.search(r"Group finance.*?plugins/finance-ops/", bob_page.text, re.DOTALL)

        assert carol.get(proxy.url + "admin/").status_code in (403, 404)
        assert 'href="admin/"' not in carol.get(proxy.url).text
        search = carol.get(proxy.url + "search/search_index.json", headers={"Accept": "application/json"})
        if search.status_code == 200:
            assert not any(d.get("location", "").startswith("admin/") for d in search.json().get("docs", []))


@pytest.mark.threat("T26")
def test_t26_a_large_catalogs_per_plugin_provisioning_pages_follow_read_access(
    examples_dir: Path, tmp_path: Path
) -> None:
    """With more skills than a page holds, each plugin's zips move to admin/<plugin>/: an editor sees
    the pages of the plugins they may read, and nothing (404) of the others, not even the name."""
    with contextlib.ExitStack() as stack:
        proxy, _doc = stack.enter_context(example_proxy(examples_dir, tmp_path, USERS, page_size=3))
        alice, bob, carol = (stack.enter_context(_member(proxy, sub)) for sub in ("alice", "bob", "carol"))
        index = alice.get(proxy.url + "admin/")
        assert index.status_code == 200 and 'href="brand-and-comms/"' in index.text
        assert "finance-ops" not in index.text  # alice may not read it
        page = alice.get(proxy.url + "admin/brand-and-comms/")
        assert page.status_code == 200 and 'href="../../skills/brand-voice/brand-voice-' in page.text
        hidden = alice.get(proxy.url + "admin/finance-ops/")
        assert hidden.status_code == 404 and "finance-ops" not in hidden.text
        assert bob.get(proxy.url + "admin/finance-ops/").status_code == 200
        assert carol.get(proxy.url + "admin/brand-and-comms/").status_code in (403, 404)
