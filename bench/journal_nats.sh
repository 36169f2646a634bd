#!/usr/bin/env bash
# Durable throughput of the NATS JetStream journal against the file
# journal, interleaved in one run: a 3-node JetStream cluster (3 replicas,
# file storage) on loopback, then ROUNDS x (bench/pipeline.sh with the
# file journal, bench/pipeline.sh with --journal on the cluster, a fresh
# stream each time). Prints each run's line and the ratio nats/file of
# the median tasks_per_s, and of each pair.
#
#   bench/journal_nats.sh [N] [ROUNDS]      default N=200000 ROUNDS=3
#   SLUICE_BIN=/other/build bench/journal_nats.sh
set -euo pipefail
N=${1:-200000}
ROUNDS=${2:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
bench_nats_cluster
make_tasks "$N" "$WORK/tasks.txt"

file_rates=()
nats_rates=()
for ((r = 1; r <= ROUNDS; r++)); do
    line=$(TASKS_FILE=$WORK/tasks.txt PEER=sluice-file "$HERE/pipeline.sh" "$N" 2)
    echo "$line"
    file_rates+=("$(sed -n 's/.*tasks_per_s=\([0-9]*\).*/\1/p' <<<"$line")")
    line=$(TASKS_FILE=$WORK/tasks.txt PEER=sluice-nats \
        BROKER_ARGS="--journal $NATS_URLS --journal-stream bench$r" "$HERE/pipeline.sh" "$N" 2)
    echo "$line"
    nats_rates+=("$(sed -n 's/.*tasks_per_s=\([0-9]*\).*/\1/p' <<<"$line")")
done
python3 - "${file_rates[*]}" "${nats_rates[*]}" <<'PY'
import statistics, sys
f = [int(x) for x in sys.argv[1].split()]
n = [int(x) for x in sys.argv[2].split()]
pairs = " ".join("%.2f" % (b / a) for a, b in zip(f, n))
print("journal_nats: file median %d tasks/s, nats (3 replicas) median %d tasks/s, "
      "ratio nats/file %.2f (pairs: %s)" % (statistics.median(f), statistics.median(n),
                                            statistics.median(n) / statistics.median(f), pairs))
PY
