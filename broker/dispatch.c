/*  dispatch - tasks out to workers: credit-based batches on the dispatch socket.
    Part of the broker (see broker.c); shared state in internal.h.
*/
#include "internal.h"

typedef struct {
    broker_t *self;
    int64_t now;
} dispatch_turn_t;

//  Fair dispatch: credits from workers' DEALERs (routing id = worker name).
void broker_on_dispatch (broker_t *self)
{
    for (int i = 0; i < READ_BURST; i++) {
        sl_env_t *env = NULL;
        zframe_t *routing_id = NULL;
        char why [256];
        sl_recv_t rc = sl_proto_recv (self->dispatch, &env, &routing_id, why, sizeof why);
        if (rc == SL_RECV_NONE)
            break;
        char name [128];
        size_t len = routing_id ? zframe_size (routing_id) : 0;
        if (len >= sizeof name)
            len = sizeof name - 1;
        if (len)
            memcpy (name, zframe_data (routing_id), len);
        name [len] = '\0';
        sl_peer_t *peer = broker_peer_by_name (self, name);
        if (rc != SL_RECV_OK)
            broker_bad (self, "dispatch", peer ? peer->name : NULL, why);
        else if (env->body_case != SLUICE__ENVELOPE__BODY_CREDIT)
            broker_bad (self, "dispatch", peer ? peer->name : NULL,
                        "message of a type not expected here");
        else if (!peer || peer->role != SLUICE__ROLE__ROLE_WORKER)
            //  Not (or no longer) a worker here: it says hello again soon.
            sl_debug ("credit from unknown worker %s ignored", name);
        else {
            if (!peer->dispatch_id || !zframe_eq (peer->dispatch_id, routing_id)) {
                zframe_destroy (&peer->dispatch_id);
                peer->dispatch_id = zframe_dup (routing_id);
            }
            sl_fair_set_routable (self->fair, &peer->fair, true);
            const Sluice__Credit *credit = env->credit;
            if (credit->absolute && credit->counted)
                //  Within one of its heartbeats a batch is surely on its way.
                sl_fair_credit_since (self->fair, &peer->fair, credit->credit, credit->received,
                                      zclock_mono (), peer->heartbeat_ms);
            else
                sl_fair_credit (self->fair, &peer->fair, credit->credit, credit->absolute);
        }
        sl_proto_free (&env);
        zframe_destroy (&routing_id);
    }
}

bool broker_writable (zsock_t *sock)
{
    return (zsock_events (sock) & ZMQ_POLLOUT) != 0;
}

//  Tasks per batch to a worker: large when much is queued, down to one
//  task at the end of a job so the tail spreads over every worker.
static size_t s_batch_size (broker_t *self)
{
    uint64_t slots = self->worker_slots ? self->worker_slots : 1;
    uint64_t batch = sl_table_queued (self->table) / (2 * slots);
    return batch < 1 ? 1 : batch > MAX_BATCH_TASKS ? MAX_BATCH_TASKS : (size_t) batch;
}

//  How long a task PUSH dealt may go unclaimed: 5 heartbeats of the
//  slowest-beating worker that ever joined (any of them may have got it,
//  and each claims at its own interval).
static int64_t s_unclaimed_lease (broker_t *self)
{
    int64_t beat = self->config.heartbeat_ms;
    if (self->max_worker_heartbeat_ms > beat)
        beat = self->max_worker_heartbeat_ms;
    return self->unclaimed_lease_ms > 5 * beat ? self->unclaimed_lease_ms : 5 * beat;
}

//  Takes up to limit queued tasks of one job from queue and sends them as
//  one batch: to the worker `peer` on the ROUTER (fair), or to whichever
//  worker PUSH deals it to (peer NULL). With `choosy`, a task that failed
//  or was lost on this worker is left for another. Returns how many were
//  sent; 0 if none could be taken; -1 if the send failed (then the tasks
//  are queued again).
//  How long a task dealt to a worker (fair) may go unclaimed: 5 of its
//  heartbeats. It claims what it took in its next heartbeat; a task that
//  never arrived (libzmq drops what it queued for a connection that broke
//  while the worker lives on) comes back instead of being held forever.
static int64_t s_fair_lease (broker_t *self, sl_peer_t *peer)
{
    int64_t lease = 5 * (int64_t) peer->heartbeat_ms;
    return lease > self->unclaimed_lease_ms ? lease : self->unclaimed_lease_ms;
}

