/*  client - the client API of libsluice: one object that plays the
    ventilator and the sink of its job. See include/sluice.h.

    A job owns its own connection to the broker (control DEALER, intake
    PUSH, delivery PULL) and says hello as the sink of that one job. Its
    loop (s_pump) runs only inside the API calls and does, each turn:

    - the link: heartbeats, and hello again after a broker loss or restart
      (sl_client does that; the same sink hello is said again);
    - sending, through the submit core that the ventilator shares
      (lib/sl_submit.c): a first JobQuery (a job id the broker knows gets
      only what it lacks), one pass of TaskBatches and the JobEnd
      (non-blocking: the broker's backpressure just pauses the pass), then
      a JobQuery every 100 ms until the broker holds every task durably;
      when that stalls for a second (tasks lost with a crashed broker), a
      pass over the seqs it lists as missing. This file keeps the copies
      of the tasks (freed once held) and the sockets;
    - receiving, as the sink does (sink/sink.c): ResultBatches go through
      the collect core, lib/sl_collect.c, as in the sink (duplicates after
      a restart are dropped, or acknowledged again if already handed out) into a queue in completion order; a
      result is acknowledged when it is handed to the user.

    Receiving runs while sending, so a job larger than the broker's
    --max-memory streams through (the broker frees memory as we take
    results).
*/
#include <czmq.h>
#include <errno.h>
#include <string.h>

#include "sl_collect.h"
#include "sc_options.h"
#include "sl_client.h"
#include "sl_curve.h"
#include "sl_follow.h"
#include "sl_log.h"
#include "sl_proto.h"
#include "sl_submit.h"
#include "sl_util.h"
#include "sluice.h"

#define SEND_HWM 16         //  batches queued towards the broker, at most
#define FINISH_WAIT_MS 5000 //  sluice_job_destroy: wait this long for JobDone
#define READ_BURST 64
#define CANCEL_WAIT_MS 30000 //  sluice_job_cancel: how long the broker may take to answer
#define MAX_TASK_ID 255      //  bytes of a task's id (the broker's limit)

struct _sluice_client_t {
    char broker [256];                 //  tcp://HOST:PORT
    sluice_options_t opts;             //  options; its strings point to the copies below
    char queue [72];                   //  opts.queue, "" = default
    char job [72];                     //  opts.job, "" = random
    char name [SC_MAX_NAME + 1];       //  name at the broker
    sl_curve_client_t curve;           //  CurveZMQ settings
    sluice_job_t *job_live;            //  the job not yet destroyed, or NULL
    char then [SC_MAX_THEN][72];       //  opts.then: queues of the next stages
    char *then_ptrs [SC_MAX_THEN + 1]; //  pointers to them, NULL-terminated
    size_t nthen;                      //  how many
};

//  A task's own options (sluice_task_t), kept until the broker holds it.
typedef struct {
    char *id;            //  its id (owned), or NULL
    uint32_t timeout_ms; //  its time limit, 0 = none
    uint32_t retries;    //  its reruns
    int32_t priority;    //  its priority
} sc_task_opts_t;

struct _sluice_job_t {
    sluice_client_t *client; //  the client that submitted it
    char id [72];            //  job id
    size_t n;                //  tasks
    sluice_buf_t *tasks;     //  copies of the tasks until the broker holds them, then NULL
    sc_task_opts_t *opts;    //  each task's own options (parallel to tasks), or NULL: the client's
    bool reply_in;           //  a CommandReply came (sluice_job_cancel waits for it)
    bool reply_ok;           //  its verdict
    char reply [512];        //  its message
    sl_client_t *link;       //  control connection
    zsock_t *intake;         //  PUSH to the broker's intake
    zsock_t *delivery;       //  PULL from the broker's delivery port
    sl_submit_t *submit;     //  sending: the submit core
    uint64_t pass_sent;      //  tasks the pass under way has packed
    zframe_t *pending;       //  a batch the intake did not take yet (sent first)
    sl_collect_t *collect;   //  the collect core: results received, handed out, to acknowledge
    sl_cjob_t *cjob;         //  this job in it
    zlistx_t *ready;         //  sluice_result_t * received, not handed out (completion order)
    bool finished;           //  the broker said JobDone: every result acknowledged
    char error [512];        //  why the last call failed, "" = it did not
};

