/*  worker - the worker API of libsluice: serves a queue with an in-process
    handler function. See include/sluice.h and docs/protocol.md (Workers).

    The protocol runs in the calling thread: hello with the queue, a
    DEALER fed credit (fair dispatch; lib/sl_credit.c decides how much) or
    a PULL (push dispatch), heartbeats claiming the tasks taken since the
    last one, results in batches of one job, Release and Bye when stopping.
    The handler runs in `slots` threads (zactors, one task at a time each),
    so a long handler never delays a heartbeat: the broker would give a
    silent worker up after 3 intervals. A task is handed to a slot as a
    pointer over the actor's pipe and comes back the same way when done.
    To ask a running handler to stop (its job cancelled, its time limit
    passed, stopping now) the loop sends "STOP" down the same pipe; the
    handler sees it waiting there (sluice_task_should_stop, sluice_task_sleep
    poll the pipe without reading it) and the slot discards it once the
    handler returned. With inline_handler there are no slots: the loop
    calls the handler itself.

    Stopping (a signal, sluice_worker_stop, a Drain from the broker) drains
    as sluice-worker does: Credit 0 (or the PULL disconnected), Release of
    every task not started, drain_timeout_ms for the running ones, then Bye
    listing what still runs. Threads cannot be stopped safely: the function
    returns once every handler has returned.
*/
#include <czmq.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "sc_options.h"
#include "sl_client.h"
#include "sl_credit.h"
#include "sl_curve.h"
#include "sl_log.h"
#include "sl_proto.h"
#include "sl_util.h"
#include "sluice.h"

#define MAX_RESULT_BATCH 256
#define MAX_RESULT_BYTES (4 << 20)
#define MAX_REFS 4096     //  task references in one heartbeat, release or bye
#define STOP_CHECK_MS 100 //  sluice_worker_stop is noticed within this long

//  Bumped by sluice_worker_stop; each run notices a change. The library's
//  one global: an interrupt flag, like zsys_interrupted.
static atomic_uint s_stop_requests;

void sluice_worker_stop (void)
{
    atomic_fetch_add (&s_stop_requests, 1);
}

//  A task received and not yet finished.
typedef struct {
    char job [72];        //  its job
    uint64_t seq;         //  its seq
    uint32_t attempt;     //  which run this is
    uint32_t timeout_ms;  //  time limit, 0 = none
    uint32_t stage;       //  multi-stage job: the stage of this run (echoed in the result)
    uint8_t *payload;     //  bytes and a NUL
    size_t size;          //  bytes at payload
    bool announced;       //  the broker was told we hold it (as it is now: waiting or running)
    bool running;         //  handed to a slot
    uint32_t slot;        //  which one, while running
    int64_t started;      //  when (monotonic ms)
    bool stop_sent;       //  the slot was asked to stop it
    bool timed_out;       //  because it ran over its time limit
    bool abandoned;       //  handed back (Bye) or cancelled while running: drop its result
    int exit_code;        //  the handler's return
    sluice_buf_t output;  //  the handler's output
    uint64_t duration_ms; //  handler run time
} wtask_t;

//  What a slot thread needs.
typedef struct {
    sluice_handler_fn *handler;
    void *state;
} slot_args_t;

typedef struct {
    const char *broker;           //  tcp://HOST:PORT
    sluice_worker_options_t opts; //  with defaults filled in
    char *queues [SC_MAX_QUEUES]; //  served queues, none = default
    size_t nqueues;
    char name [SC_MAX_NAME + 1]; //  name at the broker
    sl_curve_client_t curve;     //  CurveZMQ settings
    slot_args_t slot_args;       //  the handler, for the slots
    zactor_t **slots;            //  handler threads
    wtask_t **slot_task;         //  task each slot runs, NULL = idle
    sl_client_t *client;         //  control DEALER and data sockets
    zsock_t *tasks;              //  DEALER (fair) or PULL (push) from the dispatch port
    zsock_t *results;            //  PUSH to the results port
    bool fair;                   //  credit-based dispatch
    bool got_tasks;              //  a task batch arrived since the last regular heartbeat
    sl_credit_t credit;          //  (fair) what we asked for
    zlistx_t *waiting;           //  wtask_t received, not started
    zlistx_t *running;           //  wtask_t handed to a slot
    zlistx_t *finished;          //  wtask_t done, result not yet packed
    zlistx_t *outbox;            //  zframe_t results not yet taken by ZeroMQ
    bool draining;               //  stopping: no new task
    int64_t drain_until;         //  when draining, when to give up on running handlers
    bool refused;                //  refused after a reconnect: stop
    bool claims_pending;         //  tasks announced as waiting have started
    unsigned stops_seen;         //  s_stop_requests as last seen
    uint64_t done;               //  tasks finished
    Sluice__TaskRef *refs;       //  room for MAX_REFS references
    Sluice__TaskRef **ref_ptrs;
} worker_t;

