# Every client takes the join token the three ways: --token, $SLUICE_TOKEN,
# and `token =` in the config file; libsluice takes $SLUICE_TOKEN. On
# loopback, with the token turned on by --token-file (as a broker bound
# beyond loopback turns it on by itself; tests/integration/token.sh does
# that between network namespaces).
#   1. The broker makes the keys file (0600) at --token-file; sluice-ctl
#      token prints the token it logged.
#   2. sluice-ctl status: refused without the token (saying how to get
#      in), answered with --token, with $SLUICE_TOKEN, and with `token =`
#      in the section ctl of a config file.
#   3. A job whose worker has the token in its config file (section
#      common), ventilator --token, sink $SLUICE_TOKEN; a libsluice map
#      client and worker (examples/c) with $SLUICE_TOKEN.
#   4. A malformed token in a config file: the error names --token and the
#      file; --token beside --curve-server is refused.
#      A second broker given the same --token-file takes the same token.
#   5. --metrics on loopback needs no bearer even with a token.
#   6. The default --bind is loopback: a broker without --bind listens on
#      127.0.0.1 only (checked on its log), and a broker given
#      --curve-clients without any key source is refused.
. "$(dirname "$0")/lib.sh"

HB=200
EX=$SLUICE_BIN/examples/c
KEYS=$WORK/keys/cluster.keys
MPORT=$(free_port)

# --- 1. The keys -----------------------------------------------------------------
start_broker --heartbeat $HB --token-file "$KEYS" --metrics "tcp://127.0.0.1:$MPORT"
expect_grep "made the join keys $KEYS" "$WORK/broker.log" "the broker makes the keys"
TOKEN=$(grep -o -- "--token SLUICE1-[A-Za-z0-9_-]*" "$WORK/broker.log" | head -1 | cut -d' ' -f2)
[ -n "$TOKEN" ] || fail "no token in the broker's log"
[ "$(stat -c %a "$KEYS")" = 600 ] || fail "the keys file is $(stat -c %a "$KEYS"), not 600"
[ "$("$SLUICE_BIN/sluice-ctl" token --token-file "$KEYS")" = "$TOKEN" ] \
    || fail "sluice-ctl token prints another token"

# --- 2. sluice-ctl -------------------------------------------------------------------
"$SLUICE_BIN/sluice-ctl" --broker "$BROKER" status >/dev/null 2>"$WORK/ctl-plain.log"
expect_rc 1 "$?" "sluice-ctl without the token"
expect_grep "speaks plain.*give --token TOKEN" "$WORK/ctl-plain.log" "the refusal says how to get in"
"$SLUICE_BIN/sluice-ctl" --broker "$BROKER" --token "$TOKEN" status >/dev/null 2>"$WORK/ctl1.log" \
    || fail "sluice-ctl --token status"
SLUICE_TOKEN=$TOKEN "$SLUICE_BIN/sluice-ctl" --broker "$BROKER" status >/dev/null 2>"$WORK/ctl2.log" \
    || fail "sluice-ctl status with \$SLUICE_TOKEN"
printf 'ctl\n    broker = %s\n    token = %s\n' "$BROKER" "$TOKEN" >"$WORK/ctl.conf"
chmod 600 "$WORK/ctl.conf"
"$SLUICE_BIN/sluice-ctl" --config "$WORK/ctl.conf" status >/dev/null 2>"$WORK/ctl3.log" \
    || fail "sluice-ctl status with the token in its config file"

# --- 3. A job, the token from each source ----------------------------------------------
printf 'common\n    token = %s\nworker\n    builtin = echo\n    jobs = 2\n' "$TOKEN" >"$WORK/worker.conf"
chmod 600 "$WORK/worker.conf"
start_bg w1 "$SLUICE_BIN/sluice-worker" --config "$WORK/worker.conf" --broker "$BROKER" \
    --heartbeat $HB
wait_workers 1
for i in $(seq 1 300); do echo "clients task $i"; done >"$WORK/tasks.txt"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --token "$TOKEN" --job tc-1 "$WORK/tasks.txt" \
    >/dev/null 2>"$WORK/vent.log" || fail "ventilator --token"
