/*  runner - runs a worker's tasks, see runner.h.

    Children are started in a new process group with three pipes: the
    payload goes to stdin, stdout is captured up to max_output, and a ring
    keeps the last STDERR_TAIL bytes of stderr. SIGCHLD arrives on a
    signalfd that is polled with the pipes; children are reaped with
    waitpid(-1, WNOHANG), since every child of a worker process is one of
    ours (the processes a task orphaned included: the worker is their
    subreaper, see contain.h).

    Spawning is much of what an exec task costs the worker, so it is done
    by hand rather than with posix_spawn: clone(CLONE_VM) on a stack of the
    task's own (glibc maps and unmaps one per call, and checks the fd limit
    for every file action), and a child that resets only the signals that
    need it (glibc's asks about all 64, two system calls each, on every
    spawn). The worker does not wait for the child to exec (no
    CLONE_VFORK, on x86_64): waiting blocked its loop for as long as the
    child took to be scheduled, join its cgroup and load /bin/sh, while
    the other slots' tasks ended unseen. The child shares the worker's
    memory until it execs, so it touches only its task's spawn block (kept
    until the child is reaped) and makes raw system calls, which write
    nothing (libc's wrappers set errno, which is the worker's). A failed
    start is reported when the child is reaped.

    A payload that fits in an empty pipe is written before the spawn, and a
    reaped child's pipes are read at once, so that a short task takes as
    few turns of the worker's loop as it can: one to start it (with the
    previous task's end) and one to see it end. For that, a command's
    output pipes are not polled for its first OUTPUT_QUIET_MS (a pipe holds
    64 KiB: a command that writes more in that time waits for the rest of
    it), else each write of a short command would wake the worker, which
    would preempt the command on its core.

    Timers (sleep ends, time limits, kill graces) are found by scanning the
    running tasks: O(running) per loop turn, which is fine for the hundreds
    of slots a worker has, and needs no heap to keep in step.
*/
#include "runner.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "contain.h"
#include "sl_util.h"

#define STDERR_TAIL 4096  //  bytes of stderr kept per task
#define EXIT_GRACE_MS 200 //  after the shell exits, wait this long for its pipes
#define OUTPUT_QUIET_MS 5 //  a command's output is not watched until it has run this long
#define READ_CHUNK 65536
#define SPAWN_STACK 16384 //  a child's stack until it execs (it needs a few hundred bytes)

extern char **environ;

typedef enum {
    RT_FREE = 0, //  slot unused
    RT_RUNNING,  //  started, not finished
} rt_state_t;

typedef struct {
    rt_state_t state; //  slot in use?
    uint64_t tag;     //  caller's handle
    int64_t started;  //  ms
    int64_t timer;    //  next time something is due for this task, or -1
    //  Built-in sleep
    bool is_sleep;    //  a sleep task: finishes at timer
    uint8_t *payload; //  payload copy (sleep output; exec stdin)
    size_t payload_size;
    //  Exec
    struct _spawn_t *spawn;    //  what the child reads until it execs (owned), see s_spawn
    pid_t pid;                 //  child (and its process group id), 0 when none
    int fd_in, fd_out, fd_err; //  pipe ends, -1 when closed
    size_t written;            //  payload bytes written to stdin
    bool exited;               //  child reaped
    bool reap_tried;           //  output at EOF before SIGCHLD came: reaped once by hand
    bool watch_output;         //  its output pipes are polled (see OUTPUT_QUIET_MS)
    int64_t quiet_until;       //  when they are, if it has not exited by then
    int exit_code;             //  its exit code (128+N for signal N)
    int64_t exited_at;         //  when it was reaped
    int64_t deadline;          //  time limit, or -1
    int kill_stage;            //  0 none, 1 SIGTERM sent, 2 SIGKILL sent
    bool timed_out;            //  the time limit killed it
    uint8_t *out;              //  captured stdout
    size_t out_size, out_cap;
    bool out_truncated;
    uint8_t err [STDERR_TAIL]; //  ring of the last stderr bytes
    size_t err_total;          //  stderr bytes seen
    contain_task_t contain;    //  what catches the processes that leave its group
} rtask_t;

struct _runner_t {
    runner_config_t config; //  copy of the caller's
    char *command;          //  owned copy of config.command
    rtask_t *tasks;         //  slots
    size_t ntasks;          //  slots allocated
    size_t running;         //  slots in use
    int sigfd;              //  signalfd for SIGCHLD, -1 for built-ins
    contain_t *contain;     //  RUNNER_EXEC: nothing a task started outlives it
    sigset_t defaults;      //  signals the child sets to SIG_DFL, see s_defaults
    bool defaults_known;    //  defaults has been filled in
    runner_done_t **done;   //  finished tasks not yet taken (FIFO)
    size_t ndone, done_head, done_cap;
    //  Poll bookkeeping: which task and fd each item of the last
    //  runner_pollitems call stands for.
    size_t *poll_task;
    int *poll_fd;
    size_t poll_cap;
};

void runner_done_destroy (runner_done_t **done_p)
{
    assert (done_p);
    if (*done_p) {
        free ((*done_p)->output);
        free ((*done_p)->err);
        free (*done_p);
        *done_p = NULL;
    }
}

