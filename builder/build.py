"""``skillport build``: validate, package, index, sign, render, and publish atomically.

The order of writes inside the staging folder is: catalog pages, zips, Claude Code marketplace,
well-known tree, signature, index — the index last — and only then the swap into place (T47).
Nothing is written when validation fails.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from builder import (
    changes,
    frontmatter,
    history,
    index,
    load,
    package,
    parallel,
    plan,
    publish,
    resources,
    rules,
    scan,
    site,
    wellknown,
)
from builder.contract.index import IndexDocument, PluginEntry, SkillEntry, ZipRecord
from builder.errors import BadInput, IndexMalformed, IndexRejected, UpstreamError, ValidationFailed
from builder.limits import DEFAULT_LIMITS, BuildLimits
from builder.model import Marketplace, Problem, SkillFile, skill_keys
from builder.validate import validate_marketplace

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class BuildResult:
    out_dir: Path
    serial: int
    skills: int
    plugins: int
    packaged: int  # zips built in this run
    reused: int  # zips carried over unchanged from the previous site
    warnings: tuple[Problem, ...] = field(default_factory=tuple)
    failed: tuple[Problem, ...] = field(default_factory=tuple)  # errors of plugins not (re)published
    kept: tuple[str, ...] = ()  # failing plugins still served at their last published version
    left_out: tuple[str, ...] = ()  # failing plugins with nothing published before
    scan: Mapping[str, Any] = field(default_factory=dict)  # scan.MarketplaceScan.summary()
    pages_rendered: int = 0  # catalog pages rendered in this run (builder/engine.py)
    pages_reused: int = 0  # catalog pages carried over unchanged from the previous site

    def as_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out_dir),
            "serial": self.serial,
            "skills": self.skills,
            "plugins": self.plugins,
            "packaged": self.packaged,
            "reused": self.reused,
            "warnings": [w.as_dict() for w in self.warnings],
            "failed": [p.as_dict() for p in self.failed],
            "kept": list(self.kept),
            "left_out": list(self.left_out),
            "scan": dict(self.scan),
            "pages_rendered": self.pages_rendered,
            "pages_reused": self.pages_reused,
        }


def _read_previous(spec: str) -> tuple[bytes, bytes | None]:
    if spec.startswith(("http://", "https://")):
        try:
            with httpx.Client(timeout=30, follow_redirects=True) as client:
                data = client.get(spec)
                data.raise_for_status()
                sig = client.get(spec + ".sig")
                return data.content, sig.content if sig.status_code == 200 else None
        except httpx.HTTPError as exc:
            raise UpstreamError(f"--previous-index {spec} could not be fetched: {exc}") from exc
    path = Path(spec)
    if not path.is_file():
        raise BadInput(f"--previous-index {spec} is not a file")
    sig_path = path.with_name(path.name + ".sig")
    return path.read_bytes(), sig_path.read_bytes() if sig_path.is_file() else None


def load_previous_index(
    spec: str | None, out_dir: Path, keys: Sequence[str], now: datetime
) -> tuple[IndexDocument | None, list[Problem]]:
    """The previously published index, verified with ``keys``.

    An explicit ``--previous-index`` must verify (else the build stops: its serial and digests are
    what this build is checked against). The index already in ``out_dir`` is used when it verifies
    and ignored with a warning otherwise (e.g. built with another key)."""
    if spec:
        data, sig = _read_previous(spec)
        try:
            return index.verify(data, sig, keys, now=now, allow_expired=True), []
        except IndexRejected as exc:
            raise BadInput(
                f"--previous-index {spec} does not verify with SKILLPORT_SIGNING_KEYS: {exc}"
            ) from exc
    current = out_dir / "index.json"
    if not current.is_file():
        return None, []
    sig_path = out_dir / "index.json.sig"
    try:
        doc = index.verify(
            current.read_bytes(),
            sig_path.read_bytes() if sig_path.is_file() else None,
            keys,
            now=now,
            allow_expired=True,
        )
    except IndexRejected as exc:
        return None, [
            Problem(
                str(current),
                None,
                "previous-index-unverified",
                f"the existing index was not used (incremental reuse and bump checks skipped): {exc}",
                "build with the same SKILLPORT_SIGNING_KEYS as before",
                "warning",
            )
        ]
    return doc, []


def build(
    marketplace_dir: Path,
    out_dir: Path,
    *,
    keys: Sequence[str],
    now: datetime,
    base_url: str | None = None,
    previous_index: str | None = None,
    limits: BuildLimits = DEFAULT_LIMITS,
    mkdocs_config: Path | None = None,
    templates_dir: Path | None = None,
    progress: Progress | None = None,
    strict: bool = False,
    scanner: scan.Scanner | None = None,
) -> BuildResult:
    """Build ``marketplace_dir`` into ``out_dir``. Raises ``ValidationFailed`` (nothing written) when
    the marketplace has errors (with ``strict``, warnings count as errors), ``BuildInProgress`` when
    another build holds the lock. ``mkdocs_config``: the catalog's configuration (default: the
    marketplace's ``.skillport/mkdocs.yml``, else the packaged one, builder/resources.py). Every skill
    is security-scanned with ``scanner`` (None: recorded as not scanned); a skill the marketplace's
    policy blocks fails its plugin."""
    if not keys:
        raise BadInput("no signing keys: set SKILLPORT_SIGNING_KEYS (or use --dev for an ephemeral key)")
    if base_url is not None and not base_url.endswith("/"):
        base_url += "/"
    out_dir = out_dir.resolve()
    marketplace_dir = marketplace_dir.resolve()
    config = resources.site_config(marketplace_dir, mkdocs_config)
    with publish.build_lock(out_dir):
        publish.remove_leftovers(out_dir)
        previous, notes = load_previous_index(previous_index, out_dir, keys, now)
        with load.parse_cache(publish.cache_dir(out_dir) / "frontmatter.json"):
            marketplace, problems = validate_marketplace(
                marketplace_dir, previous_index=previous, limits=limits
            )
        problems += notes
        scanned = scan.scan_marketplace(
            marketplace_dir, marketplace, scanner, cache_dir=publish.cache_dir(out_dir), progress=progress
        )
        problems += scanned.problems
        if strict:
            problems = [dataclasses.replace(p, severity="error") for p in problems]
        failing = failing_plugins(marketplace, problems)
        if any(p.is_error for p in problems) and (strict or None in failing):
            raise ValidationFailed(problems)
        failed = tuple(p for p in problems if p.is_error)
        kept = _kept_plugins(previous, out_dir, failing)
        published_before = set(previous.plugins_by_name) if previous else set()
        lost = (failing & published_before) - {d.name for d in kept.plugins}
        survivors = tuple(p for p in marketplace.plugins if p.name not in failing)
        if lost or (failed and not survivors and not kept.plugins):
            raise ValidationFailed(problems)  # publishing would drop what is live, or publish nothing
        problems = [p for p in problems if not p.is_error]
        marketplace = dataclasses.replace(marketplace, plugins=survivors)
        names = skill_keys(marketplace.plugins)
        commit = history.head_commit(marketplace_dir)
        if commit:
            marketplace = dataclasses.replace(marketplace, commit=commit)
            histories = history.skill_histories(
                marketplace_dir,
                [
                    (names[(p.name, s.name)], s.folder, p.folder)
                    for p in marketplace.plugins
                    for s in p.skills
                ],
                limit=limits.history_entries,
            )
        else:
            histories = {}
        stamps = package.StampCache(publish.cache_dir(out_dir) / "stamps")
        skill_plans = [
            plan.plan_skill(
                s,
                p,
                marketplace.name,
                upload=not rules.claude_code_only(s, p, limits),
                key=names[(p.name, s.name)],
                stamps=stamps,
            )
            for p in marketplace.plugins
            for s in p.skills
        ]
        stamps.prune()
        plugin_plans = [
            plan.plan_plugin(p, [sp for sp in skill_plans if sp.plugin.name == p.name])
            for p in marketplace.plugins
        ]
        reusable = _reusable(previous)
        with publish.staging(out_dir) as staged:
            zips: dict[str, tuple[str, int]] = {}
            reused = 0
            jobs: list[tuple[plan.Artifact, Callable[[], bytes]]] = [
                (sp.zip, sp.build_zip) for sp in skill_plans if sp.zip
            ] + [(pp.zip, pp.build_zip) for pp in plugin_plans]
            for path in kept.zips:
                publish.reuse_file(out_dir, staged, path)
            todo: list[tuple[plan.Artifact, Callable[[], bytes]]] = []
            for artifact, make in jobs:
                old = reusable.get(artifact.path)
                if (  # the same inputs: reused, its digest checked
                    old is not None
                    and old[2] == artifact.key
                    and publish.reuse_file(out_dir, staged, artifact.path, old[0])
                ):
                    zips[artifact.path] = (old[0], old[1])
                    reused += 1
                    continue
                todo.append((artifact, make))

            def package_one(job: tuple[plan.Artifact, Callable[[], bytes]]) -> tuple[str, int]:
                data = job[1]()
                publish.write_file(staged, job[0].path, data)
                return _sha256(data), len(data)

            for (artifact, _make), made in zip(
                todo, parallel.map_forked(package_one, todo, limits.processes), strict=True
            ):
                zips[artifact.path] = made
            packaged = len(todo)
            if progress:
                progress("package", len(jobs), len(jobs))
            serial = index.next_serial(previous.serial if previous else None, now)
            try:
                source_path = marketplace_dir.relative_to(Path.cwd()).as_posix()
            except ValueError:
                source_path = marketplace_dir.name
            document = plan.index_document(
                marketplace,
                skill_plans,
                plugin_plans,
                zips,
                now=now,
                serial=serial,
                lifetime=timedelta(days=limits.index_lifetime_days),
                base_url=base_url,
                source_path=source_path,
                histories=histories,
                previous=previous,
                repository=history.remote_url(marketplace_dir) if commit else None,
            )
            try:  # kept plugins join the new ones; the bytes are read back through the contract
                document = scan.record(document, scanned.results)
                document = changes.record(
                    document,
                    changes.for_marketplace(
                        marketplace_dir, {sp.key: sp.skill.folder for sp in skill_plans}, histories
                    ),
                )
                document = document.with_entries(kept.plugins, kept.skills)
                encoded = document.to_json()
            except IndexMalformed as exc:
                raise BadInput(f"the index this build would publish breaks its contract: {exc}") from exc
            kept_known = _kept_discovery(out_dir, kept)  # read before the swap replaces the old site
            if progress:
                progress("catalog", 0, 1)
            pages = site.render_catalog(
                document,
                {**_kept_bodies(kept_known), **{sp.key: sp.skill.body for sp in skill_plans}},
                staged,
                config_path=config.path,
                docs_base=config.docs_base,
                templates_dir=templates_dir or resources.templates_dir(),
                work_dir=publish.cache_dir(out_dir),
                now=now,
                references={sp.skill.name: site.reference_texts(sp.skill.files) for sp in skill_plans},
                previous_site=out_dir if out_dir.is_dir() else None,
                page_size=limits.catalog_page_skills,
                processes=limits.processes,
            )
            if progress:
                progress("catalog", 1, 1)
            cc = plan.claude_code_marketplace(marketplace, plugin_plans, zips, base_url)
            cc["plugins"] = sorted([*cc["plugins"], *kept.entries], key=lambda e: str(e.get("name")))
            publish.write_file(
                staged,
                "claude-code/marketplace.json",
                (json.dumps(cc, indent=2, ensure_ascii=False) + "\n").encode(),
            )
            known = wellknown.well_known_index(
                [
                    wellknown.DiscoverySkill(sp.skill.name, sp.skill.description, sp.stamped)
                    for sp in skill_plans
                    if sp.key == sp.skill.name  # the RFC names skills bare: a shared name is left out
                ]
                + kept_known,
                base_url=base_url,
            )
            for rel, data in known.files:
                publish.write_or_link(out_dir, staged, f"{wellknown.WELL_KNOWN_DIR}/{rel}", data)
            publish.write_file(staged, "index.json.sig", index.sign(encoded, keys))
            publish.write_file(staged, "index.json", encoded)
            publish.swap_into_place(staged, out_dir)
    return BuildResult(
        out_dir,
        serial,
        len(skill_plans),
        len(plugin_plans),
        packaged,
        reused,
        tuple(problems),
        failed,
        tuple(sorted(p.name for p in kept.plugins)),
        tuple(sorted(n for n in failing if n is not None and n not in {p.name for p in kept.plugins})),
        scanned.summary(),
        pages.rendered,
        pages.reused,
    )


def failing_plugins(marketplace: Marketplace, problems: Sequence[Problem]) -> set[str | None]:
    """The plugins that have an error (``None`` stands for an error outside any plugin: in
    marketplace.json itself or the access rules, which fails the whole build)."""
    prefixes: list[tuple[str, str]] = []
    for p in marketplace.plugins:
        if p.folder != ".":
            prefixes.append((p.folder + "/", p.name))
        prefixes += [(s.folder + "/", p.name) for s in p.skills]
    prefixes.sort(key=lambda item: len(item[0]), reverse=True)
    out: set[str | None] = set()
    for problem in problems:
        if not problem.is_error:
            continue
        if problem.plugin is not None:
            out.add(problem.plugin)
            continue
        named = re.search(r"plugins\[\d+\] \(([^)]+)\)", problem.message)
        owner = named.group(1) if named and problem.rule != "plugin-duplicate" else None
        if owner is None:
            owner = next((name for prefix, name in prefixes if problem.file.startswith(prefix)), None)
        out.add(owner)
    return out


@dataclass(frozen=True)
class _Kept:
    plugins: tuple[PluginEntry, ...] = ()
    skills: tuple[SkillEntry, ...] = ()
    entries: tuple[Mapping[str, Any], ...] = ()
    zips: tuple[str, ...] = ()


_KEPT_NONE = _Kept()


def _kept_plugins(previous: IndexDocument | None, out_dir: Path, failing: set[str | None]) -> _Kept:
    """What the site being replaced published for each failing plugin, when all its zips are still
    there: it stays published at that version (nothing already published is lost)."""
    if not previous or not failing:
        return _KEPT_NONE
    try:
        old_cc = json.loads((out_dir / "claude-code/marketplace.json").read_bytes())
    except (OSError, ValueError):
        old_cc = {}
    old_entries = {e.get("name"): e for e in old_cc.get("plugins", []) if isinstance(e, Mapping)}
    plugins: list[PluginEntry] = []
    skills: list[SkillEntry] = []
    entries: list[Mapping[str, Any]] = []
    zips: list[str] = []
    for doc in previous.plugins:
        name = doc.name
        if name not in failing or name not in old_entries:
            continue
        mine = previous.skills_of(name)
        records = [z for z in [doc.zip, *(s.zip for s in mine)] if z is not None]
        paths = [z.path for z in records]
        if not all(_same_file(out_dir / z.path, z) for z in records):
            continue
        plugins.append(doc)
        skills += mine
        entries.append(old_entries[name])
        zips += paths
    return _Kept(tuple(plugins), tuple(skills), tuple(entries), tuple(zips))


def _reusable(previous: IndexDocument | None) -> dict[str, tuple[str, int, str]]:
    """Zip path -> (sha256, size, key) from a verified previous index."""
    if previous is None:
        return {}
    return {path: (z.sha256, z.size, z.key) for path, (_, z) in previous.by_zip.items() if z.key is not None}


def _kept_discovery(out_dir: Path, kept: _Kept) -> list[wellknown.DiscoverySkill]:
    """The well-known entries of kept skills, from the files the site being replaced serves."""
    out = []
    for doc in kept.skills:
        name = doc.name
        folder = out_dir / wellknown.WELL_KNOWN_DIR / name
        if "." in name or not folder.is_dir() or folder.is_symlink():
            continue
        files = tuple(
            SkillFile(f.relative_to(folder).as_posix(), f.read_bytes())
            for f in sorted(folder.rglob("*"))
            if f.is_file() and not f.is_symlink()
        )
        out.append(wellknown.DiscoverySkill(name, doc.description, files))
    return out


def _kept_bodies(known: list[wellknown.DiscoverySkill]) -> dict[str, str]:
    """Kept skills' SKILL.md bodies (for their catalog pages), from the files the old site serves."""
    out = {}
    for skill in known:
        md = next((f for f in skill.files if f.path == "SKILL.md"), None)
        try:
            out[skill.name] = frontmatter.parse(md.data.decode("utf-8")).body if md else ""
        except (UnicodeDecodeError, frontmatter.FrontmatterError):
            out[skill.name] = ""
    return out


def _same_file(path: Path, record: ZipRecord) -> bool:
    return (
        path.is_file()
        and not path.is_symlink()
        and path.resolve().is_relative_to(path.parent.resolve())
        and publish.sha256_file(path) == record.sha256
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
