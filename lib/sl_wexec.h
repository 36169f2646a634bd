/*  sl_wexec - what a worker runs its tasks with: the executor interface
    under the worker core (lib/sl_wcore.h).

    Two implementations: the process runner of sluice-worker --exec
    (worker/runner.c, one `/bin/sh -c` child per task, fd-driven) and the
    handler slots of libsluice (client/sc_slots.c: a thread per slot, or
    the calling thread with inline_handler). The core starts and stops
    tasks; the event loop (lib/sl_wloop.c) polls what the executor asks
    for, hands it back, and the core collects what finished.
*/
#ifndef SL_WEXEC_H_INCLUDED
#define SL_WEXEC_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "sl_wattach.h"

//  Final statuses, as in proto/sluice.proto.
#define SL_WEXEC_OK 1
#define SL_WEXEC_FAILED 2
#define SL_WEXEC_TIMEOUT 3

//  A task to start. Everything it points to is the core's and stays valid
//  until the executor reports the task finished.
typedef struct {
    uint64_t tag;                   //  the core's handle, given back in sl_wexec_done_t
    const char *job;                //  its job
    uint64_t seq;                   //  its seq
    uint32_t attempt;               //  which dispatch of it this is
    uint32_t timeout_ms;            //  time limit, 0 = none
    const uint8_t *payload;         //  its bytes; payload [size] is a NUL
    size_t size;                    //  bytes at payload
    const sl_wattach_file_t *files; //  its job's attachments (name, path here)
    size_t nfiles;                  //  how many
} sl_wexec_task_t;

//  A finished task. The executor owns it: give it back with done_free.
typedef struct {
    uint64_t tag;          //  sl_wexec_task_t.tag
    int status;            //  SL_WEXEC_OK, _FAILED or _TIMEOUT
    int exit_code;         //  exit status; 128+N when killed by signal N; -1 not started
    uint8_t *output;       //  its output
    size_t output_size;    //  bytes at output
    bool output_truncated; //  more than the executor keeps was produced
    uint8_t *err;          //  the last bytes of its standard error, or why it did not start
    size_t err_size;       //  bytes at err
    uint64_t duration_ms;  //  start to finish
} sl_wexec_done_t;

typedef struct {
    void *self; //  the implementation's state, passed to every call
    //  Starts task (a free slot is the core's to ensure). A task that
    //  cannot run (bad command, bad payload) finishes at once, failed.
    //  Returns 0, or -1 if out of memory (nothing started).
    int (*start) (void *self, const sl_wexec_task_t *task, int64_t now);
    //  Asks the running task `tag` to end early (cancelled, stopping). It
    //  still finishes through `finished`. Unknown tags are ignored.
    void (*stop) (void *self, uint64_t tag, int64_t now);
    //  The poll items it needs (at most max), and their handling after the
    //  poll with every timer due at now.
    size_t (*pollitems) (void *self, zmq_pollitem_t *items, size_t max);
    void (*handle) (void *self, zmq_pollitem_t *items, size_t count, int64_t now);
    //  Earliest time it needs handle called again, or -1.
    int64_t (*next_timer) (void *self);
    //  Takes the next finished task, or NULL; give it back with done_free.
    sl_wexec_done_t *(*finished) (void *self);
    void (*done_free) (void *self, sl_wexec_done_t *done);
    //  Ends every task now (kills the processes; waits for handlers, asked
    //  to stop, to return): after it the core may free the tasks.
    void (*shutdown) (void *self);
} sl_wexec_t;

#endif
