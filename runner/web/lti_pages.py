"""Server-rendered LTI pages (French): the launch bridge, errors, the picker, the instructor's
view. Same CSP as every page (no inline script or style): the built stylesheet and the
``lti-page`` script from ``web/dist/manifest.json``; a page's settings travel as a JSON data
block, which the CSP lets through because it is never executed."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from starlette.responses import HTMLResponse, PlainTextResponse, Response

from runner.web.pages import MISSING_HINT, page_headers


def escape(value: object) -> str:
    return html.escape(str(value), quote=True)


@dataclass(frozen=True)
class Page:
    title: str
    body: str  # trusted HTML: every value in it went through ``escape``
    config: dict[str, Any] = field(default_factory=dict)
    form_action: str = ""  # an origin the page's form may post to (the LMS's return URL)


@lru_cache(maxsize=4)
def _assets(web_dir: str, mtime: float) -> dict[str, str]:
    return dict(json.loads((Path(web_dir) / "manifest.json").read_text("utf-8")))


def _manifest(web_dir: str) -> dict[str, str] | None:
    path = Path(web_dir) / "manifest.json"
    try:
        return _assets(web_dir, path.stat().st_mtime)
    except (OSError, ValueError):
        return None


def render(
    web_dir: str,
    page: Page,
    ancestors: tuple[str, ...],
    status: int = 200,
    extra_headers: dict[str, str] | None = None,
) -> Response:
    headers = page_headers(embed=True, ancestors=ancestors)
    headers["cache-control"] = "no-store"
    if page.form_action:
        headers["content-security-policy"] = headers["content-security-policy"].replace(
            "form-action 'self'", f"form-action 'self' {page.form_action}"
        )
    headers.update(extra_headers or {})
    assets = _manifest(web_dir)
    if assets is None or "lti-page.js" not in assets:
        return PlainTextResponse(MISSING_HINT, status_code=503, headers=headers)
    config = json.dumps(page.config).replace("<", "\\u003c")
    document = (
        '<!doctype html><html lang="fr"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(page.title)} · Décoder le code</title>"
        f'<link rel="stylesheet" href="{escape(assets["styles.css"])}">'
        f'<script type="module" src="{escape(assets["lti-page.js"])}"></script>'
        f'<script type="application/json" id="lti-config">{config}</script>'
        '</head><body class="lti-page"><main class="lti-main">'
        f'<h1>{escape(page.title)}</h1><div id="lti-status" role="status" aria-live="polite">'
        f"</div>{page.body}</main></body></html>"
    )
    return HTMLResponse(document, status_code=status, headers=headers)
