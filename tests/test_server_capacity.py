"""Capacity on a real server: the FIFO queue, the full queue, the per-learner rate limit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest
from fixtures_server import LiveServer, ws_client
from prometheus_client.parser import text_string_to_metric_families

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

EXERCISE = "bonjour-monde"
HELLO = "print('Bonjour !')"
HOLD = "print('prêt', flush=True)\ninput()"


async def test_capacity_twenty_clients_get_monotonic_queue_positions(
    server_factory: Callable[..., LiveServer],
) -> None:
    server = server_factory(max_concurrent=2)
    results: dict[int, list[dict[str, Any]]] = {}
    connected = anyio.Event()
    ready: list[int] = []

    async def client(i: int) -> None:
        async with ws_client(server.ws_url) as ws:
            ready.append(i)
            if len(ready) == 20:
                connected.set()
            await connected.wait()
            results[i] = await ws.run(EXERCISE, HELLO)

    with anyio.fail_after(90):
        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(client, i)
    assert len(results) == 20
    queued_clients = 0
    for messages in results.values():
        assert messages[-1]["type"] == "finished" and messages[-1]["status"] == "ok", messages
        positions = [m["position"] for m in messages if m["type"] == "queued"]
        assert positions == sorted(positions, reverse=True) and len(set(positions)) == len(
            positions
        )
        assert all(1 <= p <= 18 for p in positions)
        if positions:
            queued_clients += 1
            assert [m["type"] for m in messages].index("started") == len(positions)
    assert queued_clients >= 10  # two sandboxes for twenty clients: most had to wait


async def test_capacity_full_queue_answers_overloaded(
    server_factory: Callable[..., LiveServer],
) -> None:
    server = server_factory(max_concurrent=1, queue_size=1)
    async with (
        ws_client(server.ws_url) as holder,
        ws_client(server.ws_url) as waiting,
        ws_client(server.ws_url) as late,
    ):
        await holder.run(EXERCISE, HOLD, until=("output",))
        assert await waiting.run(EXERCISE, HELLO, until=("queued",)) == [
            {"type": "queued", "position": 1}
        ]
        refused = await late.run(EXERCISE, HELLO)
        assert refused == [
            {
                "type": "error",
                "code": "overloaded",
                "message": "Beaucoup de monde en ce moment : réessaie dans quelques secondes.",
            }
        ]
        await waiting.send({"type": "stop"})  # leaving the queue ends that submission
        left = await waiting.until("finished")
        assert left[-1]["status"] == "stopped" and "started" not in [m["type"] for m in left]
        await holder.send({"type": "stdin", "data": "fin\n"})
        assert (await holder.until("finished"))[-1]["status"] == "ok"
        assert (await late.run(EXERCISE, HELLO))[-1]["status"] == "ok"


async def test_capacity_rate_limit_is_per_learner(
    server_factory: Callable[..., LiveServer],
) -> None:
    server = server_factory(rate_per_minute=2)
    async with ws_client(server.ws_url) as first:
        assert (await first.run(EXERCISE, HELLO))[-1]["status"] == "ok"
        assert (await first.run(EXERCISE, HELLO))[-1]["status"] == "ok"
        limited = await first.run(EXERCISE, HELLO)
        assert [(m["type"], m.get("code")) for m in limited] == [("error", "rate_limited")]
        async with ws_client(server.ws(first.learner)) as same_learner:
            again = await same_learner.run(EXERCISE, HELLO)
            assert again[-1]["code"] == "rate_limited"
        async with ws_client(server.ws_url) as other:
            assert (await other.run(EXERCISE, HELLO))[-1]["status"] == "ok"
    _, metrics = server.request("GET", "/metrics")
    text = metrics.decode()
    assert _sample(text, "decode_rejections_total", code="rate_limited") == 2
    assert _sample(text, "decode_runs_total", language="python", mode="run", status="ok") == 3
    assert _sample(text, "decode_run_duration_seconds_count", language="python", mode="run") == 3


def _sample(text: str, name: str, **labels: str) -> float:
    """The one sample of ``name`` carrying ``labels`` (and any others, such as the node id)."""
    (value,) = [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    ]
    return value
