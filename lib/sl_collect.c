/*  sl_collect - the collect core, see sl_collect.h.  */
#include "sl_collect.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

struct _sl_collect_t {
    char *only [SL_COLLECT_MAX_JOBS]; //  config.job and .more copied
    size_t nonly;                     //  how many; 0 = every job
    bool keep_order;                  //  config.keep_order
    zhashx_t *jobs;                   //  id -> sl_cjob_t
    bool named;                       //  some job was named
    bool hello_changed;               //  the jobs (or their done) changed since last asked
    uint64_t parked_acked;            //  parked results acknowledged ahead of their turn
    uint64_t duplicates, late, held;
    size_t held_max;
};

static void s_job_free (void **item_p)
{
    sl_cjob_t *job = (sl_cjob_t *) *item_p;
    if (job) {
        sl_seen_destroy (&job->written);
        sl_seen_destroy (&job->handing);
        sl_order_destroy (&job->order);
        free (job->acks);
        free (job);
        *item_p = NULL;
    }
}

sl_collect_t *sl_collect_new (const sl_collect_config_t *config)
{
    sl_collect_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->keep_order = config->keep_order;
    bool copied = true;
    if (config->job)
        copied &= (self->only [self->nonly++] = strdup (config->job)) != NULL;
    for (size_t i = 0; config->job && i < config->nmore && self->nonly < SL_COLLECT_MAX_JOBS; i++)
        copied &= (self->only [self->nonly++] = strdup (config->more [i])) != NULL;
    self->jobs = zhashx_new ();
    if (!self->jobs || !copied) {
        sl_collect_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->jobs, s_job_free);
    return self;
}

void sl_collect_destroy (sl_collect_t **self_p)
{
    if (self_p && *self_p) {
        sl_collect_t *self = *self_p;
        zhashx_destroy (&self->jobs);
        for (size_t i = 0; i < self->nonly; i++)
            free (self->only [i]);
        free (self);
        *self_p = NULL;
    }
}

static bool s_ours (sl_collect_t *self, const char *id)
{
    if (self->nonly == 0)
        return true;
    for (size_t i = 0; i < self->nonly; i++)
        if (self->only [i] && streq (self->only [i], id))
            return true;
    return false;
}

//  The job id, made if new (order: with keep_order or when asked).
static sl_cjob_t *s_job (sl_collect_t *self, const char *id, bool order, int64_t now)
{
    sl_cjob_t *job = (sl_cjob_t *) zhashx_lookup (self->jobs, id);
    if (!job) {
        job = calloc (1, sizeof *job);
        if (!job)
            return NULL;
        snprintf (job->id, sizeof job->id, "%s", id);
        job->written = sl_seen_new ();
        job->handing = sl_seen_new ();
        job->last_new = now;
        if (!job->written || !job->handing) {
            void *item = job;
            s_job_free (&item);
            return NULL;
        }
        zhashx_insert (self->jobs, id, job);
        self->named = true;
        self->hello_changed = true;
    }
    if ((order || self->keep_order) && !job->order)
        job->order = sl_order_new ();
    return (order || self->keep_order) && !job->order ? NULL : job;
}

sl_cjob_t *sl_collect_job (sl_collect_t *self, const char *id, int64_t now)
{
    return s_ours (self, id) ? s_job (self, id, false, now) : NULL;
}

void sl_collect_welcome (sl_collect_t *self, const Sluice__Welcome *welcome, int64_t now)
{
    for (size_t i = 0; i < welcome->n_jobs; i++)
        sl_collect_job (self, welcome->jobs [i], now);
}

void sl_collect_attached (sl_collect_t *self, const Sluice__Welcome *welcome, int64_t now)
{
    sl_collect_welcome (self, welcome, now);
    for (sl_cjob_t *job = sl_collect_first (self); job; job = sl_collect_next (self))
        job->last_new = now;
}

sl_cjob_t *sl_collect_expect (sl_collect_t *self, const char *id, uint64_t n, int64_t now)
{
    sl_cjob_t *job = n ? sl_collect_job (self, id, now) : NULL;
    if (job) {
        job->limit = n;
        job->total = n;
    }
    return job;
}

static void s_ack (sl_cjob_t *job, uint64_t seq)
{
    if (job->nacks == job->acks_cap) {
        size_t cap = job->acks_cap ? 2 * job->acks_cap : 256;
        uint64_t *grown = realloc (job->acks, cap * sizeof *grown);
        if (!grown)
            return; //  not acknowledged: the broker sends it again, acknowledged then
        job->acks = grown;
        job->acks_cap = cap;
    }
    job->acks [job->nacks++] = seq;
}

