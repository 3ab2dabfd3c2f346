"""Shared test fixtures: where the repository, the example marketplace and external tools live."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import settings

from tests.support.paths import EXAMPLES, REPO_ROOT, TOOLS

# CI=true selects a derandomized hypothesis profile for every property test: the same examples every
# run, so a failure found once is found again (reproduce a red CI run locally with CI=true).
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    settings.load_profile("ci")
# Builds run by tests (``skillport build`` processes, the demo) skip the security scanner, which takes
# seconds per cold build; tests/test_scan.py runs the real one explicitly. Set SKILLPORT_SCANNER to the
# scanner's path to run the whole suite with it.
os.environ.setdefault("SKILLPORT_SCANNER", "off")


def _tool(name: str, env_var: str) -> str | None:
    explicit = os.environ.get(env_var)
    if explicit:
        return explicit
    local = TOOLS / "node_modules" / ".bin" / name
    if local.exists():
        return str(local)
    return shutil.which(name)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture(scope="session")
def claude_bin() -> str:
    """The Claude Code CLI (npm @anthropic-ai/claude-code), installed by `make tools` into .tools/."""
    found = _tool("claude", "SKILLPORT_CLAUDE_BIN")
    if not found:
        pytest.skip("Claude Code CLI not installed: run `make tools` (needs the npm registry)")
    return found


@pytest.fixture(scope="session")
def inspector_bin() -> str:
    """The MCP Inspector CLI (npm @modelcontextprotocol/inspector@2.12.0), installed by `make tools`."""
    found = _tool("mcp-inspector", "SKILLPORT_INSPECTOR_BIN")
    if not found:
        pytest.skip("MCP Inspector not installed: run `make tools` (needs the npm registry)")
    return found


@pytest.fixture(scope="session")
def agentskills_bin() -> str:
    """The Agent Skills reference validator (PyPI skills-ref), installed with the dev extras."""
    found = shutil.which("agentskills") or str(Path(sys.executable).parent / "agentskills")
    if not Path(found).exists():
        pytest.skip("agentskills (PyPI skills-ref) not installed: run `make test` to install dev extras")
    return found


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = os.environ.get("SKILLPORT_CHROMIUM", "/usr/bin/chromium")
    if not Path(path).exists():
        pytest.skip("Debian chromium not installed: `apt-get install -y chromium` (done by .ci/run)")
    return path