runner_t *runner_new (const runner_config_t *config)
{
    assert (config);
    runner_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    self->sigfd = -1;
    if (config->mode == RUNNER_EXEC) {
        assert (config->command);
        self->command = strdup (config->command);
        sigset_t mask;
        sigemptyset (&mask);
        sigaddset (&mask, SIGCHLD);
        //  SLUICE_TASK_CGROUP=off: no cgroup per task (tests of the fallback).
        const char *cgroups = getenv ("SLUICE_TASK_CGROUP");
        self->contain = contain_new (!cgroups || strcmp (cgroups, "off") != 0);
        if (!self->command || !self->contain ||
            sigprocmask (SIG_BLOCK, &mask, NULL) != 0 ||
            (self->sigfd = signalfd (-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
            runner_destroy (&self);
            return NULL;
        }
        //  A child that stops reading its stdin must not kill the worker.
        signal (SIGPIPE, SIG_IGN);
    }
    return self;
}

static void s_close (int *fd)
{
    if (*fd >= 0) {
        close (*fd);
        *fd = -1;
    }
}

static void s_spawn_destroy (struct _spawn_t **spawn_p);
static void s_contain_end (runner_t *self, rtask_t *task);

static void s_task_clear (rtask_t *task)
{
    s_spawn_destroy (&task->spawn);
    s_close (&task->fd_in);
    s_close (&task->fd_out);
    s_close (&task->fd_err);
    free (task->payload);
    free (task->out);
    memset (task, 0, sizeof *task);
    task->fd_in = task->fd_out = task->fd_err = -1;
}

void runner_destroy (runner_t **self_p)
{
    assert (self_p);
    runner_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->ntasks; i++) {
        rtask_t *task = &self->tasks [i];
        //  Kill the whole group, also when the shell is already reaped but
        //  something it started still runs.
        if (task->state == RT_RUNNING && task->pid > 0) {
            kill (-task->pid, SIGKILL);
            if (!task->exited)
                waitpid (task->pid, NULL, 0);
            s_contain_end (self, task);
        }
        if (task->state == RT_RUNNING)
            s_task_clear (task);
    }
    contain_destroy (&self->contain);
    free (self->tasks);
    for (size_t i = 0; i < self->ndone; i++)
        runner_done_destroy (&self->done [(self->done_head + i) % self->done_cap]);
    free (self->done);
    free (self->poll_task);
    free (self->poll_fd);
    if (self->sigfd >= 0)
        close (self->sigfd);
    free (self->command);
    free (self);
    *self_p = NULL;
}

size_t runner_running (runner_t *self)
{
    assert (self);
    return self->running;
}

//  --- Finished tasks ---------------------------------------------------------

static int s_push_done (runner_t *self, runner_done_t *done)
{
    if (self->ndone == self->done_cap) {
        size_t cap = self->done_cap ? self->done_cap * 2 : 16;
        runner_done_t **ring = malloc (cap * sizeof *ring);
        if (!ring)
            return -1;
        for (size_t i = 0; i < self->ndone; i++)
            ring [i] = self->done [(self->done_head + i) % self->done_cap];
        free (self->done);
        self->done = ring;
        self->done_cap = cap;
        self->done_head = 0;
    }
    self->done [(self->done_head + self->ndone) % self->done_cap] = done;
    self->ndone++;
    return 0;
}

runner_done_t *runner_done (runner_t *self)
{
    assert (self);
    if (self->ndone == 0)
        return NULL;
    runner_done_t *done = self->done [self->done_head];
    self->done_head = (self->done_head + 1) % self->done_cap;
    self->ndone--;
    return done;
}

//  Queues a finished task with a copy of output and err. Returns 0 or -1.
static int s_finish (runner_t *self, uint64_t tag, int status, int exit_code, const uint8_t *output,
                     size_t output_size, bool truncated, const uint8_t *err, size_t err_size,
                     uint64_t duration_ms)
{
    runner_done_t *done = calloc (1, sizeof *done);
    if (!done)
        return -1;
    done->tag = tag;
    done->status = status;
    done->exit_code = exit_code;
    done->output_truncated = truncated;
    done->duration_ms = duration_ms;
    if (output_size) {
        done->output = malloc (output_size);
        if (!done->output)
            goto fail;
        memcpy (done->output, output, output_size);
        done->output_size = output_size;
    }
    if (err_size) {
        done->err = malloc (err_size);
        if (!done->err)
            goto fail;
        memcpy (done->err, err, err_size);
        done->err_size = err_size;
    }
    if (s_push_done (self, done))
        goto fail;
    return 0;
fail:
    runner_done_destroy (&done);
    return -1;
}

static int s_fail_start (runner_t *self, uint64_t tag, const char *why)
{
    return s_finish (self, tag, RUNNER_FAILED, -1, NULL, 0, false, (const uint8_t *) why,
                     strlen (why), 0);
}

//  --- Starting tasks -----------------------------------------------------------

char *runner_shell_quote (const uint8_t *data, size_t size)
{
    if (memchr (data, '\0', size))
        return NULL;
    size_t quotes = 0;
    for (size_t i = 0; i < size; i++)
        quotes += data [i] == '\'';
    char *out = malloc (size + 3 * quotes + 3);
    if (!out)
        return NULL;
    char *p = out;
    *p++ = '\'';
    for (size_t i = 0; i < size; i++) {
        if (data [i] == '\'') {
            memcpy (p, "'\\''", 4); //  close, escaped quote, reopen
            p += 4;
        } else
            *p++ = (char) data [i];
    }
    *p++ = '\'';
    *p = '\0';
    return out;
}

char *runner_substitute (const char *command, const uint8_t *payload, size_t size)
{
    if (!strstr (command, "{}"))
        return strdup (command);
    char *quoted = runner_shell_quote (payload, size);
    if (!quoted)
        return NULL;
    size_t qlen = strlen (quoted), count = 0;
    for (const char *p = command; (p = strstr (p, "{}")); p += 2)
        count++;
    char *out = malloc (strlen (command) + count * qlen + 1);
    if (out) {
        char *o = out;
        for (const char *p = command; *p;) {
            if (p [0] == '{' && p [1] == '}') {
                memcpy (o, quoted, qlen);
                o += qlen;
                p += 2;
            } else
                *o++ = *p++;
        }
        *o = '\0';
    }
    free (quoted);
    return out;
}

//  A free slot, growing the table if needed. NULL if out of memory.
static rtask_t *s_slot (runner_t *self)
{
    for (size_t i = 0; i < self->ntasks; i++)
        if (self->tasks [i].state == RT_FREE)
            return &self->tasks [i];
    size_t n = self->ntasks ? self->ntasks * 2 : 8;
    rtask_t *tasks = realloc (self->tasks, n * sizeof *tasks);
    if (!tasks)
        return NULL;
    for (size_t i = self->ntasks; i < n; i++) {
        memset (&tasks [i], 0, sizeof tasks [i]);
        tasks [i].fd_in = tasks [i].fd_out = tasks [i].fd_err = -1;
    }
    self->tasks = tasks;
    rtask_t *slot = &tasks [self->ntasks];
    self->ntasks = n;
    return slot;
}

//  Builds the environment of a task: ours plus SLUICE_JOB/SEQ/ATTEMPT.
//  The strings live in `vars`; returns a malloc'ed array (free it only).
static char **s_environment (char vars [3][128], const char *job, uint64_t seq, uint32_t attempt,
                             char **extra, size_t nextra)
{
    size_t n = 0;
    while (environ [n])
        n++;
    char **envp = malloc ((n + 4 + nextra) * sizeof (char *));
    if (!envp)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp (environ [i], "SLUICE_JOB=", 11) && strncmp (environ [i], "SLUICE_SEQ=", 11) &&
            strncmp (environ [i], "SLUICE_ATTEMPT=", 15))
            envp [k++] = environ [i];
    snprintf (vars [0], 128, "SLUICE_JOB=%s", job);
    snprintf (vars [1], 128, "SLUICE_SEQ=%llu", (unsigned long long) seq);
    snprintf (vars [2], 128, "SLUICE_ATTEMPT=%u", attempt);
    envp [k++] = vars [0];
    envp [k++] = vars [1];
    envp [k++] = vars [2];
    for (size_t i = 0; i < nextra; i++)
        envp [k++] = extra [i];
    envp [k] = NULL;
    return envp;
}