//  --- Client --------------------------------------------------------------------

sluice_client_t *sluice_client_new_err (const char *broker, const sluice_options_t *opts, char *err,
                                        size_t errlen)
{
    sc_log_setup ();
    if (!broker || strlen (broker) >= sizeof ((sluice_client_t *) 0)->broker) {
        snprintf (err, errlen, "broker: give the address as tcp://HOST:PORT");
        return NULL;
    }
    if (sl_follow_check (broker, err, errlen) || sluice_options_check (opts, err, errlen))
        return NULL;
    sluice_client_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    snprintf (self->broker, sizeof self->broker, "%s", broker);
    if (opts)
        self->opts = *opts;
    snprintf (self->queue, sizeof self->queue, "%s", opts && opts->queue ? opts->queue : "");
    snprintf (self->job, sizeof self->job, "%s", opts && opts->job ? opts->job : "");
    if (opts && opts->name)
        snprintf (self->name, sizeof self->name, "%s", opts->name);
    else
        sc_default_name (self->name, sizeof self->name, "");
    for (; opts && opts->then && opts->then [self->nthen]; self->nthen++) {
        snprintf (self->then [self->nthen], sizeof self->then [0], "%s", opts->then [self->nthen]);
        self->then_ptrs [self->nthen] = self->then [self->nthen];
    }
    self->opts.then = self->nthen ? (const char *const *) self->then_ptrs : NULL;
    self->opts.queue = self->queue [0] ? self->queue : NULL;
    self->opts.job = self->job [0] ? self->job : NULL;
    self->opts.name = self->name;
    self->opts.curve_server = self->opts.curve_secret = NULL; //  used here only
    self->opts.token = NULL;
    if (self->opts.connect_timeout_ms == 0)
        self->opts.connect_timeout_ms = SC_DEFAULT_CONNECT_TIMEOUT_MS;
    if (sl_curve_client_setup (&self->curve, opts ? opts->token : NULL,
                               opts ? opts->curve_secret : NULL, opts ? opts->curve_server : NULL,
                               err, errlen)) {
        free (self);
        return NULL;
    }
    return self;
}

sluice_client_t *sluice_client_new (const char *broker, const sluice_options_t *opts)
{
    char err [512];
    sluice_client_t *self = sluice_client_new_err (broker, opts, err, sizeof err);
    if (!self)
        sl_error ("sluice_client_new: %s", err);
    return self;
}

void sluice_client_destroy (sluice_client_t **self_p)
{
    if (self_p && *self_p) {
        sluice_client_t *self = *self_p;
        assert (!self->job_live); //  destroy the job first
        sl_curve_client_clear (&self->curve);
        free (self);
        *self_p = NULL;
    }
}

//  --- Results -------------------------------------------------------------------

//  Copies size bytes and a NUL. NULL if out of memory.
static uint8_t *s_copy (const void *data, size_t size)
{
    uint8_t *copy = malloc (size + 1);
    if (copy) {
        if (size)
            memcpy (copy, data, size);
        copy [size] = '\0';
    }
    return copy;
}

//  Fills out from a delivered result. Returns 0, or -1 if out of memory.
static int s_result_fill (sluice_result_t *out, const Sluice__Result *in)
{
    memset (out, 0, sizeof *out);
    out->seq = in->seq;
    out->status = (sluice_status_t) in->status;
    out->exit_code = in->exit_code;
    out->attempts = in->attempts;
    out->duration_ms = in->duration_ms;
    out->output_truncated = in->output_truncated;
    out->stage = in->stage;
    out->output_size = in->output.len;
    out->stderr_size = in->stderr_tail.len;
    out->worker = strdup (in->worker ? in->worker : "");
    out->output = s_copy (in->output.data, in->output.len);
    out->stderr_tail = s_copy (in->stderr_tail.data, in->stderr_tail.len);
    out->id = strdup (in->id ? in->id : "");
    if (!out->worker || !out->output || !out->stderr_tail || !out->id) {
        free (out->worker);
        free (out->output);
        free (out->stderr_tail);
        free (out->id);
        return -1;
    }
    return 0;
}

