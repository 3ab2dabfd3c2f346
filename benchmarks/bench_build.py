"""Build speed: a full ``skillport build`` and a one-skill-changed rebuild, for generated marketplaces.

    .venv/bin/python benchmarks/bench_build.py [--sizes 100 1000] [--rounds 1]

For each size N it generates (in a temp dir) a marketplace of N skills in plugins of 100 (the skill
folders of ``bench_package.generate``: SKILL.md, a reference, a script, a binary asset, sometimes a
nested folder) and times, in this one process:

- a full build into an empty SITE (validate, package every zip, index, sign, catalog, well-known),
  with the peak memory of the build (this process's, counted from the build's start) and of its
  render/package workers;
- a rebuild after one skill changed and bumped its own ``metadata.version`` and its plugin's (the
  rest is reused), with how many zips and pages were made again;
- the largest page written (no page should pass 1 MB);
- the baseline: ``mkdocs build`` of the very same pages, as Markdown, run in this process
  (``mkdocs_baseline.py``), and the ratios of both builds to it;
- the builder's packaging of the same skill folders (read + ``upload_zip`` + write) against
  ``zip -qr -X`` per folder, the baseline, with ``bench_package``'s functions.

Prints figures and ratios; never fails on speed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import mkdocs_baseline  # noqa: E402
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


def _peak_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def _reset_peak() -> None:
    """Start the process's peak-RSS count (VmHWM) afresh, so it covers the build alone and not the
    generation of the marketplace before it (Linux: ``/proc/self/clear_refs``)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _build_peak_mib() -> float:
    """VmHWM since ``_reset_peak`` (the whole process's peak where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return _peak_mib(resource.RUSAGE_SELF)


def run_size(count: int, rounds: int, seed: int, baseline: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        root = Path(tmp) / "market"
        folders = make_marketplace(root, count, seed)
        files = sum(1 for f in folders for p in f.rglob("*") if p.is_file())
        size = sum(p.stat().st_size for f in folders for p in f.rglob("*") if p.is_file())

        out = Path(tmp) / "site"
        with mkdocs_baseline.capture() as seen:
            _reset_peak()
            start = time.perf_counter()
            full = build(root, out, keys=KEYS, now=NOW)
            full_s = time.perf_counter() - start
        peak, workers_peak = _build_peak_mib(), _peak_mib(resource.RUSAGE_CHILDREN)
        largest_page = max(out.rglob("*.html"), key=lambda p: p.stat().st_size)
        largest = (largest_page.stat().st_size, largest_page.relative_to(out).as_posix())

        bump_one(folders[count // 2])
        start = time.perf_counter()
        again = build(root, out, keys=KEYS, now=NOW + timedelta(minutes=5))
        rebuild_s = time.perf_counter() - start
        if again.failed:
            raise SystemExit(f"the one-change rebuild failed a check, its time would mislead: {again.failed}")

        mkdocs_s, mkdocs_pages = (0.0, 0)
        if baseline:
            mkdocs_s, mkdocs_pages = mkdocs_baseline.mkdocs_build(seen, Path(tmp) / "baseline")

        scratch = Path(tmp) / "scratch"
        scratch.mkdir()
        ours = best_of(rounds, lambda o: builder_run(folders, o), scratch)
        theirs = (
            best_of(rounds, lambda o: zip_per_skill(folders, o), scratch) if shutil.which("zip") else None
        )

    print(f"== {count} skills in {len(folders) // PER_PLUGIN or 1} plugin(s): {files} files, {size:,} bytes")
    print(
        f"full build:               {full_s:8.2f} s  ({full.packaged} zips packaged, "
        f"{full.pages_rendered} pages rendered; peak RSS of the build {peak:.0f} MiB, "
        f"render/package workers {workers_peak:.0f} MiB)"
    )
    print(
        f"one skill changed+bumped: {rebuild_s:8.2f} s  ({again.packaged} zips packaged, "
        f"{again.reused} reused; {again.pages_rendered} pages rendered, {again.pages_reused} reused)  "
        "ratio rebuild/full "
        f"{rebuild_s / full_s:.2f}x"
    )
    print(f"largest page:             {largest[0] / 1024:8.1f} KiB ({largest[1]})")
    if baseline:
        print(
            f"mkdocs build, same pages: {mkdocs_s:8.2f} s  ({mkdocs_pages} pages)  ratio full/mkdocs "
            f"{full_s / mkdocs_s:.2f}x, one-change/mkdocs {rebuild_s / mkdocs_s:.2f}x"
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
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-baseline", action="store_true", help="skip the `mkdocs build` baseline")
    args = parser.parse_args()
    for count in args.sizes:
        run_size(count, args.rounds, args.seed, baseline=not args.no_baseline)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
