"""Immutable records of a marketplace: what the loader produces and every later stage reads.

Constructors check the invariants that make a record meaningful (types, shapes); the marketplace
*rules* (naming, limits, consistency) live in ``rules.py`` so that validation can report every
problem at once instead of stopping at the first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import semver

from builder.layout import Component

Severity = Literal["error", "warning"]

SPEC_FRONTMATTER_KEYS = frozenset(
    {"name", "description", "license", "compatibility", "metadata", "allowed-tools"}
)
# Keys Claude Code defines in SKILL.md (its documentation, and its 2.1.x schema as observed): not
# errors; dropped from the upload zip, whose frontmatter keeps only the spec's keys.
CLAUDE_CODE_ONLY_KEYS = frozenset(
    {
        "disable-model-invocation",
        "user-invocable",
        "argument-hint",
        "model",
        "version",
        "when_to_use",
        "paths",
        "hooks",
        "context",
        "agent",
        "effort",
        "shell",
        "arguments",
    }
)


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the input: where, which rule, and the one-line fix."""

    file: str
    line: int | None
    rule: str
    message: str
    fix: str
    severity: Severity = "error"
    plugin: str | None = None  # the plugin the problem belongs to, when the file does not say

    def __post_init__(self) -> None:
        if self.severity not in ("error", "warning"):
            raise ValueError(f"severity must be 'error' or 'warning', not {self.severity!r}")
        if not self.rule or not self.message:
            raise ValueError("a Problem needs a rule and a message")

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def format(self) -> str:
        return f"{self.location()}: {self.severity}: [{self.rule}] {self.message} (fix: {self.fix})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "fix": self.fix,
        }


@dataclass(frozen=True, order=False)
class Version:
    """A SemVer 2.0 version; pre-releases sort below their release."""

    text: str
    _parsed: semver.Version = field(repr=False, compare=False)

    @classmethod
    def parse(cls, text: str) -> Version:
        if not isinstance(text, str):
            raise ValueError(f"a version must be a string like '1.2.3', not {type(text).__name__}")
        try:
            parsed = semver.Version.parse(text.strip())
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{text!r} is not a SemVer version like '1.2.3' or '2.0.0-rc.1'") from exc
        return cls(str(parsed), parsed)

    @staticmethod
    def is_valid(text: object) -> bool:
        return isinstance(text, str) and semver.Version.is_valid(text.strip())

    def bump(self, part: Literal["patch", "minor", "major", "prerelease", "release"]) -> Version:
        """Next version. Bumping a pre-release's part finalizes it as SemVer expects:
        1.2.0-rc.1 + patch/minor -> 1.2.0 when that part is already the release's; + major
        follows the same logic."""
        v = self._parsed
        if part == "release":
            return Version.parse(str(v.finalize_version()))
        if part == "prerelease":
            # 1.2.3-rc.1 -> 1.2.3-rc.2; a release starts the next patch's pre-releases: 1.2.3 -> 1.2.4-rc.1
            base = v if v.prerelease else v.bump_patch()
            return Version.parse(str(base.bump_prerelease()))
        if v.prerelease:
            final = v.finalize_version()
            if (
                part == "patch"
                or (part == "minor" and v.patch == 0)
                or (part == "major" and v.patch == 0 and v.minor == 0)
            ):
                return Version.parse(str(final))
        if part == "patch":
            return Version.parse(str(v.bump_patch()))
        if part == "minor":
            return Version.parse(str(v.bump_minor()))
        if part == "major":
            return Version.parse(str(v.bump_major()))
        raise ValueError(f"unknown version part {part!r}: use patch, minor or major")

    def __str__(self) -> str:
        return self.text

    def _key(self) -> semver.Version:
        return self._parsed.replace(build=None)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(str(self._key()))

    def __lt__(self, other: Version) -> bool:
        return self._key() < other._key()

    def __le__(self, other: Version) -> bool:
        return self._key() <= other._key()

    def __gt__(self, other: Version) -> bool:
        return self._key() > other._key()

    def __ge__(self, other: Version) -> bool:
        return self._key() >= other._key()


@dataclass(frozen=True)
class SkillFile:
    """One regular file of a skill: POSIX path relative to the skill folder, and its bytes."""

    path: str
    data: bytes = field(repr=False)
    sha256: str = ""
    executable: bool = False

    def __post_init__(self) -> None:
        if not self.path or self.path.startswith("/") or "\\" in self.path or "\0" in self.path:
            raise ValueError(f"skill file path {self.path!r} must be a relative POSIX path")
        if any(part in ("", ".", "..") for part in self.path.split("/")):
            raise ValueError(f"skill file path {self.path!r} must not contain '.', '..' or empty parts")
        if not self.sha256:
            object.__setattr__(self, "sha256", hashlib.sha256(self.data).hexdigest())

    @property
    def size(self) -> int:
        return len(self.data)


