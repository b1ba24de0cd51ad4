"""bench/seed_demo.py: a small seeded dataset keeps the store's invariants, on both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fixtures_postgres import fresh_postgres_database
from sqlalchemy import and_, case, func, select

from bench.seed_demo import SeedError, seed
from runner.store import AttemptStore, ProgressStore
from runner.store.tables import attempts, learners, progress

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 30, tzinfo=UTC)
LEARNERS = 50
ATTEMPTS_PER = 3

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def seeded(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ProgressStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/demo.sqlite3"
    else:
        url = await fresh_postgres_database(request.getfixturevalue("postgres_server"))
    await seed(url, ROOT / "exercises", LEARNERS, ATTEMPTS_PER, now=NOW)
    store = ProgressStore(url)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def _attempt_figures(store: ProgressStore) -> dict[tuple[str, str], dict[str, object]]:
    is_check = attempts.c.mode == "check"
    query = select(
        attempts.c.learner_id,
        attempts.c.exercise_id,
        func.count().label("attempts"),
        func.sum(case((is_check, 1), else_=0)).label("checks"),
        func.min(attempts.c.created_at).label("first"),
        func.max(attempts.c.created_at).label("last"),
    ).group_by(attempts.c.learner_id, attempts.c.exercise_id)
    rows = await store.read("test", query, {})
    return {(r["learner_id"], r["exercise_id"]): r for r in rows}


async def test_seed_demo_progress_agrees_with_the_attempt_log(seeded: ProgressStore) -> None:
    rows = await seeded.read("test", select(progress), {})
    logged = await _attempt_figures(seeded)
    passes = await seeded.read(
        "test",
        select(attempts.c.learner_id, attempts.c.exercise_id, attempts.c.created_at)
        .where(and_(attempts.c.mode == "check", attempts.c.status == "passed"))
        .order_by(attempts.c.created_at),
        {},
    )
    first_pass = {}
    for p in passes:
        first_pass.setdefault((p["learner_id"], p["exercise_id"]), p["created_at"])
    assert {(r["learner_id"], r["exercise_id"]) for r in rows if r["attempts"]} == set(logged)
    for row in rows:
        key = (row["learner_id"], row["exercise_id"])
        assert row["opened_at"] is not None
        if row["attempts"] == 0:
            assert row["first_attempt_at"] is None and not row["solved"]
            assert row["last_code"] is None
            continue
        log = logged[key]
        assert row["attempts"] == log["attempts"] == row["checks"] + row["runs"]
        assert row["checks"] == log["checks"]
        assert (row["first_attempt_at"], row["last_attempt_at"]) == (log["first"], log["last"])
        assert row["opened_at"] <= row["first_attempt_at"]
        assert row["last_code"]
        assert row["solved"] == (key in first_pass)
        if row["solved"]:
            assert row["solved_at"] == first_pass[key]
            seconds = (row["solved_at"] - row["first_attempt_at"]).total_seconds()
            assert row["solve_seconds"] == int(seconds)
            checks_before = await seeded.read(
                "test",
                select(func.count().label("n")).where(
                    and_(
                        attempts.c.learner_id == key[0],
                        attempts.c.exercise_id == key[1],
                        attempts.c.mode == "check",
                        attempts.c.created_at <= row["solved_at"],
                    )
                ),
                {},
            )
            assert row["checks_to_solve"] == checks_before[0]["n"]
        else:
            assert row["solved_at"] is None and row["checks_to_solve"] is None


async def test_seed_demo_counts_and_dashboard_content(seeded: ProgressStore) -> None:
    counted = await seeded.read("test", select(func.count().label("n")).select_from(learners), {})
    assert counted[0]["n"] == LEARNERS
    total = await seeded.read("test", select(func.count().label("n")).select_from(attempts), {})
    wanted = LEARNERS * 26 * ATTEMPTS_PER  # the course's 26 exercises
    assert 0.7 * wanted <= total[0]["n"] <= 1.3 * wanted
    log = AttemptStore(seeded)
    funnel = {row.exercise_id: row for row in await log.funnel()}
    first = next(iter(funnel.values()))
    assert first.opened >= first.attempted >= first.solved > 0
    assert funnel["bonjour-monde"].attempted > funnel["liste-de-courses"].attempted
    kinds = dict(await log.error_kinds("bonjour-prenom"))
    assert "Sortie différente" in kinds and any(k.startswith("Nom inconnu") for k in kinds)
    assert await log.wrong_outputs("bonjour-prenom")
    assert await log.at_risk(NOW - timedelta(days=7), 100)


async def test_seed_demo_refuses_a_database_with_learners(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/demo.sqlite3"
    await seed(url, ROOT / "exercises", 2, 1, now=NOW)
    with pytest.raises(SeedError):
        await seed(url, ROOT / "exercises", 2, 1, now=NOW)
