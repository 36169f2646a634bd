# The broker's dashboard in a real browser (headless Chromium over the
# DevTools protocol, see dashboard_browser.py): what the page shows equals
# sluice-ctl status --json, charts are drawn, the job page lists exactly the
# failed tasks of a job, and the console stays clean. A screenshot is left
# in the build directory (dashboard.png).
. "$(dirname "$0")/lib.sh"

CHROMIUM=$("$PYTHON" -c "import sys; sys.path.insert(0, '$SLUICE_TESTS/integration'); import cdp; print(cdp.find_chromium() or '')")
if [ -z "$CHROMIUM" ]; then
    echo "SKIP: no chromium (apt-get install chromium; scripts/deps.sh installs it)"
    exit 0
fi
HTTP_PORT=$(free_port)
start_broker --http "$HTTP_PORT"

# A job of 30 tasks where 20 fail (exit n % 3), collected by a sink.
seq 0 29 > "$WORK/tasks.txt"
start_worker w1 -j 3 --exec 'read n; echo "out $n"; echo "err $n" >&2; exit $((n % 3))'
W1=$LAST_PID
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job jfail "$WORK/tasks.txt" \
    >/dev/null 2>"$WORK/ventilator.log" || fail "ventilator failed"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job jfail -o "$WORK/fail.jsonl" -f jsonl \
    2>"$WORK/sink.log"
expect_rc 1 $? "sink of the failing job"
kill -TERM "$W1"
wait_pid "$W1" 30

# Jobs that stay running: workers that sleep, so the numbers hold still
# long enough to compare (allowing one refresh anyway).
seq 0 39 > "$WORK/slow.txt"
start_worker w2 -j 4 --prefetch 0 --exec 'sleep 300'
start_worker w3 -j 2 --prefetch 0 -Q batch --exec 'sleep 300'
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job jrun "$WORK/slow.txt" \
    >/dev/null 2>>"$WORK/ventilator.log" || fail "ventilator jrun failed"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job jbatch -Q batch "$WORK/slow.txt" \
    >/dev/null 2>>"$WORK/ventilator.log" || fail "ventilator jbatch failed"
# Wait until both have their tasks running.
for ((i = 0; i < 200; i++)); do
    running=$("$SLUICE_BIN/sluice-ctl" --broker "$BROKER" status --json |
        "$PYTHON" -c "import json,sys; d=json.load(sys.stdin); print(sum(j['running'] for j in d['jobs']))")
    [ "$running" = 6 ] && break
    sleep 0.1
done
[ "$running" = 6 ] || fail "the slow jobs never had 6 tasks running (got $running)"

"$PYTHON" "$SLUICE_TESTS/integration/dashboard_browser.py" --chromium "$CHROMIUM" \
    --http-port "$HTTP_PORT" --broker "$BROKER" --ctl "$SLUICE_BIN/sluice-ctl" \
    --fail-job jfail --results "$WORK/fail.jsonl" --page 7 \
    --late-job "'$SLUICE_BIN/sluice-ventilator' --broker '$BROKER' --job jlate '$WORK/tasks.txt' >/dev/null 2>>'$WORK/ventilator.log'" \
    --late-job-id jlate --screenshot "$SLUICE_BIN/dashboard.png" --log "$WORK/chromium.log" ||
    fail "dashboard in the browser"
[ -s "$SLUICE_BIN/dashboard.png" ] || fail "no screenshot"
echo "PASS: dashboard_browser"
