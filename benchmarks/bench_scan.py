"""Security-scan time: the example marketplace and generated marketplaces, cold and cached.

    .venv/bin/python benchmarks/bench_scan.py [--sizes 1000] [--jobs N]

Runs the real scanner (``.tools/scanner``, ``make tools``) through ``builder.scan`` as the build does:
cold (empty cache: every skill scanned, one ``scan-all`` process per core) and cached (same cache:
no scanner process). Generated skills are ``bench_build.make_marketplace``'s (SKILL.md, a
reference, a script, a binary asset). Prints figures; never fails on speed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_build import make_marketplace  # noqa: E402

from builder import scan  # noqa: E402
from builder.load import load  # noqa: E402


def measure(label: str, root: Path, scanner: scan.Scanner, cache: Path) -> None:
    marketplace, _ = load(root)
    count = len(marketplace.skills)
    for phase in ("cold", "cached"):
        start = time.perf_counter()
        result = scan.scan_marketplace(root, marketplace, scanner, cache_dir=cache)
        took = time.perf_counter() - start
        worst = Counter(r.max_severity or r.status for r in result.results.values())
        print(
            f"{label:<22} {phase:<7} {count:>6} skills  {took:8.2f} s  "
            f"{1000 * took / max(count, 1):8.1f} ms/skill"
            f"  blocked {len(result.blocked)}  max severities {dict(sorted(worst.items()))}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000])
    parser.add_argument("--jobs", type=int, default=0, help="parallel scanner processes (default: cores)")
    args = parser.parse_args(argv)
    found = scan.find_scanner()
    if found is None:
        print(f"skipped: {scan.missing_reason()}")
        return 0
    scanner = scan.Scanner(found.command, found.version, jobs=args.jobs) if args.jobs else found
    print(f"{scanner.label}, {scanner.jobs} parallel process(es)")
    with tempfile.TemporaryDirectory(prefix="bench-scan-") as tmp:
        measure(
            "example marketplace", REPO_ROOT / "examples" / "marketplace", scanner, Path(tmp) / "cache-ex"
        )
        for size in args.sizes:
            root = Path(tmp) / f"mp-{size}"
            make_marketplace(root, size, seed=size)
            measure("generated", root, scanner, Path(tmp) / f"cache-{size}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
