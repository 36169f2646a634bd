#!/usr/bin/env bash
# libsluice's collect path (sluice_map: submit N tasks and collect them all)
# of two builds against one broker with W echo workers, interleaved by
# farm-bench: A = SLUICE_BIN's examples/c/map, B = BASE_BIN's. The broker
# and workers are SLUICE_BIN's for both, so the ratio is the client's.
#
#   BASE_BIN=/tmp/old/build bench/client_map.sh [N] [RUNS]     default N=50000 RUNS=7
#
# Prints farm-bench's table; read the A/B wall median.
set -euo pipefail
N=${1:-50000}
RUNS=${2:-7}
W=${W:-2}
. "$(dirname "$0")/lib.sh"
: "${BASE_BIN:?BASE_BIN=/other/build: the build to compare with}"
"$BIN/sluice-broker" --bind "$BROKER" --data-dir "$WORK/data" -q 2>"$WORK/broker.log" &
pids+=($!)
for ((i = 0; i < W; i++)); do
    "$BIN/sluice-worker" --broker "$BROKER" --builtin echo -j 2 -q 2>>"$WORK/workers.log" &
    pids+=($!)
done
await_workers "$BROKER" "$W"
# Each run checks its own output: N lines, all ok (map exits 1 otherwise).
check='out=$(mktemp); "$0" "$1" default "$2" >"$out" || exit 1; n=$(grep -c "	ok	" "$out"); rm -f "$out"; [ "$n" = "$2" ]'
farm-bench -n "$RUNS" --timeout 900 \
    --vs "sh -c '$check' $BASE_BIN/examples/c/map $BROKER $N" \
    -- sh -c "$check" "$BIN/examples/c/map" "$BROKER" "$N"