static int64_t s_send_batch (broker_t *self, sl_peer_t *peer, sl_queue_t *queue, size_t limit,
                             bool choosy, int64_t now)
{
    Sluice__Task tasks [MAX_BATCH_TASKS];
    Sluice__Task *task_ptrs [MAX_BATCH_TASKS];
    sl_task_t *taken [MAX_BATCH_TASKS];
    //  A worker that gets the task holds it from now: it is lost with that
    //  worker. Under PUSH nobody knows who got it until a worker claims it.
    const char *holder = peer ? peer->holder : NULL;
    int64_t lease = peer ? s_fair_lease (self, peer) : s_unclaimed_lease (self);
    sl_task_t *skipped [MAX_BATCH_TASKS]; //  tasks left for another worker
    size_t n = 0, nskipped = 0, bytes = 0;
    if (limit > MAX_BATCH_TASKS)
        limit = MAX_BATCH_TASKS;
    while (n < limit && bytes < MAX_BATCH_BYTES) {
        sl_task_t *task = sl_table_dispatch_from (self->table, queue, now, lease, holder);
        if (!task)
            break;
        if (choosy && sl_task_avoid (task) == holder) {
            //  It failed or was lost on this worker: another one runs it.
            skipped [nskipped++] = task;
            if (nskipped == MAX_BATCH_TASKS)
                break;
            continue;
        }
        if (n && sl_task_job (task) != sl_task_job (taken [0])) {
            sl_table_undispatch (self->table, task); //  first of the next batch
            break;
        }
        Sluice__Task init = SLUICE__TASK__INIT;
        tasks [n] = init;
        tasks [n].seq = sl_task_seq (task);
        tasks [n].payload.data = (uint8_t *) sl_task_payload (task);
        tasks [n].payload.len = task->payload_size;
        tasks [n].timeout_ms = task->timeout_ms;
        tasks [n].attempt = task->attempts;
        task_ptrs [n] = &tasks [n];
        taken [n++] = task;
        bytes += task->payload_size;
    }
    //  Back at the front, in their order.
    for (size_t i = nskipped; i > 0; i--)
        sl_table_undispatch (self->table, skipped [i - 1]);
    if (n == 0)
        return 0;
    sl_job_t *job = sl_task_job (taken [0]);
    if (sl_job_stages (job) > 1)
        //  Multi-stage: the worker echoes the stage in its result.
        for (size_t i = 0; i < n; i++)
            tasks [i].stage = taken [i]->stage + 1u;
    Sluice__TaskBatch batch = SLUICE__TASK_BATCH__INIT;
    batch.job = (char *) sl_job_id (job);
    Sluice__Attachment attach [SL_MAX_ATTACHMENTS];
    Sluice__Attachment *attach_ptrs [SL_MAX_ATTACHMENTS];
    size_t nattach;
    const sl_attach_t *list = sl_job_attachments (job, &nattach);
    sl_attach_to_proto (list, nattach, attach, attach_ptrs);
    batch.attachments = attach_ptrs;
    batch.n_attachments = nattach;
    batch.tasks = task_ptrs;
    batch.n_tasks = n;
    if (peer)
        batch.dealt = peer->fair.dealt + n;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_TASKS;
    env.tasks = &batch;
    if (sl_proto_send (self->dispatch, peer ? peer->dispatch_id : NULL, &env, ZMQ_DONTWAIT)) {
        //  Fair: the worker's connection is gone. Push: no worker can take
        //  it (the loop waits for POLLOUT first, so hardly ever).
        for (size_t i = n; i > 0; i--)
            sl_table_undispatch (self->table, taken [i - 1]);
        self->count.dispatch_failed++;
        return -1;
    }
    if (peer)
        sl_fair_sent (&peer->fair, n, now);
    self->count.tasks_dispatched += n;
    return (int64_t) n;
}

//  sl_fair_send_fn: a batch to one worker.
static int64_t s_send_fair (void *arg, void *owner, sl_queue_t *queue, size_t limit, bool alone)
{
    dispatch_turn_t *turn = (dispatch_turn_t *) arg;
    return s_send_batch (turn->self, (sl_peer_t *) owner, queue, limit, !alone, turn->now);
}

void broker_dispatch (broker_t *self)
{
    //  While the journal cannot be written, results cannot be taken: no
    //  point running more tasks (their results would wait in the workers).
    if (self->journal_failed)
        return;
    int64_t now = zclock_mono ();
    if (self->grace_until) {
        if (now < self->grace_until)
            return;
        self->grace_until = 0;
        if (self->count.tasks_adopted)
            sl_info ("workers claimed %llu runs from before the restart: they go on where they "
                     "run",
                     (unsigned long long) self->count.tasks_adopted);
    }
    if (self->config.fair) {
        //  Credit-based: tasks go only to workers that asked for them (fair.h).
        dispatch_turn_t turn = { self, now };
        sl_fair_dispatch (self->fair, self->table, s_send_fair, &turn);
        return;
    }
    sl_queue_t *dflt = sl_table_queue (self->table, NULL, false);
    while (dflt && sl_queue_queued (dflt) && broker_writable (self->dispatch))
        if (s_send_batch (self, NULL, dflt, s_batch_size (self), false, now) <= 0)
            break;
}
