# Named queues: workers running different commands on one broker.
#   1. Workers A (queue alpha), B (beta), C (alpha and beta) and D (the
#      default queue) each mark their output; jobs on alpha, beta and the
#      default queue: every result exactly once, and none from a worker that
#      does not serve the job's queue.
#   2. A queue no worker serves: its job waits, visible in sluice-ctl status
#      (queued, 0 workers), survives a broker restart in its queue, and runs
#      once a worker for it joins.
#   3. Fairness across queues: one worker serving two queues alternates
#      between them, so a short job on one is not stuck behind a flood on
#      the other.
#   4. A broker in --dispatch push refuses named queues with a clear error.
. "$(dirname "$0")/lib.sh"

CTL="$SLUICE_BIN/sluice-ctl"
VENT="$SLUICE_BIN/sluice-ventilator"
make_tasks () { # FILE COUNT TAG
    for i in $(seq 1 "$2"); do echo "$3-$i"; done >"$1"
}
status_json () {
    "$CTL" --broker "$BROKER" status --json >"$WORK/status.json" || fail "status exit $?"
}

start_broker
start_worker wA --queue alpha --exec 'printf A:%s {}' -j 2
WA=$LAST_PID
start_worker wB --queue beta --exec 'printf B:%s {}' -j 2
WB=$LAST_PID
start_worker wC -Q alpha -Q beta --exec 'printf C:%s {}' -j 1 --prefetch 0
WC=$LAST_PID
start_worker wD --exec 'printf D:%s {}' -j 2
wait_workers 4
make_tasks "$WORK/a.txt" 300 a
make_tasks "$WORK/b.txt" 300 b
make_tasks "$WORK/d.txt" 100 d
"$VENT" --broker "$BROKER" --queue alpha --job ja "$WORK/a.txt" >/dev/null 2>>"$WORK/vent.log" \
    || fail "ventilator alpha exit $?"
"$VENT" --broker "$BROKER" -Q beta --job jb "$WORK/b.txt" >/dev/null 2>>"$WORK/vent.log" \
    || fail "ventilator beta exit $?"
"$VENT" --broker "$BROKER" --job jd "$WORK/d.txt" >/dev/null 2>>"$WORK/vent.log" \
    || fail "ventilator default exit $?"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" -o "$WORK/out1.jsonl" --format jsonl \
    2>"$WORK/sink1.log" || fail "sink exit $?"
"$PYTHON" - "$WORK/out1.jsonl" <<'PY' || fail "results of the three queues"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
allowed = {"ja": "AC", "jb": "BC", "jd": "D"}
sizes = {"ja": 300, "jb": 300, "jd": 100}
tags = {"ja": "a", "jb": "b", "jd": "d"}
for job, marks in allowed.items():
    rs = [r for r in recs if r["job"] == job]
    seqs = sorted(r["seq"] for r in rs)
    if seqs != list(range(1, sizes[job] + 1)):
        sys.exit("%s: seqs are not 1..%d once each" % (job, sizes[job]))
    for r in rs:
        mark, _, payload = r["output"].partition(":")
        if r["status"] != "ok" or mark not in marks or payload != "%s-%d" % (tags[job], r["seq"]):
            sys.exit("%s: task %d ran on worker %s (output %r)" % (job, r["seq"], mark, r["output"]))
    print("%s: %d results from workers %s" % (job, len(rs), "".join(sorted({r["output"][0] for r in rs}))))
PY

# --- A queue nobody serves: it waits, across a broker restart -----------------------
make_tasks "$WORK/g.txt" 40 g
"$VENT" --broker "$BROKER" --queue gamma --job jg "$WORK/g.txt" >/dev/null 2>>"$WORK/vent.log" \
    || fail "ventilator gamma exit $?"
sleep 0.5
status_json
"$PYTHON" - "$WORK/status.json" <<'PY' || fail "status of a queue without workers"
import json, sys
s = json.load(open(sys.argv[1]))
q = {q["name"]: q for q in s["queues"]}
j = {j["id"]: j for j in s["jobs"]}
ok = (q["gamma"]["queued"] == 40 and q["gamma"]["workers"] == 0 and q["alpha"]["workers"] == 2
      and q["beta"]["workers"] == 2 and q["default"]["workers"] == 1
      and j["jg"]["queue"] == "gamma" and j["jg"]["queued"] == 40)
ws = {w["pid"]: sorted(w["queues"]) for w in s["workers"]}
ok = ok and sorted(ws.values()) == [["alpha"], ["alpha", "beta"], ["beta"], ["default"]]
sys.exit(0 if ok else "status: " + json.dumps(s, indent=1))
PY
"$CTL" --broker "$BROKER" status | grep -Eq "^gamma +40 +0 +0  \(no worker serves it\)$" \
    || fail "the status table does not show queue gamma waiting"