static void s_ready_free (void **item_p)
{
    sluice_result_destroy ((sluice_result_t **) item_p);
}

//  --- Sending -------------------------------------------------------------------

static void s_fail (sluice_job_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));
static void s_fail (sluice_job_t *self, const char *format, ...)
{
    if (self->error [0])
        return; //  the first reason is the one
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof self->error, format, args);
    va_end (args);
}

//  Sends the batch waiting in self->pending. Returns 0 if sent (or none),
//  -1 if the intake takes nothing now (the broker's backpressure).
static int s_send_pending (sluice_job_t *self)
{
    if (!self->pending)
        return 0;
    //  ZFRAME_REUSE: ZeroMQ shares the bytes (no copy); kept for a retry.
    if (zframe_send (&self->pending, self->intake, ZFRAME_DONTWAIT | ZFRAME_REUSE))
        return -1;
    zframe_destroy (&self->pending);
    return 0;
}

//  Packs the next batch of the pass (or, at its end, the JobEnd) into
//  self->pending. Returns 1 if one was made, 0 if no pass is under way, -1
//  if out of memory.
static int s_next_batch (sluice_job_t *self)
{
    if (!sl_submit_passing (self->submit))
        return 0;
    int full = 0;
    uint64_t seq;
    while (full == 0 && (seq = sl_submit_next (self->submit))) {
        sl_submit_task_t task = {
            .seq = seq,
            .payload = self->tasks [seq - 1].data,
            .size = self->tasks [seq - 1].size,
        };
        if (self->opts) {
            const sc_task_opts_t *o = &self->opts [seq - 1];
            task.id = o->id;
            task.has_timeout = task.has_retries = task.has_priority = true;
            task.timeout_ms = o->timeout_ms;
            task.retries = o->retries;
            task.priority = o->priority;
        }
        full = sl_submit_add (self->submit, &task);
        self->pass_sent++;
    }
    if (full < 0)
        return -1;
    if (sl_submit_batched (self->submit))
        self->pending = sl_submit_batch (self->submit);
    else //  the pass has sent its tasks: the JobEnd, and it is over
        self->pending = sl_submit_pass_end (self->submit, self->n, self->pass_sent, zclock_mono ());
    if (!sl_submit_passing (self->submit))
        self->pass_sent = 0;
    return self->pending ? 1 : -1;
}

//  Sends what the pass under way has left, as far as the intake takes it.
static void s_send_some (sluice_job_t *self)
{
    while (s_send_pending (self) == 0) {
        int rc = s_next_batch (self);
        if (rc < 0)
            s_fail (self, "out of memory packing tasks");
        if (rc <= 0)
            return;
    }
}

static void s_query (sluice_job_t *self, int64_t now)
{
    Sluice__JobQuery query;
    if (!sl_submit_query (self->submit, now, &query))
        return;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_JOB_QUERY;
    env.job_query = &query;
    sl_client_send (self->link, &env); //  lost when the broker is away: asked again
}

//  The broker holds every task: the copies are no longer needed.
static void s_opts_free (sluice_job_t *self)
{
    for (size_t i = 0; self->opts && i < self->n; i++)
        free (self->opts [i].id);
    free (self->opts);
    self->opts = NULL;
}

static void s_tasks_free (sluice_job_t *self)
{
    for (size_t i = 0; self->tasks && i < self->n; i++)
        free (self->tasks [i].data);
    free (self->tasks);
    self->tasks = NULL;
    s_opts_free (self);
}

static bool s_held (sluice_job_t *self)
{
    return sl_submit_status (self->submit) == SL_SUBMIT_HELD;
}

//  The broker's answer to a JobQuery: the core decides.
static void s_on_state (sluice_job_t *self, Sluice__JobState *state, int64_t now)
{
    sl_submit_state (self->submit, state, now);
    sl_submit_status_t status = sl_submit_status (self->submit);
    if (status == SL_SUBMIT_HELD && self->tasks)
        s_tasks_free (self);
    else if (status == SL_SUBMIT_FINISHED)
        s_fail (self,
                "job %s is already finished at the broker: its results were delivered to a "
                "sink before",
                self->id);
    else if (status == SL_SUBMIT_FAILED)
        s_fail (self, "%s", sl_submit_error (self->submit));
}

