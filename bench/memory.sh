#!/usr/bin/env bash
# Memory and size: what queued tasks cost the broker, what the journal costs
# on disk, and how long recovery takes.
#
# Queued tasks: a broker with no workers is sent Q (default 10,000,000)
# tasks of 98 bytes by the ventilator, one job, and nothing consumes them.
# Cases (CASES, default "default_limit large_limit large_limit_in_memory"):
#   default_limit           default settings: durable, --max-memory 1G. The
#                           broker stops taking tasks at its limit
#                           (backpressure: the ventilator's sends block);
#                           measured once intake has been paused and no task
#                           was taken for STALL seconds (default 5)
#   large_limit             durable, --max-memory LARGE (default 20G): room for
#                           all Q; measured once the ventilator is done
#   large_limit_in_memory   the same with --in-memory
# Per case: tasks the broker holds (sluice-ctl status), whether intake was
# paused, the broker's RSS, (RSS - RSS before the job) / tasks held = bytes
# per queued task, less the payload = overhead per task (issue 9's target:
# <= 64 bytes), and the broker's own count of bytes held (what --max-memory
# is compared with) per task.
#
# Journal and recovery: durability.sh's recovery part (MODES=, REPS
# restarts of a broker on a journal of RECOVERY_N (default 1,000,000)
# pending tasks); its lines come out as bench=recovery. The journal's
# bytes per finished task are in e2e.sh's sluice rows (journal_bytes).
#
#   bench/memory.sh [Q] [REPS]     defaults 10000000, 3 (recovery restarts)
#   CASES=... LARGE=20G STALL=5 RECOVERY_N=1000000
# Needs ~1 GB of /tmp for the task file (+1.1 GB journal per durable case
# while it runs) and, for large_limit, RAM for Q tasks (about 3 GB for 10M).
set -euo pipefail
Q=${1:-${Q:-10000000}}
REPS=${2:-${REPS:-3}}
CASES=${CASES:-default_limit large_limit large_limit_in_memory}
LARGE=${LARGE:-20G}
STALL=${STALL:-5}
RECOVERY_N=${RECOVERY_N:-1000000}
. "$(dirname "$0")/lib.sh"
LINES=$WORK/lines
: > "$LINES"
make_tasks "$Q" "$WORK/tasks.txt"
PAYLOAD=98

status () { # broker -> "held_bytes paused received queued"
    "$BIN/sluice-ctl" --broker "$1" status --json 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin)
jobs = [j for j in s["jobs"] if j["id"] == "mem"]
j = jobs[0] if jobs else {}
print(s["memory"]["held"], int(s["memory"]["intake_paused"]), j.get("received", 0), j.get("queued", 0))' ||
        echo "0 0 0 0"
}

one () {
    local case=$1 broker bpid vpid args=() maxmem=1G
    broker=tcp://127.0.0.1:$(free_port)
    rm -rf "$WORK/data"
    case $case in
        default_limit) args=(--data-dir "$WORK/data") ;;
        large_limit) args=(--data-dir "$WORK/data" --max-memory "$LARGE"); maxmem=$LARGE ;;
        large_limit_in_memory) args=(--in-memory --max-memory "$LARGE"); maxmem=$LARGE ;;
        *) echo "unknown case $case" >&2; return 1 ;;
    esac
    "$BIN/sluice-broker" --bind "$broker" "${args[@]}" -q 2>"$WORK/broker.log" &
    bpid=$!
    pids+=($bpid)
    sleep 1
    local base
    base=$(proc_rss_kb "$bpid")
    local t0
    t0=$(date +%s)
    "$BIN/sluice-ventilator" --broker "$broker" --job mem "$WORK/tasks.txt" >/dev/null \
        2>"$WORK/vent.log" &
    vpid=$!
    pids+=($vpid)
    local held paused received queued last=-1 since done=0 throttled=no
    since=$(date +%s)
    while true; do
        sleep 1
        read -r held paused received queued < <(status "$broker")
        [ "$paused" = 1 ] && throttled=yes
        if ! kill -0 "$vpid" 2>/dev/null; then
            wait "$vpid" && done=1
            read -r held paused received queued < <(status "$broker")
            break
        fi
        if [ "$received" != "$last" ]; then
            last=$received
            since=$(date +%s)
        elif [ "$paused" = 1 ] && [ $(($(date +%s) - since)) -ge "$STALL" ]; then
            break # at its limit, and it stays there
        fi
        [ $(($(date +%s) - t0)) -ge 900 ] && { echo "memory $case: gave up after 900 s" >&2; break; }
    done
    local rss hwm journal=0
    rss=$(proc_rss_kb "$bpid")
    hwm=$(proc_hwm_kb "$bpid")
    [ -d "$WORK/data" ] && journal=$(du -s -B1 "$WORK/data" | cut -f1)
    python3 -c "
held, rss, base, q = $held, $rss, $base, $queued
per = (rss - base) * 1024 / q if q else 0
print('bench=memory case=$case max_memory=$maxmem tasks_sent=$Q tasks_held=%d all_taken=%s '
      'throttled=$throttled rss_kb=%d rss_base_kb=%d peak_rss_kb=$hwm bytes_per_task=%.0f '
      'overhead_per_task=%.0f held_bytes=%d held_bytes_per_task=%.0f journal_bytes=$journal '
      'seconds=%d' % (q, 'yes' if $done else 'no', rss, base, per, per - $PAYLOAD, held,
                      held / q if q else 0, $(date +%s) - $t0))" | tee -a "$LINES"
    kill -TERM "$vpid" 2>/dev/null || true
    wait "$vpid" 2>/dev/null || true
    stop_pid "$bpid"
    pids=()
}

for c in $CASES; do one "$c"; done
rm -f "$WORK/tasks.txt"

# Journal size and recovery, by durability.sh (recovery part only).
if [ "$RECOVERY_N" -gt 0 ]; then
    MODES= "$HERE/durability.sh" "$REPS" "$RECOVERY_N" 1 | tee "$WORK/durability.out" |
        grep -E '^recovery (pending|run)=' | sed 's/^recovery /bench=recovery /' | tee -a "$LINES"
fi
echo
python3 "$HERE/report.py" --only memory "$LINES"
