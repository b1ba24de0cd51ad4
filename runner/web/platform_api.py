"""The platform API (``/api/platform/v1/``), server to server: a bearer key per platform, which
sees only its own learners. Errors are JSON ``{"error": code, "message": English}``."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from runner.identity.platforms import Platform
from runner.store import Account
from runner.web.api import NO_STORE, ApiError, json_response, runtime_of

PREFIX = "/api/platform/v1"
DEFAULT_PAGE = 100
MAX_PAGE = 1000
MAX_SUB_CHARS = 255
_CURSOR_TAG = "seq:"


def _platform(request: Request) -> Platform:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    platform = runtime_of(request).platforms.by_api_key(key.strip()) if key else None
    if scheme.lower() != "bearer" or platform is None:
        runtime_of(request).metrics.reject("platform_unauthorized")
        raise ApiError(401, "unauthorized", "Missing or wrong API key (Authorization: Bearer …).")
    return platform


def _sub(request: Request) -> str:
    sub: str = request.path_params["sub"]
    if not 0 < len(sub) <= MAX_SUB_CHARS:
        raise ApiError(400, "invalid_sub", "sub must be 1-255 characters.")
    return sub


async def _account(request: Request) -> tuple[Platform, str, Account | None]:
    platform = _platform(request)
    sub = _sub(request)
    return platform, sub, await runtime_of(request).accounts.find(platform.id, sub)


def encode_cursor(sequence: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_TAG}{sequence}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.b64decode(padded, altchars=b"-_", validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    number = text.removeprefix(_CURSOR_TAG)
    if not text.startswith(_CURSOR_TAG) or not number.isdigit() or len(number) > 18:
        raise ApiError(400, "invalid_cursor", "cursor is not one this API returned.")
    return int(number)


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit", str(DEFAULT_PAGE))
    if not raw.isdigit() or not 0 < int(raw) <= MAX_PAGE:
        raise ApiError(400, "invalid_limit", f"limit must be an integer from 1 to {MAX_PAGE}.")
    return int(raw)


async def catalog(request: Request) -> Response:
    """The course: weeks and exercises with ids, titles and embed paths."""
    _platform(request)
    course = runtime_of(request).require_catalog()
    weeks = []
    for week in course.course.weeks:
        exercises = [
            {
                "id": e.id,
                "title": e.title,
                "language": str(e.language),
                "tests": len(e.tests),
                "embed_path": f"/embed/{e.id}",
            }
            for e in (course.get(i) for i in week.exercise_ids)
            if e is not None
        ]
        weeks.append({"number": week.number, "title": week.title, "exercises": exercises})
    return json_response({"title": course.course.title, "weeks": weeks})


async def learner_progress(request: Request) -> Response:
    """One learner's progress; a ``sub`` never seen has none (the same answer, 200)."""
    _, sub, account = await _account(request)
    records = await runtime_of(request).store.all_for(account.learner) if account else {}
    return json_response({"sub": sub, "exercises": [p.public() for p in records.values()]})


async def changes(request: Request) -> Response:
    """Progress rows changed after ``cursor``, oldest first; resume from ``next_cursor``."""
    platform = _platform(request)
    raw = request.query_params.get("cursor")
    after = decode_cursor(raw) if raw else 0
    limit = _limit(request)
    page = await runtime_of(request).accounts.changes(platform.id, after, limit + 1)
    more, page = len(page) > limit, page[:limit]
    last = page[-1].sequence if page else after
    body: dict[str, Any] = {
        "changes": [
            {"sequence": c.sequence, "sub": c.subject, "progress": c.progress.public()}
            for c in page
        ],
        "next_cursor": encode_cursor(last),
        "has_more": more,
    }
    return json_response(body)


async def export(request: Request) -> Response:
    """Everything kept about one learner (GDPR access), their code included."""
    platform, sub, account = await _account(request)
    if account is None:  # the same shape as a learner with nothing recorded
        empty: dict[str, Any] = {"created_at": None, "exercises": [], "webhook_events": []}
        return json_response({"platform": platform.id, "sub": sub, **empty})
    return json_response(await runtime_of(request).accounts.export(account))


async def erase(request: Request) -> Response:
    """Delete everything about one learner (GDPR erasure); idempotent."""
    _, _, account = await _account(request)
    if account is not None:
        await runtime_of(request).accounts.erase(account)
    return Response(status_code=204, headers=NO_STORE)


routes = [
    Route(f"{PREFIX}/catalog", catalog),
    Route(f"{PREFIX}/progress", changes),
    Route(f"{PREFIX}/learners/{{sub}}/progress", learner_progress),
    Route(f"{PREFIX}/learners/{{sub}}/export", export),
    Route(f"{PREFIX}/learners/{{sub}}", erase, methods=["DELETE"]),
]
