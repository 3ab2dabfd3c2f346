"""SKILL.md frontmatter parsing: every rule good and bad (threats T40 malformed, T41 YAML bombs/tags)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from builder.errors import BadInput
from builder.frontmatter import (
    Frontmatter,
    FrontmatterError,
    FrontmatterLimits,
    parse,
    parse_yaml,
    render,
    replace,
    set_value,
)

GOOD = """---
name: pdf-tools
# a comment
description: Fill and merge PDF forms.

metadata:
  version: "1.2.0"
  owner: docs-team
allowed-tools: Bash Read
---
# PDF tools

Use this skill when…
"""


def refused(text: str, rule: str, limits: FrontmatterLimits | None = None) -> FrontmatterError:
    with pytest.raises(FrontmatterError) as info:
        parse(text, limits or FrontmatterLimits())
    err = info.value
    assert err.rule == rule, f"expected {rule}, got {err.rule}: {err}"
    assert str(err) and err.fix, "every refusal needs a message and a fix"
    return err


# ----------------------------------------------------------------------------------------- good


def test_good_frontmatter_gives_data_key_lines_and_body() -> None:
    fm = parse(GOOD)
    assert isinstance(fm, Frontmatter)
    assert dict(fm.data) == {
        "name": "pdf-tools",
        "description": "Fill and merge PDF forms.",
        "metadata": {"version": "1.2.0", "owner": "docs-team"},
        "allowed-tools": "Bash Read",
    }
    assert dict(fm.key_lines) == {"name": 2, "description": 4, "metadata": 6, "allowed-tools": 9}
    assert fm.body == "# PDF tools\n\nUse this skill when…\n"
    assert fm.body_line == 11
    assert GOOD.splitlines()[fm.body_line - 1] == "# PDF tools"


def test_crlf_file_is_accepted_and_its_body_kept_byte_for_byte() -> None:
    text = GOOD.replace("\n", "\r\n")
    fm = parse(text)
    assert fm.data["description"] == "Fill and merge PDF forms."
    assert fm.data["metadata"] == {"version": "1.2.0", "owner": "docs-team"}
    assert dict(fm.key_lines) == {"name": 2, "description": 4, "metadata": 6, "allowed-tools": 9}
    assert fm.body == "# PDF tools\r\n\r\nUse this skill when…\r\n"
    assert fm.body_line == 11
    assert text.endswith(fm.body)


@pytest.mark.parametrize(
    ("text", "body", "body_line"),
    [
        ("---\nname: a\n---", "", 4),
        ("---\nname: a\n---\n", "", 4),
        (
            "---\nname: a\n---\n\n\n  indented\n---\nmore: yaml-looking\n",
            "\n\n  indented\n---\nmore: yaml-looking\n",
            4,
        ),
        ("---  \nname: a\n---\t\nbody", "body", 4),
        ("---\nname: a\n---\nno newline at end", "no newline at end", 4),
    ],
)
def test_body_is_everything_after_the_closing_line_exactly(text: str, body: str, body_line: int) -> None:
    fm = parse(text)
    assert fm.data == {"name": "a"}
    assert fm.body == body
    assert fm.body_line == body_line


def test_scalars_follow_the_yaml_1_2_core_schema() -> None:
    fm = parse(
        "---\n"
        "yes_: yes\nno_: off\nt: true\nf: FALSE\nn: ~\nempty:\nnull_: null\n"
        "dec: 012\noct: 0o17\nhex: 0x1F\nneg: -3\nflt: 1.5\nexp: 1e3\ninf: -.inf\n"
        "date: 2024-01-01\nver: 1.2.0\nquoted: '42'\n<<: {x: 1}\n"
        "---\n"
    )
    d = fm.data
    assert d["yes_"] == "yes" and d["no_"] == "off"
    assert d["t"] is True and d["f"] is False
    assert d["n"] is None and d["empty"] is None and d["null_"] is None
    assert d["dec"] == 12 and d["oct"] == 15 and d["hex"] == 31 and d["neg"] == -3
    assert d["flt"] == 1.5 and d["exp"] == 1000.0 and d["inf"] == -math.inf
    assert d["date"] == "2024-01-01" and d["ver"] == "1.2.0" and d["quoted"] == "42"
    assert d["<<"] == {"x": 1}, "no YAML 1.1 merge keys"


def test_the_record_is_read_only() -> None:
    fm = parse(GOOD)
    with pytest.raises(TypeError):
        fm.data["name"] = "other"  # type: ignore[index]
    with pytest.raises(AttributeError):
        fm.body = "x"  # type: ignore[misc]


def test_render_writes_what_parse_reads_back() -> None:
    data = {"name": "a", "b": "yes", "c": "0o17", "d": [1, {"x": None}], "e": "multi\n---\nline", "f": 1.5}
    fm = parse(render(data, "body\n"))
    assert fm.data == data
    assert fm.body == "body\n"
    with pytest.raises(TypeError):
        render({"when": Path("x")})
    with pytest.raises(ValueError, match="at least one key"):
        render({})


# --------------------------------------------------------------------------- T40 malformed shape


@pytest.mark.threat("T40")
@pytest.mark.parametrize(
    "text",
    [
        "name: a\n---\n",
        "\n---\nname: a\n---\n",
        " ---\nname: a\n---\n",
        "----\nname: a\n---\n",
        "",
        "# title\n",
    ],
)
def test_t40_frontmatter_missing(text: str) -> None:
    err = refused(text, "frontmatter-missing")
    assert err.line == 1
    assert "'---'" in str(err)


@pytest.mark.threat("T40")
def test_t40_frontmatter_missing_for_a_byte_order_mark() -> None:
    err = refused("\ufeff---\nname: a\n---\n", "frontmatter-missing")
    assert "byte order mark" in str(err)
    assert "BOM" in str(err) or "byte order mark" in err.fix


@pytest.mark.threat("T40")
def test_t40_frontmatter_missing_for_cr_only_line_endings() -> None:
    err = refused("---\rname: a\r---\rbody\r", "frontmatter-missing")
    assert "CR" in str(err)


@pytest.mark.threat("T40")
@pytest.mark.parametrize(
    "text", ["---", "---\n", "---\nname: a\n", "---\nname: a\n--- x\n", "---\nname: a\n ---\n"]
)
def test_t40_frontmatter_unterminated(text: str) -> None:
    err = refused(text, "frontmatter-unterminated")
    assert err.line == 1
    assert "'---'" in err.fix


@pytest.mark.threat("T40")
@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("---\n---\n", "empty"),
        ("---\n# only a comment\n\n---\n", "empty"),
        ("---\n- name\n- a\n---\n", "list"),
        ("---\njust a sentence\n---\n", "single value"),
        ("---\n[a, b]\n---\n", "list"),
    ],
)
def test_t40_frontmatter_not_mapping(text: str, word: str) -> None:
    err = refused(text, "frontmatter-not-mapping")
    assert word in str(err)


@pytest.mark.threat("T40")
@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("---\nname: a\ndescription: b: c\n---\n", 3),
        ("---\nname: a\n\n\nlist: [a, b\n---\n", 5),
        ("---\r\nname: a\r\n\r\ndescription: b: c\r\n---\r\n", 4),
        ("---\nname: 'open\n---\n", 2),
        ("---\nname: value\n  bad indent: x\n---\n", 3),
        ("---\nname:\tvalue\n---\n", 2),
        ("---\nname: a\x07\n---\n", 2),
    ],
)
def test_t40_frontmatter_yaml_syntax_error_names_the_file_line(text: str, line: int) -> None:
    err = refused(text, "frontmatter-yaml")
    assert err.line == line
    assert "not valid YAML" in str(err)


@pytest.mark.threat("T40")
@pytest.mark.parametrize(
    "text",
    [
        "---\nname: a\n...\n---\n",
        "---\nname: a\n--- b\n---\n",
        "---\n--- {name: a}\n---\n",
        "---\n%YAML 1.1\n--- a\n---\n",
    ],
)
def test_t40_frontmatter_yaml_one_plain_document_only(text: str) -> None:
    refused(text, "frontmatter-yaml")


@pytest.mark.threat("T40")
@pytest.mark.parametrize(
    ("text", "key", "line", "first"),
    [
        ("---\nname: a\ndescription: b\nname: evil\n---\n", "name", 4, 2),
        ("---\nname: a\n'name': b\n---\n", "name", 3, 2),
        ('---\n"name": a\nname: b\n---\n', "name", 3, 2),
        ("---\nmetadata:\n  version: '1'\n  version: '2'\n---\n", "version", 4, 3),
        ("---\nlist:\n- {a: 1, a: 2}\n---\n", "a", 3, 3),
    ],
)
def test_t40_frontmatter_duplicate_key_at_any_level(text: str, key: str, line: int, first: int) -> None:
    err = refused(text, "frontmatter-duplicate-key")
    assert err.line == line
    assert repr(key) in str(err)
    assert f"line {first}" in str(err)


@pytest.mark.threat("T40")
@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("---\n1: x\n---\n", 2),
        ("---\nname: a\nnull: x\n---\n", 3),
        ("---\ntrue: x\n---\n", 2),
        ("---\n~: x\n---\n", 2),
        ("---\n? [a]\n: b\n---\n", 2),
        ("---\n? {a: 1}\n: b\n---\n", 2),
        ("---\nmetadata:\n  1.5: x\n---\n", 3),
    ],
)
def test_t40_frontmatter_key_type_keys_must_be_strings(text: str, line: int) -> None:
    err = refused(text, "frontmatter-key-type")
    assert err.line == line
    assert "strings" in str(err)


def test_quoted_number_keys_are_strings() -> None:
    assert parse("---\n'1': x\n\"true\": y\n---\n").data == {"1": "x", "true": "y"}


@pytest.mark.threat("T40")
def test_t40_errors_are_bad_input_with_rule_line_fix() -> None:
    err = refused("---\nname: a\nname: b\n---\n", "frontmatter-duplicate-key")
    assert isinstance(err, BadInput)
    assert (err.rule, err.line) == ("frontmatter-duplicate-key", 3)
    assert "name" in err.fix


# ------------------------------------------------------------------------ T41 YAML features, caps

BILLION_LAUGHS = """---
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
---
"""


@pytest.mark.threat("T41")
def test_t41_billion_laughs_is_refused_as_an_alias_bomb() -> None:
    err = refused(BILLION_LAUGHS, "frontmatter-alias")
    assert err.line == 2
    assert "&a" in str(err)


@pytest.mark.threat("T41")
@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("---\nname: &n a\n---\n", 2),
        ("---\nname: a\nlist: &l\n  - x\n---\n", 3),
        ("---\n&k name: a\n---\n", 2),
        ("---\nname: a\ncopy: *n\n---\n", 3),
        ("---\nname: a\n*k : b\n---\n", 3),
        ("---\n&root\nname: a\n---\n", 2),
    ],
)
def test_t41_frontmatter_alias_anchors_and_aliases_refused(text: str, line: int) -> None:
    err = refused(text, "frontmatter-alias")
    assert err.line == line


@pytest.mark.threat("T41")
@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("!!python/object/apply:os.system ['echo pwned']", "!!python/object/apply:os.system"),
        ("!!python/name:os.system ''", "!!python/name:os.system"),
        ("!!binary aGVsbG8=", "!!binary"),
        ("!!str 1", "!!str"),
        ("!!timestamp 2024-01-01", "!!timestamp"),
        ("!!set {a, b}", "!!set"),
        ("!!map {a: 1}", "!!map"),
        ("!!seq [a]", "!!seq"),
        ("!foo bar", "!foo"),
        ("! bar", "!"),
        ("!<tag:example.com,2000:x> bar", "tag:example.com,2000:x"),
    ],
)
def test_t41_frontmatter_tag_any_explicit_tag_refused(value: str, shown: str) -> None:
    err = refused(f"---\nname: a\nvalue: {value}\n---\n", "frontmatter-tag")
    assert err.line == 3
    assert repr(shown) in str(err)


@pytest.mark.threat("T41")
def test_t41_frontmatter_tag_on_a_key_or_the_root_refused() -> None:
    assert refused("---\n!!python/str name: a\n---\n", "frontmatter-tag").line == 2
    assert refused("---\n!!map\nname: a\n---\n", "frontmatter-tag").line == 2


@pytest.mark.threat("T41")
def test_t41_python_object_tag_never_runs_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f"---\nname: a\nx: !!python/object/apply:os.system ['touch {marker}']\n---\n"
    refused(text, "frontmatter-tag")
    assert not marker.exists()


@pytest.mark.threat("T41")
def test_t41_frontmatter_too_large_is_checked_before_yaml() -> None:
    limits = FrontmatterLimits(max_bytes=100)
    ok = "---\nd: " + "x" * 93 + "\n---\n"  # 3 + 93 + 1 = 97 bytes of YAML
    assert parse(ok, limits).data["d"] == "x" * 93
    # invalid YAML *and* an alias: the size cap wins, so nothing was parsed
    bad = "---\nd: &a *a : [" + "x" * 100 + "\n---\n"
    err = refused(bad, "frontmatter-too-large", limits)
    assert "100" in str(err)
    # the cap counts UTF-8 bytes, not characters
    refused("---\nd: " + "é" * 50 + "\n---\n", "frontmatter-too-large", limits)


@pytest.mark.threat("T41")
def test_t41_frontmatter_too_large_default_cap_is_16_kib() -> None:
    big = "---\nname: a\ndescription: " + "x" * (16 * 1024) + "\n---\nbody"
    err = refused(big, "frontmatter-too-large")
    assert err.line == 1
    long_body = "---\nname: a\n---\n" + "body " * 100_000
    assert parse(long_body).data == {"name": "a"}


def nested(depth: int, flow: bool) -> str:
    if flow:
        return "---\nk: " + "[" * (depth - 1) + "x" + "]" * (depth - 1) + "\n---\n"
    lines = [("  " * i) + f"k{i}:" for i in range(depth)]
    return "---\n" + "\n".join(lines) + " x\n---\n"


@pytest.mark.threat("T41")
@pytest.mark.parametrize("flow", [True, False])
def test_t41_frontmatter_too_deep(flow: bool) -> None:
    assert parse(nested(8, flow))  # the root mapping + 7 nested collections = 8 levels
    err = refused(nested(9, flow), "frontmatter-too-deep")
    assert err.line == (2 if flow else 10)  # a block mapping starts at its first key
    refused(nested(3, flow), "frontmatter-too-deep", FrontmatterLimits(max_depth=2))


@pytest.mark.threat("T41")
def test_t41_deep_flow_nesting_is_refused_not_a_crash() -> None:
    refused("---\nk: " + "[" * 20_000 + "\n---\n", "frontmatter-too-large")
    refused("---\nk: " + "[" * 5000 + "]" * 5000 + "\n---\n", "frontmatter-too-deep")


@pytest.mark.threat("T41")
def test_t41_frontmatter_too_many_nodes() -> None:
    fits = "".join(f"- i{n}\n" for n in range(1997))  # root + key + list + 1997 items = 2000
    assert len(parse(f"---\nk:\n{fits}---\n").data["k"]) == 1997
    err = refused(f"---\nk:\n{fits}- one-more\n---\n", "frontmatter-too-many-nodes")
    assert err.line == 3 + 1997  # 'k:' is line 2, item n is line 3 + n
    refused("---\na: 1\nb: 2\n---\n", "frontmatter-too-many-nodes", FrontmatterLimits(max_nodes=4))
    assert parse("---\na: 1\nb: 2\n---\n", FrontmatterLimits(max_nodes=5))


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_depth"):
        FrontmatterLimits(max_depth=0)


@pytest.mark.threat("T40")
def test_t40_frontmatter_yaml_error_names_where_the_open_construct_started() -> None:
    err = refused("---\nname: [broken\ndescription: x\n---\n", "frontmatter-yaml")
    assert err.line == 3
    assert "started on line 2" in str(err)


# ------------------------------------------------------------------ whole YAML files (access.yaml)


def test_parse_yaml_reads_a_whole_file_with_its_own_line_numbers() -> None:
    doc = parse_yaml("# access\ngroups:\n  staff: [a@x.example]\nplugins:\n  p: {read: [staff]}\n")
    assert doc.data == {"groups": {"staff": ["a@x.example"]}, "plugins": {"p": {"read": ["staff"]}}}
    assert dict(doc.key_lines) == {"groups": 2, "plugins": 4}


@pytest.mark.threat("T41")
def test_t41_parse_yaml_refuses_the_same_features_and_names_the_file() -> None:
    with pytest.raises(FrontmatterError) as info:
        parse_yaml("groups: &g [a]\nother: *g\n", what="access.yaml")
    assert info.value.rule == "frontmatter-alias"
    assert info.value.line == 1
    with pytest.raises(FrontmatterError) as info:
        parse_yaml("a: 1\nb: 2\na: 3\n", what="access.yaml")
    assert (info.value.rule, info.value.line) == ("frontmatter-duplicate-key", 3)
    with pytest.raises(FrontmatterError) as info:
        parse_yaml("a: [1\n", what="access.yaml")
    assert str(info.value).startswith("access.yaml is not valid YAML")
    for text, rule in [("", "frontmatter-not-mapping"), ("---\na: 1\n", "frontmatter-yaml")]:
        with pytest.raises(FrontmatterError) as info:
            parse_yaml(text)
        assert info.value.rule == rule
    with pytest.raises(FrontmatterError) as info:
        parse_yaml("a: " + "x" * 200, FrontmatterLimits(max_bytes=100))
    assert (info.value.rule, info.value.line) == ("frontmatter-too-large", None)


# --------------------------------------------------------------- as written, edit in place, replace


def test_as_written_keeps_every_scalar_as_the_text_under_the_same_refusals() -> None:
    text = "---\nname: on\nv: 1.10\nb: yes\nn: ~\nt: true\nl: [0o17, 1e3]\nm:\n  k: 2.0\n---\nbody\n"
    fm = parse(text, as_written=True)
    assert dict(fm.data) == {
        "name": "on",
        "v": "1.10",
        "b": "yes",
        "n": "~",
        "t": "true",
        "l": ["0o17", "1e3"],
        "m": {"k": "2.0"},
    }
    assert parse(text).data["v"] == 1.1  # the typed reading, for contrast
    with pytest.raises(FrontmatterError) as refused:
        parse("---\na: &x 1\nb: *x\n---\n", as_written=True)
    assert refused.value.rule == "frontmatter-alias"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("  version: 0.9.0  # was 0.8\r\n", '  version: "1.0.0"  # was 0.8\r\n'),
        ("  version: '0.9.0'\r\n", "  version: '1.0.0'\r\n"),
        ('  version: "0.9.0"\r\n', '  version: "1.0.0"\r\n'),
        ("  version: 0.9\r\n", '  version: "1.0.0"\r\n'),
    ],
)
def test_set_value_changes_only_the_value_bytes(line: str, expected: str) -> None:
    before = (
        "---\r\nname: a\r\nmetadata:\r\n  author: x\r\n" + line + "  other: y\r\n---\r\nversion: 0.9.0\r\n"
    )
    after = set_value(before, ("metadata", "version"), "1.0.0")
    assert after == before.replace(line, expected)
    assert parse(after).data["metadata"] == {"author": "x", "version": "1.0.0", "other": "y"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("---\nname: a\n---\nversion: 1.0.0\n", "cannot find a 'version:' line under 'metadata:'"),
        ("---\nmetadata:\n  tags: x\n---\n", "cannot find a 'version:' line under 'metadata:'"),
        ("---\nmetadata: x\n---\n", "cannot find a 'version:' line under 'metadata:'"),
        ("---\nmetadata:\n  version: |\n    1.0.0\n---\n", "not a one-line value"),
        ("---\nmetadata:\n  version: [1]\n---\n", "not a one-line value"),
    ],
)
def test_set_value_refuses_what_it_cannot_change_in_place(text: str, message: str) -> None:
    with pytest.raises(FrontmatterError, match=message) as refused:
        set_value(text, ("metadata", "version"), "1.0.1")
    assert refused.value.rule == "frontmatter-edit"


def test_replace_rewrites_the_block_and_keeps_line_endings_closing_line_and_body() -> None:
    text = "---\r\nname: a\r\nx: 1\r\n---  \r\n# Body\r\n---\r\n"
    out = replace(text, {"name": "on", "description": "1.0"})
    assert out == "---\r\nname: 'on'\r\ndescription: '1.0'\r\n---  \r\n# Body\r\n---\r\n"
    assert dict(parse(out).data) == {"name": "on", "description": "1.0"}


@pytest.mark.parametrize(
    "word", ["on", "off", "yes", "no", "y", "1.0", "0o17", "1e3", "2024-01-01", "~", "", "<<"]
)
def test_render_quotes_what_yaml_1_1_or_1_2_would_read_as_a_non_string(word: str) -> None:
    text = render({"name": word})
    assert parse(text).data["name"] == word
    assert yaml.safe_load(text.split("---\n")[1])["name"] == word
