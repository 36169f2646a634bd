/*  finished - the jobs a broker remembers after they finished: their final
    counts, when they finished, and which seqs did not end ok.

    A sink that asks for a job after it finished hears at once that it is
    finished (and how it ended), late results and acknowledgements for it
    are recognised as such, `--resume-failed` learns the failed seqs, and
    `status` lists the most recent. A ring of a fixed number of jobs: the
    oldest is forgotten first, and lookups ignore jobs that finished before
    the caller's horizon (`--retention`). O(capacity) lookups: fine for the
    thousand jobs kept, asked about on rare paths (hello, query, late ack).

    Pure: no clock (times are the caller's wall-clock milliseconds).
*/
#ifndef FINISHED_H_INCLUDED
#define FINISHED_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "durable.h"
#include "table.h"

typedef struct {
    char id [72];           //  job id ("" = free slot)
    sl_job_counts_t counts; //  its final counts
    int64_t finished_at;    //  wall-clock ms
    uint64_t *failed;       //  ranges (first, last) of its seqs that did not end ok (owned)
    size_t nfailed;         //  ranges at failed
    bool failed_truncated;  //  it had more such ranges than are kept
} sl_finished_job_t;

typedef struct _sl_finished_t sl_finished_t;

//  A ring of capacity jobs, each keeping at most max_ranges failed ranges.
//  NULL if out of memory. Caller owns it.
sl_finished_t *sl_finished_new (size_t capacity, size_t max_ranges);

//  NULL-safe, nulls *self_p.
void sl_finished_destroy (sl_finished_t **self_p);

//  The job if remembered and finished at or after oldest (wall ms), else NULL.
sl_finished_job_t *sl_finished_lookup (sl_finished_t *self, const char *job_id, int64_t oldest);

//  Remembers job_id (again, if it is remembered: its slot is reused) with
//  its counts, when it finished and its failed ranges (copied; failed may
//  be NULL). Past max_ranges, or out of memory, the ranges kept are marked
//  truncated.
void sl_finished_remember (sl_finished_t *self, const char *job_id, const sl_job_counts_t *counts,
                           int64_t finished_at, const sl_failed_t *failed);

//  The i-th most recently remembered job (0 = the newest), or NULL past
//  the last one.
sl_finished_job_t *sl_finished_newest (sl_finished_t *self, size_t i);

//  Jobs remembered.
size_t sl_finished_count (sl_finished_t *self);

//  The failed ranges a job holds, as the journal takes them.
sl_failed_t sl_finished_failed (const sl_finished_job_t *job);

#endif
