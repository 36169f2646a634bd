# A foreign worker (examples/python/worker.py, built on docs/protocol.md)
# works beside the C one: (1) a job shared by a C and a Python worker
# reaches the sink exactly once, with the right outputs, both workers doing
# a fair part of it; (2) the Python worker alone runs --exec commands
# without a shell (payload as an argument), reporting failures, exit codes,
# stderr and timeouts; (3) stopped with SIGTERM, it hands back what it held
# (Release, Bye), so nothing counts as lost and a C worker finishes the job.
# Prints SKIP when python3-zmq, python3-protobuf or protoc is missing.
. "$(dirname "$0")/lib.sh"

need_python_proto
PYWORKER="$SLUICE_TESTS/../examples/python/worker.py"
HOST=$("$PY" -c 'import socket; print(socket.gethostname())')

# start_py NAME ARGS... : starts the Python worker; its pid in LAST_PID.
start_py () {
    local name=$1
    shift
    start_bg "$name" "$PY" "$PYWORKER" --broker "$BROKER" --pb-dir "$WORK/pb" "$@"
}

HB=200
start_broker --heartbeat $HB

# (1) 2000 echo tasks, one C and one Python worker. Payloads include bytes
# that are not UTF-8, quotes and tabs: outputs must match byte for byte.
"$PY" - "$WORK/tasks.txt" <<'PY'
import random, sys
r = random.Random(11)
with open(sys.argv[1], "wb") as f:
    for i in range(1, 2001):
        odd = [b"", b"\xff\xfe", b"'q' \"dq\"", b"\ttab", b"$(touch x)", "é".encode()][i % 6]
        f.write(b"task %d %s%s\n" % (i, odd, b"x" * r.randint(0, 100)))
PY
start_worker c --builtin echo -j 2 --heartbeat $HB; C_PID=$LAST_PID
start_py py -j 2 --heartbeat $HB; PY_PID=$LAST_PID
wait_workers 2
JOB=$("$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" "$WORK/tasks.txt" 2>>"$WORK/v.log") \
    || fail "ventilator (shared job)"
start_bg sink "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job "$JOB" -o "$WORK/out.jsonl" -f jsonl
wait_pid "$LAST_PID" 60
expect_rc 0 "$WAIT_RC" "sink (shared job)"
$CHECK "$WORK/tasks.txt" "$WORK/out.jsonl" --expect echo --workers 2 --job "$JOB" \
    || fail "shared job: results do not match the task file"
"$PY" - "$WORK/out.jsonl" "$HOST:$C_PID" "$HOST:$PY_PID" <<'PY' || fail "shared job: shares"
import json, sys
from collections import Counter
recs = [json.loads(l) for l in open(sys.argv[1])]
c, py = sys.argv[2], sys.argv[3]
count = Counter(r["worker"] for r in recs)
print("tasks per worker: C %s: %d, Python %s: %d" % (c, count[c], py, count[py]))
bad = [r for r in recs if r["attempts"] != 1 or r["exit_code"] != 0]
for r in bad[:5]:
    print("unexpected record:", r, file=sys.stderr)
# Both must have done a real part (each gets about half when both keep up).
sys.exit(1 if bad or set(count) != {c, py} or min(count.values()) < 200 else 0)
PY
kill -TERM "$C_PID" "$PY_PID"
wait_pid "$C_PID" 10
wait_pid "$PY_PID" 10
expect_rc 0 "$WAIT_RC" "Python worker stopped by SIGTERM"

# (2) The Python worker alone, --exec without a shell: payload "N rest" is
# one argument ($1 of an explicit sh); exit status N % 3. Nothing in a
# payload may be run: "$(touch ...)" stays text.
"$PY" - "$WORK/exec.txt" "$WORK/pwned" <<'PY'
import sys
odd = ["", " $(touch %s)" % sys.argv[2], " 'q' \"dq\"", " ;exit 0", " `touch %s`" % sys.argv[2], "  two  spaces"]
with open(sys.argv[1], "w") as f:
    for n in range(30):
        f.write("%d%s\n" % (n, odd[n % 6]))
PY
start_py py2 -j 3 --heartbeat $HB \
    --exec "sh -c 'n=\${1%% *}; echo \"out \$1\"; echo \"err \$n\" >&2; exit \$((n % 3))' sh {}"
PY2_PID=$LAST_PID
JOB=$("$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" "$WORK/exec.txt" 2>>"$WORK/v.log") \
    || fail "ventilator (exec job)"
start_bg sink2 "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job "$JOB" -o "$WORK/exec.jsonl" -f jsonl
wait_pid "$LAST_PID" 60
expect_rc 1 "$WAIT_RC" "sink (exec job with failed tasks)"
$CHECK "$WORK/exec.txt" "$WORK/exec.jsonl" --status any --workers 1 --job "$JOB" \
    || fail "exec job: results incomplete"
