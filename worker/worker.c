/*  worker - a sluice worker's event loop, see worker.h.

    One thread: zmq_poll over the control DEALER, the task PULL socket (only
    while the worker has room for more tasks) and the runner's pipes and
    signalfd. Received tasks wait in a local queue of at most `slots` tasks
    beyond those running, so a worker never hoards more than it can start
    soon; the rest stays with the broker.
*/
#include "worker.h"

#include <czmq.h>
#include <errno.h>
#include <string.h>

#include "sl_client.h"
#include "sl_deque.h"
#include "sl_log.h"
#include "sl_proto.h"
#include "sl_util.h"

#define MAX_POLL_ITEMS 4096
#define MAX_RESULT_BATCH 256

//  A task received and not yet finished.
typedef struct {
    char job [72];       //  its job
    uint64_t seq;        //  its seq
    uint32_t attempt;    //  which run this is
    uint32_t timeout_ms; //  time limit, 0 = none
    uint8_t *payload;    //  owned until started
    size_t size;
} wtask_t;

typedef struct {
    const worker_config_t *config;
    char name [300];        //  "host:pid", given in every result
    sl_client_t *client;    //  control DEALER and data sockets
    zsock_t *tasks;         //  PULL from the broker's dispatch port
    zsock_t *results;       //  PUSH to the broker's results port
    runner_t *runner;       //  running tasks
    sl_deque_t *waiting;    //  wtask_t received, not started
    char broker_id [64];    //  from the welcome
    uint32_t heartbeat_ms;  //  agreed interval
    int64_t next_heartbeat; //  ms
    uint64_t done;          //  tasks finished
} worker_t;

static void s_wtask_destroy (wtask_t **task_p)
{
    if (*task_p) {
        free ((*task_p)->payload);
        free (*task_p);
        *task_p = NULL;
    }
}

//  Sends env on the results PUSH, blocking but giving up on SIGINT.
static int s_send_result (worker_t *self, sl_env_t *env)
{
    while (!zsys_interrupted) {
        if (sl_proto_send (self->results, NULL, env, 0) == 0)
            return 0;
        if (errno != EAGAIN && errno != EINTR)
            return -1;
    }
    return -1;
}

//  Sends every finished task's result, one batch per run of the same job.
static void s_flush_results (worker_t *self)
{
    Sluice__Result results [MAX_RESULT_BATCH];
    Sluice__Result *ptrs [MAX_RESULT_BATCH];
    wtask_t *tasks [MAX_RESULT_BATCH];
    runner_done_t *dones [MAX_RESULT_BATCH];
    runner_done_t *done = runner_done (self->runner);
    while (done) {
        size_t n = 0;
        while (done && n < MAX_RESULT_BATCH) {
            wtask_t *task = (wtask_t *) (uintptr_t) done->tag;
            if (n && !streq (task->job, tasks [0]->job))
                break;
            Sluice__Result init = SLUICE__RESULT__INIT;
            results [n] = init;
            results [n].seq = task->seq;
            results [n].status = (Sluice__Status) done->status;
            results [n].exit_code = done->exit_code;
            results [n].output.data = done->output;
            results [n].output.len = done->output_size;
            results [n].stderr_tail.data = done->err;
            results [n].stderr_tail.len = done->err_size;
            results [n].worker = self->name;
            results [n].duration_ms = done->duration_ms;
            results [n].output_truncated = done->output_truncated;
            results [n].attempt = task->attempt;
            ptrs [n] = &results [n];
            tasks [n] = task;
            dones [n++] = done;
            done = runner_done (self->runner);
        }
        Sluice__ResultBatch batch = SLUICE__RESULT_BATCH__INIT;
        batch.job = tasks [0]->job;
        batch.results = ptrs;
        batch.n_results = n;
        sl_env_t env = SLUICE__ENVELOPE__INIT;
        env.body_case = SLUICE__ENVELOPE__BODY_RESULTS;
        env.results = &batch;
        s_send_result (self, &env);
        self->done += n;
        for (size_t i = 0; i < n; i++) {
            s_wtask_destroy (&tasks [i]);
            runner_done_destroy (&dones [i]);
        }
    }
}

