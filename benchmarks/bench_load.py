"""Load: N concurrent clients (default 200) for a bounded time (default 60 s) against the real proxy
running under uvicorn in its own process, mixing zip downloads (signed ``/d/`` links and session-cookie
zip GETs) with ``search`` calls (MCP ``tools/call`` with a bearer token, stateless JSON mode, and
``GET /api/v1/search``). Loopback only; a hard cap bounds the number of requests.

Prints requests, errors (target: 0), throughput and p50/p99 latency per kind, and the proxy's RSS
(``/proc/<pid>/status``) after warm-up and at the end (target: no growth).

Run: ``.venv/bin/python benchmarks/bench_load.py [--seconds 60] [--clients 200] [--max-requests N]``
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import logging
import multiprocessing
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.support.connector import (  # noqa: E402
    SIGNING_KEY,
    free_port,
    oidc_provider,
    proxy_env,
    sign_in_and_consent,
)
from tests.support.servers import login_with_mock  # noqa: E402

MARKETPLACE = REPO_ROOT / "examples" / "marketplace"
USER = "alice"
REDIRECT = "http://127.0.0.1:33418/callback"
BACKLOG = 4096
KINDS = ("zip-link", "zip-session", "mcp-search", "api-search")
QUERIES = ("notes", "sql", "brand", "release", "metric", "incident", "press", "skill")
MCP_HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "MCP-Protocol-Version": "2025-06-18",
}
GROWTH_TOLERANCE_MIB = 8.0  # RSS noise from allocator/arena behaviour; growth beyond this is reported


# -- the proxy in its own process ------------------------------------------------------------------


def raise_open_files() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def serve_child(port: int) -> int:
    """Child mode: the proxy (settings from the environment) under uvicorn with a deep backlog."""
    import uvicorn

    from proxy.audit import install_log_redaction
    from proxy.serve import uvicorn_config
    from proxy.settings import Settings

    raise_open_files()
    install_log_redaction()
    for name in ("httpx", "mcp", "uvicorn.access"):
        logging.getLogger(name).setLevel(logging.WARNING)
    config = uvicorn_config(
        Settings.from_env(dict(os.environ)), host="127.0.0.1", port=port, log_level="warning"
    )
    config.backlog = BACKLOG
    config.access_log = False
    uvicorn.Server(config).run()
    return 0


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far (``/proc/<pid>/stat`` fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the proxy exited with {proc.returncode} before it was ready")
        try:
            if httpx.get(url + "/readyz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the proxy did not become ready")
        time.sleep(0.1)


# -- credentials, obtained over HTTP as a member and as an MCP client would ----------------------


def session_cookie(proxy: str) -> str:
    with httpx.Client(timeout=10.0) as client:
        page = login_with_mock(client, proxy + "/", USER)
        if page.status_code not in (200, 302, 303):
            raise RuntimeError(f"sign-in failed: {page.status_code} {page.text[:200]}")
        cookie = client.cookies.get("skillport")
        if not cookie:
            raise RuntimeError("sign-in set no skillport cookie")
        return cookie


def bearer_token(proxy: str) -> str:
    """RFC 7591 registration, PKCE authorization (sign-in + consent by HTTP), token exchange."""
    with httpx.Client(timeout=10.0) as client:
        reg = client.post(
            proxy + "/register",
            json={
                "client_name": "bench-load",
                "redirect_uris": [REDIRECT],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
            },
        )
        reg.raise_for_status()
        client_id = reg.json()["client_id"]
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        state = secrets.token_urlsafe(16)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": REDIRECT,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "state": state,
                "resource": proxy + "/mcp",
            }
        )
        back = sign_in_and_consent(f"{proxy}/authorize?{query}", USER)
        if back.get("state") != state or "code" not in back:
            raise RuntimeError(f"authorization failed: {back}")
        token = client.post(
            proxy + "/token",
            data={
                "grant_type": "authorization_code",
                "code": back["code"],
                "redirect_uri": REDIRECT,
                "client_id": client_id,
                "code_verifier": verifier,
                "resource": proxy + "/mcp",
            },
        )
        token.raise_for_status()
        return str(token.json()["access_token"])


def mcp_call(call_id: int, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": call_id,
        "method": "tools/call",
        "params": {"name": "skillport", "arguments": arguments},
    }


def tool_text(response: httpx.Response) -> str:
    """The tool's text result, or raise when the call failed at any layer."""
    if response.status_code != 200:
        raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
    body = response.json()
    result = body.get("result")
    if not isinstance(result, dict) or result.get("isError"):
        raise RuntimeError(f"tool error: {json.dumps(body)[:200]}")
    return str(result["content"][0]["text"])


