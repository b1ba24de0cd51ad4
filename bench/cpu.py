"""CPU per submission, by process, with the sandbox alone (no server): `python -m bench.cpu`.

Runs N Python hello worlds through runner.sandbox at a given concurrency and splits the machine's
CPU time between the engine's processes, this one and the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

import psutil

from runner.sandbox import Language, Limits, Run, Sandbox, Submission
from runner.settings import Settings


def _cpu_by_name() -> dict[int, tuple[str, float]]:
    found = {}
    for process in psutil.process_iter(["name"]):
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        found[process.pid] = (process.info["name"], times.user + times.system)
    return found


async def _measure(count: int, concurrency: int, pool_size: int) -> None:
    settings = Settings.from_env(instance="bench-cpu", pool_size=pool_size)
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

    before, mine, start = _cpu_by_name(), sum(os.times()[:2]), time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    await sandbox.close()
    wall, after = time.perf_counter() - start, _cpu_by_name()
    by_name: dict[str, float] = {}
    for pid, (name, cpu) in after.items():
        by_name[name] = by_name.get(name, 0.0) + cpu - before.get(pid, (name, 0.0))[1]
    print(f"{count / wall:.2f} submissions/s at concurrency {concurrency}")
    print(f"this process: {1000 * (sum(os.times()[:2]) - mine) / count:.1f} ms CPU per submission")
    for name, cpu in sorted(by_name.items(), key=lambda item: -item[1])[:6]:
        print(f"  {name}: {1000 * cpu / count:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu", description=__doc__)
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--pool", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(_measure(args.count, args.concurrency, args.pool))


if __name__ == "__main__":
    main()
