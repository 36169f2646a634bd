# Standby brokers: two brokers started --standby on one NATS stream; one
# takes the stream over, the other follows it. Every client is given both
# addresses. kill -9 of the active broker in the middle of a job: the
# standby takes over within 2.5 heartbeats of the last sign of the old one
# (plus its polling), the workers, the sink and the ventilator follow it
# without help, and every seq reaches the sink exactly once. The old
# broker, restarted --standby, follows the new one and sends a client
# that asks it to the active broker ("standby; the active broker is ...").
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nats_lib.sh"
nats_require
start_nats_cluster
HB=200

start_standby_pair ha
sleep 1
if grep -q "took over" "$WORK/broker-b.log"; then fail "B took over while A was alive"; fi

for i in $(seq 1 3000); do echo 3; done >"$WORK/tasks.txt"
start_bg worker1 "$SLUICE_BIN/sluice-worker" --broker "$BROKERS" --builtin sleep -j 8 --heartbeat $HB
start_bg worker2 "$SLUICE_BIN/sluice-worker" --broker "$B,$A" --builtin sleep -j 8 --heartbeat $HB
start_bg sink "$SLUICE_BIN/sluice-sink" --broker "$BROKERS" --job ha1 -o "$WORK/out.jsonl" -f jsonl
SINK=$LAST_PID
start_bg ventilator "$SLUICE_BIN/sluice-ventilator" --broker "$BROKERS" --job ha1 "$WORK/tasks.txt"
VENT=$LAST_PID

# Kill the active broker once the sink has a part of the job.
for ((i = 0; i < 600; i++)); do
    [ -f "$WORK/out.jsonl" ] && [ "$(wc -l <"$WORK/out.jsonl")" -ge 600 ] && break
    sleep 0.05
done
[ "$(wc -l <"$WORK/out.jsonl")" -ge 600 ] || fail "the sink got too little before the kill"
kill -9 "$A_PID"
wait "$A_PID" 2>/dev/null
KILLED_AT=$(date +%s%N)
wait_takeover broker-b ha
TOOK=$(grep -o "[0-9]* ms after the last sign" "$WORK/broker-b.log" | head -1 | cut -d' ' -f1)
[ "$TOOK" -le $((5 * HB / 2 + 100)) ] || fail "B took over $TOOK ms after A's last sign (over 2.5 heartbeats)"

wait_pid "$VENT" 60
expect_rc 0 "$WAIT_RC" "ventilator"
wait_pid "$SINK" 60
expect_rc 0 "$WAIT_RC" "sink"
$CHECK "$WORK/tasks.txt" "$WORK/out.jsonl" --expect echo --job ha1 || fail "results after failover"
echo "failover: B took over $TOOK ms after A's last sign ($(( ($(date +%s%N) - KILLED_AT) / 1000000 )) ms to the job's end)"

# A again, as a standby of B: a client given only A is sent to B.
start_standby broker-a2 "$PORT_A" ha
wait_log "$WORK/broker-a2.log" "standby: following" 1 20
echo 5 >"$WORK/one.txt"
"$SLUICE_BIN/sluice-ventilator" --broker "$A" --job ha2 "$WORK/one.txt" >/dev/null \
    2>>"$WORK/ventilator2.log" || fail "a ventilator given the standby's address"
expect_grep "standby; the active broker is $B" "$WORK/ventilator2.log" "the standby's refusal"
"$SLUICE_BIN/sluice-sink" --broker "$A" --job ha2 -o "$WORK/out2.jsonl" -f jsonl \
    2>>"$WORK/sink2.log" || fail "a sink given the standby's address"
$CHECK "$WORK/one.txt" "$WORK/out2.jsonl" --expect echo --job ha2 || fail "the job through the standby's hint"
if grep -q "took over" "$WORK/broker-a2.log"; then fail "the restarted A took over from a live B"; fi
kill -0 "$B_PID" 2>/dev/null || fail "B should still run"

# sluice-ctl status of each: its role, the active broker, the stream's
# sequence it is at (the standby's no further than the active's).
# (A first: B appends a hold message every heartbeat, so its sequence grows.)
"$SLUICE_BIN/sluice-ctl" --broker "$A" status --json >"$WORK/a.json" || fail "status of A"
"$SLUICE_BIN/sluice-ctl" --broker "$B" status --json >"$WORK/b.json" || fail "status of B"
"$SLUICE_BIN/sluice-ctl" --broker "$A" status >"$WORK/a.txt" || fail "status of A (text)"
"$PYTHON" - "$WORK/a.json" "$WORK/b.json" "$B" <<'PY' || fail "the roles in sluice-ctl status"
import json, sys
a, b = (json.load(open(f))["ha"] for f in sys.argv[1:3])
assert b["role"] == "active" and b["active_broker"] == sys.argv[3], b
assert a["role"] == "standby" and a["active_broker"] == sys.argv[3], a
assert 0 < a["journal_seq"] <= b["journal_seq"], (a, b)
assert a["follow_age_ms"] >= 0 and b["follow_age_ms"] == 0, (a, b)
PY
expect_grep "^standby broker (--standby) at stream sequence [0-9]*; active: $B" "$WORK/a.txt" \
    "the standby's role in the text status"
echo "nats_standby: ok"
