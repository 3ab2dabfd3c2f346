"""Authoring: plan new / bump / delete / edit / publish changes to a marketplace checkout.

Everything here is pure: a planner reads a ``Checkout`` (a snapshot of the checkout's file paths and
the bytes of its manifests and SKILL.md files) and returns a ``Plan`` — the list of file writes and
deletes plus a commit message. ``builder/authoring/apply.py`` applies a plan atomically and validates the
result; ``builder/authoring/gitrepo.py`` commits it.

Formatting is preserved: JSON manifests are re-written in the style they were found in (indent,
key order, inline arrays of scalars), and a SKILL.md version bump edits the one ``version:`` value in
place instead of re-dumping the YAML. SKILL.md is read by the build's strict parser
(``builder.frontmatter``), so authoring sees the names and values the build sees.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from builder import frontmatter, policy, resources
from builder.errors import BadInput, NotFound, did_you_mean
from builder.model import Problem, Version

MARKETPLACE_JSON = ".claude-plugin/marketplace.json"
PLUGIN_JSON = ".claude-plugin/plugin.json"
OPTIONAL_DIRS = ("scripts", "references", "assets")
BUMP_PARTS = ("patch", "minor", "major", "prerelease", "release")
BumpPart = Literal["patch", "minor", "major", "prerelease", "release"]
Action = Literal["new", "bump", "delete", "edit", "publish"]


# ----------------------------------------------------------------------------------------- records


@dataclass(frozen=True)
class FileChange:
    """Write ``data`` to ``path`` (relative POSIX, from the marketplace root), or delete it (``None``)."""

    path: str
    data: bytes | None = field(repr=False)

    def __post_init__(self) -> None:
        check_relative_path(self.path, what="changed file")

    @property
    def is_delete(self) -> bool:
        return self.data is None


@dataclass(frozen=True)
class Plan:
    """One authoring change: what it does to which files, and how to describe it in a commit."""

    action: Action
    plugin: str
    skill: str
    changes: tuple[FileChange, ...]
    message: str
    version: str | None = None

    def __post_init__(self) -> None:
        paths = [c.path for c in self.changes]
        if len(set(paths)) != len(paths):
            raise ValueError("a plan changes the same file twice")
        folders = {"/".join(p.split("/")[:i]) for p in paths for i in range(1, p.count("/") + 1)}
        clash = sorted(folders.intersection(paths))
        if clash:
            raise BadInput(f"{clash[0]!r} is both a file and a folder in one change; send one or the other")
        if not self.message.strip():
            raise ValueError("a plan needs a commit message")

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(c.path for c in self.changes)

    @property
    def subject(self) -> str:
        return self.message.splitlines()[0]


@dataclass(frozen=True)
class Checkout:
    """A snapshot of a marketplace checkout: every file path, and the bytes of the files planning
    reads (marketplace.json, plugin.json files, SKILL.md files)."""

    paths: frozenset[str]
    files: Mapping[str, bytes] = field(repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "paths", frozenset(self.paths))
        object.__setattr__(self, "files", MappingProxyType(dict(self.files)))

    @staticmethod
    def wants(path: str) -> bool:
        """Whether the loader should read this file's bytes into ``files``."""
        return path == MARKETPLACE_JSON or path.endswith("/" + PLUGIN_JSON) or path.endswith("/SKILL.md")

    def read(self, path: str) -> bytes | None:
        return self.files.get(path)

    def with_changes(self, changes: Iterable[FileChange]) -> Checkout:
        """The snapshot as it would be after ``changes``."""
        paths = set(self.paths)
        files = dict(self.files)
        for change in changes:
            if change.data is None:
                paths.discard(change.path)
                files.pop(change.path, None)
            else:
                paths.add(change.path)
                if self.wants(change.path):
                    files[change.path] = change.data
        return Checkout(frozenset(paths), files)


