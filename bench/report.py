#!/usr/bin/env python3
"""Turns the result lines of the bench scripts into markdown tables.

Every result line is `bench=SECTION key=value ...` (values with spaces are
double-quoted); a `bench=machine` line describes the run. Sections: e2e,
exec, latency, scale, memory, recovery, callgrind.

usage: report.py [--only SECTION[,SECTION]] FILE...
"""
import shlex
import statistics
import sys


def parse(paths):
    rows = []
    for path in paths:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line.startswith("bench="):
                    continue
                try:
                    toks = shlex.split(line)
                except ValueError:
                    toks = line.split()
                rows.append(dict(t.split("=", 1) for t in toks if "=" in t))
    return rows


def num(v, default=None):
    try:
        return float(v)
    except (TypeError, ValueError):
        return default


def fmt_int(x):
    return "{:,}".format(int(round(x))) if x is not None else "-"


def fmt(x, digits=2):
    return ("%." + str(digits) + "f") % x if x is not None else "-"


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def by_peer(rows):
    out = {}
    for r in rows:
        out.setdefault(r.get("peer", "?"), []).append(r)
    return out


def ok(rs):
    return [r for r in rs if "tasks_per_s" in r and r.get("status") != "failed"]


def noise(rs):
    steal = med([num(r.get("steal_pct")) for r in rs])
    load = med([num(r.get("load1")) for r in rs])
    return "%s / %s" % (fmt(steal, 1), fmt(load, 2))


def section_e2e(rows):
    out = ["### End to end, tiny tasks", ""]
    peers = by_peer(rows)
    out.append("| row | N | runs | tasks/s median | min-max | broker CPU µs/task | "
               "journal bytes/task | steal % / load1 |")
    out.append("|---|---|---|---|---|---|---|---|")
    medians = {}
    for peer, rs in peers.items():
        good = ok(rs)
        failed = len(rs) - len(good)
        if not good:
            out.append("| %s | | %d failed | | | | | |" % (peer, failed))
            continue
        tps = [num(r["tasks_per_s"]) for r in good]
        medians[peer] = med(tps)
        cpu = med([num(r.get("broker_cpu_us_per_task")) for r in good])
        jb = med([num(r.get("journal_bytes")) for r in good])
        n = num(good[0].get("tasks"))
        out.append("| %s | %s | %d%s | %s | %s-%s | %s | %s | %s |" % (
            peer, fmt_int(n), len(good), " (+%d failed)" % failed if failed else "",
            fmt_int(medians[peer]), fmt_int(min(tps)), fmt_int(max(tps)),
            fmt(cpu) if cpu is not None else "-",
            fmt(jb / n, 0) if jb is not None and n else "-", noise(good)))
    raw = medians.get("zmq_raw_pipeline")
    shared = medians.get("zmq_raw_pipeline_shared")
    out.append("")
    if raw:
        for peer, target in (("sluice", 0.5), ("sluice_in_memory", 0.6),
                             ("zmq_forwarder_4hops", None), ("zmq_raw_pipeline_shared", None)):
            if peer in medians:
                ratio = medians[peer] / raw
                verdict = ""
                if target is not None:
                    verdict = " (target >= %.1f: %s)" % (target, "met" if ratio >= target else "NOT met")
                    if shared:
                        verdict += "; / zmq_raw_pipeline_shared: %.2f" % (medians[peer] / shared)
                out.append("- %s / zmq_raw_pipeline: **%.2f**%s" % (peer, ratio, verdict))
    return out


def section_exec(rows):
    out = ["### Exec mode (`sh -c 'echo N'` per task, 2 at a time)", ""]
    peers = by_peer(rows)
    out.append("| row | N | runs | tasks/s median | min-max | vs fork+exec ceiling | steal % / load1 |")
    out.append("|---|---|---|---|---|---|---|")
    medians = {p: med([num(r["tasks_per_s"]) for r in ok(rs)]) for p, rs in peers.items()}
    ceiling = medians.get("c_fork_exec")
    for peer, rs in peers.items():
        good = ok(rs)
        if not good:
            out.append("| %s | | %d failed | | | | |" % (peer, len(rs)))
            continue
        tps = [num(r["tasks_per_s"]) for r in good]
        out.append("| %s | %s | %d | %s | %s-%s | %s | %s |" % (
            peer, good[0].get("tasks"), len(good), fmt_int(medians[peer]), fmt_int(min(tps)),
            fmt_int(max(tps)), fmt(medians[peer] / ceiling) if ceiling else "-", noise(good)))
    for peer, how in (("sluice", ""), ("sluice_rt", " (worker --realtime)")):
        if ceiling and medians.get(peer):
            ratio = medians[peer] / ceiling
            out += ["", "- %s / fork+exec ceiling%s: **%.2f** (target >= 0.9: %s)"
                    % (peer, how, ratio, "met" if ratio >= 0.9 else "NOT met")]
    return out