//  Starts waiting tasks while slots are free.
static void s_start_tasks (worker_t *self, int64_t now)
{
    while (runner_running (self->runner) < self->config->slots && sl_deque_size (self->waiting)) {
        wtask_t *task = (wtask_t *) sl_deque_pop_front (self->waiting);
        if (runner_start (self->runner, (uint64_t) (uintptr_t) task, task->job, task->seq,
                          task->attempt, task->payload, task->size, task->timeout_ms, now)) {
            sl_error ("out of memory starting task %s/%llu", task->job,
                      (unsigned long long) task->seq);
            sl_deque_push_front (self->waiting, task);
            break;
        }
        free (task->payload);
        task->payload = NULL;
        //  Built-ins may finish at once: send in batches, not one by one.
        if (runner_running (self->runner) == 0 && sl_deque_size (self->waiting) == 0)
            break;
    }
}

static void s_on_task_batch (worker_t *self, Sluice__TaskBatch *batch)
{
    if (!sl_job_id_valid (batch->job)) {
        sl_warn ("dropped tasks with an invalid job id from the broker");
        return;
    }
    for (size_t i = 0; i < batch->n_tasks; i++) {
        Sluice__Task *in = batch->tasks [i];
        wtask_t *task = calloc (1, sizeof *task);
        if (task)
            task->payload = malloc (in->payload.len ? in->payload.len : 1);
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
        if (in->payload.len)
            memcpy (task->payload, in->payload.data, in->payload.len);
        task->size = in->payload.len;
        sl_deque_push_back (self->waiting, task);
    }
}

static void s_on_tasks (worker_t *self)
{
    //  Read while there is room: up to `slots` tasks waiting beyond those running.
    while (sl_deque_size (self->waiting) < self->config->slots) {
        sl_env_t *env = NULL;
        char why [256];
        sl_recv_t rc = sl_proto_recv (self->tasks, &env, NULL, why, sizeof why);
        if (rc == SL_RECV_NONE)
            break;
        if (rc != SL_RECV_OK)
            sl_warn ("dropped a bad message from the broker: %s", why);
        else if (env->body_case == SLUICE__ENVELOPE__BODY_TASKS)
            s_on_task_batch (self, env->tasks);
        else
            sl_warn ("dropped an unexpected %s message on the task socket",
                     sl_proto_body_name (env));
        sl_proto_free (&env);
    }
}

static void s_on_control (worker_t *self)
{
    sl_env_t *env = NULL;
    char why [256];
    sl_recv_t rc;
    while ((rc = sl_proto_recv (sl_client_control (self->client), &env, NULL, why, sizeof why)) !=
           SL_RECV_NONE) {
        if (rc != SL_RECV_OK)
            sl_warn ("dropped a bad message from the broker: %s", why);
        else if (env->body_case == SLUICE__ENVELOPE__BODY_HEARTBEAT &&
                 !streq (env->heartbeat->broker_id, self->broker_id))
            sl_debug ("heartbeat from broker %s (welcomed by %s)", env->heartbeat->broker_id,
                      self->broker_id);
        sl_proto_free (&env);
    }
}

static void s_heartbeat (worker_t *self)
{
    Sluice__Heartbeat hb = SLUICE__HEARTBEAT__INIT;
    hb.running = (uint32_t) runner_running (self->runner);
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    sl_client_send (self->client, &env);
}

static void s_say_bye (worker_t *self)
{
    Sluice__Bye bye = SLUICE__BYE__INIT;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_BYE;
    env.bye = &bye;
    sl_client_send (self->client, &env);
}

