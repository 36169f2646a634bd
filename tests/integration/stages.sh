# Multi-stage jobs (ventilator --then): 10,000 tasks through three stages,
# each on its own queue with its own command (each appends its mark to the
# payload), with one of the two stage-2 workers killed (-9) mid-job, and the
# broker restarted (SIGTERM) between: every task's final result comes out
# exactly once, with the output of all three stages in order and "stage":
# 3. A task that fails in stage 2 ends there, "stage": 2, and goes no
# further. The plain composition also works: one broker's results in text
# piped into another job (sluice-sink ... | sluice-ventilator -).
. "$(dirname "$0")/lib.sh"

N=${STAGES_TASKS:-10000}
for i in $(seq 1 "$N"); do echo "t$i"; done >"$WORK/tasks.txt"
# Stage 2 fails the tasks whose payload ends in 7 (exit status 7).
start_broker
start_worker s1 --queue s1 --exec 'printf %s/1 {}' -j 2
start_worker s2a --queue s2 --exec 'case {} in *7/1) exit 7;; esac; printf %s/2 {}' -j 2
S2A=$LAST_PID
start_worker s2b --queue s2 --exec 'case {} in *7/1) exit 7;; esac; printf %s/2 {}' -j 2
start_worker s3 --queue s3 --exec 'printf %s/3 {}' -j 2
wait_workers 4
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job staged --queue s1 --then s2 \
    --then s3 "$WORK/tasks.txt" >/dev/null 2>"$WORK/ventilator.log" || fail "ventilator exit $?"
start_bg sink "$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job staged -o "$WORK/out.jsonl" \
    --format jsonl
SINK=$LAST_PID
# A quarter of the way: kill one stage-2 worker, then restart the broker.
for ((i = 0; i < 600; i++)); do
    [ -f "$WORK/out.jsonl" ] && [ "$(wc -l <"$WORK/out.jsonl")" -ge $((N / 4)) ] && break
    sleep 0.05
done
kill -KILL "$S2A"
sleep 0.5
kill -TERM "$BROKER_PID"
wait_pid "$BROKER_PID" 20
start_broker
wait_pid "$SINK" 300
expect_rc 1 "$WAIT_RC" "sink (the tasks ending in 7 failed in stage 2)"
"$PYTHON" - "$WORK/out.jsonl" "$N" <<'PY' || fail "results of the three-stage job"
import json, sys
n = int(sys.argv[2])
recs = [json.loads(l) for l in open(sys.argv[1])]
seqs = sorted(r["seq"] for r in recs)
if seqs != list(range(1, n + 1)):
    sys.exit("seqs are not 1..%d once each (%d records)" % (n, len(recs)))
for r in recs:
    payload = "t%d" % r["seq"]
    if payload.endswith("7"):
        want = ("failed", 2, "")
    else:
        want = ("ok", 3, payload + "/1/2/3")
    got = (r["status"], r.get("stage"), r["output"])
    if got != want:
        sys.exit("task %d: %s, not %s" % (r["seq"], got, want))
print("stages: %d tasks, each once, through 3 stages (%d failed in stage 2)"
      % (n, sum(1 for r in recs if r["status"] == "failed")))
PY

# The plain composition: results of job plain on this broker, as text,
# become the tasks of a job on a second broker.
head -n 50 "$WORK/tasks.txt" >"$WORK/fifty.txt"
"$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job plain --queue s1 "$WORK/fifty.txt" \
    >/dev/null 2>>"$WORK/ventilator.log" || fail "ventilator plain exit $?"
BROKER2="tcp://127.0.0.1:$(free_port)"
start_bg broker2 "$SLUICE_BIN/sluice-broker" --bind "$BROKER2" --in-memory
start_bg w2 "$SLUICE_BIN/sluice-worker" --broker "$BROKER2" --exec 'printf %s/x {}' -j 2
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job plain --format text 2>"$WORK/sink-plain.log" |
    "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER2" --job piped - >/dev/null \
        2>"$WORK/ventilator2.log" || fail "piped ventilator exit $?"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER2" --job piped --format text -o "$WORK/piped.txt" \
    2>"$WORK/sink-piped.log" || fail "sink of the piped job exit $?"
sed 's|$|/1/x|' "$WORK/fifty.txt" | sort >"$WORK/want.txt"
sort "$WORK/piped.txt" | cmp -s - "$WORK/want.txt" || fail "the piped job's output is not t1/1/x..t50/1/x"
echo "stages: three-stage job and piped composition checked"
