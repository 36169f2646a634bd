# Shared by the tests that build hosts out of network namespaces (multihost,
# discover), sourced after lib.sh: a unique TAG every namespace name starts
# with, the NETNS list of those created, skip, and an exit trap that
# removes them all before lib.sh's own cleanup.
#
# Set NETNS_TEST to the test's name before sourcing.

NETNS_TEST=${NETNS_TEST:-netns}
TAG="sluice$$-$RANDOM" # unique per run: every namespace name starts with it
NETNS=()               # the namespaces this run created, deleted at exit

skip () {
    echo "SKIP: $NETNS_TEST needs root and network namespaces ($*)"
    exit 0
}

# netns_cleanup: the exit trap. Stops the programs (all of them run in our
# namespaces) as lib.sh does, kills anything else left in our namespaces,
# deletes the namespaces (and with them every bridge and veth in them), then
# hands over to lib.sh's cleanup with the exit status.
netns_cleanup () {
    local rc=$? pid ns i alive
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for ((i = 0; i < 100; i++)); do
        alive=0
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
    PIDS=() # reaped: lib.sh's cleanup must not signal these ids again
    for ns in "${NETNS[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null
        done
    done
    for ns in "${NETNS[@]}"; do
        ip netns del "$ns" 2>/dev/null ||
            { echo "$NETNS_TEST: could not delete netns $ns" >&2; rc=1; }
    done
    if ip netns list 2>/dev/null | grep -q "^$TAG-"; then
        echo "$NETNS_TEST: namespaces left behind: $(ip netns list | grep "^$TAG-")" >&2
        rc=1
    fi
    set_status $rc
    cleanup
}
set_status () {
    return "$1"
}
trap netns_cleanup EXIT
