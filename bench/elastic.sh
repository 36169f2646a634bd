#!/usr/bin/env bash
# How soon a worker that joins a running job runs its first task: from the
# worker's start (process spawn) to its first task's start, over JOINS
# joins (default 10), while one busy worker has a long queue.
#
#   bench/elastic.sh [JOINS]          DISPATCH=push bench/elastic.sh
set -euo pipefail
JOINS=${1:-10}
DISPATCH=${DISPATCH:-fair}
. "$(dirname "$0")/lib.sh"
"$BIN/sluice-broker" --bind "$BROKER" --in-memory --dispatch "$DISPATCH" -q 2>"$WORK/broker.log" &
pids+=($!)
"$BIN/sluice-worker" --broker "$BROKER" --builtin sleep -j 1 -q 2>>"$WORK/workers.log" &
pids+=($!)
for i in $(seq 1 100000); do echo 100; done > "$WORK/tasks.txt"
"$BIN/sluice-ventilator" --broker "$BROKER" --job elastic "$WORK/tasks.txt" >/dev/null
: > "$WORK/lat"
for ((k = 0; k < JOINS; k++)); do
    started=$(date +%s%N)
    "$BIN/sluice-worker" --broker "$BROKER" -j 1 -q \
        --exec "date +%s%N >> $WORK/first.$k; sleep 0.2" 2>>"$WORK/workers.log" &
    w=$!
    for ((i = 0; i < 200; i++)); do
        [ -s "$WORK/first.$k" ] && break
        sleep 0.02
    done
    kill -9 "$w"
    wait "$w" 2>/dev/null || true
    [ -s "$WORK/first.$k" ] || continue
    echo $(( ($(head -1 "$WORK/first.$k") - started) / 1000000 )) >> "$WORK/lat"
done
python3 - "$WORK/lat" "$DISPATCH" "$JOINS" <<'PY'
import statistics, sys
lat = [int(l) for l in open(sys.argv[1])]
joins = int(sys.argv[3])
if not lat:
    print("elastic dispatch=%s joins=%d no joining worker got a task within 4 s"
          % (sys.argv[2], joins))
else:
    print("elastic dispatch=%s joins=%d served=%d first_task_ms median=%d min=%d max=%d"
          % (sys.argv[2], joins, len(lat), statistics.median(lat), min(lat), max(lat)))
PY
