/*  deliver - results out to the collectors (sinks and libsluice clients):
    who is attached, their acknowledgements, JobStart and JobDone.

    Which collector gets which job, and how many results each may have in
    flight, is the pure registry's (collectors.h); this shell keeps each
    collector's delivery state (collector_io_t in internal.h): its routing
    id on the delivery ROUTER, its JobStarts to send, its JobDone waiting
    for their records. One catch-all sink at a time (it collects every job
    no other collector named); any number of collectors of named jobs.
    Part of the broker (see broker.c); shared state in internal.h.
*/
#include "internal.h"

#define MAX_NAMED (SL_COLLECTORS_MAX_JOBS) //  jobs one hello may name
#define BATCHES_PER_TURN 8                 //  batches one job gets a turn, at most

//  --- Collectors' delivery state ----------------------------------------------

static void s_io_free (void **item_p)
{
    collector_io_t *io = (collector_io_t *) *item_p;
    if (io) {
        zframe_destroy (&io->rid);
        zlistx_destroy (&io->job_starts);
        sl_outbox_destroy (&io->notices);
        free (io);
    }
    *item_p = NULL;
}

int broker_collecting_new (broker_t *self)
{
    self->collectors = sl_collectors_new (self->config.sink_window);
    self->collecting = zhashx_new ();
    if (!self->collectors || !self->collecting)
        return -1;
    zhashx_set_destructor (self->collecting, s_io_free);
    return 0;
}

void broker_collecting_destroy (broker_t *self)
{
    zhashx_destroy (&self->collecting);
    sl_collectors_destroy (&self->collectors);
}

static collector_io_t *s_io (broker_t *self, const char *name)
{
    return name ? (collector_io_t *) zhashx_lookup (self->collecting, name) : NULL;
}