//  --- Receiving -----------------------------------------------------------------

//  The collect core of the job's n tasks. Returns 0, or -1 if out of memory.
static int s_collect_open (sluice_job_t *self)
{
    sl_collect_config_t config = { .job = self->id };
    self->collect = sl_collect_new (&config);
    self->cjob = self->collect ? sl_collect_expect (self->collect, self->id, self->n, 0) : NULL;
    return self->cjob ? 0 : -1;
}

//  Sends the acknowledgements gathered. One lost (the broker away) makes
//  the broker deliver the result again; it is acknowledged again then.
static void s_flush_acks (sluice_job_t *self)
{
    sl_collect_acks (self->collect, sl_client_send_ack, self->link);
}

static bool s_complete (sluice_job_t *self)
{
    return sl_collect_complete (self->cjob);
}

static void s_on_results (sluice_job_t *self, Sluice__ResultBatch *batch)
{
    for (size_t i = 0; i < batch->n_results; i++) {
        Sluice__Result *r = batch->results [i];
        sl_cjob_t *job;
        sl_collect_verdict_t verdict = sl_collect_offer (self->collect, batch->job, r->seq, 0, &job);
        if (verdict == SL_COLLECT_FOREIGN) {
            sl_warn_dropped ("dropped results of job %s (collecting %s only)", batch->job,
                             self->id);
            return;
        }
        if (verdict == SL_COLLECT_OUT_OF_RANGE)
            sl_warn_dropped ("job %s: dropped a result with seq %llu out of range", self->id,
                             (unsigned long long) r->seq);
        if (verdict != SL_COLLECT_WRITE)
            continue;
        sluice_result_t *result = malloc (sizeof *result);
        if (!result || s_result_fill (result, r)) {
            free (result);
            sl_collect_drop (self->collect, job, r->seq);
            s_fail (self, "out of memory for a result");
            return;
        }
        zlistx_add_end (self->ready, result);
    }
}

static void s_on_delivery (sluice_job_t *self)
{
    for (int i = 0; i < READ_BURST; i++) {
        sl_env_t *env = NULL;
        char why [256];
        sl_recv_t rc = sl_proto_recv (self->delivery, &env, NULL, why, sizeof why);
        if (rc == SL_RECV_NONE)
            break;
        if (rc != SL_RECV_OK) {
            sl_warn_dropped ("dropped a bad message from the broker: %s", why);
            continue;
        }
        if (env->body_case == SLUICE__ENVELOPE__BODY_RESULTS)
            s_on_results (self, env->results);
        else if (env->body_case == SLUICE__ENVELOPE__BODY_JOB_DONE &&
                 sl_collect_job_done (self->collect, env->job_done, 0))
            self->finished = !env->job_done->forgotten;
        sl_proto_free (&env);
    }
}

static void s_on_control (sluice_job_t *self, int64_t now)
{
    sl_env_t *env;
    sl_link_t link;
    bool consumed;
    while ((env = sl_client_recv (self->link, now, &link, &consumed))) {
        if (link == SL_LINK_REFUSED)
            s_fail (self, "the broker at %s refused this client: %s", self->client->broker,
                    env->refuse->reason);
        else if (link == SL_LINK_RESTARTED)
            sl_submit_restarted (self->submit); //  a new broker may lack what we sent: ask at once
        else if (!consumed && env->body_case == SLUICE__ENVELOPE__BODY_JOB_STATE)
            s_on_state (self, env->job_state, now);
        else if (!consumed && env->body_case == SLUICE__ENVELOPE__BODY_COMMAND_REPLY) {
            self->reply_in = true;
            self->reply_ok = env->command_reply->ok;
            snprintf (self->reply, sizeof self->reply, "%s", env->command_reply->message);
        }
        sl_proto_free (&env);
    }
}

//  --- The loop ------------------------------------------------------------------

typedef enum {
    UNTIL_RESULT,   //  a result is ready
    UNTIL_COMPLETE, //  every result was handed out and the broker said JobDone
    UNTIL_HELD,     //  the broker holds every task
    UNTIL_REPLY     //  the broker answered a command
} until_t;

