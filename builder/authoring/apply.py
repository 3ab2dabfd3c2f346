"""Apply an authoring ``Plan`` to a checkout atomically, validate the result, roll back on failure.

New contents are first written to temporary files next to their targets; only when every one is
staged are they renamed into place, each replaced or deleted file first copied to a backup
directory. If a rename, the validation, or the caller's follow-up step (a Git commit) fails, every
file is restored from its backup, new files and folders are removed, and nothing is left
half-changed.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from builder.authoring.plans import Checkout, FileChange, Plan, basic_problems, check_relative_path
from builder.errors import BadInput, ValidationFailed
from builder.model import Problem

Validator = Callable[[Path], Sequence[Problem]]
SKIP_DIRS = frozenset({".git"})


def read_checkout(root: Path) -> Checkout:
    """Snapshot a marketplace folder: all file paths (``.git`` skipped) and the manifests' and
    SKILL.md files' bytes. Symlinked folders are not followed."""
    root = Path(root)
    if not root.is_dir():
        raise BadInput(f"marketplace folder {root} does not exist")
    paths: set[str] = set()
    files: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        for name in filenames:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            paths.add(rel)
            if Checkout.wants(rel):
                full = Path(dirpath) / name
                if full.is_file() and not full.is_symlink():
                    files[rel] = full.read_bytes()
    return Checkout(frozenset(paths), files)


def default_validator(root: Path) -> list[Problem]:
    """``builder.validate.validate_dir`` (every marketplace rule); a basic structural check when
    that module is not available."""
    try:
        from builder.validate import validate_dir  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return basic_problems(read_checkout(root))
    return list(validate_dir(root))


def _target(root: Path, rel: str) -> Path:
    """``root/rel``, refusing paths that leave the root or pass through a symlink."""
    check_relative_path(rel, what="changed file")
    current = root
    for part in rel.split("/")[:-1]:
        current = current / part
        if current.is_symlink():
            raise BadInput(f"{rel}: {current.relative_to(root)} is a symlink; refusing to write through it")
    target = root / rel
    if target.is_symlink():
        raise BadInput(f"{rel} is a symlink; refusing to replace it")
    return target


@dataclass
class _Done:
    target: Path
    backup: Path | None
    mode: int | None


class Transaction:
    """The file-level steps of one plan; ``rollback`` undoes everything done so far."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.backup_dir = Path(tempfile.mkdtemp(prefix="skillport-backup-"))
        self.done: list[_Done] = []
        self.created_dirs: list[Path] = []
        self.temps: list[Path] = []

    def _mkdirs(self, folder: Path) -> None:
        missing = []
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        for d in reversed(missing):
            d.mkdir()
            self.created_dirs.append(d)

    def apply(self, changes: Sequence[FileChange]) -> None:
        targets = [(_target(self.root, c.path), c) for c in changes]
        staged: list[tuple[Path, Path | None]] = []
        for target, change in targets:
            if change.data is None:
                if target.exists() and not target.is_file():
                    raise BadInput(f"{change.path} is not a regular file; refusing to delete it")
                staged.append((target, None))
                continue
            if target.exists() and not target.is_file():
                raise BadInput(f"{change.path} exists and is not a regular file")
            self._mkdirs(target.parent)
            staging = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.skillport-tmp"
            self.temps.append(staging)
            with open(staging, "xb") as handle:
                handle.write(change.data)
                handle.flush()
                os.fsync(handle.fileno())
            if target.exists():
                os.chmod(staging, stat.S_IMODE(target.stat().st_mode))
            staged.append((target, staging))
        for target, temp in staged:
            backup: Path | None = None
            mode = None
            if target.exists():
                backup = self.backup_dir / f"{len(self.done)}"
                shutil.copyfile(target, backup)
                mode = stat.S_IMODE(target.stat().st_mode)
            if temp is None and backup is None:
                continue
            self.done.append(_Done(target, backup, mode))
            if temp is None:
                target.unlink()
            else:
                os.replace(temp, target)
                self.temps.remove(temp)
        self._prune_empty_dirs([t for t, temp in staged if temp is None])

    def _prune_empty_dirs(self, deleted: list[Path]) -> None:
        for target in deleted:
            folder = target.parent
            while folder != self.root and self.root in folder.parents:
                try:
                    folder.rmdir()
                except OSError:
                    break
                folder = folder.parent

    def rollback(self) -> None:
        """Restore every replaced or deleted file, remove new files, temps and new folders."""
        for temp in self.temps:
            temp.unlink(missing_ok=True)
        for step in reversed(self.done):
            if step.backup is None:
                step.target.unlink(missing_ok=True)
                continue
            step.target.parent.mkdir(parents=True, exist_ok=True)
            temp = step.target.parent / f".{step.target.name}.{uuid.uuid4().hex[:8]}.skillport-tmp"
            shutil.copyfile(step.backup, temp)
            if step.mode is not None:
                os.chmod(temp, step.mode)
            os.replace(temp, step.target)
        for folder in reversed(self.created_dirs):
            with suppress(OSError):
                folder.rmdir()
        self.done.clear()
        self.discard()

    def discard(self) -> None:
        """Forget the backups (after success)."""
        shutil.rmtree(self.backup_dir, ignore_errors=True)


@contextmanager
def applied(root: Path, plan: Plan, *, validate: Validator | None = None) -> Iterator[list[Problem]]:
    """Apply ``plan`` under ``root`` and validate the result; yields the warnings. When the
    validation finds errors (``ValidationFailed``) or the body of the ``with`` raises, every file is
    restored before the exception propagates."""
    txn = Transaction(Path(root))
    try:
        txn.apply(plan.changes)
        problems = list((validate or default_validator)(Path(root)))
        errors = [p for p in problems if p.is_error]
        if errors:
            raise ValidationFailed(problems)
        yield [p for p in problems if not p.is_error]
    except BaseException:
        txn.rollback()
        raise
    txn.discard()


def apply_plan(root: Path, plan: Plan, *, validate: Validator | None = None) -> list[Problem]:
    """Apply, validate, keep: returns the warnings; raises ``ValidationFailed`` (files restored)."""
    with applied(root, plan, validate=validate) as warnings:
        return warnings
