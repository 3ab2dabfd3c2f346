"""What changed between published versions of a skill, read from Git (an edge module: one ``git log``).

A change note is a one-line ``Change-note:`` trailer in the commit message (``skillport bump SKILL
PART --note "…" --commit`` and the connector's ``bump``/``publish`` write it). For each version in a
skill's history (``builder.history``) the index gets ``versions[]``: the version, the date it was
committed, its note (or, without one, the subjects of the commits that touched the skill since the
previous version), and a file-level summary of those commits (files added, removed, changed, with
line counts for text files).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from builder.contract.index import IndexDocument
from builder.errors import BadInput

NOTE_TRAILER = "Change-note"
MAX_NOTE_CHARS = 200
GIT_TIMEOUT = 120


def check_note(note: str) -> str:
    """A change note as it will be recorded: one line of at most ``MAX_NOTE_CHARS`` characters."""
    text = " ".join(note.split())
    if not text:
        raise BadInput("--note is empty: say in one line what changed for the people who use the skill")
    if len(text) > MAX_NOTE_CHARS or any(ord(c) < 32 for c in note if c not in "\n\t"):
        raise BadInput(f"--note must be one line of at most {MAX_NOTE_CHARS} characters")
    return text


def note_trailers(note: str | None) -> dict[str, str]:
    """The commit trailer that records ``note`` (``builder.gitrepo.GitRepo.commit(trailers=…)``);
    the build reads it back with ``%(trailers)``."""
    return {NOTE_TRAILER: check_note(note)} if note is not None else {}


@dataclass(frozen=True)
class FileStat:
    path: str  # relative to the marketplace root
    added: int | None  # lines; None for a binary file
    removed: int | None


@dataclass(frozen=True)
class LoggedCommit:
    sha: str
    note: str
    stats: tuple[FileStat, ...] = ()
    created: frozenset[str] = field(default_factory=frozenset)
    deleted: frozenset[str] = field(default_factory=frozenset)


def _git_log(root: Path) -> bytes | None:
    try:
        done = subprocess.run(
            [
                "git",
                "-C",
                str(root),
                "log",
                "--no-merges",
                "--no-renames",
                "--numstat",
                "--summary",
                f"--format=%x1e%H%x1f%(trailers:key={NOTE_TRAILER},valueonly,separator=%x20)%x1f",
                "--relative",
                "--",
                ".",
            ],
            capture_output=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


_MODE = re.compile(r" (create|delete) mode \d+ (.+)")


def read_log(root: Path) -> dict[str, LoggedCommit]:
    """Every commit touching the marketplace folder: sha -> note and per-file line counts."""
    out = _git_log(root)
    if out is None:
        return {}
    commits: dict[str, LoggedCommit] = {}
    for record in out.decode("utf-8", "replace").split("\x1e")[1:]:
        sha, note, rest = [*record.split("\x1f", 2), "", ""][:3]
        stats: list[FileStat] = []
        created: set[str] = set()
        deleted: set[str] = set()
        for line in rest.splitlines():
            mode = _MODE.fullmatch(line)
            if mode:
                (created if mode.group(1) == "create" else deleted).add(mode.group(2))
                continue
            parts = line.split("\t")
            if len(parts) == 3:
                a, r, path = parts
                stats.append(FileStat(path, int(a) if a.isdigit() else None, int(r) if r.isdigit() else None))
        commits[sha] = LoggedCommit(sha, note.strip(), tuple(stats), frozenset(created), frozenset(deleted))
    return commits


def summarize(commits: Sequence[LoggedCommit], folder: str) -> dict[str, Any]:
    """Files of ``folder`` added, removed and changed over ``commits`` (newest first), with line
    counts for text files (``None`` for binary files)."""
    prefix = folder + "/"
    state: dict[str, str] = {}  # path -> added | removed | changed, oldest commit first
    lines: dict[str, list[int | None]] = {}
    for c in reversed(commits):
        for s in c.stats:
            if not s.path.startswith(prefix):
                continue
            rel = s.path[len(prefix) :]
            was = state.get(rel)
            if s.path in c.created:
                state[rel] = "changed" if was == "removed" else "added"
            elif s.path in c.deleted:
                state[rel] = "gone" if was == "added" else "removed"
            elif was is None:
                state[rel] = "changed"
            counts = lines.setdefault(rel, [0, 0])
            for i, n in enumerate((s.added, s.removed)):
                counts[i] = None if n is None or counts[i] is None else counts[i] + n  # type: ignore[operator]
    summary: dict[str, Any] = {"added": [], "removed": [], "changed": []}
    for rel in sorted(state):
        kind = state[rel]
        if kind == "gone":
            continue
        added, removed = lines[rel]
        summary[kind].append({"path": rel, "lines_added": added, "lines_removed": removed})
    return summary


def skill_versions(
    histories: Mapping[str, Sequence[Mapping[str, str]]],
    folders: Mapping[str, str],
    log: Mapping[str, LoggedCommit],
) -> dict[str, list[dict[str, Any]]]:
    """``versions[]`` per skill from its history rows (newest first, as ``builder.history`` gives
    them: one per commit) and the log: one row per version, newest first."""
    out: dict[str, list[dict[str, Any]]] = {}
    skill_prefixes = tuple(f + "/" for f in folders.values())
    for name, rows in histories.items():
        out[name] = [
            _version_entry(group, log, folders.get(name), skill_prefixes)
            for group in reversed(group_by_version(rows))
        ]
    return out


def group_by_version(rows: Sequence[Mapping[str, str]]) -> list[list[Mapping[str, str]]]:
    """History rows (newest first) grouped by the version that shipped them, oldest version first,
    each group oldest commit first. A version starts at the commit that sets it (the bump); commits
    made while the version stayed the same ship with the next version (edits, then a bump); those
    after the newest bump belong to the newest version."""
    groups: list[list[Mapping[str, str]]] = []
    pending: list[Mapping[str, str]] = []
    for row in reversed(rows):
        if not groups or row.get("version") != groups[-1][-1].get("version"):
            groups.append([*pending, row])
            pending = []
        else:
            pending.append(row)
    if groups:
        groups[-1] += pending
    return groups


def _notes_for(commit: LoggedCommit, folder: str | None, skill_prefixes: tuple[str, ...]) -> bool:
    """Whether ``commit``'s note is about the skill in ``folder``: it changed that skill, or no skill
    at all (a plugin-level bump moves every skill that follows the plugin's version)."""
    paths = [s.path for s in commit.stats]
    if folder and any(p.startswith(folder + "/") for p in paths):
        return True
    return not any(p.startswith(skill_prefixes) for p in paths)


def _version_entry(
    group: Sequence[Mapping[str, str]],
    log: Mapping[str, LoggedCommit],
    folder: str | None,
    skill_prefixes: tuple[str, ...] = (),
) -> dict[str, Any]:
    version = group[-1].get("version") if group[-1].get("version") else group[0].get("version")
    start = next(r for r in group if r.get("version") == version)  # the commit that set it
    commits = [c for c in (_find(log, str(r.get("commit") or "")) for r in reversed(group)) if c]
    notes = [c.note for c in commits if c.note and _notes_for(c, folder, skill_prefixes)]
    return {
        "version": str(version or ""),
        "date": str(start.get("date") or ""),
        "commit": str(start.get("commit") or ""),
        "note": notes[0] if notes else "",
        "subjects": [str(r.get("subject") or "") for r in reversed(group)],
        "summary": summarize(commits, folder) if folder else None,
    }


def _find(log: Mapping[str, LoggedCommit], short: str) -> LoggedCommit | None:
    if not short:
        return None
    hit = log.get(short)
    if hit is not None:
        return hit
    return next((c for sha, c in log.items() if sha.startswith(short)), None)


def record(document: IndexDocument, versions: Mapping[str, list[dict[str, Any]]]) -> IndexDocument:
    """The index document with each skill's ``versions``."""
    return replace(
        document,
        skills=tuple(
            replace(s, versions=tuple(versions[s.name])) if s.name in versions else s for s in document.skills
        ),
    )


def note_of(version: Mapping[str, Any]) -> str:
    """The text people read for a version: its note, else the subjects of its commits."""
    note = str(version.get("note") or "")
    if note:
        return note
    subjects = [str(s) for s in version.get("subjects") or [] if s]
    return "; ".join(dict.fromkeys(subjects))


def summary_text(summary: Any) -> str:
    """``2 files changed (+12 −3), 1 added, 1 removed`` (empty when nothing is known)."""
    if not isinstance(summary, Mapping):
        return ""
    parts = []
    changed = [c for c in summary.get("changed") or [] if isinstance(c, Mapping)]
    if changed:
        plus = sum(int(c.get("lines_added") or 0) for c in changed)
        minus = sum(int(c.get("lines_removed") or 0) for c in changed)
        parts.append(f"{len(changed)} file(s) changed (+{plus} −{minus})")
    for kind in ("added", "removed"):
        files = [str(c.get("path")) for c in summary.get(kind) or [] if isinstance(c, Mapping)]
        if files:
            parts.append(f"{kind} {', '.join(files)}")
    return "; ".join(parts)


def for_marketplace(
    root: Path, folders: Mapping[str, str], histories: Mapping[str, Sequence[Mapping[str, str]]]
) -> dict[str, list[dict[str, Any]]]:
    """``versions[]`` of every skill (``folders``: index name -> skill folder), from one ``git log``;
    empty outside a Git checkout."""
    if not histories:
        return {}
    return skill_versions(histories, folders, read_log(root))


def published_versions(root: Path) -> dict[str, str]:
    """``{"skill plugin:skill": version, "plugin name": version}`` as a build of ``root`` would
    publish them (what ``bump`` and ``edit`` compare before and after a change)."""
    from builder.load import load
    from builder.plan import plugin_version, published_skill_version

    marketplace, _ = load(root)
    out: dict[str, str] = {}
    for p in marketplace.plugins:
        out[f"plugin {p.name}"] = plugin_version(p)[0]
        for s in p.skills:
            out[f"skill {p.name}:{s.name}"] = published_skill_version(s, p)
    return out


def version_changes(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """One line per skill or plugin whose published version a change moves (new ones included)."""
    lines = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old != new:
            lines.append(f"{key}: {old or '(new)'} -> {new or '(removed)'}")
    return lines


def explain(moved: Sequence[str], plugin: str, skill: str) -> list[str]:
    """Why other skills moved with ``plugin/skill`` (lines from ``version_changes``)."""
    arrows = {line.split(": ", 1)[0]: line.split(": ", 1)[1] for line in moved}
    others = [
        key.split(":", 1)[1]
        for key in arrows
        if key.startswith(f"skill {plugin}:") and key != f"skill {plugin}:{skill}"
    ]
    plugin_arrow = arrows.get(f"plugin {plugin}")
    if not others or plugin_arrow is None:
        return []
    if arrows.get(f"skill {plugin}:{skill}") == plugin_arrow:
        return [
            f"plugin {plugin} versions its skills together: {skill} and {', '.join(others)} all move to "
            f"{plugin_arrow.split(' -> ')[-1]} (give a skill its own metadata.version to version it alone)"
        ]
    return [
        f"plugin {plugin}'s files changed, so the plugin moves to {plugin_arrow.split(' -> ')[-1]}, and "
        f"with it the skills that follow the plugin's version: {', '.join(others)}"
    ]
