# Chaos with many collectors (issue 16): a durable broker (--heartbeat
# 200), 3 workers (--builtin sleep, 1-10 ms tasks) and 4 jobs, each with
# its own resuming sink (--job), all at once; round after round a random
# victim - the broker, a worker, or one or two of the sinks - is killed
# with -9 at a random moment and started again the same way. Every job
# must end in its sink's file with every seq exactly once, output =
# payload.
#
# Environment: CHAOS_ROUNDS (default 8), CHAOS_SEED (default random).
. "$(dirname "$0")/lib.sh"

ROUNDS=${CHAOS_ROUNDS:-8}
SEED=${CHAOS_SEED:-$(((RANDOM << 15) | RANDOM))}
echo "chaos_collectors seed=$SEED rounds=$ROUNDS"
RANDOM=$SEED
HB=200
NJOBS=4

for ((j = 1; j <= NJOBS; j++)); do
    for ((i = 0; i < 1000 * j; i++)); do
        rand 10
        echo $((R + 1))
    done >"$WORK/tasks-$j.txt"
done

declare -a WPID SPID SDONE
start_the_worker () { start_worker "w$1" --builtin sleep -j 4 --heartbeat $HB; WPID[$1]=$LAST_PID; }
start_the_sink () {
    start_bg "sink$1" "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job "cc-$1" \
        -o "$WORK/cc-$1.jsonl" -f jsonl --resume
    SPID[$1]=$LAST_PID
}

start_broker --heartbeat $HB
for i in 1 2 3; do start_the_worker $i; done
for ((j = 1; j <= NJOBS; j++)); do
    "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job "cc-$j" "$WORK/tasks-$j.txt" \
        >/dev/null 2>>"$WORK/ventilator.log" || fail "ventilator cc-$j"
    start_the_sink $j
    SDONE[$j]=0
done

# reap_sinks : a sink that exited 0 has its job complete; any other exit
# (not killed by us) is a failure.
reap_sinks () {
    local j
    for ((j = 1; j <= NJOBS; j++)); do
        [ "${SDONE[$j]}" = 1 ] && continue
        if ! kill -0 "${SPID[$j]}" 2>/dev/null; then
            wait "${SPID[$j]}"
            local rc=$?
            forget "${SPID[$j]}"
            [ $rc = 0 ] || fail "sink cc-$j exited $rc by itself"
            SDONE[$j]=1
        fi
    done
}

for ((round = 1; round <= ROUNDS; round++)); do
    rand 1200
    sleep_ms $((200 + R))
    reap_sinks
    rand 4
    case $R in
        0)
            echo "round $round: broker"
            kill9 "$BROKER_PID"
            rand 500
            sleep_ms $R
            start_broker --heartbeat $HB
            ;;
        1)
            rand 3
            echo "round $round: worker $((R + 1))"
            kill9 "${WPID[$((R + 1))]}"
            start_the_worker $((R + 1))
            ;;
        *)
            for n in 1 2; do
                rand $NJOBS
                j=$((R + 1))
                [ "${SDONE[$j]}" = 1 ] && continue
                echo "round $round: sink cc-$j"
                kill9 "${SPID[$j]}"
                start_the_sink $j
            done
            ;;
    esac
done

for ((j = 1; j <= NJOBS; j++)); do
    [ "${SDONE[$j]}" = 1 ] && continue
    wait_pid "${SPID[$j]}" 180
    expect_rc 0 "$WAIT_RC" "sink cc-$j"
done
for ((j = 1; j <= NJOBS; j++)); do
    $CHECK "$WORK/tasks-$j.txt" "$WORK/cc-$j.jsonl" --expect echo --job "cc-$j" \
        || fail "cc-$j: results (seed $SEED)"
done
echo "PASS: $NJOBS jobs exactly once through $ROUNDS rounds (seed $SEED)"
