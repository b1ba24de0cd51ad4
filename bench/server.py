"""The runner under test: a real `decode-runner serve` process, and WebSocket clients that load it."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
from websockets.asyncio.client import ClientConnection, connect

from bench.stats import Summary, summarize

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = "bench"


@dataclass(frozen=True)
class Server:
    url: str
    ws_url: str
    pid: int

    def rss_mib(self) -> float:
        return float(psutil.Process(self.pid).memory_info().rss) / 2**20


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(
    pool_size: int, max_concurrent: int, profile: Path | None = None
) -> Iterator[Server]:
    """A real server on a free port; with ``profile``, run under py-spy, writing a speedscope file."""
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="decode-bench-") as tmp:
        env = {
            **os.environ,
            "DECODE_PORT": str(port),
            "DECODE_EXERCISES_DIR": str(ROOT / "bench" / "exercises"),
            "DECODE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.sqlite3",
            "DECODE_NODE_ID": INSTANCE,
            "DECODE_POOL_SIZE": str(pool_size),
            "DECODE_MAX_CONCURRENT": str(max_concurrent),
            "DECODE_RATE_PER_MINUTE": "100000",
            # Every simulated learner comes from 127.0.0.1: no per-address limits here.
            "DECODE_IP_RATE_PER_MINUTE": "0",
            "DECODE_IP_MAX_CONNECTIONS": "0",
            "DECODE_IP_NEW_LEARNERS_PER_MINUTE": "0",
            "DECODE_LOG_LEVEL": "warning",
        }
        command = [sys.executable, "-m", "runner", "serve"]
        if profile is not None:
            spy = Path(sys.executable).with_name("py-spy")
            command = [
                str(spy),
                "record",
                "--format",
                "speedscope",
                "-o",
                str(profile),
                "--",
                *command,
            ]
        process = subprocess.Popen(command, env=env, cwd=ROOT)
        server_pid = process.pid
        try:
            _wait_ready(f"http://127.0.0.1:{port}/healthz", process)
            if profile is not None:  # the server is py-spy's child; py-spy writes when it exits
                server_pid = psutil.Process(process.pid).children()[0].pid
            yield Server(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws", server_pid)
        finally:
            psutil.Process(server_pid).terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not become healthy within 60 s")


async def _submit(ws: ClientConnection, exercise: str, code: str, mode: str) -> tuple[float, bool]:
    start = time.perf_counter()
    await ws.send(json.dumps({"type": "run", "exercise": exercise, "code": code, "mode": mode}))
    while True:
        message = json.loads(await ws.recv())
        if message["type"] == "finished":
            elapsed = time.perf_counter() - start
            ok = message["status"] in {"ok", "passed"}
            if mode == "check":  # the progress event closes a check
                while json.loads(await ws.recv())["type"] != "progress":
                    pass
            return elapsed, ok
        if message["type"] == "error":
            return time.perf_counter() - start, False


async def _client(
    server: Server,
    exercise: str,
    code: str,
    mode: str,
    rounds: int,
    latencies: list[float],
    errors: list[int],
    think_s: float,
) -> None:
    async with connect(server.ws_url, open_timeout=30, max_size=2**22) as ws:
        json.loads(await ws.recv())  # welcome
        for _ in range(rounds):
            await asyncio.sleep(think_s)
            elapsed, ok = await _submit(ws, exercise, code, mode)
            if ok:
                latencies.append(elapsed)
            else:
                errors.append(1)


async def load(
    server: Server,
    exercise: str,
    code: str,
    mode: str,
    clients: int,
    rounds: int,
    think_s: float = 0.0,
) -> Summary:
    """``clients`` connections at once, each submitting ``rounds`` times, ``think_s`` apart.

    The rate counts only the time spent waiting for the server, not the think time."""
    latencies: list[float] = []
    errors: list[int] = []
    start = time.perf_counter() + think_s * rounds
    await asyncio.gather(
        *(
            _client(server, exercise, code, mode, rounds, latencies, errors, think_s)
            for _ in range(clients)
        )
    )
    return summarize(latencies, len(errors), time.perf_counter() - start)


async def idle_memory(server: Server, connections: int) -> dict[str, float]:
    """Server RSS before and with ``connections`` idle WebSockets open."""
    await asyncio.sleep(1)
    before = server.rss_mib()
    sockets = []
    try:
        for _ in range(connections):
            ws = await connect(server.ws_url, open_timeout=30)
            await ws.recv()  # welcome: the server holds the connection's state now
            sockets.append(ws)
        await asyncio.sleep(1)
        during = server.rss_mib()
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return {
        "connections": connections,
        "rss_before_mib": round(before, 1),
        "rss_with_connections_mib": round(during, 1),
        "cost_mib": round(during - before, 1),
    }
