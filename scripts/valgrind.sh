#!/usr/bin/env bash
# Runs the test suite under valgrind's memcheck (on demand; slow): every
# unit test, and the integration tests with every sluice program started
# through valgrind. Any memcheck error or definite leak fails the run.
#   scripts/valgrind.sh                  all unit tests and every integration test
#                                        (but multihost and discover, which need netns,
#                                        and big_file, too long), with the
#                                        _push runs CTest has
#   scripts/valgrind.sh NAME...          only the integration tests named; NAME_push
#                                        runs NAME against a broker in --dispatch push
#   VALGRIND_UNIT=1 scripts/valgrind.sh NAME...   the unit tests too
# CHAOS_ROUNDS (default 2 here) and HOSTILE_* are passed on to those tests.
#
# A test that fails with no memcheck report in its programs' logs is almost
# always a timing assertion that valgrind's 20-50x slowdown breaks; it is
# reported as such, apart from the memcheck verdict.
set -uo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)"; exit 1; }
scripts/deps.sh
cmake -S . -B build >/dev/null && cmake --build build -j "$(nproc)" >/dev/null || exit 1
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/sluice-valgrind.XXXXXX")
# Not --quiet: -q drops the ERROR SUMMARY line, the one line that counts
# every kind of error (uninitialised values, invalid frees, bad syscall
# params, definite leaks; not just "Invalid read/write") and that tells a
# clean exit from a process killed before its leak check.
# --child-silent-after-fork: the worker's posix_spawn children exec /bin/sh
# at once (not traced); without it each one leaves a log of its own.
# --vgdb=no: a valgrind killed with -9 (the crash tests do it) leaves its
# vgdb FIFOs in $TMPDIR behind, three per process.
# More options (e.g. --track-origins=yes) go in $VALGRIND_OPTS.
VG=(valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite --track-fds=no --child-silent-after-fork=yes --num-callers=30
    --vgdb=no)
[ -f scripts/valgrind.supp ] && VG+=(--suppressions="$PWD/scripts/valgrind.supp")
failed=0

# summary DIR: returns 0 if no log in DIR has a memcheck report, else 1
# after printing the reports.
summary () {
    local dir=$1 bad=0 total=0 unchecked=0 f
    for f in "$dir"/*.log; do
        [ -f "$f" ] || continue
        total=$((total + 1))
        grep -q "ERROR SUMMARY" "$f" || unchecked=$((unchecked + 1))
        if grep -q -E "ERROR SUMMARY: [1-9]" "$f"; then
            bad=1
            echo "  memcheck report in $f:"
            grep -E "^==[0-9]+== ([A-Z]|[0-9,]+ bytes in)|^==[0-9]+==    (at|by) " "$f" |
                grep -v -E "SUMMARY|Memcheck|Copyright|Using Valgrind|Command:|Parent PID|For lists|To see them|Rerun with" |
                head -n 40 | sed 's/^/    /'
        fi
    done
    # Programs killed (-9 by the test itself, or after lib.sh's grace) never
    # got to their leak check: say how many, so that "ok" is not overrated.
    [ "$unchecked" -gt 0 ] &&
        echo "  note: $unchecked of $total processes were killed before valgrind's final check"
    return $bad
}

if [ $# -eq 0 ] || [ "${VALGRIND_UNIT:-0}" = 1 ]; then
    for t in build/tests/test_*; do
        [ -x "$t" ] || continue
        name=$(basename "$t")
        mkdir -p "$LOGS/$name"
        "${VG[@]}" --log-file="$LOGS/$name/$name.%p.log" "$t" >"$LOGS/$name/out" 2>&1
        rc=$?
        if ! summary "$LOGS/$name" >"$LOGS/$name/report"; then
            echo "FAIL $name: memcheck report"; cat "$LOGS/$name/report"; failed=1
        elif [ $rc = 0 ]; then
            echo "ok   $name"
        else
            echo "FAIL $name (exit $rc, no memcheck report; see $LOGS/$name/out)"; failed=1
        fi
    done
fi

# Integration tests: the programs run through wrappers that exec valgrind,
# logging into the directory of the test that runs them ($VG_LOGDIR).
WRAP=$LOGS/bin
mkdir -p "$WRAP/tests"
for prog in build/sluice-*; do
    name=$(basename "$prog")
    printf '#!/bin/sh\nexec %s --log-file="${VG_LOGDIR:-/tmp}/%s.%%p.log" %s "$@"\n' "${VG[*]}" \
        "$name" "$PWD/$prog" > "$WRAP/$name"
    chmod +x "$WRAP/$name"
done
# hostile.sh runs $SLUICE_BIN/tests/zmq_garbage: the test's own tool, not
# under valgrind (it would only throw less garbage).
ln -s "$PWD/build/tests/zmq_garbage" "$WRAP/tests/zmq_garbage"

tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
    for s in tests/integration/*.sh; do
        t=$(basename "$s" .sh)
        case $t in lib | netns | multihost | discover | big_file) continue ;; esac
        tests+=("$t")
    done
    # and the _push runs CTest has: sluice_integration_test(NAME ... push)
    tests+=($(sed -n 's/^sluice_integration_test(\([a-z_]*\) .* push)$/\1_push/p' tests/CMakeLists.txt))
fi
for t in "${tests[@]}"; do
    script=${t%_push}
    dispatch=${SLUICE_DISPATCH:-fair}
    [ "$script" != "$t" ] && dispatch=push
    if [ ! -f "tests/integration/$script.sh" ]; then
        echo "FAIL $t (no tests/integration/$script.sh)"; failed=1; continue
    fi
    mkdir -p "$LOGS/$t"
    start=$SECONDS
    VG_LOGDIR=$LOGS/$t SLUICE_DISPATCH=$dispatch SLUICE_BIN=$WRAP PYTHON=python3 \
        SLUICE_TESTS=$PWD/tests CHAOS_ROUNDS=${CHAOS_ROUNDS:-2} \
        HOSTILE_MAX_LATENCY_MS=${HOSTILE_MAX_LATENCY_MS:-30000} SINK_RESUME_MAX_MS=${SINK_RESUME_MAX_MS:-60000} \
        timeout 1800 bash "tests/integration/$script.sh" >"$LOGS/$t/out" 2>&1
    rc=$?
    took=$((SECONDS - start))
    if ! summary "$LOGS/$t" >"$LOGS/$t/report"; then
        echo "FAIL $t: memcheck report (${took}s)"; cat "$LOGS/$t/report"; failed=1
    elif [ $rc = 0 ]; then
        echo "ok   $t (${took}s)"; cat "$LOGS/$t/report"
    else
        echo "FAIL $t (${took}s): the test failed with no memcheck report (timing under" \
             "valgrind?): $(grep -m1 '^FAIL' "$LOGS/$t/out")"
        cat "$LOGS/$t/report"; failed=1
    fi
done
if [ $failed = 0 ]; then echo "valgrind: no report"; rm -rf "$LOGS"; else echo "logs: $LOGS"; fi
exit $failed
