/*  durable - what the broker writes to its journal, and how it reads it back.

    The journal (journal.c) stores opaque records; this module gives them
    their meaning. Each record is one protobuf message of proto/sluice.proto:

        type 1  TaskBatch    tasks the broker accepted (only new ones)
        type 2  JobEnd       the job's size
        type 3  ResultBatch  final results (Result.attempts = runs it took)
        type 4  Ack          results the sink confirmed (delivered)
        type 5  JobDone      the job was finished and announced; also written
                             again in each checkpoint for the jobs the
                             broker remembers as finished
        types 16, 17, 18     Checkpoint markers: begin, end, abort of a
                             checkpoint of the live state (checkpoint.h);
                             replay starts at the last complete one

    Replaying them in order into an empty table rebuilds every job: tasks
    with no result are QUEUED again (a run that was under way at the crash
    is simply run again), results not yet confirmed are DONE (delivered
    again), confirmed ones DELIVERED, finished jobs retired.

    Changing a record: add fields only (old records must stay readable);
    anything else needs a new type number and replay support for both.
*/
#ifndef DURABLE_H_INCLUDED
#define DURABLE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "journal.h"
#include "sl_proto.h"
#include "table.h"

typedef enum {
    SL_REC_TASKS = 1,
    SL_REC_END = 2,
    SL_REC_RESULTS = 3,
    SL_REC_DELIVERED = 4,
    SL_REC_JOB_DONE = 5,
    SL_REC_CHECKPOINT = 16,      //  Checkpoint: a checkpoint begins (checkpoint.h)
    SL_REC_CHECKPOINT_END = 17,  //  Checkpoint: it ends, with each job's counts
    SL_REC_CHECKPOINT_ABORT = 18 //  Checkpoint: it never ended (a crash)
} sl_record_type_t;

//  Packs msg and appends it as a record of type. Returns 0 or -1.
int sl_durable_append (sl_journal_t *journal, sl_record_type_t type, const ProtobufCMessage *msg,
                       char *err, size_t errlen);

//  The table's view of a result message (pointing into r).
void sl_durable_result_in (const Sluice__Result *r, sl_result_in_t *in);

//  The message of task's result (pointing into the task; its id written
//  into id, 256 bytes), as the journal and the sink get it.
void sl_durable_result_out (sl_task_t *task, Sluice__Result *out, char *id);

//  Appends the accepted tasks of job (those in tasks [0..n)).
int sl_durable_tasks (sl_journal_t *journal, const char *job, Sluice__Task **tasks, size_t n,
                      char *err, size_t errlen);

//  The same, naming the job's queue and next stages (as the table has
//  them), as the first record of a job must for replay to remake it.
int sl_durable_job_tasks (sl_journal_t *journal, sl_job_t *job, Sluice__Task **tasks, size_t n,
                          char *err, size_t errlen);

//  Appends that tasks [0..n) (of one job) went on to their next stage,
//  with their new payloads.
int sl_durable_advanced (sl_journal_t *journal, sl_task_t **tasks, size_t n, char *err,
                         size_t errlen);

//  Attachment lists between messages and the table. from_proto checks
//  each (name as a queue name, hash 40 lowercase hex digits, at most
//  SL_MAX_ATTACHMENTS): 0, or -1 with why.
int sl_attach_from_proto (Sluice__Attachment **in, size_t n, sl_attach_t *out, char *why,
                          size_t whylen);
void sl_attach_to_proto (const sl_attach_t *in, size_t n, Sluice__Attachment *out,
                         Sluice__Attachment **ptrs);

//  Appends the size of job.
int sl_durable_end (sl_journal_t *journal, const char *job, uint64_t total, char *err,
                    size_t errlen);

//  The same, naming the job's queue and next stages.
int sl_durable_job_end (sl_journal_t *journal, sl_job_t *job, uint64_t total, char *err,
                        size_t errlen);

//  Results are split into records of about this many bytes at most.
#define SL_DURABLE_RECORD_BYTES (16u << 20)

//  Appends the final results of tasks [0..n), all of one job (in several
//  records if they are large).
int sl_durable_results (sl_journal_t *journal, sl_task_t **tasks, size_t n, char *err,
                        size_t errlen);

//  Appends that the sink confirmed seqs [0..n) of job.
int sl_durable_delivered (sl_journal_t *journal, const char *job, const uint64_t *seqs, size_t n,
                          char *err, size_t errlen);

//  Seqs of a finished job that did not end ok, as ranges (first, last).
typedef struct {
    const uint64_t *ranges; //  2 * n values
    size_t n;               //  ranges
    bool truncated;         //  there were more
} sl_failed_t;

//  Appends that job finished with these counts at finished_at (ms, epoch),
//  and which of its seqs did not end ok.
int sl_durable_job_done (sl_journal_t *journal, const char *job, const sl_job_counts_t *counts,
                         int64_t finished_at, const sl_failed_t *failed, char *err, size_t errlen);

//  Called by replay for every JobDone record: the job is finished (and
//  removed from the table if it was there).
typedef void (sl_durable_done_fn) (const char *job, const sl_job_counts_t *counts,
                                   int64_t finished_at, const sl_failed_t *failed, void *arg);

//  Replays the journal into table (empty). Jobs get the segment of their
//  first record as their tag. Returns records replayed, or -1 with err.
int64_t sl_durable_replay (sl_journal_t *journal, sl_table_t *table, sl_durable_done_fn *on_done,
                           void *arg, char *err, size_t errlen);

//  A standby's replay goes on: applies to table the records another
//  broker appended since the journal last read (sl_journal_follow).
//  Returns records applied, or -1 with err.
int64_t sl_durable_follow (sl_journal_t *journal, sl_table_t *table, sl_durable_done_fn *on_done,
                           void *arg, char *err, size_t errlen);

//  Applies to table every committed record of the segments with id >=
//  from, in order and each once, checkpoints included: what a standby
//  does with what it follows (no checkpoint plan, no second pass).
//  Returns records applied, or -1 with err.
int64_t sl_durable_apply (sl_journal_t *journal, uint64_t from, sl_table_t *table, char *err,
                          size_t errlen);

//  Called by sl_durable_scan_results for every result of the job.
typedef void (sl_durable_result_fn) (const char *job, Sluice__Result *result, void *arg);

//  Reads back every result of job recorded in segments >= from.
int64_t sl_durable_scan_results (sl_journal_t *journal, uint64_t from, const char *job,
                                 sl_durable_result_fn *fn, void *arg, char *err, size_t errlen);

#endif