static void s_wtask_destroy (wtask_t **task_p)
{
    if (*task_p) {
        free ((*task_p)->payload);
        sluice_buf_clear (&(*task_p)->output);
        free (*task_p);
        *task_p = NULL;
    }
}

//  --- Slots: handler threads ------------------------------------------------------

//  The pipe of the slot this thread is, for sluice_task_should_stop.
static __thread zsock_t *s_slot_pipe;

bool sluice_task_should_stop (void)
{
    //  A STOP (or $TERM) waiting in the pipe: see s_slot.
    return s_slot_pipe && (zsock_events (s_slot_pipe) & ZMQ_POLLIN);
}

bool sluice_task_sleep (uint64_t ms)
{
    int64_t until = zclock_mono () + (int64_t) ms;
    while (true) {
        int64_t left = until - zclock_mono ();
        if (left <= 0)
            return true;
        if (!s_slot_pipe) {
            zclock_sleep ((int) (left > 1000 ? 1000 : left));
            continue;
        }
        zmq_pollitem_t item = { zsock_resolve (s_slot_pipe), 0, ZMQ_POLLIN, 0 };
        int rc = zmq_poll (&item, 1, (long) left);
        if (rc > 0)
            return false; //  asked to stop
        if (rc < 0 && errno != EINTR)
            return false;
    }
}

//  A slot: receives a task pointer, runs the handler, sends the pointer
//  back. Ends on $TERM (after the handler under way returned); a STOP
//  meant for a handler that has since returned is dropped.
static void s_slot (zsock_t *pipe, void *args)
{
    slot_args_t *slot = (slot_args_t *) args;
    s_slot_pipe = pipe;
    zsock_signal (pipe, 0);
    while (true) {
        zmsg_t *msg = zmsg_recv (pipe);
        if (!msg)
            break;
        zframe_t *frame = zmsg_first (msg);
        wtask_t *task = NULL;
        bool term = !frame || zframe_streq (frame, "$TERM");
        if (frame && zframe_size (frame) == sizeof task)
            memcpy (&task, zframe_data (frame), sizeof task);
        zmsg_destroy (&msg);
        if (term)
            break;
        if (!task)
            continue; //  a late STOP
        int64_t start = zclock_mono ();
        task->exit_code = slot->handler (slot->state, task->payload, task->size, &task->output);
        task->duration_ms = (uint64_t) (zclock_mono () - start);
        zsock_send (pipe, "p", task);
    }
}

//  Runs the waiting tasks in this thread (inline_handler).
static void s_run_inline (worker_t *self)
{
    wtask_t *task;
    while ((task = (wtask_t *) zlistx_detach (self->waiting, NULL))) {
        int64_t start = zclock_mono ();
        task->exit_code = self->slot_args.handler (self->slot_args.state, task->payload, task->size,
                                                   &task->output);
        task->duration_ms = (uint64_t) (zclock_mono () - start);
        self->done++;
        sl_credit_task_done (&self->credit, task->duration_ms);
        zlistx_add_end (self->finished, task); //  its result says it ran: no claim needed
    }
}

//  Asks the slot running task to stop it (see sluice_task_should_stop).
static void s_stop_task (worker_t *self, wtask_t *task)
{
    if (task->running && !task->stop_sent && self->slots) {
        task->stop_sent = true;
        zstr_send (self->slots [task->slot], "STOP");
    }
}

//  Asks every running handler to stop.
static void s_stop_running (worker_t *self)
{
    for (wtask_t *task = (wtask_t *) zlistx_first (self->running); task;
         task = (wtask_t *) zlistx_next (self->running))
        s_stop_task (self, task);
}

