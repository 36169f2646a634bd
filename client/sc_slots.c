/*  sc_slots - libsluice's handler executor, see sc_slots.h.  */
#include "sc_slots.h"

#include <czmq.h>
#include <errno.h>
#include <string.h>

#include "sl_log.h"
#include "sl_util.h"

//  A task handed to the handler.
typedef struct {
    sl_wexec_done_t done;           //  what is reported (first: the done is the job)
    const uint8_t *payload;         //  its bytes (the core's), NUL after them
    size_t size;                    //  bytes at payload
    uint32_t timeout_ms;            //  time limit, 0 = none
    const sl_wattach_file_t *files; //  its job's attachments (the core's)
    size_t nfiles;                  //  how many
    int64_t started;                //  when it was handed over (ms)
    bool stop_sent;                 //  the slot was asked to stop it
    bool timed_out;                 //  because it ran over its time limit
    sluice_buf_t output;            //  the handler's output
    void *next_free;                //  in the free list: the next one
} job_t;

struct _sc_slots_t {
    sluice_handler_fn *handler; //  the user's
    void *state;                //  its state
    bool is_inline;             //  run in the calling thread
    uint32_t nslots;            //  threads (0 inline)
    size_t max_output;          //  output bytes kept
    zactor_t **slots;           //  the threads
    job_t **jobs;               //  the job each slot runs, NULL = idle
    zlistx_t *finished;         //  job_t done, not yet taken
    job_t *free_jobs;           //  given back, to be used again (no allocation per task)
    size_t nfree;               //  how many
};

#define MAX_FREE_JOBS 1024

//  --- In the handler's thread ------------------------------------------------------

//  The pipe of the slot this thread is (for sluice_task_should_stop), and
//  the job its handler runs (for sluice_task_attachment).
static __thread zsock_t *s_slot_pipe;
static __thread const job_t *s_job;

bool sluice_task_should_stop (void)
{
    //  A STOP (or $TERM) waiting in the pipe: see s_slot.
    return s_slot_pipe && (zsock_events (s_slot_pipe) & ZMQ_POLLIN);
}

bool sluice_task_sleep (uint64_t ms)
{
    int64_t until = zclock_mono () + (int64_t) ms;
    while (true) {
        int64_t left = until - zclock_mono ();
        if (left <= 0)
            return true;
        if (!s_slot_pipe) {
            zclock_sleep ((int) (left > 1000 ? 1000 : left));
            continue;
        }
        zmq_pollitem_t item = { zsock_resolve (s_slot_pipe), 0, ZMQ_POLLIN, 0 };
        int rc = zmq_poll (&item, 1, (long) left);
        if (rc > 0)
            return false; //  asked to stop
        if (rc < 0 && errno != EINTR)
            return false;
    }
}

const char *sluice_task_attachment (const char *name)
{
    for (size_t i = 0; s_job && name && i < s_job->nfiles; i++)
        if (streq (s_job->files [i].name, name))
            return s_job->files [i].path;
    return NULL;
}

//  Runs the handler on job and fills in what is reported.
static void s_run (sc_slots_t *self, job_t *job)
{
    int64_t start = zclock_mono ();
    s_job = job;
    job->done.exit_code = self->handler (self->state, job->payload, job->size, &job->output);
    s_job = NULL;
    job->done.duration_ms = (uint64_t) (zclock_mono () - start);
}

//  A slot: receives a job pointer, runs the handler, sends the pointer
//  back. Ends on $TERM (after the handler under way returned); a STOP
//  meant for a handler that has since returned is dropped.
static void s_slot (zsock_t *pipe, void *args)
{
    sc_slots_t *self = (sc_slots_t *) args;
    s_slot_pipe = pipe;
    zsock_signal (pipe, 0);
    while (true) {
        zmsg_t *msg = zmsg_recv (pipe);
        if (!msg)
            break;
        zframe_t *frame = zmsg_first (msg);
        job_t *job = NULL;
        bool term = !frame || zframe_streq (frame, "$TERM");
        if (frame && zframe_size (frame) == sizeof job)
            memcpy (&job, zframe_data (frame), sizeof job);
        zmsg_destroy (&msg);
        if (term)
            break;
        if (!job)
            continue; //  a late STOP
        s_run (self, job);
        zsock_send (pipe, "p", job);
    }
}

