# A task file of 10 million lines (BIG_LINES to change it) end to end: one
# job through the broker (default journal) and 2 echo workers to a sink
# writing text. The sorted output must equal the sorted task file: every
# line came back exactly once. Also reports the time taken and the
# broker's peak memory.
. "$(dirname "$0")/lib.sh"

LINES=${BIG_LINES:-10000000}
seq -f "line %.0f of the big file" 1 "$LINES" >"$WORK/tasks.txt"
start_broker
start_worker w1 --builtin echo -j 2
start_worker w2 --builtin echo -j 2
wait_workers 2
START=$(date +%s%N)
start_bg sink "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job big -o "$WORK/out.txt" \
    --format text
SINK_PID=$LAST_PID
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job big "$WORK/tasks.txt" >/dev/null \
    2>"$WORK/ventilator.log" || fail "ventilator exit status $?"
wait_pid "$SINK_PID" 900
expect_rc 0 "$WAIT_RC" "sink"
END=$(date +%s%N)
PEAK=$(awk '/^VmHWM:/ { print $2 }' "/proc/$BROKER_PID/status")
expect_grep "$LINES results: $LINES ok, 0 failed" "$WORK/sink.log" "sink summary"
LC_ALL=C sort -S 25% "$WORK/tasks.txt" >"$WORK/want.txt"
LC_ALL=C sort -S 25% "$WORK/out.txt" >"$WORK/got.txt"
cmp -s "$WORK/want.txt" "$WORK/got.txt" || {
    diff "$WORK/want.txt" "$WORK/got.txt" | head -5 >&2
    fail "the output is not the task file's lines, each once"
}
"$PYTHON" -c 'import sys; n, t, kb = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]); print("big_file: %d lines in %.1f s (%.0f tasks/s), broker peak RSS %d MB" % (n, t, n / t, kb // 1024))' \
    "$LINES" "$(( (END - START) / 1000000 ))e-3" "$PEAK"
