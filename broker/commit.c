/*  commit - the journal's coordination: appends, commits, rotation, and
    the answers that wait for their records (outbox.h).
    Part of the broker (see broker.c); shared state in internal.h.
*/
#include "internal.h"

#include "checkpoint.h"

static void s_journal_results (broker_t *self);
static void s_journal_rotate (broker_t *self);

//  Records are appended as the broker changes its table and committed in
//  groups: at once with --fsync always, else within BATCH_COMMIT_MS. What
//  it tells a ventilator about the tasks it holds waits in the outbox until
//  the records appended before it are durable. If the journal cannot be written the broker
//  refuses new tasks (and says why) rather than accept what it could lose.

static void s_journal_error (broker_t *self, const char *err)
{
    if (sl_journal_fenced (self->journal)) {
        //  Another broker holds the journal now: whatever this one still
        //  has to say was not appended, so it says nothing more.
        if (!self->fenced)
            sl_error ("deposed: %s", err);
        self->fenced = true;
    } else if (!self->journal_failed)
        sl_error ("%s; refusing new tasks and results until the journal can be written again", err);
    if (!self->journal_failed)
        self->journal_backoff = JOURNAL_RETRY_MIN_MS;
    self->journal_failed = true;
    snprintf (self->journal_error, sizeof self->journal_error, "%s", err);
    self->journal_retry = zclock_mono () + self->journal_backoff;
}

void broker_journal_appended (broker_t *self, int rc, const char *err)
{
    if (rc)
        sl_error ("cannot journal: %s", err);
    else if (!self->dirty_since)
        self->dirty_since = zclock_mono ();
}

//  The journal position every record appended so far will have reached
//  when it is durable (0 without a journal: nothing to wait for).
static uint64_t s_journal_position (broker_t *self)
{
    return self->journal ? sl_journal_appended (self->journal) : 0;
}

//  The position up to which records are durable (UINT64_MAX without a
//  journal).
static uint64_t s_journal_durable (broker_t *self)
{
    return self->journal ? sl_journal_durable (self->journal) : UINT64_MAX;
}

