"""Claude Code's loader rules: where a marketplace entry's plugin lives, which folders are its
skills, and which files are its other components (commands, agents, hooks, MCP and LSP servers,
output styles). Pure functions over paths and parsed JSON; ``load.py`` does the reading.

Checked by running Claude Code 2.1.332 (``claude plugin install`` + ``claude plugin details``) on
small marketplaces (see ``tests/fixtures/marketplaces/``):

- a plugin's skills are the folders with a ``SKILL.md`` directly under ``skills/``, plus every
  path listed in ``skills`` (entry or plugin.json); a listed path without ``SKILL.md`` is a
  container whose child folders with a ``SKILL.md`` are skills; a ``SKILL.md`` at the plugin root
  is a skill named after the plugin folder;
- a plugin whose source is the marketplace root itself (``"source": "./"``) and that lists
  ``skills`` loads only the listed skills (not every skill under ``skills/``);
- the default ``skills/`` folder is not searched recursively (container folders need listing);
- commands are ``commands/*.md`` (listed as skills by ``claude plugin details``), agents
  ``agents/*.md``, hooks ``hooks/hooks.json``, MCP servers ``.mcp.json``, LSP servers ``.lsp.json``,
  plus whatever the manifest lists under those keys (paths or inline objects);
- the installed cache holds the whole plugin folder, symlinks inside the repository copied as
  regular files; ``strict: false`` entries need no ``plugin.json`` and non-kebab names install.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

EXTERNAL_SOURCE_KINDS = frozenset({"github", "url", "git-subdir", "npm", "git", "pip", "archive"})
COMPONENT_KEYS = ("commands", "agents", "hooks", "mcpServers", "lspServers", "outputStyles")
DEFAULT_PATHS: Mapping[str, str] = {
    "commands": "commands",
    "agents": "agents",
    "hooks": "hooks/hooks.json",
    "mcpServers": ".mcp.json",
    "lspServers": ".lsp.json",
    "outputStyles": "output-styles",
}
# Folders and files never copied into a published plugin: version control and Skillport's own settings.
NOT_PACKAGED = frozenset({".git", ".skillport"})


@dataclass(frozen=True)
class Component:
    """One thing a plugin installs besides skills: a command, agent, hook event, MCP or LSP server,
    or output style. ``path`` is relative to the plugin folder (``""`` for inline definitions)."""

    kind: str
    name: str
    description: str
    path: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "description": self.description, "path": self.path}


def is_external(source: Any) -> bool:
    """An entry whose source is an object (``github``, ``url``, ``git-subdir``, ``npm`` …): Claude
    Code fetches it itself; Skillport passes it through unchanged."""
    return isinstance(source, Mapping)


def relative_source(source: str, plugin_root: Any) -> str | None:
    """The entry's plugin folder relative to the marketplace root (POSIX, ``""`` for the root),
    honouring ``metadata.pluginRoot`` for sources that do not start with ``./``; ``None`` when the
    path leaves the repository or is not relative."""
    if "\\" in source or source.startswith("/"):
        return None
    if not source.startswith("./"):
        if not isinstance(plugin_root, str) or not plugin_root:
            return None  # Claude Code needs "./" unless metadata.pluginRoot says where plugins live
        source = posixpath.join(plugin_root, source)
    if ".." in source.split("/"):
        return None
    normalized = posixpath.normpath(source)
    if normalized.startswith(("..", "/")):
        return None
    return "" if normalized == "." else normalized


def listed_paths(manifest: Mapping[str, Any], entry: Mapping[str, Any], key: str) -> list[str]:
    """Relative paths listed under ``key`` by plugin.json and the marketplace entry (both count)."""
    out: list[str] = []
    for source in (manifest, entry):
        value = source.get(key)
        items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        for item in items:
            if isinstance(item, str) and item not in out:
                out.append(item)
    return out


def inline_objects(
    manifest: Mapping[str, Any], entry: Mapping[str, Any], key: str
) -> list[Mapping[str, Any]]:
    """Inline definitions under ``key`` (an object instead of a path), plugin.json first."""
    return [v for v in (manifest.get(key), entry.get(key)) if isinstance(v, Mapping)]


def clean_relative(path: str) -> str | None:
    """``./x/y`` -> ``x/y``; ``None`` when the path is absolute or climbs out with ``..``."""
    if "\\" in path or path.startswith("/") or ".." in path.split("/"):
        return None
    normalized = posixpath.normpath(path)
    return "" if normalized == "." else normalized


def markdown_description(text: str) -> tuple[str, str]:
    """``(name, description)`` from a command/agent/output-style Markdown file's frontmatter (simple
    ``key: value`` lines; values unquoted). Empty strings when absent."""
    if not text.startswith("---"):
        return "", ""
    fields: dict[str, str] = {}
    for line in text.splitlines()[1:]:
        if line.strip() == "---":
            break
        key, sep, value = line.partition(":")
        if sep and key and not key.startswith((" ", "\t")):
            fields[key.strip()] = value.strip().strip("'\"")
    return fields.get("name", ""), fields.get("description", "")


def servers(doc: Mapping[str, Any], kind: str, path: str) -> list[Component]:
    """MCP or LSP servers of one definition: ``{"mcpServers": {...}}`` or the bare server map."""
    inner = doc.get("mcpServers")
    table: Mapping[str, Any] = inner if kind == "mcp-server" and isinstance(inner, Mapping) else doc
    out = []
    for name, spec in table.items():
        if not isinstance(spec, Mapping):
            continue
        command = spec.get("command") or spec.get("url") or spec.get("type") or ""
        out.append(Component(kind, str(name), str(command), path))
    return out


def hook_events(doc: Mapping[str, Any], path: str) -> list[Component]:
    """One component per hook event (``PreToolUse`` …) with the commands it runs."""
    inner = doc.get("hooks")
    table: Mapping[str, Any] = inner if isinstance(inner, Mapping) else doc
    out = []
    for event, groups in table.items():
        commands: list[str] = []
        for group in groups if isinstance(groups, list) else []:
            for hook in group.get("hooks", []) if isinstance(group, Mapping) else []:
                if isinstance(hook, Mapping) and isinstance(hook.get("command"), str):
                    commands.append(hook["command"])
        out.append(Component("hook", str(event), "; ".join(commands), path))
    return out


def _markdown_components(files: Mapping[str, bytes], kind: str, folders: list[str]) -> list[Component]:
    out = []
    for folder in folders:
        for path in sorted(files):
            if not path.endswith(".md") or not (path == folder or path.startswith(folder + "/")):
                continue
            name, description = markdown_description(files[path].decode("utf-8", "replace"))
            stem = posixpath.splitext(posixpath.basename(path))[0]
            out.append(Component(kind, name if kind != "command" and name else stem, description, path))
    return out


def _json(data: bytes) -> Mapping[str, Any]:
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return value if isinstance(value, Mapping) else {}


def components(
    files: Mapping[str, bytes], manifest: Mapping[str, Any], entry: Mapping[str, Any]
) -> tuple[Component, ...]:
    """Every non-skill component Claude Code loads from a plugin whose files are ``files`` (paths
    relative to the plugin folder), with the names and descriptions people see in the catalog."""

    def paths(key: str) -> list[str]:
        found = [DEFAULT_PATHS[key]]
        for item in listed_paths(manifest, entry, key):
            clean = clean_relative(item)
            if clean and clean not in found:
                found.append(clean)
        return found

    out = _markdown_components(files, "command", paths("commands"))
    out += _markdown_components(files, "agent", paths("agents"))
    out += _markdown_components(files, "output-style", paths("outputStyles"))
    for key, kind in (("hooks", "hook"), ("mcpServers", "mcp-server"), ("lspServers", "lsp-server")):
        docs = [(p, _json(files[p])) for p in paths(key) if p in files]
        docs += [("", d) for d in inline_objects(manifest, entry, key)]
        for path, doc in docs:
            out += hook_events(doc, path) if kind == "hook" else servers(doc, kind, path)
    unique: dict[tuple[str, str], Component] = {}
    for c in out:
        unique.setdefault((c.kind, c.name), c)
    return tuple(unique.values())
