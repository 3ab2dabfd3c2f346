"""Hostile input, property-based (hypothesis): thousands of generated cases against the manifest
loader, the zip checker, path handling (builder, proxy origin, the served site over HTTP) and the
authoring apply step. Each property: only clean errors (``Problem`` records, ``BadInput``,
``NotFound``, 4xx), never a crash, never a byte read or written outside its folder.
The frontmatter parser has its own properties in ``test_frontmatter_properties.py``.

The last test checks that every threat T01–T59 of the threat list is guarded by a tagged test.
CI runs the derandomized hypothesis profile (tests/conftest.py); each bug the properties found is
pinned with an ``@example``.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import posixpath
import re
import stat
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, unquote

import httpx
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from builder.authoring.apply import apply_plan
from builder.authoring.plans import FileChange, Plan
from builder.errors import BadInput, NotFound, ValidationFailed
from builder.model import Marketplace, Problem
from builder.package import check_member_path
from builder.policy import UPLOAD_MAX_BYTES, is_archive, path_problem
from builder.validate import validate_marketplace
from builder.zipcheck import CheckedZip, check_zip
from proxy.origin import LocalOrigin, safe_path
from tests.support.servers import fake_idp, login_with_fake, run_proxy, write_site


def budget(n: int) -> settings:
    """``n`` examples; under CI=true derandomized by the "ci" profile tests/conftest.py loads."""
    return settings(
        max_examples=n,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


SECRET = b"TOP-SECRET-OUTSIDE-THE-ROOT"

# -- generated paths -------------------------------------------------------------------------------

HOSTILE_SEGMENTS = [
    "..",
    ".",
    "",
    "a",
    "skills",
    "SKILL.md",
    "index.json",
    "index.json.sig",
    "%2e%2e",
    "%2e",
    "..%2f..",
    "%2F",
    "%252e%252e",
    "\\",
    "..\\..",
    "\x00",
    "a\x00b",
    "C:",
    "c:\\windows",
    "~",
    "a" * 300,
    "é",
    "\u202e",
    "\u2215",
    "．．",
    " ",
    "\t",
    "\n",
    ":",
    "link-out",
    "link-out.txt",
    "dir-out",
    "secret.txt",
]
segment = st.sampled_from(HOSTILE_SEGMENTS) | st.text(max_size=10)
hostile_path = st.one_of(
    st.lists(segment, max_size=8).map("/".join),
    st.lists(segment, min_size=1, max_size=6).map(lambda parts: "/" + "/".join(parts)),
    st.text(max_size=60),
    st.text(alphabet="./%2eEfF\\", max_size=30),
)


def inside(root: str, rel: str) -> bool:
    """Whether ``root/rel`` stays inside ``root`` lexically."""
    joined = posixpath.normpath(posixpath.join(root, rel))
    return joined == root or joined.startswith(root + "/")


@pytest.mark.threat("T22")
@budget(2500)
@given(hostile_path)
def test_t22_archive_member_names_that_pass_stay_inside_their_folder(path: str) -> None:
    problem = path_problem(path)
    if problem is None:
        assert check_member_path(path) == path
        assert inside("/root", path) and not path.startswith("/")
        assert "\\" not in path and "\x00" not in path
    else:
        with pytest.raises(BadInput, match="rename the file"):
            check_member_path(path)


@pytest.mark.threat("T22")
@budget(2500)
@given(hostile_path)
def test_t22_proxy_safe_path_never_leaves_the_root_even_after_decoding(path: str) -> None:
    for candidate in (path, unquote(path), unquote(unquote(path))):
        try:
            clean = safe_path(candidate)
        except NotFound:
            continue
        assert inside("/site", clean), (candidate, clean)
        parts = clean.split("/") if clean else []
        assert all(p not in ("", ".", "..") and "\\" not in p and "\x00" not in p for p in parts)


@pytest.fixture(scope="module")
def served_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site folder with a secret beside it and links inside pointing at it."""
    base = tmp_path_factory.mktemp("tree")
    (base / "secret.txt").write_bytes(SECRET)
    (base / "outside").mkdir()
    (base / "outside" / "secret.txt").write_bytes(SECRET)
    root = base / "site"
    (root / "skills" / "a").mkdir(parents=True)
    (root / "skills" / "a" / "SKILL.md").write_bytes(b"public")
    (root / "index.html").write_bytes(b"public")
    (root / "link-out").symlink_to(base / "secret.txt")
    (root / "dir-out").symlink_to(base / "outside")
    (root / "skills" / "secret.txt").symlink_to(base / "secret.txt")
    return root


