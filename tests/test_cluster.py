"""The cluster, for real: HAProxy (deploy/haproxy.cfg), two runner nodes and PostgreSQL on
loopback, started by the same ``LocalCluster`` as ``make cluster``. Nodes are killed with
SIGKILL, drained with SIGTERM, the database restarted and HAProxy reloaded under load.

Learners are WebSocket clients that resend a submission cut off by a dead node under the same
submission id, as the protocol allows; the database must then hold exactly what they saw.
Client addresses other than 127.0.0.1 (127.0.0.2 …, all loopback) stand for other machines.
"""

from __future__ import annotations

import json
import signal
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
from fixtures_cluster import (
    IP_CONNECTIONS,
    IP_REQUESTS_10S,
    WAIT_S,
    connected_node,
    wait_for,
)
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from runner.cli.cluster import LocalCluster
from runner.store.tables import attempts, progress

pytestmark = [
    pytest.mark.usefixtures("whole_cluster"),
    pytest.mark.anyio,
    pytest.mark.server,
    pytest.mark.postgres,
    pytest.mark.docker,
    pytest.mark.timeout(300),  # the first test also starts the cluster
]

EXERCISE = "bonjour-prenom"  # Python, 3 tests
SOLUTION = 'prenom = input()\nprint("Bonjour, " + prenom + " !")'
SLOW_SOLUTION = "import time\ntime.sleep(2)\n" + SOLUTION  # 6 s: 3 tests
BUSY_SOLUTION = "import time\ntime.sleep(0.3)\n" + SOLUTION
RESEND_PAUSE_S = 0.2
PROGRESS_WAIT_S = 10.0


def ws_url(cluster: LocalCluster, learner: str | None = None) -> str:
    base = f"ws://127.0.0.1:{cluster.port}/ws"
    return f"{base}?learner={learner}" if learner else base


def node_runs(cluster: LocalCluster, skip: str = "") -> dict[str, int]:
    """Checks each node finished, from its own /metrics (scraped directly, not via HAProxy)."""
    runs: dict[str, int] = {}
    for node in cluster.members:
        if node.name == skip:
            continue
        with urllib.request.urlopen(node.url + "/metrics", timeout=5) as response:
            text = response.read().decode()
        total = 0.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "decode_runs_total":
                    assert sample.labels["node"] == node.name
                    total += sample.value
        runs[node.name] = int(total)
    return runs


@dataclass
class Learner:
    """A client that checks ``submissions`` times, each under its own submission id, and resends
    a submission cut off by a dead node (same id) until its ``progress`` arrives."""

    cluster: LocalCluster
    code: str = SOLUTION
    source: str | None = None
    learner: str | None = None
    started: int = 0  # `started` seen (a resend may show one more for the same id)
    cuts: int = 0  # connections lost under a submission
    finished: list[str] = field(default_factory=list)  # statuses
    last_progress: dict[str, Any] = field(default_factory=dict)
    unsaved: int = 0  # `started` with saved: false

    async def check(self, submissions: int, started: anyio.Event | None = None) -> None:
        for _ in range(submissions):
            submission = uuid.uuid4().hex
            while not await self._attempt(submission, started):
                self.cuts += 1
                await anyio.sleep(RESEND_PAUSE_S)

    async def _attempt(self, submission: str, started: anyio.Event | None) -> bool:
        options: dict[str, Any] = {"open_timeout": 10}
        if self.source:
            options["local_addr"] = (self.source, 0)
        message = {"type": "run", "exercise": EXERCISE, "code": self.code, "mode": "check"}
        finished = False
        try:
            async with connect(ws_url(self.cluster, self.learner), **options) as ws:
                welcome = json.loads(await ws.recv())
                assert welcome["type"] == "welcome", welcome
                self.learner = self.learner or welcome["learner"]
                await ws.send(json.dumps({**message, "submission": submission}))
                while True:
                    # After `finished`, `progress` says the result is stored; with the database
                    # down none comes: the submission is over all the same.
                    with anyio.move_on_after(PROGRESS_WAIT_S if finished else WAIT_S) as wait:
                        event = json.loads(await ws.recv())
                    if wait.cancelled_caught:
                        return finished

                    if event["type"] == "started":
                        self.started += 1
                        self.unsaved += not event["saved"]
                        if started is not None:
                            started.set()
                    elif event["type"] == "finished":
                        self.finished.append(event["status"])
                        finished = True
                    elif event["type"] == "progress":
                        self.last_progress = event
                        return True
                    elif event["type"] == "error":
                        raise AssertionError(f"error from the runner: {event}")
        except (WebSocketException, OSError, TimeoutError):
            return False


