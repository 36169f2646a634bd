# The join token between two hosts: network namespaces "broker" (10.77.0.1)
# and "client" (10.77.0.2) joined by a veth pair, nothing of it in the
# host's own network. The broker is bound to 10.77.0.1, beyond loopback.
#   1. It makes its join keys (mode 0600) and logs the line to copy;
#      sluice-ctl token prints the same token from the data directory.
#   2. Refusals, each with a clear message and no task taken: a worker
#      without the token (told how to get in); a malformed token (naming
#      --token, or $SLUICE_TOKEN); a well-formed token of another cluster.
#   3. With the token, workers run a job whole.
#   4. sluice-ctl token --rotate: a worker holding the old token is cut off
#      at its next message and exits saying why; its tasks run on a worker
#      with the new token, every task exactly once (the sink has its own
#      key in --curve-clients, which works beside the token and is not
#      rotated); a worker started with the old token is refused.
#   5. --metrics bound beyond loopback wants the token as a bearer.
#   6. A key file others may read is refused at start; a broker bound
#      beyond loopback with --in-memory and no --token-file refuses to
#      start and says what to give.
#   7. --insecure: a broker beyond loopback without CurveZMQ admits a
#      tokenless worker, and its log carries the warning.
# Needs root and network namespaces; otherwise prints SKIP and exits 0.
# CTest label: netns.
. "$(dirname "$0")/lib.sh"
NETNS_TEST=token
. "$(dirname "$0")/netns.sh"

HB=200

# --- The network -------------------------------------------------------------
[ "$(id -u)" = 0 ] || skip "not running as root: id -u is $(id -u)"
command -v ip >/dev/null || skip "no ip command (iproute2)"
command -v curl >/dev/null || skip "no curl"

net () {
    local out
    out=$("$@" 2>&1) || skip "'$*' failed: $out"
}
# on NAME : ON = the command prefix that runs a program on host NAME.
on () {
    ON=(ip netns exec "$TAG-$1")
}
for host in broker client; do
    net ip netns add "$TAG-$host"
    NETNS+=("$TAG-$host")
    net ip -n "$TAG-$host" link set lo up
done
net ip link add eth0 netns "$TAG-broker" type veth peer name eth0 netns "$TAG-client"
net ip -n "$TAG-broker" addr add 10.77.0.1/24 dev eth0
net ip -n "$TAG-client" addr add 10.77.0.2/24 dev eth0
net ip -n "$TAG-broker" link set eth0 up
net ip -n "$TAG-client" link set eth0 up

BROKER="tcp://10.77.0.1:$PORT" # fresh namespaces: every port is free
DATA=$WORK/data

# wait_listening ADDR PORT : from the client host, until ADDR:PORT accepts.
wait_listening () {
    on client
    "${ON[@]}" "$PYTHON" - "$1" "$2" <<'PY' || fail "nothing listening at $1:$2 from the client host"
import socket, sys, time
deadline = time.time() + 10
while time.time() < deadline:
    try:
        socket.create_connection((sys.argv[1], int(sys.argv[2])), 0.2).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.02)
sys.exit(1)
PY
}

# client_run NAME ARGS... : runs a program on the client host in the
# foreground, stderr to $WORK/NAME.log; its status in RC.
client_run () {
    local name=$1
    shift
    on client
    "${ON[@]}" "$@" 2>"$WORK/$name.log"
    RC=$?
}

# --- 1. The broker makes its join keys --------------------------------------------
on broker
start_bg broker "${ON[@]}" "$SLUICE_BIN/sluice-broker" --bind "$BROKER" --data-dir "$DATA" \
    --heartbeat $HB --dispatch "${SLUICE_DISPATCH:-fair}"
