# An idle active broker appends a hold message every heartbeat: the stream
# must not grow for ever while nothing happens. Holds count toward
# --checkpoint-bytes (1 KiB each), so checkpoints come due and purge the
# stream. A pair at --heartbeat 50 with --checkpoint-bytes 64K and a job
# of 10 tasks waiting for a worker: after 10 s idle (200 holds) the stream
# holds far fewer messages, the standby followed every purge, and once it
# takes over the job's tasks all reach the sink, once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nats_lib.sh"
nats_require
nats_copy_require
start_nats_cluster
HB=50
URL=${NATS_URLS%%,*}

start_standby_pair idle --checkpoint-bytes 64K
seq 1 10 >"$WORK/tasks.txt"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKERS" --job idle "$WORK/tasks.txt" >/dev/null \
    2>>"$WORK/ventilator.log" || fail "ventilator"
sleep 10
read -r FIRST LAST MSGS BYTES < <("$COPY" "$URL" idle state) || fail "the stream's state"
echo "after 10 s idle: messages $FIRST..$LAST, $MSGS kept, $BYTES bytes"
[ "$LAST" -ge 150 ] || fail "too few holds in 10 s at a 50 ms heartbeat ($LAST)"
[ "$MSGS" -le 120 ] || fail "the idle stream keeps $MSGS messages: its holds are never purged"
expect_grep "journal: checkpoint in segment" "$WORK/broker-a.log" "a checkpoint while idle"
if grep -q "purged past sequence" "$WORK/broker-b.log"; then fail "the standby lost track"; fi
kill -0 "$B_PID" 2>/dev/null || fail "the standby should still run"

kill9 "$A_PID"
wait_takeover broker-b idle
expect_grep "took over .* 1 unfinished jobs, 10 tasks queued" "$WORK/broker-b.log" \
    "the job in the standby's table after the checkpoints"
start_bg worker "$SLUICE_BIN/sluice-worker" --broker "$BROKERS" --builtin echo -j 4 --heartbeat $HB
"$SLUICE_BIN/sluice-sink" --broker "$BROKERS" --job idle -o "$WORK/out.jsonl" -f jsonl \
    2>>"$WORK/sink.log" || fail "sink"
$CHECK "$WORK/tasks.txt" "$WORK/out.jsonl" --expect echo --job idle || fail "results"
echo "nats_idle: ok"
