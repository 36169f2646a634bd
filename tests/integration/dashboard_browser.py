"""Drives headless Chromium against a broker's dashboard (see
dashboard_browser.sh, which starts the broker, the workers and the jobs):

  1. the overview page renders, and the numbers it shows (every job, queue,
     worker and the broker's counters) equal those of `sluice-ctl status
     --json` taken at the same moment, allowing one refresh;
  2. it updates without a reload: a job submitted later appears on it;
  3. the four charts are drawn (SVG polylines with points);
  4. the page of the job made to fail some lists exactly its failed tasks
     (seq, status, exit code, stderr), following its "next" links page by
     page;
  5. the browser reports no console error or exception anywhere.

A screenshot of the overview is written to --screenshot.
"""
import argparse
import json
import subprocess
import sys
import time

import cdp

READ_PAGE = r"""
(() => {
  const rows = sel => [...document.querySelectorAll(sel + " tbody tr")].map(tr => {
    const o = { id: tr.dataset.id };
    for (const td of tr.querySelectorAll("[data-k]")) o[td.dataset.k] = td.textContent;
    return o;
  });
  const f = name => document.querySelector(`[data-field="${name}"]`).textContent;
  return JSON.stringify({
    renders: window.sluiceState.renders,
    jobs: rows("#jobs"), queues: rows("#queues"), workers: rows("#workers"),
    broker: { tasks_accepted: f("tasks_accepted"), results: f("results"),
              retries: f("retries"), runs_lost: f("runs_lost"), sink: f("sink"),
              id: document.getElementById("broker-id").textContent },
  });
})()
"""


def ctl_status(args):
    out = subprocess.run(args.ctl + ["--broker", args.broker, "status", "--json"],
                         capture_output=True, text=True, timeout=20)
    if out.returncode != 0:
        raise RuntimeError("sluice-ctl status failed: " + out.stderr)
    return json.loads(out.stdout)


def expected_view(s):
    """What the page must show for a status document, as the page's text."""
    jobs = {}
    for j in s["jobs"]:
        jobs[j["id"]] = {"queue": j.get("queue", "default"),
                         "total": str(j["total"]) if j["total_known"] else "?",
                         "done": str(j["done"]),
                         "failed": str(j["failed"] + j["timeout"] + j["cancelled"]),
                         "running": str(j["running"]), "queued": str(j["queued"])}
    queues = {q["name"]: {"queued": str(q["queued"]), "workers": str(q["workers"]),
                          "slots": str(q["slots"])} for q in s["queues"]}
    workers = {w["name"]: {"slots": str(w["slots"]), "busy": str(w["busy"]),
                           "done": str(w["done"])} for w in s["workers"]}
    c = s["counters"]
    broker = {"tasks_accepted": str(c["tasks_accepted"]), "results": str(c["results"]),
              "retries": str(c["retries"]), "runs_lost": str(c["runs_lost"]),
              "sink": s["sink"] or "none", "id": "broker " + s["broker_id"]}
    return {"jobs": jobs, "queues": queues, "workers": workers, "broker": broker}


def shown_view(page):
    strip = lambda rows: {r["id"]: {k: v for k, v in r.items() if k != "id"} for r in rows}
    return {"jobs": strip(page["jobs"]), "queues": strip(page["queues"]),
            "workers": strip(page["workers"]), "broker": page["broker"]}


def diff(a, b, path=""):
    out = []
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append("%s/%s: %s on the page, %s from sluice-ctl" % (
                    path, k, "present" if k in a else "absent", "present" if k in b else "absent"))
            else:
                out += diff(a[k], b[k], path + "/" + k)
    elif a != b:
        out.append("%s: page shows %r, sluice-ctl says %r" % (path, a, b))
    return out


def compare_with_ctl(browser, args, what):
    """The page against sluice-ctl, allowing one refresh between them."""
    problems = []
    for attempt in range(4):
        page = json.loads(browser.evaluate(READ_PAGE))
        status = ctl_status(args)
        problems = diff(shown_view(page), expected_view(status))
        if not problems:
            print("%s: the page shows what sluice-ctl status --json says (%d jobs, %d queues, "
                  "%d workers)" % (what, len(status["jobs"]), len(status["queues"]),
                                   len(status["workers"])))
            return status
        # One refresh later the page must have caught up with that status.
        browser.wait_for("window.sluiceState.renders > %d" % page["renders"], 5, "a refresh")
        page = json.loads(browser.evaluate(READ_PAGE))
        if not diff(shown_view(page), expected_view(status)):
            print("%s: equal to sluice-ctl after one refresh" % what)
            return status
    raise AssertionError("%s: the page differs from sluice-ctl status --json:\n  %s" % (
        what, "\n  ".join(problems[:30])))


def check_charts(browser):
    counts = json.loads(browser.evaluate(r"""JSON.stringify(
      ["chart-completed", "chart-queued", "chart-busy", "chart-failed"].map(id => {
        const lines = [...document.querySelectorAll("#" + id + " polyline")];
        return [id, lines.length, Math.min(...lines.map(l => l.points.numberOfItems))];
      }))"""))
    for chart_id, lines, points in counts:
        if lines < 1 or points < 2:
            raise AssertionError("chart %s not drawn: %d lines, %d points" % (chart_id, lines, points))
    box = browser.evaluate("JSON.stringify(document.getElementById('chart-completed').getBoundingClientRect())")
    box = json.loads(box)
    if box["width"] < 50 or box["height"] < 50:
        raise AssertionError("chart has no room on the page: %r" % box)
    print("charts: %s" % ", ".join("%s %d points" % (c, p) for c, _, p in counts))


