"""``make demo``: build the example marketplace, start a local identity provider and the proxy.

No Google account needed: ``oidc-provider-mock`` signs you in as alice@corp.example (member, editor)
or bob@corp.example (finance). Ctrl-C or SIGTERM stops both. A port that is taken fails at once,
before anything is built (``make demo PORT=8080``).
"""

from __future__ import annotations

import argparse
import atexit
import json
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx
import uvicorn

from proxy.audit import install_log_redaction
from proxy.demo_history import demo_checkout
from proxy.settings import Settings

REPO = Path(__file__).resolve().parent.parent
DEMO_USERS = [
    {
        "sub": "alice",
        "email": "alice@corp.example",
        "email_verified": True,
        "hd": "corp.example",
        "name": "Alice Example",
    },
    {
        "sub": "bob",
        "email": "bob@corp.example",
        "email_verified": True,
        "hd": "corp.example",
        "name": "Bob Example",
    },
]


class Stop(Exception):
    """SIGTERM arrived: unwind so every ``finally`` stops what it started."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Stop


def port_problem(host: str, port: int) -> str | None:
    """Why the demo cannot listen on ``host:port`` (checked before anything is built), or None."""
    if not 0 < port < 65536:
        return f"port {port} is not a TCP port (1-65535)"
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            return (
                f"port {port} on {host} is not available ({exc.strerror}); "
                f"choose another one: make demo PORT=8080 (or python -m proxy.demo --port 8080)"
            )
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_provider(port: int) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).parent / "oidc-provider-mock"
    args = [str(exe), "-p", str(port), "-H", "127.0.0.1"]
    for user in DEMO_USERS:
        args += ["--user-claims", json.dumps(user)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    issuer = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(issuer + "/.well-known/openid-configuration", timeout=1).status_code == 200:
                    return proc
            except httpx.HTTPError:
                time.sleep(0.2)
    except BaseException:  # SIGTERM or Ctrl-C while it starts: never leave it behind
        proc.terminate()
        proc.wait(10)
        raise
    proc.terminate()
    raise SystemExit("oidc-provider-mock did not start (is the dev extra installed?)")


def build_site(marketplace: Path, out: Path, key: str, base_url: str) -> None:
    from builder import scan
    from builder.build import build

    result = build(
        marketplace, out, keys=[key], base_url=base_url, now=datetime.now(UTC), scanner=scan.find_scanner()
    )
    print(
        f"built {result.skills} skill(s) in {result.plugins} plugin(s) into {out}/ (serial {result.serial})"
    )
    print(scan.summary_line(result.scan))


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m proxy.demo", description=__doc__)
    p.add_argument("--port", type=int, default=8000, help="proxy port (default 8000)")
    p.add_argument("--idp-port", type=int, default=0, help="identity provider port (default: a free one)")
    p.add_argument(
        "--marketplace",
        type=Path,
        default=None,
        help="marketplace to serve (default: examples/marketplace replayed as a Git history)",
    )
    p.add_argument("--site", type=Path, default=REPO / "site")
    args = p.parse_args(list(argv) if argv is not None else None)
    for port in (args.port, args.idp_port):
        problem = port_problem("127.0.0.1", port) if port else None
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _run(args)
    except (Stop, KeyboardInterrupt):
        return 0


def _run(args: argparse.Namespace) -> int:
    public_url = f"http://127.0.0.1:{args.port}/"
    signing_key = secrets.token_urlsafe(32)
    marketplace = args.marketplace
    if marketplace is None:  # the examples with a believable history: versions, notes, summaries
        scratch = Path(tempfile.mkdtemp(prefix="skillport-demo-"))
        atexit.register(shutil.rmtree, scratch, True)
        marketplace = demo_checkout(REPO / "examples" / "marketplace", scratch / "marketplace")
    build_site(marketplace, args.site, signing_key, public_url)
    idp_port = args.idp_port or _free_port()
    provider = start_provider(idp_port)
    try:
        settings = Settings.from_env(
            {
                "SKILLPORT_PUBLIC_URL": public_url,
                "SKILLPORT_SECRET_KEYS": secrets.token_urlsafe(32),
                "SKILLPORT_SIGNING_KEYS": signing_key,
                "SKILLPORT_ORIGIN": str(args.site),
                "SKILLPORT_OIDC_ISSUER": f"http://127.0.0.1:{idp_port}",
                "SKILLPORT_OIDC_CLIENT_ID": "skillport-demo",
                "SKILLPORT_OIDC_CLIENT_SECRET": secrets.token_urlsafe(16),
                "SKILLPORT_ALLOWED_DOMAINS": "corp.example",
            }
        )
        print(
            f"""
Skillport demo is running:   {public_url}

  1. Open {public_url} — you are sent to the local identity provider (no Google account needed).
  2. On the sign-in page, pick a user:
       alice   alice@corp.example  (member, editor)
       bob     bob@corp.example    (finance: also sees the finance plugin)
  3. Browse the catalog and download a skill zip.
  MCP endpoint for Claude: {public_url}mcp      Health: {public_url}healthz
  Identity provider (oidc-provider-mock): http://127.0.0.1:{idp_port}/
Press Ctrl-C (or send SIGTERM) to stop the proxy and the identity provider.
""",
            flush=True,
        )
        install_log_redaction()
        from proxy.serve import uvicorn_config

        uvicorn.Server(uvicorn_config(settings, host="127.0.0.1", port=args.port, log_level="warning")).run()
    finally:
        provider.terminate()
        provider.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
