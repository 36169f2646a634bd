# libsluice (include/sluice.h) against a running broker: the examples of
# examples/c, built like a user's programs on the library alone.
#
# - sluice_map (examples/c/map): 1000 strings on the queue `upper`, served
#   by the example worker (sluice_worker_run, uppercases), and 1000 on the
#   default queue, served by sluice-worker --builtin echo: every result in
#   task order, ok, with the right output; and a two-stage job (echo, then
#   upper: the example worker echoes each task's stage).
# - sluice_submit + sluice_next, and + sluice_job_run (examples/c/async):
#   every seq exactly once, in completion order, with the right output.
# - A broker killed (-9) in the middle of a map and restarted on its
#   --data-dir: the map still returns every result once, in order, right;
#   the same in the middle of an asynchronous job.
# - SIGTERM stops the example worker cleanly (exit 0, Bye to the broker).
# - The installed library: sluice.h and sluice.pc from `cmake --install`,
#   a program built with `cc $(pkg-config --cflags --libs sluice)` runs a
#   map (not in a sanitizer build, whose library needs the runtime first).
. "$(dirname "$0")/lib.sh"

EX=$SLUICE_BIN/examples/c
HB=200
N=1000

# expected QUEUE [COUNT]: the lines map prints for COUNT (default $N) tasks
# on that queue.
expected () {
    local i count=${2:-$N}
    for ((i = 1; i <= count; i++)); do
        if [ "$1" = upper ]; then printf '%d\tok\tITEM-%d\n' $i $i; else printf '%d\tok\titem-%d\n' $i $i; fi
    done
}
expected upper >"$WORK/want-upper.txt"
expected echo >"$WORK/want-echo.txt"

# check_map NAME WANT: the map's output is exactly WANT (task order).
check_map () {
    diff "$2" "$WORK/$1.out" >"$WORK/$1.diff" \
        || { head -20 "$WORK/$1.diff" >&2; fail "$1: results differ from $(basename "$2")"; }
}

# check_async NAME WANT: every line of WANT exactly once, in any order.
check_async () {
    local dups
    dups=$(cut -f1 "$WORK/$1.out" | sort -n | uniq -d | head -5)
    [ -z "$dups" ] || fail "$1: seqs delivered twice: $dups"
    sort -n "$WORK/$1.out" | diff "$2" - >"$WORK/$1.diff" \
        || { head -20 "$WORK/$1.diff" >&2; fail "$1: results differ from $(basename "$2")"; }
    # Completion order is not task order by chance only (2 slots): the
    # output is compared sorted above, and the program checks itself.
}

# A small --max-memory (1 MiB: about 20,000 tasks here) for the restart
# during a submission below; the 1000-task jobs fit.
BROKER_ARGS="--heartbeat $HB --max-memory 1M"
start_broker $BROKER_ARGS
start_bg upper "$EX/worker" "$BROKER" upper 2
start_worker echo --builtin echo -j 2 --heartbeat $HB
wait_workers 2

# --- The blocking map ---------------------------------------------------------
"$EX/map" "$BROKER" upper $N >"$WORK/map-upper.out" 2>"$WORK/map-upper.log" \
    || fail "map on queue upper: exit status $?"
check_map map-upper "$WORK/want-upper.txt"
"$EX/map" "$BROKER" default $N >"$WORK/map-echo.out" 2>"$WORK/map-echo.log" \
    || fail "map on the default queue: exit status $?"
check_map map-echo "$WORK/want-echo.txt"
# A two-stage job: echo on the default queue, then uppercased on `upper`.
"$EX/map" "$BROKER" default $N upper >"$WORK/map-stages.out" 2>"$WORK/map-stages.log" \
    || fail "two-stage map: exit status $?"
check_map map-stages "$WORK/want-upper.txt"
# The broker saw both jobs finish (every result acknowledged).
[ "$(grep -c "finished: $N tasks, $N ok" "$WORK/broker.log")" -ge 2 ] \
    || fail "the broker did not see both map jobs finish"

# --- The asynchronous API -------------------------------------------------------
"$EX/async" "$BROKER" default $N next >"$WORK/async-next.out" 2>"$WORK/async-next.log" \
    || fail "async (sluice_next): exit status $?"
check_async async-next "$WORK/want-echo.txt"
expect_grep "$N of $N results, 0 twice" "$WORK/async-next.log" "async (sluice_next)"
"$EX/async" "$BROKER" upper $N run >"$WORK/async-run.out" 2>"$WORK/async-run.log" \
    || fail "async (sluice_job_run): exit status $?"
check_async async-run "$WORK/want-upper.txt"

# A map beside a sluice-sink collecting every job (issue 16): the map's
# own job goes to the map, whole, and none of it to the sink.
start_bg sink "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --follow -o "$WORK/beside-sink.txt"
SINK_PID=$LAST_PID
wait_log "$WORK/broker.log" "sink .* attached \(follow\)" 1 20
"$EX/map" "$BROKER" upper $N >"$WORK/beside.out" 2>"$WORK/beside.log" \
    || fail "a map beside sluice-sink: exit status $?"
check_map beside "$WORK/want-upper.txt"
kill -TERM "$SINK_PID"
wait_pid "$SINK_PID" 20
[ ! -s "$WORK/beside-sink.txt" ] || fail "the sink beside the map got results of the map's job"

