# Every NATS server stopped (SIGSTOP) for a few seconds in the middle of a
# job, then woken: the broker's publishes get no answer, its journal fails,
# and it retries without waiting for NATS in its loop: all along it answers
# `sluice-ctl status` within a second and its workers' heartbeats (no
# worker finds it silent). Once the servers are back the retry's message
# is stored, the broker takes results again, and every seq reaches the
# sink exactly once. (Before: each retry published the messages again one
# by one, each waiting up to 3 s for its answer, in the broker's loop.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nats_lib.sh"
nats_require
start_nats_cluster
HB=200

for i in $(seq 1 3000); do echo 5; done >"$WORK/tasks.txt"
start_broker_nats outage --heartbeat $HB
start_worker w1 --builtin sleep -j 8 --heartbeat $HB
start_worker w2 --builtin sleep -j 8 --heartbeat $HB
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job out "$WORK/tasks.txt" \
    >/dev/null 2>>"$WORK/ventilator.log" || fail "ventilator"
start_bg sink "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job out -o "$WORK/out.jsonl" -f jsonl
SINK=$LAST_PID
for ((i = 0; i < 400; i++)); do
    [ -f "$WORK/out.jsonl" ] && [ "$(wc -l <"$WORK/out.jsonl")" -ge 300 ] && break
    sleep 0.05
done
[ "$(wc -l <"$WORK/out.jsonl")" -ge 300 ] || fail "too few results before the outage"

for i in 1 2 3; do kill -STOP "${NATS_PID[$i]}"; done
# While the servers are stopped: the broker answers, at once, every time.
status_rounds "during the outage" 0.7
for i in 1 2 3; do kill -CONT "${NATS_PID[$i]}"; done
expect_grep "cannot publish to the journal stream outage" "$WORK/broker.log" "the journal's failure"

wait_pid "$SINK" 90
expect_rc 0 "$WAIT_RC" "sink across the outage"
$CHECK "$WORK/tasks.txt" "$WORK/out.jsonl" --expect echo --job out || fail "results"
expect_grep "can be written again" "$WORK/broker.log" "the journal's recovery"
if grep -q "has not answered" "$WORK/w1.log" "$WORK/w2.log"; then
    fail "a worker found the broker silent during the outage"
fi
kill -0 "$BROKER_PID" 2>/dev/null || fail "the broker should still run"
echo "nats_outage: ok"
