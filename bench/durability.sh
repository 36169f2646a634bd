#!/usr/bin/env bash
# What the broker's journal costs, on this machine.
#
# (a) Throughput: the end-to-end workload of pipeline.sh (T tasks of about
#     100 bytes, W echo workers with -j 2, the clock from the ventilator's
#     start to the sink's exit) with the broker --in-memory and journaling
#     with --fsync off, batch (the default) and always; the modes are
#     interleaved over REPS rounds, each run on a fresh broker and data dir.
#     Prints one line per run, then the median per mode and its ratio to
#     --in-memory.
# (b) Recovery: a broker with a data dir is given one job of N pending tasks
#     of about 100 bytes (the ventilator, no workers), then stopped with
#     SIGTERM; a new broker is started on the same dir REPS times. Per
#     restart: the replay time the broker logs ("records replayed in N ms"),
#     the wall time from its start to its "listening" line (it serves from
#     then on), the wall time until a client started with it (a ventilator
#     submitting one task) has been served, and its peak RSS. Also the data
#     dir's size on disk per pending task.
#
#   bench/durability.sh [REPS] [N] [T]    defaults 3, 1000000, 200000 (or env REPS, N, T)
#   W=2 MODES='in-memory off batch always' SLUICE_BIN=/other/build bench/durability.sh
#   MODES= bench/durability.sh 3 1000000 1    recovery only
#   LIMIT=600 (seconds): the most any one client run may take
set -euo pipefail
REPS=${1:-${REPS:-3}}
N=${2:-${N:-1000000}}
T=${3:-${T:-200000}}
W=${W:-2}
MODES=${MODES-in-memory off batch always} # MODES= skips (a)
LIMIT=${LIMIT:-600} # seconds any one client may take
. "$(dirname "$0")/lib.sh"

ms_since () { echo $((($(date +%s%N) - $1) / 1000000)); }

# Writes n tasks of 99 bytes + newline to file, as pipeline.sh does.
make_tasks () {
    python3 -c "
pad = 'x' * 88
with open('$2', 'w') as f:
    for i in range(1, $1 + 1):
        f.write('%010d%s\n' % (i, pad))"
}

# Broker options for a mode, with its data dir in $WORK/data.
broker_args () {
    case $1 in
        in-memory) echo --in-memory ;;
        *) echo --data-dir "$WORK/data" --fsync "$1" ;;
    esac
}

