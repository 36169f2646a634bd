# SIGTERM drains a worker: it takes no new task, hands back those it has
# not started, finishes the running ones and exits 0; nothing is lost. A
# second signal stops it at once and its running tasks are redone.
. "$(dirname "$0")/lib.sh"

for i in $(seq 1 40); do echo 400; done > "$WORK/tasks.txt"
HB=200
start_broker --heartbeat $HB
start_worker w1 --builtin sleep -j 4 --heartbeat $HB; W1=$LAST_PID
wait_workers 1
JOB=$("$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" "$WORK/tasks.txt" 2>>"$WORK/v.log") \
    || fail "ventilator"
start_bg sink "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job "$JOB" -o "$WORK/out.jsonl" -f jsonl
SINK=$LAST_PID
sleep 0.6
start_worker w2 --builtin sleep -j 4 --heartbeat $HB; W2=$LAST_PID
kill -TERM "$W1"
wait_pid "$W1" 10
expect_rc 0 "$WAIT_RC" "drained worker"
expect_grep "draining: [0-9]* tasks handed back" "$WORK/w1.log" "drain message"
wait_pid "$SINK" 60
expect_rc 0 "$WAIT_RC" "sink"
$CHECK "$WORK/tasks.txt" "$WORK/out.jsonl" || fail "results after a drain"
# A drained worker finished what it ran: no task needed a second run.
"$PYTHON" -c '
import json, sys
bad = [json.loads(l) for l in open(sys.argv[1]) if json.loads(l)["attempts"] != 1]
sys.exit(1 if bad else 0)' "$WORK/out.jsonl" || fail "a drained worker's task ran twice"

# Two signals: the second stops at once, its running tasks are redone.
kill -TERM "$W2"
wait_pid "$W2" 10
for i in $(seq 1 8); do echo 3000; done > "$WORK/slow.txt"
start_worker w3 --builtin sleep -j 4 --heartbeat $HB; W3=$LAST_PID
wait_workers 3
JOB=$("$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" "$WORK/slow.txt" 2>>"$WORK/v.log") \
    || fail "ventilator"
sleep 0.5
kill -INT "$W3"
sleep 0.2
kill -INT "$W3"
wait_pid "$W3" 3
expect_grep "second signal: stopping now; 4 running tasks go back" "$WORK/w3.log" "abort message"
start_worker w4 --builtin sleep -j 8 --heartbeat $HB
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job "$JOB" -o "$WORK/slow.jsonl" -f jsonl \
    2>>"$WORK/sink2.log" || fail "sink after an aborted worker"
$CHECK "$WORK/slow.txt" "$WORK/slow.jsonl" || fail "results after an aborted worker"
