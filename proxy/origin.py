"""Where the built site comes from (a local directory or an HTTP base URL), and the verified index.

- ``safe_path`` refuses traversal, NUL, backslashes, over-long names (T22); the local origin also
  refuses symlinks anywhere on the way (T23) and files larger than the configured limit.
- ``IndexStore`` trusts an index only after ``builder.index.verify`` (T27–T30), keeps the highest
  serial seen, keeps the last good index when the origin is down or serves garbage, and checks the
  origin at most every ``refresh_seconds``.
- ``check_zip`` compares a zip's size and sha256 with the index before it is served (T31).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import stat
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

import httpx

from builder.contract.index import IndexDocument, SkillEntry, ZipRecord, verify
from builder.errors import BadInput, IndexExpired, IndexRejected, NotFound, UpstreamError

logger = logging.getLogger("skillport.origin")
MAX_PATH_CHARS = 1024
MAX_SEGMENT_CHARS = 255


def safe_path(path: str) -> str:
    """A normalized relative site path, or ``NotFound`` for anything that could escape the root."""
    if len(path) > MAX_PATH_CHARS or "\x00" in path or "\\" in path:
        raise NotFound("no such page")
    parts = path.split("/")
    clean = [p for p in parts if p != ""]
    for part in clean:
        if part in (".", "..") or len(part) > MAX_SEGMENT_CHARS or ":" in part:
            raise NotFound("no such page")
        if any(ord(c) < 32 or ord(c) == 127 for c in part):
            raise NotFound("no such page")
    return "/".join(clean)


class Origin(Protocol):
    """A source of site files by relative path."""

    async def read(self, path: str) -> bytes | None:
        """The file's bytes, or ``None`` when it does not exist. ``UpstreamError`` when unreachable."""
        ...

    async def aclose(self) -> None: ...


INLINE_READ_BYTES = 256 * 1024  # files up to this size are read on the event loop; larger in a thread


class LocalOrigin:
    """Files under a local directory; symlinks and non-regular files are never served."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def _resolve(self, path: str) -> Path | None:
        rel = safe_path(path)
        current = self.root
        for part in rel.split("/") if rel else []:
            current = current / part
            try:
                st = os.lstat(current)
            except OSError:
                return None
            if stat.S_ISLNK(st.st_mode):
                return None
        try:
            st = os.lstat(current)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode) or st.st_size > self.max_bytes:
            return None
        return current

    def _read(self, target: Path) -> bytes | None:
        try:
            fd = os.open(target, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return None
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(self.max_bytes + 1)
        return None if len(data) > self.max_bytes else data

    async def read(self, path: str) -> bytes | None:
        target = self._resolve(path)
        if target is None:
            return None
        if target.stat().st_size <= INLINE_READ_BYTES:
            return self._read(target)
        # A large zip read on the event loop would stall every other request meanwhile.
        return await asyncio.to_thread(self._read, target)

    async def aclose(self) -> None:
        return None


class HttpOrigin:
    """Files under an http(s) base URL (GitHub Pages, a CDN …), bounded timeouts and sizes."""

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str],
        timeout: float,
        max_bytes: int,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.max_bytes = max_bytes
        self._client = httpx.AsyncClient(
            headers=dict(headers), timeout=httpx.Timeout(timeout), follow_redirects=False, transport=transport
        )

    async def read(self, path: str) -> bytes | None:
        url = self.base_url + quote(safe_path(path))
        try:
            async with self._client.stream("GET", url) as response:
                if response.status_code == 404:
                    return None
                if response.status_code != 200:
                    raise UpstreamError(f"the origin answered {response.status_code} for {path}")
                chunks: list[bytes] = []
                total = 0
                async for chunk in response.aiter_bytes():
                    total += len(chunk)
                    if total > self.max_bytes:
                        raise UpstreamError(f"the origin's {path} is larger than SKILLPORT_MAX_ORIGIN_BYTES")
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"the origin is unreachable ({type(exc).__name__})") from exc

    async def aclose(self) -> None:
        await self._client.aclose()


def open_origin(origin: str, headers: Mapping[str, str], timeout: float, max_bytes: int) -> Origin:
    if origin.startswith(("http://", "https://")):
        return HttpOrigin(origin, headers, timeout, max_bytes)
    return LocalOrigin(Path(origin).resolve(), max_bytes)


def read_serial(path: Path, origin_name: str) -> int:
    """The highest index serial accepted before from ``origin_name`` (0: none recorded)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return 0
    except (OSError, ValueError) as exc:
        raise BadInput(
            f"{path}: cannot read the trusted index serial ({exc}); fix or delete the file"
        ) from exc
    if not isinstance(record, dict) or not isinstance(record.get("serial"), int):
        raise BadInput(f"{path}: not a trusted index serial record; fix or delete the file")
    return int(record["serial"]) if record.get("origin") == origin_name else 0


