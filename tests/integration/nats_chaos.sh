# Chaos with standby brokers: 3 NATS nodes, 3 brokers (--standby, one
# stream), 2 workers and a resuming sink (both given the three brokers)
# run one job while, round after round, one of these happens at random:
#   - kill -9 of the active broker (started again as a standby);
#   - SIGSTOP of the active broker for 0.2 to 2 s, then SIGCONT (a broker
#     woken after a standby took over must stop by itself: exit 1; it is
#     started again as a standby);
#   - kill -9 of a NATS node, started again 1 s later;
#   - kill -9 of a worker (a new one is started);
#   - kill -9 of the sink (started again with --resume on its file).
# Every seq must reach the sink's file exactly once, output = payload, and
# the ventilator must exit 0 (only once the job is in the stream). No broker
# may die by itself except a deposed one (exit 1).
#
# Environment: CHAOS_ROUNDS (default 4; the long run: 20 and more),
# CHAOS_SEED (default random).
#   CHAOS_ROUNDS=20 SLUICE_BIN=build bash tests/integration/nats_chaos.sh
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nats_lib.sh"
nats_require
ROUNDS=${CHAOS_ROUNDS:-4}
SEED=${CHAOS_SEED:-$(((RANDOM << 15) | RANDOM))}
echo "nats_chaos seed=$SEED rounds=$ROUNDS"
RANDOM=$SEED
HB=200
start_nats_cluster

BPORT=()
BPID=()
BRUN=() # how many times broker I was started: its log is broker-I-RUN.log
ADDRS=""
for i in 1 2 3; do
    BPORT[$i]=$(free_port)
    BRUN[$i]=0
    ADDRS="${ADDRS:+$ADDRS,}tcp://127.0.0.1:${BPORT[$i]}"
done
blog () { echo "$WORK/broker-$1-${BRUN[$1]}.log"; }
start_ha () {
    BRUN[$1]=$((BRUN[$1] + 1))
    start_bg "broker-$1-${BRUN[$1]}" "$SLUICE_BIN/sluice-broker" \
        --bind "tcp://127.0.0.1:${BPORT[$1]}" --journal "$NATS_URLS" --journal-stream chaos \
        --standby --heartbeat $HB
    BPID[$1]=$LAST_PID
    wait_port "${BPORT[$1]}" 20 || fail "broker $1 did not start listening"
}
# active: the broker that took over in its current run and still runs, or "".
active () {
    local i
    for i in 1 2 3; do
        if kill -0 "${BPID[$i]}" 2>/dev/null && grep -q "took over the journal" "$(blog "$i")"; then
            echo "$i"
            return
        fi
    done
}
wait_active () {
    local k
    for ((k = 0; k < 300; k++)); do
        ACTIVE=$(active)
        [ -n "$ACTIVE" ] && return 0
        sleep 0.05
    done
    fail "no broker took over within 15 s"
}
# reap I: broker I stopped: it must have been deposed (exit 1); start it again.
reap () {
    wait "${BPID[$1]}"
    local rc=$?
    if [ $rc != 1 ] && [ $rc != 137 ]; then fail "broker $1 exited with $rc"; fi
    if [ $rc = 1 ]; then
        grep -q "another broker" "$(blog "$1")" || fail "broker $1 exited 1 but was not deposed"
    fi
    start_ha "$1"
}
reap_dead () {
    local i
    for i in 1 2 3; do
        kill -0 "${BPID[$i]}" 2>/dev/null || reap "$i"
    done
}

start_ha 1
wait_active
start_ha 2
start_ha 3

TASKS=$((ROUNDS * 1200 + 1000))
for ((i = 1; i <= TASKS; i++)); do echo $((5 + RANDOM % 20)); done >"$WORK/tasks.txt"
WPID=()
start_w () {
    start_bg "worker$1" "$SLUICE_BIN/sluice-worker" --broker "$ADDRS" --builtin sleep -j 8 \
        --heartbeat $HB
    WPID[$1]=$LAST_PID
}
start_sink () {
    start_bg sink "$SLUICE_BIN/sluice-sink" --broker "$ADDRS" --job chaos -o "$WORK/out.jsonl" \
        -f jsonl --resume --no-progress
    SINK=$LAST_PID
}
start_w 1
start_w 2
start_sink
start_bg ventilator "$SLUICE_BIN/sluice-ventilator" --broker "$ADDRS" --job chaos "$WORK/tasks.txt"
VENT=$LAST_PID

for ((r = 1; r <= ROUNDS; r++)); do
    sleep "0.$((3 + RANDOM % 7))"
    wait_active
    case $((RANDOM % 5)) in
    0)
        echo "round $r: kill -9 of the active broker $ACTIVE"
        kill -9 "${BPID[$ACTIVE]}"
        reap "$ACTIVE"
        ;;
    1)
        ms=$((200 + RANDOM % 1800))
        echo "round $r: SIGSTOP of the active broker $ACTIVE for $ms ms"
        kill -STOP "${BPID[$ACTIVE]}"
        sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
        kill -CONT "${BPID[$ACTIVE]}"
        sleep 1
        ;;
    2)
        n=$((1 + RANDOM % 3))
        echo "round $r: kill -9 of NATS node $n"
        kill_nats_node "$n"
        sleep 1
        start_nats_node "$n"
        wait_nats_ready 30
        ;;
    3)
        w=$((1 + RANDOM % 2))
        echo "round $r: kill -9 of worker $w"
        kill -9 "${WPID[$w]}"
        wait "${WPID[$w]}" 2>/dev/null
        start_w "$w"
        ;;
    4)
        echo "round $r: kill -9 of the sink"
        if kill -0 "$SINK" 2>/dev/null; then
            kill -9 "$SINK"
            wait "$SINK" 2>/dev/null
            start_sink
        fi
        ;;
    esac
    reap_dead
done
wait_active
wait_pid "$VENT" 120
expect_rc 0 "$WAIT_RC" "ventilator"
for ((k = 0; k < 1200; k++)); do
    kill -0 "$SINK" 2>/dev/null || break
    reap_dead
    sleep 0.1
done
wait_pid "$SINK" 5
expect_rc 0 "$WAIT_RC" "sink"
$CHECK "$WORK/tasks.txt" "$WORK/out.jsonl" --expect echo --job chaos || fail "results after $ROUNDS rounds"
echo "nats_chaos: ok ($ROUNDS rounds, seed $SEED)"
