"""``skillport login | search | install | updates``: the member commands, talking to a Skillport
proxy's OAuth server and ``/api/v1`` with a bearer token.

- ``login --server URL``: browser sign-in through the proxy's OAuth server (dynamic client
  registration, PKCE S256, a one-shot loopback redirect on 127.0.0.1); the tokens and the server are
  stored in ``$XDG_CONFIG_HOME/skillport/credentials.json`` (default ``~/.config``), mode 0600.
  Over SSH or without a display it prints the address to open on any device and reads back the
  address the browser ended on (paste); with no browser and no terminal it fails at once.
- ``search WORDS``: the catalog's search.
- ``install SKILL [--target claude-code|DIR]``: downloads the zip through a signed link, checks its
  sha256 against the one the proxy read from the signed index, refuses unsafe entries
  (``builder.zipcheck``), then replaces ``DIR/SKILL`` (default ``~/.claude/skills``) in one rename.
- ``auth-header``: prints ``{"Authorization": "Bearer <access token>"}`` (refreshed when about to
  expire) — Claude Code's ``headersHelper`` for the members-only ``claude-code/marketplace.json``.
- ``updates [--apply]``: reads the version stamped in each installed skill's SKILL.md
  (``metadata.version``), asks the proxy what is newer and what changed; ``--apply`` installs them.

Output is for people by default, JSON with ``--json``. Exit codes: 0 done; 1 the operation failed
(message on standard error); 2 usage error; 3 not signed in or the sign-in expired (run ``skillport
login``); 4 a download failed its integrity check (nothing was installed).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import io
import json
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
import webbrowser
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from builder import frontmatter
from builder.errors import BadInput, NotFound, SkillportError, UpstreamError, UsageError, did_you_mean
from builder.model import bare_skill_name
from builder.zipcheck import check_zip

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_SIGN_IN, EXIT_INTEGRITY = 0, 1, 2, 3, 4
CLIENT_NAME = "Skillport CLI"
MAX_ZIP_BYTES = 64 * 1024 * 1024
TIMEOUT = 30.0


class NotSignedIn(SkillportError):
    """No usable credentials for the server: run ``skillport login``."""


class IntegrityError(SkillportError):
    """A downloaded zip does not match the signed index (or is unsafe); nothing was installed."""


# -- credentials ---------------------------------------------------------------------------------


def credentials_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "skillport" / "credentials.json"


@dataclass(frozen=True)
class Credentials:
    server: str
    client_id: str
    access_token: str
    refresh_token: str
    expires_at: float

    def __post_init__(self) -> None:
        if not self.server.startswith(("http://", "https://")) or not self.access_token:
            raise ValueError("credentials need an http(s) server and an access token")

    @classmethod
    def load(cls, path: Path) -> Credentials | None:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                server=str(raw["server"]),
                client_id=str(raw["client_id"]),
                access_token=str(raw["access_token"]),
                refresh_token=str(raw.get("refresh_token") or ""),
                expires_at=float(raw.get("expires_at") or 0),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, path: Path) -> None:
        """Written to a fresh 0600 file next to ``path``, then renamed over it (never world-readable)."""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(asdict(self), handle, indent=2)
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise


def normalize_server(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--server {url!r}: give the Skillport URL, like https://skills.corp.example/")
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise UsageError(f"--server {url!r}: use https:// (plain http only for localhost)")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


# -- OAuth sign-in -------------------------------------------------------------------------------


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _json(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise UpstreamError(f"{what}: the server answered {response.status_code} without JSON")
    return body


def discover(http: httpx.Client, server: str) -> dict[str, str]:
    """Endpoints and the resource (the proxy's ``/mcp``) from the RFC 9728 / RFC 8414 metadata."""
    try:
        prm = _json(http.get(server + "/.well-known/oauth-protected-resource"), "resource metadata")
        issuer = str((prm.get("authorization_servers") or [server])[0]).rstrip("/")
        asm = _json(http.get(issuer + "/.well-known/oauth-authorization-server"), "server metadata")
    except httpx.HTTPError as exc:
        raise UpstreamError(f"could not reach {server}: {exc}") from exc
    return {
        "resource": str(prm.get("resource") or server + "/mcp"),
        "register": str(asm.get("registration_endpoint") or server + "/register"),
        "authorize": str(asm.get("authorization_endpoint") or server + "/authorize"),
        "token": str(asm.get("token_endpoint") or server + "/token"),
    }


def browser_available(env: Mapping[str, str]) -> bool:
    """Whether ``webbrowser`` can show a page to the person at this terminal: ``$BROWSER`` set, or a
    graphical session (macOS, Windows, ``$DISPLAY``/``$WAYLAND_DISPLAY``) that is not an SSH login."""
    if env.get("BROWSER"):
        return True
    display = bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
    if env.get("SSH_CONNECTION") or env.get("SSH_TTY"):
        return display  # a forwarded X display, or nothing the member can see
    return display or sys.platform in ("darwin", "win32")


def parse_pasted(text: str) -> dict[str, str] | None:
    """The query of a pasted ``http://127.0.0.1:PORT/callback?code=…&state=…`` address (or of its
    ``?…`` part); ``None`` when it holds neither a code nor an error."""
    text = text.strip().strip("'\"<>")
    query = urlsplit(text).query if "://" in text else text.lstrip("?")
    found = {k: v[0] for k, v in parse_qs(query).items()}
    return found if ("code" in found or "error" in found) and "state" in found else None


PASTE_HELP = """No browser can be opened here (an SSH session or no display). To sign in:
  1. Open this address in a browser on any computer or phone:
{url}
  2. Sign in and choose Allow. The browser then tries to open {redirect}?code=…
     and shows an error page ("This site can't be reached") - that is expected.
  3. Copy the whole address from the browser's address bar, paste it here and press Enter."""


class _Callback:
    """Where the authorization redirect arrives: a one-shot HTTP server on 127.0.0.1 (``serve``),
    and/or the address the member pastes into the terminal (``paste``). Without ``serve`` the port
    is only reserved (bound, not listening): the browser is elsewhere and cannot reach it."""

    def __init__(self) -> None:
        self.result: dict[str, str] | None = None
        self.done = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != "/callback" or outer.done.is_set():
                    self.send_error(404)
                    return
                outer.result = {k: v[0] for k, v in parse_qs(parts.query).items()}
                ok = "code" in outer.result
                body = (
                    b"<!doctype html><title>Skillport</title><p>Signed in. You can close this tab."
                    if ok
                    else b"<!doctype html><title>Skillport</title><p>Sign-in did not complete."
                )
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                outer.done.set()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = HTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.server.server_bind()
        self.redirect_uri = f"http://127.0.0.1:{self.server.server_address[1]}/callback"

    def _read_pasted(self) -> None:
        for line in sys.stdin:
            if self.done.is_set():
                return
            if not line.strip():
                continue
            found = parse_pasted(line)
            if found is None:
                print(
                    "That is not the address the browser ended on (it contains ?code=… and state=…); "
                    "paste it again:",
                    file=sys.stderr,
                    flush=True,
                )
                continue
            self.result = found
            self.done.set()
            return

    def wait(self, timeout: float, *, serve: bool, paste: bool) -> dict[str, str]:
        if serve:
            self.server.server_activate()
            threading.Thread(
                target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
            ).start()
        if paste:
            threading.Thread(target=self._read_pasted, daemon=True).start()
        try:
            if not self.done.wait(timeout):
                raise UpstreamError(f"no sign-in within {int(timeout)} seconds; run `skillport login` again")
        finally:
            if serve:
                self.server.shutdown()
            self.server.server_close()
        assert self.result is not None
        return self.result


def sign_in_mode(*, no_browser: bool, env: Mapping[str, str], interactive: bool) -> str:
    """``browser`` (open it, receive the redirect on 127.0.0.1), ``print`` (--no-browser: print the
    address, receive the redirect, accept a pasted address too), ``paste`` (no browser can open:
    the member opens the address elsewhere and pastes where it ended). With no browser and no
    terminal to paste into, fail at once rather than wait for a sign-in that cannot happen."""
    if no_browser:
        return "print"
    if browser_available(env):
        return "browser"
    if interactive:
        return "paste"
    raise BadInput(
        "no browser can be opened here (no display, or an SSH session) and standard input is not a "
        "terminal to paste into: run `skillport login` in an interactive terminal, or pass --no-browser "
        "to print the sign-in address and open it yourself on this computer"
    )


def login(server: str, *, mode: str, timeout: float, now: float) -> Credentials:
    callback = _Callback()
    verifier, challenge = _pkce()
    state = secrets.token_urlsafe(16)
    with httpx.Client(timeout=TIMEOUT) as http:
        endpoints = discover(http, server)
        reg = http.post(
            endpoints["register"],
            json={
                "client_name": CLIENT_NAME,
                "redirect_uris": [callback.redirect_uri],
                "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
            },
        )
        client_id = str(_json(reg, "client registration").get("client_id") or "")
        if reg.status_code >= 400 or not client_id:
            raise UpstreamError(f"client registration was refused ({reg.status_code})")
        url = (
            endpoints["authorize"]
            + "?"
            + urlencode(
                {
                    "response_type": "code",
                    "client_id": client_id,
                    "redirect_uri": callback.redirect_uri,
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                    "state": state,
                    "resource": endpoints["resource"],
                }
            )
        )
        if mode == "paste":
            print(PASTE_HELP.format(url=url, redirect=callback.redirect_uri), file=sys.stderr, flush=True)
        else:
            print(f"Sign in to Skillport in your browser:\n{url}", file=sys.stderr, flush=True)
        if mode == "browser" and not webbrowser.open(url):
            print("Could not open a browser: open the address above yourself.", file=sys.stderr, flush=True)
        interactive = mode == "paste" or (mode == "print" and sys.stdin.isatty())
        result = callback.wait(timeout, serve=mode != "paste", paste=interactive)
        if result.get("state") != state:
            raise BadInput("the sign-in answer did not match this login (state); run `skillport login` again")
        if "code" not in result:
            raise NotSignedIn(f"sign-in refused: {result.get('error_description') or result.get('error')}")
        tok = http.post(
            endpoints["token"],
            data={
                "grant_type": "authorization_code",
                "client_id": client_id,
                "code": result["code"],
                "code_verifier": verifier,
                "redirect_uri": callback.redirect_uri,
            },
        )
        body = _json(tok, "token exchange")
        if tok.status_code >= 400 or "access_token" not in body:
            raise NotSignedIn(
                f"the server refused the sign-in: {body.get('error_description') or tok.status_code}"
            )
    return Credentials(
        server=server,
        client_id=client_id,
        access_token=str(body["access_token"]),
        refresh_token=str(body.get("refresh_token") or ""),
        expires_at=now + float(body.get("expires_in") or 3600),
    )


# -- the API client ------------------------------------------------------------------------------


class Api:
    """``/api/v1`` with the stored bearer token, refreshed (and re-saved) when it has expired."""

    def __init__(self, creds: Credentials, path: Path, http: httpx.Client) -> None:
        self.creds = creds
        self.path = path
        self.http = http

    def _refresh(self) -> None:
        if not self.creds.refresh_token:
            raise NotSignedIn(f"your sign-in to {self.creds.server} expired: run `skillport login`")
        endpoints = discover(self.http, self.creds.server)
        r = self.http.post(
            endpoints["token"],
            data={
                "grant_type": "refresh_token",
                "client_id": self.creds.client_id,
                "refresh_token": self.creds.refresh_token,
            },
        )
        body = _json(r, "token refresh")
        if r.status_code >= 400 or "access_token" not in body:
            raise NotSignedIn(f"your sign-in to {self.creds.server} expired: run `skillport login`")
        self.creds = Credentials(
            self.creds.server,
            self.creds.client_id,
            str(body["access_token"]),
            str(body.get("refresh_token") or self.creds.refresh_token),
            time.time() + float(body.get("expires_in") or 3600),
        )
        self.creds.save(self.path)

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        if self.creds.expires_at and self.creds.expires_at < time.time() + 30:
            self._refresh()
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self.creds.access_token}", "Accept": "application/json"}
            try:
                r = self.http.request(method, self.creds.server + "/api/v1" + path, headers=headers, **kwargs)
            except httpx.HTTPError as exc:
                raise UpstreamError(f"could not reach {self.creds.server}: {exc}") from exc
            if r.status_code == 401 and attempt == 1:
                self._refresh()
                continue
            body = _json(r, f"{method} {path}")
            if r.status_code == 401:
                raise NotSignedIn(f"{self.creds.server} refused your sign-in: run `skillport login`")
            if r.status_code >= 500:
                raise UpstreamError(str(body.get("message") or f"server error {r.status_code}"))
            if r.status_code == 404:
                raise NotFound(str(body.get("message") or "not found"))
            if r.status_code >= 400:
                raise BadInput(str(body.get("message") or f"request refused ({r.status_code})"))
            return body
        raise NotSignedIn("run `skillport login`")  # pragma: no cover - loop always returns or raises

    def get_bytes(self, url: str) -> bytes:
        """A file the proxy serves (index, zip), with the bearer token; refreshed once on 401."""
        if urlsplit(url).netloc != urlsplit(self.creds.server).netloc:
            raise BadInput(f"{url} is not on {self.creds.server}, the server you signed in to")
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self.creds.access_token}"}
            try:
                r = self.http.get(url, headers=headers)
            except httpx.HTTPError as exc:
                raise UpstreamError(f"could not reach {self.creds.server}: {exc}") from exc
            if r.status_code == 401 and attempt == 1:
                self._refresh()
                continue
            if r.status_code == 401:
                raise NotSignedIn(f"{self.creds.server} refused your sign-in: run `skillport login`")
            if r.status_code != 200:
                raise UpstreamError(f"GET {url}: HTTP {r.status_code}")
            return r.content
        raise NotSignedIn("run `skillport login`")  # pragma: no cover - loop always returns or raises