char *runner_substitute_attach (const char *command, const runner_attach_t *attach, size_t nattach,
                                char *why, size_t whylen)
{
    static const char tag [] = "{attach:";
    size_t len = strlen (command) + 1;
    char *out = malloc (len);
    if (!out) {
        snprintf (why, whylen, "out of memory");
        return NULL;
    }
    size_t used = 0;
    const char *p = command;
    while (*p) {
        const char *open = strstr (p, tag);
        const char *close = open ? strchr (open, '}') : NULL;
        if (!close) {
            memcpy (out + used, p, strlen (p));
            used += strlen (p);
            break;
        }
        memcpy (out + used, p, (size_t) (open - p));
        used += (size_t) (open - p);
        const char *name = open + sizeof tag - 1;
        size_t name_len = (size_t) (close - name);
        size_t i = 0;
        while (i < nattach &&
               (strlen (attach [i].name) != name_len || strncmp (attach [i].name, name, name_len)))
            i++;
        if (i == nattach) {
            snprintf (why, whylen, "{attach:%.*s}: the job has no attachment of that name",
                      (int) (name_len > 64 ? 64 : name_len), name);
            free (out);
            return NULL;
        }
        char *quoted =
            runner_shell_quote ((const uint8_t *) attach [i].path, strlen (attach [i].path));
        char *grown = quoted ? realloc (out, len + strlen (quoted)) : NULL;
        if (!grown) {
            free (quoted);
            free (out);
            snprintf (why, whylen, "out of memory");
            return NULL;
        }
        out = grown;
        len += strlen (quoted);
        memcpy (out + used, quoted, strlen (quoted));
        used += strlen (quoted);
        free (quoted);
        p = close + 1;
    }
    out [used] = '\0';
    return out;
}

//  Writes what the command's stdin takes of the rest of its payload; closes
//  stdin when all is written or the command has closed it.
static void s_write_in (rtask_t *task)
{
    while (task->fd_in >= 0 && task->written < task->payload_size) {
        ssize_t n =
            write (task->fd_in, task->payload + task->written, task->payload_size - task->written);
        if (n > 0)
            task->written += (size_t) n;
        else if (n < 0 && errno == EAGAIN)
            return;
        else if (n < 0 && errno == EINTR)
            continue;
        else
            s_close (&task->fd_in); //  EPIPE: the command does not read its input
    }
    s_close (&task->fd_in);
}

