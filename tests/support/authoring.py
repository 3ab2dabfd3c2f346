"""Shared helpers for the authoring tests (no tests here): a tiny marketplace, git, snapshots, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.paths import REPO_ROOT

MARKETPLACE = {
    "name": "test-market",
    "owner": {"name": "Test Team", "email": "team@corp.example"},
    "plugins": [
        {"name": "alpha", "source": "./plugins/alpha", "description": "Alpha tools.", "keywords": ["a", "b"]},
        {"name": "beta", "source": "./plugins/beta", "description": "Beta tools.", "version": "2.0.0-rc.1"},
    ],
}

SKILL_ONE = """---
name: one
description: "First skill. Use when testing."
---

# One

Body of one.
"""

SKILL_TWO = """---
name: two
description: Second skill with its own version.
metadata:
  author: Someone
  version: '0.9.0'  # bumped by hand until now
  tags: x,y
---

# Two

version: 9.9.9 (this line is body text, not frontmatter)
"""

SKILL_SOLO = """---
name: solo
description: The only skill of beta.
---

Solo.
"""


def write_json(path: Path, value: object) -> None:
    """The house style: indent 2, inline arrays of scalars (like examples/marketplace)."""
    from builder.authoring.plans import dump_json

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(dump_json(value))


def make_marketplace(root: Path) -> Path:
    write_json(root / ".claude-plugin/marketplace.json", MARKETPLACE)
    write_json(
        root / "plugins/alpha/.claude-plugin/plugin.json",
        {"name": "alpha", "version": "1.2.3", "description": "Alpha tools.", "keywords": ["a", "b"]},
    )
    write_json(
        root / "plugins/beta/.claude-plugin/plugin.json", {"name": "beta", "description": "Beta tools."}
    )
    for rel, text in {
        "plugins/alpha/skills/one/SKILL.md": SKILL_ONE,
        "plugins/alpha/skills/two/SKILL.md": SKILL_TWO,
        "plugins/alpha/skills/two/scripts/run.py": "print('hi')\n",
        "plugins/beta/skills/solo/SKILL.md": SKILL_SOLO,
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / "plugins/alpha/skills/two/scripts/run.py").chmod(0o755)
    return root


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"git {args} failed: {done.stderr}"
    return done.stdout


def git_env(monkeypatch: object, tmp_path: Path) -> None:
    """Author identity and an empty global config for every git call of the test (never the user's)."""
    config = tmp_path / "gitconfig"
    config.write_text("[init]\n\tdefaultBranch = main\n")
    for key, value in {
        "GIT_AUTHOR_NAME": "Test Author",
        "GIT_AUTHOR_EMAIL": "author@corp.example",
        "GIT_COMMITTER_NAME": "Test Author",
        "GIT_COMMITTER_EMAIL": "author@corp.example",
        "GIT_CONFIG_GLOBAL": str(config),
        "GIT_CONFIG_NOSYSTEM": "1",
    }.items():
        monkeypatch.setenv(key, value)  # type: ignore[attr-defined]


def init_repo(root: Path) -> Path:
    git(root, "init", "--quiet", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", "initial")
    return root


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file (bytes) and folder (None) under root, .git excluded."""
    out: dict[str, bytes | None] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] == ".git":
            continue
        out[rel.as_posix()] = None if path.is_dir() else path.read_bytes()
    return out


def run_cli(
    root: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The authoring commands as a real process with a non-terminal standard input."""
    return subprocess.run(
        [sys.executable, "-m", "builder.authoring.cli", *args, "--marketplace", str(root)],
        cwd=REPO_ROOT,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
        check=False,
    )


def load(root: Path, rel: str) -> Any:
    return json.loads((root / rel).read_text())
