/*  durable - the broker's journal records, see durable.h.  */
#include "durable.h"

#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"

int sl_durable_append (sl_journal_t *journal, sl_record_type_t type, const ProtobufCMessage *msg,
                       char *err, size_t errlen)
{
    uint8_t stack [4096];
    size_t size;
    uint8_t *buffer = sl_proto_pack (msg, stack, sizeof stack, &size);
    if (!buffer) {
        snprintf (err, errlen, "out of memory for a journal record of %zu bytes",
                  protobuf_c_message_get_packed_size (msg));
        return -1;
    }
    int rc = sl_journal_append (journal, (uint8_t) type, buffer, size, err, errlen);
    if (buffer != stack)
        free (buffer);
    return rc;
}

//  The queue (NULL for the default one) and the next stages' queues of job.
static const char *s_job_queues (sl_job_t *job, char **then, size_t *nthen)
{
    *nthen = sl_job_stages (job) - 1;
    for (size_t i = 0; i < *nthen; i++)
        then [i] = (char *) sl_queue_name (sl_job_stage_queue (job, i + 1));
    const char *queue = sl_queue_name (sl_job_queue (job));
    return strcmp (queue, SL_QUEUE_DEFAULT) ? queue : NULL;
}

int sl_attach_from_proto (Sluice__Attachment **in, size_t n, sl_attach_t *out, char *why,
                          size_t whylen)
{
    if (n > SL_MAX_ATTACHMENTS) {
        snprintf (why, whylen, "more than %d attachments", SL_MAX_ATTACHMENTS);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *hash = in [i]->hash;
        bool hex = strlen (hash) == 40;
        for (size_t k = 0; hex && k < 40; k++)
            hex = (hash [k] >= '0' && hash [k] <= '9') || (hash [k] >= 'a' && hash [k] <= 'f');
        if (!sl_queue_name_valid (in [i]->name) || !hex) {
            snprintf (why, whylen, "an attachment with a bad name or hash");
            return -1;
        }
        snprintf (out [i].name, sizeof out [i].name, "%s", in [i]->name);
        snprintf (out [i].hash, sizeof out [i].hash, "%s", hash);
        out [i].size = in [i]->size;
    }
    return 0;
}

void sl_attach_to_proto (const sl_attach_t *in, size_t n, Sluice__Attachment *out,
                         Sluice__Attachment **ptrs)
{
    for (size_t i = 0; i < n; i++) {
        Sluice__Attachment init = SLUICE__ATTACHMENT__INIT;
        out [i] = init;
        out [i].name = (char *) in [i].name;
        out [i].hash = (char *) in [i].hash;
        out [i].size = in [i].size;
        ptrs [i] = &out [i];
    }
}

int sl_durable_job_tasks (sl_journal_t *journal, sl_job_t *job, Sluice__Task **tasks, size_t n,
                          char *err, size_t errlen)
{
    char *then [SL_MAX_STAGES];
    Sluice__Attachment attach [SL_MAX_ATTACHMENTS];
    Sluice__Attachment *attach_ptrs [SL_MAX_ATTACHMENTS];
    size_t nattach;
    const sl_attach_t *list = sl_job_attachments (job, &nattach);
    sl_attach_to_proto (list, nattach, attach, attach_ptrs);
    Sluice__TaskBatch batch = SLUICE__TASK_BATCH__INIT;
    batch.attachments = attach_ptrs;
    batch.n_attachments = nattach;
    batch.job = (char *) sl_job_id (job);
    batch.tasks = tasks;
    batch.n_tasks = n;
    batch.queue = (char *) s_job_queues (job, then, &batch.n_then);
    batch.then = then;
    return sl_durable_append (journal, SL_REC_TASKS, &batch.base, err, errlen);
}

int sl_durable_tasks (sl_journal_t *journal, const char *job, Sluice__Task **tasks, size_t n,
                      char *err, size_t errlen)
{
    Sluice__TaskBatch batch = SLUICE__TASK_BATCH__INIT;
    batch.job = (char *) job;
    batch.tasks = tasks;
    batch.n_tasks = n;
    return sl_durable_append (journal, SL_REC_TASKS, &batch.base, err, errlen);
}

