"""Measures the broker's dashboard with many jobs and workers (see
bench/dashboard.sh, which starts the broker, the idle workers and the jobs):

  first render   headless Chromium opens / (a new profile each time, so
                 nothing cached): ms from navigation start to the first
                 complete render (the page's own performance.now()), and as
                 seen from outside (Page.navigate to the render), RUNS times
  serving cost   the broker's CPU (utime + stime from /proc) over SECONDS
                 with the page open and refreshing once a second, minus the
                 same with no page open: CPU ms per second of wall time
  per request    the broker's CPU per GET /api/status, over 50 requests
                 (spaced out: each renders anew; bursts share one within 200 ms)
  burst          500 connections at once, each GET /api/status: wall time
                 until every one is answered
  payload        bytes of /api/status and of the page's assets

Prints one "dashboard: key=value ..." line. Loopback only.
"""
import argparse
import os
import socket
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import cdp  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def get(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--http-port", type=int, required=True)
    p.add_argument("--broker-pid", type=int, required=True)
    p.add_argument("--jobs", type=int, required=True)
    p.add_argument("--workers", type=int, required=True)
    p.add_argument("--seconds", type=int, default=30)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--screenshot")
    p.add_argument("--log", required=True)
    args = p.parse_args()
    chromium = cdp.find_chromium()
    if not chromium:
        sys.exit("dashboard.py: no chromium (apt-get install chromium)")
    base = "http://127.0.0.1:%d/" % args.http_port
    status_bytes = len(get(base + "api/status"))
    asset_bytes = sum(len(get(base + path)) for path in (
        "", "static/common.js", "static/app.js", "static/style.css"))
    # Per request.
    c0, t0 = cpu_s(args.broker_pid), time.time()
    for _ in range(50):
        get(base + "api/status")
        time.sleep(0.21)
    request_cpu_ms, request_wall_s = (cpu_s(args.broker_pid) - c0) * 1000, time.time() - t0
    wall_request_ms = request_wall_s * 1000 / 50 - 210
    # A burst: 500 connections at once.
    socks = [socket.create_connection(("127.0.0.1", args.http_port), 10) for _ in range(500)]
    t0 = time.time()
    for s in socks:
        s.sendall(b"GET /api/status HTTP/1.1\r\nHost: x\r\n\r\n")
    burst_bytes = 0
    for s in socks:
        s.settimeout(30)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < int(
                data.split(b"Content-Length: ", 1)[1].split(b"\r\n", 1)[0]):
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            data += chunk
        burst_bytes += len(data)
        s.close()
    burst_ms = (time.time() - t0) * 1000
    # Idle baseline: nothing but the workers' heartbeats.
    c0, t0 = cpu_s(args.broker_pid), time.time()
    time.sleep(args.seconds)
    idle_ms_per_s = (cpu_s(args.broker_pid) - c0) * 1000 / (time.time() - t0)
    # Per request: less what the heartbeats cost meanwhile.
    per_request_ms = (request_cpu_ms - idle_ms_per_s * request_wall_s) / 50
    # First render, each in a new browser (cold).
    inside, outside = [], []
    for run in range(args.runs):
        browser = cdp.Browser(chromium, args.log)
        try:
            browser.call("Emulation.setDeviceMetricsOverride", width=1280, height=1000,
                         deviceScaleFactor=1, mobile=False)
            t0 = time.time()
            browser.navigate(base)
            browser.wait_for("window.sluiceState && window.sluiceState.renders >= 1 && "
                             "document.querySelectorAll('#jobs tbody tr').length >= %d" % args.jobs,
                             60, "the first render")
            outside.append((time.time() - t0) * 1000)
            inside.append(browser.evaluate("window.sluiceState.firstRenderMs"))
            rows = browser.evaluate("document.querySelectorAll('#workers tbody tr').length")
            if rows < args.workers:
                sys.exit("dashboard.py: the page lists %d workers, want %d" % (rows, args.workers))
            if run == args.runs - 1:
                # Serving cost: the page open, refreshing once a second.
                renders0 = browser.evaluate("window.sluiceState.renders")
                c0, t0 = cpu_s(args.broker_pid), time.time()
                time.sleep(args.seconds)
                open_ms_per_s = (cpu_s(args.broker_pid) - c0) * 1000 / (time.time() - t0)
                renders = browser.evaluate("window.sluiceState.renders") - renders0
                if args.screenshot:
                    browser.screenshot(args.screenshot)
                if browser.errors:
                    sys.exit("dashboard.py: browser errors: %s" % browser.errors)
        finally:
            browser.close()
    inside.sort()
    outside.sort()
    print("dashboard: jobs=%d workers=%d first_render_ms_median=%.0f (min %.0f max %.0f; "
          "from outside %.0f) renders_in_%ds=%d broker_cpu_ms_per_s_open=%.1f "
          "broker_cpu_ms_per_s_idle=%.1f serving_cost_ms_per_s=%.1f "
          "api_status_cpu_ms=%.2f api_status_wall_ms=%.2f api_status_bytes=%d page_bytes=%d "
          "burst_500_ms=%.0f burst_bytes=%d" % (
              args.jobs, args.workers, inside[len(inside) // 2], inside[0], inside[-1],
              outside[len(outside) // 2], args.seconds, renders, open_ms_per_s, idle_ms_per_s,
              open_ms_per_s - idle_ms_per_s, per_request_ms, wall_request_ms, status_bytes,
              asset_bytes, burst_ms, burst_bytes))


if __name__ == "__main__":
    main()
