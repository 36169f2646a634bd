# Backpressure: a broker with --max-memory 4M is given a job of 300,000
# tasks (about 90 MB of tasks and records) with no worker connected. It
# must pause its intake at the limit (logged once, not per batch), the
# ventilator must block and say why, and the broker's memory must stay far
# below what the job would take. Then workers and a sink come, the
# ventilator finishes, and every result arrives exactly once.
. "$(dirname "$0")/lib.sh"

N=${BACKPRESSURE_TASKS:-300000}
"$PYTHON" -c '
import sys
with open(sys.argv[1], "w") as f:
    for i in range(1, int(sys.argv[2]) + 1):
        f.write("task %d %s\n" % (i, "y" * (150 + i % 100)))
' "$WORK/tasks.txt" "$N"

rss_kb () { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

start_broker --max-memory 4M
BASE_RSS=$(rss_kb "$BROKER_PID")
start_bg ventilator "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job bp "$WORK/tasks.txt"
VENT_PID=$LAST_PID
wait_log "$WORK/broker.log" "memory limit reached" 1 30
wait_log "$WORK/ventilator.log" "the broker is at its memory limit" 1 30
kill -0 "$VENT_PID" 2>/dev/null || fail "the ventilator exited while the broker was full"
# Held for a while at the limit: memory stays bounded (the limit, the
# intake's 16 batches of 256 KiB, the journal's buffers, libzmq's).
sleep 2
RSS=$(rss_kb "$BROKER_PID")
echo "backpressure: broker RSS ${BASE_RSS} kB at start, ${RSS} kB at the limit"
[ $((RSS - BASE_RSS)) -lt 40000 ] \
    || fail "broker RSS grew by $((RSS - BASE_RSS)) kB at a 4 MiB limit (job of $N tasks)"

start_worker w1 --builtin echo -j 2
start_worker w2 --builtin echo -j 2
start_bg sink "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job bp -o "$WORK/out.jsonl" \
    --format jsonl
SINK_PID=$LAST_PID
wait_pid "$VENT_PID" 120
expect_rc 0 "$WAIT_RC" "ventilator"
wait_pid "$SINK_PID" 120
expect_rc 0 "$WAIT_RC" "sink"
$CHECK "$WORK/tasks.txt" "$WORK/out.jsonl" --expect echo --job bp \
    || fail "results do not match the task file"
expect_grep "$N results: $N ok, 0 failed" "$WORK/sink.log" "sink summary"
# Paused and resumed many times, logged once a minute at most.
PAUSES=$(grep -c "memory limit reached" "$WORK/broker.log")
[ "$PAUSES" -le 3 ] || fail "the broker logged its memory limit $PAUSES times"
echo "backpressure: $N tasks through a 4 MiB broker"
