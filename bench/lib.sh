# Shared by the bench scripts: where the programs are, a work directory
# removed at exit with every process started, and a free base port.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=${SLUICE_BIN:-$HERE/../build}
WORK=$(mktemp -d /tmp/sluice-bench.XXXXXX)
pids=()
cleanup () {
    kill "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    [ "${KEEP_WORK:-0}" = 1 ] && echo "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

# Prints a base port P such that P..P+4 are free on 127.0.0.1.
free_port () {
    python3 -c 'import socket, random
while True:
    b = random.randint(10000, 32000); ok = True
    for p in range(b, b + 5):
        s = socket.socket()
        try: s.bind(("127.0.0.1", p))
        except OSError: ok = False
        s.close()
    if ok: print(b); break'
}
BROKER=tcp://127.0.0.1:$(free_port)

# --- Helpers of the issue-9 benchmarks (run_all.sh and the scripts it runs) ---

# Total ticks and steal ticks of all CPUs, from /proc/stat.
cpu_ticks () { awk '/^cpu /{t=0; for(i=2;i<=NF;i++) t+=$i; print t, $9; exit}' /proc/stat; }

# Noise marks for a result line, as ../shared/bench/run_peers.sh appends
# them: call noise_start before the run and noise_end after; noise_end
# prints "steal_pct=S load1=L" (load1 taken at the start).
noise_start () {
    _load1=$(cut -d' ' -f1 /proc/loadavg)
    read -r _t0 _s0 < <(cpu_ticks)
}
noise_end () {
    local t1 s1
    read -r t1 s1 < <(cpu_ticks)
    awk -v a="$((t1 - _t0))" -v b="$((s1 - _s0))" -v l="$_load1" \
        'BEGIN { printf "steal_pct=%.1f load1=%s", (a > 0) ? 100 * b / a : 0, l }'
}

# CPU time (user + system, seconds) a process has used so far, from
# /proc/PID/stat (every thread of it).
proc_cpu () {
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.3f", ($12 + $13) / hz }' \
        "/proc/$1/stat"
}

# Resident set size of a process now, and its peak, in KiB.
proc_rss_kb () { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
proc_hwm_kb () { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }

# Writes n tasks of 98 bytes + newline to file (as pipeline.sh does).
make_tasks () {
    python3 -c "
import sys
pad = 'x' * 88
n = $1
with open('$2', 'w') as f:
    step = 100000
    for b in range(1, n + 1, step):
        f.write(''.join('%010d%s\n' % (i, pad) for i in range(b, min(b + step, n + 1))))"
}

# Stops one process we started (SIGTERM) and waits for it.
stop_pid () {
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# Waits until a broker's log says it listens (it was started without -q).
await_broker () {
    local log=$1 pid=$2 i
    for ((i = 0; i < 6000; i++)); do
        grep -q 'listening on' "$log" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || { echo "broker exited:" >&2; cat "$log" >&2; return 1; }
        sleep 0.02
    done
    echo "broker did not start" >&2
    return 1
}

# A git checkout's commit, "+dirty" if tracked files changed; "" if none.
git_commit () {
    local c
    c=$(git -C "$1" rev-parse --short HEAD 2>/dev/null) || return 0
    [ -n "$(git -C "$1" status --porcelain --untracked-files=no 2>/dev/null | head -1)" ] &&
        c="$c+dirty"
    echo "$c"
}

# Where the result table's header comes from: date, machine, and the commit
# measured: SLUICE_COMMIT if set (e.g. a build of a `git archive` snapshot),
# else that of the sources SLUICE_BIN was configured from; bench_commit is
# this checkout's (the scripts').
machine_desc () {
    local model commit src
    model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
    src=$(sed -n 's/^sluice_SOURCE_DIR:STATIC=//p' "$BIN/CMakeCache.txt" 2>/dev/null || true)
    commit=${SLUICE_COMMIT:-$(git_commit "${src:-$HERE/..}")}
    echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ) nproc=$(nproc) cpu=\"$model\"" \
        "mem_gib=$(awk '/^MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)" \
        "kernel=$(uname -r) commit=${commit:-unknown} bench_commit=$(git_commit "$HERE/..")"
}

# Waits until the broker at $1 knows at least $2 workers (sluice-ctl
# status), at most $3 seconds (default 60). Returns 1 on timeout. A build
# without `sluice-ctl status --json` (an old one, to compare with) gets the
# old rule instead: a second.
await_workers () {
    local broker=$1 want=$2 limit=${3:-60} t0 n
    t0=$(date +%s)
    while true; do
        n=$("$BIN/sluice-ctl" --broker "$broker" status --json 2>/dev/null |
            python3 -c 'import json, sys; print(len(json.load(sys.stdin)["workers"]))' 2>/dev/null ||
            echo none)
        if [ "$n" = none ]; then
            # No answer yet (the broker starting), or no JSON status at all.
            if ! "$BIN/sluice-ctl" --help 2>/dev/null | grep -q -- --json; then
                sleep 1
                return 0
            fi
            n=0
        fi
        [ "$n" -ge "$want" ] && return 0
        [ $(($(date +%s) - t0)) -ge "$limit" ] && { echo "only $n of $want workers attached" >&2; return 1; }
        sleep 0.2
    done
}

# Starts a 3-node NATS JetStream cluster on loopback with the tests'
# tests/integration/nats_lib.sh (sets NATS_URLS, NATS_MPORT...), or exits
# 0 saying SKIPPED without nats-server. Call at the top level of a script.
PYTHON=${PYTHON:-python3}
start_bg () { # as tests/integration/lib.sh's, for nats_lib.sh
    local name=$1
    shift
    "$@" 2>>"$WORK/$name.log" &
    LAST_PID=$!
    pids+=("$LAST_PID")
}
fail () { echo "FAIL: $*" >&2; exit 1; }
bench_nats_cluster () {
    command -v nats-server >/dev/null || { echo "SKIPPED: nats-server is not installed"; exit 0; }
    . "$HERE/../tests/integration/nats_lib.sh"
    start_nats_cluster
}
