"""Every validation rule, good and bad, through the real loader on real folders (``validate_marketplace``).

Also the marketplace helpers the other builder tests import (``make_marketplace``, ``write_skill``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from builder import policy, ruleset
from builder.contract.index import IndexDocument, MarketplaceInfo, SkillEntry
from builder.limits import BuildLimits
from builder.model import Problem
from builder.validate import validate_marketplace
from tests.support.marketplaces import (
    edit_entry,
    edit_json,
    errors,
    make_marketplace,
    problems,
    skill_text,
    warnings,
    write_json,
    write_skill,
)

# -- helpers shared by the builder tests --


MJSON = Path(".claude-plugin/marketplace.json")
PJSON = Path("plugins/tools/.claude-plugin/plugin.json")


@pytest.fixture
def mp(tmp_path: Path) -> Path:
    return make_marketplace(tmp_path / "mp")


# -- the baseline --


def test_a_valid_marketplace_has_no_problems(mp: Path) -> None:
    assert problems(mp) == []


def test_the_example_marketplace_is_clean(examples_dir: Path) -> None:
    assert [p.format() for p in problems(examples_dir)] == []


def test_every_problem_is_reported_at_once_with_file_rule_and_fix(mp: Path) -> None:
    edit_json(mp / MJSON, owner=None)
    (mp / "plugins/tools/skills/alpha/SKILL.md").write_text(skill_text("alpha", extra="model: opus\n"))
    (mp / "plugins/tools/skills/beta/SKILL.md").write_text(skill_text("Beta"))
    found = problems(mp)
    assert {p.rule for p in found} >= {
        "marketplace-owner",
        "skill-claude-code-key",
        "skill-name",
        "skill-name-folder",
    }
    for p in found:
        assert p.file and p.fix and p.message
    beta = next(p for p in found if p.rule == "skill-name-folder")
    assert beta.file == "plugins/tools/skills/beta/SKILL.md" and beta.line == 2


# -- marketplace.json --


def test_missing_marketplace_json(tmp_path: Path) -> None:
    (tmp_path / "plugins").mkdir()
    assert errors(tmp_path) == {"manifest-missing"}


def test_invalid_json_names_the_line(mp: Path) -> None:
    (mp / MJSON).write_text('{\n  "name": "acme-skills",\n  "plugins": [],\n}\n')
    (found,) = [p for p in problems(mp) if p.rule == "manifest-json"]
    assert found.file == ".claude-plugin/marketplace.json" and found.line == 4


@pytest.mark.parametrize(
    "name,rule",
    [
        (None, "marketplace-name"),
        ("Acme Skills", "marketplace-name"),
        ("acme--skills", "marketplace-name"),
        ("claude-plugins-official", "marketplace-name-reserved"),
        ("anthropic-marketplace", "marketplace-name-reserved"),
        ("official-claude-tools", "marketplace-name-reserved"),
    ],
)
def test_marketplace_name_rules(mp: Path, name: str | None, rule: str) -> None:
    edit_json(mp / MJSON, name=name)
    assert rule in errors(mp)


def test_marketplace_owner_and_plugins_are_required(mp: Path) -> None:
    edit_json(mp / MJSON, owner={"email": "x@acme.example"}, plugins={"tools": {}})
    assert {"marketplace-owner", "marketplace-plugins"} <= errors(mp)


@pytest.mark.parametrize(
    "entry,rule",
    [
        ("not an object", "plugin-entry"),
        ({"name": "../tools", "source": "./plugins/tools"}, "plugin-name"),
        ({"name": "tools", "source": "plugins/tools"}, "plugin-source"),
        ({"name": "tools", "source": "./plugins/../../etc"}, "plugin-source"),
        ({"name": "tools", "source": ".\\plugins\\tools"}, "plugin-source"),
        ({"name": "tools"}, "plugin-source"),
        ({"name": "tools", "source": "./plugins/nowhere"}, "plugin-source-missing"),
        ({"name": "tools", "source": "./plugins/tools", "version": "v1"}, "plugin-version"),
    ],
)
def test_plugin_entry_rules(mp: Path, entry: Any, rule: str) -> None:
    edit_json(mp / MJSON, plugins=[entry])
    assert rule in errors(mp)


def test_an_external_plugin_source_is_passed_through_without_problems(mp: Path) -> None:
    data = json.loads((mp / MJSON).read_text())
    data["plugins"].append({"name": "ext", "source": {"source": "github", "repo": "acme/ext"}})
    write_json(mp / MJSON, data)
    assert problems(mp) == []
    marketplace, _ = validate_marketplace(mp)
    assert [dict(e) for e in marketplace.external] == [data["plugins"][-1]]


def test_a_non_kebab_plugin_name_is_a_warning_as_claude_code_installs_it(mp: Path) -> None:
    edit_entry(mp, "tools", name="Tools_Kit")
    edit_json(mp / PJSON, name="Tools_Kit")
    assert errors(mp) == set() and "plugin-name-not-kebab" in warnings(mp)


@pytest.mark.threat("T43")
def test_t43_a_plugin_listed_twice_fails(mp: Path) -> None:
    data = json.loads((mp / MJSON).read_text())
    data["plugins"].append(dict(data["plugins"][0]))
    write_json(mp / MJSON, data)
    assert "plugin-duplicate" in errors(mp)


# -- plugin.json --


def test_plugin_json_name_must_match_the_entry(mp: Path) -> None:
    edit_json(mp / PJSON, name="other")
    assert "plugin-json-name" in errors(mp)


def test_plugin_json_version_must_be_semver(mp: Path) -> None:
    edit_json(mp / PJSON, version="1.0")
    assert "plugin-version" in errors(mp)


def test_a_version_mismatch_between_plugin_json_and_entry_is_a_warning(mp: Path) -> None:
    data = json.loads((mp / MJSON).read_text())
    data["plugins"][0]["version"] = "0.9.0"
    write_json(mp / MJSON, data)
    assert errors(mp) == set() and "plugin-version-mismatch" in warnings(mp)
    data["plugins"][0]["version"] = "1.0.0"
    write_json(mp / MJSON, data)
    assert "plugin-version-mismatch" not in warnings(mp)


def test_a_plugin_without_a_version_is_a_warning(mp: Path) -> None:
    edit_json(mp / PJSON, version=None)
    assert errors(mp) == set() and "plugin-version-missing" in warnings(mp)


def test_a_plugin_without_skills_is_a_warning(tmp_path: Path) -> None:
    root = make_marketplace(tmp_path, {"tools": ["alpha"], "empty": []})
    assert errors(root) == set() and "plugin-no-skills" in warnings(root)


def test_a_missing_plugin_json_is_a_warning_unless_the_entry_is_not_strict(mp: Path) -> None:
    (mp / PJSON).unlink()
    (found,) = [p for p in problems(mp) if p.rule == "plugin-json-missing"]
    assert found.file == "plugins/tools/.claude-plugin/plugin.json" and not found.is_error
    edit_entry(mp, "tools", strict=False, version="1.0.0")
    assert problems(mp) == []


# -- SKILL.md frontmatter (Agent Skills spec) --


def _skill(mp: Path, text: str, folder: str = "alpha") -> None:
    (mp / f"plugins/tools/skills/{folder}/SKILL.md").write_text(text)


@pytest.mark.threat("T43")
@pytest.mark.parametrize("name", ["Alpha", "-alpha", "alpha-", "al--pha", "al_pha", "alphä", "a" * 65])
def test_t43_invalid_skill_names_fail(tmp_path: Path, name: str) -> None:
    root = make_marketplace(tmp_path, {"tools": []})
    write_skill(root, "tools", name)
    assert "skill-name" in errors(root)


@pytest.mark.parametrize("name", ["a", "a1-b2", "a" * 64])
def test_valid_skill_names_pass(tmp_path: Path, name: str) -> None:
    root = make_marketplace(tmp_path, {"tools": []})
    write_skill(root, "tools", name)
    assert errors(root) == set()


def test_a_skill_name_other_than_its_folder_is_a_warning(mp: Path) -> None:
    _skill(mp, skill_text("gamma"))
    assert errors(mp) == set() and warnings(mp) == {"skill-name-folder"}


@pytest.mark.parametrize("name", ["claude-helper", "my-anthropic-tool"])
def test_claude_and_anthropic_in_names_make_a_skill_claude_code_only(tmp_path: Path, name: str) -> None:
    root = make_marketplace(tmp_path, {"tools": []})
    write_skill(root, "tools", name)
    assert errors(root) == set() and warnings(root) == {"skill-name-reserved-word"}
    assert errors(root, strict=True) == {"skill-name-reserved-word"}


def test_description_is_required(mp: Path) -> None:
    _skill(mp, "---\nname: alpha\n---\nbody\n")
    assert "skill-description" in errors(mp)


def test_description_length_limit_is_1024(mp: Path) -> None:
    _skill(mp, skill_text("alpha", "d" * 1024))
    assert errors(mp) == set()
    _skill(mp, skill_text("alpha", "d" * 1025))
    assert errors(mp) == set() and warnings(mp) == {"skill-description-too-long"}


def test_xml_like_tags_in_description_make_a_skill_claude_code_only(mp: Path) -> None:
    _skill(mp, skill_text("alpha", '"Use for <b>bold</b> moves."'))
    assert errors(mp) == set() and warnings(mp) == {"skill-description-tags"}
    _skill(mp, skill_text("alpha", '"Keep LCP < 1s and CLS > 0."'))
    assert problems(mp) == []


def test_compatibility_limit_is_500(mp: Path) -> None:
    _skill(mp, skill_text("alpha", extra=f"compatibility: {'c' * 500}\n"))
    assert errors(mp) == set()
    _skill(mp, skill_text("alpha", extra=f"compatibility: {'c' * 501}\n"))
    assert errors(mp) == {"skill-compatibility"}


def test_metadata_maps_strings_to_strings(mp: Path) -> None:
    _skill(mp, skill_text("alpha", extra='metadata:\n  author: "Ops"\n  tags: "a, b"\n'))
    assert errors(mp) == set()
    _skill(mp, skill_text("alpha", extra="metadata:\n  nested:\n    deep: x\n"))
    assert "skill-metadata" in errors(mp)


def test_metadata_version_must_be_semver(mp: Path) -> None:
    _skill(mp, skill_text("alpha", extra='metadata:\n  version: "2"\n'))
    assert "skill-version" in errors(mp)


def test_claude_code_only_keys_are_warnings(mp: Path) -> None:
    _skill(mp, skill_text("alpha", extra="disable-model-invocation: true\nargument-hint: x\n"))
    assert errors(mp) == set()
    assert warnings(mp) == {"skill-claude-code-key"}


def test_keys_outside_the_spec_are_errors(mp: Path) -> None:
    _skill(mp, skill_text("alpha", extra="owner: ops\n"))
    found = [p for p in problems(mp) if p.rule == "skill-unknown-key"]
    assert found and found[0].line == 4 and "metadata" in found[0].fix


def test_license_and_allowed_tools_are_strings(mp: Path) -> None:
    _skill(mp, skill_text("alpha", extra="license: Apache-2.0\nallowed-tools: Bash Read\n"))
    assert errors(mp) == set()


@pytest.mark.threat("T40")
@pytest.mark.parametrize(
    "text",
    [
        "no frontmatter at all\n",
        "---\n- a\n- b\n---\nbody\n",
        "---\nname: alpha\nname: alpha\ndescription: d\n---\nbody\n",
        "---\nname: 12\ndescription: d\n---\nbody\n",
    ],
)
def test_t40_malformed_frontmatter_fails_with_a_located_problem(mp: Path, text: str) -> None:
    _skill(mp, text)
    bad = [p for p in problems(mp) if p.is_error]
    assert bad and all(p.file == "plugins/tools/skills/alpha/SKILL.md" for p in bad)


@pytest.mark.threat("T41")
@pytest.mark.parametrize(
    "extra",
    [
        "metadata: &a {x: y}\nlicense: *a\n",
        "license: !!python/object/apply:os.system ['true']\n",
        "metadata:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(60)) + "  " * 61 + "v: x\n",
    ],
)
def test_t41_yaml_aliases_tags_and_deep_nesting_are_refused(mp: Path, extra: str) -> None:
    _skill(mp, skill_text("alpha", extra=extra))
    assert errors(mp)


# -- Claude.ai upload limits (T42) --


@pytest.mark.threat("T42")
def test_t42_more_than_200_files_fails_and_200_pass(mp: Path) -> None:
    refs = mp / "plugins/tools/skills/alpha/references"
    for i in range(198):  # + SKILL.md + notes.md = 200
        (refs / f"r{i:03}.md").write_text("x\n")
    assert errors(mp) == set()
    (refs / "r999.md").write_text("x\n")
    assert errors(mp) == set() and warnings(mp) == {"skill-too-big-to-upload"}
    assert errors(mp, limits=BuildLimits(max_files_per_skill=200)) == {"skill-too-many-files"}


@pytest.mark.threat("T42")
def test_t42_too_many_bytes_fails(mp: Path) -> None:
    assert BuildLimits().max_upload_bytes == 30 * 1024 * 1024
    (mp / "plugins/tools/skills/alpha/assets").mkdir()
    (mp / "plugins/tools/skills/alpha/assets/big.bin").write_bytes(b"\0" * 5000)
    limits = BuildLimits(max_skill_bytes=4000)
    assert errors(mp, limits=limits) == {"skill-too-large"}
    assert errors(mp, limits=BuildLimits(max_skill_bytes=6000)) == set()


@pytest.mark.threat("T42")
def test_t42_oversized_skill_md_fails(mp: Path) -> None:
    _skill(mp, skill_text("alpha", body="x" * 600_000))
    assert errors(mp) == {"skill-md-too-large"}


@pytest.mark.parametrize("name", ["bundle.zip", "old.tar.gz", "x.skill", "deep/lib.jar"])
def test_nested_archives_are_refused(mp: Path, name: str) -> None:
    target = mp / "plugins/tools/skills/alpha" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"PK\x03\x04")
    assert errors(mp) == set() and warnings(mp) == {"skill-nested-archive"}


def test_a_second_skill_md_is_refused(mp: Path) -> None:
    (mp / "plugins/tools/skills/alpha/sub").mkdir()
    (mp / "plugins/tools/skills/alpha/sub/SKILL.md").write_text(skill_text("sub"))
    assert errors(mp) == set() and warnings(mp) == {"skill-nested-skill-md"}


@pytest.mark.parametrize("name", ["what?.md", "a#b.md", "[x].md", "caf\u00e9.md", "tab\tname.md"])
def test_file_names_the_discovery_rfc_forbids_are_problems(mp: Path, name: str) -> None:
    (mp / "plugins/tools/skills/alpha" / name).write_text("x\n")
    found = [p for p in problems(mp) if p.is_error]
    assert [p.rule for p in found] == ["skill-file-name"]
    assert found[0].file.endswith(name)


def test_ordinary_file_names_pass(mp: Path) -> None:
    (mp / "plugins/tools/skills/alpha/My Notes (v2).md").write_text("x\n")
    assert errors(mp) == set()


# -- unique names across the marketplace (T43) --


@pytest.mark.threat("T43")
def test_t43_same_skill_name_in_two_plugins_is_two_skills(tmp_path: Path) -> None:
    root = make_marketplace(tmp_path, {"tools": ["alpha"], "more": ["alpha"]})
    assert problems(root) == []


@pytest.mark.threat("T43")
def test_t43_case_only_twins_in_one_plugin_fail_and_across_plugins_warn(tmp_path: Path) -> None:
    root = make_marketplace(tmp_path, {"tools": ["alpha"], "more": []})
    write_skill(root, "tools", "ALPHA")
    assert "skill-name-collision" in errors(root)
    root = make_marketplace(tmp_path / "two", {"tools": ["alpha"], "more": []})
    write_skill(root, "more", "ALPHA")
    assert "skill-name-collision" not in errors(root) and "skill-name-lookalike" in warnings(root)


@pytest.mark.threat("T43")
def test_t43_nfkc_look_alikes_in_one_plugin_fail(tmp_path: Path) -> None:
    root = make_marketplace(tmp_path, {"tools": ["alpha"], "more": []})
    write_skill(root, "tools", "\uff41lpha")  # fullwidth a
    assert {"skill-name", "skill-name-collision"} <= errors(root)


# -- version bumps against a previous index (T48) --


def _previous(root: Path) -> IndexDocument:
    from builder.digest import skill_digest

    marketplace, _ = validate_marketplace(root)
    return IndexDocument(
        serial=1,
        generated_at="2026-11-01T00:00:00Z",
        expires_at="2026-12-01T00:00:00Z",
        marketplace=MarketplaceInfo(marketplace.name),
        skills=tuple(
            SkillEntry(s.name, s.plugin, "1.0.0", digest=skill_digest(s.files)) for s in marketplace.skills
        ),
    )


@pytest.mark.threat("T48")
def test_t48_changed_content_without_a_bump_fails(mp: Path) -> None:
    previous = _previous(mp)
    assert errors(mp, previous_index=previous) == set()
    (mp / "plugins/tools/skills/alpha/references/notes.md").write_text("changed\n")
    found = [p for p in problems(mp, previous_index=previous) if p.is_error]
    assert [p.rule for p in found] == ["version-not-bumped"]
    assert "alpha" in found[0].message and "bump" in found[0].fix


@pytest.mark.threat("T48")
def test_t48_a_bump_makes_the_change_pass_and_going_backwards_fails(mp: Path) -> None:
    previous = _previous(mp)
    (mp / "plugins/tools/skills/alpha/references/notes.md").write_text("changed\n")
    edit_json(mp / PJSON, version="1.0.1")
    assert errors(mp, previous_index=previous) == set()
    edit_json(mp / PJSON, version="0.9.0")
    assert "version-went-backwards" in errors(mp, previous_index=previous)


# -- .skillport/access.yaml --


def _access(mp: Path, text: str) -> None:
    (mp / ".skillport").mkdir(exist_ok=True)
    (mp / ".skillport/access.yaml").write_text(text)


def test_a_good_access_file_passes(mp: Path) -> None:
    _access(
        mp,
        'groups:\n  ops: ["bob@acme.example", "@ops.acme.example"]\n'
        'default:\n  read: ["*"]\n  edit: [ops]\nplugins:\n  tools:\n    read: [ops]\n',
    )
    assert problems(mp) == []


@pytest.mark.parametrize(
    "text,rule",
    [
        ("owners: [x]\n", "access-shape"),
        ("groups: [a, b]\n", "access-shape"),
        ('default:\n  read: "*"\n', "access-shape"),
        ('default:\n  read: ["*"]\n  write: ["*"]\n', "access-shape"),
        ("default:\n  read: [nobody-group]\n", "access-principal"),
        ("default:\n  read: [bob@]\n", "access-principal"),
        ("groups:\n  g: [other-group]\n", "access-principal"),
        ("default:\n  read: &x [a]\n  edit: *x\n", "access-yaml"),
        ("default: [unclosed\n", "access-yaml"),
    ],
)
def test_bad_access_files_fail(mp: Path, text: str, rule: str) -> None:
    _access(mp, text)
    found = [p for p in problems(mp) if p.is_error]
    assert rule in {p.rule for p in found}
    assert all(p.file == ".skillport/access.yaml" for p in found)


def test_an_access_rule_for_an_unknown_plugin_is_a_warning(mp: Path) -> None:
    _access(mp, 'plugins:\n  nothere:\n    read: ["*"]\n')
    assert errors(mp) == set() and warnings(mp) == {"access-unknown-plugin"}


def test_a_missing_marketplace_folder_is_one_clear_problem(tmp_path: Path) -> None:
    assert errors(tmp_path / "nope") == {"marketplace-missing"}


@pytest.mark.threat("T49")
@pytest.mark.parametrize(
    "name,data",
    [
        ("assets/x.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
        ("assets/y.SVG", b'<svg xmlns="http://www.w3.org/2000/svg" onload="fetch(\'/index.json\')"/>'),
        ("page.html", b'<!doctype html><script src="x.js"></script>'),
        ("doc.xhtml", b'<html xmlns="http://www.w3.org/1999/xhtml"><a href="javascript:go()">x</a></html>'),
        ("feed.xml", b'<?xml-stylesheet type="text/xsl" href="x.xsl"?><r/>'),
        ("frame.htm", b"<iframe src='https://evil.example'></iframe>"),
    ],
)
def test_t49_svg_html_xhtml_and_xml_with_scripts_are_refused_naming_the_file(
    mp: Path, name: str, data: bytes
) -> None:
    target = mp / "plugins/tools/skills/alpha" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    found = [p for p in problems(mp) if p.is_error]
    assert [p.rule for p in found] == ["skill-active-content"]
    assert found[0].file.endswith(f"alpha/{name}") and "static" in found[0].fix


@pytest.mark.threat("T49")
def test_t49_static_svg_and_html_are_fine(mp: Path) -> None:
    folder = mp / "plugins/tools/skills/alpha"
    (folder / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"><rect width="1"/></svg>')
    (folder / "report.html").write_text("<!doctype html><h1>Report</h1><p>Done: yes</p>")
    (folder / "notes.md").write_text("Use <script> tags carefully; javascript: links too.\n")
    assert errors(mp) == set()


# -- the rule table --


def test_every_rule_in_the_table_has_one_kebab_id_one_severity_and_a_fix() -> None:
    severities: dict[str, set[str]] = {}
    for key, rule in ruleset.RULES.items():
        assert policy.NAME_RE.match(ruleset.rule_id(key)), key
        assert rule.message and rule.fix, key
        severities.setdefault(ruleset.rule_id(key), set()).add(rule.severity)
    # one rule keeps two severities on purpose: a number in metadata is a warning (the upload zip
    # quotes it), any other non-string an error
    assert {r for r, s in severities.items() if len(s) > 1} == {"skill-metadata"}


def test_a_rule_made_from_the_table_fills_message_and_fix() -> None:
    made = ruleset.problem(
        "plugin-duplicate", ".claude-plugin/marketplace.json", where="plugins[2]", name="a", first=0
    )
    assert made == Problem(
        ".claude-plugin/marketplace.json",
        None,
        "plugin-duplicate",
        "plugins[2] repeats plugin name 'a' (also plugins[0])",
        "give each plugin a unique name",
    )


def test_docs_rules_md_lists_every_rule_of_the_table() -> None:
    checked_in = (Path(__file__).resolve().parent.parent / "docs/rules.md").read_text()
    assert checked_in == ruleset.markdown(), (
        "docs/rules.md is stale: run `python -m builder.ruleset > docs/rules.md`"
    )
