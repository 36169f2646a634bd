#!/usr/bin/env bash
# End to end, tiny tasks: sluice against a raw ZeroMQ pipeline, in one run.
#
# Rows, interleaved REPS times (raw, sluice durable, sluice --in-memory,
# forwarder, raw from ../shared/bench):
#   zmq_raw_pipeline         bench/zpipe.c: ventilator PUSH -> 2 worker processes
#                            -> sink PULL, no broker, N messages of 100 bytes over
#                            TCP loopback; clock from the first send to the N-th
#                            result
#   sluice                   pipeline.sh: broker with its default settings (durable
#                            journal, --fsync batch, leases, heartbeats), 2 workers
#                            --builtin echo -j 2, N tasks of 98 bytes; clock from
#                            the ventilator's start to the sink's exit
#   sluice_in_memory         the same with the broker --in-memory
#   zmq_forwarder_4hops      bench/zpipe.c --forwarder: the raw pipeline with a
#                            single-threaded forwarder process in the middle (no
#                            bookkeeping): 4 hops per task as in sluice, not 2
#   zmq_raw_pipeline_shared  ../shared/bench/zmq/zpipe.c --mode raw (the issue's
#                            figure), to cross-check bench/zpipe.c (if present)
# Then medians and the ratios sluice/raw (targets: >= 0.5 durable, >= 0.6
# in-memory).
#
# The raw rows send RAW_N messages (default 5 x N, as the peers' harness
# sends 5,000,000): they are about 7 times as fast, and a clock of half a
# second is mostly noise on this machine. Rates are compared, not times.
#
#   bench/e2e.sh [N] [REPS]     defaults 1000000, 3; SLUICE_BIN as elsewhere
#   RAW_N=5000000
set -euo pipefail
N=${1:-${N:-1000000}}
REPS=${2:-${REPS:-3}}
RAW_N=${RAW_N:-$((5 * N))}
. "$(dirname "$0")/lib.sh"
ZB=$BIN/bench
[ -x "$ZB/zpipe" ] || { echo "e2e.sh: no $ZB/zpipe: run bench/build.sh" >&2; exit 1; }
SHARED_ZPIPE=$HERE/../../shared/bench/zmq/zpipe.c
if [ -f "$SHARED_ZPIPE" ]; then
    cc -O2 -o "$WORK/zpipe-shared" "$SHARED_ZPIPE" -lzmq
fi
make_tasks "$N" "$WORK/tasks.txt"
LINES=$WORK/lines
: > "$LINES"

run () { # name command...
    local name=$1 out
    shift
    noise_start
    if out=$("$@" 2>"$WORK/err"); then
        out=$(printf '%s\n' "$out" | grep '^peer=' | tail -1)
    else
        out="peer=$name workload=noop status=failed err=$(tail -c 200 "$WORK/err" | tr -s ' \n' '  ')"
    fi
    echo "bench=e2e $out rep=$r $(noise_end)" | tee -a "$LINES"
}

for ((r = 1; r <= REPS; r++)); do
    run zmq_raw_pipeline "$ZB/zpipe" --tasks "$RAW_N" --workers 2 --timeout 120
    run sluice env TASKS_FILE="$WORK/tasks.txt" PEER=sluice "$HERE/pipeline.sh" "$N" 2
    run sluice_in_memory env TASKS_FILE="$WORK/tasks.txt" PEER=sluice_in_memory \
        BROKER_ARGS=--in-memory "$HERE/pipeline.sh" "$N" 2
    run zmq_forwarder_4hops "$ZB/zpipe" --tasks "$RAW_N" --workers 2 --forwarder --timeout 120
    if [ -x "$WORK/zpipe-shared" ]; then
        run zmq_raw_pipeline_shared "$WORK/zpipe-shared" --mode raw --tasks "$RAW_N" --workers 2 \
            --peer zmq_raw_pipeline_shared
    fi
done
[ -n "${OUT:-}" ] && cat "$LINES" >> "$OUT"
echo
python3 "$HERE/report.py" --only e2e "$LINES"
