# sluice-sink -k writes each job's results in task order: sleeps of
# shuffled lengths on 3 workers come back out of order, and the output is
# seq 1, 2, 3... exactly, complete, in JSON Lines and in text; also when a
# worker is killed mid-job (its tasks come back late), when more results
# wait behind a slow one than the broker sends unacknowledged (they go to
# the park file FILE.parked, or are held in memory for text), when the
# sink is killed and resumed with results in the park file, when an
# earlier sink took part of the job (gaps that never fill), and when a
# resumed file holds another job too.
. "$(dirname "$0")/lib.sh"

N=300
# Each duration once (1..300 ms): a result out of place in the text output
# cannot look right by chance. About 4 s on 12 slots.
"$PYTHON" -c "
import random
v = list(range(1, $N + 1))
random.Random(17).shuffle(v)
open('$WORK/tasks.txt', 'w').write(''.join('%d\n' % x for x in v))"
cat >"$WORK/check_order.py" <<'PY'
import json, sys
seqs = [json.loads(line)["seq"] for line in open(sys.argv[1], "rb")]
want = list(range(1, int(sys.argv[2]) + 1))
if seqs != want:
    bad = next((i for i, (a, b) in enumerate(zip(seqs, want)) if a != b), min(len(seqs), len(want)))
    print("check_order: %s: %d results, not seq 1..%s in order: line %d has %s"
          % (sys.argv[1], len(seqs), sys.argv[2], bad + 1, seqs[bad] if bad < len(seqs) else "nothing"),
          file=sys.stderr)
    sys.exit(1)
print("check_order: %s: seq 1..%s in order" % (sys.argv[1], sys.argv[2]))
PY
check_order () {
    "$PYTHON" "$WORK/check_order.py" "$1" "$2" || fail "order of $(basename "$1")"
}
submit () { # JOB TASKFILE
    "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job "$1" "$2" \
        >/dev/null 2>>"$WORK/ventilator.log" || fail "ventilator ($1)"
}
# held_back LOG : how many results the sink says it held back (at least 1:
# else the test did not test the reordering).
held_back () {
    local n
    n=$(sed -n 's/.*--keep-order held back \([0-9]*\) results.*/\1/p' "$1" | tail -n 1)
    [ -n "$n" ] && [ "$n" -gt 0 ] || fail "$(basename "$1"): no result was held back (${n:-none})"
    echo "$(basename "$1"): $n results held back"
}
# wait_lines FILE COUNT SECONDS
wait_lines () {
    local i
    for ((i = 0; i < $3 * 20; i++)); do
        [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ] && return 0
        sleep 0.05
    done
    fail "$(basename "$1") has not $2 lines after $3 s"
}

start_broker --heartbeat 250
start_worker w1 --builtin sleep -j 4; W1=$LAST_PID
start_worker w2 --builtin sleep -j 4
start_worker w3 --builtin sleep -j 4
wait_workers 3

# 1. JSON Lines: seq order, every result once.
submit k1 "$WORK/tasks.txt"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job k1 -k -v -o "$WORK/k1.jsonl" -f jsonl \
    2>"$WORK/sink-k1.log"
expect_rc 0 $? "sink -k (jsonl)"
$CHECK "$WORK/tasks.txt" "$WORK/k1.jsonl" --expect echo --job k1 --workers 3 || fail "k1 results"
check_order "$WORK/k1.jsonl" $N
held_back "$WORK/sink-k1.log"

# 2. Text: the output is the task file, line for line.
submit k2 "$WORK/tasks.txt"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job k2 --keep-order -v -o "$WORK/k2.txt" \
    2>"$WORK/sink-k2.log"
expect_rc 0 $? "sink -k (text)"
cmp "$WORK/k2.txt" "$WORK/tasks.txt" || fail "text output is not the task outputs in task order"
held_back "$WORK/sink-k2.log"

# 3. A worker killed mid-job: its tasks run again elsewhere and come late.
submit k3 "$WORK/tasks.txt"
start_bg sink-k3 "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job k3 -k -v \
    -o "$WORK/k3.jsonl" -f jsonl
SINK=$LAST_PID
wait_lines "$WORK/k3.jsonl" 20 20
kill -9 "$W1"
wait_pid "$SINK" 60
expect_rc 0 "$WAIT_RC" "sink -k with a worker killed"
$CHECK "$WORK/tasks.txt" "$WORK/k3.jsonl" --expect echo --job k3 || fail "k3 results"
check_order "$WORK/k3.jsonl" $N
held_back "$WORK/sink-k3.log"
start_worker w4 --builtin sleep -j 4
wait_workers 4

# 4. More results behind a slow one than the broker sends unacknowledged
# (20000): seq 3 sleeps 3 s, 24,999 others take no time. They are
# acknowledged early, saved in the park file first (JSON Lines to a file),
# or held in memory with a warning (text).
BIG=25000
"$PYTHON" -c "open('$WORK/big.txt', 'w').write('0\n0\n3000\n' + '0\n' * ($BIG - 3))"
submit k4 "$WORK/big.txt"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job k4 -k -v -o "$WORK/k4.jsonl" -f jsonl \
    2>"$WORK/sink-k4.log"