async def database_rows(cluster: LocalCluster) -> dict[str, tuple[int, int, bool, int]]:
    """learner -> (attempts, checks, solved, attempt-log rows) for the exercise."""
    engine = create_async_engine(cluster.database_url.replace("postgresql:", "postgresql+asyncpg:"))
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        progress.c.learner_id,
                        progress.c.attempts,
                        progress.c.checks,
                        progress.c.solved,
                    ).where(progress.c.exercise_id == EXERCISE)
                )
            ).all()
            logs = dict(
                (
                    await conn.execute(
                        select(attempts.c.learner_id, func.count())
                        .where(attempts.c.exercise_id == EXERCISE)
                        .group_by(attempts.c.learner_id)
                    )
                ).all()
            )
    finally:
        await engine.dispose()
    return {r[0]: (r[1], r[2], bool(r[3]), int(logs.get(r[0], 0))) for r in rows}


def assert_exact(learners: list[Learner], rows: dict[str, Any], submissions: int) -> None:
    """The database holds what every client saw: each submission once, no more, no less."""
    for client in learners:
        assert client.learner is not None
        attempts_, checks, solved, logged = rows[client.learner]
        assert (attempts_, checks, logged) == (submissions, submissions, submissions), client
        assert solved and client.last_progress["checks"] == submissions, client


async def test_a_hundred_learners_spread_over_both_nodes_and_stay_on_theirs(
    cluster: LocalCluster,
) -> None:
    before = node_runs(cluster)
    learners = [Learner(cluster) for _ in range(100)]
    async with anyio.create_task_group() as tasks:
        for client in learners:
            tasks.start_soon(client.check, 2)
    after = node_runs(cluster)
    served = {name: after[name] - before[name] for name in after}
    assert sum(served.values()) == 200 and all(served.values()), served  # both nodes took some
    assert sum(c.cuts for c in learners) == 0
    assert_exact(learners, await database_rows(cluster), submissions=2)
    # One learner's connections land on one node: three more checks, one node's count moves.
    for client in learners[:4]:
        before = node_runs(cluster)
        for _ in range(3):
            await client._attempt(uuid.uuid4().hex, None)
        moved = [n for n, runs in node_runs(cluster).items() if runs != before[n]]
        assert len(moved) == 1, moved


async def test_a_node_killed_under_fifty_checks_loses_and_doubles_nothing(
    cluster: LocalCluster,
) -> None:
    victim = cluster.members[0]
    learners = [Learner(cluster, code=BUSY_SOLUTION) for _ in range(50)]
    enough_running = anyio.Event()
    seen = 0

    async def learner(client: Learner) -> None:
        nonlocal seen
        started = anyio.Event()
        async with anyio.create_task_group() as inner:
            inner.start_soon(client.check, 3, started)
            await started.wait()
            seen += 1
            if seen >= 8:  # both nodes have checks running
                enough_running.set()

    async with anyio.create_task_group() as tasks:
        for client in learners:
            tasks.start_soon(learner, client)
        await enough_running.wait()
        assert victim.process is not None
        victim.process.send_signal(signal.SIGKILL)
    assert victim.process.wait(10) == -signal.SIGKILL
    assert sum(c.cuts for c in learners) > 0  # the victim's learners were cut, then resumed
    assert_exact(learners, await database_rows(cluster), submissions=3)


async def test_one_address_is_capped_at_haproxy_and_others_still_get_in(
    cluster: LocalCluster,
) -> None:
    opened: list[Any] = []
    refused = 0
    try:
        for _ in range(500):
            try:
                ws = await connect(
                    ws_url(cluster), open_timeout=10, local_addr=("127.0.0.2", 0)
                ).__aenter__()
                opened.append(ws)
            except (OSError, WebSocketException, TimeoutError):
                refused += 1
        assert len(opened) == IP_CONNECTIONS and refused == 500 - IP_CONNECTIONS
        other = Learner(cluster, source="127.0.0.3")  # another machine: served as usual
        await other.check(1)
        assert other.finished == ["passed"]
    finally:
        for ws in opened:
            await ws.close()


