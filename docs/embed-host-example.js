// Sample host page: embeds one decode-runner exercise, follows its height, logs its events.
// Open it as embed-host-example.html?runner=https://runner.example.org&exercise=bonjour-monde
// (the page's origin must be listed in the runner's DECODE_EMBED_ORIGINS).
const params = new URLSearchParams(window.location.search);
const runner = params.get("runner") || "http://127.0.0.1:8000";
const exercise = params.get("exercise") || "bonjour-monde";
const runnerOrigin = new URL(runner).origin;

const frame = document.getElementById("exercise-frame");
const log = document.getElementById("events");
window.decodeRunnerEvents = []; // read by the project's browser test

frame.src = `${runnerOrigin}/embed/${encodeURIComponent(exercise)}`;

window.addEventListener("message", (event) => {
  // Trust only the runner's origin, and only the frame we created.
  if (event.origin !== runnerOrigin || event.source !== frame.contentWindow) return;
  const data = event.data;
  if (!data || data.source !== "decode-runner" || typeof data.type !== "string") return;

  if (data.type === "resize" && Number.isFinite(data.height)) {
    frame.style.height = `${Math.max(200, data.height)}px`;
  }
  window.decodeRunnerEvents.push(data);
  const { source, type, ...details } = data;
  const item = document.createElement("li");
  item.dataset.type = type;
  item.textContent = `${type} ${JSON.stringify(details)}`;
  log.append(item);
});
