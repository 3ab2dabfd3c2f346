"""The member CLI (`skillport`) run as a subprocess with its own home and config folders."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from tests.support.connector import sign_in_and_consent
from tests.support.paths import REPO_ROOT


def cli_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "xdg"), BROWSER="true")
    return env


def skillport(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "builder.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def login(env: dict[str, str], server: str, user: str) -> subprocess.CompletedProcess[str]:
    """``skillport login`` as a subprocess; this test plays the member's browser."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "builder.cli", "login", "--server", server, "--no-browser", "--json"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    url = ""
    for line in proc.stderr:
        if "/authorize?" in line:
            url = line.strip()
            break
    assert url, "login printed no sign-in URL"
    answer = sign_in_and_consent(url, user)
    redirect = parse_qs(urlsplit(url).query)["redirect_uri"][0]
    assert redirect.startswith("http://127.0.0.1:")
    assert httpx.get(redirect + "?" + urlencode(answer)).status_code == 200
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
