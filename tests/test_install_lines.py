"""Install instructions are executable documentation (issue 11, item 3).

The example marketplace is built by the real builder for a proxy served over HTTPS on 127.0.0.1 under
a host name mapped in /etc/hosts (Claude Code installs ``archive`` plugin sources only from https URLs
whose host is not a loopback name), with ``oidc-provider-mock`` as the identity provider. A member
signs in, opens a skill's page, and this test takes every command and settings block out of the
page's HTML (``.sp-run`` blocks, as shown to the member, copy button and all) and runs it for real:

- ``skillport login --server …`` (the test plays the browser the CLI sends the member to);
- the ``extraKnownMarketplaces`` settings block in Claude Code's ``~/.claude/settings.json``, then the
  ``/plugin install`` line with the real Claude Code CLI, whose ``headersHelper`` runs
  ``skillport auth-header``;
- ``skillport install NAME`` (and ``--target`` for other agents), in a fresh home as on Claude Code on
  the web too;
- ``claude mcp add … skillport …/mcp`` (the connector), which the real Claude Code records;
- the Download button's link, and the connector URL named in the Claude.ai steps.

The connector's ``install`` action (through the JSON API that shares it) answers the same steps.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import os
import re
import shlex
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from builder import install_guide
from tests.support.connector import SIGNING_KEY, hidden_fields, oidc_provider, proxy_env
from tests.support.servers import login_with_mock, serve
from tests.support.tls import self_signed

pytestmark = [pytest.mark.external]

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = REPO_ROOT / "examples" / "marketplace"
SKILL = "sql-style-guide"  # plugin data-guides, readable by every member
PLUGIN = "data-guides"
MARKET = "corp-skills"
BIN = Path(sys.executable).parent  # where `skillport` is installed


HOST = "skillport-catalog.test"  # a name for 127.0.0.1, added to /etc/hosts by the test


def _host_name() -> str:
    """A host name that resolves to 127.0.0.1 but is not a loopback *name*: Claude Code installs
    ``archive`` plugin sources only from https URLs whose host is not ``localhost``/``127.x``, and the
    test must not send traffic to any address but loopback."""
    hosts = Path("/etc/hosts")
    try:
        text = hosts.read_text()
        if not any(line.split()[1:2] == [HOST] for line in text.splitlines() if line.strip()):
            hosts.write_text(text.rstrip("\n") + f"\n127.0.0.1 {HOST}\n")
    except OSError:
        pytest.skip(f"cannot map {HOST} to 127.0.0.1 in /etc/hosts (needs root)")
    if socket.gethostbyname(HOST) != "127.0.0.1":
        pytest.skip(f"{HOST} does not resolve to 127.0.0.1")
    return HOST


@dataclass
class Deployed:
    url: str  # the catalog's public URL, ending with "/"
    cert: Path
    site: Path
    audit: Path

    def client(self) -> httpx.Client:
        return httpx.Client(verify=ssl.create_default_context(cafile=str(self.cert)), timeout=20)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    from builder.build import build
    from proxy.app import create_app
    from proxy.settings import Settings

    host = _host_name()
    work = tmp_path_factory.mktemp("deployed")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    public = f"https://{host}:{port}/"
    site = work / "site"
    build(EXAMPLES, site, keys=[SIGNING_KEY], now=datetime.now(UTC), base_url=public)
    cert, key = self_signed(work, dns_name=host)
    audit = work / "audit.jsonl"
    with oidc_provider() as issuer:
        env = proxy_env(site, issuer, port, audit)
        env["SKILLPORT_PUBLIC_URL"] = public
        app = create_app(Settings.from_env(env))
        with serve(app, sock, ssl_certfile=str(cert), ssl_keyfile=str(key)):
            yield Deployed(public, cert, site, audit)


# -- the page, as a member's browser gets it ---------------------------------------------------------


class _Blocks(HTMLParser):
    """``.sp-run`` blocks (kind, text) and ``.sp-download`` links, in page order, per surface section."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.surface = ""
        self.runs: list[tuple[str, str, str]] = []
        self.downloads: list[str] = []
        self.texts: dict[str, list[str]] = {}
        self._kind: str | None = None
        self._buffer: list[str] = []
        self._in_p = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        classes = a.get("class", "").split()
        if tag == "div" and "sp-install" in classes and a.get("id", "").startswith("install-"):
            self.surface = a["id"].removeprefix("install-")
        if tag == "div" and "sp-run" in classes:
            self._kind, self._buffer = a["data-sp-kind"], []
        if tag == "a" and "sp-download" in classes:
            self.downloads.append(a["href"])
        if tag == "p" and self.surface:
            self._in_p = True
            self.texts.setdefault(self.surface, []).append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre" and self._kind is not None:
            self.runs.append((self.surface, self._kind, "".join(self._buffer)))
            self._kind = None
        if tag == "p":
            self._in_p = False

    def handle_data(self, data: str) -> None:
        if self._kind is not None:
            self._buffer.append(data)
        elif self._in_p:
            self.texts[self.surface][-1] += data


