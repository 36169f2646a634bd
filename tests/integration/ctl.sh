# sluice-ctl and --metrics during a running job: status (text and JSON)
# checked field by field against what the test started, the Prometheus
# endpoint checked with promtool (the Prometheus project's own checker)
# and value by value, drain of one named worker, cancel of a job with
# running tasks (stopped at once, every task in the sink's output once,
# 'cancelled' or 'ok'), and clear errors for unknown jobs and workers.
. "$(dirname "$0")/lib.sh"

CTL="$SLUICE_BIN/sluice-ctl"
METRICS_PORT=$(free_port)
METRICS="http://127.0.0.1:$METRICS_PORT/metrics"
HOST=$(hostname)

start_broker --metrics "tcp://127.0.0.1:$METRICS_PORT"
start_worker w1 --builtin sleep -j 2
W1=$LAST_PID
start_worker w2 --builtin sleep -j 3
W2=$LAST_PID
wait_workers 2

# 60 tasks of 400 ms on 5 slots: about 5 s of work.
for i in $(seq 1 60); do echo 400; done >"$WORK/slow.txt"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job slow "$WORK/slow.txt" >/dev/null \
    2>"$WORK/ventilator.log" || fail "ventilator exit status $?"
sleep 1.5

# --- status -------------------------------------------------------------------
"$CTL" --broker "$BROKER" status --json >"$WORK/status.json" 2>"$WORK/ctl.log" \
    || fail "sluice-ctl status --json exit status $?"
"$PYTHON" - "$WORK/status.json" "$HOST" "$W1" "$W2" <<'PY' || fail "status --json is wrong"
import json, sys
s = json.load(open(sys.argv[1]))
host, w1, w2 = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def want(cond, what):
    if not cond:
        sys.exit("status: %s\n%s" % (what, json.dumps(s, indent=1)))
jobs = {j["id"]: j for j in s["jobs"]}
want(list(jobs) == ["slow"], "jobs are %s, not [slow]" % list(jobs))
j = jobs["slow"]
want(j["total"] == 60 and j["total_known"] and j["received"] == 60, "job size")
want(j["running"] == 5, "5 tasks running (one per slot), not %d" % j["running"])
want(j["queued"] + j["running"] + j["done"] == 60, "queued + running + done != 60")
want(5 <= j["done"] <= 40, "done %d after 1.5 s of 400 ms tasks on 5 slots" % j["done"])
want(j["ok"] == j["done"] and j["failed"] == j["cancelled"] == 0, "statuses")
want(not j["finished"] and 1.0 <= j["age_s"] < 30, "age %s" % j["age_s"])
ws = {w["pid"]: w for w in s["workers"]}
want(sorted(ws) == sorted([w1, w2]), "workers %s, not %s" % (sorted(ws), [w1, w2]))
for pid, slots in ((w1, 2), (w2, 3)):
    w = ws[pid]
    want(w["host"] == host and w["name"] == "%s:%d" % (host, pid), "worker name %s" % w["name"])
    want(w["slots"] == slots and w["busy"] == slots, "worker %d slots/busy" % pid)
    want(w["last_heartbeat_s"] < 3 and not w["draining"], "worker %d heartbeat" % pid)
want(sum(w["done"] for w in ws.values()) == j["done"], "workers' done != job's done")
c = s["counters"]
want(c["tasks_accepted"] == 60 and c["results"] == j["done"], "counters")
want(c["tasks_dispatched"] >= j["done"] + 5, "dispatched %d" % c["tasks_dispatched"])
want(s["rate"] > 0 and s["sink"] is None, "rate %s, sink %s" % (s["rate"], s["sink"]))
want(0 < s["memory"]["held"] < s["memory"]["limit"] and not s["memory"]["intake_paused"], "memory")
want(s["journal_bytes"] > 0, "journal bytes")
PY
# A worker's running count is what its last heartbeat said: one sent just
# as its tasks ended and before the next ones arrived says fewer. Look
# again a few times, each within a heartbeat.
for try in 1 2 3 4 5; do
    "$CTL" --broker "$BROKER" status >"$WORK/status.txt" || fail "sluice-ctl status exit status $?"
    grep -Eq "^$HOST +$W2 +3 +3 " "$WORK/status.txt" && break
    sleep 0.3