def expected_failures(path):
    want = {}
    for line in open(path):
        r = json.loads(line)
        if r["status"] != "ok":
            want[r["seq"]] = r
    return want


def check_job_page(browser, args):
    want = expected_failures(args.results)
    if not want:
        raise AssertionError("the failing job has no failures in %s" % args.results)
    seen = {}
    url = "http://127.0.0.1:%d/jobs/%s?limit=%d" % (args.http_port, args.fail_job, args.page)
    pages = 0
    while url and pages < 100:
        pages += 1
        browser.navigate(url)
        browser.wait_for("window.sluiceState && window.sluiceState.failed !== null && "
                         "document.querySelectorAll('#failed tbody tr').length > 0", 10,
                         "the failed tasks of %s" % url)
        rows = json.loads(browser.evaluate(r"""JSON.stringify([...document.querySelectorAll('#failed tbody tr')]
            .map(tr => [...tr.children].map(td => td.textContent)))"""))
        if len(rows) > args.page:
            raise AssertionError("page %d lists %d failed tasks, more than %d" % (pages, len(rows), args.page))
        for seq, task_id, status, exit_code, attempts, worker, stderr in rows:
            seq = int(seq)
            if seq in seen:
                raise AssertionError("seq %d listed twice (page %d)" % (seq, pages))
            seen[seq] = (status, int(exit_code), int(attempts), worker, stderr)
        numbers = json.loads(browser.evaluate(r"""JSON.stringify(Object.fromEntries(
            [...document.querySelectorAll('#job-numbers [data-field]')].map(e => [e.dataset.field, e.textContent])))"""))
        if numbers["failed"] != str(sum(1 for r in want.values() if r["status"] == "failed")):
            raise AssertionError("job page shows %s failed, want %d" % (numbers["failed"], len(want)))
        url = browser.evaluate("(document.getElementById('failed-next') || {}).href || ''")
    if sorted(seen) != sorted(want):
        raise AssertionError("the job page lists seqs %s, the sink's failed ones are %s" % (
            sorted(seen), sorted(want)))
    for seq, (status, exit_code, attempts, worker, stderr) in seen.items():
        r = want[seq]
        got = (status, exit_code, stderr)
        expect = (r["status"], r["exit_code"], r.get("stderr", ""))
        if got != expect or attempts < 1 or not worker:
            raise AssertionError("failed task %d: page shows %r (attempts %d, worker %r), the sink has %r"
                                 % (seq, got, attempts, worker, expect))
    print("job page: exactly the %d failed tasks of %s, on %d pages of %d" % (
        len(seen), args.fail_job, pages, args.page))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--chromium", required=True)
    p.add_argument("--http-port", type=int, required=True)
    p.add_argument("--broker", required=True)
    p.add_argument("--ctl", required=True, nargs="+")
    p.add_argument("--fail-job", required=True)
    p.add_argument("--results", required=True, help="the failing job's sink output (jsonl)")
    p.add_argument("--late-job", required=True, help="a command that submits one more job")
    p.add_argument("--late-job-id", required=True)
    p.add_argument("--page", type=int, default=7)
    p.add_argument("--screenshot", required=True)
    p.add_argument("--log", required=True)
    args = p.parse_args()
    browser = cdp.Browser(args.chromium, args.log)
    try:
        browser.call("Emulation.setDeviceMetricsOverride", width=1280, height=1000,
                     deviceScaleFactor=1, mobile=False)
        base = "http://127.0.0.1:%d/" % args.http_port
        started = time.time()
        browser.navigate(base)
        browser.wait_for("window.sluiceState && window.sluiceState.renders >= 1", 15, "a first render")
        print("first render after %.0f ms" % ((time.time() - started) * 1000))
        browser.evaluate("window.sluiceMarker = 'same page'")
        compare_with_ctl(browser, args, "overview")
        # Live: a job submitted now shows up without a reload.
        subprocess.run(args.late_job, shell=True, check=True, timeout=30)
        browser.wait_for("!!document.querySelector('#jobs tbody tr[data-id=\"%s\"]')" % args.late_job_id,
                         10, "job %s on the page" % args.late_job_id)
        if browser.evaluate("window.sluiceMarker") != "same page":
            raise AssertionError("the page was reloaded")
        print("live: job %s appeared without a reload" % args.late_job_id)
        compare_with_ctl(browser, args, "overview after a new job")
        browser.wait_for("window.sluiceState.renders >= 4", 10, "four renders")
        check_charts(browser)
        browser.screenshot(args.screenshot)
        print("screenshot: %s" % args.screenshot)
        check_job_page(browser, args)
        # The API is served as JSON to the browser as well.
        browser.navigate(base + "api/status")
        browser.wait_for("document.body && document.body.innerText.startsWith('{')", 10, "/api/status")
        time.sleep(0.5)
        browser.call("Runtime.evaluate", expression="1")  # collect pending events
        if browser.errors:
            raise AssertionError("the browser reported errors:\n  " + "\n  ".join(browser.errors))
        print("console: no error")
    finally:
        browser.close()


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, RuntimeError) as e:
        print("FAIL: %s" % e, file=sys.stderr)
        sys.exit(1)
