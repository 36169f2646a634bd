# What the broker says about a damaged journal tail (issue 14): the damage a
# crash leaves is repaired, and the log says what was really dropped, naming
# the segment file.
# (a) A segment cut in half (not at a record boundary): the log names the
#     file, the bytes dropped from which byte, the records kept before them
#     (both counted here from the file itself), and that what followed the
#     cut may be lost too; the broker starts and holds exactly those tasks.
# (b) A segment emptied (0 bytes): the log names the file and says it was
#     empty and that every record it held may be lost; the broker starts
#     empty.
. "$(dirname "$0")/lib.sh"

# job JOB N : submits N tasks as job JOB and stops the broker.
job () {
    seq "$2" | sed 's/^/damage task /' >"$WORK/$1.txt"
    start_broker
    "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job "$1" "$WORK/$1.txt" >/dev/null \
        2>>"$WORK/ventilator.log" || fail "ventilator of $1: exit $?"
    kill -TERM "$BROKER_PID"
    wait_pid "$BROKER_PID" 15
    local segs=("$WORK/data-$PORT"/journal-*.wal)
    [ ${#segs[@]} = 1 ] || fail "expected one journal segment, found ${segs[*]}"
    SEGMENT=${segs[0]}
}

# --- (a) cut in half --------------------------------------------------------
echo "(a) a segment cut in half"
job cut 20000
# Cut mid-record at half the file; count what a replay can keep.
read -r CUT KEEP_BYTES KEEP_RECORDS < <("$PYTHON" - "$SEGMENT" <<'PY'
import struct, sys
path = sys.argv[1]
data = open(path, "rb").read()
cut = len(data) // 2
at, records = 16, 0
while at + 9 <= len(data):
    size = struct.unpack_from("<I", data, at)[0]
    if at + 9 + size > cut:
        break
    at += 9 + size
    records += 1
if at == cut:
    cut += 1  # land inside a record, not on a boundary
open(path, "r+b").truncate(cut)
print(cut, at, records)
PY
)
echo "(a) cut at byte $CUT: $KEEP_RECORDS whole records ($KEEP_BYTES bytes) before it"
seen=$(wc -l <"$WORK/broker.log")
start_broker
tail -n +$((seen + 1)) "$WORK/broker.log" >"$WORK/restart-a.log"
expect_grep "journal segment $SEGMENT: dropped its last $((CUT - KEEP_BYTES)) bytes, from byte $KEEP_BYTES" \
    "$WORK/restart-a.log" "(a) the bytes dropped and where, naming the segment"
expect_grep "1 incomplete record; the $KEEP_RECORDS records before it are kept" \
    "$WORK/restart-a.log" "(a) the records kept"
expect_grep "whatever followed its byte $CUT is lost too" "$WORK/restart-a.log" \
    "(a) what a cut may have lost beyond the bytes seen"
echo "(a) $(grep 'dropped its last' "$WORK/restart-a.log" | sed 's/.*journal segment/journal segment/')"
[ "$(stat -c %s "$SEGMENT")" = "$KEEP_BYTES" ] || fail "(a) the segment was not cut back to $KEEP_BYTES bytes"
"$SLUICE_BIN/sluice-ctl" --broker "$BROKER" status --json >"$WORK/status-a.json" \
    2>>"$WORK/ctl.log" || fail "(a) sluice-ctl status: exit $?"
kill -TERM "$BROKER_PID"
wait_pid "$BROKER_PID" 15

# --- (b) emptied -----------------------------------------------------------
echo "(b) a segment emptied"
PORT=$(free_port)
BROKER="tcp://127.0.0.1:$PORT"
job empty 500
: >"$SEGMENT"
seen=$(wc -l <"$WORK/broker.log")
start_broker
tail -n +$((seen + 1)) "$WORK/broker.log" >"$WORK/restart-b.log"
expect_grep "journal segment $SEGMENT was empty (0 bytes)" "$WORK/restart-b.log" \
    "(b) a warning naming the emptied segment"
expect_grep "every record it held is lost" "$WORK/restart-b.log" "(b) what it means"
grep -q "^W:.*was empty (0 bytes)" "$WORK/restart-b.log" || fail "(b) not a warning"
echo "(b) $(grep 'was empty' "$WORK/restart-b.log" | sed 's/.*journal segment/journal segment/' | cut -c1-160)..."
echo "journal_damage: checked"
