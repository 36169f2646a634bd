#!/usr/bin/env bash
# Where the cores idle in exec mode: the pipeline of bench/exec.sh (one
# worker --exec 'echo {}' -j 2, default broker, a sink), N tasks, with
# `perf sched record -a` over WINDOW seconds of the run; then
# bench/exec_idle.py on it (idle by cause, the worker's wake-ups). Needs
# perf and root (or perf_event_paranoid <= -1).
#
#   bench/exec_idle.sh [N] [WINDOW]      defaults 6000, 1.5
set -euo pipefail
N=${1:-6000}
WINDOW=${2:-1.5}
. "$(dirname "$0")/lib.sh"
command -v perf >/dev/null || { echo "exec_idle.sh: needs perf (apt-get install linux-perf)" >&2; exit 1; }
seq 0 $((N - 1)) > "$WORK/tasks.txt"
"$BIN/sluice-broker" --bind "$BROKER" --data-dir "$WORK/data" -q 2>"$WORK/broker.log" & pids+=($!)
"$BIN/sluice-worker" --broker "$BROKER" --exec 'echo {}' -j 2 -q 2>"$WORK/worker.log" & pids+=($!)
await_workers "$BROKER" 1
"$BIN/sluice-sink" --broker "$BROKER" --job bench -o "$WORK/out.txt" 2>"$WORK/sink.log" & sink=$!
sleep 0.5
"$BIN/sluice-ventilator" --broker "$BROKER" --job bench "$WORK/tasks.txt" >/dev/null &
vent=$!
sleep 0.3 # past the start
perf sched record -a -o "$WORK/sched.data" -- sleep "$WINDOW" >/dev/null 2>&1
wait "$vent" "$sink"
got=$(wc -l < "$WORK/out.txt")
[ "$got" = "$N" ] || { echo "exec_idle.sh: the sink wrote $got results of $N" >&2; exit 1; }
perf script -i "$WORK/sched.data" -F comm,pid,cpu,time,event,trace > "$WORK/sched.txt" 2>/dev/null
python3 "$HERE/exec_idle.py" "$WORK/sched.txt"
