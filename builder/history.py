"""Git facts about a marketplace checkout: the source commit and each skill's version history.

An edge module (it runs ``git``). Two processes in all, whatever the number of skills: one
``git log --name-only`` over the marketplace folder, and one ``git cat-file --batch`` for the
manifests whose versions the history shows.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from builder import frontmatter

GIT_TIMEOUT = 120


@dataclass(frozen=True)
class Commit:
    sha: str
    date: str  # ISO 8601 with offset, as Git prints it (%aI)
    subject: str
    paths: tuple[str, ...]  # changed paths relative to the marketplace root


def _git(root: Path, *args: str, stdin: bytes | None = None) -> bytes | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            input=stdin,
            capture_output=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def head_commit(root: Path) -> str | None:
    """The checkout's HEAD commit, or None when ``root`` is not inside a Git work tree."""
    out = _git(root, "rev-parse", "--verify", "-q", "HEAD")
    return out.decode().strip() if out else None


def browse_url(remote: str) -> str | None:
    """A Git remote as a link people can open: ``https://host/path`` without credentials or ``.git``
    (``git@host:org/repo.git``, ``ssh://git@host/org/repo``, ``https://token@host/org/repo.git``);
    None for local paths and anything else."""
    remote = remote.strip()
    scp = re.fullmatch(r"[A-Za-z0-9._-]+@([A-Za-z0-9.-]+):(?!/)([A-Za-z0-9._~/-]+)", remote)
    if scp:
        host, path = scp.group(1), scp.group(2)
    else:
        parts = urlsplit(remote)
        if parts.scheme not in ("https", "http", "ssh", "git") or not parts.hostname:
            return None
        host, path = parts.hostname, parts.path.lstrip("/")
    path = path.removesuffix("/").removesuffix(".git")
    if not path or not re.fullmatch(r"[A-Za-z0-9._~/-]+", path) or ".." in path.split("/"):
        return None
    return f"https://{host}/{path}"


def remote_url(root: Path) -> str | None:
    """The ``origin`` remote of the checkout as a browsable link (see ``browse_url``), if any."""
    out = _git(root, "remote", "get-url", "origin")
    return browse_url(out.decode(errors="replace")) if out else None


def _prefix(root: Path) -> str:
    out = _git(root, "rev-parse", "--show-prefix")
    return out.decode().strip() if out else ""


def commits(root: Path) -> list[Commit]:
    """Commits touching the marketplace folder, newest first, with paths relative to ``root``."""
    out = _git(
        root, "log", "--no-merges", "--format=%x1e%H%x1f%aI%x1f%s", "--name-only", "--relative", "--", "."
    )
    if out is None:
        return []
    result = []
    for record in out.decode("utf-8", "replace").split("\x1e")[1:]:
        header, _, names = record.partition("\n")
        sha, date, subject = [*header.split("\x1f"), "", "", ""][:3]
        paths = tuple(line for line in names.splitlines() if line)
        result.append(Commit(sha, date, subject, paths))
    return result


def _read_blobs(root: Path, specs: Sequence[str]) -> dict[str, bytes]:
    """``{"<sha>:<path>": bytes}`` for each spec that exists, in one ``git cat-file --batch`` call."""
    if not specs:
        return {}
    prefix = _prefix(root)
    out = _git(
        root,
        "cat-file",
        "--batch",
        stdin="".join(f"{s.split(':', 1)[0]}:{prefix}{s.split(':', 1)[1]}\n" for s in specs).encode(),
    )
    blobs: dict[str, bytes] = {}
    if out is None:
        return blobs
    pos = 0
    for spec in specs:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        if len(header) == 3 and header[1] == b"blob":
            size = int(header[2])
            blobs[spec] = out[pos : pos + size]
            pos += size + 1
    return blobs


def _version_from(skill_md: bytes | None, plugin_json: bytes | None) -> str | None:
    if skill_md is not None:
        try:
            meta = frontmatter.parse(skill_md.decode("utf-8")).data.get("metadata")
            if isinstance(meta, Mapping) and isinstance(meta.get("version"), str):
                return str(meta["version"])
        except (UnicodeDecodeError, frontmatter.FrontmatterError):
            pass
    if plugin_json is not None:
        try:
            value = json.loads(plugin_json).get("version")
            return value if isinstance(value, str) else None
        except (ValueError, AttributeError):
            return None
    return None


def skill_histories(
    root: Path, skills: Sequence[tuple[str, str, str]], *, limit: int = 10
) -> dict[str, tuple[dict[str, str], ...]]:
    """For each ``(skill name, skill folder, plugin folder)``: up to ``limit`` history entries, newest
    first, each ``{version, date, commit, subject}`` for a commit that touched the skill folder or
    its plugin's manifest."""
    log = commits(root)
    if not log:
        return {}
    chosen: dict[str, list[Commit]] = {}
    for name, folder, plugin_folder in skills:
        manifest = f"{plugin_folder}/.claude-plugin/plugin.json"
        hits = [c for c in log if any(p.startswith(folder + "/") or p == manifest for p in c.paths)]
        chosen[name] = hits[:limit]
    specs: list[str] = []
    for name, folder, plugin_folder in skills:
        for c in chosen[name]:
            specs += [f"{c.sha}:{folder}/SKILL.md", f"{c.sha}:{plugin_folder}/.claude-plugin/plugin.json"]
    blobs = _read_blobs(root, list(dict.fromkeys(specs)))
    histories: dict[str, tuple[dict[str, str], ...]] = {}
    for name, folder, plugin_folder in skills:
        entries = []
        for c in chosen[name]:
            version = _version_from(
                blobs.get(f"{c.sha}:{folder}/SKILL.md"),
                blobs.get(f"{c.sha}:{plugin_folder}/.claude-plugin/plugin.json"),
            )
            entries.append(
                {
                    "version": version or "",
                    "date": c.date[:10],
                    "commit": c.sha[:12],
                    "subject": c.subject,
                    "time": c.date,
                }
            )
        histories[name] = tuple(entries)
    return histories
