# Every option that takes a size, in every program, reads the same K/M/G/T
# suffixes (either case) through one parser, on the command line and in the
# configuration file, and the value is the one that takes effect:
# sluice-worker --max-output 1K keeps 1024 bytes of a task's output, a
# ventilator with --max-payload 1k refuses a 2000-byte line. A bad size is
# refused with a message naming the option and the value.
. "$(dirname "$0")/lib.sh"

# accepts PROG OPTION VALUE... : PROG takes each VALUE for OPTION (--help
# after it: the options are read in order, so a refused value exits 2 first).
accepts () {
    local prog=$1 opt=$2 value
    shift 2
    for value in "$@"; do
        "$SLUICE_BIN/sluice-$prog" "$opt" "$value" --help >/dev/null 2>"$WORK/err.txt" \
            || fail "sluice-$prog $opt $value refused: $(cat "$WORK/err.txt")"
        printf '%s\n    %s = %s\n' "$prog" "${opt#--}" "$value" >"$WORK/sluice.conf"
        "$SLUICE_BIN/sluice-$prog" --config "$WORK/sluice.conf" --help >/dev/null \
            2>"$WORK/err.txt" \
            || fail "sluice-$prog with '${opt#--} = $value' in its config file refused:" \
                "$(cat "$WORK/err.txt")"
    done
}
accepts worker --max-output 32M 32m 1K 1k 0 1048576
accepts worker --attach-cache-max 2G 2g 1T 500M 4096
accepts ventilator --max-payload 1M 1m 64K 64k 100
accepts broker --max-payload 1M 2m 4K
accepts broker --max-memory 32M 32m 1G 1g 2T
accepts broker --max-attachment 1G 1g 64M 10k

# Bad sizes: the option and the value named, exit 2.
for bad in 32X 1.5M -1 M "" 1MB; do
    "$SLUICE_BIN/sluice-worker" --max-output "$bad" --builtin echo 2>"$WORK/err.txt"
    expect_rc 2 $? "--max-output '$bad'"
    expect_grep "sluice-worker: --max-output: '$bad' is not a size" "$WORK/err.txt" \
        "message for --max-output '$bad'"
done
"$SLUICE_BIN/sluice-worker" --max-output 33M --builtin echo 2>"$WORK/err.txt"
expect_rc 2 $? "--max-output over 32M"
expect_grep "from 0 to 33554432 bytes" "$WORK/err.txt" "the bounds of --max-output"
"$SLUICE_BIN/sluice-ventilator" --max-payload 1Q x 2>"$WORK/err.txt"
expect_rc 2 $? "--max-payload 1Q"
expect_grep "sluice-ventilator: --max-payload: '1Q' is not a size" "$WORK/err.txt" \
    "message for --max-payload 1Q"

# The values take effect.
start_broker
printf 'worker\n    max-output = 1k\n' >"$WORK/worker.conf"
start_worker w1 --config "$WORK/worker.conf" --exec 'head -c 5000 /dev/zero | tr "\0" a' -j 2
wait_workers 1
printf 'one\ntwo\n' >"$WORK/tasks.txt"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job sizes "$WORK/tasks.txt" >/dev/null \
    2>"$WORK/ventilator.log" || fail "ventilator exit $?"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job sizes -o "$WORK/out.jsonl" --format jsonl \
    2>"$WORK/sink.log" || fail "sink exit $?"
"$PYTHON" - "$WORK/out.jsonl" <<'PY' || fail "output kept under --max-output 1k"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert sorted(r["seq"] for r in recs) == [1, 2], recs
for r in recs:
    if r["status"] != "ok" or r["output"] != "a" * 1024:
        sys.exit("task %d: %d bytes of output (%s), expected 1024" % (r["seq"], len(r["output"]), r["status"]))
PY
"$PYTHON" -c "print('x' * 2000)" >"$WORK/long.txt"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --max-payload 1k "$WORK/long.txt" \
    >/dev/null 2>"$WORK/err.txt"
expect_rc 1 $? "a 2000-byte line with --max-payload 1k"
expect_grep "over the 1024-byte limit (--max-payload)" "$WORK/err.txt" "--max-payload 1k in bytes"
echo "size options: K/M/G/T in either case, on the command line and in the config file"
