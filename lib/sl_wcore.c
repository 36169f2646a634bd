/*  sl_wcore - the worker core, see sl_wcore.h.

    Tasks waiting for a slot are in a ring (sl_deque), those in the
    executor in a list whose node each task remembers, so that a finished
    one is removed in O(1). The executor knows a task by its address (the
    tag), which stays valid until the executor reports it finished.
*/
#include "sl_wcore.h"

#include <string.h>

#include "sl_credit.h"
#include "sl_deque.h"
#include "sl_log.h"
#include "sl_util.h"

#define MAX_RESULT_BATCH 256
#define MAX_RESULT_BYTES                                                                           \
    (4 << 20)         //  well under the broker's message limit (one output may be 32 MiB)
#define MAX_REFS 4096 //  task references in one heartbeat, release or bye

//  What the broker was last told of a task.
typedef enum {
    CLAIM_NONE = 0, //  nothing (new, or since the last welcome)
    CLAIM_WAITING,  //  held, not started
    CLAIM_RUNNING   //  running
} claim_t;

typedef struct _wtask_t wtask_t;
struct _wtask_t {
    char job [72];          //  its job
    uint64_t seq;           //  its seq
    uint32_t attempt;       //  which dispatch this is
    uint32_t stage;         //  multi-stage job: its stage, echoed in the result (0 = none)
    uint32_t timeout_ms;    //  time limit, 0 = none
    uint8_t *payload;       //  its bytes and a NUL, kept until it finished
    size_t size;            //  bytes at payload
    sl_wtask_state_t state; //  see the diagram in sl_wcore.h
    claim_t claim;          //  what the broker was last told
    bool has_files;         //  its job has attachments
    wtask_t *prev, *next;   //  its neighbours in the running list, while in the executor
};

//  A result batch waiting to be taken by ZeroMQ.
typedef struct {
    zframe_t *frame; //  the encoded ResultBatch
    uint64_t batch;  //  its number
} outgoing_t;

//  A control frame waiting to be sent.
typedef struct {
    zframe_t *frame; //  the encoded message
    bool heartbeat;  //  it is a heartbeat
} control_t;

struct _sl_wcore_t {
    sl_wcore_config_t config;   //  copy of the caller's (name points to name below)
    char name [300];            //  the worker's name
    sl_wexec_t *exec;           //  runs the tasks (borrowed)
    sl_wattach_t *attach;       //  attachment cache (borrowed), or NULL
    sl_deque_t *waiting;        //  wtask_t WAITING, in arrival order
    wtask_t *running;           //  first task RUNNING or ABANDONED (a list through next)
    wtask_t *running_tail;      //  last one
    size_t nrunning;            //  how many
    sl_deque_t *finished;       //  sl_wexec_done_t of FINISHED tasks, results not yet packed
    zlistx_t *control;          //  control_t to send, in order
    zlistx_t *outbox;           //  outgoing_t result batches, in order
    bool fair;                  //  credit-based dispatch
    bool connected;             //  welcomed by a live broker
    sl_credit_t credit;         //  (fair) what we asked for
    bool credit_absolute;       //  the next credit is to be absolute
    int64_t credit_want;        //  what sl_wcore_credit offered, for credit_sent
    bool got_tasks;             //  a task batch came since the last regular heartbeat
    uint64_t dealt;             //  (fair) the `dealt` of the last task batch received
    bool claims_pending;        //  tasks claimed as waiting started: claim them at once
    bool draining;              //  no new task
    int64_t drain_until;        //  when draining, when to stop what still runs
    uint64_t batches_made;      //  result batches numbered so far
    uint64_t last_batch;        //  number of the last one ZeroMQ took
    uint64_t done;              //  tasks finished
    int64_t packed_at;          //  when the last result batch was packed (INT64_MIN: never)
    int64_t hold_until;         //  finished results wait until then (0: none wait)
    Sluice__TaskRef *refs;      //  room for MAX_REFS references
    Sluice__TaskRef **ref_ptrs; //  pointers to them, for the messages
};

static void s_task_destroy (wtask_t **task_p)
{
    if (*task_p) {
        free ((*task_p)->payload);
        free (*task_p);
        *task_p = NULL;
    }
}

static void s_outgoing_destroy (outgoing_t **item_p)
{
    if (*item_p) {
        zframe_destroy (&(*item_p)->frame);
        free (*item_p);
        *item_p = NULL;
    }
}

