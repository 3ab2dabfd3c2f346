"""The ``skillport`` command: thin argument parsing over the builder, the proxy and the authoring tools.

Exit codes: 0 success (warnings allowed), 1 problems found or the operation failed, 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from builder import scan
from builder.errors import SkillportError, UsageError, ValidationFailed
from builder.model import Problem
from builder.signing import key_problems, parse_keys

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def _print_problems(
    problems: Sequence[Problem], *, as_json: bool, extra: Mapping[str, Any] | None = None
) -> None:
    if as_json:
        errors = [p for p in problems if p.is_error]
        print(
            json.dumps(
                {
                    "ok": not errors,
                    "errors": len(errors),
                    "warnings": len(problems) - len(errors),
                    "problems": [p.as_dict() for p in problems],
                    **(extra or {}),
                },
                indent=2,
            )
        )
        return
    for p in problems:
        print(p.format(), file=sys.stderr if p.is_error else sys.stdout)


def cmd_validate(args: argparse.Namespace) -> int:
    from builder.build import load_previous_index
    from builder.validate import validate_marketplace

    previous = None
    if args.previous_index:
        keys = parse_keys(os.environ.get("SKILLPORT_SIGNING_KEYS"))
        if not keys:
            print("error: --previous-index needs SKILLPORT_SIGNING_KEYS to verify it", file=sys.stderr)
            return EXIT_USAGE
        previous, _ = load_previous_index(args.previous_index, Path("/nonexistent"), keys, datetime.now(UTC))
    marketplace, problems = validate_marketplace(
        Path(args.marketplace), previous_index=previous, strict=args.strict
    )
    scanned = scan.scan_marketplace(Path(args.marketplace), marketplace, scan.find_scanner(), cache_dir=None)
    problems = sorted({*problems, *scanned.problems}, key=lambda p: (p.file, p.line or 0, p.rule, p.message))
    _print_problems(
        problems,
        as_json=args.json,
        extra={"scan": {**scanned.summary(), "skills": {k: r.as_dict() for k, r in scanned.results.items()}}},
    )
    errors = sum(1 for p in problems if p.is_error)
    if not args.json:
        skills = len(marketplace.skills)
        summary = (
            f"{skills} skill(s) in {len(marketplace.plugins)} plugin(s): {errors} error(s), "
            f"{len(problems) - errors} warning(s)"
        )
        print(summary, file=sys.stderr if errors else sys.stdout)
        print(scan.summary_line(scanned.summary()))
    return EXIT_PROBLEMS if errors else EXIT_OK


def _signing_keys(args: argparse.Namespace) -> list[str] | None:
    keys = parse_keys(os.environ.get("SKILLPORT_SIGNING_KEYS"))
    if keys:
        problems = key_problems(keys, "SKILLPORT_SIGNING_KEYS")
        if problems:
            for p in problems:
                print(f"error: {p}", file=sys.stderr)
            return None
        return keys
    if args.dev:
        if not args.quiet:
            print(
                "warning: --dev: signing with an ephemeral key; a proxy cannot verify this index unless it "
                "is given the same key. Set SKILLPORT_SIGNING_KEYS for real builds.",
                file=sys.stderr,
            )
        return [secrets.token_urlsafe(32)]
    print(
        "error: SKILLPORT_SIGNING_KEYS is not set. Set it to comma-separated random keys (oldest -> newest), "
        "e.g. `export SKILLPORT_SIGNING_KEYS=$(python -c "
        "'import secrets; print(secrets.token_urlsafe(32))')`, "
        "or pass --dev for a throwaway key.",
        file=sys.stderr,
    )
    return None


def cmd_build(args: argparse.Namespace) -> int:
    from builder.build import build

    keys = _signing_keys(args)
    if keys is None:
        return EXIT_USAGE
    progress_cb = None
    progress_ctx = None
    if not args.quiet and not args.json and sys.stderr.isatty():
        from rich.progress import Progress

        progress_ctx = Progress(transient=True)
        task = progress_ctx.add_task("building", total=None)

        def progress_cb(stage: str, done: int, total: int) -> None:
            assert progress_ctx is not None
            progress_ctx.update(task, description=stage, completed=done, total=total)

        progress_ctx.start()
    try:
        result = build(
            Path(args.marketplace),
            Path(args.out),
            keys=keys,
            now=datetime.now(UTC),
            base_url=args.base_url,
            previous_index=args.previous_index,
            progress=progress_cb,
            strict=args.strict,
            mkdocs_config=Path(args.site_config) if args.site_config else None,
            scanner=scan.find_scanner(),
        )
    except ValidationFailed as exc:
        if progress_ctx:
            progress_ctx.stop()
        _print_problems(exc.problems, as_json=args.json)
        if not args.json:
            print(
                f"build failed: {sum(p.is_error for p in exc.problems)} error(s); nothing was written",
                file=sys.stderr,
            )
        return EXIT_PROBLEMS
    finally:
        if progress_ctx:
            progress_ctx.stop()
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
        return EXIT_OK
    for p in result.failed:
        print(p.format(), file=sys.stderr)
    for name in result.kept:
        print(
            f"plugin {name} failed: still published at its last version (fix the errors above)",
            file=sys.stderr,
        )
    for name in result.left_out:
        print(f"plugin {name} failed: left out of the catalog (fix the errors above)", file=sys.stderr)
    print(scan.summary_line(result.scan), file=sys.stderr if result.scan.get("not_scanned") else sys.stdout)
    if not args.quiet:
        for w in result.warnings:
            print(w.format())
        print(
            f"built {result.skills} skill(s) in {result.plugins} plugin(s) into {result.out_dir} "
            f"(serial {result.serial}; {result.packaged} zip(s) packaged, {result.reused} reused)"
        )
    return EXIT_OK


def site_build(
    marketplace: Path, out: Path, /, *, keys: Sequence[str], now: datetime, base_url: str | None = None
) -> object:
    """The builder as the proxy's ``SiteBuild`` (``skillport serve --rebuild``); the pipeline (and
    MkDocs) is imported only when an editor's change is rebuilt. It scans with the installed scanner."""
    from builder import scan
    from builder.build import build

    return build(marketplace, out, keys=keys, now=now, base_url=base_url, scanner=scan.find_scanner())


