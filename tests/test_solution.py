"""The reference solution: shown once the exercise is solved, offered after N failed checks when
the exercise says so, and never before."""

from __future__ import annotations

import pytest
from fixtures_server import LiveServer, ws_client

from runner.exercises import Exercise, TestCase
from runner.sandbox import Language
from runner.store import ExerciseProgress
from runner.web.api import solution_offered

OFFERING = Exercise(
    id="x",
    title="x",
    language=Language.PYTHON,
    instructions="",
    starter="",
    solution="print(1)\n",
    hints=("h",),
    tests=(TestCase("t", expected="1"),),
    solution_after_failures=3,
)


def test_solution_is_offered_after_enough_failed_checks_only() -> None:
    assert not solution_offered(OFFERING, None)
    assert not solution_offered(OFFERING, ExerciseProgress("x", checks=2, runs=9))
    assert solution_offered(OFFERING, ExerciseProgress("x", checks=3))
    assert not solution_offered(OFFERING, ExerciseProgress("x", checks=5, solved=True))
    closed = Exercise(**{**OFFERING.__dict__, "solution_after_failures": None})
    assert not solution_offered(closed, ExerciseProgress("x", checks=50))


@pytest.mark.docker
@pytest.mark.anyio
async def test_solution_appears_once_solved(live_server: LiveServer) -> None:
    learner = live_server.request("POST", "/api/session")[1]["learner"]
    detail = live_server.get_json("/api/exercises/bonjour-monde", learner=learner)[1]
    assert detail["solution"] is None and detail["solution_offered"] is False
    status, refused = live_server.request(
        "POST", "/api/exercises/bonjour-monde/solution", learner=learner
    )
    assert (status, refused["error"]) == (403, "solution_locked")
    async with ws_client(live_server.ws(learner)) as client:
        code = "print('Bonjour, le monde !')\n"
        messages = await client.run("bonjour-monde", code, mode="check", until=("progress",))
    assert messages[-1]["solved"] is True
    detail = live_server.get_json("/api/exercises/bonjour-monde", learner=learner)[1]
    assert detail["solution"] and "print" in detail["solution"]
    status, shown = live_server.request(
        "POST", "/api/exercises/bonjour-monde/solution", learner=learner
    )
    assert status == 200 and shown["solution"] == detail["solution"]
