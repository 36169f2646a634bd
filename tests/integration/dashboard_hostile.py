"""Hostile clients against the broker's --http endpoint while a job runs at
full speed (see dashboard_hostile.sh). Phases, each checked:

  slow       a client that sends a header byte every 0.3 s and never ends
             its head: the broker closes it (HTTP_CLIENT_TIMEOUT_MS, 10 s)
  huge       a 1 MB header: answered 431, connection closed
  pipelined  two requests in one write: the first answered (200, JSON),
             then the connection closed (Connection: close)
  many       500 connections at once, each asking /api/status: every one
             answered 200 with the status document
  paths      /api/jobs/../../etc/passwd and friends: 404, nothing leaked
  garbage    not HTTP, a TLS hello, POST, a 4 KB target: 400/405/414

Meanwhile the job's results per second (from sluice-ctl, not HTTP) must
stay at least 1/MAX_SLOWDOWN of what they were before, and the broker's
resident memory must not grow more than the job explains plus
HTTP_ALLOWANCE_KB. (A running job's task records stay in the broker until
the job finishes, about 32 bytes a task: the job's own growth is measured
before the attack, in KiB per result, and expected to go on.) Loopback
only; every loop is bounded in count and time.
"""
import argparse
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time

MAX_SLOWDOWN = float(os.environ.get("DASHBOARD_HOSTILE_MAX_SLOWDOWN", "4"))
HTTP_ALLOWANCE_KB = 64 * 1024  # 1024 buffers of 8 KiB, ZeroMQ's per-connection buffers


class Rates:
    """Samples the broker's result counter twice a second via sluice-ctl."""

    def __init__(self, args):
        self.args = args
        self.samples = []  # (time, results, job finished, broker RSS KiB)
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        deadline = time.time() + 300
        while not self.stop and time.time() < deadline:
            out = subprocess.run(self.args.ctl + ["--broker", self.args.broker, "status", "--json"],
                                 capture_output=True, text=True, timeout=20)
            if out.returncode == 0:
                s = json.loads(out.stdout)
                job = [j for j in s["jobs"] if j["id"] == self.args.job]
                finished = bool(job and job[0]["finished"])
                self.samples.append((time.time(), s["counters"]["results"], finished,
                                     rss_kb(self.args.broker_pid)))
            time.sleep(0.5)

    def rate(self, start, end):
        window = [s for s in self.samples if start <= s[0] <= end and not s[2]]
        if len(window) < 2:
            return None
        (t0, r0, _, _), (t1, r1, _, _) = window[0], window[-1]
        return (r1 - r0) / (t1 - t0) if t1 > t0 else None

    def kb_per_result(self, start, end):
        window = [s for s in self.samples if start <= s[0] <= end]
        if len(window) < 2 or window[-1][1] <= window[0][1]:
            return 0.0
        return max(0.0, (window[-1][3] - window[0][3]) / (window[-1][1] - window[0][1]))

    def results_at(self, when):
        before = [s for s in self.samples if s[0] <= when]
        return before[-1][1] if before else 0


def rss_kb(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS for %d" % pid)


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), 5)
    s.settimeout(10)
    return s


def read_all(s, limit=8 << 20, timeout=10):
    """Reads until the server closes (bounded in bytes and time)."""
    data = b""
    deadline = time.time() + timeout
    while len(data) < limit and time.time() < deadline:
        try:
            chunk = s.recv(1 << 16)
        except ConnectionResetError:
            break
        except socket.timeout:
            raise AssertionError("the server neither answered nor closed in %g s" % timeout)
        if not chunk:
            break
        data += chunk
    return data


def complete(data):
    """True once data holds a whole reply (head and Content-Length bytes)."""
    if b"\r\n\r\n" not in data:
        return False
    head, body = data.split(b"\r\n\r\n", 1)
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False


def read_reply(s, timeout=10):
    """Reads one reply: until it is complete or the server closes."""
    data = b""
    deadline = time.time() + timeout
    while not complete(data) and time.time() < deadline:
        try:
            chunk = s.recv(1 << 16)
        except ConnectionResetError:
            break
        except socket.timeout:
            raise AssertionError("no complete reply in %g s (got %r)" % (timeout, data[:80]))
        if not chunk:
            break
        data += chunk
    return data


def status_of(reply):
    if not reply.startswith(b"HTTP/1.1 "):
        raise AssertionError("not an HTTP reply: %r" % reply[:80])
    return int(reply[9:12])