# Stops one process we started (SIGTERM) and waits for it.
stop () {
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# --- (a) throughput -----------------------------------------------------------

make_tasks "$T" "$WORK/tasks.txt"
: > "$WORK/runs"
for ((r = 1; r <= REPS; r++)); do
    for mode in $MODES; do
        rm -rf "$WORK/data" "$WORK/out.txt"
        broker=tcp://127.0.0.1:$(free_port)
        # shellcheck disable=SC2046
        "$BIN/sluice-broker" --bind "$broker" $(broker_args "$mode") -q 2>"$WORK/broker.log" &
        bpid=$!
        pids+=($bpid)
        wpids=()
        for ((i = 0; i < W; i++)); do
            "$BIN/sluice-worker" --broker "$broker" --builtin echo -j 2 -q \
                2>>"$WORK/workers.log" &
            wpids+=($!)
            pids+=($!)
        done
        sleep 1 # workers attached before the clock starts, as in pipeline.sh
        for p in "$bpid" "${wpids[@]}"; do
            kill -0 "$p" 2>/dev/null || { echo "mode=$mode: a program exited:"; cat "$WORK"/*.log; exit 1; }
        done
        start=$(date +%s%N)
        timeout "$LIMIT" "$BIN/sluice-ventilator" --broker "$broker" "$WORK/tasks.txt" >/dev/null
        timeout "$LIMIT" "$BIN/sluice-sink" --broker "$broker" -o "$WORK/out.txt" 2>"$WORK/sink.log" ||
            true # the line count below says whether it worked
        end=$(date +%s%N)
        for p in "${wpids[@]}"; do stop "$p"; done
        stop "$bpid"
        pids=() # all stopped and reaped: nothing for cleanup to kill
        got=$(wc -l < "$WORK/out.txt")
        [ "$got" = "$T" ] || { echo "durability mode=$mode run=$r status=failed got=$got of $T"; exit 1; }
        python3 -c "
s = ($end - $start) / 1e9
print('durability mode=$mode run=$r tasks=$T workers=$W seconds=%.3f tasks_per_s=%d' % (s, $T / s))" |
            tee -a "$WORK/runs"
    done
done

# --- (b) recovery ---------------------------------------------------------------

make_tasks "$N" "$WORK/pending.txt"
echo probe > "$WORK/probe.txt"
rm -rf "$WORK/data"
broker=tcp://127.0.0.1:$(free_port)
"$BIN/sluice-broker" --bind "$broker" --data-dir "$WORK/data" -q 2>"$WORK/broker.log" &
bpid=$!
pids+=($bpid)
start=$(date +%s%N)
timeout "$LIMIT" "$BIN/sluice-ventilator" --broker "$broker" --job pending "$WORK/pending.txt" \
    >/dev/null
submit_ms=$(ms_since "$start")
start=$(date +%s%N)
stop "$bpid"
stop_ms=$(ms_since "$start")
pids=()
disk=$(du -s -B1 "$WORK/data" | cut -f1)
apparent=$(du -s -b "$WORK/data" | cut -f1)
echo "recovery pending=$N submit_ms=$submit_ms stop_ms=$stop_ms disk_bytes=$disk" \
    "apparent_bytes=$apparent disk_bytes_per_task=$(python3 -c "print('%.1f' % ($disk / $N))")" |
    tee "$WORK/recovery"

: > "$WORK/restarts"
for ((r = 1; r <= REPS; r++)); do
    broker=tcp://127.0.0.1:$(free_port)
    log=$WORK/restart.$r.log
    start=$(date +%s%N)
    "$BIN/sluice-broker" --bind "$broker" --data-dir "$WORK/data" 2>"$log" &
    bpid=$!
    pids+=($bpid)
    # A client started with the broker: served once the broker has replayed.
    timeout "$LIMIT" "$BIN/sluice-ventilator" --broker "$broker" --job "probe-$r" \
        "$WORK/probe.txt" >/dev/null 2>"$WORK/probe.log" &
    probe=$!
    pids+=($probe)
    until grep -q 'listening on' "$log"; do
        kill -0 "$bpid" 2>/dev/null || { echo "broker exited:"; cat "$log"; exit 1; }
        sleep 0.01
    done
    ready_ms=$(ms_since "$start")
    wait "$probe"
    served_ms=$(ms_since "$start")
    rss_kb=$(awk '/^VmHWM/ { print $2 }' "/proc/$bpid/status")
    stop "$bpid"
    pids=()
    line=$(grep -o '[0-9]* records replayed in [0-9]* ms: .*' "$log")
    replay_ms=$(echo "$line" | sed -E 's/.* replayed in ([0-9]+) ms.*/\1/')
    records=$(echo "$line" | sed -E 's/^([0-9]+) records.*/\1/')
    queued=$(echo "$line" | sed -E 's/.* ([0-9]+) tasks queued.*/\1/')
    echo "recovery run=$r records=$records tasks_queued=$queued replay_ms=$replay_ms" \
        "ready_ms=$ready_ms served_ms=$served_ms peak_rss_mb=$((rss_kb / 1024))" |
        tee -a "$WORK/restarts"
done

# --- summary -------------------------------------------------------------------

python3 - "$WORK/runs" "$WORK/recovery" "$WORK/restarts" "$MODES" <<'PY'
import statistics, sys

def fields(line):
    return dict(kv.split('=', 1) for kv in line.split() if '=' in kv)

runs = [fields(l) for l in open(sys.argv[1])]
rec = fields(open(sys.argv[2]).read())
restarts = [fields(l) for l in open(sys.argv[3])]
modes = sys.argv[4].split()
median = {m: statistics.median(int(r['tasks_per_s']) for r in runs if r['mode'] == m)
          for m in modes}
base = median.get('in-memory')
ratio = {m: '%.2f' % (median[m] / base) if base else '-' for m in modes}
for m in modes:
    print('durability mode=%s median_tasks_per_s=%d ratio_vs_in_memory=%s'
          % (m, median[m], ratio[m]))
print()
print('%-10s %16s %13s' % ('mode', 'median tasks/s', 'vs in-memory'))
for m in modes:
    print('%-10s %16s %13s' % (m, '{:,}'.format(int(median[m])), ratio[m]))
med = lambda key: statistics.median(int(r[key]) for r in restarts)
print()
print('%-34s %s' % ('recovery, pending tasks', '{:,}'.format(int(rec['pending']))))
print('%-34s %s' % ('submit (ventilator, durable) ms', rec['submit_ms']))
print('%-34s %.1f MB (%s bytes/task)'
      % ('data dir on disk', int(rec['disk_bytes']) / 1e6, rec['disk_bytes_per_task']))
print('%-34s %s' % ('records replayed', restarts[0]['records']))
print('%-34s %d (of %d runs)' % ('replay ms (logged), median', med('replay_ms'), len(restarts)))
print('%-34s %d' % ('start to listening ms, median', med('ready_ms')))
print('%-34s %d' % ('start to client served ms, median', med('served_ms')))
print('%-34s %d' % ('peak RSS MB, median', med('peak_rss_mb')))
PY
