# Hostile input. Part 1: while a normal job runs (2 echo workers, 2,000
# tasks, a JSONL sink), tests/zmq_garbage throws everything malformed or
# misdirected it knows at the broker's five ports for a few seconds (see
# `zmq_garbage --list`). The job must still come out with every seq exactly
# once; the broker must stay alive, answer heartbeats within a bounded
# time, run a second job afterwards, count the bad messages it dropped, log
# them rate-limited (a bounded log), and exit 0 on SIGTERM.
# Part 2: a broker impostor (zmq_garbage --impostor) answers a worker and
# a sink with garbage: both must give up at once with a clear error (exit
# status 1 and 2, "not a compatible sluice broker"). Then it welcomes them
# and buries them in garbage tasks, results and replies: both must keep
# running without crashing until SIGTERM; once more with a welcome that
# agrees on a heartbeat of 4,000,000,000 ms (phase "absurd-heartbeat").
#
# Environment: HOSTILE_SECONDS (garbage duration, default 5), HOSTILE_SEED
# (replay a run), HOSTILE_SKIP (scenarios or phases to leave out,
# comma-separated, e.g. while a known bug is open), HOSTILE_EXTRA (scenarios that are off by
# default, see `zmq_garbage --list`), HOSTILE_MAX_LATENCY_MS (default 5000),
# HOSTILE_MAX_LOG_LINES (default 300).
. "$(dirname "$0")/lib.sh"

GARBAGE="$SLUICE_BIN/tests/zmq_garbage"
[ -x "$GARBAGE" ] || fail "no $GARBAGE (build the zmq_garbage target)"
SECONDS_OF_GARBAGE=${HOSTILE_SECONDS:-5}
SEED=${HOSTILE_SEED:-$(( (RANDOM << 15) | RANDOM ))}
MAX_LATENCY_MS=${HOSTILE_MAX_LATENCY_MS:-5000}
MAX_LOG_LINES=${HOSTILE_MAX_LOG_LINES:-300}
echo "hostile: seed $SEED (HOSTILE_SEED=$SEED replays it), dispatch ${SLUICE_DISPATCH:-fair}"

# wait_alive PID SECONDS WHAT: wait_pid, but fails at once if the broker
# dies meanwhile (instead of waiting out the limit).
wait_alive () {
    local i
    for ((i = 0; i < $2 * 20; i++)); do
        if ! kill -0 "$1" 2>/dev/null; then
            wait "$1"
            WAIT_RC=$?
            return 0
        fi
        kill -0 "$BROKER_PID" 2>/dev/null || fail "the broker died while waiting for $3"
        sleep 0.05
    done
    fail "$3 still running after $2 s"
}

make_tasks () { # FILE COUNT
    "$PYTHON" -c '
import random, sys
r = random.Random(int(sys.argv[3]))
with open(sys.argv[1], "w") as f:
    for i in range(1, int(sys.argv[2]) + 1):
        f.write("task %d %s\n" % (i, "x" * r.randint(0, 200)))
' "$1" "$2" "$SEED"
}

# --- Part 1: a job under fire -------------------------------------------------

make_tasks "$WORK/tasks.txt" 2000
make_tasks "$WORK/tasks2.txt" 200
JOB="hostile-$SEED"
JOB2="hostile2-$SEED"
start_broker
start_worker w1 --builtin echo -j 2
start_worker w2 --builtin echo -j 2
wait_workers 2
# The sink attaches first: then the garbage's own sink hellos are refused.
start_bg sink "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job "$JOB" \
    -o "$WORK/out.jsonl" --format jsonl
SINK_PID=$LAST_PID
wait_log "$WORK/broker.log" "sink .* attached" 1 20

# zmq_garbage's stderr goes to a .log (checked for sanitizer reports by
# lib.sh); its summary to garbage.txt.
"$GARBAGE" "$BROKER" "$SECONDS_OF_GARBAGE" --job "$JOB" --seed "$SEED" \
    ${HOSTILE_SKIP:+--skip "$HOSTILE_SKIP"} ${HOSTILE_EXTRA:+--extra "$HOSTILE_EXTRA"} \
    >"$WORK/garbage.txt" 2>"$WORK/garbage.log" &
GARBAGE_PID=$!
PIDS+=("$GARBAGE_PID")
sleep 0.5
START=$(date +%s)
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job "$JOB" --connect-timeout 20 \
    "$WORK/tasks.txt" >"$WORK/job.txt" 2>"$WORK/ventilator.log" \
    || fail "ventilator exit status $? under fire"
