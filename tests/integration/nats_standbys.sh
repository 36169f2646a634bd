# The active broker lists its standbys: three brokers (--standby) on one
# stream of a 3-node NATS cluster; A takes it over, B and C follow it and
# announce themselves every heartbeat (core NATS, sluice-brokers.STREAM).
#   1. sluice-ctl status --json on A lists B and C with their applied
#      sequence; after a job of 300 tasks their lag comes back to (nearly)
#      0; the text status has the STANDBY table; /metrics has
#      sluice_standbys 2 and a lag per standby.
#   2. A standby asked shows its own role and the active broker, and no
#      standby list.
#   3. kill -9 of A: B or C takes over and lists the other one at once
#      (a standby keeps what it hears); then kill -9 of that other one: it
#      leaves the list after 3 of its heartbeats (and a little polling).
#   4. A broker without NATS: no standby list, no HA metrics (unchanged).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nats_lib.sh"
nats_require
start_nats_cluster
HB=200

HTTP_PORT=$(free_port)
PORT_A=$(free_port)
PORT_B=$(free_port)
PORT_C=$(free_port)
A="tcp://127.0.0.1:$PORT_A"
B="tcp://127.0.0.1:$PORT_B"
BROKERS="$A,$B"
start_standby broker-a "$PORT_A" hops --http "$HTTP_PORT"
A_PID=$LAST_BROKER
wait_takeover broker-a hops
start_standby broker-b "$PORT_B" hops
B_PID=$LAST_BROKER
wait_log "$WORK/broker-b.log" "standby: following the journal nats stream hops" 1 20
C="tcp://127.0.0.1:$PORT_C"
start_standby broker-c "$PORT_C" hops
C_PID=$LAST_BROKER
wait_log "$WORK/broker-c.log" "standby: following the journal nats stream hops" 1 20

# standbys_json OUT : the active broker's status as JSON into OUT.
ACTIVE=$A
standbys_json () {
    "$SLUICE_BIN/sluice-ctl" --broker "$ACTIVE" status --json >"$1" || fail "status of $ACTIVE"
}

# wait_standbys WANT SECONDS : until the active broker lists exactly the standbys WANT
# (space-separated addresses) with a lag of at most 2 records each.
wait_standbys () {
    local want=$1 limit=$2 i
    for ((i = 0; i < limit * 5; i++)); do
        standbys_json "$WORK/a.json"
        "$PYTHON" - "$WORK/a.json" "$want" <<'PY' && return 0
import json, sys
doc = json.load(open(sys.argv[1]))
got = {s["address"]: s for s in doc["standbys"]}
want = set(sys.argv[2].split())
sys.exit(0 if set(got) == want and all(s["lag_records"] <= 2 for s in got.values()) else 1)
PY
        sleep 0.2
    done
    cat "$WORK/a.json" >&2
    fail "$ACTIVE does not list the standbys '$want' (lag <= 2) after ${limit}s"
}

# --- 1. Both standbys listed, lag back to 0 after a job ----------------------------
wait_standbys "$B $C" 10
for i in $(seq 1 300); do echo "standbys task $i"; done >"$WORK/tasks.txt"
start_bg worker "$SLUICE_BIN/sluice-worker" --broker "$BROKERS" --builtin echo -j 8 --heartbeat $HB
start_bg sink "$SLUICE_BIN/sluice-sink" --broker "$BROKERS" --job hops1 -o "$WORK/out.jsonl" -f jsonl
SINK=$LAST_PID
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKERS" --job hops1 "$WORK/tasks.txt" >/dev/null \
    2>>"$WORK/ventilator.log" || fail "ventilator"
wait_pid "$SINK" 60
expect_rc 0 "$WAIT_RC" "sink"
$CHECK "$WORK/tasks.txt" "$WORK/out.jsonl" --expect echo --job hops1 || fail "results of hops1"
wait_standbys "$B $C" 10
"$PYTHON" - "$WORK/a.json" "$B" "$C" <<'PY' || fail "the standbys in A's status --json"
import json, sys
doc = json.load(open(sys.argv[1]))
ha, standbys = doc["ha"], doc["standbys"]
assert ha["role"] == "active", ha
# The job's records are in the stream: each standby applied them.
assert ha["journal_seq"] > 300 // 64, ha
for s in standbys:
    assert s["address"] in sys.argv[2:], s
    assert 0 < s["applied_seq"] <= ha["journal_seq"] + 2, (s, ha)
    assert s["applied_seq"] + s["lag_records"] >= ha["journal_seq"] - 2, (s, ha)
    assert 0 <= s["last_seen_s"] < 1.0, s
