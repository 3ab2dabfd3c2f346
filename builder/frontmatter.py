"""Strict parsing of the YAML frontmatter at the top of a SKILL.md (threats T40, T41).

A SKILL.md is ``---`` line, YAML block, ``---`` line, body. :func:`parse` splits it, caps the block's
size *before* any YAML is read, then walks PyYAML's event stream and composes the node graph itself,
refusing — before anything is constructed — every YAML feature a frontmatter has no use for:

- anchors ``&x`` and aliases ``*x`` (billion-laughs bombs), explicit tags (``!!python/object``,
  ``!!binary``, ``!foo``, even ``!``), directives, ``---``/``...`` markers, several documents;
- nesting deeper than ``max_depth`` collections, more than ``max_nodes`` nodes;
- duplicate keys at any level (PyYAML would silently keep the last one) and non-string keys.

Decisions (documented, tested):

- **Delimiters.** The file must start with a line that is exactly ``---`` (trailing spaces/tabs
  allowed) and have a closing ``---`` line. A UTF-8 byte order mark before it is refused (Claude.ai is
  strict). Lines end with ``\\n`` or ``\\r\\n``: CRLF files are accepted, CR-only files are not.
- **Body.** ``Frontmatter.body`` is the text after the closing delimiter's line ending, exactly as in
  the file (CRLF kept); ``body_line`` is the file line it starts on.
- **Line numbers** are 1-based file lines, counting ``\\n``; the YAML block starts on line 2.
- **Scalars** resolve like YAML 1.2's core schema, not PyYAML's YAML 1.1: ``null``/``~``/empty →
  ``None``; only ``true``/``false`` (any of the three casings) are booleans (``yes``/``no``/``on``/
  ``off`` stay strings); decimal, ``0o`` octal and ``0x`` hex integers → ``int``; decimal floats and
  ``.inf``/``.nan`` → ``float``; everything else (dates too) → ``str``. No merge keys (``<<``).
  So values are ``str``/``int``/``float``/``bool``/``None``/``list``/``dict`` and every key is a ``str``.

:func:`parse` with ``as_written=True`` reads under the same rules but keeps every scalar as the
string written (``1.10`` stays ``"1.10"``, ``yes`` stays ``"yes"``): what the upload zip's stamp
(``builder.package``) writes back. :func:`set_value` changes one scalar in place, keeping every other
byte (authoring's version bump). :func:`render` writes a frontmatter + body that :func:`parse` reads
back to the same data, quoting whatever YAML 1.2 *or* YAML 1.1 would read as something other than a
string (so ``on`` is ``'on'`` for every reader); :func:`parse_yaml` reads a whole YAML file
(``access.yaml``) under the same rules.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.emitter import Emitter
from yaml.error import Mark
from yaml.events import (
    AliasEvent,
    CollectionStartEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    NodeEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.representer import SafeRepresenter
from yaml.resolver import BaseResolver, Resolver
from yaml.scanner import Scanner
from yaml.serializer import Serializer

from builder.errors import BadInput
from builder.policy import NAME_RE

__all__ = [
    "Frontmatter",
    "FrontmatterError",
    "FrontmatterLimits",
    "YamlMapping",
    "parse",
    "parse_yaml",
    "render",
    "replace",
    "set_value",
]

_DELIMITER = re.compile(r"---[ \t]*\r?")
_CLOSING = re.compile(r"^---[ \t]*\r?$", re.MULTILINE)
_BOM = "\ufeff"
_MAX_INT_DIGITS = 100

_CORE = "tag:yaml.org,2002:"
_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_KIND = {_INT: "a number", _FLOAT: "a number", _BOOL: "a boolean", _NULL: "null"}


# ----------------------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Frontmatter:
    """A parsed frontmatter: its top-level mapping, where each key is, and the body after it."""

    data: Mapping[str, Any]
    key_lines: Mapping[str, int]
    body: str
    body_line: int

    def __post_init__(self) -> None:
        if not isinstance(self.body, str):
            raise TypeError("body must be a str")
        if self.body_line < 3:
            raise ValueError("the body starts at line 3 at the earliest (after two '---' lines)")
        if set(self.key_lines) != set(self.data):
            raise ValueError("key_lines must name exactly the keys of data")
        if not all(isinstance(k, str) for k in self.data):
            raise TypeError("frontmatter keys must be strings")
        object.__setattr__(self, "data", MappingProxyType(dict(self.data)))
        object.__setattr__(self, "key_lines", MappingProxyType(dict(self.key_lines)))


class FrontmatterError(BadInput):
    """The frontmatter breaks a rule. ``str(exc)`` is the message; ``rule``/``line``/``fix`` say more."""

    def __init__(self, rule: str, message: str, *, line: int | None, fix: str) -> None:
        if not NAME_RE.match(rule):
            raise ValueError(f"rule id must be kebab-case, not {rule!r}")
        super().__init__(message)
        self.rule = rule
        self.line = line
        self.fix = fix


@dataclass(frozen=True)
class FrontmatterLimits:
    """Caps applied before (size) and while (depth, nodes) the YAML is read."""

    max_bytes: int = 16 * 1024
    max_depth: int = 8
    max_nodes: int = 2000

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_depth", "max_nodes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"FrontmatterLimits.{name} must be a positive int, not {value!r}")


# ----------------------------------------------------------------------------------- YAML schema


class _CoreResolver(BaseResolver):
    """YAML 1.2 core schema: null, bool, int, float; every other plain scalar is a string."""


_CoreResolver.add_implicit_resolver(_NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_CoreResolver.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_CoreResolver.add_implicit_resolver(
    _INT, re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
_CoreResolver.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+.0123456789"),
)


def _core_int(value: str) -> int:
    if value.startswith("0o"):
        return int(value[2:], 8)
    if value.startswith("0x"):
        return int(value[2:], 16)
    return int(value, 10)


def _core_float(value: str) -> float:
    lowered = value.lower()
    if lowered.endswith(".inf"):
        return -math.inf if lowered.startswith("-") else math.inf
    if lowered == ".nan":
        return math.nan
    return float(value)


class _CoreConstructor(SafeConstructor):
    """The safe constructor restricted to the seven core tags (nothing else can reach it)."""

    def _core_scalar(self, node: Node) -> Any:
        assert isinstance(node, ScalarNode)
        if node.tag == _INT:
            return _core_int(node.value)
        if node.tag == _FLOAT:
            return _core_float(node.value)
        if node.tag == _BOOL:
            return node.value in ("true", "True", "TRUE")
        return None


_CoreConstructor.yaml_constructors = {
    _STR: SafeConstructor.construct_yaml_str,
    _SEQ: SafeConstructor.construct_yaml_seq,
    _MAP: SafeConstructor.construct_yaml_map,
    **dict.fromkeys((_INT, _FLOAT, _BOOL, _NULL), _CoreConstructor._core_scalar),
}


class _Loader(Reader, Scanner, Parser, _CoreConstructor, _CoreResolver):
    """Reader → scanner → parser (events) → our composer below → core constructor."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        _CoreConstructor.__init__(self)
        _CoreResolver.__init__(self)


