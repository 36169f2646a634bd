# Several hosts on one machine, each a network namespace wired to a bridge
# in a "switch" namespace (10.77.0.0/24, nothing of it in the host's own
# network): a broker host, a client host (ventilator and sink) and three
# worker hosts, each with its own host name (a UTS namespace), so results
# name the host that ran them. As the README's first multi-host example:
# the broker, bound beyond loopback, makes its join token, and every client
# is given it (the workers on the command line, the ventilator and the sink
# in $SLUICE_TOKEN).
#   1. A job of 600 sleep tasks runs across the three worker hosts: every seq
#      exactly once, output = payload, results from 3 distinct workers.
#   2. A second job; a quarter of the way through, one worker host's cable is
#      pulled (its port on the switch set down). The broker gives that worker
#      up ("silent for"), its tasks are redone on the other hosts, and the
#      output is complete and duplicate-free.
#   3. The cable goes back in: the cut worker rejoins, and a third job again
#      runs on all three hosts.
# Needs root and network namespaces; otherwise prints SKIP and exits 0.
# CTest label: netns.
. "$(dirname "$0")/lib.sh"
NETNS_TEST=multihost
. "$(dirname "$0")/netns.sh"

HB=200
NS_SW="$TAG-switch"

# ms_since T0 : milliseconds since T0 (from date +%s%N).
ms_since () {
    echo $((($(date +%s%N) - $1) / 1000000))
}

# --- The network -------------------------------------------------------------
[ "$(id -u)" = 0 ] || skip "not running as root: id -u is $(id -u)"
command -v ip >/dev/null || skip "no ip command (iproute2)"
err=$(ip netns add "$NS_SW" 2>&1) || skip "'ip netns add' failed: $err"
NETNS+=("$NS_SW")

# net CMD... : one set-up step; its failure means this machine cannot host
# the test (no veth or bridge support, no mount or UTS namespaces...).
net () {
    local out
    out=$("$@" 2>&1) || skip "'$*' failed: $out"
}

net ip -n "$NS_SW" link set lo up
net ip -n "$NS_SW" link add br0 type bridge
net ip -n "$NS_SW" link set br0 up

# on NAME : sets ON to the command prefix that runs a program on host NAME
# (namespace $TAG-NAME) under the host name NAME-host. Each command of the
# chain execs the next, so $! of a program started with it is the program.
on () {
    # shellcheck disable=SC2016 # $0 and $@ are for sh
    ON=(ip netns exec "$TAG-$1" unshare --uts sh -c 'hostname "$0" && exec "$@"' "$1-host")
}

# add_host NAME ADDR : a namespace $TAG-NAME with eth0 at ADDR/24, cabled to
# port p-NAME of the switch's bridge.
add_host () {
    local name=$1 addr=$2 ns="$TAG-$1"
    net ip netns add "$ns"
    NETNS+=("$ns")
    net ip -n "$NS_SW" link add "p-$name" type veth peer name eth0 netns "$ns"
    net ip -n "$NS_SW" link set "p-$name" master br0 up
    net ip -n "$ns" link set lo up
    net ip -n "$ns" addr add "$addr/24" dev eth0
    net ip -n "$ns" link set eth0 up
    on "$name"
    net "${ON[@]}" true
}

add_host broker 10.77.0.1
add_host client 10.77.0.2
for w in 1 2 3; do
    add_host "w$w" "10.77.0.1$w"
done

# --- The programs --------------------------------------------------------------
BROKER="tcp://10.77.0.1:$PORT" # a fresh namespace: every port is free
on broker
start_bg broker "${ON[@]}" "$SLUICE_BIN/sluice-broker" --bind "$BROKER" \
    --data-dir "$WORK/data" --dispatch "${SLUICE_DISPATCH:-fair}" --heartbeat $HB
BROKER_PID=$LAST_PID
wait_log "$WORK/broker.log" "--token SLUICE1-" 1 10
TOKEN=$(grep -o -- "--token SLUICE1-[A-Za-z0-9_-]*" "$WORK/broker.log" | head -1 | cut -d' ' -f2)
[ "$("$SLUICE_BIN/sluice-ctl" token --data-dir "$WORK/data")" = "$TOKEN" ] \
    || fail "sluice-ctl token does not print the token the broker logged"
export SLUICE_TOKEN=$TOKEN # for the ventilator and the sink
# Listening, and reachable from the client host through the switch.
on client
"${ON[@]}" "$PYTHON" - "$PORT" <<'PY' || fail "broker not reachable at 10.77.0.1:$PORT from the client host"
import socket, sys, time
deadline = time.time() + 10
while time.time() < deadline:
    try:
        socket.create_connection(("10.77.0.1", int(sys.argv[1])), 0.2).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.02)
sys.exit(1)
PY
for w in 1 2 3; do
    on "w$w"
    start_bg "w$w" "${ON[@]}" "$SLUICE_BIN/sluice-worker" --broker "$BROKER" --token "$TOKEN" \
        --builtin sleep -j 4 --heartbeat $HB
