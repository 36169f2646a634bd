/*  table - the broker's task bookkeeping: jobs, tasks and their states.

    The table is the pure core of the broker: it takes no sockets and reads
    no clock (callers pass `now`, in milliseconds). It owns every task from
    the moment the ventilator's copy arrives until the sink acknowledges the
    task's result, and decides what to dispatch, what to deliver and when a
    job is finished.

    A task moves through these states, one function per transition:

        QUEUED --dispatch--> RUNNING --complete--> DONE --send--> SENT --ack--> DELIVERED
          ^                   |   |                  ^               |
          +-- expire ---------+   |                  +--- unsend ----+   (sink lost)
          +-- worker_lost ----+   +-- complete (failed, retries left) --> QUEUED
          +-- release / undispatch (the run does not count)

    A RUNNING task has a lease: a deadline and, once a worker has claimed it
    (said in a heartbeat that it holds it), a holder. A holder that goes
    silent loses all its tasks at once (worker_lost); a task nobody claimed
    (lost in the buffers of a worker that died) comes back when its deadline
    passes (expire). A claimed task's lease is the caller's choice: the
    broker makes it last as long as its worker heartbeats.

    Runs are numbered (attempts counts dispatches); claims and results name
    their run, so a report from a run that has ended or been superseded is
    recognised as stale. Both put it back at the front of the queue, ahead of new
    work. A task lost more than max(retries, SL_LOST_RETRIES) times ends
    `failed`, so every task ends; a failed or timed-out run is retried up to
    the task's `retries`.

    Results: the first good result of any run wins. A later result is a
    duplicate and is dropped; a failure reported by a run that is no longer
    the task's latest is dropped too (a newer run is under way).

    Tasks are stored per job in fixed-size chunks so that a task's address
    never changes; queues hold task pointers. Entries in a queue whose task
    has since moved on are skipped when popped (lazy deletion), so no
    transition has to search a queue. Small payloads are carved from
    blocks that their chunk owns (an arena: no malloc per task, no malloc
    overhead), freed once every payload carved from them was released.
*/
#ifndef TABLE_H_INCLUDED
#define TABLE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    SL_TASK_ABSENT = 0, //  no task with this seq has arrived
    SL_TASK_QUEUED,     //  waiting for a worker
    SL_TASK_RUNNING,    //  dispatched to a worker
    SL_TASK_DONE,       //  result held, waiting to be sent to the sink
    SL_TASK_SENT,       //  result sent to the sink, waiting for its ack
    SL_TASK_DELIVERED   //  the sink acknowledged; result freed
} sl_task_state_t;

//  Final statuses, as in proto/sluice.proto.
typedef enum {
    SL_STATUS_OK = 1,
    SL_STATUS_FAILED = 2,
    SL_STATUS_TIMEOUT = 3,
    SL_STATUS_CANCELLED = 4 //  its job was cancelled (never from a worker)
} sl_status_t;

//  A task's result as the broker keeps it until the sink has it.
typedef struct {
    uint8_t status;        //  sl_status_t
    bool output_truncated; //  the worker capped the output
    uint8_t id_size;       //  bytes of the task's id at data + output_size + stderr_size
    uint8_t stage;         //  multi-stage job: the stage it ended in, 1-based (0 = single)
    int32_t exit_code;     //  command's exit code
    uint64_t duration_ms;  //  run time on the worker
    const char *worker;    //  interned "host:pid", owned by the table
    size_t output_size;    //  bytes of output at data
    size_t stderr_size;    //  bytes of stderr tail at data + output_size
    uint64_t position;     //  journal position of its record while fresh (0: none yet)
    uint8_t data [];       //  output, then stderr tail, then the task's id
} sl_result_t;

typedef struct _sl_job_t sl_job_t;
typedef struct _sl_queue_t sl_queue_t;

typedef struct _sl_task_t sl_task_t;
typedef struct _sl_run_t sl_run_t;

