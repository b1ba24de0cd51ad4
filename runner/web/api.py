"""The JSON HTTP API (docs/http-api.md): session, course, exercises, hints, progress, health."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from runner.exercises import Exercise
from runner.store import ExerciseProgress, StoreError
from runner.web.edges import client_address
from runner.web.learners import (
    LEARNER_HEADER,
    SESSION_HEADER,
    InvalidLearner,
    Learner,
    SessionExpired,
    anonymous_learner,
    resume_session,
)
from runner.web.protocol import MESSAGES, ErrorCode, loads_bounded
from runner.web.render import instructions_html
from runner.web.runtime import Runtime

logger = logging.getLogger(__name__)

NO_STORE = {"cache-control": "no-store"}
LANGUAGES = ["fr", "en"]
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# A JSON body ({"code": "…"}) may escape some characters of the code: room for that.
BODY_OVERHEAD_BYTES = 1024
TOO_LARGE = "Ton programme est trop long."


class ApiError(Exception):
    """Answered as ``{"error": code, "message": French}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message


def json_response(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=NO_STORE)


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def request_learner(request: Request, required: bool) -> Learner | None:
    """The session's account (``X-Session``), else the anonymous id (``X-Learner``)."""
    session = request.headers.get(SESSION_HEADER)
    if session is not None:
        try:
            return await resume_session(runtime_of(request), session)
        except SessionExpired:
            runtime_of(request).metrics.reject(ErrorCode.SESSION_EXPIRED)
            raise ApiError(401, "session_expired", MESSAGES[ErrorCode.SESSION_EXPIRED]) from None
    try:
        learner = await anonymous_learner(runtime_of(request), request.headers.get(LEARNER_HEADER))
    except InvalidLearner:
        raise ApiError(400, "learner", MESSAGES[ErrorCode.LEARNER]) from None
    if learner is None and required:
        raise ApiError(400, "learner", "Identifiant d'apprenant manquant : recharge la page.")
    return Learner(learner) if learner is not None else None


async def _required_learner(request: Request) -> Learner:
    learner = await request_learner(request, required=True)
    assert learner is not None
    return learner


def _exercise(request: Request) -> Exercise:
    exercise = runtime_of(request).require_catalog().get(request.path_params["exercise_id"])
    if exercise is None:
        raise ApiError(404, "not_found", "Exercice introuvable.")
    return exercise


def status_of(progress: ExerciseProgress | None) -> str:
    return progress.status if progress is not None else "todo"


async def create_session(request: Request) -> Response:
    runtime = runtime_of(request)
    if not runtime.ip_new_learners.allow(client_address(request.client)):
        runtime.metrics.reject("too_many_learners")
        raise ApiError(429, "rate_limited", MESSAGES[ErrorCode.RATE_LIMITED])
    learner = runtime.learner_ids.issue()
    await runtime.store.register_learner(learner)
    return json_response({"learner": learner})


async def config(request: Request) -> Response:
    runtime = runtime_of(request)
    settings = runtime.settings
    origins = dict.fromkeys((*settings.embed_origins, *runtime.platforms.origins()))
    return json_response(
        {
            "embed_origins": list(origins),
            "languages": LANGUAGES,
            "max_code_bytes": settings.max_code_bytes,
        }
    )


async def courses(request: Request) -> Response:
    runtime = runtime_of(request)
    catalog = runtime.require_catalog()
    learner = await request_learner(request, required=False)
    done = await runtime.store.all_for(learner.id) if learner else {}
    weeks = []
    for week in catalog.course.weeks:
        exercises = [
            {
                "id": e.id,
                "title": e.title,
                "language": str(e.language),
                "status": status_of(done.get(e.id)),
            }
            for e in (catalog.get(i) for i in week.exercise_ids)
            if e is not None
        ]
        weeks.append(
            {
                "number": week.number,
                "title": week.title,
                "intro": week.intro,
                "exercises": exercises,
            }
        )
    return json_response(
        {"title": catalog.course.title, "weeks": weeks, "resume": resume_point(weeks, done)}
    )


def resume_point(weeks: list[dict[str, Any]], done: dict[str, ExerciseProgress]) -> str | None:
    """Where "Reprendre" leads: the exercise worked on last, if unsolved; else the first one not
    solved after it, in course order; None for a learner who has not started."""
    order = [e["id"] for week in weeks for e in week["exercises"]]
    worked = [p for p in done.values() if p.exercise_id in order and p.last_attempt_at]
    if not worked:
        return None
    last = max(worked, key=lambda p: p.last_attempt_at or datetime.min.replace(tzinfo=UTC))
    if not last.solved:
        return last.exercise_id
    after = order[order.index(last.exercise_id) + 1 :] + order
    return next((i for i in after if not (done.get(i) and done[i].solved)), None)


