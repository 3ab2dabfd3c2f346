"""The real proxy over a site built from a fresh bare Git marketplace it may publish to."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from builder.build import build
from tests.support.authoring import git, git_env, init_repo, make_marketplace
from tests.support.connector import SIGNING_KEY, Proxy, oidc_provider, run_proxy

ACCESS_YAML = """default:
  read: ["*"]
  edit: []
plugins:
  alpha:
    read: ["*"]
    edit: ["bob@corp.example"]
  beta:
    read: ["*"]
    edit: ["bob@corp.example"]
"""


def heads(remote: Path) -> dict[str, str]:
    out = git(remote, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads")
    return dict(line.split(" ", 1) for line in out.splitlines())


def make_remote(tmp_path: Path) -> Path:
    seed = make_marketplace(tmp_path / "seed")
    (seed / ".skillport").mkdir()
    (seed / ".skillport/access.yaml").write_text(ACCESS_YAML)
    init_repo(seed)
    bare = tmp_path / "market.git"
    git(tmp_path, "init", "--quiet", "--bare", "-b", "main", str(bare))
    git(seed, "push", "--quiet", str(bare), "main:main")
    return bare


@contextlib.contextmanager
def editing_proxy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, rebuild: bool = True
) -> Iterator[Proxy]:
    """The real proxy over a site built from a fresh bare Git marketplace it may publish to."""
    git_env(monkeypatch, tmp_path)
    remote = make_remote(tmp_path)
    site = tmp_path / "site"
    build(tmp_path / "seed", site, keys=[SIGNING_KEY], now=datetime.now(UTC))
    extra = {"SKILLPORT_REBUILD": "1"} if rebuild else {}
    with (
        oidc_provider() as issuer,
        run_proxy(
            site,
            issuer,
            tmp_path / "audit.jsonl",
            SKILLPORT_MARKETPLACE_GIT=str(remote),
            SKILLPORT_PUBLISH_WORKDIR=str(tmp_path / "work"),
            SKILLPORT_GIT_AUTHOR_EMAIL="skillport@corp.example",
            **extra,
        ) as running,
    ):
        yield running