PY
"$SLUICE_BIN/sluice-ctl" --broker "$A" status >"$WORK/a.txt" || fail "status of A (text)"
expect_grep "^STANDBY  *APPLIED SEQ  *LAG  *LAST SEEN" "$WORK/a.txt" "the STANDBY table"
expect_grep "^$B  *[0-9][0-9]*  *[0-2]  *[0-9.]*s$" "$WORK/a.txt" "B in the STANDBY table"
expect_grep "^$C  *[0-9][0-9]*  *[0-2]  *[0-9.]*s$" "$WORK/a.txt" "C in the STANDBY table"
"$PYTHON" - "$HTTP_PORT" "$B" "$C" <<'PY' >"$WORK/metrics.txt" || fail "A's /metrics"
import sys, urllib.request
print(urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode())
PY
expect_grep "^sluice_standbys 2$" "$WORK/metrics.txt" "sluice_standbys"
expect_grep "^sluice_standby_lag_records{standby=\"$B\"} [0-9]*$" "$WORK/metrics.txt" "B's lag metric"
expect_grep "^sluice_standby_lag_records{standby=\"$C\"} [0-9]*$" "$WORK/metrics.txt" "C's lag metric"
expect_grep "^sluice_standby_last_seen_seconds{standby=\"$C\"} " "$WORK/metrics.txt" \
    "C's last-seen metric"
echo "A lists B and C, lag back to <= 2 after 300 tasks"

# --- 2. A standby asked -------------------------------------------------------------
"$SLUICE_BIN/sluice-ctl" --broker "$B" status --json >"$WORK/b.json" || fail "status of B"
"$PYTHON" - "$WORK/b.json" "$A" <<'PY' || fail "B's own status"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["ha"]["role"] == "standby" and doc["ha"]["active_broker"] == sys.argv[2], doc["ha"]
assert doc["standbys"] == [], doc["standbys"]
PY
"$SLUICE_BIN/sluice-ctl" --broker "$B" status >"$WORK/b.txt" || fail "status of B (text)"
expect_grep "^standby broker (--standby) at stream sequence [0-9]*; active: $A$" "$WORK/b.txt" \
    "B's role in its text status"
if grep -q "^STANDBY " "$WORK/b.txt"; then fail "a standby's status has a STANDBY table"; fi

# --- 3. kill -9 of A, then of the standby left --------------------------------------
kill -9 "$A_PID"
wait "$A_PID" 2>/dev/null
for ((i = 0; i < 200; i++)); do
    grep -q "took over the journal" "$WORK/broker-b.log" "$WORK/broker-c.log" && break
    sleep 0.05
done
if grep -q "took over the journal" "$WORK/broker-b.log"; then
    ACTIVE=$B NEW_LOG=broker-b.log OTHER=$C OTHER_PID=$C_PID
elif grep -q "took over the journal" "$WORK/broker-c.log"; then
    ACTIVE=$C NEW_LOG=broker-c.log OTHER=$B OTHER_PID=$B_PID
else
    fail "neither B nor C took over after kill -9 of A"
fi
# The new active broker heard the other standby while it was one itself.
standbys_json "$WORK/new.json"
"$PYTHON" - "$WORK/new.json" "$OTHER" <<'PY' || fail "the new active broker's list right after its takeover"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["ha"]["role"] == "active", doc["ha"]
assert [s["address"] for s in doc["standbys"]] == [sys.argv[2]], doc["standbys"]
PY
kill -9 "$OTHER_PID"
wait "$OTHER_PID" 2>/dev/null
KILLED=$(date +%s%N)
wait_standbys "" 5
GONE=$((($(date +%s%N) - KILLED) / 1000000))
[ "$GONE" -ge "$HB" ] || fail "$OTHER left the list $GONE ms after its kill (before its expiry)"
expect_grep "1 standby(s) silent for 3 of their heartbeats: no longer listed" \
    "$WORK/$NEW_LOG" "the log of the standby leaving"
echo "$ACTIVE took over and listed $OTHER, which left the list $GONE ms after kill -9"

# --- 4. A broker alone: its status has no standby list ------------------------------
PORT=$(free_port)
BROKER="tcp://127.0.0.1:$PORT"
start_bg broker "$SLUICE_BIN/sluice-broker" --bind "$BROKER" --in-memory --http "$(free_port)"
wait_port "$PORT" 10 || fail "the broker alone did not start listening"
"$SLUICE_BIN/sluice-ctl" --broker "$BROKER" status --json >"$WORK/alone.json" || fail "status alone"
"$PYTHON" - "$WORK/alone.json" <<'PY' || fail "a broker alone lists no standbys"
import json, sys
doc = json.load(open(sys.argv[1]))
assert "standbys" not in doc and "ha" not in doc, doc.keys()
PY
"$SLUICE_BIN/sluice-ctl" --broker "$BROKER" status >"$WORK/alone.txt" || fail "status alone (text)"
if grep -q "STANDBY\|standby" "$WORK/alone.txt"; then fail "a broker alone shows standbys"; fi
echo "nats_standbys: ok"
