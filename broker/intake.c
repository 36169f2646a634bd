/*  intake - what comes in: ventilators' tasks and job ends, workers'
    results, and the memory throttle.
    Part of the broker (see broker.c); shared state in internal.h.
*/
#include "internal.h"

//  A job's first message: its queue, next stages and attachments. 0, or
//  -1 (counted and logged as a bad message) if they are not acceptable.
static int s_job_make (broker_t *self, const char *job_id, const char *queue, char **then,
                       size_t nthen, Sluice__Attachment **attachments, size_t nattachments)
{
    sl_attach_t list [SL_MAX_ATTACHMENTS];
    char why [128];
    if (sl_attach_from_proto (attachments, nattachments, list, why, sizeof why)) {
        broker_bad (self, "intake", NULL, why);
        return -1;
    }
    for (size_t i = 0; i < nattachments; i++)
        if (list [i].size > self->config.max_attachment) {
            broker_bad (self, "intake", NULL, "an attachment over --max-attachment");
            return -1;
        }
    if (sl_table_job_make_stages (self->table, job_id, queue, then, nthen) == SL_TABLE_INVALID) {
        broker_bad (self, "intake", NULL, "a job for queues that cannot be made");
        return -1;
    }
    sl_job_t *job = sl_table_job (self->table, job_id);
    if (job && nattachments)
        sl_job_set_attachments (job, list, nattachments);
    return 0;
}

//  A job appeared: the attached sink must know it has one more to wait for.
static void s_job_started (broker_t *self, const char *job_id)
{
    broker_event (self, SL_LOG_INFO, "job %s started", job_id);
    int64_t *when = malloc (sizeof *when);
    if (when) {
        *when = zclock_mono ();
        zhashx_update (self->job_times, job_id, when);
    }
    broker_job_started (self, job_id);
}

static void s_on_tasks (broker_t *self, Sluice__TaskBatch *batch)
{
    if (!sl_job_id_valid (batch->job)) {
        broker_bad (self, "intake", NULL, "tasks with an invalid job id");
        return;
    }
    if (self->journal_failed) {
        //  Not accepted: the ventilator hears why and sends them again.
        self->count.tasks_refused += batch->n_tasks;
        return;
    }
    bool is_new = sl_table_job (self->table, batch->job) == NULL;
    if (is_new && s_job_make (self, batch->job, batch->queue, batch->then, batch->n_then,
                              batch->attachments, batch->n_attachments))
        return;
    broker_journal_tag (self);
    size_t accepted = 0;
    for (size_t i = 0; i < batch->n_tasks; i++) {
        Sluice__Task *task = batch->tasks [i];
        if (task->payload.len > self->config.max_payload) {
            broker_bad (self, "intake", NULL, "task over --max-payload");
            continue;
        }
        if (strlen (task->id) > 255) {
            broker_bad (self, "intake", NULL, "task with an id over 255 bytes");
            continue;
        }
        sl_task_in_t in = {
            .payload = task->payload.data,
            .size = task->payload.len,
            .timeout_ms = task->timeout_ms,
            .retries = (uint8_t) (task->retries > 100 ? 100 : task->retries),
            .priority = task->priority,
            .id = task->id,
        };
        sl_table_rc_t rc = sl_table_submit_task (self->table, batch->job, task->seq, &in);
        if (rc == SL_TABLE_OK) {
            self->count.tasks_in++;
            batch->tasks [accepted++] = task; //  the new ones, for the journal
        } else if (rc == SL_TABLE_DUPLICATE)
            self->count.duplicates++;
        else if (rc == SL_TABLE_INVALID)
            broker_bad (self, "intake", NULL, "task with a seq out of range");
        else
            sl_error ("out of memory: task %s/%llu dropped", batch->job,
                      (unsigned long long) task->seq);
    }
    if (self->journal && accepted) {
        char err [512];
        broker_journal_appended (self,
                                 sl_durable_job_tasks (self->journal,
                                                       sl_table_job (self->table, batch->job),
                                                       batch->tasks, accepted, err, sizeof err),
                                 err);
    }
    if (is_new && sl_table_job (self->table, batch->job))
        s_job_started (self, batch->job);
}