//  --- In the loop's thread ----------------------------------------------------------

static void s_job_destroy (job_t **job_p)
{
    if (*job_p) {
        sluice_buf_clear (&(*job_p)->output);
        free (*job_p);
        *job_p = NULL;
    }
}

//  The handler returned: its result is ready to be taken.
static void s_finish (sc_slots_t *self, job_t *job)
{
    sl_wexec_done_t *done = &job->done;
    bool over = job->timed_out || (job->timeout_ms && done->duration_ms > job->timeout_ms);
    done->status = over ? SL_WEXEC_TIMEOUT : done->exit_code == 0 ? SL_WEXEC_OK : SL_WEXEC_FAILED;
    done->output = job->output.data;
    done->output_size = job->output.size;
    if (done->output_size > self->max_output) {
        done->output_size = self->max_output;
        done->output_truncated = true;
    }
    zlistx_add_end (self->finished, job);
}

static int s_start (void *ptr, const sl_wexec_task_t *task, int64_t now)
{
    sc_slots_t *self = (sc_slots_t *) ptr;
    job_t *job = self->free_jobs;
    if (job) {
        self->free_jobs = (job_t *) job->next_free;
        self->nfree--;
        memset (job, 0, sizeof *job);
    } else if (!(job = calloc (1, sizeof *job)))
        return -1;
    job->done.tag = task->tag;
    job->payload = task->payload;
    job->size = task->size;
    job->timeout_ms = task->timeout_ms;
    job->files = task->files;
    job->nfiles = task->nfiles;
    job->started = now;
    if (self->is_inline) {
        s_run (self, job);
        s_finish (self, job);
        return 0;
    }
    for (uint32_t i = 0; i < self->nslots; i++)
        if (!self->jobs [i]) {
            if (zsock_send (self->slots [i], "p", job))
                break;
            self->jobs [i] = job;
            return 0;
        }
    free (job);
    return -1;
}

//  Asks the slot running job to stop it (see sluice_task_should_stop).
static void s_stop_slot (sc_slots_t *self, uint32_t i)
{
    if (!self->jobs [i]->stop_sent) {
        self->jobs [i]->stop_sent = true;
        zstr_send (self->slots [i], "STOP");
    }
}

static void s_stop (void *ptr, uint64_t tag, int64_t now)
{
    sc_slots_t *self = (sc_slots_t *) ptr;
    (void) now;
    for (uint32_t i = 0; i < self->nslots; i++)
        if (self->jobs [i] && self->jobs [i]->done.tag == tag)
            s_stop_slot (self, i);
}

static size_t s_pollitems (void *ptr, zmq_pollitem_t *items, size_t max)
{
    sc_slots_t *self = (sc_slots_t *) ptr;
    size_t n = 0;
    for (uint32_t i = 0; i < self->nslots && n < max; i++)
        items [n++] =
            (zmq_pollitem_t){ zsock_resolve (zactor_sock (self->slots [i])), 0, ZMQ_POLLIN, 0 };
    return n;
}

static void s_handle (void *ptr, zmq_pollitem_t *items, size_t count, int64_t now)
{
    sc_slots_t *self = (sc_slots_t *) ptr;
    for (uint32_t i = 0; i < self->nslots && i < count; i++) {
        job_t *job = NULL;
        if (!(items [i].revents & ZMQ_POLLIN) || zsock_recv (self->slots [i], "p", &job) || !job ||
            job != self->jobs [i])
            continue;
        self->jobs [i] = NULL;
        s_finish (self, job);
    }
    //  Handlers over their time limit are asked to stop.
    for (uint32_t i = 0; i < self->nslots; i++) {
        job_t *job = self->jobs [i];
        if (job && job->timeout_ms && !job->stop_sent &&
            now >= job->started + (int64_t) job->timeout_ms) {
            job->timed_out = true;
            s_stop_slot (self, i);
        }
    }
}