int sl_durable_advanced (sl_journal_t *journal, sl_task_t **tasks, size_t n, char *err,
                         size_t errlen)
{
    Sluice__Task *records = calloc (n, sizeof *records);
    Sluice__Task **ptrs = calloc (n, sizeof *ptrs);
    if (!records || !ptrs) {
        free (records);
        free (ptrs);
        snprintf (err, errlen, "out of memory for a journal record");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        Sluice__Task init = SLUICE__TASK__INIT;
        records [i] = init;
        records [i].seq = sl_task_seq (tasks [i]);
        records [i].payload.data = (uint8_t *) sl_task_payload (tasks [i]);
        records [i].payload.len = tasks [i]->payload_size;
        records [i].stage = tasks [i]->stage + 1u;
        ptrs [i] = &records [i];
    }
    int rc = sl_durable_tasks (journal, sl_job_id (sl_task_job (tasks [0])), ptrs, n, err, errlen);
    free (records);
    free (ptrs);
    return rc;
}

int sl_durable_job_end (sl_journal_t *journal, sl_job_t *job, uint64_t total, char *err,
                        size_t errlen)
{
    char *then [SL_MAX_STAGES];
    Sluice__JobEnd end = SLUICE__JOB_END__INIT;
    end.job = (char *) sl_job_id (job);
    end.total = total;
    end.queue = (char *) s_job_queues (job, then, &end.n_then);
    end.then = then;
    return sl_durable_append (journal, SL_REC_END, &end.base, err, errlen);
}

int sl_durable_end (sl_journal_t *journal, const char *job, uint64_t total, char *err,
                    size_t errlen)
{
    Sluice__JobEnd end = SLUICE__JOB_END__INIT;
    end.job = (char *) job;
    end.total = total;
    return sl_durable_append (journal, SL_REC_END, &end.base, err, errlen);
}

//  Appends one ResultBatch record of tasks [0..n).
static int s_results_record (sl_journal_t *journal, sl_task_t **tasks, size_t n, char *err,
                             size_t errlen)
{
    Sluice__Result *results = calloc (n, sizeof *results);
    Sluice__Result **ptrs = calloc (n, sizeof *ptrs);
    char (*ids) [256] = calloc (n, sizeof *ids);
    if (!results || !ptrs || !ids) {
        free (results);
        free (ptrs);
        free (ids);
        snprintf (err, errlen, "out of memory for a journal record");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        sl_durable_result_out (tasks [i], &results [i], ids [i]);
        ptrs [i] = &results [i];
    }
    Sluice__ResultBatch batch = SLUICE__RESULT_BATCH__INIT;
    batch.job = (char *) sl_job_id (sl_task_job (tasks [0]));
    batch.results = ptrs;
    batch.n_results = n;
    int rc = sl_durable_append (journal, SL_REC_RESULTS, &batch.base, err, errlen);
    free (results);
    free (ptrs);
    free (ids);
    return rc;
}

int sl_durable_results (sl_journal_t *journal, sl_task_t **tasks, size_t n, char *err,
                        size_t errlen)
{
    //  Several records when the outputs are large: a record must stay
    //  well under the journal's limit.
    size_t first = 0, bytes = 0;
    for (size_t i = 0; i < n; i++) {
        const sl_result_t *r = sl_task_result (tasks [i]);
        size_t size = r->output_size + r->stderr_size + 256;
        if (i > first && bytes + size > SL_DURABLE_RECORD_BYTES) {
            if (s_results_record (journal, tasks + first, i - first, err, errlen))
                return -1;
            first = i;
            bytes = 0;
        }
        bytes += size;
    }
    return n > first ? s_results_record (journal, tasks + first, n - first, err, errlen) : 0;
}

int sl_durable_delivered (sl_journal_t *journal, const char *job, const uint64_t *seqs, size_t n,
                          char *err, size_t errlen)
{
    Sluice__Ack ack = SLUICE__ACK__INIT;
    ack.job = (char *) job;
    ack.seqs = (uint64_t *) seqs;
    ack.n_seqs = n;
    return sl_durable_append (journal, SL_REC_DELIVERED, &ack.base, err, errlen);
}

int sl_durable_job_done (sl_journal_t *journal, const char *job, const sl_job_counts_t *counts,
                         int64_t finished_at, const sl_failed_t *failed, char *err, size_t errlen)
{
    Sluice__JobDone done = SLUICE__JOB_DONE__INIT;
    done.job = (char *) job;
    done.total = counts->total;
    done.ok = counts->ok;
    done.failed = counts->failed;
    done.timeout = counts->timeout;
    done.cancelled = counts->cancelled;
    done.finished_at = finished_at;
    if (failed) {
        done.failed_ranges = (uint64_t *) failed->ranges;
        done.n_failed_ranges = 2 * failed->n;
        done.failed_truncated = failed->truncated;
    }
    return sl_durable_append (journal, SL_REC_JOB_DONE, &done.base, err, errlen);
}