[ "$(cat "$WORK/job.txt")" = "$JOB" ] || fail "ventilator printed '$(cat "$WORK/job.txt")', not $JOB"

# Tasks the garbage's thief took come back when it falls silent (about 3 s
# after it stops) or when their unclaimed lease runs out (5 s, push).
wait_alive "$GARBAGE_PID" $((SECONDS_OF_GARBAGE + 30)) zmq_garbage
expect_rc 0 "$WAIT_RC" "zmq_garbage"
cat "$WORK/garbage.txt"
wait_alive "$SINK_PID" 60 "the sink of the job under fire ($(wc -l <"$WORK/out.jsonl") of 2000 results;
$(grep -E '^(results taken|the fake ZMTP|thieves)' "$WORK/garbage.txt"))"
expect_rc 0 "$WAIT_RC" "sink of the job under fire"
echo "hostile: job of 2000 tasks done $(( $(date +%s) - START )) s after it was submitted"
$CHECK "$WORK/tasks.txt" "$WORK/out.jsonl" --expect echo --workers 2 --job "$JOB" \
    || fail "results of the job under fire do not match its task file"
expect_grep "2000 results: 2000 ok, 0 failed" "$WORK/sink.log" "sink summary"

kill -0 "$BROKER_PID" 2>/dev/null || fail "the broker died under fire"
LATENCY=$(sed -n 's/^broker heartbeat latency: \([0-9]*\) answers.* max \([0-9]*\) ms$/\1 \2/p' \
    "$WORK/garbage.txt")
read -r ANSWERS MAX_MS <<<"$LATENCY"
MAX_MS=${MAX_MS:-999999}
[ "${ANSWERS:-0}" -gt 0 ] || fail "the broker answered no heartbeat during the garbage"
[ "$MAX_MS" -le "$MAX_LATENCY_MS" ] \
    || fail "the broker took $MAX_MS ms to answer a heartbeat (limit $MAX_LATENCY_MS ms)"

# The broker still works: a second job, after the garbage.
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job "$JOB2" --connect-timeout 10 \
    "$WORK/tasks2.txt" >/dev/null 2>"$WORK/ventilator2.log" || fail "second ventilator exit status $?"
start_bg sink2 "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job "$JOB2" \
    -o "$WORK/out2.jsonl" --format jsonl --connect-timeout 10
wait_alive "$LAST_PID" 60 "the sink of the job after the garbage"
expect_rc 0 "$WAIT_RC" "sink of the job after the garbage"
$CHECK "$WORK/tasks2.txt" "$WORK/out2.jsonl" --expect echo --job "$JOB2" \
    || fail "results of the job after the garbage do not match its task file"

kill -TERM "$BROKER_PID"
wait_pid "$BROKER_PID" 20
expect_rc 0 "$WAIT_RC" "broker after SIGTERM"
expect_grep "dropped a message on the" "$WORK/broker.log" "bad messages logged"
DROPPED=$(sed -n 's/.*, \([0-9]*\) bad messages dropped$/\1/p' "$WORK/broker.log")
[ "${DROPPED:-0}" -gt 1000 ] || fail "the broker counted ${DROPPED:-no} bad messages, expected thousands"
LINES=$(wc -l <"$WORK/broker.log")
[ "$LINES" -lt "$MAX_LOG_LINES" ] || {
    cut -c 30- "$WORK/broker.log" | sed 's/[0-9a-f]\{8,\}/X/g' | sort | uniq -c | sort -rn | head -20 >&2
    fail "the broker logged $LINES lines (limit $MAX_LOG_LINES): not rate-limited"
}
echo "hostile: broker dropped $DROPPED bad messages, logged $LINES lines, answered heartbeats within $MAX_MS ms"

# --- Part 2: a broker impostor --------------------------------------------------