@pytest.mark.threat("T22")
@pytest.mark.threat("T23")
@budget(1500)
@given(hostile_path)
@example("link-out")
@example("skills/secret.txt")
@example("../secret.txt")
def test_t22_t23_local_origin_never_reads_outside_the_site(served_tree: Path, path: str) -> None:
    origin = LocalOrigin(served_tree, max_bytes=1_000_000)

    async def read_all() -> list[bytes | None]:
        out: list[bytes | None] = []
        for candidate in (path, unquote(path), path + "/secret.txt", "dir-out/" + path):
            try:
                out.append(await origin.read(candidate))
            except NotFound:
                out.append(None)
        return out

    for data in asyncio.run(read_all()):
        assert data is None or data == b"public"


# -- the served site over HTTP ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def signed_in_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, httpx.Client, bytes]]:
    base = tmp_path_factory.mktemp("served")
    (base / "secret.txt").write_bytes(SECRET)
    site = base / "site"
    write_site(site)
    (site / "link-out.txt").symlink_to(base / "secret.txt")
    (site / "assets" / "dir-out").symlink_to(base)
    with fake_idp() as idp, run_proxy(site, idp.issuer, base) as proxy, httpx.Client(timeout=10) as member:
        assert login_with_fake(member, proxy.url).status_code == 302
        assert member.get(proxy.url + "index.html").status_code == 200
        yield proxy.url, member, (site / "index.json.sig").read_bytes()


def _raw(path: str) -> bytes:
    """A request target as an attacker would send it: dots, slashes, backslashes and existing
    percent-escapes kept; only what HTTP cannot carry literally is escaped."""
    return ("/" + quote(path.lstrip("/"), safe="/%\\.:~")).encode("ascii")


@pytest.mark.threat("T22")
@pytest.mark.threat("T23")
@budget(300)
@given(hostile_path)
@example("link-out.txt")
@example("secret.txt")
@example("..%2f..%2fsecret.txt")
@example("index.json.sig")
def test_t22_t23_no_request_path_reaches_files_outside_the_site_or_the_signature(
    signed_in_proxy: tuple[str, httpx.Client, bytes], path: str
) -> None:
    url, member, signature = signed_in_proxy
    for raw in (_raw(path), _raw("assets/dir-out/" + path), _raw("../" * 3 + path)):
        try:
            target = httpx.URL(url).copy_with(raw_path=raw)
        except httpx.InvalidURL:
            continue
        r = member.get(target)
        assert r.status_code < 500, (raw, r.status_code, r.text[:200])
        assert SECRET not in r.content, raw
        assert r.status_code != 200 or r.content != signature, raw


# -- the zip checker -------------------------------------------------------------------------------

ZIP_NAMES = st.sampled_from(
    [
        "s/SKILL.md",
        "s/",
        "s/ref.md",
        "s/sub/",
        "s/sub/x.txt",
        "S/skill.md",
        "SKILL.md",
        "s/../../evil",
        "../evil",
        "/abs",
        "C:/x",
        "s\\..\\evil",
        "s/a\x01b",
        "s/inner.zip",
        "s/doc.docx",
        "__MACOSX/s/._SKILL.md",
        "s/.DS_Store",
        "t/SKILL.md",
        "s/sub/SKILL.md",
        "s//double",
        "s/./dot",
        "s/é.md",
    ]
) | st.text(min_size=1, max_size=20)
UNIX_MODES = st.sampled_from([0o100644, 0o100755, 0o120777, 0o010644, 0o040755, 0o020644, 0])
CONTENT = st.one_of(
    st.binary(max_size=64),
    st.sampled_from([b"---\nname: s\ndescription: d\n---\nbody\n", b"\x00" * 200_000]),
)
ENTRY = st.tuples(ZIP_NAMES, CONTENT, UNIX_MODES, st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))


