/*  deliver - results out to the sink: the attached sink, its
    acknowledgements, JobStart and JobDone.
    Part of the broker (see broker.c); shared state in internal.h.
*/
#include "internal.h"

//  True if the attached sink collects this job.
bool broker_sink_wants (broker_t *self, const char *job_id)
{
    return self->sink && (self->sink->job [0] == '\0' || streq (self->sink->job, job_id));
}

void broker_sink_detach (broker_t *self, const char *why)
{
    if (!self->sink)
        return;
    size_t resent = sl_table_unsend_all (self->table);
    broker_event (self, SL_LOG_INFO,
                  "sink %s detached (%s); %zu unacknowledged results will be delivered again",
                  self->sink->name, why, resent);
    sl_peer_t *sink = self->sink;
    self->sink = NULL;
    zlistx_purge (self->job_starts);
    sl_outbox_purge (self->notices); //  the next sink asks again
    broker_peer_remove (self, sink);
}

void broker_hello_sink (broker_t *self, sl_peer_t *peer, Sluice__Hello *hello)
{
    if (self->sink && self->sink != peer) {
        char reason [400];
        snprintf (reason, sizeof reason,
                  "another sink (%s) is attached; sluice delivers results to one sink at a "
                  "time so that no job is split between two",
                  self->sink->name);
        broker_event (self, SL_LOG_WARN, "refused sink %s: sink %s is attached", peer->name,
                      self->sink->name);
        //  The attached sink may have died: it is given up after SL_PEERS_LIVENESS
        //  silent heartbeats, so a restarted sink may try until then.
        Sluice__Refuse refuse = SLUICE__REFUSE__INIT;
        refuse.reason = reason;
        refuse.retry_ms = (SL_PEERS_LIVENESS + 1) * self->sink->heartbeat_ms;
        sl_env_t env = SLUICE__ENVELOPE__INIT;
        env.body_case = SLUICE__ENVELOPE__BODY_REFUSE;
        env.refuse = &refuse;
        broker_reply (self, peer->routing_id, &env);
        broker_peer_remove (self, peer);
        return;
    }
    char why [600];
    if (hello->from_start && broker_from_start (self, peer->job, why, sizeof why)) {
        broker_event (self, SL_LOG_WARN, "refused sink %s: %s", peer->name, why);
        sl_proto_send_refuse (self->control, peer->routing_id, why);
        broker_peer_remove (self, peer);
        return;
    }
    if (!self->sink)
        broker_event (self, SL_LOG_INFO, "sink %s attached%s%s%s%s", peer->name,
                      peer->job [0] ? " for job " : "", peer->job, peer->follow ? " (follow)" : "",
                      hello->from_start ? " (from the start)" : "");
    //  Jobs it waits for that may have finished meanwhile: told below.
    zlistx_destroy (&peer->waiting);
    peer->waiting = zlistx_new ();
    zlistx_set_destructor (peer->waiting, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_duplicator (peer->waiting, (zlistx_duplicator_fn *) strdup);
    for (size_t i = 0; i < hello->n_waiting; i++)
        zlistx_add_end (peer->waiting, hello->waiting [i]);
    if (peer->job [0])
        zlistx_add_end (peer->waiting, peer->job);
    self->sink = peer;
    self->last_ack = zclock_mono ();
    self->check_finished = true;
    zlistx_purge (self->job_starts); //  the welcome lists every job
    //  The jobs the sink should wait for: those not yet announced as done.
    size_t njobs = 0;
    char **jobs = calloc (sl_table_job_count (self->table) + 1, sizeof (char *));
    if (jobs) {
        for (sl_job_t *job = sl_table_job_first (self->table); job;
             job = sl_table_job_next (self->table))
            if (broker_sink_wants (self, sl_job_id (job)))
                jobs [njobs++] = (char *) sl_job_id (job);
    }
    broker_welcome (self, peer, jobs, njobs);
    free (jobs);
}

void broker_on_ack (broker_t *self, sl_peer_t *peer, Sluice__Ack *ack)
{
    if (peer != self->sink || !self->sink) {
        broker_bad (self, "control", peer ? peer->name : NULL,
                    "acknowledgement from a detached sink");
        return;
    }
    self->last_ack = zclock_mono ();
    size_t applied = 0;
    for (size_t i = 0; i < ack->n_seqs; i++) {
        sl_table_rc_t rc = sl_table_ack (self->table, ack->job, ack->seqs [i]);
        if (rc == SL_TABLE_OK)
            ack->seqs [applied++] = ack->seqs [i];
        else if (rc == SL_TABLE_INVALID && !broker_finished_lookup (self, ack->job))
            broker_bad (self, "control", peer->name, "acknowledgement for an unknown task");
    }
    if (self->journal && applied) {
        char err [512];
        broker_journal_appended (
            self,
            sl_durable_delivered (self->journal, ack->job, ack->seqs, applied, err, sizeof err),
            err);
    }
    self->check_finished = true;
}

void broker_deliver (broker_t *self)
{
    if (!self->sink)
        return;
    //  Announcements first: a job's start must precede its end.
    const char *job_id;
    while ((job_id = (const char *) zlistx_first (self->job_starts)) &&
           broker_writable (self->delivery)) {
        Sluice__JobStart start = SLUICE__JOB_START__INIT;
        start.job = (char *) job_id;
        sl_env_t env = SLUICE__ENVELOPE__INIT;
        env.body_case = SLUICE__ENVELOPE__BODY_JOB_START;
        env.job_start = &start;
        if (sl_proto_send (self->delivery, NULL, &env, ZMQ_DONTWAIT))
            return;
        zlistx_delete (self->job_starts, NULL);
    }
    if (zlistx_size (self->job_starts))
        return;
    sl_job_t *only = NULL;
    if (self->sink->job [0]) {
        only = sl_table_job (self->table, self->sink->job);
        if (!only)
            return;
    }
    Sluice__Result results [MAX_BATCH_RESULTS];
    static char ids [MAX_BATCH_RESULTS][256]; //  the tasks' ids, as strings
    Sluice__Result *result_ptrs [MAX_BATCH_RESULTS];
    while (sl_table_sendable (self->table, only) &&
           sl_table_unacked (self->table) < self->config.sink_window &&
           broker_writable (self->delivery)) {
        sl_task_t *first = sl_table_send_next (self->table, only);
        if (!first)
            break;
        sl_job_t *job = sl_task_job (first);
        size_t n = 0, bytes = 0;
        for (sl_task_t *task = first; task;) {
            sl_result_t *r = sl_task_result (task);
            sl_durable_result_out (task, &results [n], ids [n]);
            result_ptrs [n] = &results [n];
            n++;
            bytes += r->output_size + r->stderr_size;
            if (n == MAX_BATCH_RESULTS || bytes >= MAX_BATCH_BYTES ||
                sl_table_unacked (self->table) >= self->config.sink_window ||
                !sl_table_sendable (self->table, job))
                break;
            task = sl_table_send_next (self->table, job);
        }
        Sluice__ResultBatch batch = SLUICE__RESULT_BATCH__INIT;
        batch.job = (char *) sl_job_id (job);
        batch.results = result_ptrs;
        batch.n_results = n;
        sl_env_t env = SLUICE__ENVELOPE__INIT;
        env.body_case = SLUICE__ENVELOPE__BODY_RESULTS;
        env.results = &batch;
        if (sl_proto_send (self->delivery, NULL, &env, ZMQ_DONTWAIT)) {
            while (n--)
                sl_table_unsend_last (self->table, job);
            break;
        }
    }
}

//  Tells the sink a job is finished, once every record appended so far
//  (the job's last acknowledgements and its end among them) is durable: a
//  sink that exits on this must never see the job again, whatever happens
//  to the broker then.
static void s_send_job_done (broker_t *self, const char *job_id, const sl_job_counts_t *counts,
                             bool forgotten)
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
    broker_answer (self, NULL, &env);
}

