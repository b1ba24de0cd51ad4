"""``make soak``: ten minutes at moderate load against a real server, with a few hostile clients
mixed in; reports the server's RSS, open descriptors and this instance's containers at the start
and at the end (docs/operations.md keeps the figures). Not part of ``make test``.

    python -m bench.soak [--minutes 10] [--clients 12]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from typing import Any

import docker
import psutil
from websockets.asyncio.client import connect

from bench.server import INSTANCE, Server, running_server

EXERCISE, GOOD = "bench-bonjour", 'print("Bonjour")\n'
PROGRAMS = [
    ("check", GOOD),
    ("run", GOOD),
    ("check", "print('faux')\n"),
    ("run", "while True: pass\n"),  # a timeout now and then
    ("run", "print('x' * 70000)\n"),  # an output limit
]


def snapshot(server: Server) -> dict[str, Any]:
    process = psutil.Process(server.pid)
    client = docker.from_env()
    try:
        labels = {"label": [f"decode-runner.node={INSTANCE}"]}
        containers = len(client.containers.list(all=True, filters=labels))
    finally:
        client.close()
    return {
        "rss_mib": round(process.memory_info().rss / 2**20, 1),
        "fds": process.num_fds(),
        "containers": containers,
    }


async def learner(server: Server, deadline: float, counts: dict[str, int]) -> None:
    while time.monotonic() < deadline:
        try:
            async with connect(server.ws_url, open_timeout=30, max_size=2**22) as ws:
                json.loads(await ws.recv())
                for _ in range(random.randint(3, 8)):
                    mode, code = random.choice(PROGRAMS)
                    message = {"type": "run", "exercise": EXERCISE, "code": code, "mode": mode}
                    await ws.send(json.dumps(message))
                    while (reply := json.loads(await ws.recv()))["type"] not in (
                        "finished",
                        "error",
                    ):
                        pass
                    counts[reply.get("status") or reply.get("code", "?")] = (
                        counts.get(reply.get("status") or reply.get("code", "?"), 0) + 1
                    )
                    await asyncio.sleep(random.uniform(1.0, 4.0))  # reading the result
        except (TimeoutError, OSError) as exc:
            counts[f"client error {type(exc).__name__}"] = counts.get(type(exc).__name__, 0) + 1


async def silent_reader(server: Server, deadline: float) -> None:
    """A client that asks for output and never reads it (the server must cut it off)."""
    while time.monotonic() < deadline:
        try:
            async with connect(server.ws_url, open_timeout=30, max_queue=1) as ws:
                await ws.send(
                    json.dumps(
                        {
                            "type": "run",
                            "exercise": EXERCISE,
                            "mode": "run",
                            "code": "for i in range(5000): print('x' * 60)\n",
                        }
                    )
                )
                await asyncio.sleep(40)
        except Exception:
            await asyncio.sleep(1)


async def soak(server: Server, minutes: float, clients: int) -> dict[str, Any]:
    counts: dict[str, int] = {}
    await asyncio.sleep(2)
    start = snapshot(server)
    deadline = time.monotonic() + minutes * 60
    await asyncio.gather(
        *(learner(server, deadline, counts) for _ in range(clients)),
        silent_reader(server, deadline),
    )
    await asyncio.sleep(5)  # removals in the background
    return {
        "minutes": minutes,
        "clients": clients,
        "start": start,
        "end": snapshot(server),
        "outcomes": counts,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=12)
    args = parser.parse_args(argv)
    with running_server(pool_size=2, max_concurrent=4) as server:
        report = asyncio.run(soak(server, args.minutes, args.clients))
    print(json.dumps(report, indent=2))
    grew = report["end"]["fds"] - report["start"]["fds"]
    left = report["end"]["containers"] - report["start"]["containers"]
    ok = left <= 2 and grew <= 20  # the warm pool may hold its containers; nothing else stays
    print("soak:", "bounded" if ok else "NOT bounded", f"(fds {grew:+d}, containers {left:+d})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
