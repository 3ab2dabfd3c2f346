"""Every validation rule, as pure functions from the model to a list of ``Problem``s.

Each problem names the file (and line where known), the rule, what is wrong and a one-line fix.
Errors fail the build; warnings never do. Rule ids are stable: tests and docs refer to them. The
ids, severities, messages and fixes are one table (``builder.ruleset``); a check here says only
*when* a rule is broken. Names, paths, archives and upload limits come from ``builder.policy``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from builder import layout
from builder.contract.index import IndexDocument
from builder.limits import DEFAULT_LIMITS, BuildLimits
from builder.load import ACCESS_YAML, MARKETPLACE_JSON, PLUGIN_JSON
from builder.model import (
    CLAUDE_CODE_ONLY_KEYS,
    SPEC_FRONTMATTER_KEYS,
    Marketplace,
    Plugin,
    Problem,
    Skill,
    Version,
)
from builder.policy import (
    MAX_NAME_CHARS,
    NAME_RE,
    PLUGIN_NAME_RE,
    has_reserved_word,
    is_archive,
    rfc_path_problem,
)
from builder.ruleset import problem as _p

EMAIL = re.compile(
    r"^[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$"
)
DOMAIN = re.compile(r"^@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$")
RESERVED_MARKETPLACE_NAMES = frozenset(
    {
        "claude-code-marketplace",
        "claude-code-plugins",
        "claude-plugins-official",
        "anthropic-marketplace",
        "anthropic-plugins",
        "agent-skills",
        "anthropic-agent-skills",
        "life-sciences",
        "knowledge-work-plugins",
        "claude-for-legal",
        "claude-for-financial-services",
        "financial-services-plugins",
        "claude-community",
        "claude-plugins-community",
    }
)
IMPERSONATION = re.compile(
    r"(?:official[^a-z0-9]*(anthropic|claude)|(?:anthropic|claude)[^a-z0-9]*official|"
    r"^(?:anthropic|claude)[^a-z0-9]*(marketplace|plugins|official))",
    re.IGNORECASE,
)
XML_TAG = re.compile(r"<\s*/?\s*[A-Za-z][^<>]*>")
SURFACE_CC = "surface:CC"


# -- marketplace.json ------------------------------------------------------------------------------------


def check_marketplace_manifest(manifest: Mapping[str, Any]) -> list[Problem]:
    if not manifest:
        return []  # unreadable or missing: already reported by the loader
    out: list[Problem] = []
    name = manifest.get("name")
    if not isinstance(name, str) or not name:
        out.append(_p("marketplace-name:missing", MARKETPLACE_JSON))
    elif not NAME_RE.match(name):
        out.append(_p("marketplace-name:not-kebab", MARKETPLACE_JSON, name=name))
    elif name in RESERVED_MARKETPLACE_NAMES or IMPERSONATION.search(name):
        out.append(_p("marketplace-name-reserved", MARKETPLACE_JSON, name=name))
    owner = manifest.get("owner")
    if not isinstance(owner, Mapping) or not isinstance(owner.get("name"), str) or not owner.get("name"):
        out.append(_p("marketplace-owner", MARKETPLACE_JSON))
    plugins = manifest.get("plugins")
    if not isinstance(plugins, list):
        out.append(_p("marketplace-plugins", MARKETPLACE_JSON))
        return out
    meta = manifest.get("metadata")
    plugin_root = meta.get("pluginRoot") if isinstance(meta, Mapping) else None
    seen: dict[str, int] = {}
    for i, entry in enumerate(plugins):
        where = f"plugins[{i}]"
        if not isinstance(entry, Mapping):
            out.append(_p("plugin-entry", MARKETPLACE_JSON, where=where))
            continue
        out += _check_entry(entry, where, i, seen, plugin_root)
    return out


def _check_entry(
    entry: Mapping[str, Any], where: str, i: int, seen: dict[str, int], plugin_root: Any
) -> list[Problem]:
    out: list[Problem] = []
    pname = entry.get("name")
    if not isinstance(pname, str) or not PLUGIN_NAME_RE.match(pname) or len(pname) > MAX_NAME_CHARS:
        out.append(_p("plugin-name", MARKETPLACE_JSON, where=where, name=pname))
    elif not NAME_RE.match(pname):
        out.append(_p("plugin-name-not-kebab", MARKETPLACE_JSON, where=where, name=pname))
    elif pname in seen:
        out.append(_p("plugin-duplicate", MARKETPLACE_JSON, where=where, name=pname, first=seen[pname]))
    else:
        seen[pname] = i
    source = entry.get("source")
    if isinstance(source, str):
        if layout.relative_source(source, plugin_root) is None:
            out.append(_p("plugin-source:outside", MARKETPLACE_JSON, where=where, source=source))
    elif isinstance(source, Mapping):
        if not isinstance(source.get("source"), str):
            out.append(_p("plugin-source:no-kind", MARKETPLACE_JSON, where=where))
    else:
        out.append(_p("plugin-source:missing", MARKETPLACE_JSON, where=where))
    version = entry.get("version")
    if version is not None and not Version.is_valid(version):
        out.append(_p("plugin-version:entry", MARKETPLACE_JSON, where=where, version=version))
    return out


# -- plugin.json -----------------------------------------------------------------------------------------


def check_plugin(plugin: Plugin) -> list[Problem]:
    out: list[Problem] = []
    file = f"{plugin.folder}/{PLUGIN_JSON}" if plugin.has_manifest or plugin.strict else MARKETPLACE_JSON
    mname = plugin.manifest.get("name")
    if plugin.manifest and mname != plugin.name:
        out.append(_p("plugin-json-name", file, found=mname, name=plugin.name))
    own = plugin.manifest.get("version")
    listed = plugin.entry.get("version")
    if own is not None and not Version.is_valid(own):
        out.append(_p("plugin-version:manifest", file, version=own))
    if (
        own is not None
        and listed is not None
        and Version.is_valid(own)
        and Version.is_valid(listed)
        and Version.parse(own) != Version.parse(listed)
    ):
        out.append(_p("plugin-version-mismatch", file, own=own, listed=listed))
    if not plugin.has_manifest and plugin.strict:
        out.append(_p("plugin-json-missing", file, name=plugin.name))
    if plugin.version is None:
        out.append(_p("plugin-version-missing", file, name=plugin.name))
    if not plugin.skills and not plugin.components:
        out.append(_p("plugin-no-skills", file, name=plugin.name))
    return out


# -- SKILL.md --------------------------------------------------------------------------------------------


def _line(skill: Skill, key: str) -> int | None:
    return skill.key_lines.get(key, 1)


def check_skill_name(
    name: Any, folder_name: str, file: str, line: int | None, limits: BuildLimits
) -> list[Problem]:
    if not isinstance(name, str) or not name:
        return [_p("skill-name:missing", file, line, folder=folder_name)]
    out = []
    if len(name) > limits.max_name_chars:
        out.append(_p("skill-name:too-long", file, line, name=name, limit=limits.max_name_chars))
    if not NAME_RE.match(name):
        out.append(_p("skill-name:chars", file, line, name=name))
    if name != folder_name:
        out.append(_p("skill-name-folder", file, line, name=name, folder=folder_name))
    return out


def check_description(value: Any, file: str, line: int | None, limits: BuildLimits) -> list[Problem]:
    if not isinstance(value, str) or not value.strip():
        return [_p("skill-description", file, line)]
    return []


def claude_code_only(skill: Skill, plugin: Plugin, limits: BuildLimits = DEFAULT_LIMITS) -> list[Problem]:
    """What only Claude.ai's upload refuses: each makes the skill *Claude Code only* (a warning, no
    upload zip). A ``surface:CC`` tag on the plugin entry says so on purpose."""
    file = skill.skill_md
    out: list[Problem] = []
    if SURFACE_CC in plugin_tags(plugin):
        out.append(_p("skill-surface-cc", file, plugin=plugin.name))
    name = skill.frontmatter.get("name")
    if any(has_reserved_word(n) for n in {skill.name, name if isinstance(name, str) else ""}):
        out.append(_p("skill-name-reserved-word", file, _line(skill, "name"), name=skill.name))
    description = skill.description
    if len(description) > limits.max_description_chars:
        line = _line(skill, "description")
        out.append(
            _p(
                "skill-description-too-long",
                file,
                line,
                length=len(description),
                limit=limits.max_description_chars,
            )
        )
    if XML_TAG.search(description):
        out.append(_p("skill-description-tags", file, _line(skill, "description")))
    for f in skill.files:
        if f.path != "SKILL.md" and f.path.rsplit("/", 1)[-1] == "SKILL.md":
            out.append(_p("skill-nested-skill-md", f"{skill.folder}/{f.path}"))
        if is_archive(f.path):
            out.append(_p("skill-nested-archive", f"{skill.folder}/{f.path}"))
    if len(skill.files) > limits.max_upload_files or skill.total_bytes > limits.max_upload_bytes:
        out.append(
            _p(
                "skill-too-big-to-upload",
                file,
                files=len(skill.files),
                size=skill.total_bytes,
                max_files=limits.max_upload_files,
                max_bytes=limits.max_upload_bytes,
            )
        )
    return out


def plugin_tags(plugin: Plugin) -> frozenset[str]:
    """The plugin entry's ``tags`` and ``keywords`` (where the seed system puts ``surface:CC``)."""
    out: set[str] = set()
    for source in (plugin.entry, plugin.manifest):
        for key in ("tags", "keywords"):
            value = source.get(key)
            if isinstance(value, list):
                out |= {v for v in value if isinstance(v, str)}
    return frozenset(out)


