"""Benchmark the catalog site: how much ``render_catalog`` adds on top of MkDocs itself.

For 100 and 1,000 generated skills: time our part (index -> views -> Jinja2 -> Markdown pages, skill
bodies rendered and sanitized, config written; then moving the built files into place) and the MkDocs
step, then time ``mkdocs build`` alone on the very same generated pages (baseline, same process).
Target: the whole is at most 1.25 x MkDocs alone. Note that the skill bodies' Markdown is rendered
(and sanitized) by us, not by MkDocs, so the baseline does not include that work; a rebuild with the
same work dir takes bodies from the render cache (also printed).

    .venv/bin/python benchmarks/bench_site.py [--sizes 100 1000]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from builder import site  # noqa: E402
from builder.contract.index import IndexDocument  # noqa: E402

NOW = datetime(2026, 11, 29, 14, 0, tzinfo=UTC)
WORDS = ["data", "review", "sql", "writing", "python", "api", "design"]
WORDS += ["ops", "security", "finance", "legal", "support", "sales"]
BODY = """# {name}

Use this skill when the user asks about **{topic}**. It explains the steps, the checks and the
common mistakes, with [a reference](references/guide.md) for the details.

## Steps

1. Read the request and find the {topic} it is about.
2. Apply the house rules below.
3. Check the result against the checklist.

| rule | why |
|---|---|
| one idea per paragraph | readable |
| name the owner | accountability |

```python
def check(value: str) -> bool:
    return bool(value.strip())
```
"""


def generate(count: int) -> tuple[IndexDocument, dict[str, str]]:
    plugins: list[dict[str, Any]] = []
    skills: list[dict[str, Any]] = []
    bodies: dict[str, str] = {}
    plugin_count = max(1, count // 10)
    for p in range(plugin_count):
        plugins.append(
            {
                "name": f"plugin-{p:04d}",
                "version": "1.0.0",
                "description": f"Plugin number {p}.",
                "author": "Bench",
                "category": WORDS[p % len(WORDS)].title(),
                "tags": [WORDS[p % len(WORDS)]],
                "skills": [],
                "source": f"./plugins/plugin-{p:04d}",
            }
        )
    for i in range(count):
        name = f"skill-{i:05d}"
        plugin = plugins[i % plugin_count]
        plugin["skills"].append(name)
        topic = WORDS[i % len(WORDS)]
        skills.append(
            {
                "name": name,
                "plugin": plugin["name"],
                "version": "1.0.0",
                "description": f"Helps with {topic} tasks, variant {i}.",
                "license": "MIT",
                "compatibility": "",
                "tags": [topic, WORDS[(i * 7) % len(WORDS)]],
                "category": "",
                "author": "Bench",
                "allowed_tools": "",
                "digest": "sha256:" + "0" * 64,
                "files": [
                    {"path": "SKILL.md", "size": 900, "digest": "sha256:" + "1" * 64},
                    {"path": "references/guide.md", "size": 2000, "digest": "sha256:" + "2" * 64},
                ],
                "zip": {
                    "path": f"skills/{name}/{name}-1.0.0.zip",
                    "sha256": hashlib.sha256(name.encode()).hexdigest(),
                    "size": 1500,
                    "key": "k",
                },
                "updated_at": f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T00:00:00Z",
                "history": [
                    {"version": "1.0.0", "date": "2026-01-01", "commit": "abc1234", "subject": "Release"}
                ],
            }
        )
        bodies[name] = BODY.format(name=name, topic=topic)
    document = {
        "_type": "skillport/index",
        "format": 1,
        "serial": 1,
        "generated_at": "2026-11-29T14:00:00Z",
        "expires_at": "2026-12-29T14:00:00Z",
        "base_url": "https://skills.corp.example/",
        "marketplace": {"name": "bench-skills", "owner": {"name": "Bench"}, "description": "Bench."},
        "plugins": plugins,
        "skills": skills,
    }
    return IndexDocument.from_json(document), bodies


def run(count: int, *, quiet: bool = False) -> None:
    document, bodies = generate(count)
    with tempfile.TemporaryDirectory(prefix="bench-site-") as tmp:
        root = Path(tmp)
        out = root / "out"
        work = root / "work"
        out.mkdir()

        start = time.perf_counter()
        config_file = site.prepare_catalog(
            document,
            bodies,
            config_path=REPO_ROOT / "mkdocs.yml",
            templates_dir=REPO_ROOT / "templates",
            work_dir=work,
            now=NOW,
        )
        ours = time.perf_counter() - start

        start = time.perf_counter()
        built = site.build_site(config_file)
        engine = time.perf_counter() - start

        start = time.perf_counter()
        site._move_into(built, out)
        ours += time.perf_counter() - start
        pages = sum(1 for _ in out.rglob("*.html"))

        # Baseline: mkdocs build alone on the same generated pages and config.
        start = time.perf_counter()
        again = site.build_site(config_file)
        baseline = time.perf_counter() - start
        shutil.rmtree(again)

        # A rebuild with the same work dir: skill bodies come from the render cache.
        start = time.perf_counter()
        site.prepare_catalog(
            document,
            bodies,
            config_path=REPO_ROOT / "mkdocs.yml",
            templates_dir=REPO_ROOT / "templates",
            work_dir=work,
            now=NOW,
        )
        rebuild_ours = time.perf_counter() - start

    whole = ours + engine
    if quiet:
        return
    print(
        f"{count:>5} skills, {pages:>5} pages | ours {ours:7.2f} s | MkDocs step {engine:7.2f} s | "
        f"MkDocs alone {baseline:7.2f} s | whole / MkDocs alone = {whole / baseline:5.2f} "
        f"(ours adds {100 * ours / baseline:5.1f} %; target ≤ 25 %) | "
        f"rebuild, bodies cached: ours {rebuild_ours:5.2f} s = {100 * rebuild_ours / baseline:4.1f} %"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    args = parser.parse_args()
    run(10, quiet=True)  # warm-up: imports and first-use caches of both sides are not what we measure
    for count in args.sizes:
        run(count)


if __name__ == "__main__":
    main()
