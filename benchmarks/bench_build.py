"""Build speed: a full ``skillport build`` and a one-skill-changed rebuild, for generated marketplaces.

    .venv/bin/python benchmarks/bench_build.py [--sizes 100 1000] [--rounds 1]

For each size N it generates (in a temp dir) a marketplace of N skills in plugins of 100 (the skill
folders of ``bench_package.generate``: SKILL.md, a reference, a script, a binary asset, sometimes a
nested folder) and times, in this one process:

- a full build into an empty SITE (validate, package every zip, index, sign, catalog, well-known);
- a rebuild after one skill changed and bumped its own ``metadata.version`` (the rest is reused);
- the builder's packaging of the same skill folders (read + ``upload_zip`` + write) against
  ``zip -qr -X`` per folder, the baseline, with ``bench_package``'s functions.

Prints figures and ratios; never fails on speed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_package import best_of, builder_run, generate, zip_per_skill  # noqa: E402

from builder.build import build  # noqa: E402

KEYS = ["b" * 40]
NOW = datetime(2026, 11, 29, 14, 0, tzinfo=UTC)
PER_PLUGIN = 100


def make_marketplace(root: Path, count: int, seed: int) -> list[Path]:
    """A marketplace at ``root`` with ``count`` skills; returns the skill folders."""
    scratch = root.parent / f"{root.name}-gen"
    folders = generate(scratch, count, seed)
    plugins: dict[str, list[Path]] = {}
    moved = []
    for i, folder in enumerate(folders):
        plugin = f"plugin-{i // PER_PLUGIN:03d}"
        target = root / "plugins" / plugin / "skills" / folder.name
        target.parent.mkdir(parents=True, exist_ok=True)
        folder.rename(target)
        plugins.setdefault(plugin, []).append(target)
        moved.append(target)
    shutil.rmtree(scratch, ignore_errors=True)
    for plugin in plugins:
        manifest = {"name": plugin, "version": "1.0.0", "description": f"Generated plugin {plugin}."}
        path = root / "plugins" / plugin / ".claude-plugin" / "plugin.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(manifest))
    market = {
        "name": "bench-skills",
        "owner": {"name": "Bench"},
        "plugins": [
            {"name": p, "source": f"./plugins/{p}", "description": f"Generated plugin {p}."} for p in plugins
        ],
    }
    (root / ".claude-plugin").mkdir(parents=True)
    (root / ".claude-plugin" / "marketplace.json").write_text(json.dumps(market))
    return moved


def bump_one(folder: Path) -> None:
    """Change one skill's text and bump its own version and its plugin's (so the rebuild passes the
    bump checks: without the plugin's bump the plugin fails and the old one is kept)."""
    md = folder / "SKILL.md"
    text = md.read_text()
    head, sep, body = text.partition("\n---\n")
    md.write_text(f'{head}\nmetadata:\n  version: "1.0.1"{sep}{body}\nChanged for the benchmark.\n')
    manifest_path = folder.parent.parent / ".claude-plugin" / "plugin.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["version"] = "1.0.1"
    manifest_path.write_text(json.dumps(manifest))


def run_size(count: int, rounds: int, seed: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        root = Path(tmp) / "market"
        folders = make_marketplace(root, count, seed)
        files = sum(1 for f in folders for p in f.rglob("*") if p.is_file())
        size = sum(p.stat().st_size for f in folders for p in f.rglob("*") if p.is_file())

        out = Path(tmp) / "site"
        start = time.perf_counter()
        full = build(root, out, keys=KEYS, now=NOW)
        full_s = time.perf_counter() - start

        bump_one(folders[count // 2])
        start = time.perf_counter()
        again = build(root, out, keys=KEYS, now=NOW + timedelta(minutes=5))
        rebuild_s = time.perf_counter() - start
        if again.failed:
            raise SystemExit(f"the one-change rebuild failed a check, its time would mislead: {again.failed}")

        scratch = Path(tmp) / "scratch"
        scratch.mkdir()
        ours = best_of(rounds, lambda o: builder_run(folders, o), scratch)
        theirs = (
            best_of(rounds, lambda o: zip_per_skill(folders, o), scratch) if shutil.which("zip") else None
        )

    print(f"== {count} skills in {len(folders) // PER_PLUGIN or 1} plugin(s): {files} files, {size:,} bytes")
    print(f"full build:               {full_s:8.2f} s  ({full.packaged} zips packaged, {full.reused} reused)")
    print(
        f"one skill changed+bumped: {rebuild_s:8.2f} s  ({again.packaged} zips packaged, "
        f"{again.reused} reused)"
        f"  ratio rebuild/full {rebuild_s / full_s:.2f}x"
    )
    print(f"packaging, builder:       {ours:8.3f} s  ({ours / count * 1000:.2f} ms/skill, best of {rounds})")
    if theirs is None:
        print("packaging, zip -qr -X:    (Info-ZIP `zip` not installed; no baseline)")
    else:
        print(
            f"packaging, zip -qr -X:    {theirs:8.3f} s  ({theirs / count * 1000:.2f} ms/skill)"
            f"  ratio builder/zip {ours / theirs:.2f}x"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    for count in args.sizes:
        run_size(count, args.rounds, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
