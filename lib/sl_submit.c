/*  sl_submit - the submit core, see sl_submit.h.

    The only place that builds a Sluice__Task, a TaskBatch or a JobEnd,
    and the only place that decides from the broker's JobState what to
    send again.
*/
#include "sl_submit.h"

#include <stdarg.h>
#include <string.h>

#include "sl_log.h"

typedef enum {
    PHASE_QUERY,    //  first JobQuery: what does the broker hold already?
    PHASE_PASS,     //  uploads, then a pass of task batches and the JobEnd
    PHASE_CONFIRM,  //  asking until the broker holds every task
    PHASE_HELD,     //  the broker holds the whole job durably
    PHASE_FINISHED, //  it was finished before we sent anything
    PHASE_FAILED    //  given up
} phase_t;

typedef enum {
    PASS_FIRST,   //  the whole job
    PASS_LACKED,  //  what a broker that knew the job lacked
    PASS_RESENT   //  what was lost on the way
} pass_kind_t;

struct _sl_submit_t {
    sl_submit_config_t config; //  the caller's (borrowed strings)
    phase_t phase;
    char error [1024];         //  why it failed
    uint64_t total;            //  tasks in the job, 0 = not known yet
    //  The pass
    pass_kind_t kind;          //  what it sends (for the log)
    uint64_t *ranges;          //  seqs it sends (first, last pairs), NULL = all
    size_t nranges;            //  pairs at ranges
    size_t at;                 //  range reached
    uint64_t pos;              //  last seq sl_submit_next returned
    uint64_t had;              //  tasks the broker held when it began
    int uploads [64];          //  attachments to upload first (indexes)
    size_t nuploads, upload_at;
    //  Confirming
    int64_t next_query;        //  when to ask next (ms)
    bool asked_missing;        //  the last query asked for the missing seqs
    bool restarted;            //  the broker restarted since the last query
    uint64_t last_received;    //  tasks held at the last answer that moved
    uint64_t last_partial;     //  attachment bytes held then
    int64_t last_progress;     //  when that was (ms)
    int attach_resent;         //  times the missing attachments went again
    //  The batch under way: payloads and ids in the arena
    Sluice__Task tasks [SL_SUBMIT_BATCH_TASKS];
    Sluice__Task *ptrs [SL_SUBMIT_BATCH_TASKS];
    size_t payload_at [SL_SUBMIT_BATCH_TASKS];
    size_t id_at [SL_SUBMIT_BATCH_TASKS]; //  SIZE_MAX: no id
    size_t ntasks;
    uint8_t *arena;
    size_t used, cap;
};

sl_submit_t *sl_submit_new (const sl_submit_config_t *config)
{
    sl_submit_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    if (self->config.nattach > sizeof self->uploads / sizeof self->uploads [0])
        self->config.nattach = sizeof self->uploads / sizeof self->uploads [0];
    self->total = config->tasks;
    self->phase = PHASE_QUERY;
    return self;
}

void sl_submit_destroy (sl_submit_t **self_p)
{
    if (self_p && *self_p) {
        sl_submit_t *self = *self_p;
        free (self->ranges);
        free (self->arena);
        free (self);
        *self_p = NULL;
    }
}

void sl_submit_fail (sl_submit_t *self, const char *format, ...)
{
    if (self->phase == PHASE_FAILED)
        return; //  the first reason is the one
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof self->error, format, args);
    va_end (args);
    self->phase = PHASE_FAILED;
}

//  --- The pass -----------------------------------------------------------------

//  The index of the attachment with this hash, or -1 if not ours.
static int s_attachment (sl_submit_t *self, const char *hash)
{
    for (size_t i = 0; i < self->config.nattach; i++)
        if (streq (self->config.attachments [i]->hash, hash))
            return (int) i;
    return -1;
}

//  Queues the upload of the attachments the broker lists as missing.
static void s_uploads (sl_submit_t *self, char *const *hashes, size_t n)
{
    self->nuploads = self->upload_at = 0;
    for (size_t i = 0; i < n && self->nuploads < self->config.nattach; i++) {
        int index = s_attachment (self, hashes [i]);
        if (index >= 0)
            self->uploads [self->nuploads++] = index;
    }
}

