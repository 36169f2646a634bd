# A clean stop never counts a lost run, whatever the timing of the
# worker's Bye (control socket) against its last results (results
# socket): nothing orders the two, and a broker that handled the Bye first
# used to count every task whose result was still on its way as lost
# (issue 15). Each round: 4 tasks of 300 ms on a 4-slot worker, SIGTERM
# while they run, so that the worker finishes them all at once and says
# Bye right after their results; built-in (library) and --exec workers in
# turn. Every round: exit 0, every result ok and run once, and the broker
# says the worker left with no task to give to others.
. "$(dirname "$0")/lib.sh"

HB=200
ROUNDS=${BYE_ROUNDS:-10}
for i in 1 2 3 4; do echo 300; done > "$WORK/tasks.txt"
start_broker --heartbeat $HB
for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2)); then
        start_worker "w$r" --builtin sleep -j 4 --heartbeat $HB
    else
        start_worker "w$r" --exec 'sleep 0.3; cat' -j 4 --heartbeat $HB
    fi
    W=$LAST_PID
    wait_workers $r
    JOB=$("$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job "bye-$r" "$WORK/tasks.txt" \
          2>>"$WORK/v.log") || fail "round $r: ventilator"
    wait_log "$WORK/w$r.log" "." 1 5
    sleep 0.1
    kill -TERM "$W"
    wait_pid "$W" 10
    expect_rc 0 "$WAIT_RC" "round $r: drained worker"
    "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job "$JOB" -o "$WORK/out-$r.jsonl" -f jsonl \
        2>>"$WORK/sink.log" || fail "round $r: sink"
    $CHECK "$WORK/tasks.txt" "$WORK/out-$r.jsonl" || fail "round $r: results"
    "$PYTHON" -c '
import json, sys
bad = [r for r in map(json.loads, open(sys.argv[1])) if r["attempts"] != 1 or r["status"] != "ok"]
sys.exit("%d results ran more than once or failed: %s" % (len(bad), bad[:2]) if bad else 0)' \
        "$WORK/out-$r.jsonl" || fail "round $r: a task counted a lost run"
done
if grep -E "tasks go to other workers" "$WORK/broker.log" >&2; then
    fail "the broker counted runs of cleanly stopped workers as lost"
fi
[ "$(grep -c -E "worker .* left" "$WORK/broker.log")" = "$ROUNDS" ] \
    || fail "not every worker was seen to leave"
echo "ok: $ROUNDS clean stops, no lost run"