def check_skill(skill: Skill, plugin: Plugin, limits: BuildLimits = DEFAULT_LIMITS) -> list[Problem]:
    file = skill.skill_md
    fm = skill.frontmatter
    out = check_skill_name(fm.get("name"), skill.name, file, _line(skill, "name"), limits)
    out += check_description(fm.get("description"), file, _line(skill, "description"), limits)
    for key in fm:
        if key not in SPEC_FRONTMATTER_KEYS:
            rule = "skill-claude-code-key" if key in CLAUDE_CODE_ONLY_KEYS else "skill-unknown-key"
            out.append(_p(rule, file, _line(skill, key), key=key))
    license_ = fm.get("license")
    if license_ is not None and not isinstance(license_, str):
        out.append(_p("skill-license", file, _line(skill, "license")))
    compat = fm.get("compatibility")
    if compat is not None and (
        not isinstance(compat, str) or not compat.strip() or len(compat) > limits.max_compatibility_chars
    ):
        out.append(
            _p(
                "skill-compatibility",
                file,
                _line(skill, "compatibility"),
                limit=limits.max_compatibility_chars,
            )
        )
    tools = fm.get("allowed-tools")
    if tools is not None and not isinstance(tools, str):
        out.append(_p("skill-allowed-tools", file, _line(skill, "allowed-tools")))
    out += _check_metadata(skill)
    out += check_file_names(skill)
    out += check_active_content(skill)
    out += claude_code_only(skill, plugin, limits)
    return out