@dataclass(frozen=True)
class PluginLoc:
    name: str
    folder: str
    entry_index: int


@dataclass(frozen=True)
class SkillLoc:
    plugin: PluginLoc
    name: str
    folder: str

    @property
    def skill_md(self) -> str:
        return f"{self.folder}/SKILL.md"


# ----------------------------------------------------------------------------------------- checks


def check_relative_path(path: str, *, what: str = "path") -> None:
    """Refuse anything but a plain relative POSIX path (no ``..``, absolute, backslash, NUL, empty
    parts, over-long names)."""
    if not isinstance(path, str) or policy.long_path_problem(path):
        raise BadInput(f"{what} {path!r} must be a relative path inside the marketplace, without '..'")


def name_problem(name: str, what: str = "skill") -> str | None:
    """Why ``name`` is not a valid skill/plugin name, or None."""
    problem = policy.name_problem(name, what)
    if problem:
        return problem
    if what == "skill" and policy.has_reserved_word(name):
        return f"skill name {name!r} must not contain 'claude' or 'anthropic' (Claude.ai refuses it)"
    return None


def check_name(name: str, what: str = "skill") -> None:
    problem = name_problem(name, what)
    if problem:
        raise BadInput(problem)


# ----------------------------------------------------------------------------------------- JSON


@dataclass(frozen=True)
class JsonStyle:
    indent: int = 2
    inline_scalar_arrays: bool = True
    trailing_newline: bool = True


def _dump(value: Any, style: JsonStyle, level: int = 0) -> str:
    pad = " " * (style.indent * (level + 1))
    end = " " * (style.indent * level)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [
            f"{pad}{json.dumps(k, ensure_ascii=False)}: {_dump(v, style, level + 1)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + end + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        if style.inline_scalar_arrays and not any(isinstance(v, dict | list) for v in value):
            return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in value) + "]"
        return "[\n" + ",\n".join(pad + _dump(v, style, level + 1) for v in value) + "\n" + end + "]"
    return json.dumps(value, ensure_ascii=False)


def dump_json(value: Any, style: JsonStyle = JsonStyle()) -> bytes:
    text = _dump(value, style)
    return (text + ("\n" if style.trailing_newline else "")).encode("utf-8")


def json_style(text: str, value: Any) -> JsonStyle:
    """The style ``text`` was written in: the one of our styles that reproduces it, else the
    closest guess (its indent, inline arrays when it has any)."""
    match = re.search(r"\n( +)\S", text)
    indent = len(match.group(1)) if match else 2
    trailing = text.endswith("\n")
    for inline in (True, False):
        style = JsonStyle(indent, inline, trailing)
        if dump_json(value, style).decode("utf-8") == text:
            return style
    return JsonStyle(indent, bool(re.search(r"\[\s*[\"\d tfn][^\n\[\]{}]*\]", text)), trailing)


def load_json(co: Checkout, path: str) -> tuple[dict[str, Any], JsonStyle]:
    raw = co.read(path)
    if raw is None:
        raise BadInput(f"{path} is missing")
    try:
        text = raw.decode("utf-8")
        value = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"{path} is not valid JSON ({exc}); fix it before changing skills") from exc
    if not isinstance(value, dict):
        raise BadInput(f"{path} must hold a JSON object")
    return value, json_style(text, value)


# ----------------------------------------------------------------------------------------- frontmatter


