"""The MCP Inspector CLI (an independent client) lists exactly one tool with a bearer token."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.connector import Proxy, exchange, get_code, sample_proxy


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    with sample_proxy(tmp_path_factory) as running:
        yield running


def inspector(bin_: str, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "DISABLE_TELEMETRY": "1", "NO_COLOR": "1"}
    return subprocess.run(
        ["timeout", "120", bin_, "--cli", *args], capture_output=True, text=True, env=env, check=False
    )


@pytest.mark.external
def test_inspector_lists_exactly_one_tool(proxy: Proxy, inspector_bin: str, tmp_path: Path) -> None:
    client_id, code, verifier = get_code(proxy)
    access = exchange(proxy, client_id, code, verifier).json()["access_token"]
    done = inspector(
        inspector_bin,
        tmp_path,
        proxy.url + "/mcp",
        "--transport",
        "http",
        "--method",
        "tools/list",
        "--header",
        f"Authorization: Bearer {access}",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    listed = json.loads(done.stdout[done.stdout.index("{") :])
    assert [t["name"] for t in listed["tools"]] == ["skillport"]


@pytest.mark.external
@pytest.mark.threat("T25")
def test_t25_inspector_without_a_token_is_refused(proxy: Proxy, inspector_bin: str, tmp_path: Path) -> None:
    done = inspector(
        inspector_bin, tmp_path, proxy.url + "/mcp", "--transport", "http", "--method", "tools/list"
    )
    assert done.returncode != 0 or '"tools"' not in done.stdout
