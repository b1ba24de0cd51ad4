"""Admission control: a cap on running sandboxes, a bounded FIFO queue, a rate limit."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio


class QueueFull(Exception):
    """Every sandbox is busy and the waiting queue has no place left."""


class _Waiter:
    __slots__ = ("event", "granted")

    def __init__(self) -> None:
        self.granted = False
        self.event = anyio.Event()


PositionCallback = Callable[[int], Awaitable[None]]


class Capacity:
    """``slots`` submissions run at once; up to ``queue_size`` more wait, first come first in.

    A waiter learns its place on arrival, then at most every ``report_every_s`` when it changed:
    a slot freed wakes only the waiter it admits, so a long queue costs no message storm (with
    one report per waiter per release, 50 waiters cost 50 messages for each submission)."""

    def __init__(self, slots: int, queue_size: int, report_every_s: float = 1.0) -> None:
        self.slots = max(1, slots)
        self.queue_size = max(0, queue_size)
        self.report_every_s = report_every_s
        self.running = 0
        self._waiters: list[_Waiter] = []

    @property
    def queued(self) -> int:
        return len(self._waiters)

    @asynccontextmanager
    async def slot(self, on_position: PositionCallback) -> AsyncIterator[None]:
        """Hold one slot for the block; while waiting, ``on_position(n)`` reports each new place
        (1 = next). Raises ``QueueFull`` at once when the queue is full."""
        if self.running < self.slots and not self._waiters:
            self.running += 1
        else:
            await self._wait(on_position)
        try:
            yield
        finally:
            self._release()

    async def _wait(self, on_position: PositionCallback) -> None:
        if len(self._waiters) >= self.queue_size:
            raise QueueFull
        waiter = _Waiter()
        self._waiters.append(waiter)
        reported = 0
        try:
            while not waiter.granted:
                position = self._waiters.index(waiter) + 1
                if position != reported:
                    reported = position
                    await on_position(position)
                with anyio.move_on_after(self.report_every_s):
                    await waiter.event.wait()
        except BaseException:
            if waiter.granted:
                self._release()
            else:
                self._waiters.remove(waiter)
            raise

    def _release(self) -> None:
        self.running -= 1
        if self._waiters:
            admitted = self._waiters.pop(0)
            admitted.granted = True
            admitted.event.set()
            self.running += 1


class RateLimiter:
    """A token bucket per key: ``per_minute`` tokens, refilled continuously; 0 disables it."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str) -> bool:
        if self.per_minute <= 0:
            return True
        now = self._clock()
        tokens, since = self._buckets.get(key, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - since) * self.per_minute / 60.0)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1.0, now)
        if len(self._buckets) > 10_000:
            self._forget_full(now)
        return True

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled: they hold no information."""
        refill = 60.0
        self._buckets = {
            key: value for key, value in self._buckets.items() if now - value[1] < refill
        }


class ConnectionCounter:
    """Open connections per client address, capped at ``limit`` (0 disables the cap)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[str, int] = {}

    def open(self, client: str) -> bool:
        count = self._open.get(client, 0)
        if self.limit > 0 and count >= self.limit:
            return False
        self._open[client] = count + 1
        return True

    def close(self, client: str) -> None:
        count = self._open.get(client, 0) - 1
        if count > 0:
            self._open[client] = count
        else:
            self._open.pop(client, None)
