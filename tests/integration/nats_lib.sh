# A 3-node NATS JetStream cluster on free loopback ports, for the tests of
# the NATS journal. Source after lib.sh (its cleanup stops the servers
# with every other process the test started).
#
#   nats_require        skips the test (exit 0, "SKIPPED: ...") without
#                       nats-server or without NATS support in the broker
#   start_nats_cluster  starts nodes 1..3 and waits until JetStream has a
#                       meta leader; sets NATS_URLS (nats://...,...)
#   start_nats_node I   (re)starts node I on its ports and store dir
#   kill_nats_node I    kill -9 of node I
#   wait_nats_ready S   waits up to S seconds for a meta leader seen by
#                       every running node
#   nats_copy_require   sets COPY to tests/nats_copy, or skips the test
#   wait_takeover NAME STREAM [MORE]  waits up to 20 s for NAME.log to say
#                       its broker took over STREAM (then MORE, a pattern)
#   status_rounds WHAT PAUSE  asks `sluice-ctl status` 10 times, PAUSE s
#                       apart, printing each time; fails if one fails, and
#                       if any took a second or more (WHAT says when)

nats_require () {
    if ! command -v nats-server >/dev/null 2>&1; then
        echo "SKIPPED: nats-server is not installed (apt-get install nats-server)"
        exit 0
    fi
    if "$SLUICE_BIN/sluice-broker" --help | grep -q "not in this build"; then
        echo "SKIPPED: sluice-broker was built without NATS support (no libnats-dev)"
        exit 0
    fi
}

nats_copy_require () {
    COPY="$SLUICE_BIN/tests/nats_copy"
    [ -x "$COPY" ] || { echo "SKIPPED: tests/nats_copy was not built"; exit 0; }
}

wait_takeover () {
    wait_log "$WORK/$1.log" "took over the journal nats stream $2${3:-}" 1 20
}

NATS_CPORT=() # client port of node I
NATS_RPORT=() # cluster (route) port of node I
NATS_MPORT=() # HTTP monitoring port of node I
NATS_PID=()   # pid of node I, or empty when it is down

start_nats_node () {
    local i=$1 routes="" j
    for j in 1 2 3; do
        routes="${routes:+$routes,}nats://127.0.0.1:${NATS_RPORT[$j]}"
    done
    mkdir -p "$WORK/nats$i"
    # NATS_MAX_FILE_STORE (e.g. 1G): what JetStream may store, whatever the
    # disk holds (by default 75% of the disk's free space), so that a small
    # disk runs out before the limit (ENOSPC, not "insufficient resources").
    local conf=()
    if [ -n "${NATS_MAX_FILE_STORE:-}" ]; then
        printf 'jetstream {\n  max_file_store: %s\n}\n' "$NATS_MAX_FILE_STORE" >"$WORK/nats$i.conf"
        conf=(-c "$WORK/nats$i.conf")
    fi
    start_bg "nats$i" nats-server "${conf[@]}" -a 127.0.0.1 -p "${NATS_CPORT[$i]}" \
        --cluster "nats://127.0.0.1:${NATS_RPORT[$i]}" --cluster_name sluice-test \
        --routes "$routes" -js -sd "$WORK/nats$i" --server_name "n$i" \
        -m "${NATS_MPORT[$i]}"
    NATS_PID[$i]=$LAST_PID
}

kill_nats_node () {
    kill -9 "${NATS_PID[$1]}" 2>/dev/null
    wait "${NATS_PID[$1]}" 2>/dev/null
    NATS_PID[$1]=""
}

