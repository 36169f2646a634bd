# The sink's progress line: on a terminal (a pseudo-terminal made by
# script(1)) it is redrawn in place while a job of sleeps runs (done/total
# with the total, a rate, busy workers), log lines never land in the middle
# of it, and a final line shows the job's total; with stderr in a file
# nothing of it appears, --progress forces it into the file, --no-progress
# silences it on a terminal; results on the same terminal (standard output)
# come out whole, in order with -k.
. "$(dirname "$0")/lib.sh"

command -v script >/dev/null || fail "script(1) from util-linux is needed"
# A machine without pseudo-terminals (no /dev/pts in a minimal container)
# cannot run this test at all: say so rather than fail.
if ! out=$(timeout 10 script -qfec "echo pty-ok" /dev/null 2>&1) || [[ "$out" != *pty-ok* ]]; then
    echo "SKIPPED: no pseudo-terminal can be made here (script(1) said: ${out:-nothing})"
    exit 0
fi
N=80
# 80 sleeps of 60..139 ms, each duration once (so text output shows order):
# about 2 s on 2 workers of 2 slots, several redraws (one per 200 ms).
"$PYTHON" -c "
import random
v = list(range(60, 60 + $N))
random.Random(11).shuffle(v)
open('$WORK/tasks.txt', 'w').write(''.join('%d\n' % x for x in v))"
start_broker
start_worker w1 --builtin sleep -j 2
start_worker w2 --builtin sleep -j 2
wait_workers 2

submit () {
    "$SLUICE_BIN/sluice-ventilator" --broker "$BROKER" --job "$1" "$WORK/tasks.txt" \
        >/dev/null 2>>"$WORK/ventilator.log" || fail "ventilator ($1)"
}

# on_tty NAME CMD : runs CMD with a pseudo-terminal as stdin, stdout and
# stderr; what the terminal got goes to $WORK/NAME.tty. Sets TTY_RC.
on_tty () {
    local name=$1
    shift
    timeout 60 script -qfec "$*" /dev/null >"$WORK/$name.tty" 2>"$WORK/$name-script.log"
    TTY_RC=$?
}

# check_tty.py FILE JOB final|none TOTAL [TASKS]: checks what a terminal got:
# progress lines of JOB with TOTAL tasks and a final line (or none at all),
# clean log lines, the summary; with TASKS, results written to the same
# terminal, which must be the task outputs in order.
cat >"$WORK/check_tty.py" <<'PY'
import re, sys
path, job, want, total = sys.argv[1:5]
tasks_path = sys.argv[5] if len(sys.argv) > 5 else None
data = open(path, "rb").read().decode("utf-8", "replace")
CLEAR = "\r\x1b[K"
errors = []
line_re = re.compile(r"^%s  (\d+)/(\d+|\?)(?: +(\d+)%%)?  (\d+) failed  (\?|\d+(?:\.\d)?)/s  "
                     r"(ETA (?:\?|[\d:]+)  workers (?:\?|(\d+)/(\d+) busy)|in [\d.:]+(?: s)?)"
                     % re.escape(job))
# Every piece that follows a clear is a progress line, unless a log line
# or a result (that cleared the line before it was written) follows it.
pieces = data.split(CLEAR)[1:]
lines = [line_re.match(p) for p in pieces]
progress = [m for m in lines if m]
if want == "none":
    if CLEAR in data or "\x1b[" in data:
        errors.append("progress escapes on the terminal with --no-progress")
    if progress:
        errors.append("a progress line with --no-progress: %r" % progress[0].group(0))
else:
    running = [m for m in progress if m.group(6).startswith("ETA")]
    finals = [m for m in progress if m.group(6).startswith("in ")]
    known = {int(m.group(1)) for m in running if m.group(2) == total
             and int(m.group(1)) < int(total)}
    if len(known) < 3:
        errors.append("fewer than 3 redraws with the total known and the job running: %s"
                      % sorted(known))
    if not any(m.group(5) != "?" and float(m.group(5)) > 0 for m in running):
        errors.append("no running line shows a rate")
    if not any(m.group(7) is not None and int(m.group(8)) == 2 for m in running):
        errors.append("no running line shows the broker's workers (of 2)")
    ok_final = [m for m in finals if m.group(1) == total and m.group(2) == total
                and m.group(3) == "100" and m.group(4) == "0"]
    if len(finals) != 1 or len(ok_final) != 1:
        errors.append("want exactly one final line %s/%s 100%% 0 failed, got %r"
                      % (total, total, [m.group(0) for m in finals]))
    else:
        end = data.index(ok_final[0].group(0)) + len(ok_final[0].group(0))
        if not data[end:].startswith("\r\n") and not data[end:].startswith("\n"):
            errors.append("the final line does not end the line")
        if CLEAR in data[end:]:
            errors.append("progress drawn after the final line")
    # Counts must never go down.
    done = [int(m.group(1)) for m in progress]
    if done != sorted(done):
        errors.append("done went down: %s" % done)
