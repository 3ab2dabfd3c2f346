"""The member CLI against the real proxy: ``skillport login`` (browser sign-in via the proxy's OAuth
server, token stored 0600), ``search``, ``install`` (sha256 checked against the signed index, then
``agentskills validate``), and ``updates`` reporting / applying a bump an editor published."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from builder import frontmatter
from builder.client.credentials import credentials_path
from builder.client.install import installed_skills
from builder.client.member import EXIT_SIGN_IN
from tests.support.connector import Proxy, bearer
from tests.support.member import REPO_ROOT, cli_env, login, skillport
from tests.support.publishing import editing_proxy


@pytest.fixture
def proxy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Proxy]:
    with editing_proxy(tmp_path, monkeypatch) as running:
        yield running


def test_login_search_install_then_updates_after_a_bump(
    proxy: Proxy, tmp_path: Path, agentskills_bin: str
) -> None:
    env = cli_env(tmp_path)
    done = login(env, proxy.url + "/", "alice")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["email"] == "alice@corp.example"
    creds = credentials_path(env)
    assert creds == tmp_path / "xdg" / "skillport" / "credentials.json"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert json.loads(creds.read_text())["server"] == proxy.url

    found = skillport(env, "search", "second", "skill")
    assert found.returncode == 0, found.stderr
    assert found.stdout.startswith("two 0.9.0  (alpha)")
    as_json = json.loads(skillport(env, "search", "--json").stdout)
    assert {r["name"] for r in as_json["results"]} == {"one", "two", "solo"}

    target = tmp_path / "skills"
    inst = skillport(env, "install", "two", "--target", str(target), "--json")
    assert inst.returncode == 0, inst.stderr
    assert json.loads(inst.stdout)["version"] == "0.9.0"
    # this site was built without the scanner: install says so, never "safe"
    assert json.loads(inst.stdout)["scan"]["status"] == "not-scanned"
    assert (target / "two/scripts/run.py").read_text() == "print('hi')\n"
    assert os.access(target / "two/scripts/run.py", os.X_OK)
    meta = frontmatter.parse((target / "two/SKILL.md").read_text()).data["metadata"]
    assert meta["version"] == "0.9.0" and meta["plugin"] == "alpha"
    check = subprocess.run([agentskills_bin, "validate", str(target / "two")], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr

    current = json.loads(skillport(env, "updates", "--target", str(target), "--json").stdout)
    assert current["updates"] == [] and current["current"] == ["two"]

    bumped = httpx.post(
        proxy.url + "/api/v1/skills/two/bump",
        json={"part": "minor", "note": "Handles the second case too"},
        headers=bearer(proxy, "bob"),
        timeout=60,
    )
    assert bumped.status_code == 200 and bumped.json()["version"] == "0.10.0", bumped.text

    text = skillport(env, "updates", "--target", str(target))
    assert text.returncode == 0, text.stderr
    assert "two: 0.9.0 -> 0.10.0" in text.stdout and "Handles the second case too" in text.stdout
    applied = skillport(env, "updates", "--target", str(target), "--apply", "--json")
    assert applied.returncode == 0, applied.stderr
    assert [a["version"] for a in json.loads(applied.stdout)["applied"]] == ["0.10.0"]
    assert installed_skills(target)[0]["version"] == "0.10.0"
    assert sorted(p.name for p in target.iterdir()) == ["two"]  # no staging or backup left behind


def test_commands_without_login_exit_3_and_say_how_to_sign_in(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    for args in (["search", "pdf"], ["install", "one"], ["updates"]):
        done = skillport(env, *args)
        assert done.returncode == EXIT_SIGN_IN, (args, done.stderr)
        assert "skillport login" in done.stderr
    assert skillport(env, "login").returncode == 2  # usage error: the first login needs --server


def test_near_miss_skill_names_get_a_suggestion(proxy: Proxy, tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    assert login(env, proxy.url + "/", "alice").returncode == 0
    wrong = skillport(env, "install", "tow", "--target", str(tmp_path / "skills"))
    assert wrong.returncode == 1
    assert "Did you mean: two?" in wrong.stderr, wrong.stderr
    assert not (tmp_path / "skills" / "tow").exists()
    right = skillport(env, "install", "two", "--target", str(tmp_path / "skills"))
    assert right.returncode == 0, right.stderr
    assert "Security scan: NOT SCANNED" in right.stdout  # the text output says so, never "safe"
    found = skillport(env, "search", "soloo")
    assert found.returncode == 0 and found.stdout.strip() == "No skills match. Did you mean: solo?"
    assert json.loads(skillport(env, "search", "soloo", "--json").stdout)["hint"] == "Did you mean: solo?"


def _headless_env(tmp_path: Path) -> dict[str, str]:
    """An SSH login on a server: no display, no $BROWSER."""
    env = {k: v for k, v in cli_env(tmp_path).items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER")}
    env["SSH_CONNECTION"] = "192.0.2.10 50000 192.0.2.20 22"
    return env


def test_login_with_no_browser_and_no_terminal_fails_at_once(proxy: Proxy, tmp_path: Path) -> None:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "builder.cli", "login", "--server", proxy.url + "/"],
        cwd=REPO_ROOT,
        env=_headless_env(tmp_path),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,  # before the fix it waited 300 s for a browser that could not open
        check=False,
    )
    assert done.returncode == 1
    assert "no browser can be opened here" in done.stderr and "interactive terminal" in done.stderr
    assert time.monotonic() - started < 20
    assert not credentials_path(_headless_env(tmp_path)).exists()
