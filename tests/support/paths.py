"""Where the repository, the example marketplace and the npm tools (`make tools`) live."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "examples" / "marketplace"
TOOLS = REPO_ROOT / ".tools"
