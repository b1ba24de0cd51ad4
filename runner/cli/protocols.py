"""uvicorn's HTTP protocol with a bound on how long a request head may take to arrive.

uvicorn times out idle keep-alive connections, but not a client that sends its request head
(a WebSocket handshake included) one header line every few seconds: hundreds of such clients
would hold their connections for ever. Here the head must be complete within ``head_timeout_s``.
"""

from __future__ import annotations

import asyncio
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

logger = logging.getLogger(__name__)


class BoundedHeadProtocol(H11Protocol):
    head_timeout_s: float = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = self.loop.call_later(
            self.head_timeout_s, self._head_too_slow
        )

    def handle_events(self) -> None:
        super().handle_events()
        if self._head_timer is not None and self.conn.their_state is not h11.IDLE:
            self._head_timer.cancel()  # the head is in: the application's own limits apply
            self._head_timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            logger.info(
                "closing a connection whose request head took over %gs", self.head_timeout_s
            )
            self.transport.close()


def bounded_head_protocol(timeout_s: float) -> type[BoundedHeadProtocol]:
    return type("BoundedHeadProtocol", (BoundedHeadProtocol,), {"head_timeout_s": timeout_s})
