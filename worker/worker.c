/*  worker - sluice-worker's exec mode: the process runner (runner.c) as
    the executor of the one worker core (lib/sl_wcore.c), run by the one
    worker loop (lib/sl_wloop.c), as libsluice runs handler slots.

    --realtime: the worker's own thread, and ZeroMQ's, run at real-time
    priority (SCHED_FIFO 1); the tasks do not (SCHED_RESET_ON_FORK). On a
    machine whose cores the tasks keep busy, the kernel often queues the
    woken worker behind the other core's task while the core a task just
    freed idles (bench/exec_idle.sh); at real-time priority it runs at once,
    and the next task starts sooner.

    Stopping: the first SIGTERM/SIGINT drains (no new task; tasks not
    started are handed back at once; running ones get --drain-timeout to
    finish, then are stopped and handed back); a second one stops at once.
*/
#include "worker.h"

#include <czmq.h>
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "sl_log.h"
#include "sl_util.h"
#include "sl_wloop.h"

//  --- The runner as an executor --------------------------------------------------

static int s_runner_start (void *self, const sl_wexec_task_t *task, int64_t now)
{
    return runner_start_with ((runner_t *) self, task->tag, task->job, task->seq, task->attempt,
                              task->payload, task->size, task->timeout_ms, now, task->files,
                              task->nfiles);
}

static void s_runner_stop (void *self, uint64_t tag, int64_t now)
{
    runner_stop ((runner_t *) self, tag, now);
}

static size_t s_runner_pollitems (void *self, zmq_pollitem_t *items, size_t max)
{
    return runner_pollitems ((runner_t *) self, items, max);
}

static void s_runner_handle (void *self, zmq_pollitem_t *items, size_t count, int64_t now)
{
    runner_handle ((runner_t *) self, items, count, now);
}

static int64_t s_runner_next_timer (void *self)
{
    return runner_next_timer ((runner_t *) self);
}

static sl_wexec_done_t *s_runner_finished (void *self)
{
    return runner_done ((runner_t *) self);
}

static void s_runner_done_free (void *self, sl_wexec_done_t *done)
{
    (void) self;
    runner_done_destroy (&done);
}

//  Nothing to wait for: the runner copied what it needs of each task, and
//  runner_destroy (after the loop) kills what still runs.
static void s_runner_shutdown (void *self)
{
    (void) self;
}

//  --realtime: this thread at SCHED_FIFO 1, its children (the tasks, and
//  threads started after) at the default policy; then ZeroMQ's I/O thread
//  at SCHED_FIFO 1 too, once it is known to be allowed (libzmq aborts if
//  it may not). Must come before the first socket. Returns 0 or -1.
static int s_realtime (void)
{
    struct sched_param param = { .sched_priority = 1 };
    if (sched_setscheduler (0, SCHED_FIFO | SCHED_RESET_ON_FORK, &param)) {
        sl_error ("--realtime: cannot run at real-time priority: %s (it needs root, "
                  "CAP_SYS_NICE, or a real-time priority limit of at least 1: ulimit -r, "
                  "LimitRTPRIO= in a systemd unit)",
                  strerror (errno));
        return -1;
    }
    zsys_set_thread_sched_policy (SCHED_FIFO);
    zsys_set_thread_priority (1);
    return 0;
}

int worker_run (const worker_config_t *config)
{
    assert (config);
    if (config->realtime && s_realtime ())
        return 1;
    char name [300];
    sl_self_name (name, sizeof name); //  "host:pid", as sluice-ctl drain names it
    //  The runner blocks SIGCHLD: it must exist before any ZeroMQ thread.
    runner_t *runner = runner_new (&config->runner);
    if (!runner) {
        sl_error ("cannot set up the task runner: %s", strerror (errno));
        return 1;
    }
    sl_wexec_t exec = { .self = runner,
                        .start = s_runner_start,
                        .stop = s_runner_stop,
                        .pollitems = s_runner_pollitems,
                        .handle = s_runner_handle,
                        .next_timer = s_runner_next_timer,
                        .finished = s_runner_finished,
                        .done_free = s_runner_done_free,
                        .shutdown = s_runner_shutdown };
    sl_wloop_config_t loop = {
        .broker = config->broker,
        .curve = config->curve,
        .name = name,
        .slots = config->slots,
        .prefetch = config->prefetch,
        .heartbeat_ms = config->heartbeat_ms,
        .connect_timeout_ms = config->connect_timeout_ms,
        .drain_timeout_ms = config->drain_timeout_ms,
        .queues = (const char *const *) config->queues,
        .nqueues = config->nqueues,
        .attach_cache = config->attach_cache,
        .attach_cache_max = config->attach_cache_max,
    };
    int rc = sl_wloop_run (&loop, &exec);
    runner_destroy (&runner);
    return rc < 0 ? 1 : 0;
}
