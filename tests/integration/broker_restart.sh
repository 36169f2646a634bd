# The broker restarts (kill -9, then SIGTERM) while workers run: workers
# notice, say hello to the new broker and keep working on new jobs.
. "$(dirname "$0")/lib.sh"

seq 1 200 > "$WORK/tasks.txt"
HB=200
start_broker --heartbeat $HB
start_worker w1 --builtin echo -j 2 --heartbeat $HB
start_worker w2 --exec cat -j 2 --heartbeat $HB
wait_workers 2
for round in 1 2 3; do
    JOB=$("$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" "$WORK/tasks.txt" 2>>"$WORK/v.log") \
        || fail "ventilator, round $round"
    "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job "$JOB" -o "$WORK/out$round.jsonl" -f jsonl \
        2>>"$WORK/sink.log" || fail "sink, round $round"
    $CHECK "$WORK/tasks.txt" "$WORK/out$round.jsonl" --expect echo --workers 2 \
        || fail "round $round results"
    [ $round = 3 ] && break
    if [ $round = 1 ]; then kill -9 "$BROKER_PID"; else kill -TERM "$BROKER_PID"; fi
    wait "$BROKER_PID" 2>/dev/null
    sleep 0.5
    : > "$WORK/broker.log"
    start_broker --heartbeat $HB
    # Both workers come back to the new broker by themselves. Their hello
    # comes first; their task sockets reconnect (ZeroMQ retries every
    # 100 ms) and ask for work a moment later: give them that moment, or
    # the first one back may run the whole next job alone.
    wait_workers 2
    sleep 1
done
expect_grep "connected to new broker" "$WORK/w1.log" "worker 1 reconnection"
expect_grep "connected to new broker" "$WORK/w2.log" "worker 2 reconnection"
