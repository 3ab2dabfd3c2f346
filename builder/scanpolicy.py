"""The marketplace's security-scan policy: ``.skillport/policy.yaml``.

```yaml
scan:
  block_at: high   # critical | high | medium | low | never (default: high)
```

A skill with a finding at or above ``block_at`` is not published (its plugin keeps its last published
version, as for any failing plugin). Read with the same strict YAML reader as ``access.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from builder import frontmatter
from builder.model import Problem

POLICY_YAML = ".skillport/policy.yaml"
MAX_POLICY_BYTES = 64 * 1024
# The scanner's severities, lowest first ("SAFE": nothing found).
SEVERITIES = ("SAFE", "INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL")
BLOCK_CHOICES = ("critical", "high", "medium", "low", "never")
DEFAULT_BLOCK_AT = "high"


def rank(severity: str) -> int:
    """Position of ``severity`` in ``SEVERITIES`` (unknown values rank as MEDIUM: never ignored)."""
    upper = severity.upper()
    return SEVERITIES.index(upper) if upper in SEVERITIES else SEVERITIES.index("MEDIUM")


@dataclass(frozen=True)
class ScanPolicy:
    block_at: str = DEFAULT_BLOCK_AT  # one of BLOCK_CHOICES

    def __post_init__(self) -> None:
        if self.block_at not in BLOCK_CHOICES:
            raise ValueError(f"block_at must be one of {', '.join(BLOCK_CHOICES)}, not {self.block_at!r}")

    def blocks(self, severity: str) -> bool:
        """Whether a finding of ``severity`` stops the skill from being published."""
        if self.block_at == "never":
            return False
        return rank(severity) >= rank(self.block_at)


def _problem(line: int | None, message: str) -> Problem:
    return Problem(
        POLICY_YAML,
        line,
        "policy-yaml",
        message,
        f"write `scan: {{block_at: high}}` (one of {', '.join(BLOCK_CHOICES)})",
    )


def load_policy(root: Path) -> tuple[ScanPolicy, list[Problem]]:
    """The policy of the marketplace at ``root`` (the default when the file is absent). A bad file is
    an error outside any plugin: the build stops rather than publish under a policy nobody wrote."""
    path = root / POLICY_YAML
    if not path.is_file():
        return ScanPolicy(), []
    if path.is_symlink():
        return ScanPolicy(), [_problem(None, f"{POLICY_YAML} is a symbolic link")]
    data = path.read_bytes()
    if len(data) > MAX_POLICY_BYTES:
        return ScanPolicy(), [_problem(None, f"{POLICY_YAML} is larger than {MAX_POLICY_BYTES} bytes")]
    try:
        text = data.decode("utf-8")
        if not text.strip():
            return ScanPolicy(), []
        parsed = frontmatter.parse_yaml(
            text, frontmatter.FrontmatterLimits(max_bytes=MAX_POLICY_BYTES), what=POLICY_YAML
        )
    except UnicodeDecodeError:
        return ScanPolicy(), [_problem(None, f"{POLICY_YAML} is not UTF-8 text")]
    except frontmatter.FrontmatterError as exc:
        return ScanPolicy(), [_problem(exc.line, f"{POLICY_YAML} cannot be read: {exc}")]
    unknown = sorted(set(parsed.data) - {"scan"})
    if unknown:
        return ScanPolicy(), [
            _problem(parsed.key_lines.get(unknown[0]), f"{POLICY_YAML}: unknown key {unknown[0]!r}")
        ]
    scan = parsed.data.get("scan", {})
    line = parsed.key_lines.get("scan")
    if not isinstance(scan, Mapping) or set(scan) - {"block_at"}:
        return ScanPolicy(), [_problem(line, f"{POLICY_YAML}: 'scan' must be a mapping with only 'block_at'")]
    value = scan.get("block_at", DEFAULT_BLOCK_AT)
    if not isinstance(value, str) or value.lower() not in BLOCK_CHOICES:
        return ScanPolicy(), [_problem(line, f"{POLICY_YAML}: scan.block_at is {value!r}")]
    return ScanPolicy(value.lower()), []
