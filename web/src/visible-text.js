// Renders program output with visible spaces, tabs and line ends, and marks the first difference.
import { h } from "./dom.js";

const SYMBOLS = { " ": "·", "\t": "→", "\r": "␍" };
export const END_OF_LINE = "↵";

function charNode(ch) {
  return ch in SYMBOLS ? h("span", { class: "ws", dataset: { ch: ch === " " ? "space" : "other" } }, SYMBOLS[ch]) : ch;
}

/**
 * The last line end is not drawn: the checker ignores it, so showing it would invite learners
 * to chase a difference that does not count.
 * @param {string} text the whole output
 * @param {{line: number, column: number} | null} at 1-based position of the first difference
 * @returns {DocumentFragment}
 */
export function renderVisible(text, at = null) {
  const fragment = document.createDocumentFragment();
  const lines = text.split("\n");
  if (text.endsWith("\n")) lines.pop();
  lines.forEach((line, index) => {
    const number = index + 1;
    const hasEol = index < lines.length - 1;
    const isDiffLine = at && at.line === number;
    const row = h("span", { class: isDiffLine ? "vt-line vt-line--diff" : "vt-line" });
    const chars = Array.from(line);
    chars.forEach((ch, col) => {
      const node = charNode(ch);
      row.append(isDiffLine && col === at.column - 1 ? h("mark", { class: "diff" }, node) : node);
    });
    const diffAtEnd = isDiffLine && at.column - 1 >= chars.length;
    if (hasEol) {
      const eol = h("span", { class: "ws eol" }, END_OF_LINE);
      row.append(diffAtEnd ? h("mark", { class: "diff" }, eol) : eol);
    } else if (diffAtEnd) {
      row.append(h("mark", { class: "diff diff--end", "aria-hidden": "true" }, "\u00a0"));
    }
    fragment.append(row, "\n");
  });
  if (at && at.line > lines.length) {
    fragment.append(h("span", { class: "vt-line vt-line--diff" }, h("mark", { class: "diff diff--end" }, "\u00a0")));
  }
  return fragment;
}
