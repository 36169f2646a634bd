# --discover between two hosts: network namespaces "broker" (10.77.0.1) and
# "client" (10.77.0.2) joined by a veth pair, each with its own host name,
# nothing of it in the host's own network. No client is given --broker.
#   1. Clients first: a worker started before any broker waits for one to
#      announce itself; a broker with --discover (default UDP port 5670,
#      --insecure: no join token on this test network) comes up; the
#      worker, a ventilator and a sink find it, and a job of 200 echo tasks
#      comes back whole.
#   2. Clear failures: a client that hears no broker within its
#      --connect-timeout names the UDP port and says to give --broker; a
#      broker that listens on loopback only refuses to announce itself.
#   3. CurveZMQ (a broker on one address, with its options from a config
#      file): the beacon carries no key, so a client without --curve-server
#      finds the broker but fails its handshake with a message saying so;
#      clients with the key (from their own config file) run a job.
#   4. Two brokers on one NATS stream (a NATS server on the broker host),
#      A active and B --standby, both with --discover: a worker hears both
#      and follows them active first ("a standby" in B's beacon); a job;
#      kill -9 of A; B takes over; clients that discover now (A silent)
#      find B, and the worker that found both goes on with B: a second job
#      comes back whole. (Skipped without nats-server or NATS support.)
# Needs root and network namespaces; otherwise prints SKIP and exits 0.
# CTest label: netns.
. "$(dirname "$0")/lib.sh"
NETNS_TEST=discover
. "$(dirname "$0")/netns.sh"

UDP=5670 # the default --discover port: fresh namespaces are free

# --- The network -------------------------------------------------------------
[ "$(id -u)" = 0 ] || skip "not running as root: id -u is $(id -u)"
command -v ip >/dev/null || skip "no ip command (iproute2)"
command -v unshare >/dev/null || skip "no unshare command (util-linux)"

# net CMD... : one set-up step; its failure means this machine cannot host
# the test (no network namespaces, no veth...).
net () {
    local out
    out=$("$@" 2>&1) || skip "'$*' failed: $out"
}

# on NAME : sets ON to the command prefix that runs a program on host NAME
# (namespace $TAG-NAME) under the host name NAME-host. Each command of the
# chain execs the next, so $! of a program started with it is the program.
on () {
    # shellcheck disable=SC2016 # $0 and $@ are for sh
    ON=(ip netns exec "$TAG-$1" unshare --uts sh -c 'hostname "$0" && exec "$@"' "$1-host")
}

for host in broker client; do
    net ip netns add "$TAG-$host"
    NETNS+=("$TAG-$host")
    net ip -n "$TAG-$host" link set lo up
done
# One cable between the two hosts: eth0 at each end.
net ip link add eth0 netns "$TAG-broker" type veth peer name eth0 netns "$TAG-client"
net ip -n "$TAG-broker" addr add 10.77.0.1/24 dev eth0
net ip -n "$TAG-client" addr add 10.77.0.2/24 dev eth0
for host in broker client; do
    net ip -n "$TAG-$host" link set eth0 up
    on "$host"
    net "${ON[@]}" true
done

# Echo tasks with distinct payloads, so output = payload checks each result.
for i in $(seq 1 200); do echo "discover task $i"; done >"$WORK/tasks.txt"

# run_job N ARGS... : on the client host, submits the tasks as job
# discover-N and collects them with a sink, both given ARGS (and no
# --broker); checks every result.
run_job () {
    local n=$1 sink
    shift
    on client
    start_bg "sink$n" "${ON[@]}" "$SLUICE_BIN/sluice-sink" "$@" --job "discover-$n" \
        -o "$WORK/out$n.jsonl" --format jsonl
    sink=$LAST_PID
    "${ON[@]}" "$SLUICE_BIN/sluice-ventilator" "$@" --job "discover-$n" --connect-timeout 20 \
        "$WORK/tasks.txt" >/dev/null 2>>"$WORK/ventilator$n.log" || fail "ventilator of job $n"
    wait_pid "$sink" 30
    expect_rc 0 "$WAIT_RC" "sink of job $n"
    $CHECK "$WORK/tasks.txt" "$WORK/out$n.jsonl" --expect echo --workers 1 --job "discover-$n" \
        || fail "results of job $n"
}

