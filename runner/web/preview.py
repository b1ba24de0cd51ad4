"""The author's routes of ``decode-runner preview`` (runner/cli/preview.py): the learner's page
with the author's panel, the course overview, the reload events (SSE), the author's JSON (the
solution and the hidden tests) and "Valider". Never part of ``serve``: they show what a learner
must never see."""

from __future__ import annotations

import html
import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import BaseRoute, Route

from runner.authoring import CourseWatcher, Verdict, validate_exercises
from runner.authoring.validation import DEFAULT_JOBS
from runner.authoring.views import author_view, catalog_view, validation_view
from runner.exercises import Catalog, Exercise, SpecError
from runner.exercises.schema import display_path
from runner.web.api import ApiError, json_response, runtime_of
from runner.web.pages import MISSING_HINT, built_assets, page_headers
from runner.web.runtime import Runtime

PANEL_SCRIPT = "preview-panel.js"  # web/build.mjs's entry, injected into the exercise page
OVERVIEW_PAGE = "preview.html"
HEARTBEAT_S = 15.0
RECONNECT_MS = 1000


class Preview:
    """The preview's own state: the folder's watcher, and an id telling this process's event
    stream from a restarted one's."""

    def __init__(self, watcher: CourseWatcher) -> None:
        self.watcher = watcher
        self.server_id = secrets.token_hex(8)

    async def watch(self, runtime: Runtime) -> None:
        """The background task: each catalog reloaded becomes the one the server serves."""

        def publish(catalog: Catalog) -> None:
            runtime.catalog = catalog

        await self.watcher.run(publish)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/preview", self.overview_page),
            Route("/exercise/{exercise_id}", self.exercise_page),
            Route("/preview/events", self.events),
            Route("/preview/api/course", self.course),
            Route("/preview/api/exercises/{exercise_id}", self.exercise),
            Route("/preview/api/validate", self.validate_all, methods=["POST"]),
            Route(
                "/preview/api/exercises/{exercise_id}/validate",
                self.validate_one,
                methods=["POST"],
            ),
        ]

    async def overview_page(self, request: Request) -> Response:
        path = runtime_of(request).settings.web_dir / OVERVIEW_PAGE
        if not path.is_file():
            return PlainTextResponse(MISSING_HINT, status_code=503, headers=page_headers(False))
        return FileResponse(
            path, media_type="text/html; charset=utf-8", headers=page_headers(False)
        )

    async def exercise_page(self, request: Request) -> Response:
        """The learner's page with the author's panel script added (CSP: a script of our own)."""
        web_dir = runtime_of(request).settings.web_dir
        script = built_assets(web_dir).get(PANEL_SCRIPT)
        page_file = web_dir / "exercise.html"
        if script is None or not page_file.is_file():
            return PlainTextResponse(MISSING_HINT, status_code=503, headers=page_headers(False))
        page = page_file.read_text(encoding="utf-8")
        tag = f'<script type="module" src="{html.escape(script)}"></script>\n'
        return HTMLResponse(
            page.replace("</head>", tag + "</head>", 1), headers=page_headers(False)
        )

    async def events(self, request: Request) -> Response:
        """Server-Sent Events: the course's version now, then at each reload."""
        watcher = self.watcher

        async def stream() -> AsyncIterator[str]:
            version = watcher.version
            yield f"retry: {RECONNECT_MS}\n" + self._message(version)
            while True:
                changed = False
                # No cancel scope may span a yield: wait in one, yield after it.
                with anyio.move_on_after(HEARTBEAT_S):
                    version = await watcher.wait_past(version)
                    changed = True
                if watcher.released:
                    return
                yield self._message(version) if changed else ": ping\n\n"

        headers = {"cache-control": "no-store", "x-accel-buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    def _message(self, version: int) -> str:
        return f"data: {json.dumps({'server': self.server_id, 'version': version})}\n\n"

    async def course(self, request: Request) -> Response:
        catalog = runtime_of(request).require_catalog()
        return json_response(
            {"server": self.server_id, **catalog_view(catalog, self.watcher.version)}
        )

    async def exercise(self, request: Request) -> Response:
        return json_response(author_view(_exercise(request)))

    async def validate_one(self, request: Request) -> Response:
        exercise = _exercise(request)
        shown = display_path(exercise.source)
        catalog = runtime_of(request).require_catalog()
        found = [e for e in catalog.errors if e.path == shown]
        return json_response(await _validate(runtime_of(request), [exercise], found))

    async def validate_all(self, request: Request) -> Response:
        catalog = runtime_of(request).require_catalog()
        exercises = list(catalog.exercises.values())
        return json_response(await _validate(runtime_of(request), exercises, list(catalog.errors)))


async def _validate(
    runtime: Runtime, exercises: list[Exercise], problems: list[SpecError]
) -> dict[str, Any]:
    """What ``decode-runner validate`` prints for these exercises, run in the server's sandbox."""
    verdicts: dict[str, Verdict] = {}
    problems = problems + await validate_exercises(
        runtime.sandbox, exercises, runtime.settings, DEFAULT_JOBS, verdicts
    )
    return validation_view(exercises, verdicts, problems, run=True)


def _exercise(request: Request) -> Exercise:
    exercise = runtime_of(request).require_catalog().get(request.path_params["exercise_id"])
    if exercise is None:
        raise ApiError(404, "not_found", "Exercice introuvable (ou son fichier a une erreur).")
    return exercise