def parse_frontmatter(raw: bytes, path: str) -> frontmatter.Frontmatter:
    """A SKILL.md's frontmatter, read by the build's strict parser (``builder.frontmatter``)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path} is not UTF-8 text") from exc
    try:
        return frontmatter.parse(text)
    except frontmatter.FrontmatterError as exc:
        raise BadInput(_located(path, exc)) from exc


def metadata_of(fm: frontmatter.Frontmatter) -> Mapping[str, Any]:
    value = fm.data.get("metadata")
    return value if isinstance(value, Mapping) else {}


def _located(path: str, exc: frontmatter.FrontmatterError) -> str:
    at = f" line {exc.line}" if exc.line else ""
    return f"{path}{at}: {exc}; {exc.fix}"


def set_metadata_version(raw: bytes, path: str, new: str) -> bytes:
    """SKILL.md with its ``metadata.version`` value changed to ``new``; every other byte kept."""
    parse_frontmatter(raw, path)  # UTF-8 and a valid frontmatter, with the path in the message
    try:
        return frontmatter.set_value(raw.decode("utf-8"), ("metadata", "version"), new).encode("utf-8")
    except frontmatter.FrontmatterError as exc:
        raise BadInput(_located(path, exc)) from exc


# ----------------------------------------------------------------------------------------- locating


def _marketplace(co: Checkout) -> tuple[dict[str, Any], JsonStyle, list[Any]]:
    if co.read(MARKETPLACE_JSON) is None:
        raise BadInput(
            f"no {MARKETPLACE_JSON} here: run inside a marketplace checkout or pass --marketplace DIR"
        )
    doc, style = load_json(co, MARKETPLACE_JSON)
    plugins = doc.get("plugins")
    if not isinstance(plugins, list):
        raise BadInput(f"{MARKETPLACE_JSON}: 'plugins' must be a list")
    return doc, style, plugins


def plugins_of(co: Checkout) -> list[PluginLoc]:
    """Every plugin of the marketplace kept in this repository (relative ``./`` sources)."""
    _, _, entries = _marketplace(co)
    found = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        source = entry.get("source")
        if not isinstance(source, str) or not source.startswith("./"):
            continue
        folder = posixpath.normpath(source[2:])
        if folder in ("", ".") or folder.startswith("../") or folder == "..":
            continue
        found.append(PluginLoc(entry["name"], folder, i))
    return found


def skills_of(co: Checkout, plugin: PluginLoc) -> list[SkillLoc]:
    prefix = f"{plugin.folder}/skills/"
    names = sorted(
        {
            p[len(prefix) :].split("/")[0]
            for p in co.paths
            if p.startswith(prefix) and p.endswith("/SKILL.md") and p.count("/") == prefix.count("/") + 1
        }
    )
    return [SkillLoc(plugin, n, prefix + n) for n in names]


def find_plugin(co: Checkout, name: str) -> PluginLoc | None:
    return next((p for p in plugins_of(co) if p.name == name), None)


def find_skill(co: Checkout, ref: str) -> SkillLoc:
    """``skill``, ``plugin:skill`` or ``plugin/skill`` -> where it is. NotFound lists what exists."""
    plugin_name, _, skill_name = ref.replace(":", "/", 1).rpartition("/")
    check_name(skill_name)
    every = [s for p in plugins_of(co) for s in skills_of(co, p)]
    matches = [s for s in every if s.name == skill_name and (not plugin_name or s.plugin.name == plugin_name)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        where = ", ".join(f"{s.plugin.name}/{s.name}" for s in matches)
        raise BadInput(f"skill {skill_name!r} exists in several plugins ({where}); name it as PLUGIN/SKILL")
    hint = did_you_mean(skill_name, (s.name for s in every))
    if hint:
        raise NotFound(f"no skill {ref!r} in this marketplace.{hint}")
    known = ", ".join(sorted(f"{s.plugin.name}/{s.name}" for s in every)[:30]) or "none"
    raise NotFound(f"no skill {ref!r} in this marketplace (skills: {known})")


def skill_files(co: Checkout, skill: SkillLoc) -> list[str]:
    prefix = skill.folder + "/"
    return sorted(p for p in co.paths if p.startswith(prefix))


def current_version(co: Checkout, skill: SkillLoc) -> tuple[str | None, str]:
    """(version, where): where is ``"skill"``, ``"plugin"``, ``"entry"`` or ``"none"``."""
    raw = co.read(skill.skill_md)
    if raw is not None:
        own = metadata_of(parse_frontmatter(raw, skill.skill_md)).get("version")
        if own not in (None, ""):
            return str(own), "skill"
    manifest_path = f"{skill.plugin.folder}/{PLUGIN_JSON}"
    if co.read(manifest_path) is not None:
        manifest, _ = load_json(co, manifest_path)
        if isinstance(manifest.get("version"), str):
            return manifest["version"], "plugin"
    _, _, entries = _marketplace(co)
    entry = entries[skill.plugin.entry_index]
    if isinstance(entry.get("version"), str):
        return entry["version"], "entry"
    return None, "none"


# ----------------------------------------------------------------------------------------- templates


def _yaml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def render_skill(
    name: str,
    description: str,
    *,
    dirs: Iterable[str] = (),
    license: str | None = None,
    author: str | None = None,
    version: str | None = None,
    templates: Path | None = None,
) -> dict[str, bytes]:
    """A new skill folder's files (relative to the folder) from ``templates/authoring/skill``."""
    check_name(name)
    chosen = sorted(set(dirs))
    unknown = [d for d in chosen if d not in OPTIONAL_DIRS]
    if unknown:
        raise BadInput(f"unknown folder(s) {', '.join(unknown)}: choose from {', '.join(OPTIONAL_DIRS)}")
    env = Environment(  # renders Markdown and YAML, not HTML: no autoescaping
        loader=FileSystemLoader(str(templates or resources.templates_dir() / "authoring")),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701
    )
    env.filters["yaml_str"] = _yaml_str
    context = {
        "name": name,
        "title": name.replace("-", " ").capitalize(),
        "description": " ".join(description.split()),
        "license": license,
        "author": author,
        "version": version,
        "dirs": chosen,
    }
    skill_md = env.get_template("skill/SKILL.md.j2").render(context)
    out = {"SKILL.md": (re.sub(r"\n{3,}", "\n\n", skill_md).rstrip("\n") + "\n").encode("utf-8")}
    for folder in chosen:
        prefix = f"skill/{folder}/"
        for template in sorted(t for t in env.list_templates() if t.startswith(prefix)):
            rel = template[len("skill/") :].removesuffix(".j2")
            out[rel] = env.get_template(template).render(context).encode("utf-8")
    return out


