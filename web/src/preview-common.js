// The author's side of `decode-runner preview`: the course's event stream, the JSON calls, and how
// spec problems (file, JSON pointer, reason) and validate's table are shown.
import { h, clear } from "./dom.js";
import { S } from "./preview-strings.js";

export class PreviewError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function previewJson(method, path) {
  const response = await fetch(path, { method, headers: { Accept: "application/json" }, cache: "no-store" });
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new PreviewError(response.status, (data && data.message) || `HTTP ${response.status}`);
  return data;
}

/**
 * Follows the course folder: ``onChange({first})`` for the first message and after each reload
 * (a reconnection to a restarted server counts as one); ``onState(connected)`` as the stream goes.
 */
export function watchCourse(onChange, onState = () => {}) {
  const source = new EventSource("/preview/events");
  let last = null;
  source.addEventListener("message", (event) => {
    const { server, version } = JSON.parse(event.data);
    const key = `${server}:${version}`;
    onState(true);
    if (key === last) return;
    const first = last === null;
    last = key;
    onChange({ first });
  });
  source.addEventListener("error", () => onState(false));
  return source;
}

export function renderProblems(container, problems) {
  clear(container);
  if (!problems.length) {
    container.append(h("p", { class: "preview-ok" }, S.noProblems));
    return;
  }
  container.append(h("ul", { class: "preview-problems" }, problems.map(problemItem)));
}

function problemItem(problem) {
  return h(
    "li",
    { class: "preview-problem", dataset: { path: problem.path, pointer: problem.pointer } },
    h("code", { class: "preview-problem-path", title: S.file }, problem.path),
    " ",
    h("code", { class: "preview-problem-pointer", title: S.pointer }, problem.pointer),
    " ",
    h("span", { class: "preview-problem-reason" }, problem.reason),
  );
}

/** validate's output: the table, one line per problem, then the count. */
export function renderValidation(container, result) {
  const head = h("tr", {}, result.columns.map((column) => h("th", { scope: "col" }, column)));
  const rows = result.rows.map((row) =>
    h("tr", {}, row.map((cell, index) => (index === 0 ? h("th", { scope: "row" }, cell) : h("td", {}, cell)))),
  );
  const problems = h("div", {});
  if (result.problems.length) renderProblems(problems, result.problems);
  const failed = result.problems.length > 0;
  clear(container).append(
    h("div", { class: "preview-table-wrap" }, h("table", { class: "preview-table" }, h("thead", {}, head), h("tbody", {}, rows))),
    problems,
    h("p", { class: failed ? "preview-summary preview-summary--bad" : "preview-summary preview-summary--ok" }, result.summary),
  );
}

/** A "Valider" button: posts to ``path`` and shows the table in ``output``. */
export function validateButton(label, path, output, status) {
  const button = h("button", { type: "button", class: "button button--accent" }, label);
  button.addEventListener("click", async () => {
    button.disabled = true;
    status.textContent = S.validating;
    try {
      renderValidation(output, await previewJson("POST", path));
      status.textContent = "";
    } catch (error) {
      status.textContent = S.validateFailed(error.message);
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

export function clock() {
  return new Date().toLocaleTimeString("fr-FR");
}
