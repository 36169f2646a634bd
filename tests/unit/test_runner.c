/*  =========================================================================
    test_runner - unit tests of the worker's task runner (worker/runner.c)

    Every test makes its own runner and temporary directory through the
    fixture; teardown destroys the runner, frees every finished task, kills
    any stray test process still alive and removes the directory, so a
    failing test leaves nothing behind.

    Tasks are driven the way the worker drives them: runner_pollitems,
    zmq_poll, runner_handle(now), runner_done. `now` is the monotonic clock,
    or a frozen time when a test has to hold the runner at one moment (for
    example between the shell's exit and the end of its exit grace) no
    matter how loaded the machine is. Processes are checked from outside:
    commands write their own pids ($$, $!) to files, and a process counts as
    gone when kill(pid, 0) fails or /proc shows it as a zombie. Time bounds
    are generous ("well under" means at least three times the expected
    time) so that a loaded two-core machine does not make tests flaky.
    =========================================================================
*/

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#if defined __has_include
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner.h"

#define MAX_DONE 256     //  finished tasks one test may collect
#define MAX_ITEMS 1024   //  poll items one test may need
#define MAX_STRAYS 8     //  processes one test may have to clean up
#define STDERR_TAIL 4096 //  bytes of stderr the runner keeps (its contract)
#define MIB (1024 * 1024)
#define LIMIT_MS 20000 //  how long a test waits for what must happen much sooner

typedef struct {
    runner_t *runner;               //  runner under test, destroyed in teardown
    runner_done_t *done [MAX_DONE]; //  finished tasks in the order they came, freed in teardown
    size_t ndone;                   //  entries in done
    int64_t frozen;                 //  time given to the runner, or -1 for the monotonic clock
    char dir [64];                  //  temporary directory of the test, removed in teardown
    pid_t strays [MAX_STRAYS];      //  test processes killed in teardown if still alive
    size_t nstrays;                 //  entries in strays
    uint8_t *data;                  //  a test's big buffer, freed in teardown
} fixture_t;

static int s_setup (void **state)
{
    fixture_t *fx = calloc (1, sizeof *fx);
    if (!fx)
        return -1;
    fx->frozen = -1;
    strcpy (fx->dir, "/tmp/test_runner_XXXXXX");
    if (!mkdtemp (fx->dir)) {
        free (fx);
        return -1;
    }
    *state = fx;
    return 0;
}

//  True if pid is a live process (a zombie is not alive).
static bool s_alive (pid_t pid)
{
    if (kill (pid, 0) != 0)
        return errno != ESRCH;
    char path [64];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return false;
    char stat [512];
    size_t n = fread (stat, 1, sizeof stat - 1, file);
    fclose (file);
    stat [n] = '\0';
    const char *paren = strrchr (stat, ')');
    return !(paren && paren [1] == ' ' && (paren [2] == 'Z' || paren [2] == 'X'));
}

//  True if pid is gone within limit_ms (a killed process takes a moment).
static bool s_gone_within (pid_t pid, int64_t limit_ms)
{
    int64_t deadline = zclock_mono () + limit_ms;
    while (s_alive (pid)) {
        if (zclock_mono () >= deadline)
            return false;
        zclock_sleep (10);
    }
    return true;
}

static int s_teardown (void **state)
{
    fixture_t *fx = *state;
    runner_destroy (&fx->runner);
    for (size_t i = 0; i < fx->ndone; i++)
        runner_done_destroy (&fx->done [i]);
    for (size_t i = 0; i < fx->nstrays; i++)
        if (s_alive (fx->strays [i]))
            kill (fx->strays [i], SIGKILL);
    DIR *dir = opendir (fx->dir);
    if (dir) {
        struct dirent *entry;
        while ((entry = readdir (dir))) {
            if (strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0)
                continue;
            char path [600];
            snprintf (path, sizeof path, "%s/%s", fx->dir, entry->d_name);
            unlink (path);
        }
        closedir (dir);
    }
    rmdir (fx->dir);
    free (fx->data);
    free (fx);
    return 0;
}

//  --- Helpers ------------------------------------------------------------------

static void s_new (fixture_t *fx, runner_mode_t mode, const char *command, size_t max_output,
                   uint32_t kill_grace_ms)
{
    runner_config_t config = {
        .mode = mode, .command = command, .max_output = max_output, .kill_grace_ms = kill_grace_ms
    };
    fx->runner = runner_new (&config);
    if (!fx->runner)
        fail_msg ("runner_new failed: %s", strerror (errno));
}

static int64_t s_now (fixture_t *fx)
{
    return fx->frozen >= 0 ? fx->frozen : zclock_mono ();
}

//  Starts a task of job "job-1" with seq tag + 1, first attempt.
static void s_start (fixture_t *fx, uint64_t tag, const void *payload, size_t size,
                     uint32_t timeout_ms)
{
    int rc =
        runner_start (fx->runner, tag, "job-1", tag + 1, 1, payload, size, timeout_ms, s_now (fx));
    assert_int_equal (rc, 0);
}

static void s_start_text (fixture_t *fx, uint64_t tag, const char *payload, uint32_t timeout_ms)
{
    s_start (fx, tag, payload, strlen (payload), timeout_ms);
}

//  Moves every finished task into fx->done.
static void s_collect (fixture_t *fx)
{
    runner_done_t *done;
    while ((done = runner_done (fx->runner))) {
        assert_true (fx->ndone < MAX_DONE);
        fx->done [fx->ndone++] = done;
    }
}

//  One turn of the worker's loop: poll up to wait_ms, handle, collect.
static void s_step (fixture_t *fx, int64_t wait_ms)
{
    zmq_pollitem_t items [MAX_ITEMS];
    size_t n = runner_pollitems (fx->runner, items, MAX_ITEMS);
    assert_true (n < MAX_ITEMS);
    if (zmq_poll (items, (int) n, (long) wait_ms) < 0) {
        assert_int_equal (errno, EINTR);
        for (size_t i = 0; i < n; i++)
            items [i].revents = 0;
    }
    runner_handle (fx->runner, items, n, s_now (fx));
    s_collect (fx);
}

//  Runs the loop until exactly count tasks are done, failing after limit_ms.
static void s_drive (fixture_t *fx, size_t count, int64_t limit_ms)
{
    int64_t deadline = zclock_mono () + limit_ms;
    while (fx->ndone < count) {
        int64_t now = zclock_mono ();
        if (now >= deadline)
            break;
        int64_t wait = deadline - now;
        int64_t timer = runner_next_timer (fx->runner);
        if (fx->frozen >= 0)
            wait = wait < 10 ? wait : 10;
        else if (timer >= 0 && timer - now < wait)
            wait = timer > now ? timer - now : 0;
        s_step (fx, wait);
    }
    if (fx->ndone != count)
        fail_msg ("%zu tasks done after %lld ms, expected %zu", fx->ndone, (long long) limit_ms,
                  count);
}

//  The finished task with this tag; there must be exactly one.
static runner_done_t *s_done (fixture_t *fx, uint64_t tag)
{
    runner_done_t *found = NULL;
    for (size_t i = 0; i < fx->ndone; i++)
        if (fx->done [i]->tag == tag) {
            assert_null (found);
            found = fx->done [i];
        }
    if (!found)
        fail_msg ("no finished task with tag %llu", (unsigned long long) tag);
    return found;
}