static int s_connect (worker_t *self)
{
    char err [512];
    self->client = sl_client_new (self->config->broker, err, sizeof err);
    if (!self->client) {
        sl_error ("%s", err);
        return -1;
    }
    Sluice__Hello hello = SLUICE__HELLO__INIT;
    hello.role = SLUICE__ROLE__ROLE_WORKER;
    hello.name = self->name;
    hello.slots = self->config->slots;
    hello.heartbeat_ms = self->config->heartbeat_ms;
    sl_env_t *welcome = NULL;
    sl_hello_t said = sl_client_hello (self->client, &hello, self->config->connect_timeout_ms,
                                       &welcome, err, sizeof err);
    if (said != SL_HELLO_WELCOME) {
        if (said != SL_HELLO_INTERRUPTED)
            sl_error ("%s", err);
        return said == SL_HELLO_INTERRUPTED ? 1 : -1;
    }
    snprintf (self->broker_id, sizeof self->broker_id, "%s", welcome->welcome->broker_id);
    self->heartbeat_ms = welcome->welcome->heartbeat_ms ? welcome->welcome->heartbeat_ms : 1000;
    sl_proto_free (&welcome);
    if (!(self->tasks =
              sl_client_open (self->client, SL_PORT_DISPATCH, ZMQ_PULL, 0, err, sizeof err)) ||
        !(self->results =
              sl_client_open (self->client, SL_PORT_RESULTS, ZMQ_PUSH, 2000, err, sizeof err))) {
        sl_error ("%s", err);
        return -1;
    }
    //  Keep what ZeroMQ buffers for this worker small: tasks are better
    //  left with the broker than queued behind a busy worker.
    zsock_set_rcvhwm (self->tasks, 2);
    sl_info ("connected to broker %s at %s, running %u tasks at once", self->broker_id,
             self->config->broker, self->config->slots);
    return 0;
}

int worker_run (const worker_config_t *config)
{
    assert (config);
    worker_t self = {.config = config};
    sl_self_name (self.name, sizeof self.name);
    //  The runner blocks SIGCHLD: it must exist before any ZeroMQ thread.
    self.runner = runner_new (&config->runner);
    self.waiting = sl_deque_new ();
    if (!self.runner || !self.waiting) {
        sl_error ("cannot set up the task runner: %s", strerror (errno));
        runner_destroy (&self.runner);
        sl_deque_destroy (&self.waiting);
        return 1;
    }
    int rc = s_connect (&self);
    zmq_pollitem_t *items = calloc (MAX_POLL_ITEMS, sizeof *items);
    if (rc == 0 && !items)
        rc = -1;
    self.next_heartbeat = zclock_mono ();
    while (rc == 0 && !zsys_interrupted) {
        int64_t now = zclock_mono ();
        if (now >= self.next_heartbeat) {
            s_heartbeat (&self);
            self.next_heartbeat = now + self.heartbeat_ms;
        }
        items [0] =
            (zmq_pollitem_t){zsock_resolve (sl_client_control (self.client)), 0, ZMQ_POLLIN, 0};
        items [1] =
            (zmq_pollitem_t){zsock_resolve (self.tasks), 0,
                             sl_deque_size (self.waiting) < config->slots ? ZMQ_POLLIN : 0, 0};
        size_t n = 2 + runner_pollitems (self.runner, items + 2, MAX_POLL_ITEMS - 2);
        int64_t wake = self.next_heartbeat;
        int64_t timer = runner_next_timer (self.runner);
        if (timer >= 0 && timer < wake)
            wake = timer;
        long timeout = wake > now ? (long) (wake - now) : 0;
        if (zmq_poll (items, (int) n, timeout) < 0) {
            if (errno == EINTR)
                continue;
            sl_error ("poll failed: %s", zmq_strerror (errno));
            rc = -1;
            break;
        }
        now = zclock_mono ();
        runner_handle (self.runner, items + 2, n - 2, now);
        if (items [0].revents & ZMQ_POLLIN)
            s_on_control (&self);
        if (items [1].revents & ZMQ_POLLIN)
            s_on_tasks (&self);
        s_start_tasks (&self, now);
        s_flush_results (&self);
    }
    if (self.client) {
        size_t abandoned = runner_running (self.runner) + sl_deque_size (self.waiting);
        if (abandoned)
            sl_info ("stopping: %zu unfinished tasks left to the broker", abandoned);
        s_say_bye (&self);
    }
    free (items);
    runner_destroy (&self.runner);
    wtask_t *task;
    while ((task = (wtask_t *) sl_deque_pop_front (self.waiting)))
        s_wtask_destroy (&task);
    sl_deque_destroy (&self.waiting);
    sl_client_destroy (&self.client);
    sl_info ("worker done: %llu tasks finished", (unsigned long long) self.done);
    return rc < 0 ? 1 : 0;
}
