"""Security scan of every skill with Cisco's AI skill scanner (an edge module: it runs a process).

The scanner (PyPI ``cisco-ai-skill-scanner``) lives in its own virtualenv (``make tools`` puts it in
``.tools/scanner``; ``SKILLPORT_SCANNER`` names another executable, or ``off``) and is called as a
process with its static analyzers only: no ``--use-llm``, and the process gets no API keys, so no
skill text leaves the machine. Results are cached by skill digest and scanner version in the build's
cache folder (beside the site, like the render cache): a rebuild scans only changed skills. Skills
not yet cached are scanned in batches, one ``scan-all`` process per core.

A skill the scanner could not look at is "not scanned" (with the reason), never "safe".
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from builder.contract.index import IndexDocument
from builder.digest import skill_digest
from builder.model import Marketplace, Problem, SkillFile, skill_keys
from builder.scanpolicy import SEVERITIES, ScanPolicy, load_policy, rank

SCANNER_NAME = "cisco-ai-skill-scanner"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_EXECUTABLE = REPO_ROOT / ".tools" / "scanner" / "bin" / "skill-scanner"
SCANNER_ENV = "SKILLPORT_SCANNER"
SCAN_TIMEOUT = 600  # seconds for one batch process
CACHE_FORMAT = "1"
# Only what a Python process needs to run: never a provider key (the LLM analyzers stay off).
_PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")

Status = Literal["scanned", "not-scanned"]


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str  # one of SEVERITIES
    file: str  # relative to the skill folder ("" when the finding is about the skill as a whole)
    line: int | None
    title: str
    fix: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "file": self.file,
            "line": self.line,
            "title": self.title,
            "fix": self.fix,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Finding:
        line = d.get("line")
        return cls(
            str(d.get("rule") or ""),
            str(d.get("severity") or "MEDIUM"),
            str(d.get("file") or ""),
            int(line) if isinstance(line, int) else None,
            str(d.get("title") or ""),
            str(d.get("fix") or ""),
        )


@dataclass(frozen=True)
class ScanResult:
    """What the index records per skill under ``scan``."""

    status: Status
    scanner: str = ""  # "cisco-ai-skill-scanner 2.3.2"
    max_severity: str = ""  # one of SEVERITIES when scanned
    findings: tuple[Finding, ...] = field(default_factory=tuple)
    reason: str = ""  # why the skill was not scanned

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "scanner": self.scanner}
        if self.status == "scanned":
            out["max_severity"] = self.max_severity
            out["findings"] = [f.as_dict() for f in self.findings]
        else:
            out["reason"] = self.reason
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ScanResult:
        findings = d.get("findings") or []
        return cls(
            "scanned" if d.get("status") == "scanned" else "not-scanned",
            str(d.get("scanner") or ""),
            str(d.get("max_severity") or ""),
            tuple(Finding.from_dict(f) for f in findings if isinstance(f, Mapping)),
            str(d.get("reason") or ""),
        )


def not_scanned(reason: str, scanner: str = "") -> ScanResult:
    return ScanResult("not-scanned", scanner, reason=reason)


@dataclass(frozen=True)
class Scanner:
    """How to run the scanner: the command (a path, or a wrapper) and the version it reports."""

    command: tuple[str, ...]
    version: str
    jobs: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))
    timeout: int = SCAN_TIMEOUT

    @property
    def label(self) -> str:
        return f"{SCANNER_NAME} {self.version}"


def scanner_version(executable: Path) -> str | None:
    """The version of the scanner package installed beside ``executable`` (None if it cannot run)."""
    python = executable.parent / "python"
    try:
        done = subprocess.run(
            [str(python), "-c", f"import importlib.metadata as m; print(m.version({SCANNER_NAME!r}))"],
            capture_output=True,
            timeout=60,
            check=False,
            env=_env(),
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = done.stdout.decode(errors="replace").strip()
    return out if done.returncode == 0 and out else None


def find_scanner(env: Mapping[str, str] = os.environ) -> Scanner | None:
    """The installed scanner: ``SKILLPORT_SCANNER`` (an executable in the scanner's virtualenv, or
    ``off``), else ``.tools/scanner/bin/skill-scanner``. None when absent or broken."""
    chosen = env.get(SCANNER_ENV, "").strip()
    if chosen.lower() == "off":
        return None
    executable = Path(chosen) if chosen else DEFAULT_EXECUTABLE
    if not executable.is_file():
        return None
    version = scanner_version(executable)
    return Scanner((str(executable),), version) if version else None


def missing_reason(env: Mapping[str, str] = os.environ) -> str:
    if env.get(SCANNER_ENV, "").strip().lower() == "off":
        return f"the scanner is turned off ({SCANNER_ENV}=off)"
    return f"the security scanner is not installed (run `make tools`, or set {SCANNER_ENV})"


def _env() -> dict[str, str]:
    return {k: os.environ[k] for k in _PASSED_ENV if k in os.environ}


# -- reading the scanner's report -------------------------------------------------------------------


def _relative(path: str, folder: Path) -> str:
    p = Path(path)
    try:
        return p.resolve().relative_to(folder.resolve()).as_posix() if p.is_absolute() else p.as_posix()
    except ValueError:
        return p.name


def _finding(raw: Mapping[str, Any], folder: Path) -> Finding:
    line = raw.get("line_number", raw.get("line"))
    severity = str(raw.get("severity") or "MEDIUM").upper()
    return Finding(
        rule=str(raw.get("rule_id") or raw.get("rule") or "unknown"),
        severity=severity if severity in SEVERITIES else "MEDIUM",
        file=_relative(str(raw.get("file_path") or ""), folder) if raw.get("file_path") else "",
        line=line if isinstance(line, int) else None,
        title=str(raw.get("title") or raw.get("description") or "")[:300],
        fix=str(raw.get("remediation") or "")[:300],
    )


def read_report(report: Mapping[str, Any], folders: Mapping[str, Path], label: str) -> dict[str, ScanResult]:
    """Results of a ``scan-all --format json`` report, keyed like ``folders`` (key -> scanned folder)."""
    by_folder = {p.resolve(): key for key, p in folders.items()}
    out: dict[str, ScanResult] = {}
    for r in report.get("results") or []:
        if not isinstance(r, Mapping):
            continue
        where = r.get("skill_path") or r.get("skill_directory") or r.get("path") or ""
        key = by_folder.get(Path(str(where)).resolve()) if where else None
        if key is None:
            continue
        findings = tuple(
            sorted(
                (_finding(f, folders[key]) for f in r.get("findings") or [] if isinstance(f, Mapping)),
                key=lambda f: (-rank(f.severity), f.file, f.line or 0, f.rule),
            )
        )
        worst = max((f.severity for f in findings), key=rank, default="SAFE")
        out[key] = ScanResult("scanned", label, worst, findings)
    return out


# -- running it --------------------------------------------------------------------------------------


def _write_skill(folder: Path, name: str, files: Sequence[SkillFile]) -> Path:
    target = folder / name
    for f in files:
        path = target / f.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f.data)
        if f.executable:
            path.chmod(0o755)
    return target


def _run_batch(scanner: Scanner, batch: Sequence[tuple[str, Sequence[SkillFile]]]) -> dict[str, ScanResult]:
    with tempfile.TemporaryDirectory(prefix="skillport-scan-") as tmp:
        root = Path(tmp) / "skills"
        # each skill in a folder named by its position: the scanner reports the folder it scanned
        folders = {key: _write_skill(root, f"s{i}", files) for i, (key, files) in enumerate(batch)}
        try:
            done = subprocess.run(
                [*scanner.command, "scan-all", str(root), "--recursive", "--format", "json"],
                capture_output=True,
                timeout=scanner.timeout,
                check=False,
                env=_env(),
                cwd=tmp,
            )
        except subprocess.TimeoutExpired:
            return {
                k: not_scanned(f"the scanner timed out after {scanner.timeout} s", scanner.label)
                for k, _ in batch
            }
        except OSError as exc:
            return {
                k: not_scanned(f"the scanner could not be started: {exc}", scanner.label) for k, _ in batch
            }
        try:
            report = json.loads(done.stdout)
        except ValueError:
            err = done.stderr.decode(errors="replace").strip().splitlines()
            why = err[-1][:200] if err else f"exit status {done.returncode}"
            return {k: not_scanned(f"the scanner failed: {why}", scanner.label) for k, _ in batch}
        results = read_report(report if isinstance(report, Mapping) else {}, folders, scanner.label)
    return {
        key: results.get(key) or not_scanned("the scanner did not report on this skill", scanner.label)
        for key, _ in batch
    }


def _cache_path(cache_dir: Path, scanner: Scanner, digest: str) -> Path:
    return cache_dir / "scan" / f"{CACHE_FORMAT}-{scanner.version}" / f"{digest.removeprefix('sha256:')}.json"


def _cached(path: Path) -> ScanResult | None:
    try:
        raw = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return ScanResult.from_dict(raw) if isinstance(raw, Mapping) and raw.get("status") == "scanned" else None


def scan_skills(
    scanner: Scanner | None,
    skills: Sequence[tuple[str, Sequence[SkillFile]]],
    *,
    cache_dir: Path | None,
    progress: Callable[[str, int, int], None] | None = None,
    missing: str = "",
) -> dict[str, ScanResult]:
    """``{key: result}`` for each ``(key, files)``. Cached results (by digest) are reused; the rest are
    scanned in ``scanner.jobs`` parallel batches; only successful scans are cached."""
    if scanner is None:
        reason = missing or missing_reason()
        return {key: not_scanned(reason) for key, _ in skills}
    results: dict[str, ScanResult] = {}
    todo: list[tuple[str, Sequence[SkillFile], Path | None]] = []
    for key, files in skills:
        path = _cache_path(cache_dir, scanner, skill_digest(files)) if cache_dir else None
        hit = _cached(path) if path else None
        if hit is not None:
            results[key] = hit
        else:
            todo.append((key, files, path))
    if todo:
        jobs = max(1, min(scanner.jobs, len(todo)))
        batches = [todo[i::jobs] for i in range(jobs)]
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            done = list(pool.map(lambda b: _run_batch(scanner, [(k, f) for k, f, _ in b]), batches))
        for batch, found in zip(batches, done, strict=True):
            for key, _, path in batch:
                results[key] = found[key]
                if path is not None and found[key].status == "scanned":
                    path.parent.mkdir(parents=True, exist_ok=True)
                    tmp = path.with_suffix(".tmp")
                    tmp.write_text(json.dumps(found[key].as_dict(), sort_keys=True))
                    tmp.replace(path)
        if progress:
            progress("scan", len(todo), len(todo))
    return results


def blocking_problems(
    result: ScanResult, policy: ScanPolicy, *, skill: str, folder: str, plugin: str
) -> list[Problem]:
    """One error per finding at or above the policy's threshold, naming skill, file, rule and fix."""
    out = []
    for f in result.findings:
        if not policy.blocks(f.severity):
            continue
        out.append(
            Problem(
                f"{folder}/{f.file}" if f.file else f"{folder}/SKILL.md",
                f.line,
                "security-scan",
                f"skill {skill} is not published: {f.severity} finding {f.rule}: {f.title}",
                f.fix
                or "remove the flagged instructions or code; if it is a false positive, raise "
                "scan.block_at in .skillport/policy.yaml",
                plugin=plugin,
            )
        )
    return out


