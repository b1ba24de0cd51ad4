"""``make seed-demo``: a MOOC-sized dataset for the trainer's dashboard (12,000 learners, the
course's real exercises, about 20 attempts per learner and exercise: ≈ 6.2 million attempt rows),
loaded in bulk into the database at DECODE_DATABASE_URL (or --database-url), migrated first.

    python -m bench.seed_demo [--database-url URL] [--learners 12000] [--attempts-per 20]

Deterministic for a seed and a day: times are relative to today's midnight (UTC), so the "at risk"
page always has learners. The database must hold no learner yet (seed a fresh one).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import hashlib
import os
import random
import sqlite3
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.schema import CreateIndex

from runner.exercises import load_catalog
from runner.exercises.models import Exercise
from runner.store import ProgressStore
from runner.store.tables import attempts, progress

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = f"sqlite:///{ROOT}/data/demo.sqlite3"
DAY = 86_400
EPOCH = datetime(1970, 1, 1)
ENROLLED_DAYS_AGO = (36.0, 60.0)  # the cohort started between 60 and 36 days ago
COURSE_DAYS = (24.0, 50.0)  # how long each learner would take for the whole course
MAX_ATTEMPTS = 150  # per learner and exercise
PILOT_LEARNERS = 300  # learners generated first to scale the attempts to the target total
SQLITE_CACHE_KIB = 512 * 1024

LEARNER_COLUMNS = ("id", "created_at")
PROGRESS_COLUMNS = (
    "learner_id",
    "exercise_id",
    "attempts",
    "checks",
    "runs",
    "first_attempt_at",
    "last_attempt_at",
    "solved",
    "solved_at",
    "hints_revealed",
    "last_code",
    "updated_at",
    "opened_at",
    "checks_to_solve",
    "solve_seconds",
)
PROGRESS_TIMES = (5, 6, 8, 11, 12)
ATTEMPT_COLUMNS = (
    "learner_id",
    "exercise_id",
    "mode",
    "created_at",
    "duration_ms",
    "status",
    "passed",
    "total",
    "first_failed",
    "error_kind",
    "wrong_output",
    "code_sha256",
    "code",
)

SORTIE = "Sortie différente"
# (title, weight, fails on the first test already): runner/feedback's titles and the log's own.
ERROR_KINDS = (
    (SORTIE, 50, False),
    ("Nom inconnu : « prenom »", 6, True),
    ("Nom inconnu : « Print »", 4, True),
    ("Nom inconnu : « resultat »", 3, True),
    ("Un texte n'est pas fermé", 7, True),
    ("Il manque les deux-points « : »", 5, True),
    ("Ce texte n'est pas un nombre entier", 6, False),
    ("Texte + nombre : impossible", 6, False),
    ("Décalage inattendu", 4, True),
    ("Temps dépassé", 4, False),
    ("Division par zéro", 2, False),
    ("Erreur de syntaxe", 3, True),
)
RUN_OUTCOMES = (("ok", 70), ("error", 24), ("timeout", 2), ("stopped", 3), ("idle", 1))
NOTES = (
    "première idée",
    "à vérifier",
    "ça marche ?",
    "je réessaie",
    "corrigé après l'indice",
    "où est l'erreur ?",
    "dernière tentative… peut-être",
    "version améliorée",
)


@dataclass(frozen=True)
class Target:
    """One exercise as the generator sees it: tests, traps, typical wrong outputs, codes."""

    id: str
    position: int
    week: int
    tests: int
    hints: int
    difficulty: float
    trap_weights: tuple[int, ...]  # how often each test is the first to fail
    wrong: dict[int, tuple[str, ...]]  # visible test -> typical wrong outputs, most frequent first
    solution: str
    starter: str
    comment: str

    @classmethod
    def of(cls, exercise: Exercise, position: int, count: int, seed: int) -> Target:
        rng = random.Random(f"{seed}:{exercise.id}")
        total = len(exercise.tests)
        weights = [1] * total
        if total > 1:
            weights[rng.randrange(1, total)] += 3 * total  # the exercise's trap
            weights[rng.randrange(total)] += total
        wrong = {
            index: _wrong_outputs(test.expected)
            for index, test in enumerate(exercise.tests)
            if not test.hidden
        }
        return cls(
            id=exercise.id,
            position=position,
            week=exercise.week,
            tests=total,
            hints=len(exercise.hints),
            difficulty=0.6 + 0.9 * position / max(1, count - 1) + rng.random() * 0.6,
            trap_weights=tuple(weights),
            wrong=wrong,
            solution=exercise.solution,
            starter=exercise.starter,
            comment="//" if exercise.language.value == "javascript" else "#",
        )


def _wrong_outputs(expected: str) -> tuple[str, ...]:
    first = expected.splitlines()[0] if expected else ""
    candidates = (
        expected.replace(" ", ""),
        first if first != expected else expected + " !",
        expected.lower() if expected.lower() != expected else expected.upper(),
        "None",
        f"{expected}\n{expected}",
        expected.replace("é", "e").replace("è", "e") + ".",
    )
    seen: list[str] = []
    for text in candidates:
        text = text[:200]
        if text != expected and text not in seen:
            seen.append(text)
    return tuple(seen)


@dataclass
class Batch:
    """Generated rows: learners and progress in learner order, attempts bucketed by day."""

    learners: list[tuple[Any, ...]] = field(default_factory=list)
    progress: list[tuple[Any, ...]] = field(default_factory=list)
    days: dict[int, list[tuple[Any, ...]]] = field(default_factory=dict)
    attempts: int = 0

    def attempts_in_order(self) -> Iterator[tuple[Any, ...]]:
        """Every attempt, oldest first (ids grow with time, as in a real log)."""
        for day in sorted(self.days):
            yield from sorted(self.days[day], key=lambda row: row[3])


class Generator:
    """Learners and their attempts; one ``random.Random`` per learner, so any learner's rows
    depend only on the seed, its index and the scale."""

    def __init__(self, targets: list[Target], seed: int, now: int, scale: float) -> None:
        self.targets = targets
        self.seed = seed
        self.now = now
        self.scale = scale
        self._codes: dict[tuple[str, str, int], tuple[str, str]] = {}
        self._kind_titles = [k[0] for k in ERROR_KINDS]
        self._kind_weights = [k[1] for k in ERROR_KINDS]
        self._on_first = {k[0]: k[2] for k in ERROR_KINDS}
        self._outcomes = [o[0] for o in RUN_OUTCOMES]
        self._outcome_weights = [o[1] for o in RUN_OUTCOMES]

    def learners(self, indexes: Iterable[int], batch: Batch) -> None:
        for index in indexes:
            self._learner(index, batch)

    def _learner(self, index: int, batch: Batch) -> None:
        rng = random.Random(self.seed * 1_000_003 + index)
        learner = f"{rng.getrandbits(128):032x}"
        start = self.now - int(rng.uniform(*ENROLLED_DAYS_AGO) * DAY)
        batch.learners.append((learner, start - rng.randint(60, 3 * DAY)))
        pace = rng.uniform(*COURSE_DAYS) * DAY / len(self.targets)
        skill = rng.betavariate(2.0, 2.0)
        keep = 0.995 - 0.05 * (1.0 - skill)
        free_from = start
        if rng.random() < 0.05:  # registered, opened the first exercise, never tried
            batch.progress.append(_opened_only(learner, self.targets[0].id, start))
            return
        for target in self.targets:
            planned = start + int((target.position + rng.uniform(-0.3, 0.3)) * pace)
            opened = max(planned, free_from + rng.randint(60, 1800))
            if opened >= self.now - 600:
                return  # not there yet: an active learner, behind the plan
            stops = target.position > 0 and rng.random() > keep * _week_keep(target)
            if stops and rng.random() < 0.4:  # opened the next one, then left
                batch.progress.append(_opened_only(learner, target.id, opened))
            if stops:
                return
            last = target.position == len(self.targets) - 1 or rng.random() > keep
            free_from = self._exercise(rng, learner, target, opened, skill, last, batch)

    def _exercise(
        self,
        rng: random.Random,
        learner: str,
        target: Target,
        opened: int,
        skill: float,
        leaving: bool,
        batch: Batch,
    ) -> int:
        """One learner's attempts at one exercise and its progress row; the last activity."""
        mean = self.scale * target.difficulty * (1.6 - skill)
        count = min(MAX_ATTEMPTS, 1 + int(rng.expovariate(1.0 / mean)))
        solve_chance = 0.99 - 0.3 * (1.0 - skill) * target.difficulty
        solves = rng.random() < (solve_chance * 0.35 if leaving else solve_chance)
        run_share = rng.uniform(0.15, 0.5)
        moment = opened + rng.randint(15, 600)
        checks = runs = 0
        first = moment
        solved_at = checks_to_solve = None
        code = ""
        add = _day_adder(batch)
        for number in range(1, count + (2 if solves and rng.random() < 0.08 else 1)):
            if moment >= self.now:
                break
            passing = solves and number == count
            if passing or (solved_at is None and rng.random() >= run_share):
                checks += 1
                row, code = self._check(rng, learner, target, moment, number, passing)
                if passing:
                    solved_at, checks_to_solve = moment, checks
            else:
                runs += 1
                row, code = self._run(rng, learner, target, moment, number, solved_at)
            add(row)
            last = moment
            moment += rng.randint(3600, 2 * DAY) if rng.random() < 0.05 else rng.randint(12, 240)
        if checks + runs == 0:
            batch.progress.append(_opened_only(learner, target.id, opened))
            return opened
        hints = 0
        if target.hints and (count > mean or rng.random() < 0.2):
            hints = rng.randint(1, target.hints)
        batch.progress.append(
            (
                learner,
                target.id,
                checks + runs,
                checks,
                runs,
                first,
                last,
                solved_at is not None,
                solved_at,
                hints,
                code,
                last,
                opened,
                checks_to_solve,
                None if solved_at is None else solved_at - first,
            )
        )
        batch.attempts += checks + runs
        return last

    def _check(
        self,
        rng: random.Random,
        learner: str,
        target: Target,
        moment: int,
        number: int,
        passing: bool,
    ) -> tuple[tuple[Any, ...], str]:
        duration = 250 + 110 * target.tests + rng.randint(0, 600)
        if passing:
            code, digest = self._code(target, "passed", number)
            row = (
                learner,
                target.id,
                "check",
                moment,
                duration,
                "passed",
                target.tests,
                target.tests,
                None,
                None,
                None,
                digest,
                code,
            )
            return row, code
        if rng.random() < 0.015:  # stopped by the learner, or the sandbox was down
            status = "stopped" if rng.random() < 0.7 else "unavailable"
            code, digest = self._code(target, status, number)
            row = (
                learner,
                target.id,
                "check",
                moment,
                duration,
                status,
                0,
                target.tests,
                None,
                None,
                None,
                digest,
                code,
            )
            return row, code
        kind = rng.choices(self._kind_titles, self._kind_weights)[0]
        if self._on_first[kind]:
            failed = 0
        else:
            failed = rng.choices(range(target.tests), target.trap_weights)[0]
        wrong = None
        if kind == SORTIE and failed in target.wrong:
            outputs = target.wrong[failed]
            wrong = outputs[min(len(outputs) - 1, int(rng.expovariate(0.9)))]
        if kind == "Temps dépassé":
            duration += 5000
        code, digest = self._code(target, kind, number)
        row = (
            learner,
            target.id,
            "check",
            moment,
            duration,
            "failed",
            failed,
            target.tests,
            failed,
            kind,
            wrong,
            digest,
            code,
        )
        return row, code

    def _run(
        self,
        rng: random.Random,
        learner: str,
        target: Target,
        moment: int,
        number: int,
        solved_at: int | None,
    ) -> tuple[tuple[Any, ...], str]:
        outcome = rng.choices(self._outcomes, self._outcome_weights)[0]
        duration = rng.randint(80, 900) + (10_000 if outcome == "timeout" else 0)
        code, digest = self._code(target, "passed" if solved_at else outcome, number)
        row = (
            learner,
            target.id,
            "run",
            moment,
            duration,
            outcome,
            None,
            None,
            None,
            None,
            None,
            digest,
            code,
        )
        return row, code

    def _code(self, target: Target, kind: str, number: int) -> tuple[str, str]:
        """A short program for an attempt: the solution, the starter or a typical mistake, and a
        comment; with its SHA-256 (both cached: a few thousand distinct texts)."""
        key = (target.id, kind, number)
        found = self._codes.get(key)
        if found is None:
            body = _mistake(target, kind)
            note = NOTES[number % len(NOTES)]
            code = f"{body}\n{target.comment} essai n°{number} : {note}\n"
            found = (code, hashlib.sha256(code.encode()).hexdigest())
            self._codes[key] = found
        return found


