#!/usr/bin/env bash
# Builds what the benchmarks need: the project (cmake, in SLUICE_BIN,
# default ../build) unless NO_BUILD=1, then bench's own C programs into
# SLUICE_BIN/bench/ with cc against SLUICE_BIN's libraries (no change to the
# top-level CMakeLists.txt needed):
#   zpipe    the raw ZeroMQ pipeline baseline (libzmq only)
#   spawn    the fork+exec ceiling (libc only)
#   latency  an in-process ventilator + sink (libsluice.a, libsluice_proto.a)
#   idlers   N idle connected workers in one process (same)
#
#   bench/build.sh            SLUICE_BIN=/tmp/build bench/build.sh
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
BIN=${SLUICE_BIN:-$SRC/build}
if [ "${NO_BUILD:-0}" != 1 ]; then
    if [ ! -f "$BIN/CMakeCache.txt" ]; then
        cmake -S "$SRC" -B "$BIN" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    fi
    cmake --build "$BIN" -j"$(nproc)" >/dev/null
fi
for f in sluice-broker sluice-worker sluice-ventilator sluice-sink sluice-ctl libsluice.a \
    libsluice_proto.a; do
    [ -e "$BIN/$f" ] || { echo "build.sh: no $BIN/$f" >&2; exit 1; }
done
# Headers from the sources SLUICE_BIN was configured from (they match its
# libraries), else this checkout's.
LIBSRC=$(sed -n 's/^sluice_SOURCE_DIR:STATIC=//p' "$BIN/CMakeCache.txt" 2>/dev/null || true)
[ -f "${LIBSRC:-/nonexistent}/lib/sl_client.h" ] || LIBSRC=$SRC
OUT=$BIN/bench
mkdir -p "$OUT"
CFLAGS="-O2 -g -Wall -Wextra"
# shellcheck disable=SC2086
cc $CFLAGS -o "$OUT/zpipe" "$HERE/zpipe.c" $(pkg-config --cflags --libs libzmq)
# shellcheck disable=SC2086
cc $CFLAGS -o "$OUT/spawn" "$HERE/spawn.c"
SLLIBS="$BIN/libsluice.a $BIN/libsluice_proto.a $(pkg-config --libs libczmq libzmq libprotobuf-c jansson) -lm"
SLINC="-D_GNU_SOURCE -I$LIBSRC/lib -I$BIN/proto $(pkg-config --cflags libczmq libzmq libprotobuf-c)"
QUEUES=
grep -q n_queues "$BIN/proto/sluice.pb-c.h" && QUEUES=-DHAVE_QUEUES
# shellcheck disable=SC2086
cc $CFLAGS $SLINC -o "$OUT/latency" "$HERE/latency.c" $SLLIBS
# shellcheck disable=SC2086
cc $CFLAGS $QUEUES $SLINC -o "$OUT/idlers" "$HERE/idlers.c" $SLLIBS