@dataclass(frozen=True)
class MarketplaceScan:
    """The scan of a whole marketplace: per-skill results (keyed by index name) and the errors of
    blocked skills (and of a bad policy file)."""

    results: Mapping[str, ScanResult]
    problems: tuple[Problem, ...]
    policy: ScanPolicy
    blocked: tuple[str, ...] = ()  # index names of skills held back by the policy

    def summary(self) -> dict[str, Any]:
        values = list(self.results.values())
        reasons = sorted({r.reason for r in values if r.status != "scanned"})
        return {
            "scanner": next((r.scanner for r in values if r.scanner), ""),
            "block_at": self.policy.block_at,
            "scanned": sum(1 for r in values if r.status == "scanned"),
            "not_scanned": sum(1 for r in values if r.status != "scanned"),
            "reasons": reasons,
            "blocked": list(self.blocked),
        }


def scan_marketplace(
    root: Path,
    marketplace: Marketplace,
    scanner: Scanner | None,
    *,
    cache_dir: Path | None,
    progress: Callable[[str, int, int], None] | None = None,
) -> MarketplaceScan:
    policy, problems = load_policy(root)
    keys = skill_keys(marketplace.plugins)
    results = scan_skills(
        scanner,
        [(keys[(p.name, s.name)], s.files) for p in marketplace.plugins for s in p.skills],
        cache_dir=cache_dir,
        progress=progress,
    )
    blocked = []
    for p in marketplace.plugins:
        for s in p.skills:
            key = keys[(p.name, s.name)]
            found = blocking_problems(results[key], policy, skill=key, folder=s.folder, plugin=p.name)
            problems += found
            blocked += [key] if found else []
    return MarketplaceScan(results, tuple(problems), policy, tuple(sorted(blocked)))