static void s_expect_output (const runner_done_t *done, const void *output, size_t size)
{
    assert_int_equal (done->output_size, size);
    if (size)
        assert_memory_equal (done->output, output, size);
}

static void s_expect (const runner_done_t *done, int status, int exit_code, const char *output)
{
    assert_int_equal (done->status, status);
    assert_int_equal (done->exit_code, exit_code);
    s_expect_output (done, output, strlen (output));
    assert_false (done->output_truncated);
}

//  A finished task's err bytes as a string (NULs would end it early).
static const char *s_err_text (const runner_done_t *done, char *text, size_t textlen)
{
    size_t n = done->err_size < textlen - 1 ? done->err_size : textlen - 1;
    if (n)
        memcpy (text, done->err, n);
    text [n] = '\0';
    return text;
}

static void s_path (fixture_t *fx, const char *name, char *path, size_t pathlen)
{
    int n = snprintf (path, pathlen, "%s/%s", fx->dir, name);
    assert_true (n > 0 && (size_t) n < pathlen);
}

//  The pid a command wrote to the file `name` ("PID\n"), or 0 while the
//  file is missing or not completely written.
static pid_t s_read_pid (fixture_t *fx, const char *name)
{
    char path [128];
    s_path (fx, name, path, sizeof path);
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    char text [32] = "";
    size_t n = fread (text, 1, sizeof text - 1, file);
    fclose (file);
    text [n] = '\0';
    if (n == 0 || text [n - 1] != '\n')
        return 0;
    long pid = strtol (text, NULL, 10);
    assert_true (pid > 1);
    return (pid_t) pid;
}

//  Records a pid for teardown to kill if a failing test leaves it alive.
static pid_t s_stray (fixture_t *fx, pid_t pid)
{
    assert_true (fx->nstrays < MAX_STRAYS);
    fx->strays [fx->nstrays++] = pid;
    return pid;
}

//  Steps the loop (time frozen or not) until the file `name` holds a pid.
static pid_t s_wait_pid_file (fixture_t *fx, const char *name)
{
    int64_t deadline = zclock_mono () + LIMIT_MS;
    pid_t pid;
    while (!(pid = s_read_pid (fx, name))) {
        if (zclock_mono () >= deadline)
            fail_msg ("the command did not write %s", name);
        s_step (fx, 10);
    }
    return s_stray (fx, pid);
}

//  Steps the loop until the runner has reaped pid, its own child.
static void s_wait_reaped (fixture_t *fx, pid_t pid)
{
    int64_t deadline = zclock_mono () + LIMIT_MS;
    while (kill (pid, 0) == 0) {
        if (zclock_mono () >= deadline)
            fail_msg ("the runner did not reap pid %d", (int) pid);
        s_step (fx, 10);
    }
    assert_int_equal (errno, ESRCH);
}

//  No child of the test process is left, not even a zombie.
static void s_expect_no_children (void)
{
    errno = 0;
    assert_int_equal (waitpid (-1, NULL, WNOHANG), -1);
    assert_int_equal (errno, ECHILD);
}

//  Fills fx->data with size bytes that vary with position, NULs included.
static const uint8_t *s_pattern (fixture_t *fx, size_t size)
{
    free (fx->data);
    fx->data = malloc (size ? size : 1);
    assert_non_null (fx->data);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < size; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        fx->data [i] = (uint8_t) (i % 251 == 0 ? 0 : x >> 24);
    }
    return fx->data;
}

//  --- Exec: results -----------------------------------------------------------

static void test_runner_exec_returns_exact_output (void **state)
{
    fixture_t *fx = *state;
    s_new (fx, RUNNER_EXEC, "printf 'hello\\n  world'", 1024, 1000);
    s_start_text (fx, 42, "", 0);
    assert_int_equal (runner_running (fx->runner), 1);
    s_drive (fx, 1, LIMIT_MS);
    runner_done_t *done = s_done (fx, 42);
    s_expect (done, RUNNER_OK, 0, "hello\n  world");
    assert_int_equal (done->err_size, 0);
    assert_int_equal (runner_running (fx->runner), 0);
    assert_null (runner_done (fx->runner));
    s_expect_no_children ();
}

static void test_runner_exec_reports_exit_code_and_stderr (void **state)
{
    fixture_t *fx = *state;
    s_new (fx, RUNNER_EXEC, "read code; echo out; echo err >&2; exit $code", 1024, 1000);
    s_start_text (fx, 0, "7\n", 0);
    s_start_text (fx, 1, "255\n", 0);
    s_start_text (fx, 2, "0\n", 0);
    s_drive (fx, 3, LIMIT_MS);
    int codes [] = { 7, 255, 0 };
    for (uint64_t tag = 0; tag < 3; tag++) {
        runner_done_t *done = s_done (fx, tag);
        s_expect (done, codes [tag] ? RUNNER_FAILED : RUNNER_OK, codes [tag], "out\n");
        assert_int_equal (done->err_size, 4);
        assert_memory_equal (done->err, "err\n", 4);
    }
}

static void test_runner_exec_reports_signal_as_128_plus_n (void **state)
{
    fixture_t *fx = *state;
    s_new (fx, RUNNER_EXEC, "printf before; kill -$(cat) $$; printf after", 1024, 1000);
    s_start_text (fx, 0, "KILL", 0);
    s_start_text (fx, 1, "USR1", 0);
    s_drive (fx, 2, LIMIT_MS);
    s_expect (s_done (fx, 0), RUNNER_FAILED, 128 + SIGKILL, "before");
    s_expect (s_done (fx, 1), RUNNER_FAILED, 128 + SIGUSR1, "before");
}

static void test_runner_exec_gives_payload_on_stdin (void **state)
{
    fixture_t *fx = *state;
    s_new (fx, RUNNER_EXEC, "cat", 1024, 1000);
    const uint8_t payload [] = { 'a', 0, '\n', 0xff, '\'', 0 };
    s_start (fx, 0, payload, sizeof payload, 0);
    s_start (fx, 1, payload, 0, 0);
    s_drive (fx, 2, LIMIT_MS);
    assert_int_equal (s_done (fx, 0)->status, RUNNER_OK);
    s_expect_output (s_done (fx, 0), payload, sizeof payload);
    s_expect (s_done (fx, 1), RUNNER_OK, 0, "");
}

//  Input and output both far over a pipe buffer: only a runner that writes
//  and reads without blocking gets through.
static void test_runner_exec_passes_1mib_through_cat (void **state)
{
    fixture_t *fx = *state;
    s_new (fx, RUNNER_EXEC, "cat", 2 * MIB, 1000);
    const uint8_t *payload = s_pattern (fx, MIB);
    s_start (fx, 0, payload, MIB, 0);
    s_drive (fx, 1, LIMIT_MS);
    runner_done_t *done = s_done (fx, 0);
    assert_int_equal (done->status, RUNNER_OK);
    assert_false (done->output_truncated);
    s_expect_output (done, payload, MIB);
}