IMPOSTOR_PORT=$(free_port)
IMPOSTOR="tcp://127.0.0.1:$IMPOSTOR_PORT"
skipped () { case ",${HOSTILE_SKIP:-}," in *,"$1",*) return 0 ;; esac; return 1; }
impostor () { # NAME SECONDS ARGS...: starts zmq_garbage --impostor
    local name=$1 seconds=$2 push=
    shift 2
    [ "${SLUICE_DISPATCH:-fair}" = push ] && push=--push
    "$GARBAGE" --impostor "$IMPOSTOR" "$seconds" --seed "$SEED" $push "$@" \
        >"$WORK/impostor-$name.txt" 2>"$WORK/impostor-$name.log" &
    IMPOSTOR_PID=$!
    PIDS+=("$IMPOSTOR_PID")
    wait_port "$IMPOSTOR_PORT" 10 || fail "the impostor did not start listening"
}
clients () { # NAME: starts a worker and a sink against the impostor
    start_bg "imp-$1-worker" "$SLUICE_BIN/sluice-worker" --broker "$IMPOSTOR" --builtin echo \
        -j 2 --connect-timeout 3
    IMP_WORKER=$LAST_PID
    start_bg "imp-$1-sink" "$SLUICE_BIN/sluice-sink" --broker "$IMPOSTOR" --connect-timeout 3 \
        -o "$WORK/imp-$1.jsonl" --format jsonl
    IMP_SINK=$LAST_PID
}
# A status of 128+N is death by signal N (a crash, an abort); sanitizer
# reports are caught by lib.sh at exit.
not_crashed () { # RC WHAT LOG
    [ "$1" -lt 128 ] || { grep -h -m 3 -E "Assertion|runtime error|ERROR:" "$3" >&2; \
        fail "$2 died of signal $(($1 - 128)) (status $1)"; }
}
first_error () { # LOG: its first error line, without the stamp
    grep -m 1 '^E: ' "$1" | cut -d ' ' -f 5-
}

# Garbage from the first answer: both give up at once with a clear error.
impostor garbage 10 --answer garbage
clients garbage
wait_pid "$IMP_WORKER" 10
WORKER_RC=$WAIT_RC
wait_pid "$IMP_SINK" 10
SINK_RC=$WAIT_RC
not_crashed "$WORKER_RC" "worker against a garbage impostor" "$WORK/imp-garbage-worker.log"
not_crashed "$SINK_RC" "sink against a garbage impostor" "$WORK/imp-garbage-sink.log"
expect_rc 1 "$WORKER_RC" "worker against a garbage impostor"
expect_rc 2 "$SINK_RC" "sink against a garbage impostor"
expect_grep "not a compatible sluice broker" "$WORK/imp-garbage-worker.log" "worker's error"
expect_grep "not a compatible sluice broker" "$WORK/imp-garbage-sink.log" "sink's error"
echo "hostile: against garbage, the worker exits $WORKER_RC: $(first_error "$WORK/imp-garbage-worker.log")"
echo "hostile: against garbage, the sink exits $SINK_RC: $(first_error "$WORK/imp-garbage-sink.log")"
kill -TERM "$IMPOSTOR_PID" 2>/dev/null
wait_pid "$IMPOSTOR_PID" 10

# A welcome (NAME ARGS... for the impostor), then garbage: both must keep
# going until SIGTERM, or at least not crash.
welcome_then_garbage () {
    local name=$1 rc pid what
    shift
    impostor "$name" 6 --answer welcome "$@"
    clients "$name"
    sleep 4
    for pid in "$IMP_WORKER" "$IMP_SINK"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"
            rc=$?
            [ "$pid" = "$IMP_WORKER" ] && what=worker || what=sink
            not_crashed "$rc" "the $what after a welcome ($name)" "$WORK/imp-$name-$what.log"
            fail "the $what gave up after a welcome ($name), status $rc: $(first_error "$WORK/imp-$name-$what.log")"
        fi
    done
    kill -TERM "$IMP_WORKER" "$IMP_SINK"
    wait_pid "$IMP_WORKER" 20
    WORKER_RC=$WAIT_RC
    wait_pid "$IMP_SINK" 20
    SINK_RC=$WAIT_RC
    not_crashed "$WORKER_RC" "the worker after a welcome and garbage ($name)" "$WORK/imp-$name-worker.log"
    not_crashed "$SINK_RC" "the sink after a welcome and garbage ($name)" "$WORK/imp-$name-sink.log"
    wait_pid "$IMPOSTOR_PID" 20
    echo "hostile: after a welcome ($name) and garbage, the worker ran until SIGTERM" \
        "(status $WORKER_RC, $(wc -l <"$WORK/imp-$name-worker.log") log lines), the sink too" \
        "(status $SINK_RC, $(wc -l <"$WORK/imp-$name-sink.log") log lines)"
}
welcome_then_garbage welcome
# The same with a welcome that agrees on a heartbeat of 4,000,000,000 ms.
skipped absurd-heartbeat || welcome_then_garbage absurd-heartbeat --extra absurd-heartbeat
