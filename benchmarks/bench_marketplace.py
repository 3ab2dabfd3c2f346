"""Whole-plugin build speed on a community-style marketplace: N plugins (default 96), each with
commands, agents, a hooks file, an MCP server and two skills, a third of them ``strict: false``
without plugin.json, plus a few ``"source": "./"`` plugins listing skills of one shared folder.

    .venv/bin/python benchmarks/bench_marketplace.py [--plugins 96] [--rounds 1]

Times, in this one process: load + validate alone; a full build into an empty SITE; a rebuild with
nothing changed (every zip reused); a rebuild after one plugin's command changed and its version was
bumped. Prints figures; never fails on speed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from builder.build import build  # noqa: E402
from builder.validate import validate_marketplace  # noqa: E402

KEYS = ["m" * 40]
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _skill(folder: Path, name: str) -> None:
    _write(
        folder / "SKILL.md",
        f"---\nname: {name}\ndescription: Does {name} work. Use when the task mentions {name}.\n---\n\n"
        f"# {name}\n\n" + "Step by step instructions.\n" * 40,
    )
    _write(folder / "references/guide.md", f"# {name} guide\n\n" + "Detail.\n" * 200)


def generate(root: Path, plugins: int) -> None:
    entries: list[dict[str, object]] = []
    for i in range(plugins):
        name = f"plugin-{i:03d}"
        folder = root / "plugins" / name
        for j in range(2):
            _skill(folder / "skills" / f"{name}-skill-{j}", f"{name}-skill-{j}")
        for j in range(3):
            _write(
                folder / f"commands/cmd-{j}.md",
                f"---\ndescription: Command {j} of {name}\n---\nRun step {j}.\n",
            )
        _write(
            folder / "agents/reviewer.md",
            f"---\nname: reviewer\ndescription: Reviews {name} output\n---\nReview.\n",
        )
        _write(
            folder / "hooks/hooks.json",
            json.dumps({"hooks": {"PostToolUse": [{"hooks": [{"type": "command", "command": "true"}]}]}}),
        )
        _write(folder / ".mcp.json", json.dumps({"mcpServers": {f"{name}-srv": {"command": "node"}}}))
        entry: dict[str, object] = {"name": name, "source": f"./plugins/{name}", "description": f"Plugin {i}"}
        if i % 3 == 0:
            entry |= {"strict": False, "version": "1.0.0"}
        else:
            _write(folder / ".claude-plugin/plugin.json", json.dumps({"name": name, "version": "1.0.0"}))
        entries.append(entry)
    for k in range(4):  # "./" plugins listing skills of one shared folder
        skills = [f"shared-{k}-{j}" for j in range(3)]
        for s in skills:
            _skill(root / "skills" / s, s)
        entries.append(
            {
                "name": f"bundle-{k}",
                "source": "./",
                "strict": False,
                "version": "1.0.0",
                "description": f"Bundle {k}",
                "skills": [f"./skills/{s}" for s in skills],
            }
        )
    _write(
        root / ".claude-plugin/marketplace.json",
        json.dumps({"name": "bench-community", "owner": {"name": "Bench"}, "plugins": entries}),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--plugins", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "market"
            generate(root, args.plugins)
            t0 = time.perf_counter()
            marketplace, problems = validate_marketplace(root)
            t_validate = time.perf_counter() - t0
            errors = [p for p in problems if p.is_error]
            if errors:
                print("\n".join(p.format() for p in errors[:5]))
                return 1
            components = sum(len(p.components) for p in marketplace.plugins)
            site = Path(tmp) / "site"
            t0 = time.perf_counter()
            full = build(root, site, keys=KEYS, now=NOW)
            t_full = time.perf_counter() - t0
            t0 = time.perf_counter()
            again = build(root, site, keys=KEYS, now=NOW + timedelta(minutes=1))
            t_again = time.perf_counter() - t0
            _write(root / "plugins/plugin-001/commands/cmd-0.md", "---\ndescription: Changed\n---\nNew.\n")
            manifest = root / "plugins/plugin-001/.claude-plugin/plugin.json"
            manifest.write_text(json.dumps({"name": "plugin-001", "version": "1.0.1"}))
            t0 = time.perf_counter()
            one = build(root, site, keys=KEYS, now=NOW + timedelta(minutes=2))
            t_one = time.perf_counter() - t0
            counts = f"{len(marketplace.plugins)} plugins, {len(marketplace.skills)} skills"
            print(f"{counts}, {components} other components")
            print(f"  load + validate        {t_validate:6.2f} s")
            print(f"  full build             {t_full:6.2f} s  ({full.packaged} zips packaged)")
            reuse = f"{again.packaged} packaged, {again.reused} reused"
            print(f"  rebuild, no change     {t_again:6.2f} s  ({reuse})")
            print(f"  rebuild, one plugin    {t_one:6.2f} s  ({one.packaged} packaged, {one.reused} reused)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