class _TextLoader(_Loader):
    """The same reader, constructing every scalar as the string written (``1.10`` stays ``"1.10"``)."""


_TextLoader.yaml_constructors = {
    **_CoreConstructor.yaml_constructors,
    **dict.fromkeys((_INT, _FLOAT, _BOOL, _NULL), SafeConstructor.construct_yaml_str),
}


class _PortableResolver(_CoreResolver):
    """YAML 1.2 core plus YAML 1.1's implicit types: a string either would read as something else
    (``on``, ``yes``, ``1.0``, ``0o17``, ``2024-01-01``) is written quoted."""


for _first, _resolvers in Resolver.yaml_implicit_resolvers.items():
    for _yaml11_tag, _regexp in _resolvers:
        _PortableResolver.add_implicit_resolver(_yaml11_tag, _regexp, [_first])


class _Dumper(Emitter, Serializer, SafeRepresenter, _PortableResolver):
    """Safe dumper in block style that quotes whatever YAML 1.2 or 1.1 would read as a non-string."""

    def __init__(self, stream: Any) -> None:
        Emitter.__init__(self, stream, allow_unicode=True, width=1 << 30, line_break="\n")
        Serializer.__init__(self, explicit_start=False, explicit_end=False)
        SafeRepresenter.__init__(self, default_flow_style=False, sort_keys=False)
        _PortableResolver.__init__(self)

    def ignore_aliases(self, data: Any) -> bool:
        return True  # never '&id001'/'*id001': the reader refuses them


def _represent_str(dumper: SafeRepresenter, value: str) -> ScalarNode:
    # PyYAML folds line breaks inside plain/single-quoted scalars (a NEL becomes a space): escape them.
    style = '"' if any(ch in value for ch in "\n\r\x85\u2028\u2029") else None
    return dumper.represent_scalar(_STR, value, style=style)


