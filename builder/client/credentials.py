"""The member's stored sign-in: ``$XDG_CONFIG_HOME/skillport/credentials.json`` (default
``~/.config``), mode 0600, holding the server and its OAuth tokens."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from builder.errors import SkillportError, UsageError

TIMEOUT = 30.0  # seconds, for every request the client makes


class NotSignedIn(SkillportError):
    """No usable credentials for the server: run ``skillport login``."""


def credentials_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "skillport" / "credentials.json"


@dataclass(frozen=True)
class Credentials:
    server: str
    client_id: str
    access_token: str
    refresh_token: str
    expires_at: float

    def __post_init__(self) -> None:
        if not self.server.startswith(("http://", "https://")) or not self.access_token:
            raise ValueError("credentials need an http(s) server and an access token")

    @classmethod
    def load(cls, path: Path) -> Credentials | None:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                server=str(raw["server"]),
                client_id=str(raw["client_id"]),
                access_token=str(raw["access_token"]),
                refresh_token=str(raw.get("refresh_token") or ""),
                expires_at=float(raw.get("expires_at") or 0),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, path: Path) -> None:
        """Written to a fresh 0600 file next to ``path``, then renamed over it (never world-readable)."""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(asdict(self), handle, indent=2)
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise


def normalize_server(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--server {url!r}: give the Skillport URL, like https://skills.corp.example/")
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise UsageError(f"--server {url!r}: use https:// (plain http only for localhost)")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