async def exercise_detail(request: Request) -> Response:
    runtime = runtime_of(request)
    exercise = _exercise(request)
    learner = await request_learner(request, required=False)
    progress = await runtime.store.get(learner.id, exercise.id) if learner else None
    if learner is not None and (progress is None or progress.opened_at is None):
        await _record_opened(runtime, learner.id, exercise.id)
    catalog = runtime.require_catalog()
    code = progress.last_code if progress and progress.last_code is not None else exercise.starter
    revealed = progress.hints_revealed if progress else 0
    return json_response(
        {
            "id": exercise.id,
            "title": exercise.title,
            "language": str(exercise.language),
            "week": exercise.week,
            "instructions_html": instructions_html(exercise.instructions),
            "code": code,
            "starter": exercise.starter,
            "examples": [
                {"name": t.name, "stdin": t.stdin, "expected": t.expected}
                for t in exercise.tests
                if not t.hidden
            ],
            "hints_total": len(exercise.hints),
            "hints": list(exercise.hints[:revealed]),
            "status": status_of(progress),
            "attempts": progress.attempts if progress else 0,
            "checks": progress.checks if progress else 0,
            "runs": progress.runs if progress else 0,
            "solution": exercise.solution if progress is not None and progress.solved else None,
            "solution_offered": solution_offered(exercise, progress),
            "next": catalog.next_id(exercise.id),
            "previous": catalog.previous_id(exercise.id),
        }
    )


async def _record_opened(runtime: Runtime, learner: str, exercise_id: str) -> None:
    """The funnel's first step; a failed write loses that figure, never the page."""
    try:
        await runtime.store.record_opened(learner, exercise_id)
    except StoreError:
        logger.warning("opening of %s not recorded", exercise_id)


def solution_offered(exercise: Exercise, progress: ExerciseProgress | None) -> bool:
    """Not solved yet, but failed enough checks for the exercise to offer its solution."""
    threshold = exercise.solution_after_failures
    if threshold is None or progress is None or progress.solved:
        return False
    return progress.checks >= threshold


async def reveal_solution(request: Request) -> Response:
    """The reference solution, for a learner who solved the exercise or was offered it."""
    exercise = _exercise(request)
    learner = await _required_learner(request)
    progress = await runtime_of(request).store.get(learner.id, exercise.id)
    if not (progress.solved or solution_offered(exercise, progress)):
        raise ApiError(403, "solution_locked", "La solution se montre une fois l'exercice réussi.")
    return json_response({"solution": exercise.solution})


async def reveal_hint(request: Request) -> Response:
    exercise = _exercise(request)
    learner = await _required_learner(request)
    total = len(exercise.hints)
    runtime = runtime_of(request)
    revealed = await runtime.store.reveal_hint(learner.id, exercise.id, total, learner.account)
    if learner.account is not None:
        runtime.dispatcher.wake()
    return json_response({"hints": list(exercise.hints[:revealed]), "hints_total": total})


async def save_code(request: Request) -> Response:
    exercise = _exercise(request)
    learner = await _required_learner(request)
    runtime = runtime_of(request)
    body = await capped_body(request, runtime.settings.max_code_bytes * 2 + BODY_OVERHEAD_BYTES)
    try:
        document = loads_bounded(body)
        code = document["code"]
        if not isinstance(code, str):
            raise TypeError(code)
        size = len(code.encode("utf-8"))
    except (ValueError, KeyError, TypeError):
        raise ApiError(
            400, "invalid_body", 'Corps de requête invalide : {"code": "…"} attendu.'
        ) from None
    if size > runtime.settings.max_code_bytes:
        raise ApiError(413, "too_large", TOO_LARGE)
    await runtime.store.save_code(learner.id, exercise.id, code)
    return Response(status_code=204, headers=NO_STORE)


async def capped_body(request: Request, limit: int) -> bytes:
    """The body, refused (413) from its Content-Length or as soon as more than ``limit`` arrives."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "too_large", TOO_LARGE)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, "too_large", TOO_LARGE)
    return bytes(body)


async def progress(request: Request) -> Response:
    learner = await _required_learner(request)
    records = await runtime_of(request).store.all_for(learner.id)
    exercises = {
        exercise_id: {
            "attempts": p.attempts,
            "checks": p.checks,
            "runs": p.runs,
            "solved": p.solved,
            "solved_at": p.solved_at.isoformat().replace("+00:00", "Z") if p.solved_at else None,
            "hints_revealed": p.hints_revealed,
            "status": status_of(p),
        }
        for exercise_id, p in records.items()
    }
    anonymous = learner.id if learner.account is None else None  # an account's id stays ours
    return json_response({"learner": anonymous, "exercises": exercises})


async def healthz(request: Request) -> Response:
    """503 when a part fails or the node drains. ``?scope=node`` (a load balancer's check) leaves
    the shared database out: every node shares it, and taking them all out would also stop the
    submissions that still run without it (their ``started`` says ``saved: false``)."""
    body = await runtime_of(request).health()
    failing = [
        p for p in body["failing"] if request.query_params.get("scope") != "node" or p != "database"
    ]
    return json_response(body, status=503 if failing or body["draining"] else 200)


async def metrics(request: Request) -> Response:
    text = runtime_of(request).render_metrics()
    return PlainTextResponse(text, media_type=METRICS_CONTENT_TYPE, headers=NO_STORE)


routes = [
    Route("/api/session", create_session, methods=["POST"]),
    Route("/api/config", config),
    Route("/api/courses", courses),
    Route("/api/exercises/{exercise_id}", exercise_detail),
    Route("/api/exercises/{exercise_id}/hints", reveal_hint, methods=["POST"]),
    Route("/api/exercises/{exercise_id}/solution", reveal_solution, methods=["POST"]),
    Route("/api/exercises/{exercise_id}/code", save_code, methods=["PUT"]),
    Route("/api/progress", progress),
    Route("/healthz", healthz),
    Route("/metrics", metrics),
]
