"""Long tasks that must run once: check_starts.py RESULTS STARTS N

RESULTS is a sink's JSON Lines file of N tasks whose command appended its
seq to STARTS when it started and printed "done SEQ". Every seq 1..N must
have one ok result and have started exactly once (a task's attempts would
say 1 even when it ran twice, since the first good result wins).
"""
import collections
import json
import sys

records = [json.loads(l) for l in open(sys.argv[1])]
n = int(sys.argv[3])
assert sorted(r["seq"] for r in records) == list(range(1, n + 1)), records
for r in records:
    assert r["status"] == "ok" and r["output"] == "done %d\n" % r["seq"], r
starts = collections.Counter(l.strip() for l in open(sys.argv[2]) if l.strip())
twice = {k: c for k, c in starts.items() if c != 1}
assert not twice and len(starts) == n, "starts per seq: %s" % dict(starts)
print("%d tasks, each started once, results ok; workers:" % n,
      sorted(set(r["worker"] for r in records)))
