/* sluice dashboard: one job's page (/jobs/ID). Its numbers refresh once a
   second; its failed tasks are listed a page at a time (?after=SEQ&limit=N
   in the page's address, passed on to /api/jobs/ID/failed). */
"use strict";

const REFRESH_MS = 1000;
const jobId = decodeURIComponent(location.pathname.replace(/^\/jobs\//, ""));
const params = new URLSearchParams(location.search);
const state = { renders: 0, job: null, failed: null, error: null }; // read by the browser test
window.sluiceState = state;

function field (name, text) {
  for (const el of document.querySelectorAll(`[data-field="${name}"]`)) el.textContent = text;
}

function failedUrl (after) {
  const q = new URLSearchParams();
  if (after !== null && after !== undefined) q.set("after", after);
  if (params.has("limit")) q.set("limit", params.get("limit"));
  return q.toString();
}

async function loadFailed () {
  const f = await sluice.json(`/api/jobs/${encodeURIComponent(jobId)}/failed?` + failedUrl(params.get("after")));
  document.querySelector("#failed tbody").innerHTML = f.failed.map(t =>
    `<tr data-seq="${t.seq}"><td data-k="seq">${t.seq}</td><td class="text">${sluice.esc(t.id)}</td>` +
    `<td class="text">${t.status}</td><td>${t.exit_code}</td><td>${t.attempts}</td>` +
    `<td class="text">${sluice.esc(t.worker)}</td><td class="stderr">${sluice.esc(t.stderr)}</td></tr>`).join("");
  const first = params.has("after") ? `<a id="failed-first" href="?${failedUrl(null)}">first failed</a> · ` : "";
  const next = f.more ? `<a id="failed-next" href="?${failedUrl(f.next_after)}">next failed after ${f.next_after} →</a>` : "no more failed tasks";
  document.getElementById("failed-nav").innerHTML = first + next;
  document.getElementById("failed-count").textContent =
    `${f.noted} noted` + (f.kept < f.noted ? `, ${f.kept} kept (the rest were not kept: memory limit)` : "");
  state.failed = f;
}

async function refresh () {
  try {
    const j = await sluice.json(`/api/jobs/${encodeURIComponent(jobId)}`);
    field("state", j.known === false ? "forgotten" : j.finished ? "finished" : "running");
    field("queue", j.queue || "default");
    for (const k of ["total", "done", "ok", "failed", "timeout", "cancelled", "running", "queued"])
      field(k, j[k] === undefined ? "–" : k === "total" && !j.total_known ? "?" : sluice.int(j[k]));
    field("age", sluice.duration(j.age_s));
    if (j.done !== undefined) document.getElementById("job-bar").innerHTML = sluice.bar(j);
    if (!state.failed || state.failed.noted !== j.failed_noted) await loadFailed();
    state.job = j;
    state.error = null;
    state.renders++;
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    state.error = String(e);
    document.getElementById("updated").textContent = / 404$/.test(e.message)
      ? `this broker does not know job ${jobId} (never seen, or finished and forgotten)`
      : "cannot reach the broker (" + e.message + "), retrying";
  }
  setTimeout(refresh, REFRESH_MS);
}

document.getElementById("job-id").textContent = jobId;
document.title = "sluice job " + jobId;
refresh();