@contextlib.contextmanager
def api_for(args: argparse.Namespace) -> Iterator[Api]:
    path = credentials_path()
    creds = Credentials.load(path)
    if creds is None:
        raise NotSignedIn("not signed in: run `skillport login --server https://skills.your-org.example/`")
    if args.server and normalize_server(args.server) != creds.server:
        raise NotSignedIn(f"signed in to {creds.server}, not {args.server}: run `skillport login --server`")
    with httpx.Client(timeout=TIMEOUT) as http:
        yield Api(creds, path, http)


# -- installed skills ----------------------------------------------------------------------------


def skills_dir(target: str | None) -> Path:
    if not target or target == "claude-code":
        return Path(os.environ.get("HOME") or Path.home()) / ".claude" / "skills"
    return Path(target).expanduser()


def installed_skills(folder: Path) -> list[dict[str, str]]:
    """``{name, version, plugin, marketplace}`` of each skill folder whose SKILL.md carries a Skillport
    version stamp (``metadata.version``); other folders are skipped."""
    out: list[dict[str, str]] = []
    if not folder.is_dir():
        return out
    for child in sorted(folder.iterdir()):
        md = child / "SKILL.md"
        if child.is_symlink() or not md.is_file() or md.is_symlink():
            continue
        try:
            fm = frontmatter.parse(md.read_text(encoding="utf-8"))
        except (BadInput, UnicodeDecodeError, OSError):
            continue
        meta = fm.data.get("metadata")
        if not isinstance(meta, Mapping) or not meta.get("version"):
            continue
        out.append(
            {
                "name": str(fm.data.get("name") or child.name),
                "version": str(meta["version"]),
                "plugin": str(meta.get("plugin") or ""),
                "marketplace": str(meta.get("marketplace") or ""),
            }
        )
    return out


