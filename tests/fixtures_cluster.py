"""A real cluster for the tests (tests/test_cluster.py, tests/test_browser_cluster.py): HAProxy
running deploy/haproxy.cfg, two runner nodes and PostgreSQL on loopback, from the same
``LocalCluster`` as ``make cluster``; one per test module."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from runner.cli.cluster import LocalCluster, free_port

IP_CONNECTIONS = 150  # HAProxy's cap per client address in this cluster
IP_REQUESTS_10S = 600
WAIT_S = 90.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    if shutil.which("haproxy") is None and not Path("/usr/sbin/haproxy").exists():
        pytest.skip("HAProxy is not installed (scripts/bootstrap --haproxy)")
    local = LocalCluster(
        tmp_path_factory.mktemp("cluster"),
        port=free_port(),
        node_prefix=f"t{uuid.uuid4().hex[:6]}-",
        ip_connections=IP_CONNECTIONS,
        ip_requests_10s=IP_REQUESTS_10S,
        node_env={
            "DECODE_POOL_SIZE": "1",
            "DECODE_SHUTDOWN_GRACE_S": "30",
            # HAProxy holds the per-address limits here; the nodes' own are per node.
            "DECODE_IP_RATE_PER_MINUTE": "0",
            "DECODE_IP_MAX_CONNECTIONS": "0",
            "DECODE_IP_NEW_LEARNERS_PER_MINUTE": "0",
        },
    )
    try:
        local.start()
        yield local
    finally:
        local.stop()
    # Nodes killed along the way left their warm pools: stop removes them (make cluster-stop too).
    names = {node.name for node in local.members}
    listed = subprocess.run(
        ["docker", "ps", "-a", "--format", '{{.Label "decode-runner.node"}}'],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert not [n for n in listed.stdout.split() if n in names], listed.stdout


@pytest.fixture
def whole_cluster(cluster: LocalCluster) -> LocalCluster:
    """Every node up in HAProxy's eyes and no per-address history: the cluster modules use it
    for every test (``pytest.mark.usefixtures``)."""
    for node in cluster.members:
        if node.process is None or node.process.poll() is not None:
            cluster.start_node(node.name)
    wait_for(lambda: cluster.backends_up() == len(cluster.members), "every node UP in HAProxy")
    cluster.admin("clear table learners")
    return cluster


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    """Poll a condition that an event outside this process makes true (a health check)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        time.sleep(0.05)


def connected_node(cluster: LocalCluster) -> str:
    """The one node whose /metrics shows an open WebSocket (the test holds one only)."""
    busy = []
    for node in cluster.members:
        with urllib.request.urlopen(node.url + "/metrics", timeout=5) as response:
            for family in text_string_to_metric_families(response.read().decode()):
                if family.name == "decode_connections" and family.samples[0].value > 0:
                    busy.append(node.name)
    assert len(busy) == 1, busy
    return busy[0]