[ -e "$WORK/pwned" ] && fail "a payload was run as a command"
"$PY" - "$WORK/exec.txt" "$WORK/exec.jsonl" "$HOST:$PY2_PID" <<'PY' || fail "exec job: records"
import json, sys
payloads = open(sys.argv[1]).read().split("\n")
bad = 0
for line in open(sys.argv[2]):
    r = json.loads(line)
    payload = payloads[r["seq"] - 1]
    n = int(payload.split()[0])
    want = ("ok" if n % 3 == 0 else "failed", n % 3, "out %s\n" % payload, "err %d\n" % n,
            sys.argv[3])
    got = (r["status"], r["exit_code"], r["output"], r.get("stderr"), r["worker"])
    if got != want:
        print("seq %d: got %r, want %r" % (r["seq"], got, want), file=sys.stderr)
        bad += 1
sys.exit(1 if bad else 0)
PY
expect_grep "30 results: 10 ok, 20 failed, 0 timed out" "$WORK/sink2.log" "exec job summary"
kill -TERM "$PY2_PID"
wait_pid "$PY2_PID" 10

# Time limits: SIGTERM to the process group, status timeout, exit 128+15.
printf '0.1\n5\n' > "$WORK/sleep.txt"
start_py py3 -j 2 --heartbeat $HB --exec "sleep {}"; PY3_PID=$LAST_PID
JOB=$("$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --timeout 0.5 "$WORK/sleep.txt" \
    2>>"$WORK/v.log") || fail "ventilator (sleep job)"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job "$JOB" -o "$WORK/sleep.jsonl" -f jsonl \
    2>>"$WORK/sink3.log"
expect_rc 1 $? "sink (sleep job)"
"$PY" - "$WORK/sleep.jsonl" <<'PY' || fail "sleep job: statuses"
import json, sys
got = sorted((r["seq"], r["status"], r["exit_code"]) for r in map(json.loads, open(sys.argv[1])))
print("sleep job:", got)
sys.exit(0 if got == [(1, "ok", 0), (2, "timeout", 143)] else 1)
PY
kill -TERM "$PY3_PID"
wait_pid "$PY3_PID" 10

# (3) SIGTERM while it holds 2 running and 2 waiting tasks: the waiting
# ones are handed back at once, the running ones when the drain times out
# (Bye). Nothing is lost: a C worker runs all four, each in one attempt.
printf '10\n10\n10\n10\n' > "$WORK/hold.txt"
start_py py4 -j 2 --prefetch 2 --heartbeat $HB --drain-timeout 0.3 --exec "sleep {}"
PY4_PID=$LAST_PID
JOB=$("$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" "$WORK/hold.txt" 2>>"$WORK/v.log") \
    || fail "ventilator (hold job)"
"$PY" - "$PY4_PID" <<'PY' || fail "the Python worker did not start 2 tasks"
import os, sys, time
deadline = time.time() + 10
while time.time() < deadline:
    kids = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open("/proc/%s/stat" % pid).read()
        except OSError:
            continue
        kids += stat.rsplit(")", 1)[1].split()[1] == sys.argv[1]
    if kids >= 2:
        sys.exit(0)
    time.sleep(0.05)
sys.exit(1)
PY
sleep 0.5   # a heartbeat has claimed them
kill -TERM "$PY4_PID"
wait_pid "$PY4_PID" 10
expect_rc 0 "$WAIT_RC" "Python worker drained by SIGTERM"
expect_grep "draining: 2 tasks handed back" "$WORK/py4.log" "handing back waiting tasks"
wait_log "$WORK/broker.log" "worker $HOST:$PY4_PID left" 1 10
grep -q "worker $HOST:$PY4_PID left: its" "$WORK/broker.log" \
    && fail "the broker found tasks the Python worker did not hand back"
start_worker c2 --exec 'echo done' -j 4 --heartbeat $HB; C2_PID=$LAST_PID
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job "$JOB" -o "$WORK/hold.jsonl" -f jsonl \
    2>>"$WORK/sink4.log" || fail "sink (hold job)"
$CHECK "$WORK/hold.txt" "$WORK/hold.jsonl" --workers 1 --job "$JOB" || fail "hold job results"
"$PY" - "$WORK/hold.jsonl" "$HOST:$C2_PID" <<'PY' || fail "hold job: handed-back runs counted"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
bad = [r for r in recs if r["attempts"] != 1 or r["worker"] != sys.argv[2]]
for r in bad:
    print("unexpected record:", r, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
# The broker's own count: no run was lost in the whole test, and exactly the
# 4 runs of (3) were handed back. Push: what a draining worker hands back
# while its PULL is still connected may be dealt straight back to it (and
# then be handed back again, or come back by the unclaimed lease), so only
# "at least 4 handed back" holds.
kill -TERM "$BROKER_PID"
wait_pid "$BROKER_PID" 10
stats=$(grep "broker stopping" "$WORK/broker.log")
if [ "${SLUICE_DISPATCH:-fair}" = push ]; then
    [[ $stats =~ ([0-9]+)\ handed\ back ]] && [ "${BASH_REMATCH[1]}" -ge 4 ] \
        || fail "runs handed back: $stats"
else
    [[ $stats == *" 0 runs lost, 4 handed back,"* ]] || fail "runs lost or handed back: $stats"
fi
echo "python_worker: all checks passed"
