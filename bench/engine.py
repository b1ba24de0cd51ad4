"""The two reference points the runner is measured against: `docker run --rm`, and the raw engine ceiling."""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import docker

from bench.stats import Summary, summarize

IMAGE = "decode-runner-python:latest"
HELLO = ["/usr/bin/python3", "-c", "print('Bonjour')"]
# Each language's image running its hello world: the ceiling a crowd of that language is held to.
HELLOS = {
    "python": (IMAGE, HELLO),
    "javascript": (
        "decode-runner-javascript:latest",
        ["/usr/local/bin/node", "-e", "console.log('Bonjour')"],
    ),
}


def naive_baseline(n: int = 10) -> Summary:
    """`docker run --rm` of the same image running hello world, one after another."""
    latencies = []
    for _ in range(n):
        start = time.perf_counter()
        subprocess.run(
            ["docker", "run", "--rm", "--network", "none", IMAGE, *HELLO],
            check=True,
            capture_output=True,
        )
        latencies.append(time.perf_counter() - start)
    return summarize(latencies, errors=0, wall_s=sum(latencies))


def _lifecycle(client: docker.DockerClient, language: str = "python") -> float:
    image, command = HELLOS[language]
    start = time.perf_counter()
    container = client.api.create_container(
        image,
        command,
        network_disabled=True,
        host_config=client.api.create_host_config(network_mode="none"),
    )
    client.api.start(container["Id"])
    client.api.wait(container["Id"])
    client.api.logs(container["Id"])
    client.api.remove_container(container["Id"], force=True)
    return time.perf_counter() - start


def lifecycles_per_second(
    client: docker.DockerClient, concurrency: int, count: int, language: str = "python"
) -> float:
    """``count`` create/start/wait/logs/remove lifecycles, ``concurrency`` at a time."""
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda _: _lifecycle(client, language), range(count)))
    return count / (time.perf_counter() - start)


def engine_ceiling(
    concurrencies: tuple[int, ...] = (1, 2, 4, 8), per_level: int = 16
) -> dict[int, float]:
    """Lifecycles per second at each concurrency; the best one is the engine's ceiling."""
    client = docker.from_env(timeout=120)
    try:
        return {level: lifecycles_per_second(client, level, per_level) for level in concurrencies}
    finally:
        client.close()


def ceiling_at(concurrency: int, count: int, language: str = "python") -> float:
    client = docker.from_env(timeout=120)
    try:
        return lifecycles_per_second(client, concurrency, count, language)
    finally:
        client.close()
