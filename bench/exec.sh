#!/usr/bin/env bash
# Exec mode: N tasks that each run `sh -c 'echo ...'`, 2 at a time, three
# ways, interleaved REPS times:
#   c_fork_exec   bench/spawn.c: fork + exec /bin/sh -c 'echo I', stdout to
#                 /dev/null, a new child as soon as one exits (the ceiling)
#   xargs         seq 0 N-1 | xargs -P 2 -I{} sh -c 'echo {}' >/dev/null
#   sluice        pipeline.sh with one worker --exec 'echo {}' -j 2 (the
#                 worker runs /bin/sh -c "echo 'I'" per task, payload I =
#                 0..N-1), default broker (durable journal); clock from the
#                 ventilator's start to the sink's exit
#   sluice_rt     the same with sluice-worker --realtime (its loop at
#                 SCHED_FIFO, the tasks not); left out where real-time
#                 priority is not allowed (chrt -f 1 fails)
#   sluice_baseline  (with BASELINE=DIR) the same with the programs of
#                 another build, e.g. before a change: compare within a run
# Then the medians and sluice / ceiling (target >= 0.9), and the ratios
# rep by rep (each run against the ceiling's run next to it: on a shared
# machine they vary less than the ratio of medians).
#
#   bench/exec.sh [N] [REPS]      defaults 3000, 3
#   BASELINE=/root/build-old bench/exec.sh
set -euo pipefail
N=${1:-${N:-3000}}
REPS=${2:-${REPS:-3}}
. "$(dirname "$0")/lib.sh"
ZB=$BIN/bench
[ -x "$ZB/spawn" ] || { echo "exec.sh: no $ZB/spawn: run bench/build.sh" >&2; exit 1; }
seq 0 $((N - 1)) > "$WORK/tasks.txt"
LINES=$WORK/lines
: > "$LINES"

xargs_run () {
    local t0 t1
    t0=$(date +%s%N)
    xargs -P 2 -I{} sh -c 'echo {}' < "$WORK/tasks.txt" > /dev/null
    t1=$(date +%s%N)
    python3 -c "
s = ($t1 - $t0) / 1e9
print('peer=xargs workload=exec_sh_echo tasks=$N workers=2 seconds=%.3f tasks_per_s=%.0f' % (s, $N / s))"
}

run () { # name command...
    local name=$1 out
    shift
    noise_start
    if out=$("$@" 2>"$WORK/err"); then
        out=$(printf '%s\n' "$out" | grep '^peer=' | tail -1)
    else
        out="peer=$name workload=exec_sh_echo status=failed err=$(tail -c 200 "$WORK/err" | tr -s ' \n' '  ')"
    fi
    echo "bench=exec $out rep=$r $(noise_end)" | tee -a "$LINES"
}

RT=0
chrt -f 1 true 2>/dev/null && RT=1
for ((r = 1; r <= REPS; r++)); do
    run c_fork_exec "$ZB/spawn" --tasks "$N" --jobs 2
    run sluice env TASKS_FILE="$WORK/tasks.txt" EXEC='echo {}' JOBS=2 "$HERE/pipeline.sh" "$N" 1
    if [ "$RT" = 1 ]; then
        run sluice_rt env TASKS_FILE="$WORK/tasks.txt" EXEC='echo {}' JOBS=2 PEER=sluice_rt \
            WORKER_FLAGS=--realtime "$HERE/pipeline.sh" "$N" 1
    fi
    if [ -n "${BASELINE:-}" ]; then
        run sluice_baseline env SLUICE_BIN="$BASELINE" PEER=sluice_baseline \
            TASKS_FILE="$WORK/tasks.txt" EXEC='echo {}' JOBS=2 "$HERE/pipeline.sh" "$N" 1
    fi
    run xargs xargs_run
done
echo
python3 "$HERE/report.py" --only exec "$LINES"
python3 - "$LINES" <<'PY'
import re, statistics, sys
reps = {}
for line in open(sys.argv[1]):
    peer = re.search(r"peer=(\S+)", line).group(1)
    rate = re.search(r"tasks_per_s=(\d+)", line)
    if rate:
        reps.setdefault(int(re.search(r"rep=(\d+)", line).group(1)), {})[peer] = int(rate.group(1))
ceiling = "c_fork_exec"
for peer in ("sluice", "sluice_rt", "sluice_baseline", "xargs"):
    ratios = [r[peer] / r[ceiling] for _, r in sorted(reps.items()) if peer in r and ceiling in r]
    if ratios:
        print("- %s / %s rep by rep: %s (median %.2f)" % (
            peer, ceiling, " ".join("%.2f" % x for x in ratios), statistics.median(ratios)))
PY
