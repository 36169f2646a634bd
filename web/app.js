/* sluice dashboard: the overview page. Polls /api/status and /api/history
   once a second and redraws; nothing on the page changes the broker. */
"use strict";

const REFRESH_MS = 1000;
const HISTORY_KEEP_S = 3600;
const history = { t: [], completed_per_s: [], failed_per_s: [], queued: [], running: [], busy: [], slots: [] };
const previous = new Map(); // job id -> { done, at, rate }
// Read by the browser test and bench/dashboard.py: firstRenderMs is the time
// from navigation start to the first complete render (performance.now()).
const state = { renders: 0, status: null, error: null, firstRenderMs: null };
window.sluiceState = state;

function field (name, text) {
  for (const el of document.querySelectorAll(`[data-field="${name}"]`)) el.textContent = text;
}

function renderBroker (s) {
  document.getElementById("broker-id").textContent = "broker " + s.broker_id;
  field("uptime", sluice.duration(s.uptime_s));
  field("rate", s.rate.toFixed(1));
  field("memory_held", sluice.bytes(s.memory.held));
  field("memory_limit", sluice.bytes(s.memory.limit));
  document.getElementById("memory-bar").style.width =
    Math.min(100, 100 * s.memory.held / Math.max(1, s.memory.limit)).toFixed(1) + "%";
  field("journal_bytes", s.journal_bytes ? sluice.bytes(s.journal_bytes) : "none (in memory)");
  field("intake", s.memory.intake_paused ? "paused (memory limit)" : "accepting");
  field("sink", s.sink || "none");
  field("tasks_accepted", sluice.int(s.counters.tasks_accepted));
  field("results", sluice.int(s.counters.results));
  field("retries", sluice.int(s.counters.retries));
  field("runs_lost", sluice.int(s.counters.runs_lost));
}

function jobRate (j, now) {
  const p = previous.get(j.id);
  let rate = p ? p.rate : 0;
  if (p && now > p.at) {
    const instant = (j.done - p.done) / ((now - p.at) / 1000);
    rate = p.at0 ? 0.7 * rate + 0.3 * instant : instant;
  }
  previous.set(j.id, { done: j.done, at: now, rate, at0: !!p });
  return j.finished ? 0 : Math.max(0, rate);
}

function renderJobs (s, now) {
  const rows = [];
  const seen = new Set();
  for (const j of s.jobs) {
    seen.add(j.id);
    const rate = jobRate(j, now);
    const left = j.total_known ? j.total - j.done : null;
    const eta = j.finished ? "done" : left !== null && rate > 0 ? sluice.duration(left / rate) : "–";
    const bad = j.failed + j.timeout + j.cancelled;
    rows.push(`<tr data-id="${sluice.esc(j.id)}">` +
      `<td class="text"><a href="/jobs/${encodeURIComponent(j.id)}">${sluice.esc(j.id)}</a></td>` +
      `<td class="text" data-k="queue">${sluice.esc(j.queue || "default")}</td>` +
      `<td class="text">${j.finished ? "finished" : "running"}</td>` +
      `<td class="wide"><div class="bar">${sluice.bar(j)}</div></td>` +
      `<td data-k="total">${j.total_known ? sluice.int(j.total) : "?"}</td>` +
      `<td data-k="done">${sluice.int(j.done)}</td>` +
      `<td data-k="failed">${sluice.int(bad)}</td>` +
      `<td data-k="running">${sluice.int(j.running)}</td>` +
      `<td data-k="queued">${sluice.int(j.queued)}</td>` +
      `<td>${j.finished ? "–" : rate.toFixed(1) + "/s"}</td>` +
      `<td>${eta}</td><td>${sluice.duration(j.age_s)}</td></tr>`);
  }
  for (const id of [...previous.keys()]) if (!seen.has(id)) previous.delete(id);
  document.querySelector("#jobs tbody").innerHTML = rows.join("");
  const running = s.jobs.filter(j => !j.finished).length;
  document.getElementById("jobs-count").textContent = `${running} running, ${s.jobs.length - running} recently finished`;
}

function renderQueues (s) {
  document.querySelector("#queues tbody").innerHTML = s.queues.map(q =>
    `<tr data-id="${sluice.esc(q.name)}"><td class="text">${sluice.esc(q.name)}</td>` +
    `<td data-k="queued">${sluice.int(q.queued)}</td><td data-k="workers">${q.workers}</td>` +
    `<td data-k="slots">${q.slots}</td></tr>`).join("");
}

function renderWorkers (s) {
  document.querySelector("#workers tbody").innerHTML = s.workers.map(w =>
    `<tr data-id="${sluice.esc(w.name)}"><td class="text">${sluice.esc(w.name)}</td>` +
    `<td class="text">${sluice.esc(w.queues.length ? w.queues.join(", ") : "default")}</td>` +
    `<td data-k="slots">${w.slots}</td><td data-k="busy">${w.busy}</td>` +
    `<td data-k="done">${sluice.int(w.done)}</td>` +
    `<td class="${w.last_heartbeat_s > 5 ? "stale" : ""}">${sluice.duration(w.last_heartbeat_s)}</td>` +
    `<td class="text ${w.draining ? "draining" : ""}">${w.draining ? "draining" : "serving"}</td></tr>`).join("");
  document.getElementById("workers-count").textContent = `${s.workers.length} connected`;
}

function mergeHistory (h) {
  const last = history.t.length ? history.t[history.t.length - 1] : -Infinity;
  for (let i = 0; i < h.t.length; i++) {
    if (h.t[i] <= last) continue;
    for (const k of Object.keys(history)) history[k].push(h[k][i]);
  }
  const cut = history.t.findIndex(t => t >= history.t[history.t.length - 1] - HISTORY_KEEP_S);
  if (cut > 0) for (const k of Object.keys(history)) history[k].splice(0, cut);
}

function caption (id) {
  const fig = document.getElementById(id).parentElement.querySelector("figcaption");
  let span = fig.querySelector("span");
  if (!span) { span = document.createElement("span"); fig.appendChild(span); }
  return span;
}

function renderCharts () {
  const t = history.t;
  sluice.chart(document.getElementById("chart-completed"), t, [history.completed_per_s], caption("chart-completed"));
  sluice.chart(document.getElementById("chart-queued"), t, [history.queued], caption("chart-queued"));
  sluice.chart(document.getElementById("chart-busy"), t, [history.busy, history.slots], caption("chart-busy"));
  sluice.chart(document.getElementById("chart-failed"), t, [history.failed_per_s], caption("chart-failed"));
}

async function refresh () {
  try {
    const since = history.t.length ? Math.floor(history.t[history.t.length - 1]) : 0;
    const [s, h] = await Promise.all([sluice.json("/api/status"), sluice.json("/api/history?since=" + since)]);
    const now = Date.now();
    renderBroker(s);
    renderJobs(s, now);
    renderQueues(s);
    renderWorkers(s);
    mergeHistory(h);
    renderCharts();
    state.status = s;
    state.error = null;
    state.renders++;
    if (state.firstRenderMs === null) state.firstRenderMs = performance.now();
    document.getElementById("updated").textContent = "updated " + new Date(now).toLocaleTimeString();
  } catch (e) {
    state.error = String(e);
    document.getElementById("updated").textContent = "cannot reach the broker (" + e.message + "), retrying";
  }
  setTimeout(refresh, REFRESH_MS);
}

refresh();