wait_nats_ready () {
    local ports="" i
    for i in 1 2 3; do
        [ -n "${NATS_PID[$i]:-}" ] && ports="$ports ${NATS_MPORT[$i]}"
    done
    "$PYTHON" - "${1:-30}" $ports <<'PY' || fail "NATS JetStream cluster not ready (no meta leader knowing every node)"
import json, sys, time, urllib.request
deadline = time.time() + float(sys.argv[1])
ports = sys.argv[2:]
while time.time() < deadline:
    ok = 0
    current = False
    for p in ports:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%s/jsz" % p, timeout=1) as r:
                meta = json.load(r).get("meta_cluster") or {}
        except (OSError, ValueError):
            continue
        # Every node sees a leader and every running node; the leader (the
        # one that lists replicas) has them all current. With a leader
        # alone, a stream of 3 replicas can still be refused ("no suitable
        # peers for placement", JetStream error 10005).
        if meta.get("leader") and meta.get("cluster_size", 0) >= len(ports):
            ok += 1
        peers = [x for x in meta.get("replicas") or [] if x.get("current")]
        if len(peers) >= len(ports) - 1:
            current = True
    if ok == len(ports) and current:
        sys.exit(0)
    time.sleep(0.1)
sys.exit(1)
PY
}

start_nats_cluster () {
    local i base
    for i in 1 2 3; do
        base=$(free_port)
        NATS_CPORT[$i]=$base
        NATS_RPORT[$i]=$((base + 1))
        NATS_MPORT[$i]=$((base + 2))
    done
    for i in 1 2 3; do
        start_nats_node "$i"
    done
    NATS_URLS="nats://127.0.0.1:${NATS_CPORT[1]},nats://127.0.0.1:${NATS_CPORT[2]},nats://127.0.0.1:${NATS_CPORT[3]}"
    wait_nats_ready 30
}

# start_broker_nats STREAM ARGS... : start_broker with its journal on the
# stream STREAM of the cluster instead of a directory.
start_broker_nats () {
    local stream=$1
    shift
    start_bg broker "$SLUICE_BIN/sluice-broker" --bind "$BROKER" --journal "$NATS_URLS" \
        --journal-stream "$stream" --dispatch "${SLUICE_DISPATCH:-fair}" "$@"
    BROKER_PID=$LAST_PID
    wait_port "$PORT" 20 || fail "broker did not start listening on port $PORT"
}

# Standby brokers (--standby), for the tests of failover:
#   start_standby NAME PORT STREAM ARGS...  a broker of a set on STREAM
#                       (log NAME.log, pid in LAST_BROKER), heartbeat $HB
#   start_standby_pair STREAM ARGS...  brokers A and B (ports PORT_A and
#                       PORT_B, addresses A and B, both in BROKERS, pids
#                       A_PID and B_PID, logs broker-a.log, broker-b.log):
#                       A takes the stream over, B follows it
start_standby () {
    local name=$1 port=$2 stream=$3
    shift 3
    start_bg "$name" "$SLUICE_BIN/sluice-broker" --bind "tcp://127.0.0.1:$port" \
        --journal "$NATS_URLS" --journal-stream "$stream" --standby --heartbeat "$HB" "$@"
    LAST_BROKER=$LAST_PID
    wait_port "$port" 20 || fail "broker $name did not start listening on port $port"
}

start_standby_pair () {
    local stream=$1
    shift
    PORT_A=$(free_port)
    PORT_B=$(free_port)
    A="tcp://127.0.0.1:$PORT_A"
    B="tcp://127.0.0.1:$PORT_B"
    BROKERS="$A,$B"
    start_standby broker-a "$PORT_A" "$stream" "$@"
    A_PID=$LAST_BROKER
    wait_takeover broker-a "$stream"
    start_standby broker-b "$PORT_B" "$stream" "$@"
    B_PID=$LAST_BROKER
    wait_log "$WORK/broker-b.log" "standby: following the journal nats stream $stream" 1 20
}

status_rounds () {
    local what=$1 pause=$2 slow=0 round t0 ms
    for round in $(seq 1 10); do
        t0=$(date +%s%N)
        "$SLUICE_BIN/sluice-ctl" --broker "$BROKER" status >"$WORK/status$round.txt" 2>&1 \
            || fail "sluice-ctl status $what (round $round)"
        ms=$((($(date +%s%N) - t0) / 1000000))
        echo "status $what: $ms ms"
        [ "$ms" -lt 1000 ] || slow=$((slow + 1))
        sleep "$pause"
    done
    [ "$slow" = 0 ] || fail "the broker took a second or more to answer $slow of 10 times $what"
}
