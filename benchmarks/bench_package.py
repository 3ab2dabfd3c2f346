"""Packaging speed: the builder's deterministic upload zips vs Info-ZIP on the same skill folders.

    python benchmarks/bench_package.py [--skills N] [--seed S]

Generates N skill folders in a temp dir (SKILL.md, a compressible reference, a script, an
incompressible asset, and every fourth skill a nested folder), then times, in this one process:

- builder: read every folder's files (``SkillFile``, which hashes them) + ``upload_zip`` + write the
  zip to disk, one zip per skill;
- ``zip -qr -X`` once per skill folder (the same outputs: one zip per skill; the baseline);
- for reference, one ``zip -qr -X`` of all folders into a single archive (Info-ZIP's best case,
  no per-process cost).

Prints the figures and the ratio builder / per-skill zip (target ≤ 1.5×). Each side runs ``--rounds``
times (default 3) after a warm-up that reads every file once; the best round counts.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from builder.model import SkillFile
from builder.package import upload_zip

WORDS = [
    "skill",
    "agent",
    "extract",
    "table",
    "form",
    "invoice",
    "ledger",
    "review",
    "deploy",
    "worker",
    "config",
    "schema",
    "pipeline",
    "validate",
    "transform",
    "report",
    "summary",
    "customer",
    "account",
    "quarter",
    "revenue",
    "policy",
]


def _text(rnd: random.Random, size: int) -> bytes:
    out: list[str] = []
    length = 0
    while length < size:
        line = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(5, 14))) + "\n"
        out.append(line)
        length += len(line)
    return "".join(out).encode()[:size]


def generate(root: Path, count: int, seed: int) -> list[Path]:
    rnd = random.Random(seed)
    folders = []
    for i in range(count):
        name = f"skill-{i:05d}"
        folder = root / name
        (folder / "references").mkdir(parents=True)
        (folder / "scripts").mkdir()
        (folder / "assets").mkdir()
        body = _text(rnd, rnd.randint(800, 2500))
        (folder / "SKILL.md").write_bytes(
            f"---\nname: {name}\ndescription: Benchmark skill {i}. Use when testing.\n---\n".encode() + body
        )
        (folder / "references" / "REFERENCE.md").write_bytes(_text(rnd, rnd.randint(2000, 6000)))
        (folder / "scripts" / "run.py").write_bytes(_text(rnd, rnd.randint(1000, 3000)))
        (folder / "assets" / "blob.bin").write_bytes(rnd.randbytes(rnd.randint(1000, 4000)))
        if i % 4 == 0:
            (folder / "references" / "deep" / "more").mkdir(parents=True)
            (folder / "references" / "deep" / "more" / "NOTES.md").write_bytes(_text(rnd, 3000))
        folders.append(folder)
    return folders


def read_skill(folder: Path) -> list[SkillFile]:
    files = []
    base = len(str(folder)) + 1
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            full = os.path.join(dirpath, name)
            with open(full, "rb") as fh:
                files.append(SkillFile(full[base:].replace(os.sep, "/"), fh.read()))
    return files


def builder_run(folders: list[Path], out: Path) -> None:
    for folder in folders:
        data = upload_zip(folder.name, read_skill(folder))
        (out / f"{folder.name}.zip").write_bytes(data)


def zip_per_skill(folders: list[Path], out: Path) -> None:
    for folder in folders:
        subprocess.run(
            ["zip", "-qr", "-X", str(out / f"{folder.name}.zip"), folder.name], cwd=folder.parent, check=True
        )


def zip_all(folders: list[Path], out: Path) -> None:
    subprocess.run(
        ["zip", "-qr", "-X", str(out / "all.zip"), *(f.name for f in folders)],
        cwd=folders[0].parent,
        check=True,
    )


def best_of(rounds: int, work: Callable[[Path], None], scratch: Path) -> float:
    best = float("inf")
    for r in range(rounds):
        out = scratch / f"out-{r}"
        out.mkdir()
        start = time.perf_counter()
        work(out)
        best = min(best, time.perf_counter() - start)
        shutil.rmtree(out)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--skills", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    if not shutil.which("zip"):
        print("Info-ZIP `zip` is not installed (apt-get install zip); no baseline to compare with")
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-package-") as tmp:
        root = Path(tmp) / "skills"
        scratch = Path(tmp) / "scratch"
        scratch.mkdir()
        folders = generate(root, args.skills, args.seed)
        files = sum(len(read_skill(f)) for f in folders)  # warm-up: every file read once
        size = sum(p.stat().st_size for f in folders for p in f.rglob("*") if p.is_file())

        ours = best_of(args.rounds, lambda out: builder_run(folders, out), scratch)
        theirs = best_of(args.rounds, lambda out: zip_per_skill(folders, out), scratch)
        single = best_of(args.rounds, lambda out: zip_all(folders, out), scratch)

    print(f"skills: {args.skills}  files: {files}  bytes: {size:,}  rounds: {args.rounds} (best)")
    print(f"builder read + upload_zip + write: {ours:8.3f} s  ({ours / args.skills * 1000:.2f} ms/skill)")
    print(f"zip -qr -X per skill folder:       {theirs:8.3f} s  ({theirs / args.skills * 1000:.2f} ms/skill)")
    print(f"zip -qr -X all folders, one zip:   {single:8.3f} s  (reference only)")
    ratio = ours / theirs
    print(f"ratio builder / zip per skill: {ratio:.2f}x  (target <= 1.5x) {'OK' if ratio <= 1.5 else 'SLOW'}")
    print(f"ratio builder / zip single archive: {ours / single:.2f}x  (reference only)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
