"""Webhook delivery end to end: a real server, a real check in Docker, a receiver on loopback
that is down, then failing, then up; a server restart in between; and abandonment."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fixtures_platform import MoocPlatform, Receiver, write_platforms
from fixtures_postgres import fresh_postgres_database
from fixtures_server import LiveServer, free_port, ws_client
from prometheus_client.parser import text_string_to_metric_families

pytestmark = [pytest.mark.docker]

HOST = "https://mooc.example.org"
SOLUTION = 'print("Bonjour, le monde !")\n'
FAST_RETRIES = {"webhook_first_retry_s": 0.2, "webhook_max_retry_s": 1.0, "webhook_timeout_s": 1.0}


def _launch(server: LiveServer, platform: MoocPlatform, sub: str) -> str:
    status, body = server.request("POST", "/api/launch", {"token": platform.token(sub)})
    assert status == 200, body
    session: str = body["session"]
    return session


def _hint(server: LiveServer, session: str, exercise: str) -> None:
    import urllib.request

    request = urllib.request.Request(
        f"{server.url}/api/exercises/{exercise}/hints",
        method="POST",
        headers={"X-Session": session},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


async def _solve(server: LiveServer, session: str) -> list[dict[str, Any]]:
    async with ws_client(f"{server.ws_url}?session={session}") as client:
        messages = await client.run("bonjour-monde", SOLUTION, mode="check", until=("progress",))
    assert messages[-1]["type"] == "progress" and messages[-1]["solved"] is True, messages
    return messages


def _metric(server: LiveServer, name: str) -> float:
    import urllib.request

    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    found = [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]
    assert found, f"{name} missing from /metrics"
    (value,) = found
    return value


def _wait(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    """Polls a condition the test cannot be notified of (a metric of another process)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_every_event_arrives_through_outages_and_a_restart(
    request: pytest.FixtureRequest,
    server_factory: Callable[..., LiveServer],
    receiver_factory: Callable[[Receiver], Receiver],
    tmp_path: Path,
    database: str,
) -> None:
    receiver = Receiver(port=free_port(), fail_first=3)  # not listening yet: connection refused
    platform = MoocPlatform("mooc", (HOST,), "k" * 30, webhook_url=receiver.url)
    path = write_platforms(tmp_path / "platforms.toml", platform)
    url = None
    if database == "postgresql":
        url = asyncio.run(fresh_postgres_database(request.getfixturevalue("postgres_server")))
    first = server_factory(url, platforms=str(path), **FAST_RETRIES)
    session = _launch(first, platform, "alice")
    asyncio.run(_solve(first, session))  # attempt, then solve: 3 events
    for exercise in ("bonjour-prenom", "double"):
        _hint(first, session, exercise)  # 2 more
    _wait(lambda: _metric(first, "decode_webhook_failures_total") >= 3)
    _wait(lambda: _metric(first, "decode_outbox_pending") == 5)
    first.stop()  # restart with every event still undelivered
    assert "Application shutdown complete" in first.log()
    second = server_factory(first.database_url, platforms=str(path), **FAST_RETRIES)
    receiver_factory(receiver)  # up now, but its first 3 answers are 500
    assert receiver.wait_for(lambda r: len(r.effects) == 5)
    kinds = sorted(e["type"] for e in receiver.effects.values())
    assert kinds == ["exercise.solved"] + ["progress.changed"] * 4
    solved = next(e for e in receiver.effects.values() if e["type"] == "exercise.solved")
    assert solved["learner"] == {"sub": "alice"} and solved["progress"]["solved"] is True
    assert solved["exercise"] == "bonjour-monde" and solved["platform"] == "mooc"
    assert receiver.bad_signatures == 0
    ids = [json.loads(d["body"])["id"] for d in receiver.deliveries]
    assert len(ids) >= 5 + 3 and set(ids) == set(receiver.effects)  # retried, each at least once
    for delivery in receiver.deliveries:
        headers = {k.lower(): v for k, v in delivery["headers"].items()}
        assert headers["decode-event-id"] == json.loads(delivery["body"])["id"]
    _wait(lambda: _metric(second, "decode_outbox_pending") == 0)
    assert _metric(second, "decode_outbox_abandoned") == 0
    feed = _api(second, "/api/platform/v1/progress", platform.api_key)
    [bonjour] = [c for c in feed["changes"] if c["progress"]["exercise"] == "bonjour-monde"]
    assert bonjour["sequence"] == solved["sequence"] and bonjour["progress"] == solved["progress"]


def _api(server: LiveServer, path: str, key: str) -> Any:
    import urllib.request

    request = urllib.request.Request(server.url + path, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_hanging_receiver_does_not_hold_checks_and_is_retried(
    server_factory: Callable[..., LiveServer],
    receiver_factory: Callable[[Receiver], Receiver],
    tmp_path: Path,
) -> None:
    receiver = receiver_factory(Receiver(port=free_port(), hang_s=2.0))
    platform = MoocPlatform("mooc", (HOST,), "k" * 30, webhook_url=receiver.url)
    path = write_platforms(tmp_path / "platforms.toml", platform)
    server = server_factory(platforms=str(path), **FAST_RETRIES)
    session = _launch(server, platform, "bob")
    for _ in range(2):  # each check finishes while the receiver hangs on the previous events
        asyncio.run(_solve(server, session))
    assert receiver.wait_for(lambda r: len(r.deliveries) >= 2)
    _wait(lambda: _metric(server, "decode_webhook_failures_total") >= 1)  # timed out
    receiver.hang_s = 0.0
    assert receiver.wait_for(lambda r: len(r.effects) == 4)  # 2 attempts + 1 solve (x2 events)


def test_event_is_abandoned_after_the_configured_time_and_shows(
    server_factory: Callable[..., LiveServer], tmp_path: Path
) -> None:
    refused = f"http://127.0.0.1:{free_port()}/hooks"  # nobody listens
    platform = MoocPlatform("mooc", (HOST,), "k" * 30, webhook_url=refused)
    path = write_platforms(tmp_path / "platforms.toml", platform)
    server = server_factory(platforms=str(path), webhook_abandon_hours=0.0005, **FAST_RETRIES)
    session = _launch(server, platform, "carol")
    _hint(server, session, "bonjour-monde")
    _wait(lambda: _metric(server, "decode_outbox_abandoned") == 1)
    assert _metric(server, "decode_outbox_pending") == 0
    assert re.search(r"webhook event evt_\w+ .*ABANDONED after \d+ attempts", server.log())
