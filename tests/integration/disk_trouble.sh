# Disk trouble under the broker's journal:
# (a) a --data-dir that cannot be created: the broker exits non-zero at once,
#     naming the path;
# (b) a journal damaged in the middle (not a torn tail): the broker refuses
#     to start, names the segment and says what to do, and leaves the file
#     as it was; with the file restored it starts and the job is all there;
# (c) a full disk (a 2 MiB tmpfs; root only, skipped where mount is not
#     permitted): a submission bigger than the space fails in bounded time
#     with "No space left", the broker stays up, logs the error naming the
#     segment and refuses further jobs; with more space, a restarted broker
#     still holds the job submitted before the disk filled, and a re-run of
#     the failed ventilator command completes its job, every seq exactly once;
# (d) the same full disk, but space comes back while the broker runs: it
#     writes its journal again by itself and takes the job, no restart.
. "$(dirname "$0")/lib.sh"

# new_port : a fresh broker address (and so a fresh $WORK/data-$PORT).
new_port () {
    PORT=$(free_port)
    BROKER="tcp://127.0.0.1:$PORT"
}

# small_disk : a fresh broker address whose data dir $DATA is a 2 MiB
# tmpfs. Exits the test (passed) with a notice if that is not possible.
small_disk () {
    new_port
    DATA=$WORK/data-$PORT
    mount_tmpfs "$DATA" size=2m
}

# submit NAME JOB FILE SECONDS : runs a ventilator in the background (its
# log $WORK/NAME.log) and waits for it; its status in WAIT_RC.
submit () {
    "$SLUICE_BIN/sluice-ventilator" -v --broker "$BROKER" --job "$2" "$3" \
        >/dev/null 2>>"$WORK/$1.log" &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
    wait_pid "$LAST_PID" "$4"
}

# collect NAME JOB TASKS : a sink for JOB; checks it gets every task of the
# file TASKS exactly once, output = payload.
collect () {
    start_bg "$1" "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job "$2" \
        -o "$WORK/$2.jsonl" -f jsonl
    wait_pid "$LAST_PID" 60
    expect_rc 0 "$WAIT_RC" "sink of job $2"
    $CHECK "$3" "$WORK/$2.jsonl" --expect echo --job "$2" || fail "job $2: results"
}

