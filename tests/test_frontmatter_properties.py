"""Property tests for frontmatter parsing: arbitrary input fails only with FrontmatterError (T40/T41),
and every mapping of safe values survives render → parse unchanged."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.frontmatter import Frontmatter, FrontmatterError, FrontmatterLimits, parse, render

MANY = settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Characters that drive PyYAML into its interesting states, plus some Unicode and control characters.
YAML_ALPHABET = st.sampled_from(
    [*list("abcxyz019 :-?,[]{}#&*!|>'\"%@`\\\n\t\r.~"), "\r\n", "---", "...", "é", "\u2028", "\x00", "\ufeff"]
)
yamlish = st.lists(YAML_ALPHABET, max_size=60).map("".join)
any_text = st.text(max_size=200)
# Arbitrary text, often shaped like a SKILL.md: random pieces glued with delimiter-like lines.
skill_md_like = st.lists(
    st.text(max_size=40) | st.sampled_from(["---\n", "\n---\n", "---\r\n", "--- \n", "\n", "a: b\n"]),
    max_size=8,
).map("".join)


def check_invariants(text: str, fm: Frontmatter) -> None:
    assert all(isinstance(k, str) for k in fm.data)
    assert list(fm.key_lines) == list(fm.data)
    assert text.endswith(fm.body)
    head = text[: len(text) - len(fm.body)]  # the frontmatter and its delimiter lines
    # the body starts on the line after the closing '---' (even when the file ends right there)
    assert fm.body_line == head.count("\n") + (1 if head.endswith("\n") else 2)
    assert all(2 <= line < fm.body_line - 1 for line in fm.key_lines.values())


def parse_or_refuse(text: str, limits: FrontmatterLimits = FrontmatterLimits()) -> None:  # noqa: B008
    try:
        fm = parse(text, limits)
    except FrontmatterError as err:
        assert err.rule.startswith("frontmatter-")
        assert str(err) and err.fix
        assert err.line is None or err.line >= 1
    else:
        check_invariants(text, fm)


@pytest.mark.threat("T40")
@MANY
@given(any_text | skill_md_like)
def test_t40_arbitrary_text_only_ever_raises_frontmatter_error(text: str) -> None:
    parse_or_refuse(text)


@pytest.mark.threat("T40")
@MANY
@given(yamlish, any_text)
def test_t40_arbitrary_yaml_block_only_ever_raises_frontmatter_error(block: str, body: str) -> None:
    parse_or_refuse(f"---\n{block}\n---\n{body}")


@pytest.mark.threat("T41")
@MANY
@given(yamlish, st.integers(1, 4), st.integers(1, 30), st.integers(1, 200))
def test_t41_arbitrary_yaml_under_tight_limits_only_raises_frontmatter_error(
    block: str, depth: int, nodes: int, size: int
) -> None:
    parse_or_refuse(
        f"---\n{block}\n---\n", FrontmatterLimits(max_bytes=size, max_depth=depth, max_nodes=nodes)
    )


# ------------------------------------------------------------------------------------ round trip

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
    | st.sampled_from(
        ["yes", "no", "on", "0o17", "0x1F", "1e3", "~", "null", "2024-01-01", "<<", "---", "..."]
    )
)
keys = st.text(max_size=20) | st.sampled_from(["name", "description", "metadata", "1", "true", "null", "<<"])
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=8,
)
mappings = st.dictionaries(keys, values, min_size=1, max_size=5)


def same(a: Any, b: Any) -> bool:
    """Equality that also checks types (True != 1 here) and treats -0.0 like YAML does."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, float):
        return isinstance(b, float) and (a == b or (math.isinf(a) and a == b))
    return type(a) is type(b) and a == b


@pytest.mark.threat("T40")
@MANY
@given(mappings, st.text(max_size=40))
def test_t40_safe_mappings_round_trip_through_render_and_parse(data: dict[str, Any], body: str) -> None:
    text = render(data, body)
    fm = parse(text, FrontmatterLimits(max_bytes=1 << 20))
    assert same(data, dict(fm.data))
    assert fm.body == body
    assert list(fm.key_lines) == list(data)
    check_invariants(text, fm)
