#!/usr/bin/env python3
"""Where the cores idle during an exec run: reads `perf script` output of
`perf sched record -a` (sched_switch and sched_waking events) and prints,
between the first and last `sh` + 50 ms:

  - the share of core time each program ran, and idle;
  - idle split by what ended it (the next task to run on that core);
  - idle while a task waited to run on the other core (time a better
    placement would have used);
  - the worker's wake-ups: by whom, whether the kernel queued it on the
    waker's core or the other one, its wait to run, and how long the other
    core idled meanwhile.

usage: exec_idle.py PERF_SCRIPT_OUTPUT   (bench/exec_idle.sh runs it)
"""
import bisect
import collections
import re
import sys

LINE = re.compile(r"\s*(.+?)\s+(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s*(.*)")
SWITCH = re.compile(r"prev_comm=(.+?) prev_pid=(\d+) .*next_comm=(.+?) next_pid=(\d+)")
WAKING = re.compile(r"comm=(.+?) pid=(\d+) .*target_cpu=(\d+)")


def label_in(comm, pid, worker):
    """A task as it is switched in: the worker's children are still called
    sluice-worker until they exec."""
    comm = re.sub(r"/.*", "", comm)
    if comm == "sluice-worker" and pid != worker:
        return "new child (before exec)"
    return comm


def main(path):
    events = []
    for line in open(path, errors="replace"):
        m = LINE.match(line)
        if m:
            comm, pid, cpu, t, name, rest = m.groups()
            events.append((float(t), int(cpu), name, comm, rest))
    sh = [t for t, cpu, name, comm, rest in events
          if name == "sched:sched_switch" and "next_comm=sh " in rest]
    if not sh:
        sys.exit("exec_idle.py: no sh ran in %s" % path)
    t0, t1 = min(sh) + 0.05, max(sh) - 0.05
    switches = collections.Counter(
        int(SWITCH.search(rest).group(4)) for t, cpu, name, comm, rest in events
        if name == "sched:sched_switch" and "next_comm=sluice-worker " in rest)
    worker = switches.most_common(1)[0][0] if switches else -1
    cpus = sorted({cpu for _, cpu, _, _, _ in events})
    running = {cpu: None for cpu in cpus}       # pid running on each core
    since = {cpu: None for cpu in cpus}         # when that started
    ran = collections.Counter()                 # program -> ms
    idle_end = collections.Counter()            # idle ms by what ended it
    idle_end_n = collections.Counter()
    waiting = []                                # (start, end, cpu, program)
    woken = {}                                  # pid -> (t, target, waker cpu, waker)
    wakeups = collections.Counter()
    wakeups_n = collections.Counter()
    wakeup_idle = collections.Counter()
    idle_total = {cpu: 0.0 for cpu in cpus}
    idle_from = {cpu: None for cpu in cpus}

    def idle_so_far(cpu, t):
        extra = t - idle_from[cpu] if idle_from[cpu] is not None else 0.0
        return idle_total[cpu] + extra

    for t, cpu, name, comm, rest in events:
        inside = t0 <= t <= t1
        if name == "sched:sched_switch":
            m = SWITCH.search(rest)
            nxt = int(m.group(4))
            prev = running[cpu]
            if prev is not None and since[cpu] is not None and inside:
                #  (named as it leaves: a child that exec'd is sh by then)
                label = "<idle>" if prev == 0 else re.sub(r"/.*", "", m.group(1))
                ran[label] += (t - since[cpu]) * 1000
                if prev == 0:
                    label_next = label_in(m.group(3), nxt, worker)
                    idle_end[label_next] += (t - since[cpu]) * 1000
                    idle_end_n[label_next] += 1
            if idle_from[cpu] is not None:
                idle_total[cpu] += t - idle_from[cpu]
            idle_from[cpu] = t if nxt == 0 else None
            running[cpu], since[cpu] = nxt, t
            if nxt in woken:
                w, target, wcpu, waker = woken.pop(nxt)
                if inside and w >= t0:
                    waiting.append((w, t, cpu, label_in(m.group(3), nxt, worker)))
                    if nxt == worker:
                        other = [c for c in cpus if c != target]
                        key = (waker, "queued on the waker's core" if target == wcpu
                               else "queued on the other core")
                        wakeups[key] += (t - w) * 1000
                        wakeups_n[key] += 1
                        if other:
                            wakeup_idle[key] += (idle_so_far(other[0], t) - idle_so_far(other[0], w)) * 1000
        elif name in ("sched:sched_waking", "sched:sched_wakeup_new"):
            m = WAKING.search(rest)
            if m:
                pid = int(m.group(2))
                woken[pid] = (t, int(m.group(3)), cpu, re.sub(r"/.*", "", comm))
    window = (t1 - t0) * 1000 * len(cpus)
    print("window %.0f ms on %d cores; the worker's main thread is pid %d" % ((t1 - t0) * 1000, len(cpus), worker))
    print("\ncore time by program:")
    for label, ms in ran.most_common(8):
        print("  %-24s %8.1f ms %5.1f%%" % (label, ms, 100 * ms / window))
    print("\nidle, by what ran next on that core:")
    for label, ms in idle_end.most_common(6):
        print("  %-24s %8.1f ms %5d times, %.3f ms each" % (label, ms, idle_end_n[label], ms / idle_end_n[label]))
    # Idle on one core while a task waited to run on another.
    lost = collections.Counter()
    by_cpu = collections.defaultdict(list)
    for w in waiting:
        by_cpu[w[2]].append(w)
    for cpu in cpus:
        others = sorted(w for c, ws in by_cpu.items() if c != cpu for w in ws)
        starts = [w[0] for w in others]
        # the idle intervals of this core
        cur = None
        for t, c, name, comm, rest in events:
            if c != cpu or name != "sched:sched_switch" or not (t0 <= t <= t1):
                continue
            nxt = int(SWITCH.search(rest).group(4))
            if cur is not None:
                i = max(0, bisect.bisect_left(starts, cur - 0.05))
                while i < len(others) and others[i][0] < t:
                    overlap = min(t, others[i][1]) - max(cur, others[i][0])
                    if overlap > 0:
                        lost[others[i][3]] += overlap * 1000
                    i += 1
            cur = t if nxt == 0 else None
    total = sum(lost.values())
    print("\nidle while a task waited to run on another core: %.1f ms (%.1f%% of core time)"
          % (total, 100 * total / window))
    for label, ms in lost.most_common(5):
        print("  waiting: %-22s %8.1f ms" % (label, ms))
    print("\nthe worker's wake-ups:")
    for key in sorted(wakeups, key=lambda k: -wakeups[k]):
        print("  by %-14s %-28s %5d, waited %.3f ms each; the other core idled %.1f ms meanwhile"
              % (key[0], key[1], wakeups_n[key], wakeups[key] / wakeups_n[key], wakeup_idle[key]))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