//  A task's record. Millions of them wait in a broker, so it holds only
//  what a task waiting for its first run needs (32 bytes); what only a task
//  that has been dispatched needs (its lease, holder, failures, losses...)
//  is in a run record (sl_run_t, private to the table) from its first
//  dispatch to its final result. Its job and seq are found from its place
//  in its chunk (slot). Read it through the sl_task_ functions below; the
//  plain fields may be read directly.
struct _sl_task_t {
    union {
        uint8_t *payload;    //  QUEUED or RUNNING: its bytes, then its id (see heap)
        sl_result_t *result; //  DONE or SENT: its result (owned); NULL once DELIVERED
    } data;
    sl_run_t *run;         //  its runs, from its first dispatch to its final result, or NULL
    uint32_t payload_size; //  bytes at data.payload (the id not counted)
    uint32_t timeout_ms;   //  per-run limit, 0 = none
    uint16_t attempts;     //  runs dispatched: the number of the latest run; once it has
                           //  its final result, the runs that started (sl_task_runs)
    uint16_t slot : 10;    //  its index in its chunk (which knows its job and first seq)
    uint16_t state : 3;    //  sl_task_state_t
    uint16_t stage : 3;    //  multi-stage job: the stage it is in, 0-based
    uint8_t retries;       //  reruns allowed after failed or timeout
    uint8_t id_size;       //  bytes of its id, kept after the payload
    uint8_t level : 6;     //  its priority level (in its queue)
    bool not_ok : 1;       //  its final result was not ok (kept after delivery)
    bool heap : 1;         //  data.payload was allocated on its own, not in its chunk's arena
};

//  What the memory count (sl_table_held) charges a task not yet delivered
//  beyond its payload or result: its record and an entry in a queue.
#define SL_TASK_HELD (sizeof (sl_task_t) + sizeof (void *))

//  1-based position of the task in its job, and the job.
uint64_t sl_task_seq (const sl_task_t *task);
sl_job_t *sl_task_job (const sl_task_t *task);

//  Its payload (data.payload) while QUEUED or RUNNING, else NULL.
const uint8_t *sl_task_payload (const sl_task_t *task);

//  Its result while DONE or SENT, else NULL.
sl_result_t *sl_task_result (const sl_task_t *task);

//  From its run record; 0 or NULL for a task never dispatched, and for a
//  task that has its final result.
int64_t sl_task_deadline (const sl_task_t *task);   //  lease expiry while RUNNING (ms)
const char *sl_task_holder (const sl_task_t *task); //  interned name of the worker holding it
const char *
sl_task_avoid (const sl_task_t *task); //  worker whose run of it failed or was lost last
unsigned sl_task_failures (const sl_task_t *task);  //  failed or timed-out runs (in its stage)
unsigned sl_task_losses (const sl_task_t *task);    //  runs lost with a worker or a lease
unsigned sl_task_uncounted (const sl_task_t *task); //  runs dispatched that never started
unsigned sl_task_ended_run (const sl_task_t *task); //  latest run that reported a failure

//  The RUNNING list, for checks: the task before and after it, or NULL.
sl_task_t *sl_task_run_prev (const sl_task_t *task);
sl_task_t *sl_task_run_next (const sl_task_t *task);

//  Runs a task may be lost (its worker died) before it ends as failed,
//  unless its retries allow more.
#define SL_LOST_RETRIES 3

//  Runs of the task that started (what users see as `attempts`): runs
//  dispatched, less those handed back unstarted or never claimed.
unsigned sl_task_runs (const sl_task_t *task);

//  Counts the table keeps per job; read-only for callers.
typedef struct {
    uint64_t received;  //  distinct tasks arrived
    uint64_t total;     //  tasks in the job, once known
    bool total_known;   //  the ventilator's JobEnd arrived
    uint64_t queued;    //  tasks in QUEUED
    uint64_t running;   //  tasks in RUNNING
    uint64_t done;      //  tasks with a result (DONE, SENT or DELIVERED)
    uint64_t delivered; //  tasks DELIVERED
    uint64_t ok;        //  results by status
    uint64_t failed;
    uint64_t timeout;
    uint64_t cancelled;
} sl_job_counts_t;