def _check_metadata(skill: Skill) -> list[Problem]:
    meta = skill.frontmatter.get("metadata")
    file, line = skill.skill_md, _line(skill, "metadata")
    if meta is None:
        return []
    if not isinstance(meta, Mapping):
        return [_p("skill-metadata:shape", file, line)]
    out: list[Problem] = []
    for k, v in meta.items():
        if not isinstance(k, str) or not isinstance(v, str):
            rule = "skill-metadata:number" if isinstance(v, int | float | bool) else "skill-metadata:type"
            out.append(_p(rule, file, line, key=k, kind=type(v).__name__, value=v))
    own = meta.get("version")
    if isinstance(own, str) and not Version.is_valid(own):
        out.append(_p("skill-version", file, line, version=own))
    return out


ACTIVE_SUFFIXES = (
    *(".svg", ".svgz", ".html", ".htm", ".xhtml", ".xht", ".shtml"),
    *(".xml", ".xsl", ".xslt", ".mht", ".mhtml"),
)
_ACTIVE = re.compile(
    r"<\s*(script|iframe|frame|object|embed|foreignobject|handler|base)\b"
    r"|[\s\"'/]on[a-z]+\s*="
    r"|(javascript|vbscript)\s*:"
    r"|data\s*:\s*text/html"
    r"|<\s*meta\b[^>]*http-equiv"
    r"|<\?xml-stylesheet",
    re.IGNORECASE,
)