//  Running tasks past their time limit are asked to stop. Returns the
//  next time limit to watch, or INT64_MAX.
static int64_t s_check_time_limits (worker_t *self, int64_t now)
{
    int64_t next = INT64_MAX;
    for (wtask_t *task = (wtask_t *) zlistx_first (self->running); task;
         task = (wtask_t *) zlistx_next (self->running)) {
        if (!task->timeout_ms || task->stop_sent)
            continue;
        int64_t limit = task->started + (int64_t) task->timeout_ms;
        if (now >= limit) {
            task->timed_out = true;
            s_stop_task (self, task);
        } else if (limit < next)
            next = limit;
    }
    return next;
}

//  Starts waiting tasks on idle slots.
static void s_start_tasks (worker_t *self)
{
    if (self->opts.inline_handler) {
        s_run_inline (self);
        return;
    }
    for (uint32_t i = 0; i < self->opts.slots && zlistx_size (self->waiting); i++) {
        if (self->slot_task [i])
            continue;
        wtask_t *task = (wtask_t *) zlistx_detach (self->waiting, NULL);
        if (zsock_send (self->slots [i], "p", task)) {
            zlistx_add_start (self->waiting, task);
            break;
        }
        task->running = true;
        task->slot = i;
        task->started = zclock_mono ();
        self->slot_task [i] = task;
        zlistx_add_end (self->running, task);
        //  Claimed as waiting? Tell the broker it runs now (lost with us,
        //  it then counts as a run).
        if (task->announced) {
            task->announced = false;
            self->claims_pending = true;
        }
    }
}

//  A slot finished its task.
static void s_on_slot (worker_t *self, uint32_t i)
{
    wtask_t *task = NULL;
    if (zsock_recv (self->slots [i], "p", &task) || task != self->slot_task [i])
        return;
    self->slot_task [i] = NULL;
    void *handle = zlistx_find (self->running, task);
    if (handle)
        zlistx_detach (self->running, handle);
    self->done++;
    sl_credit_task_done (&self->credit, task->duration_ms);
    if (task->abandoned)
        s_wtask_destroy (&task);
    else
        zlistx_add_end (self->finished, task);
}

//  --- Results ---------------------------------------------------------------------

static void s_flush_outbox (worker_t *self)
{
    zframe_t *frame;
    while ((frame = (zframe_t *) zlistx_first (self->outbox))) {
        zframe_t *copy = zframe_dup (frame);
        if (zframe_send (&copy, self->results, ZFRAME_DONTWAIT)) {
            zframe_destroy (&copy);
            return;
        }
        zlistx_delete (self->outbox, NULL);
    }
}

//  Packs finished tasks into result batches (one job each) for the outbox.
static void s_send_results (worker_t *self)
{
    Sluice__Result results [MAX_RESULT_BATCH];
    Sluice__Result *ptrs [MAX_RESULT_BATCH];
    wtask_t *tasks [MAX_RESULT_BATCH];
    while (zlistx_size (self->finished)) {
        size_t n = 0, bytes = 0;
        wtask_t *task;
        while (n < MAX_RESULT_BATCH && bytes < MAX_RESULT_BYTES &&
               (task = (wtask_t *) zlistx_first (self->finished)) &&
               (n == 0 || streq (task->job, tasks [0]->job))) {
            zlistx_detach (self->finished, NULL);
            Sluice__Result init = SLUICE__RESULT__INIT;
            Sluice__Result *r = &results [n];
            *r = init;
            r->seq = task->seq;
            r->attempt = task->attempt;
            r->stage = task->stage; //  a result of another stage is dropped
            r->exit_code = task->exit_code;
            r->status =
                task->exit_code == 0 ? SLUICE__STATUS__STATUS_OK : SLUICE__STATUS__STATUS_FAILED;
            if (task->timed_out || (task->timeout_ms && task->duration_ms > task->timeout_ms))
                r->status = SLUICE__STATUS__STATUS_TIMEOUT;
            r->output.data = task->output.data;
            r->output.len = task->output.size;
            if (r->output.len > self->opts.max_output) {
                r->output.len = self->opts.max_output;
                r->output_truncated = true;
            }
            r->worker = self->name;
            r->duration_ms = task->duration_ms;
            ptrs [n] = r;
            tasks [n++] = task;
            bytes += r->output.len;
        }
        Sluice__ResultBatch batch = SLUICE__RESULT_BATCH__INIT;
        batch.job = tasks [0]->job;
        batch.results = ptrs;
        batch.n_results = n;
        sl_env_t env = SLUICE__ENVELOPE__INIT;
        env.body_case = SLUICE__ENVELOPE__BODY_RESULTS;
        env.results = &batch;
        zframe_t *frame = sl_proto_encode (&env);
        if (frame)
            zlistx_add_end (self->outbox, frame);
        else
            sl_error ("out of memory encoding results (the broker will redo those tasks)");
        for (size_t i = 0; i < n; i++)
            s_wtask_destroy (&tasks [i]);
    }
    s_flush_outbox (self);
}

