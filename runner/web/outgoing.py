"""Messages waiting for one client, sent in order by one writer task.

A submission never waits on its client: it queues its messages here and goes on, so its sandbox
slot follows the container, not the socket. The queue is bounded in bytes, and each send in
time; a client past either bound is cut off (``SlowClient``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable

import anyio

# One submission's largest output (1 MiB, the exercise maximum) fits, with room for its framing.
DEFAULT_LIMIT_BYTES = 4 * 1024 * 1024
DEFAULT_SEND_TIMEOUT_S = 30.0


class SlowClient(Exception):
    """The client does not read: its queue overflowed, or one send outlasted the timeout."""


class Outgoing:
    def __init__(
        self,
        limit_bytes: int = DEFAULT_LIMIT_BYTES,
        send_timeout_s: float = DEFAULT_SEND_TIMEOUT_S,
    ) -> None:
        self.limit_bytes = limit_bytes
        self.send_timeout_s = send_timeout_s
        self.overflowed = False
        self._queue: deque[str] = deque()
        self._bytes = 0
        self._ready = anyio.Event()
        self._empty = anyio.Event()
        self._empty.set()

    @property
    def pending_bytes(self) -> int:
        return self._bytes

    def put(self, text: str) -> bool:
        """Queue one message; False (and ``overflowed``) when the bound would be passed."""
        if self.overflowed or self._bytes + len(text) > self.limit_bytes:
            self.overflowed = True
            return False
        self._queue.append(text)
        self._bytes += len(text)
        self._ready.set()
        if self._empty.is_set():
            self._empty = anyio.Event()
        return True

    async def flushed(self) -> None:
        """Returns once every queued message has been sent."""
        await self._empty.wait()

    async def drain_to(self, send: Callable[[str], Awaitable[None]]) -> None:
        """Send every message as it comes, until cancelled; ``SlowClient`` on a stuck send."""
        while True:
            while not self._queue:
                if self.overflowed:
                    raise SlowClient("queue overflowed")
                await self._ready.wait()
                self._ready = anyio.Event()
            text = self._queue.popleft()
            self._bytes -= len(text)
            with anyio.move_on_after(self.send_timeout_s) as scope:
                await send(text)
            if scope.cancelled_caught:
                raise SlowClient(f"a send took more than {self.send_timeout_s:g} s")
            if not self._queue:
                self._empty.set()