def _mistake(target: Target, kind: str) -> str:
    solution = target.solution
    if kind == "passed":
        return solution
    if kind.startswith("Nom inconnu"):
        name = kind.split("« ")[1].rstrip(" »")
        return solution.replace("print(", f"{name}(", 1) if "print(" in solution else solution
    if kind == "Un texte n'est pas fermé" and '"' in solution:
        cut = solution.rfind('"')
        return solution[:cut] + solution[cut + 1 :]
    if kind == "Il manque les deux-points « : »" and ":\n" in solution:
        return solution.replace(":\n", "\n", 1)
    return target.starter


def _week_keep(target: Target) -> float:
    """Learners leave more at the start of a week."""
    first_of_week = target.position > 0 and target.week != 1 and target.position % 6 == 0
    return 0.88 if first_of_week else 1.0


def _day_adder(batch: Batch) -> Any:
    days = batch.days

    def add(row: tuple[Any, ...]) -> None:
        day = row[3] // DAY
        bucket = days.get(day)
        if bucket is None:
            bucket = days[day] = []
        bucket.append(row)

    return add


def _opened_only(learner: str, exercise: str, opened: int) -> tuple[Any, ...]:
    return (
        learner,
        exercise,
        0,
        0,
        0,
        None,
        None,
        False,
        None,
        0,
        None,
        opened,
        opened,
        None,
        None,
    )


