// Web storage that never throws (storage can be blocked in iframes or private windows).
const PREFIX = "decode-runner:";

function safe(fn, fallback) {
  try {
    return fn();
  } catch {
    return fallback;
  }
}

/** get/set/remove and their JSON forms over one storage area, every key prefixed. */
function prefixed(area) {
  return {
    get(key) {
      return safe(() => area().getItem(PREFIX + key), null);
    },
    set(key, value) {
      return safe(() => {
        area().setItem(PREFIX + key, value);
        return true;
      }, false);
    },
    remove(key) {
      safe(() => area().removeItem(PREFIX + key));
    },
    getJSON(key) {
      const raw = this.get(key);
      return raw === null ? null : safe(() => JSON.parse(raw), null);
    },
    setJSON(key, value) {
      return this.set(key, JSON.stringify(value));
    },
  };
}

/** Kept by the browser for this site (the anonymous learner's id, drafts, language). */
export const storage = prefixed(() => window.localStorage);

/** Kept for this tab only, across its reloads (a course session opened in the full page). */
export const tabStorage = prefixed(() => window.sessionStorage);

/** Kept in this page's memory only: gone with the page. */
export function memoryStorage() {
  const items = new Map();
  return prefixed(() => ({
    getItem: (key) => (items.has(key) ? items.get(key) : null),
    setItem: (key, value) => items.set(key, String(value)),
    removeItem: (key) => items.delete(key),
  }));
}
