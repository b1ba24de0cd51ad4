"""The per-client queue: order, the byte bound, and program output paced and joined."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from runner.web import protocol
from runner.web.outgoing import MAX_JOINED_CHARS, Outgoing, SlowClient

pytestmark = pytest.mark.anyio

HOUR = 3600.0  # an interval no test waits for: what arrives, arrives without the pace


class Client:
    """Records what the writer sends, and says when ``count`` messages arrived."""

    def __init__(self) -> None:
        self.got: list[dict[str, Any]] = []
        self._waiters: list[tuple[int, anyio.Event]] = []
        self.gate: anyio.Event | None = None  # while set and not fired, sends block

    async def send(self, text: str) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.got.append(json.loads(text))
        for count, event in self._waiters:
            if len(self.got) >= count:
                event.set()

    async def received(self, count: int) -> list[dict[str, Any]]:
        event = anyio.Event()
        self._waiters.append((count, event))
        if len(self.got) >= count:
            event.set()
        with anyio.fail_after(10):  # a safety net only: every wait here ends on an event
            await event.wait()
        return self.got


def out(stream: str, data: str) -> dict[str, Any]:
    return protocol.output(stream, data)


async def test_outgoing_joins_output_behind_the_pace_in_order() -> None:
    outgoing, client = Outgoing(output_interval_s=HOUR), Client()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(outgoing.drain_to, client.send)
        outgoing.put(out("stdout", "un\n"))  # nothing sent before: goes at once
        await client.received(1)
        for message in (
            out("stdout", "deux\n"),
            out("stdout", "trois\n"),
            out("stderr", "oups\n"),
            out("stderr", "encore\n"),
            out("stdout", "quatre\n"),
        ):
            outgoing.put(message)
        await anyio.wait_all_tasks_blocked()  # the writer had every chance to send
        assert len(client.got) == 1  # the rest waits for the pace, joined by stream
        outgoing.put(protocol.error(protocol.ErrorCode.INTERNAL))  # never waits: flushes first
        got = await client.received(5)
        tasks.cancel_scope.cancel()
    assert [(m["type"], m.get("stream"), m.get("data")) for m in got] == [
        ("output", "stdout", "un\n"),
        ("output", "stdout", "deux\ntrois\n"),
        ("output", "stderr", "oups\nencore\n"),
        ("output", "stdout", "quatre\n"),
        ("error", None, None),
    ]
    assert outgoing.pending_bytes == 0


async def test_outgoing_output_after_its_interval_goes_at_once() -> None:
    outgoing, client = Outgoing(output_interval_s=0.0), Client()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(outgoing.drain_to, client.send)
        for line in ("a\n", "b\n", "c\n"):
            outgoing.put(out("stdout", line))
            await client.received(len(client.got) + 1)
        tasks.cancel_scope.cancel()
    assert [m["data"] for m in client.got] == ["a\n", "b\n", "c\n"]


async def test_outgoing_output_paced_by_time_is_released_without_another_message() -> None:
    outgoing, client = Outgoing(output_interval_s=0.05), Client()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(outgoing.drain_to, client.send)
        outgoing.put(out("stdout", "a\n"))
        await client.received(1)
        outgoing.put(out("stdout", "b\n"))
        outgoing.put(out("stdout", "c\n"))
        got = await client.received(2)
        tasks.cancel_scope.cancel()
    assert [m["data"] for m in got] == ["a\n", "b\nc\n"]


async def test_outgoing_joined_output_is_split_past_its_size() -> None:
    outgoing, client = Outgoing(output_interval_s=HOUR), Client()
    chunk = "x" * 1000 + "\n"
    count = MAX_JOINED_CHARS // len(chunk) * 3
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(outgoing.drain_to, client.send)
        outgoing.put(out("stdout", "début\n"))
        await client.received(1)
        for _ in range(count):
            outgoing.put(out("stdout", chunk))
        outgoing.put(protocol.error(protocol.ErrorCode.INTERNAL))
        got = await client.received(5)
        tasks.cancel_scope.cancel()
    joined = [m["data"] for m in got[1:] if m["type"] == "output"]
    assert len(joined) == 3 and all(len(data) <= MAX_JOINED_CHARS for data in joined)
    assert "".join(joined) == chunk * count


async def test_outgoing_bound_counts_joined_output_and_cuts_a_client_that_does_not_read() -> None:
    outgoing, client = Outgoing(limit_bytes=10_000, output_interval_s=0.0), Client()
    client.gate = anyio.Event()  # the client never reads
    accepted = 0
    while outgoing.put(out("stdout", "y" * 99 + "\n")):
        accepted += 1
    assert outgoing.overflowed and 0 < accepted < 100
    assert outgoing.pending_bytes <= 10_000
    assert not outgoing.put(protocol.error(protocol.ErrorCode.INTERNAL))  # stays refused
    client.gate.set()
    with pytest.raises(SlowClient), anyio.fail_after(10):
        await outgoing.drain_to(client.send)
    assert "".join(m["data"] for m in client.got) == ("y" * 99 + "\n") * accepted


async def test_outgoing_flushed_waits_for_paced_output() -> None:
    outgoing, client = Outgoing(output_interval_s=0.05), Client()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(outgoing.drain_to, client.send)
        outgoing.put(out("stdout", "a\n"))
        outgoing.put(out("prompt", "Nom ? "))
        with anyio.fail_after(10):
            await outgoing.flushed()
        tasks.cancel_scope.cancel()
    assert [(m["stream"], m["data"]) for m in client.got] == [
        ("stdout", "a\n"),
        ("prompt", "Nom ? "),
    ]