def active_content_problem(path: str, data: bytes) -> str | None:
    """Why a file would run as a page if a browser opened it (SVG/HTML/XHTML/XML with scripts, event
    handlers, ``javascript:`` links, frames), else None (T49)."""
    if not path.lower().endswith(ACTIVE_SUFFIXES):
        return None
    text = data.decode("utf-8", errors="replace")
    found = _ACTIVE.search(text)
    if found is None:
        return None
    return f"contains {found.group(0).strip()[:40]!r}, which a browser would run"


def check_active_content(skill: Skill) -> list[Problem]:
    """SVG, HTML, XHTML and XML files with scripts are refused: shared with colleagues, they would run
    as whoever opens them (T49)."""
    out: list[Problem] = []
    for f in skill.files:
        problem = active_content_problem(f.path, f.data)
        if problem:
            out.append(_p("skill-active-content", f"{skill.folder}/{f.path}", path=f.path, problem=problem))
    return out


def check_file_names(skill: Skill) -> list[Problem]:
    """Each skill file whose path the Agent Skills Discovery RFC (and so the well-known tree) refuses."""
    out: list[Problem] = []
    for f in skill.files:
        problem = rfc_path_problem(f.path)
        if problem:
            out.append(_p("skill-file-name", f"{skill.folder}/{f.path}", path=f.path, problem=problem))
    return out


# -- whole-marketplace rules -----------------------------------------------------------------------------


def name_key(name: str) -> str:
    """What two names must not share: case-folded NFKC form (catches case-only and look-alike twins)."""
    return unicodedata.normalize("NFKC", name).casefold()


def check_unique_names(marketplace: Marketplace) -> list[Problem]:
    """T43: inside one plugin, two skills whose names fold to the same form (case, NFKC) collide. Across
    plugins the same name is two skills (``plugin:skill``, as Claude Code namespaces them); names that
    only look alike across plugins are a warning."""
    out: list[Problem] = []
    seen: dict[str, Skill] = {}
    for skill in marketplace.skills:
        key = name_key(skill.name)
        first = seen.get(key)
        if first is None:
            seen[key] = skill
            continue
        if first.plugin == skill.plugin and first.name == skill.name:
            continue
        same_plugin = first.plugin == skill.plugin
        if not same_plugin and first.name == skill.name:
            continue
        out.append(
            _p(
                "skill-name-collision" if same_plugin else "skill-name-lookalike",
                skill.skill_md,
                _line(skill, "name"),
                name=skill.name,
                plugin=skill.plugin,
                other=first.name,
                folder=first.folder,
                other_plugin=first.plugin,
            )
        )
    return out


def _principals(value: Any, where: str, groups: Mapping[str, Any], allow_groups: bool) -> list[Problem]:
    if not isinstance(value, list):
        return [_p("access-shape:list", ACCESS_YAML, where=where)]
    out: list[Problem] = []
    for item in value:
        if not isinstance(item, str):
            out.append(_p("access-principal:type", ACCESS_YAML, where=where, item=item))
        elif not (
            item == "*"
            or EMAIL.match(item.lower())
            or DOMAIN.match(item.lower())
            or (allow_groups and item in groups)
        ):
            out.append(_p("access-principal:unknown", ACCESS_YAML, where=where, item=item))
    return out