done
wait_workers 3

# job N TASKS : submits TASKS from the client host as job multihost-N and
# starts its sink there (SINK_PID, output $WORK/outN.jsonl).
job () {
    on client
    "${ON[@]}" "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job "multihost-$1" \
        "$2" >/dev/null 2>>"$WORK/ventilator.log" || fail "ventilator of job $1"
    start_bg "sink$1" "${ON[@]}" "$SLUICE_BIN/sluice-sink" --broker "$BROKER" \
        --job "multihost-$1" -o "$WORK/out$1.jsonl" --format jsonl
    SINK_PID=$LAST_PID
}

# Sleep payloads of 10..30 ms (20..40 for job 2, long enough to be cut in
# the middle), varied so that output = payload checks each result against
# its own task.
for i in $(seq 1 600); do echo $((10 + i % 21)); done >"$WORK/tasks1.txt"
for i in $(seq 1 800); do echo $((20 + i % 21)); done >"$WORK/tasks2.txt"
for i in $(seq 1 300); do echo $((10 + i % 21)); done >"$WORK/tasks3.txt"

# --- 1. One job across three hosts --------------------------------------------
t0=$(date +%s%N)
job 1 "$WORK/tasks1.txt"
wait_pid "$SINK_PID" 30
expect_rc 0 "$WAIT_RC" "sink of job 1"
$CHECK "$WORK/tasks1.txt" "$WORK/out1.jsonl" --expect echo --workers 3 --job multihost-1 \
    || fail "results of job 1"
echo "job 1: 600 tasks on 3 worker hosts in $(ms_since "$t0") ms"

# --- 2. A worker host cut off mid-job -------------------------------------------
t0=$(date +%s%N)
job 2 "$WORK/tasks2.txt"
for ((i = 0; i < 400; i++)); do # a quarter of the results are in
    [ -f "$WORK/out2.jsonl" ] && [ "$(wc -l <"$WORK/out2.jsonl")" -ge 200 ] && break
    kill -0 "$SINK_PID" 2>/dev/null || fail "sink of job 2 ended before the cut"
    sleep 0.05
done
[ "$i" -lt 400 ] || fail "job 2 did not get a quarter done in 20 s"
ip -n "$NS_SW" link set p-w2 down || fail "could not cut w2-host off"
cut=$(date +%s%N)
echo "job 2: w2-host cut off after $(ms_since "$t0") ms, $(wc -l <"$WORK/out2.jsonl") of 800 results in"
wait_log "$WORK/broker.log" "worker w2-host:[0-9]* silent for" 1 10
gone_ms=$(ms_since "$cut")
wait_pid "$SINK_PID" 30
expect_rc 0 "$WAIT_RC" "sink of job 2"
done_ms=$(ms_since "$cut")
$CHECK "$WORK/tasks2.txt" "$WORK/out2.jsonl" --expect echo --job multihost-2 \
    || fail "results of job 2"
line=$(grep -E "worker w2-host:[0-9]* silent for" "$WORK/broker.log" | head -1)
silent=$(echo "$line" | grep -o "silent for [0-9]* ms" | grep -o "[0-9]*")
lost=$(echo "$line" | grep -o "its [0-9]* tasks" | grep -o "[0-9]*")
[ "${lost:-0}" -ge 1 ] || fail "w2-host was given up holding no task: $line"
retried=$("$PYTHON" -c '
import json, sys
print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["attempts"] >= 2))' "$WORK/out2.jsonl")
[ "$retried" -ge "$lost" ] \
    || fail "w2-host held $lost tasks when given up but only $retried results show attempts >= 2"
[ "$silent" -le $((5 * HB)) ] || fail "w2-host was given up after $silent ms of silence"
echo "job 2: w2-host given up $gone_ms ms after the cut (silent for $silent ms), its $lost tasks redone elsewhere; job done $done_ms ms after the cut"

# --- 3. The cable back in --------------------------------------------------------
t0=$(date +%s%N)
ip -n "$NS_SW" link set p-w2 up || fail "could not put w2-host back"
wait_log "$WORK/broker.log" "worker w2-host:[0-9]* (joined|reconnected)" 2 20
echo "job 3: w2-host back $(ms_since "$t0") ms after the cable went back in"
t0=$(date +%s%N)
job 3 "$WORK/tasks3.txt"
wait_pid "$SINK_PID" 30
expect_rc 0 "$WAIT_RC" "sink of job 3"
$CHECK "$WORK/tasks3.txt" "$WORK/out3.jsonl" --expect echo --workers 3 --job multihost-3 \
    || fail "results of job 3"
echo "job 3: 300 tasks on 3 worker hosts in $(ms_since "$t0") ms"

kill -TERM "$BROKER_PID"
wait_pid "$BROKER_PID" 10
expect_rc 0 "$WAIT_RC" "broker stopped with SIGTERM"