def _frozen_mapping(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


@dataclass(frozen=True)
class Skill:
    """A skill folder as found in the repository.

    ``frontmatter`` is the parsed mapping exactly as written (validated by the rules);
    ``key_lines`` maps each frontmatter key to its 1-based line in SKILL.md.
    ``folder`` is the folder's path relative to the marketplace root (POSIX)."""

    name: str
    plugin: str
    folder: str
    frontmatter: Mapping[str, Any]
    body: str
    files: tuple[SkillFile, ...]
    key_lines: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "frontmatter", _frozen_mapping(self.frontmatter))
        object.__setattr__(self, "key_lines", _frozen_mapping(self.key_lines))
        object.__setattr__(self, "files", tuple(sorted(self.files, key=lambda f: f.path)))
        paths = [f.path for f in self.files]
        if len(set(paths)) != len(paths):
            raise ValueError(f"skill {self.name!r} lists a file twice")

    @property
    def skill_md(self) -> str:
        return f"{self.folder}/SKILL.md"

    @property
    def description(self) -> str:
        value = self.frontmatter.get("description")
        return value if isinstance(value, str) else ""

    @property
    def metadata(self) -> Mapping[str, str]:
        value = self.frontmatter.get("metadata")
        if not isinstance(value, Mapping):
            return {}
        return {str(k): str(v) for k, v in value.items()}

    @property
    def own_version(self) -> str | None:
        """``metadata.version`` when the skill sets one."""
        value = self.metadata.get("version")
        return value or None

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


@dataclass(frozen=True)
class Plugin:
    """A plugin: its marketplace entry merged with its plugin.json, plus its skills."""

    name: str
    source: str
    folder: str
    manifest: Mapping[str, Any]
    entry: Mapping[str, Any]
    skills: tuple[Skill, ...] = ()
    files: tuple[SkillFile, ...] = ()  # what Claude Code caches: paths relative to the plugin folder
    components: tuple[Component, ...] = ()  # commands, agents, hooks, MCP/LSP servers, output styles
    has_manifest: bool = True  # a .claude-plugin/plugin.json exists

    def __post_init__(self) -> None:
        object.__setattr__(self, "manifest", _frozen_mapping(self.manifest))
        object.__setattr__(self, "entry", _frozen_mapping(self.entry))
        object.__setattr__(self, "skills", tuple(sorted(self.skills, key=lambda s: s.name)))
        object.__setattr__(self, "files", tuple(sorted(self.files, key=lambda f: f.path)))

    @property
    def strict(self) -> bool:
        """``strict: false`` makes the marketplace entry the whole manifest (plugin.json optional)."""
        return self.entry.get("strict") is not False

    def value_of(self, key: str) -> Any:
        """A plugin field: plugin.json wins over the marketplace entry."""
        if key in self.manifest:
            return self.manifest[key]
        return self.entry.get(key)

    @property
    def version(self) -> str | None:
        value = self.value_of("version")
        return value if isinstance(value, str) else None

    @property
    def description(self) -> str:
        value = self.value_of("description")
        return value if isinstance(value, str) else ""

    @property
    def author_name(self) -> str | None:
        author = self.value_of("author")
        if isinstance(author, Mapping) and isinstance(author.get("name"), str):
            return str(author["name"])
        return author if isinstance(author, str) else None

    @property
    def keywords(self) -> tuple[str, ...]:
        value = self.value_of("keywords")
        if value is None:
            value = self.value_of("tags")
        if isinstance(value, list):
            return tuple(str(v) for v in value if isinstance(v, str))
        return ()

    @property
    def category(self) -> str | None:
        value = self.value_of("category")
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Marketplace:
    """The whole input tree. ``manifest`` is marketplace.json as parsed; ``access`` is the parsed
    ``.skillport/access.yaml`` (empty when absent); ``commit`` is the Git HEAD when the root is a
    checkout."""

    root: str
    manifest: Mapping[str, Any]
    plugins: tuple[Plugin, ...]
    access: Mapping[str, Any] = field(default_factory=dict)
    commit: str | None = None
    history: Mapping[str, tuple[Mapping[str, str], ...]] = field(default_factory=dict)
    external: tuple[Mapping[str, Any], ...] = ()  # entries with github/url/git-subdir/npm sources

    def __post_init__(self) -> None:
        object.__setattr__(self, "external", tuple(_frozen_mapping(e) for e in self.external))
        object.__setattr__(self, "manifest", _frozen_mapping(self.manifest))
        object.__setattr__(self, "access", _frozen_mapping(self.access))
        object.__setattr__(self, "history", _frozen_mapping(self.history))
        object.__setattr__(self, "plugins", tuple(sorted(self.plugins, key=lambda p: p.name)))

    @property
    def name(self) -> str:
        value = self.manifest.get("name")
        return value if isinstance(value, str) else ""

    @property
    def skills(self) -> tuple[Skill, ...]:
        return tuple(s for p in self.plugins for s in p.skills)

    def plugin(self, name: str) -> Plugin | None:
        return next((p for p in self.plugins if p.name == name), None)


def skill_keys(plugins: tuple[Plugin, ...] | list[Plugin]) -> dict[tuple[str, str], str]:
    """``(plugin, skill) -> key``: the name the index, URLs and download paths use for a skill. A skill
    is ``plugin:skill`` (as Claude Code namespaces it); its key is its bare name when no other plugin
    has a skill of that name, else ``plugin.skill`` (a dot never appears in a skill name, so the two
    forms cannot collide)."""
    counts: dict[str, int] = {}
    for p in plugins:
        for s in p.skills:
            counts[s.name] = counts.get(s.name, 0) + 1
    return {
        (p.name, s.name): s.name if counts[s.name] == 1 else f"{p.name}.{s.name}"
        for p in plugins
        for s in p.skills
    }


def bare_skill_name(ref: str) -> str:
    """The skill folder name in a reference: ``plugin:skill``, ``plugin.skill`` or ``skill``."""
    return ref.replace(":", ".").rsplit(".", 1)[-1]


def skill_version(skill: Skill, plugin: Plugin) -> str | None:
    """A skill's version: its own ``metadata.version`` if set, else its plugin's."""
    return skill.own_version or plugin.version
