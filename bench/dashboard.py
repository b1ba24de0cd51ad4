"""``make bench-dashboard``: the trainer's pages at MOOC scale, on SQLite and on PostgreSQL.

Seeds each backend with bench/seed_demo.py (12,000 learners, ≈ 6.2 million attempts), starts the
real server on it, logs in as a trainer and times every dashboard page over HTTP (one warm-up, then
the median and the slowest of ``--repeat`` requests); the CSV exports are streamed (time to the
first byte, total time, and the server's peak RSS during the attempts export). The store's queries
are timed in-process too, to say which one a slow page waits on. Writes
bench/results/dashboard.json; exits 1 when a page misses the target (1 s).

    python -m bench.dashboard [--backends sqlite,postgresql] [--learners 12000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy import func, select

from bench.seed_demo import SeedReport, seed
from runner.store import AttemptStore, ProgressStore
from runner.store.tables import progress

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TARGET_S = 1.0
EMAIL = "banc@formateur.example"
PASSWORD = "un mot de passe de banc d'essai"
INSTANCE = "bench-dashboard"
READY_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 600.0
RSS_EVERY_S = 0.05


# A throwaway PostgreSQL (as tests/fixtures_postgres.py starts it) ----------------------------


@contextlib.contextmanager
def postgres_cluster() -> Iterator[str]:
    """A PostgreSQL cluster from Debian's packages on a free port, removed on exit; yields the
    URL of a database in it. As root, initdb and the server run as ``postgres`` (runuser)."""
    initdb = shutil.which("initdb") or _pg_tool("initdb")
    if initdb is None:
        raise SystemExit("PostgreSQL is not installed (scripts/bootstrap --postgres)")
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    datadir = Path(tempfile.mkdtemp(prefix="decode-bench-pg-"))
    if as_user:
        shutil.chown(datadir, "postgres")
    port = _free_port()
    quiet = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run([*as_user, initdb, "-D", str(datadir), "-A", "trust", "-U", "postgres"], **quiet)
    pg_ctl = str(Path(initdb).with_name("pg_ctl"))
    # Debian's defaults (shared_buffers 128 MB) but for fsync, off: this cluster is thrown away.
    options = f"-p {port} -k {datadir} -c listen_addresses=127.0.0.1 -c fsync=off"
    start = [*as_user, pg_ctl, "-D", str(datadir), "-o", options, "-l", str(datadir / "log")]
    subprocess.run([*start, "-w", "start"], check=True, stdout=subprocess.DEVNULL, timeout=120)
    try:
        subprocess.run(
            [
                *as_user,
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "-c",
                "CREATE DATABASE dashboard",
            ],
            **quiet,
        )
        yield f"postgresql://postgres@127.0.0.1:{port}/dashboard"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(datadir), "-m", "immediate", "stop"], **quiet)
        shutil.rmtree(datadir, ignore_errors=True)


def _pg_tool(name: str) -> str | None:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(found[-1]) if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# The server --------------------------------------------------------------------------------


@contextlib.contextmanager
def running_server(database_url: str, workdir: Path) -> Iterator[tuple[str, int]]:
    """``python -m runner serve`` on the seeded database; yields its URL and pid."""
    port = _free_port()
    env = {
        **os.environ,
        "DECODE_HOST": "127.0.0.1",
        "DECODE_PORT": str(port),
        "DECODE_DATABASE_URL": database_url,
        "DECODE_NODE_ID": INSTANCE,
        "DECODE_POOL_SIZE": "0",
        "DECODE_EXERCISES_DIR": str(ROOT / "exercises"),
        "DECODE_WEB_DIR": str(ROOT / "web" / "dist"),
        "DECODE_LOG_LEVEL": "warning",
    }
    log = (workdir / f"server-{port}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "runner", "serve"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, log.name)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited:\n{Path(log).read_text(errors='replace')}")
        try:
            httpx.get(url + "/healthz", timeout=2)
            return  # 200, or 503 without a Docker engine: serving either way
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"the server did not answer within {READY_TIMEOUT_S:.0f} s")


def add_trainer(database_url: str) -> None:
    """The bench's trainer, afresh (a database reused from an earlier run may have it)."""
    env = {**os.environ, "DECODE_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "runner", "trainer"]
    run = {"env": env, "cwd": ROOT, "capture_output": True, "timeout": 120}
    subprocess.run([*command, "remove", EMAIL], **run)  # type: ignore[call-overload]
    added = subprocess.run(
        [*command, "add", EMAIL, "--password-stdin"], input=f"{PASSWORD}\n".encode(), **run
    )  # type: ignore[call-overload]
    if added.returncode != 0:
        raise SystemExit(f"trainer add failed: {added.stderr.decode(errors='replace')}")


def log_in(client: httpx.Client) -> None:
    form = client.get("/formateur/connexion")
    found = re.search(r'name="csrf" value="([^"]+)"', form.text)
    if found is None:
        raise SystemExit("no csrf field on /formateur/connexion")
    answer = client.post(
        "/formateur/connexion",
        data={"email": EMAIL, "password": PASSWORD, "csrf": found.group(1)},
    )
    if answer.status_code != 303 or "decode_trainer" not in client.cookies:
        raise SystemExit(f"log-in failed: {answer.status_code} {answer.text[:200]}")


# Measurements ------------------------------------------------------------------------------


def _figures(times: list[float]) -> dict[str, float]:
    return {"median_s": round(statistics.median(times), 4), "max_s": round(max(times), 4)}


def time_page(client: httpx.Client, label: str, path: str, repeat: int) -> dict[str, Any]:
    client.get(path)  # warm-up: caches, and the database's pages
    times, size, status = [], 0, 0
    for _ in range(repeat):
        started = time.perf_counter()
        answer = client.get(path)
        times.append(time.perf_counter() - started)
        size, status = len(answer.content), answer.status_code
    return {
        "page": label,
        "path": path,
        "status": status,
        "kib": round(size / 1024, 1),
        **_figures(times),
        "ok": status == 200 and max(times) <= TARGET_S,
    }


class RssSampler:
    """The peak resident memory of a process, sampled in a thread."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.start = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(RSS_EVERY_S):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def time_export(
    client: httpx.Client, label: str, path: str, repeat: int, pid: int
) -> dict[str, Any]:
    """Streamed: time to the first byte and in all; the server's RSS before and at its peak.
    No warm-up: a download reads the whole table, the first one as much as the next."""
    firsts, totals, size, status = [], [], 0, 0
    with RssSampler(pid) as rss:
        for _ in range(repeat):
            started = time.perf_counter()
            with client.stream("GET", path) as answer:
                status, chunks, size = answer.status_code, answer.iter_raw(), 0
                size += len(next(chunks, b""))
                firsts.append(time.perf_counter() - started)
                for chunk in chunks:
                    size += len(chunk)
            totals.append(time.perf_counter() - started)
    return {
        "page": label,
        "path": path,
        "status": status,
        "mib": round(size / 2**20, 1),
        "first_byte": _figures(firsts),
        "total": _figures(totals),
        "rss_start_mib": round(rss.start / 2**20, 1),
        "rss_peak_mib": round(rss.peak / 2**20, 1),
        "ok": status == 200 and max(firsts) <= TARGET_S,
    }


async def pick(url: str) -> tuple[list[str], list[str]]:
    """The 3 busiest exercises; the busiest learner, a median one and a quieter one."""
    store = ProgressStore(url)
    await store.open()
    try:
        total = func.sum(progress.c.attempts).label("n")
        by_exercise = select(progress.c.exercise_id, total).group_by(progress.c.exercise_id)
        rows = await store.read("pick", by_exercise.order_by(total.desc()).limit(3), {})
        by_learner = select(progress.c.learner_id, total).group_by(progress.c.learner_id)
        people = await store.read("pick", by_learner.order_by(total.desc(), "learner_id"), {})
    finally:
        await store.close()
    chosen = [people[0], people[len(people) // 2], people[len(people) * 3 // 4]]
    return [r["exercise_id"] for r in rows], [r["learner_id"] for r in chosen]


async def time_queries(url: str, exercises: list[str], learner: str) -> dict[str, float]:
    """The median of 3 runs of each store query behind the pages, in-process."""
    store = ProgressStore(url)
    await store.open()
    log = AttemptStore(store)
    busiest = exercises[0]
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=7)
    calls: dict[str, Callable[[], Awaitable[Any]]] = {
        "funnel": log.funnel,
        "median checks_to_solve (1 exercise)": lambda: log.median(busiest, "checks_to_solve"),
        "median solve_seconds (1 exercise)": lambda: log.median(busiest, "solve_seconds"),
        "failures_by_test": lambda: log.failures_by_test(busiest),
        "checks_count": lambda: log.checks_count(busiest),
        "error_kinds": lambda: log.error_kinds(busiest),
        "wrong_outputs": lambda: log.wrong_outputs(busiest),
        "recent_failures": lambda: log.recent_failures(busiest),
        "at_risk (7 days, first page)": lambda: log.at_risk(since, 101),
        "learner_attempts": lambda: log.learner_attempts(learner),
        "all_for (learner)": lambda: store.all_for(learner),
    }
    found = {}
    try:
        for name, call in calls.items():
            await call()
            times = []
            for _ in range(3):
                started = time.perf_counter()
                await call()
                times.append(time.perf_counter() - started)
            found[name] = round(statistics.median(times), 4)
    finally:
        await store.close()
    return found


def bench_backend(
    backend: str, url: str, args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    print(f"\n== {backend}: seeding {url}", flush=True)
    report = asyncio.run(seed(url, ROOT / "exercises", args.learners, args.attempts_per))
    print(f"   {report.attempts:,} attempts in {report.total_s:.0f} s", flush=True)
    return measure(url, report, args, workdir)


def measure(
    url: str, report: SeedReport, args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    exercises, learners = asyncio.run(pick(url))
    queries = asyncio.run(time_queries(url, exercises, learners[0]))
    add_trainer(url)
    pages, exports = [], []
    paths = [("funnel", "/formateur"), ("at risk (7 days)", "/formateur/a-risque?jours=7")]
    paths += [(f"exercise {e}", f"/formateur/exercices/{e}") for e in exercises]
    paths += [(f"learner {n}", f"/formateur/apprenants/{n}") for n in learners]
    with (
        running_server(url, workdir) as (server, pid),
        httpx.Client(base_url=server, timeout=REQUEST_TIMEOUT_S) as client,
    ):
        log_in(client)
        for label, path in paths:
            pages.append(time_page(client, label, path, args.repeat))
            print(f"   {_page_line(pages[-1])}", flush=True)
        for kind in ("progression", "tentatives"):
            path = f"/formateur/export/{kind}.csv"
            exports.append(time_export(client, f"{kind}.csv", path, args.export_repeat, pid))
            print(f"   {_export_line(exports[-1])}", flush=True)
    return {
        "seed": {
            "learners": report.learners,
            "progress_rows": report.progress,
            "attempt_rows": report.attempts,
            "generate_s": round(report.generate_s, 1),
            "load_s": round(report.load_s, 1),
            "index_s": round(report.index_s, 1),
            "total_s": round(report.total_s, 1),
        },
        "queries_s": queries,
        "pages": pages,
        "exports": exports,
    }


def _page_line(page: dict[str, Any]) -> str:
    mark = "ok " if page["ok"] else "SLOW"
    return (
        f"{mark} {page['page']:<44} median {page['median_s'] * 1000:7.0f} ms   "
        f"max {page['max_s'] * 1000:7.0f} ms   {page['kib']:8.1f} KiB"
    )


def _export_line(export: dict[str, Any]) -> str:
    mark = "ok " if export["ok"] else "SLOW"
    first, total = export["first_byte"], export["total"]
    return (
        f"{mark} export {export['page']:<37} first byte {first['median_s'] * 1000:5.0f} ms"
        f"  total {total['median_s']:6.1f} s (max {total['max_s']:.1f})  "
        f"{export['mib']:7.1f} MiB  server RSS {export['rss_start_mib']:.0f} → "
        f"{export['rss_peak_mib']:.0f} MiB"
    )


def _postgres_version(url: str) -> str:
    async def version() -> str:
        import asyncpg

        connection = await asyncpg.connect(url)
        try:
            return str(await connection.fetchval("SHOW server_version"))
        finally:
            await connection.close()

    return asyncio.run(version())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--learners", type=int, default=12_000)
    parser.add_argument("--attempts-per", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--export-repeat", type=int, default=1)
    parser.add_argument("--output", type=Path, default=RESULTS / "dashboard.json")
    args = parser.parse_args(argv)
    # A SIGTERM unwinds like an exception: the server and the PostgreSQL cluster are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
        },
        "target_s": TARGET_S,
        "backends": {},
    }
    with tempfile.TemporaryDirectory(prefix="decode-bench-dashboard-") as tmp:
        workdir = Path(tmp)
        for backend in args.backends.split(","):
            if backend == "sqlite":
                url = f"sqlite:///{workdir}/dashboard.sqlite3"
                results["backends"][backend] = bench_backend(backend, url, args, workdir)
            elif backend == "postgresql":
                with postgres_cluster() as url:
                    results["machine"]["postgresql"] = _postgres_version(url)
                    results["backends"][backend] = bench_backend(backend, url, args, workdir)
            else:
                parser.error(f"unknown backend {backend!r}")
    pages = [p for b in results["backends"].values() for p in b["pages"] + b["exports"]]
    results["ok"] = all(p["ok"] for p in pages)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwritten to {args.output}; every page within {TARGET_S:g} s: {results['ok']}")
    return 0 if results["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
