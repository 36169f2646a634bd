# The broker is killed (kill -9) and restarted on the same data directory
# (a) in the middle of a large submission, (b) while workers run, (c) while
# results stream to the sink: every seq reaches the sink exactly once.
. "$(dirname "$0")/lib.sh"

HB=200
restart_broker () {
    kill -9 "$BROKER_PID"
    wait "$BROKER_PID" 2>/dev/null
    sleep "${1:-0.3}"
    start_broker --heartbeat $HB
}

# (a) Submission: 100,000 tasks; the broker dies while they arrive. The
# ventilator waits for it, learns what it lacks, sends just that, exits 0.
"$PYTHON" -c "
with open('$WORK/big.txt', 'w') as f:
    for i in range(1, 100001):
        f.write('big task %d\n' % i)"
start_broker --heartbeat $HB
start_bg ventilator "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" -v "$WORK/big.txt"
VENT=$LAST_PID
# Kill it as soon as the first tasks arrived, while the rest are on the way.
wait_log "$WORK/broker.log" "job .* started" 1 20
restart_broker 0.5
wait_pid "$VENT" 60
expect_rc 0 "$WAIT_RC" "ventilator across a broker crash"
grep "sent .* again\|lacked" "$WORK/ventilator.log" \
    || echo "note: the broker had received every task before it died"
# The same through standard input: what the broker lacks is sent again from
# the ventilator's copy of its input.
# (Started by hand: a background command's stdin is /dev/null unless it
# has its own redirection.)
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job from-stdin -v - <"$WORK/big.txt" \
    2>>"$WORK/ventilator2.log" &
VENT=$!
PIDS+=("$VENT")
wait_log "$WORK/broker.log" "job from-stdin started" 1 20
restart_broker 0.5
wait_pid "$VENT" 60
expect_rc 0 "$WAIT_RC" "ventilator reading stdin across a broker crash"
start_worker w1 --builtin echo -j 2 --heartbeat $HB
start_worker w2 --builtin echo -j 2 --heartbeat $HB
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" -o "$WORK/big.jsonl" -f jsonl 2>"$WORK/sink-a.log"
expect_rc 0 $? "sink after a crash during submission"
grep -v '"job":"from-stdin"' "$WORK/big.jsonl" > "$WORK/big-file.jsonl"
grep '"job":"from-stdin"' "$WORK/big.jsonl" > "$WORK/big-stdin.jsonl"
$CHECK "$WORK/big.txt" "$WORK/big-file.jsonl" --expect echo || fail "(a) results"
$CHECK "$WORK/big.txt" "$WORK/big-stdin.jsonl" --expect echo --job from-stdin || fail "(a) stdin results"

# (b) Workers running: 200 sleep tasks of 50 ms on 2 workers; the broker
# dies twice mid-job. Workers reconnect; the sink reconnects and waits.
for i in $(seq 1 200); do echo 50; done > "$WORK/sleep.txt"
kill "${PIDS[@]: -2}" 2>/dev/null
start_worker w3 --builtin sleep -j 4 --heartbeat $HB; W3=$LAST_PID
start_worker w4 --builtin sleep -j 4 --heartbeat $HB; W4=$LAST_PID
JOB=$("$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" "$WORK/sleep.txt" 2>>"$WORK/v.log") \
    || fail "ventilator (b)"
start_bg sink-b "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job "$JOB" -o "$WORK/sleep.jsonl" \
    -f jsonl
SINK=$LAST_PID
sleep 0.6
restart_broker
sleep 0.8
restart_broker
wait_pid "$SINK" 60
expect_rc 0 "$WAIT_RC" "sink across broker crashes while workers run"
$CHECK "$WORK/sleep.txt" "$WORK/sleep.jsonl" --expect echo || fail "(b) results"

# (c) Results streaming: 20,000 echo results with 2 KB outputs; the broker
# dies while the sink takes them.
"$PYTHON" -c "
with open('$WORK/wide.txt', 'w') as f:
    for i in range(1, 20001):
        f.write('%d %s\n' % (i, 'w' * 2000))"
kill "$W3" "$W4"
JOB=$("$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" "$WORK/wide.txt" 2>>"$WORK/v.log") \
    || fail "ventilator (c)"
start_worker w5 --builtin echo -j 2 --heartbeat $HB
# Let the results pile up in the broker, then stream them out.
sleep 2
start_bg sink-c "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job "$JOB" -o "$WORK/wide.jsonl" \
    -f jsonl
SINK=$LAST_PID
sleep 0.3
restart_broker
wait_pid "$SINK" 60
expect_rc 0 "$WAIT_RC" "sink across a broker crash while results stream"
$CHECK "$WORK/wide.txt" "$WORK/wide.jsonl" --expect echo || fail "(c) results"
