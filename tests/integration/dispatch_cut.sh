# A worker's dispatch connection cut while the worker lives on (ss -K, as a
# network fault or a middlebox would): what libzmq had queued for that
# connection is dropped with it. The broker must not hold those tasks for
# as long as the worker lives: unclaimed, they come back after 5 of the
# worker's heartbeats, and the worker, which has credit out and gets
# nothing, says its credit again. The only worker then runs the whole job.
#
# The worker is stopped (SIGSTOP) while the job is dealt, so the tasks sit
# in its socket's receive buffer when the cut drops them; it is resumed
# within its liveness (3 heartbeats), so the broker never gives it up.
. "$(dirname "$0")/lib.sh"

if ! command -v ss >/dev/null; then
    echo "SKIP: no ss (iproute2)"
    exit 0
fi
HB=400
DISPATCH_PORT=$((PORT + 2))
start_broker --heartbeat $HB
start_worker w1 --builtin echo -j 2 --prefetch 200 --heartbeat $HB
W1=$LAST_PID
wait_workers 1
sleep 0.5 # its credit is in

kill -STOP "$W1"
# 160 tasks of 100 kB: more than the kernel's buffers on both sides hold,
# so most of the job is still in libzmq's queue for the connection (the
# worker's receive buffer stays readable after the cut and would deliver
# what is in it).
"$PYTHON" -c '
for i in range(1, 161):
    print("cut-%d-" % i + "x" * 100000)' >"$WORK/tasks.txt"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job cut "$WORK/tasks.txt" >/dev/null \
    2>>"$WORK/v.log" || { kill -CONT "$W1"; fail "ventilator exit $?"; }
sleep 0.5 # dealt into the stopped worker's connection
FILTER="( sport = :$DISPATCH_PORT or dport = :$DISPATCH_PORT )"
held=$(ss -tnH state established "$FILTER" | wc -l)
ss -K state established "$FILTER" >/dev/null 2>"$WORK/ss.log"
left=$(ss -tnH state established "$FILTER" | wc -l)
kill -CONT "$W1"
if [ "$held" -lt 1 ] || [ "$left" -ne 0 ]; then
    cat "$WORK/ss.log" >&2
    echo "SKIP: ss -K cannot cut connections here ($held before, $left after)"
    exit 0
fi
"$SLUICE_BIN/sluice-ctl" --broker "$BROKER" status --json >"$WORK/status.json" \
    || fail "status exit $?"

timeout 30 "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job cut -o "$WORK/out.jsonl" \
    --format jsonl 2>"$WORK/sink.log"
expect_rc 0 "$?" "sink of the job whose tasks were cut off (a hang means they were held for good)"
"$PYTHON" - "$WORK/out.jsonl" "$W1" <<'PY' || fail "results after the cut"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
seqs = sorted(r["seq"] for r in recs)
assert seqs == list(range(1, 161)), seqs
for r in recs:
    assert r["status"] == "ok" and r["output"] == "cut-%d-" % r["seq"] + "x" * 100000, r["seq"]
    assert r["worker"].endswith(":" + sys.argv[2]), r
PY
expect_grep "worker .* joined" "$WORK/broker.log" "worker joined"
if grep -q "silent for" "$WORK/broker.log"; then
    fail "the broker gave the stopped worker up: the test did not test a live worker"
fi
kill -0 "$W1" 2>/dev/null || fail "the worker died"
echo "dispatch_cut: tasks cut off with a live worker's connection came back and ran once"
