#!/usr/bin/env bash
# Takeover with many pending tasks: a job of N tasks (default 1 million,
# 100-byte payloads) is submitted to the active broker of a standby pair
# on a 3-node NATS cluster (loopback) with no worker; the standby follows
# it into its table. Then kill -9 of the active broker, and the time until
#   - the standby took over (its log line),
#   - sluice-ctl status is answered by it as the active broker,
#   - a worker started at the kill (given both brokers) runs its first task
#     (after the takeover's grace for workers' claims).
# Also prints how far the standby was behind at the kill (its stream
# sequence against the active one's) and the broker's resident memory.
#
#   bench/standby_takeover.sh [N]     HB=1000 (ms) by default
set -euo pipefail
N=${1:-1000000}
HB=${HB:-1000}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
bench_nats_cluster
make_tasks "$N" "$WORK/tasks.txt"
PA=$(free_port)
PB=$(free_port)
A=tcp://127.0.0.1:$PA
B=tcp://127.0.0.1:$PB
ha () {
    start_bg "$1" "$BIN/sluice-broker" --bind "$2" --journal "$NATS_URLS" --journal-stream big \
        --standby --heartbeat "$HB" --max-memory 4G
}
wait_grep () {
    local j
    for ((j = 0; j < 6000; j++)); do grep -q "$2" "$WORK/$1.log" 2>/dev/null && return 0; sleep 0.05; done
    fail "no '$2' in $1.log"
}
ha a "$A"
A_PID=$LAST_PID
wait_grep a "took over"
ha b "$B"
B_PID=$LAST_PID
wait_grep b "standby: following"
t0=$(date +%s%N)
"$BIN/sluice-ventilator" --broker "$A,$B" --job big -q "$WORK/tasks.txt" >/dev/null
echo "submitted $N tasks in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
sleep 2
sa=$("$BIN/sluice-ctl" --broker "$A" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["ha"]["journal_seq"])')
sb=$("$BIN/sluice-ctl" --broker "$B" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["ha"]["journal_seq"])')
rss=$(awk '/VmRSS/{print $2}' "/proc/$B_PID/status")
kill -9 "$A_PID"
k=$(date +%s%N)
start_bg worker "$BIN/sluice-worker" --broker "$B,$A" -j 1 --heartbeat "$HB" -q \
    --exec "date +%s%N >> $WORK/starts"
wait_grep b "took over"
took=$(( ($(date +%s%N) - k) / 1000000 ))
for ((j = 0; j < 6000; j++)); do
    if "$BIN/sluice-ctl" --broker "$B" status --json 2>/dev/null |
        python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)["ha"]["role"] != "active")'; then
        break
    fi
done
ctl=$(( ($(date +%s%N) - k) / 1000000 ))
for ((j = 0; j < 6000; j++)); do [ -s "$WORK/starts" ] && break; sleep 0.01; done
first=$(( ($(head -1 "$WORK/starts") - k) / 1000000 ))
echo "standby_takeover heartbeat_ms=$HB pending=$N standby_seq=$sb active_seq=$sa standby_rss_kb=$rss took_over_ms<=$took status_as_active_ms=$ctl first_task_ms=$first"
