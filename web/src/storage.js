// localStorage that never throws (storage can be blocked in iframes or private windows).
const PREFIX = "decode-runner:";

function safe(fn, fallback) {
  try {
    return fn();
  } catch {
    return fallback;
  }
}

export const storage = {
  get(key) {
    return safe(() => window.localStorage.getItem(PREFIX + key), null);
  },
  set(key, value) {
    return safe(() => {
      window.localStorage.setItem(PREFIX + key, value);
      return true;
    }, false);
  },
  remove(key) {
    safe(() => window.localStorage.removeItem(PREFIX + key));
  },
  getJSON(key) {
    const raw = this.get(key);
    return raw === null ? null : safe(() => JSON.parse(raw), null);
  },
  setJSON(key, value) {
    return this.set(key, JSON.stringify(value));
  },
};