//  Fills self->defaults, once: the signals a spawned child sets to SIG_DFL
//  before it unblocks signals and execs. SIGPIPE, which the worker ignores
//  and a command must not inherit ignored; SIGCHLD, SIGINT and SIGTERM, as
//  ever (other signals ignored by whoever started the worker stay ignored,
//  so that nohup works); and every signal the process has a handler for, since a handler that ran
//  in the child would run in the worker's memory. Handlers are installed at start (czmq's for
//  SIGINT and SIGTERM), before the first task, which is when this runs: it costs 64 system calls,
//  too many for every spawn.
static void s_defaults (runner_t *self)
{
    if (self->defaults_known)
        return;
    sigemptyset (&self->defaults);
    sigaddset (&self->defaults, SIGPIPE);
    sigaddset (&self->defaults, SIGCHLD);
    sigaddset (&self->defaults, SIGINT);
    sigaddset (&self->defaults, SIGTERM);
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction action;
        //  (glibc's own signals, and SIGKILL and SIGSTOP, fail: none has a handler)
        if (sigaction (sig, NULL, &action) == 0 &&
            ((action.sa_flags & SA_SIGINFO) ||
             (action.sa_handler != SIG_DFL && action.sa_handler != SIG_IGN)))
            sigaddset (&self->defaults, sig);
    }
    self->defaults_known = true;
}

//  What a spawned child reads until it execs, and what it writes back: a
//  block of the task's own, kept until the child is reaped (the child may
//  still be reading it while the worker goes on; a task's slot may move
//  when the slots grow, so nothing here points into the slots).
typedef struct _spawn_t {
    //  Written by the worker before the clone, read by the child
    int fds [3];      //  become its 0, 1 and 2
    int procs_fd;     //  its cgroup's cgroup.procs to join, or -1
    sigset_t reset;   //  set to SIG_DFL
    char *argv [4];   //  sh -c command
    char **envp;      //  its environment (owned array)
    //  Written by the child, read once it is reaped
    int err;          //  errno of the step that failed, or 0
    bool contain_err; //  it could not join its cgroup
    //  The strings argv and envp point to (owned)
    char *command;
    char vars [3][128];                //  SLUICE_JOB=, SLUICE_SEQ=, SLUICE_ATTEMPT=
    char (*attach_vars) [4096 + 96];   //  SLUICE_ATTACH_<NAME>= entries, or NULL
    _Alignas (16) uint8_t stack [SPAWN_STACK]; //  the child's, until it execs
} spawn_t;

static void s_spawn_destroy (spawn_t **spawn_p)
{
    spawn_t *spawn = *spawn_p;
    if (spawn) {
        free (spawn->envp);
        free (spawn->command);
        free (spawn->attach_vars);
        free (spawn);
        *spawn_p = NULL;
    }
}

//  A system call that writes nothing but its result (libc's wrappers set
//  errno, and errno is the worker's while the child shares its memory):
//  returns the result, or -errno. Elsewhere than on x86_64, libc's
//  syscall() and a worker that waits for the child to exec (CLONE_VFORK).
#if defined(__x86_64__)
#    define SPAWN_FLAGS (CLONE_VM | SIGCHLD)
__attribute__ ((always_inline, no_sanitize_address)) static inline long s_sys (long n, long a,
                                                                                long b, long c,
                                                                                long d)
{
    long ret;
    register long r10 __asm__ ("r10") = d;
    __asm__ volatile ("syscall"
                      : "=a"(ret)
                      : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                      : "rcx", "r11", "memory");
    return ret;
}
#else
#    define SPAWN_FLAGS (CLONE_VM | CLONE_VFORK | SIGCHLD)
static long s_sys (long n, long a, long b, long c, long d)
{
    long ret = syscall (n, a, b, c, d);
    return ret < 0 ? -errno : ret;
}
#endif

//  The child, from clone until execve. It runs in the worker's memory with
//  every signal blocked, on its spawn block's stack, and writes nothing
//  but the block's err and contain_err. Not instrumented by
//  AddressSanitizer: its bookkeeping would be the worker's.
__attribute__ ((no_sanitize_address)) static int s_child (void *arg)
{
    spawn_t *spawn = arg;
    //  The kernel's struct sigaction, zeroed: SIG_DFL, no flags, no mask.
    unsigned long dfl [4] = { 0, 0, 0, 0 };
    for (int sig = 1; sig < NSIG; sig++)
        if (sigismember (&spawn->reset, sig) == 1)
            s_sys (SYS_rt_sigaction, sig, (long) dfl, 0, 8);
    long rc;
    //  Its own process group first (the worker sets it too, whichever
    //  comes first), so that a time limit can kill every process it starts.
    if ((rc = s_sys (SYS_setpgid, 0, 0, 0, 0)) < 0)
        goto failed;
    //  And its cgroup, if it has one, before it can start anything.
    if (spawn->procs_fd >= 0 && s_sys (SYS_write, spawn->procs_fd, (long) "0", 1, 0) != 1)
        spawn->contain_err = true;
    for (int fd = 0; fd < 3; fd++) {
        //  The pipes are close-on-exec; dup3 to itself (a worker started
        //  with that fd closed) is refused, so clear the flag instead.
        //  Sources never collide with earlier targets: pipe2 hands out the
        //  lowest fds first, and stdin's pipe is made first.
        rc = spawn->fds [fd] == fd ? s_sys (SYS_fcntl, fd, F_SETFD, 0, 0)
                                   : s_sys (SYS_dup3, spawn->fds [fd], fd, 0, 0);
        if (rc < 0)
            goto failed;
    }
    unsigned long none = 0;
    s_sys (SYS_rt_sigprocmask, SIG_SETMASK, (long) &none, 0, 8);
    rc = s_sys (SYS_execve, (long) "/bin/sh", (long) spawn->argv, (long) spawn->envp, 0);
failed:
    spawn->err = (int) -rc;
    return 127;
}

