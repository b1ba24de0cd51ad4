// The server-rendered LTI pages (runner/web/lti_pages.py). Their settings come in a JSON block:
// - "store": keep the login's state in the platform's storage (LTI postMessage Storage), then go
//   on to the platform's authorisation endpoint;
// - "check": read it back after the launch; the exercise opens only in the browser that started
//   the login (no third-party cookie needed);
// - "post": send the deep-linking answer back to the platform;
// - "registered": tell the platform's registration window that it may close.
const REPLY_TIMEOUT_MS = 3000;
const config = JSON.parse(document.getElementById("lti-config")?.textContent || "{}");
const status = document.getElementById("lti-status");

function say(text) {
  if (status) status.textContent = text;
}

/** The frame that answers LTI postMessage Storage requests (its name, or "_parent"). */
function storageFrame(name) {
  if (name === "_parent") return window.parent;
  try {
    return window.parent.frames[name] || null;
  } catch {
    return null;
  }
}

/** Sends one LTI postMessage request; resolves with the platform's response, or rejects. */
export function ask(frame, origin, subject, fields, timeoutMs = REPLY_TIMEOUT_MS) {
  return new Promise((resolve, reject) => {
    const messageId = `${subject}-${crypto.randomUUID ? crypto.randomUUID() : Math.random()}`;
    const timer = setTimeout(() => {
      window.removeEventListener("message", listen);
      reject(new Error("no answer"));
    }, timeoutMs);
    function listen(event) {
      const data = event.data;
      if (event.origin !== origin || !data || data.message_id !== messageId) return;
      if (data.subject !== `${subject}.response`) return;
      clearTimeout(timer);
      window.removeEventListener("message", listen);
      if (data.error) reject(new Error(data.error.code || "error"));
      else resolve(data);
    }
    window.addEventListener("message", listen);
    frame.postMessage({ subject, message_id: messageId, ...fields }, origin);
  });
}

async function store() {
  const frame = storageFrame(config.target);
  if (frame) {
    try {
      await ask(frame, config.origin, "lti.put_data", { key: config.key, value: config.value });
    } catch {
      // The launch page then finds nothing and offers a new window.
    }
  }
  window.location.replace(config.next);
}

async function check() {
  const frame = storageFrame(config.target);
  let value = null;
  if (frame) {
    try {
      value = (await ask(frame, config.origin, "lti.get_data", { key: config.key })).value;
    } catch {
      value = null;
    }
  }
  if (value === config.value) {
    window.location.replace(config.next);
    return;
  }
  say("Ton navigateur empêche l'exercice de s'ouvrir dans la page du cours.");
  const link = document.createElement("a");
  link.className = "lti-button";
  link.href = config.again;
  link.target = "_blank";
  link.rel = "noopener";
  link.textContent = "Ouvrir l'exercice dans une nouvelle fenêtre";
  document.querySelector(".lti-main")?.append(link);
}

function post() {
  const form = document.querySelector("form[data-autosubmit]");
  if (form) form.submit();
}

function registered() {
  const target = window.opener || (window.parent !== window ? window.parent : null);
  if (target) target.postMessage({ subject: "org.imsglobal.lti.close" }, "*");
}

const modes = { store, check, post, registered };
if (modes[config.mode]) modes[config.mode]();
