# Checkpoints keep the journal as big as what is live (a directory here;
# nats_checkpoint.sh runs the same on a NATS stream): a job that never
# ends (one 10-minute task in a queue of its own) while 8 jobs of 3,000
# tasks of 200 bytes go through, with --checkpoint-bytes 1M. The journal
# never holds more than a few MB although the jobs wrote over 10 MB, and
# the broker logs its checkpoints. Then kill -9 of the broker in the
# middle of a job, twice, restarted on the same journal: the job
# completes with every seq exactly once, and the never-ending job is
# still there (its run adopted by its worker).
. "$(dirname "$0")/lib.sh"
HB=200
ROUNDS=8
if [ -n "${CP_NATS:-}" ]; then
    . "$(dirname "$0")/nats_lib.sh"
    nats_require
    start_nats_cluster
    start_cp_broker () { start_broker_nats cp --heartbeat $HB --checkpoint-bytes 1M; }
    journal_bytes () {
        "$PYTHON" - "${NATS_MPORT[1]}" <<'PY'
import json, sys, urllib.request
url = "http://127.0.0.1:%s/jsz?accounts=true&streams=true" % sys.argv[1]
with urllib.request.urlopen(url) as r:
    jsz = json.load(r)
for acc in jsz.get("account_details", []):
    for s in acc.get("stream_detail", []):
        if s["name"] == "cp":
            print(s["state"]["bytes"])
            sys.exit(0)
print(0)
PY
    }
else
    start_cp_broker () { start_broker --heartbeat $HB --checkpoint-bytes 1M; }
    journal_bytes () { cat "$WORK/data-$PORT"/journal-*.wal | wc -c; }
fi

start_cp_broker
start_worker slow --queue slow --builtin sleep -j 1 --heartbeat $HB
start_worker fast --builtin echo -j 4 --heartbeat $HB
echo 600000 >"$WORK/stuck.txt"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --queue slow --job stuck "$WORK/stuck.txt" \
    >/dev/null 2>>"$WORK/ventilator.log" || fail "ventilator (stuck)"

make_job () {
    "$PYTHON" -c "
import sys
with open('$WORK/$1.txt', 'w') as f:
    for i in range(1, 3001):
        f.write(('$1 task %d ' % i).ljust(200, 'x') + '\n')"
}

largest=0
for r in $(seq 1 $ROUNDS); do
    make_job "job-$r"
    "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job "job-$r" "$WORK/job-$r.txt" \
        >/dev/null 2>>"$WORK/ventilator.log" || fail "ventilator (round $r)"
    "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job "job-$r" -o "$WORK/job-$r.jsonl" \
        -f jsonl 2>>"$WORK/sink.log" || fail "sink (round $r)"
    $CHECK "$WORK/job-$r.txt" "$WORK/job-$r.jsonl" --expect echo --job "job-$r" ||
        fail "round $r results"
    bytes=$(journal_bytes)
    echo "round $r: journal $bytes bytes"
    [ "$bytes" -gt "$largest" ] && largest=$bytes
done
checkpoints=$(grep -c "journal: checkpoint in segment" "$WORK/broker.log" || true)
[ "$checkpoints" -ge 4 ] || fail "only $checkpoints checkpoints in the broker's log"
# 8 x 3,000 tasks of 200 bytes and their results: over 10 MB of records.
[ "$largest" -lt 4000000 ] || fail "the journal grew to $largest bytes"

# kill -9 in the middle of a job, twice; the never-ending job survives.
make_job job-k
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job job-k "$WORK/job-k.txt" \
    >/dev/null 2>>"$WORK/ventilator.log" || fail "ventilator (k)"
start_bg sink-k "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job job-k -o "$WORK/job-k.jsonl" \
    -f jsonl
SINK=$LAST_PID
for kill in 1 2; do
    sleep 0.3
    kill -9 "$BROKER_PID"
    wait "$BROKER_PID" 2>/dev/null
    start_cp_broker
done
wait_pid "$SINK" 120
expect_rc 0 "$WAIT_RC" "sink across two kill -9 of the broker"
$CHECK "$WORK/job-k.txt" "$WORK/job-k.jsonl" --expect echo --job job-k || fail "results (k)"
"$SLUICE_BIN/sluice-ctl" --broker "$BROKER" status >"$WORK/status.txt" 2>&1 ||
    fail "sluice-ctl status"
expect_grep "stuck" "$WORK/status.txt" "the never-ending job after the restarts"
echo "checkpoint: ok ($checkpoints checkpoints, journal at most $largest bytes)"
