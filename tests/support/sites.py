"""Sites made by the real builder from the fixture marketplaces under ``tests/fixtures/marketplaces/``.

Each fixture is built once per test session (per signing key and base URL) into a temporary folder;
a test gets its own copy with ``copy_site``. Tests of the proxy serve these sites, never a
hand-written index. A test of the index's signature or rollback may ``republish`` a built index
with another serial or lifetime, re-signed as the builder signs it.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from builder import index
from builder.build import build
from tests.support.paths import EXAMPLES

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "marketplaces"
EXAMPLE = "example"  # the name of examples/marketplace here

# Earlier states of a fixture, committed before its final state so the builder reads a version history:
# fixture -> [(commit subject, {skill folder: version written into its SKILL.md's metadata})].
HISTORIES: dict[str, list[tuple[str, dict[str, str]]]] = {
    "office": [
        (
            "release 1.0.0",
            {
                "plugins/office/skills/pdf-forms": "1.0.0",
                "plugins/office/skills/brand-voice": "1.0.0",
                "plugins/finance-tools/skills/ledger-close": "1.0.0",
            },
        ),
        ("pdf-forms 1.1.0", {"plugins/office/skills/pdf-forms": "1.1.0"}),
    ],
    "catalog": [("First draft <b>x</b>", {"plugins/data-guides/skills/sql-style-guide": "0.9.0"})],
}

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "Fixture",
    "GIT_AUTHOR_EMAIL": "fixture@corp.example",
    "GIT_COMMITTER_NAME": "Fixture",
    "GIT_COMMITTER_EMAIL": "fixture@corp.example",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}
_cache: dict[tuple[str, tuple[str, ...], str | None], Path] = {}
_work: Path | None = None


def _workdir() -> Path:
    global _work
    if _work is None:
        _work = Path(tempfile.mkdtemp(prefix="skillport-fixture-sites-"))
        atexit.register(shutil.rmtree, _work, True)
    return _work


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(root), *args], check=True, capture_output=True, env={**os.environ, **_GIT_ENV}
    )


def _with_version(text: str, version: str) -> str:
    head, sep, rest = text.partition('  version: "')
    assert sep, "a fixture skill with a history sets metadata.version"
    return head + sep + version + rest[rest.index('"') :]


def checkout(name: str, dest: Path) -> Path:
    """A copy of fixture marketplace ``name`` at ``dest``; fixtures with a history become a Git
    checkout whose commits carry the earlier versions (see ``HISTORIES``)."""
    shutil.copytree(FIXTURES / name, dest)
    steps = HISTORIES.get(name)
    if steps:
        final = {
            folder: (dest / folder / "SKILL.md").read_text() for _, versions in steps for folder in versions
        }
        _git(dest, "init", "-q", "-b", "main")
        for subject, versions in steps:
            for folder, version in versions.items():
                (dest / folder / "SKILL.md").write_text(_with_version(final[folder], version))
            _git(dest, "add", "-A")
            _git(dest, "commit", "-q", "-m", subject)
        for folder, text in final.items():
            (dest / folder / "SKILL.md").write_text(text)
        _git(dest, "add", "-A")
        _git(dest, "commit", "-q", "-m", "current release")
    return dest


def built_site(name: str, keys: Sequence[str], *, base_url: str | None = None) -> Path:
    """The site the real builder makes from fixture ``name`` (``EXAMPLE``: examples/marketplace, read
    where it is), built once per session. Read only: ``copy_site`` gives a test a copy it may change."""
    key = (name, tuple(keys), base_url)
    if key not in _cache:
        work = Path(tempfile.mkdtemp(prefix=name + "-", dir=_workdir()))
        source = EXAMPLES if name == EXAMPLE else checkout(name, work / "marketplace")
        build(source, work / "site", keys=list(keys), now=datetime.now(UTC), base_url=base_url)
        _cache[key] = work / "site"
    return _cache[key]


def read_index(site: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((site / "index.json").read_bytes())
    return document


def copy_site(name: str, root: Path, keys: Sequence[str], *, base_url: str | None = None) -> dict[str, Any]:
    """Copy the built fixture site ``name`` to ``root`` (created); return its index document."""
    shutil.copytree(built_site(name, keys, base_url=base_url), root, dirs_exist_ok=True)
    return read_index(root)


def republish(
    root: Path,
    document: dict[str, Any],
    keys: Sequence[str],
    *,
    serial: int | None = None,
    now: datetime | None = None,
    expires_in: timedelta | None = None,
) -> dict[str, Any]:
    """Re-sign a built site's index with another serial and/or lifetime (signing, rollback and expiry
    tests), written the way the builder publishes it (signature first, then the index, atomically)."""
    changed = dict(document)
    if serial is not None:
        changed["serial"] = serial
    if now is not None or expires_in is not None:
        start = now or datetime.now(UTC)
        changed["generated_at"] = index.format_time(start)
        changed["expires_at"] = index.format_time(start + (expires_in or timedelta(days=30)))
    data = index.encode(changed)
    (root / "index.json.tmp").write_bytes(data)
    (root / "index.json.sig").write_bytes(index.sign(data, list(keys)))
    os.replace(root / "index.json.tmp", root / "index.json")
    return changed
