# Many collectors at once (issue 16): 8 sinks on 8 jobs of different sizes
# and 2 libsluice maps of their own jobs, all attached together; 3 sinks
# killed (-9) mid-job and replaced (--resume): every seq of every job in
# exactly one written record, the right output. Then a catch-all sink
# beside a sink with --job: each gets its jobs only.
. "$(dirname "$0")/lib.sh"

EX=$SLUICE_BIN/examples/c
NJOBS=8
MAPN=3000

"$PYTHON" - "$WORK" "$NJOBS" <<'PY'
import sys
work, n = sys.argv[1], int(sys.argv[2])
for i in range(1, n + 1):
    with open("%s/tasks-%d.txt" % (work, i), "w") as f:
        for k in range(1, 2000 * i + 1):
            f.write("%d\n" % (k % 3 + 1))   # sleep-worker tasks: 1-3 ms, echoed
PY
start_broker
start_worker w1 --builtin sleep -j 8
start_worker w2 --builtin sleep -j 8
start_bg upper "$EX/worker" "$BROKER" upper 4
wait_workers 3
for ((i = 1; i <= NJOBS; i++)); do
    "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job "mc-$i" "$WORK/tasks-$i.txt" \
        >/dev/null 2>>"$WORK/ventilator.log" || fail "ventilator $i: exit status $?"
done

# sink I [ROUND]: a sink for job mc-I, resuming its file.
sink () {
    start_bg "sink$1${2:-}" "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job "mc-$1" \
        -o "$WORK/out-$1.jsonl" -f jsonl --resume
    SINK[$1]=$LAST_PID
}
declare -a SINK
for ((i = 1; i <= NJOBS; i++)); do
    sink $i
done
start_bg map1 "$EX/map" "$BROKER" upper $MAPN >"$WORK/map1.out"
MAP1=$LAST_PID
start_bg map2 "$EX/map" "$BROKER" upper $MAPN >"$WORK/map2.out"
MAP2=$LAST_PID
wait_log "$WORK/broker.log" "sink .* attached for job mc-" $NJOBS 20

# sluice-ctl status lists every collector and the jobs it holds.
"$SLUICE_BIN/sluice-ctl" --broker "$BROKER" status >"$WORK/status.txt" 2>>"$WORK/ctl.log" \
    || fail "sluice-ctl status: exit status $?"
expect_grep "^COLLECTOR" "$WORK/status.txt" "collectors table"
for i in 8 7 6; do # the largest jobs: still being collected
    expect_grep " mc-$i$" "$WORK/status.txt" "collector of mc-$i"
done
"$SLUICE_BIN/sluice-ctl" --broker "$BROKER" status --json >"$WORK/status.json" \
    2>>"$WORK/ctl.log" || fail "sluice-ctl status --json: exit status $?"
"$PYTHON" - "$WORK/status.json" "$NJOBS" <<'PY' || fail "status --json: collectors"
import json, sys
s = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
held = [j for c in s["collectors"] for j in c["jobs"] if j.startswith("mc-")]
assert len(held) == len(set(held)), held          # no job held twice
assert {"mc-6", "mc-7", "mc-8"} <= set(held), held   # still being collected
assert all(not c["catch_all"] for c in s["collectors"]), s["collectors"]
# One job each (none once its job is done and before it leaves).
assert all(len(c["jobs"]) <= 1 for c in s["collectors"]), s["collectors"]
PY

# Kill the 3 sinks of the largest jobs mid-job (results yet to come), start replacements:
# they wait until the broker gives the dead one up, then continue.
sleep 1
for i in 8 7 6; do
    kill -0 "${SINK[$i]}" 2>/dev/null || fail "sink $i ended before it could be killed"
    kill -9 "${SINK[$i]}"
    wait "${SINK[$i]}" 2>/dev/null
    sink $i again
done
for ((i = 1; i <= NJOBS; i++)); do
    wait_pid "${SINK[$i]}" 120
    expect_rc 0 "$WAIT_RC" "sink for mc-$i"
