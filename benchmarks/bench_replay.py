"""The OAuth replay guard (T51): time per call does not grow with the number of remembered grants.

    .venv/bin/python benchmarks/bench_replay.py [--sizes 1000 100000 1000000] [--calls 20000]

For each size N it fills a ``ReplayGuard`` with N unexpired grants, then times ``--calls`` refreshes
(``advance`` of a new generation of random existing grants, plus as many ``first_use`` of fresh codes
once entries expire). Prints microseconds per call for each size; never fails on speed.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from proxy.replay import ReplayGuard


def per_call(size: int, calls: int) -> tuple[float, float]:
    guard = ReplayGuard(max_entries=size + calls + 10)
    now = 1_800_000_000.0
    for i in range(size):
        guard.advance(f"grant:{i}", 0, now + 3600 + (i % 600), now)
    rng = random.Random(1)
    picks = [rng.randrange(size) for _ in range(calls)]
    start = time.perf_counter()
    for n, i in enumerate(picks, start=1):
        guard.advance(f"grant:{i}", n, now + 3600, now)
    refresh = (time.perf_counter() - start) / calls * 1e6
    start = time.perf_counter()
    later = now + 3600 + 300  # about half of the grants have expired: each call drops some
    for n in range(calls):
        guard.first_use(f"code:{n}", later + 60, later + n * 0.01)
    codes = (time.perf_counter() - start) / calls * 1e6
    return refresh, codes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000, 1_000_000])
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    print(f"{'entries':>10}  {'refresh µs/call':>16}  {'code µs/call (with expiry)':>28}")
    for size in args.sizes:
        refresh, codes = per_call(size, args.calls)
        print(f"{size:>10}  {refresh:>16.2f}  {codes:>28.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
