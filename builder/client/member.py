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
import json
import os
import sys
import time
from collections.abc import Mapping
from typing import Any

import httpx

from builder.client.api import Api, api_for
from builder.client.credentials import TIMEOUT, Credentials, NotSignedIn, credentials_path, normalize_server
from builder.client.install import IntegrityError, install_skill, installed_skills, scan_line, skills_dir
from builder.client.signin import login, sign_in_mode
from builder.errors import NotFound, UsageError, did_you_mean

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_SIGN_IN, EXIT_INTEGRITY = 0, 1, 2, 3, 4


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