def _download(api: Api, url: str) -> bytes:
    server = urlsplit(api.creds.server)
    if urlsplit(url).netloc != server.netloc:
        raise IntegrityError(f"the download link points at {urlsplit(url).netloc}, not {server.netloc}")
    chunks: list[bytes] = []
    size = 0
    with api.http.stream("GET", url) as r:
        if r.status_code != 200:
            raise UpstreamError(f"the download failed ({r.status_code}); try again")
        for chunk in r.iter_bytes():
            size += len(chunk)
            if size > MAX_ZIP_BYTES:
                raise IntegrityError(f"the download is larger than {MAX_ZIP_BYTES} bytes; refused")
            chunks.append(chunk)
    return b"".join(chunks)


def _executable_paths(data: bytes, folder: str | None) -> frozenset[str]:
    """Paths (relative to the skill folder) stored with an execute bit in an already checked zip."""
    prefix = f"{folder}/" if folder else ""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return frozenset(
            info.filename.removeprefix(prefix)
            for info in archive.infolist()
            if not info.is_dir() and (info.external_attr >> 16) & 0o111
        )


def install_skill(api: Api, name: str, folder: Path) -> dict[str, Any]:
    """Download, verify and unpack ``name`` (a skill or ``plugin:skill``) into ``folder/<skill>``
    (replacing it). Nothing is written unless the zip's sha256 matches the signed index and every
    entry is safe."""
    answer = api.call("GET", f"/skills/{name}/install", params={"surface": "claude-code"})
    expected = str(answer.get("sha256") or "").lower()
    if len(expected) != 64:
        raise IntegrityError(
            "the server did not give the zip's sha256 from the signed index; refusing to install "
            "(upgrade the Skillport server)"
        )
    data = _download(api, str(answer.get("download") or ""))
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise IntegrityError(f"{name}: the zip's sha256 {actual} is not the signed index's {expected}")
    try:
        checked = check_zip(data)
    except BadInput as exc:
        raise IntegrityError(f"{name}: unsafe zip: {exc}") from exc
    ref, name = name, bare_skill_name(name)  # plugin:skill installs into the skill's own folder
    if checked.folder not in (None, name):
        raise IntegrityError(f"{ref}: the zip holds folder {checked.folder!r}, not {name!r}")
    executable = _executable_paths(data, checked.folder)
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=folder))
    try:
        for f in checked.files:
            target = staging / f.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(f.data)
            if f.executable or f.path in executable:
                target.chmod(0o755)
        final = folder / name
        old = folder / f".{name}.old-{secrets.token_hex(4)}"
        if final.is_symlink() or final.is_file():
            final.unlink()
        elif final.exists():
            final.rename(old)
        staging.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {
        "name": name,
        "version": answer.get("version"),
        "path": str(folder / name),
        "sha256": actual,
        "scan": answer.get("scan") or {"status": "not-scanned", "reason": "the server sent no scan record"},
    }


