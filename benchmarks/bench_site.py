"""Benchmark the catalog step: ``render_catalog`` against ``mkdocs build`` of the same pages.

For 100 and 1,000 generated skills: time the whole catalog step (index -> views -> skill bodies
rendered and sanitized -> Jinja2 HTML pages -> the theme's frame, builder/engine.py), then time plain
``mkdocs build`` of the very same pages written as Markdown (baseline, same process,
``mkdocs_baseline.py``), then the catalog step again with nothing changed (bodies from the render
cache, pages hard-linked from the first output). The baseline does not render skill bodies (they
arrive already as HTML), so it does less work than the catalog step.

    .venv/bin/python benchmarks/bench_site.py [--sizes 100 1000]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import mkdocs_baseline  # noqa: E402

from builder import engine, site  # noqa: E402
from builder.contract.index import IndexDocument  # noqa: E402
from builder.limits import DEFAULT_LIMITS  # noqa: E402

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
        work = root / "work"

        def render(out: Path, previous: Path | None = None) -> tuple[float, engine.RenderStats]:
            start = time.perf_counter()
            stats = site.render_catalog(
                document,
                bodies,
                out,
                config_path=REPO_ROOT / "mkdocs.yml",
                templates_dir=REPO_ROOT / "templates",
                work_dir=work,
                now=NOW,
                previous_site=previous,
                processes=DEFAULT_LIMITS.processes,
            )
            return time.perf_counter() - start, stats

        with mkdocs_baseline.capture() as seen:
            ours, first = render(root / "a")
        # The same catalog again next to the first: bodies from the render cache, pages reused.
        again, second = render(root / "b", previous=root / "a")
        baseline, mkdocs_pages = mkdocs_baseline.mkdocs_build(seen, root / "baseline")

    if quiet:
        return
    print(
        f"{count:>5} skills, {first.rendered:>5} pages | catalog step {ours:7.2f} s | "
        f"mkdocs build of the same pages ({mkdocs_pages}) {baseline:7.2f} s | ratio {ours / baseline:5.2f} | "
        f"again, nothing changed: {again:6.2f} s "
        f"({second.reused} pages reused, ratio {again / baseline:5.2f})"
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
