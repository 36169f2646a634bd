# sluice-worker --realtime: the worker's own thread and ZeroMQ's I/O thread
# run at SCHED_FIFO 1, the tasks it starts at the default policy; where the
# worker may not (no CAP_SYS_NICE, real-time limit 0) it says so and exits
# 1 before it connects; with --builtin it is refused as a usage error.
. "$(dirname "$0")/lib.sh"

# policy PID_OR_TID: SCHED_OTHER, SCHED_FIFO, ... as chrt -p prints it.
policy () { chrt -p "$1" | sed -n 's/.*scheduling policy: //p'; }

start_broker
seq 1 6 > "$WORK/tasks.txt"

# Refused without the right to it: root without CAP_SYS_NICE, and a limit of 0.
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
    prlimit --rtprio=0 setpriv --inh-caps=-sys_nice --bounding-set=-sys_nice \
        "$SLUICE_BIN/sluice-worker" --broker "$BROKER" --realtime --exec true \
        >/dev/null 2>"$WORK/refused.log"
    expect_rc 1 "$?" "worker --realtime without the right to it"
    expect_grep "--realtime: cannot run at real-time priority: Operation not permitted" \
        "$WORK/refused.log" "refusal"
    expect_grep "ulimit -r" "$WORK/refused.log" "what it needs"
else
    echo "(not root or no setpriv: the refusal is not tested)"
fi

# A usage error with a built-in.
"$SLUICE_BIN/sluice-worker" --broker "$BROKER" --realtime --builtin echo 2>"$WORK/usage.log"
expect_rc 2 "$?" "--realtime --builtin"
expect_grep "realtime is for --exec" "$WORK/usage.log" "usage error"

if ! chrt -f 1 true 2>/dev/null; then
    echo "SKIPPED: real-time priority is not allowed here ($(chrt -f 1 true 2>&1 | head -1))"
    exit 0
fi
# Each task reports its own policy. (--realtime from a config file.)
printf 'worker\n    realtime = yes\n' > "$WORK/rt.conf"
start_worker w1 -j 2 --config "$WORK/rt.conf" --exec 'chrt -p $$ | sed -n "s/.*scheduling policy: //p"'
W1=$LAST_PID
wait_workers 1
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" "$WORK/tasks.txt" >/dev/null 2>"$WORK/v.log" \
    || fail "ventilator"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" -o "$WORK/out.jsonl" -f jsonl 2>>"$WORK/sink.log" \
    || fail "sink"
"$PYTHON" - "$WORK/out.jsonl" <<'PY' || fail "a task did not run at the default policy"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
outs = sorted(r["output"] for r in recs)
print("tasks' policies:", outs)
sys.exit(0 if len(recs) == 6 and all(o == "SCHED_OTHER\n" for o in outs) else 1)
PY
[ "$(policy "$W1")" = "SCHED_FIFO|SCHED_RESET_ON_FORK" ] \
    || fail "worker's thread: $(policy "$W1"), not SCHED_FIFO|SCHED_RESET_ON_FORK"
io=""
for task in /proc/"$W1"/task/*; do
    case "$(cat "$task/comm")" in ZMQbg/IO/*) io=${task##*/} ;; esac
done
[ -n "$io" ] || fail "no ZeroMQ I/O thread in the worker"
[ "$(policy "$io")" = SCHED_FIFO ] || fail "ZeroMQ I/O thread: $(policy "$io"), not SCHED_FIFO"
echo "worker $W1 and its I/O thread $io at SCHED_FIFO, its tasks at SCHED_OTHER"