//  A result delivered before: acknowledged again if it was.
static bool s_duplicate (sl_collect_t *self, sl_cjob_t *job, uint64_t seq)
{
    if (sl_seen_has (job->written, seq))
        s_ack (job, seq); //  written: confirm it again
    else if (job->order && sl_order_lookup (job->order, seq)) {
        if (sl_order_lookup (job->order, seq)->acked)
            s_ack (job, seq); //  parked, not written yet: confirmed only if it was already
    } else if (!sl_seen_has (job->handing, seq))
        return false;
    self->duplicates++;
    return true;
}

sl_collect_verdict_t sl_collect_offer (sl_collect_t *self, const char *id, uint64_t seq,
                                       int64_t now, sl_cjob_t **job_p)
{
    sl_cjob_t *job = *job_p = sl_collect_job (self, id, now);
    if (!job)
        return SL_COLLECT_FOREIGN;
    if (seq == 0 || seq > (job->limit ? job->limit : SL_SEEN_MAX_SEQ))
        return SL_COLLECT_OUT_OF_RANGE;
    if (s_duplicate (self, job, seq))
        return SL_COLLECT_DUPLICATE;
    job->last_new = now;
    if (self->keep_order) {
        uint64_t next = sl_order_next (job->order, job->written);
        if (seq > next)
            return SL_COLLECT_PARK;
        if (seq < next) {
            self->late++;
            sl_seen_add (job->handing, seq);
            return SL_COLLECT_LATE;
        }
    }
    //  -1 (out of memory) is not tracked: a duplicate later beats a loss.
    sl_seen_add (job->handing, seq);
    return SL_COLLECT_WRITE;
}

void sl_collect_drop (sl_collect_t *self, sl_cjob_t *job, uint64_t seq)
{
    (void) self;
    sl_seen_remove (job->handing, seq);
}

int sl_collect_park (sl_collect_t *self, sl_cjob_t *job, sl_parked_t **parked_p)
{
    if (!job->order || sl_order_park (job->order, parked_p))
        return -1;
    self->held++;
    if (sl_order_size (job->order) > self->held_max)
        self->held_max = sl_order_size (job->order);
    return 0;
}

//  Marks seq of job written and counts it; if ack, queues its ack.
static void s_written (sl_cjob_t *job, uint64_t seq, int status, bool ack)
{
    sl_seen_remove (job->handing, seq);
    sl_seen_add (job->written, seq);
    if (status != SLUICE__STATUS__STATUS_OK)
        job->failed++;
    job->nwritten++;
    if (ack)
        s_ack (job, seq);
}

int sl_collect_written (sl_collect_t *self, sl_cjob_t *job, uint64_t seq, int status, bool ack)
{
    (void) self;
    if (seq == 0 || seq > SL_SEEN_MAX_SEQ || !sl_seen_has (job->handing, seq))
        return -1;
    s_written (job, seq, status, ack);
    return 0;
}

void sl_collect_written_parked (sl_collect_t *self, sl_cjob_t *job, const sl_parked_t *parked)
{
    if (parked->acked && self->parked_acked)
        self->parked_acked--;
    s_written (job, parked->seq, parked->status, !parked->acked);
}

sl_parked_t *sl_collect_pop_ready (sl_collect_t *self, sl_cjob_t *job)
{
    (void) self;
    return job->order ? sl_order_pop_ready (job->order, job->written) : NULL;
}

sl_parked_t **sl_collect_take_parked (sl_collect_t *self, sl_cjob_t *job, size_t *count_p)
{
    (void) self;
    *count_p = 0;
    return job->order ? sl_order_take_all (job->order, count_p) : NULL;
}

sl_cjob_t *sl_collect_job_done (sl_collect_t *self, const Sluice__JobDone *done, int64_t now)
{
    sl_cjob_t *job = sl_collect_job (self, done->job, now);
    if (!job)
        return NULL;
    if (!job->done)
        self->hello_changed = true;
    job->done = true;
    if (done->total)
        job->total = done->total;
    return job;
}

bool sl_collect_job_state (sl_collect_t *self, const Sluice__JobState *state, int64_t quiet_ms,
                           int64_t now, sl_cjob_t **job_p)
{
    sl_cjob_t *job = *job_p = (sl_cjob_t *) zhashx_lookup (self->jobs, state->job);
    if (!job)
        return false;
    job->state = (sl_cstate_t){
        .at = now,
        .total = state->total,
        .done = state->done,
        .queued = state->queued,
        .running = state->running,
    };
    if (state->total)
        job->total = state->total;
    if (!job->order || !sl_order_size (job->order))
        return false;
    const sl_cstate_t *st = &job->state;
    if (!st->total || st->done < st->total || st->queued || st->running)
        return false; //  results may still come
    //  A result lost on the way would be sent again by now.
    return now - job->last_new >= quiet_ms;
}

