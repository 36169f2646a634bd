/*  sl_wcore - the worker core: the protocol of a sluice worker, written
    once for sluice-worker (--exec, --builtin) and libsluice's
    sluice_worker_run.

    Pure in the sense of broker/table.c: no sockets and no clock. Events
    come in (a task batch, a control message, the welcome and the loss of
    the broker, the regular heartbeat, drain, stop, `now` with each), and
    what must go out waits in the core until the event loop
    (lib/sl_wloop.c) takes it: control frames (heartbeats with claims,
    Release, Bye, AttachGet), credit for the dispatch socket, and result
    batches in an outbox that keeps them while the broker is away. Tasks
    are started and stopped through an executor (lib/sl_wexec.h), a seam
    the unit tests fill with a fake; the attachment cache
    (lib/sl_wattach.h) is the one part that touches files.

    A task's life in the worker:

        TaskBatch ──► WAITING ──start──► RUNNING ──finished──► FINISHED ──► result in the outbox
                        │                   │
                        │ drain, cancel,    │ cancel, Bye
                        │ Bye               ▼
                        ▼                ABANDONED ──finished──► dropped
                    handed back
                    (Release/Bye) or dropped (cancel)

    Claims (see docs/protocol.md): each task also records what the broker
    was last told of it (nothing, waiting, running). A heartbeat lists every
    task whose claim is behind its state: the tasks taken since the last
    one, and those that started after being claimed as waiting (at once,
    so that lost with us they count as runs). After a welcome every claim
    is forgotten and all is claimed again.

    Stopping: drain (no new task, credit 0, waiting tasks handed back,
    running ones finish until drain_until), then bye (what still runs is
    stopped and listed, with the number of the last result batch sent so
    that the broker waits for it before counting anything lost).
*/
#ifndef SL_WCORE_H_INCLUDED
#define SL_WCORE_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "sl_proto.h"
#include "sl_wattach.h"
#include "sl_wexec.h"

typedef enum {
    SL_WTASK_WAITING = 1, //  received, not started; its payload is held
    SL_WTASK_RUNNING,     //  handed to the executor
    SL_WTASK_ABANDONED,   //  still in the executor, but its result is to be dropped
    SL_WTASK_FINISHED     //  out of the executor, its result not yet in a batch (see result_wait_ms)
} sl_wtask_state_t;

typedef struct {
    const char *name;          //  the worker's name (Hello.name, Result.worker); copied
    uint32_t slots;            //  tasks run at once
    int32_t prefetch;          //  tasks held beyond the slots (fair dispatch); -1 automatic
    uint64_t drain_timeout_ms; //  how long running tasks may finish once draining
    //  Results of tasks that finish within this long of the last result
    //  batch wait for one batch (ms): 0 is SL_WCORE_RESULT_WAIT_MS, < 0
    //  none. A result after a quiet spell, the last running task's, and
    //  every one while draining go at once.
    int32_t result_wait_ms;
} sl_wcore_config_t;

//  The default result wait: one result batch per 5 ms at most, so that
//  short --exec tasks finishing a few at a time do not cost the worker,
//  the broker and the sink a message each (measured on echo tasks: the
//  broker's CPU per task falls by about 40%). A task of a second or more
//  is not delayed (its result follows a quiet spell).
#define SL_WCORE_RESULT_WAIT_MS 5

typedef struct _sl_wcore_t sl_wcore_t;

//  Creates a core running tasks with exec (borrowed: it must outlive the
//  core) and keeping attachments in attach (borrowed; NULL: tasks of jobs
//  with attachments run without them). Returns NULL if out of memory.
//  Caller owns the result.
sl_wcore_t *sl_wcore_new (const sl_wcore_config_t *config, sl_wexec_t *exec, sl_wattach_t *attach);

//  Frees every task and queued message (the executor must be done with
//  the tasks: destroy it first). NULL-safe, nulls *self_p.
void sl_wcore_destroy (sl_wcore_t **self_p);

//  --- Events in ------------------------------------------------------------

//  The broker welcomed us: the first time (fair = Welcome.fair) or again
//  after a loss or a broker restart. Claims everything held again and
//  sends the whole credit.
void sl_wcore_welcome (sl_wcore_t *self, bool fair, int64_t now);

