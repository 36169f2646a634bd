# The journal when its disk runs out (root only: small tmpfs mounts; skipped
# with a message where mounting is impossible).
# (a) No free inode, bytes free: a submission that crosses the 64 MB
#     segment size cannot start a new segment. That is no reason to refuse
#     it (the current segment still takes records): the ventilator exits 0.
#     Once inodes are free again a quiet broker starts its new segment by
#     itself (it retries each second, with nothing new coming in), a later
#     job is taken, and both jobs reach the sink exactly once. (A failed
#     rotation used to fail the journal until some later write happened to
#     succeed: a quiet broker refused every new job forever.)
# (b) A full disk while results pour in: the broker takes no results it
#     cannot journal (the workers keep them) and delivers none it has not
#     journaled, so its memory stays near --max-memory instead of growing
#     with every result (200 MiB before, for 2000 results of 100 kB and
#     --max-memory 32M); once there is room every result reaches the sink
#     exactly once.
. "$(dirname "$0")/lib.sh"

# small_disk OPTIONS : a fresh broker address whose data dir $DATA is a tmpfs
# mounted with OPTIONS.
small_disk () {
    PORT=$(free_port)
    BROKER="tcp://127.0.0.1:$PORT"
    DATA=$WORK/data-$PORT
    mount_tmpfs "$DATA" "$1"
}

# --- (a) No free inode for a new segment --------------------------------------
echo "(a) no inode for a new journal segment"
small_disk size=300m,nr_inodes=64
start_broker
# Take every inode left (the broker's own files exist by now).
mkdir "$DATA/fill"
for i in $(seq 100); do touch "$DATA/fill/f$i" 2>/dev/null || break; done
touch "$DATA/fill/more" 2>/dev/null && fail "(a) the tmpfs still has free inodes"
"$PYTHON" -c "
with open('$WORK/big.txt', 'w') as f:
    for i in range(70000):
        f.write('%07d%s\n' % (i, 'b' * 992))"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job big "$WORK/big.txt" >/dev/null \
    2>"$WORK/ventilator-big.log" || fail "(a) the ventilator failed (a rotation failed," \
    "but the segment could still be written): $(tail -n 2 "$WORK/ventilator-big.log")"
expect_grep "cannot create journal segment" "$WORK/broker.log" "(a) the failed rotation, logged"
echo "(a) 70 MB job taken although no new segment could be made"
rm -rf "$DATA/fill"
# Nothing new comes in: the broker must retry by itself.
wait_log "$WORK/broker.log" "a new segment could be started again" 1 10
ls "$DATA"/journal-*.wal | grep -q 0002.wal || fail "(a) no second segment: $(ls "$DATA")"
seq 100 >"$WORK/small.txt"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job small "$WORK/small.txt" >/dev/null \
    2>"$WORK/ventilator-small.log" || fail "(a) a job after the inodes came back was refused:" \
    "$(tail -n 2 "$WORK/ventilator-small.log")"
start_worker w1-a --builtin echo -j 4
start_worker w2-a --builtin echo -j 4
for job in big small; do
    start_bg sink-$job "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job $job \
        -o "$WORK/$job.jsonl" -f jsonl --no-progress
    wait_pid "$LAST_PID" 120
    expect_rc 0 "$WAIT_RC" "(a) sink of $job"
    $CHECK "$WORK/$job.txt" "$WORK/$job.jsonl" --expect echo --job $job || fail "(a) $job: results"
done
echo "(a) both jobs delivered exactly once"
kill -TERM "$BROKER_PID" "${PIDS[@]}" 2>/dev/null
wait_pid "$BROKER_PID" 15

# --- (b) A full disk while results come in --------------------------------------
echo "(b) full disk under a stream of big results"
small_disk size=16m
start_broker --max-memory 32M
seq 2000 >"$WORK/tasks-b.txt"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job flood "$WORK/tasks-b.txt" >/dev/null \
    2>"$WORK/ventilator-b.log" || fail "(b) ventilator"
dd if=/dev/zero of="$DATA/filler" bs=64k 2>/dev/null
# Each result is 100 kB: 200 MB in all, on a disk that has no room left.
CMD='head -c 100000 /dev/zero | tr "\0" a'
start_worker w1-b --exec "$CMD" -j 2
start_worker w2-b --exec "$CMD" -j 2
start_bg sink-b "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job flood \
    -o "$WORK/flood.jsonl" -f jsonl --no-progress
SINK=$LAST_PID
wait_log "$WORK/broker.log" "No space left" 1 30
# Let it run against the full disk, watching the broker's peak memory.
sleep 8
peak=$(awk '/VmHWM/ {print $2}' "/proc/$BROKER_PID/status")
[ -n "$peak" ] || fail "(b) cannot read the broker's peak RSS from /proc/$BROKER_PID/status"
echo "(b) broker peak RSS with the disk full: $((peak / 1024)) MiB (--max-memory 32M)"
[ "$peak" -lt $((96 * 1024)) ] || fail "(b) broker peak RSS $((peak / 1024)) MiB with a full disk"
# Room for all 200 MB of results (a job's segments are kept until it ends).
rm -f "$DATA/filler"
mount -o remount,size=400m "$DATA" || fail "(b) cannot remount the tmpfs bigger"
wait_pid "$SINK" 120
expect_rc 0 "$WAIT_RC" "(b) sink"
"$PYTHON" - "$WORK/flood.jsonl" <<'PY' || fail "(b) results"
import json, sys
records = [json.loads(l) for l in open(sys.argv[1])]
seqs = sorted(r["seq"] for r in records)
assert seqs == list(range(1, 2001)), "%d records, seqs %s..." % (len(records), seqs[:5])
bad = [r["seq"] for r in records if r["status"] != "ok" or r["output"] != "a" * 100000]
assert not bad, "wrong results: %s" % bad[:5]
PY
peak=$(awk '/VmHWM/ {print $2}' "/proc/$BROKER_PID/status")
echo "(b) every result exactly once after space came back; broker peak RSS $((peak / 1024)) MiB"