# ----------------------------------------------------------------------------------------- planners


def _new_plugin_changes(
    co: Checkout, plugin: str, *, version: str, description: str | None
) -> tuple[list[FileChange], str]:
    """Files creating plugin ``plugin`` (plugin.json + marketplace entry); returns (changes, folder)."""
    check_name(plugin, "plugin")
    folder = f"plugins/{plugin}"
    if any(p.startswith(folder + "/") for p in co.paths):
        raise BadInput(
            f"{folder}/ already exists but is not listed in {MARKETPLACE_JSON}: "
            "add its entry there or choose another plugin name"
        )
    doc, style, entries = _marketplace(co)
    manifest: dict[str, Any] = {"name": plugin, "version": version}
    entry: dict[str, Any] = {"name": plugin, "source": f"./{folder}"}
    if description:
        manifest["description"] = description
        entry["description"] = description
    doc["plugins"] = [*entries, entry]
    return [
        FileChange(f"{folder}/{PLUGIN_JSON}", dump_json(manifest, style)),
        FileChange(MARKETPLACE_JSON, dump_json(doc, style)),
    ], folder


def plan_new(
    co: Checkout,
    plugin: str,
    skill: str,
    files: Mapping[str, bytes],
    *,
    version: str | None = None,
    plugin_description: str | None = None,
) -> Plan:
    """Add skill ``plugin/skill`` with ``files`` (relative to the skill folder, e.g. from
    ``render_skill``); create the plugin and its marketplace entry when it is new. ``version`` is
    the new plugin's version, or — in an existing plugin — the skill's own ``metadata.version``
    (already rendered into ``files``)."""
    check_name(plugin, "plugin")
    check_name(skill)
    if version is not None and not Version.is_valid(version):
        raise BadInput(f"--version {version!r} is not a SemVer version like '0.1.0'")
    taken = [s for p in plugins_of(co) for s in skills_of(co, p) if s.name == skill]
    if taken:
        raise BadInput(
            f"a skill named {skill!r} already exists in plugin {taken[0].plugin.name!r}; "
            "skill names must be unique across the marketplace"
        )
    if "SKILL.md" not in files:
        raise BadInput("a new skill needs a SKILL.md")
    changes: list[FileChange] = []
    loc = find_plugin(co, plugin)
    created = loc is None
    if loc is None:
        plugin_changes, folder = _new_plugin_changes(
            co, plugin, version=version or "0.1.0", description=plugin_description
        )
        changes += plugin_changes
    else:
        folder = loc.folder
    skill_folder = f"{folder}/skills/{skill}"
    if any(p.startswith(skill_folder + "/") for p in co.paths):
        raise BadInput(
            f"{skill_folder}/ already exists (without a SKILL.md): remove it or choose another name"
        )
    for rel, data in sorted(files.items()):
        check_relative_path(rel, what="skill file")
        changes.append(FileChange(f"{skill_folder}/{rel}", data))
    message = f"Add skill {skill} to {'new ' if created else ''}plugin {plugin}"
    after = co.with_changes(changes)
    found, _ = current_version(
        after, SkillLoc(find_plugin(after, plugin) or PluginLoc(plugin, folder, -1), skill, skill_folder)
    )
    plan = Plan("new", plugin, skill, tuple(changes), message, found)
    return plan if created else with_plugin_bump(co, plan)