def section_latency(rows):
    out = ["### Latency, submit to sink (µs)", ""]
    out.append("| row | phase | probes | p50 | p90 | p99 | max | load (target / achieved tasks/s) | "
               "steal % / load1 |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    caps = []
    for r in rows:
        phase = r.get("phase", r.get("workload", ""))
        if phase == "capacity":
            caps.append(r)
            continue
        if r.get("status") == "failed" or "p50_us" not in r:
            out.append("| %s | %s | failed | | | | | | |" % (r.get("peer"), phase))
            continue
        load = "-"
        if "load_target_per_s" in r:
            load = "%s / %s" % (fmt_int(num(r["load_target_per_s"])),
                                fmt_int(num(r["load_achieved_per_s"])))
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r.get("peer"), phase, r.get("probes", r.get("tasks")), r["p50_us"], r["p90_us"],
            r["p99_us"], r["max_us"], load, noise([r])))
    if caps:
        out.append("")
        for r in caps:
            out.append("- %s: capacity of the one-process client (load reference) %s tasks/s" % (
                r.get("peer"), fmt_int(num(r.get("tasks_per_s")))))
    def p50_of(peer):
        return med([num(r.get("p50_us")) for r in rows
                    if r.get("phase") == "unloaded" and r.get("peer") == peer])
    p50 = p50_of("sluice")
    if p50 is not None:
        out += ["", "- sluice (durable) unloaded p50: **%.0f µs** (target <= 200: %s)"
                % (p50, "met" if p50 <= 200 else "NOT met")]
        for peer, what in (("zmq_raw_pipeline", "2 hops, no broker"),
                           ("zmq_forwarder_4hops", "4 hops through a forwarder, no bookkeeping")):
            floor = p50_of(peer)
            if floor is not None:
                out.append("- %s (%s) unloaded p50 on the same machine: %.0f µs" % (peer, what, floor))
    return out


def section_scale(rows):
    out = ["### Scale of connections (`-j 1` workers, the broker's CPU per task)", ""]
    out.append("| active workers | idle workers | N | runs | tasks/s median | broker CPU µs/task "
               "median (min-max) | steal % / load1 |")
    out.append("|---|---|---|---|---|---|---|")
    groups = {}
    idle_rows = []
    for r in rows:
        if r.get("case") == "idle":
            idle_rows.append(r)
            continue
        idle = int(r.get("idle", 0))
        kind = r.get("kind", "none") if idle else "none"
        groups.setdefault((idle, kind, int(r.get("workers", 0))), []).append(r)
    for (i, kind, w), rs in sorted(groups.items()):
        good = ok(rs)
        label = "%d" % i if not i else "%d (%s)" % (i, {"credit": "other queue, free slot",
                                                      "nocredit": "no credit"}.get(kind, kind))
        if not good:
            out.append("| %d | %s | | %d failed | | | |" % (w, label, len(rs)))
            continue
        cpu = [num(r["broker_cpu_us_per_task"]) for r in good]
        out.append("| %d | %s | %s | %d | %s | %s (%s-%s) | %s |" % (
            w, label, fmt_int(num(good[0]["tasks"])), len(good),
            fmt_int(med([num(r["tasks_per_s"]) for r in good])), fmt(med(cpu)), fmt(min(cpu)),
            fmt(max(cpu)), noise(good)))
    if idle_rows:
        out.append("")
    for r in idle_rows:
        out.append("- broker with %s idle workers (%s) connected and no task: %s%% of a CPU "
                   "(%s s of CPU over %s s)" % (r.get("idle"), r.get("kind"), r.get("cpu_pct"),
                                                 r.get("cpu_s"), r.get("seconds")))
    return out


def section_memory(rows):
    out = ["### Memory and size", ""]
    out.append("| case | --max-memory | tasks sent | tasks held | throttled | broker RSS MiB | "
               "bytes/task (RSS) | overhead beyond payload | broker's own count, bytes/task |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if r.get("bench") != "memory":
            continue
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r.get("case"), r.get("max_memory"), fmt_int(num(r.get("tasks_sent"))),
            fmt_int(num(r.get("tasks_held"))), r.get("throttled"),
            fmt(num(r.get("rss_kb"), 0) / 1024, 0), r.get("bytes_per_task", "-"),
            r.get("overhead_per_task", "-"), r.get("held_bytes_per_task", "-")))
    return out


