#!/usr/bin/env bash
# End-to-end throughput of a sluice cluster on this machine: one broker, W
# echo workers, N tasks of about 100 bytes; the clock runs from the
# ventilator's start to the sink's exit (submission, dispatch, results and
# delivery all inside). Prints one line in the format of
# ../shared/bench/README.md, so it can be an EXTRA_PEERS row of run_peers.sh.
#
#   bench/pipeline.sh [N] [W]            default N=200000 W=2
#   SLUICE_BIN=/other/build bench/pipeline.sh    compare another build
#   PEER=name WORKER_ARGS='--builtin echo' BROKER_ARGS='--dispatch push' bench/pipeline.sh
#   BROKER_ARGS=--in-memory bench/pipeline.sh   no journal (else a fresh --data-dir)
#   BROKER_ARGS='--journal nats://...' bench/pipeline.sh   the NATS journal (bench/journal_nats.sh)
#   EXEC='echo {}' bench/pipeline.sh 3000 1     exec workers (--exec CMD), workload exec_sh_echo
#   JOBS=2 (each worker's -j), TASKS_FILE=F (reuse a task file), WORKLOAD=name,
#   WORKER_FLAGS='--realtime' (more options for exec workers)
#
# Besides the peers' fields the line has slots (W x JOBS), broker_cpu_s (the broker's user +
# system CPU while the clock runs, every thread), broker_cpu_us_per_task,
# worker_cpu_us_per_task (the same for the worker processes together, their
# commands' processes not included), and with a journal journal_bytes (the
# data dir's size when the job is done).
set -euo pipefail
N=${1:-200000}
W=${2:-2}
PEER=${PEER:-sluice}
JOBS=${JOBS:-2}
. "$(dirname "$0")/lib.sh"
if [ -n "${EXEC:-}" ]; then
    # shellcheck disable=SC2206
    worker_args=(--exec "$EXEC" ${WORKER_FLAGS:-})
    WORKLOAD=${WORKLOAD:-exec_sh_echo}
else
    # shellcheck disable=SC2206
    worker_args=(${WORKER_ARGS:---builtin echo})
    WORKLOAD=${WORKLOAD:-noop}
fi
tasks=${TASKS_FILE:-$WORK/tasks.txt}
[ -n "${TASKS_FILE:-}" ] || make_tasks "$N" "$tasks"

data_args=(--data-dir "$WORK/data")
case " ${BROKER_ARGS:-} " in *" --in-memory "* | *" --journal "*) data_args=() ;; esac
# shellcheck disable=SC2086
"$BIN/sluice-broker" --bind "$BROKER" "${data_args[@]}" ${BROKER_ARGS:-} -q \
    2>"$WORK/broker.log" & bpid=$!
pids+=($bpid)
wpids=()
for ((i = 0; i < W; i++)); do
    "$BIN/sluice-worker" --broker "$BROKER" "${worker_args[@]}" -j "$JOBS" -q \
        2>>"$WORK/workers.log" & pids+=($!)
    wpids+=($!)
done
workers_cpu () {
    local p t=0
    for p in "${wpids[@]}"; do t=$(python3 -c "print($t + $(proc_cpu "$p"))"); done
    echo "$t"
}
# Workers attached before the clock starts (the peers' rule).
await_workers "$BROKER" "$W"
# The sink waits for the job before the clock starts, as the peers' sinks do.
"$BIN/sluice-sink" --broker "$BROKER" --job bench -o "$WORK/out.txt" 2>"$WORK/sink.log" &
sink=$!
sleep 0.5
cpu0=$(proc_cpu "$bpid")
wcpu0=$(workers_cpu)
start=$(date +%s%N)
"$BIN/sluice-ventilator" --broker "$BROKER" --job bench "$tasks" >/dev/null
wait "$sink"
end=$(date +%s%N)
cpu=$(python3 -c "print('%.3f' % ($(proc_cpu "$bpid") - $cpu0))")
wcpu=$(python3 -c "print('%.3f' % ($(workers_cpu) - $wcpu0))")
journal=
[ ${#data_args[@]} -gt 0 ] && journal="journal_bytes=$(du -s -B1 "$WORK/data" | cut -f1)"
got=$(wc -l < "$WORK/out.txt")
N=$(wc -l < "$tasks")
[ "$got" = "$N" ] || { echo "peer=$PEER workload=$WORKLOAD status=failed got=$got of $N" ; exit 1; }
python3 -c "
s = ($end - $start) / 1e9
print(('peer=$PEER workload=$WORKLOAD tasks=$N workers=$W seconds=%.3f tasks_per_s=%d '
       'slots=$((W * JOBS)) broker_cpu_s=%s broker_cpu_us_per_task=%.2f '
       'worker_cpu_us_per_task=%.2f $journal'
       % (s, $N / s, '$cpu', $cpu * 1e6 / $N, $wcpu * 1e6 / $N)).rstrip())"