static void s_close_pair (int pair [2])
{
    s_close (&pair [0]);
    s_close (&pair [1]);
}

//  Spawns /bin/sh -c spawn->command into task (which then owns spawn), its
//  payload on stdin: written now when it fits in the empty pipe (PIPE_BUF
//  bytes always do), else kept in task->payload and written as the command
//  reads it. Returns 0; -1 if out of memory (nothing started); or the
//  errno value of a failed start.
static int s_spawn (runner_t *self, rtask_t *task, spawn_t *spawn, const uint8_t *payload,
                    size_t size)
{
    uint8_t *rest = NULL;
    if (size > PIPE_BUF) {
        if (!(rest = malloc (size)))
            return -1;
        memcpy (rest, payload, size);
    }
    int in [2] = { -1, -1 }, out [2] = { -1, -1 }, err [2] = { -1, -1 };
    int rc = 0;
    if (pipe2 (in, O_CLOEXEC) || pipe2 (out, O_CLOEXEC) || pipe2 (err, O_CLOEXEC))
        rc = errno;
    else if (!rest && size) {
        ssize_t written = write (in [1], payload, size);
        if (written != (ssize_t) size)
            rc = written < 0 ? errno : EIO; //  (cannot happen: the pipe is new and has room)
    }
    if (rc) {
        s_close_pair (in);
        s_close_pair (out);
        s_close_pair (err);
        free (rest);
        return rc;
    }
    if (!rest)
        s_close (&in [1]); //  all of it is in the pipe: the command sees EOF after it
    s_defaults (self);
    spawn->fds [0] = in [0];
    spawn->fds [1] = out [1];
    spawn->fds [2] = err [1];
    spawn->procs_fd = task->contain.cgroup ? task->contain.procs_fd : -1;
    spawn->reset = self->defaults;
    //  No signal handler may run in the child before it has reset them.
    sigset_t all, saved_mask;
    sigfillset (&all);
    pthread_sigmask (SIG_BLOCK, &all, &saved_mask);
    pid_t pid = clone (s_child, spawn->stack + SPAWN_STACK, SPAWN_FLAGS, spawn);
    rc = pid < 0 ? errno : 0;
    pthread_sigmask (SIG_SETMASK, &saved_mask, NULL);
    if (pid > 0)
        setpgid (pid, pid); //  (the child does too: a kill of its group finds it either way)
    //  The child has its copies (or has exec'd): the worker's ends go. The
    //  fds stay open in the child whatever the worker closes.
    s_close (&in [0]);
    s_close (&out [1]);
    s_close (&err [1]);
    if (rc) {
        s_close (&in [1]);
        s_close (&out [0]);
        s_close (&err [0]);
        free (rest);
        return rc;
    }
    task->spawn = spawn;
    fcntl (out [0], F_SETFL, O_NONBLOCK);
    fcntl (err [0], F_SETFL, O_NONBLOCK);
    task->pid = pid;
    task->fd_out = out [0];
    task->fd_err = err [0];
    if (rest) {
        fcntl (in [1], F_SETFL, O_NONBLOCK);
        task->fd_in = in [1];
        task->payload = rest;
        task->payload_size = size;
        s_write_in (task); //  what fits now, without waiting for a turn of the loop
    }
    return 0;
}

int runner_start (runner_t *self, uint64_t tag, const char *job, uint64_t seq, uint32_t attempt,
                  const uint8_t *payload, size_t size, uint32_t timeout_ms, int64_t now)
{
    return runner_start_with (self, tag, job, seq, attempt, payload, size, timeout_ms, now, NULL,
                              0);
}

//  Starts a built-in sleep: it finishes at its timer (or its time limit).
static int s_start_sleep (runner_t *self, uint64_t tag, const uint8_t *payload, size_t size,
                          uint32_t timeout_ms, int64_t now)
{
    uint64_t ms;
    if (sl_parse_sleep_ms (payload, size, &ms))
        return s_fail_start (self, tag, "sleep: the payload is not a whole number of milliseconds");
    rtask_t *task = s_slot (self);
    if (!task)
        return -1;
    task->payload = malloc (size ? size : 1);
    if (!task->payload)
        return -1;
    if (size)
        memcpy (task->payload, payload, size);
    task->payload_size = size;
    task->state = RT_RUNNING;
    task->is_sleep = true;
    task->tag = tag;
    task->started = now;
    task->timer = now + (int64_t) ms;
    //  A time limit shorter than the sleep ends it as a timeout.
    task->deadline = timeout_ms && timeout_ms < ms ? now + timeout_ms : -1;
    if (task->deadline >= 0)
        task->timer = task->deadline;
    self->running++;
    return 0;
}

//  The command of a task: {attach:NAME} and {} substituted. Returns a new
//  string, or NULL with why filled in.
static char *s_command (runner_t *self, const uint8_t *payload, size_t size,
                        const runner_attach_t *attach, size_t nattach, char *why, size_t whylen)
{
    bool attaching = nattach || strstr (self->command, "{attach:");
    char *with_attach =
        attaching ? runner_substitute_attach (self->command, attach, nattach, why, whylen) : NULL;
    if (attaching && !with_attach)
        return NULL;
    char *command = runner_substitute (with_attach ? with_attach : self->command, payload, size);
    free (with_attach);
    if (!command)
        snprintf (why, whylen, "cannot substitute {}: the payload contains a NUL byte");
    return command;
}

