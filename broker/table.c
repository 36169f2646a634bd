/*  table - the broker's task bookkeeping, see table.h.

    Layout: jobs are kept in a hash (by id) and a doubly linked list (arrival
    order). A job's tasks live in chunks of CHUNK_SIZE, allocated when the
    first task of the chunk arrives, indexed by (seq - 1). A task knows its
    index in its chunk (slot), which takes it to the chunk's header: its job
    and first seq. The dispatch queue is global and holds pointers to QUEUED
    tasks; each job has a ready queue (DONE results in completion order) and
    a sent queue (SENT results in send order, trimmed lazily as acks arrive).

    Memory per task waiting for its first run: its 32-byte record, its queue
    entry (8), and its payload in its chunk's arena. A chunk carves payloads
    of up to ARENA_MAX_PAYLOAD bytes from blocks sized for the tasks still to
    come in it (a chunk of tasks of one size gets blocks that fit them
    exactly); the blocks are freed when every payload in them was released
    (the task got its result or went on to another stage) and every task of
    the chunk has arrived. A straggler keeps its chunk's blocks (at most
    CHUNK_SIZE * ARENA_MAX_PAYLOAD bytes); the memory count says so. Larger
    payloads are allocated on their own.

    A dispatched task gets a run record (sl_run_t) that keeps what only runs
    need; the RUNNING list links run records. Records come from a pool, so a
    dispatch does not call malloc.
*/
#include "table.h"

#include <assert.h>
#include <czmq.h>
#include <stdlib.h>
#include <string.h>

#include "sl_util.h"

#include "sl_deque.h"

#define CHUNK_BITS 10
#define CHUNK_SIZE (1u << CHUNK_BITS)

//  Payloads (with their id) of up to this many bytes go into the arena.
#define ARENA_MAX_PAYLOAD 256
//  Bounds of an arena block's size (below glibc's mmap threshold).
#define ARENA_MIN_BLOCK 1024
#define ARENA_MAX_BLOCK (64 * 1024)

//  Spare run records the table keeps for the next dispatches.
#define RUN_POOL_MAX 1024

_Static_assert(sizeof (sl_task_t) == 32, "a task record is 32 bytes");
_Static_assert(CHUNK_SIZE <= 1024 && SL_MAX_STAGES <= 8 && SL_TABLE_MAX_LEVELS <= 64,
               "sl_task_t's bit fields hold slot, stage and level");

//  What only a task that has been dispatched needs.
struct _sl_run_t {
    sl_task_t *task;           //  its task
    sl_run_t *prev;            //  RUNNING list while RUNNING (next: the pool while spare)
    sl_run_t *next;            //
    int64_t deadline;          //  lease expiry while RUNNING (ms)
    const char *holder;        //  interned name of the worker holding it, or NULL
    const char *avoid;         //  worker whose run of it failed or was lost last, or NULL
    uint16_t uncounted;        //  runs dispatched that never started (handed back, never claimed)
    uint16_t losses;           //  runs lost with a worker or a lease so far
    uint16_t unstarted_losses; //  runs lost before they started (not counted in losses)
    uint16_t ended_run;        //  latest run that reported a failure (0 = none)
    uint16_t waiting_run;      //  run its worker holds but said had not started yet (0 = none)
    uint16_t stage_base;       //  attempts when its stage began: runs up to it are stale
    uint8_t failures;          //  failed or timed-out runs so far (in its stage)
    bool expired_unclaimed;    //  the latest run expired before anyone claimed it
    bool claimed;              //  its worker said it holds the latest run
};

//  A block of a chunk's arena.
typedef struct _s_block_t s_block_t;
struct _s_block_t {
    s_block_t *next; //  older block of the same chunk
    size_t size;     //  bytes at data
    uint8_t data []; //  payloads
};

//  CHUNK_SIZE consecutive tasks of a job, and the arena of their payloads.
typedef struct {
    sl_job_t *job;                //  the job they belong to
    uint64_t base;                //  seq of tasks [0], less 1
    s_block_t *blocks;            //  arena blocks, newest first (owned)
    size_t used;                  //  bytes carved from the newest block
    size_t live;                  //  payloads in the arena not released yet
    size_t arrived;               //  tasks that arrived (not ABSENT)
    sl_task_t tasks [CHUNK_SIZE]; //  slot i holds seq base + i + 1
} s_chunk_t;

struct _sl_queue_t {
    char *name;                               //  its name (owned)
    sl_deque_t *levels [SL_TABLE_MAX_LEVELS]; //  QUEUED tasks per level (may hold stale entries)
    int32_t priorities [SL_TABLE_MAX_LEVELS]; //  each level's priority
    uint16_t order [SL_TABLE_MAX_LEVELS];     //  levels, highest priority first
    size_t nlevels;                           //  levels in use (level 0 = priority 0)
    size_t queued;                            //  tasks QUEUED in it, exact
};

struct _sl_job_t {
    char *id;                            //  the job's id (owned)
    sl_queue_t *queue;                   //  the named queue its tasks wait in (its first stage's)
    sl_queue_t *stages [SL_MAX_STAGES];  //  queue of each stage ([0] = queue)
    size_t stage_queued [SL_MAX_STAGES]; //  its tasks QUEUED in each stage
    size_t nstages;                      //  1 for a plain job
    sl_attach_t *attach;                 //  files shipped with it (owned), or NULL
    size_t nattach;                      //  how many
    s_chunk_t **chunks;                  //  task chunks, NULL where none arrived yet
    size_t nchunks;                      //  slots in chunks
    sl_job_counts_t counts;              //  what callers see
    sl_deque_t *ready;    //  DONE tasks that may be sent; entries delivered since are stale
    sl_deque_t *fresh;    //  DONE tasks whose result is not durable yet (sl_table_durable)
    uint64_t ready_count; //  tasks of this job in state DONE, exact (fresh ones included)
    uint64_t fresh_count; //  tasks in fresh
    sl_deque_t *sent;     //  SENT tasks in send order; entries acked since are stale
    uint64_t unacked;     //  tasks in state SENT
    uint64_t queue_refs;  //  entries in the table's dispatch queue that point here
    uint64_t highest;     //  highest seq arrived
    size_t held;          //  its part of the table's held (sl_table_held)
    uint64_t tag;   //  the caller's number for the job (the broker: its first journal segment)
    bool retired;   //  retired, kept only until its stale queue entries are popped
    sl_job_t *prev; //  arrival-order list
    sl_job_t *next;
};

struct _sl_table_t {
    zhashx_t *jobs;                           //  id -> sl_job_t (not owning; the list owns)
    sl_job_t *head;                           //  oldest job
    sl_job_t *tail;                           //  newest job
    sl_job_t *cursor;                         //  iteration position for job_first/job_next
    bool cursor_ahead;                        //  cursor already moved on (its job was retired)
    sl_job_t *deliver_turn;                   //  job whose turn it is in round-robin delivery
    size_t njobs;                             //  jobs in the list
    sl_queue_t *queues [SL_TABLE_MAX_QUEUES]; //  named queues; [0] is the default one
    size_t nqueues;                           //  queues in use
    sl_deque_t *completed;  //  tasks that got their final result, until sl_table_pop_completed
    sl_deque_t *advanced;   //  tasks that went on to another stage, until sl_table_pop_advanced
    sl_deque_t *fresh_jobs; //  jobs with fresh results (each once), until sl_table_durable
    size_t fresh;           //  DONE tasks not durable yet, over all jobs
    bool hold_fresh;        //  results wait for sl_table_durable (sl_table_hold_fresh)
    zlistx_t *zombies;      //  retired jobs with stale dispatch-queue entries (owned)
    uint64_t next_tag;      //  tag given to new jobs
    size_t queued;          //  tasks in state QUEUED, exact
    size_t deliverable;     //  tasks in state DONE, exact
    size_t unacked;         //  tasks in state SENT, exact
    sl_run_t *running_head; //  run records of the RUNNING tasks
    size_t running;         //  tasks in state RUNNING, exact
    sl_run_t *spare_runs;   //  pool of run records (linked by next)
    size_t nspare_runs;     //  how many
    zhashx_t *workers;      //  interned worker names: name -> owned copy
    size_t held;            //  bytes held for tasks not yet delivered (sl_table_held)
};

