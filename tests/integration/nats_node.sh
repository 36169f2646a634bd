# NATS servers lost under a broker with a NATS journal: (a) kill -9 of one
# node of three in the middle of a job (twice: a different node each
# time, the first restarted in between): the job completes, every seq
# exactly once; (b) with two nodes of three down the stream has no
# majority: the broker cannot append and refuses the job, saying why (the
# ventilator exits non-zero); once the nodes are back the broker takes it
# again, and the job completes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nats_lib.sh"
nats_require
start_nats_cluster
HB=200

for i in $(seq 1 2000); do echo 10; done >"$WORK/a.txt"
start_broker_nats nodes --heartbeat $HB
start_worker w1 --builtin sleep -j 4 --heartbeat $HB
start_worker w2 --builtin sleep -j 4 --heartbeat $HB
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job job-a "$WORK/a.txt" \
    >/dev/null 2>>"$WORK/ventilator.log" || fail "ventilator (a)"
start_bg sink-a "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job job-a -o "$WORK/a.jsonl" \
    -f jsonl
SINK=$LAST_PID
sleep 1
kill_nats_node 1
sleep 1.5
start_nats_node 1
wait_nats_ready 30
kill_nats_node 2
wait_pid "$SINK" 120
expect_rc 0 "$WAIT_RC" "sink across NATS node kills"
$CHECK "$WORK/a.txt" "$WORK/a.jsonl" --expect echo --job job-a || fail "(a) results"
kill -0 "$BROKER_PID" 2>/dev/null || fail "(a) the broker should still run"
start_nats_node 2
wait_nats_ready 30

# (b) No majority: the ventilator waits.
kill_nats_node 2
kill_nats_node 3
for i in $(seq 1 100); do echo 10; done >"$WORK/b.txt"
start_bg ventilator-b "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job job-b "$WORK/b.txt"
VENT=$LAST_PID
wait_pid "$VENT" 30
[ "$WAIT_RC" != 0 ] || fail "(b) the ventilator exited 0 while the stream had no majority"
expect_grep "cannot publish to the journal stream nodes" "$WORK/ventilator-b.log" "(b) why"
start_nats_node 2
start_nats_node 3
wait_nats_ready 30
# The stream needs a leader again; the broker retries its commit every
# second. Until then the ventilator is told why and exits non-zero.
ok=0
for i in $(seq 1 30); do
    if "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job job-b "$WORK/b.txt" \
        >/dev/null 2>>"$WORK/ventilator-b2.log"; then
        ok=1
        break
    fi
    sleep 1
done
[ $ok = 1 ] || fail "(b) ventilator once the majority is back"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job job-b -o "$WORK/b.jsonl" -f jsonl \
    2>>"$WORK/sink.log" || fail "sink (b)"
$CHECK "$WORK/b.txt" "$WORK/b.jsonl" --expect echo --job job-b || fail "(b) results"
echo "nats_node: ok"
