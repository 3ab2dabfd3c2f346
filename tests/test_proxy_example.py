"""The real build of examples/marketplace served through the proxy, and `python -m proxy.demo`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.servers import (
    BROWSER,
    RunningProxy,
    example_proxy,
    free_port,
    login_with_mock,
    wait_until_up,
)

USERS = [
    {"sub": "alice", "email": "alice@corp.example", "email_verified": True, "hd": "corp.example"},
    {"sub": "bob", "email": "bob@corp.example", "email_verified": True, "hd": "corp.example"},
]


@pytest.fixture(scope="module")
def built(examples_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningProxy, Any]]:
    with example_proxy(examples_dir, tmp_path_factory.mktemp("example"), USERS) as served:
        yield served


@pytest.mark.threat("T26")
def test_t26_example_finance_plugin_only_for_bob(built: tuple[RunningProxy, Any]) -> None:
    proxy, doc = built
    restricted = set((doc.get("access") or {}).get("plugins", {}))
    hidden = [s for s in doc["skills"] if s["plugin"] in restricted and s["plugin"].startswith("finance")]
    assert hidden, "the example's finance plugin is readable by the finance group only"
    with httpx.Client() as alice, httpx.Client() as bob:
        login_with_mock(alice, proxy.url, "alice")
        login_with_mock(bob, proxy.url, "bob")
        assert alice.get(proxy.url).status_code == 200
        alice_names = {s["name"] for s in alice.get(proxy.url + "index.json").json()["skills"]}
        bob_names = {s["name"] for s in bob.get(proxy.url + "index.json").json()["skills"]}
        for skill in hidden:
            assert skill["name"] not in alice_names and skill["name"] in bob_names
            assert alice.get(proxy.url + skill["zip"]["path"]).status_code == 404
            assert alice.get(proxy.url + f"skills/{skill['name']}/").status_code == 404
            assert bob.get(proxy.url + skill["zip"]["path"]).status_code == 200
            assert skill["name"] not in alice.get(proxy.url).text.split("<!--sp-plugin:")[0]
        search = alice.get(proxy.url + "search/search_index.json")
        assert search.status_code == 200
        assert not any(
            f"skills/{s['name']}/" in d.get("location", "") for s in hidden for d in search.json()["docs"]
        )


def test_demo_runs_and_stops_on_ctrl_c(repo_root: Path, tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "proxy.demo", "--port", str(port), "--site", str(tmp_path / "site")],
        cwd=repo_root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_up(url + "readyz", proc, 120, "the demo")
        with httpx.Client() as bob:
            login_with_mock(bob, url, "bob")
            assert bob.get(url + "index.json").status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert "alice@corp.example" in out and url in out
    idp = re.search(r"Identity provider \(oidc-provider-mock\): (http://127\.0\.0\.1:\d+/)", out)
    assert idp is not None
    with pytest.raises(httpx.ConnectError):  # Ctrl-C stopped the identity provider too
        httpx.get(idp.group(1) + ".well-known/openid-configuration", timeout=2)


@pytest.mark.threat("T59")
def test_t59_pages_say_who_is_signed_in_and_only_a_post_signs_out(built: tuple[RunningProxy, Any]) -> None:
    proxy, _ = built
    with httpx.Client(headers=BROWSER) as alice:
        login_with_mock(alice, proxy.url, "alice")
        page = alice.get(proxy.url + "skills/meeting-notes/")
        assert page.status_code == 200
        bar = re.search(r'<div class="sp-account[^"]*">(.*?)</div>', page.text)
        assert bar and "Signed in as alice@corp.example" in bar.group(1)
        form = re.search(r'<form class="sp-signout" method="post" action="([^"]+)">', bar.group(1))
        assert form and form.group(1) == proxy.url + "logout"
        assert "<!--sp-account-->" not in page.text and 'href="' + proxy.url + 'logout"' not in page.text
        # a GET (a link or a cross-site top-level navigation, which carries a Lax cookie) only asks
        asked = alice.get(form.group(1), headers={"Sec-Fetch-Site": "cross-site"})
        assert asked.status_code == 200 and 'method="post"' in asked.text
        assert alice.get(proxy.url + "skills/meeting-notes/").status_code == 200  # still signed in
        # a cross-site POST is refused; the page's own form signs out
        refused = alice.post(form.group(1), headers={"Sec-Fetch-Site": "cross-site"})
        assert refused.status_code == 403
        assert alice.get(proxy.url + "skills/meeting-notes/").status_code == 200
        done = alice.post(form.group(1), headers={"Sec-Fetch-Site": "same-origin", "Origin": "null"})
        assert done.status_code == 303 and done.headers["location"] == "/signed-out"
        after = alice.get(proxy.url + "skills/meeting-notes/", follow_redirects=False)
        assert after.status_code in (302, 303) and "/login" in after.headers["location"]


def test_a_static_host_shows_no_account_line(built: tuple[RunningProxy, Any]) -> None:
    proxy, _ = built
    site = Path(proxy.app.state.skillport.settings.origin)
    page = (site / "skills" / "meeting-notes" / "index.html").read_text()
    assert "<!--sp-account-->" in page and "sp-account md-grid" not in page


def test_demo_stops_everything_it_started_on_sigterm(repo_root: Path, tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "proxy.demo", "--port", str(port), "--site", str(tmp_path / "site")],
        cwd=repo_root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_up(url + "readyz", proc, 120, "the demo")
    finally:
        proc.send_signal(signal.SIGTERM)  # only the demo process, as a service manager would
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    idp = re.search(r"Identity provider \(oidc-provider-mock\): (http://127\.0\.0\.1:\d+/)", out)
    assert idp is not None, out
    for target in (idp.group(1) + ".well-known/openid-configuration", url + "healthz"):
        with pytest.raises(httpx.ConnectError):
            httpx.get(target, timeout=2)


def test_make_demo_on_a_taken_port_fails_before_building(repo_root: Path, tmp_path: Path) -> None:
    import socket

    site = repo_root / "site"
    before = site.stat().st_mtime_ns if site.exists() else None
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        done = subprocess.run(
            ["make", "-s", "demo", f"PORT={port}"],
            cwd=repo_root,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode != 0
    assert f"port {port} on 127.0.0.1 is not available" in done.stderr and "PORT=" in done.stderr
    assert "built " not in done.stdout  # nothing was rebuilt
    assert (site.stat().st_mtime_ns if site.exists() else None) == before
    assert time.monotonic() - started < 60


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(p) for p in found.stdout.split()]


def test_demo_sigterm_while_starting_leaves_no_identity_provider_behind(
    repo_root: Path, tmp_path: Path
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "proxy.demo", "--port", str(free_port()), "--site", str(tmp_path / "site")],
        cwd=repo_root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    children: list[int] = []
    while not children:  # the identity provider was just started; the proxy is not up yet
        assert proc.poll() is None and time.monotonic() < deadline, "demo never started its IdP"
        children = _children(proc.pid)
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=30)
    alive = []
    for child in children:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            continue
        alive.append(child)
        os.kill(child, signal.SIGKILL)  # clean up what the old demo left behind
    assert alive == [], "the identity provider outlived the demo"
    assert code == 0
