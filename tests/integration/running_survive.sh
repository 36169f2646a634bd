# Running tasks survive a broker restart: a worker running four 3 s tasks
# keeps running them while the broker is killed (-9) and restarted on its
# journal; the restarted broker waits for the workers' claims before it
# deals anything, adopts the runs, and a second, idle worker gets none of
# them. Each task's command appends to starts.log when it starts: every
# task must start exactly once (attempts would say 1 even for a task run
# twice, since the first good result wins), and the sink gets each result
# once, ok.
. "$(dirname "$0")/lib.sh"

STARTS=$WORK/starts.log
: >"$STARTS"
start_broker
start_worker busy --exec "echo \$SLUICE_SEQ >> '$STARTS'; sleep 3; echo done \$SLUICE_SEQ" -j 4
wait_workers 1
seq 4 >"$WORK/tasks.txt"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job long "$WORK/tasks.txt" >/dev/null \
    2>"$WORK/ventilator.log" || fail "ventilator"
for ((i = 0; i < 100; i++)); do
    [ "$(wc -l <"$STARTS")" -ge 4 ] && break
    sleep 0.05
done
[ "$(wc -l <"$STARTS")" = 4 ] || fail "the 4 tasks did not all start: $(cat "$STARTS")"
# The idle worker joins now: with the old broker's tasks all running, it
# gets nothing; after the restart, everything queued would be its.
start_worker idle --exec "echo \$SLUICE_SEQ >> '$STARTS'; echo done \$SLUICE_SEQ" -j 4
wait_workers 2
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null
mv "$WORK/broker.log" "$WORK/broker-before.log"
start_broker
start_bg sink "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job long -o "$WORK/long.jsonl" \
    -f jsonl --no-progress
wait_pid "$LAST_PID" 30
expect_rc 0 "$WAIT_RC" "sink"
"$PYTHON" "$SLUICE_TESTS/integration/check_starts.py" "$WORK/long.jsonl" "$STARTS" 4 \
    || fail "results or starts"
expect_grep "claimed 4 runs from before the restart" "$WORK/broker.log" "the adopted runs"
# sluice-ctl status says so, and where the journal is.
"$SLUICE_BIN/sluice-ctl" --broker "$BROKER" status --json >"$WORK/status.json" \
    || fail "sluice-ctl status"
"$PYTHON" - "$WORK/status.json" "$WORK/data-$PORT" <<'PY' || fail "status after the restart"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["counters"]["runs_adopted"] == 4, s["counters"]
assert s["journal"] == sys.argv[2], s.get("journal")
PY