static void s_free_string (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

//  --- Tasks' records ---------------------------------------------------------

static inline s_chunk_t *s_chunk_of (const sl_task_t *task)
{
    return (s_chunk_t *) ((char *) (task - task->slot) - offsetof (s_chunk_t, tasks));
}

static inline sl_job_t *s_job_of (const sl_task_t *task)
{
    return s_chunk_of (task)->job;
}

static inline uint64_t s_seq_of (const sl_task_t *task)
{
    return s_chunk_of (task)->base + task->slot + 1;
}

uint64_t sl_task_seq (const sl_task_t *task)
{
    assert (task);
    return s_seq_of (task);
}

sl_job_t *sl_task_job (const sl_task_t *task)
{
    assert (task);
    return s_job_of (task);
}

const uint8_t *sl_task_payload (const sl_task_t *task)
{
    assert (task);
    return task->state == SL_TASK_QUEUED || task->state == SL_TASK_RUNNING ? task->data.payload
                                                                           : NULL;
}

sl_result_t *sl_task_result (const sl_task_t *task)
{
    assert (task);
    return task->state == SL_TASK_DONE || task->state == SL_TASK_SENT ? task->data.result : NULL;
}

int64_t sl_task_deadline (const sl_task_t *task)
{
    return task->run ? task->run->deadline : 0;
}

const char *sl_task_holder (const sl_task_t *task)
{
    return task->run ? task->run->holder : NULL;
}

const char *sl_task_avoid (const sl_task_t *task)
{
    return task->run ? task->run->avoid : NULL;
}

unsigned sl_task_failures (const sl_task_t *task)
{
    return task->run ? task->run->failures : 0;
}

unsigned sl_task_losses (const sl_task_t *task)
{
    return task->run ? task->run->losses : 0;
}

unsigned sl_task_uncounted (const sl_task_t *task)
{
    return task->run ? task->run->uncounted : 0;
}

unsigned sl_task_ended_run (const sl_task_t *task)
{
    return task->run ? task->run->ended_run : 0;
}

static inline unsigned s_stage_base (const sl_task_t *task)
{
    return task->run ? task->run->stage_base : 0;
}

sl_task_t *sl_task_run_prev (const sl_task_t *task)
{
    return task->run && task->run->prev ? task->run->prev->task : NULL;
}

sl_task_t *sl_task_run_next (const sl_task_t *task)
{
    return task->run && task->run->next ? task->run->next->task : NULL;
}

unsigned sl_task_runs (const sl_task_t *task)
{
    return (unsigned) task->attempts - sl_task_uncounted (task);
}

//  Counts bytes held for job's tasks (sl_table_held).
static inline void s_hold (sl_table_t *self, sl_job_t *job, size_t bytes)
{
    self->held += bytes;
    job->held += bytes;
}

static inline void s_unhold (sl_table_t *self, sl_job_t *job, size_t bytes)
{
    self->held -= bytes;
    job->held -= bytes;
}

//  --- Run records --------------------------------------------------------------

//  Makes sure the pool has a spare run record, so that the next s_run_get
//  cannot fail. False if out of memory.
static bool s_run_reserve (sl_table_t *self)
{
    if (self->spare_runs)
        return true;
    sl_run_t *run = malloc (sizeof *run);
    if (!run)
        return false;
    run->next = NULL;
    self->spare_runs = run;
    self->nspare_runs = 1;
    return true;
}

//  The task's run record, given one from the pool if it has none. NULL if
//  out of memory.
static sl_run_t *s_run_get (sl_table_t *self, sl_task_t *task)
{
    if (task->run)
        return task->run;
    if (!s_run_reserve (self))
        return NULL;
    sl_run_t *run = self->spare_runs;
    self->spare_runs = run->next;
    self->nspare_runs--;
    memset (run, 0, sizeof *run);
    run->task = task;
    task->run = run;
    s_hold (self, s_job_of (task), sizeof *run);
    return run;
}

//  Takes the task's run record (not on the RUNNING list) back to the pool.
static void s_run_drop (sl_table_t *self, sl_task_t *task)
{
    sl_run_t *run = task->run;
    if (!run)
        return;
    task->run = NULL;
    s_unhold (self, s_job_of (task), sizeof *run);
    if (self->nspare_runs < RUN_POOL_MAX) {
        run->next = self->spare_runs;
        self->spare_runs = run;
        self->nspare_runs++;
    } else
        free (run);
}

//  --- Payloads ------------------------------------------------------------------

//  The number of seqs chunk can hold in its job: fewer than CHUNK_SIZE for
//  the last chunk of a job whose size is known.
static size_t s_chunk_slots (const s_chunk_t *chunk)
{
    const sl_job_counts_t *counts = &chunk->job->counts;
    if (counts->total_known && counts->total < chunk->base + CHUNK_SIZE)
        return counts->total > chunk->base ? (size_t) (counts->total - chunk->base) : 0;
    return CHUNK_SIZE;
}

//  Room for size bytes of a payload of a task of chunk (that has not
//  arrived yet): from the chunk's arena, or on its own (*heap) if large.
//  NULL if out of memory.
static uint8_t *s_payload_alloc (sl_table_t *self, s_chunk_t *chunk, size_t size, bool *heap)
{
    *heap = size > ARENA_MAX_PAYLOAD;
    if (*heap) {
        uint8_t *bytes = malloc (size);
        if (bytes)
            s_hold (self, chunk->job, size);
        return bytes;
    }
    s_block_t *block = chunk->blocks;
    if (!block || chunk->used + size > block->size) {
        //  A block for the tasks still to come in the chunk, as if they
        //  were all of this size.
        size_t want = size * (CHUNK_SIZE - chunk->arrived);
        if (want < ARENA_MIN_BLOCK)
            want = ARENA_MIN_BLOCK;
        if (want > ARENA_MAX_BLOCK)
            want = ARENA_MAX_BLOCK;
        block = malloc (sizeof *block + want);
        if (!block)
            return NULL;
        block->size = want;
        block->next = chunk->blocks;
        chunk->blocks = block;
        chunk->used = 0;
        s_hold (self, chunk->job, sizeof *block + want);
    }
    uint8_t *bytes = block->data + chunk->used;
    chunk->used += size;
    chunk->live++;
    return bytes;
}

//  Frees the chunk's arena blocks (no payload in them is live), all of
//  them once every task of the chunk has arrived; else the newest is kept
//  for the tasks to come, empty.
static void s_arena_reset (sl_table_t *self, s_chunk_t *chunk)
{
    assert (chunk->live == 0);
    s_block_t *keep = chunk->arrived < s_chunk_slots (chunk) ? chunk->blocks : NULL;
    s_block_t *block = keep ? keep->next : chunk->blocks;
    while (block) {
        s_block_t *next = block->next;
        s_unhold (self, chunk->job, sizeof *block + block->size);
        free (block);
        block = next;
    }
    if (keep)
        keep->next = NULL;
    chunk->blocks = keep;
    chunk->used = 0;
}

//  Releases the payload of task (QUEUED or RUNNING, or ABSENT while it is
//  being added).
static void s_payload_release (sl_table_t *self, sl_task_t *task)
{
    s_chunk_t *chunk = s_chunk_of (task);
    if (task->heap) {
        free (task->data.payload);
        s_unhold (self, chunk->job, task->payload_size + task->id_size);
        task->heap = false;
    } else if (task->data.payload && --chunk->live == 0)
        s_arena_reset (self, chunk);
    task->data.payload = NULL;
}

static void s_zombie_free (void **item_p);

//  What a result costs in sl_table_held.
static size_t s_result_bytes (const sl_result_t *result)
{
    return sizeof *result + result->output_size + result->stderr_size + result->id_size;
}

static void s_queue_free (sl_queue_t **queue_p)
{
    sl_queue_t *queue = *queue_p;
    if (!queue)
        return;
    for (size_t i = 0; i < queue->nlevels; i++)
        sl_deque_destroy (&queue->levels [i]);
    free (queue->name);
    free (queue);
    *queue_p = NULL;
}

static sl_queue_t *s_queue_new (const char *name)
{
    sl_queue_t *queue = calloc (1, sizeof *queue);
    if (!queue)
        return NULL;
    queue->name = strdup (name);
    queue->levels [0] = sl_deque_new ();
    queue->nlevels = 1;
    if (!queue->name || !queue->levels [0])
        s_queue_free (&queue);
    return queue;
}

bool sl_queue_name_valid (const char *s)
{
    return sl_job_id_valid (s); //  the same rules as job ids
}

sl_queue_t *sl_table_queue (sl_table_t *self, const char *name, bool make)
{
    assert (self);
    if (!name || !*name)
        name = SL_QUEUE_DEFAULT;
    for (size_t i = 0; i < self->nqueues; i++)
        if (strcmp (self->queues [i]->name, name) == 0)
            return self->queues [i];
    if (!make || self->nqueues == SL_TABLE_MAX_QUEUES || !sl_queue_name_valid (name))
        return NULL;
    sl_queue_t *queue = s_queue_new (name);
    if (queue)
        self->queues [self->nqueues++] = queue;
    return queue;
}

size_t sl_table_queue_count (sl_table_t *self)
{
    assert (self);
    return self->nqueues;
}

sl_queue_t *sl_table_queue_at (sl_table_t *self, size_t index)
{
    assert (self);
    return index < self->nqueues ? self->queues [index] : NULL;
}

const char *sl_queue_name (sl_queue_t *queue)
{
    assert (queue);
    return queue->name;
}

size_t sl_queue_queued (sl_queue_t *queue)
{
    assert (queue);
    return queue->queued;
}

sl_queue_t *sl_job_queue (sl_job_t *job)
{
    assert (job);
    return job->queue;
}

sl_table_t *sl_table_new (void)
{
    sl_table_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->jobs = zhashx_new ();
    self->queues [0] = s_queue_new (SL_QUEUE_DEFAULT);
    self->nqueues = self->queues [0] ? 1 : 0;
    self->completed = sl_deque_new ();
    self->advanced = sl_deque_new ();
    self->fresh_jobs = sl_deque_new ();
    self->zombies = zlistx_new ();
    if (self->zombies)
        zlistx_set_destructor (self->zombies, s_zombie_free);
    self->workers = zhashx_new ();
    if (!self->jobs || !self->queues [0] || !self->completed || !self->advanced ||
        !self->fresh_jobs || !self->zombies ||
        !self->workers) {
        sl_table_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->workers, s_free_string);
    return self;
}

//  Frees a job and all it owns (its memory was uncounted when it was
//  retired).
static void s_job_free (sl_job_t *job)
{
    for (size_t c = 0; c < job->nchunks; c++) {
        s_chunk_t *chunk = job->chunks [c];
        if (!chunk)
            continue;
        for (size_t i = 0; i < CHUNK_SIZE; i++) {
            sl_task_t *task = &chunk->tasks [i];
            if (task->heap)
                free (task->data.payload);
            else if (task->state == SL_TASK_DONE || task->state == SL_TASK_SENT)
                free (task->data.result);
            free (task->run);
        }
        while (chunk->blocks) {
            s_block_t *next = chunk->blocks->next;
            free (chunk->blocks);
            chunk->blocks = next;
        }
        free (chunk);
    }
    free (job->chunks);
    free (job->attach);
    sl_deque_destroy (&job->ready);
    sl_deque_destroy (&job->fresh);
    sl_deque_destroy (&job->sent);
    free (job->id);
    free (job);
}

static void s_zombie_free (void **item_p)
{
    if (*item_p) {
        s_job_free ((sl_job_t *) *item_p);
        *item_p = NULL;
    }
}

void sl_table_destroy (sl_table_t **self_p)
{
    assert (self_p);
    sl_table_t *self = *self_p;
    if (!self)
        return;
    sl_job_t *job = self->head;
    while (job) {
        sl_job_t *next = job->next;
        s_job_free (job);
        job = next;
    }
    zhashx_destroy (&self->jobs);
    zhashx_destroy (&self->workers);
    for (size_t i = 0; i < self->nqueues; i++)
        s_queue_free (&self->queues [i]);
    sl_deque_destroy (&self->completed);
    sl_deque_destroy (&self->fresh_jobs);
    sl_deque_destroy (&self->advanced);
    zlistx_destroy (&self->zombies);
    while (self->spare_runs) {
        sl_run_t *next = self->spare_runs->next;
        free (self->spare_runs);
        self->spare_runs = next;
    }
    free (self);
    *self_p = NULL;
}

//  --- Jobs ---------------------------------------------------------------

sl_job_t *sl_table_job (sl_table_t *self, const char *id)
{
    assert (self);
    return (sl_job_t *) zhashx_lookup (self->jobs, id);
}

const char *sl_job_id (sl_job_t *job)
{
    return job->id;
}

const sl_job_counts_t *sl_job_counts (sl_job_t *job)
{
    return &job->counts;
}

uint64_t sl_job_highest (sl_job_t *job)
{
    assert (job);
    return job->highest;
}

bool sl_job_finished (sl_job_t *job)
{
    return job->counts.total_known && job->counts.delivered == job->counts.total;
}

size_t sl_table_job_count (sl_table_t *self)
{
    return self->njobs;
}

sl_job_t *sl_table_job_first (sl_table_t *self)
{
    self->cursor = self->head;
    self->cursor_ahead = false;
    return self->cursor;
}

sl_job_t *sl_table_job_next (sl_table_t *self)
{
    if (self->cursor_ahead)
        self->cursor_ahead = false;
    else if (self->cursor)
        self->cursor = self->cursor->next;
    return self->cursor;
}

static sl_job_t *s_job_new (sl_table_t *self, const char *id, sl_queue_t *queue)
{
    sl_job_t *job = calloc (1, sizeof *job);
    if (!job)
        return NULL;
    job->queue = queue ? queue : self->queues [0];
    job->stages [0] = job->queue;
    job->nstages = 1;
    job->id = strdup (id);
    job->ready = sl_deque_new ();
    job->fresh = sl_deque_new ();
    job->sent = sl_deque_new ();
    if (!job->id || !job->ready || !job->fresh || !job->sent) {
        s_job_free (job);
        return NULL;
    }
    zhashx_insert (self->jobs, id, job);
    job->tag = self->next_tag;
    job->prev = self->tail;
    if (self->tail)
        self->tail->next = job;
    else
        self->head = job;
    self->tail = job;
    self->njobs++;
    return job;
}

static void s_run_unlink (sl_table_t *self, sl_task_t *task);

//  Removes the dispatch-queue entries that point into job (only stale ones
//  can remain when a job is finished). O(queue), and rare.
static void s_purge_queue (sl_table_t *self, sl_job_t *job)
{
    (void) self;
    for (size_t stage = 0; stage < job->nstages; stage++) {
        sl_queue_t *named = job->stages [stage];
        if (stage && named == job->stages [stage - 1])
            continue; //  already purged
        for (size_t level = 0; level < named->nlevels; level++) {
            sl_deque_t *queue = named->levels [level];
            size_t size = sl_deque_size (queue);
            for (size_t i = 0; i < size; i++) {
                sl_task_t *task = sl_deque_pop_front (queue);
                if (s_job_of (task) != job)
                    sl_deque_push_back (queue, task); //  cannot fail: room was just made
            }
        }
    }
    job->queue_refs = 0;
}

void sl_table_retire (sl_table_t *self, sl_job_t *job)
{
    assert (self);
    assert (job);
    //  A job retired before it finished may still have RUNNING tasks.
    for (sl_run_t *run = self->running_head, *next; run; run = next) {
        next = run->next;
        if (s_job_of (run->task) == job)
            s_run_unlink (self, run->task);
    }
    //  Entries of its tasks left in the dispatch queue are stale (they are
    //  skipped when popped). Rather than search the queue for them, the job
    //  is kept as a zombie until the last one is popped; only a job retired
    //  with tasks still QUEUED (never, for a finished job) is searched out.
    bool zombie =
        job->queue_refs && !job->counts.queued && zlistx_add_end (self->zombies, job) != NULL;
    if (job->queue_refs && !zombie)
        s_purge_queue (self, job);
    job->retired = zombie;
    //  Completed entries not yet popped would dangle.
    size_t ncompleted = sl_deque_size (self->completed);
    for (size_t i = 0; i < ncompleted; i++) {
        sl_task_t *task = sl_deque_pop_front (self->completed);
        if (s_job_of (task) != job)
            sl_deque_push_back (self->completed, task);
    }
    size_t nadvanced = sl_deque_size (self->advanced);
    for (size_t i = 0; i < nadvanced; i++) {
        sl_task_t *task = sl_deque_pop_front (self->advanced);
        if (s_job_of (task) != job)
            sl_deque_push_back (self->advanced, task);
    }
    size_t nfresh = sl_deque_size (self->fresh_jobs);
    for (size_t i = 0; i < nfresh; i++) {
        sl_job_t *other = sl_deque_pop_front (self->fresh_jobs);
        if (other != job)
            sl_deque_push_back (self->fresh_jobs, other);
    }
    self->fresh -= job->fresh_count;
    if (self->cursor == job) {
        self->cursor = job->next;
        self->cursor_ahead = true;
    }
    if (self->deliver_turn == job)
        self->deliver_turn = job->next;
    if (job->prev)
        job->prev->next = job->next;
    else
        self->head = job->next;
    if (job->next)
        job->next->prev = job->prev;
    else
        self->tail = job->prev;
    self->held -= job->held;
    job->held = 0;
    self->queued -= job->counts.queued;
    for (size_t stage = 0; stage < job->nstages; stage++)
        job->stages [stage]->queued -= job->stage_queued [stage];
    self->deliverable -= job->ready_count;
    self->unacked -= job->unacked;
    zhashx_delete (self->jobs, job->id);
    self->njobs--;
    job->prev = job->next = NULL;
    if (!zombie)
        s_job_free (job);
}

//  --- Tasks --------------------------------------------------------------

//  The slot for seq (1-based) or NULL if its chunk was never allocated.
static sl_task_t *s_slot (sl_job_t *job, uint64_t seq)
{
    uint64_t index = seq - 1;
    uint64_t c = index >> CHUNK_BITS;
    if (c >= job->nchunks || !job->chunks [c])
        return NULL;
    return &job->chunks [c]->tasks [index & (CHUNK_SIZE - 1)];
}

//  The slot for seq, allocating its chunk if needed. NULL if out of memory.
static sl_task_t *s_slot_make (sl_job_t *job, uint64_t seq)
{
    uint64_t index = seq - 1;
    uint64_t c = index >> CHUNK_BITS;
    if (c >= job->nchunks) {
        size_t n = job->nchunks ? job->nchunks : 4;
        while (n <= c)
            n *= 2;
        s_chunk_t **chunks = realloc (job->chunks, n * sizeof *chunks);
        if (!chunks)
            return NULL;
        memset (chunks + job->nchunks, 0, (n - job->nchunks) * sizeof *chunks);
        job->chunks = chunks;
        job->nchunks = n;
    }
    if (!job->chunks [c]) {
        s_chunk_t *chunk = calloc (1, sizeof *chunk);
        if (!chunk)
            return NULL;
        chunk->job = job;
        chunk->base = c << CHUNK_BITS;
        for (size_t i = 0; i < CHUNK_SIZE; i++)
            chunk->tasks [i].slot = (uint16_t) i;
        job->chunks [c] = chunk;
    }
    return &job->chunks [c]->tasks [index & (CHUNK_SIZE - 1)];
}

static sl_task_t *s_task (sl_table_t *self, const char *job_id, uint64_t seq)
{
    if (seq == 0 || seq > SL_MAX_SEQ)
        return NULL;
    sl_job_t *job = sl_table_job (self, job_id);
    if (!job)
        return NULL;
    sl_task_t *task = s_slot (job, seq);
    return task && task->state != SL_TASK_ABSENT ? task : NULL;
}

//  Puts a task into QUEUED, at the back (new work) or front (work to redo).
static int s_enqueue (sl_table_t *self, sl_task_t *task, bool front)
{
    sl_job_t *job = s_job_of (task);
    sl_deque_t *queue = job->stages [task->stage]->levels [task->level];
    int rc = front ? sl_deque_push_front (queue, task) : sl_deque_push_back (queue, task);
    if (rc)
        return -1;
    task->state = SL_TASK_QUEUED;
    job->queue_refs++;
    job->counts.queued++;
    job->stage_queued [task->stage]++;
    job->stages [task->stage]->queued++;
    self->queued++;
    return 0;
}

//  The level whose queue tasks of this priority wait in: its own, made on
//  first use while there is room, else the nearest one.
static uint8_t s_level (sl_queue_t *self, int32_t priority)
{
    size_t nearest = 0;
    int64_t best = INT64_MAX;
    for (size_t i = 0; i < self->nlevels; i++) {
        int64_t distance = llabs ((int64_t) self->priorities [i] - priority);
        if (distance < best) {
            best = distance;
            nearest = i;
        }
    }
    if (best == 0 || self->nlevels == SL_TABLE_MAX_LEVELS)
        return (uint8_t) nearest;
    sl_deque_t *queue = sl_deque_new ();
    if (!queue)
        return (uint8_t) nearest;
    size_t level = self->nlevels++;
    self->levels [level] = queue;
    self->priorities [level] = priority;
    //  Into the order, highest priority first.
    size_t at = level;
    while (at > 0 && self->priorities [self->order [at - 1]] < priority) {
        self->order [at] = self->order [at - 1];
        at--;
    }
    self->order [at] = (uint16_t) level;
    return (uint8_t) level;
}

sl_table_rc_t sl_table_submit (sl_table_t *self, const char *job_id, uint64_t seq,
                               const uint8_t *payload, size_t size, uint32_t timeout_ms,
                               uint8_t retries)
{
    sl_task_in_t in = {
        .payload = payload, .size = size, .timeout_ms = timeout_ms, .retries = retries
    };
    return sl_table_submit_task (self, job_id, seq, &in);
}

sl_table_rc_t sl_table_submit_task (sl_table_t *self, const char *job_id, uint64_t seq,
                                    const sl_task_in_t *in)
{
    assert (self);
    assert (in);
    const uint8_t *payload = in->payload;
    size_t size = in->size;
    size_t id_size = in->id ? strnlen (in->id, 255) : 0;
    if (seq == 0 || seq > SL_MAX_SEQ || size > UINT32_MAX)
        return SL_TABLE_INVALID;
    sl_job_t *job = sl_table_job (self, job_id);
    if (job && job->counts.total_known && seq > job->counts.total)
        return SL_TABLE_INVALID;
    if (!job && !(job = s_job_new (self, job_id, NULL)))
        return SL_TABLE_NOMEM;
    sl_task_t *task = s_slot_make (job, seq);
    if (!task)
        return SL_TABLE_NOMEM;
    if (task->state != SL_TASK_ABSENT)
        return SL_TABLE_DUPLICATE;
    s_chunk_t *chunk = s_chunk_of (task);
    bool heap;
    uint8_t *bytes = s_payload_alloc (self, chunk, size + id_size, &heap);
    if (!bytes)
        return SL_TABLE_NOMEM;
    if (size)
        memcpy (bytes, payload, size);
    if (id_size)
        memcpy (bytes + size, in->id, id_size);
    task->data.payload = bytes;
    task->heap = heap;
    task->payload_size = (uint32_t) size;
    task->id_size = (uint8_t) id_size;
    task->timeout_ms = in->timeout_ms;
    task->retries = in->retries;
    task->level = in->priority ? s_level (job->queue, in->priority) : 0;
    if (s_enqueue (self, task, false)) {
        s_payload_release (self, task);
        return SL_TABLE_NOMEM;
    }
    chunk->arrived++;
    job->counts.received++;
    if (seq > job->highest)
        job->highest = seq;
    s_hold (self, job, SL_TASK_HELD);
    return SL_TABLE_OK;
}

sl_table_rc_t sl_table_end (sl_table_t *self, const char *job_id, uint64_t total)
{
    assert (self);
    if (total > SL_MAX_SEQ)
        return SL_TABLE_INVALID;
    sl_job_t *job = sl_table_job (self, job_id);
    if (!job && !(job = s_job_new (self, job_id, NULL)))
        return SL_TABLE_NOMEM;
    if (job->counts.total_known)
        return job->counts.total == total ? SL_TABLE_DUPLICATE : SL_TABLE_INVALID;
    //  A task beyond total means the ventilator contradicts itself.
    for (uint64_t c = total >> CHUNK_BITS; c < job->nchunks; c++) {
        if (!job->chunks [c])
            continue;
        for (uint64_t i = 0; i < CHUNK_SIZE; i++) {
            uint64_t seq = (c << CHUNK_BITS) + i + 1;
            if (seq > total && job->chunks [c]->tasks [i].state != SL_TASK_ABSENT)
                return SL_TABLE_INVALID;
        }
    }
    job->counts.total = total;
    job->counts.total_known = true;
    //  The last chunk may now be complete, with no payload live in its
    //  arena: then it needs no block for tasks to come.
    uint64_t c = total ? (total - 1) >> CHUNK_BITS : job->nchunks;
    s_chunk_t *last = c < job->nchunks ? job->chunks [c] : NULL;
    if (last && last->live == 0 && last->blocks)
        s_arena_reset (self, last);
    return SL_TABLE_OK;
}

//  --- Dispatch -------------------------------------------------------------

size_t sl_table_queued (sl_table_t *self)
{
    assert (self);
    return self->queued;
}

//  The RUNNING list: every RUNNING task, so that leases and lost workers
//  are found without scanning whole jobs.
//  (Of their run records: a RUNNING task has one.)
static void s_run_link (sl_table_t *self, sl_task_t *task)
{
    sl_run_t *run = task->run;
    assert (run);
    run->prev = NULL;
    run->next = self->running_head;
    if (self->running_head)
        self->running_head->prev = run;
    self->running_head = run;
    self->running++;
    s_job_of (task)->counts.running++;
}

static void s_run_unlink (sl_table_t *self, sl_task_t *task)
{
    sl_run_t *run = task->run;
    if (run->prev)
        run->prev->next = run->next;
    else
        self->running_head = run->next;
    if (run->next)
        run->next->prev = run->prev;
    run->prev = run->next = NULL;
    self->running--;
    s_job_of (task)->counts.running--;
}

//  Takes a task out of QUEUED (its queue entry becomes stale).
static void s_unqueue (sl_table_t *self, sl_task_t *task)
{
    sl_job_t *job = s_job_of (task);
    job->counts.queued--;
    job->stage_queued [task->stage]--;
    job->stages [task->stage]->queued--;
    self->queued--;
}

sl_table_rc_t sl_table_job_make (sl_table_t *self, const char *job_id, const char *queue_name)
{
    return sl_table_job_make_stages (self, job_id, queue_name, NULL, 0);
}

sl_table_rc_t sl_table_job_make_stages (sl_table_t *self, const char *job_id, const char *queue,
                                        char **then, size_t nthen)
{
    assert (self);
    if (sl_table_job (self, job_id))
        return SL_TABLE_DUPLICATE;
    if (nthen >= SL_MAX_STAGES)
        return SL_TABLE_INVALID;
    sl_queue_t *stages [SL_MAX_STAGES];
    stages [0] = sl_table_queue (self, queue, true);
    for (size_t i = 0; i < nthen; i++)
        stages [i + 1] = sl_table_queue (self, then [i], true);
    for (size_t i = 0; i <= nthen; i++)
        if (!stages [i])
            return SL_TABLE_INVALID;
    sl_job_t *job = s_job_new (self, job_id, stages [0]);
    if (!job)
        return SL_TABLE_NOMEM;
    memcpy (job->stages, stages, (nthen + 1) * sizeof stages [0]);
    job->nstages = nthen + 1;
    return SL_TABLE_OK;
}

sl_table_rc_t sl_job_set_attachments (sl_job_t *job, const sl_attach_t *list, size_t n)
{
    assert (job);
    if (n > SL_MAX_ATTACHMENTS)
        return SL_TABLE_INVALID;
    if (job->attach || n == 0)
        return SL_TABLE_DUPLICATE;
    job->attach = malloc (n * sizeof *list);
    if (!job->attach)
        return SL_TABLE_NOMEM;
    memcpy (job->attach, list, n * sizeof *list);
    job->nattach = n;
    return SL_TABLE_OK;
}

const sl_attach_t *sl_job_attachments (sl_job_t *job, size_t *n)
{
    assert (job);
    *n = job->nattach;
    return job->attach;
}

size_t sl_job_stages (sl_job_t *job)
{
    assert (job);
    return job->nstages;
}

sl_queue_t *sl_job_stage_queue (sl_job_t *job, size_t stage)
{
    assert (job);
    return stage < job->nstages ? job->stages [stage] : NULL;
}

sl_task_t *sl_table_pop_advanced (sl_table_t *self)
{
    assert (self);
    return (sl_task_t *) sl_deque_pop_front (self->advanced);
}

//  Moves task (QUEUED or RUNNING in its stage) on to stage `stage` with
//  a new payload (its id kept), QUEUED at the back there. 0, or -1 if out
//  of memory (nothing changed).
//  The new payload is allocated on its own (the arena is for payloads
//  that arrive with their chunk).
static int s_advance (sl_table_t *self, sl_task_t *task, unsigned stage, const uint8_t *payload,
                      size_t size)
{
    if (size > UINT32_MAX)
        return -1;
    size_t bytes = size + task->id_size;
    uint8_t *moved = malloc (bytes ? bytes : 1);
    //  A run record for the fallback below, should it be needed.
    if (!moved || (!task->run && !s_run_reserve (self))) {
        free (moved);
        return -1;
    }
    if (size)
        memcpy (moved, payload, size);
    if (task->id_size)
        memcpy (moved + size, task->data.payload + task->payload_size, task->id_size);
    sl_job_t *job = s_job_of (task);
    int32_t priority = job->stages [task->stage]->priorities [task->level];
    if (task->state == SL_TASK_QUEUED)
        s_unqueue (self, task);
    else if (task->state == SL_TASK_RUNNING)
        s_run_unlink (self, task);
    s_payload_release (self, task);
    task->data.payload = moved;
    task->heap = true;
    task->payload_size = (uint32_t) size;
    s_hold (self, job, bytes);
    task->stage = stage;
    task->level = priority ? s_level (job->stages [stage], priority) : 0;
    sl_run_t *run = task->run;
    if (run) {
        run->stage_base = task->attempts;
        run->failures = 0;
        run->ended_run = 0;
        run->waiting_run = 0;
        run->holder = NULL;
        run->avoid = NULL;
    }
    if (s_enqueue (self, task, false)) {
        //  Out of memory for the queue entry: keep it where the lease
        //  brings it back (as a RUNNING task of its new stage).
        task->state = SL_TASK_RUNNING;
        run = s_run_get (self, task); //  cannot fail: reserved above
        run->deadline = 0;
        s_run_link (self, task);
    }
    return 0;
}

sl_table_rc_t sl_table_restore_advance (sl_table_t *self, const char *job_id, uint64_t seq,
                                        unsigned stage, const uint8_t *payload, size_t size)
{
    assert (self);
    sl_task_t *task = s_task (self, job_id, seq);
    if (!task || stage >= s_job_of (task)->nstages)
        return SL_TABLE_INVALID;
    if (task->state != SL_TASK_QUEUED || stage <= task->stage)
        return SL_TABLE_DUPLICATE;
    return s_advance (self, task, stage, payload, size) ? SL_TABLE_NOMEM : SL_TABLE_OK;
}

sl_task_t *sl_table_dispatch (sl_table_t *self, int64_t now, int64_t lease_ms, const char *holder)
{
    assert (self);
    return self->nqueues ? sl_table_dispatch_from (self, self->queues [0], now, lease_ms, holder)
                         : NULL;
}

sl_task_t *sl_table_dispatch_from (sl_table_t *self, sl_queue_t *from, int64_t now,
                                   int64_t lease_ms, const char *holder)
{
    assert (self);
    assert (from);
    //  A run record for the task taken, so that nothing can fail once it
    //  is out of its queue.
    if (!from->queued || !s_run_reserve (self))
        return NULL;
    while (from->queued) {
        //  The highest priority level with entries (some may be stale).
        sl_deque_t *queue = NULL;
        for (size_t i = 0; i < from->nlevels && !queue; i++)
            if (sl_deque_size (from->levels [from->order [i]]))
                queue = from->levels [from->order [i]];
        sl_task_t *task = queue ? sl_deque_pop_front (queue) : NULL;
        assert (task); //  queued > 0 implies a live entry remains
        sl_job_t *job = s_job_of (task);
        if (--job->queue_refs == 0 && job->retired) {
            zlistx_delete (self->zombies, zlistx_find (self->zombies, job));
            continue; //  the zombie's last stale entry: it is gone now
        }
        if (task->state != SL_TASK_QUEUED || job->stages [task->stage] != from)
            continue; //  stale: completed, claimed while queued again, or in another stage
        sl_run_t *run = s_run_get (self, task); //  cannot fail: reserved above
        s_unqueue (self, task);
        task->state = SL_TASK_RUNNING;
        task->attempts++;
        run->expired_unclaimed = false;
        run->claimed = false;
        run->deadline = now + lease_ms;
        run->holder = holder;
        s_run_link (self, task);
        return task;
    }
    return NULL;
}

size_t sl_table_running (sl_table_t *self)
{
    assert (self);
    return self->running;
}

void sl_table_undispatch (sl_table_t *self, sl_task_t *task)
{
    assert (self);
    assert (task && task->state == SL_TASK_RUNNING);
    s_run_unlink (self, task);
    if (s_enqueue (self, task, true)) {
        //  Out of memory for the queue entry: keep it RUNNING; its lease
        //  brings it back.
        s_run_link (self, task);
        return;
    }
    task->attempts--;
    sl_run_t *run = task->run;
    run->holder = NULL;
    //  Back to a task never dispatched: it needs no run record.
    if (task->attempts == 0 && !run->avoid && !run->uncounted && !run->losses &&
        !run->unstarted_losses && !run->ended_run && !run->failures)
        s_run_drop (self, task);
}

const char *sl_table_intern (sl_table_t *self, const char *name)
{
    assert (self);
    char *copy = (char *) zhashx_lookup (self->workers, name);
    if (!copy) {
        copy = strdup (name);
        if (!copy)
            return NULL;
        zhashx_insert (self->workers, name, copy);
    }
    return copy;
}

//  A result held by the table, built from in. NULL if out of memory.
static sl_result_t *s_result_new (sl_table_t *self, const sl_result_in_t *in)
{
    size_t id_size = in->id ? strnlen (in->id, 255) : 0;
    sl_result_t *result = malloc (sizeof *result + in->output_size + in->err_size + id_size);
    const char *worker = sl_table_intern (self, in->worker ? in->worker : "");
    if (!result || !worker) {
        free (result);
        return NULL;
    }
    result->status = in->status;
    result->output_truncated = in->output_truncated;
    result->exit_code = in->exit_code;
    result->duration_ms = in->duration_ms;
    result->worker = worker;
    result->output_size = in->output_size;
    result->stderr_size = in->err_size;
    result->position = 0;
    if (in->output_size)
        memcpy (result->data, in->output, in->output_size);
    if (in->err_size)
        memcpy (result->data + in->output_size, in->err, in->err_size);
    result->id_size = (uint8_t) id_size;
    result->stage = in->stage;
    if (id_size)
        memcpy (result->data + in->output_size + in->err_size, in->id, id_size);
    return result;
}

//  Makes task DONE with a result built from in: fresh (not sendable until
//  sl_table_durable) unless the result is durable already (replay).
//  Returns 0 or -1 (OOM, nothing changed).
static int s_finish (sl_table_t *self, sl_task_t *task, const sl_result_in_t *in, bool reported,
                     bool durable)
{
    //  The task's own id (never one a worker made up).
    char id [256];
    sl_result_in_t with_id = *in;
    memcpy (id, task->data.payload + task->payload_size, task->id_size);
    id [task->id_size] = '\0';
    with_id.id = id;
    sl_job_t *job = s_job_of (task);
    if (job->nstages > 1 && !in->stage)
        with_id.stage = (uint8_t) (task->stage + 1);
    sl_result_t *result = s_result_new (self, &with_id);
    durable = durable || !self->hold_fresh;
    sl_deque_t *line = durable ? job->ready : job->fresh;
    bool first_fresh = !durable && job->fresh_count == 0;
    if (!result || sl_deque_push_back (line, task)) {
        free (result);
        return -1;
    }
    if (sl_deque_push_back (self->completed, task)) {
        sl_deque_pop_back (line);
        free (result);
        return -1;
    }
    if (first_fresh && sl_deque_push_back (self->fresh_jobs, job)) {
        sl_deque_pop_back (self->completed);
        sl_deque_pop_back (line);
        free (result);
        return -1;
    }
    if (!durable) {
        job->fresh_count++;
        self->fresh++;
    }

    sl_job_counts_t *counts = &job->counts;
    if (task->state == SL_TASK_QUEUED)
        s_unqueue (self, task);
    else if (task->state == SL_TASK_RUNNING)
        s_run_unlink (self, task);
    unsigned runs = sl_task_runs (task);
    if (reported && runs == 0)
        runs = 1; //  a run not counted (never claimed, or before any dispatch here)
                  //  happened after all
    //  From now on attempts holds the runs that started, and the task
    //  needs neither its run record nor its payload.
    task->attempts = (uint16_t) runs;
    s_run_drop (self, task);
    s_payload_release (self, task);
    task->state = SL_TASK_DONE;
    task->data.result = result;
    task->not_ok = in->status != SL_STATUS_OK;
    s_hold (self, job, s_result_bytes (result));
    counts->done++;
    if (in->status == SL_STATUS_OK)
        counts->ok++;
    else if (in->status == SL_STATUS_TIMEOUT)
        counts->timeout++;
    else if (in->status == SL_STATUS_CANCELLED)
        counts->cancelled++;
    else
        counts->failed++;
    job->ready_count++;
    self->deliverable++;
    return 0;
}

//  Puts a RUNNING task back at the front of the queue.
static int s_requeue (sl_table_t *self, sl_task_t *task)
{
    s_run_unlink (self, task);
    if (s_enqueue (self, task, true)) {
        s_run_link (self, task);
        return -1;
    }
    task->run->holder = NULL;
    return 0;
}

//  A run of a RUNNING task was lost: queue it again, or end it as failed
//  when it was lost too often.
static void s_lose (sl_table_t *self, sl_task_t *task)
{
    sl_run_t *run = task->run;
    if (run->holder)
        run->avoid = run->holder;
    //  A run its worker said was still waiting to start did not run: it
    //  does not count as an attempt, and such losses have a limit of their
    //  own, much higher (a worker may hold many tasks it has not started)
    //  but still a limit. A run nobody claimed counts as a loss (a task that
    //  kills its worker before it can say so must end too).
    bool unstarted = run->holder && run->waiting_run == task->attempts;
    unsigned limit = task->retries > SL_LOST_RETRIES ? task->retries : SL_LOST_RETRIES;
    if (unstarted) {
        run->uncounted++;
        run->unstarted_losses++;
        limit = limit * 10;
    } else
        run->losses++;
    if ((unstarted ? run->unstarted_losses : run->losses) <= limit) {
        s_requeue (self, task);
        return;
    }
    char why [200];
    snprintf (why, sizeof why, "lost: the worker running it vanished or went silent %u times",
              (unsigned) (run->losses + run->unstarted_losses));
    sl_result_in_t in = {
        .status = SL_STATUS_FAILED,
        .exit_code = -1,
        .worker = run->holder,
        .err = (const uint8_t *) why,
        .err_size = strlen (why),
    };
    if (s_finish (self, task, &in, false, false))
        s_requeue (self, task); //  out of memory: try the task again instead
}

sl_table_rc_t sl_table_complete (sl_table_t *self, const char *job_id, uint64_t seq,
                                 uint32_t attempt, const sl_result_in_t *in)
{
    assert (self);
    assert (in);
    sl_task_t *task = s_task (self, job_id, seq);
    if (!task)
        return SL_TABLE_INVALID;
    if (task->state != SL_TASK_RUNNING && task->state != SL_TASK_QUEUED)
        return SL_TABLE_DUPLICATE;
    if (attempt != 0 && attempt == sl_task_ended_run (task))
        return SL_TABLE_DUPLICATE; //  that run already reported
    if ((attempt != 0 && attempt <= s_stage_base (task)) ||
        (in->stage && in->stage != task->stage + 1u))
        return SL_TABLE_DUPLICATE; //  a run of another stage (the worker echoes the stage)
    bool latest = attempt == 0 || attempt == task->attempts;
    if (in->status != SL_STATUS_OK) {
        if (!latest)
            return SL_TABLE_DUPLICATE; //  a newer run is under way or queued
        if (sl_task_failures (task) < task->retries) {
            sl_run_t *run = s_run_get (self, task);
            if (!run)
                return SL_TABLE_NOMEM;
            run->failures++;
            run->ended_run = task->attempts;
            //  Run it again elsewhere if there is an elsewhere.
            run->avoid = sl_table_intern (self, in->worker ? in->worker : "");
            if (task->state == SL_TASK_RUNNING && s_requeue (self, task))
                return SL_TABLE_NOMEM;
            return SL_TABLE_RETRY;
        }
    }
    if (in->status == SL_STATUS_OK && task->stage + 1u < s_job_of (task)->nstages) {
        //  On to the next stage, with the output as its payload.
        if (s_advance (self, task, task->stage + 1u, in->output, in->output_size) ||
            sl_deque_push_back (self->advanced, task))
            return SL_TABLE_NOMEM;
        return SL_TABLE_ADVANCED;
    }
    return s_finish (self, task, in, true, false) ? SL_TABLE_NOMEM : SL_TABLE_OK;
}

size_t sl_table_failed (sl_table_t *self, sl_job_t *job, uint64_t *ranges, size_t max_ranges,
                        bool *truncated)
{
    (void) self;
    assert (job);
    size_t n = 0;
    *truncated = false;
    for (size_t c = 0; c < job->nchunks; c++) {
        s_chunk_t *chunk = job->chunks [c];
        for (size_t i = 0; chunk && i < CHUNK_SIZE; i++) {
            sl_task_t *task = &chunk->tasks [i];
            if (task->state == SL_TASK_ABSENT || !task->not_ok)
                continue;
            uint64_t seq = chunk->base + i + 1;
            if (n && ranges [2 * n - 1] + 1 == seq)
                ranges [2 * n - 1] = seq;
            else if (n == max_ranges) {
                *truncated = true;
                return n;
            } else {
                ranges [2 * n] = ranges [2 * n + 1] = seq;
                n++;
            }
        }
    }
    return n;
}

size_t sl_table_cancel (sl_table_t *self, const char *job_id)
{
    assert (self);
    sl_job_t *job = sl_table_job (self, job_id);
    if (!job)
        return 0;
    static const char why [] = "cancelled";
    size_t cancelled = 0;
    for (size_t c = 0; c < job->nchunks; c++) {
        s_chunk_t *chunk = job->chunks [c];
        for (size_t i = 0; chunk && i < CHUNK_SIZE; i++) {
            sl_task_t *task = &chunk->tasks [i];
            if (task->state != SL_TASK_QUEUED && task->state != SL_TASK_RUNNING)
                continue;
            sl_result_in_t in = {
                .status = SL_STATUS_CANCELLED,
                .exit_code = -1,
                .worker = sl_task_holder (task),
                .err = (const uint8_t *) why,
                .err_size = sizeof why - 1,
            };
            if (s_finish (self, task, &in, false, false) == 0)
                cancelled++;
        }
    }
    return cancelled;
}

sl_table_rc_t sl_table_claim (sl_table_t *self, const char *job_id, uint64_t seq, uint32_t attempt,
                              const char *holder, int64_t deadline)
{
    assert (self);
    sl_task_t *task = s_task (self, job_id, seq);
    if (!task)
        return SL_TABLE_INVALID;
    if (task->state != SL_TASK_RUNNING && task->state != SL_TASK_QUEUED)
        return SL_TABLE_DUPLICATE;
    if (attempt != task->attempts || attempt == sl_task_ended_run (task) ||
        attempt <= s_stage_base (task))
        return SL_TABLE_DUPLICATE; //  (a run of an earlier stage is not this stage's)
    sl_run_t *run = task->run;
    assert (run); //  it was dispatched (attempts > stage_base >= 0)
    if (task->state == SL_TASK_QUEUED) {
        //  Its lease ran out but the run is alive after all: keep it.
        s_unqueue (self, task);
        task->state = SL_TASK_RUNNING;
        s_run_link (self, task);
        if (run->expired_unclaimed && run->uncounted) {
            run->uncounted--; //  the run did start after all, and is not lost
            run->losses--;
        }
    }
    run->expired_unclaimed = false;
    run->claimed = true;
    if (run->waiting_run == attempt)
        run->waiting_run = 0; //  claimed again, so not (or no longer) waiting
    run->holder = holder;
    run->deadline = deadline;
    return SL_TABLE_OK;
}

sl_table_rc_t sl_table_adopt (sl_table_t *self, const char *job_id, uint64_t seq, uint32_t attempt,
                              unsigned stage, const char *holder, int64_t deadline)
{
    assert (self);
    sl_task_t *task = s_task (self, job_id, seq);
    if (!task)
        return SL_TABLE_INVALID;
    if (task->state != SL_TASK_RUNNING && task->state != SL_TASK_QUEUED)
        return SL_TABLE_DUPLICATE;
    if (attempt <= task->attempts || attempt > UINT16_MAX)
        return SL_TABLE_DUPLICATE; //  not newer than what this table dealt: a plain claim
    sl_job_t *job = s_job_of (task);
    //  A run of another stage (or of a stage nobody can tell, in a
    //  multi-stage job) must not become this stage's run: its result would
    //  be dropped and the task held for ever.
    if (job->nstages > 1 ? stage != task->stage + 1u : stage > 1)
        return SL_TABLE_DUPLICATE;
    sl_run_t *run = s_run_get (self, task);
    if (!run)
        return SL_TABLE_NOMEM;
    if (task->state == SL_TASK_QUEUED) {
        s_unqueue (self, task);
        task->state = SL_TASK_RUNNING;
        s_run_link (self, task);
    }
    //  (RUNNING: dealt again since the restart; the older dealing is the
    //  stale one now, and a good result of either still wins.)
    task->attempts = (uint16_t) attempt;
    run->expired_unclaimed = false;
    run->claimed = true;
    run->waiting_run = 0;
    run->holder = holder;
    run->deadline = deadline;
    return SL_TABLE_OK;
}

sl_table_rc_t sl_table_release (sl_table_t *self, const char *job_id, uint64_t seq,
                                uint32_t attempt)
{
    assert (self);
    sl_task_t *task = s_task (self, job_id, seq);
    if (!task)
        return SL_TABLE_INVALID;
    if (task->state != SL_TASK_RUNNING || attempt != task->attempts)
        return SL_TABLE_DUPLICATE;
    if (s_requeue (self, task))
        return SL_TABLE_NOMEM;
    task->run->uncounted++;
    return SL_TABLE_OK;
}

sl_table_rc_t sl_table_release_by (sl_table_t *self, const char *job_id, uint64_t seq,
                                   uint32_t attempt, const char *holder)
{
    assert (self);
    sl_task_t *task = s_task (self, job_id, seq);
    if (!task)
        return SL_TABLE_INVALID;
    const char *held_by = sl_task_holder (task);
    if (held_by && held_by != holder)
        return SL_TABLE_DUPLICATE;
    return sl_table_release (self, job_id, seq, attempt);
}

size_t sl_table_worker_lost (sl_table_t *self, const char *holder)
{
    assert (self);
    assert (holder);
    size_t count = 0;
    sl_run_t *run = self->running_head;
    while (run) {
        sl_run_t *next = run->next;
        if (run->holder == holder) {
            s_lose (self, run->task);
            count++;
        }
        run = next;
    }
    return count;
}

size_t sl_table_expire (sl_table_t *self, int64_t now)
{
    assert (self);
    size_t count = 0;
    sl_run_t *run = self->running_head;
    while (run) {
        sl_run_t *next = run->next;
        if (run->deadline <= now) {
            if (!run->claimed) {
                //  Nobody ever said it held this run (it went to a worker,
                //  or under push to anyone, and was not claimed): it never
                //  started, as far as anyone knows (a late claim revives
                //  it). A fair dispatch names its worker, but what libzmq
                //  queued for a connection that broke never arrives.
                run->uncounted++;
                run->expired_unclaimed = true;
            }
            s_lose (self, run->task);
            count++;
        }
        run = next;
    }
    return count;
}

//  --- Delivery -------------------------------------------------------------

size_t sl_table_deliverable (sl_table_t *self, sl_job_t *job)
{
    assert (self);
    return job ? job->ready_count : self->deliverable;
}

size_t sl_table_sendable (sl_table_t *self, sl_job_t *job)
{
    assert (self);
    return job ? job->ready_count - job->fresh_count : self->deliverable - self->fresh;
}

void sl_table_hold_fresh (sl_table_t *self, bool hold)
{
    assert (self);
    self->hold_fresh = hold;
    if (!hold)
        sl_table_durable (self);
}

void sl_table_durable (sl_table_t *self)
{
    sl_table_durable_to (self, UINT64_MAX);
}

void sl_table_recorded (sl_table_t *self, sl_task_t *task, uint64_t position)
{
    (void) self; //  the position is kept in the result
    sl_result_t *result = sl_task_result (task);
    if (result)
        result->position = position;
}

//  True if task's result is durable at position (all are at UINT64_MAX).
static bool s_durable_at (sl_task_t *task, uint64_t position)
{
    uint64_t at = task->data.result->position;
    return position == UINT64_MAX || (at && at <= position);
}

void sl_table_durable_to (sl_table_t *self, uint64_t position)
{
    assert (self);
    //  Each job once, in turn; a job with results still fresh goes back.
    for (size_t njobs = sl_deque_size (self->fresh_jobs); njobs > 0; njobs--) {
        sl_job_t *job = sl_deque_pop_front (self->fresh_jobs);
        //  In completion order, behind what was durable before.
        sl_task_t *task;
        while ((task = sl_deque_front (job->fresh)) && s_durable_at (task, position)) {
            if (sl_deque_push_back (job->ready, task)) {
                //  Out of memory: the rest stays fresh; a later call retries.
                sl_deque_push_front (self->fresh_jobs, job);
                return;
            }
            sl_deque_pop_front (job->fresh);
            job->fresh_count--;
            self->fresh--;
        }
        if (job->fresh_count && sl_deque_push_back (self->fresh_jobs, job))
            return; //  cannot happen: the deque just gave that room back
    }
}

sl_task_t *sl_table_send_next (sl_table_t *self, sl_job_t *job)
{
    assert (self);
    if (!job) {
        if (sl_table_sendable (self, NULL) == 0)
            return NULL;
        //  Round-robin: start at the job whose turn it is.
        job = self->deliver_turn ? self->deliver_turn : self->head;
        while (job->ready_count == job->fresh_count)
            job = job->next ? job->next : self->head;
        self->deliver_turn = job->next;
    }
    //  (ready holds no fresh task: popping it is always safe, and drops
    //  the stale entries in front.)
    sl_task_t *task;
    while ((task = sl_deque_pop_front (job->ready)) && task->state != SL_TASK_DONE)
        ; //  delivered since it was queued (replay): stale entry
    if (!task)
        return NULL;
    if (sl_deque_push_back (job->sent, task)) {
        sl_deque_push_front (job->ready, task);
        return NULL;
    }
    task->state = SL_TASK_SENT;
    job->ready_count--;
    job->unacked++;
    self->unacked++;
    self->deliverable--;
    return task;
}

//  Drops acknowledged entries from the front of the sent queue.
static void s_trim_sent (sl_job_t *job)
{
    sl_task_t *task;
    while ((task = sl_deque_front (job->sent)) && task->state != SL_TASK_SENT)
        sl_deque_pop_front (job->sent);
}

sl_table_rc_t sl_table_ack (sl_table_t *self, const char *job_id, uint64_t seq)
{
    assert (self);
    sl_task_t *task = s_task (self, job_id, seq);
    if (!task)
        return SL_TABLE_INVALID;
    if (task->state != SL_TASK_SENT)
        return SL_TABLE_DUPLICATE;
    sl_job_t *job = s_job_of (task);
    task->state = SL_TASK_DELIVERED;
    s_unhold (self, job, SL_TASK_HELD + s_result_bytes (task->data.result));
    free (task->data.result);
    task->data.result = NULL;
    job->unacked--;
    self->unacked--;
    job->counts.delivered++;
    s_trim_sent (job);
    return SL_TABLE_OK;
}

sl_task_t *sl_table_unsend_last (sl_table_t *self, sl_job_t *job)
{
    assert (self);
    assert (job);
    sl_task_t *task;
    while ((task = sl_deque_pop_back (job->sent)) && task->state != SL_TASK_SENT)
        ; //  acknowledged since: stale entry
    if (!task)
        return NULL;
    if (sl_deque_push_front (job->ready, task)) {
        sl_deque_push_back (job->sent, task);
        return NULL;
    }
    task->state = SL_TASK_DONE;
    job->ready_count++;
    job->unacked--;
    self->unacked--;
    self->deliverable++;
    return task;
}

size_t sl_table_unsend_job (sl_table_t *self, sl_job_t *job)
{
    assert (self);
    assert (job);
    //  Back to front, each pushed to the front of ready: send order kept.
    size_t count = 0;
    sl_task_t *task;
    while ((task = sl_deque_pop_back (job->sent))) {
        if (task->state != SL_TASK_SENT)
            continue;
        if (sl_deque_push_front (job->ready, task)) {
            //  Out of memory: leave the rest SENT; a later call retries.
            sl_deque_push_back (job->sent, task);
            break;
        }
        task->state = SL_TASK_DONE;
        job->ready_count++;
        job->unacked--;
        self->unacked--;
        self->deliverable++;
        count++;
    }
    return count;
}

size_t sl_table_unsend_all (sl_table_t *self)
{
    assert (self);
    size_t count = 0;
    for (sl_job_t *job = self->head; job; job = job->next)
        count += sl_table_unsend_job (self, job);
    return count;
}

size_t sl_table_unacked (sl_table_t *self)
{
    assert (self);
    return self->unacked;
}

//  --- Durability ------------------------------------------------------------

void sl_table_set_tag (sl_table_t *self, uint64_t tag)
{
    assert (self);
    self->next_tag = tag;
}

uint64_t sl_job_tag (sl_job_t *job)
{
    return job->tag;
}

sl_task_t *sl_table_pop_completed (sl_table_t *self)
{
    assert (self);
    return (sl_task_t *) sl_deque_pop_front (self->completed);
}

sl_table_rc_t sl_table_restore_result (sl_table_t *self, const char *job_id, uint64_t seq,
                                       const sl_result_in_t *in, unsigned runs)
{
    assert (self);
    sl_task_t *task = s_task (self, job_id, seq);
    if (!task)
        return SL_TABLE_INVALID;
    if (task->state != SL_TASK_QUEUED && task->state != SL_TASK_RUNNING)
        return SL_TABLE_DUPLICATE;
    //  No run here counts: the journal knows how many there were.
    uint16_t attempts = task->attempts;
    sl_run_t *run = task->run;
    uint16_t uncounted = run ? run->uncounted : 0;
    task->attempts = (uint16_t) (runs > UINT16_MAX ? UINT16_MAX : runs);
    if (run)
        run->uncounted = 0;
    if (s_finish (self, task, in, false, true)) {
        task->attempts = attempts;
        if (run)
            run->uncounted = uncounted;
        return SL_TABLE_NOMEM;
    }
    sl_deque_pop_back (self->completed); //  it is in the journal already
    return SL_TABLE_OK;
}

sl_table_rc_t sl_table_restore_delivered (sl_table_t *self, const char *job_id, uint64_t seq)
{
    assert (self);
    sl_task_t *task = s_task (self, job_id, seq);
    if (!task)
        return SL_TABLE_INVALID;
    if (task->state != SL_TASK_DONE)
        return SL_TABLE_DUPLICATE;
    //  DONE -> DELIVERED directly; its ready entry becomes stale.
    sl_job_t *job = s_job_of (task);
    job->ready_count--;
    task->state = SL_TASK_DELIVERED;
    s_unhold (self, job, SL_TASK_HELD + s_result_bytes (task->data.result));
    free (task->data.result);
    task->data.result = NULL;
    self->deliverable--;
    job->counts.delivered++;
    return SL_TABLE_OK;
}

sl_task_t *sl_job_task (sl_job_t *job, uint64_t seq)
{
    assert (job);
    if (seq == 0 || seq > SL_MAX_SEQ)
        return NULL;
    sl_task_t *task = s_slot (job, seq);
    return task && task->state != SL_TASK_ABSENT ? task : NULL;
}

int32_t sl_task_priority (const sl_task_t *task)
{
    assert (task);
    return s_job_of ((sl_task_t *) task)->stages [task->stage]->priorities [task->level];
}

sl_table_rc_t sl_table_restore_counts (sl_table_t *self, const char *job_id, uint64_t ok,
                                       uint64_t failed, uint64_t timeout, uint64_t cancelled)
{
    assert (self);
    sl_job_t *job = sl_table_job (self, job_id);
    if (!job)
        return SL_TABLE_INVALID;
    job->counts.ok = ok;
    job->counts.failed = failed;
    job->counts.timeout = timeout;
    job->counts.cancelled = cancelled;
    return SL_TABLE_OK;
}

char *sl_result_id (const sl_result_t *result, char *buf)
{
    memcpy (buf, result->data + result->output_size + result->stderr_size, result->id_size);
    buf [result->id_size] = '\0';
    return buf;
}

size_t sl_table_held (sl_table_t *self)
{
    assert (self);
    return self->held;
}

size_t sl_table_missing (sl_table_t *self, const char *job_id, uint64_t *ranges, size_t max_ranges)
{
    assert (self);
    sl_job_t *job = sl_table_job (self, job_id);
    if (!job || max_ranges == 0)
        return 0;
    //  Up to the total when known, else up to the highest chunk seen. A
    //  chunk never allocated is absent whole and skipped in one step, so
    //  the walk costs the chunks' slots, not the seqs (a hostile seq near
    //  SL_MAX_SEQ must not freeze the broker).
    uint64_t last =
        job->counts.total_known ? job->counts.total : (uint64_t) job->nchunks << CHUNK_BITS;
    size_t n = 0;
    uint64_t first_missing = 0;
    uint64_t seq = 1;
    while (seq <= last) {
        sl_task_t *task = s_slot (job, seq);
        uint64_t next = seq + 1;
        bool absent = !task || task->state == SL_TASK_ABSENT;
        if (!task)
            //  The rest of this chunk: no slot of it exists.
            next = (((seq - 1) >> CHUNK_BITS) + 1) * CHUNK_SIZE + 1;
        if (absent && !first_missing)
            first_missing = seq;
        else if (!absent && first_missing) {
            ranges [2 * n] = first_missing;
            ranges [2 * n + 1] = seq - 1;
            first_missing = 0;
            if (++n == max_ranges)
                return n;
        }
        seq = next;
    }
    //  A gap at the end of a job of unknown size is not missing.
    if (first_missing && job->counts.total_known) {
        ranges [2 * n] = first_missing;
        ranges [2 * n + 1] = last;
        n++;
    }
    return n;
}

sl_table_rc_t sl_table_redeliver (sl_table_t *self, const char *job_id, uint64_t seq,
                                  const sl_result_in_t *in)
{
    assert (self);
    sl_task_t *task = s_task (self, job_id, seq);
    if (!task)
        return SL_TABLE_INVALID;
    if (task->state != SL_TASK_DELIVERED)
        return SL_TABLE_DUPLICATE;
    sl_job_t *job = s_job_of (task);
    sl_result_t *result = s_result_new (self, in);
    if (!result || sl_deque_push_back (job->ready, task)) {
        free (result);
        return SL_TABLE_NOMEM;
    }
    task->data.result = result;
    task->state = SL_TASK_DONE;
    s_hold (self, job, SL_TASK_HELD + s_result_bytes (result));
    job->ready_count++;
    job->counts.delivered--;
    self->deliverable++;
    return SL_TABLE_OK;
}

void sl_table_waiting (sl_table_t *self, const char *job_id, uint64_t seq, uint32_t attempt)
{
    assert (self);
    sl_task_t *task = s_task (self, job_id, seq);
    if (task && task->state == SL_TASK_RUNNING && task->attempts == attempt)
        task->run->waiting_run = (uint16_t) attempt;
}
