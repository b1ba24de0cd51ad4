// The exercise's header (title, week, status, counts, links) and its examples.
// The exercise's own text is French whatever the interface's language: it is marked lang="fr".
import { h, byId, clear } from "./dom.js";
import { t } from "./i18n/index.js";
import { languageBadge, statusBadge } from "./chrome.js";
import { SessionKind } from "./session.js";
import { setUpOpenFull } from "./open-full.js";

export function renderHeader(exercise, page, navigation) {
  document.title = `${exercise.title} — ${t("app.title")}`;
  byId("ex-title").textContent = exercise.title;
  byId("ex-week").textContent = exercise.week ? t("exercise.week", { number: exercise.week }) : "";
  byId("ex-language").replaceChildren(languageBadge(exercise.language));
  renderProgress(exercise, false);
  const { course } = page;
  if (course && course.kind === SessionKind.FRAME) {
    setUpOpenFull(byId("open-full"), { exerciseId: exercise.id, returnUrl: course.returnUrl, status: byId("open-full-status") });
  } else {
    byId("open-full").href = `/exercise/${encodeURIComponent(exercise.id)}`;
  }
  const back = byId("return-link");
  const returnUrl = course && course.kind === SessionKind.TAB ? page.courseLink(course.returnUrl) : null;
  back.hidden = !returnUrl;
  if (returnUrl) back.href = returnUrl;
  navigation.wirePager(byId("prev-link"), byId("next-link"));
}

export function renderProgress(exercise, justSolved) {
  const badge = statusBadge(exercise.status, justSolved ? "status--fresh" : "");
  byId("ex-status").replaceChildren(badge);
  byId("ex-attempts").textContent = countsText(exercise);
}

/**
 * "Essais : 2 · Exécutions : 5" when the server tells checks and runs apart; else the one count
 * of attempts it has always sent.
 */
function countsText({ checks, runs, attempts }) {
  if (typeof checks === "number" && typeof runs === "number") {
    const parts = [];
    if (checks) parts.push(t("exercise.checks", { checks }));
    if (runs) parts.push(t("exercise.runs", { runs }));
    return parts.join(" · ");
  }
  return attempts ? t("exercise.attempts", { attempts }) : "";
}

/** A run (``mode`` "run") or a check the server has just recorded. */
export function countAttempt(exercise, mode) {
  const key = mode === "check" ? "checks" : "runs";
  if (typeof exercise[key] === "number") exercise[key] += 1;
  exercise.attempts = (exercise.attempts || 0) + 1;
}

/**
 * The examples of visible tests (the instructions, the server's HTML, are set by the page), each
 * with a button that runs the learner's code on its input: ``onTry(example)``.
 */
export function renderExamples(exercise, onTry) {
  const examples = exercise.examples || [];
  const list = clear(byId("examples-list"));
  for (const example of examples) {
    list.append(
      h(
        "div",
        { class: "example" },
        h("p", { class: "example-name", lang: "fr" }, example.name),
        h(
          "dl",
          { class: "example-io" },
          h("dt", {}, t("exercise.exampleInput")),
          h("dd", {}, example.stdin ? h("pre", { lang: "fr" }, example.stdin) : h("span", { class: "muted" }, t("exercise.noInput"))),
          h("dt", {}, t("exercise.exampleOutput")),
          h("dd", {}, h("pre", { lang: "fr" }, example.expected)),
        ),
        h(
          "button",
          {
            type: "button",
            class: "button button--quiet example-try",
            "aria-label": t("exercise.tryExample", { name: example.name }),
            onclick: () => onTry(example),
          },
          h("span", { class: "button-icon", "aria-hidden": "true" }, "▶"),
          " ",
          t("exercise.tryExampleShort"),
        ),
      ),
    );
  }
  byId("examples").hidden = examples.length === 0;
  byId("examples-count").textContent = t("exercise.examplesCount", { count: examples.length });
}
