"""Read a marketplace folder (or Git checkout) into the model. The only file-reading part of the
builder's core path.

Loading never stops at the first problem: what cannot be read becomes a ``Problem`` and the rest is
still loaded, so ``skillport validate`` can report everything at once. File-system hazards are
refused here, before any byte is packaged: symlinks, hard links, FIFOs and devices (T44), and
oversized skills are cut off while reading (T42).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from builder import frontmatter
from builder.limits import DEFAULT_LIMITS, BuildLimits
from builder.model import Marketplace, Plugin, Problem, Skill, SkillFile

MARKETPLACE_JSON = ".claude-plugin/marketplace.json"
PLUGIN_JSON = ".claude-plugin/plugin.json"
ACCESS_YAML = ".skillport/access.yaml"
IGNORED_NAMES = frozenset({".DS_Store", "Thumbs.db", "__pycache__", ".git"})
IGNORED_SUFFIXES = (".pyc", ".pyo")


def _rel(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _symlink_problem(rel: str, replacement: str) -> Problem:
    """T44: links are refused wherever they appear in a skill, never followed or packaged."""
    return Problem(
        rel,
        None,
        "skill-symlink",
        f"{rel} is a symbolic link",
        f"replace the link with {replacement} (links are never packaged)",
    )


def _read_json(root: Path, path: Path, limits: BuildLimits, problems: list[Problem]) -> dict[str, Any] | None:
    rel = _rel(root, path)
    try:
        info = path.lstat()
    except FileNotFoundError:
        problems.append(
            Problem(
                rel,
                None,
                "manifest-missing",
                f"{rel} does not exist",
                f"create {rel} (see docs/site-layout.md and the example marketplace)",
            )
        )
        return None
    if not stat.S_ISREG(info.st_mode):
        problems.append(
            Problem(
                rel,
                None,
                "manifest-not-regular",
                f"{rel} is not a regular file",
                "replace the link or special file with a regular JSON file",
            )
        )
        return None
    if info.st_size > limits.max_manifest_bytes:
        problems.append(
            Problem(
                rel,
                None,
                "manifest-too-large",
                f"{rel} is {info.st_size} bytes (limit {limits.max_manifest_bytes})",
                "keep manifests small; move long text into the skills",
            )
        )
        return None
    try:
        value = json.loads(path.read_bytes())
    except UnicodeDecodeError:
        problems.append(Problem(rel, None, "manifest-json", f"{rel} is not UTF-8 text", "save it as UTF-8"))
        return None
    except json.JSONDecodeError as exc:
        problems.append(
            Problem(
                rel,
                exc.lineno,
                "manifest-json",
                f"{rel} is not valid JSON: {exc.msg}",
                "fix the JSON syntax at that line (trailing commas and comments are not allowed)",
            )
        )
        return None
    if not isinstance(value, dict):
        problems.append(
            Problem(rel, 1, "manifest-json", f"{rel} must hold a JSON object", "wrap the content in { … }")
        )
        return None
    return value


def _skill_files(root: Path, folder: Path, limits: BuildLimits, problems: list[Problem]) -> list[SkillFile]:
    """Every regular file under ``folder``, refusing links and special files and stopping at the limits."""
    files: list[SkillFile] = []
    total = 0
    over = False
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_NAMES)
        for d in list(dirnames):
            if (here / d).is_symlink():
                dirnames.remove(d)
                rel = _rel(root, here / d)
                problems.append(_symlink_problem(rel, "the real folder"))
        for name in sorted(filenames):
            if name in IGNORED_NAMES or name.endswith(IGNORED_SUFFIXES):
                continue
            path = here / name
            rel = _rel(root, path)
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                problems.append(_symlink_problem(rel, "a copy of the file"))
                continue
            if not stat.S_ISREG(info.st_mode):
                problems.append(
                    Problem(
                        rel,
                        None,
                        "skill-special-file",
                        f"{rel} is not a regular file (FIFO, socket or device)",
                        "remove it from the skill folder",
                    )
                )
                continue
            if info.st_nlink > 1:
                problems.append(
                    Problem(
                        rel,
                        None,
                        "skill-hardlink",
                        f"{rel} is a hard link shared with another file",
                        "replace it with an independent copy of the file",
                    )
                )
                continue
            if over:
                continue
            if len(files) >= limits.max_files_per_skill:
                problems.append(
                    Problem(
                        _rel(root, folder),
                        None,
                        "skill-too-many-files",
                        f"the skill has more than {limits.max_files_per_skill} files",
                        "remove files or split the skill (Claude.ai accepts at most "
                        f"{limits.max_files_per_skill})",
                    )
                )
                over = True
                continue
            if total + info.st_size > limits.max_skill_bytes:
                problems.append(
                    Problem(
                        _rel(root, folder),
                        None,
                        "skill-too-large",
                        f"the skill's files exceed {limits.max_skill_bytes} bytes",
                        "shrink or remove large assets (Claude.ai accepts at most 30 MB)",
                    )
                )
                over = True
                continue
            data = path.read_bytes()
            total += len(data)
            files.append(
                SkillFile(path.relative_to(folder).as_posix(), data, executable=bool(info.st_mode & 0o111))
            )
    return files


def _load_skill(
    root: Path, plugin_name: str, folder: Path, limits: BuildLimits, problems: list[Problem]
) -> Skill | None:
    rel_folder = _rel(root, folder)
    skill_md = folder / "SKILL.md"
    rel_md = f"{rel_folder}/SKILL.md"
    if skill_md.is_symlink() or not skill_md.is_file():
        problems.append(
            Problem(
                rel_md,
                None,
                "skill-md-missing",
                f"{rel_folder} has no SKILL.md (regular file)",
                "add a SKILL.md with name and description frontmatter, or remove the folder",
            )
        )
        return None
    if skill_md.lstat().st_size > limits.max_skill_md_bytes:
        problems.append(
            Problem(
                rel_md,
                None,
                "skill-md-too-large",
                f"SKILL.md is {skill_md.lstat().st_size} bytes (limit {limits.max_skill_md_bytes})",
                "move detail into references/ files that Claude reads on demand",
            )
        )
        return None
    files = _skill_files(root, folder, limits, problems)
    md = next((f for f in files if f.path == "SKILL.md"), None)
    if md is None:
        return None
    try:
        text = md.data.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(
            Problem(rel_md, None, "skill-md-encoding", "SKILL.md is not UTF-8 text", "save SKILL.md as UTF-8")
        )
        return None
    try:
        parsed = frontmatter.parse(text)
    except frontmatter.FrontmatterError as exc:
        problems.append(Problem(rel_md, exc.line, exc.rule, str(exc), exc.fix))
        return None
    return Skill(
        name=folder.name,
        plugin=plugin_name,
        folder=rel_folder,
        frontmatter=parsed.data,
        body=parsed.body,
        files=tuple(files),
        key_lines=parsed.key_lines,
    )


def _load_plugin(
    root: Path, index: int, entry: Mapping[str, Any], limits: BuildLimits, problems: list[Problem]
) -> Plugin | None:
    name = entry.get("name")
    source = entry.get("source")
    if not isinstance(name, str) or not isinstance(source, str):
        return None  # reported by the rules (plugin entry shape)
    if not source.startswith("./") or ".." in source.split("/") or "\\" in source:
        return None  # reported by the rules (relative sources)
    folder = (root / source).resolve()
    if not folder.is_relative_to(root.resolve()) or not folder.is_dir():
        problems.append(
            Problem(
                MARKETPLACE_JSON,
                None,
                "plugin-source-missing",
                f"plugins[{index}] ({name}): source {source} is not a folder in the marketplace",
                f"create {source} or fix the source path",
            )
        )
        return None
    manifest = _read_json(root, folder / PLUGIN_JSON, limits, problems) or {}
    skills: list[Skill] = []
    skills_dir = folder / "skills"
    if skills_dir.is_dir() and not skills_dir.is_symlink():
        for child in sorted(skills_dir.iterdir()):
            if child.name in IGNORED_NAMES:
                continue
            if child.is_symlink():
                rel = _rel(root, child)
                problems.append(_symlink_problem(rel, "the real skill folder"))
                continue
            if child.is_dir():
                skill = _load_skill(root, name, child, limits, problems)
                if skill is not None:
                    skills.append(skill)
    return Plugin(
        name=name,
        source=source,
        folder=_rel(root, folder),
        manifest=manifest,
        entry=entry,
        skills=tuple(skills),
    )


def _load_access(root: Path, limits: BuildLimits, problems: list[Problem]) -> dict[str, Any]:
    path = root / ACCESS_YAML
    if not path.exists() and not path.is_symlink():
        return {}
    if path.is_symlink() or not path.is_file():
        problems.append(
            Problem(
                ACCESS_YAML,
                None,
                "access-not-regular",
                f"{ACCESS_YAML} is not a regular file",
                "replace it with a regular YAML file",
            )
        )
        return {}
    data = path.read_bytes()
    if len(data) > limits.max_access_bytes:
        problems.append(
            Problem(
                ACCESS_YAML,
                None,
                "access-too-large",
                f"{ACCESS_YAML} is larger than {limits.max_access_bytes} bytes",
                "use groups and domains instead of listing every email",
            )
        )
        return {}
    try:
        text = data.decode("utf-8")
        if not text.strip():
            return {}
        # The same strict YAML reader as SKILL.md frontmatter (no anchors, tags or duplicate keys).
        limits_ = frontmatter.FrontmatterLimits(max_bytes=limits.max_access_bytes, max_nodes=20000)
        value = frontmatter.parse_yaml(text, limits_, what=ACCESS_YAML).data
    except UnicodeDecodeError:
        problems.append(
            Problem(ACCESS_YAML, None, "access-yaml", f"{ACCESS_YAML} is not UTF-8 text", "save it as UTF-8")
        )
        return {}
    except frontmatter.FrontmatterError as exc:
        problems.append(
            Problem(
                ACCESS_YAML,
                exc.line,
                "access-yaml",
                f"{ACCESS_YAML} cannot be read: {exc}",
                "write plain YAML mappings groups, default and plugins (no anchors or tags)",
            )
        )
        return {}
    return dict(value)


def load(root: Path, limits: BuildLimits = DEFAULT_LIMITS) -> tuple[Marketplace, list[Problem]]:
    """Read the marketplace at ``root``. Returns the model and the problems met while reading."""
    problems: list[Problem] = []
    root = root.resolve()
    manifest = _read_json(root, root / MARKETPLACE_JSON, limits, problems) or {}
    plugins: list[Plugin] = []
    entries = manifest.get("plugins")
    if isinstance(entries, list):
        for i, entry in enumerate(entries[: limits.max_plugins]):
            if isinstance(entry, dict):
                plugin = _load_plugin(root, i, entry, limits, problems)
                if plugin is not None:
                    plugins.append(plugin)
    unique: dict[str, Plugin] = {}
    for plugin in plugins:
        unique.setdefault(plugin.name, plugin)  # duplicates are reported by the rules
    access = _load_access(root, limits, problems)
    marketplace = Marketplace(
        root=str(root), manifest=manifest, plugins=tuple(unique.values()), access=access
    )
    return marketplace, problems
