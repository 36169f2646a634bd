# Long tasks across a failover run once: a worker runs four 3 s --exec
# tasks of a job on the active broker of a standby pair; a second worker
# is idle. kill -9 of the active broker: the standby takes over, waits for
# the workers' claims before it deals anything, and adopts the four runs
# where they are, so the idle worker gets none of them. Each task's
# command appends to starts.log when it starts: every task must start
# exactly once (attempts would say 1 even for a task run twice), and the
# sink gets each result once, ok.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nats_lib.sh"
nats_require
start_nats_cluster
HB=200
start_standby_pair long

STARTS=$WORK/starts.log
: >"$STARTS"
start_bg busy "$SLUICE_BIN/sluice-worker" --broker "$BROKERS" --heartbeat $HB -j 4 \
    --exec "echo \$SLUICE_SEQ >> '$STARTS'; sleep 3; echo done \$SLUICE_SEQ"
wait_log "$WORK/broker-a.log" "worker .* joined" 1 20
seq 4 >"$WORK/tasks.txt"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKERS" --job long "$WORK/tasks.txt" >/dev/null \
    2>"$WORK/ventilator.log" || fail "ventilator"
for ((i = 0; i < 100; i++)); do
    [ "$(wc -l <"$STARTS")" -ge 4 ] && break
    sleep 0.05
done
[ "$(wc -l <"$STARTS")" = 4 ] || fail "the 4 tasks did not all start: $(cat "$STARTS")"
start_bg idle "$SLUICE_BIN/sluice-worker" --broker "$B,$A" --heartbeat $HB -j 4 \
    --exec "echo \$SLUICE_SEQ >> '$STARTS'; echo done \$SLUICE_SEQ"
wait_log "$WORK/broker-a.log" "worker .* joined" 2 20
kill -9 "$A_PID"
wait "$A_PID" 2>/dev/null
wait_log "$WORK/broker-b.log" "took over the journal" 1 20
start_bg sink "$SLUICE_BIN/sluice-sink" --broker "$BROKERS" --job long -o "$WORK/long.jsonl" \
    -f jsonl --no-progress
wait_pid "$LAST_PID" 30
expect_rc 0 "$WAIT_RC" "sink"
"$PYTHON" "$SLUICE_TESTS/integration/check_starts.py" "$WORK/long.jsonl" "$STARTS" 4 \
    || fail "results or starts"
expect_grep "claimed 4 runs" "$WORK/broker-b.log" "the adopted runs"
echo "nats_long: ok"