# -- commands ------------------------------------------------------------------------------------


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2) if args.json else text)


def cmd_login(args: argparse.Namespace) -> int:
    path = credentials_path()
    previous = Credentials.load(path)
    if not args.server and previous is None:
        raise UsageError("the first login needs --server https://skills.your-org.example/")
    server = normalize_server(args.server) if args.server else previous.server  # type: ignore[union-attr]
    mode = sign_in_mode(no_browser=args.no_browser, env=os.environ, interactive=sys.stdin.isatty())
    creds = login(server, mode=mode, timeout=args.timeout, now=time.time())
    creds.save(path)
    with httpx.Client(timeout=TIMEOUT) as http:
        who = Api(creds, path, http).call("GET", "/whoami")
    _emit(
        args,
        {"server": server, "email": who.get("email"), "credentials": str(path)},
        f"Signed in to {server} as {who.get('email')} (credentials in {path}).",
    )
    return EXIT_OK


def skill_names(api: Api) -> list[str]:
    """Names of the skills this member can see (the first page of an empty search)."""
    listed = api.call("GET", "/search", params={"query": "", "limit": 50})
    return [str(r.get("name")) for r in listed.get("results") or [] if isinstance(r, Mapping)]


def cmd_search(args: argparse.Namespace) -> int:
    with api_for(args) as api:
        found = api.call("GET", "/search", params={"query": " ".join(args.words), "limit": args.limit})
        results = list(found.get("results") or [])
        hint = ""
        if not results and args.words:
            names = skill_names(api)
            hint = did_you_mean(" ".join(args.words), names) or next(
                (h for h in (did_you_mean(w, names) for w in args.words) if h), ""
            )
    lines = [
        f"{r['name']} {r.get('version', '')}  ({r.get('plugin', '')})  {r.get('description', '')}"
        for r in results
    ]
    out: dict[str, Any] = {"results": results}
    if hint:
        out["hint"] = hint.strip()
    _emit(args, out, "\n".join(lines) if lines else "No skills match." + hint)
    return EXIT_OK