done
wait_pid "$MAP1" 120
expect_rc 0 "$WAIT_RC" "map 1"
wait_pid "$MAP2" 120
expect_rc 0 "$WAIT_RC" "map 2"

for ((i = 1; i <= NJOBS; i++)); do
    $CHECK "$WORK/tasks-$i.txt" "$WORK/out-$i.jsonl" --expect echo --job "mc-$i" \
        || fail "job mc-$i: results do not match its task file"
done
for ((k = 1; k <= MAPN; k++)); do printf '%d\tok\tITEM-%d\n' $k $k; done >"$WORK/want-map.txt"
for m in map1 map2; do
    diff "$WORK/want-map.txt" "$WORK/$m.out" >"$WORK/$m.diff" \
        || { head "$WORK/$m.diff" >&2; fail "$m: results differ"; }
done
expect_grep "sink .* detached" "$WORK/broker.log" "killed sinks given up"

# A catch-all beside a sink with --job: each gets its own jobs, at once.
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job named-1 "$WORK/tasks-1.txt" \
    >/dev/null 2>>"$WORK/ventilator.log" || fail "ventilator named-1"
start_bg named "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job named-1 \
    -o "$WORK/named.jsonl" -f jsonl
NAMED=$LAST_PID
wait_log "$WORK/broker.log" "sink .* attached for job named-1" 1 20
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job any-1 "$WORK/tasks-2.txt" \
    >/dev/null 2>>"$WORK/ventilator.log" || fail "ventilator any-1"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" -o "$WORK/any.jsonl" -f jsonl 2>"$WORK/any.log"
expect_rc 0 $? "catch-all sink"
wait_pid "$NAMED" 60
expect_rc 0 "$WAIT_RC" "sink with --job beside the catch-all"
$CHECK "$WORK/tasks-1.txt" "$WORK/named.jsonl" --expect echo --job named-1 \
    || fail "named-1 results"
$CHECK "$WORK/tasks-2.txt" "$WORK/any.jsonl" --expect echo --job any-1 || fail "any-1 results"

# One sink with --job twice collects both jobs, and exits once both are
# done; a third job beside them goes to a sink of its own.
for j in pair-a pair-b pair-c; do
    "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job $j "$WORK/tasks-1.txt" \
        >/dev/null 2>>"$WORK/ventilator.log" || fail "ventilator $j"
done
start_bg pair "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job pair-a --job pair-b \
    -o "$WORK/pair.jsonl" -f jsonl
PAIR=$LAST_PID
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job pair-c -o "$WORK/pair-c.jsonl" -f jsonl \
    2>"$WORK/pair-c.log"
expect_rc 0 $? "sink of pair-c beside the sink of pair-a and pair-b"
wait_pid "$PAIR" 60
expect_rc 0 "$WAIT_RC" "sink with --job pair-a --job pair-b"
for j in pair-a pair-b; do
    grep "\"job\": *\"$j\"" "$WORK/pair.jsonl" >"$WORK/$j.jsonl" || fail "no results of $j"
    $CHECK "$WORK/tasks-1.txt" "$WORK/$j.jsonl" --expect echo --job $j || fail "$j results"
done
if grep -q '"pair-c"' "$WORK/pair.jsonl"; then fail "pair-c written by the sink of a and b"; fi
$CHECK "$WORK/tasks-1.txt" "$WORK/pair-c.jsonl" --expect echo --job pair-c || fail "pair-c results"

# A second catch-all is refused with a message naming the first (as the
# second sink always was).
start_bg any2 "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --follow -o /dev/null
ANY2=$LAST_PID
wait_log "$WORK/broker.log" "sink .* attached \(follow\)" 1 20
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" -o /dev/null 2>"$WORK/any3.log"
expect_rc 2 $? "second catch-all"
expect_grep "another sink (.*) is attached" "$WORK/any3.log" "second catch-all message"
kill -TERM "$ANY2"
wait_pid "$ANY2" 20
echo "PASS: $NJOBS sinks, 2 maps, 3 sinks killed and replaced; catch-all beside --job"
