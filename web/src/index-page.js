// Entry point of /: the course's weeks, each exercise with its language and the learner's status
// (in a tab opened from a course platform, its session's).
import { api } from "./api.js";
import { h, byId, clear } from "./dom.js";
import { initLanguage, t, translatePage } from "./i18n/index.js";
import { languageBadge, setUpLanguageSwitch, statusBadge } from "./chrome.js";
import { forgetSession, resumeTabSession } from "./session.js";

let ended = false;

async function main() {
  initLanguage();
  translatePage();
  setUpLanguageSwitch(byId("lang-switch"));
  byId("page-retry").addEventListener("click", load);
  try {
    await resumeTabSession(expire);
  } catch (error) {
    showError(error.message, false);
    return;
  }
  await load();
}

function expire() {
  ended = true;
  forgetSession();
  showError(t("session.tabExpired"), false);
}

async function load() {
  byId("page-error").hidden = true;
  byId("page-loading").hidden = false;
  try {
    const course = await api.courses();
    render(course);
  } catch {
    if (!ended) showError(t("error.load"), true);
  } finally {
    byId("page-loading").hidden = true;
  }
}

function showError(text, canRetry) {
  byId("page-loading").hidden = true;
  byId("page-error-text").textContent = text;
  byId("page-retry").hidden = !canRetry;
  byId("page-error").hidden = false;
}

function render(course) {
  if (course.title) {
    // The course's own text (titles) is French whatever the interface's language.
    byId("course-title").textContent = course.title;
    byId("course-title").lang = "fr";
    document.title = `${course.title} — ${t("app.subtitle")}`;
  }
  const weeks = clear(byId("weeks"));
  for (const week of course.weeks || []) weeks.append(weekSection(week));
  renderResume(course);
}

/** "Reprendre : …", where the learner left off (the server chooses; null before any submission). */
function renderResume(course) {
  const resume = clear(byId("resume"));
  const all = (course.weeks || []).flatMap((week) => week.exercises || []);
  const exercise = course.resume ? all.find((e) => e.id === course.resume) : null;
  resume.hidden = !exercise;
  if (!exercise) return;
  resume.append(
    h(
      "a",
      { class: "resume-link", href: exerciseHref(exercise) },
      t("index.resume"),
      " ",
      h("span", { lang: "fr" }, exercise.title),
      h("span", { "aria-hidden": "true" }, " →"),
    ),
  );
}

function exerciseHref(exercise) {
  return `/exercise/${encodeURIComponent(exercise.id)}`;
}

function weekSection(week) {
  const exercises = week.exercises || [];
  const solved = exercises.filter((e) => e.status === "solved").length;
  const headingId = `week-${week.number}`;
  const label = t("index.week", { number: week.number });
  return h(
    "section",
    { class: "week", "aria-labelledby": headingId },
    h(
      "div",
      { class: "week-head" },
      h("h2", { id: headingId }, h("span", { class: "week-number" }, label), week.title ? [" — ", h("span", { lang: "fr" }, week.title)] : ""),
      exercises.length ? weekProgress(solved, exercises.length) : null,
    ),
    week.intro ? h("p", { class: "week-intro", lang: "fr" }, week.intro) : null,
    exercises.length
      ? h("ol", { class: "exercise-list" }, exercises.map(exerciseItem))
      : h("p", { class: "muted" }, t("index.empty")),
  );
}

function weekProgress(solved, total) {
  return h(
    "p",
    { class: "week-progress" },
    h("progress", { max: String(total), value: String(solved), "aria-hidden": "true" }),
    h("span", {}, t("index.weekProgress", { solved, total })),
  );
}

function exerciseItem(exercise) {
  return h(
    "li",
    { class: `exercise-item exercise-item--${exercise.status || "todo"}` },
    h("a", { class: "exercise-link", href: exerciseHref(exercise), lang: "fr" }, exercise.title),
    h("span", { class: "exercise-tags" }, languageBadge(exercise.language), statusBadge(exercise.status)),
  );
}

main();
