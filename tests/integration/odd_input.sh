# Task files that are hard to get right: an empty file, 1 MiB lines, NUL
# bytes, invalid UTF-8, quotes and backslashes, CRLF line ends and no final
# newline. Every payload must come back byte for byte, through the echo
# built-in and through `--exec cat`, and the JSONL must stay valid JSON.
. "$(dirname "$0")/lib.sh"

start_broker

# An empty task file is a job of zero tasks: the ventilator prints its id
# and exits 0; the sink sees it finish and exits 0 with nothing written.
: > "$WORK/empty.txt"
JOB=$("$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" "$WORK/empty.txt" 2>"$WORK/v0.log") \
    || fail "ventilator on an empty file"
[ -n "$JOB" ] || fail "no job id for the empty file"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" -o "$WORK/empty.jsonl" -f jsonl 2>"$WORK/s0.log"
expect_rc 0 $? "sink of an empty job"
[ ! -s "$WORK/empty.jsonl" ] || fail "empty job produced output"
expect_grep "0 results: 0 ok" "$WORK/s0.log" "empty summary"

"$PYTHON" - "$WORK/odd.txt" <<'PY'
import sys
lines = [
    b"plain",
    b"x" * (1024 * 1024),                      # exactly the default --max-payload
    b"nul\x00inside\x00",
    b"\xff\xfe invalid \xc3\x28 utf-8 \xed\xa0\x80",
    b"quotes ' \" and \\ backslash \\n not a newline",
    b"tab\there\x01\x1f control",
    b"crlf line\r",                             # written with \r\n: the \r is stripped
    b"  leading and trailing spaces  ",
    b"\xe2\x82\xac uni\xc3\xa9code \xf0\x9f\x98\x80",
    b"y" * 300000,
    b"$(touch /tmp/sluice-should-not-exist) `id` ; rm -rf nothing",
]
with open(sys.argv[1], "wb") as f:
    f.write(b"\n".join(lines[:6]))
    f.write(b"\n\n\n")                          # empty lines are skipped
    f.write(b"\n".join(lines[6:]))              # no final newline
PY
# What the sink must see: the same lines as the checker reads them.
for mode in echo exec; do
    if [ $mode = echo ]; then
        start_worker "w-$mode" --builtin echo -j 2
    else
        start_worker "w-$mode" --exec cat -j 2
    fi
    wpid=$LAST_PID
    JOB=$("$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" "$WORK/odd.txt" 2>"$WORK/v-$mode.log") \
        || fail "ventilator ($mode)"
    "$SLUICE_BIN/sluice-sink" --broker "$BROKER" -o "$WORK/$mode.jsonl" -f jsonl 2>"$WORK/s-$mode.log"
    expect_rc 0 $? "sink ($mode)"
    $CHECK "$WORK/odd.txt" "$WORK/$mode.jsonl" --expect echo --job "$JOB" || fail "$mode: payloads changed"
    kill "$wpid"; wait "$wpid" 2>/dev/null
done

# The same file through standard input ("-").
start_worker w-stdin --builtin echo -j 2
wpid=$LAST_PID
JOB=$("$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" - <"$WORK/odd.txt" 2>"$WORK/v-stdin.log") \
    || fail "ventilator reading stdin"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job "$JOB" -o "$WORK/stdin.jsonl" -f jsonl \
    2>"$WORK/s-stdin.log"
expect_rc 0 $? "sink (stdin)"
$CHECK "$WORK/odd.txt" "$WORK/stdin.jsonl" --expect echo --job "$JOB" || fail "stdin: payloads changed"
kill "$wpid"; wait "$wpid" 2>/dev/null

# {} substitution quotes the payload: it is data, never a command.
rm -f /tmp/sluice-should-not-exist
start_worker w-subst --exec 'printf "%s" {}' -j 2
"$PYTHON" - "$WORK/subst.txt" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    f.write(b"$(touch /tmp/sluice-should-not-exist)\n")
    f.write(b"`touch /tmp/sluice-should-not-exist`\n")
    f.write(b"'; touch /tmp/sluice-should-not-exist; '\n")
    f.write(b"it's \"quoted\" \\ and {} braces\n")
PY
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" "$WORK/subst.txt" >/dev/null 2>"$WORK/v-subst.log" \
    || fail "ventilator (subst)"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" -o "$WORK/subst.jsonl" -f jsonl 2>"$WORK/s-subst.log"
expect_rc 0 $? "sink (subst)"
$CHECK "$WORK/subst.txt" "$WORK/subst.jsonl" --expect echo || fail "substituted payloads changed"
[ ! -e /tmp/sluice-should-not-exist ] || fail "a payload was executed as a command"
