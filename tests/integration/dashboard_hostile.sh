# The --http endpoint under hostile clients (a slow one, a 1 MB header,
# pipelined requests, 500 connections at once, path traversal, garbage)
# while a job runs at full speed: see dashboard_hostile.py. The job's rate
# must not collapse, the broker must not crash or grow without bound, and
# it must still exit 0 on SIGTERM.
. "$(dirname "$0")/lib.sh"

HTTP_PORT=$(free_port)
# In memory: a journal would write hundreds of MB a minute at this rate.
start_bg broker "$SLUICE_BIN/sluice-broker" --bind "$BROKER" --in-memory --max-memory 64M \
    --http "tcp://127.0.0.1:$HTTP_PORT"
BROKER_PID=$LAST_PID
wait_log "$WORK/broker.log" "listening on" 1 10
start_worker w1 -j 8 --builtin echo
start_worker w2 -j 8 --builtin echo
start_bg sink "$SLUICE_BIN/sluice-sink" --broker "$BROKER" -o /dev/null --follow
# Far more tasks than the test lasts (intake waits at --max-memory).
start_bg ventilator "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job jfast \
    <(seq 1 20000000)
"$PYTHON" "$SLUICE_TESTS/integration/dashboard_hostile.py" --http-port "$HTTP_PORT" \
    --broker "$BROKER" --broker-pid "$BROKER_PID" --ctl "$SLUICE_BIN/sluice-ctl" --job jfast ||
    fail "hostile HTTP clients"
kill -0 "$BROKER_PID" 2>/dev/null || fail "the broker died"
kill -TERM "$BROKER_PID"
wait_pid "$BROKER_PID" 30
expect_rc 0 "$WAIT_RC" "broker exit status after SIGTERM"
echo "PASS: dashboard_hostile"
