#!/usr/bin/env bash
# Aggregate delivery throughput with C collectors at once against one, in
# the same run (issue 16). One broker (durable, default settings), W echo
# workers; C jobs of N/C tasks each (about 100 bytes) are run to the end
# with no collector attached, so that every result waits in the broker;
# then the clock runs from starting the collectors to the last one's exit:
#   one   1 sink without --job collecting all C jobs
#   many  C sinks, one --job each, at once
# Both rows, REPS times interleaved (one, many, one, many, ...), each on
# fresh jobs; each sink's output is checked (N/C lines per job). Prints one
# line per row and rep, then the medians and many/one.
#
#   bench/collectors.sh [N] [C] [REPS]     defaults 200000 8 3; SLUICE_BIN as elsewhere
set -euo pipefail
N=${1:-200000}
C=${2:-8}
REPS=${3:-3}
W=${W:-2}
. "$(dirname "$0")/lib.sh"
PER=$((N / C))
make_tasks "$PER" "$WORK/tasks.txt"
"$BIN/sluice-broker" --bind "$BROKER" --data-dir "$WORK/data" -q 2>"$WORK/broker.log" &
pids+=($!)
for ((i = 0; i < W; i++)); do
    "$BIN/sluice-worker" --broker "$BROKER" --builtin echo -j 2 -q 2>>"$WORK/workers.log" &
    pids+=($!)
done
await_workers "$BROKER" "$W"

# jobs TAG: submits C jobs TAG-1..C and waits until every task has its result.
jobs () {
    local i
    for ((i = 1; i <= C; i++)); do
        "$BIN/sluice-ventilator" --broker "$BROKER" --job "$1-$i" "$WORK/tasks.txt" -q \
            >/dev/null 2>>"$WORK/ventilator.log"
    done
    python3 - "$BIN/sluice-ctl" "$BROKER" "$1" "$C" "$PER" <<'PY'
import json, subprocess, sys, time
ctl, broker, tag, c, per = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
while True:
    s = json.loads(subprocess.check_output([ctl, "--broker", broker, "status", "--json"]))
    done = sum(j["done"] for j in s["jobs"] if j["id"].startswith(tag + "-"))
    if done >= c * per:
        break
    time.sleep(0.2)
PY
}

now_ms () { date +%s%3N; }
declare -a ONE MANY
for ((r = 1; r <= REPS; r++)); do
    for row in one many; do
        tag=$row$r
        jobs "$tag"
        t0=$(now_ms)
        spids=()
        if [ $row = one ]; then
            "$BIN/sluice-sink" --broker "$BROKER" -o "$WORK/$tag.out" -q --no-progress \
                2>>"$WORK/sinks.log" &
            spids+=($!)
        else
            for ((i = 1; i <= C; i++)); do
                "$BIN/sluice-sink" --broker "$BROKER" --job "$tag-$i" -o "$WORK/$tag-$i.out" -q \
                    --no-progress 2>>"$WORK/sinks.log" &
                spids+=($!)
            done
        fi
        for p in "${spids[@]}"; do wait "$p" || { echo "collectors.sh: a sink failed" >&2; exit 1; }; done
        ms=$(($(now_ms) - t0))
        lines=$(cat "$WORK/$tag"*.out | wc -l)
        [ "$lines" = $((C * PER)) ] || { echo "collectors.sh: $tag: $lines lines, want $((C * PER))" >&2; exit 1; }
        rate=$((C * PER * 1000 / (ms > 0 ? ms : 1)))
        echo "bench=collectors row=$row collectors=$([ $row = one ] && echo 1 || echo "$C") tasks=$((C * PER)) ms=$ms tasks_per_s=$rate rep=$r"
        if [ $row = one ]; then ONE+=("$rate"); else MANY+=("$rate"); fi
        rm -f "$WORK/$tag"*.out
    done
done
median () { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
m1=$(median "${ONE[@]}")
mc=$(median "${MANY[@]}")
echo "median: 1 collector $m1 tasks/s, $C collectors $mc tasks/s (aggregate), ratio $(awk "BEGIN { printf \"%.2f\", $mc / $m1 }")"