@contextlib.contextmanager
def _signed_in(deployed: Deployed, user: str) -> Iterator[httpx.Client]:
    with deployed.client() as client:
        done = login_with_mock(client, deployed.url, user)
        assert done.status_code == 302 and done.headers["location"] == "/", done.text[:300]
        yield client


@pytest.fixture(scope="module")
def page(deployed: Deployed) -> _Blocks:
    with _signed_in(deployed, "alice") as browser:
        r = browser.get(f"{deployed.url}skills/{SKILL}/")
        assert r.status_code == 200, r.status_code
    blocks = _Blocks()
    blocks.feed(r.text)
    return blocks


# -- running what the page says ----------------------------------------------------------------------


def _env(home: Path, deployed: Deployed) -> dict[str, str]:
    return {
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(home),
        "SSL_CERT_FILE": str(deployed.cert),  # the CLI (httpx) trusts the test certificate
        "NODE_EXTRA_CA_CERTS": str(deployed.cert),  # so does Claude Code
        "BROWSER": "true",  # `skillport login` opens no real browser: this test is the browser
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }


def _argv(command: str, claude_bin: str) -> list[str]:
    argv = shlex.split(command)
    assert argv[0] in ("skillport", "claude", "/plugin"), command  # nothing else is shown to members
    if argv[0] == "claude":
        return [claude_bin, *argv[1:]]
    if argv[0] == "/plugin":  # typed inside Claude Code; the CLI runs the same plugin command
        return [claude_bin, "plugin", *argv[1:]]
    return argv


