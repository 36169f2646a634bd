#!/usr/bin/env bash
# Builds sluice (installing missing packages) and runs a small cluster on
# this machine: a broker, two workers and a sink, on examples/tasks.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
BIN=build
BROKER=tcp://127.0.0.1:${SLUICE_DEMO_PORT:-5560}

pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null' EXIT
$BIN/sluice-broker --bind "$BROKER" -q & pids+=($!)
for w in 1 2; do
    $BIN/sluice-worker --broker "$BROKER" -j 2 \
        --exec 'read -r line; sleep 0.$((RANDOM % 3)); echo "${#line} chars, $(echo "$line" | wc -w) words: $line"' &
    pids+=($!)
done
echo "== submitting examples/tasks.txt" >&2
JOB=$($BIN/sluice-ventilator --broker "$BROKER" examples/tasks.txt)
echo "== job $JOB; results as they arrive:" >&2
$BIN/sluice-sink --broker "$BROKER" --job "$JOB"
echo "== the same job as JSON Lines is what --format jsonl gives:" >&2
JOB=$($BIN/sluice-ventilator --broker "$BROKER" examples/tasks.txt)
$BIN/sluice-sink --broker "$BROKER" --job "$JOB" --format jsonl | head -n 3
