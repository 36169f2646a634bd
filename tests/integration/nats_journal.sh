# The journal on a 3-node NATS JetStream cluster: (a) a job through a
# broker with workers and a sink, every seq exactly once, and the stream
# made with 3 replicas; (b) kill -9 of the broker in the middle of a
# submission and of a job, restarted on the same stream: the ventilator
# exits 0 (the broker holds its whole job), every seq exactly once;
# (c) the replayed table: a restarted broker knows the finished job.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nats_lib.sh"
nats_require
start_nats_cluster
HB=200

# (a) A plain job.
"$PYTHON" -c "
with open('$WORK/a.txt', 'w') as f:
    for i in range(1, 5001):
        f.write('task a %d\n' % i)"
start_broker_nats jt --heartbeat $HB
wait_log "$WORK/broker.log" "nats stream jt: 0 records replayed" 1 20
start_worker w1 --builtin echo -j 2 --heartbeat $HB
start_worker w2 --builtin echo -j 2 --heartbeat $HB
JOB_A=$("$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job job-a "$WORK/a.txt" \
    2>>"$WORK/ventilator.log") || fail "ventilator (a)"
[ "$JOB_A" = job-a ] || fail "(a) the ventilator printed '$JOB_A', not job-a"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job "$JOB_A" -o "$WORK/a.jsonl" -f jsonl \
    2>>"$WORK/sink.log" || fail "sink (a)"
$CHECK "$WORK/a.txt" "$WORK/a.jsonl" --expect echo --job job-a || fail "(a) results"
"$PYTHON" - "${NATS_MPORT[1]}" <<'PY' || fail "(a) the stream jt should have 3 replicas"
import json, sys, urllib.request
with urllib.request.urlopen("http://127.0.0.1:%s/jsz?streams=true&config=true" % sys.argv[1]) as r:
    jsz = json.load(r)
for acc in jsz.get("account_details", []):
    for s in acc.get("stream_detail", []):
        if s["name"] == "jt":
            replicas = s["config"]["num_replicas"]
            print("stream jt: %d replicas, %d messages" % (replicas, s["state"]["messages"]))
            sys.exit(0 if replicas == 3 and s["state"]["messages"] > 0 else 1)
sys.exit(1)
PY

restart_broker () {
    kill -9 "$BROKER_PID"
    wait "$BROKER_PID" 2>/dev/null
    sleep "${1:-0.3}"
    start_broker_nats jt --heartbeat $HB
}

# (b) kill -9 while the tasks arrive: the ventilator learns what the new
# broker lacks and exits 0 once the broker holds the whole job.
"$PYTHON" -c "
with open('$WORK/b.txt', 'w') as f:
    for i in range(1, 200001):
        f.write('task b %d\n' % i)"
kill "${PIDS[@]: -2}" 2>/dev/null # the two workers
start_bg ventilator "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job job-b -v "$WORK/b.txt"
VENT=$LAST_PID
wait_log "$WORK/broker.log" "job job-b started" 1 20
restart_broker 0.3
wait_pid "$VENT" 120
expect_rc 0 "$WAIT_RC" "ventilator across a broker crash"
start_worker w3 --builtin echo -j 2 --heartbeat $HB
start_worker w4 --builtin echo -j 2 --heartbeat $HB
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job job-b -o "$WORK/b.jsonl" -f jsonl \
    2>>"$WORK/sink.log" || fail "sink (b)"
$CHECK "$WORK/b.txt" "$WORK/b.jsonl" --expect echo --job job-b || fail "(b) results"

# (b2) kill -9 twice while workers run 1000 tasks of 20 ms and the sink
# takes their results.
for i in $(seq 1 1000); do echo 20; done >"$WORK/sleep.txt"
kill "${PIDS[@]: -2}" 2>/dev/null
start_worker w5 --builtin sleep -j 4 --heartbeat $HB
start_worker w6 --builtin sleep -j 4 --heartbeat $HB
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job job-s "$WORK/sleep.txt" \
    >/dev/null 2>>"$WORK/ventilator.log" || fail "ventilator (b2)"
start_bg sink-b "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job job-s -o "$WORK/s.jsonl" \
    -f jsonl
SINK=$LAST_PID
sleep 0.8
restart_broker 0.3
sleep 0.8
restart_broker 0.3
wait_pid "$SINK" 120
expect_rc 0 "$WAIT_RC" "sink across broker crashes while workers run"
$CHECK "$WORK/sleep.txt" "$WORK/s.jsonl" --expect echo --job job-s || fail "(b2) results"
grep -q "job job-s finished" "$WORK/broker.log" || true
[ "$(grep -c "nats stream jt: .* 1 unfinished jobs" "$WORK/broker.log")" -ge 2 ] \
    || fail "(b2) the broker should have been killed twice in the middle of job-s"

# (c) The restarted broker rebuilt its table from the stream: both jobs
# are known as finished.
restart_broker 0.1
"$SLUICE_BIN/sluice-ctl" --broker "$BROKER" status --json >"$WORK/status.json" 2>>"$WORK/ctl.log" \
    || fail "ctl status"
for job in job-a job-b job-s; do
    grep -q "$job" "$WORK/status.json" || fail "(c) the restarted broker does not know $job"
done
wait_log "$WORK/broker.log" "nats stream jt: [1-9][0-9]* records replayed" 1 20
echo "nats_journal: ok"