//  Runs the job until what `until` says, or until deadline (ms, monotonic;
//  < 0 = none). Returns 0 (also at the deadline), or -1 with self->error.
static int s_pump (sluice_job_t *self, until_t until, int64_t deadline)
{
    zmq_pollitem_t items [3];
    while (!self->error [0]) {
        int64_t now = zclock_mono ();
        if (zsys_interrupted) {
            s_fail (self, "interrupted");
            break;
        }
        sl_client_tick (self->link, now);
        if (sl_client_heartbeat_due (self->link, now))
            sl_client_heartbeat (self->link, NULL, now);
        if (sl_client_connected (self->link)) {
            s_send_some (self);
            if (!self->pending)
                s_query (self, now);
        }
        s_flush_acks (self);
        if (self->error [0])
            break;
        if (until == UNTIL_RESULT && zlistx_size (self->ready))
            return 0;
        if (until == UNTIL_COMPLETE && s_complete (self) && self->finished)
            return 0;
        if ((until == UNTIL_HELD && s_held (self)) ||
            (until == UNTIL_REPLY && self->reply_in))
            return 0;
        int64_t wake = sl_client_next_wake (self->link);
        if (sl_submit_next_wake (self->submit) < wake)
            wake = sl_submit_next_wake (self->submit);
        if (deadline >= 0 && deadline < wake)
            wake = deadline;
        items [0] =
            (zmq_pollitem_t){ zsock_resolve (sl_client_control (self->link)), 0, ZMQ_POLLIN, 0 };
        items [1] = (zmq_pollitem_t){ zsock_resolve (self->delivery), 0, ZMQ_POLLIN, 0 };
        bool sending = self->pending || sl_submit_passing (self->submit);
        items [2] =
            (zmq_pollitem_t){ zsock_resolve (self->intake), 0,
                              sending && sl_client_connected (self->link) ? ZMQ_POLLOUT : 0, 0 };
        long timeout = wake > now ? (long) (wake - now) : 0;
        if (zmq_poll (items, 3, timeout) < 0) {
            if (errno == EINTR)
                continue;
            s_fail (self, "poll failed: %s", zmq_strerror (errno));
            break;
        }
        now = zclock_mono ();
        if (items [0].revents & ZMQ_POLLIN)
            s_on_control (self, now);
        if (items [1].revents & ZMQ_POLLIN)
            s_on_delivery (self);
        //  At the deadline after one look at the sockets (timeout 0 too).
        if (deadline >= 0 && now >= deadline && !self->error [0])
            return 0;
    }
    return -1;
}

//  Hands the oldest ready result out: marks it taken and acknowledges it.
//  Caller owns the result.
static sluice_result_t *s_take (sluice_job_t *self)
{
    sluice_result_t *result = (sluice_result_t *) zlistx_detach (self->ready, NULL);
    if (result) {
        sl_collect_written (self->collect, self->cjob, result->seq, result->status, true);
    }
    return result;
}

//  --- Jobs ----------------------------------------------------------------------

//  Connects the job: hello as its sink, then the data sockets. Returns 0,
//  or -1 with err.
static int s_connect (sluice_job_t *self, char *err, size_t errlen)
{
    sluice_client_t *client = self->client;
    self->link = sl_client_new (client->broker, &client->curve, err, errlen);
    if (!self->link)
        return -1;
    if (!(self->delivery = sl_client_open_delivery (self->link, client->name, err, errlen)))
        return -1;
    char *waiting [1] = { self->id };
    Sluice__Hello hello = SLUICE__HELLO__INIT;
    hello.role = SLUICE__ROLE__ROLE_SINK;
    hello.name = client->name;
    hello.job = self->id;
    hello.delivery = SL_DELIVERY_VERSION;
    hello.heartbeat_ms = client->opts.heartbeat_ms;
    hello.waiting = waiting;
    hello.n_waiting = 1;
    sl_env_t *welcome = NULL;
    sl_hello_t said = sl_client_hello (self->link, &hello, client->opts.connect_timeout_ms,
                                       &welcome, err, errlen);
    if (said != SL_HELLO_WELCOME)
        return -1;
    uint64_t max_payload = welcome->welcome->max_payload;
    sl_proto_free (&welcome);
    for (size_t i = 0; max_payload && i < self->n; i++)
        if (self->tasks [i].size > max_payload) {
            snprintf (err, errlen,
                      "task %zu (seq %zu) has %zu bytes, over the broker's "
                      "--max-payload of %llu",
                      i, i + 1, self->tasks [i].size, (unsigned long long) max_payload);
            return -1;
        }
    sl_client_set_sndhwm (self->link, SEND_HWM);
    if (!(self->intake = sl_client_open (self->link, SL_PORT_INTAKE, ZMQ_PUSH, 2000, err, errlen)))
        return -1;
    return 0;
}

