#!/usr/bin/env bash
# Every benchmark of issue 9, one command: builds what it needs, runs them
# one after the other, prints one table and keeps it with the raw lines in
# bench/results/ (table-STAMP.md, raw-STAMP.txt, log-STAMP.txt), headed by
# the date, the machine (nproc, CPU model, RAM, kernel) and the git commit.
#
#   bench/run_all.sh                   everything, full sizes (about 15 min on 2 cores)
#   QUICK=1 bench/run_all.sh           small sizes, to try it out (about 3 min)
#   ONLY='e2e latency' bench/run_all.sh
#   SLUICE_BIN=/tmp/build bench/run_all.sh    another build dir (made if missing)
#   NO_BUILD=1                         use SLUICE_BIN as it is
#   PEERS=1                            also bench/peers_sluice.sh (the peers' harness with
#                                      sluice's rows, ~8 min, needs the peers' packages)
#
# Each part also runs alone (same defaults):
#   e2e.sh [N=1000000] [REPS=3]        sluice durable and --in-memory vs raw ZeroMQ
#   exec.sh [N=3000] [REPS=3]          --exec 'echo {}' -j 2 vs fork+exec and xargs -P2
#   latency.sh [PROBES=2000] [REPS=1]  submit-to-sink p50/p99, unloaded and ~50% load
#   scale.sh [N=200000] [REPS=1]       1/4/16/64 workers -j 1, and 500 idle workers
#   memory.sh [Q=10000000] [REPS=3]    RSS with Q queued tasks, journal, recovery
#   callgrind.sh [N=100000]            Ir per task in the broker; history file
# Sizes here: E2E_N E2E_REPS EXEC_N EXEC_REPS LAT_PROBES LAT_REPS SCALE_N SCALE_REPS
# MEM_Q MEM_REPS CG_N (QUICK=1 lowers the defaults).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export SLUICE_BIN=${SLUICE_BIN:-$HERE/../build}
if [ "${QUICK:-0}" = 1 ]; then
    : "${E2E_N:=200000}" "${E2E_REPS:=1}" "${EXEC_N:=1000}" "${EXEC_REPS:=1}" "${LAT_PROBES:=500}"
    : "${SCALE_N:=50000}" "${MEM_Q:=1000000}" "${MEM_REPS:=1}" "${CG_N:=10000}"
    export CAPACITY_TASKS=${CAPACITY_TASKS:-50000} IDLE_SECONDS=${IDLE_SECONDS:-3}
    export RECOVERY_N=${RECOVERY_N:-200000}
fi
ONLY=${ONLY:-e2e exec latency scale memory callgrind}
RESULTS=$HERE/results
mkdir -p "$RESULTS"
export STAMP=${STAMP:-$(date -u +%Y%m%d-%H%M%S)}
export RESULTS
RAW=$RESULTS/raw-$STAMP.txt
LOG=$RESULTS/log-$STAMP.txt
TABLE=$RESULTS/table-$STAMP.md

echo "building (SLUICE_BIN=$SLUICE_BIN)" >&2
"$HERE/build.sh" || { echo "run_all.sh: build failed" >&2; exit 1; }

# lib.sh's helpers (machine_desc, noise marks), in a subshell so that its
# work directory and trap stay there.
machine=$(bash -c ". '$HERE/lib.sh'; machine_desc")
echo "bench=machine $machine" > "$RAW"
echo "# $machine" | tee "$LOG" >&2
read -r t0 s0 < <(awk '/^cpu /{t=0; for(i=2;i<=NF;i++) t+=$i; print t, $9; exit}' /proc/stat)
load0=$(cut -d' ' -f1 /proc/loadavg)
started=$(date +%s)

part () { # name script args...
    local name=$1
    shift
    case " $ONLY " in *" $name "*) ;; *) return 0 ;; esac
    echo "=== $name: $* ($(date -u +%H:%M:%S))" | tee -a "$LOG" >&2
    local t=$(date +%s)
    "$@" 2>&1 | tee -a "$LOG" | grep --line-buffered '^bench=' | tee -a "$RAW" >&2
    local rc=${PIPESTATUS[0]}
    echo "=== $name: exit $rc after $(($(date +%s) - t)) s" | tee -a "$LOG" >&2
}

part e2e "$HERE/e2e.sh" "${E2E_N:-1000000}" "${E2E_REPS:-3}"
part exec "$HERE/exec.sh" "${EXEC_N:-3000}" "${EXEC_REPS:-3}"
part latency "$HERE/latency.sh" "${LAT_PROBES:-2000}" "${LAT_REPS:-1}"
part scale "$HERE/scale.sh" "${SCALE_N:-200000}" "${SCALE_REPS:-1}"
part memory "$HERE/memory.sh" "${MEM_Q:-10000000}" "${MEM_REPS:-3}"
part callgrind "$HERE/callgrind.sh" "${CG_N:-100000}"

read -r t1 s1 < <(awk '/^cpu /{t=0; for(i=2;i<=NF;i++) t+=$i; print t, $9; exit}' /proc/stat)
noise=$(awk -v a="$((t1 - t0))" -v b="$((s1 - s0))" 'BEGIN { printf "%.1f", (a > 0) ? 100 * b / a : 0 }')
{
    python3 "$HERE/report.py" "$RAW"
    echo
    echo "Whole run: $(($(date +%s) - started)) s; CPU steal $noise%; load1 $load0 at the start," \
        "$(cut -d' ' -f1 /proc/loadavg) at the end. Raw lines: results/raw-$STAMP.txt."
} > "$TABLE"
cat "$TABLE"
echo "table: $TABLE" >&2

if [ "${PEERS:-0}" = 1 ]; then
    "$HERE/peers_sluice.sh" "${PEERS_REPS:-3}" "${PEERS_FILTER:-.}" 2>&1 | tee -a "$LOG"
fi
