"""The error tree, split by fault. The proxy maps it to HTTP in one place (``proxy/errors.py``).

- ``BadInput``: the caller or the author must change something (HTTP 4xx, CLI exit 1).
- ``UpstreamError``: something we depend on failed or sent something we must not trust (HTTP 502/503).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from builder.model import Problem


class SkillportError(Exception):
    """Base of every error Skillport raises on purpose."""


class BadInput(SkillportError):
    """The input is wrong; the message says what to change."""


class UsageError(BadInput):
    """The command line itself is wrong (a missing or malformed argument): CLI exit 2."""


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """`` Did you mean: a, b?`` for the candidates close to ``name`` (difflib), or ``""``."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=3, cutoff=0.6)
    return f" Did you mean: {', '.join(close)}?" if close else ""


class NotFound(BadInput):
    """The thing asked for does not exist (or the caller may not know it does)."""


class PermissionDenied(BadInput):
    """The caller is known but not allowed to do this."""


class Conflict(BadInput):
    """What the caller wanted to change moved meanwhile (another writer won); retrying may succeed."""


class ValidationFailed(BadInput):
    """A marketplace (or a change to one) breaks one or more rules."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        errors = [p for p in self.problems if p.is_error]
        lines = "\n".join(p.format() for p in errors[:20])
        more = f"\n… and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(f"{len(errors)} problem(s):\n{lines}{more}")


class NotConfigured(SkillportError):
    """A feature this deployment has not set up (e.g. editing without a Git remote)."""


class UpstreamError(SkillportError):
    """Something Skillport depends on (origin, identity provider, Git remote) failed."""


class GitError(UpstreamError):
    """A git command failed."""


class PushRejected(GitError):
    """The remote refused a push because its branch moved (another writer won the race)."""


class PublishConflict(Conflict):
    """The remote kept moving while we tried to push; nothing of this change was pushed."""


class IndexRejected(UpstreamError):
    """A signed index that must not be trusted. Subclasses say why."""


class IndexMalformed(IndexRejected):
    """Not an index document at all (bad JSON, wrong ``_type``, missing fields)."""


class IndexBadSignature(IndexRejected):
    """The signature does not match the bytes under any current key (tampered, swapped, missing)."""


class IndexWrongPurpose(IndexRejected):
    """The signature is valid, but was made for another purpose (a session, a link …)."""


class IndexRollback(IndexRejected):
    """A validly signed index older (lower serial) than one already trusted."""


class IndexExpired(IndexRejected):
    """A validly signed index past its ``expires_at``."""