def next_version(current: str, part: str, where: str) -> Version:
    try:
        old = Version.parse(current)
    except ValueError as exc:
        raise BadInput(f"the {where} version {current!r} is not SemVer: fix it first") from exc
    if part == "prerelease" and "-" not in old.text.split("+")[0]:
        # a pre-release of a release comes before it: start the next patch's pre-releases instead
        return Version.parse(f"{old.bump('patch')}-rc.1")
    if part in BUMP_PARTS:
        bumped = old.bump(part)  # type: ignore[arg-type]
        if bumped == old:
            raise BadInput(f"the {where} version is already {current}: choose patch, minor or major")
        return bumped
    if not Version.is_valid(part):
        raise BadInput(f"{part!r} is neither {', '.join(BUMP_PARTS)} nor a version like 1.4.0 or 2.0.0-rc.1")
    new = Version.parse(part)
    if not new > old:
        raise BadInput(f"{part} is not higher than the current version {current}")
    return new


def plan_bump(co: Checkout, ref: str, part: str) -> Plan:
    """Raise a skill's version by ``part`` (patch, minor, major, prerelease, release) or to an
    explicit higher version. A skill with its own ``metadata.version`` bumps that line; otherwise
    plugin.json's version (and the marketplace entry's, kept equal when present)."""
    skill = find_skill(co, ref)
    current, where = current_version(co, skill)
    if current is None:
        raise BadInput(
            f'skill {skill.name!r} has no version: add "version": "0.1.0" to '
            f"{skill.plugin.folder}/{PLUGIN_JSON}, or `version` under metadata in {skill.skill_md}"
        )
    new = next_version(current, part, where)
    changes: list[FileChange] = []
    if where == "skill":
        raw = co.read(skill.skill_md)
        assert raw is not None
        changes.append(FileChange(skill.skill_md, set_metadata_version(raw, skill.skill_md, str(new))))
        detail = f"metadata.version in {skill.skill_md}"
    else:
        manifest_path = f"{skill.plugin.folder}/{PLUGIN_JSON}"
        if where == "plugin":
            manifest, style = load_json(co, manifest_path)
            manifest["version"] = str(new)
            changes.append(FileChange(manifest_path, dump_json(manifest, style)))
        doc, style, entries = _marketplace(co)
        entry = entries[skill.plugin.entry_index]
        if "version" in entry:
            entry["version"] = str(new)
            changes.append(FileChange(MARKETPLACE_JSON, dump_json(doc, style)))
        others = [s.name for s in skills_of(co, skill.plugin) if s.name != skill.name]
        detail = f"plugin {skill.plugin.name} version" + (
            f" (also versions {', '.join(others)})" if others else ""
        )
    how = part if part in BUMP_PARTS else "explicit"
    message = f"Bump {skill.name} to {new}\n\n{current} -> {new} ({how}), in {detail}."
    return with_plugin_bump(
        co, Plan("bump", skill.plugin.name, skill.name, tuple(changes), message, str(new))
    )


