# kill -9 of the active broker of a standby pair while its journal has
# several messages in flight (published, not yet acknowledged by the
# stream): a large submission (20 MB of tasks, cut into ~1 MB messages,
# up to 32 of them in flight) is under way.
#
# 1. The kill in the middle of the submission, with two NATS servers of
#    three stopped for the moment, so that nothing A publishes then is
#    acknowledged before it dies (but some of it may be stored after):
#    meanwhile the ventilator cannot finish (it is told nothing that is
#    not replicated); the ventilator, given both
#    brokers, follows the standby when it takes over, asks which tasks it
#    lacks, sends them again, and exits 0; every task reaches the sink
#    exactly once (none that the dead broker confirmed is missing, none
#    doubled).
# 2. The kill right after a ventilator given only the active broker exits
#    0: everything it was told was replicated, so the broker that takes
#    over holds the whole job, and every task reaches the sink once. (An
#    answer sent before its record was acknowledged would show here as a
#    job the new broker does not have whole: the sink would wait for ever.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nats_lib.sh"
nats_require
start_nats_cluster
HB=200

# 20,000 tasks of 1,000 bytes.
make_tasks () {
    "$PYTHON" - "$1" "$2" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(1, 20001):
        f.write(("%s-%06d-" % (sys.argv[2], i)).ljust(1000, "x") + "\n")
PY
}
make_tasks "$WORK/one.txt" one
make_tasks "$WORK/two.txt" two

start_standby_pair inflight
start_bg worker1 "$SLUICE_BIN/sluice-worker" --broker "$BROKERS" --builtin echo -j 8 --heartbeat $HB
W1=$LAST_PID
start_bg worker2 "$SLUICE_BIN/sluice-worker" --broker "$B,$A" --builtin echo -j 8 --heartbeat $HB
W2=$LAST_PID

# 1. The kill in the middle of the submission.
start_bg ventilator1 "$SLUICE_BIN/sluice-ventilator" --broker "$BROKERS" --job one "$WORK/one.txt"
VENT=$LAST_PID
wait_log "$WORK/broker-a.log" "job one started" 1 20
# Two NATS servers of three stopped: no acknowledgement comes back, so
# what A publishes from now on stays in flight (its window fills up);
# A dies with it, and the servers, woken, may still store some of it.
kill -STOP "${NATS_PID[2]}" "${NATS_PID[3]}"
sleep 1
# Nothing is replicated now: the ventilator cannot have been told that
# all its tasks were taken (the answers wait for the acknowledgements).
kill -0 "$VENT" 2>/dev/null ||
    fail "the ventilator finished while the stream had no majority: it was told its tasks" \
        "were taken before they were replicated"
kill -9 "$A_PID"
wait "$A_PID" 2>/dev/null
kill -CONT "${NATS_PID[2]}" "${NATS_PID[3]}"
wait_takeover broker-b inflight
echo "part 1: B $(grep -o "took over.*" "$WORK/broker-b.log" | head -1)"
start_bg sink1 "$SLUICE_BIN/sluice-sink" --broker "$BROKERS" --job one -o "$WORK/one.jsonl" -f jsonl
SINK=$LAST_PID
wait_pid "$VENT" 60
expect_rc 0 "$WAIT_RC" "the ventilator across the kill"
expect_grep "trying $B" "$WORK/ventilator1.log" "the ventilator following the standby"
grep -E "resend|lacks|again" "$WORK/ventilator1.log" | head -3
wait_pid "$SINK" 60
expect_rc 0 "$WAIT_RC" "the sink of job one"
$CHECK "$WORK/one.txt" "$WORK/one.jsonl" --expect echo --job one || fail "job one's results"

# No worker for part 2 until the takeover: the new broker's table is then
# the whole job, which its log says.
kill -TERM "$W1" "$W2"
wait_pid "$W1" 30
wait_pid "$W2" 30

# A again, as a standby of B.
start_standby broker-a2 "$PORT_A" inflight
wait_log "$WORK/broker-a2.log" "standby: following" 1 20

# 2. The kill right after the ventilator (given only B) is done.
"$SLUICE_BIN/sluice-ventilator" --broker "$B" --job two "$WORK/two.txt" >/dev/null \
    2>>"$WORK/ventilator2.log" || fail "the ventilator of job two"
kill9 "$B_PID"
wait_takeover broker-a2 inflight
expect_grep "took over .* 1 unfinished jobs, 20000 tasks queued" "$WORK/broker-a2.log" \
    "the whole of job two in the broker that took over"
start_bg worker3 "$SLUICE_BIN/sluice-worker" --broker "$A" --builtin echo -j 8 --heartbeat $HB
start_bg sink2 "$SLUICE_BIN/sluice-sink" --broker "$A" --job two -o "$WORK/two.jsonl" -f jsonl
wait_pid "$LAST_PID" 60
expect_rc 0 "$WAIT_RC" "the sink of job two"
$CHECK "$WORK/two.txt" "$WORK/two.jsonl" --expect echo --job two || fail "job two's results"
echo "nats_inflight: ok"