//  Writes SLUICE_ATTACH_<NAME>=PATH for each attachment into vars, and a
//  pointer to each into extra. Returns how many.
static size_t s_attach_vars (const runner_attach_t *attach, size_t nattach,
                             char vars [RUNNER_MAX_ATTACH][4096 + 96], char **extra)
{
    size_t n = 0;
    for (size_t i = 0; i < nattach && i < RUNNER_MAX_ATTACH; i++) {
        char *var = vars [n];
        int at = snprintf (var, sizeof vars [0], "SLUICE_ATTACH_");
        for (const char *c = attach [i].name; *c && at < 90; c++)
            var [at++] = isalnum ((unsigned char) *c) ? (char) toupper ((unsigned char) *c) : '_';
        snprintf (var + at, sizeof vars [0] - (size_t) at, "=%s", attach [i].path);
        extra [n++] = var;
    }
    return n;
}

//  When something is next due for a running exec task: the end of its
//  exit grace once it is reaped (its time limit no longer applies, and may
//  have passed), else its time limit or the end of its quiet output.
static int64_t s_exec_timer (const rtask_t *task)
{
    if (task->exited)
        return task->exited_at + EXIT_GRACE_MS;
    int64_t next = task->deadline;
    if (!task->watch_output && (next < 0 || task->quiet_until < next))
        next = task->quiet_until;
    return next;
}

//  A task's spawn block, owning command: its argv and environment (ours
//  plus SLUICE_JOB/SEQ/ATTEMPT and an SLUICE_ATTACH_<NAME> per attachment).
//  Returns NULL (command freed) if out of memory.
static spawn_t *s_spawn_new (char *command, const char *job, uint64_t seq, uint32_t attempt,
                             const runner_attach_t *attach, size_t nattach)
{
    spawn_t *spawn = malloc (sizeof *spawn); //  (the stack is not worth zeroing)
    if (!spawn) {
        free (command);
        return NULL;
    }
    spawn->command = command;
    spawn->envp = NULL;
    spawn->attach_vars = NULL;
    spawn->err = 0;
    spawn->contain_err = false;
    size_t n = nattach < RUNNER_MAX_ATTACH ? nattach : RUNNER_MAX_ATTACH;
    char *extra [RUNNER_MAX_ATTACH];
    if (n && !(spawn->attach_vars = malloc (n * sizeof *spawn->attach_vars))) {
        s_spawn_destroy (&spawn);
        return NULL;
    }
    size_t nextra = s_attach_vars (attach, n, spawn->attach_vars, extra);
    if (!(spawn->envp = s_environment (spawn->vars, job, seq, attempt, extra, nextra))) {
        s_spawn_destroy (&spawn);
        return NULL;
    }
    spawn->argv [0] = "sh";
    spawn->argv [1] = "-c";
    spawn->argv [2] = command;
    spawn->argv [3] = NULL;
    return spawn;
}

int runner_start_with (runner_t *self, uint64_t tag, const char *job, uint64_t seq,
                       uint32_t attempt, const uint8_t *payload, size_t size, uint32_t timeout_ms,
                       int64_t now, const runner_attach_t *attach, size_t nattach)
{
    assert (self);
    if (self->config.mode == RUNNER_ECHO) {
        bool truncated = size > self->config.max_output;
        return s_finish (self, tag, RUNNER_OK, 0, payload,
                         truncated ? self->config.max_output : size, truncated, NULL, 0, 0);
    }
    if (self->config.mode == RUNNER_SLEEP)
        return s_start_sleep (self, tag, payload, size, timeout_ms, now);
    char why [300];
    char *command = s_command (self, payload, size, attach, nattach, why, sizeof why);
    if (!command)
        return s_fail_start (self, tag, why);
    spawn_t *spawn = s_spawn_new (command, job, seq, attempt, attach, nattach);
    rtask_t *task = spawn ? s_slot (self) : NULL;
    if (!task) {
        s_spawn_destroy (&spawn);
        return -1;
    }
    const char *marks [3] = { spawn->vars [0], spawn->vars [1], spawn->vars [2] };
    contain_begin (self->contain, &task->contain, marks);
    int rc = s_spawn (self, task, spawn, payload, size);
    if (rc) {
        s_spawn_destroy (&spawn);
        contain_end (self->contain, &task->contain, 0); //  (nothing started)
    }
    if (rc < 0)
        return -1;
    if (rc) {
        snprintf (why, sizeof why, "cannot start /bin/sh: %s", strerror (rc));
        return s_fail_start (self, tag, why);
    }
    task->state = RT_RUNNING;
    task->tag = tag;
    task->started = now;
    task->deadline = timeout_ms ? now + timeout_ms : -1;
    task->quiet_until = now + OUTPUT_QUIET_MS;
    task->timer = s_exec_timer (task);
    self->running++;
    return 0;
}

//  --- Running tasks -------------------------------------------------------------

