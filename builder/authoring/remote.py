"""Editor actions through the proxy: publish / bump / delete a skill by committing to the
marketplace's Git remote as the service, with a ``Requested-by: <email>`` trailer.

Each action clones (once) or fetches the remote, plans the change on a clean copy of the default
branch, applies it, validates it with the same rules as the build, commits and pushes — to the
default branch, or to a new branch per change in ``branch_mode``. When another writer pushed first
(non-fast-forward), it fetches again, re-plans on the new state and retries a bounded number of
times, so concurrent changes all land (two bumps give two versions) or the caller gets a clear
``PublishConflict``. A change that fails validation is never pushed.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from builder.authoring.apply import Validator, applied, read_checkout
from builder.authoring.gitrepo import GitRepo
from builder.authoring.plans import Checkout, Plan, check_relative_path, plan_bump, plan_delete, plan_publish
from builder.changes import note_trailers
from builder.errors import BadInput, PublishConflict, PushRejected

_EMAIL = re.compile(r"^[^@\s<>\x00-\x1f\x7f]{1,64}@[A-Za-z0-9.-]{1,253}$")


@dataclass(frozen=True)
class PublishResult:
    action: str
    plugin: str
    skill: str
    version: str | None
    commit: str
    branch: str
    message: str
    attempts: int

    def as_dict(self) -> dict[str, object]:
        return {
            "action": self.action,
            "plugin": self.plugin,
            "skill": self.skill,
            "version": self.version,
            "commit": self.commit,
            "branch": self.branch,
            "message": self.message,
        }


class GitPublisher:
    """Commits editor changes to ``remote_url``. One instance serializes its own actions (one
    working copy under ``workdir``); separate instances (replicas) race safely through the remote."""

    def __init__(
        self,
        remote_url: str,
        *,
        branch_mode: bool,
        workdir: Path,
        author_name: str,
        author_email: str,
        subdir: str = "",
        max_attempts: int = 5,
        validate: Validator | None = None,
    ) -> None:
        if not remote_url:
            raise BadInput("the marketplace Git remote URL is empty: set it in the proxy settings")
        if subdir:
            check_relative_path(subdir, what="marketplace subdir")
        if not author_name or not _EMAIL.match(author_email or ""):
            raise BadInput("the publisher needs an author name and a valid author email")
        if max_attempts < 1:
            raise BadInput("max_attempts must be at least 1")
        self.remote_url = remote_url
        self.branch_mode = branch_mode
        self.workdir = Path(workdir)
        self.subdir = subdir
        self.max_attempts = max_attempts
        self.validate = validate
        self._env = {
            "GIT_AUTHOR_NAME": author_name,
            "GIT_AUTHOR_EMAIL": author_email,
            "GIT_COMMITTER_NAME": author_name,
            "GIT_COMMITTER_EMAIL": author_email,
        }
        self._lock = threading.Lock()
        self._default_branch: str | None = None

    # -- the three actions ----------------------------------------------------------------------

    def publish(
        self,
        files: list[tuple[str, bytes]],
        plugin: str,
        skill: str,
        requested_by: str,
        *,
        bump: str | None = "patch",
        note: str | None = None,
    ) -> PublishResult:
        """Create or replace skill ``plugin/skill`` with exactly ``files`` (paths relative to the
        skill folder). An existing skill whose content changed without a version change gets a
        ``bump`` (refused when None)."""
        files = [(str(p), bytes(d)) for p, d in files]
        return self._change(lambda co: plan_publish(co, plugin, skill, files, bump=bump), requested_by, note)

    def bump(self, skill: str, part: str, requested_by: str, *, note: str | None = None) -> PublishResult:
        return self._change(lambda co: plan_bump(co, skill, part), requested_by, note)

    def delete(self, skill: str, requested_by: str) -> PublishResult:
        return self._change(lambda co: plan_delete(co, skill), requested_by)

    # -- machinery -------------------------------------------------------------------------------

    def _repo(self) -> GitRepo:
        clone = self.workdir / "checkout"
        if (clone / ".git").exists():
            repo = GitRepo(clone, self._env)
            repo.fetch()
            return repo
        return GitRepo.clone(self.remote_url, clone, env=self._env)

    def _change(
        self, planner: Callable[[Checkout], Plan], requested_by: str, note: str | None = None
    ) -> PublishResult:
        if not isinstance(requested_by, str) or not _EMAIL.match(requested_by):
            raise BadInput("requested_by must be the editor's email address")
        trailers = {"Requested-by": requested_by, **note_trailers(note)}
        with self._lock:
            repo = self._repo()
            if self._default_branch is None:
                self._default_branch = repo.default_branch("origin")
            base = self._default_branch
            for attempt in range(1, self.max_attempts + 1):
                if attempt > 1:
                    repo.fetch()
                repo.reset_to(f"origin/{base}")
                root = repo.path / self.subdir if self.subdir else repo.path
                plan = planner(read_checkout(root))
                with applied(root, plan, validate=self.validate):
                    paths = [f"{self.subdir}/{p}" if self.subdir else p for p in plan.paths]
                    commit = repo.commit(plan.message, trailers=trailers, paths=paths, hooks=False)
                target = (
                    f"skillport/{plan.action}-{plan.skill}-{uuid.uuid4().hex[:8]}"
                    if self.branch_mode
                    else base
                )
                try:
                    repo.push("origin", "HEAD", target)
                except PushRejected:
                    continue
                return PublishResult(
                    plan.action, plan.plugin, plan.skill, plan.version, commit, target, plan.subject, attempt
                )
            raise PublishConflict(
                f"the marketplace's {base} branch changed {self.max_attempts} times while this change "
                "was being pushed; nothing was published — try again in a moment"
            )


def publish_files_from_dir(folder: Path) -> Sequence[tuple[str, bytes]]:
    """A skill folder's regular files as ``(relative path, bytes)`` (for tests and the CLI)."""
    folder = Path(folder)
    return [
        (p.relative_to(folder).as_posix(), p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    ]