typedef struct _sl_table_t sl_table_t;

//  Largest seq a job may have: keeps a hostile seq from making the table
//  allocate an absurd index.
#define SL_MAX_SEQ (1ULL << 32)

//  Return codes of the transitions that take input from peers.
typedef enum {
    SL_TABLE_OK = 0,        //  applied
    SL_TABLE_DUPLICATE = 1, //  already had it / already past that state: ignored
    SL_TABLE_RETRY = 2,     //  a failed run with retries left: queued again
    SL_TABLE_ADVANCED = 3,  //  a good result of a stage before the last: on to the next stage
    SL_TABLE_INVALID = -1,  //  unknown job or task, or a value out of range
    SL_TABLE_NOMEM = -2     //  out of memory; nothing changed
} sl_table_rc_t;

//  Caller owns the result. NULL if out of memory.
sl_table_t *sl_table_new (void);

//  Frees every job, task and result. NULL-safe, nulls *self_p.
void sl_table_destroy (sl_table_t **self_p);

//  --- Jobs ---------------------------------------------------------------

//  The job with this id, or NULL.
sl_job_t *sl_table_job (sl_table_t *self, const char *id);

//  The job's id and counts.
const char *sl_job_id (sl_job_t *job);
const sl_job_counts_t *sl_job_counts (sl_job_t *job);

//  The highest seq of the job that arrived (0 if none).
uint64_t sl_job_highest (sl_job_t *job);

//  True once the job's size is known and every result was delivered.
bool sl_job_finished (sl_job_t *job);

//  Number of jobs in the table (finished ones included until retired).
size_t sl_table_job_count (sl_table_t *self);

//  Iterates jobs in arrival order: first, then next until NULL.
sl_job_t *sl_table_job_first (sl_table_t *self);
sl_job_t *sl_table_job_next (sl_table_t *self);

//  Removes a finished job and frees it. The job pointer is invalid after.
void sl_table_retire (sl_table_t *self, sl_job_t *job);

//  --- Submission -----------------------------------------------------------

//  A task as submitted.
typedef struct {
    const uint8_t *payload;
    size_t size;
    uint32_t timeout_ms; //  per-run limit, 0 = none
    uint8_t retries;     //  reruns after failed or timeout
    int32_t priority;    //  higher is dispatched first
    const char *id;      //  the user's id (at most 255 bytes kept), or NULL
} sl_task_in_t;

//  Up to this many distinct priorities get a queue each (per named queue);
//  a task of another priority waits in the queue of the nearest one.
#define SL_TABLE_MAX_LEVELS 64

//  Named queues a table holds at most (the default one included).
#define SL_TABLE_MAX_QUEUES 256
#define SL_QUEUE_DEFAULT "default"

//  --- Named queues -----------------------------------------------------------
//  Every job belongs to one named queue, fixed when the job is made; a
//  worker takes tasks only from the queues it serves.

//  The queue of this name, made if `make` and there is room (and the name
//  is valid, see sl_queue_name_valid). NULL if none, or no room.
sl_queue_t *sl_table_queue (sl_table_t *self, const char *name, bool make);

//  The queues, for status and metrics: index 0 .. count - 1 (0 is default).
size_t sl_table_queue_count (sl_table_t *self);
sl_queue_t *sl_table_queue_at (sl_table_t *self, size_t index);
const char *sl_queue_name (sl_queue_t *queue);
//  Tasks QUEUED in it.
size_t sl_queue_queued (sl_queue_t *queue);

//  True if s is usable as a queue name: 1..64 characters of [A-Za-z0-9._-].
bool sl_queue_name_valid (const char *s);