# A log line always starts a line: after a newline or a clear, never glued
# to a progress line.
for m in re.finditer(r"[IWE]: \(sluice-sink\)", data):
    before = data[max(0, m.start() - 4):m.start()]
    if m.start() and not before.endswith("\n") and not before.endswith(CLEAR):
        errors.append("log line glued to something: %r" % data[max(0, m.start() - 60):m.end()])
if "results: %s ok" % total not in data:
    errors.append("no summary line")
if tasks_path:
    # Results went to the same terminal: with the progress lines and the
    # log removed, what is left must be the task outputs, in order (-k).
    tasks = open(tasks_path).read().split()
    got = []
    for line in data.replace("\r\n", "\n").split("\n"):
        line = line.split(CLEAR)[-1]
        if not line or line_re.match(line) or re.match(r"[IWE]: \(sluice-sink\)|sluice-sink:", line):
            continue
        got.append(line)
    if got != tasks:
        diff = next((i for i, (a, b) in enumerate(zip(got, tasks)) if a != b),
                    min(len(got), len(tasks)))
        errors.append("results on the terminal are not the task outputs in order: %d lines "
                      "for %d tasks, first difference at line %d" % (len(got), len(tasks), diff + 1))
for e in errors[:20]:
    print("check_tty:", e, file=sys.stderr)
if errors:
    sys.exit(1)
print("check_tty: %s ok (%d progress lines)" % (path, len(progress)))
PY
check_tty () {
    # What went to a terminal is no .log: look for sanitizer reports here.
    if grep -q -E "ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:" "$1"; then
        cat -v "$1" | tr '\r' '\n' | grep -A 30 -E "Sanitizer|runtime error" >&2
        fail "sanitizer report in $(basename "$1")"
    fi
    "$PYTHON" "$WORK/check_tty.py" "$@" || {
        echo "---- $1 (cat -v):" >&2
        cat -v "$1" | tr '\r' '\n' | tail -n 40 >&2
        fail "terminal output of $(basename "$1")"
    }
}

# 1. On a terminal: redrawn, logs (-v) clean, a final line with the total.
submit p1
on_tty p1 "$SLUICE_BIN/sluice-sink --broker $BROKER --job p1 -v -o $WORK/p1.jsonl -f jsonl"
expect_rc 0 "$TTY_RC" "sink on a terminal"
check_tty "$WORK/p1.tty" p1 final "$N"
$CHECK "$WORK/tasks.txt" "$WORK/p1.jsonl" --expect echo --job p1 || fail "p1 results"

# 2. Stderr not a terminal: no trace of the progress line.
submit p2
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job p2 -v -o "$WORK/p2.jsonl" -f jsonl \
    2>"$WORK/p2.log"
expect_rc 0 $? "sink with stderr in a file"
if grep -q -e $'\033' -e $'\r' -e "p2  [0-9]*/" "$WORK/p2.log"; then
    cat -v "$WORK/p2.log" >&2
    fail "progress output in a file without --progress"
fi
expect_grep "$N results: $N ok" "$WORK/p2.log" "summary without a terminal"
$CHECK "$WORK/tasks.txt" "$WORK/p2.jsonl" --expect echo --job p2 || fail "p2 results"

# 3. --progress forces it into the file.
submit p3
"$SLUICE_BIN/sluice-sink" --broker "$BROKER" --job p3 --progress -o "$WORK/p3.jsonl" -f jsonl \
    2>"$WORK/p3.stderr"
expect_rc 0 $? "sink with --progress"
check_tty "$WORK/p3.stderr" p3 final "$N"

# 4. --no-progress on a terminal: nothing of it.
submit p4
on_tty p4 "$SLUICE_BIN/sluice-sink --broker $BROKER --job p4 --no-progress -o $WORK/p4.jsonl -f jsonl"
expect_rc 0 "$TTY_RC" "sink with --no-progress"
check_tty "$WORK/p4.tty" p4 none "$N"

# 5. Results on the same terminal (text on standard output) with -k: whole
# lines, in task order, and the progress line still drawn.
submit p5
on_tty p5 "$SLUICE_BIN/sluice-sink --broker $BROKER --job p5 -k"
expect_rc 0 "$TTY_RC" "sink writing to the terminal"
check_tty "$WORK/p5.tty" p5 final "$N" "$WORK/tasks.txt"
echo "sink_progress: ok"
