"""Where the CPU goes, per container: `python -m bench.cpu [--count N] [--pairs P]`.

Runs, in alternation, the raw engine lifecycle of `bench.engine` and the runner's sandbox alone (a
Python hello world per session, no server, no warm pool), and splits the machine's busy CPU time
per unit between: the containers (their cgroups), dockerd, containerd, this process (the Docker
client, or the runner's sandbox code), and the rest (the per-container shims, runc, the kernel).
The whole machine is counted (/proc/stat), so processes that exit during the run are not missed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from bench import engine
from runner.sandbox import Language, Limits, Run, Sandbox, Submission
from runner.settings import Settings

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CGROUP_USAGE = (  # all containers together: cgroup v1 (cgroupfs driver), then v2
    (Path("/sys/fs/cgroup/cpuacct/docker/cpuacct.usage"), 1e-9),
    (Path("/sys/fs/cgroup/docker/cpu.stat"), 1e-6),
)


def _busy_s() -> float:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq = fields[:7]
    return (user + nice + system + irq + softirq) / CLOCK_TICKS


def _containers_s() -> float | None:
    for path, unit in CGROUP_USAGE:
        if path.exists():
            text = path.read_text()
            value = text.split()[1] if text.startswith("usage_usec") else text
            return int(value) * unit
    return None


def _engine_s() -> dict[str, float]:
    found: dict[str, float] = {}
    for process in psutil.process_iter(["name"]):
        if process.info["name"] in ("dockerd", "containerd"):
            times = process.cpu_times()
            found[process.info["name"]] = (
                found.get(process.info["name"], 0.0) + times.user + times.system
            )
    return found


def _snapshot() -> dict[str, float]:
    own = os.times()
    snap = {"total": _busy_s(), "this process": own.user + own.system, **_engine_s()}
    containers = _containers_s()
    if containers is not None:
        snap["containers"] = containers
    return snap


def split(name: str, count: int, work: Callable[[], object]) -> None:
    before, start = _snapshot(), time.perf_counter()
    work()
    wall, after = time.perf_counter() - start, _snapshot()
    spent = {key: (after[key] - before.get(key, 0.0)) * 1000 / count for key in after}
    total = spent.pop("total")
    parts = {**spent, "rest (shims, runc, kernel)": total - sum(spent.values())}
    detail = ", ".join(f"{key} {ms:.1f}" for key, ms in parts.items())
    print(f"{name:28s} {count / wall:5.2f}/s  {total:6.1f} ms CPU per unit: {detail}", flush=True)


async def _sessions(count: int, concurrency: int) -> None:
    settings = Settings.from_env(node_id="bench-cpu", pool_size=0)
    sandbox = Sandbox(settings)
    await sandbox.start()
    submission = Submission(
        Language.PYTHON, "print('Bonjour')", (Run(stdin=""),), Limits.defaults(settings)
    )
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate, sandbox.session(submission) as session:
            async for _ in session:
                pass

    try:
        await asyncio.gather(*(one() for _ in range(count)))
    finally:
        await sandbox.close()  # waits for the removals: they belong to the cost


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu", description=__doc__)
    parser.add_argument("--count", type=int, default=40, help="units per measurement")
    parser.add_argument("--pairs", type=int, default=2, help="alternations of the two")
    args = parser.parse_args()
    for _ in range(args.pairs):
        split("engine lifecycle (4 at once)", args.count, lambda: engine.ceiling_at(4, args.count))
        split(
            "runner sandbox (8 at once)", args.count, lambda: asyncio.run(_sessions(args.count, 8))
        )


if __name__ == "__main__":
    main()
