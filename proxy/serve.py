"""``skillport serve``: run the proxy under uvicorn with settings from the environment.

``main(argv, site_build=...)``: the builder (for ``--rebuild``) is given by the composition in
``builder/cli.py``; ``python -m proxy.serve`` runs the proxy alone, without it."""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
from collections.abc import Sequence

import uvicorn

from builder.errors import BadInput
from proxy.audit import install_log_redaction
from proxy.connections import head_timeout_protocol
from proxy.publisher import SiteBuild
from proxy.settings import Settings

MAX_REQUEST_HEAD_BYTES = 64 * 1024  # request line + headers; larger heads get 400
# glibc malloc options (mallopt), unless the environment sets MALLOC_* itself: buffers of 256 KiB and
# more (files read from the origin, filtered views, response bodies) get mappings of their own that
# go back to the system when freed, and two arenas instead of eight per CPU (docs/configuration.md).
MALLOC_OPTIONS = {-3: 256 * 1024, -1: 1024 * 1024, -8: 2}  # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD, M_ARENA_MAX


def tune_malloc(env: dict[str, str]) -> bool:
    """Apply ``MALLOC_OPTIONS`` on glibc; whether they were applied."""
    if not sys.platform.startswith("linux") or any(k.startswith("MALLOC_") for k in env):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl, …): leave the allocator alone
        return False
    return all(mallopt(option, value) == 1 for option, value in MALLOC_OPTIONS.items())


def settings_help() -> str:
    lines = ["settings (environment variables, validated at start-up):"]
    for var, default, description in Settings.field_docs():
        lines.append(f"  {var}  [default: {default}]\n      {description}")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="skillport serve",
        description="Serve the built catalog to signed-in members of your organization, "
        "and speak MCP to Claude.",
        epilog=settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument(
        "--rebuild",
        action="store_true",
        help="single machine: after each change an editor publishes through Skillport, rebuild the "
        "site from SKILLPORT_MARKETPLACE_GIT into SKILLPORT_ORIGIN (same as SKILLPORT_REBUILD=1)",
    )
    return p


def uvicorn_config(
    settings: Settings,
    *,
    host: str,
    port: int,
    log_level: str = "info",
    site_build: SiteBuild | None = None,
) -> uvicorn.Config:
    """Forwarded headers are believed only from ``SKILLPORT_TRUSTED_PROXIES`` (T20); slow or idle
    connections are bounded: request head timeout, keep-alive timeout, connection limit (T55)."""
    from proxy.app import create_app

    trusted = list(settings.trusted_proxies)
    return uvicorn.Config(
        create_app(settings, site_build=site_build),
        host=host,
        port=port,
        log_level=log_level,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or [],
        server_header=False,
        lifespan="on",
        http=head_timeout_protocol(settings.http_header_timeout_seconds),
        timeout_keep_alive=settings.http_keep_alive_seconds,
        limit_concurrency=settings.max_connections,
        h11_max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES,
    )


def main(argv: Sequence[str] | None = None, *, site_build: SiteBuild | None = None) -> int:
    args = parser().parse_args(list(argv) if argv is not None else None)
    try:
        env = dict(os.environ)
        if args.rebuild:
            env["SKILLPORT_REBUILD"] = "1"
        settings = Settings.from_env(env)
    except BadInput as exc:
        print(f"skillport serve: {exc}", file=sys.stderr)
        return 2
    install_log_redaction()
    tune_malloc(env)
    try:
        config = uvicorn_config(
            settings, host=args.host, port=args.port, log_level=args.log_level, site_build=site_build
        )
    except BadInput as exc:  # e.g. an unreadable SKILLPORT_STATE_DIR record
        print(f"skillport serve: {exc}", file=sys.stderr)
        return 2
    server = uvicorn.Server(config)
    server.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
