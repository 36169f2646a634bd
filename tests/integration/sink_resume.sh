# A sink killed mid-job and restarted with --resume continues its file with
# no duplicate and no gap; --from-start delivers a whole job again to a new
# file; a sink resuming a job already fully delivered exits at once with
# the job's status; re-running the ventilator with --job adds nothing.
. "$(dirname "$0")/lib.sh"

"$PYTHON" -c "
with open('$WORK/tasks.txt', 'w') as f:
    for i in range(1, 30001):
        f.write('resume task %d %s\n' % (i, 'r' * 500))"
start_broker
start_worker w1 --builtin echo -j 2; W1=$LAST_PID
JOB=$("$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job resume-1 "$WORK/tasks.txt" \
    2>"$WORK/v.log") || fail "ventilator"
[ "$JOB" = resume-1 ] || fail "--job not used: $JOB"
for round in 1 2 3; do
    start_bg "sink$round" "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job resume-1 \
        -o "$WORK/out.jsonl" -f jsonl --resume
    SINK=$LAST_PID
    sleep 0.$((2 + round))
    kill -9 "$SINK"
    wait "$SINK" 2>/dev/null
done
lines=$(wc -l < "$WORK/out.jsonl")
echo "after 3 killed sinks the file holds $lines lines"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job resume-1 -o "$WORK/out.jsonl" -f jsonl \
    --resume 2>"$WORK/sink-final.log"
expect_rc 0 $? "resumed sink"
$CHECK "$WORK/tasks.txt" "$WORK/out.jsonl" --expect echo --job resume-1 || fail "resumed file"

# The job is finished: a sink resuming it exits at once, status 0.
start=$(date +%s%N)
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job resume-1 -o "$WORK/out.jsonl" -f jsonl \
    --resume 2>"$WORK/sink-again.log"
expect_rc 0 $? "sink resuming a finished job"
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$elapsed" -lt "${SINK_RESUME_MAX_MS:-5000}" ] || fail "a sink resuming a finished job took ${elapsed} ms"
$CHECK "$WORK/tasks.txt" "$WORK/out.jsonl" --expect echo --job resume-1 || fail "file changed"

# Re-running the ventilator with the same --job adds no task.
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job resume-1 "$WORK/tasks.txt" \
    >/dev/null 2>"$WORK/v2.log" || fail "ventilator re-run"
expect_grep "already finished" "$WORK/v2.log" "re-run of a finished job"

# --from-start: a job whose first sink lost its file gets everything again
# (tasks of 2 ms on one worker: the job lasts about a second).
kill "$W1"
start_worker w2 --builtin sleep -j 4
for i in $(seq 1 2000); do echo 2; done > "$WORK/small.txt"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job again-1 "$WORK/small.txt" \
    >/dev/null 2>>"$WORK/v.log" || fail "ventilator (from-start)"
start_bg sink-fs "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job again-1 -o "$WORK/lost.jsonl" -f jsonl
SINK=$LAST_PID
sleep 0.4
kill -9 "$SINK"
wait "$SINK" 2>/dev/null
rm -f "$WORK/lost.jsonl"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job again-1 --from-start -o "$WORK/again.jsonl" \
    -f jsonl 2>"$WORK/sink-fs.log"
expect_rc 0 $? "--from-start sink"
$CHECK "$WORK/small.txt" "$WORK/again.jsonl" --expect echo --job again-1 || fail "--from-start"
