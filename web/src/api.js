// HTTP API client: the learner id (kept in localStorage) and JSON calls with the X-Learner header.
import { storage } from "./storage.js";

const LEARNER_KEY = "learner";
const LEARNER_RE = /^[0-9a-f]{32}$/;

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

async function request(method, path, { body, learner, keepalive = false } = {}) {
  const headers = { Accept: "application/json" };
  if (learner) headers["X-Learner"] = learner;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
    keepalive,
  });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data && data.error, data && data.message);
  return data;
}

let learnerPromise = null;

/** The learner id: the stored one, or a fresh one from POST /api/session (then stored). */
export function learnerId() {
  if (!learnerPromise) {
    const stored = storage.get(LEARNER_KEY);
    learnerPromise = LEARNER_RE.test(stored || "")
      ? Promise.resolve(stored)
      : request("POST", "/api/session").then(({ learner }) => {
          storage.set(LEARNER_KEY, learner);
          return learner;
        });
    learnerPromise.catch(() => {
      learnerPromise = null;
    });
  }
  return learnerPromise;
}

/** Adopts the id the server announced (welcome with issued=true). */
export function adoptLearner(id) {
  if (LEARNER_RE.test(id || "")) {
    storage.set(LEARNER_KEY, id);
    learnerPromise = Promise.resolve(id);
  }
}

async function call(method, path, body, options = {}) {
  const learner = await learnerId();
  return request(method, path, { body, learner, ...options });
}

export const api = {
  config: () => request("GET", "/api/config"),
  courses: () => call("GET", "/api/courses"),
  exercise: (id) => call("GET", `/api/exercises/${encodeURIComponent(id)}`),
  revealHint: (id) => call("POST", `/api/exercises/${encodeURIComponent(id)}/hints`),
  saveCode: (id, code, keepalive = false) =>
    call("PUT", `/api/exercises/${encodeURIComponent(id)}/code`, { code }, { keepalive }),
};
