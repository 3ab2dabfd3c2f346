"""The one definition of the ``skillport`` tool's arguments.

``ToolArgs`` (fields, limits and one-line descriptions) and ``ACTIONS`` (what each action reads and
returns) are the source; everything a client sees is generated from them: the compact input schema of
``tools/list`` (``TOOL_SCHEMA``), the ``help`` action's summary and the ``skillport`` skill's
``references/actions.md`` (``actions_markdown``; a test fails when the checked-in file differs).
Arguments outside the schema are refused with a sentence naming the fields that exist, and type
errors read as one sentence (``parse_args``), never as a validation dump.
"""

from __future__ import annotations

import contextlib
import json
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from builder import policy
from builder.errors import BadInput
from proxy import catalog

Action = Literal["help", "search", "get", "install", "updates", "whoami", "bump", "delete", "publish"]
Surface = Literal["claude-ai", "desktop", "claude-code", "api"]
Part = Literal["patch", "minor", "major"]
EDITOR_ACTIONS = frozenset({"bump", "delete", "publish"})
TOOL_DESCRIPTION = "Your organization's private Claude Skills: find, install, update. Start with action=help."


class Installed(BaseModel):
    """One installed skill, as ``updates`` reads it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(max_length=129)  # skill or plugin:skill
    version: str = Field(max_length=64)


class ToolArgs(BaseModel):
    """The tool's arguments, as checked at the trust boundary (the one definition)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Action = Field(description="what to do")
    query: str = Field("", max_length=200, description="search words; prefixes match, every word must")
    tag: str | None = Field(None, max_length=64, description="only skills with this tag")
    limit: int = Field(
        20, ge=1, le=catalog.MAX_RESULTS, description=f"results wanted (1-{catalog.MAX_RESULTS}, default 20)"
    )
    skill: str | None = Field(
        None,
        max_length=policy.MAX_SKILL_KEY_CHARS,
        pattern=policy.SKILL_REF_PATTERN,
        description="a skill's name or plugin:skill",
    )
    version: str | None = Field(None, max_length=64, description="only if this version is the one published")
    surface: Surface = Field("claude-ai", description="the Claude surface to install on")
    installed: tuple[Installed, ...] = Field(
        (), max_length=catalog.MAX_INSTALLED, description="installed skills: [{name, version}]"
    )
    part: Part = Field("patch", description="which SemVer part to raise")
    confirm: bool = Field(False, description="true once the user agreed to delete")
    plugin: str | None = Field(
        None,
        max_length=policy.MAX_NAME_CHARS,
        pattern=policy.NAME_PATTERN,
        description="the plugin a new skill goes in",
    )
    files: dict[str, str] | None = Field(
        None, max_length=policy.UPLOAD_MAX_FILES, description="{path: text} of the skill's files"
    )
    zip: str | None = Field(
        None, max_length=policy.UPLOAD_MAX_BYTES * 2, description="base64 of the skill's zip"
    )
    note: str | None = Field(
        None, max_length=200, description="one line for the people who use the skill: what changed"
    )


@dataclass(frozen=True)
class ActionDoc:
    arguments: tuple[str, ...]
    result: str
    required: tuple[str, ...] = ()


