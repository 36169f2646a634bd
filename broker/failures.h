/*  failures - the failed tasks of each job, kept for the dashboard's job
    page: seq, id, final status, exit code, runs, worker and the tail of
    standard error of every task whose final result was not ok (failed,
    timeout, cancelled).

    Bounded: each record has a fixed size (its id cut to FAILURE_ID_MAX
    bytes, its stderr to the last FAILURE_STDERR_MAX bytes), at most
    max_per_job records are kept per job (later ones are only counted) and
    at most max_records in all; past that the job whose first failure is
    the oldest is forgotten whole. Nothing else expires them: a job's
    failures stay until that happens or failures_forget is called.

    Pure: no sockets, no clock.
*/
#ifndef FAILURES_H_INCLUDED
#define FAILURES_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FAILURE_ID_MAX 127     //  bytes of a task id kept
#define FAILURE_WORKER_MAX 127 //  bytes of a worker name kept
#define FAILURE_STDERR_MAX 512 //  last bytes of standard error kept

typedef struct {
    uint64_t seq;                          //  the task's seq in its job
    char id [FAILURE_ID_MAX + 1];          //  its id ("" = none), NUL-terminated
    uint8_t status;                        //  sl_status_t: failed, timeout or cancelled
    int32_t exit_code;                     //  of its last run
    uint32_t attempts;                     //  runs it took
    char worker [FAILURE_WORKER_MAX + 1];  //  "host:pid" of its last run ("" = none)
    char stderr_tail [FAILURE_STDERR_MAX]; //  last bytes of its stderr (not NUL-terminated)
    uint16_t stderr_size;                  //  bytes at stderr_tail
} failure_t;

typedef struct _failures_t failures_t;

//  Keeps at most max_records records, at most max_per_job of one job
//  (both at least 1). NULL if out of memory. Caller owns the result.
failures_t *failures_new (size_t max_records, size_t max_per_job);

//  NULL-safe, nulls *self_p.
void failures_destroy (failures_t **self_p);

//  Records a failed task of job (copied: ids, worker and stderr are cut as
//  the header says). A seq already recorded for the job replaces the
//  record. Returns 0, or -1 if out of memory (nothing recorded).
int failures_add (failures_t *self, const char *job, const failure_t *failure);

//  Failed tasks of job noted since it was first seen (kept or not).
uint64_t failures_count (failures_t *self, const char *job);

//  Records of job kept (at most max_per_job).
size_t failures_kept (failures_t *self, const char *job);

//  Up to max records of job with seq > after (all with after_any), in seq
//  order, as pointers into the store valid until the next call that
//  changes it. Returns how many were written to out.
size_t failures_page (failures_t *self, const char *job, bool after_any, uint64_t after,
                      const failure_t **out, size_t max);

//  Forgets job's records.
void failures_forget (failures_t *self, const char *job);

//  Records held in all.
size_t failures_size (failures_t *self);

#endif