//  Makes job job_id in the named queue (NULL: default) before its first
//  task or end arrives. SL_TABLE_OK, SL_TABLE_DUPLICATE if the job exists
//  (whatever its queue), SL_TABLE_INVALID for a queue that cannot be made.
sl_table_rc_t sl_table_job_make (sl_table_t *self, const char *job_id, const char *queue);

//  The queue of a job (of its first stage).
sl_queue_t *sl_job_queue (sl_job_t *job);

//  --- Multi-stage jobs ----------------------------------------------------
//  A job may have stages after its first, each in a named queue: a task
//  whose run ends ok in a stage before the last goes on to the next stage,
//  its output becoming its payload (sl_table_complete returns
//  SL_TABLE_ADVANCED); it ends (and is delivered) after the last stage, or
//  in the stage where it failed. One task record goes through every stage,
//  so exactly-once holds end to end: runs of an earlier stage are stale.

#define SL_MAX_STAGES 8

//  Makes job in queue (stage 1) with the named queues of its next stages
//  (nthen of them, at most SL_MAX_STAGES - 1). As sl_table_job_make.
sl_table_rc_t sl_table_job_make_stages (sl_table_t *self, const char *job_id, const char *queue,
                                        char **then, size_t nthen);

//  --- Attachments ------------------------------------------------------------
//  Files shipped with a job: the table only keeps their list.

#define SL_MAX_ATTACHMENTS 8
typedef struct {
    char name [65]; //  [A-Za-z0-9._-], 1-64
    char hash [41]; //  SHA-1, 40 lowercase hex digits
    uint64_t size;
} sl_attach_t;

//  Sets the job's attachments (once; later calls change nothing).
//  SL_TABLE_INVALID if more than SL_MAX_ATTACHMENTS.
sl_table_rc_t sl_job_set_attachments (sl_job_t *job, const sl_attach_t *list, size_t n);

//  The job's attachments; *n gets how many.
const sl_attach_t *sl_job_attachments (sl_job_t *job, size_t *n);

//  Stages of a job (1 for a plain job), and the queue of stage k (0-based).
size_t sl_job_stages (sl_job_t *job);
sl_queue_t *sl_job_stage_queue (sl_job_t *job, size_t stage);

//  Takes the next task that went on to another stage since the last call
//  (for the journal: its seq, stage and new payload). NULL if none.
sl_task_t *sl_table_pop_advanced (sl_table_t *self);

//  Replay: task seq of job went on to stage (0-based) with this payload.
sl_table_rc_t sl_table_restore_advance (sl_table_t *self, const char *job_id, uint64_t seq,
                                        unsigned stage, const uint8_t *payload, size_t size);

//  Adds task seq of job (creating the job on its first task) with a copy
//  of its payload and id, QUEUED at the back of its priority's queue. As
//  sl_table_submit.
sl_table_rc_t sl_table_submit_task (sl_table_t *self, const char *job_id, uint64_t seq,
                                    const sl_task_in_t *in);

//  Adds task seq of job (creating the job on its first task) with a copy
//  of payload, QUEUED at the back. Returns SL_TABLE_OK, SL_TABLE_DUPLICATE if
//  the seq was already there (the copy is ignored), SL_TABLE_INVALID for
//  seq 0, seq > SL_MAX_SEQ or seq beyond a known total.
sl_table_rc_t sl_table_submit (sl_table_t *self, const char *job_id, uint64_t seq,
                               const uint8_t *payload, size_t size, uint32_t timeout_ms,
                               uint8_t retries);

//  Records that job has `total` tasks. SL_TABLE_INVALID if a task beyond
//  total already arrived or a different total was recorded before.
sl_table_rc_t sl_table_end (sl_table_t *self, const char *job_id, uint64_t total);

//  --- Dispatch -------------------------------------------------------------

//  Tasks waiting for a worker, over all jobs.
size_t sl_table_queued (sl_table_t *self);

//  As sl_table_dispatch, from the named queue `queue` only.
sl_task_t *sl_table_dispatch_from (sl_table_t *self, sl_queue_t *queue, int64_t now,
                                   int64_t lease_ms, const char *holder);

