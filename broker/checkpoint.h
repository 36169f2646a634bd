/*  checkpoint - the live state of the broker as journal records, so that
    the journal can drop its history.

    A checkpoint is a run of ordinary records (durable.h: TaskBatch, JobEnd,
    ResultBatch, Ack, JobDone) between two markers of the same id:

        Checkpoint begin (type 16)  id
        JobDone ...                 the finished jobs the broker remembers
        per unfinished job:
          TaskBatch ...             every task that arrived, in seq order:
                                    payload, options and stage while queued
                                    or running, empty once it has a result
          JobEnd                    its size, if known
          ResultBatch ...           results not yet confirmed by the sink,
                                    whole; confirmed ones as status only
          Ack ...                   the results the sink confirmed
        Checkpoint end (type 17)    id, each job's counts by status

    Replayed into an empty table those records rebuild the same jobs (a
    running task is queued again, as after any restart), so replay may
    start at the begin of the last complete checkpoint and skip everything
    before it, and the journal may delete it: the file journal deletes the
    segments before the checkpoint's, the NATS journal purges its stream up
    to the checkpoint's first message (both only once the checkpoint is
    durable).

    A crash while a checkpoint is being written leaves a begin without its
    end. Replay ignores such a run (its records only copy state the history
    before it has) and the next broker appends an abort marker
    before anything else (type 18), so that the records it appends later are not
    mistaken for the rest of the checkpoint.

    What a checkpoint does not keep: the output of results the sink already
    confirmed (a sink's --from-start gets again only the results still in
    the journal), and runs (a restarted broker queues running tasks again).

    The plan (sl_cpplan_t) is pure: fed every record's type in journal
    order, it says which records a replay applies.
*/
#ifndef CHECKPOINT_H_INCLUDED
#define CHECKPOINT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal.h"
#include "table.h"

//  Appends the begin marker of checkpoint id (any number not used before:
//  the broker takes the wall clock in microseconds). Returns 0 or -1.
int sl_checkpoint_begin (sl_journal_t *journal, uint64_t id, char *err, size_t errlen);

//  Appends every unfinished job of table, as above. Returns 0 or -1.
int sl_checkpoint_jobs (sl_journal_t *journal, sl_table_t *table, char *err, size_t errlen);

//  Appends the end marker of checkpoint id with the counts of the jobs of
//  table. Returns 0 or -1.
int sl_checkpoint_end (sl_journal_t *journal, sl_table_t *table, uint64_t id, char *err,
                       size_t errlen);

//  Appends the abort marker of checkpoint id (left open by a crash).
int sl_checkpoint_abort (sl_journal_t *journal, uint64_t id, char *err, size_t errlen);

//  --- The replay plan ---------------------------------------------------------

typedef struct _sl_cpplan_t sl_cpplan_t;

//  An empty plan. NULL if out of memory. Caller owns it.
sl_cpplan_t *sl_cpplan_new (void);

//  NULL-safe, nulls *self_p.
void sl_cpplan_destroy (sl_cpplan_t **self_p);

//  The next record of the journal (index 0, 1, ... in order) has this
//  type; for a marker, id is its checkpoint's id. Returns 0, or -1 out of
//  memory.
int sl_cpplan_add (sl_cpplan_t *self, uint8_t type, uint64_t id);

//  True if replay must apply record index (it is not before the last
//  complete checkpoint, nor part of an aborted or unfinished one, nor a
//  begin or abort marker).
bool sl_cpplan_applies (sl_cpplan_t *self, uint64_t index);

//  Index of the begin of the last complete checkpoint (0 if none).
uint64_t sl_cpplan_start (sl_cpplan_t *self);

//  True if replay applies every record but markers: no history before a
//  checkpoint, no checkpoint a crash cut short (a replay that applied
//  every record got it right in one pass).
bool sl_cpplan_simple (sl_cpplan_t *self);

//  The id of a checkpoint the journal ends in without its end (the
//  broker must abort it before appending anything), or 0.
uint64_t sl_cpplan_open (sl_cpplan_t *self);

#endif
