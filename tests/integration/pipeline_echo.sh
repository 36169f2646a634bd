# 10,000 echo tasks through the broker and 2 workers: every seq reaches the
# sink exactly once and every output equals its line of the task file.
. "$(dirname "$0")/lib.sh"

"$PYTHON" -c '
import random
r = random.Random(7)
with open("'"$WORK"'/tasks.txt", "w") as f:
    for i in range(1, 10001):
        f.write("task %d %s\n" % (i, "x" * r.randint(0, 200)))
'
start_broker
start_worker w1 --builtin echo -j 2
start_worker w2 --builtin echo -j 2
wait_workers 2
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" "$WORK/tasks.txt" \
    >"$WORK/job.txt" 2>"$WORK/ventilator.log" || fail "ventilator exit status $?"
JOB=$(cat "$WORK/job.txt")
[ -n "$JOB" ] || fail "ventilator printed no job id"
start_bg sink "$SLUICE_BIN/sluice-sink" --broker "$BROKER" -o "$WORK/out.jsonl" --format jsonl
wait_pid "$LAST_PID" 60
expect_rc 0 "$WAIT_RC" "sink"
$CHECK "$WORK/tasks.txt" "$WORK/out.jsonl" --expect echo --workers 2 --job "$JOB" \
    || fail "results do not match the task file"
expect_grep "10000 results: 10000 ok, 0 failed" "$WORK/sink.log" "sink summary"
