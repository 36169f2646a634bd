# Chaos: a durable broker (--data-dir, --heartbeat 200), 2-3 workers
# (--builtin sleep, 1-20 ms tasks), a ventilator and a resuming sink run a
# job of 3000 tasks while, round after round, a random program among broker,
# worker, sink and ventilator (while it still runs) is killed with -9 at a
# random moment (see the rounds below) and started again the same way: the
# broker on the same data dir and port, the sink with --resume on the same
# file, the ventilator with the same command and --job, a worker as a fresh
# process. Every job must end in the sink's file with every seq exactly
# once and output = payload, every ventilator run that was not killed must
# exit 0, and no program may die by itself. When a job completes before the
# rounds are over, the next one (chaos-2, chaos-3, ...) starts, so that long
# runs keep killing a pipeline at work.
#
# With CHAOS_STAGES=1 each job has two stages (ventilator --queue s1 --then
# s2, every worker serving both queues): the sleep built-in's output is its
# payload, so the final outputs are the same, and each task's record must
# say it ended in stage 2 (exactly once across both stages).
#
# Environment: CHAOS_ROUNDS (default 6), CHAOS_SEED (default random). The
# seed fixes the tasks, the number of workers, the victims and the delays;
# the interleaving with the programs' own timing cannot be replayed exactly.
#   CHAOS_SEED=N CHAOS_ROUNDS=200 SLUICE_BIN=build bash tests/integration/chaos.sh
. "$(dirname "$0")/lib.sh"

ROUNDS=${CHAOS_ROUNDS:-6}
SEED=${CHAOS_SEED:-$(((RANDOM << 15) | RANDOM))}
echo "chaos seed=$SEED rounds=$ROUNDS"
RANDOM=$SEED

HB=200
TASKS=3000

# --- The programs, each started the same way every time --------------------
rand 2
NWORKERS=$((2 + R))
WPID=()

start_the_broker () {
    start_broker --heartbeat $HB
}
STAGES=${CHAOS_STAGES:-0}
WORKER_QUEUES=()
VENT_QUEUES=()
if [ "$STAGES" = 1 ]; then
    WORKER_QUEUES=(--queue s1 --queue s2)
    VENT_QUEUES=(--queue s1 --then s2)
fi
start_the_worker () { # INDEX
    start_worker "w$1" --builtin sleep -j 2 --heartbeat $HB "${WORKER_QUEUES[@]}"
    WPID[$1]=$LAST_PID
}
start_the_ventilator () {
    "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job "$JOB" "${VENT_QUEUES[@]}" "$WORK/tasks.txt" \
        >>"$WORK/ventilator.out" 2>>"$WORK/ventilator.log" &
    VENT_PID=$!
    PIDS+=("$VENT_PID")
}
start_the_sink () {
    start_bg sink "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job "$JOB" \
        -o "$WORK/$JOB.jsonl" -f jsonl --resume
    SINK_PID=$LAST_PID
}

# A new job: its ventilator and its sink.
JOBNO=0
JOBS=()
start_job () {
    JOBNO=$((JOBNO + 1))
    JOB=chaos-$JOBNO
    JOBS+=("$JOB")
    echo "job $JOB started"
    start_the_ventilator
    start_the_sink
}

# 3000 tasks of 1-20 ms: with 2-3 workers of 2 slots, a job lasts 4-8 s.
for ((i = 0; i < TASKS; i++)); do
    rand 20
    echo $((R + 1))
done > "$WORK/tasks.txt"

start_the_broker
for ((i = 1; i <= NWORKERS; i++)); do
    start_the_worker $i
done
start_job

# --- Programs that end by themselves ----------------------------------------
# A ventilator that was not killed must exit 0; a sink exits 0 when its
# job is complete (then the next job starts); the broker and the workers
# never exit by themselves.
check_programs () {
    local i
    if [ -n "$VENT_PID" ] && ! kill -0 "$VENT_PID" 2>/dev/null; then
        wait "$VENT_PID"
        expect_rc 0 $? "ventilator of job $JOB"
        forget "$VENT_PID"
        VENT_PID=
    fi
    kill -0 "$BROKER_PID" 2>/dev/null \
        || { wait "$BROKER_PID"; fail "the broker exited by itself (status $?)"; }
    for ((i = 1; i <= NWORKERS; i++)); do
        kill -0 "${WPID[$i]}" 2>/dev/null \
            || { wait "${WPID[$i]}"; fail "worker w$i exited by itself (status $?)"; }
    done
}

