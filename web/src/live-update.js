// The exercise page's live reload: in `decode-runner preview`, the author's panel announces each
// change of the course folder; the page then re-fetches its exercise and re-renders it, keeping
// the editor's code. Outside the preview nothing announces anything.
const COURSE_CHANGED = "decode:course-changed";

export function announceCourseChange() {
  window.dispatchEvent(new Event(COURSE_CHANGED));
}

/** ``listener()`` after each announced change. */
export function onCourseChange(listener) {
  window.addEventListener(COURSE_CHANGED, () => listener());
}