//  --- Replay -------------------------------------------------------------------

typedef struct {
    sl_table_t *table;
    sl_durable_done_fn *on_done;
    void *arg;
    char *err;
    size_t errlen;
    sl_cpplan_t *plan; //  which records apply (checkpoint.h)
    uint64_t index;    //  of the record at hand
} replay_t;

void sl_durable_result_out (sl_task_t *task, Sluice__Result *out, char *id)
{
    const sl_result_t *r = sl_task_result (task);
    Sluice__Result init = SLUICE__RESULT__INIT;
    *out = init;
    out->seq = sl_task_seq (task);
    out->status = (Sluice__Status) r->status;
    out->exit_code = r->exit_code;
    out->output.data = (uint8_t *) r->data;
    out->output.len = r->output_size;
    out->stderr_tail.data = (uint8_t *) r->data + r->output_size;
    out->stderr_tail.len = r->stderr_size;
    out->attempts = sl_task_runs (task);
    out->worker = (char *) r->worker;
    out->duration_ms = r->duration_ms;
    out->output_truncated = r->output_truncated;
    if (r->id_size) //  else the default, ""
        out->id = sl_result_id (r, id);
    out->stage = r->stage;
}

void sl_durable_result_in (const Sluice__Result *r, sl_result_in_t *in)
{
    *in = (sl_result_in_t){
        .status = (uint8_t) r->status,
        .exit_code = r->exit_code,
        .duration_ms = r->duration_ms,
        .worker = r->worker,
        .output = r->output.data,
        .output_size = r->output.len,
        .err = r->stderr_tail.data,
        .err_size = r->stderr_tail.len,
        .output_truncated = r->output_truncated,
        .id = r->id,
        .stage = (uint8_t) (r->stage > 255 ? 255 : r->stage),
    };
}

//  self->err holds why the record could not be decoded: say which.
static int s_undecodable (replay_t *self, uint8_t type, uint64_t segment)
{
    char why [256];
    snprintf (why, sizeof why, "%s", self->err);
    snprintf (self->err, self->errlen,
              "journal record of type %u in segment %llu cannot be decoded: %s (written by a "
              "newer sluice?)",
              type, (unsigned long long) segment, why);
    return -1;
}

//  The records, one function each: 0, or -1 if undecodable.
static int s_replay_tasks (replay_t *self, const uint8_t *data, size_t size)
{
    Sluice__TaskBatch *batch = (Sluice__TaskBatch *) sl_proto_unpack (
        &sluice__task_batch__descriptor, data, size, self->err, self->errlen);
    if (!batch)
        return -1;
    if (!sl_table_job (self->table, batch->job))
        sl_table_job_make_stages (self->table, batch->job, batch->queue, batch->then,
                                  batch->n_then);
    sl_attach_t attach [SL_MAX_ATTACHMENTS];
    char why [128];
    sl_job_t *made = sl_table_job (self->table, batch->job);
    if (made && batch->n_attachments &&
        sl_attach_from_proto (batch->attachments, batch->n_attachments, attach, why, sizeof why) ==
            0)
        sl_job_set_attachments (made, attach, batch->n_attachments);
    for (size_t i = 0; i < batch->n_tasks; i++) {
        Sluice__Task *t = batch->tasks [i];
        if (t->stage > 1) {
            sl_table_restore_advance (self->table, batch->job, t->seq, t->stage - 1,
                                      t->payload.data, t->payload.len);
            continue;
        }
        sl_task_in_t in = {
            .payload = t->payload.data,
            .size = t->payload.len,
            .timeout_ms = t->timeout_ms,
            .retries = (uint8_t) (t->retries > 100 ? 100 : t->retries),
            .priority = t->priority,
            .id = t->id,
        };
        sl_table_submit_task (self->table, batch->job, t->seq, &in);
    }
    sl_proto_release (&batch);
    return 0;
}

static int s_replay_end (replay_t *self, const uint8_t *data, size_t size)
{
    Sluice__JobEnd *end = (Sluice__JobEnd *) sl_proto_unpack (&sluice__job_end__descriptor, data,
                                                              size, self->err, self->errlen);
    if (!end)
        return -1;
    if (!sl_table_job (self->table, end->job))
        sl_table_job_make_stages (self->table, end->job, end->queue, end->then, end->n_then);
    sl_table_end (self->table, end->job, end->total);
    sl_proto_release (&end);
    return 0;
}

