#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ with clang (ASan + UBSan) and
# runs each for a while on a copy of its seed corpus.
#
#   tests/fuzz/run.sh [SECONDS]     seconds per target (default $FUZZ_SECONDS, else 20)
#
# Targets: proto (sl_proto_decode), taskfile (sl_taskfile), writer
# (sink/writer.c, jsonl and text), jsontask (sl_jsontask, a JSONL task
# line), token (sl_token, the join token parser), httpreq (broker/httpreq.c,
# an HTTP request head), announce (broker/standbys.c, a standby's
# announcement on NATS, and lib/sl_discover.c, a discovery beacon). Everything is built and run in a temporary
# directory; the repository is only read. Prints one line per target,
#   fuzz TARGET: N executions in S s, no finding
# or, on a finding, the crashing input's path, its bytes in hex, and
# libFuzzer's report, and exits 1 (the temporary directory is then kept).
# Without clang it prints "SKIP: ..." and exits 0.
#
# To replay a crash: $WORK/fuzz_TARGET CRASH_FILE (the binary is kept too).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FUZZ_DIR=$ROOT/tests/fuzz
SECS=${1:-${FUZZ_SECONDS:-20}}
if ! [[ $SECS =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: tests/fuzz/run.sh [SECONDS]   (SECONDS a positive integer, got '$SECS')" >&2
    exit 2
fi

# target name, then its -max_len
TARGETS=(proto:4096 taskfile:65536 writer:65536 jsontask:4096 token:256 httpreq:16384 announce:1024)

CC=""
for candidate in clang clang-19 clang-18 clang-17 clang-16 clang-15 clang-14; do
    if command -v "$candidate" >/dev/null 2>&1; then
        CC=$candidate
        break
    fi
done
if [ -z "$CC" ]; then
    echo "SKIP: fuzzing needs clang (apt-get install clang)"
    exit 0
fi
for tool in protoc-c pkg-config; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "FAIL: fuzzing needs $tool (scripts/deps.sh installs it)" >&2
        exit 1
    fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sluice-fuzz.XXXXXX")
keep_work=0
cleanup () {
    if [ "$keep_work" = 0 ]; then
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

# Build: every source is compiled with coverage and sanitizers, ours with
# the project's warnings (not -Werror: a newer clang must not stop a run).
SAN=(-g -O1 "-fsanitize=fuzzer,address,undefined" -fno-sanitize-recover=all)
WARN=(-Wall -Wextra -Wpedantic -Wshadow -Wformat=2)
PKGS=(libczmq libzmq libprotobuf-c jansson)
read -r -a DEP_CFLAGS <<<"$(pkg-config --cflags "${PKGS[@]}")"
read -r -a DEPS <<<"$(pkg-config --cflags --libs "${PKGS[@]}")"
mkdir -p "$WORK/proto" "$WORK/obj" "$WORK/corpus" "$WORK/artifacts"
protoc-c --c_out="$WORK/proto" -I"$ROOT/proto" "$ROOT/proto/sluice.proto"
INC=(-std=c11 -D_GNU_SOURCE -I"$WORK/proto" -I"$ROOT/lib" -I"$ROOT/sink" -I"$ROOT/broker" "${DEP_CFLAGS[@]}")

build_log=$WORK/build.log
compile () { # OBJECT SOURCE [FLAGS...]
    local obj=$1 src=$2
    shift 2
    if ! "$CC" "${SAN[@]}" "${INC[@]}" "$@" -c "$src" -o "$obj" >>"$build_log" 2>&1; then
        keep_work=1
        echo "FAIL: cannot compile $src with $CC:" >&2
        cat "$build_log" >&2
        exit 1
    fi
}
link () { # BINARY OBJECTS...
    local bin=$1
    shift
    if ! "$CC" "${SAN[@]}" "$@" "${DEPS[@]}" -o "$bin" >>"$build_log" 2>&1; then
        keep_work=1
        echo "FAIL: cannot link $bin with $CC:" >&2
        cat "$build_log" >&2
        exit 1
    fi
}
compile "$WORK/obj/sluice.pb-c.o" "$WORK/proto/sluice.pb-c.c"
compile "$WORK/obj/sl_proto.o" "$ROOT/lib/sl_proto.c" "${WARN[@]}"
compile "$WORK/obj/sl_taskfile.o" "$ROOT/lib/sl_taskfile.c" "${WARN[@]}"
compile "$WORK/obj/writer.o" "$ROOT/sink/writer.c" "${WARN[@]}"
compile "$WORK/obj/sl_jsontask.o" "$ROOT/lib/sl_jsontask.c" "${WARN[@]}"
compile "$WORK/obj/sl_token.o" "$ROOT/lib/sl_token.c" "${WARN[@]}"
compile "$WORK/obj/httpreq.o" "$ROOT/broker/httpreq.c" "${WARN[@]}"
compile "$WORK/obj/standbys.o" "$ROOT/broker/standbys.c" "${WARN[@]}"
for src in sl_discover sl_endpoint sl_log sl_util; do
    compile "$WORK/obj/$src.o" "$ROOT/lib/$src.c" "${WARN[@]}"
done
for entry in "${TARGETS[@]}"; do
    target=${entry%%:*}
    compile "$WORK/obj/fuzz_$target.o" "$FUZZ_DIR/fuzz_$target.c" "${WARN[@]}"
done
link "$WORK/fuzz_proto" "$WORK/obj/fuzz_proto.o" "$WORK/obj/sl_proto.o" "$WORK/obj/sluice.pb-c.o"
link "$WORK/fuzz_taskfile" "$WORK/obj/fuzz_taskfile.o" "$WORK/obj/sl_taskfile.o"
link "$WORK/fuzz_writer" "$WORK/obj/fuzz_writer.o" "$WORK/obj/writer.o"
link "$WORK/fuzz_jsontask" "$WORK/obj/fuzz_jsontask.o" "$WORK/obj/sl_jsontask.o" -lm
link "$WORK/fuzz_token" "$WORK/obj/fuzz_token.o" "$WORK/obj/sl_token.o"
link "$WORK/fuzz_httpreq" "$WORK/obj/fuzz_httpreq.o" "$WORK/obj/httpreq.o"
link "$WORK/fuzz_announce" "$WORK/obj/fuzz_announce.o" "$WORK/obj/standbys.o" \
    "$WORK/obj/sl_discover.o" "$WORK/obj/sl_endpoint.o" "$WORK/obj/sl_log.o" "$WORK/obj/sl_util.o"
if grep -q "warning:" "$build_log"; then
    echo "note: $CC warned while building the targets:" >&2
    grep -A 3 "warning:" "$build_log" >&2
fi

# Corpora: the committed seeds, plus fresh proto seeds from the generator so
# they follow proto/sluice.proto. Working copies only; the repo is not written.
for entry in "${TARGETS[@]}"; do
    target=${entry%%:*}
    mkdir -p "$WORK/corpus/$target"
    if [ -d "$FUZZ_DIR/corpus/$target" ]; then
        cp -R "$FUZZ_DIR/corpus/$target/." "$WORK/corpus/$target/"
    fi
done
if ! "$CC" -g -O1 "${INC[@]}" "${WARN[@]}" "$FUZZ_DIR/make_proto_seeds.c" \
        "$WORK/proto/sluice.pb-c.c" "${DEPS[@]}" -o "$WORK/make_proto_seeds" >>"$build_log" 2>&1 ||
   ! mkdir -p "$WORK/corpus/proto/generated" ||
   ! "$WORK/make_proto_seeds" "$WORK/corpus/proto/generated"; then
    keep_work=1
    echo "FAIL: cannot build or run make_proto_seeds:" >&2
    tail -n 30 "$build_log" >&2
    exit 1
fi

# Run: one target after the other, each for SECS seconds.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
for entry in "${TARGETS[@]}"; do
    target=${entry%%:*}
    max_len=${entry##*:}
    log=$WORK/$target.log
    rc=0
    "$WORK/fuzz_$target" -max_total_time="$SECS" -max_len="$max_len" -timeout=30 \
        -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$WORK/artifacts/$target-" \
        "$WORK/corpus/$target" >"$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
    crash=$(find "$WORK/artifacts" -name "$target-*" -type f | head -n 1)
    if [ "$rc" = 0 ] && [ -z "$crash" ] && [ -n "$execs" ]; then
        echo "fuzz $target: $execs executions in ${secs:-$SECS} s, no finding"
        continue
    fi
    failed=1
    keep_work=1
    echo "FAIL: fuzz $target (exit status $rc) after ${execs:-?} executions"
    if [ -n "$crash" ]; then
        echo "crash input: $crash ($(stat -c %s "$crash") bytes)"
        echo "its bytes in hex (first 512):"
        head -c 512 "$crash" | od -An -tx1 -v
        echo "replay: $WORK/fuzz_$target $crash"
    fi
    echo "libFuzzer report (full log: $log):"
    # From the first report line on, else the end of the log
    first=$(grep -n -m 1 -E "^==[0-9]+==|runtime error:|^fuzz_$target:|deadly signal|ERROR: libFuzzer" \
        "$log" | cut -d: -f1 || true)
    if [ -n "$first" ]; then
        tail -n +"$first" "$log" | head -n 120
    else
        tail -n 60 "$log"
    fi
done
if [ "$failed" != 0 ]; then
    echo "fuzzing found a problem; work directory kept: $WORK" >&2
    exit 1
fi