static void s_control_destroy (control_t **item_p)
{
    if (*item_p) {
        zframe_destroy (&(*item_p)->frame);
        free (*item_p);
        *item_p = NULL;
    }
}

//  The running list: tasks in the executor, in the order they started.
static void s_running_add (sl_wcore_t *self, wtask_t *task)
{
    task->next = NULL;
    task->prev = self->running_tail;
    if (self->running_tail)
        self->running_tail->next = task;
    else
        self->running = task;
    self->running_tail = task;
    self->nrunning++;
}

static void s_running_remove (sl_wcore_t *self, wtask_t *task)
{
    if (task->prev)
        task->prev->next = task->next;
    else
        self->running = task->next;
    if (task->next)
        task->next->prev = task->prev;
    else
        self->running_tail = task->prev;
    task->prev = task->next = NULL;
    self->nrunning--;
}

sl_wcore_t *sl_wcore_new (const sl_wcore_config_t *config, sl_wexec_t *exec, sl_wattach_t *attach)
{
    assert (config);
    assert (exec);
    sl_wcore_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    snprintf (self->name, sizeof self->name, "%s", config->name ? config->name : "");
    self->config.name = self->name;
    if (!self->config.slots)
        self->config.slots = 1;
    if (!self->config.result_wait_ms)
        self->config.result_wait_ms = SL_WCORE_RESULT_WAIT_MS;
    self->packed_at = INT64_MIN;
    self->exec = exec;
    self->attach = attach;
    sl_credit_init (&self->credit, self->config.slots, config->prefetch);
    self->waiting = sl_deque_new ();
    self->finished = sl_deque_new ();
    self->control = zlistx_new ();
    self->outbox = zlistx_new ();
    self->refs = calloc (MAX_REFS, sizeof *self->refs);
    self->ref_ptrs = calloc (MAX_REFS, sizeof *self->ref_ptrs);
    if (!self->waiting || !self->finished || !self->control || !self->outbox || !self->refs ||
        !self->ref_ptrs) {
        sl_wcore_destroy (&self);
        return NULL;
    }
    zlistx_set_destructor (self->control, (zlistx_destructor_fn *) s_control_destroy);
    zlistx_set_destructor (self->outbox, (zlistx_destructor_fn *) s_outgoing_destroy);
    for (size_t i = 0; i < MAX_REFS; i++)
        self->ref_ptrs [i] = &self->refs [i];
    return self;
}

void sl_wcore_destroy (sl_wcore_t **self_p)
{
    assert (self_p);
    sl_wcore_t *self = *self_p;
    if (!self)
        return;
    wtask_t *task;
    while (self->waiting && (task = (wtask_t *) sl_deque_pop_front (self->waiting)))
        s_task_destroy (&task);
    while ((task = self->running)) {
        self->running = task->next;
        s_task_destroy (&task);
    }
    sl_wexec_done_t *done;
    while (self->finished && (done = (sl_wexec_done_t *) sl_deque_pop_front (self->finished))) {
        task = (wtask_t *) (uintptr_t) done->tag;
        s_task_destroy (&task);
        self->exec->done_free (self->exec->self, done);
    }
    sl_deque_destroy (&self->waiting);
    sl_deque_destroy (&self->finished);
    zlistx_destroy (&self->control);
    zlistx_destroy (&self->outbox);
    free (self->refs);
    free (self->ref_ptrs);
    free (self);
    *self_p = NULL;
}

//  --- Messages out -------------------------------------------------------------

//  Queues env for the control socket.
static void s_queue_control (sl_wcore_t *self, sl_env_t *env, bool heartbeat)
{
    control_t *item = calloc (1, sizeof *item);
    if (item)
        item->frame = sl_proto_encode (env);
    if (!item || !item->frame) {
        sl_error ("out of memory encoding a %s message", sl_proto_body_name (env));
        s_control_destroy (&item);
        return;
    }
    item->heartbeat = heartbeat;
    zlistx_add_end (self->control, item);
}

zframe_t *sl_wcore_control_next (sl_wcore_t *self, bool *heartbeat)
{
    assert (self);
    control_t *item = (control_t *) zlistx_detach (self->control, NULL);
    if (!item)
        return NULL;
    zframe_t *frame = item->frame;
    item->frame = NULL;
    *heartbeat = item->heartbeat;
    s_control_destroy (&item);
    return frame;
}