static void s_complete (runner_t *self, rtask_t *task, int64_t now)
{
    int status;
    if (task->is_sleep)
        status = task->timed_out ? RUNNER_TIMEOUT : RUNNER_OK;
    else
        status = task->timed_out        ? RUNNER_TIMEOUT
                 : task->exit_code == 0 ? RUNNER_OK
                                        : RUNNER_FAILED;
    //  Unroll the stderr ring into its last bytes in order.
    uint8_t tail [STDERR_TAIL];
    size_t tail_size = task->err_total < STDERR_TAIL ? task->err_total : STDERR_TAIL;
    size_t start = task->err_total < STDERR_TAIL ? 0 : task->err_total % STDERR_TAIL;
    for (size_t i = 0; i < tail_size; i++)
        tail [i] = task->err [(start + i) % STDERR_TAIL];
    const uint8_t *output = task->is_sleep ? task->payload : task->out;
    size_t output_size = task->is_sleep ? task->payload_size : task->out_size;
    if (task->is_sleep && task->timed_out)
        output_size = 0;
    int exit_code = task->is_sleep ? (task->timed_out ? 128 + SIGKILL : 0) : task->exit_code;
    if (!task->is_sleep && task->spawn && task->spawn->err) {
        //  The child could not exec /bin/sh (it said why before it exited).
        status = RUNNER_FAILED;
        exit_code = -1;
        tail_size = (size_t) snprintf ((char *) tail, sizeof tail, "cannot start /bin/sh: %s",
                                       strerror (task->spawn->err));
    }
    //  Its process group is killed: now what left it.
    if (!task->is_sleep)
        s_contain_end (self, task);
    if (s_finish (self, task->tag, status, exit_code, output, output_size, task->out_truncated,
                  tail, tail_size, (uint64_t) (now - task->started)))
        //  No memory for the result: report the failure rather than lose the task.
        s_fail_start (self, task->tag, "worker out of memory for the result");
    s_task_clear (task);
    self->running--;
}

//  The task's processes that left its group: caught through its cgroup,
//  unless its child could not join it (known once the child is reaped).
static void s_contain_end (runner_t *self, rtask_t *task)
{
    contain_started (self->contain, &task->contain, !task->spawn || !task->spawn->contain_err);
    contain_end (self->contain, &task->contain, task->pid);
}

//  True when an exec'd task is over: reaped and both output pipes closed.
static bool s_exec_over (rtask_t *task)
{
    return task->exited && task->fd_out < 0 && task->fd_err < 0;
}

static void s_read_out (runner_t *self, rtask_t *task)
{
    uint8_t buffer [READ_CHUNK];
    while (task->fd_out >= 0) {
        ssize_t n = read (task->fd_out, buffer, sizeof buffer);
        if (n > 0) {
            size_t keep = (size_t) n;
            if (task->out_size + keep > self->config.max_output) {
                keep = self->config.max_output - task->out_size;
                task->out_truncated = true;
            }
            if (keep && task->out_size + keep > task->out_cap) {
                size_t cap = task->out_cap ? task->out_cap : 4096;
                while (cap < task->out_size + keep)
                    cap *= 2;
                uint8_t *out = realloc (task->out, cap);
                if (!out) {
                    task->out_truncated = true;
                    keep = 0;
                } else {
                    task->out = out;
                    task->out_cap = cap;
                }
            }
            if (keep) {
                memcpy (task->out + task->out_size, buffer, keep);
                task->out_size += keep;
            }
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR))
            s_close (&task->fd_out);
        else if (errno == EAGAIN)
            break;
    }
}

static void s_read_err (rtask_t *task)
{
    uint8_t buffer [READ_CHUNK];
    while (task->fd_err >= 0) {
        ssize_t n = read (task->fd_err, buffer, sizeof buffer);
        if (n > 0) {
            for (ssize_t i = 0; i < n; i++)
                task->err [(task->err_total + (size_t) i) % STDERR_TAIL] = buffer [i];
            task->err_total += (size_t) n;
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR))
            s_close (&task->fd_err);
        else if (errno == EAGAIN)
            break;
    }
}

size_t runner_pollitems (runner_t *self, zmq_pollitem_t *items, size_t max)
{
    assert (self);
    size_t need = 1 + 3 * self->running;
    if (need > self->poll_cap) {
        size_t *pt = realloc (self->poll_task, need * sizeof *pt);
        if (pt)
            self->poll_task = pt;
        int *pf = pt ? realloc (self->poll_fd, need * sizeof *pf) : NULL;
        if (pf)
            self->poll_fd = pf;
        if (pt && pf)
            self->poll_cap = need;
    }
    size_t n = 0;
    if (self->sigfd >= 0 && n < max && n < self->poll_cap) {
        items [n] = (zmq_pollitem_t){ NULL, self->sigfd, ZMQ_POLLIN, 0 };
        self->poll_task [n] = SIZE_MAX;
        self->poll_fd [n++] = self->sigfd;
    }
    for (size_t i = 0; i < self->ntasks; i++) {
        rtask_t *task = &self->tasks [i];
        if (task->state != RT_RUNNING || task->is_sleep)
            continue;
        int fds [3] = { task->fd_in, task->watch_output ? task->fd_out : -1,
                        task->watch_output ? task->fd_err : -1 };
        for (int k = 0; k < 3; k++) {
            if (fds [k] < 0 || n >= max || n >= self->poll_cap)
                continue;
            items [n] = (zmq_pollitem_t){ NULL, fds [k], k == 0 ? ZMQ_POLLOUT : ZMQ_POLLIN, 0 };
            self->poll_task [n] = i;
            self->poll_fd [n++] = fds [k];
        }
    }
    return n;
}