expect_rc 0 $? "sink -k with $BIG results behind a gap"
$CHECK "$WORK/big.txt" "$WORK/k4.jsonl" --expect echo --job k4 || fail "k4 results"
check_order "$WORK/k4.jsonl" $BIG
held_back "$WORK/sink-k4.log"
[ ! -e "$WORK/k4.jsonl.parked" ] || fail "the park file is left after a complete job"
submit k4t "$WORK/big.txt"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job k4t -k -v -o "$WORK/k4t.txt" \
    2>"$WORK/sink-k4t.log"
expect_rc 0 $? "sink -k (text) with $BIG results behind a gap"
cmp "$WORK/k4t.txt" "$WORK/big.txt" || fail "k4t: text output is not in task order"
expect_grep "held in memory only" "$WORK/sink-k4t.log" "warning about results acknowledged early"

# 5. A sink killed with results in the park file, resumed with -k: the
# park file is read back, the output is complete and in order.
submit k5 "$WORK/big.txt"
start_bg sink-k5a "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job k5 -k -v \
    -o "$WORK/k5.jsonl" -f jsonl
SINK=$LAST_PID
wait_lines "$WORK/k5.jsonl.parked" 8000 20
kill -9 "$SINK"
wait "$SINK" 2>/dev/null
echo "killed sink: $(wc -l <"$WORK/k5.jsonl") written, $(wc -l <"$WORK/k5.jsonl.parked") parked"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job k5 -k -v --resume -o "$WORK/k5.jsonl" \
    -f jsonl 2>"$WORK/sink-k5b.log"
expect_rc 0 $? "sink -k --resume"
expect_grep "acknowledged ahead of their turn found in" "$WORK/sink-k5b.log" "park file read back"
$CHECK "$WORK/big.txt" "$WORK/k5.jsonl" --expect echo --job k5 || fail "k5 results"
check_order "$WORK/k5.jsonl" $BIG
[ ! -e "$WORK/k5.jsonl.parked" ] || fail "the park file is left after a resumed job"

# 6. An earlier sink (no -k) took part of the job and stopped; a -k sink on
# a new file gets the rest: gaps that never fill. It writes what it holds
# in seq order once the broker has every result, with a warning.
submit k6 "$WORK/tasks.txt"
start_bg sink-k6a "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job k6 -o "$WORK/k6a.jsonl" \
    -f jsonl
SINK=$LAST_PID
wait_lines "$WORK/k6a.jsonl" 60 20
kill -TERM "$SINK"
wait_pid "$SINK" 20
first=$(wc -l <"$WORK/k6a.jsonl")
[ "$first" -lt $N ] || fail "k6: the first sink took the whole job; nothing left to test"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job k6 -k -v -o "$WORK/k6b.jsonl" -f jsonl \
    2>"$WORK/sink-k6b.log"
expect_rc 0 $? "sink -k after an earlier sink"
expect_grep "earlier sink" "$WORK/sink-k6b.log" "warning about gaps that never fill"
cat "$WORK/k6a.jsonl" "$WORK/k6b.jsonl" >"$WORK/k6.jsonl"
$CHECK "$WORK/tasks.txt" "$WORK/k6.jsonl" --expect echo --job k6 || fail "k6 results"
"$PYTHON" - "$WORK/k6b.jsonl" <<'PY' || fail "k6: the second sink's results are not in seq order"
import json, sys
seqs = [json.loads(line)["seq"] for line in open(sys.argv[1], "rb")]
sys.exit(0 if seqs == sorted(seqs) and seqs else 1)
PY

# 7. --resume --job on a file that holds another job too: that job is not
# this sink's business (the sink used to wait for it forever); the new
# job's results follow, in order.
head -n 30 "$WORK/tasks.txt" >"$WORK/small.txt"
submit k7 "$WORK/small.txt"
cp "$WORK/k1.jsonl" "$WORK/k7.jsonl"
timeout 60 "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job k7 -k --resume \
    -o "$WORK/k7.jsonl" -f jsonl 2>"$WORK/sink-k7.log"
expect_rc 0 $? "sink -k --resume --job on a file with another job"
head -n $N "$WORK/k7.jsonl" | cmp - "$WORK/k1.jsonl" || fail "k7: the other job's lines changed"
tail -n +$((N + 1)) "$WORK/k7.jsonl" >"$WORK/k7-only.jsonl"
$CHECK "$WORK/small.txt" "$WORK/k7-only.jsonl" --expect echo --job k7 || fail "k7 results"
check_order "$WORK/k7-only.jsonl" 30
echo "keep_order: ok (first sink of k6 took $first of $N)"
