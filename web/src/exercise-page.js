// Entry point of /exercise/{id} and /embed/{id}: opens the learner's session, loads the exercise
// and wires every view.
import { adoptLearner, api, ApiError, SESSION_EXPIRED, socketQuery, watchRequests } from "./api.js";
import { byId } from "./dom.js";
import { applyLocale, initLanguage, t, translatePage } from "./i18n/index.js";
import { renderLanguageSwitch, setUpLanguageSwitch } from "./chrome.js";
import { Announcer } from "./announcer.js";
import { CodeEditor, loadLanguage } from "./editor.js";
import { ConsoleView } from "./console-view.js";
import { TestsView } from "./tests-view.js";
import { HintsView } from "./hints-view.js";
import { SolutionView } from "./solution-view.js";
import { Drafts } from "./drafts.js";
import { EmbedBridge, isEmbedded } from "./embed.js";
import { RunnerSocket } from "./socket.js";
import { RunController } from "./run-controller.js";
import { setUpReset } from "./reset.js";
import { forgetSession, openSession, SessionError, SessionKind } from "./session.js";
import { Navigation } from "./navigation.js";
import { memoryStorage, storage, tabStorage } from "./storage.js";
import { Connection } from "./connection.js";
import { showSaveState } from "./save-indicator.js";
import { countAttempt, renderExamples, renderHeader, renderProgress } from "./exercise-header.js";
import { fitHeadings } from "./rich-text.js";
import { setUpPageAlert, showError, showLoading } from "./page-alert.js";
import { onCourseChange } from "./live-update.js";

const DEFAULT_CONFIG = { embed_origins: [], languages: ["fr", "en"], max_code_bytes: 64 * 1024 };
const embedded = isEmbedded();
// What a change of the spec on disk updates (decode-runner preview); the learner's code stays.
const LIVE_FIELDS = ["title", "week", "language", "instructions_html", "examples", "hints", "hints_total", "starter", "next", "previous"];

function exerciseId() {
  const parts = window.location.pathname.split("/").filter(Boolean);
  return decodeURIComponent(parts[1] || "");
}

/**
 * What the page works with: ``course`` is the course session (null for an anonymous learner);
 * ``ended`` once that session has expired; ``view`` once the exercise is shown (its ``update``
 * re-renders it); ``busy`` while it loads, ``stale`` when the course changed meanwhile.
 */
class PageContext {
  constructor(config, embed) {
    Object.assign(this, { config, embed, course: null, socket: null, ended: false, view: null, busy: false, stale: false });
  }

  /** The course page to go back to, only if it is on one of the platforms' origins. */
  courseLink(url) {
    try {
      const parsed = new URL(url);
      const origins = this.config.embed_origins || [];
      return /^https?:$/.test(parsed.protocol) && origins.includes(parsed.origin) ? parsed.href : null;
    } catch {
      return null;
    }
  }
}

async function main() {
  initLanguage();
  translatePage();
  setUpLanguageSwitch(byId("lang-switch"));
  if (embedded) document.documentElement.classList.add("is-embed");
  setUpPageAlert();
  let page = null;
  const opening = settle(openSession(embedded, () => page && endSession(page)));
  const config = await api.config().catch(() => DEFAULT_CONFIG);
  page = new PageContext(config, new EmbedBridge(embedded ? config.embed_origins : []));
  page.embed.watchHeight();
  onCourseChange(() => refresh(page));
  await begin(page, await opening);
}

function settle(promise) {
  return promise.then(
    (value) => ({ value }),
    (error) => ({ error }),
  );
}

async function begin(page, { value, error }) {
  if (error) {
    refuse(page, error);
    return;
  }
  page.course = value;
  if (value && applyLocale(value.locale)) {
    translatePage();
    renderLanguageSwitch(byId("lang-switch"));
  }
  await refresh(page);
}

/** Loads the exercise, or shows it as it now is: the course changed on disk (the preview). */
async function refresh(page) {
  if (page.ended) return;
  if (page.busy) {
    page.stale = true;
    return;
  }
  page.busy = true;
  try {
    await (page.view ? reload(page) : load(page));
  } finally {
    page.busy = false;
  }
  if (page.stale) {
    page.stale = false;
    await refresh(page);
  }
}

async function reload(page) {
  let fresh;
  try {
    fresh = await api.exercise(exerciseId());
  } catch {
    return; // broken on disk for now: the page keeps its last good version, the panel says why
  }
  page.view.update(fresh);
}

/** No session: say why, tell the host page, and never go on as an anonymous learner. */
function refuse(page, error) {
  if (!(error instanceof SessionError)) {
    console.error(error);
    error = new SessionError("launch_failed", t("error.load"));
  }
  const again = error.retry;
  const retry = again && (() => {
    showLoading();
    return settle(again()).then((opened) => begin(page, opened));
  });
  showError(error.message, { retry, returnUrl: page.courseLink(error.returnUrl) });
  page.embed.post("error", { code: error.code, exercise: exerciseId() });
}

/** The session expired while the page was open: stop, keep the code in sight, say what to do. */
function endSession(page) {
  if (page.ended) return;
  page.ended = true;
  if (page.socket) page.socket.end();
  byId("open-full").hidden = true;
  const inTab = page.course && page.course.kind === SessionKind.TAB;
  if (inTab) forgetSession();
  const returnUrl = inTab ? page.courseLink(page.course.returnUrl) : null;
  showError(inTab ? t("session.tabExpired") : t("session.expired"), { returnUrl });
  page.embed.post("error", { code: SESSION_EXPIRED, exercise: exerciseId() });
}

