"""The catalog configuration stays readable by Zensical, Material for MkDocs' announced successor: it
builds the generated ``mkdocs.yml`` with the navigation pages and the organization's own pages. The
catalog's other pages are HTML the builder puts into the theme's frame (builder/engine.py), so
switching engines is a change to that module only."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from builder.build import build

pytestmark = pytest.mark.external


def test_zensical_builds_the_generated_catalog(tmp_path: Path, examples_dir: Path) -> None:
    zensical = shutil.which("zensical") or str(Path(sys.executable).parent / "zensical")
    if not Path(zensical).exists():
        pytest.skip("zensical not installed: run `make test` to install the dev extras")
    out = tmp_path / "site"
    build(examples_dir, out, keys=["k" * 40], now=datetime(2026, 11, 29, tzinfo=UTC))
    work = tmp_path / ".site.cache"  # the generated mkdocs.yml and the pages MkDocs reads
    done = subprocess.run(
        [zensical, "build", "-f", "mkdocs.yml"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    built = work / "_site"
    assert (built / "index.html").is_file()
    assert (built / "about" / "index.html").is_file()  # the organization's own page
    assert (built / "skills" / "index.html").is_file()  # a navigation page