def section_recovery(rows):
    out = []
    subs = [r for r in rows if r.get("bench") == "recovery" and "submit_ms" in r]
    runs = [r for r in rows if r.get("bench") == "recovery" and "replay_ms" in r]
    if subs:
        s = subs[-1]
        out.append("- journal of %s pending tasks: %s bytes on disk per pending task (submit took %s ms)"
                   % (fmt_int(num(s.get("pending"))), s.get("disk_bytes_per_task"), s.get("submit_ms")))
    if runs:
        out.append("- recovery (median of %d restarts): %s records replayed in %s ms (logged); "
                   "listening after %s ms; first client served after %s ms; peak RSS %s MB" % (
                       len(runs), runs[0].get("records"),
                       fmt_int(med([num(r.get("replay_ms")) for r in runs])),
                       fmt_int(med([num(r.get("ready_ms")) for r in runs])),
                       fmt_int(med([num(r.get("served_ms")) for r in runs])),
                       fmt_int(med([num(r.get("peak_rss_mb")) for r in runs]))))
    return out


def section_callgrind(rows):
    out = ["### Instructions per task (callgrind, every thread of the process)", ""]
    out.append("| what | tasks | runs | Ir per task median (min-max) | broker messages per task: "
               "sent / received | tasks taken back after a failed dispatch, per task | "
               "Ir total (median run) |")
    out.append("|---|---|---|---|---|---|---|")
    per = {}
    for peer, rs in by_peer(rows).items():
        good = [r for r in rs if r.get("ir_total") and r.get("status") != "failed"]
        if not good:
            out.append("| %s | | %d failed | | | | |" % (peer, len(rs)))
            continue
        irs = [num(r.get("ir_per_task")) for r in good if r.get("ir_per_task")]
        total = med([num(r.get("ir_total")) for r in good])
        if irs:
            per[peer] = med(irs)
            cell = "%s (%s-%s)" % (fmt_int(per[peer]), fmt_int(min(irs)), fmt_int(max(irs)))
        else:
            cell = "-"
        msgs = undisp = "-"
        if good[0].get("sends_per_task"):
            msgs = "%s / %s" % (fmt(med([num(r["sends_per_task"]) for r in good]), 3),
                                fmt(med([num(r["recvs_per_task"]) for r in good]), 3))
        if good[0].get("undispatched_per_task"):
            u = [num(r["undispatched_per_task"]) for r in good]
            undisp = "%s (%s-%s)" % (fmt(med(u)), fmt(min(u)), fmt(max(u)))
        out.append("| %s | %s | %d | %s | %s | %s | %s |" % (
            peer, fmt_int(num(good[0].get("tasks"))), len(good), cell, msgs, undisp,
            fmt_int(total)))
    out.append("")
    for peer in ("broker_durable", "broker_in_memory"):
        if per.get(peer):
            out.append("- %s: %s Ir/task (target <= 15,000: %s)" % (
                peer, fmt_int(per[peer]), "met" if per[peer] <= 15000 else "NOT met"))
    return out


SECTIONS = [("e2e", section_e2e), ("exec", section_exec), ("latency", section_latency),
            ("scale", section_scale), ("memory", section_memory), ("recovery", section_recovery),
            ("callgrind", section_callgrind)]


def main():
    args = sys.argv[1:]
    only = None
    if args and args[0] == "--only":
        only = set(args[1].split(","))
        args = args[2:]
    rows = parse(args)
    lines = []
    for r in rows:
        if r.get("bench") == "machine" and not only:
            lines.append("Run of %s on %s CPUs (%s), %s GiB RAM, kernel %s; sluice at commit %s "
                         "(bench scripts at %s)." % (
                             r.get("date"), r.get("nproc"), r.get("cpu"), r.get("mem_gib"),
                             r.get("kernel"), r.get("commit"), r.get("bench_commit", "?")))
            lines.append("")
    for name, fn in SECTIONS:
        if only and name not in only:
            continue
        sel = [r for r in rows if r.get("bench") == name]
        if name == "memory":
            sel = [r for r in rows if r.get("bench") in ("memory", "recovery")]
            if not sel:
                continue
            lines += fn(sel) + [""] + section_recovery(sel) + [""]
            continue
        if name == "recovery":
            continue
        if sel:
            lines += fn(sel) + [""]
    print("\n".join(lines).rstrip())


if __name__ == "__main__":
    main()
