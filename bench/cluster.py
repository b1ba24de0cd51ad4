"""`make bench`'s cluster row: the throughput of 2 nodes against 1 node, behind the same HAProxy
(deploy/haproxy.cfg), on this machine, with the sizing figures docs/deployment.md quotes: checks
per second per core for Python and JavaScript, each node's memory, and PostgreSQL's work per
submission. Writes bench/results/cluster.json.

On one machine, both nodes share its CPUs and its Docker engine: 2 nodes against 1 measures the
cluster's overhead (HAProxy, a second server process), not scaling. Scaling needs machines.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import psutil

from bench.report import update_readme
from bench.server import Server, load
from runner.cli.cluster import LocalCluster, free_port

RESULTS = Path(__file__).resolve().parent / "results"
EXERCISES = Path(__file__).resolve().parent / "exercises"
WORKLOADS = {
    "python": ("bench-bonjour", "print('Bonjour')"),
    "javascript": ("bench-bonjour-js", "console.log('Bonjour')"),
}
CLIENTS = 50
ROUNDS = 6  # 300 checks per measurement


async def commits(database_url: str) -> dict[str, int]:
    connection = await asyncpg.connect(database_url)
    try:
        row = await connection.fetchrow(
            "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted, blks_read + blks_hit AS"
            " blocks FROM pg_stat_database WHERE datname = current_database()"
        )
    finally:
        await connection.close()
    return dict(row) if row else {}


async def measure(cluster: LocalCluster, language: str) -> dict[str, Any]:
    exercise, code = WORKLOADS[language]
    front = Server(cluster.url, f"ws://127.0.0.1:{cluster.port}/ws", cluster.members[0].pid)
    await load(front, exercise, code, "check", clients=10, rounds=1)  # warm up
    await asyncio.sleep(1.0)  # statistics collector: let the warm-up's counts land
    before = await commits(cluster.database_url)
    summary = await load(front, exercise, code, "check", clients=CLIENTS, rounds=ROUNDS)
    await asyncio.sleep(1.0)
    after = await commits(cluster.database_url)
    checks = max(1, summary.count + summary.errors)
    return {
        **summary.as_dict(),
        "per_core_per_s": round(summary.per_second / (os.cpu_count() or 1), 2),
        "postgres_per_check": {k: round((after[k] - before[k]) / checks, 2) for k in after},
    }


def node_memory(cluster: LocalCluster) -> dict[str, float]:
    return {
        n.name: round(psutil.Process(n.pid).memory_info().rss / 2**20, 1)
        for n in cluster.members
        if n.process is not None and n.process.poll() is None
    }


def run() -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="decode-bench-cluster-"))
    cluster = LocalCluster(
        workdir,
        port=free_port(),
        node_prefix=f"bench{uuid.uuid4().hex[:4]}-",
        ip_connections=10_000,
        ip_requests_10s=1_000_000,
        node_env={
            "DECODE_EXERCISES_DIR": str(EXERCISES),
            "DECODE_IP_RATE_PER_MINUTE": "0",
            "DECODE_IP_MAX_CONNECTIONS": "0",
            "DECODE_IP_NEW_LEARNERS_PER_MINUTE": "0",
            "DECODE_RATE_PER_MINUTE": "0",
            "DECODE_LOG_LEVEL": "warning",
        },
    )
    results: dict[str, Any] = {"cpus": os.cpu_count(), "clients": CLIENTS, "rounds": ROUNDS}
    try:
        print("cluster: PostgreSQL, 2 nodes, HAProxy …", flush=True)
        cluster.start()
        for nodes in (2, 1):
            if nodes == 1:  # node 2 drained in HAProxy: every client goes to node 1
                cluster.admin("disable server runners/node2")
            for language in WORKLOADS:
                print(f"cluster: {nodes} node(s), {language} hello checks …", flush=True)
                row = asyncio.run(measure(cluster, language))
                results[f"{nodes}_nodes_{language}"] = row
            results[f"{nodes}_nodes_rss_mib"] = node_memory(cluster)
        for language in WORKLOADS:
            two = results[f"2_nodes_{language}"]["per_second"]
            one = results[f"1_nodes_{language}"]["per_second"]
            results[f"two_against_one_{language}"] = round(two / one, 2) if one else None
    finally:
        cluster.stop()
    return results


CLUSTER_MARKERS = ("<!-- bench-cluster:start -->", "<!-- bench-cluster:end -->")


def table(results: dict[str, Any]) -> str:
    lines = [
        f"Measured {results['when']} on {results['cpus']} CPUs: {CLIENTS} clients × {ROUNDS}"
        " hello checks each, through HAProxy (deploy/haproxy.cfg), PostgreSQL shared.",
        "",
        "| nodes | language | checks/s | per core/s | p50 ms | errors |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for nodes in (2, 1):
        for language in WORKLOADS:
            row = results[f"{nodes}_nodes_{language}"]
            lines.append(
                f"| {nodes} | {language} | {row['per_second']} | {row['per_core_per_s']}"
                f" | {row['p50_ms']} | {row['errors']} |"
            )
    ratios = ", ".join(f"{lang} {results[f'two_against_one_{lang}']}" for lang in WORKLOADS)
    pg = results["2_nodes_python"]["postgres_per_check"]
    lines += [
        "",
        f"2 nodes against 1: {ratios}. Both nodes share these {results['cpus']} CPUs and one"
        " Docker engine, so this measures the overhead of a second node and HAProxy, not scaling.",
        f"Node RSS after load: {', '.join(f'{v} MiB' for v in results['2_nodes_rss_mib'].values())}."
        f" PostgreSQL per check: {pg['xact_commit']} commits, {pg['tup_inserted']} rows inserted,"
        f" {pg['tup_updated']} updated, {pg['blocks']} buffer accesses.",
    ]
    return "\n".join(lines)


def main() -> int:
    results = {"when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **run()}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cluster.json").write_text(json.dumps(results, indent=2) + "\n")
    text = table(results)
    print()
    print(text)
    update_readme(text, CLUSTER_MARKERS)
    errors = sum(results[f"{n}_nodes_{lang}"]["errors"] for n in (2, 1) for lang in WORKLOADS)
    return 1 if errors else 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    sys.exit(main())
