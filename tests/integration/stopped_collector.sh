# A stopped collector never slows the others (issue 16): 4 sinks collect 4
# jobs while a 5th sink, for a 5th, larger job, is stopped (SIGSTOP) for 10 s. The
# 4 jobs' completion time is measured with the 5th sink stopped and, the
# same work, with it running; the ratio is printed and must stay near 1.
# The stopped sink, continued, still gets every result of its job once.
. "$(dirname "$0")/lib.sh"

N=3000
"$PYTHON" - "$WORK/tasks.txt" $N <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for k in range(1, int(sys.argv[2]) + 1):
        f.write("%d\n" % (k % 3))   # sleep-worker tasks: 0-2 ms, echoed
PY
# The 5th job is larger than a collector's window (20,000 results in
# flight): stopped, its sink fills its window, which must hold back no one.
"$PYTHON" -c "open('$WORK/big.txt', 'w').write('0\n' * 24000)"
start_broker
start_worker w1 --builtin sleep -j 8
start_worker w2 --builtin sleep -j 8
wait_workers 2

now_ms () { date +%s%3N; }

# round NAME STOP: 5 sinks on 5 new jobs NAME-1..5; with STOP=1 the 5th is
# stopped from before its job starts until 10 s later. Sets ROUND_MS: how
# long jobs 1-4 took, from their submission to their sinks' exit.
round () {
    local name=$1 stop=$2 i t0 pids=()
    for ((i = 1; i <= 5; i++)); do
        start_bg "sink-$name-$i" "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job "$name-$i" \
            -o "$WORK/$name-$i.jsonl" -f jsonl
        pids+=("$LAST_PID")
    done
    wait_log "$WORK/broker.log" "sink .* attached for job $name-" 5 20
    [ "$stop" = 1 ] && kill -STOP "${pids[4]}"
    t0=$(now_ms)
    "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job "$name-5" "$WORK/big.txt" \
        >/dev/null 2>>"$WORK/ventilator.log" || fail "ventilator $name-5"
    for ((i = 4; i >= 1; i--)); do
        "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job "$name-$i" "$WORK/tasks.txt" \
            >/dev/null 2>>"$WORK/ventilator.log" || fail "ventilator $name-$i"
    done
    for ((i = 0; i < 4; i++)); do
        wait_pid "${pids[$i]}" 120
        expect_rc 0 "$WAIT_RC" "sink $name-$((i + 1))"
    done
    ROUND_MS=$(($(now_ms) - t0))
    if [ "$stop" = 1 ]; then
        local left=$((10000 - ($(now_ms) - t0)))
        [ $left -gt 0 ] && sleep "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))"
        kill -CONT "${pids[4]}"
    fi
    wait_pid "${pids[4]}" 120
    expect_rc 0 "$WAIT_RC" "sink $name-5"
    for ((i = 1; i <= 4; i++)); do
        $CHECK "$WORK/tasks.txt" "$WORK/$name-$i.jsonl" --expect echo --job "$name-$i" \
            || fail "$name-$i: results"
    done
    $CHECK "$WORK/big.txt" "$WORK/$name-5.jsonl" --expect echo --job "$name-5" \
        || fail "$name-5: results"
}

round warm 0 # (the first round pays for warming up)
round normal 0
NORMAL_MS=$ROUND_MS
round stopped 1
STOPPED_MS=$ROUND_MS
echo "4 jobs of $N tasks: ${NORMAL_MS} ms beside a running 5th sink, ${STOPPED_MS} ms beside a" \
    "stopped one: ratio $(awk "BEGIN { printf \"%.2f\", $STOPPED_MS / $NORMAL_MS }")"
# Stopped for 10 s: had it held the others back, they would take >= 10 s.
[ "$STOPPED_MS" -lt $((NORMAL_MS * 2 + 1000)) ] \
    || fail "the others took ${STOPPED_MS} ms beside a stopped sink, ${NORMAL_MS} ms normally"
[ "$STOPPED_MS" -lt 9000 ] || fail "the others waited for the stopped sink (${STOPPED_MS} ms)"
expect_grep "sink .* detached (no heartbeat)" "$WORK/broker.log" "the stopped sink given up"
