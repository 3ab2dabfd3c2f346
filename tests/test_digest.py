"""Agent Skills Discovery v0.2 digests: the RFC's worked example and the properties clients rely on."""

from __future__ import annotations

import hashlib

import pytest

from builder.digest import file_digest, is_digest, skill_digest
from builder.model import SkillFile

RFC_SKILL = [SkillFile("SKILL.md", b"# Hello\n"), SkillFile("scripts/run.sh", b"#!/bin/sh\n")]


def test_file_digest_matches_rfc_table() -> None:
    assert file_digest(b"# Hello\n") == (
        "sha256:90f8ec5669cd34183b9b0fdf8b94f5efb4c3672876330f4aa76088c2b4ad17be"
    )
    assert file_digest(b"#!/bin/sh\n") == (
        "sha256:a8076d3d28d21e02012b20eaf7dbf75409a6277134439025f282e368e3305abf"
    )


def test_skill_digest_reproduces_rfc_worked_example() -> None:
    assert skill_digest(RFC_SKILL) == (
        "sha256:34f7a8c484e9991f3e71a309f31332d6335efc01f544105c4185a7c4ab12eb1e"
    )


def test_skill_digest_ignores_input_order() -> None:
    assert skill_digest(list(reversed(RFC_SKILL))) == skill_digest(RFC_SKILL)


def test_skill_digest_sorts_by_byte_order_not_locale() -> None:
    # "B" (0x42) < "a" (0x61) in byte order; a case-insensitive sort would flip them.
    files = [SkillFile("a.md", b"1"), SkillFile("B.md", b"2")]
    manual = hashlib.sha256(
        b"B.md\0" + files[1].sha256.encode() + b"\n" + b"a.md\0" + files[0].sha256.encode() + b"\n"
    )
    assert skill_digest(files) == "sha256:" + manual.hexdigest()


@pytest.mark.parametrize(
    "changed",
    [
        [SkillFile("SKILL.md", b"# Hello!\n"), RFC_SKILL[1]],  # content
        [RFC_SKILL[0], SkillFile("scripts/run2.sh", b"#!/bin/sh\n")],  # rename
        [RFC_SKILL[0]],  # removal
        [*RFC_SKILL, SkillFile("extra.txt", b"")],  # addition
    ],
)
def test_skill_digest_changes_with_any_file_change(changed: list[SkillFile]) -> None:
    assert skill_digest(changed) != skill_digest(RFC_SKILL)


def test_skill_digest_refuses_a_path_listed_twice() -> None:
    with pytest.raises(ValueError, match="twice"):
        skill_digest([RFC_SKILL[0], SkillFile("SKILL.md", b"other")])


def test_is_digest() -> None:
    assert is_digest(skill_digest(RFC_SKILL))
    assert not is_digest("sha256:" + "A" * 64)
    assert not is_digest("md5:" + "a" * 64)
    assert not is_digest(None)