# --- 1. Clients first, then the broker ------------------------------------------
: >"$WORK/w1.log" # wait_log below may look before the program writes
: >"$WORK/broker.log"
on client
start_bg w1 "${ON[@]}" "$SLUICE_BIN/sluice-worker" --discover --builtin echo -j 4
W1=$LAST_PID
wait_log "$WORK/w1.log" "waiting for a sluice broker to announce itself on UDP port $UDP" 1 10
on broker
start_bg broker "${ON[@]}" "$SLUICE_BIN/sluice-broker" --bind "tcp://*:$PORT" --discover \
    --insecure --data-dir "$WORK/data1" --dispatch "${SLUICE_DISPATCH:-fair}"
BROKER_PID=$LAST_PID
wait_log "$WORK/broker.log" \
    "announcing broker broker-host \\(port $PORT\\) on UDP port $UDP from 10.77.0.1" 1 10
wait_log "$WORK/w1.log" "found broker broker-host at tcp://10.77.0.1:$PORT" 1 10
wait_workers 1
run_job 1 --discover
echo "job 1: 200 tasks through a broker found by its beacons"

# --- 2. Clear failures ------------------------------------------------------------
on client
"${ON[@]}" "$SLUICE_BIN/sluice-ventilator" --discover=5999 --connect-timeout 1.5 \
    "$WORK/tasks.txt" >/dev/null 2>"$WORK/silence.log"
expect_rc 1 $? "a ventilator that hears no broker"
expect_grep "no sluice broker announced itself on UDP port 5999 within 1.5 s; give --broker" \
    "$WORK/silence.log" "no broker on the port"
on broker
"${ON[@]}" "$SLUICE_BIN/sluice-broker" --bind "tcp://127.0.0.1:$((PORT + 10))" --discover \
    --in-memory 2>"$WORK/loopback.log"
expect_rc 1 $? "a broker on loopback with --discover"
expect_grep "the broker listens on loopback only (127.0.0.1)" "$WORK/loopback.log" \
    "loopback refused"
kill -TERM "$W1" "$BROKER_PID"
wait_pid "$W1" 20
wait_pid "$BROKER_PID" 10
expect_rc 0 "$WAIT_RC" "broker stopped with SIGTERM"

# --- 3. CurveZMQ -----------------------------------------------------------------
K=$WORK/keys
mkdir -p "$K/clients"
"$SLUICE_BIN/sluice-keygen" -d "$K" broker >/dev/null || fail "keygen broker"
for name in w2 vent sink; do
    "$SLUICE_BIN/sluice-keygen" -d "$K/clients" "$name" >/dev/null || fail "keygen $name"
done
cat >"$WORK/broker.conf" <<EOF
broker
    bind = tcp://10.77.0.1:$PORT
    discover = 5671
    data-dir = $WORK/data3
    curve-secret = $K/broker_secret
    curve-clients = $K/clients
EOF
: >"$WORK/broker3.log"
on broker
start_bg broker3 "${ON[@]}" "$SLUICE_BIN/sluice-broker" --config "$WORK/broker.conf" \
    --dispatch "${SLUICE_DISPATCH:-fair}"
BROKER_PID=$LAST_PID
wait_log "$WORK/broker3.log" "announcing broker broker-host \\(port $PORT\\) on UDP port 5671" 1 10
# Found, but without the broker's key it cannot talk to it.
on client
"${ON[@]}" "$SLUICE_BIN/sluice-worker" --discover=5671 --builtin echo --connect-timeout 10 \
    2>"$WORK/plain.log"
expect_rc 1 $? "a worker without --curve-server"
expect_grep "found broker broker-host at tcp://10.77.0.1:$PORT" "$WORK/plain.log" \
    "the plain worker finds the broker"
expect_grep "CurveZMQ handshake with the broker at tcp://10.77.0.1:$PORT failed" \
    "$WORK/plain.log" "the plain worker says why it fails"