bool sl_collect_resumed (sl_collect_t *self, const char *id, uint64_t seq, int status, int64_t now)
{
    sl_cjob_t *job = sl_collect_job (self, id, now);
    if (!job || sl_seen_has (job->written, seq))
        return false;
    s_written (job, seq, status, false);
    return true;
}

int sl_collect_resumed_parked (sl_collect_t *self, const char *id, sl_parked_t **parked_p,
                               int64_t now)
{
    if (!s_ours (self, id))
        return -1;
    sl_cjob_t *job = s_job (self, id, true, now);
    uint64_t seq = (*parked_p)->seq;
    if (!job || sl_seen_has (job->written, seq) || sl_order_lookup (job->order, seq))
        return 0;
    (*parked_p)->acked = true;
    if (sl_order_park (job->order, parked_p))
        return 0;
    self->parked_acked++;
    return 1;
}

size_t sl_collect_unacked_parked (sl_collect_t *self)
{
    size_t unacked = 0;
    for (sl_cjob_t *job = sl_collect_first (self); job; job = sl_collect_next (self))
        if (job->order)
            unacked += sl_order_unacked (job->order);
    return unacked;
}

typedef struct {
    sl_collect_t *self;
    sl_cjob_t *job;
    int (*fn) (sl_parked_t *parked, void *arg);
    void *arg;
} ack_ctx_t;

static int s_ack_parked (sl_parked_t *parked, void *arg)
{
    ack_ctx_t *ctx = (ack_ctx_t *) arg;
    if (ctx->fn && ctx->fn (parked, ctx->arg))
        return -1;
    s_ack (ctx->job, parked->seq);
    ctx->self->parked_acked++;
    return 0;
}

size_t sl_collect_ack_parked (sl_collect_t *self, int (*fn) (sl_parked_t *parked, void *arg),
                              void *arg)
{
    size_t n = 0;
    for (sl_cjob_t *job = sl_collect_first (self); job; job = sl_collect_next (self))
        if (job->order) {
            ack_ctx_t ctx = { self, job, fn, arg };
            n += sl_order_ack_all (job->order, s_ack_parked, &ctx);
        }
    return n;
}

uint64_t sl_collect_parked_acked (sl_collect_t *self)
{
    return self->parked_acked;
}

size_t sl_collect_acks (sl_collect_t *self, void (*send) (void *arg, const Sluice__Ack *ack),
                        void *arg)
{
    size_t n = 0;
    for (sl_cjob_t *job = sl_collect_first (self); job; job = sl_collect_next (self)) {
        if (!job->nacks)
            continue;
        Sluice__Ack ack = SLUICE__ACK__INIT;
        ack.job = job->id;
        ack.seqs = job->acks;
        ack.n_seqs = job->nacks;
        send (arg, &ack);
        n += job->nacks;
        job->nacks = 0;
    }
    return n;
}

size_t sl_collect_waiting (sl_collect_t *self, char **waiting, size_t max)
{
    size_t n = 0;
    for (sl_cjob_t *job = sl_collect_first (self); job && n < max; job = sl_collect_next (self))
        if (!job->done)
            waiting [n++] = job->id;
    return n;
}

bool sl_collect_hello_changed (sl_collect_t *self)
{
    bool changed = self->hello_changed;
    self->hello_changed = false;
    return changed;
}

bool sl_collect_all_done (sl_collect_t *self)
{
    if (!self->named)
        return false;
    for (sl_cjob_t *job = sl_collect_first (self); job; job = sl_collect_next (self))
        if (!job->done || (job->order && sl_order_size (job->order)))
            return false;
    return true;
}

bool sl_collect_complete (const sl_cjob_t *job)
{
    return job->limit && job->nwritten >= job->limit;
}

sl_cjob_t *sl_collect_first (sl_collect_t *self)
{
    return (sl_cjob_t *) zhashx_first (self->jobs);
}

sl_cjob_t *sl_collect_next (sl_collect_t *self)
{
    return (sl_cjob_t *) zhashx_next (self->jobs);
}

size_t sl_collect_size (sl_collect_t *self)
{
    return zhashx_size (self->jobs);
}

uint64_t sl_collect_duplicates (sl_collect_t *self)
{
    return self->duplicates;
}

uint64_t sl_collect_late (sl_collect_t *self)
{
    return self->late;
}

uint64_t sl_collect_held (sl_collect_t *self)
{
    return self->held;
}

size_t sl_collect_held_max (sl_collect_t *self)
{
    return self->held_max;
}
