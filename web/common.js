/* sluice dashboard: helpers shared by the pages (formatting, fetching, SVG charts). */
"use strict";

const sluice = {
  esc (s) {
    return String(s).replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  },
  int (n) { return String(Math.round(n)); },
  bytes (n) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + " " + units[i];
  },
  duration (s) {
    if (s === null || s === undefined || !isFinite(s)) return "–";
    s = Math.max(0, s);
    if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + Math.floor(s % 60) + " s";
    if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
    return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
  },
  async json (url) {
    const r = await fetch(url, { cache: "no-store" });
    if (!r.ok) throw new Error(url + ": HTTP " + r.status);
    return r.json();
  },
  // The progress bar of a job: ok, failed (failed + timeout + cancelled), running, queued.
  bar (j) {
    const bad = j.failed + j.timeout + j.cancelled;
    const whole = Math.max(j.total_known ? j.total : j.received, j.done + j.running + j.queued, 1);
    const pct = n => (100 * n / whole).toFixed(2) + "%";
    return `<span class="ok" style="width:${pct(j.ok)}" title="ok ${j.ok}"></span>` +
      `<span class="failed" style="width:${pct(bad)}" title="failed ${bad}"></span>` +
      `<span class="running" style="width:${pct(j.running)}" title="running ${j.running}"></span>` +
      `<span class="queued" style="width:${pct(j.queued)}" title="queued ${j.queued}"></span>`;
  },
  // Draws series (arrays of numbers, same length as t) into an SVG element
  // as polylines over a 400x120 view box; the caption shows the last value
  // and the maximum.
  chart (svg, t, series, caption) {
    const W = 400, H = 120;
    let max = 1;
    for (const s of series) for (const v of s) if (v > max) max = v;
    const t0 = t.length ? t[0] : 0, t1 = t.length ? t[t.length - 1] : 1;
    const span = Math.max(t1 - t0, 60);
    let out = `<line class="axis" x1="0" y1="${H - 0.5}" x2="${W}" y2="${H - 0.5}"/>`;
    series.forEach((s, k) => {
      const pts = [];
      for (let i = 0; i < s.length; i++) {
        const x = W - (t1 - t[i]) / span * W;
        const y = H - 2 - (s[i] / max) * (H - 6);
        pts.push(x.toFixed(1) + "," + y.toFixed(1));
      }
      if (pts.length === 1) pts.push((W).toFixed(1) + "," + pts[0].split(",")[1]);
      out += `<polyline class="${k ? "second" : "first"}" points="${pts.join(" ")}"/>`;
    });
    svg.innerHTML = out;
    if (caption) {
      const last = series[0].length ? series[0][series[0].length - 1] : 0;
      caption.textContent = `now ${last.toFixed(last < 10 ? 1 : 0)} · max ${max.toFixed(max < 10 ? 1 : 0)}`;
    }
  },
};