# segment_of DIR : the one journal segment in DIR, in SEGMENT.
segment_of () {
    local segs=("$1"/journal-*.wal)
    [ ${#segs[@]} = 1 ] && [ -f "${segs[0]}" ] \
        || fail "expected one journal segment in $1, found: ${segs[*]}"
    SEGMENT=${segs[0]}
}

# --- (a) A data dir whose parent is a regular file ---------------------------
echo "(a) data dir that cannot be created"
touch "$WORK/not-a-dir"
start_bg broker-a "$SLUICE_BIN/sluice-broker" --bind "$BROKER" \
    --data-dir "$WORK/not-a-dir/data"
wait_pid "$LAST_PID" 5
[ "$WAIT_RC" != 0 ] || fail "(a) the broker exited 0 with an impossible --data-dir"
expect_grep "$WORK/not-a-dir/data" "$WORK/broker-a.log" "(a) message naming the data dir"
echo "(a) ok: exit status $WAIT_RC: $(tail -n 1 "$WORK/broker-a.log")"

# --- (b) A journal damaged in the middle -----------------------------------
echo "(b) journal damaged in the middle"
new_port
DATA=$WORK/data-$PORT
"$PYTHON" -c "
with open('$WORK/tasks-b.txt', 'w') as f:
    for i in range(1, 5001):
        f.write('journal task %d\n' % i)"
start_broker
submit ventilator-b disk-b "$WORK/tasks-b.txt" 60
expect_rc 0 "$WAIT_RC" "(b) ventilator"
kill -TERM "$BROKER_PID"
wait_pid "$BROKER_PID" 15
segment_of "$DATA"
cp "$SEGMENT" "$WORK/segment.good"
# Flip 4 bytes in the middle of the file: records follow the damage, so it
# cannot be mistaken for the torn tail a crash leaves.
"$PYTHON" - "$SEGMENT" <<'PY'
import sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
at = len(data) // 2
for i in range(at, at + 4):
    data[i] ^= 0xFF
open(path, "wb").write(data)
print("(b) %d bytes, flipped 4 at byte %d" % (len(data), at))
PY
cp "$SEGMENT" "$WORK/segment.bad"
start_bg broker-b "$SLUICE_BIN/sluice-broker" --bind "$BROKER" --data-dir "$DATA"
wait_pid "$LAST_PID" 10
[ "$WAIT_RC" != 0 ] || fail "(b) the broker started on a journal damaged in the middle"
expect_grep "$SEGMENT" "$WORK/broker-b.log" "(b) message naming the damaged segment"
expect_grep "damaged" "$WORK/broker-b.log" "(b) message saying the journal is damaged"
expect_grep "aside" "$WORK/broker-b.log" "(b) message saying what to do"
cmp -s "$SEGMENT" "$WORK/segment.bad" || fail "(b) the broker changed the damaged segment"
echo "(b) refused: $(tail -n 1 "$WORK/broker-b.log")"
# Restored, the journal gives the whole job back.
cp "$WORK/segment.good" "$SEGMENT"
start_broker
start_worker w1-b --builtin echo -j 2; W1=$LAST_PID
start_worker w2-b --builtin echo -j 2; W2=$LAST_PID
collect sink-b disk-b "$WORK/tasks-b.txt"
kill -TERM "$BROKER_PID" "$W1" "$W2"
wait_pid "$BROKER_PID" 15

# --- (c) Disk full, the broker restarted with more space -------------------
echo "(c) disk full"
small_disk
# A small job (200 tasks of 2000 bytes) fits: its ventilator is told the
# broker holds it. The big one (2500 of them, 5 MB) cannot fit.
"$PYTHON" -c "
for name, n in (('small', 200), ('big', 2500)):
    with open('$WORK/%s.txt' % name, 'w') as f:
        for i in range(1, n + 1):
            f.write('%05d %s\n' % (i, name[0] * 1994))"
start_broker
submit ventilator-c1 disk-c1 "$WORK/small.txt" 30
expect_rc 0 "$WAIT_RC" "(c) ventilator of a job that fits"
submit ventilator-c2 disk-c2 "$WORK/big.txt" 30
[ "$WAIT_RC" != 0 ] || fail "(c) the ventilator exited 0 although the disk is full"
expect_grep "No space left" "$WORK/ventilator-c2.log" "(c) ventilator's message"
echo "(c) ventilator failed (status $WAIT_RC):" \
    "$(grep "No space" "$WORK/ventilator-c2.log" | head -1)"
kill -0 "$BROKER_PID" 2>/dev/null || fail "(c) the broker died of a full disk"
segment_of "$DATA"
expect_grep "$SEGMENT: No space left" "$WORK/broker.log" "(c) broker's message naming the segment"
# While its journal cannot be written the broker takes no new job.
echo "one more task" > "$WORK/tiny.txt"
submit ventilator-c3 disk-c3 "$WORK/tiny.txt" 30
[ "$WAIT_RC" != 0 ] || fail "(c) a new job was accepted while the journal cannot be written"
expect_grep "No space left" "$WORK/ventilator-c3.log" "(c) refusal of a new job"
# Stop the broker, give the journal room, start again on it: the job the
# first ventilator was told about is all there, and re-running the failed
# ventilator command completes the other.
kill -TERM "$BROKER_PID"
wait_pid "$BROKER_PID" 15
mount -o remount,size=64m "$DATA" || fail "(c) cannot remount the tmpfs bigger"
seen=$(wc -l < "$WORK/broker.log")
start_broker
echo "(c) restarted: $(tail -n +$((seen + 1)) "$WORK/broker.log" | grep "records replayed\|torn")"
start_worker w1-c --builtin echo -j 2; W1=$LAST_PID
start_worker w2-c --builtin echo -j 2; W2=$LAST_PID
collect sink-c1 disk-c1 "$WORK/small.txt"
submit ventilator-c2-again disk-c2 "$WORK/big.txt" 60
expect_rc 0 "$WAIT_RC" "(c) ventilator re-run with room on disk"
echo "(c) re-run: $(grep "job disk-c2" "$WORK/ventilator-c2-again.log")"
collect sink-c2 disk-c2 "$WORK/big.txt"
kill -TERM "$BROKER_PID" "$W1" "$W2"
wait_pid "$BROKER_PID" 15

# --- (d) Disk full, then space comes back under the running broker --------
echo "(d) disk full, then space again"
small_disk
start_broker
submit ventilator-d disk-d "$WORK/big.txt" 30
[ "$WAIT_RC" != 0 ] || fail "(d) the ventilator exited 0 although the disk is full"
expect_grep "No space left" "$WORK/ventilator-d.log" "(d) ventilator's message"
mount -o remount,size=64m "$DATA" || fail "(d) cannot remount the tmpfs bigger"
wait_log "$WORK/broker.log" "journal in $DATA can be written again" 1 10
start_worker w1-d --builtin echo -j 2
start_worker w2-d --builtin echo -j 2
submit ventilator-d-again disk-d "$WORK/big.txt" 60
expect_rc 0 "$WAIT_RC" "(d) ventilator re-run once the broker recovered"
collect sink-d disk-d "$WORK/big.txt"
kill -0 "$BROKER_PID" 2>/dev/null || fail "(d) the broker exited"
