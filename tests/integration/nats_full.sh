# The journal's NATS servers run out of disk (each one's store on a small
# tmpfs):
# 1. One server of three full: the stream goes on with the other two (a
#    majority), and a 20 MB job reaches the sink exactly once.
# 2. All three full: nothing can be replicated, so the broker confirms
#    nothing (the ventilator does not finish), says what is wrong in its
#    log, and does not crash; given room again (the
#    servers restarted on larger file systems) it goes on by itself, and
#    every task reaches the sink exactly once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nats_lib.sh"
nats_require
HB=200
NATS_MAX_FILE_STORE=1G # the disks run out, not JetStream's limit

# N tasks of 1,000 bytes.
make_tasks () {
    "$PYTHON" - "$1" "$2" "$3" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(1, int(sys.argv[3]) + 1):
        f.write(("%s-%06d-" % (sys.argv[2], i)).ljust(1000, "x") + "\n")
PY
}

# submit_again PART JOB : runs the ventilator of JOB again, as a user would
# once the servers have room (it sends what the broker lacks), until it
# exits 0 (60 tries, a second apart).
submit_again () {
    local t
    for ((t = 0; t < 60; t++)); do
        "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job "$2" "$WORK/$2.txt" >/dev/null \
            2>>"$WORK/ventilator-$2.log" && break
        sleep 1
    done
    [ "$t" -lt 60 ] || fail "the ventilator of job $2 never completed it once the servers had room"
    echo "part $1: with room again, the same command completed the job ($((t + 1)) tries)"
}

# --- 1. One server full ----------------------------------------------------------------
mount_tmpfs "$WORK/nats1" size=4m
start_nats_cluster
make_tasks "$WORK/one.txt" one 20000
start_broker_nats full --heartbeat $HB
start_bg worker "$SLUICE_BIN/sluice-worker" --broker "$BROKER" --builtin echo -j 8 --heartbeat $HB
WORKER_PID=$LAST_PID
start_bg sink1 "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job one -o "$WORK/one.jsonl" -f jsonl
SINK=$LAST_PID
# If the full server leads the stream, NATS (2.9) keeps it leader, and
# publishes time out: the broker then refuses tasks, and a ventilator told
# so fails naming the journal (as with a full disk of the file journal),
# or finds the broker silent. Given room again (and restarted), the same
# command completes the job.
if ! "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job one "$WORK/one.txt" >/dev/null \
    2>>"$WORK/ventilator-one.log"; then
    grep -q -E "journal stream full|stopped answering" "$WORK/ventilator-one.log" ||
        fail "the failed ventilator's message: $(tail -1 "$WORK/ventilator-one.log")"
    echo "part 1: the ventilator failed: $(tail -1 "$WORK/ventilator-one.log")"
    df -k --output=avail "$WORK/nats1" | tail -1 >"$WORK/left1"
    # Room, and a restart: nats-server 2.9.10 does not write again by itself
    # after its disk was full.
    kill_nats_node 1
    mount -o remount,size=300m "$WORK/nats1" || fail "cannot grow server 1's tmpfs"
    start_nats_node 1
    wait_nats_ready 30
    submit_again 1 one
else
    df -k --output=avail "$WORK/nats1" | tail -1 >"$WORK/left1"
fi
wait_pid "$SINK" 60
expect_rc 0 "$WAIT_RC" "the sink of job one"
$CHECK "$WORK/one.txt" "$WORK/one.jsonl" --expect echo --job one || fail "job one's results"
used=$(cat "$WORK/left1")
echo "part 1: job one whole with server 1's disk full (${used} KiB left on it)"
[ "$used" -lt 1536 ] || fail "server 1's disk did not fill up (${used} KiB left): the test tested nothing"
kill -0 "$BROKER_PID" || fail "the broker died with one NATS server's disk full"

# --- 2. All three full ---------------------------------------------------------------
kill -9 "$BROKER_PID" "$WORKER_PID" 2>/dev/null
for i in 1 2 3; do
    kill_nats_node "$i"
    mount_tmpfs "$WORK/nats$i" size=4m
done
start_nats_cluster
make_tasks "$WORK/two.txt" two 20000
start_broker_nats full2 --heartbeat $HB
start_bg sink2 "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job two -o "$WORK/two.jsonl" -f jsonl
SINK=$LAST_PID
start_bg ventilator-two "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job two "$WORK/two.txt"
VENT=$LAST_PID
# The servers fill up: 20 MB of tasks do not fit in 3 x 3 MB.
for ((t = 0; t < 200; t++)); do
    left=$(df -k --output=avail "$WORK/nats1" "$WORK/nats2" "$WORK/nats3" | tail -n +2 | sort -n | tail -1)
    [ "$left" -lt 1100 ] && break
    sleep 0.1
done
sleep 3
# Told nothing that is not replicated: it waits, or fails naming the
# journal, but never exits 0.
if ! kill -0 "$VENT" 2>/dev/null; then
    wait "$VENT"
    rc=$?
    forget "$VENT"
    [ "$rc" != 0 ] || fail "the ventilator exited 0 while no NATS server had room for its tasks:" \
        "it was told its tasks were taken before they were replicated"
    VENT=""
    grep -q -E "journal stream full2|stopped answering" "$WORK/ventilator-two.log" ||
        fail "the failed ventilator's message: $(tail -1 "$WORK/ventilator-two.log")"
    echo "part 2: the ventilator failed (status $rc): $(tail -1 "$WORK/ventilator-two.log")"
fi
kill -0 "$BROKER_PID" 2>/dev/null || fail "the broker died with every NATS server's disk full"
# (Past its window a broker that cannot hold its journal serves nothing,
# status included: clients wait, or follow a standby that can take over.)
wait_log "$WORK/broker.log" "E: .*journal stream full2" 1 20
grep -E "E: .*journal stream full2" "$WORK/broker.log" | head -1 >"$WORK/why.txt"
echo "part 2: the broker says: $(head -1 "$WORK/why.txt")"
# Room again: each server restarted on a larger file system.
for i in 1 2 3; do
    kill_nats_node "$i"
    mount -o remount,size=300m "$WORK/nats$i" || fail "cannot grow the tmpfs of server $i"
    start_nats_node "$i"
done
wait_nats_ready 30
start_bg worker2 "$SLUICE_BIN/sluice-worker" --broker "$BROKER" --builtin echo -j 8 --heartbeat $HB
if [ -n "$VENT" ]; then
    wait_pid "$VENT" 120
    [ "$WAIT_RC" = 0 ] || echo "part 2: the ventilator failed: $(tail -1 "$WORK/ventilator-two.log")"
fi
if [ -z "$VENT" ] || [ "$WAIT_RC" != 0 ]; then
    submit_again 2 two
fi
wait_pid "$SINK" 60
expect_rc 0 "$WAIT_RC" "the sink of job two"
$CHECK "$WORK/two.txt" "$WORK/two.jsonl" --expect echo --job two || fail "job two's results"
echo "nats_full: ok"