static int s_replay_results (replay_t *self, const uint8_t *data, size_t size)
{
    Sluice__ResultBatch *batch = (Sluice__ResultBatch *) sl_proto_unpack (
        &sluice__result_batch__descriptor, data, size, self->err, self->errlen);
    if (!batch)
        return -1;
    for (size_t i = 0; i < batch->n_results; i++) {
        sl_result_in_t in;
        sl_durable_result_in (batch->results [i], &in);
        sl_table_restore_result (self->table, batch->job, batch->results [i]->seq, &in,
                                 batch->results [i]->attempts);
    }
    sl_proto_release (&batch);
    return 0;
}

static int s_replay_delivered (replay_t *self, const uint8_t *data, size_t size)
{
    Sluice__Ack *ack = (Sluice__Ack *) sl_proto_unpack (&sluice__ack__descriptor, data, size,
                                                        self->err, self->errlen);
    if (!ack)
        return -1;
    for (size_t i = 0; i < ack->n_seqs; i++)
        sl_table_restore_delivered (self->table, ack->job, ack->seqs [i]);
    sl_proto_release (&ack);
    return 0;
}

static int s_replay_done (replay_t *self, const uint8_t *data, size_t size)
{
    Sluice__JobDone *done = (Sluice__JobDone *) sl_proto_unpack (
        &sluice__job_done__descriptor, data, size, self->err, self->errlen);
    if (!done)
        return -1;
    sl_job_t *job = sl_table_job (self->table, done->job);
    sl_job_counts_t counts = { 0 };
    if (job) {
        counts = *sl_job_counts (job);
        sl_table_retire (self->table, job);
    }
    counts.total = done->total;
    counts.total_known = true;
    counts.received = counts.delivered = counts.done = done->total;
    counts.ok = done->ok;
    counts.failed = done->failed;
    counts.timeout = done->timeout;
    counts.cancelled = done->cancelled;
    sl_failed_t failed = { done->failed_ranges, done->n_failed_ranges / 2, done->failed_truncated };
    if (self->on_done)
        self->on_done (done->job, &counts, done->finished_at, &failed, self->arg);
    sl_proto_release (&done);
    return 0;
}

static int s_replay_checkpoint_end (replay_t *self, const uint8_t *data, size_t size)
{
    Sluice__Checkpoint *cp = (Sluice__Checkpoint *) sl_proto_unpack (
        &sluice__checkpoint__descriptor, data, size, self->err, self->errlen);
    if (!cp)
        return -1;
    for (size_t i = 0; i < cp->n_counts; i++) {
        Sluice__JobDone *c = cp->counts [i];
        sl_table_restore_counts (self->table, c->job, c->ok, c->failed, c->timeout, c->cancelled);
    }
    sl_proto_release (&cp);
    return 0;
}

static int s_replay_record (uint8_t type, const uint8_t *data, size_t size, uint64_t segment,
                            void *arg)
{
    replay_t *self = (replay_t *) arg;
    sl_table_set_tag (self->table, segment);
    int rc;
    switch (type) {
        case SL_REC_TASKS:
            rc = s_replay_tasks (self, data, size);
            break;
        case SL_REC_END:
            rc = s_replay_end (self, data, size);
            break;
        case SL_REC_RESULTS:
            rc = s_replay_results (self, data, size);
            break;
        case SL_REC_DELIVERED:
            rc = s_replay_delivered (self, data, size);
            break;
        case SL_REC_JOB_DONE:
            rc = s_replay_done (self, data, size);
            break;
        case SL_REC_CHECKPOINT_END:
            rc = s_replay_checkpoint_end (self, data, size);
            break;
        case SL_REC_CHECKPOINT:
        case SL_REC_CHECKPOINT_ABORT:
            return 0; //  markers: the plan read them
        default:
            snprintf (self->err, self->errlen,
                      "journal record of unknown type %u in segment %llu (written by a newer "
                      "sluice?)",
                      type, (unsigned long long) segment);
            return -1;
    }
    return rc ? s_undecodable (self, type, segment) : 0;
}