_Dumper.add_representer(str, _represent_str)


# -------------------------------------------------------------------------------------- composer


class _Composer:
    """Builds the node tree from events, enforcing the rules before anything is constructed."""

    def __init__(self, loader: _Loader, source: _Source, limits: FrontmatterLimits) -> None:
        self._loader: Any = loader  # PyYAML's parser methods are untyped in the stubs
        self._source = source
        self._what = source.what
        self._limits = limits
        self._nodes = 0

    def line(self, mark: Any) -> int:
        return self._source.line(mark.index)

    def _next(self) -> Event:
        event: Event = self._loader.get_event()
        return event

    def _peek(self) -> Event:
        event: Event = self._loader.peek_event()
        return event

    def document(self) -> MappingNode:
        self._next()  # StreamStartEvent
        if isinstance(self._peek(), StreamEndEvent):
            raise FrontmatterError(
                "frontmatter-not-mapping",
                f"{self._what} is empty",
                line=self._source.first_line,
                fix="write 'key: value' lines, e.g. 'name: my-skill'",
            )
        start = self._next()
        assert isinstance(start, DocumentStartEvent)
        if start.explicit or start.version or start.tags:
            raise FrontmatterError(
                "frontmatter-yaml",
                f"YAML directives ('%YAML', '%TAG') and '---' markers are not allowed in {self._what}",
                line=self.line(start.start_mark),
                fix="remove the directive or marker line: write one plain YAML mapping",
            )
        root = self._node(depth=1)
        if not isinstance(root, MappingNode):
            kind = "a list" if isinstance(root, SequenceNode) else "a single value"
            raise FrontmatterError(
                "frontmatter-not-mapping",
                f"{self._what} is {kind}, not a mapping of keys to values",
                line=self.line(root.start_mark),
                fix="write 'key: value' lines, e.g. 'name: my-skill'",
            )
        end = self._next()
        assert isinstance(end, DocumentEndEvent)
        following = self._peek()
        if end.explicit or not isinstance(following, StreamEndEvent):
            raise FrontmatterError(
                "frontmatter-yaml",
                f"{self._what} holds more than one YAML document ('...' or '---' marker)",
                line=self.line(end.start_mark if end.explicit else following.start_mark),
                fix="remove the '...'/'--- ' marker: write one plain YAML mapping",
            )
        return root

    def _check_features(self, event: Event) -> None:
        line = self.line(event.start_mark)
        if isinstance(event, AliasEvent) or (isinstance(event, NodeEvent) and event.anchor is not None):
            name = event.anchor if isinstance(event, NodeEvent) else None
            sign = "*" if isinstance(event, AliasEvent) else "&"
            raise FrontmatterError(
                "frontmatter-alias",
                f"YAML anchors and aliases are not allowed ('{sign}{name}')",
                line=line,
                fix="write the value out in full instead of using '&name' and '*name'",
            )
        tag = _tag(event)
        if tag is not None:
            shown = "!!" + tag.removeprefix(_CORE) if tag.startswith(_CORE) else tag
            raise FrontmatterError(
                "frontmatter-tag",
                f"explicit YAML tags are not allowed ({shown!r})",
                line=line,
                fix=f"remove the tag {shown!r}; to make a value a string, put it in quotes",
            )

    def _count(self, event: Event, depth: int) -> None:
        self._nodes += 1
        line = self.line(event.start_mark)
        if self._nodes > self._limits.max_nodes:
            raise FrontmatterError(
                "frontmatter-too-many-nodes",
                f"{self._what} has more than {self._limits.max_nodes} YAML values",
                line=line,
                fix="make it smaller: move long lists out of it",
            )
        if isinstance(event, CollectionStartEvent) and depth > self._limits.max_depth:
            raise FrontmatterError(
                "frontmatter-too-deep",
                f"{self._what} nests lists/mappings more than {self._limits.max_depth} levels deep",
                line=line,
                fix=f"flatten it to at most {self._limits.max_depth} levels of nesting",
            )

    def _node(self, depth: int) -> Node:
        event = self._peek()
        self._check_features(event)
        self._count(event, depth)
        if isinstance(event, ScalarEvent):
            return self._scalar()
        if isinstance(event, SequenceStartEvent):
            return self._sequence(depth)
        return self._mapping(depth)

    def _scalar(self) -> ScalarNode:
        event = self._next()
        assert isinstance(event, ScalarEvent)
        tag = self._loader.resolve(ScalarNode, event.value, event.implicit)
        if tag == _INT and len(event.value) > _MAX_INT_DIGITS:
            raise FrontmatterError(
                "frontmatter-yaml",
                f"a number with more than {_MAX_INT_DIGITS} digits",
                line=self.line(event.start_mark),
                fix="put the value in quotes to make it a string",
            )
        return ScalarNode(tag, event.value, _mark(event.start_mark), _mark(event.end_mark), style=event.style)

    def _sequence(self, depth: int) -> SequenceNode:
        start = self._next()
        items: list[Node] = []
        while not isinstance(self._peek(), SequenceEndEvent):
            items.append(self._node(depth + 1))
        end = self._next()
        return SequenceNode(_SEQ, items, _mark(start.start_mark), _mark(end.end_mark), flow_style=None)

    def _mapping(self, depth: int) -> MappingNode:
        start = self._next()
        pairs: list[tuple[Node, Node]] = []
        seen: dict[str, int] = {}
        while not isinstance(self._peek(), MappingEndEvent):
            key = self._key(depth + 1)
            line = self.line(key.start_mark)
            if key.value in seen:
                raise FrontmatterError(
                    "frontmatter-duplicate-key",
                    f"duplicate key {key.value!r} (first at line {seen[key.value]})",
                    line=line,
                    fix=f"keep only one {key.value!r} key in this mapping",
                )
            seen[key.value] = line
            pairs.append((key, self._node(depth + 1)))
        end = self._next()
        return MappingNode(_MAP, pairs, _mark(start.start_mark), _mark(end.end_mark), flow_style=None)

    def _key(self, depth: int) -> ScalarNode:
        event = self._peek()
        self._check_features(event)
        line = self.line(event.start_mark)
        if not isinstance(event, ScalarEvent):
            raise FrontmatterError(
                "frontmatter-key-type",
                "a key is a list or mapping; keys must be strings",
                line=line,
                fix="use a plain word as the key, e.g. 'name:'",
            )
        self._count(event, depth)
        key = self._scalar()
        if key.tag != _STR:
            shown = key.value or "(empty)"
            raise FrontmatterError(
                "frontmatter-key-type",
                f"the key {shown} is read as {_KIND.get(key.tag, 'a non-string')}; keys must be strings",
                line=line,
                fix=f"put the key in quotes, e.g. '\"{key.value}\":', or use a word",
            )
        return key