def cmd_install(args: argparse.Namespace) -> int:
    folder = skills_dir(args.target)
    with api_for(args) as api:
        try:
            done = install_skill(api, args.skill, folder)
        except NotFound as exc:
            hint = did_you_mean(args.skill, skill_names(api))
            raise NotFound(f"{exc}{'.' if hint and not str(exc).endswith('.') else ''}{hint}") from exc
    _emit(
        args,
        done,
        f"Installed {done['name']} {done['version']} into {done['path']} (sha256 verified). "
        f"Restart Claude Code to load it.\n{scan_line(done['scan'])}",
    )
    return EXIT_OK


def scan_line(record: Mapping[str, Any]) -> str:
    """The security scan of an installed skill in one line (never "safe" when it was not scanned)."""
    if record.get("status") != "scanned":
        why = record.get("reason") or "no scan record"
        return f"Security scan: NOT SCANNED ({why}); read its SKILL.md and scripts before using it."
    findings = [f for f in record.get("findings") or [] if isinstance(f, Mapping)]
    if not findings:
        return f"Security scan: no findings ({record.get('scanner')})."
    worst, scanner = record.get("max_severity"), record.get("scanner")
    lines = [f"Security scan: {len(findings)} finding(s), highest {worst} ({scanner}):"]
    for f in findings:
        where = f"{f.get('file')}:{f.get('line')}" if f.get("line") else str(f.get("file") or "")
        lines.append(f"    {f.get('severity')} {f.get('rule')} {where} {f.get('title')}")
    return "\n".join(lines)


