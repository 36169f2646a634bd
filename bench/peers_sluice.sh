#!/usr/bin/env bash
# The peers' table (../shared/bench/run_peers.sh) with sluice's rows added,
# in the same run: the peers and sluice interleaved rep by rep.
#
#   bench/peers_sluice.sh [REPS] [FILTER]     defaults 3, '.' (every row)
#   bench/peers_sluice.sh 3 'noop|exec_sh_echo'
#
# sluice's rows (bench/peer.sh): sluice and sluice_in_memory on noop
# (1,000,000 tasks, 2 workers), sluice on exec_sh_echo (3,000 tasks, one
# worker -j 2) and on hetero. The harness runs from a copy of
# ../shared/bench in a temporary directory (SHARED_BENCH=dir to name
# another), so that its results/ and the shared directory stay untouched;
# the raw lines and the table are copied to bench/results/peers-*-STAMP.
# IN_PLACE=1 runs ../shared/bench/run_peers.sh itself (its results then go
# to ../shared/bench/results). The peers need the Debian packages of
# ../shared/bench/README.md ("Setup"); rows whose software is missing fail
# and are shown as FAILED.
#
# The same by hand:
#   printf '%s\n' "sluice|noop|$PWD/bench/peer.sh noop" > /tmp/sluice.peers
#   EXTRA_PEERS=/tmp/sluice.peers ../shared/bench/run_peers.sh 3 'noop'
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPS=${1:-3}
FILTER=${2:-.}
SHARED=${SHARED_BENCH:-$HERE/../../shared/bench}
[ -x "$SHARED/run_peers.sh" ] || { echo "no $SHARED/run_peers.sh (set SHARED_BENCH)" >&2; exit 1; }
RESULTS=${RESULTS:-$HERE/results}
mkdir -p "$RESULTS"
tmp=$(mktemp -d /tmp/sluice-peers.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/sluice.peers" <<PEERS
sluice|noop|$HERE/peer.sh noop 1000000 2
sluice_in_memory|noop|$HERE/peer.sh noop_in_memory 1000000 2
sluice|exec_sh_echo|$HERE/peer.sh exec_sh_echo 3000 2
sluice|hetero|$HERE/peer.sh hetero
PEERS
if [ "${IN_PLACE:-0}" = 1 ]; then
    harness=$SHARED
else
    cp -r "$SHARED" "$tmp/bench"
    chmod -R u+w "$tmp/bench"
    harness=$tmp/bench
fi
stamp=$(date +%Y%m%d-%H%M%S)
EXTRA_PEERS=$tmp/sluice.peers "$harness/run_peers.sh" "$REPS" "$FILTER" | tee "$tmp/table.md"
raw=$(ls -t "$harness"/results/raw-*.txt | head -1)
cp "$raw" "$RESULTS/peers-raw-$stamp.txt"
cp "$tmp/table.md" "$RESULTS/peers-table-$stamp.md"
echo "raw lines: $RESULTS/peers-raw-$stamp.txt; table: $RESULTS/peers-table-$stamp.md" >&2