//  From the default queue: takes the next QUEUED task, marks it RUNNING with deadline
//  now + lease_ms and holder (NULL when the worker is not known yet, as
//  with a PUSH socket), and counts an attempt. NULL if nothing is queued.
sl_task_t *sl_table_dispatch (sl_table_t *self, int64_t now, int64_t lease_ms, const char *holder);

//  Tasks in RUNNING, over all jobs.
size_t sl_table_running (sl_table_t *self);

//  Returns the interned copy of a worker name (owned by the table, valid
//  until the table is destroyed), or NULL if out of memory.
const char *sl_table_intern (sl_table_t *self, const char *name);

//  A worker says it holds run `attempt` of job/seq: sets the holder and
//  extends the lease to `deadline`. A task whose lease already expired (it
//  was QUEUED again) and is claimed by its latest run goes back to RUNNING.
//  SL_TABLE_DUPLICATE if the task is past that run, INVALID if unknown.
sl_table_rc_t sl_table_claim (sl_table_t *self, const char *job_id, uint64_t seq, uint32_t attempt,
                              const char *holder, int64_t deadline);

//  After a broker restart: a worker claims run `attempt` (of `stage`,
//  1-based, 0 = not said) of job/seq, a run newer than any this table dealt:
//  a run from before the restart, still going. The task becomes RUNNING
//  under that run, claimed by holder until deadline, as sl_table_claim
//  would, so it is not dealt again and runs once. A run of another stage
//  (or of an unsaid one in a multi-stage job) is not adopted. DUPLICATE if
//  not adopted (the run is not newer, or of another stage, or the task has
//  its result), INVALID if unknown, NOMEM.
sl_table_rc_t sl_table_adopt (sl_table_t *self, const char *job_id, uint64_t seq, uint32_t attempt,
                              unsigned stage, const char *holder, int64_t deadline);

//  The worker holding run `attempt` of job/seq says it has not started it
//  yet (it waits for a free slot). If that worker is lost, the run does not
//  count as a lost attempt (see sl_table_worker_lost). A later claim of the
//  same run (the worker started it) clears this.
void sl_table_waiting (sl_table_t *self, const char *job_id, uint64_t seq, uint32_t attempt);

//  A worker hands back run `attempt` of job/seq unfinished: QUEUED at the
//  front, the run not counted. DUPLICATE if that is not the task's current
//  run (e.g. it was already requeued), INVALID if unknown.
sl_table_rc_t sl_table_release (sl_table_t *self, const char *job_id, uint64_t seq,
                                uint32_t attempt);

//  sl_table_release on behalf of the worker `holder`: a run another worker
//  holds is not its to hand back (SL_TABLE_DUPLICATE). A run nobody has
//  claimed yet (PUSH dispatch) may be handed back by any worker.
sl_table_rc_t sl_table_release_by (sl_table_t *self, const char *job_id, uint64_t seq,
                                   uint32_t attempt, const char *holder);

//  The worker `holder` is gone: every task it holds is QUEUED at the front
//  (or ends failed when lost too often: a run that started, SL_LOST_RETRIES
//  times or its retries; a run it had not started, ten times as often).
//  Returns how many tasks it held.
size_t sl_table_worker_lost (sl_table_t *self, const char *holder);

//  Every RUNNING task whose lease ended by `now` is lost (back to the front
//  of the queue, or failed when lost too often). A run no worker claimed
//  (lost on the way to a worker) does not count in sl_task_runs, but does
//  count as a loss, so that even a task that kills every worker before it
//  can claim it ends. Returns how many.
size_t sl_table_expire (sl_table_t *self, int64_t now);

//  Reverts a dispatch that never left the broker (the send failed): the
//  task is QUEUED again at the front and the attempt is not counted.
void sl_table_undispatch (sl_table_t *self, sl_task_t *task);