@dataclass(frozen=True)
class SeedReport:
    learners: int
    progress: int
    attempts: int
    generate_s: float
    load_s: float
    index_s: float

    @property
    def total_s(self) -> float:
        return self.generate_s + self.load_s + self.index_s


def generate(catalog_dir: Path, learners: int, attempts_per: float, seed: int, now: int) -> Batch:
    """Every row; the attempts per learner and exercise are scaled, on a pilot of the first
    learners, so that the total is close to learners × exercises × attempts_per."""
    catalog = load_catalog(catalog_dir)
    exercises = list(catalog.exercises.values())
    targets = [Target.of(ex, i, len(exercises), seed) for i, ex in enumerate(exercises)]
    wanted = learners * len(targets) * attempts_per
    scale = attempts_per
    pilot = range(min(learners, PILOT_LEARNERS))
    for _ in range(2):
        trial = Batch()
        Generator(targets, seed, now, scale).learners(pilot, trial)
        scale *= wanted * len(pilot) / learners / max(1, trial.attempts)
    batch = Batch()
    # Millions of tuples hold no cycle: the collector's passes over them would only cost time.
    gc.disable()
    try:
        Generator(targets, seed, now, scale).learners(range(learners), batch)
    finally:
        gc.enable()
    return batch


async def seed(
    url: str,
    catalog_dir: Path,
    learners: int,
    attempts_per: float,
    seed_value: int = 2026,
    now: datetime | None = None,
) -> SeedReport:
    """Migrate the database at ``url``, then load a generated dataset in bulk."""
    store = ProgressStore(url)
    await store.open()
    await store.close()
    moment = now or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    started = time.monotonic()
    batch = generate(catalog_dir, learners, attempts_per, seed_value, int(moment.timestamp()))
    generated = time.monotonic()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        load_s, index_s = _load_sqlite(str(parsed.database), batch)
    else:
        dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        load_s, index_s = await _load_postgres(dsn, batch)
    return SeedReport(
        len(batch.learners),
        len(batch.progress),
        batch.attempts,
        generated - started,
        load_s,
        index_s,
    )