//  --- Tasks and credit ---------------------------------------------------------------

static size_t s_held_count (worker_t *self)
{
    return zlistx_size (self->waiting) + zlistx_size (self->running);
}

//  Fair dispatch: asks for tasks (see lib/sl_credit.h).
static void s_credit (worker_t *self, bool absolute)
{
    if (!self->fair)
        return;
    uint32_t amount;
    int64_t want;
    if (!sl_credit_ask (&self->credit, s_held_count (self), self->draining, absolute, &amount,
                        &want))
        return;
    Sluice__Credit credit = SLUICE__CREDIT__INIT;
    credit.credit = amount;
    credit.absolute = absolute;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_CREDIT;
    env.credit = &credit;
    if (sl_proto_send (self->tasks, NULL, &env, ZMQ_DONTWAIT) == 0)
        sl_credit_sent (&self->credit, want);
}

static void s_on_task_batch (worker_t *self, Sluice__TaskBatch *batch)
{
    if (!sl_job_id_valid (batch->job)) {
        sl_warn_dropped ("dropped tasks with an invalid job id from the broker");
        return;
    }
    for (size_t i = 0; i < batch->n_tasks; i++) {
        Sluice__Task *in = batch->tasks [i];
        wtask_t *task = calloc (1, sizeof *task);
        if (task)
            task->payload = malloc (in->payload.len + 1);
        if (!task || !task->payload) {
            s_wtask_destroy (&task);
            sl_error ("out of memory: task %s/%llu dropped (the broker will redo it)", batch->job,
                      (unsigned long long) in->seq);
            continue;
        }
        snprintf (task->job, sizeof task->job, "%s", batch->job);
        task->seq = in->seq;
        task->attempt = in->attempt;
        task->timeout_ms = in->timeout_ms;
        task->stage = in->stage;
        if (in->payload.len)
            memcpy (task->payload, in->payload.data, in->payload.len);
        task->payload [in->payload.len] = '\0';
        task->size = in->payload.len;
        zlistx_add_end (self->waiting, task);
    }
}

static void s_read_tasks (worker_t *self)
{
    while (true) {
        sl_env_t *env = NULL;
        char why [256];
        sl_recv_t rc = sl_proto_recv (self->tasks, &env, NULL, why, sizeof why);
        if (rc == SL_RECV_NONE)
            break;
        if (rc != SL_RECV_OK)
            sl_warn_dropped ("dropped a bad message from the broker: %s", why);
        else if (env->body_case == SLUICE__ENVELOPE__BODY_TASKS) {
            sl_credit_received (&self->credit, env->tasks->n_tasks);
            self->got_tasks = true;
            s_on_task_batch (self, env->tasks);
        } else
            sl_warn_dropped ("dropped an unexpected %s message on the task socket",
                             sl_proto_body_name (env));
        sl_proto_free (&env);
    }
}

//  --- Telling the broker what we hold ---------------------------------------------

//  Fills self->refs with the tasks of list (from *at on, at most max - n
//  more), with `fresh` only those not announced (then marked announced).
//  Returns the new count.
static size_t s_refs (worker_t *self, zlistx_t *list, size_t n, size_t max, bool fresh)
{
    for (wtask_t *task = (wtask_t *) zlistx_first (list); task && n < max;
         task = (wtask_t *) zlistx_next (list)) {
        if (fresh && task->announced)
            continue;
        Sluice__TaskRef init = SLUICE__TASK_REF__INIT;
        self->refs [n] = init;
        self->refs [n].job = task->job;
        self->refs [n].seq = task->seq;
        self->refs [n].attempt = task->attempt;
        self->refs [n].waiting = !task->running;
        self->ref_ptrs [n] = &self->refs [n];
        if (fresh)
            task->announced = true;
        n++;
    }
    return n;
}

