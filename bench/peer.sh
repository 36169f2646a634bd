#!/usr/bin/env bash
# sluice as a row of the peers' harness (../shared/bench/run_peers.sh, whose
# EXTRA_PEERS lines are "name|workload|command" with the command split on
# spaces, no quoting): one argument names the row, so that no quotes or
# environment assignments are needed on that line. Prints the one line of
# ../shared/bench/README.md's format. Rows:
#   noop [N] [W]            pipeline.sh N W: default broker (durable journal),
#                           W workers --builtin echo -j 2 (defaults 1000000, 2)
#   noop_in_memory [N] [W]  the same with the broker --in-memory
#   exec_sh_echo [N] [P]    one worker --exec 'echo {}' -j P on tasks 0..N-1
#                           (defaults 3000, 2): sh -c "echo 'I'" per task
#   hetero                  hetero.sh: the peers' uneven workload, 4 workers -j 1
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
case ${1:-} in
    noop)
        PEER=sluice exec "$HERE/pipeline.sh" "${2:-1000000}" "${3:-2}" ;;
    noop_in_memory)
        PEER=sluice_in_memory BROKER_ARGS=--in-memory exec "$HERE/pipeline.sh" "${2:-1000000}" "${3:-2}" ;;
    exec_sh_echo)
        n=${2:-3000}
        tasks=$(mktemp /tmp/sluice-peer-tasks.XXXXXX)
        trap 'rm -f "$tasks"' EXIT
        seq 0 $((n - 1)) > "$tasks"
        PEER=sluice EXEC='echo {}' JOBS=${3:-2} TASKS_FILE=$tasks "$HERE/pipeline.sh" "$n" 1 ;;
    hetero)
        exec "$HERE/hetero.sh" ;;
    *)
        echo "usage: peer.sh noop|noop_in_memory|exec_sh_echo|hetero [N] [W]" >&2
        exit 2 ;;
esac