def _bulk_indexes() -> list[Any]:
    """The indexes dropped during the load and built again after it (faster than maintaining
    them row by row); the primary keys stay."""
    return [*attempts.indexes, *progress.indexes]


class SeedError(RuntimeError):
    """The database cannot take the dataset (it already holds learners)."""


_DAY_TEXT: dict[int, str] = {}


def _sqlite_text(moment: int | None) -> str | None:
    """SQLAlchemy's SQLite DATETIME text for epoch seconds (UTC, naive), day strings cached."""
    if moment is None:
        return None
    day, second = divmod(moment, DAY)
    text = _DAY_TEXT.get(day)
    if text is None:
        text = _DAY_TEXT[day] = (EPOCH + timedelta(days=day)).strftime("%Y-%m-%d")
    hours, rest = divmod(second, 3600)
    return f"{text} {hours:02d}:{rest // 60:02d}:{rest % 60:02d}.000000"


def _load_sqlite(path: str, batch: Batch) -> tuple[float, float]:
    started = time.monotonic()
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        (count,) = connection.execute("SELECT count(*) FROM learners").fetchone()
        if count:
            raise SeedError(f"{path} already holds {count} learners: seed a fresh database")
        # For the load only: no journal, no fsync, a big page cache (WAL again at the end).
        connection.execute("PRAGMA journal_mode=OFF")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        connection.execute("PRAGMA temp_store=MEMORY")
        connection.execute("PRAGMA threads=2")  # CREATE INDEX sorts on both cores
        for index in _bulk_indexes():
            connection.execute(f"DROP INDEX IF EXISTS {index.name}")
        connection.execute("BEGIN")
        _insert(
            connection,
            "learners",
            LEARNER_COLUMNS,
            ((lid, _sqlite_text(at)) for lid, at in batch.learners),
        )
        _insert(
            connection,
            "progress",
            PROGRESS_COLUMNS,
            (_times(row, PROGRESS_TIMES, _sqlite_text) for row in batch.progress),
        )
        _insert(
            connection,
            "attempts",
            ATTEMPT_COLUMNS,
            (_times(row, (3,), _sqlite_text) for row in batch.attempts_in_order()),
        )
        connection.execute("COMMIT")
        loaded = time.monotonic()
        dialect = sqlite_dialect.dialect()
        for index in _bulk_indexes():
            connection.execute(str(CreateIndex(index).compile(dialect=dialect)))
        connection.execute("PRAGMA journal_mode=WAL")
        return loaded - started, time.monotonic() - loaded
    finally:
        connection.close()


