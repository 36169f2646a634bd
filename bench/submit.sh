#!/usr/bin/env bash
# The submit path alone: one broker --in-memory and no workers; the clock
# runs from the ventilator's start to its exit, when the broker holds all
# N tasks of about 100 bytes (batching, the JobEnd and the confirmation
# queries of lib/sl_submit.c, the reading of the task file). Prints one
# line: tasks, seconds, tasks_per_s, and the ventilator's CPU seconds.
#
#   bench/submit.sh [N]                       default N=200000
#   SLUICE_BIN=/other/build bench/submit.sh   compare another build
#   TASKS_FILE=F bench/submit.sh              reuse a task file (N ignored)
#   CALLGRIND=1 bench/submit.sh 200000        the ventilator under valgrind
#       --tool=callgrind: adds ventilator_ir_per_task, the instructions it
#       executed (start-up included) per task, a figure that does not
#       depend on how busy the machine is
set -euo pipefail
N=${1:-200000}
. "$(dirname "$0")/lib.sh"
tasks=${TASKS_FILE:-$WORK/tasks.txt}
[ -n "${TASKS_FILE:-}" ] || make_tasks "$N" "$tasks"
N=$(wc -l < "$tasks")
"$BIN/sluice-broker" --bind "$BROKER" --in-memory 2>"$WORK/broker.log" & pids+=($!)
await_broker "$WORK/broker.log" "${pids[0]}"
start=$(date +%s%N)
grind=()
[ -z "${CALLGRIND:-}" ] || grind=(valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out")
/usr/bin/time -f '%U %S' -o "$WORK/time.txt" "${grind[@]}" \
    "$BIN/sluice-ventilator" --broker "$BROKER" --job bench "$tasks" >/dev/null 2>"$WORK/vent.log" \
    || { echo "workload=submit status=failed"; cat "$WORK/vent.log" >&2; exit 1; }
end=$(date +%s%N)
read -r user sys < "$WORK/time.txt"
ir=
[ -z "${CALLGRIND:-}" ] ||
    ir=" ventilator_ir_per_task=$(awk -v n="$N" '/^summary:/ { printf "%.0f", $2 / n }' "$WORK/cg.out")"
python3 -c "
s = ($end - $start) / 1e9
print('workload=submit tasks=$N seconds=%.3f tasks_per_s=%d ventilator_cpu_s=%.2f$ir'
      % (s, $N / s, $user + $sys))"
