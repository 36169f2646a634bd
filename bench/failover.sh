#!/usr/bin/env bash
# How long after a worker dies (kill -9) its tasks run elsewhere: the time
# from the kill to the first start of a task's second run, over KILLS kills
# (default 10). Three exec workers of 2 slots run 0.3 s tasks; each round
# kills one of them mid-job and starts a replacement.
#
#   bench/failover.sh [KILLS]          HB=1000 (ms, broker and workers)
set -euo pipefail
KILLS=${1:-10}
HB=${HB:-1000}
. "$(dirname "$0")/lib.sh"
CMD="echo \$(date +%s%N) \$SLUICE_JOB \$SLUICE_SEQ \$SLUICE_ATTEMPT >> $WORK/starts; sleep 0.3"
start_worker () {
    "$BIN/sluice-worker" --broker "$BROKER" -j 2 --heartbeat "$HB" -q --exec "$CMD" \
        2>>"$WORK/workers.log" &
    workers+=($!)
    pids+=($!)
}
"$BIN/sluice-broker" --bind "$BROKER" --heartbeat "$HB" -q 2>"$WORK/broker.log" & pids+=($!)
workers=()
start_worker; start_worker; start_worker
sleep 1
seq 1 60 > "$WORK/tasks.txt"
: > "$WORK/kills"
for ((k = 0; k < KILLS; k++)); do
    job=$("$BIN/sluice-ventilator" --broker "$BROKER" "$WORK/tasks.txt")
    "$BIN/sluice-sink" --broker "$BROKER" --job "$job" -o "$WORK/out.$k" -q 2>>"$WORK/sink.log" &
    sink=$!
    sleep 1
    victim=${workers[0]}
    workers=("${workers[@]:1}")
    kill -9 "$victim"
    echo "$(date +%s%N) $job" >> "$WORK/kills"
    wait "$victim" 2>/dev/null || true
    start_worker
    wait "$sink" || true
done
python3 - "$WORK/kills" "$WORK/starts" "$HB" <<'PY'
import statistics, sys
kills = [l.split() for l in open(sys.argv[1])]
starts = [l.split() for l in open(sys.argv[2])]
lat = []
for t, job in kills:
    t = int(t)
    again = [int(s[0]) for s in starts if s[1] == job and int(s[3]) >= 2 and int(s[0]) >= t]
    if again:
        lat.append((min(again) - t) / 1e6)
if not lat:
    print("no task was run again"); sys.exit(1)
print("failover heartbeat_ms=%s kills=%d median_ms=%.0f min_ms=%.0f max_ms=%.0f"
      % (sys.argv[3], len(lat), statistics.median(lat), min(lat), max(lat)))
PY