def record(document: IndexDocument, results: Mapping[str, ScanResult]) -> IndexDocument:
    """The index document with each skill's scan result (skills kept from an earlier build keep the
    record they were published with)."""
    return replace(
        document,
        skills=tuple(
            replace(s, scan=results[s.name].as_dict()) if s.name in results else s for s in document.skills
        ),
    )


def summary_line(summary: Mapping[str, Any]) -> str:
    """One line for the build and validate output: what was scanned, by what, and what was held back."""
    scanned, missing = int(summary.get("scanned") or 0), int(summary.get("not_scanned") or 0)
    if not scanned and missing:
        why = "; ".join(summary.get("reasons") or []) or "no scanner"
        return f"security scan: {missing} skill(s) NOT SCANNED ({why})"
    line = f"security scan: {scanned} skill(s) scanned with {summary.get('scanner')}"
    line += f", blocking at {summary.get('block_at')}"
    if missing:
        line += f"; {missing} NOT SCANNED ({'; '.join(summary.get('reasons') or [])})"
    blocked = summary.get("blocked") or []
    if blocked:
        line += f"; blocked (not published): {', '.join(blocked)}"
    return line


def member_view(raw: Any) -> dict[str, Any]:
    """A skill's scan as the connector, the API and the CLI show it before an install: the record
    plus ``advice`` (what Claude tells the member). An index without a scan record is not scanned."""
    result = (
        ScanResult.from_dict(raw) if isinstance(raw, Mapping) else not_scanned("the index has no scan record")
    )
    out = result.as_dict()
    if result.status != "scanned":
        out["advice"] = (
            "NOT SCANNED: nothing is known about whether this skill is safe. Tell the member before "
            "installing, and suggest reading its SKILL.md and scripts first."
        )
    elif result.findings:
        out["advice"] = (
            f"The security scan reported {len(result.findings)} finding(s) (highest {result.max_severity}) "
            "below the organization's blocking level. Tell the member what they are before installing."
        )
    else:
        out["advice"] = f"Scanned by {result.scanner}: no findings."
    return out