bool sl_wcore_credit (sl_wcore_t *self, Sluice__Credit *credit)
{
    assert (self);
    if (!self->fair)
        return false;
    size_t held = sl_deque_size (self->waiting) + self->nrunning;
    uint32_t amount;
    if (!sl_credit_ask (&self->credit, held, self->draining, self->credit_absolute, &amount,
                        &self->credit_want))
        return false;
    Sluice__Credit init = SLUICE__CREDIT__INIT;
    *credit = init;
    credit->credit = amount;
    credit->absolute = self->credit_absolute;
    //  So that the broker counts the tasks on their way as part of it.
    credit->counted = self->credit_absolute;
    credit->received = self->dealt;
    return true;
}

void sl_wcore_credit_sent (sl_wcore_t *self)
{
    assert (self);
    sl_credit_sent (&self->credit, self->credit_want);
    self->credit_absolute = false;
}

zframe_t *sl_wcore_result_peek (sl_wcore_t *self)
{
    assert (self);
    outgoing_t *item = (outgoing_t *) zlistx_first (self->outbox);
    return item ? item->frame : NULL;
}

void sl_wcore_result_sent (sl_wcore_t *self)
{
    assert (self);
    outgoing_t *item = (outgoing_t *) zlistx_first (self->outbox);
    if (item) {
        self->last_batch = item->batch;
        zlistx_delete (self->outbox, NULL);
    }
}

size_t sl_wcore_outbox_size (const sl_wcore_t *self)
{
    assert (self);
    return zlistx_size (self->outbox);
}

uint64_t sl_wcore_last_batch (const sl_wcore_t *self)
{
    assert (self);
    return self->last_batch;
}

//  --- Telling the broker what we hold ---------------------------------------------

static claim_t s_claim_of (const wtask_t *task)
{
    return task->state == SL_WTASK_WAITING ? CLAIM_WAITING : CLAIM_RUNNING;
}

static void s_ref (sl_wcore_t *self, size_t n, const wtask_t *task)
{
    Sluice__TaskRef init = SLUICE__TASK_REF__INIT;
    self->refs [n] = init;
    self->refs [n].job = (char *) task->job;
    self->refs [n].seq = task->seq;
    self->refs [n].attempt = task->attempt;
    self->refs [n].waiting = task->state == SL_WTASK_WAITING;
    self->refs [n].stage = task->stage; //  a restarted broker adopts only this stage's run
}

//  Fills refs with the tasks whose claim is behind their state, from
//  running then (unless started_only) waiting, marking them claimed.
//  Returns how many (at most MAX_REFS: call again while it returns that).
static size_t s_fresh_claims (sl_wcore_t *self, bool started_only)
{
    size_t n = 0;
    for (wtask_t *task = self->running; task && n < MAX_REFS; task = task->next)
        if (task->claim != s_claim_of (task) && (!started_only || task->claim == CLAIM_WAITING)) {
            s_ref (self, n++, task);
            task->claim = s_claim_of (task);
        }
    for (size_t i = 0; i < sl_deque_size (self->waiting) && n < MAX_REFS && !started_only; i++) {
        wtask_t *task = (wtask_t *) sl_deque_at (self->waiting, i);
        if (task->claim != CLAIM_WAITING) {
            s_ref (self, n++, task);
            task->claim = CLAIM_WAITING;
        }
    }
    return n;
}

//  Queues heartbeats claiming every task whose claim is behind; with
//  started_only, only the tasks claimed as waiting that have started.
//  (Those need telling at once: lost with us, they count as a run. A
//  task that arrived since the last heartbeat waits for the next regular
//  one, running or not: claiming it now would make its own start claim
//  at once again, a heartbeat per task for a worker with a prefetch.)
static void s_claim (sl_wcore_t *self, bool started_only)
{
    size_t n;
    do {
        Sluice__Heartbeat hb = SLUICE__HEARTBEAT__INIT;
        hb.running = (uint32_t) self->nrunning;
        hb.held = self->ref_ptrs;
        hb.n_held = n = s_fresh_claims (self, started_only);
        sl_env_t env = SLUICE__ENVELOPE__INIT;
        env.body_case = SLUICE__ENVELOPE__BODY_HEARTBEAT;
        env.heartbeat = &hb;
        //  One sent at a start is not the regular heartbeat: it must not
        //  put that off (with a task starting every few ms it would come
        //  never, and the tasks arriving meanwhile would stay unclaimed).
        s_queue_control (self, &env, !started_only);
    } while (n == MAX_REFS);
    self->claims_pending = false;
}

