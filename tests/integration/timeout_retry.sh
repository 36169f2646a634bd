# Time limits kill the task's whole process group (nothing is left behind),
# and --retries reruns failed tasks: a task that fails once then succeeds
# ends ok with attempts 2; without retries it ends failed with its stderr.
. "$(dirname "$0")/lib.sh"

start_broker
mkdir -p "$WORK/pids" "$WORK/marks"
# Each task starts a grandchild that would sleep forever and records its pid.
start_worker w1 -j 4 --exec "sleep 1000 & echo \$! > $WORK/pids/\$SLUICE_SEQ; echo started; wait"
seq 1 6 > "$WORK/tasks.txt"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --timeout 0.5 "$WORK/tasks.txt" >/dev/null \
    2>>"$WORK/v.log" || fail "ventilator"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" -o "$WORK/timeout.jsonl" -f jsonl 2>"$WORK/s1.log"
expect_rc 1 $? "sink with timed-out tasks"
$CHECK "$WORK/tasks.txt" "$WORK/timeout.jsonl" --status any || fail "timeout results"
"$PYTHON" - "$WORK/timeout.jsonl" <<'PY' || fail "timed-out tasks not reported as timeout"
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    assert r["status"] == "timeout", r
    assert r["duration_ms"] < 5000, r
    assert r["exit_code"] >= 128, r
PY
expect_grep "6 results: 0 ok, 0 failed, 6 timed out; failed seqs: 1 2 3 4 5 6" "$WORK/s1.log" "summary"
# A signal is delivered when the process next runs: give each killed
# grandchild a moment (a busy or sanitizer-slowed machine) before calling
# it a survivor.
alive () { kill -0 "$1" 2>/dev/null && ! grep -q '^State:.*Z' /proc/"$1"/status 2>/dev/null; }
for f in "$WORK"/pids/*; do
    pid=$(cat "$f")
    for ((i = 0; i < 40; i++)); do alive "$pid" || break; sleep 0.05; done
    if alive "$pid"; then
        fail "grandchild $pid of a timed-out task is still running 2 s after its result"
    fi
done
[ "$(ls "$WORK/pids" | wc -l)" = 6 ] || fail "not every task started its grandchild"
# No zombie children left under the worker.
sleep 0.3
zombies=$(ps -o stat= --ppid "$LAST_PID" | grep -c Z)
[ "$zombies" = 0 ] || fail "$zombies zombie children under the worker"
kill "$LAST_PID"

# Fails the first time (exit 3, a message on stderr), succeeds the second.
start_worker w2 -j 2 --exec "f=$WORK/marks/\$SLUICE_SEQ; if [ -e \$f ]; then echo ok \$SLUICE_ATTEMPT; else touch \$f; echo 'first run fails' >&2; exit 3; fi"
seq 1 10 > "$WORK/tasks2.txt"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --retries 1 "$WORK/tasks2.txt" >/dev/null \
    2>>"$WORK/v.log" || fail "ventilator"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" -o "$WORK/retry.jsonl" -f jsonl 2>"$WORK/s2.log"
expect_rc 0 $? "sink with retried tasks"
$CHECK "$WORK/tasks2.txt" "$WORK/retry.jsonl" || fail "retry results"
"$PYTHON" - "$WORK/retry.jsonl" <<'PY' || fail "retried tasks wrong"
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    assert r["attempts"] == 2 and r["output"] == "ok 2\n", r
PY

# Without --retries the first failure is final: failed, exit 3, its stderr.
rm -f "$WORK"/marks/*
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" "$WORK/tasks2.txt" >/dev/null 2>>"$WORK/v.log" \
    || fail "ventilator"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" -o "$WORK/noretry.jsonl" -f jsonl 2>"$WORK/s3.log"
expect_rc 1 $? "sink without retries"
"$PYTHON" - "$WORK/noretry.jsonl" <<'PY' || fail "failed tasks wrong"
import json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    assert (r["status"], r["exit_code"], r["attempts"], r["stderr"]) == \
        ("failed", 3, 1, "first run fails\n"), r
    n += 1
assert n == 10, n
PY

# A retry runs on another worker when there is one: each task fails on the
# worker that runs it first (which it records) and succeeds on any other.
kill "$LAST_PID" 2>/dev/null
mkdir -p "$WORK/first"
CMD="f=$WORK/first/\$SLUICE_SEQ; if [ -e \$f ] && [ \"\$(cat \$f)\" != \$PPID ]; then echo ok; else echo \$PPID > \$f; exit 5; fi"
start_worker w3 -j 2 --exec "$CMD"; W3_PID=$LAST_PID
start_worker w4 -j 2 --exec "$CMD"; W4_PID=$LAST_PID
wait_workers 4
seq 1 20 > "$WORK/tasks3.txt"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --retries 1 "$WORK/tasks3.txt" >/dev/null \
    2>>"$WORK/v.log" || fail "ventilator (other worker)"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" -o "$WORK/other.jsonl" -f jsonl 2>"$WORK/s4.log"
expect_rc 0 $? "sink: every retry ran on the other worker"
"$PYTHON" - "$WORK/other.jsonl" "$WORK/first" <<'PY' || fail "a retry ran on the worker that failed"
import json, os, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    failed_on = open(os.path.join(sys.argv[2], str(r["seq"]))).read().strip()
    assert r["status"] == "ok" and r["attempts"] == 2, r
    assert r["worker"].rsplit(":", 1)[1] != failed_on, (r, failed_on)
PY

# The built-in sleep runs on the library's worker API: a handler over its
# time limit is asked to stop (sluice_task_sleep returns early) and its
# task ends `timeout` at once, not when the sleep would have ended.
kill "$W3_PID" "$W4_PID" 2>/dev/null
start_worker w5 -j 2 --builtin sleep
printf '60000\n60000\n20\n' > "$WORK/tasks5.txt"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --timeout 0.3 "$WORK/tasks5.txt" >/dev/null \
    2>>"$WORK/v.log" || fail "ventilator (builtin sleep)"
timeout 20 "$SLUICE_BIN/sluice-sink" --broker "$BROKER" -o "$WORK/sleep.jsonl" -f jsonl \
    2>"$WORK/s5.log"
expect_rc 1 $? "sink with timed-out built-in sleeps"
"$PYTHON" - "$WORK/sleep.jsonl" <<'PY' || fail "built-in sleep over its time limit"
import json, sys
rs = {json.loads(l)["seq"]: json.loads(l) for l in open(sys.argv[1])}
assert sorted(rs) == [1, 2, 3], rs
for s in (1, 2):
    assert rs[s]["status"] == "timeout", rs[s]
    assert 250 <= rs[s]["duration_ms"] < 3000, rs[s]  # stopped at the 300 ms limit
assert rs[3]["status"] == "ok" and rs[3]["output"] == "20", rs[3]
PY
