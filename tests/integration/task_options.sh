# JSONL task files with every field (id, timeout, retries, priority) end to
# end, their errors (named by file and line, nothing sent), and
# --resume-failed: the failed tasks of a finished job run again as a new job
# whose records carry their old seqs (or ids), and nothing else does.
. "$(dirname "$0")/lib.sh"

CTL="$SLUICE_BIN/sluice-ctl"
VENT="$SLUICE_BIN/sluice-ventilator"
# ok-* succeed (printing the payload), slow-* outlast their timeout, the
# rest fail with exit status 3. {} is the payload, shell-quoted.
EXEC='case {} in ok*) printf %s {};; slow*) sleep 5;; *) exit 3;; esac'

"$PYTHON" - "$WORK/tasks.jsonl" <<'PY'
import json, sys
lines = [
    {"payload": "ok-1", "id": "first"},
    {"payload": "fail-2", "id": 2},
    {"payload": "slow-3", "timeout": 0.3},
    {"payload": "flaky-4", "retries": 2},
    {"payload": "ok \u00e9 5"},
]
lines += [{"payload": "ok-%d" % n, "priority": n % 3} for n in range(6, 31)]
with open(sys.argv[1], "w") as f:
    for i, obj in enumerate(lines):
        f.write(json.dumps(obj) + "\n")
        if i == 2:
            f.write("\n")  # an empty line is not a task
PY

start_broker
# --- JSONL errors: named by file and line, nothing sent ---------------------------
bad () { # LINE3 WANT
    { head -n 2 "$WORK/tasks.jsonl"; echo "$1"; } >"$WORK/bad.jsonl"
    "$VENT" --broker "$BROKER" --format jsonl --job bad "$WORK/bad.jsonl" >/dev/null \
        2>"$WORK/bad.log"
    expect_rc 1 "$?" "ventilator with a bad line: $1"
    expect_grep "bad.jsonl:3: $2" "$WORK/bad.log" "error for: $1"
}
bad '{"payload": "x", "prio": 1}' 'unknown member "prio"'
bad '{"payload": 7}' '"payload" is not a string'
bad '{"payload": "x", "retries": -1}' '"retries" is not a whole number'
bad '{"payload": "x", "timeout": "soon"}' '"timeout" is not a number'
bad '{"payload": "x"' 'not valid JSON'
bad 'plain text' 'not valid JSON'
"$CTL" --broker "$BROKER" status --json >"$WORK/status.json" || fail "status exit $?"
"$PYTHON" -c 'import json,sys; sys.exit(any(j["id"] == "bad" for j in json.load(open(sys.argv[1]))["jobs"]))' \
    "$WORK/status.json" || fail "a ventilator with a bad line sent tasks"

# --- Every field, end to end ----------------------------------------------------------
# Submitted before any worker: then one worker with one slot takes them
# strictly by priority.
"$VENT" --broker "$BROKER" --format jsonl --job opts "$WORK/tasks.jsonl" >/dev/null \
    2>"$WORK/ventilator.log" || fail "ventilator exit status $?"
start_worker w1 --exec "$EXEC" -j 1 --prefetch 0
W1=$LAST_PID
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job opts -o "$WORK/opts.jsonl" --format jsonl \
    2>"$WORK/sink.log"
expect_rc 1 "$?" "sink of a job with failures"
"$PYTHON" - "$WORK/opts.jsonl" <<'PY' || fail "records of the JSONL job"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
by = {r["seq"]: r for r in recs}
def want(cond, what):
    if not cond:
        sys.exit(what + "\n" + "\n".join(map(json.dumps, recs)))
