"""Every marketplace rule in one table: id → severity, message and fix (``builder.rules`` runs them).

A key is a rule id (``plugin-version``), or a rule id and a variant (``plugin-version:entry``) where
one rule says different things in different places; the problem carries the rule id only, so ids
stay stable for tests, docs and CI filters. Messages and fixes are ``str.format`` templates filled
with what the check found (``{name!r}``, ``{where}`` …). :func:`problem` makes the ``Problem``.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from builder.model import Problem, Severity

CC_ONLY = ": Claude Code only, no upload zip"
"""What a rule adds when it makes a skill Claude Code only (Claude.ai's upload refuses it)."""
_SEMVER_FIX = 'use a version like "1.2.0"'
_KEBAB_FIX = "use lowercase letters, digits and single hyphens"


@dataclass(frozen=True)
class Rule:
    severity: Severity
    message: str
    fix: str


def _e(message: str, fix: str) -> Rule:
    return Rule("error", message, fix)


def _w(message: str, fix: str) -> Rule:
    return Rule("warning", message, fix)


def _cc(message: str, fix: str) -> Rule:
    return Rule("warning", message + CC_ONLY, fix)


RULES = MappingProxyType(
    {
        # marketplace.json
        "marketplace-name:missing": _e(
            'marketplace.json has no "name"', 'add "name": "your-org-skills" (kebab-case)'
        ),
        "marketplace-name:not-kebab": _e(
            "marketplace name {name!r} is not kebab-case",
            "use lowercase letters, digits and single hyphens, e.g. acme-skills",
        ),
        "marketplace-name-reserved": _e(
            "marketplace name {name!r} is reserved by Anthropic (Claude Code refuses to add it)",
            "choose a name that names your organization, e.g. acme-skills",
        ),
        "marketplace-owner": _e(
            "marketplace.json has no owner.name",
            'add "owner": {{"name": "Platform Team", "email": "platform@example.com"}}',
        ),
        "marketplace-plugins": _e(
            'marketplace.json has no "plugins" list', 'add "plugins": [ … ] with one entry per plugin'
        ),
        "marketplace-too-many-skills": _e(
            "{total} skills exceed the limit of {limit}", "split the marketplace"
        ),
        "plugin-entry": _e("{where} is not an object", 'write {{"name": "…", "source": "./plugins/…"}}'),
        "plugin-name": _e(
            "{where} name {name!r} is not a name Skillport can publish (letters, digits, '.', '_', '-', "
            "at most 64, not starting with a dot)",
            _KEBAB_FIX,
        ),
        "plugin-name-not-kebab": _w(
            "{where} name {name!r} is not kebab-case (Claude Code installs it; the spec asks for kebab-case)",
            _KEBAB_FIX,
        ),
        "plugin-duplicate": _e(
            "{where} repeats plugin name {name!r} (also plugins[{first}])", "give each plugin a unique name"
        ),
        "plugin-source:outside": _e(
            "{where} source {source!r} must be a relative path inside the repository (no ..)",
            'use "./plugins/<plugin-name>"',
        ),
        "plugin-source:no-kind": _e(
            '{where} source object has no "source" kind',
            'write e.g. {{"source": "github", "repo": "owner/repo"}}',
        ),
        "plugin-source:missing": _e("{where} has no source", 'add "source": "./plugins/<plugin-name>"'),
        "plugin-version:entry": _e("{where} version {version!r} is not SemVer", _SEMVER_FIX),
        # plugin.json
        "plugin-json-name": _e(
            "plugin.json name {found!r} differs from the marketplace entry {name!r}",
            'set "name": "{name}" in plugin.json',
        ),
        "plugin-version:manifest": _e("plugin.json version {version!r} is not SemVer", _SEMVER_FIX),
        "plugin-version-mismatch": _w(
            "plugin.json says {own}, the marketplace entry says {listed}; plugin.json wins",
            "keep the version in plugin.json only",
        ),
        "plugin-json-missing": _w(
            'plugin {name} has no plugin.json and its entry is not "strict": false',
            'add .claude-plugin/plugin.json, or set "strict": false in its marketplace entry',
        ),
        "plugin-version-missing": _w(
            "plugin {name} has no version; it is published as 0.0.0+<content hash>",
            'add "version": "1.0.0" to plugin.json (or the marketplace entry)',
        ),
        "plugin-no-skills": _w(
            "plugin {name} has no skills and no other components", "add a skill or remove the plugin"
        ),
        "plugin-version-not-bumped": _e(
            "plugin {name} changed since the published index but is still version {version}; "
            "Claude Code members would never get the change",
            "bump the plugin's version (skillport bump {name}:<skill> patch bumps both)",
        ),
        # SKILL.md
        "skill-name:missing": _e("frontmatter name is missing or not a string", "add `name: {folder}`"),
        "skill-name:too-long": _e(
            "name {name!r} is longer than {limit} characters", "shorten the name (and the folder)"
        ),
        "skill-name:chars": _e(
            "name {name!r} must use only a-z, 0-9 and single hyphens, not at the start or end",
            "rename the skill, e.g. meeting-notes",
        ),
        "skill-name-folder": _w(
            "name {name!r} differs from its folder {folder!r}; Claude Code names the skill {folder!r} "
            "and so does the upload zip",
            "make the folder name and the frontmatter name the same",
        ),
        "skill-description": _e(
            "description is missing or empty",
            "add a description saying what the skill does and when Claude should use it",
        ),
        "skill-claude-code-key": _w(
            "`{key}` is a Claude Code-only key; Claude.ai upload rejects it",
            "it is dropped from the upload zip; remove it if the skill is meant for every surface",
        ),
        "skill-unknown-key": _w(
            "`{key}` is not an Agent Skills frontmatter key; it is dropped from the upload zip",
            "keep only name, description, license, compatibility, metadata, allowed-tools "
            "(put custom data under metadata)",
        ),
        "skill-license": _e("license must be a string", "write e.g. `license: Apache-2.0`"),
        "skill-compatibility": _e(
            "compatibility must be a non-empty string of at most {limit} characters",
            "shorten it or remove it",
        ),
        "skill-allowed-tools": _w(
            "allowed-tools is not a space-separated string; the upload zip carries it as one",
            "write e.g. `allowed-tools: Bash Read`",
        ),
        "skill-metadata:shape": _e(
            "metadata must be a mapping", 'write metadata as `key: "value"` lines indented under `metadata:`'
        ),
        "skill-metadata:number": _w(
            "metadata.{key} must map a string to a string, not {kind}", 'quote the value: {key}: "{value}"'
        ),
        "skill-metadata:type": _e(
            "metadata.{key} must map a string to a string, not {kind}", 'quote the value: {key}: "{value}"'
        ),
        "skill-version": _e("metadata.version {version!r} is not SemVer", _SEMVER_FIX),
        "skill-active-content": _e(
            "{path!r} {problem}",
            "remove the script, event handlers and javascript: links (an SVG or HTML file a skill ships "
            "must be static), or rename the file to .txt if it is a template",
        ),
        "skill-file-name": _e(
            "file name {path!r} {problem}", "rename the file using printable ASCII without \\ ? # [ ]"
        ),
        "skill-name-collision": _e(
            "skill {name!r} (plugin {plugin}) collides with {other!r} in {folder} (plugin {other_plugin})",
            "rename one: skill names in a plugin must differ (ignoring case and look-alikes)",
        ),
        "skill-name-lookalike": _w(
            "skill {name!r} (plugin {plugin}) looks like {other!r} in {folder} (plugin {other_plugin})",
            "rename one so people can tell them apart",
        ),
        "version-not-bumped": _e(
            "skill {name} changed since the published index but is still version {version}",
            "bump the version: skillport bump {plugin}:{name} patch (or minor/major)",
        ),
        "version-went-backwards": _e(
            "skill {name} is {version}, older than the published {published}",
            "versions only move forward: set a version above the published one",
        ),
        # what only Claude.ai's upload refuses: the skill is published for Claude Code only
        "skill-surface-cc": _cc(
            "plugin {plugin} is tagged surface:CC", "remove the tag to publish it everywhere"
        ),
        "skill-name-reserved-word": _cc(
            "name {name!r} contains 'claude' or 'anthropic', which Claude.ai upload rejects",
            "choose a name without those words to publish it on every surface",
        ),
        "skill-description-too-long": _cc(
            "description is {length} characters (upload accepts {limit})",
            "shorten it; put detail in the SKILL.md body",
        ),
        "skill-description-tags": _cc(
            "description contains an XML-like tag, which Claude.ai upload rejects", "reword without <tags>"
        ),
        "skill-nested-skill-md": _cc(
            "a second SKILL.md inside the skill (Claude.ai upload accepts exactly one)",
            "rename the nested file or move it into its own skill",
        ),
        "skill-nested-archive": _cc(
            "an archive inside the skill (Claude.ai upload rejects nested archives)",
            "unpack the files into the skill folder instead",
        ),
        "skill-too-big-to-upload": _cc(
            "{files} files, {size} bytes (upload accepts {max_files} files, {max_bytes} bytes)",
            "remove large or many files to publish it on every surface",
        ),
        # access.yaml
        "access-shape:list": _e(
            "{where} must be a list of principals",
            'write e.g. read: ["*"] or read: [finance, "bob@corp.example", "@corp.example"]',
        ),
        "access-shape:key": _e("unknown top-level key {key!r}", "use only groups, default and plugins"),
        "access-shape:groups": _e(
            "groups must map group names to lists", 'write groups: {{finance: ["bob@corp.example"]}}'
        ),
        "access-shape:plugins": _e(
            "plugins must map plugin names to read/edit rules",
            "write plugins: {{finance-ops: {{read: [finance]}}}}",
        ),
        "access-shape:rule": _e(
            "{where} must hold only read and edit lists", "write {{read: [...], edit: [...]}}"
        ),
        "access-principal:type": _e(
            "{where}: {item!r} is not a string", 'use "*", an email, "@domain" or a group name'
        ),
        "access-principal:unknown": _e(
            '{where}: {item!r} is not "*", an email, an @domain or a defined group',
            "define the group under groups: or fix the spelling",
        ),
        "access-unknown-plugin": _w(
            "plugins.{name} names no plugin of this marketplace", "fix the plugin name or remove the entry"
        ),
    }
)


def rule_id(key: str) -> str:
    """The rule id of a table key (``plugin-version:entry`` → ``plugin-version``)."""
    return key.partition(":")[0]


def problem(
    key: str, file: str, line: int | None = None, /, *, owner: str | None = None, **found: object
) -> Problem:
    """The ``Problem`` of rule ``key`` at ``file``/``line``, its message and fix filled from ``found``;
    ``owner`` is the plugin it belongs to when the file does not say."""
    rule = RULES[key]
    return Problem(
        file,
        line,
        rule_id(key),
        rule.message.format(**found),
        rule.fix.format(**found),
        rule.severity,
        plugin=owner,
    )


def markdown() -> str:
    """``docs/rules.md``: every rule id, its severity, what it says and the fix (from :data:`RULES`)."""

    def cell(text: str) -> str:
        return text.replace("{{", "{").replace("}}", "}").replace("|", "\\|")

    lines = [
        "# Marketplace rules",
        "",
        "Generated from `builder/ruleset.py` (`python -m builder.ruleset > docs/rules.md`); a test fails",
        "when this file differs. `skillport validate` and `skillport build` report each problem as",
        "`file:line: severity: [rule-id] message (fix: …)`. Errors stop the plugin from publishing (it keeps",
        "its last published version); warnings never do, except with `--strict`. Rules marked",
        f'"{CC_ONLY.lstrip(": ")}" make the skill available in Claude Code only. `{{name}}`-style',
        "parts are filled in with what was found. The loader's own rules (unreadable files, the",
        "`frontmatter-*` YAML rules, size limits) are listed in `builder/load.py` and",
        "`builder/frontmatter.py`.",
        "",
        "| rule | severity | message | fix |",
        "| --- | --- | --- | --- |",
    ]
    for key, rule in sorted(RULES.items()):
        lines.append(f"| `{rule_id(key)}` | {rule.severity} | {cell(rule.message)} | {cell(rule.fix)} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