//  A worker reports the result of run `attempt` of job/seq. A good result
//  of any run is accepted while the task has none (RUNNING, or QUEUED again
//  after its worker was lost); a failure only from the task's latest run.
//  Accepted: the task becomes DONE, its payload is freed and the result is
//  queued for the sink; or, for a failure with retries left, it is QUEUED
//  again at the front (SL_TABLE_RETRY). SL_TABLE_DUPLICATE for a result that
//  is dropped (late, doubled, or from a superseded run), SL_TABLE_INVALID
//  for an unknown job or seq.
typedef struct {
    uint8_t status; //  sl_status_t
    int32_t exit_code;
    uint64_t duration_ms;
    const char *worker; //  copied (interned)
    const uint8_t *output;
    size_t output_size;
    const uint8_t *err;
    size_t err_size;
    bool output_truncated;
    const char *id; //  the task's id (used only when the table no longer has it), or NULL
    uint8_t stage;  //  1-based stage of the run (0 = unknown); complete drops a run of
                    //  another stage; restore and redeliver keep it as the stage it ended in
} sl_result_in_t;

sl_table_rc_t sl_table_complete (sl_table_t *self, const char *job_id, uint64_t seq,
                                 uint32_t attempt, const sl_result_in_t *in);

//  Writes the seqs of job whose final result was not ok (failed, timeout,
//  cancelled) as ranges (first, last pairs) into ranges (room for
//  max_ranges pairs); *truncated tells if there were more. Returns the
//  number of ranges. O(job size).
size_t sl_table_failed (sl_table_t *self, sl_job_t *job, uint64_t *ranges, size_t max_ranges,
                        bool *truncated);

//  Cancels job: every task of it that is QUEUED or RUNNING ends at once
//  with status SL_STATUS_CANCELLED (a result like any other: delivered to
//  the sink, reported by sl_table_pop_completed for the journal). Later
//  results of those runs are duplicates. Tasks that have not arrived are
//  not touched. Returns how many were cancelled (0 for an unknown job).
size_t sl_table_cancel (sl_table_t *self, const char *job_id);

//  --- Delivery -------------------------------------------------------------

//  Results waiting to be sent to a sink: of one job, or of all if job NULL.
size_t sl_table_deliverable (sl_table_t *self, sl_job_t *job);

//  Results that may be sent now: DONE and durable (see sl_table_durable),
//  of one job or of all if job NULL.
size_t sl_table_sendable (sl_table_t *self, sl_job_t *job);

//  With hold on (a broker with a journal), a result that sl_table_complete,
//  sl_table_cancel or a lost task's end made DONE is "fresh": it is not
//  sendable until the next sl_table_durable, so that the sink never holds a
//  result that a crash could make the broker forget (and run again).
//  Results restored by replay or redelivered are durable already. Off (the
//  default) every result is sendable at once; turning it off releases
//  every fresh one.
void sl_table_hold_fresh (sl_table_t *self, bool hold);

//  Every result reached so far is durable (the caller committed their
//  journal records): the fresh ones become sendable, in completion order.
void sl_table_durable (sl_table_t *self);

//  The record of task's result (fresh, as sl_table_pop_completed gave
//  it) has journal position `position` (or one before it).
void sl_table_recorded (sl_table_t *self, sl_task_t *task, uint64_t position);

//  The journal is durable up to position: the fresh results recorded at
//  or before it become sendable, in completion order within each job
//  (results not yet recorded stay fresh). For a journal whose commits
//  complete out of the broker's turn (NATS): the loop keeps working while
//  the later records are on their way.
void sl_table_durable_to (sl_table_t *self, uint64_t position);

//  Takes the next sendable DONE result of job (or, with job NULL, of the
//  job whose turn it is, round-robin), marks it SENT and returns its task.
//  NULL if none. Results of one job come in the order they completed.
sl_task_t *sl_table_send_next (sl_table_t *self, sl_job_t *job);

//  The sink acknowledged job/seq: SENT -> DELIVERED, result freed.
//  SL_TABLE_DUPLICATE if already delivered or not SENT (stale ack).
sl_table_rc_t sl_table_ack (sl_table_t *self, const char *job_id, uint64_t seq);

