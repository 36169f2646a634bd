#!/usr/bin/env bash
# What checkpoints save: the journal's size and the replay time of a
# broker whose oldest job never ends. A job of one 10-minute task waits in
# a queue of its own (its worker runs it) while JOBS jobs of N tasks of
# 99 bytes go through 2 echo workers; then the broker is stopped (SIGTERM)
# and started again on the same journal, REPS times. Run with checkpoints
# every CP bytes (--checkpoint-bytes), and without (--checkpoint-bytes 1T:
# one segment that nothing is ever deleted from, as the oldest unfinished
# job kept every later segment before checkpoints). Prints, for each, the
# journal's size after the traffic and the median replay time the broker
# logs, and the records it replayed.
#
#   bench/checkpoint.sh [JOBS] [N] [REPS]     defaults 10, 20000, 3
#   CP=4M NATS=1 (the journal on a 3-node NATS cluster, as journal_nats.sh)
set -euo pipefail
JOBS=${1:-10}
N=${2:-20000}
REPS=${3:-3}
CP=${CP:-4M}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
[ -z "${NATS:-}" ] || bench_nats_cluster
make_tasks "$N" "$WORK/tasks.txt"
echo 600000 >"$WORK/stuck.txt"

# run NAME CHECKPOINT_BYTES: the traffic, then REPS restarts.
run () {
    local name=$1 cp=$2 journal bpid log bytes
    if [ -n "${NATS:-}" ]; then
        journal=(--journal "$NATS_URLS" --journal-stream "$name")
    else
        journal=(--data-dir "$WORK/$name")
    fi
    log=$WORK/$name.log
    "$BIN/sluice-broker" --bind "$BROKER" "${journal[@]}" --checkpoint-bytes "$cp" \
        2>"$log" & bpid=$!
    pids+=($bpid)
    "$BIN/sluice-worker" --broker "$BROKER" --queue slow --builtin sleep -j 1 -q \
        2>>"$WORK/workers.log" & local slow=$!
    for i in 1 2; do
        "$BIN/sluice-worker" --broker "$BROKER" --builtin echo -j 2 -q \
            2>>"$WORK/workers.log" & pids+=($!)
    done
    pids+=($slow)
    await_workers "$BROKER" 3
    "$BIN/sluice-ventilator" --broker "$BROKER" --queue slow --job stuck "$WORK/stuck.txt" \
        >/dev/null 2>>"$WORK/ventilator.log"
    for ((j = 1; j <= JOBS; j++)); do
        "$BIN/sluice-ventilator" --broker "$BROKER" --job "j$j" "$WORK/tasks.txt" >/dev/null \
            2>>"$WORK/ventilator.log"
        "$BIN/sluice-sink" --broker "$BROKER" --job "j$j" -o /dev/null 2>>"$WORK/sink.log"
    done
    if [ -n "${NATS:-}" ]; then
        bytes=$(curl -s "http://127.0.0.1:${NATS_MPORT[1]}/jsz?accounts=true&streams=true" |
            python3 -c "import json,sys
for a in json.load(sys.stdin).get('account_details', []):
    for s in a.get('stream_detail', []):
        if s['name'] == '$name': print(s['state']['bytes'])")
    else
        bytes=$(cat "$WORK/$name"/journal-*.wal | wc -c)
    fi
    kill -TERM $bpid; wait $bpid 2>/dev/null || true
    local times=() records=
    for ((r = 1; r <= REPS; r++)); do
        "$BIN/sluice-broker" --bind "$BROKER" "${journal[@]}" --checkpoint-bytes "$cp" \
            2>"$log.$r" & bpid=$!
        pids+=($bpid)
        for ((k = 0; k < 600; k++)); do
            grep -q "records replayed in" "$log.$r" 2>/dev/null && break
            sleep 0.1
        done
        local line
        line=$(grep -o '[0-9]* records replayed in [0-9]* ms' "$log.$r")
        times+=("$(echo "$line" | sed -E 's/.* in ([0-9]+) ms/\1/')")
        records=${line%% records*}
        kill -TERM $bpid; wait $bpid 2>/dev/null || true
    done
    kill $slow 2>/dev/null || true
    python3 -c "
import statistics
t = [int(x) for x in '${times[*]}'.split()]
print('checkpoint: %-14s --checkpoint-bytes %-4s journal %6.1f MB, %d records replayed in '
      '%d ms (median of %s)' % ('$name', '$cp', $bytes / 1e6, $records, statistics.median(t),
      ' '.join(map(str, t))))"
}

run with-cp "$CP"
run without-cp 1T