//  Reaps every child that exited. Their pipes are read at once: the child
//  closed its ends before it became reapable, so unless something it
//  started still holds them they are at EOF now, and the task ends in this
//  turn of the loop instead of the next.
static void s_reap (runner_t *self, int64_t now)
{
    //  SIGCHLD is not queued more than once: one read takes it.
    struct signalfd_siginfo info [4];
    while (read (self->sigfd, info, sizeof info) == sizeof info)
        ;
    while (true) {
        int status;
        pid_t pid = waitpid (-1, &status, WNOHANG);
        if (pid <= 0)
            break;
        for (size_t i = 0; i < self->ntasks; i++) {
            rtask_t *task = &self->tasks [i];
            if (task->state == RT_RUNNING && task->pid == pid) {
                task->exited = true;
                task->exited_at = now;
                task->watch_output = true;
                task->exit_code =
                    WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
                //  Grandchildren may hold the pipes: give them a moment.
                int64_t grace = now + EXIT_GRACE_MS;
                if (task->timer < 0 || grace < task->timer)
                    task->timer = grace;
                s_read_out (self, task);
                s_read_err (task);
                break;
            }
        }
    }
}

//  A timer of a running task is due.
static void s_on_timer (runner_t *self, rtask_t *task, int64_t now)
{
    if (task->is_sleep) {
        task->timed_out = task->deadline >= 0 && now >= task->deadline;
        s_complete (self, task, now);
        return;
    }
    if (!task->watch_output && now >= task->quiet_until)
        task->watch_output = true; //  it has run long enough for its output to count
    if (task->exited) {
        //  The shell is gone but something still holds its output: kill
        //  the rest of the group and finish with what was read.
        if (now >= task->exited_at + EXIT_GRACE_MS) {
            kill (-task->pid, SIGKILL);
            s_read_out (self, task);
            s_read_err (task);
            s_close (&task->fd_out);
            s_close (&task->fd_err);
            s_complete (self, task, now);
            return;
        }
    } else if (task->deadline >= 0 && now >= task->deadline) {
        if (task->kill_stage == 0) {
            task->timed_out = true;
            kill (-task->pid, SIGTERM);
            task->kill_stage = 1;
            task->deadline = now + self->config.kill_grace_ms;
        } else {
            kill (-task->pid, SIGKILL);
            task->kill_stage = 2;
            task->deadline = -1;
        }
    }
    task->timer = s_exec_timer (task);
}

void runner_handle (runner_t *self, zmq_pollitem_t *items, size_t count, int64_t now)
{
    assert (self);
    for (size_t n = 0; n < count; n++) {
        if (!items [n].revents)
            continue;
        if (self->poll_task [n] == SIZE_MAX) {
            s_reap (self, now);
            continue;
        }
        rtask_t *task = &self->tasks [self->poll_task [n]];
        if (task->state != RT_RUNNING)
            continue;
        int fd = self->poll_fd [n];
        if (fd == task->fd_in)
            s_write_in (task);
        else if (fd == task->fd_out)
            s_read_out (self, task);
        else if (fd == task->fd_err)
            s_read_err (task);
    }
    //  A child closes its output a moment before it can be reaped: when
    //  that moment has passed by now, reaping it here saves the turn of the
    //  loop that its SIGCHLD would take. Once per task, for a command may
    //  close its output and go on running.
    bool reap = false;
    for (size_t i = 0; i < self->ntasks; i++) {
        rtask_t *task = &self->tasks [i];
        if (task->state == RT_RUNNING && !task->is_sleep && !task->exited && !task->reap_tried &&
            task->fd_out < 0 && task->fd_err < 0)
            reap = task->reap_tried = true;
    }
    if (reap)
        s_reap (self, now);
    for (size_t i = 0; i < self->ntasks; i++) {
        rtask_t *task = &self->tasks [i];
        if (task->state != RT_RUNNING)
            continue;
        if (!task->is_sleep && s_exec_over (task)) {
            //  After the shell exits, kill what it left running in its group.
            kill (-task->pid, SIGKILL);
            s_complete (self, task, now);
        } else if (task->timer >= 0 && now >= task->timer)
            s_on_timer (self, task, now);
    }
}

int64_t runner_next_timer (runner_t *self)
{
    assert (self);
    int64_t next = -1;
    for (size_t i = 0; i < self->ntasks; i++) {
        rtask_t *task = &self->tasks [i];
        if (task->state == RT_RUNNING && task->timer >= 0 && (next < 0 || task->timer < next))
            next = task->timer;
    }
    return next;
}

int runner_stop (runner_t *self, uint64_t tag, int64_t now)
{
    assert (self);
    for (size_t i = 0; i < self->ntasks; i++) {
        rtask_t *task = &self->tasks [i];
        if (task->state != RT_RUNNING || task->tag != tag)
            continue;
        if (task->is_sleep)
            task->timer = now;
        else if (!task->exited && task->kill_stage == 0) {
            task->deadline = now;
            task->timer = now;
        }
        return 0;
    }
    return -1;
}

void runner_terminate_all (runner_t *self)
{
    assert (self);
    for (size_t i = 0; i < self->ntasks; i++) {
        rtask_t *task = &self->tasks [i];
        if (task->state == RT_RUNNING && task->pid > 0 && !task->exited)
            kill (-task->pid, SIGTERM);
    }
}