//  Announces finished jobs to the sink that collected them and retires them.
//  A sink collecting one job that finished before it attached hears of it
//  from the finished-jobs memory.
void broker_finish_jobs (broker_t *self)
{
    if (!self->check_finished || !self->sink)
        return;
    self->check_finished = false;
    sl_job_t *job = sl_table_job_first (self->table);
    while (job) {
        sl_job_t *next = sl_table_job_next (self->table);
        if (sl_job_finished (job) && broker_sink_wants (self, sl_job_id (job))) {
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
                failed.n = sl_table_failed (self->table, job, ranges, MAX_FAILED_RANGES,
                                            &failed.truncated);
            if (self->journal) {
                char err [512];
                broker_journal_appended (self,
                                         sl_durable_job_done (self->journal, sl_job_id (job), c,
                                                              now, &failed, err, sizeof err),
                                         err);
            }
            broker_remember (self, sl_job_id (job), c, now, &failed);
            s_send_job_done (self, sl_job_id (job), c, false);
            zhashx_delete (self->job_times, sl_job_id (job));
            sl_table_retire (self->table, job);
        }
        job = next;
    }
    //  Jobs the sink waits for that finished while it was away, or that
    //  this broker does not know (a job named with --job may simply not
    //  have started yet: that one it waits for).
    const char *waiting;
    while (self->sink->waiting && (waiting = (const char *) zlistx_first (self->sink->waiting))) {
        if (!sl_table_job (self->table, waiting)) {
            sl_finished_job_t *done = broker_finished_lookup (self, waiting);
            sl_job_counts_t none = { 0 };
            if (done)
                s_send_job_done (self, done->id, &done->counts, false);
            else if (!streq (waiting, self->sink->job))
                s_send_job_done (self, waiting, &none, true);
        }
        zlistx_delete (self->sink->waiting, NULL);
    }
}
