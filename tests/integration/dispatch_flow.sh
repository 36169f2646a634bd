# Dispatch within credit never fails: 50,000 tiny echo tasks through a
# broker and 2 workers -j 2 (the load that kept a worker's dispatch pipe
# full when it held 2 batches), every seq reaches the sink exactly once,
# and the broker's metrics say that no task batch sent to a worker failed
# (sluice_dispatch_sends_failed_total 0: a failed send packs a batch for
# nothing and puts its tasks back) and that every task was sent exactly
# once (tasks_dispatched_total = tasks: none taken back, none lost).
# Runs in both dispatch modes (dispatch_flow_push: --dispatch push).
. "$(dirname "$0")/lib.sh"

N=50000
"$PYTHON" -c '
import sys
with open(sys.argv[1], "w") as f:
    for i in range(1, int(sys.argv[2]) + 1):
        f.write("task %06d %s\n" % (i, "x" * 86))
' "$WORK/tasks.txt" "$N"
METRICS_PORT=$(free_port)
METRICS="http://127.0.0.1:$METRICS_PORT/metrics"
start_broker --metrics "tcp://127.0.0.1:$METRICS_PORT"
start_worker w1 --builtin echo -j 2
start_worker w2 --builtin echo -j 2
wait_workers 2

# metric NAME : its value in the broker's metrics.
metric () {
    curl -sf "$METRICS" | awk -v name="sluice_$1" '$1 == name { print $2 }'
}

"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job flow "$WORK/tasks.txt" \
    >/dev/null 2>"$WORK/ventilator.log" || fail "ventilator exit status $?"
start_bg sink "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job flow -o "$WORK/out.jsonl" \
    --format jsonl
wait_pid "$LAST_PID" 120
expect_rc 0 "$WAIT_RC" "sink"
$CHECK "$WORK/tasks.txt" "$WORK/out.jsonl" --expect echo --workers 2 --job flow \
    || fail "results do not match the task file"
failed=$(metric dispatch_sends_failed_total)
dispatched=$(metric tasks_dispatched_total)
echo "dispatch_flow (${SLUICE_DISPATCH:-fair}): $N tasks, $dispatched dispatched, $failed failed sends"
[ "$failed" = 0 ] || fail "$failed task batches to workers failed to send"
[ "$dispatched" = "$N" ] || fail "$dispatched runs dispatched for $N tasks"

echo "dispatch_flow: ok"
