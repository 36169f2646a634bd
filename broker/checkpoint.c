/*  checkpoint - the live state as journal records, see checkpoint.h.

    A job is written in slices of seqs (SLICE tasks at most), each slice as
    a TaskBatch, then its results (whole, or status only once confirmed),
    then its Ack: records stay far below the journal's limit whatever the
    job's size, and each slice is replayed before the next one needs it.
*/
#include "checkpoint.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "durable.h"

#define SLICE 4096 //  tasks per slice of a job

static int s_marker (sl_journal_t *journal, sl_record_type_t type, uint64_t id,
                     Sluice__JobDone **counts, size_t ncounts, char *err, size_t errlen)
{
    Sluice__Checkpoint cp = SLUICE__CHECKPOINT__INIT;
    cp.id = id;
    cp.counts = counts;
    cp.n_counts = ncounts;
    return sl_durable_append (journal, type, &cp.base, err, errlen);
}

int sl_checkpoint_begin (sl_journal_t *journal, uint64_t id, char *err, size_t errlen)
{
    return s_marker (journal, SL_REC_CHECKPOINT, id, NULL, 0, err, errlen);
}

int sl_checkpoint_abort (sl_journal_t *journal, uint64_t id, char *err, size_t errlen)
{
    return s_marker (journal, SL_REC_CHECKPOINT_ABORT, id, NULL, 0, err, errlen);
}

int sl_checkpoint_end (sl_journal_t *journal, sl_table_t *table, uint64_t id, char *err,
                       size_t errlen)
{
    size_t n = sl_table_job_count (table);
    Sluice__JobDone *counts = calloc (n ? n : 1, sizeof *counts);
    Sluice__JobDone **ptrs = calloc (n ? n : 1, sizeof *ptrs);
    int rc = -1;
    if (!counts || !ptrs)
        snprintf (err, errlen, "out of memory for a checkpoint");
    else {
        size_t i = 0;
        for (sl_job_t *job = sl_table_job_first (table); job && i < n;
             job = sl_table_job_next (table), i++) {
            const sl_job_counts_t *c = sl_job_counts (job);
            Sluice__JobDone init = SLUICE__JOB_DONE__INIT;
            counts [i] = init;
            counts [i].job = (char *) sl_job_id (job);
            counts [i].ok = c->ok;
            counts [i].failed = c->failed;
            counts [i].timeout = c->timeout;
            counts [i].cancelled = c->cancelled;
            ptrs [i] = &counts [i];
        }
        rc = s_marker (journal, SL_REC_CHECKPOINT_END, id, ptrs, i, err, errlen);
    }
    free (counts);
    free (ptrs);
    return rc;
}

//  What one slice of a job needs while it is written.
typedef struct {
    sl_task_t *tasks [SLICE];         //  tasks of the slice, in seq order
    size_t ntasks;                    //  in tasks
    Sluice__Task records [2 * SLICE]; //  a task, and its move to a later stage
    Sluice__Task *ptrs [2 * SLICE];
    char ids [SLICE][256];          //  the tasks' ids
    sl_task_t *done [SLICE];        //  tasks with a result held (DONE, SENT)
    uint64_t delivered [SLICE];     //  seqs of tasks DELIVERED
    Sluice__Result results [SLICE]; //  status-only results of those
    Sluice__Result *result_ptrs [SLICE];
} s_slice_t;

//  The task's id: in its payload's tail, or its result's; "" once delivered.
static char *s_task_id (sl_task_t *task, char *buf)
{
    const uint8_t *payload = sl_task_payload (task);
    if (payload) {
        memcpy (buf, payload + task->payload_size, task->id_size);
        buf [task->id_size] = '\0';
        return buf;
    }
    sl_result_t *result = sl_task_result (task);
    if (result)
        return sl_result_id (result, buf);
    buf [0] = '\0';
    return buf;
}

//  The TaskBatch of the slice: a task that went on to a later stage is
//  its first stage's record and its move (as the journal had them).
static int s_slice_tasks (sl_journal_t *journal, sl_job_t *job, s_slice_t *sl, char *err,
                          size_t errlen)
{
    size_t n = 0;
    for (size_t i = 0; i < sl->ntasks; i++) {
        sl_task_t *task = sl->tasks [i];
        const uint8_t *payload = sl_task_payload (task);
        Sluice__Task init = SLUICE__TASK__INIT;
        Sluice__Task *t = &sl->records [n];
        *t = init;
        t->seq = sl_task_seq (task);
        t->payload.data = (uint8_t *) payload;
        t->payload.len = payload ? task->payload_size : 0;
        t->timeout_ms = task->timeout_ms;
        t->retries = task->retries;
        t->priority = sl_task_priority (task);
        t->id = s_task_id (task, sl->ids [i]);
        sl->ptrs [n] = t;
        n++;
        if (payload && task->stage > 0) {
            sl->records [n] = *t;
            sl->records [n].stage = task->stage + 1u;
            sl->ptrs [n] = &sl->records [n];
            n++;
        }
    }
    return sl_durable_job_tasks (journal, job, sl->ptrs, n, err, errlen);
}

