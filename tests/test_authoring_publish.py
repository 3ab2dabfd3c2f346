"""GitPublisher: editor changes committed as the service to a real bare Git remote, with push-race
retries, branch mode, and validation that keeps a bad change off the remote."""

from __future__ import annotations

import json
import subprocess
import threading
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from builder import frontmatter
from builder.authoring.apply import Validator
from builder.authoring.remote import GitPublisher, PublishConflict, publish_files_from_dir
from builder.build import build
from builder.errors import BadInput, NotFound, ValidationFailed
from builder.model import Problem
from tests.support.authoring import git, git_env, init_repo, make_marketplace


@pytest.fixture
def remote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    git_env(monkeypatch, tmp_path)
    seed = init_repo(make_marketplace(tmp_path / "seed"))
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "--quiet", "--bare", "-b", "main", str(bare))
    git(seed, "push", "--quiet", str(bare), "main:main")
    return bare


def publisher(
    tmp_path: Path,
    remote: Path,
    name: str = "svc",
    *,
    branch_mode: bool = False,
    max_attempts: int = 5,
    validate: Validator | None = None,
) -> GitPublisher:
    return GitPublisher(
        str(remote),
        branch_mode=branch_mode,
        workdir=tmp_path / f"work-{name}",
        author_name="Skillport",
        author_email="skillport@corp.example",
        max_attempts=max_attempts,
        validate=validate,
    )


def remote_file(remote: Path, path: str, ref: str = "main") -> str:
    return git(remote, "show", f"{ref}:{path}")


