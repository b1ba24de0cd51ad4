"""The built front end (web/dist): pages with a strict CSP, and its static assets."""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

from runner.identity.tokens import LaunchError, peek_platform
from runner.settings import Settings
from runner.web.runtime import Runtime

MISSING_HINT = (
    "Interface web non construite : lancez `make web`. / Web front end not built: run `make web`.\n"
)
_BASE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors "
)
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# esbuild's [name]-[hash] names (and their .map files); web/public files keep their own names.
_HASHED_NAME = re.compile(r"-[A-Z0-9]{8}\.[\w.]+$")


def content_security_policy(embed: bool, embed_origins: tuple[str, ...]) -> str:
    ancestors = " ".join(("'self'", *embed_origins)) if embed else "'none'"
    return _BASE_CSP + ancestors


def page_headers(embed: bool, ancestors: tuple[str, ...] = ()) -> dict[str, str]:
    headers = {
        "content-security-policy": content_security_policy(embed, ancestors),
        "referrer-policy": "same-origin",
        "cache-control": REVALIDATE,
    }
    if not embed:
        headers["x-frame-options"] = "DENY"
    return headers


@lru_cache(maxsize=4)
def _read_manifest(path: Path, mtime_ns: int) -> dict[str, str]:
    return {str(k): str(v) for k, v in json.loads(path.read_text("utf-8")).items()}


def built_assets(web_dir: Path | str) -> dict[str, str]:
    """web/dist/manifest.json: each entry ("styles.css", "lti-page.js"…) to its hashed path.
    Read again only when the build changed it; empty when the front end is not built."""
    path = Path(web_dir) / "manifest.json"
    try:
        return _read_manifest(path, path.stat().st_mtime_ns)
    except (OSError, ValueError, AttributeError):
        return {}


class Assets(StaticFiles):
    """web/dist/assets: a content-hashed file never changes, so browsers may keep it for good."""

    def file_response(
        self, full_path: PathLike, stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        hashed = _HASHED_NAME.search(os.path.basename(full_path))
        response.headers["cache-control"] = IMMUTABLE if hashed else REVALIDATE
        return response


async def frame_ancestors(request: Request, runtime: Runtime) -> tuple[str, ...]:
    """Who may frame ``/embed/{id}``: a launch token's platform alone (so a token shown on
    another platform's site is refused by the browser itself), else every configured origin."""
    token = request.query_params.get("token")
    if token is not None:
        try:
            return peek_platform(token, runtime.platforms).origins
        except LaunchError:
            pass  # the page's launch call reports the failure
    lti = await runtime.lti.origins()
    configured = (*runtime.settings.embed_origins, *runtime.platforms.origins(), *lti)
    return tuple(dict.fromkeys(configured))


async def _page(request: Request, name: str, embed: bool) -> Response:
    runtime: Runtime = request.app.state.runtime
    path = Path(runtime.settings.web_dir) / name
    ancestors = await frame_ancestors(request, runtime) if embed else ()
    headers = page_headers(embed, ancestors)
    if not path.is_file():
        return PlainTextResponse(MISSING_HINT, status_code=503, headers=headers)
    return FileResponse(path, media_type="text/html; charset=utf-8", headers=headers)


async def index(request: Request) -> Response:
    return await _page(request, "index.html", embed=False)


async def exercise_page(request: Request) -> Response:
    return await _page(request, "exercise.html", embed=False)


async def embed_page(request: Request) -> Response:
    return await _page(request, "exercise.html", embed=True)


def routes(settings: Settings) -> list[Route | Mount]:
    assets = Assets(directory=Path(settings.web_dir) / "assets", check_dir=False)
    return [
        Route("/", index),
        Route("/exercise/{exercise_id}", exercise_page),
        Route("/embed/{exercise_id}", embed_page),
        Mount("/assets", app=assets, name="assets"),
    ]
