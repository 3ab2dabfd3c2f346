"""``skillport sync-api``: read the catalog, read the workspace, plan, apply, report.

Exit codes as for the other commands: 0 the workspace holds the catalog, 1 something failed (listed),
2 usage (no API key, no site).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from builder.apisync.catalog import Catalog, Reader, catalog_from_index, parse_index
from builder.apisync.plan import CatalogSkill, Kind, Step, plan_sync
from builder.contract.index import IndexDocument
from builder.errors import BadInput, SkillportError

if TYPE_CHECKING:  # the SDK is imported only when a sync runs: every other command starts faster
    from builder.apisync.workspace import Workspace

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@dataclass(frozen=True)
class Outcome:
    step: Step
    error: str = ""  # empty: done (or planned, on a dry run)

    def as_dict(self) -> dict[str, Any]:
        return {**self.step.as_dict(), "ok": not self.error, "error": self.error or None}


@dataclass(frozen=True)
class Summary:
    marketplace: str
    dry_run: bool
    outcomes: tuple[Outcome, ...]
    not_uploadable: tuple[tuple[str, str], ...]
    unreadable: tuple[tuple[str, str], ...]

    @property
    def ok(self) -> bool:
        return not self.unreadable and all(
            not o.error and o.step.kind != Kind.CONFLICT for o in self.outcomes
        )

    def count(self, kind: Kind) -> int:
        return sum(1 for o in self.outcomes if o.step.kind == kind and not o.error)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "dry_run": self.dry_run,
            "marketplace": self.marketplace,
            "counts": {kind.value: self.count(kind) for kind in Kind},
            "failed": sum(1 for o in self.outcomes if o.error) + len(self.unreadable),
            "steps": [o.as_dict() for o in self.outcomes],
            "not_uploadable": [{"skill": k, "why": why} for k, why in self.not_uploadable],
            "unreadable": [{"skill": k, "error": why} for k, why in self.unreadable],
        }

    def lines(self) -> list[str]:
        verb = "would " if self.dry_run else ""
        out = []
        for o in self.outcomes:
            if o.step.kind == Kind.SKIP:
                continue
            text = f"{verb}{o.step.kind.value} {o.step.skill}" + (
                f" {o.step.version}" if o.step.version else ""
            )
            if o.step.detail:
                text += f" ({o.step.detail})"
            out.append(f"FAILED {text}: {o.error}" if o.error else text)
        out += [f"skipped {k}: {why}" for k, why in self.not_uploadable]
        out += [f"FAILED {k}: {why}" for k, why in self.unreadable]
        counts = ", ".join(f"{self.count(k)} {k.value}" for k in Kind if self.count(k))
        failed = sum(1 for o in self.outcomes if o.error) + len(self.unreadable)
        out.append(
            f"{self.marketplace}: {counts or 'nothing to do'}" + (f"; {failed} failed" if failed else "")
        )
        return out


def apply(steps: Sequence[Step], catalog: Catalog, workspace: Workspace) -> tuple[Outcome, ...]:
    """Carry out ``steps`` in order; a failed step is recorded and the others still run."""
    from builder.apisync.workspace import ApiFailure

    by_key: dict[str, CatalogSkill] = {s.key: s for s in catalog.skills}
    outcomes = []
    for step in steps:
        try:
            if step.kind == Kind.CREATE:
                workspace.create(by_key[step.skill])
            elif step.kind == Kind.VERSION:
                assert step.api_id is not None
                workspace.add_version(step.api_id, by_key[step.skill])
            elif step.kind in (Kind.PRUNE, Kind.DEDUPE):
                assert step.api_id is not None
                workspace.delete(step.api_id, step.skill)
        except ApiFailure as exc:
            outcomes.append(Outcome(step, str(exc)))
            continue
        outcomes.append(Outcome(step))
    return tuple(outcomes)


def sync(
    catalog: Catalog,
    unreadable: tuple[tuple[str, str], ...],
    workspace: Workspace,
    *,
    prune: bool,
    dry_run: bool,
) -> Summary:
    steps = plan_sync(catalog.marketplace, catalog.skills, workspace.read(), prune=prune)
    if unreadable and prune:
        # a skill we could not read must not look "gone from the catalog"
        gone = {key for key, _ in unreadable}
        steps = tuple(s for s in steps if not (s.kind == Kind.PRUNE and s.skill in gone))
    outcomes = tuple(Outcome(s) for s in steps) if dry_run else apply(steps, catalog, workspace)
    return Summary(catalog.marketplace, dry_run, outcomes, catalog.not_uploadable, unreadable)


# -- reading the site ---------------------------------------------------------------------------


def _site_reader(site: Path) -> Reader:
    root = site.resolve()

    def read(path: str) -> bytes:
        target = (root / path).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            raise BadInput(f"{path}: not a file inside {site}")
        return target.read_bytes()

    return read


def _remote_reader(api: Any, index_url: str) -> Reader:
    base = index_url.rsplit("/", 1)[0] + "/"

    def read(path: str) -> bytes:
        return bytes(api.get_bytes(index_url if path == "index.json" else base + path))

    return read


def _verified(read: Reader, where: str) -> IndexDocument:
    """A site's index, its signature checked when SKILLPORT_SIGNING_KEYS is set."""
    from builder import index
    from builder.errors import IndexRejected
    from builder.signing import parse_keys

    data = read("index.json")
    keys = parse_keys(os.environ.get("SKILLPORT_SIGNING_KEYS"))
    if not keys:
        print(
            f"note: {where} not verified (set SKILLPORT_SIGNING_KEYS to check its signature)", file=sys.stderr
        )
        return parse_index(data, where)
    try:
        sig = read("index.json.sig")
    except (BadInput, SkillportError):
        sig = None
    try:
        return index.verify(data, sig, keys, now=datetime.now(UTC), allow_expired=True)
    except IndexRejected as exc:
        raise BadInput(f"{where}: the index does not verify with SKILLPORT_SIGNING_KEYS: {exc}") from exc