def download_links(proxy: str, token: str, skills: list[str]) -> list[str]:
    """Signed ``/d/`` links from the ``install`` action (one per skill)."""
    links = []
    with httpx.Client(timeout=10.0, headers={**MCP_HEADERS, "Authorization": f"Bearer {token}"}) as client:
        for i, name in enumerate(skills):
            args = {"action": "install", "skill": name, "surface": "claude-code"}
            text = tool_text(client.post(proxy + "/mcp", json=mcp_call(i, args)))
            links.append(str(json.loads(text)["download"]))
    return links


# -- the load ----------------------------------------------------------------------------------------


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    samples: list[str] = field(default_factory=list)
    started: int = 0
    ended: float = 0.0

    def error(self, kind: str, message: str) -> None:
        self.errors[kind] += 1
        if len(self.samples) < 5:
            self.samples.append(f"{kind}: {message}")


@dataclass
class Window:
    deadline: float = 0.0


@dataclass(frozen=True)
class Plan:
    proxy: str
    cookie: str
    token: str
    links: tuple[str, ...]
    zip_paths: tuple[str, ...]
    sizes: dict[str, int]


def percentile(sorted_ms: list[float], q: float) -> float:
    if not sorted_ms:
        return float("nan")
    return sorted_ms[min(len(sorted_ms) - 1, max(0, round(q * len(sorted_ms)) - 1))]


async def client_loop(
    n: int, plan: Plan, tally: Tally, window: Window, cap: int, start_gate: asyncio.Event
) -> None:
    headers = {"Cookie": f"skillport={plan.cookie}"}
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)  # one connection each
    async with httpx.AsyncClient(timeout=30.0, limits=limits, headers=headers) as http:

        async def zip_link(i: int) -> None:
            url = plan.links[i % len(plan.links)]
            r = await http.get(url)
            if r.status_code != 200 or len(r.content) != plan.sizes[url]:
                raise RuntimeError(f"HTTP {r.status_code}, {len(r.content)} bytes from {url}")

        async def zip_session(i: int) -> None:
            url = plan.proxy + "/" + plan.zip_paths[i % len(plan.zip_paths)]
            r = await http.get(url)
            if r.status_code != 200 or len(r.content) != plan.sizes[url]:
                raise RuntimeError(f"HTTP {r.status_code}, {len(r.content)} bytes from {url}")

        async def mcp_search(i: int) -> None:
            body = mcp_call(i, {"action": "search", "query": QUERIES[i % len(QUERIES)]})
            r = await http.post(
                plan.proxy + "/mcp",
                json=body,
                headers={**MCP_HEADERS, "Authorization": f"Bearer {plan.token}", "Cookie": ""},
            )
            if "results" not in json.loads(tool_text(r)):
                raise RuntimeError("search returned no results field")

        async def api_search(i: int) -> None:
            r = await http.get(
                plan.proxy + "/api/v1/search",
                params={"query": QUERIES[i % len(QUERIES)]},
                headers={"Authorization": f"Bearer {plan.token}", "Cookie": ""},
            )
            if r.status_code != 200 or "results" not in r.json():
                raise RuntimeError(f"HTTP {r.status_code}: {r.text[:200]}")

        actions: dict[str, Callable[[int], Awaitable[None]]] = {
            "zip-link": zip_link,
            "zip-session": zip_session,
            "mcp-search": mcp_search,
            "api-search": api_search,
        }
        await start_gate.wait()
        i = n
        while time.time() < window.deadline and tally.started < cap:
            tally.started += 1
            kind = KINDS[i % len(KINDS)]
            begin = time.perf_counter()
            try:
                await actions[kind](i)
            except Exception as exc:  # every failure is counted and shown, never hidden
                tally.error(kind, f"{type(exc).__name__}: {exc}")
            else:
                tally.latencies[kind].append((time.perf_counter() - begin) * 1000)
            i += 1