def get(cluster: LocalCluster, path: str, source: str, headers: dict[str, str]) -> int:
    """One HTTP GET through HAProxy from ``source``; returns the status."""
    import http.client

    connection = http.client.HTTPConnection(
        "127.0.0.1", cluster.port, timeout=10, source_address=(source, 0)
    )
    try:
        connection.request("GET", path, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


async def test_a_forged_forwarded_for_neither_escapes_the_limits_nor_reaches_the_nodes(
    cluster: LocalCluster,
) -> None:
    probe = uuid.uuid4().hex
    forged = {"X-Forwarded-For": "203.0.113.7", "Forwarded": "for=203.0.113.8"}
    assert get(cluster, f"/api/config?probe={probe}", "127.0.0.5", forged) == 200
    lines = [
        line
        for node in cluster.members
        for line in node.log.read_text(errors="replace").splitlines()
        if probe in line
    ]
    assert len(lines) == 1 and "127.0.0.5" in lines[0] and "203.0.113" not in lines[0], lines
    # A fresh forged address per request: still one client address, rate-limited at HAProxy.
    statuses = [
        get(cluster, "/api/config", "127.0.0.6", {"X-Forwarded-For": f"198.51.100.{n % 250}"})
        for n in range(IP_REQUESTS_10S + 40)
    ]
    assert statuses[:IP_REQUESTS_10S] == [200] * IP_REQUESTS_10S
    assert set(statuses[IP_REQUESTS_10S:]) == {429}
    assert get(cluster, "/api/config", "127.0.0.7", {}) == 200  # others are not affected
    spellings = ("/metrics", "/metrics/", "/METRICS", "/metrics?x=1", "/%6Detrics", "/metric%73")
    for path in spellings:  # per node only
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(cluster.url + path, timeout=5)
        assert refused.value.code == 404, path


@pytest.fixture
async def slow_check(cluster: LocalCluster) -> AsyncIterator[Any]:
    """A learner's socket with a 2-second check running (``started`` received)."""
    async with connect(ws_url(cluster), open_timeout=10) as ws:
        assert json.loads(await ws.recv())["type"] == "welcome"
        run = {"type": "run", "exercise": EXERCISE, "code": SLOW_SOLUTION, "mode": "check"}
        await ws.send(json.dumps(run))
        while json.loads(await ws.recv())["type"] != "started":
            pass
        yield ws


async def finished_status(ws: Any) -> str:
    while (event := json.loads(await ws.recv()))["type"] != "finished":
        pass
    return str(event["status"])


async def test_a_drained_node_takes_no_one_new_and_finishes_its_checks(
    cluster: LocalCluster, slow_check: Any
) -> None:
    name = connected_node(cluster)
    node = cluster.node(name)
    assert node.process is not None
    node.process.send_signal(signal.SIGTERM)
    await anyio.to_thread.run_sync(
        wait_for, lambda: cluster.server_states()[name].startswith("DOWN"), "the drain seen"
    )
    before = node_runs(cluster, skip=name)  # a draining node no longer listens
    newcomers = [Learner(cluster) for _ in range(6)]
    async with anyio.create_task_group() as tasks:
        for client in newcomers:
            tasks.start_soon(client.check, 1)
    assert all(c.finished == ["passed"] and c.cuts == 0 for c in newcomers)
    after = node_runs(cluster, skip=name)
    assert sum(after.values()) - sum(before.values()) == 6  # all went to the other node
    assert await finished_status(slow_check) == "passed"  # the drained node finished it
    # uvicorn ends by raising the signal it caught again, once everything is closed.
    assert node.process.wait(WAIT_S) in (0, -signal.SIGTERM)


async def test_haproxy_reloaded_under_load_keeps_open_connections(
    cluster: LocalCluster, slow_check: Any
) -> None:
    learners = [Learner(cluster) for _ in range(20)]
    async with anyio.create_task_group() as tasks:
        for client in learners:
            tasks.start_soon(client.check, 2)
        cluster.reload_haproxy()
    assert await finished_status(slow_check) == "passed"  # opened before the reload
    assert all(c.finished == ["passed", "passed"] for c in learners)
    assert "Loading success" in (cluster.workdir / "haproxy.log").read_text()
    after = Learner(cluster)  # the new worker serves new clients
    await after.check(1)
    assert after.finished == ["passed"]


async def test_postgres_restarted_under_load(cluster: LocalCluster) -> None:
    """Learners keep checking while PostgreSQL stops and starts again: every check finishes,
    `started.saved` says which attempts could not be written, and the database holds exactly
    the others (the nodes reconnect by themselves)."""
    assert cluster.postgres is not None
    crowd = [Learner(cluster, code=BUSY_SOLUTION) for _ in range(10)]
    client = Learner(cluster)
    await client.check(1)
    restarted = anyio.Event()

    async def keep_checking(learner: Learner) -> None:
        while not restarted.is_set():
            await learner.check(1)
        await learner.check(1)  # one more once the database is back

    async with anyio.create_task_group() as tasks:
        for learner in crowd:
            tasks.start_soon(keep_checking, learner)
        cluster.postgres.stop("fast")
        try:
            down = Learner(cluster, learner=client.learner)
            await down.check(1)  # checks still run; their attempt could not be written
            assert down.finished == ["passed"] and down.unsaved == 1
        finally:
            cluster.postgres.start()
            restarted.set()
    again = Learner(cluster, learner=client.learner)
    await again.check(2)  # the nodes reconnect: nothing more is lost
    assert again.unsaved == 0
    rows = await database_rows(cluster)
    assert rows[str(client.learner)][:2] == (3, 3)  # 4 checks, the one while down not saved
    assert sum(learner.unsaved for learner in crowd) > 0  # the crowd ran through the outage
    for learner in crowd:
        assert set(learner.finished) == {"passed"} and learner.cuts == 0
        saved = learner.started - learner.unsaved
        assert rows[str(learner.learner)][1] == saved, learner  # checks counted = saved starts
