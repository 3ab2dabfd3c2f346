"""Slow or idle connections (T55): a request head must arrive whole within a time bound.

uvicorn closes idle keep-alive connections after a response, but a connection that has sent nothing,
or only part of a request line and headers, stays open for ever (slowloris): a few hundred of them
exhaust the process's file descriptors. ``head_timeout_protocol(seconds)`` is uvicorn's own h11
protocol with one addition: from the moment a connection opens (or a new request starts on a
kept-alive one) the request line and headers must be complete within ``seconds``, or the connection
is closed. Bodies are left to the front end (see docs/admin/running-the-proxy.md).
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


class _HeadTimeoutH11Protocol(H11Protocol):
    head_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._waiting_for_head():
            if self._head_timer is None:
                self._arm()
        else:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _waiting_for_head(self) -> bool:
        return self.conn.their_state is h11.IDLE and not self.transport.is_closing()

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._waiting_for_head() and self.timeout_keep_alive_task is None:
            self.transport.close()


def head_timeout_protocol(seconds: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol, closing connections whose request head is not complete in time."""
    return type("HeadTimeoutH11Protocol", (_HeadTimeoutH11Protocol,), {"head_timeout": float(seconds)})
