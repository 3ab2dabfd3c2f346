"""The official MCP conformance suite (npm ``@modelcontextprotocol/conformance``, run by the Node 22 that
``make tools`` installs) against the real proxy's ``/mcp`` for protocols 2025-11-25 and 2026-07-28, and
its authorization checks against the proxy's OAuth server.

The suite cannot send headers, so the proxy runs behind ``BearerInjector`` (tests/support/connector.py),
which adds an access token obtained through the real OAuth flow (registration, sign-in at the identity
provider, consent, PKCE token exchange). Checks a one-tool server cannot pass are listed, each with its
reason, in ``tests/conformance/server-<version>.yml``; anything else failing — or a listed check that
starts passing — fails the test."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from tests.support.connector import (
    BearerInjector,
    Proxy,
    exchange,
    free_port,
    get_code,
    oidc_provider,
    register,
    run_proxy,
    sign_in_and_consent,
    write_site,
)
from tests.support.paths import TOOLS

BASELINES = Path(__file__).parent / "conformance"
VERSIONS = ("2025-11-25", "2026-07-28")


@pytest.fixture(scope="session")
def conformance() -> list[str]:
    """``[node, cli]``: the pinned suite and the Node >= 22 it needs, both from ``make tools``."""
    node = TOOLS / "node_modules" / "node" / "bin" / "node"
    cli = TOOLS / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
    if not node.exists() or not cli.exists():
        pytest.skip(
            "MCP conformance suite or Node 22 not installed: run `make tools` (needs the npm registry)"
        )
    return [str(node), str(cli)]


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    root = tmp_path_factory.mktemp("site")
    write_site(root)
    audit = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    with oidc_provider() as issuer, run_proxy(root, issuer, audit, wrap=BearerInjector) as running:
        client_id, code, verifier = get_code(running, "alice")
        running.extra["wrap"].token = exchange(running, client_id, code, verifier).json()["access_token"]
        yield running


def _totals(output: str) -> str:
    found = re.findall(r"Total: (\d+) passed, (\d+) failed", output)
    return f"{found[-1][0]} passed, {found[-1][1]} failed" if found else "no totals"


@pytest.mark.external
@pytest.mark.parametrize("version", VERSIONS)
def test_conformance_server_suite(conformance: list[str], proxy: Proxy, version: str, tmp_path: Path) -> None:
    baseline = BASELINES / f"server-{version}.yml"
    done = subprocess.run(
        [
            *conformance,
            "server",
            "--url",
            proxy.url + "/mcp",
            "--suite",
            "all",
            "--spec-version",
            version,
            "--expected-failures",
            str(baseline),
            "-o",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        check=False,
    )
    print(f"MCP conformance {version}: {_totals(done.stdout)} (expected failures: {baseline.name})")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    # the run really exercised the one tool with the injected token (not a 401 loop)
    assert re.search(r"tools-list: [1-9]\d* passed, 0 failed", done.stdout), done.stdout[-3000:]


@pytest.mark.external
def test_conformance_authorization_server(conformance: list[str], proxy: Proxy, tmp_path: Path) -> None:
    """Metadata and the authorization-code grant, with a person signing in when the suite asks."""
    port = free_port()
    client_id = register(proxy, f"http://127.0.0.1:{port}/callback").json()["client_id"]
    proc = subprocess.Popen(
        [
            *conformance,
            "authorization",
            "--url",
            proxy.url + "/",
            "--client-id",
            client_id,
            "--resource",
            proxy.url + "/mcp",
            "-p",
            str(port),
            "-o",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    timer = threading.Timer(300, proc.kill)
    timer.start()
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith(proxy.url + "/authorize?"):
                params = sign_in_and_consent(line.strip(), "alice")
                assert params.get("iss") == proxy.url + "/", params  # RFC 9207, as advertised
                _deliver(f"http://127.0.0.1:{port}/callback?" + urlencode(params))
        code = proc.wait(timeout=60)
    finally:
        timer.cancel()
    output = "".join(lines)
    print(f"MCP conformance authorization: {_totals(output)}")
    assert code == 0 and re.search(r"Total: [1-9]\d* passed, 0 failed", output), output[-4000:]
    checks = [c for p in tmp_path.glob("*/checks.json") for c in json.loads(p.read_text())]
    assert {"authorization-server-metadata", "authorization-code-grant"} <= {c["id"] for c in checks}


def _deliver(url: str) -> None:
    """The browser's last step: the redirect lands on the suite's callback server."""
    for _ in range(50):
        try:
            httpx.get(url, timeout=5).raise_for_status()
            return
        except httpx.ConnectError:
            time.sleep(0.1)
    raise AssertionError(f"the suite's callback server never answered at {url.split('?')[0]}")


def test_every_expected_failure_says_why() -> None:
    for version in VERSIONS:
        lines = (BASELINES / f"server-{version}.yml").read_text().splitlines()
        entries = [line for line in lines if line.startswith("  - ")]
        assert entries, version
        for line in entries:
            entry, _, reason = line[4:].partition("  # ")
            assert re.fullmatch(r"[a-z0-9-]+:[a-z0-9-]+", entry), line
            assert len(reason.split()) >= 5, f"{version}: {entry} needs a one-line reason"
