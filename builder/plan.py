"""What a build will publish, computed purely from the validated model: per-skill and per-plugin
packages (with their reuse keys), the Claude Code marketplace, and the index document.

No file is read or written here; ``build.py`` does the I/O around it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from builder import index, package
from builder.contract.index import (
    AccessSection,
    Component,
    FileRecord,
    HistoryEntry,
    IndexDocument,
    MarketplaceInfo,
    PluginEntry,
    Rule,
    SkillEntry,
    SourceInfo,
    ZipRecord,
)
from builder.contract.reading import LINK_RE
from builder.digest import file_digest, skill_digest
from builder.model import Marketplace, Plugin, Skill, SkillFile, skill_version

PACKAGER_VERSION = "2"
PLUGIN_MANIFEST = ".claude-plugin/plugin.json"


@dataclass(frozen=True)
class Artifact:
    """A file the site will serve, with the key that says when an old copy may be reused."""

    path: str
    key: str


@dataclass(frozen=True)
class SkillPlan:
    skill: Skill
    plugin: Plugin
    version: str
    digest: str  # Agent Skills digest of the files as in the repository
    stamped: tuple[SkillFile, ...]  # files as packaged (SKILL.md carries its origin)
    zip: Artifact | None  # None: Claude Code only (Claude.ai's upload would refuse it)
    key: str = ""  # the index name: the bare skill name, or plugin.skill when several plugins share it

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", self.skill.name)

    @property
    def executable(self) -> frozenset[str]:
        return frozenset(f.path for f in self.skill.files if f.executable)

    def build_zip(self) -> bytes:
        return package.upload_zip(self.skill.name, self.stamped, executable=self.executable)


@dataclass(frozen=True)
class PluginPlan:
    """A plugin archive: every file Claude Code caches for the plugin, byte for byte, except a
    plugin.json whose version differs from the published one (rewritten with that version)."""

    plugin: Plugin
    version: str
    digest: str  # Agent Skills digest of the plugin's files as in the repository
    manifest_bytes: bytes | None
    zip: Artifact

    def files(self) -> tuple[SkillFile, ...]:
        out = [f for f in self.plugin.files if f.path != PLUGIN_MANIFEST]
        if self.manifest_bytes is not None:
            out.append(SkillFile(PLUGIN_MANIFEST, self.manifest_bytes))
        return tuple(out)

    def build_zip(self) -> bytes:
        files = self.files()
        return package.plugin_zip(files, executable={f.path for f in files if f.executable})


def _key(*parts: str) -> str:
    return hashlib.sha256("\0".join((PACKAGER_VERSION, *parts)).encode()).hexdigest()


def plan_skill(
    skill: Skill,
    plugin: Plugin,
    marketplace_name: str,
    *,
    upload: bool = True,
    key: str | None = None,
    stamps: package.StampCache | None = None,
) -> SkillPlan:
    """``upload=False`` for a Claude Code only skill: no upload zip. ``key`` (default: the skill's
    name) names the skill in the index and its paths. ``stamps`` keeps stamped SKILL.md files between
    builds."""
    key = key or skill.name
    version = published_skill_version(skill, plugin)
    digest = skill_digest(skill.files)
    stamped = package.stamp_files(
        skill.files,
        version=version,
        marketplace=marketplace_name,
        plugin=plugin.name,
        name=skill.name,
        cache=stamps,
    )
    cache_key = _key(
        "skill",
        skill.name,
        digest,
        version,
        marketplace_name,
        plugin.name,
        ",".join(sorted(f.path for f in skill.files if f.executable)),
    )
    return SkillPlan(
        skill,
        plugin,
        version,
        digest,
        stamped,
        Artifact(f"skills/{key}/{key}-{version}.zip", cache_key) if upload else None,
        key,
    )


def plugin_version(plugin: Plugin) -> tuple[str, str]:
    """``(published version, content digest)`` of a plugin: an unversioned plugin's version is
    derived from its content (``0.0.0+<12 hex>``), so it moves exactly when its files do."""
    digest = skill_digest(plugin.files)
    return plugin.version or f"0.0.0+{digest.removeprefix('sha256:')[:12]}", digest


def published_skill_version(skill: Skill, plugin: Plugin) -> str:
    """A skill's version: its own ``metadata.version``, else its plugin's (derived from the plugin's
    content when the plugin sets none)."""
    return skill_version(skill, plugin) or plugin_version(plugin)[0]


def plan_plugin(plugin: Plugin, skill_plans: list[SkillPlan]) -> PluginPlan:
    version, digest = plugin_version(plugin)
    original = next((f for f in plugin.files if f.path == PLUGIN_MANIFEST), None)
    manifest_bytes: bytes | None = original.data if original else None
    if original is not None and plugin.manifest.get("version") != version:
        manifest = {**plugin.manifest, "version": version}
        manifest_bytes = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
    key = _key(
        "plugin",
        plugin.name,
        version,
        digest,
        hashlib.sha256(manifest_bytes or b"").hexdigest(),
        ",".join(f.path for f in plugin.files if f.executable),
    )
    return PluginPlan(
        plugin, version, digest, manifest_bytes, Artifact(f"plugins/{plugin.name}-{version}.zip", key)
    )


def _tags(skill: Skill, plugin: Plugin) -> list[str]:
    own = skill.metadata.get("tags")
    if own:
        return sorted({t.strip().lower() for t in own.split(",") if t.strip()})
    return sorted({t.lower() for t in plugin.keywords})


def absolute(base_url: str | None, path: str) -> str:
    return f"{base_url.rstrip('/')}/{path}" if base_url else path


def claude_code_marketplace(
    marketplace: Marketplace,
    plugins: list[PluginPlan],
    zips: Mapping[str, tuple[str, int]],
    base_url: str | None,
) -> dict[str, Any]:
    """The marketplace Claude Code reads when added by URL: every local plugin as an ``archive``
    source, its entry otherwise kept whole (``strict``, ``skills``, ``commands``, ``hooks``,
    ``mcpServers`` … keep their meaning: the archive has the plugin folder's layout); external
    entries (github, url, git-subdir, npm) passed through unchanged."""
    entries: list[dict[str, Any]] = []
    for plan in plugins:
        sha, _size = zips[plan.zip.path]
        entry: dict[str, Any] = {k: v for k, v in plan.plugin.entry.items() if k != "source"}
        entry.update(
            {
                "name": plan.plugin.name,
                "version": plan.version,
                "description": plan.plugin.description,
                "source": {"source": "archive", "url": absolute(base_url, plan.zip.path), "sha256": sha},
            }
        )
        if plan.plugin.category:
            entry["category"] = plan.plugin.category
        if plan.plugin.keywords:
            entry["keywords"] = list(plan.plugin.keywords)
        entries.append(entry)
    entries += [dict(e) for e in marketplace.external]
    entries.sort(key=lambda e: str(e.get("name")))
    doc: dict[str, Any] = {
        "name": marketplace.name,
        "owner": dict(marketplace.manifest.get("owner") or {}),
        "plugins": entries,
    }
    if isinstance(marketplace.manifest.get("metadata"), Mapping):
        doc["metadata"] = dict(marketplace.manifest["metadata"])
    return doc


def _url(value: Any) -> str | None:
    """A repository / homepage link for the catalog pages: an http(s) URL, else nothing."""
    if isinstance(value, Mapping):  # npm-style {"type": "git", "url": "…"}
        value = value.get("url")
    return value if isinstance(value, str) and LINK_RE.match(value) else None


def external_plugin_doc(entry: Mapping[str, Any]) -> PluginEntry:
    """An external plugin as the index lists it: Claude Code fetches it from its own source."""

    def text(key: str) -> str | None:
        value = entry.get(key)
        return value if isinstance(value, str) else None

    author = entry.get("author")
    raw_keywords = entry.get("keywords")
    keywords: list[Any] = raw_keywords if isinstance(raw_keywords, list) else []
    return PluginEntry(
        name=entry["name"],
        version=text("version"),
        description=text("description") or "",
        author=author.get("name") if isinstance(author, Mapping) else text("author"),
        category=text("category"),
        tags=tuple(sorted({str(t).lower() for t in keywords if isinstance(t, str)})),
        skills=(),
        repository=_url(entry.get("repository")) or _url(entry.get("homepage")),
        source=dict(entry["source"]),
        strict=entry.get("strict") is not False,
        external=True,
        digest=None,
        components=(),
        zip=None,
    )


def normalized_access(access: Mapping[str, Any]) -> AccessSection:
    """The access rules as the index carries them, each plugin's rule complete (a verb it leaves out
    comes from ``default``); without a file everyone reads and nobody edits."""

    def principals(value: Any) -> tuple[str, ...]:
        return tuple(str(v) for v in value) if isinstance(value, list) else ()

    default = access.get("default") if isinstance(access.get("default"), Mapping) else {}
    plugins = access.get("plugins") if isinstance(access.get("plugins"), Mapping) else {}
    groups = access.get("groups") if isinstance(access.get("groups"), Mapping) else {}
    assert isinstance(default, Mapping) and isinstance(plugins, Mapping) and isinstance(groups, Mapping)
    fallback = Rule(principals(default.get("read", ["*"])), principals(default.get("edit", [])))
    return AccessSection(
        groups={str(g): principals(m) for g, m in sorted(groups.items())},
        default=fallback,
        plugins={
            str(p): Rule(
                principals(r["read"]) if "read" in r else fallback.read,
                principals(r["edit"]) if "edit" in r else fallback.edit,
            )
            for p, r in sorted(plugins.items())
            if isinstance(r, Mapping)
        },
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def index_document(
    marketplace: Marketplace,
    skills: list[SkillPlan],
    plugins: list[PluginPlan],
    zips: Mapping[str, tuple[str, int]],
    *,
    now: datetime,
    serial: int,
    lifetime: timedelta,
    base_url: str | None,
    source_path: str | None,
    histories: Mapping[str, tuple[Mapping[str, str], ...]],
    previous: IndexDocument | None,
    repository: str | None = None,
) -> IndexDocument:
    """The catalog index of ``docs/site-layout.md`` (pure; ``zips`` maps path -> (sha256, size);
    ``repository`` is the checkout's remote as a link, used when the marketplace names none)."""
    before = previous.by_name if previous else {}
    stamp = index.format_time(now)

    def zip_record(artifact: Artifact) -> ZipRecord:
        sha, size = zips[artifact.path]
        return ZipRecord(artifact.path, sha, size, artifact.key)

    skill_docs = []
    for plan in skills:
        s, p = plan.skill, plan.plugin
        history = histories.get(plan.key, ())
        old = before.get(plan.key)
        if history:
            updated: str | None = index.format_time(datetime.fromisoformat(history[0]["time"]))
        elif old and old.version == plan.version and old.updated_at is not None:
            updated = old.updated_at
        else:
            updated = stamp
        fm = s.frontmatter
        skill_docs.append(
            SkillEntry(
                name=plan.key,
                id=f"{p.name}:{s.name}",
                skill=s.name,
                plugin=p.name,
                version=plan.version,
                description=s.description,
                license=fm["license"] if isinstance(fm.get("license"), str) else _text(p.value_of("license")),
                compatibility=_text(fm.get("compatibility")),
                allowed_tools=_text(fm.get("allowed-tools")),
                tags=tuple(_tags(s, p)),
                category=p.category,
                author=s.metadata.get("author") or p.author_name,
                digest=plan.digest,
                files=tuple(FileRecord(f.path, f.size, file_digest(f.data)) for f in s.files),
                surface="all" if plan.zip else "claude-code",
                zip=zip_record(plan.zip) if plan.zip else None,
                updated_at=updated,
                history=tuple(
                    HistoryEntry(h["version"], h["date"], h["commit"], h["subject"]) for h in history
                ),
            )
        )
    plugin_docs = []
    for pplan in plugins:
        pl = pplan.plugin
        plugin_docs.append(
            PluginEntry(
                name=pl.name,
                version=pplan.version,
                description=pl.description,
                author=pl.author_name,
                category=pl.category,
                tags=tuple(sorted({t.lower() for t in pl.keywords})),
                skills=tuple(sp.key for sp in skills if sp.plugin.name == pl.name),
                source=pl.source,
                repository=_url(pl.value_of("repository")) or _url(pl.value_of("homepage")),
                strict=pl.strict,
                external=False,
                digest=pplan.digest,
                components=tuple(Component(c.kind, c.name, c.description, c.path) for c in pl.components),
                zip=zip_record(pplan.zip),
            )
        )
    for entry in marketplace.external:
        plugin_docs.append(external_plugin_doc(entry))
    manifest = marketplace.manifest
    meta = manifest.get("metadata") if isinstance(manifest.get("metadata"), Mapping) else {}
    assert isinstance(meta, Mapping)
    return IndexDocument(
        serial=serial,
        generated_at=stamp,
        expires_at=index.format_time(now + lifetime),
        base_url=base_url,
        source=SourceInfo(marketplace.commit, source_path),
        marketplace=MarketplaceInfo(
            name=marketplace.name,
            owner=dict(manifest.get("owner") or {}),
            description=_text(meta.get("description")) or _text(manifest.get("description")) or "",
            repository=_url(meta.get("repository")) or _url(manifest.get("repository")) or repository,
        ),
        access=normalized_access(marketplace.access),
        plugins=tuple(sorted(plugin_docs, key=lambda d: d.name)),
        skills=tuple(sorted(skill_docs, key=lambda d: d.name)),
    )