def _insert(
    connection: sqlite3.Connection,
    table: str,
    columns: tuple[str, ...],
    rows: Iterable[tuple[Any, ...]],
) -> None:
    marks = ", ".join("?" * len(columns))
    connection.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


def _times(row: tuple[Any, ...], positions: tuple[int, ...], convert: Any) -> tuple[Any, ...]:
    values = list(row)
    for position in positions:
        values[position] = convert(values[position])
    return tuple(values)


def _pg_time(moment: int | None) -> datetime | None:
    return None if moment is None else EPOCH + timedelta(seconds=moment)


async def _load_postgres(dsn: str, batch: Batch) -> tuple[float, float]:
    import asyncpg

    started = time.monotonic()
    connection = await asyncpg.connect(dsn)
    try:
        count = await connection.fetchval("SELECT count(*) FROM learners")
        if count:
            raise SeedError(f"the database already holds {count} learners: seed a fresh one")
        # Foreign-key triggers off for the load (a superuser's right; the rows are consistent).
        with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
            await connection.execute("SET session_replication_role = replica")
        for index in _bulk_indexes():
            await connection.execute(f"DROP INDEX IF EXISTS {index.name}")
        async with connection.transaction():
            await connection.copy_records_to_table(
                "learners",
                columns=LEARNER_COLUMNS,
                records=((lid, _pg_time(at)) for lid, at in batch.learners),
            )
            await connection.copy_records_to_table(
                "progress",
                columns=PROGRESS_COLUMNS,
                records=(_times(row, PROGRESS_TIMES, _pg_time) for row in batch.progress),
            )
            await connection.copy_records_to_table(
                "attempts",
                columns=ATTEMPT_COLUMNS,
                records=(_times(row, (3,), _pg_time) for row in batch.attempts_in_order()),
            )
        loaded = time.monotonic()
        await connection.execute("SET maintenance_work_mem = '512MB'")
        dialect = pg_dialect.dialect()
        for index in _bulk_indexes():
            await connection.execute(str(CreateIndex(index).compile(dialect=dialect)))
        # What autovacuum does soon after a bulk load: planner statistics, visibility map.
        await connection.execute("VACUUM ANALYZE learners, progress, attempts")
        return loaded - started, time.monotonic() - loaded
    finally:
        await connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DECODE_DATABASE_URL"))
    parser.add_argument("--learners", type=int, default=12_000)
    parser.add_argument("--attempts-per", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--exercises-dir",
        type=Path,
        default=Path(os.environ.get("DECODE_EXERCISES_DIR", ROOT / "exercises")),
    )
    args = parser.parse_args(argv)
    url = args.database_url or DEFAULT_URL
    print(f"seeding {url}: {args.learners} learners, ~{args.attempts_per:g} attempts each")
    try:
        report = asyncio.run(
            seed(url, args.exercises_dir, args.learners, args.attempts_per, args.seed)
        )
    except SeedError as error:
        print(f"seed-demo: {error}", file=sys.stderr)
        return 1
    print(
        f"{report.learners:,} learners, {report.progress:,} progress rows, "
        f"{report.attempts:,} attempts\n"
        f"generate {report.generate_s:.1f} s, load {report.load_s:.1f} s, "
        f"indexes {report.index_s:.1f} s: {report.total_s:.1f} s in all"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
