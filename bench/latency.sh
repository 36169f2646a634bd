#!/usr/bin/env bash
# Latency, submit to sink, of one task at a time: unloaded, and under about
# 50% load. Rows:
#   zmq_raw_pipeline   bench/zpipe.c --latency: one process binds a PUSH and a
#                      PULL, 2 echo worker processes in between; one message
#                      in flight at a time (the floor: 2 ZeroMQ hops)
#   zmq_forwarder_4hops the same through bench/zpipe.c's forwarder process:
#                      4 hops as in sluice, no bookkeeping
#   sluice             bench/latency.c against a broker with its default
#                      settings (durable journal, --fsync batch) and 2 workers
#                      --builtin echo -j 2: phases unloaded, capacity, loaded
#                      (see latency.c: the load is a second job submitted by
#                      the same process at LOAD x the capacity it measured,
#                      its results read and acknowledged as they come)
#   sluice_in_memory   the same, broker --in-memory
#
#   bench/latency.sh [PROBES] [REPS]   defaults 2000, 1
#   LOAD=0.5 CAPACITY_TASKS=200000 GAP_US=1000
set -euo pipefail
PROBES=${1:-${PROBES:-2000}}
REPS=${2:-${REPS:-1}}
LOAD=${LOAD:-0.5}
CAPACITY_TASKS=${CAPACITY_TASKS:-200000}
GAP_US=${GAP_US:-1000}
. "$(dirname "$0")/lib.sh"
ZB=$BIN/bench
[ -x "$ZB/latency" ] || { echo "latency.sh: no $ZB/latency: run bench/build.sh" >&2; exit 1; }
LINES=$WORK/lines
: > "$LINES"

sluice_run () { # peer broker-args...
    local peer=$1 broker bpid wpids=() out rc=0
    shift
    broker=tcp://127.0.0.1:$(free_port)
    rm -rf "$WORK/data"
    "$BIN/sluice-broker" --bind "$broker" "$@" -q 2>"$WORK/broker.log" &
    bpid=$!
    pids+=($bpid)
    for ((i = 0; i < 2; i++)); do
        "$BIN/sluice-worker" --broker "$broker" --builtin echo -j 2 -q 2>>"$WORK/workers.log" &
        wpids+=($!)
        pids+=($!)
    done
    sleep 1
    noise_start
    out=$(timeout 600 "$ZB/latency" --broker "$broker" --probes "$PROBES" --load "$LOAD" \
        --capacity-tasks "$CAPACITY_TASKS" --gap-us "$GAP_US" --peer "$peer" 2>"$WORK/err") || rc=$?
    local marks
    marks="rep=$r $(noise_end)"
    if [ "$rc" != 0 ] || [ -z "$out" ]; then
        echo "bench=latency peer=$peer phase=all status=failed rc=$rc $marks" \
            "err=\"$(tail -c 200 "$WORK/err" | tr -s '\n"' '  ')\"" | tee -a "$LINES"
    fi
    printf '%s\n' "$out" | grep '^peer=' | sed "s/^/bench=latency /; s/$/ $marks/" | tee -a "$LINES"
    for p in "${wpids[@]}"; do stop_pid "$p"; done
    stop_pid "$bpid"
    pids=()
}

for ((r = 1; r <= REPS; r++)); do
    noise_start
    out=$("$ZB/zpipe" --latency "$PROBES" --tasks 1 --workers 2 --timeout 300 | grep '^peer=') ||
        out="peer=zmq_raw_pipeline workload=latency status=failed"
    echo "bench=latency ${out/workload=latency/phase=unloaded probes=$PROBES} rep=$r $(noise_end)" |
        tee -a "$LINES"
    noise_start
    out=$("$ZB/zpipe" --latency "$PROBES" --tasks 1 --workers 2 --forwarder --timeout 300 \
        2>/dev/null | grep '^peer=') ||
        out="peer=zmq_forwarder_4hops workload=latency status=failed"
    echo "bench=latency ${out/workload=latency/phase=unloaded probes=$PROBES} rep=$r $(noise_end)" |
        tee -a "$LINES"
    sluice_run sluice --data-dir "$WORK/data"
    sluice_run sluice_in_memory --in-memory
done
echo
python3 "$HERE/report.py" --only latency "$LINES"
