"""Where a cold submission's time goes: create, attach, start, harness ready, first output byte,
run end, remove — measured on the runner's own code path (runner.sandbox.docker_api)."""

from __future__ import annotations

import statistics
import time

import anyio

from runner.sandbox.attach import Attachment
from runner.sandbox.docker_api import DockerAPI
from runner.sandbox.models import Language, Limits
from runner.settings import Settings

PHASES = ("create", "attach", "start", "ready", "first byte", "exit", "remove")
RUN = {
    "op": "run",
    "index": 0,
    "file": "main.py",
    "argv": ["/usr/bin/python3", "-u", "/tmp/main.py"],
    "code": "print('Bonjour')",
    "stdin": "",
    "timeout": 10,
    "output_bytes": 65536,
}


async def _one(api: DockerAPI, settings: Settings) -> dict[str, float]:
    await api.client()  # connected before the clock starts
    marks = [time.perf_counter()]
    container_id = await api.create(Language.PYTHON, Limits.defaults(settings))
    marks.append(time.perf_counter())
    attachment = await Attachment.open(settings.docker_socket, container_id)
    marks.append(time.perf_counter())
    await api.start(container_id)
    marks.append(time.perf_counter())
    assert await attachment.receive() == {"ev": "ready"}
    marks.append(time.perf_counter())
    await attachment.send(RUN)
    while (await attachment.receive() or {}).get("ev") != "out":
        pass
    marks.append(time.perf_counter())
    while (await attachment.receive() or {}).get("ev") != "exit":
        pass
    marks.append(time.perf_counter())
    attachment.close()
    await api.remove(container_id)
    marks.append(time.perf_counter())
    assert len(marks) == len(PHASES) + 1
    return {phase: (b - a) * 1000 for phase, a, b in zip(PHASES, marks, marks[1:], strict=False)}


async def _measure(n: int) -> dict[str, float]:
    settings = Settings.from_env(node_id="bench-phases")
    api = DockerAPI(settings)
    try:
        samples = [await _one(api, settings) for _ in range(n)]
    finally:
        api.close()
    return {phase: round(statistics.median(s[phase] for s in samples), 1) for phase in PHASES}


def cold_phases(n: int = 10) -> dict[str, float]:
    """Median milliseconds of each phase of a cold Python hello world."""
    return anyio.run(_measure, n)


if __name__ == "__main__":
    for phase, ms in cold_phases().items():
        print(f"{phase:>10}: {ms:6.1f} ms")