def run(command: str, home: Path, deployed: Deployed, claude_bin: str, cwd: Path | None = None) -> str:
    argv = _argv(command, claude_bin)
    if argv[:2] == ["skillport", "login"]:
        return _login(argv, home, deployed)
    done = subprocess.run(
        ["timeout", "90", *argv],
        env=_env(home, deployed),
        cwd=cwd or home,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, (command, done.stdout, done.stderr)
    return done.stdout


def _login(argv: list[str], home: Path, deployed: Deployed) -> str:
    """``skillport login`` as shown; the member's browser is played here: IdP sign-in, then *Allow*."""
    proc = subprocess.Popen(
        argv, env=_env(home, deployed), cwd=home, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    url = next((line.strip() for line in proc.stderr if "/authorize?" in line), "")
    assert url.startswith(deployed.url), url
    callback = _sign_in_and_allow(deployed, url, "alice")
    assert callback.startswith("http://127.0.0.1:"), callback
    assert httpx.get(callback).status_code == 200
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return out


def _sign_in_and_allow(deployed: Deployed, authorize_url: str, user: str) -> str:
    """Follow /authorize -> sign-in -> IdP form -> consent -> Allow; return the redirect to the CLI."""
    with deployed.client() as http:
        url = authorize_url
        for _ in range(12):
            r = http.get(url)
            if r.is_redirect:
                target = urljoin(url, r.headers["location"])
                if "code=" in target or "error=" in target:
                    return target
                url = target
                continue
            if 'name="decision"' in r.text:
                form = hidden_fields(r.text)
                r = http.post(urljoin(url, "/oauth/consent"), data={**form, "decision": "allow"})
                assert r.is_redirect, r.text[:300]
                return str(r.headers["location"])
            if "<form" in r.text and "sub" in r.text:  # the identity provider's sign-in form
                r = http.post(url, data={"sub": user})
                assert r.is_redirect, r.text[:300]
                url = urljoin(url, r.headers["location"])
                continue
            raise AssertionError(f"unexpected page at {url}: {r.status_code} {r.text[:300]}")
    raise AssertionError("too many redirects")


def _commands(page: _Blocks, surface: str, kind: str) -> list[str]:
    return [text for where, k, text in page.runs if where == surface and k == kind]


# -- the tests -------------------------------------------------------------------------------------


def test_the_page_shows_every_surface_and_only_lines_that_can_sign_in(
    page: _Blocks, deployed: Deployed
) -> None:
    assert {where for where, _, _ in page.runs} == {"claude-code", "claude-code-web", "other-agents"}
    assert set(page.texts) >= {"claude-ai", "claude-code", "claude-code-web", "other-agents"}
    everything = "\n".join(text for _, _, text in page.runs)
    for stale in ("curl", "npx skills", "/plugin marketplace add", "unzip"):
        assert stale not in everything, stale
    assert deployed.url in everything  # the catalog's own URL, not a placeholder
    version = install_guide.MIN_CLAUDE_CODE_FOR_ARCHIVES
    assert any(version in t and "older version" in t for t in page.texts["claude-code"])


def test_download_button_and_connector_url_work_against_the_proxy(page: _Blocks, deployed: Deployed) -> None:
    index = json.loads((deployed.site / "index.json").read_text())
    skill = next(s for s in index["skills"] if s["name"] == SKILL)
    [href] = page.downloads
    with _signed_in(deployed, "alice") as browser:
        r = browser.get(urljoin(f"{deployed.url}skills/{SKILL}/", href))
    assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == skill["zip"]["sha256"]
    connector = f"{deployed.url}mcp"
    assert any(connector in t for t in page.texts["claude-ai"])
    with deployed.client() as http:  # a real MCP endpoint that asks Claude to sign in
        answer = http.post(connector, json={}, headers={"Accept": "application/json, text/event-stream"})
    assert answer.status_code == 401 and "resource_metadata=" in answer.headers["www-authenticate"]


def test_claude_code_lines_run_with_the_real_claude_code(
    page: _Blocks, deployed: Deployed, claude_bin: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    login, *rest = _commands(page, "claude-code", "shell")
    assert login == f"skillport login --server {deployed.url}"
    run(login, home, deployed, claude_bin)

    # the settings block, verbatim, in Claude Code's user settings
    [block] = _commands(page, "claude-code", "settings")
    settings = json.loads(block)
    (home / ".claude").mkdir()
    (home / ".claude/settings.json").write_text(json.dumps(settings))
    source = settings["extraKnownMarketplaces"][MARKET]["source"]
    assert source["headersHelper"] == "skillport auth-header"
    # Claude Code records a declared marketplace at its first interactive start; a headless run
    # without an Anthropic account stops before that, so record it as it would, then let it fetch
    location = home / ".claude/plugins/marketplaces" / MARKET
    location.parent.mkdir(parents=True)
    (home / ".claude/plugins/known_marketplaces.json").write_text(
        json.dumps(
            {MARKET: {"source": source, "installLocation": str(location), "lastUpdated": "2026-01-01"}}
        )
    )
    run(f"claude plugin marketplace update {MARKET}", home, deployed, claude_bin)
    assert json.loads(location.read_text())["name"] == MARKET

    [install] = _commands(page, "claude-code", "claude")
    assert install == f"/plugin install {PLUGIN}@{MARKET}"
    run(install, home, deployed, claude_bin)
    cached = list((home / ".claude/plugins/cache" / MARKET / PLUGIN).glob(f"*/skills/{SKILL}/SKILL.md"))
    assert cached, "Claude Code installed no plugin files"
    downloads = [json.loads(line) for line in deployed.audit.read_text().splitlines()]
    assert any(e["action"] == "download" and e["via"] == "bearer" and e["user"] == "alice" for e in downloads)

    single, connector = rest
    assert single == f"skillport install {SKILL}"
    run(single, home, deployed, claude_bin)
    assert (home / ".claude/skills" / SKILL / "SKILL.md").is_file()

    assert connector.endswith(f"skillport {deployed.url}mcp")
    run(connector, home, deployed, claude_bin)
    recorded = json.loads((home / ".claude.json").read_text())["mcpServers"]["skillport"]
    assert recorded["url"] == f"{deployed.url}mcp" and recorded["type"] == "http"


def test_claude_code_on_the_web_and_other_agents_lines_run(
    page: _Blocks, deployed: Deployed, claude_bin: str, tmp_path: Path
) -> None:
    session = tmp_path / "cloud-session"  # a fresh machine: nothing signed in yet
    session.mkdir()
    for command in _commands(page, "claude-code-web", "shell"):
        run(command, session, deployed, claude_bin)
    assert (session / ".claude/skills" / SKILL / "SKILL.md").is_file()

    [agents] = _commands(page, "other-agents", "shell")
    run(agents, session, deployed, claude_bin, cwd=session)
    assert (session / "skills" / SKILL / "SKILL.md").is_file()
    index = f"{deployed.url}.well-known/agent-skills/index.json"
    assert any(index in t for t in page.texts["other-agents"])
    header = json.loads(run("skillport auth-header", session, deployed, claude_bin))
    with deployed.client() as http:
        listed = http.get(index, headers=header)
    assert listed.status_code == 200 and SKILL in {s["name"] for s in listed.json()["skills"]}


def test_the_connector_install_action_answers_the_pages_steps(
    page: _Blocks, deployed: Deployed, claude_bin: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    run(f"skillport login --server {deployed.url}", home, deployed, claude_bin)
    header = json.loads(run("skillport auth-header", home, deployed, claude_bin))
    with deployed.client() as http:
        answers = {
            surface: http.get(
                f"{deployed.url}api/v1/skills/{SKILL}/install", params={"surface": surface}, headers=header
            ).json()
            for surface in ("claude-ai", "claude-code")
        }
    code = answers["claude-code"]
    for command in _commands(page, "claude-code", "shell"):
        assert f"In a terminal: {command}" in code["steps"], command
    assert f"In Claude Code: {_commands(page, 'claude-code', 'claude')[0]}" in code["steps"]
    assert code["settings"] == json.loads(_commands(page, "claude-code", "settings")[0])
    for command in _commands(page, "claude-code-web", "shell"):
        assert f"In a terminal: {command}" in code["on_the_web"], command
    upload = answers["claude-ai"]
    assert upload["steps"][0] == f"Download the zip: {upload['download']}"
    assert [s.replace("`", "") for s in upload["steps"][1:]] == [
        html.unescape(t) for t in page.texts["claude-ai"][2:]
    ]
    assert parse_qs(urlsplit(upload["download"]).query) == {} and "/d/" in upload["download"]


def test_plugin_and_home_pages_show_only_lines_the_skill_page_runs(page: _Blocks, deployed: Deployed) -> None:
    """The plugin page and the home page repeat lines from the skill page (run above), nothing else."""
    ran = {text for _, _, text in page.runs}
    with _signed_in(deployed, "alice") as browser:
        plugin = _Blocks()
        plugin.feed(browser.get(f"{deployed.url}plugins/{PLUGIN}/").text)
        home = browser.get(deployed.url).text
    assert plugin.runs and {text for _, _, text in plugin.runs} <= ran
    commands = re.findall(r'<code class="sp-start__cmd">([^<]*)</code>', home)
    assert commands and {html.unescape(c) for c in commands} <= ran
