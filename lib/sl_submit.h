/*  sl_submit - the submit core: the protocol of handing a job to the
    broker, written once for sluice-ventilator and libsluice's
    sluice_submit, sluice_submit_tasks and sluice_map.

    Pure in the sense of broker/table.c: no sockets and no clock. Events
    come in (the broker's JobState answers, a broker restart, the end of a
    pass over the tasks, `now` with each), and the core says what to do
    next: send a JobQuery (sl_submit_query), upload an attachment
    (sl_submit_upload_next), make a pass over the tasks it lists
    (sl_submit_passing, sl_submit_wanted / sl_submit_next) packing them into
    TaskBatches (sl_submit_add, sl_submit_batch), end the pass with the
    JobEnd (sl_submit_pass_end), and at last whether the broker holds the
    job (sl_submit_status). The tasks themselves stay with the caller: a
    task file read again for each pass, or the copies libsluice keeps.

    A submission:

        QUERY ──JobState──► (uploads) PASS ──pass_end──► CONFIRM ──all held──► HELD
          │                              ▲                  │
          │ finished already             └──stalled: what───┘
          ▼                                 is missing
        FINISHED                          (or the attachments)

    In CONFIRM a JobQuery goes every SL_SUBMIT_QUERY_MS. While the number
    of tasks the broker holds grows, or the broker says it is throttled
    (its memory limit: what was sent is still on its way), all is well.
    When that stalls for SL_SUBMIT_STALL_MS (or the broker restarted), the
    next query asks for the missing seqs, and if its answer still shows no
    progress they are sent again (first the attachments the broker lacks,
    up to SL_SUBMIT_ATTACH_TRIES times).
*/
#ifndef SL_SUBMIT_H_INCLUDED
#define SL_SUBMIT_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "sl_proto.h"

#define SL_SUBMIT_BATCH_TASKS 256          //  tasks in a TaskBatch, at most
#define SL_SUBMIT_BATCH_BYTES (256 * 1024) //  payload bytes that fill a TaskBatch
#define SL_SUBMIT_QUERY_MS 100             //  JobQuery interval while confirming
#define SL_SUBMIT_STALL_MS 1000            //  no progress this long: ask what is missing
#define SL_SUBMIT_ATTACH_TRIES 3           //  sends again of a lost attachment, at most

typedef struct {
    const char *job;                  //  the job id (borrowed, as all below)
    const char *queue;                //  its queue, NULL = default
    char **then;                      //  the queues of its next stages
    size_t nthen;                     //  how many
    Sluice__Attachment **attachments; //  files shipped with the job
    const char *const *attach_paths;  //  where each is (for messages), or NULL
    size_t nattach;                   //  how many
    uint64_t tasks;                   //  tasks in the job, 0 = not known before a pass
    uint32_t timeout_ms;              //  a task's time limit unless it has its own
    uint32_t retries;                 //  its reruns unless it has its own
    int32_t priority;                 //  its priority unless it has its own
} sl_submit_config_t;

//  One task to pack: its payload and options (has_*: its own, else the
//  job's). Everything is copied.
typedef struct {
    uint64_t seq;
    const void *payload;
    size_t size;
    const char *id; //  NULL or "": none
    bool has_timeout, has_retries, has_priority;
    uint32_t timeout_ms;
    uint32_t retries;
    int32_t priority;
} sl_submit_task_t;

typedef enum {
    SL_SUBMIT_RUNNING = 0, //  under way
    SL_SUBMIT_HELD,        //  the broker holds every task (and attachment) durably
    SL_SUBMIT_FINISHED,    //  the job was finished at the broker before anything was sent
    SL_SUBMIT_FAILED       //  given up: see sl_submit_error
} sl_submit_status_t;

typedef struct _sl_submit_t sl_submit_t;

//  Creates the core for config (its strings and arrays are borrowed: they
//  must outlive the core). The first query is due at once. NULL if out of
//  memory. Caller owns the result.
sl_submit_t *sl_submit_new (const sl_submit_config_t *config);

//  NULL-safe, nulls *self_p.
void sl_submit_destroy (sl_submit_t **self_p);

//  --- Events in ------------------------------------------------------------

//  The broker's answer to a JobQuery (others' jobs are ignored).
void sl_submit_state (sl_submit_t *self, const Sluice__JobState *state, int64_t now);

//  The broker restarted: it may lack what was sent; the next query asks.
void sl_submit_restarted (sl_submit_t *self);

//  Gives up with a reason (the caller's, e.g. the broker went silent).
void sl_submit_fail (sl_submit_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  --- What to do -----------------------------------------------------------

//  A JobQuery is due: fills query (its job is borrowed from the core) and
//  returns true; the next is due SL_SUBMIT_QUERY_MS later.
bool sl_submit_query (sl_submit_t *self, int64_t now, Sluice__JobQuery *query);

//  When the next query is due (INT64_MAX: none is wanted).
int64_t sl_submit_next_wake (const sl_submit_t *self);

//  The next attachment to upload (before the pass), as its index in
//  config.attachments, or -1 when none is left.
int sl_submit_upload_next (sl_submit_t *self);

//  A pass over the tasks is wanted now (after the uploads).
bool sl_submit_passing (const sl_submit_t *self);

//  Whether the pass sends seq; seqs must be asked in ascending order.
bool sl_submit_wanted (sl_submit_t *self, uint64_t seq);

//  The next seq the pass sends, for a job of config.tasks tasks, or 0 when
//  the pass has no more.
uint64_t sl_submit_next (sl_submit_t *self);

//  Packs a task of the pass into the batch under way. Returns 1 when the
//  batch is full (take it with sl_submit_batch), 0 if not, -1 if out of
//  memory.
int sl_submit_add (sl_submit_t *self, const sl_submit_task_t *task);

//  Tasks in the batch under way.
size_t sl_submit_batched (const sl_submit_t *self);

//  The batch under way as an encoded TaskBatch (emptied), or NULL if it is
//  empty or out of memory. Caller owns it.
zframe_t *sl_submit_batch (sl_submit_t *self);

//  The pass has sent its tasks: `sent` of them, total in the whole input.
//  Returns the encoded JobEnd to send (caller owns it; NULL if out of
//  memory) and starts confirming.
zframe_t *sl_submit_pass_end (sl_submit_t *self, uint64_t total, uint64_t sent, int64_t now);

//  --- State ----------------------------------------------------------------

sl_submit_status_t sl_submit_status (const sl_submit_t *self);

//  Why it failed, "" if it did not.
const char *sl_submit_error (const sl_submit_t *self);

//  Tasks in the job, once known (config.tasks or the first pass's total).
uint64_t sl_submit_total (const sl_submit_t *self);

#endif
