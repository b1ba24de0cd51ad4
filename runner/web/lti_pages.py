"""Server-rendered LTI pages (French): the launch bridge, errors, the picker, the instructor's
view. Same CSP as every page (no inline script or style): the built stylesheet and the
``lti-page`` script from ``web/dist/manifest.json``; a page's settings travel as a JSON data
block, which the CSP lets through because it is never executed."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import HTMLResponse, PlainTextResponse, Response

from runner.exercises import Catalog
from runner.store import MemberProgress
from runner.web.pages import MISSING_HINT, built_assets, page_headers


def escape(value: object) -> str:
    return html.escape(str(value), quote=True)


@dataclass(frozen=True)
class Page:
    title: str
    body: str  # trusted HTML: every value in it went through ``escape``
    config: dict[str, Any] = field(default_factory=dict)
    form_action: str = ""  # an origin the page's form may post to (the LMS's return URL)


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
    assets = built_assets(web_dir)
    if "lti-page.js" not in assets or "styles.css" not in assets:
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


# The deep-linking picker and the instructor's view -----------------------------------------

LANGUAGES = {"python": "Python", "javascript": "JavaScript"}
STATUS_FR = {"solved": "Réussi", "started": "Commencé", "todo": "Pas commencé"}
NOBODY = "<tr><td>Personne n'a encore ouvert d'exercice.</td></tr>"


def picker_page(catalog: Catalog, ticket: str, multiple: bool) -> Page:
    """Deep linking: the course by week, each exercise with its language and tests."""
    kind = "checkbox" if multiple else "radio"
    parts = [
        f'<form method="post" action="/lti/pick" class="lti-picker">'
        f'<input type="hidden" name="ticket" value="{escape(ticket)}">'
    ]
    for week in catalog.course.weeks:
        parts.append(f"<fieldset><legend>Semaine {week.number} : {escape(week.title)}</legend>")
        for exercise_id in week.exercise_ids:
            exercise = catalog.get(exercise_id)
            if exercise is None:
                continue
            language = LANGUAGES.get(str(exercise.language), str(exercise.language))
            parts.append(
                f'<label class="lti-choice"><input type="{kind}" name="exercise" '
                f'value="{escape(exercise_id)}"> {escape(exercise.title)} '
                f'<span class="lti-language">{escape(language)}</span> '
                f'<span class="lti-tests">{len(exercise.tests)} tests</span></label>'
            )
        parts.append("</fieldset>")
    parts.append('<button class="lti-button" type="submit">Ajouter au cours</button></form>')
    return Page(
        title="Choisir des exercices",
        body="<p>Coche les exercices à ajouter à ton cours. Chacun y aura sa note.</p>"
        + "".join(parts),
        config={"mode": "pick"},
    )


def instructor_page(
    catalog: Catalog,
    data: dict[str, Any],
    rows: list[MemberProgress],
    names: dict[str, tuple[str | None, bool]],
    note: str,
) -> Page:
    """An LMS context's learners (NRPS names, else those who launched) × its linked exercises."""
    exercises = sorted({r.exercise_id for r in rows} | {data["exercise"]})
    by_learner: dict[str, dict[str, MemberProgress]] = {}
    for row in rows:
        if not row.instructor:
            by_learner.setdefault(row.subject, {})[row.exercise_id] = row
    for user_id, (_, staff) in names.items():
        if not staff:
            by_learner.setdefault(user_id, {})
    head = "".join(
        f'<th scope="col">{escape(catalog.exercises[e].title if e in catalog.exercises else e)}</th>'
        for e in exercises
    )
    body = []
    for subject in sorted(by_learner, key=lambda s: (names.get(s, (None,))[0] or s).lower()):
        name = names.get(subject, (None, False))[0] or subject
        cells = []
        for exercise in exercises:
            member = by_learner[subject].get(exercise)
            if member is None:
                cells.append('<td class="lti-todo">Pas ouvert</td>')
                continue
            p = member.progress
            text = STATUS_FR[p.status]
            if p.status != "todo":
                text += f" ({p.checks} essai{'s' if p.checks != 1 else ''})"
            cells.append(f'<td class="lti-{p.status}">{escape(text)}</td>')
        body.append(f'<tr><th scope="row">{escape(name)}</th>{"".join(cells)}</tr>')
    title = data.get("context_title") or "ce cours"
    table = (
        f'<table class="lti-table"><caption>Progression dans {escape(title)}</caption>'
        f'<thead><tr><th scope="col">Apprenant</th>{head}</tr></thead>'
        f"<tbody>{''.join(body) or NOBODY}"
        "</tbody></table>"
    )
    notice = f'<p class="lti-note">{escape(note)}</p>' if note else ""
    link = (
        f'<p><a class="lti-button" href="{escape(data["exercise_url"])}">'
        "Essayer l'exercice comme un apprenant</a></p>"
    )
    return Page(
        title="Suivi des apprenants",
        body=notice + table + link,
        config={"mode": "instructor"},
    )