BROKER_PID=$LAST_PID
wait_listening 10.77.0.1 "$PORT"
expect_grep "sluice-worker --broker $BROKER --token SLUICE1-" "$WORK/broker.log" "the line to copy"
TOKEN=$(grep -o -- "--token SLUICE1-[A-Za-z0-9_-]*" "$WORK/broker.log" | head -1 | cut -d' ' -f2)
[ "$(stat -c %a "$DATA/cluster.keys")" = 600 ] || fail "the keys file is $(stat -c %a "$DATA/cluster.keys"), not 600"
[ "$("$SLUICE_BIN/sluice-ctl" token --data-dir "$DATA")" = "$TOKEN" ] \
    || fail "sluice-ctl token does not print the logged token"
BROKER_KEY=$(grep -o "broker key [^;]*" "$WORK/broker.log" | head -1 | cut -d' ' -f3)
echo "broker made its join token (${#TOKEN} characters); keys file mode 600"

# --- 2. Refusals ---------------------------------------------------------------------
for i in $(seq 1 100); do echo "token task $i"; done >"$WORK/tasks.txt"
client_run plain "$SLUICE_BIN/sluice-worker" --broker "$BROKER" --builtin echo --connect-timeout 5
expect_rc 1 "$RC" "a worker without the token"
expect_grep "this client speaks plain" "$WORK/plain.log" "the tokenless worker is refused"
expect_grep "give --token TOKEN or \$SLUICE_TOKEN (on the broker host .sluice-ctl token. prints it)" \
    "$WORK/plain.log" "the refusal says how to get in"
client_run malformed "$SLUICE_BIN/sluice-worker" --broker "$BROKER" --builtin echo \
    --token "${TOKEN:0:50}"
expect_rc 2 "$RC" "a worker with a token cut short"
expect_grep "^sluice-worker: --token: not a whole sluice join token: 50 characters" \
    "$WORK/malformed.log" "the cut token is named"
on client
SLUICE_TOKEN="${TOKEN:0:60}x${TOKEN:61}" "${ON[@]}" "$SLUICE_BIN/sluice-sink" --broker "$BROKER" \
    2>"$WORK/mistyped.log"
expect_rc 2 "$?" "a sink with a mistyped token in \$SLUICE_TOKEN"
expect_grep "^sluice-sink: \$SLUICE_TOKEN: damaged: its checksum does not match" "$WORK/mistyped.log" \
    "the mistyped token is named"