def body_of(reply):
    return reply.split(b"\r\n\r\n", 1)[1]


def get(port, target):
    s = connect(port)
    s.sendall(b"GET " + target.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    reply = read_reply(s)
    s.close()
    return reply


def phase_slow(port):
    s = connect(port)
    s.sendall(b"GET /api/status HTTP/1.1\r\nX-Slow: ")
    start = time.time()
    while time.time() - start < 20:
        try:
            s.sendall(b"a")
        except (BrokenPipeError, ConnectionResetError):
            break
        r, _, _ = select.select([s], [], [], 0.3)
        if r:
            try:
                if s.recv(4096) == b"":
                    break
            except ConnectionResetError:
                break
    else:
        raise AssertionError("slow: still connected after 20 s")
    took = time.time() - start
    s.close()
    if took < 9:
        raise AssertionError("slow: closed after %.1f s, before its 10 s" % took)
    print("slow: a head never finished was closed after %.1f s" % took)


def phase_huge(port):
    s = connect(port)
    s.sendall(b"GET / HTTP/1.1\r\nX-Huge: ")
    sent = 0
    try:
        while sent < (1 << 20):
            s.sendall(b"x" * 65536)
            sent += 65536
        s.sendall(b"\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    reply = read_all(s)
    s.close()
    if reply and status_of(reply) != 431:
        raise AssertionError("huge: answered %r" % reply[:60])
    print("huge: 1 MB header answered %s after %d bytes sent" % (
        status_of(reply) if reply else "with a reset", sent))


def phase_pipelined(port):
    s = connect(port)
    s.sendall(b"GET /api/status HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
              b"GET /api/history HTTP/1.1\r\n\r\n")
    reply = read_reply(s)
    t = time.time()
    rest = read_all(s)  # the server closes it (HTTP_ANSWERED_CLOSE_MS), nothing more
    s.close()
    if rest:
        raise AssertionError("pipelined: more after the first reply: %r" % rest[:80])
    print("pipelined: the server closed %.1f s after the first reply" % (time.time() - t))
    if status_of(reply) != 200:
        raise AssertionError("pipelined: %r" % reply[:80])
    json.loads(body_of(reply))  # exactly one complete JSON body, nothing after it
    if reply.count(b"HTTP/1.1 ") != 1:
        raise AssertionError("pipelined: more than one reply on a Connection: close")
    print("pipelined: the first of three answered (status JSON), then closed")


def phase_many(port, n):
    socks = []
    for _ in range(n):
        socks.append(connect(port))
    for s in socks:
        s.sendall(b"GET /api/status HTTP/1.1\r\nHost: x\r\n\r\n")
    replies = {s: b"" for s in socks}
    open_socks = set(socks)
    deadline = time.time() + 60
    while open_socks and time.time() < deadline:
        r, _, _ = select.select(list(open_socks), [], [], 1)
        for s in r:
            try:
                chunk = s.recv(1 << 16)
            except ConnectionResetError:
                chunk = b""
            if chunk:
                replies[s] += chunk
            if not chunk or complete(replies[s]):
                open_socks.discard(s)
    for s in socks:
        s.close()
    if open_socks:
        raise AssertionError("many: %d of %d connections neither answered nor closed in 60 s"
                             % (len(open_socks), n))
    bad = [r[:60] for r in replies.values() if not r or status_of(r) != 200]
    if bad:
        raise AssertionError("many: %d of %d not answered 200, e.g. %r" % (len(bad), n, bad[0]))
    for r in replies.values():
        doc = json.loads(body_of(r))
        if "jobs" not in doc:
            raise AssertionError("many: a reply is not the status document")
    print("many: %d connections at once, every one answered 200 with the status" % n)


def phase_paths(port):
    targets = ["/api/jobs/../../etc/passwd", "/../../etc/passwd", "/static/../../../etc/passwd",
               "/static/..%2f..%2fetc%2fpasswd", "/%2e%2e/%2e%2e/etc/passwd",
               "/api/jobs/..%2F..%2Fetc%2Fpasswd/failed", "/jobs/../../etc/passwd",
               "/api/jobs/%00/failed", "/static//etc/passwd", "/etc/passwd", "/broker.c",
               "/static/app.js/../../CMakeLists.txt"]
    for target in targets:
        reply = get(port, target)
        if status_of(reply) != 404 or b"root:" in reply or b"cmake" in reply.lower():
            raise AssertionError("paths: %s answered %r" % (target, reply[:80]))
    print("paths: %d traversal attempts all 404" % len(targets))


def phase_garbage(port):
    cases = [(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 binary\r\n\r\n", 400),
             (b"garbage\r\n\r\n", 400),
             (b"POST /api/status HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405),
             (b"GET /" + b"a" * 4096 + b" HTTP/1.1\r\n\r\n", 414),
             (b"GET /api/jobs/x/failed?after=" + b"9" * 300 + b" HTTP/1.1\r\n\r\n", 414)]
    for request, want in cases:
        s = connect(port)
        s.sendall(request)
        reply = read_reply(s)
        s.close()
        if status_of(reply) != want:
            raise AssertionError("garbage: %r answered %r, want %d" % (request[:30], reply[:60], want))
    reply = get(port, "/api/jobs/x/failed?after=abc&limit=-5")
    if status_of(reply) != 200 or json.loads(body_of(reply))["failed"] != []:
        raise AssertionError("garbage: a bad query gave %r" % reply[:80])
    print("garbage: TLS hello, junk, POST and long targets refused with 400/405/414")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--http-port", type=int, required=True)
    p.add_argument("--broker", required=True)
    p.add_argument("--broker-pid", type=int, required=True)
    p.add_argument("--ctl", required=True, nargs="+")
    p.add_argument("--job", required=True)
    p.add_argument("--connections", type=int, default=500)
    args = p.parse_args()
    port = args.http_port
    rates = Rates(args)
    time.sleep(4)  # the job's rate before
    before_end = time.time()
    rss_before = rss_kb(args.broker_pid)
    results_before = rates.results_at(before_end)
    attack_start = time.time()
    slow = threading.Thread(target=lambda: slow_result.append(run_phase(phase_slow, port)))
    slow_result = []
    slow.start()
    for phase in (phase_huge, phase_pipelined, lambda p: phase_many(p, args.connections),
                  phase_paths, phase_garbage, lambda p: phase_many(p, args.connections)):
        err = run_phase(phase, port)
        if err:
            raise AssertionError(err)
    slow.join(30)
    if slow_result and slow_result[0]:
        raise AssertionError(slow_result[0])
    attack_end = time.time()
    time.sleep(1)
    rates.stop = True
    rates.thread.join(30)
    rss_after = rss_kb(args.broker_pid)
    results_after = rates.samples[-1][1] if rates.samples else 0
    # Still serving, promptly.
    t = time.time()
    reply = get(port, "/api/status")
    latency = time.time() - t
    if status_of(reply) != 200 or latency > 2:
        raise AssertionError("after: /api/status took %.2f s: %r" % (latency, reply[:60]))
    before = rates.rate(0, before_end)
    during = rates.rate(attack_start, attack_end)
    print("job rate: %s results/s before, %s during the attack (%.1f s)" % (
        "%.0f" % before if before else "?", "%.0f" % during if during else "?",
        attack_end - attack_start))
    if before is None or during is None:
        raise AssertionError("the job did not run long enough to compare its rates "
                             "(samples: %d)" % len(rates.samples))
    if during * MAX_SLOWDOWN < before:
        raise AssertionError("the job's rate collapsed: %.0f/s before, %.0f/s during the attack "
                             "(DASHBOARD_HOSTILE_MAX_SLOWDOWN=%g)" % (before, during, MAX_SLOWDOWN))
    per_result = rates.kb_per_result(0, before_end)
    explained = per_result * max(0, results_after - results_before)
    growth = rss_after - rss_before
    print("broker RSS: %d KiB before, %d KiB after: +%d KiB, of which the job explains %d KiB "
          "(%.4f KiB a result before the attack)" % (rss_before, rss_after, growth, explained,
                                                     per_result))
    if growth > explained + HTTP_ALLOWANCE_KB:
        raise AssertionError("the broker grew by %d KiB, %d KiB more than its job explains"
                             % (growth, growth - explained))


def run_phase(phase, port):
    try:
        phase(port)
        return None
    except (AssertionError, OSError, ValueError) as e:
        return "%s: %s" % (getattr(phase, "__name__", "phase"), e)


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, RuntimeError) as e:
        print("FAIL: %s" % e, file=sys.stderr)
        sys.exit(1)
