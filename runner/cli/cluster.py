"""``decode-runner cluster up|down``: a cluster on loopback from Debian's packages, with no
container registry and no systemd: PostgreSQL, N runner nodes (sharing this machine's Docker
engine, each with its own node id) and HAProxy running ``deploy/haproxy.cfg``.

It is for trying the cluster (``make cluster``) and for ``tests/test_cluster.py``, which drives
the same ``LocalCluster``. Production runs each piece under systemd: ``deploy/systemd/`` and
``docs/deployment.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.cli.postgres import ClusterError, LocalPostgres, free_port
from runner.sandbox.docker_api import NODE_LABEL

ROOT = Path(__file__).resolve().parents[2]
HAPROXY_CONFIG = ROOT / "deploy" / "haproxy.cfg"
STATE_FILE = "cluster.json"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
DATABASE = "decode"


@dataclass
class Node:
    name: str
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    pid: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass
class LocalCluster:
    """PostgreSQL + ``nodes`` runner nodes + HAProxy, all on 127.0.0.1, state in ``workdir``."""

    workdir: Path
    port: int = 8080
    nodes: int = 2
    node_prefix: str = "node"
    ip_connections: int = 200
    ip_requests_10s: int = 1000
    node_env: Mapping[str, str] = field(default_factory=dict)
    members: list[Node] = field(default_factory=list)
    postgres: LocalPostgres | None = None
    database_url: str = ""
    haproxy: subprocess.Popen[bytes] | None = None
    haproxy_pid: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def run_dir(self) -> Path:
        return self.workdir / "run"

    def start(self) -> None:
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not Path(haproxy).exists():
            raise ClusterError("HAProxy is not installed (scripts/bootstrap --haproxy)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(exist_ok=True)
        # Its own temporary folder: as root, initdb runs as `postgres`, which may not traverse
        # the work folder (pytest's are private).
        datadir = Path(tempfile.mkdtemp(prefix="decode-cluster-pg-"))
        self.postgres = LocalPostgres(datadir, free_port())
        self.postgres.init()
        self.postgres.start()
        self.database_url = self.postgres.create_database(DATABASE)
        self.members = [
            Node(f"{self.node_prefix}{i}", free_port(), self.workdir / f"{self.node_prefix}{i}.log")
            for i in range(1, self.nodes + 1)
        ]
        for node in self.members:  # in turn: the first migrates the database
            self.start_node(node.name)
        self.start_haproxy(haproxy)
        self.save()

    def node(self, name: str) -> Node:
        return next(n for n in self.members if n.name == name)

    def start_node(self, name: str) -> Node:
        node = self.node(name)
        env = {
            **os.environ,
            "DECODE_HOST": "127.0.0.1",
            "DECODE_PORT": str(node.port),
            "DECODE_NODE_ID": node.name,
            "DECODE_DATABASE_URL": self.database_url,
            "DECODE_EXERCISES_DIR": str(ROOT / "exercises"),
            "DECODE_WEB_DIR": str(ROOT / "web" / "dist"),
            "DECODE_TRUSTED_PROXIES": "127.0.0.1",  # HAProxy, and nobody else, names the client
            **self.node_env,
        }
        with node.log.open("ab") as log:
            node.process = subprocess.Popen(
                [sys.executable, "-m", "runner", "serve"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives `make cluster`; `cluster down` stops it
            )
        node.pid = node.process.pid
        self._wait_healthy(node)
        return node

    def _wait_healthy(self, node: Node) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if node.process is not None and node.process.poll() is not None:
                tail = node.log.read_text(errors="replace")[-3000:]
                raise ClusterError(f"node {node.name} exited ({node.process.returncode}):\n{tail}")
            try:
                with urllib.request.urlopen(node.url + "/healthz", timeout=2):
                    return
            except (OSError, urllib.error.HTTPError):
                time.sleep(0.1)
        raise ClusterError(f"node {node.name} not healthy after {READY_TIMEOUT_S:.0f} s")

    def haproxy_env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "DECODE_HAPROXY_BIND": f"127.0.0.1:{self.port}",
            "DECODE_HAPROXY_IP_CONNECTIONS": str(self.ip_connections),
            "DECODE_HAPROXY_IP_REQUESTS_10S": str(self.ip_requests_10s),
            "DECODE_HAPROXY_RUN_DIR": str(self.run_dir),
        }
        for i, node in enumerate(self.members, start=1):
            env[f"DECODE_NODE_{i}"] = node.address
        return env

    def start_haproxy(self, haproxy: str = "haproxy") -> None:
        log = (self.workdir / "haproxy.log").open("ab")
        with log:
            self.haproxy = subprocess.Popen(
                [haproxy, "-W", "-f", str(HAPROXY_CONFIG), "-p", str(self.run_dir / "haproxy.pid")],
                env=self.haproxy_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.haproxy_pid = self.haproxy.pid
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.haproxy.poll() is not None:
                tail = (self.workdir / "haproxy.log").read_text(errors="replace")[-3000:]
                raise ClusterError(f"HAProxy exited ({self.haproxy.returncode}):\n{tail}")
            if self.backends_up() == len(self.members):
                return
            time.sleep(0.1)
        raise ClusterError("HAProxy does not see every node up")

    def admin(self, command: str) -> str:
        """One command on HAProxy's runtime API (its admin socket)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(self.run_dir / "admin.sock"))
            sock.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def server_states(self) -> dict[str, str]:
        """Each node's state as HAProxy's health checks see it (UP, DOWN, …), by node name
        (deploy/haproxy.cfg calls the i-th node ``node<i>``)."""
        names = {f"node{i}": node.name for i, node in enumerate(self.members, start=1)}
        states: dict[str, str] = {}
        try:
            lines = self.admin("show stat").splitlines()
        except OSError:
            return states
        header = lines[0].lstrip("# ").split(",") if lines else []
        for line in lines[1:]:
            row = dict(zip(header, line.split(","), strict=False))
            if row.get("pxname") == "runners" and row.get("svname") not in ("BACKEND", None):
                states[names.get(str(row["svname"]), str(row["svname"]))] = row.get("status", "")
        return states

    def backends_up(self) -> int:
        return sum(state.startswith("UP") for state in self.server_states().values())

    def reload_haproxy(self) -> None:
        """A graceful reload: a new worker takes new connections, the old keeps its open ones."""
        os.kill(self.haproxy_pid, signal.SIGUSR2)

    def save(self) -> None:
        state = {
            "url": self.url,
            "database_url": self.database_url,
            "postgres": {"datadir": str(self.postgres.datadir), "port": self.postgres.port}
            if self.postgres
            else None,
            "nodes": {
                n.name: {"pid": n.pid, "port": n.port, "log": str(n.log)} for n in self.members
            },
            "haproxy": {"pid": self.haproxy_pid, "log": str(self.workdir / "haproxy.log")},
        }
        (self.workdir / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")

    def stop(self) -> None:
        """HAProxy, then the nodes (each drains: SIGTERM), then PostgreSQL; never raises."""
        stop_pid(self.haproxy_pid, signal.SIGTERM)
        for node in self.members:
            stop_pid(node.pid, signal.SIGTERM)
        remove_containers([node.name for node in self.members])
        if self.postgres is not None:
            with contextlib.suppress(ClusterError):
                self.postgres.stop("fast")
            shutil.rmtree(self.postgres.datadir, ignore_errors=True)


def remove_containers(nodes: list[str]) -> None:
    """Remove what the nodes left on the engine: a node killed (SIGKILL) and not started again
    leaves its warm pool behind (a node reaps its own id's orphans when it starts)."""
    for node in nodes:
        listed = subprocess.run(
            ["docker", "ps", "-aq", "--filter", f"label={NODE_LABEL}={node}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        ids = listed.stdout.split()
        if ids:
            subprocess.run(
                ["docker", "rm", "-f", *ids], capture_output=True, timeout=60, check=False
            )


def stop_pid(pid: int, sig: int, timeout: float = STOP_TIMEOUT_S) -> None:
    """Signal ``pid`` and wait for it to go (SIGKILL after ``timeout``)."""
    if pid <= 0:
        return
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)  # our child: reap it
            if done == pid:
                return
        except ChildProcessError:  # not our child (`cluster down`): poll for its exit
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


# ---------------------------------------------------------------------------- the command


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "cluster",
        help="a cluster on this machine: PostgreSQL, runner nodes, HAProxy (make cluster)",
        description="Start or stop a loopback cluster (docs/deployment.md).",
    )
    parser.add_argument("action", choices=("up", "down"))
    parser.add_argument("--dir", type=Path, default=ROOT / "data" / "cluster")
    parser.add_argument("--port", type=int, default=8080, help="HAProxy's port (8080)")
    parser.set_defaults(handler=cluster_command)


def cluster_command(args: argparse.Namespace) -> int:
    workdir: Path = args.dir
    if args.action == "down":
        return down(workdir)
    if (workdir / STATE_FILE).exists():
        down(workdir)  # a cluster left running: replaced, not doubled
    shutil.rmtree(workdir, ignore_errors=True)
    cluster = LocalCluster(workdir, port=args.port)  # deploy/haproxy.cfg names two nodes
    try:
        cluster.start()
    except (ClusterError, OSError, subprocess.SubprocessError) as exc:
        print(f"cluster: {exc}", file=sys.stderr)
        cluster.stop()
        return 1
    print(f"Cluster up: {cluster.url}/  ({len(cluster.members)} nodes behind HAProxy)")
    for node in cluster.members:
        print(f"  {node.name}: {node.url} (pid {node.pid}, log {node.log})")
    print(f"  PostgreSQL: {cluster.database_url}")
    print(f"  HAProxy log: {workdir / 'haproxy.log'}; stop all: make cluster-stop")
    return 0


def down(workdir: Path) -> int:
    state_file = workdir / STATE_FILE
    if not state_file.exists():
        print(f"cluster: nothing running ({state_file} does not exist)")
        return 0
    state = json.loads(state_file.read_text())
    stop_pid(int(state["haproxy"]["pid"]), signal.SIGTERM)
    for node in state["nodes"].values():
        stop_pid(int(node["pid"]), signal.SIGTERM)
    remove_containers(list(state["nodes"]))
    if state.get("postgres"):
        postgres = LocalPostgres(Path(state["postgres"]["datadir"]), int(state["postgres"]["port"]))
        try:
            postgres.stop("fast")
        except ClusterError as exc:
            print(f"cluster: {exc}", file=sys.stderr)
        shutil.rmtree(postgres.datadir, ignore_errors=True)
    state_file.unlink()
    print("Cluster stopped.")
    return 0