//  Heartbeats, claiming every task taken since the last one.
static void s_heartbeat (worker_t *self, int64_t now)
{
    size_t n;
    do {
        Sluice__Heartbeat hb = SLUICE__HEARTBEAT__INIT;
        hb.running = (uint32_t) zlistx_size (self->running);
        n = s_refs (self, self->running, 0, MAX_REFS, true);
        n = s_refs (self, self->waiting, n, MAX_REFS, true);
        hb.held = self->ref_ptrs;
        hb.n_held = n;
        sl_client_heartbeat (self->client, &hb, now);
    } while (n == MAX_REFS);
}

//  The regular heartbeat. With credit out and no task since the last one,
//  the credit goes again, absolute: credit (and tasks) lost with a dispatch
//  connection that broke would otherwise leave this worker idle for good.
static void s_beat (worker_t *self, int64_t now)
{
    s_heartbeat (self, now);
    if (self->fair && !self->draining && !self->got_tasks && self->credit.granted > 0)
        s_credit (self, true);
    self->got_tasks = false;
}

//  After a (re)connect the broker may not know what we hold: all of it.
static void s_announce_all (worker_t *self, int64_t now)
{
    wtask_t *task;
    for (task = (wtask_t *) zlistx_first (self->running); task;
         task = (wtask_t *) zlistx_next (self->running))
        task->announced = false;
    for (task = (wtask_t *) zlistx_first (self->waiting); task;
         task = (wtask_t *) zlistx_next (self->waiting))
        task->announced = false;
    s_heartbeat (self, now);
}

//  Hands every waiting task back and forgets it.
static void s_release_waiting (worker_t *self)
{
    while (zlistx_size (self->waiting)) {
        size_t n = s_refs (self, self->waiting, 0, MAX_REFS, false);
        Sluice__Release release = SLUICE__RELEASE__INIT;
        release.tasks = self->ref_ptrs;
        release.n_tasks = n;
        sl_env_t env = SLUICE__ENVELOPE__INIT;
        env.body_case = SLUICE__ENVELOPE__BODY_RELEASE;
        env.release = &release;
        sl_client_send (self->client, &env);
        for (size_t i = 0; i < n; i++) {
            wtask_t *task = (wtask_t *) zlistx_detach (self->waiting, NULL);
            s_wtask_destroy (&task);
        }
    }
}

//  Says goodbye listing what still runs (handed back; their results will
//  be dropped).
static void s_say_bye (worker_t *self)
{
    Sluice__Bye bye = SLUICE__BYE__INIT;
    bye.unfinished = self->ref_ptrs;
    bye.n_unfinished = s_refs (self, self->running, 0, MAX_REFS, false);
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_BYE;
    env.bye = &bye;
    sl_client_send (self->client, &env);
    for (wtask_t *task = (wtask_t *) zlistx_first (self->running); task;
         task = (wtask_t *) zlistx_next (self->running))
        task->abandoned = true;
}

//  Starts draining: no new task, those not started handed back.
static void s_drain (worker_t *self, int64_t now)
{
    self->draining = true;
    self->drain_until = now + (int64_t) self->opts.drain_timeout_ms;
    s_read_tasks (self);
    if (self->fair)
        s_credit (self, true);
    else {
        char endpoint [300], err [256];
        if (sl_endpoint_derive (self->broker, SL_PORT_DISPATCH, endpoint, sizeof endpoint, err,
                                sizeof err) == 0)
            zsock_disconnect (self->tasks, "%s", endpoint);
    }
    size_t handed = zlistx_size (self->waiting);
    s_release_waiting (self);
    sl_info ("draining: %zu tasks handed back, waiting up to %.1f s for %zu running", handed,
             self->opts.drain_timeout_ms / 1000.0, zlistx_size (self->running));
}

