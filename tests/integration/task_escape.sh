# Nothing a task started outlives the task (issue 14): processes that leave
# the task's process group, by setsid or a daemon's double fork, are killed
# when their task ends: when it exits, when its time limit kills it, and
# when its worker drains (SIGTERM). An orphan of a task still running
# survives the end of other tasks. Run twice: with a cgroup per task (where
# the worker can make them: root with cgroup2; else that round is skipped
# with a notice) and without (SLUICE_TASK_CGROUP=off: the worker as a child
# subreaper), where a process that clears its environment (env -i) is only
# killed when the worker exits, as documented. With cgroups, what the tasks
# of a worker killed with SIGKILL left is killed when the next worker starts.
. "$(dirname "$0")/lib.sh"

# Every escaping process sleeps 1000.<token><n>: found by its command line,
# and killed by pid at the end whatever happened.
TOKEN=$$$RANDOM
export ESC_TOKEN=$TOKEN
on_exit () {
    local rc=$? pid
    for pid in $(pgrep -f "sleep 1000\.$TOKEN"); do
        kill -KILL "$pid" 2>/dev/null
    done
    (exit $rc)
    cleanup
}
trap on_exit EXIT

# Each task waits until its escapee runs (sleep exec'd: setsid done), so that
# the end of the task cannot catch it still in the task's process group.
cat >"$WORK/task.sh" <<'SH'
#!/bin/sh
T=$ESC_TOKEN
running () {
    for i in $(seq 200); do
        pgrep -f "^sleep 1000\.${T}$1\$" >/dev/null && return 0
        sleep 0.01
    done
    echo "escapee $1 did not start" >&2
    exit 3
}
case "$1" in
    setsid) setsid sleep 1000.${T}1 & running 1; echo started ;;
    daemon) ( setsid sh -c "sleep 1000.${T}2 >/dev/null 2>&1 & exit 0" & ) ; running 2; echo started ;;
    envclear) env -i setsid sleep 1000.${T}3 >/dev/null 2>&1 & running 3; echo started ;;
    timeout) setsid sleep 1000.${T}4 >/dev/null 2>&1 & running 4; sleep 1000 ;;
    sibling) ( setsid sleep 1000.${T}6 >/dev/null 2>&1 & ) ; running 6; sleep 2
             if pgrep -f "sleep 1000\.${T}6" >/dev/null; then echo still-alive; else echo killed; fi ;;
    drain) setsid sleep 1000.${T}5 >/dev/null 2>&1 &
           ( setsid sh -c "sleep 1000.${T}7 >/dev/null 2>&1 & exit 0" & ) ; running 5; running 7
           sleep 2; echo done ;;
esac
SH
chmod +x "$WORK/task.sh"

# alive N... : pids of the escaping sleeps numbered N... still alive.
alive () {
    local n pids=""
    for n in "$@"; do
        pids="$pids $(pgrep -f "sleep 1000\.$TOKEN$n\$" | tr '\n' ' ')"
    done
    echo $pids
}

# gone WHAT N... : waits (3 s at most) until none of them lives.
gone () {
    local what=$1 i
    shift
    for ((i = 0; i < 60; i++)); do
        [ -z "$(alive "$@")" ] && return 0
        sleep 0.05
    done
    fail "$what: still alive: $(for p in $(alive "$@"); do ps -o pid=,ppid=,sid=,args= -p "$p"; done)"
}