def _ref(installed: Mapping[str, str]) -> str:
    """``plugin:skill`` when the installed copy's stamp names its plugin (two plugins may each have a
    skill of that name), else the bare name."""
    return f"{installed['plugin']}:{installed['name']}" if installed.get("plugin") else installed["name"]


def cmd_updates(args: argparse.Namespace) -> int:
    folder = skills_dir(args.target)
    installed = installed_skills(folder)
    with api_for(args) as api:
        report = api.call(
            "POST",
            "/updates",
            json={"installed": [{"name": _ref(i), "version": i["version"]} for i in installed]},
        )
        newer = list(report.get("updates") or [])
        applied = [install_skill(api, str(u["name"]), folder) for u in newer] if args.apply else []
    out = {"folder": str(folder), "installed": installed, **report, "applied": applied}
    lines = [f"{len(installed)} Skillport skill(s) in {folder}."]
    for u in newer:
        lines.append(f"{u['name']}: {u.get('installed')} -> {u.get('latest')}")
        for change in u.get("changes") or []:
            if isinstance(change, Mapping):
                note = change.get("note") or change.get("subject", "")
                summary = f"  ({change['summary']})" if change.get("summary") else ""
                lines.append(f"    {change.get('version', '')}  {change.get('date', '')}  {note}{summary}")
    if not newer:
        lines.append("Everything is up to date.")
    elif applied:
        lines.append(f"Updated {len(applied)} skill(s); restart Claude Code to load them.")
    else:
        lines.append("Run `skillport updates --apply` to install them.")
    _emit(args, out, "\n".join(lines))
    return EXIT_OK