kill -TERM "$BROKER_PID"
wait_pid "$BROKER_PID" 20
start_broker
wait_workers 8
status_json
"$PYTHON" -c '
import json, sys
s = json.load(open(sys.argv[1]))
j = {j["id"]: j for j in s["jobs"]}
sys.exit(0 if j["jg"]["queue"] == "gamma" and j["jg"]["queued"] == 40 else json.dumps(s))
' "$WORK/status.json" || fail "job jg lost its queue across a broker restart"
start_worker wG --queue gamma --exec 'printf G:%s {}' -j 2
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job jg -o "$WORK/out2.jsonl" --format jsonl \
    2>"$WORK/sink2.log" || fail "sink of the gamma job exit $?"
"$PYTHON" -c '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
ok = sorted(r["seq"] for r in recs) == list(range(1, 41)) and all(r["output"] == "G:g-%d" % r["seq"] for r in recs)
sys.exit(0 if ok else "gamma results wrong")
' "$WORK/out2.jsonl" || fail "results of the gamma job"

# --- Fairness across queues -------------------------------------------------------------
# Only C, serving alpha and beta, with one slot: a flood on alpha, then a
# short job on beta. C alternates between its queues, so beta's job ends
# long before alpha's. C is stopped while both are submitted (well within
# its liveness), so that what is measured is the broker's choice, not how
# many flood tasks C ran while the second ventilator started (a sanitizer
# build starts slowly).
kill -TERM "$WA" "$WB"
wait_pid "$WA" 20
wait_pid "$WB" 20
make_tasks "$WORK/flood.txt" 400 f
make_tasks "$WORK/short.txt" 20 s
kill -STOP "$WC"
"$VENT" --broker "$BROKER" --queue alpha --job flood "$WORK/flood.txt" >/dev/null \
    2>>"$WORK/vent.log" || { kill -CONT "$WC"; fail "ventilator flood exit $?"; }
"$VENT" --broker "$BROKER" --queue beta --job short "$WORK/short.txt" >/dev/null \
    2>>"$WORK/vent.log" || { kill -CONT "$WC"; fail "ventilator short exit $?"; }
kill -CONT "$WC"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" -o "$WORK/out3.jsonl" --format jsonl \
    2>"$WORK/sink3.log" || fail "sink of flood and short exit $?"
"$PYTHON" - "$WORK/out3.jsonl" <<'PY' || fail "a short job on one queue waited behind a flood on another"
import json, sys
jobs = [json.loads(l)["job"] for l in open(sys.argv[1])]
last_short = max(i for i, j in enumerate(jobs) if j == "short")
flood_before = sum(1 for j in jobs[:last_short] if j == "flood")
print("fairness: the short job's last result came after %d of the flood's 400" % flood_before)
sys.exit(0 if jobs.count("flood") == 400 and jobs.count("short") == 20 and flood_before < 60 else 1)
PY

# --- A built-in worker (the library's worker API) serving two queues ---------------------
# Only C (alpha, beta, exec) is left; an echo worker serving delta and
# epsilon takes the jobs of both, and no task of alpha reaches it.
start_worker wE -Q delta -Q epsilon --builtin echo -j 2
make_tasks "$WORK/delta.txt" 30 d
make_tasks "$WORK/eps.txt" 30 e
make_tasks "$WORK/alpha2.txt" 30 a
"$VENT" --broker "$BROKER" --queue delta --job jdelta "$WORK/delta.txt" >/dev/null \
    2>>"$WORK/vent.log" || fail "ventilator delta exit $?"
"$VENT" --broker "$BROKER" --queue epsilon --job jeps "$WORK/eps.txt" >/dev/null \
    2>>"$WORK/vent.log" || fail "ventilator epsilon exit $?"
"$VENT" --broker "$BROKER" --queue alpha --job jalpha "$WORK/alpha2.txt" >/dev/null \
    2>>"$WORK/vent.log" || fail "ventilator alpha exit $?"
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" -o "$WORK/out4.jsonl" --format jsonl \
    2>"$WORK/sink4.log" || fail "sink of delta, epsilon and alpha exit $?"
"$PYTHON" - "$WORK/out4.jsonl" <<'PY' || fail "a built-in worker with two queues"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
want = {"jdelta": ("d", ""), "jeps": ("e", ""), "jalpha": ("a", "C:")}
seen = {}
for r in recs:
    prefix, out = want[r["job"]]
    assert r["output"] == out + "%s-%d" % (prefix, r["seq"]), r
    seen.setdefault(r["job"], []).append(r["seq"])
assert all(sorted(v) == list(range(1, 31)) for v in seen.values()) and len(seen) == 3, seen
PY
expect_grep "queues delta,epsilon" "$WORK/wE.log" "built-in worker's queues"

# --- Push dispatch has the default queue only ---------------------------------------------
PUSH_BROKER="tcp://127.0.0.1:$(free_port)"
start_bg push-broker "$SLUICE_BIN/sluice-broker" --bind "$PUSH_BROKER" --in-memory --dispatch push
sleep 0.3
"$SLUICE_BIN/sluice-worker" --broker "$PUSH_BROKER" --queue alpha --builtin echo \
    --connect-timeout 5 2>"$WORK/push-worker.log"
expect_rc 1 "$?" "worker with a named queue on a push broker"
expect_grep "named queues need --dispatch fair" "$WORK/push-worker.log" "push refusal"
echo "queues: isolation, waiting, restart, fairness and push refusal checked"