static collector_io_t *s_io_new (broker_t *self, sl_peer_t *peer)
{
    collector_io_t *io = calloc (1, sizeof *io);
    if (!io)
        return NULL;
    io->peer = peer;
    io->rid = zframe_new (peer->name, strlen (peer->name));
    io->job_starts = zlistx_new ();
    io->notices = sl_outbox_new ();
    io->last_ack = zclock_mono ();
    if (!io->rid || !io->job_starts || !io->notices) {
        void *item = io;
        s_io_free (&item);
        return NULL;
    }
    zlistx_set_destructor (io->job_starts, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_duplicator (io->job_starts, (zlistx_duplicator_fn *) strdup);
    zhashx_update (self->collecting, peer->name, io);
    return io;
}

//  The results a collector had in flight come back to the table, first in
//  line for whoever collects their jobs next. Returns how many.
static size_t s_unsend (broker_t *self, const char *name)
{
    const char *held [SL_COLLECTORS_MAX_JOBS * 4];
    size_t nheld = sl_collectors_jobs (self->collectors, name, held, sizeof held / sizeof *held);
    size_t resent = 0;
    for (size_t i = 0; i < nheld; i++) {
        sl_job_t *job = sl_table_job (self->table, held [i]);
        if (job)
            resent += sl_table_unsend_job (self->table, job);
    }
    return resent;
}

//  Forgets a collector's delivery: its jobs and unacknowledged results go
//  back, its pending announcements with it (the next one asks again).
static void s_release (broker_t *self, const char *name)
{
    s_unsend (self, name);
    sl_collectors_detach (self->collectors, name);
    zhashx_delete (self->collecting, name);
    self->check_finished = true;
}

void broker_collector_detach (broker_t *self, sl_peer_t *peer, const char *why)
{
    size_t resent = s_unsend (self, peer->name);
    broker_event (self, SL_LOG_INFO,
                  "sink %s detached (%s); %zu unacknowledged results will be delivered again",
                  peer->name, why, resent);
    s_release (self, peer->name);
    broker_peer_remove (self, peer);
}

//  The catch-all attached, if any.
static const char *s_catch_all (broker_t *self)
{
    for (const sl_collector_t *c = sl_collectors_first (self->collectors); c;
         c = sl_collectors_next (self->collectors))
        if (c->catch_all)
            return c->name;
    return NULL;
}

//  Who collects job now (NULL: nobody may yet). A job given to a collector
//  that did not hold it is announced to it first.
static collector_io_t *s_owner (broker_t *self, const char *job_id)
{
    bool held = sl_collectors_holder (self->collectors, job_id) != NULL;
    collector_io_t *io = s_io (self, sl_collectors_owner (self->collectors, job_id));
    if (io && !held)
        zlistx_add_end (io->job_starts, (void *) job_id);
    return io;
}

//  A job appeared: its collector must know it has one more to wait for.
void broker_job_started (broker_t *self, const char *job_id)
{
    bool held = sl_collectors_holder (self->collectors, job_id) != NULL;
    collector_io_t *io = s_owner (self, job_id);
    if (io && held)
        zlistx_add_end (io->job_starts, (void *) job_id);
}

//  --- Hello ------------------------------------------------------------------

//  Refuses a collector: another one is in its way (the catch-all, or the
//  holder of a job it names). It may try again while that one may be dead.
static void s_refuse_held (broker_t *self, sl_peer_t *peer, const char *holder, const char *job)
{
    char reason [500];
    if (job)
        snprintf (reason, sizeof reason,
                  "another sink (%s) is attached and collects job %s; sluice delivers each job "
                  "to one collector at a time so that no job is split between two",
                  holder, job);
    else
        snprintf (reason, sizeof reason,
                  "another sink (%s) is attached and collects every job no other collector "
                  "named; sluice delivers each job to one collector at a time so that no job "
                  "is split between two (a sink with --job collects beside it)",
                  holder);
    broker_event (self, SL_LOG_WARN, "refused sink %s: sink %s is in the way", peer->name, holder);
    sl_peer_t *in_way = broker_peer_by_name (self, holder);
    uint32_t beat = in_way ? in_way->heartbeat_ms : self->config.heartbeat_ms;
    Sluice__Refuse refuse = SLUICE__REFUSE__INIT;
    refuse.reason = reason;
    refuse.retry_ms = (SL_PEERS_LIVENESS + 1) * beat;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_REFUSE;
    env.refuse = &refuse;
    broker_reply (self, peer->routing_id, &env);
    if (s_io (self, peer->name))
        s_release (self, peer->name); //  it was attached: a hello again, refused now
    broker_peer_remove (self, peer);
}

//  The jobs a hello names: its job, then its more jobs. Returns how many.
static size_t s_named (Sluice__Hello *hello, const char **named)
{
    size_t n = 0;
    if (hello->job && hello->job [0])
        named [n++] = hello->job;
    for (size_t i = 0; i < hello->n_jobs && n < MAX_NAMED; i++)
        if (sl_job_id_valid (hello->jobs [i]))
            named [n++] = hello->jobs [i];
    return n;
}

//  Registers the collector. Returns 0, or -1 once refused.
static int s_attach (broker_t *self, sl_peer_t *peer, const char **named, size_t nnamed)
{
    const char *catch_all = s_catch_all (self);
    if (nnamed == 0 && catch_all && !streq (catch_all, peer->name)) {
        s_refuse_held (self, peer, catch_all, NULL);
        return -1;
    }
    for (size_t i = 0; i < nnamed; i++) {
        const char *holder = sl_collectors_holder (self->collectors, named [i]);
        if (holder && !streq (holder, peer->name)) {
            char holder_name [128], job [72];
            snprintf (holder_name, sizeof holder_name, "%s", holder);
            snprintf (job, sizeof job, "%s", named [i]);
            s_refuse_held (self, peer, holder_name, job);
            return -1;
        }
    }
    if (s_io (self, peer->name))
        s_release (self, peer->name); //  a hello again: it starts over
    const char *holder = NULL;
    if (sl_collectors_attach (self->collectors, peer->name, named, nnamed, &holder) ||
        !s_io_new (self, peer)) {
        sl_collectors_detach (self->collectors, peer->name);
        sl_error ("out of memory attaching sink %s", peer->name);
        broker_peer_remove (self, peer);
        return -1;
    }
    return 0;
}

//  The jobs the new collector should wait for (those not yet announced as
//  done): a catch-all takes every job nobody holds. Caller frees the array.
static char **s_welcome_jobs (broker_t *self, sl_peer_t *peer, bool catch_all, size_t *njobs)
{
    *njobs = 0;
    char **jobs = calloc (sl_table_job_count (self->table) + 1, sizeof (char *));
    if (!jobs)
        return NULL;
    for (sl_job_t *job = sl_table_job_first (self->table); job;
         job = sl_table_job_next (self->table)) {
        const char *owner = catch_all ? sl_collectors_owner (self->collectors, sl_job_id (job))
                                      : sl_collectors_holder (self->collectors, sl_job_id (job));
        if (owner && streq (owner, peer->name))
            jobs [(*njobs)++] = (char *) sl_job_id (job);
    }
    return jobs;
}

static void s_waiting (sl_peer_t *peer, Sluice__Hello *hello)
{
    zlistx_destroy (&peer->waiting);
    peer->waiting = zlistx_new ();
    if (!peer->waiting)
        return;
    zlistx_set_destructor (peer->waiting, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_duplicator (peer->waiting, (zlistx_duplicator_fn *) strdup);
    for (size_t i = 0; i < hello->n_waiting; i++)
        zlistx_add_end (peer->waiting, hello->waiting [i]);
    const char *named [MAX_NAMED];
    size_t nnamed = s_named (hello, named);
    for (size_t i = 0; i < nnamed; i++)
        zlistx_add_end (peer->waiting, (void *) named [i]);
}

void broker_hello_sink (broker_t *self, sl_peer_t *peer, Sluice__Hello *hello)
{
    const char *named [MAX_NAMED];
    size_t nnamed = s_named (hello, named);
    bool again = s_io (self, peer->name) != NULL;
    if (s_attach (self, peer, named, nnamed))
        return;
    char why [600];
    if (hello->from_start && broker_from_start (self, peer->job, why, sizeof why)) {
        broker_event (self, SL_LOG_WARN, "refused sink %s: %s", peer->name, why);
        sl_proto_send_refuse (self->control, peer->routing_id, why);
        s_release (self, peer->name);
        broker_peer_remove (self, peer);
        return;
    }
    if (!again)
        broker_event (self, SL_LOG_INFO, "sink %s attached%s%s%s%s", peer->name,
                      peer->job [0] ? " for job " : "", peer->job, peer->follow ? " (follow)" : "",
                      hello->from_start ? " (from the start)" : "");
    //  Jobs it waits for that may have finished meanwhile: told below.
    s_waiting (peer, hello);
    self->check_finished = true;
    size_t njobs = 0;
    char **jobs = s_welcome_jobs (self, peer, nnamed == 0, &njobs);
    broker_welcome (self, peer, jobs, njobs);
    free (jobs);
}

//  --- Acknowledgements ---------------------------------------------------------

void broker_on_ack (broker_t *self, sl_peer_t *peer, Sluice__Ack *ack)
{
    collector_io_t *io = peer ? s_io (self, peer->name) : NULL;
    if (!io) {
        broker_bad (self, "control", peer ? peer->name : NULL,
                    "acknowledgement from a detached sink");
        return;
    }
    const char *holder = sl_collectors_holder (self->collectors, ack->job);
    if (holder && !streq (holder, peer->name)) {
        broker_bad (self, "control", peer->name, "acknowledgement for another collector's job");
        return;
    }
    io->last_ack = zclock_mono ();
    size_t applied = 0;
    for (size_t i = 0; i < ack->n_seqs; i++) {
        sl_table_rc_t rc = sl_table_ack (self->table, ack->job, ack->seqs [i]);
        if (rc == SL_TABLE_OK)
            ack->seqs [applied++] = ack->seqs [i];
        else if (rc == SL_TABLE_INVALID && !broker_finished_lookup (self, ack->job))
            broker_bad (self, "control", peer->name, "acknowledgement for an unknown task");
    }
    sl_collectors_acked (self->collectors, peer->name, applied);
    if (self->journal && applied) {
        char err [512];
        broker_journal_appended (
            self,
            sl_durable_delivered (self->journal, ack->job, ack->seqs, applied, err, sizeof err),
            err);
    }
    self->check_finished = true;
}

//  Results sent to a collector and not acknowledged for a while were lost
//  on the way: they are sent again (it writes each seq once).
void broker_collectors_tick (broker_t *self, int64_t now)
{
    int64_t ack_timeout = (int64_t) ACK_TIMEOUT_BEATS * self->config.heartbeat_ms;
    for (collector_io_t *io = (collector_io_t *) zhashx_first (self->collecting); io;
         io = (collector_io_t *) zhashx_next (self->collecting)) {
        const char *name = io->peer->name;
        if (sl_collectors_credit (self->collectors, name) == self->config.sink_window ||
            now - io->last_ack <= ack_timeout)
            continue;
        uint64_t in_flight =
            self->config.sink_window - sl_collectors_credit (self->collectors, name);
        size_t again = s_unsend (self, name);
        sl_collectors_acked (self->collectors, name, in_flight);
        io->last_ack = now;
        if (again)
            sl_warn ("%zu results sent to sink %s were not acknowledged within %lld ms: sending "
                     "them again",
                     again, name, (long long) ack_timeout);
    }
}

//  --- Sending -----------------------------------------------------------------

//  Collectors send nothing on the delivery port: whatever comes (a
//  confused or hostile peer) is read, counted and dropped, a few messages
//  a turn so that it never starves the rest.
void broker_on_delivery_input (broker_t *self)
{
    void *handle = zsock_resolve (self->delivery);
    for (int i = 0; i < 64; i++) {
        zmq_msg_t part;
        zmq_msg_init (&part);
        if (zmq_msg_recv (&part, handle, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&part);
            return;
        }
        bool more = zmq_msg_more (&part);
        zmq_msg_close (&part);
        while (more) {
            zmq_msg_init (&part);
            more = zmq_msg_recv (&part, handle, ZMQ_DONTWAIT) >= 0 && zmq_msg_more (&part);
            zmq_msg_close (&part);
        }
        broker_bad (self, "delivery", NULL, "a message sent to the delivery port");
    }
}

//  True if the collector's DEALER was not connected at the last try and it
//  is too early to try again.
static bool s_waits (collector_io_t *io, int64_t now)
{
    return io->retry && now < io->retry;
}

//  The earliest time a collector's DEALER is tried again, or INT64_MAX.
int64_t broker_delivery_wake (broker_t *self)
{
    int64_t wake = INT64_MAX;
    for (collector_io_t *io = (collector_io_t *) zhashx_first (self->collecting); io;
         io = (collector_io_t *) zhashx_next (self->collecting))
        if (io->retry && io->retry < wake)
            wake = io->retry;
    return wake;
}

//  Sends env to the collector. Returns 0, or -1 if it cannot go now: its
//  DEALER is not connected (yet: it connects before its hello, but a
//  handshake may take longer): then it waits DELIVERY_RETRY_MS.
static int s_send (broker_t *self, collector_io_t *io, sl_env_t *env)
{
    if (sl_proto_send (self->delivery, io->rid, env, ZMQ_DONTWAIT) == 0) {
        io->retry = 0;
        return 0;
    }
    if (errno == EHOSTUNREACH)
        io->retry = zclock_mono () + DELIVERY_RETRY_MS;
    return -1;
}

//  JobStarts first: a job's start must precede its results and its end.
//  Returns true when all went.
static bool s_send_starts (broker_t *self, collector_io_t *io)
{
    const char *job_id;
    while ((job_id = (const char *) zlistx_first (io->job_starts))) {
        Sluice__JobStart start = SLUICE__JOB_START__INIT;
        start.job = (char *) job_id;
        sl_env_t env = SLUICE__ENVELOPE__INIT;
        env.body_case = SLUICE__ENVELOPE__BODY_JOB_START;
        env.job_start = &start;
        if (s_send (self, io, &env))
            return false;
        zlistx_delete (io->job_starts, NULL);
    }
    return true;
}

//  A collector's notices (JobDone) whose records are durable go out, after
//  its JobStarts.
void broker_io_flush (broker_t *self, collector_io_t *io, int64_t now)
{
    if (s_waits (io, now) || zlistx_size (io->job_starts))
        return;
    if (broker_outbox_flush (self, io->notices, self->delivery))
        io->retry = now + DELIVERY_RETRY_MS;
}

void broker_notices_flush (broker_t *self)
{
    int64_t now = zclock_mono ();
    for (collector_io_t *io = (collector_io_t *) zhashx_first (self->collecting); io;
         io = (collector_io_t *) zhashx_next (self->collecting))
        broker_io_flush (self, io, now);
}

//  One batch of job's results to io, at most its credit. Returns how many
//  went (0: nothing, or the send failed and they were taken back).
static size_t s_send_batch (broker_t *self, collector_io_t *io, sl_job_t *job, uint64_t credit)
{
    Sluice__Result results [MAX_BATCH_RESULTS];
    static char ids [MAX_BATCH_RESULTS][256]; //  the tasks' ids, as strings
    Sluice__Result *result_ptrs [MAX_BATCH_RESULTS];
    size_t n = 0, bytes = 0;
    sl_task_t *task;
    while (n < MAX_BATCH_RESULTS && n < credit && bytes < MAX_BATCH_BYTES &&
           sl_table_sendable (self->table, job) && (task = sl_table_send_next (self->table, job))) {
        sl_result_t *r = sl_task_result (task);
        sl_durable_result_out (task, &results [n], ids [n]);
        result_ptrs [n] = &results [n];
        n++;
        bytes += r->output_size + r->stderr_size;
    }
    if (!n)
        return 0;
    Sluice__ResultBatch batch = SLUICE__RESULT_BATCH__INIT;
    batch.job = (char *) sl_job_id (job);
    batch.results = result_ptrs;
    batch.n_results = n;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_RESULTS;
    env.results = &batch;
    if (s_send (self, io, &env)) {
        for (size_t i = 0; i < n; i++)
            sl_table_unsend_last (self->table, job);
        return 0;
    }
    sl_collectors_sent (self->collectors, io->peer->name, n);
    return n;
}

//  Job's results to its collector, a few batches a turn. Returns true if
//  any went.
static bool s_deliver_job (broker_t *self, sl_job_t *job, int64_t now)
{
    if (!sl_table_sendable (self->table, job))
        return false;
    collector_io_t *io = s_owner (self, sl_job_id (job));
    if (!io || s_waits (io, now) || !s_send_starts (self, io))
        return false;
    bool sent = false;
    for (int i = 0; i < BATCHES_PER_TURN; i++) {
        uint64_t credit = sl_collectors_credit (self->collectors, io->peer->name);
        if (!credit || !s_send_batch (self, io, job, credit))
            break;
        sent = true;
    }
    return sent;
}

void broker_deliver (broker_t *self)
{
    if (!zhashx_size (self->collecting))
        return;
    int64_t now = zclock_mono ();
    for (collector_io_t *io = (collector_io_t *) zhashx_first (self->collecting); io;
         io = (collector_io_t *) zhashx_next (self->collecting))
        if (!s_waits (io, now))
            s_send_starts (self, io);
    if (!sl_table_sendable (self->table, NULL))
        return;
    //  The jobs first (the table's cursor is not to be moved while sending).
    size_t njobs = sl_table_job_count (self->table), n = 0;
    sl_job_t **jobs = calloc (njobs + 1, sizeof *jobs);
    if (!jobs)
        return;
    for (sl_job_t *job = sl_table_job_first (self->table); job && n < njobs;
         job = sl_table_job_next (self->table))
        jobs [n++] = job;
    for (size_t i = 0; i < n; i++)
        s_deliver_job (self, jobs [i], now);
    free (jobs);
}

//  True if a job nobody holds yet has results to send (a catch-all takes it).
static bool s_unheld_sendable (broker_t *self)
{
    if (!sl_table_sendable (self->table, NULL))
        return false;
    for (sl_job_t *job = sl_table_job_first (self->table); job;
         job = sl_table_job_next (self->table))
        if (sl_table_sendable (self->table, job) &&
            !sl_collectors_holder (self->collectors, sl_job_id (job)))
            return true;
    return false;
}

//  True if something may go to a collector now (the loop then waits for
//  the delivery socket, which a ROUTER always is: so only then).
bool broker_delivery_pending (broker_t *self)
{
    if (!zhashx_size (self->collecting))
        return false;
    if (self->check_finished)
        return true;
    int64_t now = zclock_mono ();
    for (collector_io_t *io = (collector_io_t *) zhashx_first (self->collecting); io;
         io = (collector_io_t *) zhashx_next (self->collecting)) {
        if (s_waits (io, now))
            continue;
        if (zlistx_size (io->job_starts) || broker_outbox_ready (self, io->notices))
            return true;
        const char *name = io->peer->name;
        if (!sl_collectors_credit (self->collectors, name))
            continue;
        const char *held [SL_COLLECTORS_MAX_JOBS * 4];
        size_t nheld = sl_collectors_jobs (self->collectors, name, held, sizeof held / sizeof *held);
        for (size_t i = 0; i < nheld; i++) {
            sl_job_t *job = sl_table_job (self->table, held [i]);
            if (job && sl_table_sendable (self->table, job))
                return true;
        }
        const char *catch_all = s_catch_all (self);
        if (catch_all && streq (name, catch_all) && s_unheld_sendable (self))
            return true;
    }
    return false;
}

//  --- Finished jobs --------------------------------------------------------------

//  Tells a collector a job is finished, once every record appended so far
//  (the job's last acknowledgements and its end among them) is durable: a
//  collector that exits on this must never see the job again, whatever
//  happens to the broker then.
static void s_send_job_done (broker_t *self, collector_io_t *io, const char *job_id,
                             const sl_job_counts_t *counts, bool forgotten)
{
    Sluice__JobDone done = SLUICE__JOB_DONE__INIT;
    done.forgotten = forgotten;
    done.job = (char *) job_id;
    done.total = counts->total;
    done.ok = counts->ok;
    done.failed = counts->failed;
    done.timeout = counts->timeout;
    done.cancelled = counts->cancelled;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_JOB_DONE;
    env.job_done = &done;
    broker_notify (self, io, &env);
}

//  Records a finished job, tells its collector and retires it.
static void s_finish_job (broker_t *self, collector_io_t *io, sl_job_t *job)
{
    const sl_job_counts_t *c = sl_job_counts (job);
    sl_info ("job %s finished: %llu tasks, %llu ok, %llu failed, %llu timed out, %llu "
             "cancelled",
             sl_job_id (job), (unsigned long long) c->total, (unsigned long long) c->ok,
             (unsigned long long) c->failed, (unsigned long long) c->timeout,
             (unsigned long long) c->cancelled);
    int64_t now = zclock_time ();
    static uint64_t ranges [2 * MAX_FAILED_RANGES];
    sl_failed_t failed = { ranges, 0, false };
    if (c->failed + c->timeout + c->cancelled)
        failed.n =
            sl_table_failed (self->table, job, ranges, MAX_FAILED_RANGES, &failed.truncated);
    if (self->journal) {
        char err [512];
        broker_journal_appended (self,
                                 sl_durable_job_done (self->journal, sl_job_id (job), c, now,
                                                      &failed, err, sizeof err),
                                 err);
    }
    broker_remember (self, sl_job_id (job), c, now, &failed);
    s_send_job_done (self, io, sl_job_id (job), c, false);
    sl_collectors_job_done (self->collectors, sl_job_id (job));
    zhashx_delete (self->job_times, sl_job_id (job));
    sl_table_retire (self->table, job);
}

//  Jobs a collector waits for that finished while it was away, or that
//  this broker does not know (a job it named may simply not have started
//  yet: that one it waits for).
static void s_tell_waiting (broker_t *self, collector_io_t *io)
{
    sl_peer_t *peer = io->peer;
    const char *waiting;
    while (peer->waiting && (waiting = (const char *) zlistx_first (peer->waiting))) {
        if (!sl_table_job (self->table, waiting)) {
            sl_finished_job_t *done = broker_finished_lookup (self, waiting);
            sl_job_counts_t none = { 0 };
            const char *holder = sl_collectors_holder (self->collectors, waiting);
            if (done)
                s_send_job_done (self, io, done->id, &done->counts, false);
            else if (!holder || !streq (holder, peer->name))
                s_send_job_done (self, io, waiting, &none, true);
        }
        zlistx_delete (peer->waiting, NULL);
    }
}

//  Announces finished jobs to the collectors that collected them and
//  retires them.
void broker_finish_jobs (broker_t *self)
{
    if (!self->check_finished || !zhashx_size (self->collecting))
        return;
    self->check_finished = false;
    sl_job_t *job = sl_table_job_first (self->table);
    while (job) {
        sl_job_t *next = sl_table_job_next (self->table);
        if (sl_job_finished (job)) {
            collector_io_t *io = s_owner (self, sl_job_id (job));
            if (io)
                s_finish_job (self, io, job);
        }
        job = next;
    }
    for (collector_io_t *io = (collector_io_t *) zhashx_first (self->collecting); io;
         io = (collector_io_t *) zhashx_next (self->collecting))
        s_tell_waiting (self, io);
}