done
grep -Eq "^slow +default +60 +[0-9]+ +5 +[0-9]+ +0 +0 .* running$" "$WORK/status.txt" \
    || { cat "$WORK/status.txt" >&2; fail "no line for job slow in the status table"; }
grep -Eq "^$HOST +$W2 +3 +3 " "$WORK/status.txt" \
    || { cat "$WORK/status.txt" >&2; fail "no line for worker $W2 in the status table"; }

# --- metrics ------------------------------------------------------------------
curl -sf "$METRICS" -o "$WORK/metrics.txt" || fail "curl $METRICS: exit status $?"
if command -v promtool >/dev/null; then
    promtool check metrics <"$WORK/metrics.txt" || fail "promtool rejects the metrics"
else
    echo "ctl: promtool not installed (package prometheus): metrics checked by this test only"
fi
"$PYTHON" - "$WORK/metrics.txt" <<'PY' || fail "metrics are wrong"
import re, sys
text = open(sys.argv[1]).read()
values, types = {}, {}
for line in text.splitlines():
    m = re.match(r"# TYPE (\w+) (counter|gauge)$", line)
    if m:
        types[m.group(1)] = m.group(2)
        continue
    if line.startswith("#"):
        continue
    m = re.match(r'([a-z_]+)(\{(status|queue)="([\w.-]+)"\})? ([0-9.]+)$', line)
    if not m:
        sys.exit("not a sample line: %r" % line)
    values[m.group(1) + ("." + m.group(4) if m.group(4) else "")] = float(m.group(5))
def want(cond, what):
    if not cond:
        sys.exit("metrics: " + what + "\n" + text)
want(values["sluice_tasks_accepted_total"] == 60, "accepted")
want(values["sluice_workers"] == 2 and values["sluice_worker_slots"] == 5, "workers")
want(values["sluice_workers_busy"] == 2 and values["sluice_tasks_running"] == 5, "busy")
done = sum(values["sluice_tasks_completed_total." + s] for s in ("ok", "failed", "timeout", "cancelled"))
want(values["sluice_tasks_queued"] + values["sluice_tasks_running"] + done == 60, "queue depth")
want(values["sluice_jobs"] == 1 and values["sluice_sink_attached"] == 0, "jobs, sink")
want(values["sluice_queue_tasks_queued.default"] == values["sluice_tasks_queued"], "queue depth by queue")
want(values["sluice_queue_workers.default"] == 2, "workers by queue")
want(values["sluice_malformed_messages_total"] == 0, "malformed")
want(values["sluice_journal_bytes"] > 0 and values["sluice_memory_limit_bytes"] == 1 << 30, "bytes")
for name in values:
    base = name.split(".")[0]
    want(base in types, "no TYPE for " + base)
    want(not base.endswith("_total") or types[base] == "counter", base + " is not a counter")
PY
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$METRICS_PORT/nope")" = 404 ] \
    || fail "GET /nope is not a 404"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$METRICS")" = 405 ] \
    || fail "POST /metrics is not a 405"

# --- drain ----------------------------------------------------------------------
"$CTL" --broker "$BROKER" drain "$HOST:$W1" >"$WORK/drain.txt" || fail "drain exit status $?"
expect_grep "worker $HOST:$W1 told to drain" "$WORK/drain.txt" "drain reply"
wait_pid "$W1" 15
expect_rc 0 "$WAIT_RC" "drained worker"
expect_grep "asks this worker to drain" "$WORK/w1.log" "worker log"

# --- cancel -----------------------------------------------------------------------
# A job of minute-long tasks, 3 of them running on w2: cancelled, they stop.
for i in $(seq 1 6); do echo 60000; done >"$WORK/long.txt"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job long "$WORK/long.txt" >/dev/null \
    2>>"$WORK/ventilator.log" || fail "ventilator exit status $?"