static void s_on_job_end (broker_t *self, Sluice__JobEnd *end)
{
    if (!sl_job_id_valid (end->job)) {
        broker_bad (self, "intake", NULL, "job end with an invalid job id");
        return;
    }
    if (self->journal_failed)
        return;
    bool is_new = sl_table_job (self->table, end->job) == NULL;
    if (is_new && s_job_make (self, end->job, end->queue, end->then, end->n_then, end->attachments,
                              end->n_attachments))
        return;
    broker_journal_tag (self);
    sl_table_rc_t rc = sl_table_end (self->table, end->job, end->total);
    if (rc == SL_TABLE_INVALID)
        broker_bad (self, "intake", NULL, "job end contradicting the tasks received");
    else if (rc == SL_TABLE_OK) {
        if (self->journal) {
            char err [512];
            broker_journal_appended (self,
                                     sl_durable_job_end (self->journal,
                                                         sl_table_job (self->table, end->job),
                                                         end->total, err, sizeof err),
                                     err);
        }
        if (is_new)
            s_job_started (self, end->job);
        sl_info ("job %s has %llu tasks", end->job, (unsigned long long) end->total);
        self->check_finished = true;
    }
}

//  True while the tasks held are at the memory limit: intake is paused
//  (ventilators block in send, their backpressure) until the workers and
//  the sink bring the table below 7/8 of the limit.
bool broker_throttled (broker_t *self)
{
    //  Records not yet committed are memory too (a failing journal keeps
    //  them all).
    size_t held =
        sl_table_held (self->table) + (self->journal ? sl_journal_uncommitted (self->journal) : 0);
    uint64_t limit = self->config.max_memory;
    if (!self->throttled && held >= limit) {
        self->throttled = true;
        self->count.throttle_count++;
        uint32_t suppressed = 0;
        if (sl_ratelimit_allow (&self->throttle_log, zclock_mono (), &suppressed))
            sl_warn ("memory limit reached: %zu MiB held for %zu queued, %zu running and %zu "
                     "undelivered tasks (--max-memory %llu MiB); taking no new tasks until "
                     "workers and the sink catch up%s",
                     held >> 20, sl_table_queued (self->table), sl_table_running (self->table),
                     sl_table_deliverable (self->table, NULL) + sl_table_unacked (self->table),
                     (unsigned long long) (limit >> 20),
                     suppressed ? " (and paused more often than logged)" : "");
    } else if (self->throttled && held < limit - limit / RESUME_FRACTION) {
        self->throttled = false;
        sl_debug ("memory: %zu MiB held, taking tasks again", held >> 20);
    }
    return self->throttled;
}

void broker_on_intake (broker_t *self)
{
    for (int i = 0; i < READ_BURST && !broker_throttled (self); i++) {
        sl_env_t *env = NULL;
        char why [256];
        char user [48];
        sl_recv_t rc =
            sl_proto_recv_user (self->intake, &env, NULL, user, sizeof user, why, sizeof why);
        if (rc == SL_RECV_OK && !broker_admitted (self, user)) {
            broker_bad (self, "intake", user, "tasks from a revoked client");
            sl_proto_free (&env);
            continue;
        }
        if (rc == SL_RECV_NONE)
            break;
        if (rc != SL_RECV_OK) {
            broker_bad (self, "intake", NULL, why);
            continue;
        }
        if (env->body_case == SLUICE__ENVELOPE__BODY_TASKS)
            s_on_tasks (self, env->tasks);
        else if (env->body_case == SLUICE__ENVELOPE__BODY_ATTACH_PUT)
            broker_on_attach_put (self, env->attach_put);
        else if (env->body_case == SLUICE__ENVELOPE__BODY_JOB_END)
            s_on_job_end (self, env->job_end);
        else
            broker_bad (self, "intake", NULL, "message of a type not expected here");
        sl_proto_free (&env);
    }
}