def write_serial(path: Path, origin_name: str, serial: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps({"origin": origin_name, "serial": serial}) + "\n", encoding="utf-8")
    os.replace(temporary, path)


class IndexStore:
    """The verified index currently trusted, refreshed from the origin at most every N seconds."""

    def __init__(
        self,
        origin: Origin,
        keys: Sequence[str],
        *,
        refresh_seconds: int,
        expiry: str = "refuse",
        serial_floor: int = 0,
        serial_file: Path | None = None,
        origin_name: str = "",
    ) -> None:
        self._origin = origin
        # rollback protection across restarts: never accept a serial below the administrator's floor
        # or the highest one this proxy accepted before (kept in ``serial_file``)
        self._serial_file = serial_file
        self._origin_name = origin_name
        self._floor = max(serial_floor, read_serial(serial_file, origin_name) if serial_file else 0)
        self._persisted = self._floor
        self._keys = list(keys)
        self._refresh_seconds = refresh_seconds
        self._expiry = expiry
        self._doc: IndexDocument | None = None
        self._digest = b""  # of the bytes and signature self._doc was verified from
        self._checked_at: float | None = None
        self._lock = asyncio.Lock()
        self.serial: int | None = None
        self.problem: str | None = "no index loaded yet"
        self.expired = False

    def current(self) -> IndexDocument | None:
        """The verified index document, or ``None`` when none is trusted."""
        return self._doc

    async def refresh(self, *, now: datetime, force: bool = False) -> None:
        stamp = now.timestamp()
        if not force and self._checked_at is not None and stamp - self._checked_at < self._refresh_seconds:
            return
        if not force and self._lock.locked() and self._doc is not None:
            return  # another request is refreshing: keep serving the index we hold
        async with self._lock:
            if (
                not force
                and self._checked_at is not None
                and stamp - self._checked_at < self._refresh_seconds
            ):
                return
            self._checked_at = stamp
            await self._load(now)

    async def _load(self, now: datetime) -> None:
        try:
            data = await self._origin.read("index.json")
            signature = await self._origin.read("index.json.sig")
            if data is None:
                raise UpstreamError("the origin has no index.json (build the site first)")
            digest = _digest(data, signature)
            if self._doc is not None and digest == self._digest:
                doc = self._doc  # the same bytes: keep the one parsed document (and what hangs on it)
            else:
                doc = verify(
                    data,
                    signature,
                    self._keys,
                    now=now,
                    trusted_serial=max(self.serial or 0, self._floor) or None,
                    allow_expired=self._expiry == "warn",
                )
            del data
        except (IndexRejected, UpstreamError) as exc:
            self.problem = f"{type(exc).__name__}: {exc}"
            logger.warning("index not accepted (%s); keeping serial %s", self.problem, self.serial)
            self._expire_held(now)
            return
        self._doc = doc
        self._digest = digest
        self.serial = doc.serial
        if self._serial_file is not None and self.serial > self._persisted:
            await asyncio.to_thread(write_serial, self._serial_file, self._origin_name, self.serial)
            self._persisted = self.serial
        self._expire_held(now)
        if self._doc is not None:
            self.problem = (
                "the index has expired (served because SKILLPORT_INDEX_EXPIRY=warn)" if self.expired else None
            )
            if self.expired:
                logger.warning(
                    "SERVING AN EXPIRED INDEX (serial %s): rebuild and republish the site", self.serial
                )

    def _expire_held(self, now: datetime) -> None:
        if self._doc is None:
            return
        self.expired = now >= self._doc.expires
        if self.expired and self._expiry == "refuse":
            self._doc = None
            self.problem = f"{IndexExpired.__name__}: the last good index expired; rebuild and republish"

    def skill(self, name: str) -> SkillEntry | None:
        """The skill an index name (or ``plugin:skill`` id) names in the trusted index."""
        return self._doc.skill(name) if self._doc is not None else None

    def zip_entry(self, path: str) -> tuple[str, ZipRecord] | None:
        """``(plugin name, zip record)`` for a zip path the index lists, else ``None``."""
        return self._doc.by_zip.get(path) if self._doc is not None else None


def _digest(data: bytes, signature: bytes | None) -> bytes:
    h = hashlib.sha256(data)
    h.update(b"\0" + (signature or b""))
    return h.digest()


def check_zip(data: bytes, record: ZipRecord) -> None:
    """``UpstreamError`` unless the bytes have the size and sha256 the index lists (T31)."""
    if len(data) != record.size or hashlib.sha256(data).hexdigest() != record.sha256:
        raise UpstreamError(f"{record.path} does not match the signed index (size or sha256); not served")
