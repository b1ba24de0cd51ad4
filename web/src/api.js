// HTTP API client: who the calls act for (the anonymous learner id kept in localStorage, or a
// course session held in memory) and JSON calls carrying it (X-Learner or X-Session).
import { storage } from "./storage.js";

const LEARNER_KEY = "learner";
const LEARNER_RE = /^[0-9a-f]{32}$/;
export const SESSION_EXPIRED = "session_expired";
// A call that hangs (a phone between two antennas) fails instead of spinning for minutes.
const TIMEOUT_MS = 15000;

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

/** The server could not be reached (offline, timed out, connection refused). */
export class NetworkError extends Error {}

let session = null;
let onExpired = () => {};
let onRequestDone = () => {};

/** ``listener(ok)`` after each call: ``ok`` false when it failed on the network. */
export function watchRequests(listener) {
  onRequestDone = listener;
}

async function send(path, options) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
  try {
    const response = await fetch(path, { ...options, signal: abort.signal });
    onRequestDone(true);
    return response;
  } catch (error) {
    onRequestDone(false);
    throw new NetworkError(error && error.message);
  } finally {
    clearTimeout(timer);
  }
}

async function request(method, path, { body, learner, session: sent, keepalive = false } = {}) {
  const headers = { Accept: "application/json" };
  if (sent) headers["X-Session"] = sent;
  else if (learner) headers["X-Learner"] = learner;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await send(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
    keepalive,
  });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new ApiError(response.status, data && data.error, data && data.message);
    if (sent && error.code === SESSION_EXPIRED) onExpired(error);
    throw error;
  }
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
  if (!session && LEARNER_RE.test(id || "")) {
    storage.set(LEARNER_KEY, id);
    learnerPromise = Promise.resolve(id);
  }
}

/**
 * From now on every call acts for this course session (never for the anonymous learner).
 * @param {string} token the session from /api/launch or /api/session/redeem
 * @param {(error: ApiError) => void} expired called when the server says the session is over
 */
export function useSession(token, expired) {
  session = token;
  onExpired = expired || (() => {});
}

/** The /ws query string naming who the socket acts for. */
export async function socketQuery() {
  if (session) return `session=${encodeURIComponent(session)}`;
  return `learner=${encodeURIComponent(await learnerId())}`;
}

async function call(method, path, body, options = {}) {
  if (session) return request(method, path, { body, session, ...options });
  const learner = await learnerId();
  return request(method, path, { body, learner, ...options });
}

export const api = {
  config: () => request("GET", "/api/config"),
  courses: () => call("GET", "/api/courses"),
  exercise: (id) => call("GET", `/api/exercises/${encodeURIComponent(id)}`),
  solution: (id) => call("POST", `/api/exercises/${encodeURIComponent(id)}/solution`),
  revealHint: (id) => call("POST", `/api/exercises/${encodeURIComponent(id)}/hints`),
  saveCode: (id, code, keepalive = false) =>
    call("PUT", `/api/exercises/${encodeURIComponent(id)}/code`, { code }, { keepalive }),
  launch: (token, parentOrigin) => request("POST", "/api/launch", { body: { token, parent_origin: parentOrigin } }),
  redeem: (code) => request("POST", "/api/session/redeem", { body: { code } }),
  handoff: () => call("POST", "/api/session/handoff"),
};
