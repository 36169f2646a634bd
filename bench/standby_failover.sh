#!/usr/bin/env bash
# Standby brokers (--standby on a NATS JetStream stream): how long from the
# kill -9 of the active broker to the first task dispatched by the broker
# that takes over. A 3-node NATS cluster on loopback, two brokers, one
# --exec worker of 4 slots (given both brokers) running 50 ms tasks that
# log their start time. Each round kills the active broker mid-job and
# takes the first task start after the takeover; the killed broker comes back
# as a standby. Also prints how long the new broker waited for the stream
# to stay silent ("ms after the last sign", from its log). The time to the
# first dispatch includes the takeover's grace for workers' claims (2
# heartbeats and one more, at most 1 s more: see docs/durability.md).
# The brokers' and the worker's logs are stamped per line (us, this host's
# clock), which gives a breakdown of each round, medians from the kill:
# takeover_ms (the new broker's "took over" line), worker_lost_ms (the
# worker declares the old broker silent), worker_moved_ms (it leaves it
# for the other address), dealing_ms (the new broker's "claimed its runs:
# dealing") and first_dispatch_ms.
#
#   bench/standby_failover.sh [KILLS]       HB=1000 (ms) by default
#   HB=200 bench/standby_failover.sh 5
set -euo pipefail
KILLS=${1:-5}
HB=${HB:-1000}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
bench_nats_cluster

P=(0 "$(free_port)" "$(free_port)")
ADDRS="tcp://127.0.0.1:${P[1]},tcp://127.0.0.1:${P[2]}"
BP=(0 0 0)
RUN=(0 0 0)
# As start_bg, each line of stderr prefixed with the time (us since the epoch).
start_stamped () {
    local name=$1
    shift
    "$@" 2> >(while IFS= read -r line; do printf '%s %s\n' "${EPOCHREALTIME/./}" "$line"; done \
        >>"$WORK/$name.log") &
    LAST_PID=$!
    pids+=("$LAST_PID")
}
start_ha () {
    RUN[$1]=$((RUN[$1] + 1))
    start_stamped "broker$1-${RUN[$1]}" "$BIN/sluice-broker" --bind "tcp://127.0.0.1:${P[$1]}" \
        --journal "$NATS_URLS" --journal-stream bench --standby --heartbeat "$HB"
    BP[$1]=$LAST_PID
}
took_over () { grep -q "took over" "$WORK/broker$1-${RUN[$1]}.log" 2>/dev/null; }
wait_took_over () {
    local j
    for ((j = 0; j < 600; j++)); do took_over "$1" && return 0; sleep 0.05; done
    fail "broker $1 did not take over"
}
start_ha 1
wait_took_over 1
start_ha 2
sleep 1
CMD="echo \$(date +%s%N) >> $WORK/starts; sleep 0.05"
start_stamped worker "$BIN/sluice-worker" --broker "$ADDRS" -j 4 --heartbeat "$HB" --exec "$CMD"
seq 1 $((KILLS * 2000 + 2000)) >"$WORK/tasks.txt"
start_bg ventilator "$BIN/sluice-ventilator" --broker "$ADDRS" --job bench -q "$WORK/tasks.txt"
start_bg sink "$BIN/sluice-sink" --broker "$ADDRS" --job bench -o "$WORK/out.txt" -q
: >"$WORK/kills"
active=1
k=0
while [ "$k" -lt "$KILLS" ]; do
    k=$((k + 1))
    sleep $((4 * HB / 1000 + 2)) # past the last takeover's grace
    other=$((3 - active))
    took_over "$active" || fail "broker $active is not the active one"
    kill -9 "${BP[$active]}"
    echo "$(date +%s%N) $WORK/broker$other-${RUN[$other]}.log" >>"$WORK/kills"
    wait "${BP[$active]}" 2>/dev/null || true
    wait_took_over "$other"
    grep -o "[0-9]* ms after the last sign" "$WORK/broker$other-${RUN[$other]}.log" |
        head -1 | cut -d' ' -f1 >>"$WORK/silence"
    start_ha "$active"
    active=$other
done
sleep $((4 * HB / 1000 + 2)) # the last round's first dispatch
python3 - "$WORK/kills" "$WORK/starts" "$WORK/silence" "$HB" "$WORK/worker.log" <<'PY'
import statistics, sys
rounds = [l.split() for l in open(sys.argv[1])]
starts = sorted(int(l) for l in open(sys.argv[2]))
silence = [int(l) for l in open(sys.argv[3])]

def stamped(path):
    """(ns, text) of each line of a log stamped by start_stamped."""
    out = []
    for line in open(path, errors="replace"):
        stamp, _, text = line.partition(" ")
        if stamp.isdigit():
            out.append((int(stamp) * 1000, text))
    return out

def first(lines, after, *needles):
    """ms from `after` to the first line after it holding a needle, or None."""
    for t, text in lines:
        if t > after and any(n in text for n in needles):
            return (t - after) / 1e6
    return None

worker = stamped(sys.argv[5])
cols = {k: [] for k in ("takeover", "worker_lost", "worker_moved", "dealing", "first_dispatch")}
for kill, log in rounds:
    t = int(kill)
    broker = stamped(log)
    cols["takeover"].append(first(broker, t, "took over"))
    cols["worker_lost"].append(first(worker, t, "has not answered", "does not answer"))
    cols["worker_moved"].append(first(worker, t, "; trying tcp://"))
    cols["dealing"].append(first(broker, t, "claimed its runs: dealing"))
    # No broker deals before it took over: a start sooner is a task the
    # killed broker dealt just before it died.
    took = cols["takeover"][-1]
    after = [s for s in starts if took is not None and s > t + took * 1e6]
    cols["first_dispatch"].append((after[0] - t) / 1e6 if after else None)

def med(k):
    v = [x for x in cols[k] if x is not None]
    return statistics.median(v) if v else float("nan")

lat = [x for x in cols["first_dispatch"] if x is not None]
print("standby_failover heartbeat_ms=%s kills=%d first_dispatch_median_ms=%.0f min_ms=%.0f "
      "max_ms=%.0f silence_waited_median_ms=%.0f"
      % (sys.argv[4], len(lat), statistics.median(lat), min(lat), max(lat),
         statistics.median(silence)))
print("standby_failover breakdown (median ms from the kill): takeover_ms=%.0f worker_lost_ms=%.0f "
      "worker_moved_ms=%.0f dealing_ms=%.0f first_dispatch_ms=%.0f"
      % tuple(med(k) for k in cols))
for i, (kill, log) in enumerate(rounds):
    print("  round %d: %s" % (i + 1, " ".join(
        "%s=%s" % (k, "-" if cols[k][i] is None else "%.0f" % cols[k][i]) for k in cols)))
PY