async function load(page) {
  showLoading();
  let exercise;
  try {
    exercise = await api.exercise(exerciseId());
  } catch (error) {
    if (page.ended) return;
    const notFound = error instanceof ApiError && error.status === 404;
    showError(notFound ? t("error.notFound") : t("error.load"), { retry: () => refresh(page) });
    return;
  }
  const language = await loadLanguage(exercise.language);
  setUp(exercise, page, language);
  page.embed.post("ready", { exercise: exercise.id });
}

/** Drafts stay with their learner: an account's never go to this browser's shared localStorage. */
function draftStore(course) {
  if (!course) return storage;
  return course.kind === SessionKind.TAB ? tabStorage : memoryStorage();
}

function setUp(exercise, page, language) {
  const { config, embed, course } = page;
  const navigation = new Navigation({ exercise, embedded, hostNavigates: course?.kind === SessionKind.FRAME, embed });
  renderHeader(exercise, page, navigation);
  renderInstructions(exercise);
  const tryExample = (example) => controller && controller.start("run", { stdin: example.stdin });
  renderExamples(exercise, tryExample);
  const announcer = new Announcer();
  const saveIndicator = byId("save-indicator");
  const drafts = new Drafts(
    exercise.id,
    (code, keepalive) => api.saveCode(exercise.id, code, keepalive),
    draftStore(course),
    (state) => showSaveState(saveIndicator, state),
  );
  const { code, restored } = drafts.choose(exercise.code ?? exercise.starter ?? "");
  let controller = null;
  let reset = null;
  const editor = new CodeEditor(byId("editor"), {
    code,
    language,
    label: t("editor.label"),
    onChange: (text) => {
      drafts.changed(text);
      if (reset) reset.edited();
    },
    onRun: () => controller && controller.start("run"),
    onCheck: () => controller && controller.start("check"),
  });
  if (restored) byId("save-state").textContent = t("editor.restored");
  const consoleView = new ConsoleView(
    { output: byId("console"), form: byId("stdin-form"), input: byId("stdin-input"), endButton: byId("stdin-eof"), waiting: byId("stdin-waiting") },
    {
      announcer,
      onInput: (line) => controller.sendInput(line),
      onEof: () => controller.endInput(),
      mayTakeFocus: () => controller.mayTakeFocus(),
    },
  );
  const testsView = new TestsView(
    { panel: byId("tests-panel"), list: byId("tests-list"), summary: byId("tests-summary") },
    { onLine: (line) => editor.markLine(line, { focus: true }) },
  );
  const hints = new HintsView(
    { list: byId("hints-list"), button: byId("hint-button"), count: byId("hints-count"), status: byId("hints-status") },
    { reveal: () => api.revealHint(exercise.id), onError: () => announcer.say(t("error.load")) },
  );
  hints.show(exercise.hints, exercise.hints_total);
  const solution = new SolutionView(byId("solution-panel"), {
    fetch: () => api.solution(exercise.id),
    detail: () => api.exercise(exercise.id),
  });
  solution.show(exercise);
  reset = setUpReset({ editor, starter: exercise.starter ?? "" });
  const connection = new Connection(
    byId("conn-banner"),
    ({ usable, healthy }) => {
      controller.setConnected(usable);
      hints.setConnected(healthy);
      if (healthy) drafts.retry();
    },
    () => api.config(),
  );
  watchRequests((ok) => connection.requestDone(ok));
  const socket = new RunnerSocket(socketQuery, {
    onMessage: (message) => {
      if (message.type === "welcome") {
        if (!message.account) adoptLearner(message.learner);
      } else if (message.type === "error" && message.code === SESSION_EXPIRED) {
        endSession(page);
      } else {
        controller.handle(message);
      }
    },
    onState: (state) => connection.socketChanged(state),
  });
  controller = new RunController({
    exercise,
    socket,
    editor,
    consoleView,
    testsView,
    announcer,
    embed,
    drafts,
    nextAction: () => navigation.nextAction(),
    maxCodeBytes: config.max_code_bytes || DEFAULT_CONFIG.max_code_bytes,
    els: {
      run: byId("run-button"),
      check: byId("check-button"),
      stop: byId("stop-button"),
      status: byId("run-status"),
      result: byId("result"),
      work: byId("exercise-work"),
      examples: byId("examples-list"),
    },
    onProgress: (progress) => {
      exercise.status = progress.solved ? "solved" : "started";
      for (const key of ["attempts", "checks", "runs"]) {
        if (typeof progress[key] === "number") exercise[key] = progress[key];
      }
      renderProgress(exercise, progress.solved);
      solution.checked(progress.solved);
    },
    onAttempt: (mode) => {
      countAttempt(exercise, mode);
      if (exercise.status === "todo") exercise.status = "started";
      renderProgress(exercise, false);
    },
  });
  page.socket = socket;
  page.view = {
    update(fresh) {
      for (const key of LIVE_FIELDS) exercise[key] = fresh[key];
      renderHeader(exercise, page, navigation);
      renderInstructions(exercise);
      renderExamples(exercise, tryExample);
      hints.show(exercise.hints, exercise.hints_total);
    },
  };
  connection.watch(socket);
  byId("page-loading").hidden = true;
  byId("exercise").hidden = false;
}

function renderInstructions(exercise) {
  // Sanitised by the server (markdown-it without raw HTML, then nh3).
  const instructions = byId("instructions");
  instructions.innerHTML = exercise.instructions_html || "";
  fitHeadings(instructions, exercise.title);
}

main();