//  The broker cancelled a job: its waiting tasks are dropped; running
//  handlers are asked to stop, their results are dropped.
static void s_cancel_job (worker_t *self, const char *job)
{
    size_t dropped = 0, stopped = 0;
    wtask_t *task = (wtask_t *) zlistx_first (self->waiting);
    while (task) {
        wtask_t *next = (wtask_t *) zlistx_next (self->waiting);
        if (streq (task->job, job)) {
            zlistx_delete (self->waiting, zlistx_find (self->waiting, task));
            s_wtask_destroy (&task);
            dropped++;
        }
        task = next;
    }
    for (task = (wtask_t *) zlistx_first (self->running); task;
         task = (wtask_t *) zlistx_next (self->running))
        if (streq (task->job, job)) {
            task->abandoned = true;
            s_stop_task (self, task);
            stopped++;
        }
    if (dropped || stopped)
        sl_info ("job %s was cancelled: %zu waiting tasks dropped, %zu running ones stopped", job,
                 dropped, stopped);
}

static void s_on_control (worker_t *self, int64_t now)
{
    sl_env_t *env = NULL;
    char why [256];
    sl_recv_t rc;
    while ((rc = sl_proto_recv (sl_client_control (self->client), &env, NULL, why, sizeof why)) !=
           SL_RECV_NONE) {
        if (rc != SL_RECV_OK) {
            sl_warn_dropped ("dropped a bad message from the broker: %s", why);
            continue;
        }
        bool consumed;
        sl_link_t link = sl_client_handle (self->client, env, now, &consumed);
        if (link == SL_LINK_REFUSED)
            self->refused = true;
        else if (link == SL_LINK_BACK || link == SL_LINK_RESTARTED) {
            s_announce_all (self, now);
            s_credit (self, true);
        } else if (!consumed && env->body_case == SLUICE__ENVELOPE__BODY_CANCEL_JOB)
            s_cancel_job (self, env->cancel_job->job);
        else if (!consumed && env->body_case == SLUICE__ENVELOPE__BODY_DRAIN) {
            if (!self->draining) {
                sl_warn ("the broker asks this worker to drain (sluice-ctl drain)");
                s_drain (self, now);
            }
        }
        sl_proto_free (&env);
    }
}

//  --- Start and loop ---------------------------------------------------------------

static int s_connect (worker_t *self)
{
    char err [512];
    self->client = sl_client_new (self->broker, &self->curve, err, sizeof err);
    if (!self->client) {
        sl_error ("%s", err);
        return -1;
    }
    Sluice__Hello hello = SLUICE__HELLO__INIT;
    hello.role = SLUICE__ROLE__ROLE_WORKER;
    hello.name = self->name;
    hello.slots = self->opts.slots;
    hello.heartbeat_ms = self->opts.heartbeat_ms;
    hello.queues = self->queues;
    hello.n_queues = self->nqueues;
    sl_env_t *welcome = NULL;
    int64_t timeout = self->opts.connect_timeout_ms ? self->opts.connect_timeout_ms : -1;
    sl_hello_t said = sl_client_hello (self->client, &hello, timeout, &welcome, err, sizeof err);
    if (said != SL_HELLO_WELCOME) {
        if (said != SL_HELLO_INTERRUPTED)
            sl_error ("%s", err);
        return said == SL_HELLO_INTERRUPTED ? 1 : -1;
    }
    self->fair = welcome->welcome->fair;
    sl_proto_free (&welcome);
    sl_client_set_routing_id (self->client, self->fair ? self->name : NULL);
    if (!(self->tasks = sl_client_open (self->client, SL_PORT_DISPATCH,
                                        self->fair ? ZMQ_DEALER : ZMQ_PULL, 0, err, sizeof err)) ||
        !(self->results =
              sl_client_open (self->client, SL_PORT_RESULTS, ZMQ_PUSH, 2000, err, sizeof err))) {
        sl_error ("%s", err);
        return -1;
    }
    sl_client_set_routing_id (self->client, NULL);
    zsock_set_rcvhwm (self->tasks, 2);
    s_credit (self, true);
    char served [SC_MAX_QUEUES * 66] = "default";
    for (size_t i = 0, at = 0; i < self->nqueues; i++)
        at += (size_t) snprintf (served + at, sizeof served - at, "%s%s", i ? "," : "",
                                 self->queues [i]);
    sl_info ("worker %s connected to broker %s at %s, %s %s, %u slots", self->name,
             sl_client_broker_id (self->client), self->broker,
             self->nqueues > 1 ? "queues" : "queue", served, self->opts.slots);
    return 0;
}

