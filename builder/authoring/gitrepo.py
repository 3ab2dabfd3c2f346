"""A thin wrapper over the ``git`` command line: clone, fetch, status, add, commit with trailers,
push (with a typed error for a lost push race). Git never prompts (``GIT_TERMINAL_PROMPT=0``)."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from builder.errors import BadInput, GitError, PushRejected

GIT_TIMEOUT = 120
_TRAILER_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,63}$")
_REJECTED = (
    "[rejected]",
    "non-fast-forward",
    "fetch first",
    "cannot lock ref",
    "failed to update ref",
    "remote rejected",
    "stale info",
)


def _clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "LANG": "C", "GIT_ASKPASS": "true"})
    env.update(extra)
    return env


def _redact(text: str) -> str:
    """Drop credentials from URLs (``https://user:token@host``) before they reach a message."""
    return re.sub(r"(\w+://)[^/@\s]+@", r"\1***@", text)


@dataclass(frozen=True)
class GitRepo:
    """A working tree at ``path``; ``env`` is added to every git call (e.g. author identity)."""

    path: Path
    env: Mapping[str, str] = field(default_factory=dict)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_git(list(args), cwd=self.path, env=self.env, check=check)

    @classmethod
    def find(cls, path: Path, env: Mapping[str, str] | None = None) -> GitRepo | None:
        """The repository containing ``path`` (its top level), or None outside any repository."""
        done = run_git(["rev-parse", "--show-toplevel"], cwd=Path(path), env=env or {}, check=False)
        if done.returncode != 0:
            return None
        return cls(Path(done.stdout.strip()), dict(env or {}))

    @classmethod
    def clone(cls, url: str, dest: Path, *, env: Mapping[str, str] | None = None) -> GitRepo:
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        run_git(["clone", "--quiet", "--no-tags", "--", url, str(dest)], cwd=Path(dest).parent, env=env or {})
        return cls(Path(dest), dict(env or {}))

    def head(self) -> str:
        return self.run("rev-parse", "HEAD").stdout.strip()

    def status(self, paths: Sequence[str] = ()) -> list[str]:
        """``git status --porcelain`` lines (for ``paths`` only when given)."""
        out = self.run("status", "--porcelain", "--untracked-files=all", "--", *paths).stdout
        return [line for line in out.splitlines() if line]

    def add(self, paths: Sequence[str]) -> None:
        """Stage ``paths`` including deletions."""
        if paths:
            self.run("add", "--all", "--", *paths)

    def commit(
        self,
        message: str,
        *,
        trailers: Mapping[str, str] | None = None,
        paths: Sequence[str] | None = None,
        hooks: bool = True,
    ) -> str:
        """Commit (only ``paths`` when given, staging them first) and return the new commit id.
        On failure the paths are unstaged again. ``hooks=False`` skips the repository's hooks."""
        full = with_trailers(message, trailers or {})
        if paths is not None:
            self.add(paths)
        try:
            args = ["commit", "--quiet", "-m", full] + ([] if hooks else ["--no-verify"])
            if paths is not None:
                args += ["--", *paths]
            self.run(*args)
        except GitError:
            if paths:
                self.run("reset", "--quiet", "--", *paths, check=False)
            raise
        return self.head()

    def fetch(self, remote: str = "origin") -> None:
        self.run("fetch", "--quiet", "--prune", "--no-tags", remote)

    def default_branch(self, remote: str = "origin") -> str:
        """The remote's default branch name (from ``ls-remote --symref``)."""
        out = self.run("ls-remote", "--symref", remote, "HEAD").stdout
        match = re.search(r"^ref: refs/heads/(\S+)\s+HEAD", out, re.MULTILINE)
        if not match:
            raise GitError(f"cannot tell the default branch of {_redact(remote)}: is the repository empty?")
        return match.group(1)

    def reset_to(self, ref: str) -> None:
        """Make the working tree exactly ``ref``: detached checkout, no untracked files."""
        self.run("checkout", "--quiet", "--force", "--detach", ref)
        self.run("clean", "--quiet", "-fdx")

    def push(self, remote: str, src: str, dst_branch: str) -> None:
        """Push ``src`` to ``refs/heads/dst_branch``; ``PushRejected`` when the branch moved."""
        done = self.run("push", "--porcelain", remote, f"{src}:refs/heads/{dst_branch}", check=False)
        if done.returncode == 0:
            return
        text = done.stdout + done.stderr
        if any(marker in text for marker in _REJECTED):
            raise PushRejected(f"push to {dst_branch} was rejected: the branch moved on the remote")
        raise GitError(f"git push failed: {_redact(done.stderr.strip() or done.stdout.strip())[:500]}")


def with_trailers(message: str, trailers: Mapping[str, str]) -> str:
    """``message`` with ``Key: value`` trailer lines appended (values must be one line)."""
    if not message.strip():
        raise BadInput("a commit message is required")
    lines = []
    for key, value in trailers.items():
        if not _TRAILER_KEY.match(key):
            raise BadInput(f"commit trailer name {key!r} must be letters, digits and hyphens")
        if not value or any(ord(ch) < 32 or ord(ch) == 127 for ch in value) or len(value) > 320:
            raise BadInput(f"commit trailer {key} must be a single line of text")
        lines.append(f"{key}: {value}")
    body = message.rstrip("\n")
    return body + ("\n\n" + "\n".join(lines) if lines else "") + "\n"


def run_git(
    args: list[str], *, cwd: Path, env: Mapping[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=_clean_env(env),
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except FileNotFoundError as exc:
        raise GitError("git is not installed (needed to commit and publish skills)") from exc
    except subprocess.TimeoutExpired as exc:
        raise GitError(f"git {args[0]} took longer than {GIT_TIMEOUT} s") from exc
    if check and done.returncode != 0:
        detail = _redact((done.stderr or done.stdout).strip())[:500]
        raise GitError(f"git {args[0]} failed: {detail}")
    return done
