"""``skillport new | bump | delete | edit``: authoring commands on a marketplace checkout.

``register(subparsers)`` adds the sub-commands; each sets ``func`` to a handler taking the parsed
``argparse.Namespace`` and returning an exit code (it raises ``SkillportError`` subclasses for the
caller to report). They never prompt when ``--yes`` is given or standard input is not a terminal.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from builder import changes
from builder.authoring.apply import applied, read_checkout
from builder.authoring.gitrepo import GitRepo
from builder.authoring.plans import (
    BUMP_PARTS,
    OPTIONAL_DIRS,
    NoChange,
    Plan,
    check_relative_path,
    find_plugin,
    find_skill,
    merge_changes,
    plan_bump,
    plan_delete,
    plan_edit,
    plan_new,
    render_skill,
)
from builder.errors import BadInput, SkillportError, UsageError, ValidationFailed


def _interactive(args: argparse.Namespace) -> bool:
    return not args.yes and sys.stdin.isatty()


def _ask(prompt: str) -> str:
    print(prompt, end="", flush=True)
    return sys.stdin.readline().strip()


def _common() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--marketplace",
        "-m",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="the marketplace checkout (default: the current directory)",
    )
    parent.add_argument("--yes", "-y", action="store_true", help="never ask; assume yes")
    parent.add_argument("--commit", action="store_true", help="commit the change to Git with a clear message")
    parent.add_argument("--dry-run", action="store_true", help="show what would change; change nothing")
    return parent


def register(subparsers: Any) -> None:
    """Add ``new``, ``bump``, ``delete`` and ``edit`` to an argparse sub-parsers object."""
    common = _common()
    new = subparsers.add_parser(
        "new",
        parents=[common],
        help="create a skill from the template",
        description="Create PLUGIN/SKILL from the template; creates the plugin "
        "and its marketplace entry when the plugin is new.",
    )
    new.add_argument("ref", metavar="PLUGIN/SKILL")
    new.add_argument("--description", "-d", help="what the skill does and when to use it")
    new.add_argument(
        "--with",
        dest="dirs",
        action="append",
        default=[],
        choices=OPTIONAL_DIRS,
        help="also create this optional folder (repeatable)",
    )
    new.add_argument("--license")
    new.add_argument("--author", help="metadata.author of the skill")
    new.add_argument("--version", help="version of a new plugin, or the skill's own metadata.version")
    new.add_argument("--plugin-description", help="description of the plugin when it is new")
    new.set_defaults(func=cmd_new)

    bump = subparsers.add_parser(
        "bump",
        parents=[common],
        help="raise a skill's version",
        description="Raise a skill's version; keeps plugin.json, the marketplace "
        "entry and metadata.version consistent.",
    )
    bump.add_argument("ref", metavar="SKILL", help="SKILL or PLUGIN/SKILL")
    bump.add_argument("part", metavar="PART", help=f"{'|'.join(BUMP_PARTS)} or an explicit higher version")
    bump.add_argument("--note", help="one line for the skill's users: what changed (a Change-note: trailer)")
    bump.set_defaults(func=cmd_bump)

    delete = subparsers.add_parser(
        "delete",
        parents=[common],
        help="delete a skill",
        description="Delete a skill; removes its plugin and marketplace entry "
        "when it was the plugin's last skill.",
    )
    delete.add_argument("ref", metavar="SKILL", help="SKILL or PLUGIN/SKILL")
    delete.set_defaults(func=cmd_delete)

    edit = subparsers.add_parser(
        "edit",
        parents=[common],
        help="edit a skill in $EDITOR and validate it",
        description="Open a skill file in $VISUAL/$EDITOR; the change is kept only "
        "when the marketplace still validates.",
    )
    edit.add_argument("ref", metavar="SKILL", help="SKILL or PLUGIN/SKILL")
    edit.add_argument(
        "--file", default="SKILL.md", help="file in the skill folder to edit (default SKILL.md)"
    )
    edit.add_argument("--bump", metavar="PART", help="also bump the version (patch, minor, major, …)")
    edit.add_argument("--note", help="with --bump: one line for the skill's users: what changed")
    edit.set_defaults(func=cmd_edit)


# ----------------------------------------------------------------------------------------- handlers


def _show(plan: Plan) -> None:
    for change in plan.changes:
        print(f"  {'delete' if change.is_delete else 'write '} {change.path}")


def _carry_out(args: argparse.Namespace, plan: Plan) -> int:
    """Apply, validate, optionally commit; everything is restored when a step fails."""
    root = Path(args.marketplace)
    print(plan.subject)
    _show(plan)
    if args.dry_run:
        print("dry run: nothing changed")
        return 0
    repo = None
    note = getattr(args, "note", None)
    trailers = changes.note_trailers(note)
    if args.commit:
        repo = GitRepo.find(root)
        if repo is None:
            raise BadInput(f"--commit needs a Git checkout, and {root} is not in one")
    before = changes.published_versions(root)
    with applied(root, plan) as warnings:
        for warning in warnings:
            print(f"warning: {warning.format()}", file=sys.stderr)
        moved = changes.version_changes(before, changes.published_versions(root))
        if repo is not None:
            commit = GitRepo(root).commit(plan.message, trailers=trailers, paths=list(plan.paths))
            print(f"committed {commit[:12]}: {plan.subject}")
    if plan.version:
        print(f"version: {plan.version}")
    for line in moved:
        print(f"  {line}")
    for line in changes.explain(moved, plan.plugin, plan.skill):
        print(line)
    skill_key = f"skill {plan.plugin}:{plan.skill}"
    if plan.action == "edit" and not any(line.startswith(skill_key + ":") for line in moved):
        print(
            f"warning: {plan.plugin}/{plan.skill} changed but its version stays {before.get(skill_key)}: "
            f"members will not be offered this change; run `skillport bump {plan.plugin}/{plan.skill} "
            'patch --note "…"` (or edit with --bump)',
            file=sys.stderr,
        )
    if note and repo is None:
        print(
            f"note: commit this change with the trailer line `{changes.NOTE_TRAILER}: "
            f"{trailers[changes.NOTE_TRAILER]}` (or use --commit) so the catalog shows the note"
        )
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    plugin, sep, skill = str(args.ref).partition("/")
    if not sep or "/" in skill:
        raise UsageError(f"{args.ref!r}: name the new skill as PLUGIN/SKILL, e.g. team-rituals/standup-notes")
    description = args.description
    if not description and _interactive(args):
        description = _ask("Description (what it does and when to use it): ")
    if not description:
        raise UsageError("a description is required: pass --description 'What it does. Use when …'")
    co = read_checkout(Path(args.marketplace))
    plugin_exists = find_plugin(co, plugin) is not None
    own_version = args.version if plugin_exists else None
    files = render_skill(
        skill, description, dirs=args.dirs, license=args.license, author=args.author, version=own_version
    )
    plan = plan_new(
        co,
        plugin,
        skill,
        files,
        version=args.version,
        plugin_description=args.plugin_description or (None if plugin_exists else description),
    )
    return _carry_out(args, plan)


def cmd_bump(args: argparse.Namespace) -> int:
    return _carry_out(args, plan_bump(read_checkout(Path(args.marketplace)), args.ref, args.part))


def cmd_delete(args: argparse.Namespace) -> int:
    plan = plan_delete(read_checkout(Path(args.marketplace)), args.ref)
    if _interactive(args) and not args.dry_run:
        print(plan.subject)
        _show(plan)
        if _ask("Delete these files? [y/N] ").lower() not in ("y", "yes"):
            print("nothing deleted")
            return 1
    return _carry_out(args, plan)


def _editor() -> list[str]:
    command = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not command:
        raise BadInput("set $EDITOR (or $VISUAL) to your editor, e.g. `export EDITOR=nano`")
    return shlex.split(command)


def cmd_edit(args: argparse.Namespace) -> int:
    root = Path(args.marketplace)
    co = read_checkout(root)
    skill = find_skill(co, args.ref)
    check_relative_path(args.file, what="--file")
    source = root / skill.folder / args.file
    if not source.is_file() or source.is_symlink():
        raise BadInput(f"{skill.folder}/{args.file} is not a file of skill {skill.name}")
    scratch = Path(tempfile.mkdtemp(prefix=f"skillport-edit-{skill.name}-")) / Path(args.file).name
    scratch.write_bytes(source.read_bytes())
    while True:
        done = subprocess.run([*_editor(), str(scratch)], check=False)
        if done.returncode != 0:
            raise BadInput(
                f"the editor exited with status {done.returncode}; nothing changed "
                f"(your text is kept in {scratch})"
            )
        try:
            plan = plan_edit(
                co,
                f"{skill.plugin.name}/{skill.name}",
                {args.file: scratch.read_bytes()},
                bump_plugin=not args.bump,  # with --bump, the bump moves the plugin's version
            )
        except NoChange:
            print(f"no changes to {skill.folder}/{args.file}")
            return 0
        try:
            if args.bump:
                after = co.with_changes(plan.changes)
                bumped = plan_bump(after, f"{skill.plugin.name}/{skill.name}", args.bump)
                changes = tuple(merge_changes(plan.changes, bumped.changes))
                subject = f"{plan.subject}, bump to {bumped.version}"
                plan = Plan("edit", plan.plugin, plan.skill, changes, subject, bumped.version)
            result = _carry_out(args, plan)
        except BadInput as exc:  # the edit is invalid (ValidationFailed included): files untouched
            print(str(exc), file=sys.stderr)
            if _interactive(args) and _ask("Edit again? [Y/n] ").lower() in ("", "y", "yes"):
                continue
            raise BadInput(
                f"the edit was not saved because the skill would be invalid; your text is kept in {scratch}"
            ) from exc
        scratch.unlink(missing_ok=True)
        scratch.parent.rmdir()
        return result


# ----------------------------------------------------------------------------------------- standalone


def main(argv: Sequence[str] | None = None) -> int:
    """Run the authoring commands alone (``python -m builder.authoring.cli``)."""
    parser = argparse.ArgumentParser(prog="skillport")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ValidationFailed as exc:
        print(f"error: the change was not made: {exc}", file=sys.stderr)
        return 1
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except SkillportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