# round NAME : one round against a fresh broker; the worker's environment
# decides cgroups or not.
round () {
    local name=$1
    PORT=$(free_port)
    BROKER="tcp://127.0.0.1:$PORT"
    start_broker
    start_worker "w-$name" --exec "$WORK/task.sh {}" -j 4 --queue esc
    local worker=$LAST_PID
    wait_log "$WORK/broker.log" "worker .* joined" $((++JOINED)) 20
    if [ "$name" = cgroup ] && ! grep -q "tasks run in a cgroup each" "$WORK/w-$name.log"; then
        echo "cgroup round SKIPPED: the worker cannot make a cgroup per task here:" \
            "$(grep "tasks run" "$WORK/w-$name.log")"
        kill -TERM "$worker" "$BROKER_PID"
        wait_pid "$worker" 20
        wait_pid "$BROKER_PID" 20
        return 0
    fi
    printf '%s\n' '{"payload": "sibling"}' '{"payload": "setsid"}' '{"payload": "daemon"}' \
        '{"payload": "envclear"}' '{"payload": "timeout", "timeout": 1}' >"$WORK/tasks.jsonl"
    "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job "esc-$name" --queue esc \
        --format jsonl "$WORK/tasks.jsonl" >/dev/null 2>>"$WORK/ventilator.log" \
        || fail "$name: ventilator exit $?"
    start_bg "sink-$name" "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job "esc-$name" \
        -o "$WORK/$name.jsonl" --format jsonl
    wait_pid "$LAST_PID" 60
    expect_rc 1 "$WAIT_RC" "$name: sink (one task times out)"
    "$PYTHON" - "$WORK/$name.jsonl" <<'PY' || fail "$name: results"
import json, sys
recs = {json.loads(l)["seq"]: json.loads(l) for l in open(sys.argv[1])}
assert sorted(recs) == [1, 2, 3, 4, 5], sorted(recs)
assert recs[1]["output"].strip() == "still-alive", "an orphan of a running task was killed when another ended: %r" % recs[1]["output"]
for seq in (2, 3, 4):
    assert recs[seq]["status"] == "ok" and recs[seq]["output"].strip() == "started", recs[seq]
assert recs[5]["status"] == "timeout", recs[5]
PY
    gone "$name: after their tasks ended (setsid, double fork, sibling, timeout)" 1 2 4 6
    if [ "$name" = cgroup ]; then
        gone "$name: env -i setsid after its task ended" 3
    else
        # Documented: without cgroups it lives until its worker exits (below).
        [ -n "$(alive 3)" ] || fail "$name: env -i setsid was caught at its task's end (test broken?)"
    fi
    # A task running while its worker drains.
    echo '{"payload": "drain"}' >"$WORK/drain.jsonl"
    "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job "drain-$name" --queue esc \
        --format jsonl "$WORK/drain.jsonl" >/dev/null 2>>"$WORK/ventilator.log" \
        || fail "$name: ventilator exit $?"
    for ((i = 0; i < 100; i++)); do
        [ -n "$(alive 5)" ] && break
        sleep 0.05
    done
    [ -n "$(alive 5)" ] || fail "$name: the drain task did not start"
    kill -TERM "$worker"
    wait_pid "$worker" 20
    expect_rc 0 "$WAIT_RC" "$name: drained worker"
    gone "$name: after a drained worker exited" 3 5 7
    if [ "$name" = cgroup ]; then
        # A worker killed with SIGKILL kills nothing; the next worker to
        # start on the host kills what its tasks left, and removes their cgroups.
        start_worker "w-$name-killed" --exec "$WORK/task.sh {}" -j 1 --queue esc
        local killed=$LAST_PID
        echo '{"payload": "timeout"}' >"$WORK/killed.jsonl"
        "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job "killed-$name" --queue esc \
            --format jsonl "$WORK/killed.jsonl" >/dev/null 2>>"$WORK/ventilator.log" \
            || fail "$name: ventilator exit $?"
        for ((i = 0; i < 100; i++)); do
            [ -n "$(alive 4)" ] && break
            sleep 0.05
        done
        [ -n "$(alive 4)" ] || fail "$name: the task of the worker to kill did not start"
        kill -KILL "$killed"
        wait "$killed" 2>/dev/null
        sleep 0.2
        [ -n "$(alive 4)" ] || fail "$name: nothing was left to clean up after kill -9 (test broken?)"
        start_worker "w-$name-next" --exec true --queue other
        local next=$LAST_PID
        gone "$name: after the next worker started" 4
        expect_grep "removed task cgroup .*sluice-task-$killed-.* of worker $killed, which is gone" \
            "$WORK/w-$name-next.log" "$name: the next worker's message"
        kill -TERM "$next"
        wait_pid "$next" 20
    fi
    kill -TERM "$BROKER_PID"
    wait_pid "$BROKER_PID" 20
    echo "$name: nothing left"
}

# The cgroup round runs in a cgroup of its own (where one can be made): a
# worker cleans up after dead workers in its own cgroup, so one started by
# another test running beside this one (ctest -j) would otherwise clean up
# after the worker this test kills before the test's own next worker can.
PRIVATE=""
OWN=""
own=$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup 2>/dev/null)
mnt=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2" && $4 == "/") { print $5; exit } break } }' \
    /proc/self/mountinfo 2>/dev/null)
if [ -n "$own" ] && [ -n "$mnt" ] && [ -f "$mnt${own%/}/cgroup.procs" ]; then
    OWN="$mnt${own%/}"
    # A real cgroup: mkdir makes its cgroup.procs (anything else is left alone).
    if mkdir "$OWN/sluice-escape-$$" 2>/dev/null; then
        if [ -f "$OWN/sluice-escape-$$/cgroup.procs" ] &&
            echo $BASHPID >"$OWN/sluice-escape-$$/cgroup.procs" 2>/dev/null; then
            PRIVATE="$OWN/sluice-escape-$$"
        else
            rmdir "$OWN/sluice-escape-$$" 2>/dev/null || true
        fi
    fi
fi
[ -z "$PRIVATE" ] || echo "task_escape: the cgroup round runs in its own cgroup, $PRIVATE"
JOINED=0
round cgroup
if [ -n "$PRIVATE" ]; then # back where it was; the private cgroup goes
    echo $BASHPID >"$OWN/cgroup.procs" 2>/dev/null || true
    rmdir "$PRIVATE" 2>/dev/null || true
fi
SLUICE_TASK_CGROUP=off round subreaper
grep -q "found as orphans (subreaper)" "$WORK/w-subreaper.log" \
    || fail "the subreaper round did not run as a subreaper: $(cat "$WORK/w-subreaper.log")"
echo "task_escape: checked"