//  Checks the arguments of sluice_submit and sluice_submit_tasks. 0, or
//  -1 with err.
static int s_check_tasks (sluice_client_t *client, const sluice_buf_t *tasks,
                          const sluice_task_t *tasks_opts, size_t n, char *err, size_t errlen)
{
    if (client->job_live) {
        snprintf (err, errlen, "this client has a job (%s) already: destroy it first",
                  client->job_live->id);
        return -1;
    }
    if (n == 0 || (!tasks && !tasks_opts)) {
        snprintf (err, errlen, "a job needs at least one task");
        return -1;
    }
    for (size_t i = 0; tasks_opts && i < n; i++) {
        const sluice_task_t *t = &tasks_opts [i];
        if (t->id && strlen (t->id) > MAX_TASK_ID) {
            snprintf (err, errlen, "task %zu: its id has %zu bytes, over %d", i, strlen (t->id),
                      MAX_TASK_ID);
            return -1;
        }
        if (t->retries != SLUICE_DEFAULT && (t->retries < 0 || t->retries > 100)) {
            snprintf (err, errlen, "task %zu: retries %d is not 0-100 (or SLUICE_DEFAULT)", i,
                      (int) t->retries);
            return -1;
        }
    }
    return 0;
}

//  Copies the tasks (kept until the broker holds them), with their own
//  options if tasks_opts. 0, or -1 if out of memory.
static int s_copy_tasks (sluice_job_t *self, const sluice_buf_t *tasks,
                         const sluice_task_t *tasks_opts)
{
    const sluice_options_t *opts = &self->client->opts;
    self->tasks = calloc (self->n, sizeof *self->tasks);
    if (tasks_opts)
        self->opts = calloc (self->n, sizeof *self->opts);
    if (!self->tasks || (tasks_opts && !self->opts))
        return -1;
    for (size_t i = 0; i < self->n; i++) {
        const sluice_buf_t *payload = tasks ? &tasks [i] : &tasks_opts [i].payload;
        if (sluice_buf_set (&self->tasks [i], payload->data, payload->size))
            return -1;
        if (!tasks_opts)
            continue;
        const sluice_task_t *t = &tasks_opts [i];
        sc_task_opts_t *o = &self->opts [i];
        o->timeout_ms = t->timeout_ms ? t->timeout_ms : opts->task_timeout_ms;
        o->retries = t->retries == SLUICE_DEFAULT ? opts->retries : (uint32_t) t->retries;
        o->priority = t->has_priority ? t->priority : opts->priority;
        if (t->id && !(o->id = strdup (t->id)))
            return -1;
    }
    return 0;
}

//  The job's submit core: its id, queues and the client's task defaults.
static sl_submit_t *s_submit_core (sluice_job_t *self)
{
    sluice_client_t *client = self->client;
    sl_submit_config_t config = {
        .job = self->id,
        .queue = client->opts.queue,
        .then = client->then_ptrs,
        .nthen = client->nthen,
        .tasks = self->n,
        .timeout_ms = client->opts.task_timeout_ms,
        .retries = client->opts.retries,
        .priority = client->opts.priority,
    };
    return sl_submit_new (&config);
}

