# CurveZMQ: keys made by sluice-keygen; an admitted worker runs a job while
# one with an unknown key, one without CurveZMQ and one with the wrong
# broker key are refused with clear errors and get no task; the bytes on the
# wire (recorded by a proxy, which must see the whole job go through) do not
# carry the payload text; revoking a key (removing it from --curve-clients) cuts the worker
# off, and its tasks are done by another.
. "$(dirname "$0")/lib.sh"

K=$WORK/keys
mkdir -p "$K/clients"
for name in broker intruder; do "$SLUICE_BIN/sluice-keygen" -d "$K" "$name" >/dev/null || fail "keygen $name"; done
for name in w1 w2 sink vent; do "$SLUICE_BIN/sluice-keygen" -d "$K/clients" "$name" >/dev/null || fail "keygen $name"; done
[ "$(stat -c %a "$K/broker_secret")" = 600 ] || fail "the secret file is not private"
"$SLUICE_BIN/sluice-keygen" -d "$K" broker >/dev/null 2>&1 && fail "keygen overwrote a certificate"
client () { echo --curve-secret "$K/clients/$1_secret" --curve-server "$K/broker"; }

start_broker --heartbeat 200 --curve-secret "$K/broker_secret" --curve-clients "$K/clients"
start_worker w1 --builtin echo -j 2 --heartbeat 200 $(client w1); W1=$LAST_PID

# Refused, with clear messages, and no task for any of them.
"$SLUICE_BIN/sluice-worker" --broker "$BROKER" --builtin echo --connect-timeout 5 \
    --curve-secret "$K/intruder_secret" --curve-server "$K/broker" 2>"$WORK/intruder.log"
expect_rc 1 $? "worker with an unknown key"
expect_grep "refused this client's CurveZMQ key" "$WORK/intruder.log" "unknown key"
"$SLUICE_BIN/sluice-worker" --broker "$BROKER" --builtin echo --connect-timeout 5 2>"$WORK/plain.log"
expect_rc 1 $? "worker without CurveZMQ"
expect_grep "CurveZMQ handshake with the broker at .* failed" "$WORK/plain.log" "plain client"
"$SLUICE_BIN/sluice-worker" --broker "$BROKER" --builtin echo --connect-timeout 5 \
    --curve-secret "$K/clients/w2_secret" --curve-server "$K/intruder" 2>"$WORK/wrongserver.log"
expect_rc 1 $? "worker with the wrong broker key"
expect_grep "keys do not match" "$WORK/wrongserver.log" "wrong server key"
expect_grep "refused the client at .*: its key is not in --curve-clients" "$WORK/broker.log" \
    "the broker logs the refusal"
expect_grep "refused the client at 127.0.0.1" "$WORK/broker.log" "the refusal names the client's address"

# A proxy between the clients and the broker records every byte.
"$PYTHON" - "$PORT" "$WORK/proxy.port" "$WORK/wire.bin" <<'PY' &
import os, select, socket, sys, threading
target, out, wire = int(sys.argv[1]), sys.argv[2], sys.argv[3]
lock = threading.Lock()
def pump(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            with lock, open(wire, "ab") as f:
                f.write(data)
            b.sendall(data)
    except OSError:
        pass
    for s in (a, b):
        try: s.shutdown(socket.SHUT_RDWR)
        except OSError: pass
def serve(listener, port):
    while True:
        c, _ = listener.accept()
        u = socket.create_connection(("127.0.0.1", port))
        threading.Thread(target=pump, args=(c, u), daemon=True).start()
        threading.Thread(target=pump, args=(u, c), daemon=True).start()
import random
while True:
    base = random.randint(10000, 32000)
    try:
        ls = []
        for i in range(5):
            l = socket.socket(); l.bind(("127.0.0.1", base + i)); l.listen(64); ls.append(l)
        break
    except OSError:
        for l in ls: l.close()
for i, l in enumerate(ls):
    threading.Thread(target=serve, args=(l, target + i), daemon=True).start()
open(out, "w").write(str(base))
threading.Event().wait()
PY
PIDS+=($!)
for ((i = 0; i < 100; i++)); do [ -s "$WORK/proxy.port" ] && break; sleep 0.05; done
VIA=tcp://127.0.0.1:$(cat "$WORK/proxy.port")
for i in $(seq 1 200); do echo "TOP-SECRET-PAYLOAD-$i"; done > "$WORK/tasks.txt"
JOB=$("$SLUICE_BIN/sluice-ventilator" --broker "$VIA" $(client vent) "$WORK/tasks.txt" 2>"$WORK/v.log") \
    || fail "ventilator through the proxy"
"$SLUICE_BIN/sluice-sink" --broker "$VIA" --job "$JOB" -o "$WORK/out.jsonl" -f jsonl $(client sink) \
    2>"$WORK/sink.log" || fail "sink through the proxy"
$CHECK "$WORK/tasks.txt" "$WORK/out.jsonl" --expect echo --workers 1 || fail "results with CurveZMQ"
[ "$(wc -c < "$WORK/wire.bin")" -gt 5000 ] || fail "the proxy saw almost no traffic"
if grep -a -q "TOP-SECRET-PAYLOAD" "$WORK/wire.bin"; then fail "payload text seen on the wire"; fi
echo "CurveZMQ: $(wc -c < "$WORK/wire.bin") bytes on the wire, no payload text in them"

# Revocation: w1 runs long tasks; its key is removed; it is cut off at its
# next heartbeat and stops; w2 does its tasks.
start_worker w2 --builtin sleep -j 2 --heartbeat 200 $(client w2); W2=$LAST_PID
kill "$W1"; wait "$W1" 2>/dev/null
start_worker w1b --builtin sleep -j 4 --heartbeat 200 $(client w1); W1=$LAST_PID
wait_workers 3
for i in $(seq 1 40); do echo 300; done > "$WORK/slow.txt"
JOB=$("$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" $(client vent) "$WORK/slow.txt" 2>>"$WORK/v.log") \
    || fail "ventilator (revocation)"
start_bg sink2 "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job "$JOB" -o "$WORK/slow.jsonl" -f jsonl \
    $(client sink)
SINK=$LAST_PID
sleep 0.5
rm "$K/clients/w1"
wait_pid "$W1" 10
expect_rc 1 "$WAIT_RC" "the revoked worker"
expect_grep "no longer admitted" "$WORK/w1b.log" "the revoked worker says why"
wait_pid "$SINK" 60
expect_rc 0 "$WAIT_RC" "sink after a revocation"
$CHECK "$WORK/slow.txt" "$WORK/slow.jsonl" --expect echo || fail "results after a revocation"

# Two files holding one client key would make czmq's certificate store
# abort: the broker refuses to start and names both.
mkdir -p "$WORK/dupkeys"
cp "$K/clients/w2" "$WORK/dupkeys/w2" || fail "no key w2"
cp "$K/clients/w2" "$WORK/dupkeys/w2-again"
timeout 20 "$SLUICE_BIN/sluice-broker" --bind "tcp://127.0.0.1:$(free_port)" --in-memory \
    --curve-secret "$K/broker_secret" --curve-clients "$WORK/dupkeys" 2>"$WORK/dup.log"
expect_rc 1 "$?" "broker with a duplicated client key"
expect_grep "hold the same public key" "$WORK/dup.log" "duplicate key message"