def _mark(mark: Any) -> Mark:
    """PyYAML's stubs type event marks loosely; the pure-Python parser always sets a Mark."""
    assert isinstance(mark, Mark)
    return mark


@dataclass(frozen=True)
class _Source:
    """A YAML block, the file line it starts on, and how messages name it."""

    text: str
    first_line: int
    what: str

    def line(self, index: int) -> int:
        """File line of a character index in the block."""
        return self.first_line + self.text.count("\n", 0, index)


def _tag(event: Event) -> str | None:
    if isinstance(event, ScalarEvent | CollectionStartEvent):
        tag: str | None = event.tag
        return tag
    return None


# ----------------------------------------------------------------------------------------- parse


def _split(text: str) -> tuple[int, int, int, int]:
    """Return (where the YAML starts, where it ends, where the body starts, line of the closing
    delimiter)."""
    missing_fix = "start SKILL.md with a line '---', then the YAML frontmatter, then a line '---'"
    if text.startswith(_BOM):
        raise FrontmatterError(
            "frontmatter-missing",
            "the file starts with a byte order mark (BOM) before '---'",
            line=1,
            fix="save SKILL.md as UTF-8 without a byte order mark",
        )
    first_end = text.find("\n")
    first = text if first_end < 0 else text[:first_end]
    if not _DELIMITER.fullmatch(first):
        if first.startswith("---") and "\r" in first.rstrip("\r"):
            message = "the file uses CR-only line endings; the first line must be '---'"
            fix = "save SKILL.md with LF (or CRLF) line endings"
        else:
            message = "the file does not start with a '---' line"
            fix = missing_fix
        raise FrontmatterError("frontmatter-missing", message, line=1, fix=fix)
    if first_end < 0:
        raise FrontmatterError(
            "frontmatter-unterminated",
            "the frontmatter is never closed: no '---' line after it",
            line=1,
            fix="add a line '---' after the frontmatter",
        )
    start = first_end + 1
    closing = _CLOSING.search(text, start)
    if closing is None:
        raise FrontmatterError(
            "frontmatter-unterminated",
            "the frontmatter is never closed: no '---' line after it",
            line=1,
            fix="add a line '---' after the frontmatter",
        )
    closing_line = 2 + text.count("\n", start, closing.start())
    body_start = closing.end() + 1 if text.startswith("\n", closing.end()) else closing.end()
    return start, closing.start(), body_start, closing_line


