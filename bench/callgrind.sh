#!/usr/bin/env bash
# Instructions per task: a figure that does not depend on how fast the
# machine is today.
#
# A fixed workload, N (default 100,000) echo tasks of 98 bytes, 2 workers
# --builtin echo -j 2, ventilator and sink as in pipeline.sh, with only the
# broker under valgrind --tool=callgrind --separate-threads=no (one profile
# for all of its threads: the main loop and libzmq's I/O thread). Ir (the
# instructions it executed, from its start to its exit, start-up and
# shutdown included) divided by N, for the broker with its default settings
# (durable journal, --fsync batch) and --in-memory, REPS times each
# (default 3, interleaved; the table gives the median).
#
# Why repeat a deterministic count: the broker batches what is waiting
# (intake batches, credits, result batches), and under valgrind it runs
# some 50x slower than its clients, so how many tasks go per message varies
# from run to run and the Ir per task with it (from 11,000 to 20,000 in
# memory). Each line therefore also gives, from the profile, the broker's
# sends (sl_proto_send calls, failed ones included) and receives
# (sl_proto_recv_user calls) per task, and the tasks taken back after a
# dispatch send failed (sl_table_undispatch calls) per task. Until the
# fair dispatcher's send HWM was lifted (credit is the flow control), a
# send to a worker whose pipe was full failed, its tasks went back and
# were packed again next turn, 1.7-2.8 times per task: that, not the
# machine, moved the count. It should now read 0.
#
# For scale, the raw pipeline (bench/zpipe.c, 2 workers, N messages of 100
# bytes) under callgrind too, once: the Ir of all its processes (sink,
# ventilator, workers, every thread) divided by N; the same with its
# forwarder (4 hops), whose own process is the broker's bookkeeping-free
# counterpart; and ../shared/bench's zpipe.c, which gave the issue's figure
# of about 11,500. And the fixed cost: a
# durable broker started, idle for a second and stopped with no client
# (BASELINE=0 skips it).
#
# Appends one line to results/callgrind-history.tsv (date, commit, median
# Ir/task durable, in-memory, raw total, N) so that regressions show, and
# keeps callgrind_annotate's function list of each mode's median run in
# results/callgrind-broker-MODE-STAMP.txt (the profiles themselves in
# SLUICE_BIN/bench/callgrind.out.broker-MODE-STAMP, for kcachegrind or
# callgrind_annotate --tree=caller).
#
#   bench/callgrind.sh [N] [REPS]     defaults 100000, 3
#   MODES='durable in-memory'  RAW=1 (0 skips the raw pipeline)  BASELINE=1
set -euo pipefail
N=${1:-${N:-100000}}
REPS=${2:-${REPS:-3}}
MODES=${MODES:-durable in-memory}
RAW=${RAW:-1}
. "$(dirname "$0")/lib.sh"
ZB=$BIN/bench
RESULTS=${RESULTS:-$HERE/results}
mkdir -p "$RESULTS"
STAMP=${STAMP:-$(date -u +%Y%m%d-%H%M%S)}
command -v valgrind >/dev/null || { echo "callgrind.sh: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
make_tasks "$N" "$WORK/tasks.txt"
LINES=$WORK/lines
: > "$LINES"

ir_of () { awk '/^(summary|totals):/ { print $2; exit }' "$1"; }

# Calls of each named function in a callgrind profile (all callers).
calls_of () {
    python3 - "$@" <<'PY'
import collections, re, sys
path, names = sys.argv[1], sys.argv[2:]
ids, calls, cfn = {}, collections.Counter(), None
for line in open(path, errors="replace"):
    m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
    if m:
        kind, idx, name = m.groups()
        if name:
            ids[idx] = name
        if kind == "cfn":
            cfn = ids.get(idx)
        continue
    m = re.match(r"^calls=(\d+)", line)
    if m and cfn:
        calls[cfn] += int(m.group(1))
        cfn = None
print(" ".join(str(calls[n]) for n in names))
PY
}

if [ "${BASELINE:-1}" = 1 ]; then
    out=$WORK/callgrind.broker.idle
    valgrind --tool=callgrind --separate-threads=no --callgrind-out-file="$out" \
        "$BIN/sluice-broker" --bind "tcp://127.0.0.1:$(free_port)" --data-dir "$WORK/data0" \
        2>"$WORK/broker0.log" &
    bpid=$!
    pids+=($bpid)
    await_broker "$WORK/broker0.log" "$bpid"
    sleep 1
    stop_pid "$bpid"
    pids=()
    echo "bench=callgrind peer=broker_start_stop_only tasks=0 ir_total=$(ir_of "$out")" |
        tee -a "$LINES"
fi

declare -A runs # mode -> "ir:file ir:file ..."
for ((r = 1; r <= REPS; r++)); do
    for mode in $MODES; do
        broker=tcp://127.0.0.1:$(free_port)
        rm -rf "$WORK/data" "$WORK/out.txt"
        args=(--data-dir "$WORK/data")
        [ "$mode" = in-memory ] && args=(--in-memory)
        out=$WORK/callgrind.broker.$mode.$r
        valgrind --tool=callgrind --separate-threads=no --callgrind-out-file="$out" \
            "$BIN/sluice-broker" --bind "$broker" "${args[@]}" 2>"$WORK/broker.log" &
        bpid=$!
        pids+=($bpid)
        await_broker "$WORK/broker.log" "$bpid"
        wpids=()
        for ((i = 0; i < 2; i++)); do
            "$BIN/sluice-worker" --broker "$broker" --builtin echo -j 2 -q 2>>"$WORK/workers.log" &
            wpids+=($!)
            pids+=($!)
        done
        await_workers "$broker" 2 120
        "$BIN/sluice-sink" --broker "$broker" --job cg -o "$WORK/out.txt" 2>"$WORK/sink.log" &
        sink=$!
        start=$(date +%s%N)
        "$BIN/sluice-ventilator" --broker "$broker" --job cg "$WORK/tasks.txt" >/dev/null
        wait "$sink"
        end=$(date +%s%N)
        for p in "${wpids[@]}"; do stop_pid "$p"; done
        stop_pid "$bpid" # callgrind writes its profile as the broker exits
        pids=()
        got=$(wc -l < "$WORK/out.txt")
        ir=$(ir_of "$out")
        if [ "$got" != "$N" ] || [ -z "$ir" ]; then
            echo "bench=callgrind peer=broker_${mode//-/_} status=failed got=$got rep=$r" |
                tee -a "$LINES"
            continue
        fi
        read -r sends recvs undispatched < <(calls_of "$out" sl_proto_send sl_proto_recv_user \
            sl_table_undispatch)
        runs[$mode]="${runs[$mode]:-} $ir:$out"
        python3 -c "
print('bench=callgrind peer=broker_${mode//-/_} tasks=$N ir_total=$ir ir_per_task=%d '
      'sends_per_task=%.3f recvs_per_task=%.3f undispatched_per_task=%.2f seconds=%.1f rep=$r'
      % ($ir // $N, $sends / $N, $recvs / $N, $undispatched / $N, ($end - $start) / 1e9))" |
            tee -a "$LINES"
    done
done

declare -A per
for mode in $MODES; do
    [ -n "${runs[$mode]:-}" ] || continue
    # The run with the median Ir: its Ir per task and its function list.
    pick=$(printf '%s\n' ${runs[$mode]} | sort -t: -k1,1n | awk '{ a[NR] = $0 } END { print a[int((NR + 1) / 2)] }')
    per[$mode]=$((${pick%%:*} / N))
    callgrind_annotate --auto=no --threshold=99 "${pick#*:}" \
        > "$RESULTS/callgrind-broker-${mode}-$STAMP.txt" 2>/dev/null || true
    cp "${pick#*:}" "$ZB/callgrind.out.broker-$mode-$STAMP"
done

if [ "$RAW" = 1 ]; then
    mkdir -p "$WORK/raw"
    valgrind --tool=callgrind --separate-threads=no \
        --callgrind-out-file="$WORK/raw/callgrind.%p" \
        "$ZB/zpipe" --tasks "$N" --workers 2 --timeout 1200 >"$WORK/raw.out" 2>"$WORK/raw.log" || true
    total=0
    files=0
    for f in "$WORK"/raw/callgrind.*; do
        ir=$(ir_of "$f")
        total=$((total + ${ir:-0}))
        files=$((files + 1))
    done
    if grep -q "tasks=$N" "$WORK/raw.out" && [ "$total" -gt 0 ]; then
        per[raw]=$((total / N))
        echo "bench=callgrind peer=zmq_raw_pipeline_all_processes tasks=$N ir_total=$total" \
            "ir_per_task=$((total / N)) processes=$files" | tee -a "$LINES"
    else
        echo "bench=callgrind peer=zmq_raw_pipeline_all_processes status=failed" | tee -a "$LINES"
    fi
fi

# The forwarder (bench/zpipe.c --forwarder): what moving each task over 4
# hops costs a process that does nothing else, to set beside the broker's
# Ir per task; and the total of all its processes.
if [ "$RAW" = 1 ]; then
    mkdir -p "$WORK/fwd"
    valgrind --tool=callgrind --separate-threads=no \
        --callgrind-out-file="$WORK/fwd/callgrind.%p" \
        "$ZB/zpipe" --tasks "$N" --workers 2 --forwarder --timeout 1200 \
        >"$WORK/fwd.out" 2>"$WORK/fwd.log" || true
    fpid=$(sed -n 's/.*forwarder pid \([0-9]*\).*/\1/p' "$WORK/fwd.log" | head -1)
    total=0
    for f in "$WORK"/fwd/callgrind.*; do
        ir=$(ir_of "$f")
        total=$((total + ${ir:-0}))
    done
    fir=$(ir_of "$WORK/fwd/callgrind.$fpid" 2>/dev/null || true)
    if grep -q "tasks=$N" "$WORK/fwd.out" && [ -n "$fir" ]; then
        echo "bench=callgrind peer=zmq_forwarder_process tasks=$N ir_total=$fir" \
            "ir_per_task=$((fir / N))" | tee -a "$LINES"
        echo "bench=callgrind peer=zmq_forwarder_4hops_all_processes tasks=$N ir_total=$total" \
            "ir_per_task=$((total / N))" | tee -a "$LINES"
    else
        echo "bench=callgrind peer=zmq_forwarder_process status=failed" | tee -a "$LINES"
    fi
fi

# The issue's figure (about 11,500) came from ../shared/bench/zmq/zpipe.c:
# the same count for it, when it is there (its workers parse and format
# each message; bench/zpipe.c's echo it).
SHARED_ZPIPE=$HERE/../../shared/bench/zmq/zpipe.c
if [ "$RAW" = 1 ] && [ -f "$SHARED_ZPIPE" ]; then
    cc -O2 -o "$WORK/zpipe-shared" "$SHARED_ZPIPE" -lzmq
    mkdir -p "$WORK/raws"
    valgrind --tool=callgrind --separate-threads=no \
        --callgrind-out-file="$WORK/raws/callgrind.%p" \
        "$WORK/zpipe-shared" --mode raw --tasks "$N" --workers 2 --timeout 1200 \
        >"$WORK/raws.out" 2>"$WORK/raws.log" || true
    total=0
    files=0
    for f in "$WORK"/raws/callgrind.*; do
        ir=$(ir_of "$f")
        total=$((total + ${ir:-0}))
        files=$((files + 1))
    done
    if grep -q "tasks=$N" "$WORK/raws.out" && [ "$total" -gt 0 ]; then
        echo "bench=callgrind peer=zmq_raw_pipeline_shared_all_processes tasks=$N ir_total=$total" \
            "ir_per_task=$((total / N)) processes=$files" | tee -a "$LINES"
    fi
fi

history=$RESULTS/callgrind-history.tsv
[ -f "$history" ] ||
    printf 'date\tcommit\tir_per_task_durable\tir_per_task_in_memory\tir_per_task_raw_total\ttasks\n' \
        > "$history"
commit=$(machine_desc | sed -E 's/.* commit=([^ ]*).*/\1/')
printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$commit" \
    "${per[durable]:-}" "${per[in-memory]:-}" "${per[raw]:-}" "$N" >> "$history"
echo
python3 "$HERE/report.py" --only callgrind "$LINES"
for mode in $MODES; do
    f=$RESULTS/callgrind-broker-${mode}-$STAMP.txt
    [ -s "$f" ] || continue
    echo
    echo "broker ($mode, median run), top 15 functions by Ir (self), from $f:"
    grep -E '^ *[0-9,]+ \( *[0-9.]+%\) ' "$f" | grep -v 'PROGRAM TOTALS' | head -15
done