def heads(remote: Path) -> dict[str, str]:
    out = git(remote, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads")
    return {ref: sha for ref, sha in (line.split(" ", 1) for line in out.splitlines())}


SKILL = b'---\nname: notes\ndescription: Take meeting notes.\nmetadata:\n  version: "1.0.0"\n---\n\nNotes.\n'


def test_publish_new_skill_lands_on_main_as_the_service(tmp_path: Path, remote: Path) -> None:
    result = publisher(tmp_path, remote).publish(
        [("SKILL.md", SKILL), ("references/guide.md", b"# Guide\n")], "alpha", "notes", "bob@corp.example"
    )
    assert (result.action, result.branch, result.version, result.attempts) == ("publish", "main", "1.0.0", 1)
    assert remote_file(remote, "plugins/alpha/skills/notes/SKILL.md").encode() == SKILL
    assert remote_file(remote, "plugins/alpha/skills/notes/references/guide.md") == "# Guide\n"
    log = git(remote, "log", "-1", "--format=%an <%ae>%n%B", "main")
    assert log.startswith("Skillport <skillport@corp.example>\nPublish new skill notes in plugin alpha\n")
    assert "\nRequested-by: bob@corp.example\n" in log
    assert git(remote, "rev-parse", "main").strip() == result.commit


def test_publish_update_replaces_files_and_bumps_an_unchanged_version(tmp_path: Path, remote: Path) -> None:
    pub = publisher(tmp_path, remote)
    pub.publish([("SKILL.md", SKILL), ("old.md", b"old\n")], "alpha", "notes", "bob@corp.example")
    result = pub.publish([("SKILL.md", SKILL + b"More.\n")], "alpha", "notes", "bob@corp.example")
    assert result.version == "1.0.1"
    assert 'version: "1.0.1"' in remote_file(remote, "plugins/alpha/skills/notes/SKILL.md")
    files = git(remote, "ls-tree", "-r", "--name-only", "main", "plugins/alpha/skills/notes").split()
    assert files == ["plugins/alpha/skills/notes/SKILL.md"]
    with pytest.raises(BadInput, match=r"version is still 1\.0\.1"):
        pub.publish(
            [("SKILL.md", SKILL.replace(b"1.0.0", b"1.0.1") + b"x\n")],
            "alpha",
            "notes",
            "bob@corp.example",
            bump=None,
        )
    with pytest.raises(BadInput, match="nothing changed"):
        pub.publish(
            [("SKILL.md", SKILL.replace(b"1.0.0", b"1.0.1") + b"More.\n")],
            "alpha",
            "notes",
            "bob@corp.example",
        )


@pytest.mark.threat("T40")
def test_t40_publish_that_fails_validation_leaves_the_remote_untouched(tmp_path: Path, remote: Path) -> None:
    before = heads(remote)
    pub = publisher(tmp_path, remote)
    broken = b"---\nname: notes\ndescription: [unclosed\n---\n"
    with pytest.raises((ValidationFailed, BadInput)):
        pub.publish([("SKILL.md", broken)], "alpha", "notes", "bob@corp.example")
    refuse = publisher(
        tmp_path, remote, "strict", validate=lambda root: [Problem("x", None, "test-rule", "refused", "none")]
    )
    with pytest.raises(ValidationFailed, match="refused"):
        refuse.bump("one", "patch", "bob@corp.example")
    assert heads(remote) == before
    # the publisher's working copy recovers: the next valid change lands
    assert pub.bump("one", "patch", "bob@corp.example").version == "1.2.4"


@pytest.mark.threat("T38")
@pytest.mark.parametrize(
    "path", ["../escape.md", "/etc/passwd", "a/../../b", "a\\b", "nested.zip", "x/SKILL.md"]
)
def test_t38_publish_refuses_unsafe_file_names(tmp_path: Path, remote: Path, path: str) -> None:
    before = heads(remote)
    with pytest.raises(BadInput):
        publisher(tmp_path, remote).publish(
            [("SKILL.md", SKILL), (path, b"x")], "alpha", "notes", "bob@corp.example"
        )
    assert heads(remote) == before


def test_publish_refuses_bad_requests(tmp_path: Path, remote: Path) -> None:
    pub = publisher(tmp_path, remote)
    with pytest.raises(BadInput, match="requested_by"):
        pub.bump("one", "patch", "bob@corp.example\nRequested-by: admin@corp.example")
    with pytest.raises(BadInput, match="belongs to plugin 'alpha'"):
        pub.publish([("SKILL.md", SKILL.replace(b"notes", b"one"))], "beta", "one", "bob@corp.example")
    with pytest.raises(BadInput, match="name 'notes', but the skill is 'other'"):
        pub.publish([("SKILL.md", SKILL)], "alpha", "other", "bob@corp.example")
    with pytest.raises(NotFound):
        pub.delete("ghost", "bob@corp.example")


def test_bump_and_delete_through_the_remote(tmp_path: Path, remote: Path) -> None:
    pub = publisher(tmp_path, remote)
    assert pub.bump("solo", "patch", "ann@corp.example").version == "2.0.0"
    market = json.loads(remote_file(remote, ".claude-plugin/marketplace.json"))
    assert market["plugins"][1]["version"] == "2.0.0"
    result = pub.delete("solo", "ann@corp.example")
    assert result.message == "Delete skill solo and its plugin beta"
    market = json.loads(remote_file(remote, ".claude-plugin/marketplace.json"))
    assert [p["name"] for p in market["plugins"]] == ["alpha"]
    assert git(remote, "ls-tree", "--name-only", "main", "plugins/").split() == ["plugins/alpha"]


def test_branch_mode_pushes_a_new_branch_and_leaves_main_alone(tmp_path: Path, remote: Path) -> None:
    main_before = heads(remote)["refs/heads/main"]
    result = publisher(tmp_path, remote, branch_mode=True).bump("two", "major", "ann@corp.example")
    assert result.branch.startswith("skillport/bump-two-")
    after = heads(remote)
    assert after["refs/heads/main"] == main_before
    assert after[f"refs/heads/{result.branch}"] == result.commit
    assert "version: '1.0.0'" in remote_file(remote, "plugins/alpha/skills/two/SKILL.md", result.branch)


def test_lost_push_race_is_retried_on_the_new_state_or_reported(tmp_path: Path, remote: Path) -> None:
    rival = publisher(tmp_path, remote, "rival")
    raced = {"n": 0}

    def validate_then_race(root: Path) -> list[Problem]:
        # another replica lands a change between our validation and our push — once
        if raced["n"] == 0:
            raced["n"] += 1
            rival.bump("one", "patch", "rival@corp.example")
        return []

    patient = publisher(tmp_path, remote, "patient", validate=validate_then_race, max_attempts=3)
    result = patient.bump("one", "patch", "ann@corp.example")
    assert (result.version, result.attempts) == ("1.2.5", 2)  # re-planned on top of the rival's 1.2.4
    log = git(remote, "log", "--format=%s|%(trailers:key=Requested-by,valueonly)", "main").split("\n")
    assert [line for line in log if line.startswith("Bump")][:2] == [
        "Bump one to 1.2.5|ann@corp.example",
        "Bump one to 1.2.4|rival@corp.example",
    ]

    raced["n"] = 0
    impatient = publisher(tmp_path, remote, "impatient", validate=validate_then_race, max_attempts=1)
    before = heads(remote)
    with pytest.raises(PublishConflict, match="try again"):
        impatient.bump("two", "patch", "ann@corp.example")
    assert heads(remote) != before  # only the rival's change landed
    assert "0.9.0" in remote_file(remote, "plugins/alpha/skills/two/SKILL.md")


def test_two_concurrent_publishers_lose_nothing(tmp_path: Path, remote: Path) -> None:
    results: list[str] = []
    errors: list[Exception] = []

    def work(name: str) -> None:
        pub = publisher(tmp_path, remote, name, max_attempts=10)
        for _ in range(3):
            try:
                results.append(str(pub.bump("one", "patch", f"{name}@corp.example").version))
            except PublishConflict as exc:
                errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in ("east", "west")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    landed = len(results)
    assert landed + len(errors) == 6
    assert sorted(results, key=lambda v: tuple(map(int, v.split(".")))) == [
        f"1.2.{4 + i}" for i in range(landed)
    ]
    assert (
        json.loads(remote_file(remote, "plugins/alpha/.claude-plugin/plugin.json"))["version"]
        == f"1.2.{3 + landed}"
    )
    bumps = [s for s in git(remote, "log", "--format=%s", "main").splitlines() if s.startswith("Bump")]
    assert len(bumps) == landed


def test_publish_files_from_dir_reads_a_skill_folder(tmp_path: Path) -> None:
    folder = make_marketplace(tmp_path / "m") / "plugins/alpha/skills/two"
    assert [p for p, _ in publish_files_from_dir(folder)] == ["SKILL.md", "scripts/run.py"]


# -- one strict frontmatter: names YAML 1.1 reads as something else ------------------------------------
# Authoring once read SKILL.md with ``yaml.safe_load`` (YAML 1.1: ``on`` is ``True``) while the build
# reads YAML 1.2 (``on`` is ``"on"``): the skill built, and publishing it was refused as "name True".

YAML_NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
YAML_KEYS = ["k" * 40]
YAML_11_WORDS = ["on", "yes", "no", "off"]


def skill_md(name: str) -> bytes:
    text = f'---\nname: {name}\ndescription: Named {name}.\nmetadata:\n  version: "1.0.0"\n---\n\nBody.\n'
    return text.encode()


def build_remote(tmp_path: Path, remote: Path) -> tuple[Path, dict[str, object]]:
    """Clone ``remote`` and build it with the real builder; the site and its index document."""
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "--quiet", str(remote), str(checkout))
    site = tmp_path / "site"
    build(checkout, site, keys=YAML_KEYS, now=YAML_NOW, base_url="https://skills.corp.example/")
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
        build(folder, tmp_path / "site", keys=YAML_KEYS, now=YAML_NOW, strict=True)
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
    folder = tmp_path / "unzipped/on"
    done = subprocess.run([agentskills_bin, "validate", folder], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
