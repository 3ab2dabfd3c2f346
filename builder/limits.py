"""Every limit the builder enforces, in one immutable settings object.

Defaults follow what Claude.ai upload and the Skills API accept (``builder.policy``: upload files,
bytes, name and description lengths) and what keeps a hostile repository from exhausting the build
machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from builder import policy


@dataclass(frozen=True)
class BuildLimits:
    max_files_per_skill: int = 1000  # read at most (a hostile repository); upload limits below
    max_skill_bytes: int = 100 * 1024 * 1024
    max_upload_files: int = policy.UPLOAD_MAX_FILES  # Claude.ai upload: more makes a skill Claude Code only
    max_upload_bytes: int = policy.UPLOAD_MAX_BYTES
    max_skill_md_bytes: int = 512 * 1024
    max_manifest_bytes: int = 1024 * 1024
    max_access_bytes: int = 256 * 1024
    max_description_chars: int = policy.MAX_DESCRIPTION_CHARS
    max_compatibility_chars: int = policy.MAX_COMPATIBILITY_CHARS
    max_name_chars: int = policy.MAX_NAME_CHARS
    max_plugins: int = 5000
    max_plugin_files: int = 5000
    max_plugin_bytes: int = 100 * 1024 * 1024
    max_skills: int = 20000
    index_lifetime_days: int = 30
    history_entries: int = 10
    catalog_page_skills: int = 500  # skills per page of a long list (All skills, a tag, a category)
    processes: int = max(1, min(4, os.cpu_count() or 1))  # worker processes for rendering pages

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"limit {name} must be a positive integer, not {value!r}")


DEFAULT_LIMITS = BuildLimits()