def _plugin_version_of(co: Checkout, plugin: PluginLoc) -> str | None:
    manifest_path = f"{plugin.folder}/{PLUGIN_JSON}"
    manifest = load_json(co, manifest_path)[0] if co.read(manifest_path) is not None else {}
    _, _, entries = _marketplace(co)
    entry = entries[plugin.entry_index] if 0 <= plugin.entry_index < len(entries) else {}
    version = manifest.get("version") or entry.get("version")
    return version if isinstance(version, str) else None


def with_plugin_bump(co: Checkout, plan: Plan) -> Plan:
    """``plan`` plus a patch bump of its (existing, versioned) plugin when the plan changes the
    plugin's files but not its version: the published plugin archive changes, so its version must
    (Claude Code updates plugins by version)."""
    before = find_plugin(co, plan.plugin)
    if before is None or not any(c.path.startswith(before.folder + "/") for c in plan.changes):
        return plan
    after = co.with_changes(plan.changes)
    loc = find_plugin(after, plan.plugin)
    if loc is None or _plugin_version_of(after, loc) != _plugin_version_of(co, before):
        return plan
    changes, new = _bump_plugin_patch(after, loc)
    if not changes:
        return plan
    merged = tuple(merge_changes(plan.changes, changes))
    version = plan.version
    if plan.action != "delete":
        final = co.with_changes(merged)
        try:
            version = current_version(final, find_skill(final, f"{plan.plugin}/{plan.skill}"))[0]
        except BadInput:  # an invalid edit: validation after applying reports it
            version = plan.version
    message = f"{plan.message}\n\nPlugin {plan.plugin} to {new}: its published archive changes."
    return replace(plan, changes=merged, message=message, version=version)


def _bump_plugin_patch(co: Checkout, plugin: PluginLoc) -> tuple[list[FileChange], str | None]:
    """Raise a versioned plugin's version by a patch (plugin.json and the marketplace entry, where
    set); nothing for an unversioned plugin (its published version follows its content)."""
    changes: list[FileChange] = []
    manifest_path = f"{plugin.folder}/{PLUGIN_JSON}"
    doc, style, entries = _marketplace(co)
    entry = entries[plugin.entry_index] if 0 <= plugin.entry_index < len(entries) else {}
    manifest: dict[str, Any] = {}
    manifest_style = None
    if co.read(manifest_path) is not None:
        manifest, manifest_style = load_json(co, manifest_path)
    current = manifest.get("version") or entry.get("version")
    if not isinstance(current, str):
        return [], None
    new = str(next_version(current, "patch", f"plugin {plugin.name}"))
    if "version" in manifest and manifest_style is not None:
        manifest["version"] = new
        changes.append(FileChange(manifest_path, dump_json(manifest, manifest_style)))
    if "version" in entry:
        entry["version"] = new
        changes.append(FileChange(MARKETPLACE_JSON, dump_json(doc, style)))
    return changes, new


