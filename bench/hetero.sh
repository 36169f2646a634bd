#!/usr/bin/env bash
# Makespan of uneven tasks: the peers' hetero workload (400 sleeps, 40 of
# 200 ms and 360 of 5 ms, shuffled; ideal 2.450 s with 4 workers) on W=4
# workers of one slot, with the broker in --dispatch fair (default) or push.
# Prints one line in the format of ../shared/bench/README.md.
#
#   bench/hetero.sh                 DISPATCH=push bench/hetero.sh
set -euo pipefail
DISPATCH=${DISPATCH:-fair}
W=${W:-4}
. "$(dirname "$0")/lib.sh"
DATA=${HETERO_DATA:-$HERE/../../shared/bench/data/hetero_sleep_ms.txt}
[ -f "$DATA" ] || { echo "no $DATA (set HETERO_DATA)" >&2; exit 1; }
"$BIN/sluice-broker" --bind "$BROKER" --in-memory --dispatch "$DISPATCH" -q 2>"$WORK/broker.log" &
pids+=($!)
for ((i = 0; i < W; i++)); do
    "$BIN/sluice-worker" --broker "$BROKER" --builtin sleep -j 1 ${WORKER_ARGS:-} -q 2>>"$WORK/workers.log" &
    pids+=($!)
done
# The sink waits for the job before the clock starts, as the peers' sinks do.
"$BIN/sluice-sink" --broker "$BROKER" --job hetero -o "$WORK/out.jsonl" -f jsonl 2>"$WORK/sink.log" &
sink=$!
sleep 1
start=$(date +%s%N)
"$BIN/sluice-ventilator" --broker "$BROKER" --job hetero "$DATA" >/dev/null
wait "$sink"
# The clock stops at the last result written (the file's last change), not
# at the sink's exit, like the peers' "N-th result received".
end=$(stat -c '%.9Y' "$WORK/out.jsonl" | tr -d .)
python3 - "$WORK/out.jsonl" "$DATA" "$start" "$end" "$W" "$DISPATCH" <<'PY'
import collections, json, sys
out, data, start, end, w, mode = sys.argv[1:]
durs = [int(l) for l in open(data) if l.strip()]
recs = [json.loads(l) for l in open(out)]
assert len(recs) == len(durs), (len(recs), len(durs))
s = (int(end) - int(start)) / 1e9
ideal = max(sum(durs) / 1000 / int(w), max(durs) / 1000)
per = collections.Counter(r["worker"] for r in recs)
busy = collections.Counter()
for r in recs:
    busy[r["worker"]] += durs[r["seq"] - 1] / 1000
print("peer=sluice_%s workload=hetero tasks=%d workers=%s seconds=%.3f tasks_per_s=%d "
      "makespan_s=%.3f ideal_s=%.3f ratio=%.2f per_worker_busy_s=%s per_worker_tasks=%s"
      % (mode, len(recs), w, s, len(recs) / s, s, ideal, s / ideal,
         ",".join("%.3f" % v for v in busy.values()), ",".join(str(v) for v in per.values())))
PY