//  A stop request (signal or sluice_worker_stop): the first drains, a
//  second one stops now. Returns true when the loop must end now.
static bool s_on_stop (worker_t *self, int64_t now, bool signalled)
{
    if (self->draining) {
        sl_warn ("%s: stopping now; %zu running tasks go back to the broker",
                 signalled ? "second signal" : "stopped again", zlistx_size (self->running));
        s_stop_running (self);
        return true;
    }
    s_drain (self, now);
    return false;
}

//  Frees everything the worker set up (the slots end once their handler
//  returned).
static void s_teardown (worker_t *self)
{
    for (uint32_t i = 0; self->slots && i < self->opts.slots; i++)
        zactor_destroy (&self->slots [i]);
    wtask_t *task;
    zlistx_t *lists [] = { self->waiting, self->running, self->finished };
    for (size_t l = 0; l < 3; l++)
        while (lists [l] && (task = (wtask_t *) zlistx_detach (lists [l], NULL)))
            s_wtask_destroy (&task);
    zlistx_destroy (&self->waiting);
    zlistx_destroy (&self->running);
    zlistx_destroy (&self->finished);
    zlistx_destroy (&self->outbox);
    sl_client_destroy (&self->client);
    sl_curve_client_clear (&self->curve);
    free (self->slots);
    free (self->slot_task);
    free (self->refs);
    free (self->ref_ptrs);
    for (size_t i = 0; i < self->nqueues; i++)
        free (self->queues [i]);
}

static int s_setup (worker_t *self, const char *queue, const sluice_worker_options_t *opts)
{
    char err [512];
    if (!self->broker || sl_endpoint_check (self->broker, err, sizeof err) ||
        sc_worker_options_check (queue, opts, err, sizeof err)) {
        sl_error ("sluice_worker_run: %s", self->broker ? err : "no broker address");
        return -1;
    }
    if (opts)
        self->opts = *opts;
    if (!self->opts.slots)
        self->opts.slots = 1;
    if (!self->opts.drain_timeout_ms)
        self->opts.drain_timeout_ms = SC_DEFAULT_DRAIN_TIMEOUT_MS;
    if (!self->opts.max_output)
        self->opts.max_output = SC_DEFAULT_MAX_OUTPUT;
    if (self->opts.name)
        snprintf (self->name, sizeof self->name, "%s", self->opts.name);
    else
        sc_default_name (self->name, sizeof self->name, "w");
    if (sl_curve_client_setup (&self->curve, self->opts.token, self->opts.curve_secret,
                               self->opts.curve_server, err, sizeof err)) {
        sl_error ("sluice_worker_run: %s", err);
        return -1;
    }
    sl_credit_init (&self->credit, self->opts.slots, self->opts.prefetch);
    bool queues_ok = true;
    if (queue)
        queues_ok &= !!(self->queues [self->nqueues++] = strdup (queue));
    for (size_t i = 0; i < self->opts.nqueues; i++)
        queues_ok &= !!(self->queues [self->nqueues++] = strdup (self->opts.queues [i]));
    self->waiting = zlistx_new ();
    self->running = zlistx_new ();
    self->finished = zlistx_new ();
    self->outbox = zlistx_new ();
    self->refs = calloc (MAX_REFS, sizeof *self->refs);
    self->ref_ptrs = calloc (MAX_REFS, sizeof *self->ref_ptrs);
    if (!self->opts.inline_handler) {
        self->slots = calloc (self->opts.slots, sizeof *self->slots);
        self->slot_task = calloc (self->opts.slots, sizeof *self->slot_task);
    }
    if (!queues_ok || !self->waiting || !self->running || !self->finished || !self->outbox ||
        !self->refs || !self->ref_ptrs ||
        (!self->opts.inline_handler && (!self->slots || !self->slot_task))) {
        sl_error ("sluice_worker_run: out of memory");
        return -1;
    }
    zlistx_set_destructor (self->outbox, (zlistx_destructor_fn *) zframe_destroy);
    for (uint32_t i = 0; self->slots && i < self->opts.slots; i++)
        if (!(self->slots [i] = zactor_new (s_slot, &self->slot_args))) {
            sl_error ("sluice_worker_run: cannot start a handler thread");
            return -1;
        }
    return 0;
}

