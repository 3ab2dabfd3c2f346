"""Every validation rule, as pure functions from the model to a list of ``Problem``s.

Each problem names the file (and line where known), the rule, what is wrong and a one-line fix.
Errors fail the build; warnings never do. Rule ids are stable: tests and docs refer to them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from builder import layout
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
from builder.policy import NAME_RE, PLUGIN_NAME_RE, has_reserved_word, is_archive, rfc_path_problem

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


def _p(file: str, line: int | None, rule: str, message: str, fix: str, severity: str = "error") -> Problem:
    return Problem(file, line, rule, message, fix, "warning" if severity == "warning" else "error")


# -- marketplace.json ------------------------------------------------------------------------------------


def check_marketplace_manifest(manifest: Mapping[str, Any]) -> list[Problem]:
    if not manifest:
        return []  # unreadable or missing: already reported by the loader
    out: list[Problem] = []
    name = manifest.get("name")
    if not isinstance(name, str) or not name:
        out.append(
            _p(
                MARKETPLACE_JSON,
                None,
                "marketplace-name",
                'marketplace.json has no "name"',
                'add "name": "your-org-skills" (kebab-case)',
            )
        )
    elif not NAME_RE.match(name):
        out.append(
            _p(
                MARKETPLACE_JSON,
                None,
                "marketplace-name",
                f"marketplace name {name!r} is not kebab-case",
                "use lowercase letters, digits and single hyphens, e.g. acme-skills",
            )
        )
    elif name in RESERVED_MARKETPLACE_NAMES or IMPERSONATION.search(name):
        out.append(
            _p(
                MARKETPLACE_JSON,
                None,
                "marketplace-name-reserved",
                f"marketplace name {name!r} is reserved by Anthropic (Claude Code refuses to add it)",
                "choose a name that names your organization, e.g. acme-skills",
            )
        )
    owner = manifest.get("owner")
    if not isinstance(owner, Mapping) or not isinstance(owner.get("name"), str) or not owner.get("name"):
        out.append(
            _p(
                MARKETPLACE_JSON,
                None,
                "marketplace-owner",
                "marketplace.json has no owner.name",
                'add "owner": {"name": "Platform Team", "email": "platform@example.com"}',
            )
        )
    plugins = manifest.get("plugins")
    if not isinstance(plugins, list):
        out.append(
            _p(
                MARKETPLACE_JSON,
                None,
                "marketplace-plugins",
                'marketplace.json has no "plugins" list',
                'add "plugins": [ … ] with one entry per plugin',
            )
        )
        return out
    meta = manifest.get("metadata")
    plugin_root = meta.get("pluginRoot") if isinstance(meta, Mapping) else None
    seen: dict[str, int] = {}
    for i, entry in enumerate(plugins):
        where = f"plugins[{i}]"
        if not isinstance(entry, Mapping):
            out.append(
                _p(
                    MARKETPLACE_JSON,
                    None,
                    "plugin-entry",
                    f"{where} is not an object",
                    'write {"name": "…", "source": "./plugins/…"}',
                )
            )
            continue
        pname = entry.get("name")
        if not isinstance(pname, str) or not PLUGIN_NAME_RE.match(pname) or len(pname) > 64:
            out.append(
                _p(
                    MARKETPLACE_JSON,
                    None,
                    "plugin-name",
                    f"{where} name {pname!r} is not a name Skillport can publish (letters, digits, '.', '_', "
                    "'-', at most 64, not starting with a dot)",
                    "use lowercase letters, digits and single hyphens",
                )
            )
        elif not NAME_RE.match(pname):
            out.append(
                _p(
                    MARKETPLACE_JSON,
                    None,
                    "plugin-name-not-kebab",
                    f"{where} name {pname!r} is not kebab-case (Claude Code installs it; the spec asks for "
                    "kebab-case)",
                    "use lowercase letters, digits and single hyphens",
                    "warning",
                )
            )
        elif pname in seen:
            out.append(
                _p(
                    MARKETPLACE_JSON,
                    None,
                    "plugin-duplicate",
                    f"{where} repeats plugin name {pname!r} (also plugins[{seen[pname]}])",
                    "give each plugin a unique name",
                )
            )
        else:
            seen[pname] = i
        source = entry.get("source")
        if isinstance(source, str):
            if layout.relative_source(source, plugin_root) is None:
                out.append(
                    _p(
                        MARKETPLACE_JSON,
                        None,
                        "plugin-source",
                        f"{where} source {source!r} must be a relative path inside the repository (no ..)",
                        'use "./plugins/<plugin-name>"',
                    )
                )
        elif isinstance(source, Mapping):
            if not isinstance(source.get("source"), str):
                out.append(
                    _p(
                        MARKETPLACE_JSON,
                        None,
                        "plugin-source",
                        f'{where} source object has no "source" kind',
                        'write e.g. {"source": "github", "repo": "owner/repo"}',
                    )
                )
        else:
            out.append(
                _p(
                    MARKETPLACE_JSON,
                    None,
                    "plugin-source",
                    f"{where} has no source",
                    'add "source": "./plugins/<plugin-name>"',
                )
            )
        version = entry.get("version")
        if version is not None and not Version.is_valid(version):
            out.append(
                _p(
                    MARKETPLACE_JSON,
                    None,
                    "plugin-version",
                    f"{where} version {version!r} is not SemVer",
                    'use a version like "1.2.0"',
                )
            )
    return out


# -- plugin.json -----------------------------------------------------------------------------------------


def check_plugin(plugin: Plugin) -> list[Problem]:
    out: list[Problem] = []
    file = f"{plugin.folder}/{PLUGIN_JSON}" if plugin.has_manifest or plugin.strict else MARKETPLACE_JSON
    mname = plugin.manifest.get("name")
    if plugin.manifest and mname != plugin.name:
        out.append(
            _p(
                file,
                None,
                "plugin-json-name",
                f"plugin.json name {mname!r} differs from the marketplace entry {plugin.name!r}",
                f'set "name": "{plugin.name}" in plugin.json',
            )
        )
    own = plugin.manifest.get("version")
    listed = plugin.entry.get("version")
    if own is not None and not Version.is_valid(own):
        out.append(
            _p(
                file,
                None,
                "plugin-version",
                f"plugin.json version {own!r} is not SemVer",
                'use a version like "1.2.0"',
            )
        )
    if (
        own is not None
        and listed is not None
        and Version.is_valid(own)
        and Version.is_valid(listed)
        and Version.parse(own) != Version.parse(listed)
    ):
        out.append(
            _p(
                file,
                None,
                "plugin-version-mismatch",
                f"plugin.json says {own}, the marketplace entry says {listed}; plugin.json wins",
                "keep the version in plugin.json only",
                "warning",
            )
        )
    if not plugin.has_manifest and plugin.strict:
        out.append(
            _p(
                file,
                None,
                "plugin-json-missing",
                f'plugin {plugin.name} has no plugin.json and its entry is not "strict": false',
                'add .claude-plugin/plugin.json, or set "strict": false in its marketplace entry',
                "warning",
            )
        )
    if plugin.version is None:
        out.append(
            _p(
                file,
                None,
                "plugin-version-missing",
                f"plugin {plugin.name} has no version; it is published as 0.0.0+<content hash>",
                'add "version": "1.0.0" to plugin.json (or the marketplace entry)',
                "warning",
            )
        )
    if not plugin.skills and not plugin.components:
        out.append(
            _p(
                file,
                None,
                "plugin-no-skills",
                f"plugin {plugin.name} has no skills and no other components",
                "add a skill or remove the plugin",
                "warning",
            )
        )
    return out


# -- SKILL.md --------------------------------------------------------------------------------------------


def _line(skill: Skill, key: str) -> int | None:
    return skill.key_lines.get(key, 1)


def check_skill_name(
    name: Any, folder_name: str, file: str, line: int | None, limits: BuildLimits
) -> list[Problem]:
    if not isinstance(name, str) or not name:
        return [
            _p(
                file,
                line,
                "skill-name",
                "frontmatter name is missing or not a string",
                f"add `name: {folder_name}`",
            )
        ]
    out = []
    if len(name) > limits.max_name_chars:
        out.append(
            _p(
                file,
                line,
                "skill-name",
                f"name {name!r} is longer than {limits.max_name_chars} characters",
                "shorten the name (and the folder)",
            )
        )
    if not NAME_RE.match(name):
        out.append(
            _p(
                file,
                line,
                "skill-name",
                f"name {name!r} must use only a-z, 0-9 and single hyphens, not at the start or end",
                "rename the skill, e.g. meeting-notes",
            )
        )
    if name != folder_name:
        out.append(
            _p(
                file,
                line,
                "skill-name-folder",
                f"name {name!r} differs from its folder {folder_name!r}; Claude Code names the skill "
                f"{folder_name!r} and so does the upload zip",
                "make the folder name and the frontmatter name the same",
                "warning",
            )
        )
    return out


def check_description(value: Any, file: str, line: int | None, limits: BuildLimits) -> list[Problem]:
    if not isinstance(value, str) or not value.strip():
        return [
            _p(
                file,
                line,
                "skill-description",
                "description is missing or empty",
                "add a description saying what the skill does and when Claude should use it",
            )
        ]
    return []


def claude_code_only(skill: Skill, plugin: Plugin, limits: BuildLimits = DEFAULT_LIMITS) -> list[Problem]:
    """What only Claude.ai's upload refuses: each makes the skill *Claude Code only* (a warning, no
    upload zip). A ``surface:CC`` tag on the plugin entry says so on purpose."""
    file = skill.skill_md
    out: list[Problem] = []

    def only(rule: str, line: int | None, message: str, fix: str, where: str = file) -> None:
        out.append(_p(where, line, rule, f"{message}: Claude Code only, no upload zip", fix, "warning"))

    if SURFACE_CC in plugin_tags(plugin):
        only(
            "skill-surface-cc",
            None,
            f"plugin {plugin.name} is tagged surface:CC",
            "remove the tag to publish it everywhere",
        )
    name = skill.frontmatter.get("name")
    names = {skill.name, name if isinstance(name, str) else ""}
    if any(has_reserved_word(n) for n in names):
        only(
            "skill-name-reserved-word",
            _line(skill, "name"),
            f"name {skill.name!r} contains 'claude' or 'anthropic', which Claude.ai upload rejects",
            "choose a name without those words to publish it on every surface",
        )
    description = skill.description
    if len(description) > limits.max_description_chars:
        only(
            "skill-description-too-long",
            _line(skill, "description"),
            f"description is {len(description)} characters (upload accepts {limits.max_description_chars})",
            "shorten it; put detail in the SKILL.md body",
        )
    if XML_TAG.search(description):
        only(
            "skill-description-tags",
            _line(skill, "description"),
            "description contains an XML-like tag, which Claude.ai upload rejects",
            "reword without <tags>",
        )
    for f in skill.files:
        if f.path != "SKILL.md" and f.path.rsplit("/", 1)[-1] == "SKILL.md":
            only(
                "skill-nested-skill-md",
                None,
                "a second SKILL.md inside the skill (Claude.ai upload accepts exactly one)",
                "rename the nested file or move it into its own skill",
                f"{skill.folder}/{f.path}",
            )
        if is_archive(f.path):
            only(
                "skill-nested-archive",
                None,
                "an archive inside the skill (Claude.ai upload rejects nested archives)",
                "unpack the files into the skill folder instead",
                f"{skill.folder}/{f.path}",
            )
    if len(skill.files) > limits.max_upload_files or skill.total_bytes > limits.max_upload_bytes:
        only(
            "skill-too-big-to-upload",
            None,
            f"{len(skill.files)} files, {skill.total_bytes} bytes (upload accepts {limits.max_upload_files} "
            f"files, {limits.max_upload_bytes} bytes)",
            "remove large or many files to publish it on every surface",
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
        if key in SPEC_FRONTMATTER_KEYS:
            continue
        if key in CLAUDE_CODE_ONLY_KEYS:
            out.append(
                _p(
                    file,
                    _line(skill, key),
                    "skill-claude-code-key",
                    f"`{key}` is a Claude Code-only key; Claude.ai upload rejects it",
                    "it is dropped from the upload zip; remove it if the skill is meant for every surface",
                    "warning",
                )
            )
        else:
            out.append(
                _p(
                    file,
                    _line(skill, key),
                    "skill-unknown-key",
                    f"`{key}` is not an Agent Skills frontmatter key; it is dropped from the upload zip",
                    "keep only name, description, license, compatibility, metadata, allowed-tools "
                    "(put custom data under metadata)",
                    "warning",
                )
            )
    license_ = fm.get("license")
    if license_ is not None and not isinstance(license_, str):
        out.append(
            _p(
                file,
                _line(skill, "license"),
                "skill-license",
                "license must be a string",
                "write e.g. `license: Apache-2.0`",
            )
        )
    compat = fm.get("compatibility")
    if compat is not None and (
        not isinstance(compat, str) or not compat.strip() or len(compat) > limits.max_compatibility_chars
    ):
        out.append(
            _p(
                file,
                _line(skill, "compatibility"),
                "skill-compatibility",
                "compatibility must be a non-empty string of at most "
                f"{limits.max_compatibility_chars} characters",
                "shorten it or remove it",
            )
        )
    tools = fm.get("allowed-tools")
    if tools is not None and not isinstance(tools, str):
        out.append(
            _p(
                file,
                _line(skill, "allowed-tools"),
                "skill-allowed-tools",
                "allowed-tools is not a space-separated string; the upload zip carries it as one",
                "write e.g. `allowed-tools: Bash Read`",
                "warning",
            )
        )
    meta = fm.get("metadata")
    if meta is not None:
        if not isinstance(meta, Mapping):
            out.append(
                _p(
                    file,
                    _line(skill, "metadata"),
                    "skill-metadata",
                    "metadata must be a mapping",
                    'write metadata as `key: "value"` lines indented under `metadata:`',
                )
            )
        else:
            for k, v in meta.items():
                if not isinstance(k, str) or not isinstance(v, str):
                    out.append(
                        _p(
                            file,
                            _line(skill, "metadata"),
                            "skill-metadata",
                            f"metadata.{k} must map a string to a string, not {type(v).__name__}",
                            f'quote the value: {k}: "{v}"',
                            "warning" if isinstance(v, int | float | bool) else "error",
                        )
                    )
            own = meta.get("version")
            if isinstance(own, str) and not Version.is_valid(own):
                out.append(
                    _p(
                        file,
                        _line(skill, "metadata"),
                        "skill-version",
                        f"metadata.version {own!r} is not SemVer",
                        'use a version like "1.2.0"',
                    )
                )
    out += check_file_names(skill)
    out += check_active_content(skill)
    out += claude_code_only(skill, plugin, limits)
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
            out.append(
                _p(
                    f"{skill.folder}/{f.path}",
                    None,
                    "skill-active-content",
                    f"{f.path!r} {problem}",
                    "remove the script, event handlers and javascript: links (an SVG or HTML file a "
                    "skill ships must be static), or rename the file to .txt if it is a template",
                )
            )
    return out


def check_file_names(skill: Skill) -> list[Problem]:
    """Each skill file whose path the Agent Skills Discovery RFC (and so the well-known tree) refuses."""
    out: list[Problem] = []
    for f in skill.files:
        problem = rfc_path_problem(f.path)
        if problem:
            out.append(
                _p(
                    f"{skill.folder}/{f.path}",
                    None,
                    "skill-file-name",
                    f"file name {f.path!r} {problem}",
                    "rename the file using printable ASCII without \\ ? # [ ]",
                )
            )
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
        if first.plugin != skill.plugin or first.name != skill.name:
            same_plugin = first.plugin == skill.plugin
            if not same_plugin and first.name == skill.name:
                continue
            out.append(
                _p(
                    skill.skill_md,
                    _line(skill, "name"),
                    "skill-name-collision" if same_plugin else "skill-name-lookalike",
                    f"skill {skill.name!r} (plugin {skill.plugin}) "
                    + ("collides with" if same_plugin else "looks like")
                    + f" {first.name!r} in {first.folder} (plugin {first.plugin})",
                    "rename one: skill names in a plugin must differ (ignoring case and look-alikes)"
                    if same_plugin
                    else "rename one so people can tell them apart",
                    "error" if same_plugin else "warning",
                )
            )
    return out


def _principals(value: Any, where: str, groups: Mapping[str, Any], allow_groups: bool) -> list[Problem]:
    out: list[Problem] = []
    if not isinstance(value, list):
        return [
            _p(
                ACCESS_YAML,
                None,
                "access-shape",
                f"{where} must be a list of principals",
                'write e.g. read: ["*"] or read: [finance, "bob@corp.example", "@corp.example"]',
            )
        ]
    for item in value:
        if not isinstance(item, str):
            out.append(
                _p(
                    ACCESS_YAML,
                    None,
                    "access-principal",
                    f"{where}: {item!r} is not a string",
                    'use "*", an email, "@domain" or a group name',
                )
            )
        elif (
            item == "*"
            or EMAIL.match(item.lower())
            or DOMAIN.match(item.lower())
            or (allow_groups and item in groups)
        ):
            continue
        else:
            out.append(
                _p(
                    ACCESS_YAML,
                    None,
                    "access-principal",
                    f'{where}: {item!r} is not "*", an email, an @domain or a defined group',
                    "define the group under groups: or fix the spelling",
                )
            )
    return out


def check_access(access: Mapping[str, Any], plugin_names: Iterable[str]) -> list[Problem]:
    if not access:
        return []
    out: list[Problem] = []
    unknown = sorted(set(access) - {"groups", "default", "plugins"})
    for key in unknown:
        out.append(
            _p(
                ACCESS_YAML,
                None,
                "access-shape",
                f"unknown top-level key {key!r}",
                "use only groups, default and plugins",
            )
        )
    groups = access.get("groups") or {}
    if not isinstance(groups, Mapping):
        out.append(
            _p(
                ACCESS_YAML,
                None,
                "access-shape",
                "groups must map group names to lists",
                'write groups: {finance: ["bob@corp.example"]}',
            )
        )
        groups = {}
    for gname, members in groups.items():
        out += _principals(members, f"groups.{gname}", groups, allow_groups=False)
    rules: list[tuple[str, Any]] = [("default", access.get("default"))]
    plugins = access.get("plugins") or {}
    if not isinstance(plugins, Mapping):
        out.append(
            _p(
                ACCESS_YAML,
                None,
                "access-shape",
                "plugins must map plugin names to read/edit rules",
                "write plugins: {finance-ops: {read: [finance]}}",
            )
        )
        plugins = {}
    known = set(plugin_names)
    for pname, rule in plugins.items():
        if pname not in known:
            out.append(
                _p(
                    ACCESS_YAML,
                    None,
                    "access-unknown-plugin",
                    f"plugins.{pname} names no plugin of this marketplace",
                    "fix the plugin name or remove the entry",
                    "warning",
                )
            )
        rules.append((f"plugins.{pname}", rule))
    for where, rule in rules:
        if rule is None:
            continue
        if not isinstance(rule, Mapping) or set(rule) - {"read", "edit"}:
            out.append(
                _p(
                    ACCESS_YAML,
                    None,
                    "access-shape",
                    f"{where} must hold only read and edit lists",
                    "write {read: [...], edit: [...]}",
                )
            )
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
        out.append(
            _p(
                MARKETPLACE_JSON,
                None,
                "marketplace-too-many-skills",
                f"{total} skills exceed the limit of {limits.max_skills}",
                "split the marketplace",
            )
        )
    out += check_unique_names(marketplace)
    out += check_access(marketplace.access, (p.name for p in marketplace.plugins))
    return out


def check_plugin_bumps(
    current: Iterable[tuple[Plugin, str, str]], previous_index: Mapping[str, Any] | None
) -> list[Problem]:
    """Each ``(plugin, version, digest)`` whose files differ from the previous index's plugin of the
    same name and version: Claude Code would never offer the change (it updates by version)."""
    if not previous_index:
        return []
    before = {p.get("name"): p for p in previous_index.get("plugins", []) if isinstance(p, Mapping)}
    out: list[Problem] = []
    for plugin, version, digest in current:
        old = before.get(plugin.name)
        if not old or old.get("version") != version or not old.get("digest") or old.get("digest") == digest:
            continue
        file = f"{plugin.folder}/{PLUGIN_JSON}" if plugin.has_manifest else MARKETPLACE_JSON
        out.append(
            Problem(
                file,
                None,
                "plugin-version-not-bumped",
                f"plugin {plugin.name} changed since the published index but is still version {version}; "
                "Claude Code members would never get the change",
                f"bump the plugin's version (skillport bump {plugin.name}:<skill> patch bumps both)",
                plugin=plugin.name,
            )
        )
    return out


def check_version_bumps(
    current: Iterable[tuple[Skill, str, str, str]], previous_index: Mapping[str, Any] | None
) -> list[Problem]:
    """T48: each ``(skill, version, digest)`` whose digest differs from the previous index's entry for
    the same name and version is an error: the content changed without a version bump."""
    if not previous_index:
        return []
    before = {s.get("name"): s for s in previous_index.get("skills", []) if isinstance(s, Mapping)}
    out: list[Problem] = []
    for skill, version, digest, key in current:
        old = before.get(key)
        if not old or old.get("version") != version or old.get("digest") == digest:
            continue
        out.append(
            _p(
                skill.skill_md,
                None,
                "version-not-bumped",
                f"skill {skill.name} changed since the published index but is still version {version}",
                f"bump the version: skillport bump {skill.plugin}:{skill.name} patch (or minor/major)",
            )
        )
    for skill, version, _, key in current:
        old = before.get(key)
        if (
            old
            and Version.is_valid(old.get("version"))
            and Version.is_valid(version)
            and Version.parse(version) < Version.parse(str(old["version"]))
        ):
            out.append(
                _p(
                    skill.skill_md,
                    None,
                    "version-went-backwards",
                    f"skill {skill.name} is {version}, older than the published {old['version']}",
                    "versions only move forward: set a version above the published one",
                )
            )
    return out
