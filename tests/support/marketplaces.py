"""Marketplaces written by a test: a small one (plugins and skills by name), SKILL.md text, JSON
edits, and the rule problems the validator reports for it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from builder.model import Problem
from builder.validate import validate_marketplace


def write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2) + "\n")


def skill_text(
    name: str,
    description: str = "Does a thing. Use when testing.",
    extra: str = "",
    body: str = "# Title\n\nSome instructions.\n",
) -> str:
    return f"---\nname: {name}\ndescription: {description}\n{extra}---\n\n{body}"


def write_skill(
    root: Path, plugin: str, name: str, text: str | None = None, files: dict[str, bytes] | None = None
) -> Path:
    folder = root / "plugins" / plugin / "skills" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "SKILL.md").write_text(skill_text(name) if text is None else text)
    for rel, data in (files or {}).items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    return folder


def make_marketplace(
    root: Path,
    plugins: dict[str, list[str]] | None = None,
    *,
    name: str = "acme-skills",
    version: str = "1.0.0",
) -> Path:
    """A valid marketplace at ``root``: each plugin at ``version`` with the named skills (each with a
    reference file)."""
    plugins = {"tools": ["alpha", "beta"]} if plugins is None else plugins
    write_json(
        root / ".claude-plugin" / "marketplace.json",
        {
            "name": name,
            "owner": {"name": "Platform", "email": "platform@acme.example"},
            "plugins": [
                {"name": p, "source": f"./plugins/{p}", "description": f"The {p} plugin."} for p in plugins
            ],
        },
    )
    for plugin, skills in plugins.items():
        write_json(
            root / "plugins" / plugin / ".claude-plugin" / "plugin.json",
            {"name": plugin, "version": version, "description": f"The {plugin} plugin."},
        )
        for skill in skills:
            write_skill(root, plugin, skill, files={"references/notes.md": f"Notes for {skill}.\n".encode()})
    return root


def problems(root: Path, **kwargs: Any) -> list[Problem]:
    return validate_marketplace(root, **kwargs)[1]


def errors(root: Path, **kwargs: Any) -> set[str]:
    return {p.rule for p in problems(root, **kwargs) if p.is_error}


def warnings(root: Path, **kwargs: Any) -> set[str]:
    return {p.rule for p in problems(root, **kwargs) if not p.is_error}


def _apply(value: dict[str, Any], changes: dict[str, Any]) -> None:
    for key, new in changes.items():
        if new is None:
            value.pop(key, None)
        else:
            value[key] = new


def edit_json(path: Path, **changes: Any) -> None:
    value = json.loads(path.read_text())
    _apply(value, changes)
    write_json(path, value)


def edit_entry(root: Path, plugin: str, **changes: Any) -> None:
    """Change the marketplace entry of ``plugin`` (a ``None`` value removes the key)."""
    path = root / ".claude-plugin" / "marketplace.json"
    value = json.loads(path.read_text())
    for entry in value["plugins"]:
        if entry.get("name") == plugin:
            _apply(entry, changes)
    write_json(path, value)