def make_zip(entries: list[tuple[str, bytes, int, int]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data, mode, method in entries:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = method
            info.external_attr = mode << 16
            with warnings.catch_warnings():  # duplicate names are part of the test
                warnings.simplefilter("ignore")
                zf.writestr(info, data)
    return buf.getvalue()


def assert_clean(result: CheckedZip) -> None:
    """What a zip that passed may contain: safe relative names, regular files, one SKILL.md."""
    paths = [f.path for f in result.files]
    assert "SKILL.md" in paths
    assert len(set(p.casefold() for p in paths)) == len(paths)
    for p in paths:
        assert path_problem(p) is None and inside("/skill", p)
        assert not is_archive(p)
    assert sum(len(f.data) for f in result.files) <= UPLOAD_MAX_BYTES


# a corrupt deflate stream (first byte of the compressed data zeroed): zlib.error, not BadInput, once
CORRUPT_DEFLATE = (
    [("s/SKILL.md", b"---\nname: s\ndescription: d\n---\nbody\n", 0o100644, zipfile.ZIP_DEFLATED)],
    [(30 + len("s/SKILL.md"), 0)],
)


@pytest.mark.threat("T45")
@budget(1200)
@given(
    st.lists(ENTRY, max_size=8), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4)
)
@example(*CORRUPT_DEFLATE)
@example([], [])  # an empty archive once crashed the layout check instead of a clean BadInput
def test_t45_generated_and_corrupted_zips_pass_clean_or_fail_with_bad_input(
    entries: list[tuple[str, bytes, int, int]], flips: list[tuple[int, int]]
) -> None:
    data = bytearray(make_zip(entries))
    for position, value in flips:
        if data:
            data[position % len(data)] = value
    try:
        result = check_zip(bytes(data))
    except BadInput as exc:
        assert str(exc)
    else:
        assert_clean(result)


@pytest.mark.threat("T45")
@budget(500)
@given(st.binary(max_size=2000))
def test_t45_random_bytes_are_bad_input(data: bytes) -> None:
    with pytest.raises(BadInput):
        check_zip(b"PK\x03\x04" + data if data[:1] == b"P" else data)


# -- the manifest loader ---------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
names = st.sampled_from(["tools", "Tools", "tóols", "a" * 80, "", "claude", "x-y", "../up"]) | st.text(
    max_size=12
)
sources = (
    st.sampled_from(
        [
            "./plugins/tools",
            "./plugins/missing",
            "../outside",
            "./../outside",
            "./plugins/../../outside",
            "/etc",
            "./link-out",
            "./plugins/tools/../../../outside",
            ".\\plugins\\tools",
            "https://example.com/x.git",
            "./plugins/fifo",
        ]
    )
    | json_values
)
plugin_entry = st.fixed_dictionaries(
    {"name": names, "source": sources}, optional={"description": st.text(max_size=20), "version": json_values}
)
marketplace_doc = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"name": names, "plugins": st.lists(plugin_entry, max_size=4)},
        optional={"owner": json_values, "metadata": json_values},
    ),
)
likely_source = st.sampled_from(["./plugins/tools", "./plugins/tools/", "./plugins/./tools"]) | sources
likely_doc = st.fixed_dictionaries(
    {
        "name": names,
        "owner": st.just({"name": "IT"}),
        "plugins": st.lists(
            st.fixed_dictionaries({"name": st.just("tools") | names, "source": likely_source}),
            min_size=1,
            max_size=3,
        ),
    }
)
manifest_bytes = st.one_of(
    likely_doc.map(lambda d: json.dumps(d).encode()),
    likely_doc.map(lambda d: json.dumps(d).encode()),
    marketplace_doc.map(lambda d: json.dumps(d).encode()),
    st.binary(max_size=100),
    st.sampled_from(
        [b"", b"{", b"\xff\xfe{}", b"[]", b'{"plugins": [{"name": "tools", "source": "./plugins/tools"}]']
    ).map(bytes),
)
yaml_text = st.lists(
    st.sampled_from(
        [
            "groups:\n",
            "  g: [a@b.c]\n",
            "default:\n",
            "  read: ['*']\n",
            "&a x\n",
            "*a\n",
            "!!python/object:os.system\n",
            "plugins: {tools: {read: [g]}}\n",
            "- ",
            ": ",
            "\x00",
            "{{{{{{",
            "\n",
        ]
    )
    | st.text(max_size=10),
    max_size=8,
).map("".join)
skill_md_built = st.builds(
    lambda name, desc, extra: f"---\nname: {name}\ndescription: {desc}\n{extra}---\nBody\n",
    st.just("alpha") | names,
    st.just("Does things.") | st.text(max_size=30),
    st.sampled_from(["", "metadata:\n  version: 1.0.0\n", "license: [\n", "x: &a [*a]\n"]),
)
skill_md = st.one_of(skill_md_built, skill_md_built, st.text(max_size=200))
hazards = st.sets(
    st.sampled_from(["symlink-file", "symlink-skill", "symlink-manifest", "fifo", "hardlink", "big"])
)