# The clients' options from their config file: discovery and the keys.
cat >"$WORK/client.conf" <<EOF
common
    discover = 5671
    curve-server = $K/broker
worker
    curve-secret = $K/clients/w2_secret
    builtin = echo
    jobs = 4
ventilator
    curve-secret = $K/clients/vent_secret
sink
    curve-secret = $K/clients/sink_secret
EOF
export SLUICE_CONFIG=$WORK/client.conf
start_bg w2 "${ON[@]}" "$SLUICE_BIN/sluice-worker"
wait_log "$WORK/broker3.log" "worker .* joined" 1 20
run_job 3
unset SLUICE_CONFIG
echo "job 3: 200 tasks with CurveZMQ through a broker found by its beacons"

kill -TERM "$BROKER_PID"
wait_pid "$BROKER_PID" 10
expect_rc 0 "$WAIT_RC" "broker stopped with SIGTERM"

# --- 4. An active broker and its standby, both found ------------------------------
if ! command -v nats-server >/dev/null 2>&1 ||
    "$SLUICE_BIN/sluice-broker" --help | grep -q "not in this build"; then
    echo "part 4 skipped: no nats-server or no NATS support in this build"
    exit 0
fi
UDP4=5672
on broker
start_bg nats "${ON[@]}" nats-server -a 127.0.0.1 -p 4222 -js -sd "$WORK/nats"
for ((i = 0; i < 100; i++)); do
    grep -q "Server is ready" "$WORK/nats.log" 2>/dev/null && break
    sleep 0.1
done
PORT_A=$PORT
PORT_B=$((PORT + 10))
# ha NAME PORT : a broker of the set on the broker host, found by --discover.
ha () {
    on broker
    : >"$WORK/$1.log"
    start_bg "$1" "${ON[@]}" "$SLUICE_BIN/sluice-broker" --bind "tcp://*:$2" \
        --advertise "tcp://10.77.0.1:$2" --discover=$UDP4 --insecure --standby --heartbeat 200 \
        --journal nats://127.0.0.1:4222 --journal-stream disc --journal-replicas 1 \
        --dispatch "${SLUICE_DISPATCH:-fair}"
}
ha broker-a "$PORT_A"
A_PID=$LAST_PID
wait_log "$WORK/broker-a.log" "took over the journal nats stream disc" 1 20
ha broker-b "$PORT_B"
B_PID=$LAST_PID
wait_log "$WORK/broker-b.log" "standby: following the journal nats stream disc" 1 20
wait_log "$WORK/broker-a.log" "the --discover beacon now says this broker is active" 1 10
on client
: >"$WORK/w4.log"
start_bg w4 "${ON[@]}" "$SLUICE_BIN/sluice-worker" --discover=$UDP4 --builtin echo -j 4 \
    --heartbeat 200
W4=$LAST_PID
wait_log "$WORK/w4.log" "following the brokers found: tcp://10.77.0.1:$PORT_A,tcp://10.77.0.1:$PORT_B" 1 10
expect_grep "found broker broker-host at tcp://10.77.0.1:$PORT_B, a standby" "$WORK/w4.log" \
    "the worker hears the standby as one"
wait_log "$WORK/broker-a.log" "worker .* joined" 1 20
run_job 4 --discover=$UDP4
echo "job 4: 200 tasks through the active one of two brokers found by their beacons"

kill -9 "$A_PID"
wait "$A_PID" 2>/dev/null
# Clients that look now hear B only (A is dead): B refuses them until it
# takes over, then serves them.
run_job 5 --discover=$UDP4
expect_grep "took over the journal nats stream disc" "$WORK/broker-b.log" "B took over"
expect_grep "the --discover beacon now says this broker is active" "$WORK/broker-b.log" \
    "B's beacon after its takeover"
kill -0 "$W4" 2>/dev/null || fail "the worker that found both brokers stopped"
echo "job 5: 200 tasks through the standby, found by its beacon, after kill -9 of the active one"
kill -TERM "$W4" "$B_PID"
wait_pid "$W4" 20
wait_pid "$B_PID" 10