def plan_delete(co: Checkout, ref: str) -> Plan:
    """Remove a skill's folder; when it was its plugin's last skill, remove the plugin folder and
    its marketplace entry too."""
    skill = find_skill(co, ref)
    siblings = [s for s in skills_of(co, skill.plugin) if s.name != skill.name]
    if siblings:
        changes = [FileChange(p, None) for p in skill_files(co, skill)]
        message = f"Delete skill {skill.name} from plugin {skill.plugin.name}"
    else:
        prefix = skill.plugin.folder + "/"
        changes = [FileChange(p, None) for p in sorted(co.paths) if p.startswith(prefix)]
        doc, style, entries = _marketplace(co)
        doc["plugins"] = [e for i, e in enumerate(entries) if i != skill.plugin.entry_index]
        changes.append(FileChange(MARKETPLACE_JSON, dump_json(doc, style)))
        message = (
            f"Delete skill {skill.name} and its plugin {skill.plugin.name}\n\n"
            f"It was the plugin's last skill, so the plugin and its marketplace entry are removed too."
        )
    plan = Plan("delete", skill.plugin.name, skill.name, tuple(changes), message)
    return with_plugin_bump(co, plan) if siblings else plan


def plan_edit(co: Checkout, ref: str, edits: Mapping[str, bytes | None], *, bump_plugin: bool = True) -> Plan:
    """Replace (or delete, with ``None``) files of a skill; paths are relative to the skill folder."""
    skill = find_skill(co, ref)
    changes = []
    for rel, data in sorted(edits.items()):
        check_relative_path(rel, what="skill file")
        path = f"{skill.folder}/{rel}"
        if data is None:
            if path in co.paths:
                changes.append(FileChange(path, None))
        elif path not in co.paths or co.read(path) != data:
            changes.append(FileChange(path, data))
    if not changes:
        raise NoChange(f"nothing changed in skill {skill.name}")
    names = ", ".join(c.path[len(skill.folder) + 1 :] for c in changes)
    try:
        version, _ = current_version(co.with_changes(changes), skill)
    except BadInput:  # an invalid edit: validation after applying reports it with every other problem
        version = None
    plan = Plan(
        "edit", skill.plugin.name, skill.name, tuple(changes), f"Edit skill {skill.name} ({names})", version
    )
    return with_plugin_bump(co, plan) if bump_plugin else plan


class NoChange(BadInput):
    """The requested change would not change any file."""


def check_upload(files: Sequence[tuple[str, bytes]], skill: str) -> dict[str, bytes]:
    """Uploaded skill files -> mapping; refuses traversal, duplicates, too many or too large files,
    nested archives, and a SKILL.md that is missing or names another skill."""
    if len(files) > policy.UPLOAD_MAX_FILES:
        raise BadInput(f"{len(files)} files: a skill may have at most {policy.UPLOAD_MAX_FILES}")
    out: dict[str, bytes] = {}
    for rel, data in files:
        check_relative_path(rel, what="uploaded file")
        if rel in out:
            raise BadInput(f"uploaded file {rel!r} appears twice")
        if policy.is_archive(rel):
            raise BadInput(f"uploaded file {rel!r} is an archive; nested archives are not allowed")
        out[rel] = bytes(data)
    total = sum(len(d) for d in out.values())
    if total > policy.UPLOAD_MAX_BYTES:
        raise BadInput(f"the skill's files total {total} bytes; the limit is {policy.UPLOAD_MAX_BYTES}")
    skill_mds = [p for p in out if p.rsplit("/", 1)[-1].lower() == "skill.md"]
    if skill_mds != ["SKILL.md"]:
        raise BadInput("a skill needs exactly one SKILL.md, at the top of its folder")
    fm = parse_frontmatter(out["SKILL.md"], "SKILL.md")
    if fm.data.get("name") != skill:
        raise BadInput(
            f"SKILL.md has name {fm.data.get('name')!r}, but the skill is {skill!r}: they must match"
        )
    return out


