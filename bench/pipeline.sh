#!/usr/bin/env bash
# End-to-end throughput of a sluice cluster on this machine: one broker, W
# echo workers, N tasks of about 100 bytes; the clock runs from the
# ventilator's start to the sink's exit (submission, dispatch, results and
# delivery all inside). Prints one line in the format of
# ../shared/bench/README.md, so it can be an EXTRA_PEERS row of run_peers.sh.
#
#   bench/pipeline.sh [N] [W]            default N=200000 W=2
#   SLUICE_BIN=/other/build bench/pipeline.sh    compare another build
#   PEER=name WORKER_ARGS='--exec cat' BROKER_ARGS='--dispatch push' bench/pipeline.sh
set -euo pipefail
N=${1:-200000}
W=${2:-2}
PEER=${PEER:-sluice}
WORKER_ARGS=${WORKER_ARGS:---builtin echo}
. "$(dirname "$0")/lib.sh"
python3 -c "
import sys
pad = 'x' * 88
with open('$WORK/tasks.txt', 'w') as f:
    for i in range(1, $N + 1):
        f.write('%010d%s\n' % (i, pad))"

# shellcheck disable=SC2086
"$BIN/sluice-broker" --bind "$BROKER" --data-dir "$WORK/data" ${BROKER_ARGS:-} -q \
    2>"$WORK/broker.log" & pids+=($!)
for ((i = 0; i < W; i++)); do
    # shellcheck disable=SC2086
    "$BIN/sluice-worker" --broker "$BROKER" $WORKER_ARGS -j 2 -q 2>>"$WORK/workers.log" & pids+=($!)
done
# Workers attached before the clock starts (the peers' rule): a second is
# plenty on loopback.
sleep 1
# The sink waits for the job before the clock starts, as the peers' sinks do.
"$BIN/sluice-sink" --broker "$BROKER" --job bench -o "$WORK/out.txt" 2>"$WORK/sink.log" &
sink=$!
sleep 0.5
start=$(date +%s%N)
"$BIN/sluice-ventilator" --broker "$BROKER" --job bench "$WORK/tasks.txt" >/dev/null
wait "$sink"
end=$(date +%s%N)
got=$(wc -l < "$WORK/out.txt")
[ "$got" = "$N" ] || { echo "peer=$PEER status=failed got=$got of $N" ; exit 1; }
python3 -c "
s = ($end - $start) / 1e9
print('peer=$PEER workload=noop tasks=$N workers=$W seconds=%.3f tasks_per_s=%d' % (s, $N / s))"
