// The French explanation of an error, with a button that shows the line in the editor.
import { h } from "./dom.js";
import { t } from "./i18n/index.js";
import { withInlineCode } from "./rich-text.js";

/**
 * @param {{title: string, text: string, line?: number|null, original?: string}} explanation
 * @param {(line: number) => void} onLine
 */
export function explanationBlock(explanation, onLine) {
  const block = h("div", { class: "explanation" });
  // The explanation is French whatever the interface's language; the original is the interpreter's.
  if (explanation.title) block.append(h("p", { class: "explanation-title", lang: "fr" }, withInlineCode(explanation.title)));
  if (explanation.text) block.append(h("p", { class: "explanation-text", lang: "fr" }, withInlineCode(explanation.text)));
  if (explanation.line) {
    block.append(
      h(
        "button",
        { type: "button", class: "link-button", onclick: () => onLine(explanation.line) },
        t("explanation.goToLine", { line: explanation.line }),
      ),
    );
  }
  if (explanation.original) {
    block.append(
      h(
        "details",
        { class: "explanation-original" },
        h("summary", {}, t("explanation.original")),
        h("pre", { lang: "en" }, explanation.original),
      ),
    );
  }
  return block;
}

/** What a screen reader says of an explanation: its French title and text, without code marks. */
export function explanationSpeech(explanation) {
  return [explanation.title, explanation.text]
    .filter(Boolean)
    .map((part) => String(part).replace(/`/g, "").trim())
    .join(" ");
}