def _yaml_error(exc: yaml.YAMLError, source: _Source) -> FrontmatterError:
    line: int | None = None
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        at_end = mark is not None and mark.index >= len(source.text.rstrip())
        if at_end and exc.context_mark is not None:
            mark = exc.context_mark  # "found end of stream": point at what was left open
        if mark is not None:
            line = source.line(mark.index)
        context = exc.context
        if context and exc.context_mark is not None and exc.context_mark is not mark:
            context_line = source.line(exc.context_mark.index)
            if context_line != line:
                context = f"{context} (started on line {context_line})"
        parts = [p for p in (context, exc.problem) if p]
        detail = ", ".join(parts) or "invalid YAML"
    elif isinstance(exc, yaml.reader.ReaderError):
        line = source.line(exc.position)
        detail = f"the character U+{exc.character:04X} is not allowed in YAML"
    else:  # pragma: no cover - PyYAML raises only the two kinds above on str input
        detail = "invalid YAML"
    return FrontmatterError(
        "frontmatter-yaml",
        f"{source.what} is not valid YAML: {detail}",
        line=line,
        fix="fix the YAML; put values containing ': ', '#' or starting with a special character in quotes",
    )


def parse(
    text: str, limits: FrontmatterLimits = FrontmatterLimits(), *, as_written: bool = False
) -> Frontmatter:
    """Split a SKILL.md into its frontmatter mapping and body; raise FrontmatterError on any rule.

    ``as_written``: every scalar is the string written (``1.10``, ``yes``, ``~`` stay text), under
    the same refusals."""
    if not isinstance(text, str):
        raise TypeError("parse() takes the decoded text of SKILL.md")
    start, end, body_start, closing_line = _split(text)
    loader = _TextLoader if as_written else _Loader
    mapping, _ = _read(_Source(text[start:end], 2, "the frontmatter"), limits, size_line=1, loader=loader)
    return Frontmatter(
        data=mapping.data, key_lines=mapping.key_lines, body=text[body_start:], body_line=closing_line + 1
    )


def set_value(
    text: str, path: Sequence[str], value: str, limits: FrontmatterLimits = FrontmatterLimits()
) -> str:
    """``text`` (a SKILL.md) with the scalar at ``path`` (e.g. ``("metadata", "version")``) set to the
    string ``value``; every other byte is kept. A quoted value keeps its quotes; a plain one is written
    in double quotes. ``FrontmatterError`` (``frontmatter-edit``) when ``path`` does not lead to a
    one-line scalar, or when the result would read back as anything else."""
    if not path:
        raise ValueError("set_value() needs a key path")
    start, end, _, _ = _split(text)
    source = _Source(text[start:end], 2, "the frontmatter")
    _, root = _read(source, limits, size_line=1)
    node: Node = root
    parent = ".".join(path[:-1])
    for key in path:
        found = None
        if isinstance(node, MappingNode):
            found = next((v for k, v in node.value if k.value == key), None)
        if found is None:
            where = f"under '{parent}:'" if parent else "in the frontmatter"
            raise FrontmatterError(
                "frontmatter-edit",
                f"cannot find a '{path[-1]}:' line {where} to change",
                line=None,
                fix=f'set `{path[-1]}: "{value}"` {where} by hand',
            )
        node = found
    if not isinstance(node, ScalarNode) or node.style not in (None, '"', "'") or "\n" in node.value:
        raise FrontmatterError(
            "frontmatter-edit",
            f"'{'.'.join(path)}' is not a one-line value that can be changed in place",
            line=source.line(node.start_mark.index),
            fix=f'write it as `{path[-1]}: "{value}"` by hand',
        )
    quoted = (
        "'" + value.replace("'", "''") + "'" if node.style == "'" else json.dumps(value, ensure_ascii=False)
    )
    out = text[: start + node.start_mark.index] + quoted + text[start + node.end_mark.index :]
    before, after = parse(text, limits), parse(out, limits)
    if _without(after.data, path) != _without(before.data, path) or _get(after.data, path) != value:
        raise FrontmatterError(
            "frontmatter-edit",
            f"could not change '{'.'.join(path)}' safely",
            line=source.line(node.start_mark.index),
            fix=f'set it to "{value}" by hand',
        )
    return out


