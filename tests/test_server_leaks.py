"""No /ws message and no HTTP answer ever carries a solution or a hidden test's data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
from fixtures_server import (
    LiveServer,
    assert_no_secret,
    hidden_test_secrets,
    secrets_of,
    ws_client,
)

from runner.checking import messages
from runner.exercises import Exercise, limits_for, load_catalog
from runner.feedback import outcome_message
from runner.sandbox import Outcome
from runner.settings import Settings

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

ROOT = Path(__file__).resolve().parent.parent
CONNECTIONS = 2
HIDDEN_TEST_KEYS = {"type", "index", "name", "hidden", "status", "message"}
LIMITS = (Outcome.TIMEOUT, Outcome.MEMORY, Outcome.OUTPUT_LIMIT)


def hidden_test_messages(exercise: Exercise) -> set[str]:
    """Every text a hidden test's event may carry: the same whatever its input (its author's
    description included, which validate keeps free of its input)."""
    limits = limits_for(exercise, Settings())
    generic = {messages.passed_message(hidden=True)}
    for test in exercise.tests:
        generic |= {
            messages.hidden_failure_message(test.description),
            messages.hidden_error_message(test.description),
        }
        time_s = limits.time_s if test.time_s is None else test.time_s
        generic |= {
            outcome_message(outcome, limits, time_s, exercise.language) for outcome in LIMITS
        }
    return generic


async def test_no_message_carries_a_solution_or_hidden_test_data(
    server_factory: Callable[..., LiveServer],
) -> None:
    catalog = load_catalog(ROOT / "exercises")
    assert catalog.exercises, "the course has no exercise"
    exercises = list(catalog.exercises.values())
    searched = [e.id for e in exercises if hidden_test_secrets(e)]
    # Most hidden tests have a distinctive value to search for (see hidden_test_secrets).
    assert len(searched) >= 2 * len(exercises) // 3, searched
    server = server_factory(max_concurrent=CONNECTIONS, rate_per_minute=0)
    failures: list[str] = []

    async def check_all(share: list[Exercise]) -> None:
        async with ws_client(server.ws_url) as client:
            for exercise in share:
                secrets = secrets_of(exercise)
                allowed = hidden_test_messages(exercise)
                for code, expected in ((exercise.solution, "passed"), (exercise.starter, "failed")):
                    received = await client.run(
                        exercise.id, code, mode="check", until=("progress",)
                    )
                    for message in received:
                        where = f"{exercise.id}: {message['type']}"
                        assert_no_secret(message, secrets, where)
                        if message["type"] == "test" and message["hidden"]:
                            assert set(message) == HIDDEN_TEST_KEYS, where
                            assert message["message"] in allowed, where
                    if received[-2].get("status") != expected:
                        failures.append(f"{exercise.id}: {expected} expected, got {received[-2]}")
                # Solved now: its detail shows the reference solution, never hidden test data.
                hidden = hidden_test_secrets(exercise)
                for path in (f"/api/exercises/{exercise.id}", "/api/progress", "/api/courses"):
                    _, body = server.get_json(path, learner=client.learner)
                    assert_no_secret(body, hidden, f"GET {path}")

    with anyio.fail_after(240):
        async with anyio.create_task_group() as tg:
            for i in range(CONNECTIONS):
                tg.start_soon(check_all, exercises[i::CONNECTIONS])
    # Each solution passes and each starter fails, so both the passing and the failing paths of
    # every hidden test were searched.
    assert failures == []