def snapshot(base: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(base):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st_ = os.lstat(p)
            out[p.relative_to(base).as_posix()] = (
                st_.st_mode,
                st_.st_size if not stat.S_ISDIR(st_.st_mode) else 0,
            )
    return out


def make_tree(
    base: Path, manifest: bytes, plugin_json: bytes, access: str | None, md: str, found: set[str]
) -> Path:
    outside = base / "outside"
    (outside / "skills" / "leak").mkdir(parents=True)
    (outside / "secret.txt").write_bytes(SECRET)
    (outside / "skills" / "leak" / "SKILL.md").write_bytes(SECRET)
    root = base / "mp"
    (root / ".claude-plugin").mkdir(parents=True)
    (root / ".claude-plugin" / "marketplace.json").write_bytes(manifest)
    plugin = root / "plugins" / "tools"
    (plugin / ".claude-plugin").mkdir(parents=True)
    (plugin / ".claude-plugin" / "plugin.json").write_bytes(plugin_json)
    skill = plugin / "skills" / "alpha"
    skill.mkdir(parents=True)
    (skill / "SKILL.md").write_text(md, encoding="utf-8", errors="surrogatepass")
    (root / "link-out").symlink_to(outside)
    if access is not None:
        (root / ".skillport").mkdir()
        (root / ".skillport" / "access.yaml").write_text(access, encoding="utf-8", errors="surrogatepass")
    if "symlink-file" in found:
        (skill / "notes.md").symlink_to(outside / "secret.txt")
    if "symlink-skill" in found:
        (plugin / "skills" / "leak").symlink_to(outside / "skills" / "leak")
    if "symlink-manifest" in found:
        (plugin / ".claude-plugin" / "plugin.json").unlink()
        (plugin / ".claude-plugin" / "plugin.json").symlink_to(outside / "secret.txt")
    if "fifo" in found:
        os.mkfifo(skill / "pipe")
        (root / "plugins" / "fifo").mkdir()
        os.mkfifo(root / "plugins" / "fifo" / "pipe")
    if "hardlink" in found:
        os.link(outside / "secret.txt", skill / "hard.md")
    if "big" in found:
        (skill / "big.bin").write_bytes(b"x" * 2048)
    return root


@pytest.mark.threat("T42")
@pytest.mark.threat("T44")
@budget(400)
@given(manifest_bytes, manifest_bytes, st.none() | yaml_text, skill_md, hazards)
def test_t42_t44_manifest_loader_reports_problems_and_never_reads_outside(
    manifest: bytes, plugin_json: bytes, access: str | None, md: str, found: set[str]
) -> None:
    from builder.limits import BuildLimits

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        root = make_tree(base, manifest, plugin_json, access, md, found)
        before = snapshot(base)
        limits = BuildLimits(max_skill_bytes=1024, max_manifest_bytes=4096)
        marketplace, problems = validate_marketplace(root, limits=limits)
        event(f"skills loaded: {sum(len(p.skills) for p in marketplace.plugins)}")
        assert isinstance(marketplace, Marketplace)
        assert all(isinstance(p, Problem) and p.message for p in problems)
        for plugin in marketplace.plugins:
            assert inside(str(root.resolve()), plugin.folder) or not plugin.folder.startswith("/")
            for skill in plugin.skills:
                for f in skill.files:
                    assert SECRET not in f.data, f.path
                    assert inside("/skill", f.path)
        assert snapshot(base) == before  # loading writes nothing


# -- the authoring apply step ----------------------------------------------------------------------

plausible_path = st.lists(
    st.sampled_from(
        ["a", "b", "plugins", "tools", "skills", "alpha", "SKILL.md", "link-out", "secret.txt", "..", ""]
    ),
    min_size=1,
    max_size=5,
).map("/".join)
change = st.tuples(plausible_path | plausible_path | hostile_path, st.none() | st.binary(max_size=16))


@pytest.mark.threat("T38")
@budget(400)
@given(st.lists(change, min_size=1, max_size=5, unique_by=lambda c: c[0]))
@example([("a/b", b"x")])
@example([("plugins/tools/skills/alpha/SKILL.md", b"new"), ("a/b/c", None)])
@example([("link-out/secret.txt", b"x")])
@example([("a", b"x"), ("a/b", b"y")])  # found by this property: one path as both file and folder
def test_t38_apply_writes_only_inside_the_marketplace_or_changes_nothing(
    changes: list[tuple[str, bytes | None]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        outside = base / "outside"
        outside.mkdir()
        (outside / "secret.txt").write_bytes(SECRET)
        root = base / "mp"
        (root / "plugins" / "tools" / "skills" / "alpha").mkdir(parents=True)
        (root / "plugins" / "tools" / "skills" / "alpha" / "SKILL.md").write_bytes(b"old")
        (root / "a").write_bytes(b"file, not folder")
        (root / "link-out").symlink_to(outside)
        (root / "secret.txt").symlink_to(outside / "secret.txt")
        outside_before = snapshot(outside)
        root_before = snapshot(root)
        try:
            plan = Plan(
                action="edit",
                plugin="tools",
                skill="alpha",
                changes=tuple(FileChange(p, d) for p, d in changes),
                message="generated change",
            )
        except BadInput:
            event("refused by FileChange")
            return
        try:
            apply_plan(root, plan, validate=lambda r: [])
        except (BadInput, ValidationFailed, NotADirectoryError):
            # NotADirectoryError: a folder on the path is a file (test_authoring.py relies on it)
            event("refused by apply")
            assert snapshot(root) == root_before  # refused: nothing changed
        else:
            event("applied")
            for p, d in changes:
                target = root / p
                assert inside(str(root), p)
                if d is None:
                    assert not target.exists() or target.is_dir()
                else:
                    assert target.read_bytes() == d
        assert snapshot(outside) == outside_before
        assert (outside / "secret.txt").read_bytes() == SECRET
        assert sorted(p.name for p in base.iterdir()) == ["mp", "outside"]


# -- the threat list is fully covered --------------------------------------------------------------

THREAT_MARK = re.compile(r'@pytest\.mark\.threat\("(T\d\d)"\)')


def test_every_threat_t01_to_t59_is_guarded_by_a_tagged_test_named_after_it() -> None:
    tests_dir = Path(__file__).parent
    covered: set[str] = set()
    misnamed: list[str] = []
    for source in sorted(tests_dir.glob("test_*.py")):
        lines = source.read_text().splitlines()
        for number, line in enumerate(lines):
            ids = THREAT_MARK.findall(line)
            if not ids:
                continue
            covered.update(ids)
            test_line = next(
                (ln for ln in lines[number + 1 :] if ln.lstrip().startswith(("def ", "async def "))), ""
            )
            for tid in ids:
                if tid.lower() not in test_line:
                    misnamed.append(f"{source.name}:{number + 1}: {tid} not in {test_line.strip()[:80]!r}")
    expected = {f"T{i:02d}" for i in range(1, 60)}
    assert sorted(expected - covered) == []
    assert misnamed == []
