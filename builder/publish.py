"""Atomic publication of a site folder (T47): a lock against concurrent builds, a staging folder
beside the target, and a swap that never leaves a half-written ``SITE/``.

On Linux the swap is one ``renameat2(RENAME_EXCHANGE)`` call, so readers see either the old or the
new tree; elsewhere two renames leave a window of microseconds in which the folder is missing.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from builder.errors import BadInput

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


class BuildInProgress(BadInput):
    """Another build holds the lock on the same output folder."""


@contextlib.contextmanager
def build_lock(out_dir: Path) -> Iterator[None]:
    """Hold an exclusive, non-blocking lock for ``out_dir`` (released when the process dies)."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    lock_path = out_dir.parent / f".{out_dir.name}.lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BuildInProgress(
                f"another build is writing {out_dir} (lock {lock_path}); wait for it to finish and retry"
            ) from exc
        yield
    finally:
        os.close(fd)


SCRATCH_KINDS = ("build",)


def remove_leftovers(out_dir: Path) -> None:
    """Remove scratch folders a killed build left beside ``out_dir``, and old trees whose deleter
    has not finished (or was killed), in the background: the previous build's old tree of a
    10,000-skill site is still being deleted when a quick rebuild starts. Call it only while
    holding ``build_lock(out_dir)``: then no live build owns them."""
    for kind in (*SCRATCH_KINDS, "old"):
        for leftover in out_dir.parent.glob(f".{out_dir.name}.{kind}-*"):
            if leftover.is_dir() and not leftover.is_symlink():
                remove_in_background(leftover)


@contextlib.contextmanager
def scratch(out_dir: Path, kind: str) -> Iterator[Path]:
    """A fresh folder beside ``out_dir``, removed afterwards whatever happens."""
    if kind not in SCRATCH_KINDS:
        raise ValueError(f"unknown scratch kind {kind!r}")
    path = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.{kind}-", dir=out_dir.parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def cache_dir(out_dir: Path) -> Path:
    """A folder beside ``out_dir`` kept between builds (rendered-page cache). Only touched while
    holding the build lock; deleting it is always safe (the next build is a full render)."""
    path = out_dir.parent / f".{out_dir.name}.cache"
    if path.is_symlink():
        raise BadInput(f"{path} is a symbolic link; remove it")
    path.mkdir(exist_ok=True)
    return path


@contextlib.contextmanager
def staging(out_dir: Path) -> Iterator[Path]:
    """A fresh folder beside ``out_dir`` (same file system, so the swap is a rename). Removed
    afterwards unless it was swapped into place (it then holds the old tree, also removed)."""
    with scratch(out_dir, "build") as path:
        yield path


def _exchange(a: Path, b: Path) -> bool:
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    func = getattr(libc, "renameat2", None)
    if func is None:
        return False
    rc = func(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    if ctypes.get_errno() in (errno.ENOSYS, errno.EINVAL, errno.EXDEV, errno.ENOTSUP):
        return False
    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), str(a))


def swap_into_place(staged: Path, out_dir: Path) -> None:
    """Make ``staged`` the new ``out_dir``; the old tree is removed after the swap."""
    os.chmod(staged, 0o755)  # noqa: S103 - a site is world-readable, like any static site
    if out_dir.is_symlink():
        raise BadInput(f"{out_dir} is a symbolic link; point --out at a real folder")
    if not out_dir.exists():
        os.rename(staged, out_dir)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
    if _exchange(staged, out_dir):
        os.replace(staged, old)  # ``staged`` now holds the old tree
    else:
        os.replace(out_dir, old)
        os.rename(staged, out_dir)
    remove_in_background(old)


_REMOVE = "import shutil, sys; shutil.rmtree(sys.argv[1], ignore_errors=True)"


def remove_in_background(folder: Path) -> None:
    """Delete ``folder`` in a detached process: removing the old tree of a 10,000-skill site takes
    seconds of file-system work that the new site need not wait for. A folder a killed deleter
    leaves is removed by the next build (``remove_leftovers``)."""
    try:
        subprocess.Popen(
            [sys.executable, "-c", _REMOVE, str(folder)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all: a killed writer leaves no half file for a later build to
    trust (the build's caches are read back as they are). The temporary name carries the process id:
    several render processes write into one cache folder."""
    part = path.with_name(f"{path.name}.{os.getpid()}.part")
    part.write_bytes(data)
    os.replace(part, path)


def write_file(root: Path, rel: str, data: bytes) -> None:
    """Write ``data`` at ``root/rel`` (inside the staging folder, so no temp name is needed)."""
    target = root / rel
    if not target.parent.is_dir():  # a stat is cheaper than a failing mkdir on overlay file systems
        target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def write_or_link(old_root: Path, root: Path, rel: str, data: bytes) -> None:
    """``write_file``, or a hard link to ``old_root/rel`` when that file holds exactly ``data``: a
    rebuild then writes only what changed (comparing bytes already in memory is cheaper than
    writing them again)."""
    source = os.path.join(old_root, rel)
    try:
        info = os.lstat(source)
        same = stat.S_ISREG(info.st_mode) and info.st_size == len(data)
        if same:
            with open(source, "rb") as handle:
                same = handle.read() == data
    except OSError:
        same = False
    if same:
        _link_into(source, os.path.join(root, rel))
    else:
        write_file(root, rel, data)


def sha256_file(path: Path | str) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def reuse_file(old_root: Path, root: Path, rel: str, sha256: str | None = None) -> bool:
    """Hard-link (or copy) ``old_root/rel`` into ``root/rel``; False when it is not there as a regular
    file, or (given ``sha256``) does not hold those bytes. Plain ``os`` calls on strings: a rebuild of
    10,000 skills reuses some 70,000 files this way."""
    source = os.path.join(old_root, rel)
    try:
        if not stat.S_ISREG(os.lstat(source).st_mode):
            return False
        if sha256 is not None and sha256_file(source) != sha256:
            return False
    except OSError:
        return False
    _link_into(source, os.path.join(root, rel))
    return True


def _link_into(source: str, target: str) -> None:
    """Hard-link ``source`` at ``target`` (a copy where links fail), making its folder if needed."""
    try:
        _link_or_copy(source, target)
    except FileNotFoundError:  # its folder is not there yet
        os.makedirs(os.path.dirname(target), exist_ok=True)
        _link_or_copy(source, target)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