# A well-formed token of another cluster, made here from the format's
# definition (base64url of two keys and their CRC-32).
OTHER=$("$PYTHON" -c '
import base64, os, zlib
keys = os.urandom(64)
print("SLUICE1-" + base64.urlsafe_b64encode(keys + zlib.crc32(keys).to_bytes(4, "big")).decode().rstrip("="))')
client_run other "$SLUICE_BIN/sluice-worker" --broker "$BROKER" --builtin echo --connect-timeout 5 \
    --token "$OTHER"
expect_rc 1 "$RC" "a worker with another cluster's token"
expect_grep "keys do not match: the join token (--token) is another broker's" "$WORK/other.log" \
    "another cluster's token"
wait_log "$WORK/broker.log" "refused a client on $BROKER: its CurveZMQ handshake failed \\(another broker's key\\?\\)" 1 5

# --- 3. With the token --------------------------------------------------------------
on client
start_bg w1 "${ON[@]}" "$SLUICE_BIN/sluice-worker" --broker "$BROKER" --token "$TOKEN" \
    --builtin echo -j 2 --heartbeat $HB
W1=$LAST_PID
wait_workers 1
export SLUICE_TOKEN=$TOKEN
client_run vent1 "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job token-1 "$WORK/tasks.txt"
expect_rc 0 "$RC" "ventilator with \$SLUICE_TOKEN"
client_run sink1 "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job token-1 -o "$WORK/out1.jsonl" \
    --format jsonl
expect_rc 0 "$RC" "sink with \$SLUICE_TOKEN"
$CHECK "$WORK/tasks.txt" "$WORK/out1.jsonl" --expect echo --workers 1 --job token-1 \
    || fail "results with the token"
echo "job 1: 100 tasks with the token; the tokenless and wrong-token workers got none"
unset SLUICE_TOKEN
kill -TERM "$W1"
wait_pid "$W1" 20

# --- 4. Rotation -----------------------------------------------------------------------
# The sink gets a key of its own in --curve-clients: a broker restarted on
# the same data directory keeps its join keys, and admits both.
mkdir -p "$WORK/clients" "$WORK/sinkkey"
"$SLUICE_BIN/sluice-keygen" -d "$WORK/clients" sink >/dev/null || fail "keygen sink"
printf 'metadata\ncurve\n    public-key = "%s"\n' "$BROKER_KEY" >"$WORK/sinkkey/broker"
kill -TERM "$BROKER_PID"
wait_pid "$BROKER_PID" 10
on broker
start_bg broker2 "${ON[@]}" "$SLUICE_BIN/sluice-broker" --bind "$BROKER" --data-dir "$DATA" \
    --heartbeat $HB --dispatch "${SLUICE_DISPATCH:-fair}" --curve-clients "$WORK/clients"
BROKER_PID=$LAST_PID
wait_listening 10.77.0.1 "$PORT"
expect_grep "join keys from $DATA/cluster.keys" "$WORK/broker2.log" "the keys are kept"
on client
start_bg old "${ON[@]}" "$SLUICE_BIN/sluice-worker" --broker "$BROKER" --token "$TOKEN" \
    --builtin sleep -j 4 --heartbeat $HB
OLD=$LAST_PID
wait_log "$WORK/broker2.log" "worker .* joined" 1 20
for i in $(seq 1 40); do echo $((200 + i)); done >"$WORK/slow.txt"
client_run vent2 "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --token "$TOKEN" --job token-2 \
    "$WORK/slow.txt"
expect_rc 0 "$RC" "ventilator of job 2"
on client
start_bg sink2 "${ON[@]}" "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job token-2 \
    -o "$WORK/out2.jsonl" --format jsonl --curve-secret "$WORK/clients/sink_secret" \
    --curve-server "$WORK/sinkkey/broker"
SINK=$LAST_PID
for ((i = 0; i < 200; i++)); do # a few results in, the old worker busy
    [ -f "$WORK/out2.jsonl" ] && [ "$(wc -l <"$WORK/out2.jsonl")" -ge 4 ] && break
    sleep 0.05
done
[ "$i" -lt 200 ] || fail "job 2 did not start"
NEW_TOKEN=$("$SLUICE_BIN/sluice-ctl" token --rotate --data-dir "$DATA" 2>"$WORK/rotate.log") \
    || fail "sluice-ctl token --rotate"
[ "$NEW_TOKEN" != "$TOKEN" ] || fail "the rotated token is the old one"
[ "$("$SLUICE_BIN/sluice-ctl" token --data-dir "$DATA")" = "$NEW_TOKEN" ] \
    || fail "sluice-ctl token does not print the rotated token"
[ "$(stat -c %a "$DATA/cluster.keys")" = 600 ] || fail "the rotated keys file is not 600"
wait_pid "$OLD" 10
expect_rc 1 "$WAIT_RC" "the worker holding the old token"
expect_grep "no longer admitted (its join token was rotated?" "$WORK/old.log" \
    "the old-token worker says why it stopped"
expect_grep "the join token was rotated" "$WORK/broker2.log" "the broker logs the rotation"
on client
start_bg new "${ON[@]}" "$SLUICE_BIN/sluice-worker" --broker "$BROKER" --token "$NEW_TOKEN" \
    --builtin sleep -j 4 --heartbeat $HB
client_run stale "$SLUICE_BIN/sluice-worker" --broker "$BROKER" --token "$TOKEN" --builtin echo \
    --connect-timeout 5
expect_rc 1 "$RC" "a worker started with the old token"
expect_grep "refused this client's join token (--token): it was rotated" "$WORK/stale.log" \
    "the old token is refused"
expect_grep "refused the client at 10.77.0.2: its key is neither the join token's nor in --curve-clients" \
    "$WORK/broker2.log" "the broker logs the refusal with the address"
wait_pid "$SINK" 60
expect_rc 0 "$WAIT_RC" "sink of job 2"
$CHECK "$WORK/slow.txt" "$WORK/out2.jsonl" --expect echo --job token-2 || fail "results of job 2"
moved=$("$PYTHON" -c '
import json, sys
print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["attempts"] >= 2))' "$WORK/out2.jsonl")
[ "$moved" -ge 1 ] || fail "no task of the cut-off worker ran again elsewhere"
echo "job 2: rotated mid-job; the old-token worker was cut off, $moved of its tasks ran on the new one, each once"

