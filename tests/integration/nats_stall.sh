# Every NATS server stops reading (SIGSTOP) while a ventilator sends 24 MB
# of big tasks: more than the sockets to the servers hold, so a publish
# written in the broker's loop would block there until the servers woke.
# The broker must go on answering `sluice-ctl status` and its workers'
# heartbeats within a second, confirm nothing to the ventilator while
# nothing is replicated, and once the servers are back take every task,
# each reaching the sink exactly once. (Under ASan this also catches a
# message freed by libnats's timeout thread while the broker's thread was
# still writing it.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nats_lib.sh"
nats_require
start_nats_cluster
HB=200

"$PYTHON" - "$WORK/tasks.txt" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(1, 401):
        f.write(("big-%04d-" % i).ljust(60000, "x") + "\n")
PY
start_broker_nats stall --heartbeat $HB
start_worker w1 --builtin echo -j 4 --heartbeat $HB
start_bg sink "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job big -o "$WORK/out.jsonl" -f jsonl
SINK=$LAST_PID
wait_log "$WORK/w1.log" "connected to broker" 1 30

for i in 1 2 3; do kill -STOP "${NATS_PID[$i]}"; done
start_bg ventilator "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job big "$WORK/tasks.txt"
VENT=$LAST_PID
status_rounds "while NATS reads nothing" 0.5
if ! kill -0 "$VENT" 2>/dev/null; then
    wait "$VENT"
    [ $? != 0 ] || fail "the ventilator exited 0 while no NATS server read anything"
    VENT=""
fi
for i in 1 2 3; do kill -CONT "${NATS_PID[$i]}"; done
kill -0 "$BROKER_PID" 2>/dev/null || fail "the broker died"
if [ -n "$VENT" ]; then
    wait_pid "$VENT" 120
    [ "$WAIT_RC" = 0 ] || VENT=""
fi
if [ -z "$VENT" ]; then
    # It gave up while the journal failed (as it may, naming the journal):
    # the same command, run again once NATS is back, sends what the broker
    # lacks (a second apart while the stream elects its leader again).
    grep -q "journal stream stall" "$WORK/ventilator.log" ||
        fail "the failed ventilator's message: $(tail -1 "$WORK/ventilator.log")"
    for ((t = 0; t < 60; t++)); do
        "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job big "$WORK/tasks.txt" \
            >/dev/null 2>>"$WORK/ventilator-again.log" && break
        sleep 1
    done
    [ "$t" -lt 60 ] || fail "the ventilator never completed the job once NATS was back"
fi
wait_pid "$SINK" 120
expect_rc 0 "$WAIT_RC" "sink"
$CHECK "$WORK/tasks.txt" "$WORK/out.jsonl" --expect echo --job big || fail "results"
if grep -q "has not answered" "$WORK/w1.log"; then
    fail "the worker found the broker silent while NATS read nothing"
fi
echo "nats_stall: ok"
