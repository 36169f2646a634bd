# A record split over several messages (a batch of tasks over 1 MB), half
# written when the active broker died: the stream ends, for a while or for
# good, between its parts. tests/nats_copy copies the messages a real
# broker wrote on stream "src" to other streams, stopping at the chosen
# message, to show the next brokers the stream at that point.
#
# 1. A standby starts (replays) when only the first part is in the stream,
#    and the rest comes while it follows (its writer was alive): it applies
#    the record once it ends, takes over, and every task of the job reaches
#    the sink exactly once. (Before: the first part was dropped at replay
#    and the rest skipped while following: the standby took over without
#    that record's tasks.)
# 2. The writer died after the first part, the standby was following: it
#    takes over (not stuck), applies nothing of the part, and a late copy
#    of the dead writer's next part, expecting the sequence it would have
#    expected, is refused (its takeover fenced it). A ventilator submits
#    the job again and it completes exactly once; a broker that replays the
#    stream afterwards drops the torn part and says so.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nats_lib.sh"
nats_require
nats_copy_require
start_nats_cluster
HB=400
URL=${NATS_URLS%%,*}

# The source: 456 small tasks, one of 900 KB, 143 small. The ventilator
# cuts batches at 256 tasks or 256 KB: the second batch (200 small and the
# big one, 1.1 MB) is one record, over the 1 MB a message holds.
"$PYTHON" - "$WORK/tasks.txt" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(1, 601):
        f.write(("%06d" % i) * (150000 if i == 457 else 166) + "\n")
PY
PORT_S=$(free_port)
start_standby broker-src "$PORT_S" src
wait_takeover broker-src src
"$SLUICE_BIN/sluice-ventilator" --broker "tcp://127.0.0.1:$PORT_S" --job split \
    "$WORK/tasks.txt" >/dev/null 2>>"$WORK/ventilator0.log" || fail "the source job's submission"
sleep 1
kill -9 "$LAST_BROKER"
wait "$LAST_BROKER" 2>/dev/null
read -r SPLIT LAST < <("$COPY" "$URL" src split) || fail "nats_copy split"
[ "$SPLIT" -gt 1 ] || fail "no record split over messages in the source stream (split=$SPLIT)"
echo "source stream: a record split from sequence $SPLIT, last sequence $LAST"

# 1. A standby starts with only the first part in its stream.
"$COPY" "$URL" src one 1 "$SPLIT" || fail "copy to one"
PORT_1=$(free_port)
start_standby broker-one "$PORT_1" one
wait_log "$WORK/broker-one.log" "standby: following" 1 20
"$COPY" "$URL" src one $((SPLIT + 1)) "$LAST" || fail "copy the rest to one"
expect_grep "record split over several messages and not ended" "$WORK/broker-one.log" \
    "the replay ending in the middle of a record"
wait_takeover broker-one one
ONE="tcp://127.0.0.1:$PORT_1"
start_bg worker1 "$SLUICE_BIN/sluice-worker" --broker "$ONE" --builtin echo -j 4 --heartbeat $HB
start_bg sink1 "$SLUICE_BIN/sluice-sink" --broker "$ONE" --job split -o "$WORK/out1.jsonl" -f jsonl
wait_pid "$LAST_PID" 40
expect_rc 0 "$WAIT_RC" "the sink of the standby that started mid-record"
$CHECK "$WORK/tasks.txt" "$WORK/out1.jsonl" --expect echo --job split \
    || fail "results of the standby that started mid-record"

# 2. The writer died after the first part; the standby was following.
"$COPY" "$URL" src two 1 $((SPLIT - 1)) || fail "copy to two"
PORT_2=$(free_port)
start_standby broker-two "$PORT_2" two
wait_log "$WORK/broker-two.log" "standby: following" 1 20
"$COPY" "$URL" src two "$SPLIT" "$SPLIT" || fail "copy the first part to two"
# (the sequence it names is its own hold's, right after the part)
wait_takeover broker-two two " at sequence $((SPLIT + 1)) "
# The dead writer's next part, late, as it would have been published.
OUT=$("$COPY" "$URL" src two $((SPLIT + 1)) $((SPLIT + 1)) "$SPLIT")
[ "$OUT" = refused ] || fail "the dead writer's late part was not refused: '$OUT'"
TWO="tcp://127.0.0.1:$PORT_2"
start_bg worker2 "$SLUICE_BIN/sluice-worker" --broker "$TWO" --builtin echo -j 4 --heartbeat $HB
start_bg sink2 "$SLUICE_BIN/sluice-sink" --broker "$TWO" --job split -o "$WORK/out2.jsonl" -f jsonl
SINK2=$LAST_PID
"$SLUICE_BIN/sluice-ventilator" --broker "$TWO" --job split "$WORK/tasks.txt" >/dev/null \
    2>>"$WORK/ventilator2.log" || fail "the job submitted again to the broker that took over"
wait_pid "$SINK2" 40
expect_rc 0 "$WAIT_RC" "the sink of the broker that took over mid-record"
$CHECK "$WORK/tasks.txt" "$WORK/out2.jsonl" --expect echo --job split \
    || fail "results of the broker that took over mid-record"
# Another broker replays stream two: the torn part is dropped, with a word.
PORT_3=$(free_port)
start_standby broker-three "$PORT_3" two
wait_log "$WORK/broker-three.log" "standby: following" 1 20
expect_grep "dropped [0-9]* bytes of records a crash left half-published" \
    "$WORK/broker-three.log" "the torn part at replay"
if grep -q "took over" "$WORK/broker-three.log"; then fail "a second active broker on two"; fi
echo "nats_split: ok"
