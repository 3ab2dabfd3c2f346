"""Editors through the proxy: ``/api/v1`` bump / delete / publish commit to a real bare Git remote as
the service (``Requested-by:`` the editor), non-editors are refused (T39), bad changes and unsafe zips
never reach the remote (T40, T45), and ``--rebuild`` makes the catalog show the change at once."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from builder.authoring.remote import GitPublisher
from proxy.publisher import ProxyPublisher
from tests.support.authoring import git, git_env
from tests.support.connector import Proxy, bearer
from tests.support.publishing import editing_proxy, heads, make_remote

NEW_SKILL = (
    b'---\nname: notes\ndescription: Take meeting notes.\nmetadata:\n  version: "1.0.0"\n---\n\nNotes.\n'
)


@dataclass
class Setup:
    proxy: Proxy
    remote: Path
    bob: dict[str, str]
    alice: dict[str, str]

    def api(self, path: str) -> str:
        return self.proxy.url + "/api/v1" + path


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    with editing_proxy(tmp_path, monkeypatch) as proxy:
        yield Setup(proxy, tmp_path / "market.git", bearer(proxy, "bob"), bearer(proxy, "alice"))


def test_editor_bump_lands_on_main_with_requested_by_and_rebuild_shows_it(setup: Setup) -> None:
    assert httpx.get(setup.api("/skills/one"), headers=setup.alice).json()["version"] == "1.2.3"
    r = httpx.post(setup.api("/skills/one/bump"), json={"part": "minor"}, headers=setup.bob, timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["version"], body["branch"], body["status"]) == ("1.3.0", "main", "live")
    assert body["requested_by"] == "bob@corp.example"
    log = git(setup.remote, "log", "-1", "--format=%an <%ae>%n%B", "main")
    assert log.startswith("Skillport <skillport@corp.example>\nBump one to 1.3.0")
    assert "Requested-by: bob@corp.example" in log
    # --rebuild: the catalog, the index and the connector show the new version at once
    assert httpx.get(setup.api("/skills/one"), headers=setup.alice).json()["version"] == "1.3.0"
    ups = httpx.post(
        setup.api("/updates"), json={"installed": [{"name": "one", "version": "1.2.3"}]}, headers=setup.alice
    ).json()
    assert ups["updates"][0]["latest"] == "1.3.0"


@pytest.mark.threat("T39")
def test_t39_non_editor_is_refused_and_the_remote_is_untouched(setup: Setup) -> None:
    before = heads(setup.remote)
    r = httpx.post(setup.api("/skills/one/bump"), json={"part": "patch"}, headers=setup.alice)
    assert r.status_code == 403 and "may not edit plugin 'alpha'" in r.json()["message"]
    r = httpx.post(
        setup.api("/skills/notes/publish"),
        json={"plugin": "alpha", "files": {"SKILL.md": NEW_SKILL.decode()}},
        headers=setup.alice,
    )
    assert r.status_code == 403
    assert heads(setup.remote) == before
    denied = [e for e in setup.proxy.audit() if e.get("action") == "denied"]
    assert len(denied) == 2 and {e["email"] for e in denied} == {"alice@corp.example"}


@pytest.mark.threat("T40")
def test_t40_publish_that_fails_validation_leaves_the_remote_untouched(setup: Setup) -> None:
    before = heads(setup.remote)
    broken = "---\nname: notes\ndescription: [unclosed\n---\n"
    r = httpx.post(
        setup.api("/skills/notes/publish"),
        json={"plugin": "alpha", "files": {"SKILL.md": broken}},
        headers=setup.bob,
        timeout=60,
    )
    assert r.status_code == 400, r.text
    assert heads(setup.remote) == before
    # the next valid change still lands (the working copy recovered)
    r = httpx.post(setup.api("/skills/two/bump"), json={"part": "patch"}, headers=setup.bob, timeout=60)
    assert r.status_code == 200 and r.json()["version"] == "0.9.1"


@pytest.mark.threat("T49")
def test_t49_publish_of_an_svg_with_a_script_is_refused_naming_the_file(setup: Setup) -> None:
    before = heads(setup.remote)
    svg = '<svg xmlns="http://www.w3.org/2000/svg" onload="fetch(\'/index.json\')"><rect/></svg>'
    for body in (
        {"plugin": "alpha", "files": {"SKILL.md": NEW_SKILL.decode(), "assets/x.svg": svg}},
        {
            "plugin": "alpha",
            "zip": _zip({"notes/SKILL.md": NEW_SKILL, "notes/page.html": b"<script>x()</script>"}),
        },
    ):
        r = httpx.post(setup.api("/skills/notes/publish"), json=body, headers=setup.bob, timeout=60)
        assert r.status_code == 400, r.text
        message = r.json()["message"]
        assert ("x.svg" in message or "page.html" in message) and "browser would run" in message, message
    assert heads(setup.remote) == before


def _zip(entries: dict[str, bytes]) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return base64.b64encode(buf.getvalue()).decode()


@pytest.mark.threat("T45")
def test_t45_publish_zip_new_skill_is_live_and_unsafe_zip_is_refused_before_writing(setup: Setup) -> None:
    before = heads(setup.remote)
    evil = _zip({"SKILL.md": NEW_SKILL, "../../escape.md": b"x"})
    r = httpx.post(
        setup.api("/skills/notes/publish"), json={"plugin": "alpha", "zip": evil}, headers=setup.bob
    )
    message = r.json()["message"]
    assert r.status_code == 400 and "../../escape.md" in message and "relative paths only" in message
    assert heads(setup.remote) == before
    good = _zip({"SKILL.md": NEW_SKILL, "references/guide.md": b"# Guide\n"})
    r = httpx.post(
        setup.api("/skills/notes/publish"),
        json={"plugin": "alpha", "zip": good},
        headers=setup.bob,
        timeout=60,
    )
    assert r.status_code == 200, r.text
    assert r.json()["action"] == "publish" and r.json()["version"] == "1.0.0"
    assert git(setup.remote, "show", "main:plugins/alpha/skills/notes/references/guide.md") == "# Guide\n"
    found = httpx.get(setup.api("/search"), params={"query": "meeting notes"}, headers=setup.alice).json()
    assert [s["name"] for s in found["results"]][:1] == ["notes"]


def test_delete_needs_confirm_then_removes_the_skill(setup: Setup) -> None:
    r = httpx.delete(setup.api("/skills/solo"), headers=setup.bob)
    assert r.status_code == 200 and r.json()["confirm_needed"] is True
    r = httpx.delete(setup.api("/skills/solo"), params={"confirm": "true"}, headers=setup.bob, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["action"] == "delete"
    assert "plugins/beta" not in git(setup.remote, "ls-tree", "--name-only", "main", "plugins/")
    assert httpx.get(setup.api("/skills/solo"), headers=setup.alice).status_code == 404


def test_concurrent_bumps_from_editors_both_land(setup: Setup) -> None:
    results: list[httpx.Response] = []

    def bump() -> None:
        results.append(
            httpx.post(setup.api("/skills/one/bump"), json={"part": "patch"}, headers=setup.bob, timeout=60)
        )

    threads = [threading.Thread(target=bump) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in results] == [200, 200], [r.text for r in results]
    assert sorted(r.json()["version"] for r in results) == ["1.2.4", "1.2.5"]
    subjects = git(setup.remote, "log", "--format=%s", "main").splitlines()
    assert subjects[:2] == ["Bump one to 1.2.5", "Bump one to 1.2.4"]


@dataclass(frozen=True)
class _Member:
    sub: str
    email: str


def test_branch_mode_pushes_for_review_and_leaves_main_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    git_env(monkeypatch, tmp_path)
    remote = make_remote(tmp_path)
    before = heads(remote)["refs/heads/main"]
    rebuilt: list[Any] = []
    publisher = ProxyPublisher(
        GitPublisher(
            str(remote),
            branch_mode=True,
            workdir=tmp_path / "work",
            author_name="Skillport",
            author_email="skillport@corp.example",
        ),
        rebuild=lambda root, now: rebuilt.append(root),
    )
    member = _Member("bob", "bob@corp.example")
    out = asyncio.run(publisher.bump(member, "alpha", "one", "major", now=datetime.now(UTC)))
    assert out["status"] == "review" and out["branch"].startswith("skillport/bump-one-")
    after = heads(remote)
    assert after["refs/heads/main"] == before
    assert "Requested-by: bob@corp.example" in git(remote, "log", "-1", "--format=%B", out["branch"])
    assert rebuilt == []  # nothing changed on main: no rebuild
    market = json.loads(git(remote, "show", f"{out['branch']}:plugins/alpha/.claude-plugin/plugin.json"))
    assert market["version"] == "2.0.0"


def test_serve_rebuild_needs_a_marketplace_remote_and_a_local_origin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from proxy.serve import main
    from tests.support.connector import proxy_env

    for key, value in proxy_env(tmp_path, "http://127.0.0.1:9", 8000, tmp_path / "audit").items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("SKILLPORT_MARKETPLACE_GIT", raising=False)
    assert main(["--rebuild"]) == 2
    assert "SKILLPORT_REBUILD needs SKILLPORT_MARKETPLACE_GIT" in capsys.readouterr().err
    monkeypatch.setenv("SKILLPORT_MARKETPLACE_GIT", str(tmp_path / "market.git"))
    monkeypatch.setenv("SKILLPORT_ORIGIN", "https://origin.corp.example/site/")
    assert main(["--rebuild"]) == 2
    assert "SKILLPORT_ORIGIN to be a local folder" in capsys.readouterr().err


def test_the_proxy_alone_refuses_rebuild_without_the_injected_builder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m proxy.serve`` never imports the build pipeline: the rebuild is given by
    ``skillport serve`` (builder/cli.py); without it, ``--rebuild`` is refused at start-up."""
    from proxy.serve import main
    from tests.support.connector import proxy_env

    for key, value in proxy_env(tmp_path, "http://127.0.0.1:9", 8000, tmp_path / "audit").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SKILLPORT_MARKETPLACE_GIT", str(tmp_path / "market.git"))
    monkeypatch.setenv("SKILLPORT_PUBLISH_WORKDIR", str(tmp_path / "work"))
    monkeypatch.setenv("SKILLPORT_GIT_AUTHOR_EMAIL", "skillport@corp.example")
    assert main(["--rebuild"]) == 2
    assert "started without the site builder" in capsys.readouterr().err
