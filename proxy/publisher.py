"""``ProxyPublisher``: the connector's editor actions (``bump``/``delete``/``publish``) on top of
``builder.authoring.remote.GitPublisher``.

The connector has already checked the arguments, the member's ``edit`` rights (T39) and audited the
call; this adapter names the member in the commit (``Requested-by: <email>``), runs the blocking Git
work in a worker thread (one change at a time per process), and — for single-machine deployments
(``skillport serve --rebuild``) — rebuilds the site from the updated clone into the origin directory
and makes the proxy re-read the index at once, so the change shows within seconds. Every failure
reaches the caller as a ``builder.errors`` class with a message meant for the member.

The proxy never imports the build pipeline: the site build is a ``SiteBuild`` callable given at
composition time (``builder/cli.py`` passes it to ``skillport serve``), so a proxy started without
it (``python -m proxy.serve``) refuses ``--rebuild`` at start-up instead of pulling MkDocs in.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from builder.authoring.remote import GitPublisher, PublishResult
from builder.errors import BadInput, PermissionDenied, SkillportError, UpstreamError
from proxy.settings import Settings

logger = logging.getLogger("skillport.publisher")

# (marketplace folder of the updated clone, now) -> None; raises on failure
Rebuild = Callable[[Path, datetime], object]
# called after a successful rebuild so the proxy trusts the new index at once
Refresh = Callable[[datetime], Awaitable[None]]


class SiteBuild(Protocol):
    """Builds a marketplace folder into a site folder (``builder.build.build`` has this shape)."""

    def __call__(
        self, marketplace: Path, out: Path, /, *, keys: Sequence[str], now: datetime, base_url: str | None
    ) -> object: ...


def site_rebuilder(
    site_build: SiteBuild, out_dir: Path, keys: Sequence[str], *, base_url: str | None = None
) -> Rebuild:
    """A ``Rebuild`` that runs the injected ``site_build`` into ``out_dir`` (the proxy's local origin)."""
    if not keys:
        raise BadInput("rebuilding needs SKILLPORT_SIGNING_KEYS (the keys the index is signed with)")
    out = Path(out_dir)
    key_list = list(keys)

    def rebuild(marketplace: Path, now: datetime) -> object:
        return site_build(marketplace, out, keys=key_list, now=now, base_url=base_url)

    return rebuild


def requested_by(member: Any) -> str:
    """The editor's email address, as named in the commit's ``Requested-by:`` trailer."""
    email = str(getattr(member, "email", "") or "").strip()
    if not email or "@" not in email:
        raise PermissionDenied("editing needs a signed-in member with an email address")
    return email


class ProxyPublisher:
    """Async adapter matching ``proxy.connector.Publisher``. ``rebuild`` (optional) runs after each
    change that landed on the default branch; ``refresh`` then makes the proxy re-read the index."""

    def __init__(
        self,
        git: GitPublisher,
        *,
        rebuild: Rebuild | None = None,
        refresh: Refresh | None = None,
    ) -> None:
        self.git = git
        self.rebuild = rebuild
        self.refresh = refresh
        self._lock = threading.Lock()  # one change (and its rebuild) at a time in this process

    @property
    def checkout(self) -> Path:
        """The marketplace folder inside the publisher's working copy (what a rebuild reads)."""
        root = self.git.workdir / "checkout"
        return root / self.git.subdir if self.git.subdir else root

    async def bump(
        self, member: Any, plugin: str, skill: str, part: str, *, now: datetime, note: str | None = None
    ) -> dict[str, Any]:
        email = requested_by(member)
        return await self._run(lambda: self.git.bump(skill, part, email, note=note), plugin, email, now)

    async def delete(self, member: Any, plugin: str, skill: str, *, now: datetime) -> dict[str, Any]:
        email = requested_by(member)
        return await self._run(lambda: self.git.delete(skill, email), plugin, email, now)

    async def publish(
        self,
        member: Any,
        plugin: str,
        skill: str,
        files: dict[str, bytes],
        *,
        now: datetime,
        note: str | None = None,
    ) -> dict[str, Any]:
        email = requested_by(member)
        pairs = sorted((str(path), bytes(data)) for path, data in files.items())
        return await self._run(
            lambda: self.git.publish(pairs, plugin, skill, email, note=note), plugin, email, now
        )

    # -- machinery -------------------------------------------------------------------------------

    async def _run(
        self, action: Callable[[], PublishResult], plugin: str, email: str, now: datetime
    ) -> dict[str, Any]:
        out, rebuilt = await asyncio.to_thread(self._locked, action, now)
        if rebuilt and self.refresh is not None:
            try:
                await self.refresh(now)
            except Exception:  # the change landed; the periodic refresh catches up
                logger.exception("index refresh after rebuild failed")
        if out.get("plugin") not in (None, plugin):
            logger.warning(
                "skill moved plugins: index said %s, repository says %s", plugin, out.get("plugin")
            )
        out["requested_by"] = email
        return out

    def _locked(self, action: Callable[[], PublishResult], now: datetime) -> tuple[dict[str, Any], bool]:
        with self._lock:
            try:
                result = action()
            except SkillportError:
                raise
            except Exception as exc:  # git missing, disk full, …: never a raw traceback to the member
                logger.exception("editor action failed")
                raise UpstreamError(
                    f"the marketplace repository could not be updated ({type(exc).__name__}); "
                    "nothing was published — try again later or ask an administrator"
                ) from exc
            out = result.as_dict()
            out["attempts"] = result.attempts
            if self.git.branch_mode:
                out["status"] = "review"
                out["note"] = (
                    f"pushed to branch {result.branch} for review; it goes live once merged and rebuilt"
                )
                return out, False
            if self.rebuild is None:
                out["status"] = "pushed"
                out["note"] = "committed to the marketplace; the catalog shows it after the next build"
                return out, False
            try:
                built = self.rebuild(self.checkout, now)
            except Exception as exc:  # the change is in Git: report, don't fail it
                logger.exception("rebuild after %s failed", result.action)
                out["status"] = "pushed"
                out["note"] = (
                    "committed to the marketplace, but rebuilding the catalog failed "
                    f"({type(exc).__name__}); an administrator should run `skillport build`"
                )
                return out, False
            blocked = [p.as_dict() for p in getattr(built, "failed", ()) if p.rule == "security-scan"]
            if blocked:  # committed, but the security scan keeps it off the site: say why
                out["status"] = "blocked"
                out["findings"] = blocked
                out["note"] = (
                    "committed, but the security scan blocked publishing (the last published version "
                    "stays live): fix the findings listed and publish again"
                )
                return out, True
            out["status"] = "live"
            out["note"] = "committed and rebuilt: the catalog shows it now"
            return out, True


def publisher_from_settings(
    settings: Settings, refresh: Refresh | None = None, site_build: SiteBuild | None = None
) -> ProxyPublisher | None:
    """The publisher configured by ``SKILLPORT_MARKETPLACE_GIT`` & co., or None when editing through
    the proxy is off. ``site_build`` is required when ``SKILLPORT_REBUILD`` is on."""
    remote = settings.marketplace_git
    if not remote:
        return None
    git = GitPublisher(
        remote,
        branch_mode=settings.publish_mode == "branch",
        workdir=Path(settings.publish_workdir),
        author_name=settings.git_author_name,
        author_email=settings.git_author_email,
        subdir=settings.marketplace_subdir,
    )
    rebuild: Rebuild | None = None
    if settings.rebuild:
        if site_build is None:
            raise BadInput(
                "SKILLPORT_REBUILD: this proxy was started without the site builder; "
                "start it with `skillport serve --rebuild` (which includes the builder)"
            )
        rebuild = site_rebuilder(
            site_build, Path(settings.origin), settings.index_keys, base_url=settings.public_url
        )
    return ProxyPublisher(git, rebuild=rebuild, refresh=refresh)
