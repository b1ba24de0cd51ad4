"""A real ``decode-runner serve`` (uvicorn) in a subprocess on a free port, for integration tests.

``live_server`` gives one server per test with a fresh SQLite file; ``server_factory(**env)``
starts servers with extra ``DECODE_*`` settings (e.g. ``max_concurrent=1``) and stops them all
at teardown. Both reuse the session's sandbox ``instance`` label and disable the warm pool.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from runner.cli.postgres import free_port

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0


@dataclass
class LiveServer:
    """A running server: ``url`` (http://127.0.0.1:port), ``ws_url`` (its /ws), ``process``."""

    url: str
    ws_url: str
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    log_path: Path
    database_url: str
    _stopped: bool = field(default=False, repr=False)

    def ws(self, learner: str | None = None) -> str:
        return self.ws_url if learner is None else f"{self.ws_url}?learner={learner}"

    def log(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace")

    def get_json(self, path: str, learner: str | None = None) -> tuple[int, Any]:
        return self.request("GET", path, learner=learner)

    def request(
        self, method: str, path: str, body: Any = None, learner: str | None = None
    ) -> tuple[int, Any]:
        """A small blocking JSON client (no event loop needed)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if learner:
            req.add_header("X-Learner", learner)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        return status, (json.loads(raw) if raw.strip().startswith((b"{", b"[")) else raw)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT_S) -> int:
        """Send ``sig`` and wait for the exit; kill on timeout. Returns the exit code."""
        if not self._stopped:
            self._stopped = True
            if self.process.poll() is None:
                self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


def start_server(
    instance: str, workdir: Path, database_url: str | None = None, **settings: Any
) -> LiveServer:
    """Start ``python -m runner serve`` and wait until /healthz answers (200 or 503)."""
    port = free_port()
    database_url = database_url or f"sqlite+aiosqlite:///{workdir}/server.sqlite3"
    env = {
        **os.environ,
        "DECODE_HOST": "127.0.0.1",
        "DECODE_PORT": str(port),
        "DECODE_DATABASE_URL": database_url,
        "DECODE_NODE_ID": instance,
        "DECODE_POOL_SIZE": "0",
        "DECODE_EXERCISES_DIR": str(ROOT / "exercises"),
        "DECODE_WEB_DIR": str(ROOT / "web" / "dist"),
        "DECODE_LOG_LEVEL": "info",
        # Every test client comes from 127.0.0.1: per-address limits are off unless a test
        # (tests/test_hostile_clients.py) sets them.
        "DECODE_IP_RATE_PER_MINUTE": "0",
        "DECODE_IP_MAX_CONNECTIONS": "0",
        "DECODE_IP_NEW_LEARNERS_PER_MINUTE": "0",
    }
    env.update({f"DECODE_{key.upper()}": str(value) for key, value in settings.items()})
    log_path = workdir / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "runner", "serve"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    server = LiveServer(url, f"ws://127.0.0.1:{port}/ws", process, env, log_path, database_url)
    _wait_ready(server)
    return server


def _wait_ready(server: LiveServer) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited ({server.process.returncode}):\n{server.log()}")
        try:
            with urllib.request.urlopen(server.url + "/healthz", timeout=2):
                return
        except urllib.error.HTTPError:
            return  # 503: serving, though the engine or the database is down
        except OSError:
            pass
        time.sleep(0.1)
    server.stop(signal.SIGKILL)
    raise RuntimeError(f"server not ready after {READY_TIMEOUT_S} s:\n{server.log()}")


@pytest.fixture
def server_factory(instance: str, tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    started: list[LiveServer] = []

    def start(database_url: str | None = None, **settings: Any) -> LiveServer:
        workdir = tmp_path / f"server{len(started)}"
        workdir.mkdir()
        server = start_server(instance, workdir, database_url, **settings)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def live_server(server_factory: Callable[..., LiveServer]) -> LiveServer:
    return server_factory()


class WsClient:
    """A thin JSON wrapper over a ``websockets`` asyncio connection, with a log of every message."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.received: list[dict[str, Any]] = []
        self.learner = ""

    async def send(self, message: dict[str, Any] | str | bytes) -> None:
        await self.connection.send(
            message if isinstance(message, str | bytes) else json.dumps(message)
        )

    async def recv(self, timeout: float = 15.0) -> dict[str, Any]:
        import anyio

        with anyio.fail_after(timeout):
            message: dict[str, Any] = json.loads(await self.connection.recv())
        self.received.append(message)
        return message

    async def until(self, *types: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Every message up to and including the first whose type is in ``types``."""
        got: list[dict[str, Any]] = []
        while not got or got[-1]["type"] not in types:
            got.append(await self.recv(timeout))
        return got

    async def run(
        self, exercise: str, code: str, mode: str = "run", until: tuple[str, ...] = ("finished",)
    ) -> list[dict[str, Any]]:
        await self.send({"type": "run", "exercise": exercise, "code": code, "mode": mode})
        return await self.until(*until, "error")


@contextlib.asynccontextmanager
async def ws_client(url: str, **kwargs: Any) -> Any:
    """Open /ws, read the ``welcome``; yields a WsClient whose ``learner`` attribute is set."""
    from websockets.asyncio.client import connect

    async with connect(url, open_timeout=10, **kwargs) as connection:
        client = WsClient(connection)
        welcome = await client.recv()
        assert welcome["type"] == "welcome", welcome
        client.learner = welcome["learner"]
        yield client


MIN_SECRET_CHARS = 3


def secrets_of(exercise: Any) -> list[str]:
    """What must never reach a learner: the solution and hidden tests' stdin and expected output."""
    solution = _distinctive([exercise.solution], _public_text(exercise))
    return solution + hidden_test_secrets(exercise)


def hidden_test_secrets(exercise: Any) -> list[str]:
    """The hidden tests' stdin and expected output (whole, and line by line) worth searching for.

    Two kinds of value are left out, because they are not secret or cannot be searched for:
    * values that also appear in public material (instructions, starter, hints, visible tests,
      every test's name, which is public by design): "pair" expected by a hidden test of
      pair-ou-impair is also in its instructions; finding it proves nothing;
    * values shorter than 3 characters ("0", "-7", "ab"): they occur in legitimate text (counts,
      durations, words), so a substring search cannot tell a leak from a verdict.
    Hidden test events are checked structurally as well (their keys and generic messages), which
    covers short values too.
    """
    public = _public_text(exercise)
    values: list[str] = []
    for test in exercise.tests:
        if test.hidden:
            for value in (test.stdin, test.expected):
                values += [value, *value.splitlines()]
    return _distinctive(values, public)


def _public_text(exercise: Any) -> str:
    visible = [t for t in exercise.tests if not t.hidden]
    return "\n".join(
        [exercise.title, exercise.instructions, exercise.starter, *exercise.hints]
        + [f"{t.stdin}\n{t.expected}" for t in visible]
        + [t.name for t in exercise.tests]
        + [t.description for t in exercise.tests]  # shown when a hidden test fails: public
    )


def _distinctive(values: list[str], public: str) -> list[str]:
    stripped = (value.strip() for value in values)
    found = [v for v in stripped if len(v) >= MIN_SECRET_CHARS and v not in public]
    return list(dict.fromkeys(found))


def strings_in(payload: Any) -> Iterator[str]:
    """Every string value (and key) inside a decoded JSON payload."""
    if isinstance(payload, str):
        yield payload
    elif isinstance(payload, bytes):
        yield payload.decode("utf-8", errors="replace")
    elif isinstance(payload, dict):
        for key, value in payload.items():
            yield str(key)
            yield from strings_in(value)
    elif isinstance(payload, list):
        for value in payload:
            yield from strings_in(value)


def assert_no_secret(payload: Any, secrets: list[str], where: str) -> None:
    """No secret appears as a whole token: '14.4' is a leak in 'moyenne 14.4', not inside the
    timestamp '…:14.422839Z'."""
    patterns = [re.compile(rf"(?<![\w.]){re.escape(secret)}(?!\w)") for secret in secrets]
    for text in strings_in(payload):
        for secret, pattern in zip(secrets, patterns, strict=True):
            assert not pattern.search(text), f"{where} leaks {secret!r}"
