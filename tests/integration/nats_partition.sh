# A partition: the active broker of a standby pair is cut off from the NATS
# cluster but not from its workers and sink. Hosts are network namespaces
# on one bridge (as in multihost.sh): nats-host (three NATS nodes),
# a-host and b-host (the brokers, --standby), client-host (two workers, the
# sink, the ventilator, all given both brokers). Mid-job, a-host's route
# to nats-host is blackholed: A can no longer hold the stream, so it stops
# serving (it deals and delivers nothing past its window), the clients find
# it silent and follow B, which took the stream over. Every seq reaches the
# sink exactly once. When the route comes back, A's hold is refused and A
# stops (exit 1).
# Needs root and network namespaces (else SKIP), nats-server (else SKIPPED).
. "$(dirname "$0")/lib.sh"
NETNS_TEST=nats_partition
. "$(dirname "$0")/netns.sh"
. "$(dirname "$0")/nats_lib.sh"
nats_require
HB=200
NS_SW="$TAG-switch"
[ "$(id -u)" = 0 ] || skip "not running as root: id -u is $(id -u)"
err=$(ip netns add "$NS_SW" 2>&1) || skip "'ip netns add' failed: $err"
NETNS+=("$NS_SW")
net () {
    local out
    out=$("$@" 2>&1) || skip "'$*' failed: $out"
}
net ip -n "$NS_SW" link set lo up
net ip -n "$NS_SW" link add br0 type bridge
net ip -n "$NS_SW" link set br0 up
add_host () {
    local ns="$TAG-$1"
    net ip netns add "$ns"
    NETNS+=("$ns")
    net ip -n "$NS_SW" link add "p-$1" type veth peer name eth0 netns "$ns"
    net ip -n "$NS_SW" link set "p-$1" master br0 up
    net ip -n "$ns" link set lo up
    net ip -n "$ns" addr add "$2/24" dev eth0
    net ip -n "$ns" link set eth0 up
}
on () {
    ON=(ip netns exec "$TAG-$1")
}
NATS_IP=10.77.0.5
add_host nats $NATS_IP
add_host a 10.77.0.1
add_host b 10.77.0.3
add_host client 10.77.0.2

# Three NATS nodes on nats-host, ports 4222/6222/8222 + I.
on nats
URLS=""
ROUTES="nats://$NATS_IP:6223,nats://$NATS_IP:6224,nats://$NATS_IP:6225"
for i in 1 2 3; do
    mkdir -p "$WORK/nats$i"
    start_bg "nats$i" "${ON[@]}" nats-server -a $NATS_IP -p $((4222 + i)) \
        --cluster "nats://$NATS_IP:$((6222 + i))" --cluster_name sluice-part --routes "$ROUTES" \
        -js -sd "$WORK/nats$i" --server_name "n$i" -m $((8222 + i))
    URLS="${URLS:+$URLS,}nats://$NATS_IP:$((4222 + i))"
done
"${ON[@]}" "$PYTHON" - "$NATS_IP" <<'PY' || fail "NATS JetStream cluster not ready"
import json, sys, time, urllib.request
deadline = time.time() + 30
while time.time() < deadline:
    ok = 0
    for p in (8223, 8224, 8225):
        try:
            with urllib.request.urlopen("http://%s:%d/jsz" % (sys.argv[1], p), timeout=1) as r:
                ok += bool((json.load(r).get("meta_cluster") or {}).get("leader"))
        except (OSError, ValueError):
            pass
    if ok == 3:
        sys.exit(0)
    time.sleep(0.1)
sys.exit(1)
PY

A=tcp://10.77.0.1:5560
B=tcp://10.77.0.3:5560
start_ha () {
    on "$1"
    start_bg "broker-$1" "${ON[@]}" "$SLUICE_BIN/sluice-broker" --bind "$2" --insecure \
        --journal "$URLS" --journal-stream part --standby --heartbeat $HB
    LAST_BROKER=$LAST_PID
}
start_ha a $A
A_PID=$LAST_BROKER
wait_log "$WORK/broker-a.log" "took over the journal" 1 30
start_ha b $B
B_PID=$LAST_BROKER
wait_log "$WORK/broker-b.log" "standby: following" 1 30

for i in $(seq 1 1500); do echo $((5 + i % 7)); done >"$WORK/tasks.txt"
on client
for w in 1 2; do
    start_bg "worker$w" "${ON[@]}" "$SLUICE_BIN/sluice-worker" --broker "$A,$B" --builtin sleep \
        -j 8 --heartbeat $HB
done
start_bg sink "${ON[@]}" "$SLUICE_BIN/sluice-sink" --broker "$A,$B" --job part \
    -o "$WORK/out.jsonl" -f jsonl
SINK=$LAST_PID
start_bg ventilator "${ON[@]}" "$SLUICE_BIN/sluice-ventilator" --broker "$A,$B" --job part \
    "$WORK/tasks.txt"
VENT=$LAST_PID
for ((i = 0; i < 600; i++)); do
    [ -f "$WORK/out.jsonl" ] && [ "$(wc -l <"$WORK/out.jsonl")" -ge 300 ] && break
    sleep 0.05
done
[ "$(wc -l <"$WORK/out.jsonl")" -ge 300 ] || fail "the sink got too little before the cut"
ip -n "$TAG-a" route add blackhole $NATS_IP/32 || fail "could not cut a-host off from NATS"
CUT_LINE=$(wc -l <"$WORK/broker-a.log")
wait_log "$WORK/broker-b.log" "took over the journal" 1 30
wait_pid "$VENT" 60
expect_rc 0 "$WAIT_RC" "ventilator"
wait_pid "$SINK" 60
expect_rc 0 "$WAIT_RC" "sink"
$CHECK "$WORK/tasks.txt" "$WORK/out.jsonl" --expect echo --job part || fail "results across the partition"
kill -0 "$A_PID" 2>/dev/null || fail "A should wait while cut off, not exit"
tail -n +$((CUT_LINE + 1)) "$WORK/broker-a.log" >"$WORK/a-cut.log"
if grep -E "job part finished|joined|attached" "$WORK/a-cut.log"; then
    fail "A served while cut off from NATS"
fi

# The route back: A's hold is refused, and A stops.
ip -n "$TAG-a" route del blackhole $NATS_IP/32 || fail "could not put a-host back"
wait_pid "$A_PID" 30
expect_rc 1 "$WAIT_RC" "A, deposed once it reaches NATS again"
expect_grep "another broker wrote to the journal stream part" "$WORK/broker-a.log" "A's reason"
kill -0 "$B_PID" 2>/dev/null || fail "B should still run"
echo "nats_partition: ok"