//  The results of the slice: held ones whole, confirmed ones by status
//  (the table keeps only whether they were ok), then the confirmations.
static int s_slice_results (sl_journal_t *journal, sl_job_t *job, s_slice_t *sl, char *err,
                            size_t errlen)
{
    size_t ndone = 0, ndelivered = 0;
    for (size_t i = 0; i < sl->ntasks; i++) {
        sl_task_t *task = sl->tasks [i];
        if (sl_task_result (task))
            sl->done [ndone++] = task;
        else if (task->state == SL_TASK_DELIVERED) {
            Sluice__Result init = SLUICE__RESULT__INIT;
            Sluice__Result *r = &sl->results [ndelivered];
            *r = init;
            r->seq = sl_task_seq (task);
            r->status = task->not_ok ? SLUICE__STATUS__STATUS_FAILED : SLUICE__STATUS__STATUS_OK;
            r->attempts = task->attempts;
            sl->result_ptrs [ndelivered] = r;
            sl->delivered [ndelivered++] = sl_task_seq (task);
        }
    }
    if (ndone && sl_durable_results (journal, sl->done, ndone, err, errlen))
        return -1;
    if (!ndelivered)
        return 0;
    Sluice__ResultBatch batch = SLUICE__RESULT_BATCH__INIT;
    batch.job = (char *) sl_job_id (job);
    batch.results = sl->result_ptrs;
    batch.n_results = ndelivered;
    if (sl_durable_append (journal, SL_REC_RESULTS, &batch.base, err, errlen))
        return -1;
    return sl_durable_delivered (journal, sl_job_id (job), sl->delivered, ndelivered, err, errlen);
}

//  Writes job, slice by slice.
static int s_job (sl_journal_t *journal, sl_job_t *job, s_slice_t *sl, char *err, size_t errlen)
{
    uint64_t highest = sl_job_highest (job);
    for (uint64_t first = 1; first <= highest; first += SLICE) {
        sl->ntasks = 0;
        for (uint64_t seq = first; seq < first + SLICE && seq <= highest; seq++) {
            sl_task_t *task = sl_job_task (job, seq);
            if (task)
                sl->tasks [sl->ntasks++] = task;
        }
        if (sl->ntasks && (s_slice_tasks (journal, job, sl, err, errlen) ||
                           s_slice_results (journal, job, sl, err, errlen)))
            return -1;
    }
    const sl_job_counts_t *counts = sl_job_counts (job);
    if (counts->total_known && sl_durable_job_end (journal, job, counts->total, err, errlen))
        return -1;
    if (highest == 0 && !counts->total_known)
        return sl_durable_job_tasks (journal, job, NULL, 0, err, errlen); //  the job itself
    return 0;
}

int sl_checkpoint_jobs (sl_journal_t *journal, sl_table_t *table, char *err, size_t errlen)
{
    s_slice_t *sl = malloc (sizeof *sl);
    if (!sl) {
        snprintf (err, errlen, "out of memory for a checkpoint");
        return -1;
    }
    int rc = 0;
    for (sl_job_t *job = sl_table_job_first (table); job && rc == 0;
         job = sl_table_job_next (table))
        rc = s_job (journal, job, sl, err, errlen);
    free (sl);
    return rc;
}

//  --- The replay plan ---------------------------------------------------------

//  A run of records replay skips: [from, to).
typedef struct {
    uint64_t from, to;
} s_skip_t;

struct _sl_cpplan_t {
    uint64_t records; //  records added
    uint64_t start;   //  begin of the last complete checkpoint
    uint64_t open_id; //  id of the checkpoint begun and not ended, or 0
    uint64_t open_at; //  index of its begin
    s_skip_t *skips;  //  runs of aborted checkpoints after start, and markers
    size_t nskips;    //  in skips
    size_t cap;       //  room in skips
};

sl_cpplan_t *sl_cpplan_new (void)
{
    return calloc (1, sizeof (sl_cpplan_t));
}

void sl_cpplan_destroy (sl_cpplan_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    free ((*self_p)->skips);
    free (*self_p);
    *self_p = NULL;
}

static int s_skip (sl_cpplan_t *self, uint64_t from, uint64_t to)
{
    if (self->nskips == self->cap) {
        size_t cap = self->cap ? 2 * self->cap : 16;
        s_skip_t *more = realloc (self->skips, cap * sizeof *more);
        if (!more)
            return -1;
        self->skips = more;
        self->cap = cap;
    }
    self->skips [self->nskips++] = (s_skip_t){ from, to };
    return 0;
}

int sl_cpplan_add (sl_cpplan_t *self, uint8_t type, uint64_t id)
{
    assert (self);
    uint64_t index = self->records++;
    if (type == SL_REC_CHECKPOINT) {
        //  A begin while one is open: the open one never ended.
        if (self->open_id && s_skip (self, self->open_at, index))
            return -1;
        self->open_id = id ? id : 1;
        self->open_at = index;
    } else if (type == SL_REC_CHECKPOINT_END && self->open_id == (id ? id : 1)) {
        //  Complete: everything before it is history.
        self->start = self->open_at;
        self->nskips = 0;
        self->open_id = 0;
        return s_skip (self, self->start, self->start + 1); //  its begin
    } else if (type == SL_REC_CHECKPOINT_ABORT || type == SL_REC_CHECKPOINT_END) {
        if (self->open_id && s_skip (self, self->open_at, index))
            return -1;
        self->open_id = 0;
        return s_skip (self, index, index + 1);
    }
    return 0;
}

bool sl_cpplan_applies (sl_cpplan_t *self, uint64_t index)
{
    assert (self);
    if (index < self->start)
        return false;
    if (self->open_id && index >= self->open_at)
        return false; //  a checkpoint left open by a crash
    for (size_t i = 0; i < self->nskips; i++)
        if (index >= self->skips [i].from && index < self->skips [i].to)
            return false;
    return true;
}

uint64_t sl_cpplan_start (sl_cpplan_t *self)
{
    assert (self);
    return self->start;
}

bool sl_cpplan_simple (sl_cpplan_t *self)
{
    assert (self);
    if (self->start > 0 || self->open_id)
        return false;
    for (size_t i = 0; i < self->nskips; i++)
        if (self->skips [i].to - self->skips [i].from > 1)
            return false;
    return true;
}

uint64_t sl_cpplan_open (sl_cpplan_t *self)
{
    assert (self);
    return self->open_id;
}
