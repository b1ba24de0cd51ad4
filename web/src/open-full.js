// "Ouvrir en plein écran" for a course session: the full page opens as the same learner through
// a one-time hand-off code, so the frame's session never appears in a URL.
import { api, ApiError, SESSION_EXPIRED } from "./api.js";
import { h } from "./dom.js";
import { language, t } from "./i18n/index.js";

/**
 * Replaces the plain link (which would open an anonymous page) with a button.
 * @param {HTMLAnchorElement} link
 * @param {{exerciseId: string, returnUrl: string|null, status: HTMLElement}} options
 */
export function setUpOpenFull(link, { exerciseId, returnUrl, status }) {
  const button = h("button", { type: "button", id: link.id, class: `link-button ${link.className}` }, t("nav.openFull"));
  link.replaceWith(button);
  button.addEventListener("click", () => openFull(exerciseId, returnUrl, status));
}

async function openFull(exerciseId, returnUrl, status) {
  status.textContent = "";
  // Opened during the click: a window opened once the code has come back would be blocked.
  const opened = window.open("", "_blank");
  if (!opened) {
    status.textContent = t("session.popupBlocked");
    return;
  }
  opened.opener = null;
  try {
    opened.document.title = t("loading");
  } catch {
    // Only a courtesy while the code comes back.
  }
  try {
    const { code } = await api.handoff();
    const query = new URLSearchParams({ handoff: code, lang: language() });
    if (returnUrl) query.set("return", returnUrl);
    const url = new URL(`/exercise/${encodeURIComponent(exerciseId)}?${query}`, window.location.origin);
    opened.location.replace(url.href);
  } catch (error) {
    opened.close();
    // An expired session is shown by the page itself.
    if (!(error instanceof ApiError && error.code === SESSION_EXPIRED)) status.textContent = t("session.openFullFailed");
  }
}