//  Starts a pass over the seqs in ranges (nranges pairs; NULL = all).
static void s_start_pass (sl_submit_t *self, pass_kind_t kind, const uint64_t *ranges,
                          size_t nranges, uint64_t had)
{
    free (self->ranges);
    self->ranges = NULL;
    self->nranges = self->at = 0;
    self->pos = 0;
    if (ranges && nranges) {
        self->ranges = malloc (2 * nranges * sizeof *ranges);
        if (!self->ranges) {
            sl_submit_fail (self, "out of memory");
            return;
        }
        memcpy (self->ranges, ranges, 2 * nranges * sizeof *ranges);
        self->nranges = nranges;
    }
    self->kind = kind;
    self->had = had;
    self->phase = PHASE_PASS;
}

int sl_submit_upload_next (sl_submit_t *self)
{
    if (self->phase == PHASE_FAILED || self->upload_at == self->nuploads)
        return -1;
    return self->uploads [self->upload_at++];
}

bool sl_submit_passing (const sl_submit_t *self)
{
    return self->phase == PHASE_PASS;
}

bool sl_submit_wanted (sl_submit_t *self, uint64_t seq)
{
    if (!self->ranges)
        return true;
    while (self->at < self->nranges && self->ranges [2 * self->at + 1] < seq)
        self->at++;
    return self->at < self->nranges && self->ranges [2 * self->at] <= seq;
}

uint64_t sl_submit_next (sl_submit_t *self)
{
    uint64_t seq = self->pos + 1;
    if (self->ranges) {
        while (self->at < self->nranges && self->ranges [2 * self->at + 1] < seq)
            self->at++;
        if (self->at == self->nranges)
            return 0;
        if (seq < self->ranges [2 * self->at])
            seq = self->ranges [2 * self->at];
    }
    if (seq == 0 || seq > self->total)
        return 0;
    self->pos = seq;
    return seq;
}

//  Makes room for size more bytes in the arena. 0, or -1 if out of memory.
static int s_reserve (sl_submit_t *self, size_t size)
{
    if (self->used + size <= self->cap)
        return 0;
    size_t cap = self->cap ? 2 * self->cap : 2 * SL_SUBMIT_BATCH_BYTES;
    while (cap < self->used + size)
        cap *= 2;
    uint8_t *grown = realloc (self->arena, cap);
    if (!grown)
        return -1;
    self->arena = grown;
    self->cap = cap;
    return 0;
}

int sl_submit_add (sl_submit_t *self, const sl_submit_task_t *task)
{
    size_t id_len = task->id && task->id [0] ? strlen (task->id) + 1 : 0;
    if (self->used + task->size + id_len > self->cap && s_reserve (self, task->size + id_len))
        return -1;
    static const Sluice__Task init = SLUICE__TASK__INIT;
    size_t n = self->ntasks;
    Sluice__Task *t = &self->tasks [n];
    *t = init;
    t->seq = task->seq;
    t->payload.len = task->size;
    t->timeout_ms = task->has_timeout ? task->timeout_ms : self->config.timeout_ms;
    t->retries = task->has_retries ? task->retries : self->config.retries;
    t->priority = task->has_priority ? task->priority : self->config.priority;
    self->payload_at [n] = self->used;
    if (task->size)
        memcpy (self->arena + self->used, task->payload, task->size);
    self->used += task->size;
    self->id_at [n] = id_len ? self->used : SIZE_MAX;
    if (id_len)
        memcpy (self->arena + self->used, task->id, id_len);
    self->used += id_len;
    self->ptrs [n] = t;
    self->ntasks++;
    return self->ntasks == SL_SUBMIT_BATCH_TASKS || self->used >= SL_SUBMIT_BATCH_BYTES;
}

size_t sl_submit_batched (const sl_submit_t *self)
{
    return self->ntasks;
}

