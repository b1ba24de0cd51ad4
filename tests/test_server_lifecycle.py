"""Server lifecycle: SIGTERM drains running submissions, and progress outlives the process."""

from __future__ import annotations

import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from fixtures_server import LiveServer, ws_client

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

EXERCISE = "bonjour-prenom"
SOLUTION = 'prenom = input()\nprint("Bonjour, " + prenom + " !")'
SHORT = "import time\nprint('go', flush=True)\ntime.sleep(0.5)\nprint('fini')"
ENDLESS = "import time\nprint('go', flush=True)\ntime.sleep(60)"
# SHORT ends within it, even on a loaded machine (it has at most 0.5 s left at the SIGTERM).
GRACE_S = 3.0


def listening(url: str) -> bool:
    """Whether the server still accepts connections (503 counts: it answered)."""
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


async def wait_draining(server: LiveServer, within_s: float = 10.0) -> None:
    """A draining server closes its listening socket first, then refuses new runs at once."""
    with anyio.fail_after(within_s):
        while await anyio.to_thread.run_sync(listening, server.url):
            await anyio.sleep(0.05)


def containers(docker_client: Any, instance: str) -> list[Any]:
    labels = {"label": f"decode-runner.node={instance}"}
    found: list[Any] = docker_client.api.containers(all=True, filters=labels, quiet=True)
    return found


async def test_sigterm_lets_short_runs_finish_stops_long_ones_and_exits(
    server_factory: Callable[..., LiveServer], docker_client: Any, instance: str, tmp_path: Path
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path}/drain.sqlite3"
    server = server_factory(database_url=database_url, shutdown_grace_s=GRACE_S)
    async with (
        ws_client(server.ws_url) as short,
        ws_client(server.ws_url) as endless,
        ws_client(server.ws_url) as idle,
    ):
        await short.run(EXERCISE, SHORT, until=("output",))
        await endless.run(EXERCISE, ENDLESS, until=("output",))
        sent_at = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        await wait_draining(server)
        refused = await idle.run(EXERCISE, SOLUTION, mode="check")
        assert [(m["type"], m.get("code")) for m in refused] == [("error", "shutting_down")]
        short_end = (await short.until("finished"))[-1]
        endless_end = (await endless.until("finished", timeout=20))[-1]
        stopped_after = time.monotonic() - sent_at
    assert short_end["status"] == "ok"
    # Not stopped before the grace period; the upper bound only catches a drain that never ends
    # (a loaded CI machine may be slow to kill and report).
    assert endless_end["status"] == "stopped" and GRACE_S - 0.1 <= stopped_after < 15
    assert endless_end["reason"] == "shutdown"  # the page tells a cut run from a stop
    assert server.process.wait(15) is not None
    assert containers(docker_client, instance) == []
    restarted = server_factory(database_url=database_url)
    for client in (short, endless):
        _, progress = restarted.get_json("/api/progress", learner=client.learner)
        assert progress["exercises"][EXERCISE]["attempts"] == 1


async def test_progress_of_checks_survives_a_restart(
    server_factory: Callable[..., LiveServer], tmp_path: Path
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path}/kept.sqlite3"
    first = server_factory(database_url=database_url)
    async with ws_client(first.ws_url) as client:
        await client.run(EXERCISE, "print('raté')", mode="check", until=("progress",))
        done = await client.run(EXERCISE, SOLUTION, mode="check", until=("progress",))
    assert done[-1] == {
        "type": "progress",
        "exercise": EXERCISE,
        "solved": True,
        "attempts": 2,
        "checks": 2,
        "runs": 0,
    }
    first.stop()
    second = server_factory(database_url=database_url)
    _, detail = second.get_json(f"/api/exercises/{EXERCISE}", learner=client.learner)
    assert (detail["status"], detail["attempts"], detail["code"]) == ("solved", 2, SOLUTION)
    _, progress = second.get_json("/api/progress", learner=client.learner)
    assert progress["exercises"][EXERCISE]["solved_at"].endswith("Z")
    async with ws_client(second.ws(client.learner)) as again:
        last = await again.run(EXERCISE, "print('encore')", mode="check", until=("progress",))
    assert last[-1] == {
        "type": "progress",
        "exercise": EXERCISE,
        "solved": True,
        "attempts": 3,
        "checks": 3,
        "runs": 0,
    }
