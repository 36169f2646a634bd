/*  finished - the ring of finished jobs, see finished.h.
*/
#include "finished.h"

#include <czmq.h>
#include <string.h>

struct _sl_finished_t {
    sl_finished_job_t *slots; //  the ring (owned)
    size_t capacity;          //  slots in it
    size_t next;              //  next slot to overwrite
    size_t count;             //  slots in use
    size_t max_ranges;        //  failed ranges kept per job
};

sl_finished_t *sl_finished_new (size_t capacity, size_t max_ranges)
{
    assert (capacity > 0);
    sl_finished_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->slots = calloc (capacity, sizeof *self->slots);
    if (!self->slots) {
        free (self);
        return NULL;
    }
    self->capacity = capacity;
    self->max_ranges = max_ranges;
    return self;
}

void sl_finished_destroy (sl_finished_t **self_p)
{
    assert (self_p);
    sl_finished_t *self = *self_p;
    if (self) {
        for (size_t i = 0; i < self->capacity; i++)
            free (self->slots [i].failed);
        free (self->slots);
        free (self);
        *self_p = NULL;
    }
}

sl_finished_job_t *sl_finished_lookup (sl_finished_t *self, const char *job_id, int64_t oldest)
{
    assert (self);
    for (size_t i = 0; i < self->capacity; i++) {
        sl_finished_job_t *job = &self->slots [i];
        if (job->id [0] && job->finished_at >= oldest && streq (job->id, job_id))
            return job;
    }
    return NULL;
}

void sl_finished_remember (sl_finished_t *self, const char *job_id, const sl_job_counts_t *counts,
                           int64_t finished_at, const sl_failed_t *failed)
{
    assert (self);
    sl_finished_job_t *slot = sl_finished_lookup (self, job_id, INT64_MIN);
    if (!slot) {
        slot = &self->slots [self->next];
        self->next = (self->next + 1) % self->capacity;
        if (self->count < self->capacity)
            self->count++;
    }
    snprintf (slot->id, sizeof slot->id, "%s", job_id);
    slot->counts = *counts;
    slot->finished_at = finished_at;
    free (slot->failed);
    slot->failed = NULL;
    slot->nfailed = 0;
    slot->failed_truncated = failed && failed->truncated;
    size_t n = failed ? failed->n : 0;
    if (n > self->max_ranges) {
        n = self->max_ranges;
        slot->failed_truncated = true;
    }
    if (n && (slot->failed = malloc (2 * n * sizeof (uint64_t)))) {
        memcpy (slot->failed, failed->ranges, 2 * n * sizeof (uint64_t));
        slot->nfailed = n;
    } else if (n)
        slot->failed_truncated = true; //  out of memory: say it is not all
}

sl_finished_job_t *sl_finished_newest (sl_finished_t *self, size_t i)
{
    assert (self);
    if (i >= self->count)
        return NULL;
    return &self->slots [(self->next + self->capacity - 1 - i) % self->capacity];
}

size_t sl_finished_count (sl_finished_t *self)
{
    assert (self);
    return self->count;
}

sl_failed_t sl_finished_failed (const sl_finished_job_t *job)
{
    return (sl_failed_t){ job->failed, job->nfailed, job->failed_truncated };
}