//  sluice_submit and sluice_submit_tasks: tasks [i] (or tasks_opts [i], if
//  tasks is NULL) for each of the n tasks.
static sluice_job_t *s_submit (sluice_client_t *client, const sluice_buf_t *tasks,
                               const sluice_task_t *tasks_opts, size_t n, char *err, size_t errlen)
{
    assert (client);
    if (s_check_tasks (client, tasks, tasks_opts, n, err, errlen))
        return NULL;
    sluice_job_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->client = client;
    self->n = n;
    if (client->opts.job)
        snprintf (self->id, sizeof self->id, "%s", client->opts.job);
    else
        sl_random_hex (self->id, sizeof self->id, 12);
    self->ready = zlistx_new ();
    if (s_collect_open (self) || !self->ready || !(self->submit = s_submit_core (self))) {
        snprintf (err, errlen, "out of memory");
        goto fail;
    }
    zlistx_set_destructor (self->ready, s_ready_free);
    if (s_copy_tasks (self, tasks, tasks_opts)) {
        snprintf (err, errlen, "out of memory copying the tasks");
        goto fail;
    }
    if (s_connect (self, err, errlen))
        goto fail;
    client->job_live = self;
    sl_info ("job %s: %zu tasks, submitting to %s", self->id, n, client->broker);
    return self;
fail:
    self->client = NULL; //  not the client's job
    sluice_job_destroy (&self);
    return NULL;
}

sluice_job_t *sluice_submit (sluice_client_t *client, const sluice_buf_t *tasks, size_t n,
                             char *err, size_t errlen)
{
    return s_submit (client, tasks, NULL, n, err, errlen);
}

void sluice_task_init (sluice_task_t *task)
{
    assert (task);
    memset (task, 0, sizeof *task);
    task->retries = SLUICE_DEFAULT;
}

sluice_job_t *sluice_submit_tasks (sluice_client_t *client, const sluice_task_t *tasks, size_t n,
                                   char *err, size_t errlen)
{
    return s_submit (client, NULL, tasks, n, err, errlen);
}

int sluice_job_cancel (sluice_job_t *self, char *err, size_t errlen)
{
    assert (self);
    self->error [0] = '\0';
    int64_t deadline = zclock_mono () + CANCEL_WAIT_MS;
    //  Every task at the broker first: a task it never got would never
    //  get a result.
    if (s_pump (self, UNTIL_HELD, deadline) || !s_held (self)) {
        snprintf (err, errlen, "job %s: %s", self->id,
                  self->error [0] ? self->error : "the broker did not take every task in time");
        return -1;
    }
    Sluice__Command command = SLUICE__COMMAND__INIT;
    command.kind = SLUICE__COMMAND_KIND__COMMAND_CANCEL;
    command.target = self->id;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_COMMAND;
    env.command = &command;
    self->reply_in = false;
    //  A command lost with a broker that went away is sent again (a cancel
    //  twice is harmless: the second ends nothing more).
    while (!self->reply_in) {
        sl_client_send (self->link, &env);
        int64_t wait = zclock_mono () + 2000 < deadline ? zclock_mono () + 2000 : deadline;
        if (s_pump (self, UNTIL_REPLY, wait)) {
            snprintf (err, errlen, "job %s: %s", self->id, self->error);
            return -1;
        }
        if (!self->reply_in && zclock_mono () >= deadline) {
            snprintf (err, errlen, "job %s: the broker did not answer the cancel within %d s",
                      self->id, CANCEL_WAIT_MS / 1000);
            return -1;
        }
    }
    if (!self->reply_ok) {
        snprintf (err, errlen, "%s", self->reply);
        return -1;
    }
    sl_info ("%s", self->reply);
    return 0;
}

sluice_result_t *sluice_next (sluice_job_t *self, int timeout_ms)
{
    assert (self);
    self->error [0] = '\0';
    if (zlistx_size (self->ready) == 0 && !s_complete (self)) {
        int64_t deadline = timeout_ms < 0 ? -1 : zclock_mono () + timeout_ms;
        s_pump (self, UNTIL_RESULT, deadline);
    }
    sluice_result_t *result = s_take (self);
    s_flush_acks (self);
    return result;
}