def plan_publish(
    co: Checkout,
    plugin: str,
    skill: str,
    files: Sequence[tuple[str, bytes]],
    *,
    bump: str | None = "patch",
) -> Plan:
    """Replace (or create) skill ``plugin/skill`` with exactly ``files``. When an existing skill's
    content changes but its version does not, ``bump`` it (or refuse when ``bump`` is None), so the
    next build never sees changed content under an old version."""
    check_name(plugin, "plugin")
    check_name(skill)
    upload = check_upload(files, skill)
    existing = [s for p in plugins_of(co) for s in skills_of(co, p) if s.name == skill]
    if not existing:
        plan = plan_new(co, plugin, skill, upload)
        return replace(plan, action="publish", message=f"Publish new skill {skill} in plugin {plugin}")
    loc = existing[0]
    if loc.plugin.name != plugin:
        raise BadInput(f"skill {skill!r} already belongs to plugin {loc.plugin.name!r}, not {plugin!r}")
    old_version, _ = current_version(co, loc)
    edits: dict[str, bytes | None] = {p[len(loc.folder) + 1 :]: None for p in skill_files(co, loc)}
    edits.update(upload)
    edit = plan_edit(co, f"{plugin}/{skill}", edits, bump_plugin=False)
    after = co.with_changes(edit.changes)
    new_version, _ = current_version(after, loc)
    changes = list(edit.changes)
    if new_version == old_version and old_version is not None:
        if bump is None:
            raise BadInput(
                f"skill {skill}'s content changed but its version is still {old_version}: "
                "raise metadata.version in SKILL.md (or publish with a bump)"
            )
        bumped = plan_bump(after, f"{plugin}/{skill}", bump)
        new_version = bumped.version
        changes = merge_changes(changes, bumped.changes)
        return Plan("publish", plugin, skill, tuple(changes), f"Publish {skill} {new_version}", new_version)
    plan = Plan("publish", plugin, skill, tuple(changes), f"Publish {skill} {new_version}", new_version)
    return with_plugin_bump(co, plan)


def merge_changes(first: Iterable[FileChange], then: Iterable[FileChange]) -> list[FileChange]:
    """``first`` followed by ``then``: the later change to a path wins."""
    merged: dict[str, FileChange] = {c.path: c for c in first}
    for change in then:
        merged[change.path] = change
    return list(merged.values())


# ----------------------------------------------------------------------------------------- basic checks


def basic_problems(co: Checkout) -> list[Problem]:
    """A minimal structural check, used only when ``builder.validate`` is not available: manifests
    parse, every SKILL.md has a frontmatter mapping whose name equals its folder and a description."""
    problems: list[Problem] = []

    def add(file: str, rule: str, message: str, fix: str) -> None:
        problems.append(Problem(file, None, rule, message, fix))

    try:
        plugins = plugins_of(co)
    except BadInput as exc:
        return [Problem(MARKETPLACE_JSON, None, "marketplace-json", str(exc), "fix marketplace.json")]
    for plugin in plugins:
        manifest_path = f"{plugin.folder}/{PLUGIN_JSON}"
        if co.read(manifest_path) is not None:
            try:
                load_json(co, manifest_path)
            except BadInput as exc:
                add(manifest_path, "plugin-json", str(exc), "fix plugin.json")
        for skill in skills_of(co, plugin):
            raw = co.read(skill.skill_md)
            try:
                fm = parse_frontmatter(raw or b"", skill.skill_md)
            except BadInput as exc:
                add(skill.skill_md, "frontmatter", str(exc), "fix the frontmatter")
                continue
            if fm.data.get("name") != skill.name:
                add(
                    skill.skill_md,
                    "name-matches-folder",
                    f"name must be {skill.name!r}",
                    f"set `name: {skill.name}`",
                )
            description = fm.data.get("description")
            if not isinstance(description, str) or not description.strip():
                add(skill.skill_md, "description", "description is missing", "add a one-line description")
    return problems