ACTIONS: Mapping[str, ActionDoc] = {
    "help": ActionDoc((), "what Skillport does, the actions, and a download link for this skill"),
    "search": ActionDoc(("query", "tag", "limit"), "`results`: name, plugin, version, description"),
    "get": ActionDoc(
        ("skill", "version"),
        "name, plugin, version, description, tags, files, history, `scan` (security scan: tell the "
        "member its `advice` before installing), `skill_md` (or `skill_md_link`)",
        ("skill",),
    ),
    "install": ActionDoc(
        ("skill", "surface", "version"),
        "`download` link, `expires_in` seconds, `steps`, `scan` (warn the member when it is not scanned or "
        "has findings); Claude Code also gets `settings`, `on_the_web` and a `direct` shell line",
        ("skill",),
    ),
    "updates": ActionDoc(
        ("installed",),
        "`updates` (name, installed, latest, `changes`: every newer version with its date and note), "
        "`current`, `unknown`, `invalid_version`",
        ("installed",),
    ),
    "whoami": ActionDoc((), "sub, email, name, readable `plugins`, `can_edit`"),
    "bump": ActionDoc(("skill", "part", "note"), "editors only: the new version", ("skill",)),
    "delete": ActionDoc(
        ("skill", "confirm"), "editors only; without `confirm: true` it answers `confirm_needed`", ("skill",)
    ),
    "publish": ActionDoc(
        ("skill", "plugin", "files", "zip", "note"),
        "editors only: `files` or `zip`; `plugin` for a new skill",
        ("skill",),
    ),
}
FIELDS: tuple[str, ...] = tuple(ToolArgs.model_fields)
_READ = {a for doc in ACTIONS.values() for a in doc.arguments}
assert tuple(ACTIONS) == get_args(Action), "ACTIONS must document every action, in order"
assert _READ | {"action"} == set(FIELDS), "every field is read by an action, and only fields are read"


# -- the compact JSON schema (every byte of tools/list counts) ----------------------------------------


def _compact(annotation: Any) -> dict[str, Any]:
    """The smallest JSON schema that still types ``annotation`` (enums, items, value types)."""
    origin = get_origin(annotation)
    if origin is Literal:
        return {"enum": list(get_args(annotation))}
    if origin in (Union, types.UnionType):
        (inner,) = [a for a in get_args(annotation) if a is not type(None)]
        return _compact(inner)
    if origin is tuple or origin is list:
        return {"type": "array", "items": _compact(get_args(annotation)[0])}
    if origin is dict:
        return {"type": "object", "additionalProperties": _compact(get_args(annotation)[1])}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        props = {name: _compact(f.annotation) for name, f in annotation.model_fields.items()}
        return {"type": "object", "properties": props, "required": list(props)}
    names = {str: "string", bool: "boolean", int: "integer"}
    return {"type": names[annotation]}


def input_schema() -> dict[str, Any]:
    props = {name: _compact(f.annotation) for name, f in ToolArgs.model_fields.items()}
    return {"type": "object", "properties": props, "required": ["action"], "additionalProperties": False}


TOOL_SCHEMA: dict[str, Any] = input_schema()


# -- reading arguments ----------------------------------------------------------------------------------

_CONTAINERS = frozenset({"installed", "files"})


def _one_sentence(err: Mapping[str, Any]) -> str:
    loc = [str(x) for x in err.get("loc", ())]
    field = ".".join(loc) or "arguments"
    kind = str(err.get("type", ""))
    top = loc[0] if loc else ""
    info = ToolArgs.model_fields.get(top)
    if kind == "extra_forbidden" and len(loc) == 1:
        return f"`{field}` is not an argument of this tool; its arguments are: {', '.join(FIELDS)}"
    if kind == "extra_forbidden":
        return f"`{field}` is not allowed; each installed item is {{name, version}}"
    if kind in ("literal_error", "enum") and info is not None:
        allowed = get_args(info.annotation)
        return f"`{field}` must be one of: {', '.join(map(str, allowed))}"
    if kind == "string_pattern_mismatch":
        return f"`{field}` must be a name of lowercase letters, digits and hyphens, as action=search shows it"
    if kind == "missing":
        return f"`{field}` is required"
    expected = {
        "string_type": "text",
        "bool_type": "true or false",
        "bool_parsing": "true or false",
        "int_type": "a whole number",
        "int_parsing": "a whole number",
        "tuple_type": "a list",
        "list_type": "a list",
        "dict_type": "an object",
        "model_type": "an object",
    }.get(kind)
    if expected:
        return f"`{field}` must be {expected}"
    ctx = err.get("ctx") or {}
    bounds = {
        "string_too_long": f"at most {ctx.get('max_length')} characters long",
        "too_long": f"at most {ctx.get('max_length')} items long",
        "less_than_equal": f"at most {ctx.get('le')}",
        "greater_than_equal": f"at least {ctx.get('ge')}",
    }
    if kind in bounds:
        return f"`{field}` must be {bounds[kind]}"
    return f"`{field}` is not valid: {str(err.get('msg', ''))[:120]}"