//  Hands back the first n waiting tasks (one Release) and forgets them.
static void s_release_front (sl_wcore_t *self, size_t n)
{
    for (size_t i = 0; i < n; i++)
        s_ref (self, i, (wtask_t *) sl_deque_at (self->waiting, i));
    Sluice__Release release = SLUICE__RELEASE__INIT;
    release.tasks = self->ref_ptrs;
    release.n_tasks = n;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_RELEASE;
    env.release = &release;
    s_queue_control (self, &env, false);
    for (size_t i = 0; i < n; i++) {
        wtask_t *task = (wtask_t *) sl_deque_pop_front (self->waiting);
        s_task_destroy (&task);
    }
}

static void s_release_waiting (sl_wcore_t *self)
{
    while (sl_deque_size (self->waiting)) {
        size_t n = sl_deque_size (self->waiting);
        s_release_front (self, n < MAX_REFS ? n : MAX_REFS);
    }
}

//  --- Events -----------------------------------------------------------------------

void sl_wcore_welcome (sl_wcore_t *self, bool fair, int64_t now)
{
    assert (self);
    (void) now;
    bool again = self->connected || self->done || self->nrunning || sl_deque_size (self->waiting) ||
                 self->batches_made;
    self->fair = fair;
    self->connected = true;
    self->credit_absolute = true;
    //  The broker may not know what we hold: claim all of it.
    for (wtask_t *task = self->running; task; task = task->next)
        task->claim = CLAIM_NONE;
    for (size_t i = 0; i < sl_deque_size (self->waiting); i++)
        ((wtask_t *) sl_deque_at (self->waiting, i))->claim = CLAIM_NONE;
    if (again)
        s_claim (self, false);
}

void sl_wcore_lost (sl_wcore_t *self)
{
    assert (self);
    self->connected = false;
}

void sl_wcore_tasks (sl_wcore_t *self, const Sluice__TaskBatch *batch, int64_t now)
{
    assert (self);
    (void) now;
    sl_credit_received (&self->credit, batch->n_tasks);
    self->got_tasks = true;
    if (batch->dealt)
        self->dealt = batch->dealt;
    if (!sl_job_id_valid (batch->job)) {
        sl_warn_dropped ("dropped tasks with an invalid job id from the broker");
        return;
    }
    size_t job_len = strlen (batch->job);
    //  Whether the job has files: said by its batches, remembered by the cache.
    size_t nfiles = 0;
    if (self->attach) {
        sl_wattach_note (self->attach, batch);
        sl_wattach_files (self->attach, batch->job, &nfiles);
    }
    for (size_t i = 0; i < batch->n_tasks; i++) {
        const Sluice__Task *in = batch->tasks [i];
        wtask_t *task = calloc (1, sizeof *task);
        if (task)
            task->payload = malloc (in->payload.len + 1);
        if (!task || !task->payload || sl_deque_push_back (self->waiting, task)) {
            s_task_destroy (&task);
            sl_error ("out of memory: task %s/%llu dropped (the broker will redo it)", batch->job,
                      (unsigned long long) in->seq);
            continue;
        }
        memcpy (task->job, batch->job, job_len + 1); //  a valid id: at most 64 bytes
        task->seq = in->seq;
        task->attempt = in->attempt;
        task->stage = in->stage;
        task->timeout_ms = in->timeout_ms;
        if (in->payload.len)
            memcpy (task->payload, in->payload.data, in->payload.len);
        task->payload [in->payload.len] = '\0';
        task->size = in->payload.len;
        task->state = SL_WTASK_WAITING;
        task->has_files = nfiles > 0;
    }
    if (self->draining)
        s_release_waiting (self); //  arrived on the way: hand back
}

//  Sends the requests for attachment pieces that are due.
static void s_attach_requests (sl_wcore_t *self)
{
    Sluice__AttachGet get = SLUICE__ATTACH_GET__INIT;
    while (self->attach && sl_wattach_request (self->attach, &get)) {
        sl_env_t env = SLUICE__ENVELOPE__INIT;
        env.body_case = SLUICE__ENVELOPE__BODY_ATTACH_GET;
        env.attach_get = &get;
        s_queue_control (self, &env, false);
    }
}

