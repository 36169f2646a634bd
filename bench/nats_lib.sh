# Shared by the benches of the NATS journal (journal_nats.sh, standby_*.sh), sourced
# after lib.sh: tests/integration/nats_lib.sh (a 3-node JetStream cluster on
# loopback) with the helpers it expects, and a skip without nats-server.
command -v nats-server >/dev/null || { echo "SKIPPED: nats-server is not installed"; exit 0; }
PYTHON=python3
start_bg () { # as tests/integration/lib.sh's
    local name=$1
    shift
    "$@" 2>>"$WORK/$name.log" &
    LAST_PID=$!
    pids+=("$LAST_PID")
}
fail () { echo "FAIL: $*" >&2; exit 1; }
. "$HERE/../tests/integration/nats_lib.sh"