want(sorted(by) == list(range(1, 31)) and len(recs) == 30, "seqs are not 1..30 once each")
want(by[1]["id"] == "first" and by[2]["id"] == "2", "ids not echoed")
want(all("id" not in by[s] for s in range(3, 31)), "an id where the task had none")
want(by[1]["status"] == "ok" and by[1]["output"] == "ok-1", "task 1")
want(by[2]["status"] == "failed" and by[2]["exit_code"] == 3 and by[2]["attempts"] == 1, "task 2")
want(by[3]["status"] == "timeout" and by[3]["duration_ms"] < 3000, "task 3 (timeout 0.3 s)")
want(by[4]["status"] == "failed" and by[4]["attempts"] == 3, "task 4 (retries 2)")
want(by[5]["status"] == "ok" and by[5]["output"] == "ok \u00e9 5", "task 5 (UTF-8)")
# Priorities 2, then 1, then 0 for tasks 6..30 in the order they ran.
order = [r["seq"] for r in recs if r["seq"] >= 6]
prios = [s % 3 for s in order]
want(prios == sorted(prios, reverse=True), "not run by priority: %s" % prios)
PY

# --- --resume-failed ----------------------------------------------------------------------
"$VENT" --broker "$BROKER" --resume-failed nosuch --format jsonl "$WORK/tasks.jsonl" \
    >/dev/null 2>"$WORK/r1.log"
expect_rc 1 "$?" "--resume-failed of an unknown job"
expect_grep "does not know job nosuch" "$WORK/r1.log" "unknown job"
head -n 10 "$WORK/tasks.jsonl" >"$WORK/short.jsonl"
"$VENT" --broker "$BROKER" --resume-failed opts --format jsonl "$WORK/short.jsonl" \
    >/dev/null 2>"$WORK/r2.log"
expect_rc 1 "$?" "--resume-failed with another task file"
expect_grep "not the same task file" "$WORK/r2.log" "other file"
# The failures were the tasks, not the worker: a worker that succeeds.
kill -TERM "$W1"
wait_pid "$W1" 20
start_worker w2 --exec 'printf %s {}' -j 2
"$VENT" --broker "$BROKER" --resume-failed opts --job again --format jsonl \
    "$WORK/tasks.jsonl" >"$WORK/again.txt" 2>"$WORK/r3.log" || fail "--resume-failed exit $?"
[ "$(cat "$WORK/again.txt")" = again ] || fail "--resume-failed printed '$(cat "$WORK/again.txt")'"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job again -o "$WORK/again.jsonl" \
    --format jsonl 2>"$WORK/sink2.log" || fail "sink of the resumed job exit $?"
"$PYTHON" - "$WORK/again.jsonl" <<'PY' || fail "records of the resumed job"
import json, sys
recs = sorted((json.loads(l) for l in open(sys.argv[1])), key=lambda r: r["seq"])
got = [(r["seq"], r.get("id"), r["status"], r["output"]) for r in recs]
want = [(1, "2", "ok", "fail-2"), (2, "3", "ok", "slow-3"), (3, "4", "ok", "flaky-4")]
if got != want:
    sys.exit("resumed job: %s, not %s" % (got, want))
PY
"$VENT" --broker "$BROKER" --resume-failed again --format jsonl "$WORK/tasks.jsonl" \
    >"$WORK/none.txt" 2>"$WORK/r4.log"
expect_rc 1 "$?" "--resume-failed of a job of another size"
"$PYTHON" -c 'import json; print(json.dumps({"payload": "ok-x"}))' >"$WORK/one.jsonl"
"$VENT" --broker "$BROKER" --job single --format jsonl "$WORK/one.jsonl" >/dev/null \
    2>>"$WORK/ventilator.log" || fail "ventilator exit $?"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job single -o /dev/null 2>>"$WORK/sink2.log" \
    || fail "sink of job single exit $?"
"$VENT" --broker "$BROKER" --resume-failed single --format jsonl "$WORK/one.jsonl" \
    >"$WORK/none.txt" 2>"$WORK/r5.log"
expect_rc 0 "$?" "--resume-failed of a job without failures"
expect_grep "no failed tasks: nothing to submit" "$WORK/r5.log" "nothing to resubmit"
[ ! -s "$WORK/none.txt" ] || fail "a job id was printed with nothing submitted"
echo "task_options: JSONL fields, errors and --resume-failed checked"
