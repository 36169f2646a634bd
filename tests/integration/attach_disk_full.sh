# An attachment that does not fit on the broker's disk (issue 14, F5): a
# 20 MB file shipped with a job of 50 tasks to a broker whose data dir is
# an 8 MiB tmpfs (root only; skipped where mount is not permitted).
# - The ventilator does not exit 0: it fails in bounded time, naming the
#   attachment and the reason (No space left on device), not before it has
#   sent it again. The worker that got the job's tasks warns that they wait
#   for the file, rather than wait in silence.
# - The broker logs the real reason (not "No such file or directory"), and
#   keeps neither a .part nor a file under the attachment's name.
# - With room on the disk, the same command again (--job) completes: the
#   broker holds the file whole, the worker that waited for it fetches it
#   and runs every task, exactly once, with the right file; a broker killed
#   (-9) and restarted after that still has it.
. "$(dirname "$0")/lib.sh"

DATA=$WORK/data-$PORT
mount_tmpfs "$DATA" size=8m

head -c 20000000 /dev/urandom >"$WORK/data.bin"
HASH=$(sha1sum "$WORK/data.bin" | cut -d' ' -f1)
seq 50 >"$WORK/tasks.txt"

start_broker
start_worker w1 --exec 'sha1sum < {attach:data} | cut -d" " -f1' -j 2 --attach-cache "$WORK/cache"
wait_workers 1

# (1) The disk is too small: exit 1 in bounded time, saying what and why.
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job A --attach "data=$WORK/data.bin" \
    "$WORK/tasks.txt" >/dev/null 2>"$WORK/ventilator-1.log" &
VPID=$!
PIDS+=("$VPID")
wait_pid "$VPID" 60
[ "$WAIT_RC" != 0 ] || fail "(1) the ventilator exited 0 although the broker could not store" \
    "the attachment"
expect_rc 1 "$WAIT_RC" "(1) ventilator"
expect_grep "attachment data ($WORK/data.bin, 20000000 bytes)" "$WORK/ventilator-1.log" \
    "(1) the ventilator names the attachment"
expect_grep "No space left on device" "$WORK/ventilator-1.log" "(1) the ventilator says why"
expect_grep "run the same command again with --job A" "$WORK/ventilator-1.log" \
    "(1) the ventilator says what to do"
[ "$(grep -c "could not store an attachment (.*No space left on device); sending it again" \
    "$WORK/ventilator-1.log")" -ge 1 ] \
    || fail "(1) the ventilator did not send the attachment again before giving up"
echo "(1) ventilator: $(tail -n 1 "$WORK/ventilator-1.log")"
expect_grep "attachment $HASH: cannot write .*: No space left on device" "$WORK/broker.log" \
    "(1) the broker's message"
if grep -q "No such file or directory" "$WORK/broker.log"; then
    fail "(1) the broker blames a missing file for a full disk"
fi
leftover=$(ls -A "$DATA/attachments")
[ -z "$leftover" ] || fail "(1) the broker kept attachment files on a full disk: $leftover"
kill -0 "$BROKER_PID" 2>/dev/null || fail "(1) the broker died of a full disk"
# The worker holding the job's tasks does not wait in silence.
wait_log "$WORK/w1.log" "^W:.*attachment $HASH: the broker has answered .* the tasks that need it wait" 1 20
echo "(1) worker: $(grep "attachment $HASH: the broker has answered" "$WORK/w1.log" | head -1 | cut -c1-150)..."

# (2) Room on the disk: the same command completes the job.
mount -o remount,size=64m "$DATA" || fail "(2) cannot remount the tmpfs bigger"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job A --attach "data=$WORK/data.bin" \
    "$WORK/tasks.txt" >/dev/null 2>"$WORK/ventilator-2.log" &
VPID=$!
PIDS+=("$VPID")
wait_pid "$VPID" 60
expect_rc 0 "$WAIT_RC" "(2) ventilator run again with room on the disk"
[ "$(sha1sum <"$DATA/attachments/$HASH" | cut -d' ' -f1)" = "$HASH" ] \
    || fail "(2) the broker's copy is not the file"
[ ! -e "$DATA/attachments/$HASH.part" ] || fail "(2) a .part is left beside the whole file"

# (3) Durable: a broker killed now and restarted still has it.
kill -KILL "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null
start_broker
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job A -o "$WORK/out.jsonl" --format jsonl \
    2>"$WORK/sink.log" &
SPID=$!
PIDS+=("$SPID")
wait_pid "$SPID" 90
expect_rc 0 "$WAIT_RC" "(3) sink"
"$PYTHON" - "$WORK/out.jsonl" "$HASH" <<'PY' || fail "(3) results"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
seqs = sorted(r["seq"] for r in recs)
if seqs != list(range(1, 51)):
    sys.exit("seqs are not 1..50 once each: %s" % seqs)
for r in recs:
    if r["status"] != "ok" or r["output"].strip() != sys.argv[2]:
        sys.exit("task %d: %r (%s)" % (r["seq"], r["output"], r["status"]))
print("(3) 50 tasks, each once, each saw the whole attachment")
PY
echo "attach_disk_full: checked"