//  First pass: every record into the table, and its type to the plan.
static int s_first_pass (uint8_t type, const uint8_t *data, size_t size, uint64_t segment,
                         void *arg)
{
    replay_t *self = (replay_t *) arg;
    uint64_t id = 0;
    if (type == SL_REC_CHECKPOINT || type == SL_REC_CHECKPOINT_END ||
        type == SL_REC_CHECKPOINT_ABORT) {
        Sluice__Checkpoint *cp = (Sluice__Checkpoint *) sl_proto_unpack (
            &sluice__checkpoint__descriptor, data, size, self->err, self->errlen);
        if (!cp)
            return s_undecodable (self, type, segment);
        id = cp->id;
        sl_proto_release (&cp);
    }
    if (sl_cpplan_add (self->plan, type, id)) {
        snprintf (self->err, self->errlen, "out of memory replaying the journal");
        return -1;
    }
    return s_replay_record (type, data, size, segment, arg);
}

//  Second pass: only the records the plan applies.
static int s_second_pass (uint8_t type, const uint8_t *data, size_t size, uint64_t segment,
                          void *arg)
{
    replay_t *self = (replay_t *) arg;
    if (!sl_cpplan_applies (self->plan, self->index++))
        return 0;
    return s_replay_record (type, data, size, segment, arg);
}

int64_t sl_durable_replay (sl_journal_t *journal, sl_table_t *table, sl_durable_done_fn *on_done,
                           void *arg, char *err, size_t errlen)
{
    replay_t self = { table, on_done, arg, err, errlen, sl_cpplan_new (), 0 };
    if (!self.plan) {
        snprintf (err, errlen, "out of memory replaying the journal");
        return -1;
    }
    //  Usually one pass: a journal with no checkpoint, or one that starts
    //  with a complete checkpoint (the history before it deleted).
    int64_t rc = sl_journal_replay (journal, s_first_pass, &self, err, errlen);
    if (rc >= 0 && !sl_cpplan_simple (self.plan)) {
        //  History before the last checkpoint, or one a crash left
        //  unfinished: again, from the table's last complete picture.
        sl_job_t *job;
        while ((job = sl_table_job_first (table)))
            sl_table_retire (table, job);
        if (sl_journal_scan (journal, 1, s_second_pass, &self, err, errlen) < 0)
            rc = -1;
    }
    uint64_t open = sl_cpplan_open (self.plan);
    if (rc >= 0 && open && sl_checkpoint_abort (journal, open, err, errlen))
        rc = -1;
    sl_cpplan_destroy (&self.plan);
    //  Results restored from the journal need not be journaled again.
    while (sl_table_pop_completed (table))
        ;
    return rc;
}

int64_t sl_durable_follow (sl_journal_t *journal, sl_table_t *table, sl_durable_done_fn *on_done,
                           void *arg, char *err, size_t errlen)
{
    replay_t self = { table, on_done, arg, err, errlen, NULL, 0 };
    int64_t rc = sl_journal_follow (journal, s_replay_record, &self, err, errlen);
    while (sl_table_pop_completed (table))
        ;
    return rc;
}

int64_t sl_durable_apply (sl_journal_t *journal, uint64_t from, sl_table_t *table, char *err,
                          size_t errlen)
{
    replay_t self = { table, NULL, NULL, err, errlen, NULL, 0 };
    int64_t rc = sl_journal_scan (journal, from, s_replay_record, &self, err, errlen);
    while (sl_table_pop_completed (table))
        ;
    return rc;
}

typedef struct {
    const char *job;
    sl_durable_result_fn *fn;
    void *arg;
} scan_t;

static int s_scan_record (uint8_t type, const uint8_t *data, size_t size, uint64_t segment,
                          void *arg)
{
    (void) segment;
    scan_t *self = (scan_t *) arg;
    if (type != SL_REC_RESULTS)
        return 0;
    char why [256];
    Sluice__ResultBatch *batch = (Sluice__ResultBatch *) sl_proto_unpack (
        &sluice__result_batch__descriptor, data, size, why, sizeof why);
    if (!batch)
        return 0; //  replay has said so
    if (strcmp (batch->job, self->job) == 0)
        for (size_t i = 0; i < batch->n_results; i++)
            self->fn (batch->job, batch->results [i], self->arg);
    sl_proto_release (&batch);
    return 0;
}

int64_t sl_durable_scan_results (sl_journal_t *journal, uint64_t from, const char *job,
                                 sl_durable_result_fn *fn, void *arg, char *err, size_t errlen)
{
    scan_t self = { job, fn, arg };
    return sl_journal_scan (journal, from, s_scan_record, &self, err, errlen);
}
