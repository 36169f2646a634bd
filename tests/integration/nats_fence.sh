# Two brokers on one NATS journal stream: at most one acts. Broker A runs
# a job; broker B is started on the same stream (other ports) and replays
# it. A goes on appending (its workers' results), so when B appends for
# the first time (a job submitted to it), the stream's last sequence is
# not the one B expects: JetStream refuses the append, B logs that
# another broker wrote to the stream and exits 1, having confirmed
# nothing (its ventilator never exits 0). A is unharmed: its job ends with
# every seq exactly once. Then the other way round: with A idle, a broker
# C that starts and appends first deposes A at A's next append.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nats_lib.sh"
nats_require
start_nats_cluster
HB=200

for i in $(seq 1 600); do echo 20; done >"$WORK/a.txt"
start_broker_nats fence --heartbeat $HB
A_PID=$BROKER_PID
A_BROKER=$BROKER
start_worker w1 --builtin sleep -j 2 --heartbeat $HB
"$SLUICE_BIN/sluice-ventilator" --broker "$A_BROKER" --job job-a "$WORK/a.txt" \
    >/dev/null 2>>"$WORK/ventilator-a.log" || fail "ventilator to A"
wait_log "$WORK/broker.log" "job job-a has 600 tasks" 1 20

# Broker B on the same stream, its own ports and log.
PORT=$(free_port)
BROKER="tcp://127.0.0.1:$PORT"
mv "$WORK/broker.log" "$WORK/broker-a.log"
start_broker_nats fence --heartbeat $HB
B_PID=$BROKER_PID
mv "$WORK/broker.log" "$WORK/broker-b.log"
wait_log "$WORK/broker-b.log" "nats stream fence: [0-9]+ records replayed" 1 20
sleep 0.5 # A appends results meanwhile
echo "fenced task" >"$WORK/b.txt"
start_bg ventilator-b "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job job-b "$WORK/b.txt"
VENT_B=$LAST_PID
wait_pid "$B_PID" 20
expect_rc 1 "$WAIT_RC" "broker B, fenced"
expect_grep "another broker wrote to the journal stream fence" "$WORK/broker-b.log" "B's reason"
expect_grep "broker stopped: another broker took over" "$WORK/broker-b.log" "B's last words"
sleep 1
kill -0 "$VENT_B" 2>/dev/null || {
    wait "$VENT_B"
    rc=$?
    [ $rc = 0 ] && fail "the ventilator of job-b exited 0 though its broker was fenced"
}
kill "$VENT_B" 2>/dev/null

# A finishes its job, every seq once; job-b never reached the stream.
"$SLUICE_BIN/sluice-sink" --broker "$A_BROKER" --job job-a -o "$WORK/a.jsonl" -f jsonl \
    2>>"$WORK/sink.log" || fail "sink of A"
$CHECK "$WORK/a.txt" "$WORK/a.jsonl" --expect echo --job job-a || fail "A's results"
kill -0 "$A_PID" 2>/dev/null || fail "broker A should still run"
if grep -q "another broker" "$WORK/broker-a.log"; then fail "A should not be fenced"; fi

# The other way round: A idle; C starts and takes a job first; A's next
# append (a job submitted to it) fails and A stops.
PORT=$(free_port)
BROKER="tcp://127.0.0.1:$PORT"
start_broker_nats fence --heartbeat $HB
C_PID=$BROKER_PID
mv "$WORK/broker.log" "$WORK/broker-c.log"
wait_log "$WORK/broker-c.log" "nats stream fence: [0-9]+ records replayed" 1 20
echo "c task" >"$WORK/c.txt"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job job-c "$WORK/c.txt" \
    >/dev/null 2>>"$WORK/ventilator-c.log" || fail "ventilator to C"
start_bg ventilator-a2 "$SLUICE_BIN/sluice-ventilator" --broker "$A_BROKER" --job job-a2 "$WORK/c.txt"
VENT_A2=$LAST_PID
wait_pid "$A_PID" 20
expect_rc 1 "$WAIT_RC" "broker A, deposed by C"
expect_grep "another broker wrote to the journal stream fence" "$WORK/broker-a.log" "A's reason"
kill "$VENT_A2" 2>/dev/null
kill -0 "$C_PID" 2>/dev/null || fail "broker C should still run"
echo "nats_fence: ok"