static int64_t s_next_timer (void *ptr)
{
    sc_slots_t *self = (sc_slots_t *) ptr;
    int64_t next = -1;
    for (uint32_t i = 0; i < self->nslots; i++) {
        job_t *job = self->jobs [i];
        if (job && job->timeout_ms && !job->stop_sent) {
            int64_t limit = job->started + (int64_t) job->timeout_ms;
            if (next < 0 || limit < next)
                next = limit;
        }
    }
    return next;
}

static sl_wexec_done_t *s_finished (void *ptr)
{
    sc_slots_t *self = (sc_slots_t *) ptr;
    job_t *job = (job_t *) zlistx_detach (self->finished, NULL);
    return job ? &job->done : NULL;
}

static void s_done_free (void *ptr, sl_wexec_done_t *done)
{
    sc_slots_t *self = (sc_slots_t *) ptr;
    job_t *job = (job_t *) done; //  the done is the job's first member
    if (self->nfree < MAX_FREE_JOBS) {
        sluice_buf_clear (&job->output);
        job->next_free = self->free_jobs;
        self->free_jobs = job;
        self->nfree++;
    } else
        s_job_destroy (&job);
}

//  Ends the threads: each once its handler returned (asked to stop).
static void s_shutdown (void *ptr)
{
    sc_slots_t *self = (sc_slots_t *) ptr;
    for (uint32_t i = 0; self->slots && i < self->nslots; i++) {
        if (self->jobs [i])
            s_stop_slot (self, i);
        zactor_destroy (&self->slots [i]);
        s_job_destroy (&self->jobs [i]);
    }
    job_t *job;
    while ((job = (job_t *) zlistx_detach (self->finished, NULL)))
        s_job_destroy (&job);
}

sc_slots_t *sc_slots_new (sluice_handler_fn *handler, void *state, uint32_t nslots, bool is_inline,
                          size_t max_output)
{
    sc_slots_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->handler = handler;
    self->state = state;
    self->is_inline = is_inline;
    self->nslots = is_inline ? 0 : nslots;
    self->max_output = max_output;
    self->finished = zlistx_new ();
    if (self->nslots) {
        self->slots = calloc (self->nslots, sizeof *self->slots);
        self->jobs = calloc (self->nslots, sizeof *self->jobs);
    }
    if (!self->finished || (self->nslots && (!self->slots || !self->jobs))) {
        sl_error ("sluice_worker_run: out of memory");
        sc_slots_destroy (&self);
        return NULL;
    }
    for (uint32_t i = 0; i < self->nslots; i++)
        if (!(self->slots [i] = zactor_new (s_slot, self))) {
            sl_error ("sluice_worker_run: cannot start a handler thread");
            sc_slots_destroy (&self);
            return NULL;
        }
    return self;
}

void sc_slots_destroy (sc_slots_t **self_p)
{
    assert (self_p);
    sc_slots_t *self = *self_p;
    if (!self)
        return;
    if (self->finished)
        s_shutdown (self);
    zlistx_destroy (&self->finished);
    while (self->free_jobs) {
        job_t *job = self->free_jobs;
        self->free_jobs = (job_t *) job->next_free;
        free (job);
    }
    free (self->slots);
    free (self->jobs);
    free (self);
    *self_p = NULL;
}

sl_wexec_t sc_slots_exec (sc_slots_t *self)
{
    assert (self);
    return (sl_wexec_t){ .self = self,
                         .start = s_start,
                         .stop = s_stop,
                         .pollitems = s_pollitems,
                         .handle = s_handle,
                         .next_timer = s_next_timer,
                         .finished = s_finished,
                         .done_free = s_done_free,
                         .shutdown = s_shutdown };
}