# Waits for the ventilator of the current job (if it still runs): exit 0.
finish_ventilator () {
    [ -n "$VENT_PID" ] || return 0
    wait_pid "$VENT_PID" 60
    expect_rc 0 "$WAIT_RC" "ventilator of job $JOB"
    forget "$VENT_PID"
    VENT_PID=
}

# job_finished STATUS : the sink of the current job exited with STATUS; it
# must have succeeded, and its file must hold the whole job.
job_finished () {
    expect_rc 0 "$1" "sink of job $JOB"
    forget "$SINK_PID"
    SINK_PID=
    finish_ventilator
    $CHECK "$WORK/tasks.txt" "$WORK/$JOB.jsonl" --expect echo --job "$JOB" \
        || fail "job $JOB: results wrong (seed $SEED)"
    if [ "$STAGES" = 1 ]; then
        "$PYTHON" -c '
import json, sys
bad = [l for l in open(sys.argv[1]) if json.loads(l).get("stage") != 2]
sys.exit("%d records did not end in stage 2, e.g. %s" % (len(bad), bad[0]) if bad else 0)
' "$WORK/$JOB.jsonl" || fail "job $JOB: not every task went through both stages (seed $SEED)"
    fi
}

# --- Rounds of kill -9 and restart ------------------------------------------
# Each round picks one of broker, worker, sink, ventilator and kills it at
# a random moment: 0.1-1.0 s into the round, or for the ventilator, which
# submits a job in about 0.1 s, 0-150 ms. If the job's ventilator has
# already finished, the round runs the same command again (which must add
# nothing) and kills that run 0-15 ms in (a re-run lasts 10-20 ms, more
# under ASan). A program that turns out to have finished by itself by then
# is not killed: its exit status is checked instead.
declare -A KILLS=([broker]=0 [worker]=0 [sink]=0 [ventilator]=0)
TYPES=(broker worker sink ventilator)
for ((round = 1; round <= ROUNDS; round++)); do
    if ! kill -0 "$SINK_PID" 2>/dev/null; then
        wait "$SINK_PID"
        job_finished $?
        start_job
    fi
    rand 4
    victim=${TYPES[$R]}
    if [ "$victim" = ventilator ] && [ -n "$VENT_PID" ]; then
        rand 151
        at=$R
    elif [ "$victim" = ventilator ]; then
        start_the_ventilator
        rand 16
        at=$R
    else
        rand 901
        at=$((100 + R))
    fi
    # Down for 0-500 ms: long enough, sometimes, for the others to notice.
    rand 501
    down=$R
    sleep_ms $at
    check_programs
    case $victim in
        broker)
            kill9 "$BROKER_PID"
            sleep_ms $down
            start_the_broker
            ;;
        worker)
            rand $NWORKERS
            i=$((R + 1))
            victim="worker w$i"
            kill9 "${WPID[$i]}"
            sleep_ms $down
            start_the_worker $i
            ;;
        sink)
            if ! kill -0 "$SINK_PID" 2>/dev/null; then
                echo "round $round: the sink of job $JOB had finished"
                continue
            fi
            kill9 "$SINK_PID"
            sleep_ms $down
            start_the_sink
            ;;
        ventilator)
            if [ -z "$VENT_PID" ]; then
                echo "round $round: the ventilator of job $JOB had finished"
                continue
            fi
            kill9 "$VENT_PID"
            sleep_ms $down
            start_the_ventilator
            ;;
    esac
    KILLS[${victim%% *}]=$((KILLS[${victim%% *}] + 1))
    echo "round $round: killed $victim (job $JOB) at ${at} ms, down ${down} ms"
done

# --- Let the last job finish ------------------------------------------------
wait_pid "$SINK_PID" 120
job_finished "$WAIT_RC"
check_programs

echo "chaos seed=$SEED: $ROUNDS rounds, ${#JOBS[@]} jobs of $TASKS tasks complete;" \
    "kills: broker ${KILLS[broker]}, worker ${KILLS[worker]}, sink ${KILLS[sink]}," \
    "ventilator ${KILLS[ventilator]}"
