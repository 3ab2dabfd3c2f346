"""Read a marketplace folder (or Git checkout) into the model. The only file-reading part of the
builder's core path.

Loading never stops at the first problem: what cannot be read becomes a ``Problem`` and the rest is
still loaded, so ``skillport validate`` can report everything at once. File-system hazards are
refused here, before any byte is packaged: symlinks, hard links, FIFOs and devices (T44), and
oversized skills are cut off while reading (T42).
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from builder import frontmatter, layout, policy, publish
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
    """T44: a link leaving the marketplace (or looping) is refused, never followed or packaged."""
    return Problem(
        rel,
        None,
        "skill-symlink",
        f"{rel} is a symbolic link pointing outside the marketplace (or a link loop)",
        f"replace the link with {replacement} (only links inside the repository are followed)",
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


def _walk(
    root: Path, folder: Path, problems: list[Problem], skip_top: frozenset[str] = frozenset()
) -> Iterator[tuple[str, Path, os.stat_result]]:
    """``(path relative to folder, real path, stat)`` of every regular file under ``folder``, in path
    order. Symlinks whose target stays inside the marketplace ``root`` are followed (their targets
    read as regular files, as Claude Code copies them into its cache); links leaving it, link loops,
    hard links, FIFOs and devices are refused (T44)."""
    real = str(folder.resolve())
    # plain strings, not Paths: 10,000 skills walk some 100,000 entries
    stack: list[tuple[str, str, frozenset[str], str]] = [(str(folder), "", frozenset({real}), real)]
    while stack:
        here, prefix, seen, real_here = stack.pop()
        try:
            names = sorted(os.listdir(here), reverse=True)
        except OSError:
            continue
        subdirs: list[tuple[str, str, frozenset[str], str]] = []
        files: list[tuple[str, str, os.stat_result]] = []
        for name in names:
            if name in IGNORED_NAMES or name.endswith(IGNORED_SUFFIXES):
                continue
            if not prefix and name in skip_top:
                continue
            path = os.path.join(here, name)
            real_path = os.path.join(real_here, name)
            rel = prefix + name
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                shown = _rel(root, Path(path))
                try:
                    target = Path(path).resolve(strict=True)
                except (OSError, RuntimeError):
                    problems.append(_symlink_problem(shown, "a regular file or folder (the link is broken)"))
                    continue
                if not target.is_relative_to(root) or str(target) in seen:
                    problems.append(_symlink_problem(shown, "a copy of what it points to"))
                    continue
                path = real_path = str(target)
                info = target.stat()
            if stat.S_ISDIR(info.st_mode):
                subdirs.append((path, rel + "/", seen | {real_path}, real_path))
            elif not stat.S_ISREG(info.st_mode):
                shown = _rel(root, Path(path))
                problems.append(
                    Problem(
                        shown,
                        None,
                        "skill-special-file",
                        f"{shown} is not a regular file (FIFO, socket or device)",
                        "remove it from the skill folder",
                    )
                )
            elif info.st_nlink > 1:
                problems.append(_hardlink_problem(_rel(root, Path(path))))
            else:
                files.append((rel, path, info))
        for rel, path, info in sorted(files):
            yield rel, Path(path), info
        stack.extend(subdirs)


def _hardlink_problem(rel: str) -> Problem:
    return Problem(
        rel,
        None,
        "skill-hardlink",
        f"{rel} is a hard link shared with another file",
        "replace it with an independent copy of the file",
    )


_READS: contextvars.ContextVar[dict[tuple[int, int], bytes] | None] = contextvars.ContextVar(
    "skillport_load_reads", default=None
)


_PARSED: contextvars.ContextVar[ParseCache | None] = contextvars.ContextVar("skillport_parsed", default=None)


class ParseCache:
    """SKILL.md frontmatter already parsed by an earlier build, keyed by the digest of the file's text
    and of the parser's code (``parse_cache``). Parsing the YAML of 10,000 skills takes seconds; a
    rebuild after one change parses one. Entries are JSON (never pickle: the cache folder is data)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.salt = hashlib.sha256(
            Path(frontmatter.__file__).read_bytes() + yaml.__version__.encode()
        ).hexdigest()
        self.old: dict[str, Any] = {}
        self.new: dict[str, Any] = {}
        try:
            stored = json.loads(path.read_bytes())
            if isinstance(stored, dict) and stored.get("salt") == self.salt:
                self.old = dict(stored.get("entries") or {})
        except (OSError, ValueError):
            pass

    def parse(self, text: str) -> frontmatter.Frontmatter:
        key = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        entry = self.old.get(key)
        if isinstance(entry, list) and len(entry) == 4:
            data, key_lines, body_at, body_line = entry
            self.new[key] = entry
            return frontmatter.Frontmatter(data, key_lines, text[body_at:], body_line)
        parsed = frontmatter.parse(text)
        entry = [dict(parsed.data), dict(parsed.key_lines), len(text) - len(parsed.body), parsed.body_line]
        try:
            if json.loads(json.dumps(entry)) == entry:  # else (a date, an int key …) parsed each time
                self.new[key] = entry
        except (TypeError, ValueError):
            pass
        return parsed

    def save(self) -> None:
        """Keep the entries this build used (atomic: a killed build leaves the old file)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        publish.write_atomic(self.path, json.dumps({"salt": self.salt, "entries": self.new}).encode("utf-8"))


@contextlib.contextmanager
def parse_cache(path: Path) -> Iterator[None]:
    """Within this block, ``load`` reuses frontmatter parsed by earlier builds (stored at ``path``)."""
    cache = ParseCache(path)
    token = _PARSED.set(cache)
    try:
        yield
    finally:
        _PARSED.reset(token)
    cache.save()


def _parse(text: str) -> frontmatter.Frontmatter:
    cache = _PARSED.get()
    return cache.parse(text) if cache is not None else frontmatter.parse(text)


def _read(path: Path, info: os.stat_result) -> bytes:
    """The file's bytes, read once per ``load`` (a plugin's walk and its skills' walks meet the same
    files; the same bytes object then serves both, which also halves the memory they take)."""
    cache = _READS.get()
    key = (info.st_dev, info.st_ino)
    if cache is not None and key in cache:
        return cache[key]
    data = path.read_bytes()
    if cache is not None:
        cache[key] = data
    return data


def _skill_files(
    root: Path,
    folder: Path,
    limits: BuildLimits,
    problems: list[Problem],
    skip_top: frozenset[str] = frozenset(),
    *,
    max_files: int | None = None,
    max_bytes: int | None = None,
) -> list[SkillFile]:
    """Every regular file under ``folder`` (``_walk``), stopping at the limits."""
    max_files = limits.max_files_per_skill if max_files is None else max_files
    max_bytes = limits.max_skill_bytes if max_bytes is None else max_bytes
    files: list[SkillFile] = []
    total = 0
    for rel, path, info in _walk(root, folder, problems, skip_top):
        if len(files) >= max_files:
            problems.append(
                Problem(
                    _rel(root, folder),
                    None,
                    "skill-too-many-files",
                    f"{_rel(root, folder)} has more than {max_files} files",
                    "remove files or split it",
                )
            )
            break
        if total + info.st_size > max_bytes:
            problems.append(
                Problem(
                    _rel(root, folder),
                    None,
                    "skill-too-large",
                    f"the files of {_rel(root, folder)} exceed {max_bytes} bytes",
                    f"shrink or remove large assets (Claude.ai accepts at most {policy.UPLOAD_LIMITS_TEXT} "
                    "per skill)",
                )
            )
            break
        data = _read(path, info)
        total += len(data)
        files.append(SkillFile(rel, data, executable=bool(info.st_mode & 0o111)))
    return files


def _load_skill(
    root: Path,
    plugin_name: str,
    folder: Path,
    limits: BuildLimits,
    problems: list[Problem],
    skip_top: frozenset[str] = frozenset(),
) -> Skill | None:
    rel_folder = _rel(root, folder)
    skill_md = folder / "SKILL.md"
    rel_md = f"{rel_folder}/SKILL.md" if rel_folder != "." else "SKILL.md"
    if not skill_md.is_file() or not skill_md.resolve().is_relative_to(root):
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
    if skill_md.stat().st_size > limits.max_skill_md_bytes:
        problems.append(
            Problem(
                rel_md,
                None,
                "skill-md-too-large",
                f"SKILL.md is {skill_md.stat().st_size} bytes (limit {limits.max_skill_md_bytes})",
                "move detail into references/ files that Claude reads on demand",
            )
        )
        return None
    files = _skill_files(root, folder, limits, problems, skip_top)
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
        parsed = _parse(text)
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


def _skill_folders(
    root: Path, folder: Path, manifest: Mapping[str, Any], entry: Mapping[str, Any], problems: list[Problem]
) -> list[Path]:
    """The folders Claude Code loads as this plugin's skills (``layout`` has the rules)."""
    found: list[Path] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        real = path.resolve()
        if real not in seen:
            seen.add(real)
            found.append(path)

    listed = layout.listed_paths(manifest, entry, "skills")
    listed_dirs = {(folder / c).resolve() for c in map(layout.clean_relative, listed) if c}
    shared_root = folder == root
    if not (shared_root and listed):
        skills_dir = folder / "skills"
        if skills_dir.is_dir() and skills_dir.resolve().is_relative_to(root):
            for child in sorted(skills_dir.iterdir()):
                if child.name in IGNORED_NAMES or not child.is_dir():
                    continue
                if not child.resolve().is_relative_to(root):
                    problems.append(_symlink_problem(_rel(root, child), "the real skill folder"))
                elif (child / "SKILL.md").is_file():
                    add(child)
                elif child.resolve() not in listed_dirs:
                    problems.append(
                        Problem(
                            f"{_rel(root, child)}/SKILL.md",
                            None,
                            "skill-md-missing",
                            f"{_rel(root, child)} has no SKILL.md, so Claude Code does not load it",
                            "add a SKILL.md, or list the folder under the plugin's skills "
                            "if it is a container of skill folders",
                            "warning",
                        )
                    )
    if (folder / "SKILL.md").is_file() and not shared_root:
        add(folder)
    for item in listed:
        clean = layout.clean_relative(item)
        where = f"{_rel(root, folder)}: skills path {item!r}"
        path = folder / clean if clean is not None else None
        if path is None or not path.resolve().is_relative_to(root) or not path.is_dir():
            problems.append(
                Problem(
                    MARKETPLACE_JSON,
                    None,
                    "plugin-skills-path",
                    f"{where} is not a folder inside the marketplace",
                    "list folders relative to the plugin, like ./skills/my-skill",
                )
            )
            continue
        if (path / "SKILL.md").is_file():
            add(path)
            continue
        for child in sorted(path.iterdir()):
            if child.is_dir() and (child / "SKILL.md").is_file() and child.resolve().is_relative_to(root):
                add(child)
    return found