def cmd_serve(args: argparse.Namespace, rest: list[str]) -> int:
    # the one place the builder reaches the proxy: lazily, for `serve`, injecting the rebuild
    from proxy.serve import main as serve_main

    return serve_main(rest, site_build=site_build)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="skillport", description="Share Claude Skills privately across your organization."
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    v = sub.add_parser("validate", help="check a marketplace and report every problem")
    v.add_argument("marketplace", nargs="?", default=".", help="marketplace folder (default: .)")
    v.add_argument("--json", action="store_true", help="print problems as JSON")
    v.add_argument(
        "--previous-index", metavar="FILE|URL", help="published index.json to check version bumps against"
    )
    v.add_argument("--strict", action="store_true", help="treat warnings as errors (for your own CI)")
    v.set_defaults(func=cmd_validate)

    b = sub.add_parser("build", help="validate, package, sign and render the catalog site")
    b.add_argument("marketplace", nargs="?", default=".", help="marketplace folder (default: .)")
    b.add_argument("--out", required=True, metavar="SITE", help="output folder (replaced atomically)")
    b.add_argument("--base-url", metavar="URL", help="public URL the site is served at (for absolute links)")
    b.add_argument(
        "--site-config",
        metavar="FILE",
        help="mkdocs.yml to build the catalog with (default: the marketplace's .skillport/mkdocs.yml "
        "when present, else Skillport's own)",
    )
    b.add_argument(
        "--previous-index",
        metavar="FILE|URL",
        help="published index.json (default: SITE/index.json when present)",
    )
    b.add_argument(
        "--dev", action="store_true", help="sign with an ephemeral key when SKILLPORT_SIGNING_KEYS is unset"
    )
    b.add_argument(
        "--strict", action="store_true", help="treat warnings as errors; publish nothing when anything fails"
    )
    b.add_argument("--quiet", action="store_true", help="print nothing on success")
    b.add_argument("--json", action="store_true", help="print a JSON summary (for CI)")
    b.set_defaults(func=cmd_build)

    s = sub.add_parser(
        "serve", help="run the members-only proxy (see `skillport serve --help`)", add_help=False
    )
    s.set_defaults(func=None)

    try:
        from builder.authoring.cli import register
    except ImportError:  # pragma: no cover - authoring is optional in stripped installs
        pass
    else:
        register(sub)
    from builder.client.member import register as register_member

    register_member(sub)
    from builder.apisync.run import register as register_sync_api

    register_sync_api(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "serve":
        return cmd_serve(argparse.Namespace(), argv[1:])
    p = parser()
    try:
        args = p.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if not getattr(args, "func", None):
        p.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except ValidationFailed as exc:
        _print_problems(exc.problems, as_json=bool(getattr(args, "json", False)))
        return EXIT_PROBLEMS
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SkillportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS


if __name__ == "__main__":
    sys.exit(main())