zframe_t *sl_submit_batch (sl_submit_t *self)
{
    if (!self->ntasks)
        return NULL;
    //  Pointers into the arena only now: it may have moved while filling.
    for (size_t i = 0; i < self->ntasks; i++) {
        self->tasks [i].payload.data = self->arena + self->payload_at [i];
        if (self->id_at [i] != SIZE_MAX)
            self->tasks [i].id = (char *) self->arena + self->id_at [i];
    }
    Sluice__TaskBatch batch = SLUICE__TASK_BATCH__INIT;
    batch.job = (char *) self->config.job;
    batch.tasks = self->ptrs;
    batch.n_tasks = self->ntasks;
    batch.queue = (char *) self->config.queue;
    batch.then = self->config.then;
    batch.n_then = self->config.nthen;
    batch.attachments = self->config.attachments;
    batch.n_attachments = self->config.nattach;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_TASKS;
    env.tasks = &batch;
    self->ntasks = 0;
    self->used = 0;
    return sl_proto_encode (&env);
}

zframe_t *sl_submit_pass_end (sl_submit_t *self, uint64_t total, uint64_t sent, int64_t now)
{
    if (self->kind == PASS_LACKED)
        sl_info ("job %s: the broker had %llu of its tasks; sent the %llu it lacked",
                 self->config.job, (unsigned long long) self->had, (unsigned long long) sent);
    else if (self->kind == PASS_RESENT)
        sl_info ("job %s: the broker holds %llu of %llu tasks; sent %llu again", self->config.job,
                 (unsigned long long) self->had, (unsigned long long) total,
                 (unsigned long long) sent);
    self->total = total;
    if (self->phase == PHASE_PASS)
        self->phase = PHASE_CONFIRM;
    self->last_progress = now;
    self->next_query = now;
    Sluice__JobEnd end = SLUICE__JOB_END__INIT;
    end.job = (char *) self->config.job;
    end.total = total;
    end.queue = (char *) self->config.queue;
    end.then = self->config.then;
    end.n_then = self->config.nthen;
    end.attachments = self->config.attachments;
    end.n_attachments = self->config.nattach;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_JOB_END;
    env.job_end = &end;
    return sl_proto_encode (&env);
}

//  --- The broker's answers ------------------------------------------------------

//  The answer to the first query: what to send.
static void s_first (sl_submit_t *self, const Sluice__JobState *state, int64_t now)
{
    const char *job = self->config.job;
    if (state->error [0]) {
        sl_submit_fail (self, "the broker cannot take job %s now: %s", job, state->error);
        return;
    }
    if (state->known && state->finished) {
        self->total = state->total;
        self->phase = PHASE_FINISHED;
        return;
    }
    //  A job the broker knows whole: only what it lacks.
    bool partial = state->known && state->total > 0;
    if (partial && self->config.tasks && state->total != self->config.tasks) {
        sl_submit_fail (self, "the broker holds job %s with %llu tasks, not %llu", job,
                        (unsigned long long) state->total,
                        (unsigned long long) self->config.tasks);
        return;
    }
    s_start_pass (self, partial ? PASS_LACKED : PASS_FIRST, partial ? state->missing : NULL,
                  partial ? state->n_missing / 2 : 0, state->received);
    //  Attachments go first, so that they are whole before workers ask.
    if (state->known)
        s_uploads (self, state->attachments_missing, state->n_attachments_missing);
    else
        for (size_t i = 0; i < self->config.nattach; i++)
            self->uploads [self->nuploads++] = (int) i;
    self->last_progress = now;
}

//  The broker still lacks an attachment after it was sent
//  SL_SUBMIT_ATTACH_TRIES times more: says which, and why if it knows.
static void s_attach_failed (sl_submit_t *self, const Sluice__JobState *state)
{
    const char *hash = state->attachments_missing [0];
    int i = s_attachment (self, hash);
    char what [4200];
    if (i >= 0)
        snprintf (what, sizeof what, "%s (%s, %llu bytes)", self->config.attachments [i]->name,
                  self->config.attach_paths ? self->config.attach_paths [i] : hash,
                  (unsigned long long) self->config.attachments [i]->size);
    else
        snprintf (what, sizeof what, "%s", hash);
    sl_submit_fail (self,
                    "the broker does not hold attachment %.300s after %d tries: %.300s; its "
                    "tasks wait for it. Once the broker can store it, run the same command "
                    "again with --job %.64s: it sends only what the broker lacks",
                    what, 1 + SL_SUBMIT_ATTACH_TRIES,
                    state->attachments_error [0] ? state->attachments_error
                                                 : "it did not arrive whole",
                    self->config.job);
}