//  Reverts the most recent send_next of job (the send failed): the task is
//  DONE again, first in line. Returns the task, or NULL if none was SENT.
sl_task_t *sl_table_unsend_last (sl_table_t *self, sl_job_t *job);

//  The sink went away: every SENT result becomes DONE again, ahead of the
//  results never sent, so the next sink gets them. Returns how many.
size_t sl_table_unsend_all (sl_table_t *self);

//  The same for one job (its collector went away): its SENT results become
//  DONE again, ahead of those never sent. Returns how many.
size_t sl_table_unsend_job (sl_table_t *self, sl_job_t *job);

//  Results SENT and not yet acknowledged, over all jobs.
size_t sl_table_unacked (sl_table_t *self);

//  Copies result's task id into buf (room for 256 bytes) as a string;
//  returns buf ("" when the task had none).
char *sl_result_id (const sl_result_t *result, char *buf);

//  --- Memory ----------------------------------------------------------------

//  Bytes held for the tasks not yet delivered: each one's SL_TASK_HELD, its
//  run record while it has one, its result (until the sink has it), and
//  its payload until it has a result: the arena blocks that hold small
//  payloads are counted whole, from their allocation to their release,
//  and a larger payload by its size. The broker stops taking tasks past
//  its memory limit. Records of delivered tasks stay until their job is
//  retired and are not counted.
size_t sl_table_held (sl_table_t *self);

//  --- Durability (used by the broker's journal) -------------------------------

//  Every job created from now on gets this tag (the broker: the journal
//  segment it is writing, so a job knows the oldest segment it needs).
void sl_table_set_tag (sl_table_t *self, uint64_t tag);
uint64_t sl_job_tag (sl_job_t *job);

//  Takes the next task that got its final result since the last call (from
//  sl_table_complete or a task lost too often), for the journal. NULL if
//  none. The task is valid until its job is retired.
sl_task_t *sl_table_pop_completed (sl_table_t *self);

//  Replay: the final result of job/seq, which took `runs` runs, as the
//  journal recorded it. The task must have been submitted. The task becomes
//  DONE (deliverable) and is not reported by sl_table_pop_completed.
sl_table_rc_t sl_table_restore_result (sl_table_t *self, const char *job_id, uint64_t seq,
                                       const sl_result_in_t *in, unsigned runs);

//  Replay: the sink had job/seq: DONE -> DELIVERED, result freed.
sl_table_rc_t sl_table_restore_delivered (sl_table_t *self, const char *job_id, uint64_t seq);

//  A sink wants job again from the start: a DELIVERED task gets its result
//  back (read from the journal) and is DONE again. DUPLICATE if the task is
//  not DELIVERED (its result is still held), INVALID if unknown.
sl_table_rc_t sl_table_redeliver (sl_table_t *self, const char *job_id, uint64_t seq,
                                  const sl_result_in_t *in);

//  --- Checkpoints (durable.h) ------------------------------------------------

//  The task of job with this seq, or NULL if it has not arrived.
sl_task_t *sl_job_task (sl_job_t *job, uint64_t seq);

//  The priority the task was submitted with.
int32_t sl_task_priority (const sl_task_t *task);

//  Replay of a checkpoint: job's counts by status are these (the records
//  of delivered tasks keep only whether each was ok). INVALID if unknown.
sl_table_rc_t sl_table_restore_counts (sl_table_t *self, const char *job_id, uint64_t ok,
                                       uint64_t failed, uint64_t timeout, uint64_t cancelled);

//  Writes the seqs job is missing as ranges (first, last pairs) into
//  ranges (room for max_ranges pairs): up to its total when known, else
//  up to its highest seq. Returns the number of ranges. O(job size).
size_t sl_table_missing (sl_table_t *self, const char *job_id, uint64_t *ranges, size_t max_ranges);

#endif