int sluice_worker_run (const char *broker, const char *queue, sluice_handler_fn *handler,
                       void *state, const sluice_worker_options_t *opts)
{
    sc_log_setup ();
    worker_t self = { .broker = broker, .slot_args = { handler, state } };
    self.stops_seen = atomic_load (&s_stop_requests);
    if (!handler) {
        sl_error ("sluice_worker_run: no handler");
        return -1;
    }
    int rc = s_setup (&self, queue, opts);
    bool run = false; //  connected (not interrupted while saying hello)
    if (rc == 0) {
        int said = s_connect (&self);
        rc = said < 0 ? -1 : 0;
        run = said == 0;
    }
    uint32_t nslots = self.slots ? self.opts.slots : 0; //  none inline
    zmq_pollitem_t *items = calloc (3 + self.opts.slots, sizeof *items);
    if (!items)
        rc = -1;
    while (run && rc == 0) {
        int64_t now = zclock_mono ();
        unsigned stops = atomic_load (&s_stop_requests);
        bool signalled = zsys_interrupted;
        if (signalled || stops != self.stops_seen) {
            zsys_interrupted = 0; //  so that a second signal is seen
            self.stops_seen = stops;
            if (s_on_stop (&self, now, signalled))
                break;
        }
        if (self.refused) {
            rc = -1;
            break;
        }
        if (self.draining && zlistx_size (self.running) == 0 && zlistx_size (self.finished) == 0)
            break;
        if (self.draining && now >= self.drain_until) {
            sl_warn ("drain timeout: stopping %zu running tasks; they go back to the broker",
                     zlistx_size (self.running));
            s_stop_running (&self);
            break;
        }
        int64_t limit = s_check_time_limits (&self, now);
        sl_client_tick (self.client, now);
        if (sl_client_heartbeat_due (self.client, now))
            s_beat (&self, now);
        items [0] =
            (zmq_pollitem_t){ zsock_resolve (sl_client_control (self.client)), 0, ZMQ_POLLIN, 0 };
        items [1] = (zmq_pollitem_t){ zsock_resolve (self.tasks), 0, ZMQ_POLLIN, 0 };
        items [2] = (zmq_pollitem_t){ zsock_resolve (self.results), 0,
                                      zlistx_size (self.outbox) ? ZMQ_POLLOUT : 0, 0 };
        for (uint32_t i = 0; i < nslots; i++)
            items [3 + i] =
                (zmq_pollitem_t){ zsock_resolve (zactor_sock (self.slots [i])), 0, ZMQ_POLLIN, 0 };
        int64_t wake = sl_client_next_wake (self.client);
        if (wake > now + STOP_CHECK_MS)
            wake = now + STOP_CHECK_MS;
        if (self.draining && self.drain_until < wake)
            wake = self.drain_until;
        if (limit < wake)
            wake = limit;
        long timeout = wake > now ? (long) (wake - now) : 0;
        if (zmq_poll (items, (int) (3 + nslots), timeout) < 0) {
            if (errno == EINTR)
                continue;
            sl_error ("poll failed: %s", zmq_strerror (errno));
            rc = -1;
            break;
        }
        now = zclock_mono ();
        if (items [0].revents & ZMQ_POLLIN)
            s_on_control (&self, now);
        if (items [1].revents & ZMQ_POLLIN) {
            s_read_tasks (&self);
            if (self.draining)
                s_release_waiting (&self); //  arrived on the way: hand back
        }
        for (uint32_t i = 0; i < nslots; i++)
            if (items [3 + i].revents & ZMQ_POLLIN)
                s_on_slot (&self, i);
        if (items [2].revents & ZMQ_POLLOUT)
            s_flush_outbox (&self);
        s_start_tasks (&self);
        s_send_results (&self);
        s_credit (&self, false);
        if (self.claims_pending && sl_client_connected (self.client)) {
            s_heartbeat (&self, now);
            self.claims_pending = false;
        }
    }
    if (self.client && self.results) {
        s_send_results (&self);
        s_flush_outbox (&self);
        s_release_waiting (&self);
        s_say_bye (&self);
        if (zlistx_size (self.outbox))
            sl_warn ("%zu result batches could not be sent; the broker will redo those tasks",
                     zlistx_size (self.outbox));
    }
    free (items);
    s_teardown (&self);
    sl_info ("worker done: %llu tasks finished", (unsigned long long) self.done);
    return rc == 0 ? 0 : -1;
}