//  The broker stopped answering: results wait in the outbox, claims wait
//  for the next welcome.
void sl_wcore_lost (sl_wcore_t *self);

//  A task batch from the dispatch socket (tasks are copied). While
//  draining they are handed back at once.
void sl_wcore_tasks (sl_wcore_t *self, const Sluice__TaskBatch *batch, int64_t now);

typedef enum {
    SL_WCORE_HANDLED = 0, //  done (or ignored)
    SL_WCORE_DRAIN        //  the broker asks us to drain: call sl_wcore_drain
} sl_wcore_ask_t;

//  A control message that the link (sl_client_handle) did not consume:
//  CancelJob, Drain, AttachChunk.
sl_wcore_ask_t sl_wcore_control (sl_wcore_t *self, const sl_env_t *env, int64_t now);

//  Starts waiting tasks on free slots (their files here), collects what
//  the executor finished into result batches, claims at once the tasks
//  claimed as waiting that started. Call every turn of the loop.
void sl_wcore_step (sl_wcore_t *self, int64_t now);

//  The regular heartbeat is due: queues it, claiming what is new, and
//  sends the credit again (absolute) when credit is out and no task came
//  since the last one (credit lost with a broken dispatch connection).
void sl_wcore_heartbeat (sl_wcore_t *self, int64_t now);

//  Starts draining: no new task (credit 0), waiting tasks handed back,
//  running ones may finish until now + drain_timeout_ms. Idempotent.
void sl_wcore_drain (sl_wcore_t *self, int64_t now);

//  Leaving: stops what still runs (tasks the executor finished since the
//  last sl_wcore_step included), and queues a Bye listing it and what
//  waits, with the number of the last result batch sent. Call it after a
//  step and after sending the results that can go; send none after it.
void sl_wcore_bye (sl_wcore_t *self, int64_t now);

//  --- State ----------------------------------------------------------------

bool sl_wcore_draining (const sl_wcore_t *self);
int64_t sl_wcore_drain_until (const sl_wcore_t *self);

//  Draining and nothing left in the executor: time to say bye.
bool sl_wcore_drained (const sl_wcore_t *self);

//  Tasks held: waiting, running (abandoned ones included: they hold a slot).
size_t sl_wcore_waiting (const sl_wcore_t *self);
size_t sl_wcore_running (const sl_wcore_t *self);

//  State of the task job/seq, or 0 if not held. For tests and logs.
sl_wtask_state_t sl_wcore_task_state (const sl_wcore_t *self, const char *job, uint64_t seq);

//  Tasks finished (results made), and results dropped (abandoned).
uint64_t sl_wcore_done (const sl_wcore_t *self);

//  Earliest time the core needs sl_wcore_step again (attachment
//  downloads), or INT64_MAX.
int64_t sl_wcore_next_wake (sl_wcore_t *self);

//  --- Messages out -----------------------------------------------------------

//  The next frame for the control socket, or NULL; *heartbeat tells that
//  it is a regular heartbeat (the link schedules the next one; the one sent
//  at once when tasks claimed as waiting start is not). Caller owns it.
zframe_t *sl_wcore_control_next (sl_wcore_t *self, bool *heartbeat);

//  Fair dispatch: credit to send on the dispatch socket now, if any.
//  Returns true with *credit filled in; call sl_wcore_credit_sent once it
//  went out (else it is asked again at the next call).
bool sl_wcore_credit (sl_wcore_t *self, Sluice__Credit *credit);
void sl_wcore_credit_sent (sl_wcore_t *self);

//  The oldest result batch not yet taken by ZeroMQ, or NULL (the core
//  keeps it); sl_wcore_result_sent once ZeroMQ took a copy.
zframe_t *sl_wcore_result_peek (sl_wcore_t *self);
void sl_wcore_result_sent (sl_wcore_t *self);

//  Result batches waiting in the outbox.
size_t sl_wcore_outbox_size (const sl_wcore_t *self);

//  The number of the last result batch sent (0: none yet).
uint64_t sl_wcore_last_batch (const sl_wcore_t *self);

#endif