//  The broker cancelled a job: its waiting tasks are dropped (they ended
//  `cancelled` at the broker), its running ones are stopped and their
//  results dropped.
static void s_cancel_job (sl_wcore_t *self, const char *job, int64_t now)
{
    size_t dropped = 0, stopped = 0;
    for (size_t i = sl_deque_size (self->waiting); i > 0; i--) {
        wtask_t *task = (wtask_t *) sl_deque_pop_front (self->waiting);
        if (streq (task->job, job)) {
            s_task_destroy (&task);
            dropped++;
        } else
            sl_deque_push_back (self->waiting, task);
    }
    for (wtask_t *task = self->running; task; task = task->next)
        if (task->state == SL_WTASK_RUNNING && streq (task->job, job)) {
            task->state = SL_WTASK_ABANDONED;
            self->exec->stop (self->exec->self, (uint64_t) (uintptr_t) task, now);
            stopped++;
        }
    if (dropped || stopped)
        sl_info ("job %s was cancelled: %zu waiting tasks dropped, %zu running ones stopped", job,
                 dropped, stopped);
}

sl_wcore_ask_t sl_wcore_control (sl_wcore_t *self, const sl_env_t *env, int64_t now)
{
    assert (self);
    switch (env->body_case) {
        case SLUICE__ENVELOPE__BODY_ATTACH_CHUNK:
            if (self->attach) {
                sl_wattach_on_chunk (self->attach, env->attach_chunk, now);
                s_attach_requests (self);
            }
            break;
        case SLUICE__ENVELOPE__BODY_CANCEL_JOB:
            s_cancel_job (self, env->cancel_job->job, now);
            break;
        case SLUICE__ENVELOPE__BODY_DRAIN:
            if (!self->draining) {
                sl_warn ("the broker asks this worker to drain (sluice-ctl drain)");
                return SL_WCORE_DRAIN;
            }
            break;
        default:
            sl_debug ("ignored a %s message on the control socket", sl_proto_body_name (env));
            break;
    }
    return SL_WCORE_HANDLED;
}

//  Takes what the executor finished out of the running list: abandoned
//  ones are dropped, the others wait in self->finished for s_pack. Their
//  slots are free at once (an inline executor finishes within start).
static void s_take_finished (sl_wcore_t *self)
{
    sl_wexec_done_t *done;
    while ((done = self->exec->finished (self->exec->self))) {
        wtask_t *task = (wtask_t *) (uintptr_t) done->tag;
        s_running_remove (self, task);
        if (task->state == SL_WTASK_ABANDONED) {
            s_task_destroy (&task);
            self->exec->done_free (self->exec->self, done);
            continue;
        }
        task->state = SL_WTASK_FINISHED;
        sl_credit_task_done (&self->credit, done->duration_ms);
        if (sl_deque_push_back (self->finished, done)) {
            sl_error ("out of memory: result %s/%llu dropped (the broker will redo it)", task->job,
                      (unsigned long long) task->seq);
            s_task_destroy (&task);
            self->exec->done_free (self->exec->self, done);
        }
    }
}

//  Starts waiting tasks while slots are free and their files are here.
static void s_start (sl_wcore_t *self, int64_t now)
{
    while (sl_deque_size (self->waiting)) {
        if (self->nrunning >= self->config.slots)
            s_take_finished (self); //  an inline executor's are done already
        if (self->nrunning >= self->config.slots)
            break;
        wtask_t *task = (wtask_t *) sl_deque_front (self->waiting);
        if (task->has_files && !sl_wattach_ready (self->attach, task->job, now))
            break; //  its files are on their way
        sl_wexec_task_t start = {
            .tag = (uint64_t) (uintptr_t) task,
            .job = task->job,
            .seq = task->seq,
            .attempt = task->attempt,
            .timeout_ms = task->timeout_ms,
            .payload = task->payload,
            .size = task->size,
        };
        if (task->has_files)
            start.files = sl_wattach_files (self->attach, task->job, &start.nfiles);
        if (self->exec->start (self->exec->self, &start, now)) {
            sl_error ("out of memory starting task %s/%llu", task->job,
                      (unsigned long long) task->seq);
            break;
        }
        s_running_add (self, task);
        sl_deque_pop_front (self->waiting);
        task->state = SL_WTASK_RUNNING;
        //  Claimed as waiting? Tell the broker at once that it runs now
        //  (so that, lost with us, it counts as a run).
        if (task->claim == CLAIM_WAITING)
            self->claims_pending = true;
    }
    if (self->attach)
        s_attach_requests (self);
}

