/*  failures - the failed tasks of each job, bounded, see failures.h.

    Per job a sorted array of records (tasks mostly fail in seq order, so
    an insert is usually an append; the occasional one out of order moves
    the tail: O(kept) at worst, with kept <= max_per_job). Jobs are kept
    in a list in the order they first failed, to forget the oldest first.
*/
#include "failures.h"

#include <assert.h>
#include <czmq.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *name;         //  job id (owned)
    failure_t *records; //  sorted by seq (owned)
    size_t size;        //  records held
    size_t capacity;    //  room at records
    uint64_t count;     //  failures noted, kept or not
} job_failures_t;

struct _failures_t {
    zhashx_t *jobs;     //  job id -> job_failures_t (owned)
    zlistx_t *order;    //  job ids, oldest first failure first (owned strings)
    size_t size;        //  records held in all
    size_t max_records; //  records held in all, at most
    size_t max_per_job; //  records held for one job, at most
};

static void s_job_free (void **item_p)
{
    job_failures_t *job = (job_failures_t *) *item_p;
    if (job) {
        free (job->name);
        free (job->records);
        free (job);
        *item_p = NULL;
    }
}

failures_t *failures_new (size_t max_records, size_t max_per_job)
{
    assert (max_records > 0 && max_per_job > 0);
    failures_t *self = (failures_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->jobs = zhashx_new ();
    self->order = zlistx_new ();
    if (!self->jobs || !self->order) {
        failures_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->jobs, s_job_free);
    zlistx_set_destructor (self->order, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_comparator (self->order, (zlistx_comparator_fn *) strcmp);
    self->max_records = max_records;
    self->max_per_job = max_per_job;
    return self;
}

void failures_destroy (failures_t **self_p)
{
    assert (self_p);
    failures_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->jobs);
    zlistx_destroy (&self->order);
    free (self);
    *self_p = NULL;
}

void failures_forget (failures_t *self, const char *job)
{
    assert (self);
    job_failures_t *entry = (job_failures_t *) zhashx_lookup (self->jobs, job);
    if (!entry)
        return;
    self->size -= entry->size;
    void *handle = zlistx_find (self->order, (void *) job);
    if (handle)
        zlistx_delete (self->order, handle);
    zhashx_delete (self->jobs, job);
}

//  Index of the first record with seq >= seq (binary search).
static size_t s_lower_bound (const job_failures_t *entry, uint64_t seq)
{
    size_t lo = 0, hi = entry->size;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (entry->records [mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void s_copy (failure_t *to, const failure_t *from)
{
    to->seq = from->seq;
    snprintf (to->id, sizeof to->id, "%s", from->id);
    to->status = from->status;
    to->exit_code = from->exit_code;
    to->attempts = from->attempts;
    snprintf (to->worker, sizeof to->worker, "%s", from->worker);
    size_t n = from->stderr_size < FAILURE_STDERR_MAX ? from->stderr_size : FAILURE_STDERR_MAX;
    memcpy (to->stderr_tail, from->stderr_tail, n);
    to->stderr_size = (uint16_t) n;
}

int failures_add (failures_t *self, const char *job, const failure_t *failure)
{
    assert (self);
    assert (job);
    assert (failure);
    job_failures_t *entry = (job_failures_t *) zhashx_lookup (self->jobs, job);
    if (!entry) {
        entry = (job_failures_t *) calloc (1, sizeof *entry);
        if (!entry || !(entry->name = strdup (job))) {
            free (entry);
            return -1;
        }
        zhashx_insert (self->jobs, job, entry);
        zlistx_add_end (self->order, strdup (job));
    }
    size_t at = s_lower_bound (entry, failure->seq);
    if (at < entry->size && entry->records [at].seq == failure->seq) {
        s_copy (&entry->records [at], failure);
        return 0;
    }
    entry->count++;
    if (entry->size >= self->max_per_job)
        return 0; //  counted, not kept
    //  Room in all: forget the oldest other jobs first.
    while (self->size >= self->max_records) {
        const char *oldest = (const char *) zlistx_first (self->order);
        if (!oldest || streq (oldest, job))
            break;
        char name [256];
        snprintf (name, sizeof name, "%s", oldest);
        failures_forget (self, name);
    }
    if (self->size >= self->max_records)
        return 0; //  this job alone fills the store
    if (entry->size == entry->capacity) {
        size_t capacity = entry->capacity ? entry->capacity * 2 : 16;
        if (capacity > self->max_per_job)
            capacity = self->max_per_job;
        failure_t *records = (failure_t *) realloc (entry->records, capacity * sizeof *records);
        if (!records) {
            entry->count--;
            return -1;
        }
        entry->records = records;
        entry->capacity = capacity;
    }
    memmove (&entry->records [at + 1], &entry->records [at],
             (entry->size - at) * sizeof *entry->records);
    s_copy (&entry->records [at], failure);
    entry->size++;
    self->size++;
    return 0;
}

uint64_t failures_count (failures_t *self, const char *job)
{
    assert (self);
    job_failures_t *entry = (job_failures_t *) zhashx_lookup (self->jobs, job);
    return entry ? entry->count : 0;
}

size_t failures_kept (failures_t *self, const char *job)
{
    assert (self);
    job_failures_t *entry = (job_failures_t *) zhashx_lookup (self->jobs, job);
    return entry ? entry->size : 0;
}

size_t failures_page (failures_t *self, const char *job, bool after_any, uint64_t after,
                      const failure_t **out, size_t max)
{
    assert (self);
    job_failures_t *entry = (job_failures_t *) zhashx_lookup (self->jobs, job);
    if (!entry)
        return 0;
    size_t at = after_any || after == UINT64_MAX ? (after_any ? 0 : entry->size)
                                                 : s_lower_bound (entry, after + 1);
    size_t n = 0;
    while (at < entry->size && n < max)
        out [n++] = &entry->records [at++];
    return n;
}

size_t failures_size (failures_t *self)
{
    assert (self);
    return self->size;
}
