# Job-wide shared data (ventilator --attach): a 20 MB file and a small one
# shipped with a job of 2,000 tasks over 4 workers, each with its own cache.
# Every command sees both (by {attach:NAME} and $SLUICE_ATTACH_NAME), each
# worker fetches each file once (its log counts the bytes, its cache holds
# it under its SHA-1), a second job with the same file fetches nothing, and
# a library worker's handler reads them with sluice_task_attachment, and
# the errors are clear: a missing file, a name twice, a file over the
# broker's --max-attachment, {attach:NAME} of no attachment.
. "$(dirname "$0")/lib.sh"

head -c $((20 * 1024 * 1024)) /dev/urandom >"$WORK/data.bin"
printf 'hello' >"$WORK/dict.txt"
SIZE=$(stat -c %s "$WORK/data.bin")
HASH=$(sha1sum "$WORK/data.bin" | cut -d' ' -f1)
for i in $(seq 1 2000); do echo "t$i"; done >"$WORK/tasks.txt"
EXEC='printf "%s %s %s" {} "$(wc -c < {attach:data})" "$(cat "$SLUICE_ATTACH_DICT")"'

start_broker --max-attachment 64M
for n in 1 2 3 4; do
    start_worker "w$n" --exec "$EXEC" -j 2 --attach-cache "$WORK/cache-$n"
done
wait_workers 4
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job att --attach "data=$WORK/data.bin" \
    --attach "dict=$WORK/dict.txt" "$WORK/tasks.txt" >/dev/null 2>"$WORK/ventilator.log" \
    || fail "ventilator exit $?"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job att -o "$WORK/out.jsonl" --format jsonl \
    2>"$WORK/sink.log" || fail "sink exit $?"
"$PYTHON" - "$WORK/out.jsonl" "$SIZE" <<'PY' || fail "results of the job with attachments"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
if sorted(r["seq"] for r in recs) != list(range(1, 2001)):
    sys.exit("seqs are not 1..2000 once each")
for r in recs:
    want = "t%d %s hello" % (r["seq"], sys.argv[2])
    if r["status"] != "ok" or r["output"] != want:
        sys.exit("task %d: %r (%s), not %r" % (r["seq"], r["output"], r["status"], want))
print("attachments: %d tasks on %d workers saw both files" % (len(recs), len({r["worker"] for r in recs})))
PY
# Each worker fetched each file once: SIZE + 5 bytes, and kept it.
for n in 1 2 3 4; do
    grep -q "attachment $HASH fetched ($SIZE bytes)" "$WORK/w$n.log" \
        || fail "worker $n did not fetch the data file (or not whole)"
    [ "$(grep -c "attachment $HASH fetched" "$WORK/w$n.log")" = 1 ] \
        || fail "worker $n fetched the data file more than once"
    [ "$(sha1sum <"$WORK/cache-$n/$HASH" | cut -d' ' -f1)" = "$HASH" ] \
        || fail "worker $n's cached copy is not the file"
done
# Same file, new job: nothing is fetched again.
head -n 100 "$WORK/tasks.txt" >"$WORK/hundred.txt"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job att2 --attach "data=$WORK/data.bin" \
    --attach "dict=$WORK/dict.txt" "$WORK/hundred.txt" >/dev/null 2>>"$WORK/ventilator.log" \
    || fail "second ventilator exit $?"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job att2 -o "$WORK/out2.jsonl" --format jsonl \
    2>>"$WORK/sink.log" || fail "second sink exit $?"
for n in 1 2 3 4; do
    [ "$(grep -c "attachment $HASH fetched" "$WORK/w$n.log")" = 1 ] \
        || fail "worker $n fetched the data file again for a second job"
done
# Bytes moved: the broker's counter, against 4 copies of both files.
kill -TERM "${PIDS[@]:1:4}"
for n in 1 2 3 4; do wait_pid "${PIDS[$n]}" 20; done
for n in 1 2 3 4; do
    grep -q "attachments: $((SIZE + 5)) bytes fetched" "$WORK/w$n.log" \
        || fail "worker $n fetched other than $((SIZE + 5)) bytes"
