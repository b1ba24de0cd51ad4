"""A throwaway PostgreSQL server on loopback, from Debian's packages: for ``decode-runner
cluster`` (runner/cli/cluster.py), the tests marked ``postgres`` and the bench."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
from pathlib import Path


class ClusterError(RuntimeError):
    """A piece of the cluster is missing or did not start: the message says which and why."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pg_tool(name: str) -> str | None:
    found = shutil.which(name) or next(
        iter(sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)), None
    )
    return str(found) if found else None


class LocalPostgres:
    """A throwaway PostgreSQL cluster in ``datadir`` on a loopback port (``trust`` auth, no
    fsync: tests and demos only). As root, its tools run as the ``postgres`` user."""

    def __init__(self, datadir: Path, port: int) -> None:
        self.datadir = datadir
        self.port = port
        initdb = _pg_tool("initdb")
        if initdb is None:
            raise ClusterError("PostgreSQL is not installed (scripts/bootstrap --postgres)")
        self.initdb = initdb
        self.pg_ctl = str(Path(initdb).resolve().with_name("pg_ctl"))
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                raise ClusterError("running as root: initdb needs `runuser` to switch user")
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise ClusterError("running as root: initdb needs a `postgres` user") from None
            self.as_user = ["runuser", "-u", "postgres", "--"]

    @property
    def base_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def init(self) -> None:
        self.datadir.mkdir(parents=True, exist_ok=True)
        if self.as_user:
            shutil.chown(self.datadir, "postgres")
        self._run([*self.as_user, self.initdb, "-D", str(self.datadir), "-A", "trust"])

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c max_connections=200"
        )
        log = self.datadir / "server.log"
        # The server inherits pg_ctl's stdout: no pipe, or run() would wait for the server.
        subprocess.run(
            [
                *self.as_user,
                self.pg_ctl,
                "-D",
                str(self.datadir),
                "-o",
                options,
                "-l",
                str(log),
                "-w",
                "start",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )

    def stop(self, mode: str = "fast") -> None:
        self._run([*self.as_user, self.pg_ctl, "-D", str(self.datadir), "-m", mode, "stop"])

    def create_database(self, name: str) -> str:
        createdb = str(Path(self.initdb).resolve().with_name("createdb"))
        self._run([createdb, "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name])
        return f"{self.base_url}/{name}"

    @staticmethod
    def _run(command: list[str]) -> None:
        done = subprocess.run(command, capture_output=True, timeout=60, check=False)
        if done.returncode != 0:
            output = (done.stderr or done.stdout).decode(errors="replace").strip()
            raise ClusterError(f"{Path(command[-1]).name}: {' '.join(command)}: {output}")