# --- A broker restart in the middle of a map ------------------------------------------
# A slow worker (10 ms a task, 4 slots: about 2.5 s for the job).
start_bg slow "$EX/worker" "$BROKER" slow 4 10
SLOW_PID=$LAST_PID
wait_workers 3
start_bg map-restart "$EX/map" "$BROKER" slow $N >"$WORK/map-restart.out"
MAP_PID=$LAST_PID
sleep 1
kill -0 "$MAP_PID" 2>/dev/null || fail "the map ended before the broker was killed"
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null
sleep 0.5
mv "$WORK/broker.log" "$WORK/broker-before.log"
start_broker $BROKER_ARGS
wait_log "$WORK/broker.log" "journal .* replayed" 1 20
expect_grep " 1 unfinished jobs" "$WORK/broker.log" "the restarted broker's journal"
wait_pid "$MAP_PID" 60
expect_rc 0 "$WAIT_RC" "map across a broker restart"
check_map map-restart "$WORK/want-upper.txt"
wait_log "$WORK/broker.log" "finished: $N tasks, $N ok" 1 20

# The same with the asynchronous API (sluice_next), killed again.
start_bg async-restart "$EX/async" "$BROKER" slow $N next >"$WORK/async-restart.out"
ASYNC_PID=$LAST_PID
sleep 1
kill -0 "$ASYNC_PID" 2>/dev/null || fail "async ended before the broker was killed"
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null
sleep 0.5
mv "$WORK/broker.log" "$WORK/broker-before2.log"
start_broker $BROKER_ARGS
wait_pid "$ASYNC_PID" 60
expect_rc 0 "$WAIT_RC" "async across a broker restart"
check_async async-restart "$WORK/want-upper.txt"

# A broker killed while the client is still submitting: a queue nobody
# serves yet fills the broker to its --max-memory (it stops reading the
# intake), so when it is killed, tasks the client sent are lost in its
# socket buffers. The client must find out which (JobQuery) and send them
# again to the restarted broker; then a worker comes for the queue.
BIG=30000
expected echo $BIG >"$WORK/want-big.txt"
start_bg async-submit "$EX/async" "$BROKER" later $BIG next >"$WORK/async-submit.out"
SUBMIT_PID=$LAST_PID
for ((i = 0; i < 400; i++)); do
    "$SLUICE_BIN/sluice-ctl" --broker "$BROKER" status --json 2>/dev/null \
        | grep -q '"intake_paused": *true' && break
    sleep 0.05
done
[ $i -lt 400 ] || fail "the broker never reached its --max-memory"
kill -0 "$SUBMIT_PID" 2>/dev/null || fail "async ended before the broker was killed"
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null
mv "$WORK/broker.log" "$WORK/broker-before3.log"
start_broker $BROKER_ARGS
wait_log "$WORK/broker.log" "journal .* replayed" 1 20
start_worker later --builtin echo -j 2 --heartbeat $HB --queue later
wait_pid "$SUBMIT_PID" 120
expect_rc 0 "$WAIT_RC" "async across a broker restart during the submission"
check_async async-submit "$WORK/want-big.txt"
# The restarted broker lacked tasks, and the client sent them again.
grep -q "unfinished jobs, [0-9]* tasks queued" "$WORK/broker.log" || fail "no replay summary"
queued=$(sed -n 's/.*unfinished jobs, \([0-9]*\) tasks queued.*/\1/p' "$WORK/broker.log" | head -n 1)
[ "$queued" -lt $BIG ] || fail "the restarted broker held all $BIG tasks: nothing was resent"

# --- Stopping a worker -------------------------------------------------------------------
# SIGTERM drains the example worker (sluice_worker_run returns 0) and it
# says goodbye to the broker.
wait_workers 3
kill -TERM "$SLOW_PID"
wait_pid "$SLOW_PID" 20
expect_rc 0 "$WAIT_RC" "example worker stopped by SIGTERM"
wait_log "$WORK/broker.log" "worker .*/w[0-9a-f]* left" 1 20

# --- The installed library --------------------------------------------------------------
if grep -q "^CMAKE_BUILD_TYPE:STRING=Asan" "$SLUICE_BIN/CMakeCache.txt"; then
    echo "install check skipped: sanitizer build"
elif ! command -v cmake >/dev/null || ! command -v pkg-config >/dev/null || ! command -v cc >/dev/null; then
    echo "install check skipped: needs cmake, pkg-config and cc"
else
    cmake --install "$SLUICE_BIN" --prefix "$WORK/prefix" >"$WORK/install.txt" 2>&1 \
        || { cat "$WORK/install.txt" >&2; fail "cmake --install"; }
    PC=$(find "$WORK/prefix" -name sluice.pc | head -n 1)
    [ -n "$PC" ] || fail "no sluice.pc installed"
    export PKG_CONFIG_PATH=$(dirname "$PC")
    # shellcheck disable=SC2046
    cc -Wall -Werror -o "$WORK/map-installed" "$SLUICE_TESTS/../examples/c/map.c" \
        $(pkg-config --cflags --libs sluice) 2>"$WORK/cc.log" || { cat "$WORK/cc.log" >&2; fail "building against the installed library"; }
    LD_LIBRARY_PATH=$(pkg-config --variable=libdir sluice) "$WORK/map-installed" "$BROKER" upper $N \
        >"$WORK/map-installed.out" 2>"$WORK/map-installed.log" || fail "installed map: exit status $?"
    check_map map-installed "$WORK/want-upper.txt"
    # The program uses the installed library, not the build's.
    LD_LIBRARY_PATH=$(pkg-config --variable=libdir sluice) ldd "$WORK/map-installed" \
        | grep -q "$WORK/prefix/.*libsluice.so" || fail "the installed map does not use the installed library"
fi
echo "client_api: all checks passed"