done
echo "attachments: $(( 4 * (SIZE + 5) )) bytes moved for a $SIZE-byte file, 2,100 tasks, 4 workers"

# --- A library worker (sluice_task_attachment) ----------------------------------------------
# examples/c/worker answers a payload "@NAME" with attachment NAME, uppercased; its
# cache is the default one, under $XDG_CACHE_HOME.
DICT_HASH=$(sha1sum "$WORK/dict.txt" | cut -d' ' -f1)
start_bg libw env XDG_CACHE_HOME="$WORK/xdg" "$SLUICE_BIN/examples/c/worker" "$BROKER" lib 2
wait_workers 5
{ for i in $(seq 1 50); do echo "@dict"; done; echo "@nosuch"; } >"$WORK/lib.txt"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job att-lib --queue lib \
    --attach "dict=$WORK/dict.txt" "$WORK/lib.txt" >/dev/null 2>>"$WORK/ventilator.log" \
    || fail "ventilator of the library job exit $?"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job att-lib -o "$WORK/lib.jsonl" --format jsonl \
    2>"$WORK/sink-lib.log"
expect_rc 1 "$?" "sink of the library job (one task names no attachment)"
"$PYTHON" - "$WORK/lib.jsonl" <<'PY' || fail "results of the library worker with attachments"
import json, sys
recs = {r["seq"]: r for r in map(json.loads, open(sys.argv[1]))}
if sorted(recs) != list(range(1, 52)):
    sys.exit("seqs are not 1..51 once each")
for seq in range(1, 51):
    if recs[seq]["status"] != "ok" or recs[seq]["output"] != "HELLO":
        sys.exit("task %d: %r (%s), not 'HELLO'" % (seq, recs[seq]["output"], recs[seq]["status"]))
if recs[51]["status"] != "failed" or recs[51]["output"] != "no such attachment":
    sys.exit("task 51: %r (%s)" % (recs[51]["output"], recs[51]["status"]))
print("attachments: a library worker read its job's file in 50 tasks")
PY
[ "$(cat "$WORK/xdg/sluice/attachments/$DICT_HASH")" = hello ] \
    || fail "the library worker's cache does not hold the file"

# --- Errors -----------------------------------------------------------------------------
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --attach "$WORK/nope" "$WORK/tasks.txt" \
    2>"$WORK/e1.log" >/dev/null
expect_rc 2 "$?" "--attach of a missing file"
expect_grep "cannot open $WORK/nope" "$WORK/e1.log" "missing file"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --attach "x=$WORK/dict.txt" \
    --attach "x=$WORK/data.bin" "$WORK/tasks.txt" 2>"$WORK/e2.log" >/dev/null
expect_rc 2 "$?" "two attachments of one name"
expect_grep "two attachments named x" "$WORK/e2.log" "name twice"
head -c $((65 * 1024 * 1024)) /dev/zero >"$WORK/big.bin"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --attach "$WORK/big.bin" "$WORK/tasks.txt" \
    2>"$WORK/e3.log" >/dev/null
expect_rc 1 "$?" "an attachment over --max-attachment"
expect_grep "over the broker's --max-attachment" "$WORK/e3.log" "too big"
start_worker w5 --exec 'cat {attach:nosuch}' --attach-cache "$WORK/cache-5"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job bad --attach "$WORK/dict.txt" \
    "$WORK/hundred.txt" >/dev/null 2>>"$WORK/ventilator.log" || fail "ventilator bad exit $?"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job bad -o "$WORK/bad.jsonl" --format jsonl \
    2>"$WORK/sink-bad.log"
expect_rc 1 "$?" "sink of tasks whose command names no attachment"
expect_grep 'attach:nosuch}: the job has no attachment of that name' "$WORK/bad.jsonl" \
    "unknown attachment name"
echo "attachments: checked"
