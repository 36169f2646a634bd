# A deposed broker serves nothing: the active broker of a standby pair is
# stopped (SIGSTOP) in the middle of a job, longer than every timeout; the
# standby takes over and the clients follow it. Woken (SIGCONT), the old
# broker holds the stream again before it serves anything, finds that
# another broker wrote, and stops (exit 1) without welcoming, dealing or
# delivering anything: a worker that knows only the old broker's address
# and says hello to it all along gets no task from it. Every seq reaches
# the sink exactly once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nats_lib.sh"
nats_require
start_nats_cluster
HB=200

start_standby_pair deposed

for i in $(seq 1 2000); do echo 5; done >"$WORK/tasks.txt"
start_bg worker1 "$SLUICE_BIN/sluice-worker" --broker "$BROKERS" --builtin sleep -j 8 --heartbeat $HB
# Knows only A: keeps saying hello to A while A is stopped.
start_bg worker-a "$SLUICE_BIN/sluice-worker" --broker "$A" --builtin echo -j 4 --heartbeat $HB
start_bg sink "$SLUICE_BIN/sluice-sink" --broker "$BROKERS" --job dep -o "$WORK/out.jsonl" -f jsonl
SINK=$LAST_PID
start_bg ventilator "$SLUICE_BIN/sluice-ventilator" --broker "$BROKERS" --job dep "$WORK/tasks.txt"
VENT=$LAST_PID
for ((i = 0; i < 600; i++)); do
    [ -f "$WORK/out.jsonl" ] && [ "$(wc -l <"$WORK/out.jsonl")" -ge 300 ] && break
    sleep 0.05
done
kill -STOP "$A_PID"
wait_log "$WORK/broker-b.log" "took over the journal" 1 20
sleep 3 # longer than every client's timeout: they follow B
wc -l <"$WORK/out.jsonl" >"$WORK/before-wake"
WAKE_LINE=$(wc -l <"$WORK/broker-a.log")
kill -CONT "$A_PID"
wait_pid "$A_PID" 10
expect_rc 1 "$WAIT_RC" "the deposed broker"
tail -n +$((WAKE_LINE + 1)) "$WORK/broker-a.log" >"$WORK/a-after-wake.log"
expect_grep "deposed: another broker wrote to the journal stream deposed" "$WORK/a-after-wake.log" \
    "A's reason"
expect_grep "broker stopped: another broker took over" "$WORK/a-after-wake.log" "A's last words"
if grep -E "joined|attached|reconnected|job .* (started|finished)" "$WORK/a-after-wake.log"; then
    fail "the deposed broker served after it woke"
fi

wait_pid "$VENT" 60
expect_rc 0 "$WAIT_RC" "ventilator"
wait_pid "$SINK" 60
expect_rc 0 "$WAIT_RC" "sink"
$CHECK "$WORK/tasks.txt" "$WORK/out.jsonl" --expect echo --job dep || fail "results"
kill -0 "$B_PID" 2>/dev/null || fail "B should still run"
echo "nats_deposed: ok"