int sluice_job_run (sluice_job_t *self, sluice_result_fn *callback, void *arg)
{
    assert (self);
    assert (callback);
    self->error [0] = '\0';
    while (!s_complete (self)) {
        if (zlistx_size (self->ready) == 0 && s_pump (self, UNTIL_RESULT, -1))
            return -1;
        sluice_result_t *result = s_take (self);
        int rc = callback (arg, result);
        sluice_result_destroy (&result);
        s_flush_acks (self);
        if (rc) {
            s_fail (self, "stopped by the callback");
            return -1;
        }
    }
    return 0;
}

bool sluice_job_done (sluice_job_t *self)
{
    assert (self);
    return s_complete (self);
}

const char *sluice_job_id (sluice_job_t *self)
{
    assert (self);
    return self->id;
}

size_t sluice_job_size (sluice_job_t *self)
{
    assert (self);
    return self->n;
}

const char *sluice_job_error (sluice_job_t *self)
{
    assert (self);
    return self->error;
}

void sluice_job_destroy (sluice_job_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sluice_job_t *self = *self_p;
    if (self->link && self->cjob && s_complete (self) && !self->finished) {
        //  Every result handed out: wait for the broker to confirm it has
        //  every acknowledgement (JobDone), so the job ends there too.
        self->error [0] = '\0';
        s_pump (self, UNTIL_COMPLETE, zclock_mono () + FINISH_WAIT_MS);
        if (!self->finished)
            sl_warn ("job %s: the broker did not confirm the end of the job; results it did "
                     "not hear acknowledged wait there for a sink",
                     self->id);
    }
    if (self->link && sl_client_connected (self->link)) {
        Sluice__Bye bye = SLUICE__BYE__INIT;
        sl_env_t env = SLUICE__ENVELOPE__INIT;
        env.body_case = SLUICE__ENVELOPE__BODY_BYE;
        env.bye = &bye;
        sl_client_send (self->link, &env);
    }
    if (self->collect && sl_collect_duplicates (self->collect))
        sl_debug ("job %s: %llu results delivered twice were handed out once", self->id,
                  (unsigned long long) sl_collect_duplicates (self->collect));
    if (self->client)
        self->client->job_live = NULL;
    zframe_destroy (&self->pending);
    sl_client_destroy (&self->link);
    s_tasks_free (self);
    sl_submit_destroy (&self->submit);
    sl_collect_destroy (&self->collect);
    zlistx_destroy (&self->ready);
    free (self);
    *self_p = NULL;
}

int sluice_map (sluice_client_t *client, const sluice_buf_t *tasks, size_t n,
                sluice_result_t **results, char *err, size_t errlen)
{
    assert (client);
    assert (results);
    *results = NULL;
    sluice_job_t *job = sluice_submit (client, tasks, n, err, errlen);
    if (!job)
        return -1;
    sluice_result_t *out = calloc (n, sizeof *out);
    if (!out) {
        snprintf (err, errlen, "out of memory");
        sluice_job_destroy (&job);
        return -1;
    }
    int64_t deadline =
        client->opts.map_timeout_ms > 0 ? zclock_mono () + client->opts.map_timeout_ms : -1;
    int rc = 0;
    while (!s_complete (job)) {
        if (zlistx_size (job->ready) == 0) {
            if (s_pump (job, UNTIL_RESULT, deadline)) {
                snprintf (err, errlen, "job %s: %s", job->id, job->error);
                rc = -1;
                break;
            }
            if (deadline >= 0 && zclock_mono () >= deadline && zlistx_size (job->ready) == 0) {
                snprintf (err, errlen,
                          "job %s: map_timeout_ms passed with %llu of %zu results; the rest "
                          "stay with the broker",
                          job->id, (unsigned long long) job->cjob->nwritten, n);
                rc = -1;
                break;
            }
        }
        //  Moved into its place in the array, then acknowledged.
        sluice_result_t *result;
        while ((result = (sluice_result_t *) zlistx_detach (job->ready, NULL))) {
            uint64_t seq = result->seq;
            sl_collect_written (job->collect, job->cjob, seq, result->status, true);
            out [seq - 1] = *result;
            free (result);
        }
        s_flush_acks (job);
    }
    sluice_job_destroy (&job);
    if (rc) {
        sluice_results_destroy (&out, n);
        return -1;
    }
    *results = out;
    return 0;
}
