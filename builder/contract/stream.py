"""Reading a large JSON object one list entry at a time, so it never exists whole as a tree of objects.

``stream_object(text, lists, make)`` reads a top-level JSON object whose keys are all distinct; under
each key of ``lists`` that holds a JSON array, every element is parsed alone and handed to
``make(key, index, element)`` right away (its parsed form can then be dropped). The result is the
object with those keys holding the lists of what ``make`` returned. Anything of another shape (not
an object, a repeated key, …) gives ``None``, and invalid JSON ``None`` or ``json.JSONDecodeError``:
either way the caller parses the text whole with ``json.loads``, which stays the reference for every
edge case.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection
from typing import Any

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


def stream_object(
    text: str, lists: Collection[str], make: Callable[[str, int, Any], Any]
) -> dict[str, Any] | None:
    def skip(i: int) -> int:
        match = _SPACE.match(text, i)
        assert match is not None
        return match.end()

    def at(i: int, chars: str) -> str | None:
        return text[i] if i < len(text) and text[i] in chars else None

    members: dict[str, Any] = {}
    i = skip(0)
    if at(i, "{") is None:
        return None
    i = skip(i + 1)
    while True:
        if at(i, '"') is None:
            return None
        name, i = _DECODER.raw_decode(text, i)
        i = skip(i)
        if at(i, ":") is None or name in members:
            return None
        i = skip(i + 1)
        if name in lists and at(i, "["):
            made: list[Any] = []
            i = skip(i + 1)
            if at(i, "]"):
                i += 1
            else:
                while True:
                    element, i = _DECODER.raw_decode(text, i)
                    made.append(make(name, len(made), element))
                    del element
                    i = skip(i)
                    after = at(i, ",]")
                    if after is None:
                        return None
                    if after == "]":
                        i += 1
                        break
                    i = skip(i + 1)
            members[name] = made
        else:
            members[name], i = _DECODER.raw_decode(text, i)
        i = skip(i)
        after = at(i, ",}")
        if after is None:
            return None
        if after == "}":
            break
        i = skip(i + 1)
    return members if skip(i + 1) == len(text) else None