//  No progress although the last query asked what is missing: sends it
//  again, the attachments first.
static void s_stalled (sl_submit_t *self, const Sluice__JobState *state, int64_t now)
{
    if (state->n_attachments_missing && self->attach_resent == SL_SUBMIT_ATTACH_TRIES) {
        s_attach_failed (self, state);
        return;
    }
    if (state->n_attachments_missing) {
        //  An attachment lost on the way, or one the broker could not
        //  store (it removed what it had): again, then the tasks.
        if (state->attachments_error [0])
            sl_warn ("job %s: the broker could not store an attachment (%s); sending it again",
                     self->config.job, state->attachments_error);
        s_uploads (self, state->attachments_missing, state->n_attachments_missing);
        self->attach_resent++;
        self->last_progress = now;
        return;
    }
    //  Lost on the way (a broker that restarted, say): send again.
    bool listed = state->known && state->total;
    s_start_pass (self, PASS_RESENT, listed ? state->missing : NULL,
                  listed ? state->n_missing / 2 : 0, state->received);
    self->last_progress = now;
}

//  An answer while confirming: held, progress, or a stall.
static void s_confirm (sl_submit_t *self, const Sluice__JobState *state, int64_t now)
{
    if (state->error [0])
        sl_submit_fail (self, "the broker stopped taking tasks of job %s: %s", self->config.job,
                        state->error);
    else if (state->finished || (state->total == self->total && state->received == self->total &&
                                 state->n_attachments_missing == 0)) {
        //  Every task, and every attachment whole and synced (a job whose
        //  files never arrive would wait for ever).
        self->phase = PHASE_HELD;
        sl_info ("job %s: the broker holds all %llu tasks%s", self->config.job,
                 (unsigned long long) self->total,
                 self->config.nattach ? " and their attachments" : "");
    } else if (state->received != self->last_received || state->throttled ||
               state->attachments_partial != self->last_partial) {
        //  Progress, or none because the broker pauses its intake at its
        //  memory limit (what was sent is still on its way).
        self->last_received = state->received;
        self->last_partial = state->attachments_partial;
        self->last_progress = now;
    } else if (self->asked_missing)
        s_stalled (self, state, now);
}

void sl_submit_state (sl_submit_t *self, const Sluice__JobState *state, int64_t now)
{
    if (!state->job || !streq (state->job, self->config.job))
        return;
    if (self->phase == PHASE_QUERY)
        s_first (self, state, now);
    else if (self->phase == PHASE_CONFIRM)
        s_confirm (self, state, now);
}

void sl_submit_restarted (sl_submit_t *self)
{
    self->restarted = true;
}

bool sl_submit_query (sl_submit_t *self, int64_t now, Sluice__JobQuery *query)
{
    if ((self->phase != PHASE_QUERY && self->phase != PHASE_CONFIRM) || now < self->next_query)
        return false;
    Sluice__JobQuery init = SLUICE__JOB_QUERY__INIT;
    *query = init;
    query->job = (char *) self->config.job;
    //  The missing seqs cost the broker a scan of the job: asked for only
    //  at first and when progress stalls.
    query->want_missing = self->phase == PHASE_QUERY || self->restarted ||
                          now - self->last_progress > SL_SUBMIT_STALL_MS;
    self->asked_missing = query->want_missing;
    self->restarted = false;
    self->next_query = now + SL_SUBMIT_QUERY_MS;
    return true;
}

int64_t sl_submit_next_wake (const sl_submit_t *self)
{
    if (self->phase != PHASE_QUERY && self->phase != PHASE_CONFIRM)
        return INT64_MAX;
    return self->next_query;
}

//  --- State ------------------------------------------------------------------------

sl_submit_status_t sl_submit_status (const sl_submit_t *self)
{
    switch (self->phase) {
        case PHASE_HELD:
            return SL_SUBMIT_HELD;
        case PHASE_FINISHED:
            return SL_SUBMIT_FINISHED;
        case PHASE_FAILED:
            return SL_SUBMIT_FAILED;
        default:
            return SL_SUBMIT_RUNNING;
    }
}

const char *sl_submit_error (const sl_submit_t *self)
{
    return self->error;
}

uint64_t sl_submit_total (const sl_submit_t *self)
{
    return self->total;
}
