// Entry of /preview (`decode-runner preview`): the course as its author sees it, kept live — the
// problems in its files, the exercises served, and "Valider tout le cours".
import { h, byId, clear } from "./dom.js";
import { clock, previewJson, renderProblems, validateButton, watchCourse } from "./preview-common.js";
import { S } from "./preview-strings.js";

async function refresh() {
  const course = await previewJson("GET", "/preview/api/course");
  byId("preview-course").textContent = course.title;
  renderProblems(byId("author-problems"), course.errors);
  const list = clear(byId("preview-exercises"));
  if (!course.exercises.length) list.append(h("li", { class: "muted" }, S.noExercises));
  for (const exercise of course.exercises) {
    list.append(
      h(
        "li",
        {},
        h("a", { href: `/exercise/${encodeURIComponent(exercise.id)}` }, exercise.title),
        " ",
        h("span", { class: "muted" }, `${S.week(exercise.week)} · ${exercise.language} · `, h("code", {}, exercise.source)),
      ),
    );
  }
  byId("author-state").textContent = `${S.live} — ${S.updated(clock())}`;
}

function main() {
  const status = byId("validate-status");
  byId("validate-slot").append(validateButton(S.validateAll, "/preview/api/validate", byId("author-validation"), status));
  watchCourse(
    () => refresh().catch((error) => (byId("author-state").textContent = error.message)),
    (live) => {
      document.body.dataset.live = live ? "true" : "false";
      if (!live) byId("author-state").textContent = S.offline;
    },
  );
}

main();
