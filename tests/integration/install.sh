# "cmake --install" of the build into a fresh prefix gives the six programs,
# manual pages that render (and document every option of every --help), the
# systemd units naming the installed programs, the example files and the
# demo; then a job of 500 tasks runs through the installed programs alone
# (broker, 2 workers, ventilator, sink) with every result checked, and the
# installed demo runs from its installed place. Installed files name the
# final paths, never the DESTDIR staging ones.
#
# Every install here is staged with DESTDIR under the test's directory, so
# that absolute install directories in the configuration (say
# SLUICE_SYSTEMD_UNIT_DIR=/lib/systemd/system) never write outside it. The
# prefix $WORK/prefix is a symbolic link to its staged copy, so the paths
# the installed files name work as they are.
#
# Tools used when present, skipped with a note otherwise: man (else groff)
# to render the pages, systemd-analyze to verify the units.
. "$(dirname "$0")/lib.sh"

BUILD=$SLUICE_BIN
P=$WORK/prefix
ROOT=$WORK/root
PROGRAMS="sluice-broker sluice-ventilator sluice-worker sluice-sink sluice-ctl sluice-keygen"

# The install layout as configured (GNUInstallDirs names, relative to the
# prefix unless absolute).
cache_value () { # cache_value NAME DEFAULT: NAME's value; DEFAULT if unset or empty
    local v                      # (GNUInstallDirs leaves the share/ ones empty)
    v=$(sed -n "s/^$1:[A-Z]*=//p" "$BUILD/CMakeCache.txt" | head -n 1)
    echo "${v:-$2}"
}
under () { # under PREFIX DIR: DIR made absolute
    case $2 in /*) echo "$2" ;; *) echo "$1/$2" ;; esac
}
staged () { # staged DIR: where the files of DIR are (through $P if relative)
    case $1 in /*) echo "$ROOT$1" ;; *) echo "$P/$1" ;; esac
}
BINDIR=$(cache_value CMAKE_INSTALL_BINDIR bin)
MANDIR=$(cache_value CMAKE_INSTALL_MANDIR share/man)
DATADIR=$(cache_value CMAKE_INSTALL_DATADIR share)
DOCDIR=$(cache_value CMAKE_INSTALL_DOCDIR share/doc/sluice)
UNITDIR=$(cache_value SLUICE_SYSTEMD_UNIT_DIR lib/systemd/system)
# SLUICE_SYSTEMD_UNIT_DIR set empty turns the units off.
grep -q "^SLUICE_SYSTEMD_UNIT_DIR:[A-Z]*=$" "$BUILD/CMakeCache.txt" && UNITDIR=

command -v cmake >/dev/null || fail "no cmake on PATH"
DESTDIR=$ROOT cmake --install "$BUILD" --prefix "$P" >"$WORK/install.log" 2>&1 \
    || { cat "$WORK/install.log" >&2; fail "cmake --install failed"; }
[ -d "$ROOT$P" ] && ln -s "$ROOT$P" "$P"
grep -q -r -F "$ROOT" "$ROOT" && fail "DESTDIR leaked into installed files: $(grep -l -r -F "$ROOT" "$ROOT")"

# ---- the programs
PBIN=$(staged "$BINDIR")     # where they are
FBIN=$(under "$P" "$BINDIR") # what installed files call them
VERSION=
for prog in $PROGRAMS; do
    [ -x "$PBIN/$prog" ] || fail "not installed: $PBIN/$prog"
    [ -L "$PBIN/$prog" ] && fail "$PBIN/$prog is a symbolic link, not an installed copy"
    out=$("$PBIN/$prog" --version) || fail "$prog --version: exit status $?"
    case $out in "$prog "*) ;; *) fail "$prog --version printed '$out'" ;; esac
    v=$(echo "$out" | cut -d' ' -f2)
    [ -z "$VERSION" ] || [ "$v" = "$VERSION" ] || fail "$prog is version $v, others $VERSION"
    VERSION=$v
done

# ---- the manual pages
PMAN=$(staged "$MANDIR")
for page in sluice $PROGRAMS; do
    [ -s "$PMAN/man1/$page.1" ] || fail "not installed: $PMAN/man1/$page.1"
done
# render PAGE: the page as plain ASCII text, as "man PAGE" shows it with
# this MANPATH (.so redirects resolved), on stdout.
if command -v man >/dev/null; then
    RENDERER=man
    render () {
        MANPATH=$PMAN LC_ALL=C MANWIDTH=100 man -P cat "$1" 2>"$WORK/man.err" \
            | sed 's/.\x08//g'
    }
elif command -v groff >/dev/null; then
    RENDERER=groff
    render () {
        (cd "$PMAN" && LC_ALL=C groff -man -Tascii -rLL=100n "man1/$1.1" 2>"$WORK/man.err") \
            | sed 's/.\x08//g'
    }
else
    RENDERER=
    echo "note: neither man nor groff is installed: the pages are not rendered"
fi
if command -v groff >/dev/null; then
    groff -man -ww -z "$PMAN/man1/sluice.1" >"$WORK/groff.warn" 2>&1
    [ -s "$WORK/groff.warn" ] && { cat "$WORK/groff.warn" >&2; fail "groff warns about sluice.1"; }
fi
if [ -n "$RENDERER" ]; then
    render sluice >"$WORK/sluice.txt"
    [ -s "$WORK/man.err" ] && { cat "$WORK/man.err" >&2; fail "$RENDERER complains about sluice(1)"; }
    expect_grep "^SLUICE(1)" "$WORK/sluice.txt" "sluice(1) rendered by $RENDERER"
    expect_grep "sluice $VERSION" "$WORK/sluice.txt" "sluice(1) names version $VERSION"
    for prog in $PROGRAMS; do
        # Each program's page is sluice(1) itself, through its .so redirect.
        render "$prog" >"$WORK/$prog.txt"
        cmp -s "$WORK/sluice.txt" "$WORK/$prog.txt" \
            || fail "'man $prog' does not show sluice(1) (see $RENDERER output in $WORK/$prog.txt)"
        # Every option of the program's --help is documented, short and
        # long forms together.
        "$PBIN/$prog" --help >"$WORK/$prog.help" || fail "$prog --help: exit status $?"
        for opt in $(grep -oE -- '--[a-z][a-z-]*[a-z]' "$WORK/$prog.help" | sort -u); do
            grep -qF -- "$opt" "$WORK/sluice.txt" || fail "sluice(1) does not mention $opt of $prog --help"
        done
        while read -r pair; do
            grep -qF -- "$pair" "$WORK/sluice.txt" || fail "sluice(1) has no '$pair' ($prog --help)"
        done < <(grep -oE -- '^ +-[a-zA-Z], --[a-z-]+' "$WORK/$prog.help" | sed 's/^ *//')
        grep -qE -- "^ {3}$prog$" "$WORK/sluice.txt" || fail "sluice(1) has no section for $prog"
    done
fi

# ---- the systemd units, the examples and the demo
if [ -n "$UNITDIR" ]; then
    PUNITS=$(staged "$UNITDIR")
    for unit in sluice-broker.service sluice-worker@.service; do
        [ -s "$PUNITS/$unit" ] || fail "not installed: $PUNITS/$unit"
        grep -q "@[A-Z_]*@" "$PUNITS/$unit" && fail "$unit still has a placeholder: $(grep "@[A-Z_]*@" "$PUNITS/$unit")"
    done
    expect_grep "^ExecStart=$FBIN/sluice-broker " "$PUNITS/sluice-broker.service" "broker unit"
    expect_grep "^ExecStart=$FBIN/sluice-worker --broker \${SLUICE_BROKER} --exec \${SLUICE_EXEC} \$SLUICE_WORKER_ARGS$" \
        "$PUNITS/sluice-worker@.service" "worker unit"
    expect_grep "^EnvironmentFile=/etc/sluice/worker-%i.env$" "$PUNITS/sluice-worker@.service" "worker unit"
    expect_grep "^KillMode=mixed$" "$PUNITS/sluice-worker@.service" "worker unit (drains)"
else
    echo "note: SLUICE_SYSTEMD_UNIT_DIR is empty: no units installed, none checked"
fi
for f in broker.env.example worker.env.example; do
    [ -s "$(staged "$DOCDIR")/examples/$f" ] || fail "not installed: $DOCDIR/examples/$f"
done
PDATA=$(staged "$DATADIR")/sluice
[ -x "$PDATA/demo.sh" ] || fail "not installed: $PDATA/demo.sh"
[ -s "$PDATA/tasks.txt" ] || fail "not installed: $PDATA/tasks.txt"
grep -q "@[A-Z_]*@" "$PDATA/demo.sh" && fail "demo.sh still has a placeholder"

if [ -z "$UNITDIR" ]; then
    :
elif [ "$PBIN" != "$FBIN" ]; then
    echo "note: CMAKE_INSTALL_BINDIR is absolute ($BINDIR): units not verified (their programs are not there)"
elif command -v systemd-analyze >/dev/null; then
    # A unit that is surely fine first: if even that fails, verify cannot
    # run here (no systemd units to load, say), which is no fault of ours.
    mkdir -p "$WORK/probe"
    printf '[Service]\nExecStart=/bin/true\n' >"$WORK/probe/sluice-probe.service"
    if systemd-analyze verify --man=no "$WORK/probe/sluice-probe.service" >/dev/null 2>&1; then
        MANOPT=--man=no
        command -v man >/dev/null && MANOPT=--man=yes
        # The template is checked as an instance, as systemd would load it.
        for unit in "$PUNITS/sluice-broker.service" \
                    "$PUNITS/sluice-worker@.service:sluice-worker@test.service"; do
            MANPATH=$PMAN: systemd-analyze verify $MANOPT "$unit" >"$WORK/verify.log" 2>&1 \
                || { cat "$WORK/verify.log" >&2; fail "systemd-analyze verify $unit"; }
            # (What it says about other units of this machine is not ours.)
            grep -q sluice "$WORK/verify.log" && { cat "$WORK/verify.log" >&2; fail "systemd-analyze verify $unit warns"; }
        done
    else
        echo "note: systemd-analyze verify does not work here: units not verified"
    fi
else
    echo "note: no systemd-analyze: units not verified"
fi

# ---- a package-style install (prefix /usr, staged) names /usr's paths
DESTDIR=$WORK/stage cmake --install "$BUILD" --prefix /usr >"$WORK/stage.log" 2>&1 \
    || { cat "$WORK/stage.log" >&2; fail "cmake --install with DESTDIR failed"; }
SBIN=$(under /usr "$BINDIR")
[ -x "$WORK/stage$SBIN/sluice-worker" ] || fail "DESTDIR install: no $WORK/stage$SBIN/sluice-worker"
[ -z "$UNITDIR" ] || expect_grep "^ExecStart=$SBIN/sluice-worker " \
    "$WORK/stage$(under /usr "$UNITDIR")/sluice-worker@.service" "DESTDIR install: the worker unit names $SBIN"
grep -q -r "$WORK/stage" "$WORK/stage" \
    && fail "DESTDIR install: the staging directory leaked into an installed file"

# ---- a job through the installed programs only
SLUICE_BIN=$PBIN # start_broker and start_worker run $SLUICE_BIN/...
"$PYTHON" -c '
import random
r = random.Random(11)
with open("'"$WORK"'/tasks.txt", "w") as f:
    for i in range(1, 501):
        f.write("install task %d %s\n" % (i, "y" * r.randint(0, 100)))
'
start_broker
[ "$(readlink "/proc/$BROKER_PID/exe")" = "$(readlink -f "$PBIN/sluice-broker")" ] \
    || fail "the broker runs $(readlink "/proc/$BROKER_PID/exe"), not the installed program"
start_worker w1 --builtin echo -j 2
start_worker w2 --exec cat -j 2
wait_workers 2
"$PBIN/sluice-ventilator" --broker "$BROKER" "$WORK/tasks.txt" \
    >"$WORK/job.txt" 2>"$WORK/ventilator.log" || fail "ventilator exit status $?"
JOB=$(cat "$WORK/job.txt")
[ -n "$JOB" ] || fail "ventilator printed no job id"
start_bg sink "$PBIN/sluice-sink" --broker "$BROKER" --job "$JOB" -o "$WORK/out.jsonl" --format jsonl
wait_pid "$LAST_PID" 60
expect_rc 0 "$WAIT_RC" "sink"
$CHECK "$WORK/tasks.txt" "$WORK/out.jsonl" --expect echo --workers 2 --job "$JOB" \
    || fail "results do not match the task file"
expect_grep "500 results: 500 ok, 0 failed" "$WORK/sink.log" "sink summary"

# ---- the installed demo, from its installed place, on its own ports. It
# runs in a process group of its own, so that a failure here stops the
# cluster it started too.
trap 'rc=$?; [ -n "${DEMO_PID:-}" ] && kill -TERM -- "-$DEMO_PID" 2>/dev/null; (exit $rc); cleanup' EXIT
DEMO_PORT=$(free_port)
DEMO_ARGS=() # the demo's defaults are the installed paths, unless outside $P
[ "$PBIN" = "$FBIN" ] || DEMO_ARGS+=(--bin "$PBIN")
[ "$PDATA" = "$(under "$P" "$DATADIR")/sluice" ] || DEMO_ARGS+=("$PDATA/tasks.txt")
start_bg demo setsid "$PDATA/demo.sh" --port "$DEMO_PORT" "${DEMO_ARGS[@]}" >"$WORK/demo.out"
DEMO_PID=$LAST_PID
wait_pid "$DEMO_PID" 60
expect_rc 0 "$WAIT_RC" "installed demo.sh"
DEMO_PID=
"$PYTHON" - "$PDATA/tasks.txt" "$WORK/demo.out" <<'PY' || fail "the demo's output does not match its task file"
import json, sys
tasks = [l for l in open(sys.argv[1], encoding="utf-8").read().split("\n") if l]
out = open(sys.argv[2], encoding="utf-8").read().split("\n")
text = [l for l in out if l and not l.startswith("{")]
# /bin/sh counts bytes, wc -w words
want = sorted("%d chars, %d words: %s" % (len(t.encode()), len(t.split()), t) for t in tasks)
if sorted(text) != want:
    sys.exit("text results %r\nexpected %r" % (sorted(text), want))
records = [json.loads(l) for l in out if l.startswith("{")]
if len(records) != min(3, len(tasks)) or any(r["status"] != "ok" for r in records):
    sys.exit("JSON Lines part: %r" % records)
PY
expect_grep "== done: $(grep -c . "$PDATA/tasks.txt") results in each job" "$WORK/demo.log" "demo summary"
echo "install: prefix $P, 500 tasks through the installed programs, demo ok (man pages: ${RENDERER:-not rendered})"
