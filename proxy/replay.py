"""Single use of authorization codes and refresh tokens, per process (T36, T51).

The guard remembers every entry until it expires — never fewer: forgetting an unexpired entry
would let a stolen, already-rotated refresh token work again. Refresh tokens take one entry per
grant (the newest generation used), not one per refresh, so the table grows with the number of
active grants. When it is full, new grants are refused (fail closed) until entries expire.

Each call does O(1) work plus dropping entries whose time is up (each entry is dropped once);
nothing copies the table. Expiry times are grouped by whole second in a heap of seconds.
"""

from __future__ import annotations

import heapq
import math
import threading


class GuardFull(Exception):
    """The guard holds its maximum of unexpired entries; the caller must refuse (fail closed)."""


class ReplayGuard:
    def __init__(self, max_entries: int = 200_000) -> None:
        self._max = max_entries
        self._entries: dict[str, tuple[int, float]] = {}  # key -> (generation, expires at)
        self._buckets: dict[int, set[str]] = {}  # whole second -> keys expiring in it
        self._seconds: list[int] = []  # heap of the buckets' seconds
        self._lock = threading.Lock()

    # -- one-time ids (authorization codes) -------------------------------------------------------

    def first_use(self, jti: str, expires_at: float, now: float) -> bool:
        """True the first time ``jti`` is seen (and records it), False on any later use.
        Raises ``GuardFull`` when a new entry cannot be remembered."""
        return self.advance(jti, 0, expires_at, now)

    # -- grants (refresh tokens): one entry, the newest generation used ---------------------------

    def advance(self, key: str, generation: int, expires_at: float, now: float) -> bool:
        """Record that ``generation`` of ``key`` was used. False if it (or a newer one) already was."""
        with self._lock:
            self._expire(now)
            old = self._entries.get(key)
            if old is not None and old[0] >= generation:
                return False
            if old is None and len(self._entries) >= self._max:
                raise GuardFull
            self._put(key, generation, expires_at, old)
            return True

    def mark(self, key: str, expires_at: float, now: float) -> None:
        """Remember ``key`` (e.g. a revoked grant) until ``expires_at``, even when full."""
        with self._lock:
            self._expire(now)
            old = self._entries.get(key)
            self._put(key, old[0] if old else 0, max(expires_at, old[1] if old else 0.0), old)

    def seen(self, key: str, now: float) -> bool:
        with self._lock:
            entry = self._entries.get(key)
            return entry is not None and entry[1] >= now

    def __len__(self) -> int:
        return len(self._entries)

    # -- machinery ---------------------------------------------------------------------------------

    def _put(self, key: str, generation: int, expires_at: float, old: tuple[int, float] | None) -> None:
        if old is not None:
            bucket = self._buckets.get(math.ceil(old[1]))
            if bucket is not None:
                bucket.discard(key)
        second = math.ceil(expires_at)
        bucket = self._buckets.get(second)
        if bucket is None:
            bucket = self._buckets[second] = set()
            heapq.heappush(self._seconds, second)
        bucket.add(key)
        self._entries[key] = (generation, expires_at)

    def _expire(self, now: float) -> None:
        while self._seconds and self._seconds[0] < now:
            second = heapq.heappop(self._seconds)
            for key in self._buckets.pop(second, ()):
                entry = self._entries.get(key)
                if entry is not None and math.ceil(entry[1]) == second:
                    del self._entries[key]