def _plugin_files(
    root: Path,
    folder: Path,
    skills: list[Skill],
    manifest: Mapping[str, Any],
    entry: Mapping[str, Any],
    inner_roots: list[Path],
    limits: BuildLimits,
    problems: list[Problem],
) -> list[SkillFile]:
    """What Claude Code caches for this plugin: its whole folder (without .git and .skillport).
    A plugin whose folder holds other plugins (``"source": "./"``) gets only what it loads: its
    plugin.json, its skills and its component files."""
    budget = {"max_files": limits.max_plugin_files, "max_bytes": limits.max_plugin_bytes}
    if folder != root and not inner_roots:
        return _skill_files(
            root,
            folder,
            limits,
            problems,
            layout.NOT_PACKAGED,
            max_files=budget["max_files"],
            max_bytes=budget["max_bytes"],
        )
    out: dict[str, SkillFile] = {}
    prefix = _rel(root, folder)
    for skill in skills:
        base = skill.folder if not prefix or prefix == "." else skill.folder[len(prefix) + 1 :]
        for f in skill.files:
            out[f"{base}/{f.path}"] = SkillFile(f"{base}/{f.path}", f.data, executable=f.executable)
    paths = [PLUGIN_JSON, *layout.DEFAULT_PATHS.values()]
    for key in layout.COMPONENT_KEYS:
        paths += layout.listed_paths(manifest, entry, key)
    for item in paths:
        clean = layout.clean_relative(item)
        if not clean:
            continue
        path = folder / clean
        if path.is_file() and path.resolve().is_relative_to(root):
            out[clean] = SkillFile(clean, path.read_bytes(), executable=bool(path.stat().st_mode & 0o111))
        elif path.is_dir():
            found = _skill_files(
                root, path, limits, problems, max_files=budget["max_files"], max_bytes=budget["max_bytes"]
            )
            for f in found:
                out[f"{clean}/{f.path}"] = SkillFile(f"{clean}/{f.path}", f.data, executable=f.executable)
    return list(out.values())


