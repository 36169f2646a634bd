#!/usr/bin/env bash
# The dashboard at scale: a broker (in memory) with JOBS unfinished jobs
# (default 1000, 10 tasks each on a queue no worker serves, so they stay)
# and IDLE connected workers (default 500, bench/idlers.c), then
# bench/dashboard.py: headless Chromium's time to first render, and the
# broker's CPU cost of serving the page once a second (with the page open
# minus without, over SECONDS, default 30), its CPU per /api/status.
#
#   bench/build.sh && bench/dashboard.sh
#   JOBS=1000 IDLE=500 SECONDS_OPEN=30 RUNS=3 SCREENSHOT=/tmp/d.png bench/dashboard.sh
set -euo pipefail
JOBS=${JOBS:-1000}
IDLE=${IDLE:-500}
SECONDS_OPEN=${SECONDS_OPEN:-30}
RUNS=${RUNS:-3}
. "$(dirname "$0")/lib.sh"
ZB=$BIN/bench
[ -x "$ZB/idlers" ] || { echo "dashboard.sh: no $ZB/idlers: run bench/build.sh" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
HTTP_PORT=$(free_port)
"$BIN/sluice-broker" --bind "$BROKER" --in-memory --http "$HTTP_PORT" 2>"$WORK/broker.log" &
bpid=$!
pids+=($bpid)
await_broker "$WORK/broker.log" "$bpid"
"$ZB/idlers" --broker "$BROKER" --count "$IDLE" >"$WORK/idlers.out" 2>"$WORK/idlers.err" &
pids+=($!)
for ((i = 0; i < 1200; i++)); do
    grep -q connected "$WORK/idlers.out" && break
    sleep 0.1
done
grep -q connected "$WORK/idlers.out" || { echo "dashboard.sh: idlers did not connect" >&2; exit 1; }
seq 1 10 >"$WORK/tasks.txt"
start=$(date +%s.%N)
seq -w 1 "$JOBS" | xargs -P 4 -I{} "$BIN/sluice-ventilator" --broker "$BROKER" --job bench-{} \
    -Q bench-waiting "$WORK/tasks.txt" >/dev/null 2>>"$WORK/ventilator.log"
echo "dashboard.sh: $JOBS jobs submitted in $(echo "$(date +%s.%N) - $start" | bc) s," \
    "$IDLE idle workers connected" >&2
python3 "$HERE/dashboard.py" --http-port "$HTTP_PORT" --broker-pid "$bpid" --jobs "$JOBS" \
    --workers "$IDLE" --seconds "$SECONDS_OPEN" --runs "$RUNS" --log "$WORK/chromium.log" \
    ${SCREENSHOT:+--screenshot "$SCREENSHOT"}
