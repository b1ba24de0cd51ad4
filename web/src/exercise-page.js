// Entry point of /exercise/{id} and /embed/{id}: loads the exercise and wires every view.
import { adoptLearner, api, ApiError, learnerId } from "./api.js";
import { h, byId, clear } from "./dom.js";
import { initLanguage, t, translatePage } from "./i18n/index.js";
import { languageBadge, setUpLanguageSwitch, statusBadge } from "./chrome.js";
import { Announcer } from "./announcer.js";
import { CodeEditor, loadLanguage } from "./editor.js";
import { ConsoleView } from "./console-view.js";
import { TestsView } from "./tests-view.js";
import { HintsView } from "./hints-view.js";
import { Drafts } from "./drafts.js";
import { EmbedBridge, isEmbedded } from "./embed.js";
import { ConnectionState, RunnerSocket } from "./socket.js";
import { RunController } from "./run-controller.js";
import { setUpReset } from "./reset.js";
import { fitHeadings } from "./rich-text.js";

const DEFAULT_CONFIG = { embed_origins: [], languages: ["fr", "en"], max_code_bytes: 64 * 1024 };
const embedded = isEmbedded();

function exerciseId() {
  const parts = window.location.pathname.split("/").filter(Boolean);
  return decodeURIComponent(parts[1] || "");
}

function pageHref(id) {
  return `/${embedded ? "embed" : "exercise"}/${encodeURIComponent(id)}${window.location.search}`;
}

async function main() {
  initLanguage();
  translatePage();
  setUpLanguageSwitch(byId("lang-switch"));
  if (embedded) document.documentElement.classList.add("is-embed");
  byId("page-retry").addEventListener("click", () => window.location.reload());
  const config = await api.config().catch(() => DEFAULT_CONFIG);
  const embed = new EmbedBridge(embedded ? config.embed_origins : []);
  embed.watchHeight();
  let exercise;
  try {
    exercise = await api.exercise(exerciseId());
  } catch (error) {
    showError(error instanceof ApiError && error.status === 404 ? t("error.notFound") : t("error.load"));
    return;
  }
  exercise.nextHref = exercise.next ? pageHref(exercise.next) : null;
  const language = await loadLanguage(exercise.language);
  setUp(exercise, config, embed, language);
  embed.post("ready", { exercise: exercise.id });
}

function showError(text) {
  byId("page-loading").hidden = true;
  byId("page-error-text").textContent = text;
  byId("page-error").hidden = false;
}

function setUp(exercise, config, embed, language) {
  renderHeader(exercise);
  renderBrief(exercise);
  const announcer = new Announcer();
  const drafts = new Drafts(exercise.id, (code, keepalive) => api.saveCode(exercise.id, code, keepalive));
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
    { output: byId("console"), form: byId("stdin-form"), input: byId("stdin-input"), endButton: byId("stdin-eof") },
    { announcer, onInput: (line) => controller.sendInput(line), onEof: () => controller.endInput() },
  );
  const testsView = new TestsView(
    { panel: byId("tests-panel"), list: byId("tests-list"), summary: byId("tests-summary") },
    { onLine: (line) => editor.markLine(line, { focus: true }) },
  );
  const hints = new HintsView(
    { list: byId("hints-list"), button: byId("hint-button"), count: byId("hints-count") },
    { reveal: () => api.revealHint(exercise.id), onError: () => announcer.say(t("error.load")) },
  );
  hints.show(exercise.hints, exercise.hints_total);
  reset = setUpReset({ editor, starter: exercise.starter ?? "" });
  const banner = byId("conn-banner");
  const socket = new RunnerSocket(learnerId, {
    onMessage: (message) => {
      if (message.type === "welcome") adoptLearner(message.learner);
      else controller.handle(message);
    },
    onState: (state, info) => {
      controller.setConnected(state === ConnectionState.OPEN);
      showConnection(banner, state, info);
    },
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
    maxCodeBytes: config.max_code_bytes || DEFAULT_CONFIG.max_code_bytes,
    els: {
      run: byId("run-button"),
      check: byId("check-button"),
      stop: byId("stop-button"),
      status: byId("run-status"),
      result: byId("result"),
    },
    onProgress: ({ solved, attempts }) => {
      exercise.status = solved ? "solved" : "started";
      exercise.attempts = attempts;
      renderProgress(exercise, solved);
    },
  });
  socket.connect();
  byId("page-loading").hidden = true;
  byId("exercise").hidden = false;
}

function renderHeader(exercise) {
  document.title = `${exercise.title} — ${t("app.title")}`;
  byId("ex-title").textContent = exercise.title;
  byId("ex-week").textContent = exercise.week ? t("exercise.week", { number: exercise.week }) : "";
  byId("ex-language").replaceChildren(languageBadge(exercise.language));
  renderProgress(exercise, false);
  const full = byId("open-full");
  full.href = `/exercise/${encodeURIComponent(exercise.id)}`;
  for (const [linkId, target] of [
    ["prev-link", exercise.previous],
    ["next-link", exercise.next],
  ]) {
    const link = byId(linkId);
    link.hidden = !target;
    if (target) link.href = pageHref(target);
  }
}

function renderProgress(exercise, justSolved) {
  const badge = statusBadge(exercise.status, justSolved ? "status--fresh" : "");
  byId("ex-status").replaceChildren(badge);
  byId("ex-attempts").textContent = exercise.attempts ? t("exercise.attempts", { attempts: exercise.attempts }) : "";
}

function renderBrief(exercise) {
  // Sanitised by the server (markdown-it without raw HTML, then nh3).
  const instructions = byId("instructions");
  instructions.innerHTML = exercise.instructions_html || "";
  fitHeadings(instructions, exercise.title);
  const examples = exercise.examples || [];
  const list = clear(byId("examples-list"));
  for (const example of examples) {
    list.append(
      h(
        "div",
        { class: "example" },
        h("p", { class: "example-name" }, example.name),
        h(
          "dl",
          { class: "example-io" },
          h("dt", {}, t("exercise.exampleInput")),
          h("dd", {}, example.stdin ? h("pre", {}, example.stdin) : h("span", { class: "muted" }, t("exercise.noInput"))),
          h("dt", {}, t("exercise.exampleOutput")),
          h("dd", {}, h("pre", {}, example.expected)),
        ),
      ),
    );
  }
  byId("examples").hidden = examples.length === 0;
  byId("examples-count").textContent = t("exercise.examplesCount", { count: examples.length });
}

function showConnection(banner, state, { restored }) {
  if (state === ConnectionState.LOST) {
    banner.textContent = t("conn.lost");
    banner.className = "banner banner--warn";
    banner.hidden = false;
  } else if (state === ConnectionState.OPEN && restored) {
    banner.textContent = t("conn.back");
    banner.className = "banner banner--ok";
    banner.hidden = false;
    window.setTimeout(() => {
      if (banner.textContent === t("conn.back")) banner.hidden = true;
    }, 4000);
  } else if (state === ConnectionState.OPEN) {
    banner.hidden = true;
  }
}

main();