static void test_runner_exec_finishes_when_command_ignores_stdin (void **state)
{
    fixture_t *fx = *state;
    s_new (fx, RUNNER_EXEC, "echo ignored", 1024, 1000);
    s_start (fx, 0, s_pattern (fx, MIB), MIB, 0);
    s_drive (fx, 1, LIMIT_MS);
    s_expect (s_done (fx, 0), RUNNER_OK, 0, "ignored\n");
}

static void test_runner_exec_sets_sluice_environment (void **state)
{
    fixture_t *fx = *state;
    //  Stale values in the worker's own environment must not leak through,
    //  the rest of it must.
    assert_int_equal (setenv ("SLUICE_JOB", "stale", 1), 0);
    assert_int_equal (setenv ("SLUICE_SEQ", "0", 1), 0);
    assert_int_equal (setenv ("TEST_RUNNER_KEPT", "kept", 1), 0);
    s_new (fx, RUNNER_EXEC,
           "printf '%s|%s|%s|%s|%s' \"$SLUICE_JOB\" \"$SLUICE_SEQ\" \"$SLUICE_ATTEMPT\" "
           "\"$TEST_RUNNER_KEPT\" $(tr '\\0' '\\n' < /proc/$$/environ | grep -c '^SLUICE_')",
           1024, 1000);
    const uint8_t *none = (const uint8_t *) "";
    int rc0 = runner_start (fx->runner, 0, "job-a.1", 7, 1, none, 0, 0, s_now (fx));
    int rc1 = runner_start (fx->runner, 1, "J_2", UINT64_MAX, UINT32_MAX, none, 0, 0, s_now (fx));
    unsetenv ("SLUICE_JOB");
    unsetenv ("SLUICE_SEQ");
    unsetenv ("TEST_RUNNER_KEPT");
    assert_int_equal (rc0, 0);
    assert_int_equal (rc1, 0);
    s_drive (fx, 2, LIMIT_MS);
    s_expect (s_done (fx, 0), RUNNER_OK, 0, "job-a.1|7|1|kept|3");
    s_expect (s_done (fx, 1), RUNNER_OK, 0, "J_2|18446744073709551615|4294967295|kept|3");
}

//  --- Exec: how the command starts ----------------------------------------------

//  The command runs in a process group of its own, with no signal blocked
//  and SIGPIPE (which the runner ignores) at its default; a signal ignored
//  by whoever started the worker stays ignored (nohup works).
static void test_runner_exec_starts_in_own_group_with_default_signals (void **state)
{
    fixture_t *fx = *state;
    s_new (fx, RUNNER_EXEC,
           //  Builtins only: the shell reads its own state while it runs
           //  (not while it waits for a child, when it blocks signals).
           "read -r pid comm state ppid group rest < /proc/$$/stat; printf '%s %s ' $pid $group; "
           "while read -r key value; do case $key in SigBlk:|SigIgn:) printf '%s ' $value;; "
           "esac; done < /proc/$$/status",
           1024, 1000);
    struct sigaction ignore = { .sa_handler = SIG_IGN }, saved;
    sigemptyset (&ignore.sa_mask);
    assert_int_equal (sigaction (SIGHUP, &ignore, &saved), 0);
    s_start_text (fx, 0, "", 0);
    s_start_text (fx, 1, "payload", 0);
    assert_int_equal (sigaction (SIGHUP, &saved, NULL), 0);
    s_drive (fx, 2, LIMIT_MS);
    for (uint64_t tag = 0; tag < 2; tag++) {
        runner_done_t *done = s_done (fx, tag);
        assert_int_equal (done->status, RUNNER_OK);
        char text [256];
        assert_true (done->output_size < sizeof text);
        memcpy (text, done->output, done->output_size);
        text [done->output_size] = '\0';
        long pid, group;
        unsigned long long blocked, ignored;
        assert_int_equal (sscanf (text, "%ld %ld %llx %llx", &pid, &group, &blocked, &ignored), 4);
        assert_int_equal (group, pid);
        assert_int_equal (blocked, 0);
        assert_false (ignored & (1ULL << (SIGPIPE - 1)));
        assert_false (ignored & (1ULL << (SIGCHLD - 1)));
        assert_false (ignored & (1ULL << (SIGINT - 1)));
        assert_false (ignored & (1ULL << (SIGTERM - 1)));
        assert_true (ignored & (1ULL << (SIGHUP - 1)));
    }
    s_expect_no_children ();
}