def _get(data: Mapping[str, Any], path: Sequence[str]) -> Any:
    value: Any = data
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _without(data: Mapping[str, Any], path: Sequence[str]) -> Any:
    """``data`` with the value at ``path`` removed (to compare everything else)."""
    out = dict(data)
    if len(path) == 1:
        out.pop(path[0], None)
    elif isinstance(out.get(path[0]), Mapping):
        out[path[0]] = _without(out[path[0]], path[1:])
    return out


@dataclass(frozen=True)
class YamlMapping:
    """A strictly read YAML mapping and the file line of each top-level key."""

    data: Mapping[str, Any]
    key_lines: Mapping[str, int]

    def __post_init__(self) -> None:
        if set(self.key_lines) != set(self.data):
            raise ValueError("key_lines must name exactly the keys of data")
        object.__setattr__(self, "data", MappingProxyType(dict(self.data)))
        object.__setattr__(self, "key_lines", MappingProxyType(dict(self.key_lines)))


def parse_yaml(
    text: str,
    limits: FrontmatterLimits = FrontmatterLimits(),
    *,
    what: str = "the file",
    first_line: int = 1,
) -> YamlMapping:
    """Read a whole YAML file (e.g. ``access.yaml``) under the same rules as a frontmatter.

    Same refusals and rule ids as :func:`parse` (``frontmatter-*``); messages name the input ``what``
    and lines count from ``first_line``. An empty file is refused (``frontmatter-not-mapping``); a
    leading ``---`` document marker is refused (``frontmatter-yaml``) like any other marker.
    """
    if not isinstance(text, str):
        raise TypeError("parse_yaml() takes decoded text")
    return _read(_Source(text, first_line, what), limits, size_line=None)[0]


def _read(
    source: _Source, limits: FrontmatterLimits, *, size_line: int | None, loader: type[_Loader] = _Loader
) -> tuple[YamlMapping, MappingNode]:
    size = len(source.text.encode("utf-8", "surrogatepass"))
    if size > limits.max_bytes:
        raise FrontmatterError(
            "frontmatter-too-large",
            f"{source.what} is {size} bytes; the limit is {limits.max_bytes}",
            line=size_line,
            fix="shorten it; long text belongs in the body of SKILL.md, not in the frontmatter",
        )
    try:
        reader = loader(source.text)
        try:
            root = _Composer(reader, source, limits).document()
            data = reader.construct_document(root)
        finally:
            reader.dispose()
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, source) from None
    key_lines = {key.value: source.line(key.start_mark.index) for key, _ in root.value}
    return YamlMapping(data=data, key_lines=key_lines), root


# ---------------------------------------------------------------------------------------- render


def render(data: Mapping[str, Any], body: str = "") -> str:
    """Write ``---``, ``data`` as block YAML, ``---``, then ``body``; :func:`parse` reads it back.

    Values must be what :func:`parse` returns (str/int/float/bool/None/list/dict with str keys).
    """
    return f"---\n{_dump(data)}---\n{body}"


def replace(text: str, data: Mapping[str, Any]) -> str:
    """``text`` (a SKILL.md that :func:`parse` accepts) with its frontmatter block rewritten from
    ``data``; the block keeps the file's line ending (LF or CRLF), and the closing ``---`` line and
    the body are kept byte for byte (the upload zip's stamp)."""
    start, end, _, _ = _split(text)
    newline = "\r\n" if text[:start].endswith("\r\n") else "\n"
    return text[:start] + _dump(data).replace("\n", newline) + text[end:]


def _dump(data: Mapping[str, Any]) -> str:
    if not data:
        raise ValueError("a frontmatter needs at least one key")
    _check_renderable([dict(data)])
    stream = io.StringIO()
    dumper = _Dumper(stream)
    try:
        dumper.open()
        dumper.represent(dict(data))
        dumper.close()
    finally:
        dumper.dispose()
    return stream.getvalue()


def _check_renderable(values: Iterable[Any]) -> None:
    for value in values:
        if isinstance(value, dict):
            if not all(isinstance(k, str) for k in value):
                raise TypeError("frontmatter keys must be strings")
            _check_renderable(value.values())
        elif isinstance(value, list):
            _check_renderable(value)
        elif value is not None and not isinstance(value, str | int | float | bool):
            raise TypeError(f"cannot write a {type(value).__name__} into a frontmatter")
