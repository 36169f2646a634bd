/*  runner - runs a worker's tasks, see runner.h.

    Children are started in a new process group with three pipes: the
    payload goes to stdin, stdout is captured up to max_output, and a ring
    keeps the last STDERR_TAIL bytes of stderr. SIGCHLD arrives on a
    signalfd that is polled with the pipes; children are reaped with
    waitpid(-1, WNOHANG), since every child of a worker process is one of
    ours (the processes a task orphaned included: the worker is their
    subreaper, see contain.h).

    Spawning is much of what an exec task costs the worker, so it is done
    by hand rather than with posix_spawn: clone(CLONE_VM | CLONE_VFORK) on
    a stack the runner keeps (glibc maps and unmaps one per call, and checks
    the fd limit for every file action), and a child that resets only the
    signals that need it (glibc's asks about all 64, two system calls each,
    on every spawn). A payload that fits in an empty pipe is written before
    the spawn, and a reaped child's pipes are read at once, so that a short
    task takes as few turns of the worker's loop as it can: one to start it
    (with the previous task's end) and, mostly, one to see it end.

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
#include <sys/wait.h>
#include <unistd.h>

#include "contain.h"
#include "sl_util.h"

#define STDERR_TAIL 4096  //  bytes of stderr kept per task
#define EXIT_GRACE_MS 200 //  after the shell exits, wait this long for its pipes
#define READ_CHUNK 65536
#define SPAWN_STACK 65536 //  the child's stack until it execs (it needs a few hundred bytes)

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
    pid_t pid;                 //  child (and its process group id), 0 when none
    int fd_in, fd_out, fd_err; //  pipe ends, -1 when closed
    size_t written;            //  payload bytes written to stdin
    bool exited;               //  child reaped
    bool reap_tried;           //  output at EOF before SIGCHLD came: reaped once by hand
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
    uint8_t *stack;         //  RUNNER_EXEC: the spawned child's stack, see s_spawn
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
        self->stack = malloc (SPAWN_STACK);
        sigset_t mask;
        sigemptyset (&mask);
        sigaddset (&mask, SIGCHLD);
        //  SLUICE_TASK_CGROUP=off: no cgroup per task (tests of the fallback).
        const char *cgroups = getenv ("SLUICE_TASK_CGROUP");
        self->contain = contain_new (!cgroups || strcmp (cgroups, "off") != 0);
        if (!self->command || !self->stack || !self->contain ||
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

static void s_task_clear (rtask_t *task)
{
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
            contain_end (self->contain, &task->contain, task->pid);
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
    free (self->stack);
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

//  What the spawned child needs. It lives on the parent's stack: the child
//  shares the parent's memory, and the parent waits until it has exec'd.
typedef struct {
    const char *command;   //  for /bin/sh -c
    char **envp;           //  its environment
    int fds [3];           //  become its 0, 1 and 2
    const sigset_t *reset; //  set to SIG_DFL
    const contain_task_t *contain; //  the task's cgroup to join
    int err;               //  errno of the step that failed (written by the child)
    int contain_err;       //  errno if it could not join its cgroup (written by the child)
} spawn_args_t;

//  The child, from clone until execve. It runs in the parent's memory with
//  every signal blocked, on the runner's spawn stack, so it makes system
//  calls and writes nothing but args->err. Not instrumented by
//  AddressSanitizer: its bookkeeping would be the parent's.
__attribute__ ((no_sanitize_address)) static int s_child (void *arg)
{
    spawn_args_t *args = arg;
    struct sigaction dfl;
    memset (&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        if (sigismember (args->reset, sig) == 1)
            sigaction (sig, &dfl, NULL);
    //  Its own process group first, so that a time limit can kill every
    //  process it starts.
    if (setpgid (0, 0))
        goto failed;
    //  And its cgroup, if it has one, before it can start anything.
    if (contain_join (args->contain))
        args->contain_err = errno;
    for (int fd = 0; fd < 3; fd++) {
        //  The pipes are close-on-exec; dup2 to itself (a worker started
        //  with that fd closed) would keep the flag, so clear it instead.
        //  Sources never collide with earlier targets: pipe2 hands out the
        //  lowest fds first, and stdin's pipe is made first.
        if (args->fds [fd] == fd ? fcntl (fd, F_SETFD, 0) : dup2 (args->fds [fd], fd) < 0)
            goto failed;
    }
    sigset_t none;
    sigemptyset (&none);
    sigprocmask (SIG_SETMASK, &none, NULL);
    char *argv [] = { "sh", "-c", (char *) args->command, NULL };
    execve ("/bin/sh", argv, args->envp);
failed:
    args->err = errno;
    _exit (127);
}

static void s_close_pair (int pair [2])
{
    s_close (&pair [0]);
    s_close (&pair [1]);
}

//  Spawns /bin/sh -c command into task, its payload on stdin: written now
//  when it fits in the empty pipe (PIPE_BUF bytes always do), else kept in
//  task->payload and written as the command reads it. Returns 0; -1 if out
//  of memory (nothing started); or the errno value of a failed start.
static int s_spawn (runner_t *self, rtask_t *task, const char *command, char **envp,
                    const uint8_t *payload, size_t size)
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
    spawn_args_t args = { .command = command,
                          .envp = envp,
                          .fds = { in [0], out [1], err [1] },
                          .reset = &self->defaults,
                          .contain = &task->contain,
                          .err = 0 };
    //  No signal handler may run in the child before it has reset them.
    sigset_t all, saved_mask;
    sigfillset (&all);
    pthread_sigmask (SIG_BLOCK, &all, &saved_mask);
    pid_t pid = clone (s_child, self->stack + SPAWN_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
    rc = pid < 0 ? errno : args.err;
    pthread_sigmask (SIG_SETMASK, &saved_mask, NULL);
    contain_started (self->contain, &task->contain, pid > 0 && !args.contain_err);
    s_close (&in [0]);
    s_close (&out [1]);
    s_close (&err [1]);
    if (pid > 0 && rc)
        waitpid (pid, NULL, 0); //  the child that could not exec
    if (rc) {
        s_close (&in [1]);
        s_close (&out [0]);
        s_close (&err [0]);
        free (rest);
        return rc;
    }
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
    char vars [3][128];
    char attach_vars [RUNNER_MAX_ATTACH][4096 + 96];
    char *extra [RUNNER_MAX_ATTACH];
    size_t nextra = s_attach_vars (attach, nattach, attach_vars, extra);
    char **envp = s_environment (vars, job, seq, attempt, extra, nextra);
    rtask_t *task = envp ? s_slot (self) : NULL;
    if (!task) {
        free (command);
        free (envp);
        return -1;
    }
    const char *marks [3] = { vars [0], vars [1], vars [2] };
    contain_begin (self->contain, &task->contain, marks);
    int rc = s_spawn (self, task, command, envp, payload, size);
    free (command);
    free (envp);
    if (rc)
        contain_end (self->contain, &task->contain, 0); //  (nothing started)
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
    task->timer = task->deadline;
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
    //  Its process group is killed: now what left it.
    if (!task->is_sleep)
        contain_end (self->contain, &task->contain, task->pid);
    if (s_finish (self, task->tag, status, exit_code, output, output_size, task->out_truncated,
                  tail, tail_size, (uint64_t) (now - task->started)))
        //  No memory for the result: report the failure rather than lose the task.
        s_fail_start (self, task->tag, "worker out of memory for the result");
    s_task_clear (task);
    self->running--;
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
        int fds [3] = { task->fd_in, task->fd_out, task->fd_err };
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
    //  Next due time. Once the shell is reaped only the exit grace counts:
    //  its time limit no longer applies (and may already have passed).
    task->timer = task->exited ? task->exited_at + EXIT_GRACE_MS : task->deadline;
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
