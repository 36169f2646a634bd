# No answer before its commit: the broker is killed (-9) the moment a client
# has been told about a state change, and a restarted broker must agree.
# (a) sluice-ctl cancel: "cancelled" then kill -9; after a restart the job
#     is finished with every task cancelled, and a sink gets each record
#     once (it used to come back with every task queued: the reply went out
#     ~16 ms before the cancel was on disk).
# (b) a sink told a job is done (JobDone, it exits 0), then kill -9: after
#     a restart no result of the job is delivered again and no task of it
#     runs again (results and acknowledgements used to be in the journal's
#     buffer when JobDone went out).
# Each is repeated ROUNDS times (default 3). The window between an answer
# and its commit is a few milliseconds here, so the broker runs under
# strace's fault injection where strace is installed: every fsync and
# fdatasync of the broker returns 0.1 s late, as on a slow disk.
. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-3}
DATA=$WORK/data-$PORT
SLOW=()
if command -v strace >/dev/null 2>&1; then
    SLOW=(strace -f -qq --seccomp-bpf -o /dev/null -e trace=fsync,fdatasync
          -e inject=fsync,fdatasync:delay_exit=100000)
    echo "the broker's disk syncs take 0.1 s longer (strace)"
else
    echo "NOTE: strace not installed: the broker runs at full speed, the windows are narrow"
fi
TRACER_PID=

# restart_broker STARTS : the broker on $DATA (again), slowed down as above;
# waits until it has replayed its journal for the STARTS-th time. Sets
# BROKER_PID to the broker itself (strace's child), so kill -9 hits it.
restart_broker () {
    [ -z "$TRACER_PID" ] || wait_pid "$TRACER_PID" 10
    start_bg broker "${SLOW[@]}" "$SLUICE_BIN/sluice-broker" --bind "$BROKER" \
        --data-dir "$DATA" --dispatch "${SLUICE_DISPATCH:-fair}"
    TRACER_PID=$LAST_PID
    BROKER_PID=$LAST_PID
    wait_log "$WORK/broker.log" "records replayed" "$1" 10
    if [ ${#SLOW[@]} != 0 ]; then
        BROKER_PID=$(pgrep -P "$TRACER_PID" -x sluice-broker | head -1)
        [ -n "$BROKER_PID" ] || fail "no broker under strace $TRACER_PID"
        PIDS+=("$BROKER_PID")
    fi
}

PARTS=${PARTS:-a b} # to run one part alone

# --- (a) cancel, then kill -9 ------------------------------------------------
restart_broker 1
starts=1
[[ " $PARTS " == *" a "* ]] || ROUNDS_A=0
for round in $(seq "${ROUNDS_A:-$ROUNDS}"); do
    job=cancel-$round
    seq 100 | "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job "$job" - \
        >/dev/null 2>>"$WORK/ventilator-$job.log" || fail "(a) ventilator of $job"
    "$SLUICE_BIN/sluice-ctl" --broker "$BROKER" cancel "$job" >"$WORK/ctl-$job.out" 2>&1 \
        && kill -9 "$BROKER_PID"
    grep -q "job $job cancelled: 100 tasks ended" "$WORK/ctl-$job.out" \
        || fail "(a) round $round: sluice-ctl said: $(cat "$WORK/ctl-$job.out")"
    restart_broker $((starts + 1))
    starts=$((starts + 1))
    # The journal must hold the cancel: the sink gets 100 cancelled records
    # and the job is finished (exit 1: not every task was ok).
    start_bg sink-$job "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job "$job" \
        -o "$WORK/$job.jsonl" -f jsonl --no-progress
    wait_pid "$LAST_PID" 30
    expect_rc 1 "$WAIT_RC" "(a) round $round: sink of the cancelled job"
    "$PYTHON" - "$WORK/$job.jsonl" <<'PY' || fail "(a) round $round: records of $job"
import json, sys
records = [json.loads(l) for l in open(sys.argv[1])]
seqs = sorted(r["seq"] for r in records)
assert seqs == list(range(1, 101)), "seqs %s..., %d records" % (seqs[:5], len(records))
bad = [r for r in records if r["status"] != "cancelled"]
assert not bad, "not cancelled: %s" % bad[:3]
PY
    echo "(a) round $round: cancel survived kill -9 right after the reply"
done
kill -TERM "$BROKER_PID"

# --- (b) JobDone to the sink, then kill -9 ----------------------------------
# Every run of a task appends its job and seq to runs.log: a task run again
# after the restart shows there.
RUNS=$WORK/runs.log
: >"$RUNS"
restart_broker $((starts + 1))
starts=$((starts + 1))
start_worker w1 --exec "echo \"\$SLUICE_JOB \$SLUICE_SEQ\" >> '$RUNS'; cat" -j 4
start_worker w2 --exec "echo \"\$SLUICE_JOB \$SLUICE_SEQ\" >> '$RUNS'; cat" -j 4
seq 300 | sed 's/^/task /' >"$WORK/tasks.txt"
for round in $(seq "$ROUNDS"); do
    job=done-$round
    "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job "$job" "$WORK/tasks.txt" \
        >/dev/null 2>>"$WORK/ventilator-$job.log" || fail "(b) ventilator of $job"
    "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job "$job" -o "$WORK/$job-a.jsonl" \
        -f jsonl --no-progress 2>>"$WORK/sink-$job-a.log" && kill -9 "$BROKER_PID"
    $CHECK "$WORK/tasks.txt" "$WORK/$job-a.jsonl" --expect echo --job "$job" \
        || fail "(b) round $round: first sink's records"
    restart_broker $((starts + 1))
    starts=$((starts + 1))
    # A sink asking for the job now hears it is finished, and gets nothing.
    start_bg sink-$job-b "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job "$job" \
        -o "$WORK/$job-b.jsonl" -f jsonl --no-progress
    wait_pid "$LAST_PID" 30
    expect_rc 0 "$WAIT_RC" "(b) round $round: second sink"
    [ ! -s "$WORK/$job-b.jsonl" ] || fail "(b) round $round: $(wc -l < "$WORK/$job-b.jsonl")" \
        "records of the finished job $job delivered again"
    echo "(b) round $round: JobDone survived kill -9 right after the sink exited"
done
# Let the workers find the restarted broker: nothing of those jobs may run
# again (each seq ran once per round's job).
wait_log "$WORK/broker.log" "worker .* joined" $((2 * (ROUNDS + 1))) 20
sleep 1
"$PYTHON" - "$RUNS" "$ROUNDS" <<'PY' || fail "(b) tasks ran again after a restart"
import collections, sys
runs = collections.Counter(l.strip() for l in open(sys.argv[1]) if l.strip())
twice = [k for k, n in runs.items() if n > 1]
assert not twice, "%d task runs repeated, e.g. %s" % (len(twice), sorted(twice)[:5])
assert len(runs) == 300 * int(sys.argv[2]), "%d distinct runs" % len(runs)
PY
echo "(b) every task ran once"