static void s_on_result_batch (broker_t *self, Sluice__ResultBatch *batch)
{
    //  The results of a batch normally name one worker: it is looked up
    //  once, and again only when the name changes.
    const char *seen = NULL; //  the worker name last looked up
    sl_peer_t *peer = NULL;  //  its peer, or NULL
    for (size_t i = 0; i < batch->n_results; i++) {
        Sluice__Result *result = batch->results [i];
        if (result->status < SLUICE__STATUS__STATUS_OK ||
            result->status > SLUICE__STATUS__STATUS_TIMEOUT) {
            broker_bad (self, "results", result->worker, "result with an unknown status");
            continue;
        }
        sl_result_in_t in;
        sl_durable_result_in (result, &in);
        sl_table_rc_t rc =
            sl_table_complete (self->table, batch->job, result->seq, result->attempt, &in);
        if ((rc == SL_TABLE_OK || rc == SL_TABLE_RETRY || rc == SL_TABLE_ADVANCED) &&
            result->worker) {
            if (!seen || !streq (seen, result->worker)) {
                seen = result->worker;
                peer = broker_peer_by_name (self, seen);
            }
            if (peer)
                peer->done++;
        }
        if (rc == SL_TABLE_OK)
            self->count.results_in++;
        else if (rc == SL_TABLE_ADVANCED)
            self->count.advanced++;
        else if (rc == SL_TABLE_RETRY) {
            self->count.retries++;
            sl_debug ("task %s/%llu failed on %s (run %u): retrying", batch->job,
                      (unsigned long long) result->seq, result->worker, result->attempt);
        } else if (rc == SL_TABLE_DUPLICATE)
            self->count.duplicates++;
        else if (rc == SL_TABLE_INVALID && broker_finished_lookup (self, batch->job))
            self->count.duplicates++; //  a late result for a job already finished
        else if (rc == SL_TABLE_INVALID)
            broker_bad (self, "results", result->worker, "result for an unknown job or task");
        else
            sl_error ("out of memory: result %s/%llu dropped, the task will run again", batch->job,
                      (unsigned long long) result->seq);
    }
    //  The batch a worker that said Bye was waited for: it is gone now.
    sl_peer_t *sender = batch->batch && batch->n_results && batch->results [0]->worker
                            ? broker_peer_by_name (self, batch->results [0]->worker)
                            : NULL;
    if (sender && sender->role == SLUICE__ROLE__ROLE_WORKER) {
        if (batch->batch > sender->batches_seen)
            sender->batches_seen = batch->batch;
        if (sender->bye_batch && sender->batches_seen >= sender->bye_batch)
            broker_worker_gone (self, sender, "left");
    }
}

void broker_on_results (broker_t *self)
{
    for (int i = 0; i < READ_BURST; i++) {
        sl_env_t *env = NULL;
        char why [256];
        char user [48];
        sl_recv_t rc =
            sl_proto_recv_user (self->results, &env, NULL, user, sizeof user, why, sizeof why);
        if (rc == SL_RECV_OK && !broker_admitted (self, user)) {
            broker_bad (self, "results", user, "results from a revoked client");
            sl_proto_free (&env);
            continue;
        }
        if (rc == SL_RECV_NONE)
            break;
        if (rc != SL_RECV_OK) {
            broker_bad (self, "results", NULL, why);
            continue;
        }
        if (env->body_case == SLUICE__ENVELOPE__BODY_RESULTS)
            s_on_result_batch (self, env->results);
        else
            broker_bad (self, "results", NULL, "message of a type not expected here");
        sl_proto_free (&env);
    }
}
