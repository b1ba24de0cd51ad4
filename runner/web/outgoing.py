"""Messages waiting for one client, sent in order by one writer task.

A submission never waits on its client: it queues its messages here and goes on, so its sandbox
slot follows the container, not the socket. The queue is bounded in bytes, and each send in
time; a client past either bound is cut off (``SlowClient``).

Program output is paced: an ``output`` message follows the previous one by at least
``output_interval_s``, and output queued meanwhile joins it (same stream, in order). A flood then
reaches the page as a few dozen messages a second, one per frame it can draw, instead of one per
write of the program (a phone's main thread pays for every message). Output after a quiet moment
goes at once, and any other message is sent at once, after the output queued before it.
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

from runner.web import protocol

# One submission's largest output (1 MiB, the exercise maximum) fits, with room for its framing.
DEFAULT_LIMIT_BYTES = 4 * 1024 * 1024
DEFAULT_SEND_TIMEOUT_S = 30.0
# About one message per frame the page draws (it renders output once per animation frame).
DEFAULT_OUTPUT_INTERVAL_S = 0.02
# A joined output message stays a moderate frame.
MAX_JOINED_CHARS = 64 * 1024


class SlowClient(Exception):
    """The client does not read: its queue overflowed, or one send outlasted the timeout."""


@dataclass
class _Output:
    """Output of one stream still waiting to be sent; later output of that stream joins it."""

    stream: str
    parts: list[str] = field(default_factory=list)
    chars: int = 0
    cost: int = 0  # what it counts against the queue's bound

    def text(self) -> str:
        return _encode(protocol.output(self.stream, "".join(self.parts)))


class Outgoing:
    def __init__(
        self,
        limit_bytes: int = DEFAULT_LIMIT_BYTES,
        send_timeout_s: float = DEFAULT_SEND_TIMEOUT_S,
        output_interval_s: float = DEFAULT_OUTPUT_INTERVAL_S,
    ) -> None:
        self.limit_bytes = limit_bytes
        self.send_timeout_s = send_timeout_s
        self.output_interval_s = output_interval_s
        self.overflowed = False
        self._queue: deque[str | _Output] = deque()
        self._bytes = 0
        self._others = 0  # queued messages that are not output (they end the pace)
        self._last_output = -math.inf  # when the last output message was sent (monotonic)
        self._ready = anyio.Event()
        self._urgent = anyio.Event()  # a message that must not wait for the pace is queued
        self._empty = anyio.Event()
        self._empty.set()

    @property
    def pending_bytes(self) -> int:
        return self._bytes

    def put(self, message: dict[str, Any]) -> bool:
        """Queue one message; False (and ``overflowed``) when the bound would be passed."""
        text = _encode(message)
        if self.overflowed or self._bytes + len(text) > self.limit_bytes:
            self.overflowed = True
            return False
        self._bytes += len(text)
        if message.get("type") == "output":
            self._put_output(message["stream"], message["data"], len(text))
        else:
            self._queue.append(text)
            self._others += 1
            self._urgent.set()
        self._ready.set()
        if self._empty.is_set():
            self._empty = anyio.Event()
        return True

    def _put_output(self, stream: str, data: str, cost: int) -> None:
        tail = self._queue[-1] if self._queue else None
        if not (
            isinstance(tail, _Output)
            and tail.stream == stream
            and tail.chars + len(data) <= MAX_JOINED_CHARS
        ):
            tail = _Output(stream)
            self._queue.append(tail)
        tail.parts.append(data)
        tail.chars += len(data)
        tail.cost += cost

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
            await self._pace()
            head = self._queue.popleft()
            if isinstance(head, _Output):
                text, cost = head.text(), head.cost
                self._last_output = time.monotonic()
            else:
                text, cost = head, len(head)
                self._others -= 1
            self._bytes -= cost
            with anyio.move_on_after(self.send_timeout_s) as scope:
                await send(text)
            if scope.cancelled_caught:
                raise SlowClient(f"a send took more than {self.send_timeout_s:g} s")
            if not self._queue:
                self._empty.set()

    async def _pace(self) -> None:
        """Holds output at the head of the queue until its interval passed, or until another
        kind of message waits behind it (output never delays the verdict or an error)."""
        if self._others or not isinstance(self._queue[0], _Output):
            return
        delay = self._last_output + self.output_interval_s - time.monotonic()
        if delay <= 0:
            return
        self._urgent = anyio.Event()
        with anyio.move_on_after(delay):
            await self._urgent.wait()


def _encode(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False)
