# Shared helpers for sluice integration tests: free ports, starting the real
# programs, cleaning up every process a test started, failing loudly.
#
# Environment (set by CTest): SLUICE_BIN (build dir with the programs),
# PYTHON (python3), SLUICE_TESTS (tests/ source dir).

set -u
SLUICE_BIN=${SLUICE_BIN:?run through ctest or set SLUICE_BIN}
PYTHON=${PYTHON:-python3}
SLUICE_TESTS=${SLUICE_TESTS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
CHECK="$PYTHON $SLUICE_TESTS/integration/check_results.py"

WORK=$(mktemp -d /tmp/sluice-test.XXXXXX)
PIDS=()
MOUNTS=() # file systems mount_tmpfs made, unmounted by cleanup

cleanup () {
    local rc=$? pid i
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    # Let them exit cleanly (sanitizer builds report leaks at exit).
    for ((i = 0; i < 100; i++)); do
        local alive=0
        for pid in "${PIDS[@]}"; do
            kill -0 "$pid" 2>/dev/null && alive=1
        done
        [ $alive = 0 ] && break
        sleep 0.05
    done
    for pid in "${PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    # (lazily if something still has one open)
    for dir in "${MOUNTS[@]}"; do
        umount "$dir" 2>/dev/null || umount -l "$dir"
    done
    # Any sanitizer report in any program's log fails the test.
    if grep -l -E "ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:" \
            "$WORK"/*.log >/dev/null 2>&1; then
        echo "FAIL: sanitizer report:" >&2
        grep -h -A 30 -E "ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:" \
            "$WORK"/*.log >&2
        rc=1
    fi
    if [ "${KEEP_WORK:-0}" = 1 ]; then
        echo "work dir kept: $WORK"
    else
        rm -rf "$WORK"
    fi
    exit $rc
}
trap cleanup EXIT

# mount_tmpfs DIR OPTIONS : a small file system on DIR (made if missing) for
# disk-full tests, e.g. OPTIONS size=8m or size=300m,nr_inodes=64; unmounted
# when the test ends. Where that is impossible (not root, mount refused)
# the test ends, passed, with "SKIPPED: " and the reason (the tests mark
# that as skipped in CTest).
mount_tmpfs () {
    mkdir -p "$1"
    if [ "$(id -u)" != 0 ]; then
        echo "SKIPPED: not root, cannot mount a small tmpfs"
        exit 0
    fi
    if ! mount -t tmpfs -o "$2" tmpfs "$1" 2>"$WORK/mount.err"; then
        echo "SKIPPED: cannot mount a tmpfs here: $(cat "$WORK/mount.err")"
        exit 0
    fi
    MOUNTS+=("$1")
}

fail () {
    echo "FAIL: $*" >&2
    for log in "$WORK"/*.log; do
        [ -f "$log" ] || continue
        echo "---- $(basename "$log") (last 15 lines)" >&2
        tail -n 15 "$log" >&2
    done
    exit 1
}

# Prints a base port P such that P..P+4 are free on 127.0.0.1, below the
# kernel's ephemeral range (32768 and up): an outgoing connection elsewhere
# could otherwise take one of them between this check and the bind.
free_port () {
    "$PYTHON" - <<'PY'
import random, socket
for _ in range(200):
    base = random.randint(10000, 32000)
    socks = []
    try:
        for p in range(base, base + 5):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", p))
            socks.append(s)
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(base)
    break
PY
}

PORT=$(free_port)
BROKER="tcp://127.0.0.1:$PORT"

# start_bg NAME CMD... : runs CMD in the background, stderr to $WORK/NAME.log;
# sets LAST_PID.
start_bg () {
    local name=$1
    shift
    "$@" 2>>"$WORK/$name.log" &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
}

# wait_port PORT SECONDS : waits until something accepts TCP
# connections on 127.0.0.1:PORT; status 1 if nothing did in time.
wait_port () {
    "$PYTHON" - "$1" "$2" <<'PY'
import socket, sys, time
deadline = time.time() + float(sys.argv[2])
while time.time() < deadline:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.02)
sys.exit(1)
PY
}

# start_broker ARGS... : starts the broker on $BROKER (dispatch mode from
# $SLUICE_DISPATCH, default fair), its journal in
# $WORK/data-$PORT, and waits until it accepts connections (so a test's
# next step never races its start).
start_broker () {
    start_bg broker "$SLUICE_BIN/sluice-broker" --bind "$BROKER" --data-dir "$WORK/data-$PORT" \
        --dispatch "${SLUICE_DISPATCH:-fair}" "$@"
    BROKER_PID=$LAST_PID
    wait_port "$PORT" 10 || fail "broker did not start listening on port $PORT"
}

# start_worker NAME ARGS...
start_worker () {
    local name=$1
    shift
    start_bg "$name" "$SLUICE_BIN/sluice-worker" --broker "$BROKER" "$@"
}

# wait_pid PID SECONDS : waits for PID to exit; its status in WAIT_RC.
# Fails the test if it takes longer.
wait_pid () {
    local pid=$1 limit=$2 i
    for ((i = 0; i < limit * 20; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"
            WAIT_RC=$?
            return 0
        fi
        sleep 0.05
    done
    fail "process $pid still running after ${limit}s"
}

# expect_rc WANT GOT WHAT
expect_rc () {
    [ "$1" = "$2" ] || fail "$3: exit status $2, expected $1"
}

# expect_grep PATTERN FILE WHAT
expect_grep () {
    grep -q -- "$1" "$2" || { echo "---- $2:" >&2; cat "$2" >&2; fail "$3: no '$1' in $(basename "$2")"; }
}

# wait_log FILE PATTERN COUNT SECONDS : waits until FILE has COUNT lines
# matching PATTERN (e.g. workers that joined, in the broker's log).
wait_log () {
    local file=$1 pattern=$2 count=$3 limit=$4 i
    for ((i = 0; i < limit * 20; i++)); do
        [ "$(grep -c -E -- "$pattern" "$file" 2>/dev/null)" -ge "$count" ] && return 0
        sleep 0.05
    done
    fail "no $count lines matching '$pattern' in $(basename "$file") after ${limit}s"
}

# wait_workers N : waits until the broker has seen N workers join.
wait_workers () {
    wait_log "$WORK/broker.log" "worker .* joined" "$1" 20
}

# need_python_proto : sets PY to a python3 that has zmq and protobuf and
# puts proto/sluice.proto's generated module in $WORK/pb (import it after
# sys.path.insert(0, "$WORK/pb")); exits the test with SKIP when python3-zmq,
# python3-protobuf or protoc is missing. (CMake's python may not be
# Debian's, e.g. pyenv: take the first candidate that has both.)
need_python_proto () {
    local cand
    PY=""
    for cand in "$PYTHON" python3 /usr/bin/python3; do
        if "$cand" -c 'import zmq, google.protobuf' 2>/dev/null; then PY=$cand; break; fi
    done
    [ -n "$PY" ] || { echo "SKIP: no python3 with zmq and protobuf (python3-zmq python3-protobuf)"; exit 0; }
    command -v protoc >/dev/null || { echo "SKIP: no protoc (protobuf-compiler)"; exit 0; }
    mkdir -p "$WORK/pb"
    protoc -I "$SLUICE_TESTS/../proto" --python_out "$WORK/pb" sluice.proto || fail "protoc failed"
    "$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); import sluice_pb2' "$WORK/pb" 2>/dev/null \
        || { echo "SKIP: $PY cannot import the code protoc $(protoc --version) generates"; exit 0; }
}

# --- For tests that kill at random (chaos*.sh) --------------------------------

# rand N : sets R to a random number in 0..N-1 (from the seeded $RANDOM;
# never call it in a subshell, which would not advance the sequence).
rand () {
    R=$((RANDOM % $1))
}

# sleep_ms MS
sleep_ms () {
    sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"
}

# forget PID : drops a reaped process from the cleanup list, so that its
# pid, once reused by another process, is never signalled.
forget () {
    local keep=() p
    for p in "${PIDS[@]}"; do
        [ "$p" = "$1" ] || keep+=("$p")
    done
    PIDS=("${keep[@]}")
}

# kill9 PID : kills and reaps one of our programs.
kill9 () {
    kill -9 "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    forget "$1"
}
