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

// Updates tbody to one row per item, keyed by id: a row is built once and
// then only its changed cells are touched, so that a page of 1,000 jobs and
// 500 workers costs the browser little a second. cells(item) gives the
// row's cells as [html-or-text, className, dataKey, isHtml].
function renderRows (tbody, items, idOf, cells) {
  const existing = new Map();
  for (const tr of tbody.rows) existing.set(tr.dataset.id, tr);
  let before = tbody.firstElementChild;
  for (const item of items) {
    const id = idOf(item);
    let tr = existing.get(id);
    const want = cells(item);
    if (!tr) {
      tr = document.createElement("tr");
      tr.dataset.id = id;
      for (const [, cls, key] of want) {
        const td = document.createElement("td");
        if (cls) td.className = cls;
        if (key) td.dataset.k = key;
        tr.appendChild(td);
      }
    }
    existing.delete(id);
    want.forEach(([content, cls, , html], i) => {
      const td = tr.cells[i];
      if (html) {
        if (td._html !== content) { td.innerHTML = content; td._html = content; }
      } else if (td.textContent !== content) td.textContent = content;
      if ((td.className || "") !== (cls || "")) td.className = cls || "";
    });
    if (tr !== before) tbody.insertBefore(tr, before);
    else before = before.nextElementSibling;
  }
  for (const tr of existing.values()) tr.remove();
}

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
  const seen = new Set();
  renderRows(document.querySelector("#jobs tbody"), s.jobs, j => j.id, j => {
    seen.add(j.id);
    const rate = jobRate(j, now);
    const left = j.total_known ? j.total - j.done : null;
    const eta = j.finished ? "done" : left !== null && rate > 0 ? sluice.duration(left / rate) : "–";
    const bad = j.failed + j.timeout + j.cancelled;
    return [
      [`<a href="/jobs/${encodeURIComponent(j.id)}">${sluice.esc(j.id)}</a>`, "text", null, true],
      [j.queue || "default", "text", "queue"],
      [j.finished ? "finished" : "running", "text"],
      [`<div class="bar">${sluice.bar(j)}</div>`, "wide", null, true],
      [j.total_known ? sluice.int(j.total) : "?", "", "total"],
      [sluice.int(j.done), "", "done"],
      [sluice.int(bad), "", "failed"],
      [sluice.int(j.running), "", "running"],
      [sluice.int(j.queued), "", "queued"],
      [j.finished ? "–" : rate.toFixed(1) + "/s", ""],
      [eta, ""],
      [sluice.duration(j.age_s), ""],
    ];
  });
  for (const id of [...previous.keys()]) if (!seen.has(id)) previous.delete(id);
  const running = s.jobs.filter(j => !j.finished).length;
  document.getElementById("jobs-count").textContent = `${running} running, ${s.jobs.length - running} recently finished`;
}

function renderQueues (s) {
  renderRows(document.querySelector("#queues tbody"), s.queues, q => q.name, q => [
    [q.name, "text"], [sluice.int(q.queued), "", "queued"], [String(q.workers), "", "workers"],
    [String(q.slots), "", "slots"]]);
}

function renderWorkers (s) {
  renderRows(document.querySelector("#workers tbody"), s.workers, w => w.name, w => [
    [w.name, "text"],
    [w.queues.length ? w.queues.join(", ") : "default", "text"],
    [String(w.slots), "", "slots"], [String(w.busy), "", "busy"], [sluice.int(w.done), "", "done"],
    [sluice.duration(w.last_heartbeat_s), w.last_heartbeat_s > 5 ? "stale" : ""],
    [w.draining ? "draining" : "serving", w.draining ? "text draining" : "text"]]);
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
  const started = Date.now();
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
  // Once a second from start to start, however long the fetch and render took.
  setTimeout(refresh, Math.max(100, REFRESH_MS - (Date.now() - started)));
}

refresh();