//  Encodes results [0, n) of job into the outbox.
static void s_queue_results (sl_wcore_t *self, const char *job, Sluice__Result **results, size_t n)
{
    Sluice__ResultBatch batch = SLUICE__RESULT_BATCH__INIT;
    batch.job = (char *) job;
    batch.results = results;
    batch.n_results = n;
    batch.batch = self->batches_made + 1;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_RESULTS;
    env.results = &batch;
    outgoing_t *item = calloc (1, sizeof *item);
    if (item)
        item->frame = sl_proto_encode (&env);
    if (!item || !item->frame || !zlistx_add_end (self->outbox, item)) {
        sl_error ("out of memory encoding results (the broker will redo those tasks)");
        s_outgoing_destroy (&item);
        return;
    }
    item->batch = ++self->batches_made;
}

//  Packs the finished tasks' results into batches of one job (at most
//  MAX_RESULT_BATCH, about MAX_RESULT_BYTES) in the outbox.
static void s_pack (sl_wcore_t *self)
{
    Sluice__Result results [MAX_RESULT_BATCH];
    Sluice__Result *ptrs [MAX_RESULT_BATCH];
    sl_wexec_done_t *dones [MAX_RESULT_BATCH];
    while (sl_deque_size (self->finished)) {
        size_t n = 0, bytes = 0;
        const char *job =
            ((wtask_t *) (uintptr_t) ((sl_wexec_done_t *) sl_deque_front (self->finished))->tag)
                ->job;
        sl_wexec_done_t *done;
        while (n < MAX_RESULT_BATCH &&
               (done = (sl_wexec_done_t *) sl_deque_front (self->finished))) {
            wtask_t *task = (wtask_t *) (uintptr_t) done->tag;
            if (n && (!streq (task->job, job) ||
                      bytes + done->output_size + done->err_size > MAX_RESULT_BYTES))
                break;
            sl_deque_pop_front (self->finished);
            bytes += done->output_size + done->err_size;
            Sluice__Result init = SLUICE__RESULT__INIT;
            Sluice__Result *r = &results [n];
            *r = init;
            r->seq = task->seq;
            r->attempt = task->attempt;
            r->stage = task->stage; //  a result of another stage is dropped
            r->status = (Sluice__Status) done->status;
            r->exit_code = done->exit_code;
            r->output.data = done->output;
            r->output.len = done->output_size;
            r->output_truncated = done->output_truncated;
            r->stderr_tail.data = done->err;
            r->stderr_tail.len = done->err_size;
            r->worker = self->name;
            r->duration_ms = done->duration_ms;
            ptrs [n] = r;
            dones [n++] = done;
        }
        s_queue_results (self, job, ptrs, n);
        self->done += n;
        for (size_t i = 0; i < n; i++) {
            wtask_t *task = (wtask_t *) (uintptr_t) dones [i]->tag;
            s_task_destroy (&task);
            self->exec->done_free (self->exec->self, dones [i]);
        }
    }
}

//  What the executor finished, in result batches: at once when nothing
//  else is on its way (no batch for result_wait_ms, nothing running,
//  draining, a full batch), else when the wait is over.
static void s_collect (sl_wcore_t *self, int64_t now)
{
    s_take_finished (self);
    size_t held = sl_deque_size (self->finished);
    if (!held)
        return;
    int64_t wait = self->config.result_wait_ms;
    int64_t until = wait > 0 && self->packed_at > INT64_MIN ? self->packed_at + wait : now;
    if (now >= until || !self->nrunning || self->draining || held >= MAX_RESULT_BATCH) {
        s_pack (self);
        self->packed_at = now;
        self->hold_until = 0;
    } else
        self->hold_until = until;
}

void sl_wcore_step (sl_wcore_t *self, int64_t now)
{
    assert (self);
    if (self->attach)
        sl_wattach_tick (self->attach, now);
    s_take_finished (self);
    if (!self->draining)
        s_start (self, now);
    else if (self->attach)
        s_attach_requests (self);
    s_collect (self, now);
    if (self->claims_pending && self->connected)
        s_claim (self, true);
}

void sl_wcore_heartbeat (sl_wcore_t *self, int64_t now)
{
    assert (self);
    (void) now;
    s_claim (self, false);
    if (self->fair && !self->draining && !self->got_tasks && self->credit.granted > 0)
        self->credit_absolute = true;
    self->got_tasks = false;
}