//  Sends the answers whose records are durable, oldest first, as far as
//  their socket takes them. A reply to a client that left is dropped.
int broker_outbox_flush (broker_t *self, sl_outbox_t *outbox, zsock_t *sock)
{
    bool to_collector = sock == self->delivery;
    uint64_t durable = s_journal_durable (self);
    zframe_t *routing_id, *msg;
    while (sl_outbox_peek (outbox, durable, &routing_id, &msg)) {
        void *handle = zsock_resolve (sock);
        if (routing_id && zmq_send (handle, zframe_data (routing_id), zframe_size (routing_id),
                                    ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
            if (errno == EAGAIN)
                return 0;
            //  A collector's DEALER not connected yet: the notice waits (a
            //  collector that leaves takes its notices with it).
            if (to_collector)
                return -1;
            sl_outbox_pop (outbox); //  EHOSTUNREACH: the client left
            continue;
        }
        if (zmq_send (handle, zframe_data (msg), zframe_size (msg), ZMQ_DONTWAIT) < 0 &&
            errno == EAGAIN && !routing_id)
            return 0; //  the pipe is full: later
        sl_outbox_pop (outbox);
    }
    return 0;
}

//  True if the oldest answer in outbox may go now.
bool broker_outbox_ready (broker_t *self, sl_outbox_t *outbox)
{
    zframe_t *routing_id, *msg;
    return sl_outbox_peek (outbox, s_journal_durable (self), &routing_id, &msg);
}

//  Queues a message that reports a state change in outbox: it goes out
//  on sock once every record appended so far is durable (at once without a
//  journal, or when nothing is pending).
static void s_queue (broker_t *self, sl_outbox_t *outbox, zsock_t *sock, zframe_t *routing_id,
                     sl_env_t *env)
{
    s_journal_results (self); //  the table's changes so far are records first
    zframe_t *msg = sl_proto_encode (env);
    if (!msg) {
        sl_error ("out of memory encoding a %s", sl_proto_body_name (env));
        return;
    }
    if (sl_outbox_add (outbox, s_journal_position (self), routing_id, &msg))
        sl_error ("out of memory queueing a %s", sl_proto_body_name (env));
    broker_outbox_flush (self, outbox, sock);
}

//  A reply on the control socket to routing_id.
void broker_answer (broker_t *self, zframe_t *routing_id, sl_env_t *env)
{
    s_queue (self, self->answers, self->control, routing_id, env);
}

//  A notice (JobDone) to a collector, on the delivery socket.
void broker_notify (broker_t *self, collector_io_t *io, sl_env_t *env)
{
    s_journal_results (self); //  the table's changes so far are records first
    zframe_t *msg = sl_proto_encode (env);
    if (!msg) {
        sl_error ("out of memory encoding a %s", sl_proto_body_name (env));
        return;
    }
    if (sl_outbox_add (io->notices, s_journal_position (self), io->rid, &msg))
        sl_error ("out of memory queueing a %s", sl_proto_body_name (env));
    broker_io_flush (self, io, zclock_mono ());
}

//  Records up to the journal's durable position are safe: results reached
//  so far may go to the sink, answers waiting for them may go out.
static void s_checkpoint_durable (broker_t *self);

static void s_journal_durable_now (broker_t *self)
{
    s_checkpoint_durable (self);
    sl_table_durable_to (self->table, s_journal_durable (self));
    broker_outbox_flush (self, self->answers, self->control);
    broker_notices_flush (self);
}

//  The segment new jobs are tagged with: the oldest one they need.
void broker_journal_tag (broker_t *self)
{
    sl_table_set_tag (self->table, self->journal ? sl_journal_segment (self->journal) : 0);
}

//  Keeps a task whose final result was not ok for the dashboard.
static void s_failure_note (broker_t *self, sl_task_t *task)
{
    sl_result_t *r = sl_task_result (task);
    if (!self->failures || !r || r->status == SL_STATUS_OK)
        return;
    failure_t failure = { 0 };
    failure.seq = sl_task_seq (task);
    if (r->id_size) {
        char id [256];
        snprintf (failure.id, sizeof failure.id, "%s", sl_result_id (r, id));
    }
    failure.status = r->status;
    failure.exit_code = r->exit_code;
    failure.attempts = sl_task_runs (task);
    snprintf (failure.worker, sizeof failure.worker, "%s", r->worker ? r->worker : "");
    size_t tail = r->stderr_size < FAILURE_STDERR_MAX ? r->stderr_size : FAILURE_STDERR_MAX;
    memcpy (failure.stderr_tail, r->data + r->output_size + r->stderr_size - tail, tail);
    failure.stderr_size = (uint16_t) tail;
    if (failures_add (self->failures, sl_job_id (sl_task_job (task)), &failure))
        sl_warn ("out of memory: failed task %s/%llu not kept for the dashboard",
                 sl_job_id (sl_task_job (task)), (unsigned long long) failure.seq);
}

//  Appends the results of batch [0..n) (one job) and tells the table
//  where their records are, so that each goes to the sink once its
//  record is durable.
static void s_journal_result_batch (broker_t *self, sl_task_t **batch, size_t n)
{
    char err [512];
    broker_journal_appended (self, sl_durable_results (self->journal, batch, n, err, sizeof err),
                             err);
    uint64_t position = sl_journal_appended (self->journal);
    for (size_t i = 0; i < n; i++)
        sl_table_recorded (self->table, batch [i], position);
}

//  Records the final results the table reached since the last call.
static void s_journal_results (broker_t *self)
{
    sl_task_t *batch [MAX_BATCH_RESULTS];
    size_t n = 0;
    char err [512];
    sl_task_t *task;
    //  Tasks that went on to their next stage: their new payloads first
    //  (a task may go on and end in one turn).
    while ((task = sl_table_pop_advanced (self->table))) {
        if (!self->journal)
            continue;
        if (n && (sl_task_job (task) != sl_task_job (batch [0]) || n == MAX_BATCH_RESULTS)) {
            broker_journal_appended (
                self, sl_durable_advanced (self->journal, batch, n, err, sizeof err), err);
            n = 0;
        }
        batch [n++] = task;
    }
    if (n)
        broker_journal_appended (
            self, sl_durable_advanced (self->journal, batch, n, err, sizeof err), err);
    n = 0;
    while ((task = sl_table_pop_completed (self->table))) {
        if (sl_task_result (task) && sl_task_result (task)->status < 5)
            self->count.completed [sl_task_result (task)->status]++;
        s_failure_note (self, task);
        if (!self->journal)
            continue;
        if (n && (sl_task_job (task) != sl_task_job (batch [0]) || n == MAX_BATCH_RESULTS)) {
            s_journal_result_batch (self, batch, n);
            n = 0;
        }
        batch [n++] = task;
    }
    if (n)
        s_journal_result_batch (self, batch, n);
}

//  True when the journal grew by --checkpoint-bytes since the last
//  checkpoint, and by at least the checkpoint's own size (so that a live
//  state bigger than --checkpoint-bytes is not written again and again).
static bool s_checkpoint_due (broker_t *self)
{
    uint64_t bytes = sl_journal_segment_bytes (self->journal);
    uint64_t since = bytes > self->checkpoint_size ? bytes - self->checkpoint_size : 0;
    uint64_t due = self->config.checkpoint_bytes > self->checkpoint_size
                       ? self->config.checkpoint_bytes
                       : self->checkpoint_size;
    return !self->checkpointing && since >= due;
}

//  Commits what was appended: the NATS journal only publishes it, and the
//  journal's answers (broker_journal_poll) make it durable. Returns 0, or
//  -1 if the journal failed.
int broker_journal_commit (broker_t *self)
{
    if (!self->journal)
        return 0;
    s_journal_results (self);
    char err [512];
    if (sl_journal_commit (self->journal, err, sizeof err)) {
        s_journal_error (self, err);
        return -1;
    }
    if (self->journal_failed)
        sl_warn ("the journal in %s can be written again: accepting tasks and results",
                 sl_journal_dir (self->journal));
    self->journal_failed = false;
    self->dirty_since = 0;
    s_journal_durable_now (self);
    if (s_checkpoint_due (self) && (!self->rotate_retry || zclock_mono () >= self->rotate_retry))
        s_journal_rotate (self);
    return 0;
}

//  Commits and waits until every record appended is durable, for an
//  answer that must be synchronous. Returns 0, or -1 if the journal failed.
int broker_journal_sync (broker_t *self)
{
    if (!self->journal)
        return 0;
    if (broker_journal_commit (self))
        return -1;
    char err [512];
    if (sl_journal_sync (self->journal, err, sizeof err)) {
        s_journal_error (self, err);
        return -1;
    }
    s_journal_durable_now (self);
    return 0;
}

//  The journal answered commits (NATS): what is durable now goes out. An
//  answer that ends a failure (the message sent again is stored) ends the
//  broker's refusals at once, not at the next retry.
void broker_journal_poll (broker_t *self)
{
    char err [512];
    if (sl_journal_poll (self->journal, err, sizeof err))
        s_journal_error (self, err);
    else if (self->journal_failed && !sl_journal_failed (self->journal))
        broker_journal_commit (self);
    s_journal_durable_now (self);
}

//  Commits when the fsync policy says it is time, and retries a failed
//  commit (after 0.1 s, then twice as long each time, up to 2 s) or
//  rotation (once a second), whether or not anything new came in: a quiet
//  broker must notice that space came back. A retry does not wait for the
//  journal (journal.h): the loop goes on answering meanwhile.
void broker_journal_tick (broker_t *self, int64_t now)
{
    s_journal_results (self); //  in memory too: counts and failures
    if (!self->journal)
        return;
    //  A commit in flight is settled by answers (they wake the loop), or
    //  found overdue here when none comes (journal_nats.c).
    if (!self->journal_failed && now - self->journal_polled >= JOURNAL_POLL_MS &&
        sl_journal_durable (self->journal) < sl_journal_appended (self->journal)) {
        self->journal_polled = now;
        broker_journal_poll (self);
    }
    if (self->journal_failed) {
        if (now >= self->journal_retry) {
            self->journal_backoff = self->journal_backoff * 2 > JOURNAL_RETRY_MAX_MS
                                        ? JOURNAL_RETRY_MAX_MS
                                        : self->journal_backoff * 2;
            broker_journal_commit (self);
        }
        return;
    }
    if (self->rotate_retry && now >= self->rotate_retry) {
        broker_journal_commit (self); //  rotates
        return;
    }
    if (!self->dirty_since)
        return; //  nothing appended since the last commit
    if (self->config.fsync == SL_FSYNC_ALWAYS ||
        sl_journal_unflushed (self->journal) >= BATCH_COMMIT_BYTES ||
        now - self->dirty_since >= BATCH_COMMIT_MS)
        broker_journal_commit (self);
}

//  A hold was appended (standby.c): the stream grew without a commit, and
//  an idle broker commits nothing. Holds count toward --checkpoint-bytes
//  (journal_nats.c), so a checkpoint comes due now and then, and its purge
//  keeps an idle stream from growing for ever.
void broker_journal_held (broker_t *self)
{
    if (self->journal && !self->journal_failed && s_checkpoint_due (self) &&
        (!self->rotate_retry || zclock_mono () >= self->rotate_retry))
        s_journal_rotate (self);
}

//  When the journal needs the loop again (ms), or INT64_MAX.
int64_t broker_journal_wake (broker_t *self)
{
    if (!self->journal)
        return INT64_MAX;
    int64_t wake = INT64_MAX;
    if (self->journal_failed)
        wake = self->journal_retry;
    else if (self->dirty_since)
        wake = self->dirty_since + BATCH_COMMIT_MS;
    if (self->rotate_retry && self->rotate_retry < wake)
        wake = self->rotate_retry;
    return wake;
}

//  Writes a checkpoint of the live state (checkpoint.h) at the start of
//  segment: the finished jobs remembered, oldest first (so that a replay
//  remembers them in the same order), and every unfinished job. Returns
//  0, or -1 if a record could not be appended (logged).
static int s_journal_checkpoint (broker_t *self, uint64_t id)
{
    char err [512];
    s_journal_results (self); //  the table's changes so far are records first
    int rc = sl_checkpoint_begin (self->journal, id, err, sizeof err);
    int64_t oldest = zclock_time () - self->config.retention_ms;
    for (size_t i = sl_finished_count (self->finished); rc == 0 && i-- > 0;) {
        sl_finished_job_t *f = sl_finished_newest (self->finished, i);
        sl_failed_t failed = sl_finished_failed (f);
        if (f->finished_at >= oldest)
            rc = sl_durable_job_done (self->journal, f->id, &f->counts, f->finished_at, &failed,
                                      err, sizeof err);
    }
    if (rc == 0)
        rc = sl_checkpoint_jobs (self->journal, self->table, err, sizeof err);
    if (rc == 0)
        rc = sl_checkpoint_end (self->journal, self->table, id, err, sizeof err);
    broker_journal_appended (self, rc, err);
    return rc;
}

//  Starts a new segment with a checkpoint of the live state and, once it
//  is durable, deletes the segments before it (the NATS journal purges its
//  stream up to it). A rotation that fails (no inode, say) is no reason to
//  refuse work while the current segment can still be written: it is
//  logged and tried again each second.
static void s_journal_rotate (broker_t *self)
{
    char err [512];
    uint64_t segment = sl_journal_rotate (self->journal, err, sizeof err);
    if (!segment) {
        if (sl_journal_failed (self->journal)) {
            s_journal_error (self, err); //  its commit failed: nothing can be written
            return;
        }
        if (!self->rotate_retry)
            sl_warn ("%s; the journal goes on in its current segment (%.1f MB) and tries a new "
                     "one every second",
                     err, sl_journal_segment_bytes (self->journal) / 1e6);
        self->rotate_retry = zclock_mono () + 1000;
        return;
    }
    if (self->rotate_retry)
        sl_warn ("journal: a new segment could be started again");
    self->rotate_retry = 0;
    self->checkpointing = true;
    self->checkpoint_started = zclock_mono ();
    self->checkpoint_before = sl_journal_total_bytes (self->journal);
    int rc = s_journal_checkpoint (self, (uint64_t) zclock_usecs ());
    if (rc == 0) {
        self->checkpoint_segment = segment;
        self->checkpoint_end = sl_journal_appended (self->journal);
    }
    rc = rc ? rc : broker_journal_commit (self);
    if (rc) {
        //  The segments before stay (replay needs them); a failed commit
        //  is retried, and the checkpoint is done once it is durable.
        if (!self->checkpoint_segment)
            self->checkpointing = false;
        return;
    }
    s_checkpoint_durable (self);
}

//  Once the checkpoint written last is durable (the loop does not wait for
//  it: a commit to NATS servers that do not answer would hold it for the
//  publish timeout), deletes the segments before it (purges the stream up
//  to it).
static void s_checkpoint_durable (broker_t *self)
{
    if (!self->checkpoint_segment || !self->journal ||
        sl_journal_durable (self->journal) < self->checkpoint_end)
        return;
    uint64_t segment = self->checkpoint_segment;
    self->checkpoint_segment = 0;
    self->checkpointing = false;
    self->checkpoint_size = sl_journal_segment_bytes (self->journal);
    char err [512];
    int deleted = sl_journal_delete_before (self->journal, segment, err, sizeof err);
    if (deleted < 0)
        sl_warn ("%s", err);
    else
        sl_info ("journal: checkpoint in segment %llu (%zu jobs) in %lld ms, %d old segments "
                 "deleted, %.1f MB before, %.1f MB now",
                 (unsigned long long) segment, sl_table_job_count (self->table),
                 (long long) (zclock_mono () - self->checkpoint_started), deleted,
                 self->checkpoint_before / 1e6, sl_journal_total_bytes (self->journal) / 1e6);
}

void broker_on_replayed_done (const char *job, const sl_job_counts_t *counts, int64_t finished_at,
                              const sl_failed_t *failed, void *arg)
{
    broker_remember ((broker_t *) arg, job, counts, finished_at, failed);
}

//  Opens the journal and rebuilds the table from it.
int broker_journal_open (broker_t *self, char *err, size_t errlen)
{
    int64_t start = zclock_mono ();
    self->journal = self->config.nats.servers
                        ? sl_journal_new_nats (&self->config.nats, err, errlen)
                        : sl_journal_new (self->config.data_dir, self->config.fsync, err, errlen);
    if (!self->journal)
        return -1;
    int64_t records =
        sl_durable_replay (self->journal, self->table, broker_on_replayed_done, self, err, errlen);
    if (records < 0)
        return -1;
    //  From now on a result goes to the sink only once its record is
    //  durable (replayed ones are). A standby does this when it takes over.
    bool active = self->role.state == SL_ROLE_ACTIVE;
    if (active)
        sl_table_hold_fresh (self->table, true);
    //  Tasks queued by the replay may still be running on workers that
    //  outlived the old broker: give them time to claim those runs before
    //  anything is dealt again (a worker notices the restart at its next
    //  heartbeat and claims everything it holds as soon as it is welcomed).
    if (sl_table_queued (self->table) && active) {
        self->grace_until = zclock_mono () + GRACE_BEATS * (int64_t) self->config.heartbeat_ms;
        sl_info ("journal: dealing no task for %lld ms, for workers to claim the runs they "
                 "still run",
                 (long long) (GRACE_BEATS * (int64_t) self->config.heartbeat_ms));
    }
    if (sl_journal_repaired (self->journal))
        sl_warn ("%s", sl_journal_repaired (self->journal));
    size_t jobs = sl_table_job_count (self->table);
    sl_info ("journal %s: %lld records replayed in %lld ms: %zu unfinished jobs, %zu tasks "
             "queued, %zu results to deliver",
             sl_journal_dir (self->journal), (long long) records,
             (long long) (zclock_mono () - start), jobs, sl_table_queued (self->table),
             sl_table_deliverable (self->table, NULL));
    self->check_finished = true;
    return 0;
}