def parse_args(raw: Mapping[str, Any]) -> ToolArgs:
    """Validated arguments, or ``BadInput`` with one sentence per bad field (at most three)."""
    clean: dict[str, Any] = {}
    for key, value in raw.items():
        if value is None or value == "":
            continue
        if key in _CONTAINERS and isinstance(value, str):
            # some clients send lists and objects as JSON text
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        clean[key] = value
    try:
        return ToolArgs.model_validate(clean)
    except ValidationError as exc:
        sentences = list(dict.fromkeys(_one_sentence(e) for e in exc.errors(include_url=False)))
        raise BadInput("; ".join(sentences[:3]) + " (see action=help).") from None


# -- help and the skill's reference, generated -----------------------------------------------------------


def _describe(name: str) -> str:
    info = ToolArgs.model_fields[name]
    shape = _compact(info.annotation)
    if "enum" in shape:
        return f"{info.description}: " + ", ".join(f"`{v}`" for v in shape["enum"])
    return str(info.description)


def help_actions() -> dict[str, str]:
    """``{action: "arguments -> result"}`` for the ``help`` action."""
    out = {}
    for name, doc in ACTIONS.items():
        args = ", ".join(a if a in doc.required else a + "?" for a in doc.arguments)
        out[name] = f"{args} -> {doc.result}".strip()
    return out


def help_fields() -> dict[str, str]:
    return {name: _describe(name) for name in FIELDS}


def actions_markdown() -> str:
    """``references/actions.md`` of the ``skillport`` skill (checked in; a test compares)."""
    lines = [
        "# Actions of the `skillport` tool",
        "",
        "<!-- generated from proxy/tool_spec.py; `python -m proxy.tool_spec > this file` -->",
        "",
        "Pass every argument at the top level, next to `action`. An argument the tool does not know is",
        "refused with an error that lists the ones it has. Results are compact JSON; errors are a tool",
        "error with one sentence to act on.",
        "",
        "| action | arguments (required in bold) | result |",
        "|---|---|---|",
    ]
    for name, doc in ACTIONS.items():
        args = ", ".join(f"**`{a}`**" if a in doc.required else f"`{a}`" for a in doc.arguments) or "-"
        lines.append(f"| `{name}` | {args} | {doc.result} |")
    lines += ["", "## Arguments", "", "| argument | type | meaning |", "|---|---|---|"]
    for name in FIELDS:
        shape = _compact(ToolArgs.model_fields[name].annotation)
        kind = "enum" if "enum" in shape else str(shape["type"])
        lines.append(f"| `{name}` | {kind} | {_describe(name)} |")
    lines += [
        "",
        "## Examples",
        "",
        "```json",
        '{"action": "search", "query": "pdf forms", "tag": "finance"}',
        '{"action": "install", "skill": "pdf-forms", "surface": "claude-code"}',
        '{"action": "updates", "installed": [{"name": "pdf-forms", "version": "1.0.0"}]}',
        '{"action": "bump", "skill": "pdf-forms", "part": "minor"}',
        '{"action": "delete", "skill": "pdf-forms", "confirm": true}',
        "```",
        "",
        "## Searching well",
        "",
        "- Use the user's own words first; then try a shorter word (prefixes match: `led` finds `ledger`).",
        "- Every word must match. If nothing comes back, drop a word or use `tag`.",
        "- An empty `query` lists skills by name (first 20; raise `limit` up to 50).",
        "",
        "## Reading a skill",
        "",
        "`get` gives the SKILL.md text when it is small. Summarize it for the user rather than pasting it,",
        "unless they ask for the full text.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - regenerates the checked-in reference
    print(actions_markdown(), end="")