void sl_wcore_drain (sl_wcore_t *self, int64_t now)
{
    assert (self);
    if (self->draining)
        return;
    self->draining = true;
    self->drain_until = now + (int64_t) self->config.drain_timeout_ms;
    self->credit_absolute = true; //  0: nothing more
    size_t handed = sl_deque_size (self->waiting);
    s_release_waiting (self);
    sl_info ("draining: %zu tasks handed back, waiting up to %.1f s for %zu running", handed,
             self->config.drain_timeout_ms / 1000.0, self->nrunning);
}

void sl_wcore_bye (sl_wcore_t *self, int64_t now)
{
    assert (self);
    //  No collect here: the results packed now could only go after the
    //  Bye. What finished since the last step, or waits for a batch,
    //  counts as unfinished. What does not fit in the Bye is handed back
    //  first.
    size_t held = sl_deque_size (self->finished);
    while (sl_deque_size (self->waiting) + self->nrunning + held > MAX_REFS &&
           sl_deque_size (self->waiting)) {
        size_t n = sl_deque_size (self->waiting);
        s_release_front (self, n < MAX_REFS ? n : MAX_REFS);
    }
    size_t n = 0;
    for (wtask_t *task = self->running; task; task = task->next) {
        if (task->state == SL_WTASK_RUNNING) {
            self->exec->stop (self->exec->self, (uint64_t) (uintptr_t) task, now);
            task->state = SL_WTASK_ABANDONED;
        }
        if (n < MAX_REFS)
            s_ref (self, n++, task);
    }
    for (size_t i = 0; i < sl_deque_size (self->waiting) && n < MAX_REFS; i++)
        s_ref (self, n++, (wtask_t *) sl_deque_at (self->waiting, i));
    for (size_t i = 0; i < held && n < MAX_REFS; i++)
        s_ref (self, n++, (wtask_t *) ((sl_wexec_done_t *) sl_deque_at (self->finished, i))->tag);
    Sluice__Bye bye = SLUICE__BYE__INIT;
    bye.unfinished = self->ref_ptrs;
    bye.n_unfinished = n;
    bye.last_batch = self->last_batch;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_BYE;
    env.bye = &bye;
    s_queue_control (self, &env, false);
    wtask_t *task;
    while ((task = (wtask_t *) sl_deque_pop_front (self->waiting)))
        s_task_destroy (&task);
    sl_wexec_done_t *done;
    while ((done = (sl_wexec_done_t *) sl_deque_pop_front (self->finished))) {
        task = (wtask_t *) (uintptr_t) done->tag;
        s_task_destroy (&task);
        self->exec->done_free (self->exec->self, done);
    }
    self->hold_until = 0;
    self->draining = true;
}

//  --- State ----------------------------------------------------------------------

bool sl_wcore_draining (const sl_wcore_t *self)
{
    assert (self);
    return self->draining;
}

int64_t sl_wcore_drain_until (const sl_wcore_t *self)
{
    assert (self);
    return self->drain_until;
}

bool sl_wcore_drained (const sl_wcore_t *self)
{
    assert (self);
    return self->draining && self->nrunning == 0;
}

size_t sl_wcore_waiting (const sl_wcore_t *self)
{
    assert (self);
    return sl_deque_size (self->waiting);
}

size_t sl_wcore_running (const sl_wcore_t *self)
{
    assert (self);
    return self->nrunning;
}

uint64_t sl_wcore_done (const sl_wcore_t *self)
{
    assert (self);
    return self->done;
}

sl_wtask_state_t sl_wcore_task_state (const sl_wcore_t *self, const char *job, uint64_t seq)
{
    assert (self);
    for (size_t i = 0; i < sl_deque_size (self->waiting); i++) {
        wtask_t *task = (wtask_t *) sl_deque_at (self->waiting, i);
        if (task->seq == seq && streq (task->job, job))
            return task->state;
    }
    for (wtask_t *task = self->running; task; task = task->next)
        if (task->seq == seq && streq (task->job, job))
            return task->state;
    return 0;
}

int64_t sl_wcore_next_wake (sl_wcore_t *self)
{
    assert (self);
    int64_t wake = self->attach ? sl_wattach_next_wake (self->attach) : INT64_MAX;
    if (self->hold_until && self->hold_until < wake)
        wake = self->hold_until;
    return wake;
}
