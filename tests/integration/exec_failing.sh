# --exec with a command that fails for some payloads: status and exit code
# reach the sink, the sink exits 1 and names the failed seqs.
. "$(dirname "$0")/lib.sh"

seq 0 29 > "$WORK/tasks.txt"
start_broker
# Payload n: prints "out n" on stdout, "err n" on stderr, exits n % 3.
start_worker w1 -j 3 --exec 'read n; echo "out $n"; echo "err $n" >&2; exit $((n % 3))'
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" "$WORK/tasks.txt" \
    >/dev/null 2>"$WORK/ventilator.log" || fail "ventilator failed"
start_bg sink "$SLUICE_BIN/sluice-sink" --broker "$BROKER" -o "$WORK/out.jsonl" -f jsonl
wait_pid "$LAST_PID" 60
expect_rc 1 "$WAIT_RC" "sink with failed tasks"
$CHECK "$WORK/tasks.txt" "$WORK/out.jsonl" --status any || fail "results incomplete"
"$PYTHON" - "$WORK/out.jsonl" <<'PY' || fail "statuses or exit codes wrong"
import json, sys
bad = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    n = r["seq"] - 1
    want_code = n % 3
    want_status = "ok" if want_code == 0 else "failed"
    if (r["status"], r["exit_code"], r["output"]) != (want_status, want_code, "out %d\n" % n):
        print("seq", r["seq"], r, file=sys.stderr); bad += 1
    if r.get("stderr") != "err %d\n" % n:
        print("seq", r["seq"], "stderr", r.get("stderr"), file=sys.stderr); bad += 1
sys.exit(1 if bad else 0)
PY
expect_grep "30 results: 10 ok, 20 failed, 0 timed out; failed seqs: " "$WORK/sink.log" "summary"
# The first 20 failed seqs (n % 3 != 0, seq = n + 1) are listed.
expect_grep "failed seqs: 2 3 5 6 8 9 11 12 14 15 17 18 20 21 23 24 26 27 29 30$" \
    "$WORK/sink.log" "failed seqs"

# Text format: outputs only, newline-terminated, same exit status.
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" "$WORK/tasks.txt" >/dev/null 2>>"$WORK/ventilator.log"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" >"$WORK/out.txt" 2>>"$WORK/sink2.log"
expect_rc 1 $? "text sink"
sort "$WORK/out.txt" > "$WORK/out.sorted"
for n in $(seq 0 29); do echo "out $n"; done | sort > "$WORK/want.sorted"
cmp -s "$WORK/out.sorted" "$WORK/want.sorted" || fail "text output differs"
