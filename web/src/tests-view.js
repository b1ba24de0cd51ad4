// The list of graded tests: ✓/✗ with a word, "expected / got" and the first difference marked.
import { h, clear } from "./dom.js";
import { t } from "./i18n/index.js";
import { renderVisible } from "./visible-text.js";
import { explanationBlock } from "./explanation.js";

const ICONS = { passed: "✓" };

export class TestsView {
  /**
   * @param {{panel: HTMLElement, list: HTMLOListElement, summary: HTMLElement}} els
   * @param {{onLine: (line: number) => void}} deps called when the learner asks to see a line
   */
  constructor(els, { onLine }) {
    this.els = els;
    this.onLine = onLine;
    this.reset();
  }

  reset() {
    clear(this.els.list);
    this.els.summary.textContent = "";
    this.els.panel.hidden = true;
    this.firstFailure = null;
    this.firstFailedTest = null;
  }

  /** Adds one graded test. Returns the explanation's line for the first failure, if any. */
  add(test) {
    this.els.panel.hidden = false;
    const passed = test.status === "passed";
    const item = h(
      "li",
      { class: `test test--${passed ? "passed" : "failed"}` },
      h(
        "p",
        { class: "test-head" },
        h("span", { class: "test-icon", "aria-hidden": "true" }, ICONS[test.status] || "✗"),
        test.hidden || !test.name
          ? h("span", { class: "test-name" }, test.hidden ? t("tests.hidden") : `#${test.index + 1}`)
          : h("span", { class: "test-name", lang: "fr" }, test.name),
        h("span", { class: "test-status" }, statusLabel(test.status)),
      ),
    );
    if (!passed) this._details(item, test);
    this.els.list.append(item);
    if (!passed && !this.firstFailure) {
      this.firstFailure = item;
      this.firstFailedTest = test;
      return test.explanation && test.explanation.line ? test.explanation.line : null;
    }
    return null;
  }

  _details(item, test) {
    if (test.message) item.append(h("p", { class: "test-message", lang: "fr" }, test.message));
    const diff = test.difference;
    if (typeof test.expected === "string" || typeof test.actual === "string") {
      item.append(
        h(
          "div",
          { class: "compare" },
          compareBlock(t("tests.expected"), test.expected, diff, "expected"),
          compareBlock(t("tests.actual"), test.actual, diff, "actual"),
        ),
        h("p", { class: "legend" }, t("tests.legend")),
      );
    }
    if (test.explanation) item.append(explanationBlock(test.explanation, this.onLine));
  }

  /** What a screen reader is told of a finished check: the count, then the first failure. */
  speech(passed, total) {
    const parts = typeof total === "number" ? [`${t("tests.summary", { passed, total })}.`] : [];
    const failure = this.firstFailedTest;
    if (failure) {
      const name = failure.hidden ? t("tests.hidden") : failure.name || `#${failure.index + 1}`;
      parts.push(t("tests.firstFailure", { name }), failure.message && { text: failure.message, lang: "fr" });
    }
    return parts;
  }

  /** Writes the summary line of a finished check. */
  finish(passed, total) {
    if (typeof total === "number") {
      this.els.summary.textContent = t("tests.summary", { passed, total });
    }
  }
}

function compareBlock(title, text, diff, kind) {
  const body =
    typeof text === "string" && text.length
      ? renderVisible(text, diff)
      : h("span", { class: "nothing" }, t("tests.nothing"));
  return h(
    "figure",
    { class: `compare-block compare-block--${kind}` },
    h("figcaption", {}, title),
    h("pre", { class: "visible-text", tabindex: "0" }, body),
  );
}

function statusLabel(status) {
  const key = `tests.${status}`;
  const label = t(key);
  return label === key ? status : label;
}
