"""Reading a JSON document strictly, with the field's path (``skills[3].zip.sha256``) in every error,
and the shapes of the values that become names, paths and links (each with the words an error uses)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from builder.errors import IndexMalformed

T = TypeVar("T")
_SHAPES: dict[str, str] = {}


def shape(regex: str, description: str) -> re.Pattern[str]:
    """A compiled pattern whose mismatch errors say ``description``."""
    _SHAPES[regex] = description
    return re.compile(regex)


PLUGIN_NAME_RE = shape(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", "a plugin name (letters, digits, '.', '_', '-')")
SKILL_NAME_RE = shape(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", "a kebab-case skill name")
# the index name: the bare skill name, or ``plugin.skill`` when several plugins share the name
SKILL_KEY_RE = shape(
    r"^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,63}\.)?[a-z0-9]+(?:-[a-z0-9]+)*$",
    "a skill index name (kebab-case, or plugin.skill)",
)
ZIP_PATH_RE = shape(r"^[A-Za-z0-9._+-]+(?:/[A-Za-z0-9._+-]+)*$", "a plain relative path")
SHA256_RE = shape(r"^[0-9a-f]{64}$", "64 lowercase hex digits")
BASE_URL_RE = shape(
    r"^https?://[A-Za-z0-9.\-]+(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~%\-]+)*/?$",
    "an http(s) URL like https://skills.corp.example/",
)
LINK_RE = shape(r"^https?://[^\s<>\"']{1,492}$", "an http(s) URL")
TIME_RE = shape(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$", "a UTC time like 2026-01-31T00:00:00Z")


def _kind(value: Any) -> str:
    return "missing" if value is None else type(value).__name__


class JsonObject:
    """A JSON object being read, with its path (``skills[3].zip``) for error messages."""

    def __init__(self, value: Any, where: str) -> None:
        if not isinstance(value, Mapping):
            raise IndexMalformed(f"index.json: {where} must be an object, not {_kind(value)}")
        self.value = value
        self.where = where

    def _at(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def _fail(self, key: str, what: str) -> IndexMalformed:
        return IndexMalformed(f"index.json: {self._at(key)} must be {what}, not {_kind(self.value.get(key))}")

    def has(self, key: str) -> bool:
        return key in self.value

    def text(self, key: str, *, pattern: re.Pattern[str] | None = None, default: str | None = None) -> str:
        value = self.value.get(key, default)
        if not isinstance(value, str):
            raise self._fail(key, "a string" if default is None else "a string (or absent)")
        if pattern is not None and not pattern.match(value):
            what = _SHAPES.get(pattern.pattern, f"of the form {pattern.pattern}")
            raise IndexMalformed(f"index.json: {self._at(key)} {value[:80]!r} is not {what}")
        return value

    def opt_text(self, key: str, *, pattern: re.Pattern[str] | None = None) -> str | None:
        if self.value.get(key) is None:
            return None
        return self.text(key, pattern=pattern)

    def integer(self, key: str, *, minimum: int = 0, default: int | None = None) -> int:
        value = self.value.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise self._fail(key, f"an integer ≥ {minimum}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.value.get(key, default)
        if not isinstance(value, bool):
            raise self._fail(key, "true or false")
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.value.get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(key, "a list of strings")
        return tuple(value)

    def items(self, key: str, make: Callable[[JsonObject], T]) -> tuple[T, ...]:
        value = self.value.get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self._fail(key, "a list")
        return tuple(make(JsonObject(v, f"{self._at(key)}[{i}]")) for i, v in enumerate(value))

    def obj(self, key: str) -> JsonObject:
        return JsonObject(self.value.get(key), self._at(key))

    def opt_obj(self, key: str) -> JsonObject | None:
        return None if self.value.get(key) is None else self.obj(key)
