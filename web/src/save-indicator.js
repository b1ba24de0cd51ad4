// "Enregistré", "Enregistrement…" or "Non enregistré" next to the editor: whether the server holds
// the code shown (a reload on another device would find it).
import { h } from "./dom.js";
import { t } from "./i18n/index.js";
import { SaveState } from "./drafts.js";

const LOOKS = {
  [SaveState.SAVED]: { icon: "✓", text: () => t("save.saved") },
  [SaveState.SAVING]: { icon: "↻", text: () => t("save.saving") },
  [SaveState.UNSAVED]: { icon: "•", text: () => t("save.unsaved") },
};

/** Shows ``state`` (a SaveState) in ``el``. */
export function showSaveState(el, state) {
  const look = LOOKS[state] || LOOKS[SaveState.UNSAVED];
  el.dataset.state = state;
  el.replaceChildren(h("span", { class: "save-indicator-icon", "aria-hidden": "true" }, look.icon), " ", look.text());
}
