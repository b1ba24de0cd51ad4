// The exercise page's loading line and its one alert: what went wrong, and what the learner can do
// (try again, go back to the course).
import { byId } from "./dom.js";

let retryAction = null;

export function setUpPageAlert() {
  byId("page-retry").addEventListener("click", () => retryAction && retryAction());
}

export function showLoading() {
  byId("page-error").hidden = true;
  byId("page-loading").hidden = false;
}

/**
 * @param {string} text
 * @param {{retry?: (() => unknown)|null, returnUrl?: string|null}} actions offered with it
 */
export function showError(text, { retry = null, returnUrl = null } = {}) {
  byId("page-loading").hidden = true;
  byId("page-error-text").textContent = text;
  retryAction = retry;
  byId("page-retry").hidden = !retry;
  const back = byId("page-return");
  back.hidden = !returnUrl;
  if (returnUrl) back.href = returnUrl;
  const box = byId("page-error");
  box.hidden = false;
  if (!byId("exercise").hidden) box.scrollIntoView({ block: "nearest" });
}