//  True once process pid runs the program `name` (its exec is done).
static bool s_runs (pid_t pid, const char *name)
{
    char path [64], comm [64] = "";
    snprintf (path, sizeof path, "/proc/%d/comm", (int) pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return false;
    bool runs = fgets (comm, sizeof comm, file) && strncmp (comm, name, strlen (name)) == 0 &&
                comm [strlen (name)] == '\n';
    fclose (file);
    return runs;
}

//  True when process pid has exactly the fds marked in expected, the
//  first three on pipes; otherwise false with what differs in problem.
static bool s_fds_as_expected (pid_t pid, const bool *expected, char *problem, size_t size)
{
    char path [64];
    snprintf (path, sizeof path, "/proc/%d/fd", (int) pid);
    DIR *dir = opendir (path);
    assert_non_null (dir);
    bool seen [1024] = { false };
    bool good = true;
    struct dirent *entry;
    while (good && (entry = readdir (dir))) {
        if (entry->d_name [0] == '.')
            continue;
        int fd = atoi (entry->d_name);
        char link [600], target [256] = "";
        snprintf (link, sizeof link, "%s/%s", path, entry->d_name);
        if (readlink (link, target, sizeof target - 1) < 0)
            continue; //  closed since readdir listed it: not inherited (a
                      //  missing expected one fails below)
        if (fd >= 1024 || !expected [fd]) {
            snprintf (problem, size, "has fd %d open: %s", fd, target);
            good = false;
        }
        else
        if (fd < 3 && strncmp (target, "pipe:", 5)) {
            snprintf (problem, size, "has fd %d on %s, not a pipe", fd, target);
            good = false;
        }
        else
            seen [fd] = true;
    }
    closedir (dir);
    for (int fd = 0; good && fd < 1024; fd++)
        if (expected [fd] && !seen [fd]) {
            snprintf (problem, size, "lacks fd %d", fd);
            good = false;
        }
    return good;
}

//  The command gets its three pipes and what this process lets children
//  inherit, nothing of the runner's own: no other task's pipes (which
//  would keep that task's stdin open or its output from ending), no
//  signalfd.
static void test_runner_exec_inherits_no_runner_fd (void **state)
{
    fixture_t *fx = *state;
    char command [256];
    snprintf (command, sizeof command, "echo $$ > %s/shell-$SLUICE_SEQ; exec sleep 30", fx->dir);
    s_new (fx, RUNNER_EXEC, command, 1024, 1000);
    bool expected [1024] = { false };
    for (int fd = 0; fd < 1024; fd++) {
        int flags = fd < 3 ? 0 : fcntl (fd, F_GETFD);
        expected [fd] = flags >= 0 && !(flags & FD_CLOEXEC);
    }
    //  Three at once: the first one's payload, too big for its pipe, keeps
    //  that pipe open while the others start.
    size_t big = 256 * 1024;
    s_start (fx, 0, s_pattern (fx, big), big, 0);
    s_start_text (fx, 1, "small", 0);
    s_start_text (fx, 2, "", 0);
    for (int seq = 1; seq <= 3; seq++) {
        char name [32];
        snprintf (name, sizeof name, "shell-%d", seq);
        pid_t pid = s_wait_pid_file (fx, name);
        int64_t deadline = zclock_mono () + LIMIT_MS;
        while (!s_runs (pid, "sleep")) {
            if (zclock_mono () >= deadline)
                fail_msg ("task %d did not exec sleep", seq);
            s_step (fx, 10);
        }
        //  The command's own start-up may hold a file open for a moment
        //  (glibc reads the locale's files in setlocale, after the exec):
        //  an inherited fd stays for the whole 30 s, so only a listing
        //  that stays wrong fails.
        char problem [400];
        int64_t settled = zclock_mono () + 2000;
        while (!s_fds_as_expected (pid, expected, problem, sizeof problem)) {
            if (zclock_mono () >= settled)
                fail_msg ("task %d %s", seq, problem);
            s_step (fx, 10);
        }
    }
    runner_terminate_all (fx->runner);
    s_drive (fx, 3, LIMIT_MS);
    s_expect_no_children ();
}

//  A worker started with stdin closed makes pipes on fd 0: the command's
//  stdin must still be its payload.
static void test_runner_exec_works_with_fd_0_closed (void **state)
{
    fixture_t *fx = *state;
    s_new (fx, RUNNER_EXEC, "cat", 2 * MIB, 1000);
    const uint8_t *payload = s_pattern (fx, MIB);
    int saved = dup (0);
    assert_true (saved >= 0);
    close (0);
    s_start_text (fx, 0, "in", 0);
    s_start (fx, 1, payload, MIB, 0);
    assert_int_equal (dup2 (saved, 0), 0);
    close (saved);
    s_drive (fx, 2, LIMIT_MS);
    s_expect (s_done (fx, 0), RUNNER_OK, 0, "in");
    assert_int_equal (s_done (fx, 1)->status, RUNNER_OK);
    s_expect_output (s_done (fx, 1), payload, MIB);
}

//  Payloads up to PIPE_BUF bytes go into the pipe before the command
//  starts: nothing is left to write, so no poll item waits for stdin.
static void test_runner_exec_writes_small_payload_at_start (void **state)
{
    fixture_t *fx = *state;
    s_new (fx, RUNNER_EXEC, "cat", 2 * MIB, 1000);
    const uint8_t *payload = s_pattern (fx, MIB);
    size_t sizes [] = { 1, PIPE_BUF - 1, PIPE_BUF, PIPE_BUF + 1, MIB };
    size_t count = sizeof sizes / sizeof sizes [0];
    zmq_pollitem_t items [MAX_ITEMS];
    for (size_t i = 0; i < count; i++) {
        s_start (fx, i, payload, sizes [i], 0);
        size_t n = runner_pollitems (fx->runner, items, MAX_ITEMS);
        size_t writers = 0;
        for (size_t k = 0; k < n; k++)
            writers += (items [k].events & ZMQ_POLLOUT) != 0;
        //  1 MiB cannot all be in the pipe yet.
        assert_int_equal (writers, sizes [i] == MIB ? 1 : 0);
    }
    s_drive (fx, count, LIMIT_MS);
    for (size_t i = 0; i < count; i++) {
        assert_int_equal (s_done (fx, i)->status, RUNNER_OK);
        s_expect_output (s_done (fx, i), payload, sizes [i]);
    }
}

//  Starts `echo $$ > DIR/shell; echo hi` and waits, without a turn of the
//  loop (but one after 20 ms if watched: its output is then polled), until
//  the shell has exited and not been reaped. Returns the runner's poll
//  items then (their revents cleared) and their count; *sigfd is the index
//  of the signalfd's item.
static size_t s_exited_unseen (fixture_t *fx, zmq_pollitem_t *items, size_t *sigfd, bool watched)
{
    char command [256];
    snprintf (command, sizeof command, "%secho $$ > %s/shell; echo hi", watched ? "sleep 0.1; " : "",
              fx->dir);
    s_new (fx, RUNNER_EXEC, command, 1024, 1000);
    s_start_text (fx, 0, "", 0);
    if (watched) {
        zclock_sleep (20);
        runner_handle (fx->runner, items, 0, zclock_mono ());
    }
    int64_t deadline = zclock_mono () + LIMIT_MS;
    pid_t shell;
    while (!(shell = s_read_pid (fx, "shell")) || s_alive (shell)) {
        if (zclock_mono () >= deadline)
            fail_msg ("the shell did not exit");
        zclock_sleep (5);
    }
    size_t n = runner_pollitems (fx->runner, items, MAX_ITEMS);
    *sigfd = SIZE_MAX;
    for (size_t k = 0; k < n; k++) {
        char path [64], link [64] = "";
        snprintf (path, sizeof path, "/proc/self/fd/%d", items [k].fd);
        if (readlink (path, link, sizeof link - 1) > 0 && strstr (link, "signalfd"))
            *sigfd = k;
        items [k].revents = 0;
    }
    assert_true (*sigfd < n);
    return n;
}

//  A turn of the loop that sees only the SIGCHLD ends the task: its output
//  is read when it is reaped, not a turn later.
static void test_runner_exec_ends_in_the_turn_that_reaps (void **state)
{
    fixture_t *fx = *state;
    zmq_pollitem_t items [MAX_ITEMS];
    size_t sigfd;
    size_t n = s_exited_unseen (fx, items, &sigfd, false);
    assert_int_equal (n, 1); //  a short command's output is not polled: its SIGCHLD wakes the loop
    items [sigfd].revents = ZMQ_POLLIN;
    runner_handle (fx->runner, items, n, zclock_mono ());
    s_collect (fx);
    assert_int_equal (fx->ndone, 1);
    s_expect (s_done (fx, 0), RUNNER_OK, 0, "hi\n");
    s_expect_no_children ();
}

//  A turn of the loop that sees the output end before the SIGCHLD comes
//  ends the task too: the exited shell is reaped there and then. (Output
//  is polled once a command has run OUTPUT_QUIET_MS.)
static void test_runner_exec_ends_in_the_turn_that_sees_eof (void **state)
{
    fixture_t *fx = *state;
    zmq_pollitem_t items [MAX_ITEMS];
    size_t sigfd;
    size_t n = s_exited_unseen (fx, items, &sigfd, true);
    assert_int_equal (n, 3); //  the signalfd, stdout and stderr
    for (size_t k = 0; k < n; k++)
        if (k != sigfd)
            items [k].revents = ZMQ_POLLIN;
    runner_handle (fx->runner, items, n, zclock_mono ());
    s_collect (fx);
    assert_int_equal (fx->ndone, 1);
    s_expect (s_done (fx, 0), RUNNER_OK, 0, "hi\n");
    s_expect_no_children ();
}

//  --- Exec: {} substitution -----------------------------------------------------

static void test_runner_shell_quote_quotes_everything (void **state)
{
    (void) state;
    struct {
        const char *data;
        const char *quoted;
    } cases [] = {
        { "", "''" },
        { "abc", "'abc'" },
        { "a b", "'a b'" },
        { "'", "''\\'''" },
        { "it's", "'it'\\''s'" },
        { "''", "''\\'''\\'''" },
        { "$(x) `y` \"z\" \\ ; & |", "'$(x) `y` \"z\" \\ ; & |'" },
        { "\n\t", "'\n\t'" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        char *quoted =
            runner_shell_quote ((const uint8_t *) cases [i].data, strlen (cases [i].data));
        assert_non_null (quoted);
        assert_string_equal (quoted, cases [i].quoted);
        free (quoted);
    }
    assert_null (runner_shell_quote ((const uint8_t *) "a\0b", 3));
    assert_null (runner_shell_quote ((const uint8_t *) "\0", 1));
}

static void test_runner_substitute_replaces_every_placeholder (void **state)
{
    (void) state;
    const uint8_t *it = (const uint8_t *) "it's";
    char *out = runner_substitute ("a {} b {}{} {", it, 4);
    assert_non_null (out);
    assert_string_equal (out, "a 'it'\\''s' b 'it'\\''s''it'\\''s' {");
    free (out);
    //  A payload's own {} is not substituted again.
    out = runner_substitute ("x {}", (const uint8_t *) "{}", 2);
    assert_non_null (out);
    assert_string_equal (out, "x '{}'");
    free (out);
    //  Without {} the command is kept, even for a payload with a NUL.
    out = runner_substitute ("cat", (const uint8_t *) "a\0b", 3);
    assert_non_null (out);
    assert_string_equal (out, "cat");
    free (out);
    assert_null (runner_substitute ("echo {}", (const uint8_t *) "a\0b", 3));
}

//  Payloads meant to break out of quoting come out literally, and the
//  marker file that each of them tries to create never appears.
static void test_runner_exec_substitutes_payload_literally (void **state)
{
    fixture_t *fx = *state;
    s_new (fx, RUNNER_EXEC, "printf %s {}", 4096, 1000);
    char marker [128];
    s_path (fx, "marker", marker, sizeof marker);
    //  Each payload is a prefix, the marker's path, a suffix.
    const char *parts [][2] = {
        { "'; touch ", "; echo '" },
        { "$(touch ", ")" },
        { "`touch ", "`" },
        { "\"; touch ", "; \"" },
        { "'$(touch ", ")'" },
        { "\\'; touch ", " #" },
        { "'\\''; touch ", "; '\\''" },
        { "; touch ", ";" },
        { "| touch ", "" },
        { "&& touch ", "" },
        { "\ntouch ", "\n" },
        { "${IFS}touch${IFS}", "" },
        { "a  b\t c * ? [x] ~ $HOME ", " {} -n" },
    };
    size_t count = sizeof parts / sizeof parts [0];
    char payloads [16][256];
    assert_true (count <= 16);
    for (size_t i = 0; i < count; i++) {
        snprintf (payloads [i], sizeof payloads [i], "%s%s%s", parts [i][0], marker, parts [i][1]);
        s_start_text (fx, i, payloads [i], 0);
    }
    //  Every byte but NUL, and an empty payload.
    uint8_t bytes [255];
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes [i] = (uint8_t) (i + 1);
    s_start (fx, count, bytes, sizeof bytes, 0);
    s_start_text (fx, count + 1, "", 0);
    s_drive (fx, count + 2, LIMIT_MS);
    for (size_t i = 0; i < count; i++)
        s_expect (s_done (fx, i), RUNNER_OK, 0, payloads [i]);
    assert_int_equal (s_done (fx, count)->status, RUNNER_OK);
    s_expect_output (s_done (fx, count), bytes, sizeof bytes);
    s_expect (s_done (fx, count + 1), RUNNER_OK, 0, "");
    errno = 0;
    assert_int_equal (access (marker, F_OK), -1);
    assert_int_equal (errno, ENOENT);
}

static void test_runner_exec_substitutes_every_placeholder (void **state)
{
    fixture_t *fx = *state;
    s_new (fx, RUNNER_EXEC, "printf '%s|%s' {} {}", 1024, 1000);
    s_start_text (fx, 0, "a 'b' {}", 0);
    s_drive (fx, 1, LIMIT_MS);
    s_expect (s_done (fx, 0), RUNNER_OK, 0, "a 'b' {}|a 'b' {}");
}

static void test_runner_exec_fails_payload_with_nul_for_placeholder (void **state)
{
    fixture_t *fx = *state;
    s_new (fx, RUNNER_EXEC, "printf %s {}", 1024, 1000);
    s_start (fx, 5, "a\0b", 3, 0);
    //  It finishes at once, without a turn of the loop.
    assert_int_equal (runner_running (fx->runner), 0);
    s_collect (fx);
    assert_int_equal (fx->ndone, 1);
    runner_done_t *done = s_done (fx, 5);
    assert_int_equal (done->status, RUNNER_FAILED);
    assert_int_equal (done->exit_code, -1);
    assert_int_equal (done->output_size, 0);
    char err [256];
    assert_non_null (strstr (s_err_text (done, err, sizeof err), "NUL"));
    s_expect_no_children ();
}

//  A command line over the kernel's limit for one argument (128 KiB) cannot
//  be exec'd: the task fails with the reason instead of vanishing.
static void test_runner_exec_reports_spawn_failure (void **state)
{
    //  valgrind cannot survive an execve that fails in the spawned child
    //  ("EXEC FAILED: I can't recover"): the child dies with status 101.
    if (RUNNING_ON_VALGRIND)
        skip ();
    fixture_t *fx = *state;
    s_new (fx, RUNNER_EXEC, "printf %s {} | wc -c", 1024, 1000);
    char *payload = malloc (256 * 1024 + 1);
    assert_non_null (payload);
    memset (payload, 'x', 256 * 1024);
    payload [256 * 1024] = '\0';
    int rc = runner_start (fx->runner, 3, "job-1", 1, 1, (const uint8_t *) payload, 256 * 1024, 0,
                           s_now (fx));
    free (payload);
    assert_int_equal (rc, 0);
    s_drive (fx, 1, LIMIT_MS);
    runner_done_t *done = s_done (fx, 3);
    assert_int_equal (done->status, RUNNER_FAILED);
    assert_int_equal (done->exit_code, -1);
    char err [256];
    s_err_text (done, err, sizeof err);
    assert_non_null (strstr (err, "cannot start"));
    assert_non_null (strstr (err, strerror (E2BIG)));
    s_expect_no_children ();
}

//  --- Exec: output limits ------------------------------------------------------

static void test_runner_exec_truncates_output_at_max_output (void **state)
{
    fixture_t *fx = *state;
    s_new (fx, RUNNER_EXEC, "cat", 1000, 1000);
    const uint8_t *payload = s_pattern (fx, MIB);
    size_t sizes [] = { 999, 1000, 1001, 5000, MIB };
    size_t count = sizeof sizes / sizeof sizes [0];
    for (size_t i = 0; i < count; i++)
        s_start (fx, i, payload, sizes [i], 0);
    s_drive (fx, count, LIMIT_MS);
    for (size_t i = 0; i < count; i++) {
        runner_done_t *done = s_done (fx, i);
        //  The rest is read and dropped: cat is not stopped by a full pipe.
        assert_int_equal (done->status, RUNNER_OK);
        assert_int_equal (done->exit_code, 0);
        assert_int_equal (done->output_truncated, sizes [i] > 1000);
        s_expect_output (done, payload, sizes [i] > 1000 ? 1000 : sizes [i]);
    }
}

static void test_runner_exec_keeps_last_4096_bytes_of_stderr (void **state)
{
    fixture_t *fx = *state;
    s_new (fx, RUNNER_EXEC, "cat >&2; printf done", 1024, 1000);
    const uint8_t *payload = s_pattern (fx, MIB);
    size_t sizes [] = {
        0, 1, STDERR_TAIL - 1, STDERR_TAIL, STDERR_TAIL + 1, 3 * STDERR_TAIL + 7, 65537, MIB
    };
    size_t count = sizeof sizes / sizeof sizes [0];
    for (size_t i = 0; i < count; i++)
        s_start (fx, i, payload, sizes [i], 0);
    s_drive (fx, count, LIMIT_MS);
    for (size_t i = 0; i < count; i++) {
        runner_done_t *done = s_done (fx, i);
        s_expect (done, RUNNER_OK, 0, "done");
        size_t tail = sizes [i] < STDERR_TAIL ? sizes [i] : STDERR_TAIL;
        assert_int_equal (done->err_size, tail);
        if (tail)
            assert_memory_equal (done->err, payload + sizes [i] - tail, tail);
    }
}

static void test_runner_exec_keeps_no_output_with_max_output_zero (void **state)
{
    fixture_t *fx = *state;
    s_new (fx, RUNNER_EXEC, "printf out", 0, 1000);
    s_start_text (fx, 0, "", 0);
    s_drive (fx, 1, LIMIT_MS);
    runner_done_t *done = s_done (fx, 0);
    assert_int_equal (done->status, RUNNER_OK);
    assert_int_equal (done->output_size, 0);
    assert_true (done->output_truncated);
}

//  --- Exec: time limits and process groups ---------------------------------------

static void test_runner_exec_times_out_with_sigterm (void **state)
{
    fixture_t *fx = *state;
    char command [256];
    snprintf (command, sizeof command, "printf partial; echo $$ > %s/shell; sleep 30", fx->dir);
    s_new (fx, RUNNER_EXEC, command, 1024, 5000);
    //  Time stands still until the output is written, however slow the start.
    int64_t started = zclock_mono ();
    fx->frozen = started;
    s_start_text (fx, 0, "", 200);
    s_wait_pid_file (fx, "shell");
    fx->frozen = -1;
    s_drive (fx, 1, LIMIT_MS);
    int64_t elapsed = zclock_mono () - started;
    runner_done_t *done = s_done (fx, 0);
    assert_int_equal (done->status, RUNNER_TIMEOUT);
    assert_int_equal (done->exit_code, 128 + SIGTERM);
    s_expect_output (done, "partial", 7);
    //  Not before its time limit, and well under the 30 s sleep.
    assert_true (done->duration_ms >= 200);
    assert_true (elapsed < 10000);
    s_expect_no_children ();
}

static void test_runner_exec_kills_command_ignoring_sigterm (void **state)
{
    fixture_t *fx = *state;
    char command [256];
    snprintf (command, sizeof command, "trap '' TERM; echo $$ > %s/shell; sleep 30", fx->dir);
    s_new (fx, RUNNER_EXEC, command, 1024, 300);
    //  Time stands still until the trap is set: a slow start cannot turn
    //  this into a plain SIGTERM kill.
    fx->frozen = zclock_mono ();
    s_start_text (fx, 0, "", 200);
    pid_t shell = s_wait_pid_file (fx, "shell");
    fx->frozen = -1;
    s_drive (fx, 1, LIMIT_MS);
    runner_done_t *done = s_done (fx, 0);
    assert_int_equal (done->status, RUNNER_TIMEOUT);
    assert_int_equal (done->exit_code, 128 + SIGKILL);
    //  Time limit plus kill grace, and well under the 30 s sleep.
    assert_true (done->duration_ms >= 200 + 300);
    assert_true (done->duration_ms < 10000);
    assert_false (s_alive (shell));
    s_expect_no_children ();
}

//  The shell exits at once but its background child holds stdout: the task
//  ends after a short grace and the child is killed.
static void test_runner_exec_kills_background_child_after_exit (void **state)
{
    fixture_t *fx = *state;
    char command [256];
    snprintf (command, sizeof command, "sleep 30 & echo $! > %s/child; echo hi", fx->dir);
    s_new (fx, RUNNER_EXEC, command, 1024, 1000);
    s_start_text (fx, 0, "", 0);
    s_drive (fx, 1, LIMIT_MS);
    pid_t child = s_stray (fx, s_read_pid (fx, "child"));
    assert_true (child > 0);
    runner_done_t *done = s_done (fx, 0);
    s_expect (done, RUNNER_OK, 0, "hi\n");
    assert_true (done->duration_ms < 3000);
    assert_true (s_gone_within (child, 5000));
    s_expect_no_children ();
}

//  A background child that let go of the output is killed with the group
//  as soon as the task is over.
static void test_runner_exec_kills_detached_child_at_end (void **state)
{
    fixture_t *fx = *state;
    char command [256];
    snprintf (command, sizeof command, "sleep 30 >/dev/null 2>&1 & echo $! > %s/child", fx->dir);
    s_new (fx, RUNNER_EXEC, command, 1024, 1000);
    s_start_text (fx, 0, "", 0);
    s_drive (fx, 1, LIMIT_MS);
    pid_t child = s_stray (fx, s_read_pid (fx, "child"));
    assert_true (child > 0);
    s_expect (s_done (fx, 0), RUNNER_OK, 0, "");
    assert_true (s_gone_within (child, 5000));
    s_expect_no_children ();
}

//  Processes that leave the task's group, by setsid and by a daemon's
//  double fork (the middle process exits at once), die when the task ends,
//  and are reaped by then: with a cgroup per task where the test may make
//  them, and as a subreaper without (SLUICE_TASK_CGROUP=off).
static void s_check_escapes_die (fixture_t *fx, bool cgroups)
{
    char command [512];
    snprintf (command, sizeof command,
              "setsid sleep 30 >/dev/null 2>&1 & echo $! > %s/setsid; "
              "(setsid sh -c 'sleep 30 >/dev/null 2>&1 & echo $! > %s/daemon' &); "
              "while [ ! -s %s/daemon ]; do sleep 0.01; done",
              fx->dir, fx->dir, fx->dir);
    if (!cgroups)
        setenv ("SLUICE_TASK_CGROUP", "off", 1);
    s_new (fx, RUNNER_EXEC, command, 1024, 1000);
    unsetenv ("SLUICE_TASK_CGROUP");
    s_start_text (fx, 0, "", 0);
    s_drive (fx, 1, LIMIT_MS);
    pid_t setsid_child = s_stray (fx, s_read_pid (fx, "setsid"));
    pid_t daemon = s_stray (fx, s_read_pid (fx, "daemon"));
    assert_true (setsid_child > 0 && daemon > 0);
    s_expect (s_done (fx, 0), RUNNER_OK, 0, "");
    //  Dead and reaped when the result is out: no zombie waits for a turn.
    assert_false (s_alive (setsid_child));
    assert_false (s_alive (daemon));
    s_expect_no_children ();
}

static void test_runner_exec_kills_escaped_processes_at_end (void **state)
{
    s_check_escapes_die (*state, true);
}

static void test_runner_exec_kills_escaped_processes_at_end_without_cgroups (void **state)
{
    s_check_escapes_die (*state, false);
}

static void test_runner_exec_timeout_leaves_no_grandchild (void **state)
{
    fixture_t *fx = *state;
    char command [256];
    //  The grandchild ignores SIGTERM: only the group's SIGKILL ends it.
    snprintf (command, sizeof command,
              "(trap '' TERM; echo ready > %s/ready; exec sleep 30) & echo $! > %s/child; "
              "sleep 30",
              fx->dir, fx->dir);
    s_new (fx, RUNNER_EXEC, command, 1024, 300);
    fx->frozen = zclock_mono ();
    s_start_text (fx, 0, "", 200);
    pid_t child = s_wait_pid_file (fx, "child");
    char ready [128];
    s_path (fx, "ready", ready, sizeof ready);
    int64_t deadline = zclock_mono () + LIMIT_MS;
    while (access (ready, F_OK) != 0) {
        assert_true (zclock_mono () < deadline);
        s_step (fx, 10);
    }
    fx->frozen = -1;
    s_drive (fx, 1, LIMIT_MS);
    runner_done_t *done = s_done (fx, 0);
    assert_int_equal (done->status, RUNNER_TIMEOUT);
    assert_true (done->duration_ms < 10000);
    assert_true (s_gone_within (child, 5000));
    s_expect_no_children ();
}

static void test_runner_exec_timer_is_never_left_due (void **state)
{
    fixture_t *fx = *state;
    char command [256];
    snprintf (command, sizeof command, "sleep 30 & echo $! > %s/child; echo $$ > %s/shell", fx->dir,
              fx->dir);
    s_new (fx, RUNNER_EXEC, command, 1024, 1000);
    fx->frozen = 1000000;
    s_start_text (fx, 0, "", 100);
    s_stray (fx, s_wait_pid_file (fx, "child"));
    s_wait_reaped (fx, s_wait_pid_file (fx, "shell"));
    //  The shell exited at 1000000: the time limit falls inside its grace.
    fx->frozen += 150;
    s_step (fx, 0);
    int64_t timer = runner_next_timer (fx->runner);
    if (timer >= 0 && timer <= fx->frozen)
        fail_msg ("after runner_handle at %lld the next timer is %lld, already due",
                  (long long) fx->frozen, (long long) timer);
    fx->frozen += 1000;
    s_drive (fx, 1, LIMIT_MS);
}

static void test_runner_exec_runs_tasks_concurrently (void **state)
{
    fixture_t *fx = *state;
    s_new (fx, RUNNER_EXEC, "sleep 0.5; echo $SLUICE_SEQ", 1024, 1000);
    int64_t started = zclock_mono ();
    for (uint64_t tag = 0; tag < 20; tag++)
        s_start_text (fx, tag, "", 0);
    assert_int_equal (runner_running (fx->runner), 20);
    s_drive (fx, 20, LIMIT_MS);
    int64_t elapsed = zclock_mono () - started;
    for (uint64_t tag = 0; tag < 20; tag++) {
        char expected [32];
        snprintf (expected, sizeof expected, "%llu\n", (unsigned long long) tag + 1);
        s_expect (s_done (fx, tag), RUNNER_OK, 0, expected);
    }
    //  One after the other they would take 10 s.
    if (elapsed >= 3000)
        fail_msg ("20 tasks of 0.5 s took %lld ms", (long long) elapsed);
    assert_int_equal (runner_running (fx->runner), 0);
    s_expect_no_children ();
}

static void test_runner_terminate_all_ends_running_tasks (void **state)
{
    fixture_t *fx = *state;
    s_new (fx, RUNNER_EXEC, "sleep 30", 1024, 1000);
    int64_t started = zclock_mono ();
    s_start_text (fx, 0, "", 0);
    s_start_text (fx, 1, "", 60000);
    runner_terminate_all (fx->runner);
    s_drive (fx, 2, LIMIT_MS);
    for (uint64_t tag = 0; tag < 2; tag++)
        s_expect (s_done (fx, tag), RUNNER_FAILED, 128 + SIGTERM, "");
    assert_true (zclock_mono () - started < 10000);
    s_expect_no_children ();
}

static void test_runner_destroy_kills_and_reaps_running_tasks (void **state)
{
    fixture_t *fx = *state;
    char command [256];
    snprintf (command, sizeof command, "sleep 30 & echo $! > %s/child-$SLUICE_SEQ; sleep 30",
              fx->dir);
    s_new (fx, RUNNER_EXEC, command, 1024, 1000);
    pid_t children [3];
    for (uint64_t tag = 0; tag < 3; tag++)
        s_start_text (fx, tag, "", 0);
    for (int i = 0; i < 3; i++) {
        char name [32];
        snprintf (name, sizeof name, "child-%d", i + 1);
        children [i] = s_wait_pid_file (fx, name);
    }
    int64_t started = zclock_mono ();
    runner_destroy (&fx->runner);
    assert_null (fx->runner);
    assert_true (zclock_mono () - started < 5000);
    s_expect_no_children ();
    for (int i = 0; i < 3; i++)
        assert_true (s_gone_within (children [i], 5000));
}

static void test_runner_destroy_kills_background_child_of_exited_shell (void **state)
{
    fixture_t *fx = *state;
    char command [256];
    snprintf (command, sizeof command, "sleep 30 & echo $! > %s/child; echo $$ > %s/shell", fx->dir,
              fx->dir);
    s_new (fx, RUNNER_EXEC, command, 1024, 1000);
    //  Frozen time: the exit grace cannot end before runner_destroy.
    fx->frozen = zclock_mono ();
    s_start_text (fx, 0, "", 0);
    pid_t child = s_wait_pid_file (fx, "child");
    s_wait_reaped (fx, s_wait_pid_file (fx, "shell"));
    assert_int_equal (runner_running (fx->runner), 1);
    runner_destroy (&fx->runner);
    assert_true (s_gone_within (child, 5000));
    s_expect_no_children ();
}

//  --- Built-ins ----------------------------------------------------------------

static void test_runner_echo_returns_payload_at_once (void **state)
{
    fixture_t *fx = *state;
    s_new (fx, RUNNER_ECHO, NULL, 10, 0);
    const uint8_t payload [] = { 'a', 0, 0xff, '\n' };
    s_start (fx, 0, payload, sizeof payload, 0);
    s_start (fx, 1, "0123456789", 10, 0);
    s_start (fx, 2, "0123456789A", 11, 0);
    s_start (fx, 3, "", 0, 0);
    assert_int_equal (runner_running (fx->runner), 0);
    assert_int_equal (runner_next_timer (fx->runner), -1);
    s_collect (fx);
    assert_int_equal (fx->ndone, 4);
    assert_int_equal (s_done (fx, 0)->status, RUNNER_OK);
    assert_int_equal (s_done (fx, 0)->exit_code, 0);
    s_expect_output (s_done (fx, 0), payload, sizeof payload);
    s_expect (s_done (fx, 1), RUNNER_OK, 0, "0123456789");
    runner_done_t *done = s_done (fx, 2);
    assert_int_equal (done->status, RUNNER_OK);
    assert_true (done->output_truncated);
    s_expect_output (done, "0123456789", 10);
    s_expect (s_done (fx, 3), RUNNER_OK, 0, "");
}

//  Finished tasks come out first in, first out, also while the queue grows.
static void test_runner_done_queue_keeps_order (void **state)
{
    fixture_t *fx = *state;
    s_new (fx, RUNNER_ECHO, NULL, 64, 0);
    uint64_t next = 0;
    for (uint64_t tag = 0; tag < 10; tag++)
        s_start (fx, tag, "x", 1, 0);
    for (int i = 0; i < 5; i++) {
        runner_done_t *done = runner_done (fx->runner);
        assert_non_null (done);
        assert_int_equal (done->tag, next++);
        runner_done_destroy (&done);
        assert_null (done);
    }
    for (uint64_t tag = 10; tag < 100; tag++)
        s_start (fx, tag, "x", 1, 0);
    runner_done_t *done;
    while ((done = runner_done (fx->runner))) {
        assert_int_equal (done->tag, next++);
        runner_done_destroy (&done);
    }
    assert_int_equal (next, 100);
}

static void test_runner_sleep_runs_100_at_once (void **state)
{
    fixture_t *fx = *state;
    s_new (fx, RUNNER_SLEEP, NULL, 1024, 0);
    int64_t started = zclock_mono ();
    for (uint64_t tag = 0; tag < 100; tag++)
        s_start_text (fx, tag, tag % 2 ? "100" : " 100\t", 0);
    assert_int_equal (runner_running (fx->runner), 100);
    s_drive (fx, 100, LIMIT_MS);
    int64_t elapsed = zclock_mono () - started;
    for (uint64_t tag = 0; tag < 100; tag++) {
        runner_done_t *done = s_done (fx, tag);
        s_expect (done, RUNNER_OK, 0, tag % 2 ? "100" : " 100\t");
        assert_true (done->duration_ms >= 100);
    }
    assert_true (elapsed >= 100);
    if (elapsed >= 1000)
        fail_msg ("100 sleeps of 100 ms took %lld ms", (long long) elapsed);
    assert_int_equal (runner_running (fx->runner), 0);
    assert_int_equal (runner_next_timer (fx->runner), -1);
}

static void test_runner_sleep_fails_invalid_payload (void **state)
{
    fixture_t *fx = *state;
    s_new (fx, RUNNER_SLEEP, NULL, 1024, 0);
    const char *payloads [] = { "abc",  "",    " ",    "-5",
                                "5abc", "1.5", "0x10", "99999999999999999999999999999999999" };
    size_t count = sizeof payloads / sizeof payloads [0];
    for (size_t i = 0; i < count; i++)
        s_start_text (fx, i, payloads [i], 0);
    assert_int_equal (runner_running (fx->runner), 0);
    s_collect (fx);
    assert_int_equal (fx->ndone, count);
    for (size_t i = 0; i < count; i++) {
        runner_done_t *done = s_done (fx, i);
        assert_int_equal (done->status, RUNNER_FAILED);
        assert_int_equal (done->output_size, 0);
        assert_true (done->err_size > 0);
    }
    char err [256];
    assert_non_null (strstr (s_err_text (s_done (fx, 0), err, sizeof err), "sleep"));
}

static void test_runner_sleep_times_out_before_its_end (void **state)
{
    fixture_t *fx = *state;
    s_new (fx, RUNNER_SLEEP, NULL, 1024, 0);
    int64_t started = zclock_mono ();
    s_start_text (fx, 0, "5000", 100);
    s_start_text (fx, 1, "100", 100); //  a limit equal to the sleep is not shorter
    s_drive (fx, 2, LIMIT_MS);
    int64_t elapsed = zclock_mono () - started;
    runner_done_t *done = s_done (fx, 0);
    assert_int_equal (done->status, RUNNER_TIMEOUT);
    assert_int_equal (done->output_size, 0);
    assert_true (done->duration_ms >= 100);
    s_expect (s_done (fx, 1), RUNNER_OK, 0, "100");
    if (elapsed >= 1500)
        fail_msg ("a sleep with a 100 ms limit took %lld ms", (long long) elapsed);
}

int main (void)
{
    //  The runner takes SIGCHLD through a signalfd: block it before anything.
    sigset_t mask;
    sigemptyset (&mask);
    sigaddset (&mask, SIGCHLD);
    sigprocmask (SIG_BLOCK, &mask, NULL);

    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_runner_exec_returns_exact_output, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_exec_reports_exit_code_and_stderr, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_exec_reports_signal_as_128_plus_n, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_exec_gives_payload_on_stdin, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_exec_passes_1mib_through_cat, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_exec_finishes_when_command_ignores_stdin,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_exec_sets_sluice_environment, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_exec_starts_in_own_group_with_default_signals,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_exec_inherits_no_runner_fd, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_exec_works_with_fd_0_closed, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_exec_writes_small_payload_at_start, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_exec_ends_in_the_turn_that_reaps, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_exec_ends_in_the_turn_that_sees_eof, s_setup,
                                         s_teardown),
        cmocka_unit_test (test_runner_shell_quote_quotes_everything),
        cmocka_unit_test (test_runner_substitute_replaces_every_placeholder),
        cmocka_unit_test_setup_teardown (test_runner_exec_substitutes_payload_literally, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_exec_substitutes_every_placeholder, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_exec_fails_payload_with_nul_for_placeholder,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_exec_reports_spawn_failure, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_exec_truncates_output_at_max_output, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_exec_keeps_last_4096_bytes_of_stderr, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_exec_keeps_no_output_with_max_output_zero,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_exec_times_out_with_sigterm, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_exec_kills_command_ignoring_sigterm, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_exec_kills_background_child_after_exit,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_exec_kills_detached_child_at_end, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_exec_timeout_leaves_no_grandchild, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_exec_kills_escaped_processes_at_end, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (
            test_runner_exec_kills_escaped_processes_at_end_without_cgroups, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_exec_timer_is_never_left_due, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_exec_runs_tasks_concurrently, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_terminate_all_ends_running_tasks, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_destroy_kills_and_reaps_running_tasks, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_destroy_kills_background_child_of_exited_shell,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_echo_returns_payload_at_once, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_done_queue_keeps_order, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_sleep_runs_100_at_once, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_sleep_fails_invalid_payload, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_runner_sleep_times_out_before_its_end, s_setup,
                                         s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
