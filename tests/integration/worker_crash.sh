# Workers die mid-job (kill -9) or hang (kill -STOP): their tasks are run
# elsewhere, every seq reaches the sink exactly once, the killed worker's
# tasks show attempts >= 2, and a hung worker's late results are dropped.
. "$(dirname "$0")/lib.sh"

for i in $(seq 1 300); do echo 100; done > "$WORK/tasks.txt"
HB=200
start_broker --heartbeat $HB
start_worker w1 --builtin sleep -j 4 --heartbeat $HB; W1=$LAST_PID
start_worker w2 --builtin sleep -j 4 --heartbeat $HB; W2=$LAST_PID
start_worker w3 --builtin sleep -j 4 --heartbeat $HB; W3=$LAST_PID
wait_workers 3

# --- kill -9 -------------------------------------------------------------
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" "$WORK/tasks.txt" >"$WORK/job1" 2>>"$WORK/v.log" \
    || fail "ventilator"
start_bg sink1 "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job "$(cat "$WORK/job1")" \
    -o "$WORK/out1.jsonl" -f jsonl
SINK=$LAST_PID
sleep 1.0
kill -9 "$W1"
wait_pid "$SINK" 60
expect_rc 0 "$WAIT_RC" "sink after kill -9"
$CHECK "$WORK/tasks.txt" "$WORK/out1.jsonl" || fail "results after kill -9"
expect_grep "worker .* silent for" "$WORK/broker.log" "lost worker"
lost=$(grep -o "its [0-9]* tasks go to other workers" "$WORK/broker.log" | head -1 | grep -o "[0-9]*")
lost=${lost:-0}
retried=$("$PYTHON" -c '
import json, sys
print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["attempts"] >= 2))' "$WORK/out1.jsonl")
# The tasks it was running (4 slots) ran again: attempts >= 2. Tasks it held
# without having started them (push dispatch deals many) did not run on it,
# so they show attempts 1. (On a loaded machine the worker may hold nothing
# at the moment it is killed; then there is nothing to rerun.)
running=$(( lost < 4 ? lost : 4 ))
[ "$retried" -ge "$running" ] \
    || fail "$lost tasks were lost with the killed worker, $retried results show attempts >= 2"
echo "kill -9: $lost tasks redone elsewhere"

# --- kill -STOP, then -CONT -------------------------------------------------
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" "$WORK/tasks.txt" >"$WORK/job2" 2>>"$WORK/v.log" \
    || fail "ventilator"
start_bg sink2 "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job "$(cat "$WORK/job2")" \
    -o "$WORK/out2.jsonl" -f jsonl
SINK=$LAST_PID
sleep 1.0
kill -STOP "$W2"
stopped=$(date +%s%N)
# The job must finish while w2 is still stopped: its tasks are redone.
wait_pid "$SINK" 30
done_ms=$(( ($(date +%s%N) - stopped) / 1000000 ))
expect_rc 0 "$WAIT_RC" "sink with a stopped worker"
kill -CONT "$W2"
$CHECK "$WORK/tasks.txt" "$WORK/out2.jsonl" || fail "results with a stopped worker"
expect_grep "silent for" "$WORK/broker.log" "stopped worker declared gone"
# Declared gone (and its tasks requeued) within about 3 heartbeat intervals.
silent=$(grep -o "silent for [0-9]* ms" "$WORK/broker.log" | tail -1 | grep -o "[0-9]*")
[ "$silent" -le $((5 * HB)) ] || fail "the stopped worker was given up after $silent ms"
echo "kill -STOP: tasks requeued after ${silent} ms of silence; job finished ${done_ms} ms after the stop"
# Once resumed, w2 reports results of tasks already redone: dropped, and
# it rejoins the broker.
wait_log "$WORK/broker.log" "worker .* reconnected|worker .* joined" 4 20
sleep 1
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" "$WORK/tasks.txt" >"$WORK/job3" 2>>"$WORK/v.log" \
    || fail "ventilator"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job "$(cat "$WORK/job3")" -o "$WORK/out3.jsonl" \
    -f jsonl 2>>"$WORK/sink3.log" || fail "third job after the worker resumed"
$CHECK "$WORK/tasks.txt" "$WORK/out3.jsonl" || fail "results after the worker resumed"
kill -TERM "$BROKER_PID"
wait_pid "$BROKER_PID" 10
dups=$(grep -o "[0-9]* duplicates dropped" "$WORK/broker.log" | grep -o "^[0-9]*")
# Whether the resumed worker's late results reach the broker at all depends
# on timing (those in flight when its connection was closed are lost with
# it); when they do, they are dropped: the sink's files above hold no
# duplicate either way.
echo "late results dropped by the broker: ${dups:-0}"