def _load_plugin(
    root: Path,
    index: int,
    entry: Mapping[str, Any],
    plugin_root: Any,
    all_roots: list[Path],
    limits: BuildLimits,
    problems: list[Problem],
) -> Plugin | None:
    name = entry.get("name")
    source = entry.get("source")
    if not isinstance(name, str) or not isinstance(source, str):
        return None  # external or malformed: passed through or reported by the rules
    rel = layout.relative_source(source, plugin_root)
    if rel is None:
        return None  # reported by the rules (relative sources)
    folder = root / rel if rel else root
    if not folder.resolve().is_relative_to(root) or not folder.is_dir():
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
    folder = folder.resolve()
    pjson = folder / PLUGIN_JSON
    has_manifest = pjson.exists() or pjson.is_symlink()
    manifest = (_read_json(root, pjson, limits, problems) or {}) if has_manifest else {}
    skills: list[Skill] = []
    skip = frozenset({".claude-plugin", *layout.NOT_PACKAGED})
    for skill_folder in _skill_folders(root, folder, manifest, entry, problems):
        skill = _load_skill(
            root, name, skill_folder, limits, problems, skip if skill_folder == folder else frozenset()
        )
        if skill is not None:
            skills.append(skill)
    inner = [r for r in all_roots if r != folder and r.is_relative_to(folder)]
    files = _plugin_files(root, folder, skills, manifest, entry, inner, limits, problems)
    return Plugin(
        name=name,
        source=source,
        folder=_rel(root, folder) if folder != root else ".",
        manifest=manifest,
        entry=entry,
        skills=tuple(skills),
        files=tuple(files),
        components=layout.components({f.path: f.data for f in files}, manifest, entry),
        has_manifest=has_manifest,
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
    token = _READS.set({})
    try:
        return _load(root, limits)
    finally:
        _READS.reset(token)


def _load(root: Path, limits: BuildLimits) -> tuple[Marketplace, list[Problem]]:
    problems: list[Problem] = []
    root = root.resolve()
    manifest = _read_json(root, root / MARKETPLACE_JSON, limits, problems) or {}
    plugins: list[Plugin] = []
    external: list[Mapping[str, Any]] = []
    entries = manifest.get("plugins")
    meta = manifest.get("metadata")
    plugin_root = meta.get("pluginRoot") if isinstance(meta, Mapping) else None
    if isinstance(entries, list):
        entries = [e for e in entries[: limits.max_plugins] if isinstance(e, dict)]
        roots = []
        for e in entries:
            rel = (
                layout.relative_source(e["source"], plugin_root) if isinstance(e.get("source"), str) else None
            )
            if rel is not None:
                roots.append((root / rel).resolve() if rel else root)
        for i, entry in enumerate(entries):
            if layout.is_external(entry.get("source")) and isinstance(entry.get("name"), str):
                external.append(entry)
                continue
            plugin = _load_plugin(root, i, entry, plugin_root, roots, limits, problems)
            if plugin is not None:
                plugins.append(plugin)
    unique: dict[str, Plugin] = {}
    for plugin in plugins:
        unique.setdefault(plugin.name, plugin)  # duplicates are reported by the rules
    access = _load_access(root, limits, problems)
    marketplace = Marketplace(
        root=str(root),
        manifest=manifest,
        plugins=tuple(unique.values()),
        access=access,
        external=tuple(external),
    )
    return marketplace, problems