def check_access(access: Mapping[str, Any], plugin_names: Iterable[str]) -> list[Problem]:
    if not access:
        return []
    out = [
        _p("access-shape:key", ACCESS_YAML, key=key)
        for key in sorted(set(access) - {"groups", "default", "plugins"})
    ]
    groups = access.get("groups") or {}
    if not isinstance(groups, Mapping):
        out.append(_p("access-shape:groups", ACCESS_YAML))
        groups = {}
    for gname, members in groups.items():
        out += _principals(members, f"groups.{gname}", groups, allow_groups=False)
    rules: list[tuple[str, Any]] = [("default", access.get("default"))]
    plugins = access.get("plugins") or {}
    if not isinstance(plugins, Mapping):
        out.append(_p("access-shape:plugins", ACCESS_YAML))
        plugins = {}
    known = set(plugin_names)
    for pname, rule in plugins.items():
        if pname not in known:
            out.append(_p("access-unknown-plugin", ACCESS_YAML, name=pname))
        rules.append((f"plugins.{pname}", rule))
    for where, rule in rules:
        if rule is None:
            continue
        if not isinstance(rule, Mapping) or set(rule) - {"read", "edit"}:
            out.append(_p("access-shape:rule", ACCESS_YAML, where=where))
            continue
        for verb in ("read", "edit"):
            if verb in rule:
                out += _principals(rule[verb], f"{where}.{verb}", groups, allow_groups=True)
    return out


def check(marketplace: Marketplace, limits: BuildLimits = DEFAULT_LIMITS) -> list[Problem]:
    """Every rule over a loaded marketplace (load problems are reported by the loader)."""
    out = check_marketplace_manifest(marketplace.manifest)
    total = 0
    for plugin in marketplace.plugins:
        out += check_plugin(plugin)
        for skill in plugin.skills:
            total += 1
            out += check_skill(skill, plugin, limits)
    if total > limits.max_skills:
        out.append(_p("marketplace-too-many-skills", MARKETPLACE_JSON, total=total, limit=limits.max_skills))
    out += check_unique_names(marketplace)
    out += check_access(marketplace.access, (p.name for p in marketplace.plugins))
    return out


def check_plugin_bumps(
    current: Iterable[tuple[Plugin, str, str]], previous_index: IndexDocument | None
) -> list[Problem]:
    """Each ``(plugin, version, digest)`` whose files differ from the previous index's plugin of the
    same name and version: Claude Code would never offer the change (it updates by version)."""
    if not previous_index:
        return []
    out: list[Problem] = []
    for plugin, version, digest in current:
        old = previous_index.plugins_by_name.get(plugin.name)
        if not old or old.version != version or not old.digest or old.digest == digest:
            continue
        file = f"{plugin.folder}/{PLUGIN_JSON}" if plugin.has_manifest else MARKETPLACE_JSON
        out.append(
            _p("plugin-version-not-bumped", file, owner=plugin.name, name=plugin.name, version=version)
        )
    return out


def check_version_bumps(
    current: Iterable[tuple[Skill, str, str, str]], previous_index: IndexDocument | None
) -> list[Problem]:
    """T48: each ``(skill, version, digest)`` whose digest differs from the previous index's entry for
    the same name and version is an error: the content changed without a version bump."""
    if not previous_index:
        return []
    before = previous_index.by_name
    out: list[Problem] = []
    for skill, version, digest, key in current:
        old = before.get(key)
        if old and old.version == version and old.digest != digest:
            out.append(
                _p(
                    "version-not-bumped",
                    skill.skill_md,
                    name=skill.name,
                    version=version,
                    plugin=skill.plugin,
                )
            )
    for skill, version, _, key in current:
        old = before.get(key)
        if old and Version.is_valid(version) and Version.parse(version) < Version.parse(old.version):
            out.append(
                _p(
                    "version-went-backwards",
                    skill.skill_md,
                    name=skill.name,
                    version=version,
                    published=old.version,
                )
            )
    return out
