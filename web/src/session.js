// Course sessions: a platform's launch token (framed page) or a hand-off code (full page) becomes a
// session, held in memory, and in this tab's sessionStorage for the full page. A page that was
// meant to act for a course account never falls back to an anonymous learner.
import { api, ApiError, useSession } from "./api.js";
import { parentOrigin } from "./embed.js";
import { t } from "./i18n/index.js";
import { tabStorage } from "./storage.js";

const TAB_KEY = "course-session";
const HTTP_UNAVAILABLE = 503;
// This page's copy of the tab's record, should sessionStorage be unavailable too.
let tabRecord = null;

export const SessionKind = Object.freeze({ FRAME: "frame", TAB: "tab" });

/**
 * A session that could not be opened or resumed. ``retry`` (when trying again may work) resolves
 * like ``openSession``; ``returnUrl`` is the course page, when known.
 */
export class SessionError extends Error {
  constructor(code, message, retry = null, returnUrl = null) {
    super(message);
    this.code = code;
    this.retry = retry;
    this.returnUrl = returnUrl;
  }
}

/**
 * @typedef {{kind: string, returnUrl: string|null, locale: string|null}} CourseSession
 */

/**
 * Reads (and strips) the page's credentials from its URL, then opens the session they name.
 * @returns {Promise<CourseSession|null>} null for an anonymous learner
 */
export function openSession(embedded, onExpired) {
  const params = new URLSearchParams(window.location.search);
  return embedded ? fromLaunch(params, onExpired) : fromTab(params, onExpired);
}

/** The full page's session ended: the tab stays a course tab, with no session. */
export function forgetSession() {
  const saved = readTab();
  if (saved) writeTab({ ...saved, session: null });
}

/** The index page of a course tab acts for its session too. */
export function resumeTabSession(onExpired) {
  return fromTab(new URLSearchParams(), onExpired);
}

function fromLaunch(params, onExpired) {
  if (params.get("handoff") !== null) return fromLtiLaunch(params, onExpired);
  const token = params.get("token");
  if (token === null) {
    // The frame itself was reloaded: its token was spent, only the host page can launch again.
    if (params.get("launched") === "1") return Promise.reject(new SessionError("session_lost", t("session.lost")));
    return Promise.resolve(null);
  }
  replaceQuery((query) => {
    query.delete("token");
    query.set("launched", "1");
  });
  const framed = window.parent && window.parent !== window;
  const launch = () =>
    attempt(() => api.launch(token, framed ? parentOrigin() : null), launch).then((opened) => {
      useSession(opened.session, onExpired);
      return { kind: SessionKind.FRAME, returnUrl: opened.return_url || null, locale: opened.locale || null };
    });
  return launch();
}

// An LMS's LTI launch (runner/web/lti.py) verified the learner, then sent the frame here with a
// one-time code: redeemed into a session held in memory, like a platform's launch token.
function fromLtiLaunch(params, onExpired) {
  const code = params.get("handoff");
  const returnUrl = params.get("return");
  replaceQuery((query) => {
    query.delete("handoff");
    query.delete("return");
    query.set("launched", "1");
  });
  const redeem = () =>
    attempt(() => api.redeem(code), redeem).then((opened) => {
      useSession(opened.session, onExpired);
      return { kind: SessionKind.FRAME, returnUrl: returnUrl || null, locale: null };
    });
  return redeem();
}

function fromTab(params, onExpired) {
  const code = params.get("handoff");
  if (code === null) return resume(onExpired);
  const returnUrl = params.get("return");
  replaceQuery((query) => {
    query.delete("handoff");
    query.delete("return");
  });
  // Marked first: a reload after a failed redeem must not open an anonymous page either.
  writeTab({ session: null, returnUrl });
  const redeem = () =>
    attempt(() => api.redeem(code), redeem).then(
      (opened) => {
        writeTab({ session: opened.session, returnUrl });
        return resume(onExpired);
      },
      (error) => {
        error.returnUrl = returnUrl;
        throw error;
      },
    );
  return redeem();
}

async function resume(onExpired) {
  const saved = readTab();
  if (!saved) return null;
  if (!saved.session) throw new SessionError("session_expired", t("session.tabExpired"), null, saved.returnUrl);
  useSession(saved.session, onExpired);
  return { kind: SessionKind.TAB, returnUrl: saved.returnUrl || null, locale: null };
}

function readTab() {
  return tabStorage.getJSON(TAB_KEY) || tabRecord;
}

function writeTab(record) {
  tabRecord = record;
  tabStorage.setJSON(TAB_KEY, record);
}

async function attempt(call, again) {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ApiError && error.status !== HTTP_UNAVAILABLE) {
      throw new SessionError(error.code || "launch_failed", error.message);
    }
    // The network, or the platform's keys momentarily out of reach: the same credential may work.
    const message = error instanceof ApiError ? error.message : t("session.network");
    throw new SessionError(error.code || "network", message, again);
  }
}

function replaceQuery(edit) {
  const url = new URL(window.location.href);
  edit(url.searchParams);
  window.history.replaceState(window.history.state, "", `${url.pathname}${url.search}${url.hash}`);
}