async def drive(plan: Plan, first: int, count: int, start_at: float, deadline: float, cap: int) -> Tally:
    """``count`` clients (numbered from ``first``) from wall-clock ``start_at`` until ``deadline``."""
    tally = Tally()
    gate = asyncio.Event()
    window = Window(deadline=deadline)
    tasks = [
        asyncio.create_task(client_loop(first + n, plan, tally, window, cap, gate)) for n in range(count)
    ]
    await asyncio.sleep(max(0.0, start_at - time.time()))
    gate.set()
    await asyncio.gather(*tasks)
    tally.ended = time.time()
    return tally


def worker(plan: Plan, first: int, count: int, start_at: float, deadline: float, cap: int) -> Tally:
    """One load-generating process (its own event loop)."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    raise_open_files()
    return asyncio.run(drive(plan, first, count, start_at, deadline, cap))


def run_load(
    plan: Plan, pid: int, clients: int, procs: int, seconds: float, warmup: float, cap: int
) -> tuple[Tally, float, int, int, int]:
    """Spread the clients over ``procs`` processes; sample the proxy's RSS meanwhile."""
    shares = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    firsts = [sum(shares[:i]) for i in range(procs)]
    start_at = time.time() + 2.0  # time for the processes to start and open their clients
    deadline = start_at + seconds
    rss: dict[str, int] = {}
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=procs, mp_context=ctx) as pool:
        futures = [
            pool.submit(worker, plan, first, share, start_at, deadline, max(1, cap // procs))
            for first, share in zip(firsts, shares, strict=True)
        ]
        while time.time() < deadline:
            time.sleep(0.5)
            now_rss = rss_kib(pid)
            rss["peak"] = max(rss.get("peak", 0), now_rss)
            if "warm" not in rss and time.time() - start_at >= warmup:
                rss["warm"] = now_rss
        parts = [f.result() for f in futures]
    end = rss_kib(pid)
    tally = Tally()
    for part in parts:
        for kind in KINDS:
            tally.latencies[kind].extend(part.latencies[kind])
            tally.errors[kind] += part.errors[kind]
        tally.samples.extend(part.samples[: 5 - len(tally.samples)])
    elapsed = max(p.ended for p in parts) - start_at
    return tally, elapsed, rss.get("warm", end), end, max(rss.get("peak", end), end)


# -- main --------------------------------------------------------------------------------------------


def setup(tmp: Path) -> tuple[Path, str, int]:
    from builder.build import build

    site = tmp / "site"
    port = free_port()
    public = f"http://127.0.0.1:{port}/"
    result = build(MARKETPLACE, site, keys=[SIGNING_KEY], base_url=public, now=datetime.now(UTC))
    return site, public, result.skills


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=60.0, help="load duration (default 60)")
    parser.add_argument("--clients", type=int, default=200, help="concurrent clients (default 200)")
    parser.add_argument("--max-requests", type=int, default=500_000, help="hard cap on requests")
    parser.add_argument(
        "--procs", type=int, default=2, help="load-generating processes sharing the clients (default 2)"
    )
    parser.add_argument("--warmup", type=float, default=None, help="seconds before the RSS baseline")
    parser.add_argument("--serve-proxy", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_proxy is not None:
        return serve_child(args.serve_proxy)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    seconds = max(1.0, min(args.seconds, 600.0))
    clients = max(1, min(args.clients, 1000))
    cap = max(1, min(args.max_requests, 5_000_000))
    procs = max(1, min(args.procs, clients, 16))
    warmup = args.warmup if args.warmup is not None else min(10.0, seconds / 3)
    nofile = raise_open_files()

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        site, public, skills = setup(tmp)
        port = int(public.rsplit(":", 1)[1].strip("/"))
        proxy = public.rstrip("/")
        with oidc_provider() as issuer:
            env = {
                **os.environ,
                **proxy_env(site, issuer, port, tmp / "audit.jsonl"),
                "PYTHONPATH": str(REPO_ROOT),
            }
            cmd = [sys.executable, str(Path(__file__).resolve()), "--serve-proxy", str(port)]
            proc = subprocess.Popen(cmd, env=env, cwd=REPO_ROOT)
            try:
                wait_ready(proxy, proc)
                cookie = session_cookie(proxy)
                token = bearer_token(proxy)
                index = httpx.get(proxy + "/index.json", cookies={"skillport": cookie}, timeout=10).json()
                entries = [s for s in index["skills"] if isinstance(s.get("zip"), dict)]
                links = download_links(proxy, token, [s["name"] for s in entries])
                sizes = {link: int(s["zip"]["size"]) for link, s in zip(links, entries, strict=True)}
                sizes.update({f"{proxy}/{s['zip']['path']}": int(s["zip"]["size"]) for s in entries})
                plan = Plan(
                    proxy=proxy,
                    cookie=cookie,
                    token=token,
                    links=tuple(links),
                    zip_paths=tuple(str(s["zip"]["path"]) for s in entries),
                    sizes=sizes,
                )
                rss_start = rss_kib(proc.pid)
                cpu_before = cpu_seconds(proc.pid)
                tally, elapsed, rss_warm, rss_end, rss_peak = run_load(
                    plan, proc.pid, clients, procs, seconds, warmup, cap
                )
                alive = proc.poll() is None
                proxy_cpu = cpu_seconds(proc.pid) - cpu_before if alive else float("nan")
            finally:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)

    return report(
        tally,
        elapsed=elapsed,
        clients=clients,
        procs=procs,
        skills=skills,
        nofile=nofile,
        rss=(rss_start, rss_warm, rss_end, rss_peak),
        warmup=warmup,
        alive=alive,
        proxy_cpu=proxy_cpu,
    )


def report(
    tally: Tally,
    *,
    elapsed: float,
    clients: int,
    procs: int,
    skills: int,
    nofile: int,
    rss: tuple[int, int, int, int],
    warmup: float,
    alive: bool,
    proxy_cpu: float,
) -> int:
    total = sum(len(v) for v in tally.latencies.values()) + sum(tally.errors.values())
    errors = sum(tally.errors.values())
    print(
        f"load: {clients} clients in {procs} process(es) for {elapsed:.1f} s "
        f"against the proxy in its own process "
        f"({skills} skills; open-file limit {nofile}; backlog {BACKLOG})"
    )
    print(
        f"requests: {total}   errors: {errors}   throughput: {total / elapsed:.0f} req/s   "
        f"proxy CPU: {proxy_cpu / elapsed * 100:.0f} % of one core (one uvicorn worker; clients share "
        f"the machine)"
    )
    print(f"{'kind':<12} {'ok':>8} {'errors':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for kind in KINDS:
        ms = sorted(tally.latencies[kind])
        print(
            f"{kind:<12} {len(ms):>8} {tally.errors[kind]:>7} {len(ms) / elapsed:>8.0f} "
            f"{percentile(ms, 0.5):>8.1f} {percentile(ms, 0.99):>8.1f}"
        )
    start, warm, end, peak = (v / 1024 for v in rss)
    growth = end - warm
    print(
        f"proxy RSS MiB   start: {start:.1f}   after {warmup:.0f} s warm-up: {warm:.1f}   "
        f"end: {end:.1f}   peak: {peak:.1f}   growth after warm-up: {growth:+.1f} "
        f"({growth / warm * 100:+.1f} %)"
    )
    verdict = 0
    if errors:
        print(f"!!! {errors} ERRORS (target: 0). First ones:")
        for sample in tally.samples:
            print(f"!!!   {sample}")
        verdict = 1
    else:
        print("errors: none (target: 0)")
    if growth > GROWTH_TOLERANCE_MIB:
        print(
            f"!!! memory grew by {growth:.1f} MiB after warm-up (target: no growth, tolerance "
            f"{GROWTH_TOLERANCE_MIB:.0f} MiB)"
        )
    else:
        print(f"memory: no growth after warm-up beyond {GROWTH_TOLERANCE_MIB:.0f} MiB of noise (target met)")
    if not alive:
        print("!!! the proxy process died during the run")
        verdict = 1
    return verdict


if __name__ == "__main__":
    raise SystemExit(main())
