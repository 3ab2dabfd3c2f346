"""One strict frontmatter: a skill whose name YAML 1.1 reads as something else (``on``, ``yes`` …)
builds and publishes under that same name, and a name no reader takes as a skill name is refused
by both paths alike.

Before one parser, authoring read SKILL.md with ``yaml.safe_load`` (YAML 1.1: ``on`` is ``True``)
while the build read it as YAML 1.2 (``on`` is ``"on"``): the skill built, and publishing it was
refused as "SKILL.md has name True".
"""

from __future__ import annotations

import json
import subprocess
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from builder import frontmatter
from builder.build import build
from builder.errors import BadInput, ValidationFailed
from builder.remote_publish import GitPublisher
from tests.test_authoring_support import git, git_env, init_repo, make_marketplace

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
KEYS = ["k" * 40]
YAML_11_WORDS = ["on", "yes", "no", "off"]


def skill_md(name: str) -> bytes:
    text = f'---\nname: {name}\ndescription: Named {name}.\nmetadata:\n  version: "1.0.0"\n---\n\nBody.\n'
    return text.encode()


@pytest.fixture
def remote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    git_env(monkeypatch, tmp_path)
    seed = init_repo(make_marketplace(tmp_path / "seed"))
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "--quiet", "--bare", "-b", "main", str(bare))
    git(seed, "push", "--quiet", str(bare), "main:main")
    return bare


def publisher(tmp_path: Path, remote: Path) -> GitPublisher:
    return GitPublisher(
        str(remote),
        branch_mode=False,
        workdir=tmp_path / "work",
        author_name="Skillport",
        author_email="skillport@corp.example",
    )


def build_remote(tmp_path: Path, remote: Path) -> tuple[Path, dict[str, object]]:
    """Clone ``remote`` and build it with the real builder; the site and its index document."""
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "--quiet", str(remote), str(checkout))
    site = tmp_path / "site"
    build(checkout, site, keys=KEYS, now=NOW, base_url="https://skills.corp.example/")
    return site, json.loads((site / "index.json").read_text())


@pytest.mark.parametrize("name", YAML_11_WORDS)
def test_a_skill_named_like_a_yaml_1_1_boolean_publishes_and_builds_under_that_name(
    tmp_path: Path, remote: Path, name: str
) -> None:
    result = publisher(tmp_path, remote).publish(
        [("SKILL.md", skill_md(name))], "alpha", name, "bob@corp.example"
    )
    assert (result.action, result.version) == ("publish", "1.0.0")

    site, doc = build_remote(tmp_path, remote)
    skills = doc["skills"]
    assert isinstance(skills, list)
    (entry,) = [s for s in skills if s["plugin"] == "alpha" and s["name"].endswith(name)]
    assert entry["name"] == name and entry["version"] == "1.0.0"
    with zipfile.ZipFile(site / entry["zip"]["path"]) as zf:
        assert {n.split("/", 1)[0] for n in zf.namelist()} == {name}
        stamped = zf.read(f"{name}/SKILL.md").decode()
    # the upload zip's name reads the same to YAML 1.1 readers (PyYAML) and to the strict 1.2 parser
    assert yaml.safe_load(stamped.split("---\n", 2)[1])["name"] == name
    assert frontmatter.parse(stamped).data["name"] == name


def test_a_name_that_is_a_number_is_refused_by_build_and_publish_alike(tmp_path: Path, remote: Path) -> None:
    with pytest.raises(BadInput, match=r"skill name '1\.0' must use only lowercase letters"):
        publisher(tmp_path, remote).publish(
            [("SKILL.md", skill_md("1.0"))], "alpha", "1.0", "bob@corp.example"
        )
    folder = tmp_path / "mp"
    make_marketplace(folder)
    (folder / "plugins/alpha/skills/one/SKILL.md").write_bytes(skill_md("1.0"))
    with pytest.raises(ValidationFailed) as failed:
        build(folder, tmp_path / "site", keys=KEYS, now=NOW, strict=True)
    assert any(p.rule == "skill-name" and "not a string" in p.message for p in failed.value.problems)


@pytest.mark.external
def test_agentskills_accepts_the_upload_zip_of_a_skill_named_on(
    tmp_path: Path, remote: Path, agentskills_bin: str
) -> None:
    publisher(tmp_path, remote).publish([("SKILL.md", skill_md("on"))], "alpha", "on", "bob@corp.example")
    site, doc = build_remote(tmp_path, remote)
    skills = doc["skills"]
    assert isinstance(skills, list)
    (entry,) = [s for s in skills if s["name"] == "on"]
    with zipfile.ZipFile(site / entry["zip"]["path"]) as zf:
        zf.extractall(tmp_path / "unzipped")
    done = subprocess.run(
        [agentskills_bin, "validate", str(tmp_path / "unzipped/on")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
