#!/usr/bin/env bash
# Builds sluice and runs its whole test suite (installing missing packages).
#   scripts/test.sh            normal build in build/, every test
#   scripts/test.sh --asan     AddressSanitizer + UBSan build in build-asan/
# Extra arguments go to ctest, e.g. scripts/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build
TYPE=RelWithDebInfo
EXTRA=()
if [ "${1:-}" = "--asan" ]; then
    BUILD=build-asan
    TYPE=Asan
    # The fuzzers are built with ASan and UBSan by their own script: once is
    # enough. The 10-million-line run (label long) is too slow for a
    # sanitizer build.
    EXTRA=(-LE "fuzz|long")
    shift
fi
scripts/deps.sh
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE="$TYPE" >/dev/null
cmake --build "$BUILD" -j "$(nproc)"
ctest --test-dir "$BUILD" --output-on-failure -j 2 "${EXTRA[@]}" "$@"
