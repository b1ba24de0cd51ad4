// Entry that `decode-runner preview` adds to the exercise page: the author's panel beside the
// learner's page (spec problems, the solution, every test, "Valider"), and the live reload.
import { h, clear } from "./dom.js";
import { announceCourseChange } from "./live-update.js";
import { clock, previewJson, renderProblems, validateButton, watchCourse } from "./preview-common.js";
import { S } from "./preview-strings.js";

function exerciseId() {
  const parts = window.location.pathname.split("/").filter(Boolean);
  return decodeURIComponent(parts[1] || "");
}

class AuthorPanel {
  constructor(id) {
    this.id = id;
    this.sequence = 0;
    const path = `/preview/api/exercises/${encodeURIComponent(id)}`;
    this.els = {
      state: h("p", { id: "author-state", class: "author-state muted", role: "status" }),
      source: h("code", { id: "author-source" }),
      problems: h("div", { id: "author-problems" }),
      status: h("p", { class: "author-status", role: "status" }),
      validation: h("div", { id: "author-validation", class: "author-validation" }),
      solution: h("pre", { id: "author-solution", class: "author-code" }),
      tests: h("ol", { id: "author-tests", class: "author-tests" }),
      missing: h("p", { id: "author-missing", class: "author-missing", hidden: true }, S.notLoaded),
    };
    const { els } = this;
    this.exerciseParts = h(
      "div",
      {},
      h("section", { class: "author-section" },
        h("h3", {}, S.validate),
        h("p", { class: "muted small" }, S.validateHelp),
        validateButton(S.validate, `${path}/validate`, els.validation, els.status),
        els.status,
        els.validation),
      h("section", { class: "author-section" }, h("h3", {}, S.solution), els.solution),
      h("section", { class: "author-section" }, h("h3", {}, S.tests), els.tests),
    );
    this.root = h(
      "aside",
      { id: "author-panel", class: "author-panel", "aria-labelledby": "author-title" },
      h("h2", { id: "author-title", class: "author-title" }, S.panelTitle),
      h("p", { class: "author-note" }, S.panelNote),
      h("p", { class: "author-links" }, h("a", { href: "/preview" }, S.overview), " · ", S.source, " ", els.source),
      els.state,
      h("section", { class: "author-section", "aria-labelledby": "author-problems-title" },
        h("h3", { id: "author-problems-title" }, S.problems),
        els.problems),
      els.missing,
      this.exerciseParts,
    );
  }

  async refresh() {
    const sequence = ++this.sequence;
    const [course, exercise] = await Promise.allSettled([
      previewJson("GET", "/preview/api/course"),
      previewJson("GET", `/preview/api/exercises/${encodeURIComponent(this.id)}`),
    ]);
    if (sequence !== this.sequence) return; // a later refresh has the newer state
    if (course.status === "fulfilled") renderProblems(this.els.problems, course.value.errors);
    const loaded = exercise.status === "fulfilled";
    this.els.missing.hidden = loaded;
    this.exerciseParts.hidden = !loaded;
    if (loaded) this.showExercise(exercise.value);
    this.els.state.textContent = `${S.live} — ${S.updated(clock())}`;
    this.root.dataset.version = String(sequence);
  }

  showExercise(exercise) {
    this.els.source.textContent = exercise.source;
    this.els.solution.textContent = exercise.solution;
    clear(this.els.tests).append(...exercise.tests.map(testItem));
  }

  connected(live) {
    this.root.dataset.live = live ? "true" : "false";
    if (!live) this.els.state.textContent = S.offline;
  }
}

function testItem(test) {
  const field = (label, value) => [h("dt", {}, label), h("dd", {}, value ? h("pre", {}, value) : h("span", { class: "muted" }, S.noInput))];
  return h(
    "li",
    { class: test.hidden ? "author-test author-test--hidden" : "author-test", dataset: { hidden: String(test.hidden) } },
    h("p", { class: "author-test-name" }, test.name, " ", h("span", { class: "author-badge" }, test.hidden ? S.hidden : S.visible)),
    h(
      "dl",
      { class: "author-test-io" },
      field(S.stdin, test.stdin),
      field(S.expected, test.expected),
      h("dt", {}, S.compare),
      h("dd", {}, test.compare),
      test.description ? [h("dt", {}, S.description), h("dd", {}, test.description)] : [],
    ),
  );
}

function main() {
  const panel = new AuthorPanel(exerciseId());
  document.body.classList.add("has-author-panel");
  document.body.append(panel.root);
  watchCourse(
    ({ first }) => {
      panel.refresh();
      if (!first) announceCourseChange();
    },
    (live) => panel.connected(live),
  );
}

main();
