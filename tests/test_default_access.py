"""A marketplace without ``.skillport/access.yaml``: the docs promise that every signed-in member reads
every plugin and nobody edits. Built by the real builder, served by the real proxy, read by a member."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.connector import SIGNING_KEY, bearer, oidc_provider
from tests.support.connector import run_proxy as run_mcp_proxy
from tests.support.servers import SIGNING, RunningProxy, login_with_mock, mock_provider, run_proxy
from tests.support.sites import FIXTURES, copy_site

FIXTURE = "no-access-file"
CAROL = {"sub": "carol", "email": "carol@corp.example", "email_verified": True, "hd": "corp.example"}


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    assert not (FIXTURES / FIXTURE / ".skillport" / "access.yaml").exists()
    root = tmp_path_factory.mktemp("open")
    copy_site(FIXTURE, root / "site", [SIGNING])
    with mock_provider([CAROL]) as issuer, run_proxy(root / "site", issuer, root) as running:
        yield running


def test_without_access_yaml_a_signed_in_member_reads_every_plugin(proxy: RunningProxy) -> None:
    with httpx.Client() as carol:
        login_with_mock(carol, proxy.url, "carol")
        index = carol.get(proxy.url + "index.json")
        assert index.status_code == 200
        doc = index.json()
        assert {p["name"] for p in doc["plugins"]} == {"handbook", "payroll"}
        assert {s["name"] for s in doc["skills"]} == {"onboarding", "payslip"}
        for record in [*doc["plugins"], *doc["skills"]]:
            download = carol.get(proxy.url + record["zip"]["path"])
            assert download.status_code == 200 and download.content[:2] == b"PK", record["zip"]["path"]
        for name in ("onboarding", "payslip"):
            assert carol.get(proxy.url + f"skills/{name}/").status_code == 200
        market = carol.get(proxy.url + "claude-code/marketplace.json").json()
        assert {p["name"] for p in market["plugins"]} == {"handbook", "payroll"}
        home = carol.get(proxy.url).text
        assert "onboarding" in home and "payslip" in home


def test_without_access_yaml_nobody_edits(tmp_path_factory: pytest.TempPathFactory) -> None:
    root = tmp_path_factory.mktemp("open-edit")
    copy_site(FIXTURE, root / "site", [SIGNING_KEY])
    with oidc_provider() as issuer, run_mcp_proxy(root / "site", issuer, root / "audit.jsonl") as running:
        me = httpx.get(running.url + "/api/v1/whoami", headers=bearer(running, "alice")).json()
    assert sorted(me["plugins"]) == ["handbook", "payroll"] and me["can_edit"] == []
