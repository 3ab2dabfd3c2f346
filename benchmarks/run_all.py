"""Run every ``benchmarks/bench_*.py`` in turn (one subprocess each, quick sizes) and print their output.

    .venv/bin/python benchmarks/run_all.py [--full] [NAME ...]

``--full`` runs each script with its own default (larger) sizes; NAME limits the run to scripts whose
name contains it (e.g. ``build``). Benchmarks print figures; this exits non-zero only when a script
crashes, never because something was slow.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent

# Quick arguments per script (the default run); a script not listed runs with its own defaults.
QUICK: dict[str, list[str]] = {
    "bench_build.py": ["--sizes", "100"],
    "bench_package.py": ["--skills", "200", "--rounds", "1"],
    "bench_site.py": ["--sizes", "100"],
    "bench_connector.py": ["--skills", "1000", "--runs", "50"],
    "bench_proxy.py": ["--requests", "200"],
    "bench_proxy_scale.py": ["--skills", "1000", "--requests", "2", "--downloads", "300"],
    "bench_load.py": ["--seconds", "10"],
    "bench_replay.py": ["--sizes", "1000", "100000"],
    "bench_marketplace.py": ["--plugins", "96"],
    "bench_scan.py": ["--sizes", "100"],
    "bench_search.py": ["--sizes", "100"],
}
TIMEOUT_S = 1800  # bench_build --full builds 10,000 skills twice and runs the MkDocs baseline


def scripts(names: list[str]) -> list[Path]:
    found = sorted(HERE.glob("bench_*.py"))
    return [s for s in found if not names or any(n in s.name for n in names)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--full", action="store_true", help="use each script's default (larger) sizes")
    parser.add_argument("names", nargs="*", help="only scripts whose file name contains one of these")
    args = parser.parse_args()
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(REPO_ROOT)}
    failed = []
    for script in scripts(args.names):
        extra = [] if args.full else QUICK.get(script.name, [])
        print(f"### {script.name} {' '.join(extra)}".rstrip(), flush=True)
        start = time.perf_counter()
        try:
            done = subprocess.run(
                [sys.executable, str(script), *extra], cwd=REPO_ROOT, env=env, timeout=TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired:
            print(f"!!! {script.name} did not finish in {TIMEOUT_S} s", flush=True)
            failed.append(script.name)
            continue
        if done.returncode != 0:
            failed.append(script.name)
            print(f"!!! {script.name} exited {done.returncode}", flush=True)
        print(f"({script.name}: {time.perf_counter() - start:.1f} s)\n", flush=True)
    if failed:
        print(f"scripts that crashed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
