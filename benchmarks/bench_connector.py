"""Connector benchmark: bytes of the ``tools/list`` result, server-side latency of ``search`` and
``updates`` on a generated 10,000-skill index (target p50 <= 5 ms), and the memory the proxy needs
to hold that index. Ratios are against a naive baseline (a linear scan without the precomputed
structure) run in the same process.

Run: ``.venv/bin/python benchmarks/bench_connector.py [--skills 10000]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import tracemalloc
from datetime import UTC, datetime
from typing import Any

from builder.contract.index import IndexDocument
from proxy import catalog
from proxy.access import AccessRules
from proxy.bearer import member_from_claims
from proxy.connector import make_server, run_action

WORDS = [
    "pdf",
    "form",
    "excel",
    "sheet",
    "brand",
    "voice",
    "ledger",
    "close",
    "invoice",
    "contract",
    "legal",
    "review",
    "slide",
    "deck",
    "chart",
    "email",
    "draft",
    "meeting",
    "notes",
    "python",
    "sql",
    "data",
    "report",
    "audit",
    "security",
    "onboarding",
    "hiring",
    "budget",
    "forecast",
    "research",
    "summary",
    "translate",
    "style",
    "guide",
    "code",
    "test",
    "deploy",
    "incident",
]


def generate(n: int, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    plugins = [f"plugin-{i:03d}" for i in range(max(1, n // 50))]
    skills = []
    for i in range(n):
        words = rng.sample(WORDS, 3)
        versions = [f"1.{m}.0" for m in range(rng.randint(1, 4))]
        skills.append(
            {
                "name": f"{words[0]}-{words[1]}-{i}",
                "plugin": rng.choice(plugins),
                "version": versions[-1],
                "description": " ".join(rng.sample(WORDS, 12)).capitalize() + ".",
                "tags": rng.sample(WORDS, 2),
                "files": [{"path": "SKILL.md", "size": 900, "digest": "sha256:" + "0" * 64}],
                "history": [
                    {"version": v, "date": "2026-11-01", "commit": "abc1234", "subject": f"release {v}"}
                    for v in reversed(versions)
                ],
            }
        )
    return {
        "_type": "skillport/index",
        "format": 1,
        "generated_at": "2026-11-29T14:00:00Z",
        "expires_at": "2026-12-29T14:00:00Z",
        "serial": 1_764_424_800,
        "access": {
            "default": {"read": ["*"], "edit": []},
            "plugins": {plugins[0]: {"read": ["nobody@corp.example"]}},
        },
        "marketplace": {"name": "bench"},
        "plugins": [{"name": p} for p in plugins],
        "skills": skills,
    }


class Index:
    def __init__(self, doc: IndexDocument) -> None:
        self.doc = doc

    def current(self) -> IndexDocument:
        return self.doc


class Audit:
    def record(self, action: str, **fields: Any) -> None:
        return None


class State:
    def __init__(self, doc: IndexDocument) -> None:
        self.index = Index(doc)
        self.access = AccessRules.from_index(doc)
        self.audit = Audit()
        self.publisher = None


def naive_search(doc: dict[str, Any], query: str) -> list[dict[str, str]]:
    terms = query.lower().split()
    hits = [
        s
        for s in doc["skills"]
        if all(t in (s["name"] + " " + s["description"] + " " + " ".join(s["tags"])).lower() for t in terms)
    ]
    return [{"name": s["name"]} for s in sorted(hits, key=lambda s: s["name"])[:20]]


def timed(fn: Any, runs: int) -> list[float]:
    out = []
    for i in range(runs):
        t0 = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def tools_list_bytes(version: str) -> int:
    """Bytes of the JSON-RPC ``result`` of ``tools/list`` as sent on the wire for ``version``."""
    import httpx2

    from proxy.connector import transport_security

    server = make_server(object())
    app = server.streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=True,
        json_response=True,
        transport_security=transport_security("http://127.0.0.1/"),
    )
    meta = {
        "io.modelcontextprotocol/protocolVersion": version,
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    request = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta}}
    headers = {
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": version,
        "Mcp-Method": "tools/list",
    }
    async with (
        server.session_manager.run(),
        httpx2.AsyncClient(transport=httpx2.ASGITransport(app), base_url="http://127.0.0.1") as http,
    ):
        r = await http.post("/mcp", json=request, headers=headers)
    return len(json.dumps(r.json()["result"], separators=(",", ":")).encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skills", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()

    for version in ("2025-11-25", "2026-07-28"):
        size = asyncio.run(tools_list_bytes(version))
        print(f"tools/list result ({version}): {size} bytes of JSON (target 600; full typed schema)")

    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    raw = generate(args.skills)
    doc = IndexDocument.from_json(raw)
    after_doc = tracemalloc.get_traced_memory()[0]
    t0 = time.perf_counter()
    catalog.catalog_for(doc)
    build_ms = (time.perf_counter() - t0) * 1000
    after_cat = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    print(
        f"index of {args.skills} skills: document {(after_doc - before) / 1e6:.1f} MB, "
        f"search structure {(after_cat - after_doc) / 1e6:.1f} MB "
        f"(built once per serial in {build_ms:.0f} ms)"
    )

    state = State(doc)
    member = member_from_claims({"sub": "u1", "email": "member@corp.example"})
    now = datetime.now(UTC)
    rng = random.Random(1)
    queries = [" ".join(rng.sample(WORDS, rng.randint(1, 2))) for _ in range(args.runs)]
    installed = [{"name": s["name"], "version": "1.0.0"} for s in rng.sample(raw["skills"], 50)]

    async def measure(raw: dict[str, Any] | None, queried: bool) -> list[float]:
        out = []
        for i in range(args.runs):
            call = {"action": "search", "query": queries[i]} if queried else raw
            t0 = time.perf_counter()
            await run_action(state, member, call or {}, now=now)
            out.append((time.perf_counter() - t0) * 1000)
        return out

    s = asyncio.run(measure(None, True))
    u = asyncio.run(measure({"action": "updates", "installed": installed}, False))
    base = timed(lambda i: naive_search(raw, queries[i]), max(20, args.runs // 10))
    core = timed(lambda i: catalog.search(doc, queries[i]), args.runs)
    for name, values in (("search (run_action)", s), ("updates x50 (run_action)", u)):
        p50, p99 = pct(values, 0.5), pct(values, 0.99)
        verdict = "OK" if p50 <= 5 else "OVER TARGET"
        print(f"{name:28s} p50 {p50:7.3f} ms  p99 {p99:7.3f} ms  [{verdict}: target p50 <= 5 ms]")
    b50, c50 = pct(base, 0.5), pct(core, 0.5)
    print(
        f"{'search core':28s} p50 {c50:7.3f} ms  vs naive linear scan p50 {b50:7.3f} ms "
        f"-> {b50 / max(c50, 1e-6):.0f}x faster"
    )


if __name__ == "__main__":
    main()
