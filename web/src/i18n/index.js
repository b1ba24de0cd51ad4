// Picks the interface language (query ?lang=, the course's locale, remembered choice, browser)
// and translates keys.
import fr from "./fr.js";
import en from "./en.js";
import { storage } from "../storage.js";

export const CATALOGUES = { fr, en };
export const DEFAULT_LANG = "fr";
const STORAGE_KEY = "lang";

let current = DEFAULT_LANG;

function pick(candidates) {
  for (const raw of candidates) {
    const code = String(raw || "").toLowerCase().slice(0, 2);
    if (code in CATALOGUES) return code;
  }
  return DEFAULT_LANG;
}

/** Chooses the language once per page: ?lang= wins, then the remembered choice, then the browser's. */
export function initLanguage() {
  const query = new URLSearchParams(window.location.search).get("lang");
  const browser = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
  current = pick([query, storage.get(STORAGE_KEY), ...browser]);
  document.documentElement.lang = current;
  return current;
}

/**
 * The course platform's language for this learner: it wins over the remembered choice and the
 * browser's, not over an explicit ?lang=. Returns true when the language changed.
 */
export function applyLocale(locale) {
  if (new URLSearchParams(window.location.search).has("lang")) return false;
  const code = String(locale || "").toLowerCase().slice(0, 2);
  if (!(code in CATALOGUES) || code === current) return false;
  current = code;
  document.documentElement.lang = current;
  return true;
}

export function language() {
  return current;
}

/** Remembers the choice and reloads the page, so every view is rebuilt in the new language. */
export function switchLanguage(lang) {
  storage.set(STORAGE_KEY, lang);
  const url = new URL(window.location.href);
  url.searchParams.delete("lang");
  window.location.assign(url.toString());
}

/** The text of ``key`` in the current language, with ``{name}`` placeholders filled in. */
export function t(key, params = {}) {
  const text = CATALOGUES[current][key] ?? CATALOGUES[DEFAULT_LANG][key];
  if (text === undefined) {
    console.warn("missing string", key);
    return key;
  }
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** Fills every ``data-i18n`` element's text and every ``data-i18n-attr="attr:key;…"`` attribute. */
export function translatePage(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":").map((s) => s.trim());
      if (attr && key) el.setAttribute(attr, t(key));
    }
  }
}
