"""The trainer's pages (French, server-rendered): every value escaped, every chart an inline SVG
with its table beside it, no script. Same strict CSP as the other pages; never framed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.responses import HTMLResponse, PlainTextResponse, Response

from runner.exercises import Catalog
from runner.store import ExerciseProgress
from runner.store.trainers import TrainerSession
from runner.trainers.dashboard import ExerciseDetail, WeekFunnel
from runner.web.lti_pages import STATUS_FR, escape
from runner.web.pages import MISSING_HINT, built_assets, page_headers
from runner.web.runtime import Runtime

BAR_HEIGHT = 14
LABEL_WIDTH = 230
CHART_WIDTH = 620


@dataclass(frozen=True)
class TrainerPage:
    title: str
    body: str  # trusted HTML: every value in it went through ``escape``
    session: TrainerSession | None = None


def render(runtime: Runtime, page: TrainerPage, status: int = 200) -> Response:
    headers = page_headers(embed=False)
    headers["cache-control"] = "no-store"
    stylesheet = built_assets(runtime.settings.web_dir).get("styles.css")
    if stylesheet is None:
        return PlainTextResponse(MISSING_HINT, status_code=503, headers=headers)
    nav = _nav(page.session) if page.session else ""
    document = (
        '<!doctype html><html lang="fr"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(page.title)} · Espace formateur</title>"
        f'<link rel="stylesheet" href="{escape(stylesheet)}"></head>'
        f'<body class="trainer-page">{nav}<main class="trainer-main" id="contenu">'
        f"<h1>{escape(page.title)}</h1>{page.body}</main></body></html>"
    )
    return HTMLResponse(document, status_code=status, headers=headers)


def _nav(session: TrainerSession) -> str:
    return (
        '<nav class="trainer-nav" aria-label="Espace formateur">'
        '<a href="/formateur">Parcours du cours</a>'
        '<a href="/formateur/a-risque">Apprenants à risque</a>'
        '<a href="/formateur/export/progression.csv">Export progression (CSV)</a>'
        '<a href="/formateur/export/tentatives.csv">Export tentatives (CSV)</a>'
        f'<form method="post" action="/formateur/deconnexion">'
        f'<input type="hidden" name="csrf" value="{escape(session.csrf)}">'
        f"<span>{escape(session.email)}</span> "
        '<button class="trainer-link-button" type="submit">Se déconnecter</button></form></nav>'
    )


def message_page(title: str, text: str) -> TrainerPage:
    return TrainerPage(title, f"<p>{escape(text)}</p>")


def login_page(csrf: str, next_url: str, error: str = "") -> TrainerPage:
    alert = f'<p class="trainer-error" role="alert">{escape(error)}</p>' if error else ""
    body = (
        f'<form class="trainer-login" method="post" action="/formateur/connexion">{alert}'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        f'<input type="hidden" name="suite" value="{escape(next_url)}">'
        '<label for="email">Adresse e-mail</label>'
        '<input id="email" name="email" type="email" autocomplete="username" required>'
        '<label for="password">Mot de passe</label>'
        '<input id="password" name="password" type="password" autocomplete="current-password"'
        " required>"
        '<button class="trainer-button" type="submit">Se connecter</button></form>'
    )
    return TrainerPage("Connexion formateur", body)


# Formatting -------------------------------------------------------------------------------


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f} %".replace(".", ",")


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d}"
    return f"{seconds // 86400} j"


def _date(moment: datetime | None) -> str:
    return "—" if moment is None else moment.astimezone(UTC).strftime("%d/%m/%Y %H:%M UTC")


def _learner_name(learner: str, platform: str | None, subject: str | None) -> str:
    if platform and subject:
        return f"{platform} · {subject}"
    return f"anonyme {learner[:8]}"


def _learner_link(learner: str, platform: str | None = None, subject: str | None = None) -> str:
    name = _learner_name(learner, platform, subject)
    return f'<a href="/formateur/apprenants/{escape(learner)}">{escape(name)}</a>'


def _num(value: object) -> str:
    return f'<td class="num">{escape(value)}</td>'


def _bars(rows: list[tuple[str, list[tuple[int, str]]]], maximum: int, title: str) -> str:
    """A horizontal bar chart: each row a label and its bars (value, CSS class)."""
    per_row = max(1, max((len(bars) for _, bars in rows), default=1))
    row_height = per_row * (BAR_HEIGHT + 2) + 8
    height = row_height * len(rows) + 10
    parts = [
        f'<svg class="trainer-chart" viewBox="0 0 {LABEL_WIDTH + CHART_WIDTH + 60} {height}"'
        f' role="img" aria-label="{escape(title)}">'
    ]
    scale = CHART_WIDTH / max(1, maximum)
    for i, (label, bars) in enumerate(rows):
        top = 5 + i * row_height
        parts.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{top + row_height / 2}" text-anchor="end"'
            f' dominant-baseline="middle">{escape(label[:38])}</text>'
        )
        for j, (value, css) in enumerate(bars):
            y = top + j * (BAR_HEIGHT + 2)
            width = max(0.0, value * scale)
            parts.append(
                f'<rect class="{css}" x="{LABEL_WIDTH}" y="{y}" width="{width:.1f}"'
                f' height="{BAR_HEIGHT}"></rect>'
                f'<text x="{LABEL_WIDTH + width + 4:.1f}" y="{y + BAR_HEIGHT - 3}">{value}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


# The course funnel ------------------------------------------------------------------------


def funnel_page(weeks: list[WeekFunnel], session: TrainerSession) -> TrainerPage:
    legend = (
        '<p class="trainer-legend"><span>gris : ont ouvert</span><span>bleu : ont essayé</span>'
        "<span>vert : ont réussi</span></p>"
    )
    parts = [
        "<p>Pour chaque exercice : combien d'apprenants l'ont ouvert, essayé (au moins une"
        " vérification ou exécution), réussi ; le taux de réussite parmi ceux qui ont essayé ;"
        " le nombre médian de vérifications et le temps médian (depuis le premier essai) pour"
        " réussir ; combien ont demandé un indice.</p>",
        legend,
    ]
    for week in weeks:
        maximum = max((e.row.opened for e in week.exercises), default=0)
        chart = _bars(
            [
                (
                    e.exercise.title,
                    [
                        (e.row.opened, "bar-opened"),
                        (e.row.attempted, "bar-attempted"),
                        (e.row.solved, "bar-solved"),
                    ],
                )
                for e in week.exercises
            ],
            maximum,
            f"Semaine {week.number} : ouverts, essayés, réussis par exercice",
        )
        rows = "".join(
            "<tr>"
            f'<th scope="row"><a href="/formateur/exercices/{escape(e.exercise.id)}">'
            f"{escape(e.exercise.title)}</a></th>"
            + _num(e.row.opened)
            + _num(e.row.attempted)
            + _num(e.row.solved)
            + _num(_percent(e.solve_rate))
            + _num("—" if e.median_checks is None else e.median_checks)
            + _num(_duration(e.median_seconds))
            + _num(e.row.hinted)
            + "</tr>"
            for e in week.exercises
        )
        table = (
            '<div class="trainer-table-wrap"><table class="trainer-table">'
            f"<caption>Semaine {week.number} : {escape(week.title)}</caption>"
            '<thead><tr><th scope="col">Exercice</th><th scope="col">Ouvert</th>'
            '<th scope="col">Essayé</th><th scope="col">Réussi</th>'
            '<th scope="col">Taux de réussite</th><th scope="col">Essais médians</th>'
            '<th scope="col">Temps médian</th><th scope="col">Indices</th></tr></thead>'
            f"<tbody>{rows}</tbody></table></div>"
        )
        parts.append(
            f"<h2>Semaine {week.number} : {escape(week.title)}</h2>"
            f'<div class="trainer-split"><div>{chart}</div>{table}</div>'
        )
    return TrainerPage("Parcours du cours", "".join(parts), session)


# An exercise ------------------------------------------------------------------------------


def exercise_page(detail: ExerciseDetail, session: TrainerSession) -> TrainerPage:
    exercise = detail.exercise
    parts = [
        f"<p>{detail.checks} vérification{'s' if detail.checks != 1 else ''} enregistrée"
        f"{'s' if detail.checks != 1 else ''}. Pour chaque test : combien de vérifications"
        " ont échoué d'abord sur lui.</p>"
    ]
    maximum = max((t.failures for t in detail.tests), default=0)
    label = [(f"{t.index + 1}. {t.name}{' (caché)' if t.hidden else ''}", t) for t in detail.tests]
    chart = _bars(
        [(name, [(t.failures, "bar-failed")]) for name, t in label],
        maximum,
        "Échecs par test",
    )
    rows = "".join(
        f'<tr><th scope="row">{escape(name)}</th>{_num(t.failures)}'
        f"{_num(_percent(t.failures / detail.checks if detail.checks else None))}</tr>"
        for name, t in label
    )
    parts.append(
        "<h2>Où les apprenants échouent</h2>"
        f'<div class="trainer-split"><div>{chart}</div><div class="trainer-table-wrap">'
        '<table class="trainer-table"><caption>Premier test échoué</caption><thead><tr>'
        '<th scope="col">Test</th><th scope="col">Échecs</th><th scope="col">Part des'
        f" vérifications</th></tr></thead><tbody>{rows}</tbody></table></div></div>"
    )
    kinds_max = max((n for _, n in detail.error_kinds), default=0)
    kinds_chart = _bars(
        [(kind, [(n, "bar-failed")]) for kind, n in detail.error_kinds],
        kinds_max,
        "Erreurs les plus fréquentes",
    )
    kinds_rows = "".join(
        f'<tr><th scope="row">{escape(kind)}</th>{_num(n)}</tr>' for kind, n in detail.error_kinds
    )
    parts.append(
        "<h2>Erreurs les plus fréquentes</h2>"
        f'<div class="trainer-split"><div>{kinds_chart}</div><div class="trainer-table-wrap">'
        '<table class="trainer-table"><caption>Type d\'erreur du premier test échoué</caption>'
        '<thead><tr><th scope="col">Erreur</th><th scope="col">Vérifications</th></tr></thead>'
        f"<tbody>{kinds_rows or '<tr><td colspan=2>Aucune erreur.</td></tr>'}</tbody>"
        "</table></div></div>"
    )
    outputs = []
    for t in detail.tests:
        if t.hidden or not t.wrong_outputs:
            continue
        items = "".join(
            f'<tr><td><pre class="trainer-code">{escape(output)}</pre></td>{_num(n)}</tr>'
            for output, n in t.wrong_outputs
        )
        outputs.append(
            '<div class="trainer-table-wrap"><table class="trainer-table">'
            f"<caption>Test {t.index + 1} : {escape(t.name)}. Attendu :</caption>"
            f'<tr><td colspan="2"><pre class="trainer-code">{escape(t.expected or "")}</pre>'
            '</td></tr><tr><th scope="col">Sortie obtenue</th><th scope="col">Fois</th></tr>'
            f"{items}</table></div>"
        )
    parts.append(
        "<h2>Sorties fausses les plus fréquentes</h2>"
        "<p>Parmi les 20 000 dernières vérifications échouées sur un test visible.</p>"
        + ("".join(outputs) or "<p>Aucune.</p>")
    )
    recent = "".join(
        "<tr>"
        f"<td>{escape(_date(r['created_at']))}</td><td>{_learner_link(r['learner_id'])}</td>"
        f"<td>{escape(r['passed'])}/{escape(r['total'])}</td>"
        f"<td>{escape(r['error_kind'] or r['status'])}</td>"
        f'<td><pre class="trainer-code">{escape(r["code"] if r["code"] is not None else "(code effacé)")}</pre></td>'
        "</tr>"
        for r in detail.recent
    )
    parts.append(
        "<h2>Dernières soumissions échouées</h2>"
        '<div class="trainer-table-wrap"><table class="trainer-table"><thead><tr>'
        '<th scope="col">Date</th><th scope="col">Apprenant</th><th scope="col">Tests</th>'
        '<th scope="col">Erreur</th><th scope="col">Code</th></tr></thead>'
        f"<tbody>{recent or '<tr><td colspan=5>Aucune.</td></tr>'}</tbody></table></div>"
    )
    return TrainerPage(f"Exercice : {exercise.title}", "".join(parts), session)


# Learners at risk ---------------------------------------------------------------------------


def at_risk_page(
    rows: list[dict[str, Any]], days: int, page: int, more: bool, session: TrainerSession
) -> TrainerPage:
    now = datetime.now(UTC)
    body = "".join(
        "<tr>"
        f'<th scope="row">{_learner_link(r["learner_id"], r["platform_id"], r["subject"])}</th>'
        f"<td>{escape(_date(r['last_active']))}</td>"
        + _num((now - r["last_active"]).days if isinstance(r["last_active"], datetime) else "—")
        + _num(r["unsolved"])
        + _num(r["solved"])
        + "</tr>"
        for r in rows
    )
    links = []
    if page > 1:
        links.append(
            f'<a href="/formateur/a-risque?jours={days}&amp;page={page - 1}">Précédents</a>'
        )
    if more:
        links.append(f'<a href="/formateur/a-risque?jours={days}&amp;page={page + 1}">Suivants</a>')
    form = (
        '<form method="get" action="/formateur/a-risque"><label for="jours">Inactifs depuis au'
        f' moins</label> <input id="jours" name="jours" type="number" min="1" max="365"'
        f' value="{days}"> jours <button class="trainer-button" type="submit">Afficher</button>'
        "</form>"
    )
    table = (
        '<div class="trainer-table-wrap"><table class="trainer-table">'
        f"<caption>Actifs avant, sans activité depuis {days} jours ou plus, avec des exercices"
        " commencés et pas réussis (les plus récemment partis d'abord)</caption>"
        '<thead><tr><th scope="col">Apprenant</th><th scope="col">Dernière activité</th>'
        '<th scope="col">Jours d\'inactivité</th><th scope="col">Exercices non réussis</th>'
        '<th scope="col">Exercices réussis</th></tr></thead>'
        f"<tbody>{body or '<tr><td colspan=5>Personne.</td></tr>'}</tbody></table></div>"
    )
    return TrainerPage("Apprenants à risque", form + table + f"<p>{' · '.join(links)}</p>", session)


# A learner --------------------------------------------------------------------------------


def learner_page(
    catalog: Catalog,
    learner: str,
    account: tuple[str, str] | None,
    records: dict[str, ExerciseProgress],
    history: list[dict[str, Any]],
    session: TrainerSession,
) -> TrainerPage:
    rows = []
    for week in catalog.course.weeks:
        for exercise_id in week.exercise_ids:
            exercise = catalog.get(exercise_id)
            p = records.get(exercise_id)
            if exercise is None or p is None:
                continue
            rows.append(
                f'<tr><th scope="row">{escape(exercise.title)}</th>'
                f"<td>{escape(STATUS_FR[p.status])}</td>{_num(p.checks)}{_num(p.runs)}"
                f"{_num(p.hints_revealed)}<td>{escape(_date(p.last_attempt_at))}</td></tr>"
            )
    progress_table = (
        '<div class="trainer-table-wrap"><table class="trainer-table"><caption>Progression'
        '</caption><thead><tr><th scope="col">Exercice</th><th scope="col">Statut</th>'
        '<th scope="col">Vérifications</th><th scope="col">Exécutions</th>'
        '<th scope="col">Indices</th><th scope="col">Dernier essai</th></tr></thead>'
        f"<tbody>{''.join(rows) or '<tr><td colspan=6>Rien.</td></tr>'}</tbody></table></div>"
    )
    timeline = []
    for a in history:
        exercise = catalog.get(a["exercise_id"])
        title = exercise.title if exercise else a["exercise_id"]
        result = (
            f"{a['passed']}/{a['total']} tests"
            if a["mode"] == "check"
            else f"exécution : {a['status']}"
        )
        code = (
            a["code"] if a["code"] is not None else "(code effacé après la durée de conservation)"
        )
        timeline.append(
            f"<li><details><summary>{escape(_date(a['created_at']))} · {escape(title)} ·"
            f" {escape(result)}{(' · ' + escape(a['error_kind'])) if a['error_kind'] else ''}"
            f'</summary><pre class="trainer-code">{escape(code)}</pre></details></li>'
        )
    name = _learner_name(learner, *(account or (None, None)))
    body = (
        f"<p>Identifiant : <code>{escape(learner)}</code></p>{progress_table}"
        f"<h2>Tentatives (les plus récentes d'abord)</h2><ol>{''.join(timeline)}</ol>"
    )
    return TrainerPage(f"Apprenant : {name}", body, session)