def cmd_auth_header(args: argparse.Namespace) -> int:
    """Print ``{"Authorization": "Bearer <access token>"}`` for Claude Code's ``headersHelper``,
    refreshing (and re-saving) the stored token first when less than ``--min-seconds`` are left."""
    with api_for(args) as api:
        if api.creds.expires_at and api.creds.expires_at < time.time() + max(args.min_seconds, 0):
            api._refresh()
        token = api.creds.access_token
    print(json.dumps({"Authorization": f"Bearer {token}"}), flush=True)
    return EXIT_OK


def _guard(func: Any) -> Any:
    """Map sign-in and integrity failures to their documented exit codes."""

    def run(args: argparse.Namespace) -> int:
        try:
            return int(func(args))
        except NotSignedIn as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_SIGN_IN
        except IntegrityError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_INTEGRITY

    return run


EPILOG = (
    "exit codes: 0 done; 1 failed; 2 usage error; 3 not signed in (run `skillport login`); "
    "4 a download failed its integrity check (nothing installed)"
)


def register(subparsers: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--server", metavar="URL", help="the Skillport URL (default: the one you logged in to)"
    )
    common.add_argument("--json", action="store_true", help="print JSON instead of text")

    p = subparsers.add_parser(
        "login", parents=[common], help="sign in to a Skillport server (opens your browser)", epilog=EPILOG
    )
    p.add_argument(
        "--no-browser",
        action="store_true",
        help="do not open a browser: print the sign-in address (you may paste back where it ends)",
    )
    p.add_argument(
        "--timeout", type=float, default=300.0, help="seconds to wait for the sign-in (default 300)"
    )
    p.set_defaults(func=_guard(cmd_login))

    p = subparsers.add_parser(
        "search", parents=[common], help="search your organization's skills", epilog=EPILOG
    )
    p.add_argument("words", nargs="*", help="words to look for (none: list skills)")
    p.add_argument("--limit", type=int, default=20, help="at most this many results (default 20)")
    p.set_defaults(func=_guard(cmd_search))

    target_help = "claude-code (~/.claude/skills, the default) or a folder"
    p = subparsers.add_parser(
        "install",
        parents=[common],
        help="install a skill (sha256 checked against the signed index)",
        epilog=EPILOG,
    )
    p.add_argument("skill", help="the skill's name")
    p.add_argument("--target", default="claude-code", metavar="claude-code|DIR", help=target_help)
    p.set_defaults(func=_guard(cmd_install))

    p = subparsers.add_parser(
        "updates",
        parents=[common],
        help="show (or --apply) newer versions of installed skills",
        epilog=EPILOG,
    )
    p.add_argument("--target", default="claude-code", metavar="claude-code|DIR", help=target_help)
    p.add_argument("--apply", action="store_true", help="install every newer version")
    p.set_defaults(func=_guard(cmd_updates))

    p = subparsers.add_parser(
        "auth-header",
        help="print the Authorization header as JSON (Claude Code's headersHelper for the marketplace)",
        description="Print the HTTP header that signs you in to the Skillport server, as one JSON object "
        "on standard output, refreshing the stored sign-in when it is about to expire. Use it as "
        "Claude Code's headersHelper for the marketplace claude-code/marketplace.json.",
        epilog=EPILOG,
    )
    p.add_argument("--server", metavar="URL", help="the Skillport URL (default: the one you logged in to)")
    p.add_argument(
        "--min-seconds",
        type=int,
        default=300,
        help="refresh the token first when it expires within this many seconds (default 300)",
    )
    p.set_defaults(func=_guard(cmd_auth_header))
