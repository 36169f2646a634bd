#!/usr/bin/env bash
# Runs the test suite under valgrind's memcheck (on demand; slow): every
# unit test, and the integration tests with every sluice program started
# through valgrind. Any memcheck error or definite leak fails the run.
#   scripts/valgrind.sh                 all unit tests and integration tests
#   scripts/valgrind.sh pipeline_echo   only the integration tests named
set -uo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)"; exit 1; }
scripts/deps.sh
cmake -S . -B build >/dev/null && cmake --build build -j "$(nproc)" >/dev/null || exit 1
LOGS=$(mktemp -d /tmp/sluice-valgrind.XXXXXX)
VG=(valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite --track-fds=no)
failed=0
if [ $# -eq 0 ]; then
    for t in build/tests/test_*; do
        [ -x "$t" ] || continue
        if "${VG[@]}" --log-file="$LOGS/$(basename "$t").%p.log" "$t" >/dev/null 2>&1; then
            echo "ok   $(basename "$t")"
        else
            echo "FAIL $(basename "$t") (see $LOGS)"; failed=1
        fi
    done
fi
# Integration tests: the programs run through wrappers that exec valgrind.
WRAP=$LOGS/bin
mkdir -p "$WRAP"
for prog in build/sluice-*; do
    name=$(basename "$prog")
    printf '#!/bin/sh\nexec %s --log-file=%s/%s.%%p.log %s "$@"\n' "${VG[*]}" "$LOGS" "$name" \
        "$PWD/$prog" > "$WRAP/$name"
    chmod +x "$WRAP/$name"
done
mkdir -p "$WRAP/tests"
tests=("$@")
[ ${#tests[@]} -eq 0 ] && tests=(pipeline_echo exec_failing odd_input cli_errors timeout_retry
                                 worker_drain sink_resume elastic curve)
for t in "${tests[@]}"; do
    if SLUICE_BIN=$WRAP PYTHON=python3 SLUICE_TESTS=$PWD/tests timeout 900 \
            bash "tests/integration/$t.sh" >"$LOGS/$t.out" 2>&1; then
        echo "ok   $t"
    else
        echo "FAIL $t (see $LOGS/$t.out)"; failed=1
    fi
done
# memcheck reports in any program's log
if grep -l -E "ERROR SUMMARY: [1-9]|definitely lost: [1-9]|Invalid (read|write)" "$LOGS"/*.log \
        >/dev/null 2>&1; then
    echo "memcheck reports:"; grep -l -E "ERROR SUMMARY: [1-9]|definitely lost: [1-9]|Invalid" "$LOGS"/*.log
    failed=1
fi
[ $failed = 0 ] && { echo "valgrind: no report"; rm -rf "$LOGS"; }
exit $failed
