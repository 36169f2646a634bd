# Clear errors and exit statuses for bad usage and bad situations, and
# --help / --version for every program.
. "$(dirname "$0")/lib.sh"

for prog in broker ventilator worker sink; do
    "$SLUICE_BIN/sluice-$prog" --help >"$WORK/help.txt" 2>&1
    expect_rc 0 $? "sluice-$prog --help"
    expect_grep "Usage: sluice-$prog" "$WORK/help.txt" "help of $prog"
    "$SLUICE_BIN/sluice-$prog" --version >"$WORK/version.txt" 2>&1
    expect_rc 0 $? "sluice-$prog --version"
    expect_grep "sluice-$prog 0\." "$WORK/version.txt" "version of $prog"
    "$SLUICE_BIN/sluice-$prog" --no-such-option >"$WORK/bad.txt" 2>&1
    expect_rc 2 $? "sluice-$prog --no-such-option"
    "$SLUICE_BIN/sluice-$prog" --broker tcp://nohost >"$WORK/bad.txt" 2>&1
    expect_rc 2 $? "sluice-$prog with an address without a port"
done
expect_grep "tcp://HOST:PORT" "$WORK/bad.txt" "bad address message"

# Ventilator: missing file, directory, no file argument, bad numbers.
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" "$WORK/missing.txt" >"$WORK/out.txt" 2>"$WORK/err.txt"
expect_rc 1 $? "missing task file"
expect_grep "cannot open $WORK/missing.txt: No such file or directory" "$WORK/err.txt" "missing file"
[ ! -s "$WORK/out.txt" ] || fail "a job id was printed for a missing file"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" "$WORK" >/dev/null 2>"$WORK/err.txt"
expect_rc 1 $? "directory as task file"
expect_grep "Is a directory" "$WORK/err.txt" "directory"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" >/dev/null 2>"$WORK/err.txt"
expect_rc 2 $? "no task file"
"$SLUICE_BIN/sluice-ventilator" --timeout abc x >/dev/null 2>"$WORK/err.txt"
expect_rc 2 $? "bad --timeout"
expect_grep "'abc' is not a number of seconds" "$WORK/err.txt" "bad --timeout message"
"$SLUICE_BIN/sluice-worker" --builtin echo -j 0 2>"$WORK/err.txt"
expect_rc 2 $? "-j 0"
"$SLUICE_BIN/sluice-worker" --builtin nope 2>"$WORK/err.txt"
expect_rc 2 $? "unknown builtin"
"$SLUICE_BIN/sluice-worker" 2>"$WORK/err.txt"
expect_rc 2 $? "worker without --exec"
expect_grep "give either --exec CMD or --builtin NAME" "$WORK/err.txt" "worker usage"
"$SLUICE_BIN/sluice-sink" --format xml 2>"$WORK/err.txt"
expect_rc 2 $? "bad --format"

# A line over --max-payload: named by file and line, nothing sent.
printf 'ok\n%s\nok\n' "$(head -c 2000 /dev/zero | tr '\0' x)" > "$WORK/long.txt"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --max-payload 1000 "$WORK/long.txt" \
    >"$WORK/out.txt" 2>"$WORK/err.txt"
expect_rc 1 $? "line over --max-payload"
expect_grep "$WORK/long.txt:2: line is 2000 bytes, over the 1000-byte limit" "$WORK/err.txt" "long line"

# No broker: the ventilator says it is waiting, then gives up clearly.
start=$(date +%s%N)
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --connect-timeout 1.5 "$WORK/long.txt" \
    --max-payload 5000 >"$WORK/out.txt" 2>"$WORK/err.txt"
rc=$?
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
expect_rc 1 $rc "unreachable broker"
expect_grep "waiting for broker at $BROKER" "$WORK/err.txt" "waiting message"
expect_grep "no broker answered at $BROKER within 1.5 s" "$WORK/err.txt" "timeout message"
[ ! -s "$WORK/out.txt" ] || fail "a job id was printed with no broker"
[ "$elapsed" -lt 10000 ] || fail "--connect-timeout 1.5 took ${elapsed} ms"
"$SLUICE_BIN/sluice-worker" --broker "$BROKER" --builtin echo --connect-timeout 0.5 2>"$WORK/err.txt"
expect_rc 1 $? "worker with no broker"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --connect-timeout 0.5 2>"$WORK/err.txt"
expect_rc 2 $? "sink with no broker"

# A second broker on the same ports fails clearly.
start_broker
"$SLUICE_BIN/sluice-broker" --bind "$BROKER" 2>"$WORK/err.txt"
expect_rc 1 $? "second broker on the same ports"
expect_grep "Address already in use" "$WORK/err.txt" "port in use"

# Two sinks: the second is refused with a message naming the first.
start_bg sink1 "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --follow -o "$WORK/s1.txt"
sleep 0.5
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" -o "$WORK/s2.txt" 2>"$WORK/err.txt"
expect_rc 2 $? "second sink"
expect_grep "another sink (.*) is attached" "$WORK/err.txt" "second sink message"

# The broker's --max-payload is smaller than the ventilator's: the file is
# checked against the broker's before anything is sent.
PORT=$(free_port)
BROKER="tcp://127.0.0.1:$PORT"
start_broker --max-payload 100
printf 'short\n%s\n' "$(head -c 200 /dev/zero | tr '\0' y)" > "$WORK/mid.txt"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" "$WORK/mid.txt" >"$WORK/out.txt" 2>"$WORK/err.txt"
expect_rc 1 $? "line over the broker's --max-payload"
expect_grep "$WORK/mid.txt:2: line is 200 bytes, over the 100-byte limit" "$WORK/err.txt" "broker limit"
expect_grep "the broker's --max-payload" "$WORK/err.txt" "names the broker's limit"
