#!/usr/bin/env python3
"""Checks a sink's JSONL output against the task file it came from.

Every line of the output must be valid JSON with the documented fields; every
task of the file (one per non-empty line, CR of CRLF stripped) must appear
exactly once, with its seq, and nothing else may appear.

usage: check_results.py TASKS RESULTS [--expect echo|none] [--status ok|any]
       [--exit-code-from-payload] [--workers N] [--job ID]
  --expect echo   each output must equal its task's payload exactly
  --status ok     every result must be ok
  --workers N     results must come from exactly N distinct workers
"""
import argparse
import base64
import json
import sys


def tasks_of(path):
    data = open(path, "rb").read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    tasks = []
    for line in lines:
        if line.endswith(b"\r"):
            line = line[:-1]
        if line:
            tasks.append(line)
    return tasks


def output_bytes(rec):
    if "output_base64" in rec:
        return base64.b64decode(rec["output_base64"])
    return rec["output"].encode("utf-8")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tasks")
    ap.add_argument("results")
    ap.add_argument("--expect", choices=["echo", "none"], default="none")
    ap.add_argument("--status", choices=["ok", "any"], default="ok")
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--job")
    args = ap.parse_args()

    tasks = tasks_of(args.tasks)
    seen = {}
    errors = []
    workers = set()
    required = {"job": str, "seq": int, "status": str, "exit_code": int, "attempts": int,
                "worker": str, "duration_ms": int, "output": str}
    with open(args.results, "rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                rec = json.loads(raw)
            except ValueError as e:
                errors.append("line %d is not JSON (%s): %r" % (n, e, raw[:80]))
                continue
            for key, kind in required.items():
                if not isinstance(rec.get(key), kind) or isinstance(rec.get(key), bool):
                    errors.append("line %d: field %s missing or not %s" % (n, key, kind.__name__))
            if errors:
                continue
            if args.job and rec["job"] != args.job:
                errors.append("line %d: job %s, expected %s" % (n, rec["job"], args.job))
            seq = rec["seq"]
            if seq in seen:
                errors.append("seq %d delivered twice (lines %d and %d)" % (seq, seen[seq], n))
            seen[seq] = n
            if not 1 <= seq <= len(tasks):
                errors.append("line %d: seq %d out of range 1..%d" % (n, seq, len(tasks)))
                continue
            if rec["attempts"] < 1:
                errors.append("seq %d: attempts %d" % (seq, rec["attempts"]))
            if args.status == "ok" and rec["status"] != "ok":
                errors.append("seq %d: status %s" % (seq, rec["status"]))
            if args.expect == "echo" and output_bytes(rec) != tasks[seq - 1]:
                errors.append("seq %d: output %r != payload %r"
                              % (seq, output_bytes(rec)[:60], tasks[seq - 1][:60]))
            workers.add(rec["worker"])
    missing = [s for s in range(1, len(tasks) + 1) if s not in seen]
    if missing:
        errors.append("%d seqs missing, e.g. %s" % (len(missing), missing[:10]))
    if args.workers and len(workers) != args.workers:
        errors.append("results from %d workers %s, expected %d"
                      % (len(workers), sorted(workers), args.workers))
    if errors:
        for e in errors[:30]:
            print("check_results:", e, file=sys.stderr)
        print("check_results: %d problems" % len(errors), file=sys.stderr)
        return 1
    print("check_results: %d tasks, each delivered exactly once, from %d workers"
          % (len(tasks), len(workers)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