SLUICE_TOKEN=$TOKEN "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job tc-1 -o "$WORK/out.jsonl" \
    --format jsonl 2>"$WORK/sink.log" || fail "sink with \$SLUICE_TOKEN"
$CHECK "$WORK/tasks.txt" "$WORK/out.jsonl" --expect echo --workers 1 --job tc-1 \
    || fail "results of the job"
export SLUICE_TOKEN=$TOKEN
start_bg upper "$EX/worker" "$BROKER" upper 2
wait_workers 2
"$EX/map" "$BROKER" upper 200 >"$WORK/map.out" 2>"$WORK/map.log" || fail "libsluice map with \$SLUICE_TOKEN"
[ "$(grep -c "	ok	ITEM-" "$WORK/map.out")" = 200 ] || fail "libsluice map: not 200 results ok"
unset SLUICE_TOKEN
echo "ctl, worker, ventilator, sink and libsluice each took the token"

# --- 4. Bad token sources ------------------------------------------------------------------
printf 'worker\n    token = SLUICE1-not-a-token\n    builtin = echo\n' >"$WORK/bad.conf"
"$SLUICE_BIN/sluice-worker" --config "$WORK/bad.conf" --broker "$BROKER" 2>"$WORK/bad.log"
expect_rc 2 "$?" "a malformed token in the config file"
expect_grep "^sluice-worker: --token: not a whole sluice join token" "$WORK/bad.log" "names the option"
expect_grep "options were read from $WORK/bad.conf" "$WORK/bad.log" "names the file"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --token "$TOKEN" --curve-server "$KEYS" \
    "$WORK/tasks.txt" 2>"$WORK/both.log"
expect_rc 2 "$?" "--token beside --curve-server"
expect_grep "give --token or --curve-server/--curve-secret, not both" "$WORK/both.log" "both refused"

# --- 4b. A second broker given the same keys file takes the same token -----------------------
PORT2=$(free_port)
start_bg broker2 "$SLUICE_BIN/sluice-broker" --bind "tcp://127.0.0.1:$PORT2" --in-memory \
    --token-file "$KEYS"
wait_log "$WORK/broker2.log" "listening on" 1 10
expect_grep "join keys from $KEYS" "$WORK/broker2.log" "the second broker reads the shared keys"
"$SLUICE_BIN/sluice-ctl" --broker "tcp://127.0.0.1:$PORT2" --token "$TOKEN" status >/dev/null \
    2>"$WORK/ctl4.log" || fail "the token of the shared keys at the second broker"
kill -TERM "$LAST_PID"

# --- 5. Metrics on loopback -------------------------------------------------------------------
curl -s -f "http://127.0.0.1:$MPORT/metrics" >"$WORK/metrics.txt" || fail "metrics on loopback"
expect_grep "^sluice_" "$WORK/metrics.txt" "metrics on loopback without a bearer"

# --- 6. Defaults ---------------------------------------------------------------------------------
kill -TERM "$BROKER_PID"
wait_pid "$BROKER_PID" 10
timeout 20 "$SLUICE_BIN/sluice-broker" --in-memory --curve-clients "$WORK" 2>"$WORK/cc.log"
expect_rc 2 "$?" "--curve-clients on loopback without keys"
expect_grep "curve-clients needs --curve-secret or --token-file" "$WORK/cc.log" "says what it needs"
# Only when 5560-5564 are free here (another broker may hold them).
if "$PYTHON" -c '
import socket
for p in range(5560, 5565):
    s = socket.socket(); s.bind(("127.0.0.1", p)); s.close()' 2>/dev/null; then
    start_bg default "$SLUICE_BIN/sluice-broker" --in-memory
    wait_log "$WORK/default.log" "listening on tcp://127.0.0.1:5560 " 1 10
    grep -q "INSECURE\|join" "$WORK/default.log" && fail "a loopback broker warned or made keys"
    echo "a broker without --bind listens on tcp://127.0.0.1:5560"
fi