def cmd_sync_api(args: argparse.Namespace) -> int:
    import anthropic

    from builder.apisync.workspace import ApiFailure, Workspace

    if bool(args.site) == bool(args.index):
        print("error: give a built SITE folder or --index URL (one of them)", file=sys.stderr)
        return EXIT_USAGE
    if args.index and args.prune:
        print(
            "error: --prune needs the whole catalog, and --index reads only what your sign-in may see: "
            "run it on a built SITE folder",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not os.environ.get("ANTHROPIC_API_KEY"):
        print(
            "error: ANTHROPIC_API_KEY is not set; create a key in the Claude Console and export it",
            file=sys.stderr,
        )
        return EXIT_USAGE
    with contextlib.ExitStack() as stack:
        if args.site:
            read, where = _site_reader(Path(args.site)), f"{args.site}/index.json"
        else:
            from builder.client.api import api_for  # the member's stored sign-in (`skillport login`)

            server = args.server or args.index.rsplit("/index.json", 1)[0]
            api = stack.enter_context(api_for(argparse.Namespace(server=server)))
            read, where = _remote_reader(api, args.index), args.index
        # through the proxy, the index is the member's filtered copy of one the proxy verified
        document = _verified(read, where) if args.site else parse_index(read("index.json"), where)
        catalog, unreadable = catalog_from_index(document, read)
    client = anthropic.Anthropic(max_retries=args.max_retries)
    try:
        summary = sync(
            catalog, unreadable, Workspace(client, args.workspace), prune=args.prune, dry_run=args.dry_run
        )
    except ApiFailure as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json.dumps(summary.as_dict(), indent=2))
    else:
        for line in summary.lines():
            print(line, file=sys.stdout if summary.ok else sys.stderr)
    return EXIT_OK if summary.ok else EXIT_FAILED


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "sync-api",
        help="make a Claude API workspace hold the catalog's uploadable skills at their current versions",
    )
    p.add_argument("site", nargs="?", help="a site folder built by `skillport build`")
    p.add_argument(
        "--index", metavar="URL", help="the published index.json, read through the proxy with your sign-in"
    )
    p.add_argument(
        "--server", metavar="URL", help="with --index: the proxy you signed in to (default: from URL)"
    )
    p.add_argument("--workspace", metavar="ID", help="workspace ID, for API keys that span workspaces")
    p.add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    p.add_argument(
        "--prune", action="store_true", help="delete API skills this catalog created that it no longer has"
    )
    p.add_argument("--max-retries", type=int, default=4, metavar="N", help="retries on 429/5xx (default 4)")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(func=cmd_sync_api)
