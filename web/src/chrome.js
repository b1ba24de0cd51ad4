// Pieces shared by both pages: the language switch, status badges, language names.
import { h } from "./dom.js";
import { CATALOGUES, language, switchLanguage, t } from "./i18n/index.js";

const STATUS_ICONS = { todo: "○", started: "◐", solved: "✓" };

/** Wires the header's language switch button (shows the other language's name). */
export function setUpLanguageSwitch(button) {
  if (!button) return;
  renderLanguageSwitch(button);
  button.addEventListener("click", () => switchLanguage(otherLanguage()));
}

/** Names the other language again (after the course chose the page's language). */
export function renderLanguageSwitch(button) {
  if (!button) return;
  button.textContent = t("lang.switch");
  button.setAttribute("lang", otherLanguage());
  button.setAttribute("aria-label", t("lang.switchLabel"));
}

function otherLanguage() {
  return Object.keys(CATALOGUES).find((code) => code !== language());
}

/** "✓ réussi": an icon and a word, never colour alone. */
export function statusBadge(status, extraClass = "") {
  const known = status in STATUS_ICONS ? status : "todo";
  return h(
    "span",
    { class: `status status--${known} ${extraClass}`.trim(), dataset: { status: known } },
    h("span", { class: "status-icon", "aria-hidden": "true" }, STATUS_ICONS[known]),
    h("span", { class: "status-text" }, t(`status.${known}`)),
  );
}

export function languageName(code) {
  const key = `lang.${code}`;
  const name = t(key);
  return name === key ? code : name;
}

export function languageBadge(code) {
  return h("span", { class: `lang-badge lang-badge--${code}` }, languageName(code));
}
