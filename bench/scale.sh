#!/usr/bin/env bash
# Scale of connections: does the broker's cost per task grow with the
# number of workers connected to it?
#
# For each W in WORKERS (default "1 4 16 64"): a broker with its default
# settings (durable journal), W worker processes --builtin echo -j 1, N
# tasks of 98 bytes (ventilator start to sink exit, as pipeline.sh). Then
# the same with IDLE (default 500) idle workers connected besides ACTIVE
# (default 4) active ones: bench/idlers.c, one process holding IDLE
# connections that each say hello as a worker and heartbeat. Two kinds
# (IDLE_KINDS, default "credit nocredit"): "credit" idle workers serve
# another queue (bench-idle, empty) and have a free slot (Credit 1), as
# workers of another queue waiting for work do; "nocredit" ones ask for
# nothing (as busy workers; the only kind if the broker has no named
# queues). Before the job, the broker's CPU with the idle workers and
# nothing to do is measured over IDLE_SECONDS (default 10).
#
# Per run: tasks/s and the broker's CPU (utime + stime of every thread, from
# /proc/PID/stat, before the ventilator starts and after the sink exits)
# divided by N. The rows are interleaved over REPS rounds.
#
#   bench/scale.sh [N] [REPS]     defaults 200000, 1
#   WORKERS='1 4 16 64' IDLE=500 ACTIVE=4 IDLE_SECONDS=10 IDLE_KINDS='credit nocredit'
#   BROKER_ARGS=
set -euo pipefail
N=${1:-${N:-200000}}
REPS=${2:-${REPS:-1}}
WORKERS=${WORKERS:-1 4 16 64}
IDLE=${IDLE:-500}
ACTIVE=${ACTIVE:-4}
IDLE_SECONDS=${IDLE_SECONDS:-10}
IDLE_KINDS=${IDLE_KINDS:-credit nocredit}
. "$(dirname "$0")/lib.sh"
ZB=$BIN/bench
[ -x "$ZB/idlers" ] || { echo "scale.sh: no $ZB/idlers: run bench/build.sh" >&2; exit 1; }
# 3 sockets per idle worker here, 3 connections each at the broker.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
make_tasks "$N" "$WORK/tasks.txt"
LINES=$WORK/lines
: > "$LINES"

# One run: W active workers, I idle ones.
one () {
    local w=$1 idle=$2 kind=${3:-none} broker bpid ipid= wpids=() cpu0 cpu1 start end got
    broker=tcp://127.0.0.1:$(free_port)
    rm -rf "$WORK/data" "$WORK/out.txt"
    local data=(--data-dir "$WORK/data")
    case " ${BROKER_ARGS:-} " in *" --in-memory "*) data=() ;; esac
    # shellcheck disable=SC2086
    "$BIN/sluice-broker" --bind "$broker" "${data[@]}" ${BROKER_ARGS:-} -q 2>"$WORK/broker.log" &
    bpid=$!
    pids+=($bpid)
    if [ "$idle" -gt 0 ]; then
        local flag=
        [ "$kind" = nocredit ] && flag=--no-credit
        # shellcheck disable=SC2086
        "$ZB/idlers" --broker "$broker" --count "$idle" $flag > "$WORK/idlers.out" \
            2>"$WORK/idlers.err" &
        ipid=$!
        pids+=($ipid)
        for ((i = 0; i < 600; i++)); do
            grep -q connected "$WORK/idlers.out" && break
            kill -0 "$ipid" 2>/dev/null || { cat "$WORK/idlers.err" >&2; return 1; }
            sleep 0.1
        done
        grep -q credit=1 "$WORK/idlers.out" || kind=nocredit
        # The broker with idle workers and nothing to do.
        sleep 2
        cpu0=$(proc_cpu "$bpid")
        sleep "$IDLE_SECONDS"
        cpu1=$(proc_cpu "$bpid")
        python3 -c "
d = $cpu1 - $cpu0
print('bench=scale case=idle idle=$idle kind=$kind seconds=$IDLE_SECONDS cpu_s=%.2f cpu_pct=%.1f rep=$r' % (d, 100 * d / $IDLE_SECONDS))" |
            tee -a "$LINES"
    fi
    for ((i = 0; i < w; i++)); do
        "$BIN/sluice-worker" --broker "$broker" --builtin echo -j 1 -q 2>>"$WORK/workers.log" &
        wpids+=($!)
        pids+=($!)
    done
    await_workers "$broker" $((w + idle)) 120
    "$BIN/sluice-sink" --broker "$broker" --job scale -o "$WORK/out.txt" 2>"$WORK/sink.log" &
    local sink=$!
    sleep 0.5
    noise_start
    cpu0=$(proc_cpu "$bpid")
    start=$(date +%s%N)
    "$BIN/sluice-ventilator" --broker "$broker" --job scale "$WORK/tasks.txt" >/dev/null
    wait "$sink"
    end=$(date +%s%N)
    cpu1=$(proc_cpu "$bpid")
    local marks
    marks=$(noise_end)
    got=$(wc -l < "$WORK/out.txt")
    if [ "$got" != "$N" ]; then
        echo "bench=scale workers=$w idle=$idle kind=$kind status=failed got=$got rep=$r" |
            tee -a "$LINES"
    else
        python3 -c "
s = ($end - $start) / 1e9
c = $cpu1 - $cpu0
print('bench=scale workers=$w idle=$idle kind=$kind tasks=$N seconds=%.3f tasks_per_s=%.0f broker_cpu_s=%.2f '
      'broker_cpu_us_per_task=%.2f rep=$r $marks' % (s, $N / s, c, c * 1e6 / $N))" | tee -a "$LINES"
    fi
    for p in "${wpids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${wpids[@]}"; do wait "$p" 2>/dev/null || true; done
    [ -n "$ipid" ] && stop_pid "$ipid"
    stop_pid "$bpid"
    pids=()
}

for ((r = 1; r <= REPS; r++)); do
    for w in $WORKERS; do one "$w" 0; done
    if [ "$IDLE" -gt 0 ]; then
        for kind in $IDLE_KINDS; do one "$ACTIVE" "$IDLE" "$kind"; done
    fi
done
echo
python3 "$HERE/report.py" --only scale "$LINES"
