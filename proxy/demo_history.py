"""A believable Git history for the demo: the example marketplace replayed as a few months of work.

``make demo`` builds from a throwaway checkout made here: the first commit holds the example skills
with some sections not yet written and older versions; each later commit writes a section back and
bumps a version, most with a ``Change-note:`` trailer (as ``skillport bump --note`` writes it), one
without (the catalog then shows the commits' subjects). The last commit leaves the tree exactly as
``examples/marketplace``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from builder.changes import NOTE_TRAILER

TEAM = "plugins/team-rituals"
DATA = "plugins/data-guides"
FINANCE = "plugins/finance-ops"
MEETING = f"{TEAM}/skills/meeting-notes/SKILL.md"
POSTMORTEM = f"{TEAM}/skills/incident-postmortem/SKILL.md"
SQL = f"{DATA}/skills/sql-style-guide/SKILL.md"
METRICS = f"{DATA}/skills/metric-definitions/SKILL.md"
EXPENSES = f"{FINANCE}/skills/expense-policy/SKILL.md"
MANIFEST = ".claude-plugin/plugin.json"


@dataclass(frozen=True)
class Step:
    date: str
    subject: str
    note: str = ""
    sections: tuple[tuple[str, str], ...] = ()  # (file, "## Heading") written in this step
    versions: tuple[tuple[str, str], ...] = ()  # (file, version) set in this step


INITIAL_VERSIONS = (
    (f"{TEAM}/{MANIFEST}", "1.1.0"),
    (f"{DATA}/{MANIFEST}", "2.0.0"),
    (SQL, "2.0.0"),
    (f"{FINANCE}/{MANIFEST}", "1.0.0"),
)
STORY = (
    Step(
        "2026-07-14T10:12:00+02:00",
        "Bump team-rituals to 1.2.0",
        "Meeting notes ask for the agenda or attendee list when the transcript is too thin",
        sections=((MEETING, "## When the input is thin"),),
        versions=((f"{TEAM}/{MANIFEST}", "1.2.0"),),
    ),
    Step(
        "2026-08-03T09:40:00+02:00",
        "Bump finance-ops to 1.0.1",
        "Checks each claim against the receipt, the limit and the approver before answering",
        sections=((EXPENSES, "## Checking a claim"),),
        versions=((f"{FINANCE}/{MANIFEST}", "1.0.1"),),
    ),
    Step(
        "2026-08-20T15:05:00+02:00",
        "Bump sql-style-guide to 2.1.0",
        "Adds a checklist for reviewing a colleague's query",
        sections=((SQL, "## Reviewing someone's SQL"),),
        versions=((SQL, "2.1.0"),),
    ),
    Step(
        "2026-09-08T11:30:00+02:00",
        "Explain how to reconcile two dashboards that disagree",
        sections=((METRICS, "## When two numbers disagree"),),
    ),
    Step(
        "2026-09-09T08:55:00+02:00",
        "Bump data-guides to 2.0.1",
        versions=((f"{DATA}/{MANIFEST}", "2.0.1"),),
    ),
    Step(
        "2026-10-01T14:20:00+02:00",
        "Bump team-rituals to 1.3.0",
        "Recaps go to the meeting's channel; security postmortems stay private",
        sections=((MEETING, "## Sending the recap"), (POSTMORTEM, "## Security incidents")),
        versions=((f"{TEAM}/{MANIFEST}", "1.3.0"),),
    ),
    Step(
        "2026-10-22T16:45:00+02:00",
        "Bump finance-ops to 1.0.2",
        "Never repeats card numbers or home addresses from receipts",
        sections=((EXPENSES, "## Privacy"),),
        versions=((f"{FINANCE}/{MANIFEST}", "1.0.2"),),
    ),
)


def without_section(text: str, heading: str) -> str:
    """``text`` without the ``## heading`` section (up to the next ``## `` heading or the end)."""
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.rstrip("\n") == heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "".join(lines[:start] + lines[end:])


def with_version(text: str, version: str) -> str:
    """A plugin.json's ``"version"`` or a SKILL.md's ``metadata.version`` set to ``version``."""
    if text.lstrip().startswith("{"):
        return re.sub(r'("version"\s*:\s*)"[^"]*"', rf'\g<1>"{version}"', text, count=1)
    return re.sub(r'(?m)^(\s+version:\s*)"?[^"\n]*"?$', rf'\g<1>"{version}"', text, count=1)


def _state(source: Path, done: int) -> dict[str, str]:
    """The text of every file the story touches after the first ``done`` steps."""
    files = {f for step in STORY for f, _ in step.sections + step.versions} | {f for f, _ in INITIAL_VERSIONS}
    out = {f: (source / f).read_text() for f in sorted(files)}
    for step in STORY[done:]:
        for f, heading in step.sections:
            out[f] = without_section(out[f], heading)
    versions = dict(INITIAL_VERSIONS)
    for step in STORY[:done]:
        versions.update(step.versions)
    for f, version in versions.items():
        out[f] = with_version(out[f], version)
    return out


def _git(root: Path, date: str, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Alice Example",
        "GIT_AUTHOR_EMAIL": "alice@corp.example",
        "GIT_COMMITTER_NAME": "Alice Example",
        "GIT_COMMITTER_EMAIL": "alice@corp.example",
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_DATE": date,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_SYSTEM": os.devnull,
    }
    subprocess.run(["git", "-C", str(root), *args], env=env, check=True, capture_output=True, timeout=60)


def demo_checkout(source: Path, dest: Path) -> Path:
    """A fresh Git checkout of ``source`` at ``dest`` whose history is ``STORY``."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(source, dest, symlinks=True)
    for f, text in _state(source, 0).items():
        (dest / f).write_text(text)
    _git(dest, "2026-06-02T09:00:00+02:00", "init", "-q", "-b", "main")
    _git(dest, "2026-06-02T09:00:00+02:00", "add", "-A")
    _git(dest, "2026-06-02T09:00:00+02:00", "commit", "-q", "-m", "Start the skills marketplace")
    for i, step in enumerate(STORY, start=1):
        for f, text in _state(source, i).items():
            (dest / f).write_text(text)
        message = step.subject + (f"\n\n{NOTE_TRAILER}: {step.note}\n" if step.note else "")
        _git(dest, step.date, "commit", "-q", "-a", "-m", message)
    return dest
