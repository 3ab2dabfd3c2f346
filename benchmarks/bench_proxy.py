"""Proxy throughput: authenticated zip downloads/s through the proxy vs the same file from a bare
Starlette ``StaticFiles`` app under the same uvicorn settings (same run; target ratio >= 0.8), and
p50/p99 latency of an authenticated catalog page. Loopback only, bounded loops.

Run: ``.venv/bin/python benchmarks/bench_proxy.py [--requests N]``
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from starlette.applications import Starlette
from starlette.staticfiles import StaticFiles

from proxy.app import create_app
from proxy.session import Member
from proxy.settings import Settings
from tests.support.servers import free_socket, proxy_env, serve, write_site

ZIP = "skills/pdf-writer/pdf-writer-1.0.0.zip"


def rate(client: httpx.Client, url: str, n: int) -> float:
    client.get(url).raise_for_status()  # warm up
    start = time.perf_counter()
    for _ in range(n):
        response = client.get(url)
        assert response.status_code == 200
    return n / (time.perf_counter() - start)


def latencies(client: httpx.Client, url: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        assert client.get(url).status_code == 200
        out.append((time.perf_counter() - start) * 1000)
    return sorted(out)


def main(argv: list[str] | None = None) -> int:
    args_parser = argparse.ArgumentParser()
    args_parser.add_argument("--requests", type=int, default=1000)
    args = args_parser.parse_args(argv)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # per-request client logs would dominate
    n = max(10, min(args.requests, 100_000))
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        write_site(site)
        sock = free_socket()
        public = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        env = proxy_env(
            public,
            "http://127.0.0.1:9",
            site,
            audit_log=str(Path(tmp) / "audit.jsonl"),
            index_refresh_seconds="30",
        )
        settings = Settings.from_env(env)
        app = create_app(settings)
        cookie = app.state.skillport.sessions.encode(
            Member("bench", "alice@corp.example"), now=datetime.now(UTC)
        )
        static = Starlette()
        static.mount("/", StaticFiles(directory=site))
        with (
            serve(app, sock) as proxy_url,
            serve(static) as static_url,
            httpx.Client(cookies={"skillport": cookie}) as client,
        ):
            baseline = rate(client, static_url + ZIP, n)
            through = rate(client, proxy_url + ZIP, n)
            page = latencies(client, proxy_url, n)
    ratio = through / baseline
    print(
        f"zip downloads/s   static: {baseline:8.0f}   proxy: {through:8.0f}   "
        f"ratio: {ratio:.2f} (target >= 0.80)"
    )
    print(
        f"catalog page ms   p50: {statistics.median(page):.2f}   p99: {page[int(len(page) * 0.99) - 1]:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