"$CTL" --broker "$BROKER" cancel slow >"$WORK/cancel.txt" || fail "cancel slow exit status $?"
expect_grep "job slow cancelled" "$WORK/cancel.txt" "cancel reply"
"$PYTHON" - "$BROKER" "$CTL" <<'PY' || fail "job long never had 3 tasks running"
import json, subprocess, sys, time
deadline = time.monotonic() + 15
s = None
while time.monotonic() < deadline:
    s = json.loads(subprocess.run([sys.argv[2], "--broker", sys.argv[1], "status", "--json"],
                                  capture_output=True, check=True, timeout=10).stdout)
    if any(j["id"] == "long" and j["running"] == 3 for j in s["jobs"]):
        sys.exit(0)
    time.sleep(0.1)
sys.exit("after 15 s: %s" % json.dumps(s))
PY
START=$(date +%s)
"$CTL" --broker "$BROKER" cancel long >"$WORK/cancel2.txt" || fail "cancel long exit status $?"
expect_grep "6 tasks ended (3 of them were running)" "$WORK/cancel2.txt" "cancel reply"
wait_log "$WORK/w2.log" "job long was cancelled: 0 waiting tasks dropped, 3 running ones stopped" 1 5
for job in slow long; do
    timeout 30 "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job "$job" -o "$WORK/$job.jsonl" \
        --format jsonl --connect-timeout 10 2>"$WORK/sink-$job.log"
    expect_rc 1 "$?" "sink of the cancelled job $job (some tasks did not succeed)"
done
[ $(( $(date +%s) - START )) -lt 20 ] || fail "cancelled minute-long tasks held the job"
"$PYTHON" - "$WORK/slow.jsonl" 60 ok "$WORK/long.jsonl" 6 none <<'PY' || fail "sink output of cancelled jobs"
import json, sys
args = sys.argv[1:]
for path, total, others in zip(args[0::3], args[1::3], args[2::3]):
    recs = [json.loads(l) for l in open(path)]
    seqs = sorted(r["seq"] for r in recs)
    if seqs != list(range(1, int(total) + 1)):
        sys.exit("%s: seqs are not 1..%s once each" % (path, total))
    statuses = {r["status"] for r in recs}
    cancelled = [r for r in recs if r["status"] == "cancelled"]
    if not cancelled or any(r["stderr"] != "cancelled" for r in cancelled):
        sys.exit("%s: no cancelled records, or without the reason" % path)
    if statuses - {"cancelled", "ok"} or (others == "ok") != ("ok" in statuses):
        sys.exit("%s: statuses %s" % (path, statuses))
PY
kill -0 "$W2" 2>/dev/null || fail "worker w2 died"

# --- errors -----------------------------------------------------------------------
"$CTL" --broker "$BROKER" cancel nosuchjob 2>"$WORK/err1.txt"
expect_rc 1 "$?" "cancel of an unknown job"
expect_grep "nosuchjob: no such job" "$WORK/err1.txt" "cancel error"
"$CTL" --broker "$BROKER" cancel slow 2>"$WORK/err2.txt"
expect_rc 1 "$?" "cancel of a finished job"
expect_grep "slow: already finished" "$WORK/err2.txt" "cancel error"
"$CTL" --broker "$BROKER" drain "$HOST:1" 2>"$WORK/err3.txt"
expect_rc 1 "$?" "drain of an unknown worker"
expect_grep "no such worker" "$WORK/err3.txt" "drain error"
"$CTL" --broker "$BROKER" frobnicate 2>"$WORK/err4.txt"
expect_rc 2 "$?" "unknown command"
expect_grep "unknown command" "$WORK/err4.txt" "usage error"
"$CTL" --broker "tcp://127.0.0.1:$METRICS_PORT" --timeout 1 status 2>"$WORK/err5.txt"
expect_rc 1 "$?" "status from something that is not a broker"
echo "ctl: status, metrics, drain and cancel checked"