# --- 5. The HTTP endpoint beyond loopback wants the token ----------------------------
kill -TERM "$BROKER_PID"
wait_pid "$BROKER_PID" 10
on broker
start_bg broker3 "${ON[@]}" "$SLUICE_BIN/sluice-broker" --bind "$BROKER" --data-dir "$DATA" \
    --heartbeat $HB --metrics "tcp://10.77.0.1:$((PORT + 10))"
BROKER_PID=$LAST_PID
wait_listening 10.77.0.1 "$((PORT + 10))"
URL="http://10.77.0.1:$((PORT + 10))/metrics"
on client
code=$("${ON[@]}" curl -s -o /dev/null -w '%{http_code}' "$URL")
[ "$code" = 401 ] || fail "metrics without the token: HTTP $code, expected 401"
code=$("${ON[@]}" curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$URL")
[ "$code" = 401 ] || fail "metrics with the rotated-out token: HTTP $code, expected 401"
"${ON[@]}" curl -s -f -H "Authorization: Bearer $NEW_TOKEN" "$URL" >"$WORK/metrics.txt" \
    || fail "metrics with the token"
expect_grep "^sluice_" "$WORK/metrics.txt" "metrics with the token"
echo "metrics beyond loopback: 401 without the token, 200 with it"
kill -TERM "$BROKER_PID"
wait_pid "$BROKER_PID" 10

# --- 6. Start-up refusals ----------------------------------------------------------------
chmod 644 "$DATA/cluster.keys"
on broker
"${ON[@]}" "$SLUICE_BIN/sluice-broker" --bind "$BROKER" --data-dir "$DATA" 2>"$WORK/perm.log"
expect_rc 1 "$?" "a broker whose keys file others may read"
expect_grep "the join keys $DATA/cluster.keys have mode 0644: they are secret.*chmod 600" \
    "$WORK/perm.log" "the wide keys file is refused"
"${ON[@]}" "$SLUICE_BIN/sluice-broker" --bind "$BROKER" --in-memory 2>"$WORK/inmem.log"
expect_rc 2 "$?" "a broker beyond loopback with --in-memory and no --token-file"
expect_grep "give --token-file FILE (or --insecure" "$WORK/inmem.log" "says what to give"

# --- 7. --insecure ----------------------------------------------------------------------------
on broker
start_bg insecure "${ON[@]}" "$SLUICE_BIN/sluice-broker" --bind "$BROKER" --in-memory --insecure \
    --dispatch "${SLUICE_DISPATCH:-fair}"
BROKER_PID=$LAST_PID
wait_listening 10.77.0.1 "$PORT"
expect_grep "INSECURE: listening on $BROKER without CurveZMQ (--insecure)" "$WORK/insecure.log" \
    "the warning at start"
on client
start_bg w3 "${ON[@]}" "$SLUICE_BIN/sluice-worker" --broker "$BROKER" --builtin echo -j 2
wait_log "$WORK/insecure.log" "worker .* joined" 1 20
client_run vent3 "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job token-3 "$WORK/tasks.txt"
expect_rc 0 "$RC" "tokenless ventilator, --insecure broker"
client_run sink3 "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job token-3 -o "$WORK/out3.jsonl" \
    --format jsonl
expect_rc 0 "$RC" "tokenless sink, --insecure broker"
$CHECK "$WORK/tasks.txt" "$WORK/out3.jsonl" --expect echo --workers 1 --job token-3 \
    || fail "results with --insecure"
echo "--insecure: a tokenless worker admitted, the warning logged"
