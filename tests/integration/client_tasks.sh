# libsluice's per-task options and sluice_job_cancel (tests/tools/client_tasks.c):
# - sluice_submit_tasks: six tasks with their own ids, priorities and one
#   time limit, submitted before any worker; then one worker of one slot
#   without prefetch runs them: the results come in priority order (FIFO
#   within a priority), each with its own id, the one over its limit ends
#   timeout; retries of 101 are refused naming the task.
# - sluice_job_cancel: four 10 s sleeps cancelled while two run: four
#   cancelled results at once, no task left running; a second cancel of the
#   finished job fails with a clear message.
. "$(dirname "$0")/lib.sh"

PROG=$SLUICE_BIN/tests/client_tasks
start_broker --heartbeat 200

# --- Per-task options ------------------------------------------------------------
start_bg options "$PROG" "$BROKER" options >"$WORK/options.out"
OPT_PID=$LAST_PID
wait_log "$WORK/options.log" "^held$" 1 20
start_worker w1 --builtin sleep -j 1 --prefetch 0 --heartbeat 200
W1=$LAST_PID
wait_pid "$OPT_PID" 60
expect_rc 0 "$WAIT_RC" "client_tasks options"
printf '2\thigh\tok\n4\tmid\tok\n1\tlow-a\tok\n3\tslow\ttimeout\n5\t\tok\n6\tlast\tok\n' \
    >"$WORK/options.want"
diff "$WORK/options.want" "$WORK/options.out" >&2 || fail "results of the per-task options"
echo "per-task options: priority order, ids, the time limit: as submitted"
kill -TERM "$W1"
wait_pid "$W1" 20

# --- Cancel -------------------------------------------------------------------------
start_worker w2 --builtin sleep -j 2 --heartbeat 200
W2=$LAST_PID
start_bg cancel "$PROG" "$BROKER" cancel >"$WORK/cancel.out"
CANCEL_PID=$LAST_PID
wait_pid "$CANCEL_PID" 30
expect_rc 0 "$WAIT_RC" "client_tasks cancel"
[ "$(cut -f3 "$WORK/cancel.out" | sort | uniq -c | tr -s ' ')" = " 4 cancelled" ] \
    || fail "results after the cancel: $(cat "$WORK/cancel.out")"
[ "$(cut -f1 "$WORK/cancel.out" | sort -n | tr '\n' ' ')" = "1 2 3 4 " ] \
    || fail "seqs after the cancel: $(cat "$WORK/cancel.out")"
expect_grep "cancelled: 4 tasks ended (2 of them were running)" "$WORK/broker.log" "the broker's cancel"
expect_grep "second cancel refused: .*already finished" "$WORK/cancel.log" "a second cancel"
echo "cancel: 4 cancelled results, a second cancel refused"
