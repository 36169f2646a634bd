#!/usr/bin/env bash
# What the join token costs end to end: bench/pipeline.sh's job (N echo
# tasks of ~100 bytes, 2 workers -j 2, durable journal; the clock from the
# ventilator's start to the sink's exit) against a broker with the join
# token (CurveZMQ on every port: every task and result encrypted and
# authenticated, both ways) and against a plain one, interleaved REPS
# times in one run; prints each run's line, then the medians and their
# ratio. Broker and clients on 127.0.0.1 (the token is turned on with
# --token-file, as a broker bound beyond loopback turns it on by itself).
#
#   bench/token.sh [N=200000] [REPS=3]
#   BROKER_ARGS=--in-memory bench/token.sh      without the journal
set -euo pipefail
N=${1:-200000}
REPS=${2:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

# The join keys, made once by a broker (as on its first start), and the token.
"$BIN/sluice-broker" --bind "$BROKER" --in-memory --token-file "$WORK/keys" 2>"$WORK/keys.log" &
bpid=$!
pids+=($bpid)
await_broker "$WORK/keys.log" "$bpid"
stop_pid "$bpid"
TOKEN=$("$BIN/sluice-ctl" token --token-file "$WORK/keys")
make_tasks "$N" "$WORK/tasks.txt"
echo "# $(machine_desc) N=$N REPS=$REPS BROKER_ARGS=${BROKER_ARGS:-}"

for ((rep = 1; rep <= REPS; rep++)); do
    for mode in plain token; do
        if [ "$mode" = token ]; then
            SLUICE_TOKEN=$TOKEN PEER=sluice-token TASKS_FILE="$WORK/tasks.txt" \
                BROKER_ARGS="${BROKER_ARGS:-} --token-file $WORK/keys" \
                "$HERE/pipeline.sh" "$N" 2 | tee -a "$WORK/lines.txt"
        else
            env -u SLUICE_TOKEN PEER=sluice-plain TASKS_FILE="$WORK/tasks.txt" \
                BROKER_ARGS="${BROKER_ARGS:-}" "$HERE/pipeline.sh" "$N" 2 | tee -a "$WORK/lines.txt"
        fi
    done
done
python3 - "$WORK/lines.txt" <<'PY'
import statistics, sys
rates, cpu = {}, {}
for line in open(sys.argv[1]):
    f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
    rates.setdefault(f["peer"], []).append(float(f["tasks_per_s"]))
    cpu.setdefault(f["peer"], []).append(float(f["broker_cpu_us_per_task"]))
p, t = statistics.median(rates["sluice-plain"]), statistics.median(rates["sluice-token"])
cp, ct = statistics.median(cpu["sluice-plain"]), statistics.median(cpu["sluice-token"])
print("median tasks/s: plain %d, token %d: token/plain %.2f" % (p, t, t / p))
print("median broker CPU us/task: plain %.2f, token %.2f: token/plain %.2f" % (cp, ct, ct / cp))
PY
