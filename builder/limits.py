"""Every limit the builder enforces, in one immutable settings object.

Defaults follow what Claude.ai upload and the Skills API accept (200 files, 30 MB uncompressed) and
what keeps a hostile repository from exhausting the build machine.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BuildLimits:
    max_files_per_skill: int = 1000  # read at most (a hostile repository); upload limits below
    max_skill_bytes: int = 100 * 1024 * 1024
    max_upload_files: int = 200  # Claude.ai upload: more makes a skill Claude Code only
    max_upload_bytes: int = 30 * 1024 * 1024
    max_skill_md_bytes: int = 512 * 1024
    max_manifest_bytes: int = 1024 * 1024
    max_access_bytes: int = 256 * 1024
    max_description_chars: int = 1024
    max_compatibility_chars: int = 500
    max_name_chars: int = 64
    max_plugins: int = 5000
    max_plugin_files: int = 5000
    max_plugin_bytes: int = 100 * 1024 * 1024
    max_skills: int = 20000
    index_lifetime_days: int = 30
    history_entries: int = 10

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"limit {name} must be a positive integer, not {value!r}")


DEFAULT_LIMITS = BuildLimits()
