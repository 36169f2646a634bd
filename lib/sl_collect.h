/*  sl_collect - the collect core: the protocol of a collector of results,
    written once for sluice-sink (sink/sink.c) and libsluice's sluice_next
    and sluice_map (client/client.c).

    Pure in the sense of broker/table.c: no sockets and no clock. Events
    come in (the welcome's jobs, JobStart, each result of a ResultBatch,
    JobDone, JobState, the results found by --resume, `now` with each) and
    the core answers what to do with them; what must go out waits in the
    core until the event loop takes it: acknowledgements (sl_collect_acks)
    and the jobs to name in the hello (sl_collect_hello).

    A result of a job goes:

        offered ──► HANDING ──written──► WRITTEN (acknowledged once flushed)
           │  (the caller writes it, or queues it for the user)
           │
           └─ ahead of the next seq (keep_order) ──► PARKED ──pop_ready──► written
                                                      │ ack ahead (acked)

    The broker delivers a result again when an acknowledgement did not
    reach it (a reconnect, its ack timeout): one WRITTEN is acknowledged
    again and dropped, one HANDING is dropped (acknowledged when written),
    one PARKED is dropped, and acknowledged again only if it was already.
    So each result is handed out exactly once.

    Seqs run from 1 to SL_SEEN_MAX_SEQ, or to the job's size when the
    collector knows it (sl_collect_expect: the client knows its own job).
*/
#ifndef SL_COLLECT_H_INCLUDED
#define SL_COLLECT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sl_order.h"
#include "sl_proto.h"
#include "sl_seen.h"

#define SL_COLLECT_MAX_JOBS 64 //  jobs one collector may name

typedef struct {
    const char *job;         //  collect only this job (copied); NULL = every job
    const char *const *more; //  ... and these too (copied), more than one named
    size_t nmore;            //  how many in more (job + more: SL_COLLECT_MAX_JOBS at most)
    bool keep_order;         //  park results ahead of their job's next seq
} sl_collect_config_t;

//  What the broker last said of a job (JobState).
typedef struct {
    int64_t at;       //  when it came (ms), 0 = never
    uint64_t total;   //  tasks in the job, 0 = not known
    uint64_t done;    //  tasks with a final result
    uint64_t queued;  //  tasks waiting for a worker
    uint64_t running; //  tasks on a worker
} sl_cstate_t;

//  One job being collected. The caller reads it; the core changes it.
typedef struct {
    char id [72];       //  job id
    sl_seen_t *written; //  seqs written (handed out)
    sl_seen_t *handing; //  seqs offered and not yet written
    sl_order_t *order;  //  results parked ahead of the next seq, or NULL
    bool done;          //  the broker said every result was delivered
    uint64_t limit;     //  highest seq (the job's size), 0 = SL_SEEN_MAX_SEQ
    uint64_t total;     //  tasks in the job, 0 = not known yet
    uint64_t nwritten;  //  results written (with those --resume found)
    uint64_t failed;    //  of those, failed, timed out or cancelled
    uint64_t *acks;     //  seqs to acknowledge
    size_t nacks, acks_cap;
    int64_t last_new;  //  when a result not seen before last came (ms)
    sl_cstate_t state; //  the broker's last word on the job
} sl_cjob_t;

typedef enum {
    SL_COLLECT_WRITE = 0,   //  new: hand it out, then sl_collect_written
    SL_COLLECT_LATE,        //  new but behind the next seq (its gap was given up): the same
    SL_COLLECT_PARK,        //  new, ahead of the next seq: format it and sl_collect_park
    SL_COLLECT_DUPLICATE,   //  delivered before: dropped (acknowledged again if it was)
    SL_COLLECT_FOREIGN,     //  a job this collector does not collect: dropped
    SL_COLLECT_OUT_OF_RANGE //  seq 0 or past the job: dropped
} sl_collect_verdict_t;

typedef struct _sl_collect_t sl_collect_t;

//  Creates an empty core. NULL if out of memory. Caller owns it.
sl_collect_t *sl_collect_new (const sl_collect_config_t *config);

//  NULL-safe; nulls *self_p.
void sl_collect_destroy (sl_collect_t **self_p);

//  --- Events in ------------------------------------------------------------

//  The job named by a Welcome, JobStart or --job: collected from now on.
//  Returns it (made if new), or NULL if it is not this collector's (or out
//  of memory).
sl_cjob_t *sl_collect_job (sl_collect_t *self, const char *id, int64_t now);

//  A Welcome: its jobs (those this collector collects) are collected.
void sl_collect_welcome (sl_collect_t *self, const Sluice__Welcome *welcome, int64_t now);

//  The first Welcome: as sl_collect_welcome, and every job's clock (the
//  time since a new result) starts now, not while waiting for the broker.
void sl_collect_attached (sl_collect_t *self, const Sluice__Welcome *welcome, int64_t now);

//  The job id has n tasks (the client's own job): seqs past n are out of
//  range and the job is complete when n are written. NULL if n is 0 (or
//  as sl_collect_job).
sl_cjob_t *sl_collect_expect (sl_collect_t *self, const char *id, uint64_t n, int64_t now);

