"""The package boundaries a newcomer can rely on (issue 14, item 3): the builder never imports the
proxy except the one CLI composition module, lazily, for ``serve``; the proxy never imports the build
pipeline (so the proxy runs without MkDocs) — the rebuild after an editor's publish is injected."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIPELINE = ("builder.build", "builder.site", "builder.plan", "builder.validate", "builder.publish", "mkdocs")


def imports(path: Path) -> list[tuple[str, bool]]:
    """(module, at top level?) for every import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, id(node) in top))
    return found


def test_only_the_cli_imports_the_proxy_and_only_lazily() -> None:
    offenders = []
    for path in sorted((ROOT / "builder").rglob("*.py")):
        for module, at_top in imports(path):
            if module == "proxy" or module.startswith("proxy."):
                rel = path.relative_to(ROOT).as_posix()
                if rel != "builder/cli.py" or at_top:
                    offenders.append(f"{rel}: {module}")
    assert offenders == []


def test_the_proxy_never_imports_the_build_pipeline() -> None:
    offenders = [
        f"{path.relative_to(ROOT).as_posix()}: {module}"
        for path in sorted((ROOT / "proxy").rglob("*.py"))
        if path.name != "demo.py"  # the local demo builds the example site on purpose
        for module, _ in imports(path)
        if module.startswith(PIPELINE)
    ]
    assert offenders == []


def test_serving_loads_no_build_pipeline_and_no_mkdocs() -> None:
    code = (
        "import sys, builder.cli, proxy.app, proxy.serve\n"
        f"bad = sorted(m for m in sys.modules if m.startswith({PIPELINE!r}))\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