//  One result of a ResultBatch of job: what to do with it. *job_p is set
//  to the job (NULL for FOREIGN).
sl_collect_verdict_t sl_collect_offer (sl_collect_t *self, const char *job, uint64_t seq,
                                       int64_t now, sl_cjob_t **job_p);

//  A result offered with WRITE or LATE could not be handed out (out of
//  memory, a format error): forgotten, so the broker's resend is new.
void sl_collect_drop (sl_collect_t *self, sl_cjob_t *job, uint64_t seq);

//  A PARK result, formatted by the caller (taken over). Returns 0, or -1
//  if out of memory (the caller frees it; it is forgotten as by drop).
int sl_collect_park (sl_collect_t *self, sl_cjob_t *job, sl_parked_t **parked_p);

//  The result seq of job (status a Sluice__Status), offered with WRITE or
//  LATE, is written (or handed to the user): counts it and, if ack, queues
//  its acknowledgement (send it once flushed). Returns 0, or -1 if seq was
//  not offered or is written already (nothing changes).
int sl_collect_written (sl_collect_t *self, sl_cjob_t *job, uint64_t seq, int status, bool ack);

//  A parked result (popped or taken) is written: as sl_collect_written,
//  acknowledged unless it was already.
void sl_collect_written_parked (sl_collect_t *self, sl_cjob_t *job, const sl_parked_t *parked);

//  The parked result next in turn, taken out (the caller owns it: write it
//  and call sl_collect_written_parked, or put it back
//  with sl_collect_park), or NULL.
sl_parked_t *sl_collect_pop_ready (sl_collect_t *self, sl_cjob_t *job);

//  Gives up on job's gaps: every parked result, sorted (see
//  sl_order_take_all). Caller owns the array and the results.
sl_parked_t **sl_collect_take_parked (sl_collect_t *self, sl_cjob_t *job, size_t *count_p);

//  JobDone: the broker delivered every result of the job. Returns the job,
//  or NULL if it is not this collector's.
sl_cjob_t *sl_collect_job_done (sl_collect_t *self, const Sluice__JobDone *done, int64_t now);

//  JobState (an answer to a JobQuery). Returns true if job's parked results
//  wait for gaps that will never fill: the broker has every result, none
//  queued or running, and none new came for quiet_ms (the caller then
//  writes them with sl_collect_take_parked). *job_p: the job or NULL.
bool sl_collect_job_state (sl_collect_t *self, const Sluice__JobState *state, int64_t quiet_ms,
                           int64_t now, sl_cjob_t **job_p);

//  --resume: seq of job is in the output already. Returns true if it was
//  not known (then counted), false if it was (or job is not ours).
bool sl_collect_resumed (sl_collect_t *self, const char *job, uint64_t seq, int status,
                         int64_t now);

//  --resume: a result acknowledged ahead of its turn (found in the park
//  file), parked again unless written. Takes *parked_p if parked. Returns
//  1 if parked, 0 if not needed, -1 if job is not this collector's.
int sl_collect_resumed_parked (sl_collect_t *self, const char *job, sl_parked_t **parked_p,
                               int64_t now);

//  --- Acknowledgements -----------------------------------------------------

//  Parked results not yet acknowledged, in all jobs.
size_t sl_collect_unacked_parked (sl_collect_t *self);

//  Acknowledges every parked result ahead of its turn, calling fn for each
//  first (fn returning -1 stops: that one stays unacknowledged). Returns
//  how many.
size_t sl_collect_ack_parked (sl_collect_t *self, int (*fn) (sl_parked_t *parked, void *arg),
                              void *arg);

//  Parked results acknowledged ahead of their turn and not yet written.
uint64_t sl_collect_parked_acked (sl_collect_t *self);

//  Hands every queued acknowledgement out, one Ack per job, to send (the
//  loop's: it sends it on the control socket), and forgets them. Returns
//  how many seqs. An Ack lost on the way makes the broker deliver again.
size_t sl_collect_acks (sl_collect_t *self, void (*send) (void *arg, const Sluice__Ack *ack),
                        void *arg);

//  --- State ----------------------------------------------------------------

//  The jobs not done, for the hello (at most max ids into waiting, which
//  point into the core). Returns how many.
size_t sl_collect_waiting (sl_collect_t *self, char **waiting, size_t max);

//  True once, after the jobs (or their done) changed: the hello the link
//  says again needs an update.
bool sl_collect_hello_changed (sl_collect_t *self);

//  Some job was named, and every job is done with nothing parked.
bool sl_collect_all_done (sl_collect_t *self);

//  True if job has all its expected results written (sl_collect_expect).
bool sl_collect_complete (const sl_cjob_t *job);

//  The jobs, in no order: first, then next until NULL.
sl_cjob_t *sl_collect_first (sl_collect_t *self);
sl_cjob_t *sl_collect_next (sl_collect_t *self);
size_t sl_collect_size (sl_collect_t *self);

//  Results delivered twice and dropped; results written out of order
//  (came after their gap was given up); results parked, in all and at
//  most at once in one job.
uint64_t sl_collect_duplicates (sl_collect_t *self);
uint64_t sl_collect_late (sl_collect_t *self);
uint64_t sl_collect_held (sl_collect_t *self);
size_t sl_collect_held_max (sl_collect_t *self);

#endif
