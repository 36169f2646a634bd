/*  sluice.h - the sluice client library (libsluice): submit tasks to a
    sluice broker and collect their results from a C program, or serve a
    queue with a function of your own, without the command-line tools.

    Build with `pkg-config --cflags --libs sluice`.

    Submitting (the client API)
    ---------------------------
    A client plays both the ventilator and the sink of the jobs it submits:
    it sends the tasks (and sends again whatever the broker turns out to
    lack), and it collects every result, acknowledging each one only once it
    has handed it to you. So a broker restart in the middle (the broker
    journals to its --data-dir) loses nothing and duplicates nothing: the
    client says hello again, sends the tasks the new broker lacks, and drops
    results delivered twice.

        sluice_client_t *client = sluice_client_new ("tcp://127.0.0.1:5560", NULL);
        sluice_buf_t tasks [2] = { { "a", 1 }, { "b", 1 } };
        sluice_result_t *results;
        char err [256];
        if (sluice_map (client, tasks, 2, &results, err, sizeof err) == 0) {
            ...results [0] and results [1], in task order...
            sluice_results_destroy (&results, 2);
        }
        sluice_client_destroy (&client);

    THE CLIENT IS THE SINK of its job while the job runs: a broker delivers
    results to one sink at a time. Do not run sluice-sink against the same
    broker meanwhile (whichever attaches second is refused, after waiting a
    few seconds for the first one to go away), and run one client at a time
    per broker. A client runs one job at a time: destroy a job before you
    submit the next.

    Nothing runs in the background: the client talks to the broker (sends
    tasks, heartbeats, acknowledges) only inside sluice_map, sluice_next and
    sluice_job_run. Call them without long pauses: a client silent for 3
    heartbeat intervals (3 s by default) is detached by the broker; it says
    hello again at its next call and loses nothing, but the broker sends it
    its unacknowledged results again.

    A job abandoned unfinished (error, interruption, sluice_job_destroy
    early) stays with the broker: its results wait there for the next sink,
    e.g. `sluice-sink --job ID` or a client with options.job = ID.

    Logging: the library logs warnings (e.g. "waiting for broker at ...")
    and errors on stderr through czmq's zsys log, with the identity
    "libsluice" (it points czmq's log at stderr and sets that identity at
    its first use: czmq would log to stdout). See sluice_set_verbosity.

    Threads: a client and its job belong to one thread at a time. SIGINT and
    SIGTERM (czmq's handler, which sets zsys_interrupted) end a wait with an
    error "interrupted".

    Serving a queue (the worker API)
    --------------------------------
    sluice_worker_run connects as a worker and calls your handler for each
    task of the queue, in `slots` threads (default 1), until it is stopped;
    see below.

    Ownership follows czmq: x_new returns NULL on failure and the caller
    owns the result; x_destroy (&p) is NULL-safe and nulls p.
*/
#ifndef SLUICE_H_INCLUDED
#define SLUICE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SLUICE_VERSION_MAJOR 0
#define SLUICE_VERSION_MINOR 1
#define SLUICE_VERSION_PATCH 0

//  Bytes. A task given to sluice_map or sluice_submit is only read (the
//  library copies it). A handler's output is written by the handler: see
//  sluice_handler_fn.
typedef struct {
    void *data;  //  the bytes (need not be NUL-terminated)
    size_t size; //  how many
} sluice_buf_t;

//  Replaces buf's bytes with a copy of size bytes at data (the old ones
//  are freed). Returns 0, or -1 if out of memory (buf unchanged).
int sluice_buf_set (sluice_buf_t *buf, const void *data, size_t size);

//  Appends a copy of size bytes at data. Returns 0, or -1 if out of memory.
int sluice_buf_append (sluice_buf_t *buf, const void *data, size_t size);

//  Frees buf's bytes (which must come from malloc) and empties it.
void sluice_buf_clear (sluice_buf_t *buf);

//  How much the library logs on stderr: -2 nothing, -1 errors, 0 errors
//  and warnings (the default), 1 also progress, 2 also debugging. The
//  environment variable SLUICE_VERBOSITY sets the default (same numbers).
void sluice_set_verbosity (int level);

//  --- Client -------------------------------------------------------------

//  Options of a client. All zero (or NULL for the whole struct) means the
//  defaults; sluice_options_init fills them in the same way.
typedef struct {
    const char *queue;          //  named queue the jobs go to; NULL = "default"
    const char *job;            //  job id (1-64 of A-Z a-z 0-9 . _ -); NULL = random. Submitting
                                //  an id the broker holds unfinished completes that job (only
                                //  what it lacks is sent) and collects what it has not delivered
    const char *curve_server;   //  the broker's public certificate (CurveZMQ); NULL = plain
    const char *curve_secret;   //  this client's certificate (sluice-keygen); NULL = a fresh pair
    const char *token;          //  the broker's join token (SLUICE1-...; CurveZMQ); NULL =
                                //  $SLUICE_TOKEN unless curve_server is given, else plain
    int64_t connect_timeout_ms; //  how long to wait for the broker at first; 0 = 30 s, < 0 =
                                //  forever. Once connected, a broker that goes away is waited
                                //  for as long as the call's own time limit allows
    uint32_t task_timeout_ms;   //  per-task time limit (the task ends `timeout`); 0 = none
    uint32_t retries;           //  reruns of a task that failed or timed out, 0-100
    int32_t priority;           //  dispatch priority of the tasks (higher first)
    uint32_t heartbeat_ms;      //  heartbeat interval wished, 0 = the broker's (1 s)
    int64_t map_timeout_ms;     //  sluice_map gives up after this long; 0 = never
    const char *name;           //  this client's name at the broker, under 128 bytes, unique;
                                //  NULL = "HOST:PID/" and 6 random hex digits
    const char *const *then;    //  a multi-stage job: the queues of its next stages, a NULL-
                                //  terminated list (at most 7). Each task that ends ok in a
                                //  stage goes on to the next one with its output as payload;
                                //  its result is the last stage's (or the one it failed in).
                                //  NULL = one stage
} sluice_options_t;

//  Fills opts with the defaults (all zero).
void sluice_options_init (sluice_options_t *opts);

//  Checks opts. Returns 0, or -1 with a message naming the bad option in
//  err. sluice_client_new does this too.
int sluice_options_check (const sluice_options_t *opts, char *err, size_t errlen);

typedef struct _sluice_client_t sluice_client_t;
typedef struct _sluice_job_t sluice_job_t;

//  Creates a client of the broker at tcp://HOST:PORT (the one address the
//  broker was given with --bind; the client derives the other ports). Does
//  not connect yet (sluice_map and sluice_submit do). opts is copied (its
//  strings too); NULL = defaults. Returns NULL if the address, the options
//  or the certificates are bad (logged on stderr). Caller owns the result.
sluice_client_t *sluice_client_new (const char *broker, const sluice_options_t *opts);

//  Like sluice_client_new, with the reason for a failure in err.
sluice_client_t *sluice_client_new_err (const char *broker, const sluice_options_t *opts, char *err,
                                        size_t errlen);

//  Destroys the client. Its job must have been destroyed. NULL-safe.
void sluice_client_destroy (sluice_client_t **self_p);

//  Finds the brokers on the local network by their UDP beacons (brokers
//  started with --discover[=PORT]; udp_port 0 = 5670): waits up to
//  timeout_ms (< 0: for ever) for the first beacon, listens 1.25 s more
//  for the others (an active broker's standbys), and writes their
//  addresses, active ones first, comma-separated into brokers (room for
//  576 bytes is always enough), for sluice_client_new or
//  sluice_worker_run, which follow whichever is active. Returns how many
//  (at least 1), or -1 with the reason in err (none heard, no interface
//  with broadcast).
int sluice_discover (uint16_t udp_port, int64_t timeout_ms, char *brokers, size_t len, char *err,
                     size_t errlen);

//  How a task ended.
typedef enum {
    SLUICE_OK = 1,       //  the handler or command exited 0
    SLUICE_FAILED = 2,   //  non-zero exit, killed by a signal, could not start, or lost
    SLUICE_TIMEOUT = 3,  //  over its time limit
    SLUICE_CANCELLED = 4 //  its job was cancelled (sluice-ctl cancel)
} sluice_status_t;

//  One task's result. Its buffers belong to it.
typedef struct {
    uint64_t seq;           //  1-based position of the task in the job
    sluice_status_t status; //  how it ended
    int32_t exit_code;      //  exit status; 128+N when killed by signal N; -1 could not start
    uint32_t attempts;      //  runs it took (a run lost with its worker counts)
    char *worker;           //  name of the worker that ran it ("HOST:PID")
    uint64_t duration_ms;   //  run time
    uint8_t *output;        //  standard output / the handler's output, NUL-terminated
    size_t output_size;     //  bytes at output (without the NUL)
    bool output_truncated;  //  the worker cut the output (--max-output)
    uint8_t *stderr_tail;   //  last 4 KiB of standard error, NUL-terminated ("" if none)
    size_t stderr_size;     //  bytes at stderr_tail (without the NUL)
    uint32_t stage;         //  multi-stage job: the stage it ended in (1-based), else 0
    char *id;               //  the task's id (sluice_task_t.id), "" if it had none
} sluice_result_t;

//  Frees a result returned by sluice_next. NULL-safe, nulls *self_p.
void sluice_result_destroy (sluice_result_t **self_p);

//  Frees an array of n results returned by sluice_map. NULL-safe.
void sluice_results_destroy (sluice_result_t **results_p, size_t n);

//  The blocking map: submits tasks [0, n) as one job, waits for every
//  result, and returns them in task order: (*results) [i] is task i's,
//  with seq i + 1. Each result is acknowledged to the broker once copied
//  into the array. Survives a broker restart (see the top of this file).
//  Returns 0 when every task has its result (whatever its status: check
//  them), and the caller owns *results (sluice_results_destroy). Returns
//  -1 with err on failure (no broker, refused, interrupted,
//  map_timeout_ms passed, a task over the broker's --max-payload); then
//  *results is NULL. n must be at least 1.
int sluice_map (sluice_client_t *self, const sluice_buf_t *tasks, size_t n,
                sluice_result_t **results, char *err, size_t errlen);

//  The asynchronous API: submits tasks [0, n) as one job (the tasks are
//  copied) and returns at once with the job started; sluice_next or
//  sluice_job_run then send the tasks and collect the results. Returns
//  NULL with err if the client already has a job or the arguments are bad.
//  The caller owns the job (sluice_job_destroy). n must be at least 1.
sluice_job_t *sluice_submit (sluice_client_t *self, const sluice_buf_t *tasks, size_t n, char *err,
                             size_t errlen);

//  A task with options of its own, as a JSON Lines task file gives them to
//  sluice-ventilator. Fill it with sluice_task_init first: the zeros it
//  leaves mean the client's options (sluice_options_t).
typedef struct {
    sluice_buf_t payload; //  the task's bytes (copied)
    const char *id;       //  an id of up to 255 bytes, returned in its result; NULL = none
    uint32_t timeout_ms;  //  its time limit; 0 = the client's task_timeout_ms
    int32_t retries;      //  reruns after a failed or timed-out run, 0-100; SLUICE_DEFAULT =
                          //  the client's retries
    int32_t priority;     //  dispatch priority (higher first), if has_priority
    bool has_priority;    //  false = the client's priority
} sluice_task_t;

#define SLUICE_DEFAULT (-1)

//  Fills task with the defaults: no payload, no id, the client's options.
void sluice_task_init (sluice_task_t *task);

//  As sluice_submit, each task with its own id, time limit, retries and
//  priority. Returns NULL with err naming the task if one is bad (an id
//  over 255 bytes, retries over 100).
sluice_job_t *sluice_submit_tasks (sluice_client_t *self, const sluice_task_t *tasks, size_t n,
                                   char *err, size_t errlen);

//  Cancels the job, as `sluice-ctl cancel` does: first makes sure the
//  broker holds every task (so each gets a result), then every task not
//  yet ended ends `SLUICE_CANCELLED` (running ones are stopped by their
//  workers). Their results come through sluice_next and sluice_job_run as
//  any other. Returns 0 once the broker confirmed the cancel (it is in its
//  journal by then), -1 with err (the job finished already, no broker
//  within 30 s, interrupted).
int sluice_job_cancel (sluice_job_t *job, char *err, size_t errlen);

//  Waits up to timeout_ms (< 0: forever, 0: only what is there) for the
//  next result, in the order they completed; every task's result comes
//  exactly once. The result is acknowledged to the broker as it is
//  returned. Returns NULL on timeout, when the job is done, or on an
//  error (sluice_job_error says which). Caller owns the result.
sluice_result_t *sluice_next (sluice_job_t *job, int timeout_ms);

//  Called by sluice_job_run for each result, in completion order. The
//  result is the library's (valid during the call only); it is
//  acknowledged when the callback returns. Return 0 to go on, -1 to make
//  sluice_job_run return now (the job stays usable).
typedef int (sluice_result_fn) (void *arg, const sluice_result_t *result);

//  Calls callback for every result not yet returned, until the job is
//  done. Returns 0 when done, -1 if the callback asked to stop or on an
//  error (sluice_job_error).
int sluice_job_run (sluice_job_t *job, sluice_result_fn *callback, void *arg);

//  True once every task's result has been returned (and acknowledged).
bool sluice_job_done (sluice_job_t *job);

//  The job's id, and how many tasks it has.
const char *sluice_job_id (sluice_job_t *job);
size_t sluice_job_size (sluice_job_t *job);

//  Why the last sluice_next or sluice_job_run failed, "" if it did not.
const char *sluice_job_error (sluice_job_t *job);

//  Destroys the job: if every result was returned, first waits (at most
//  5 s) for the broker to confirm the job finished; then detaches from the
//  broker. Results not returned stay with the broker. NULL-safe.
void sluice_job_destroy (sluice_job_t **job_p);

//  --- Worker -------------------------------------------------------------

//  A task handler: payload is the task's bytes (size of them, valid during
//  the call; payload [size] is a NUL for convenience). Fill output (empty
//  on entry) with sluice_buf_set / sluice_buf_append, or point
//  output->data at memory from malloc: the library frees it. Returns the
//  task's exit code: 0 = ok, anything else = failed with that code. With
//  slots > 1 the handler runs in several threads at once (same state).
typedef int (sluice_handler_fn) (void *state, const uint8_t *payload, size_t size,
                                 sluice_buf_t *output);

//  Options of a worker. All zero (or NULL for the whole struct) = defaults.
typedef struct {
    uint32_t slots;             //  handler threads, tasks run at once; 0 = 1 (at most 256)
    int32_t prefetch;           //  tasks held beyond the slots; 0 = none, -1 = automatic
    uint32_t heartbeat_ms;      //  heartbeat wished; 0 = the broker's
    int64_t connect_timeout_ms; //  how long to wait for the broker at first; 0 = forever
    uint64_t drain_timeout_ms;  //  on stop: how long to wait for running handlers before
                                //  handing their tasks back; 0 = 30 s
    const char *curve_server;   //  the broker's public certificate; NULL = plain
    const char *curve_secret;   //  this worker's certificate; NULL = a fresh pair
    const char *token;          //  the broker's join token; NULL = $SLUICE_TOKEN unless
                                //  curve_server is given, else plain
    const char *name;           //  name at the broker (unique, < 128 bytes); NULL =
                                //  "HOST:PID/w" and 6 random hex digits
    size_t max_output;          //  output bytes kept per task; 0 = 1 MiB
    const char *const *queues;  //  further queues served besides `queue` (nqueues of
    size_t nqueues;             //  them, at most 16 in all): tasks of every one come
    bool inline_handler;        //  run the handler in the calling thread, one task at a
                                //  time, with no thread hand-off: only for handlers that
                                //  return within microseconds and never block (a slow one
                                //  delays heartbeats). slots still sets how many tasks the
                                //  worker asks for at once.
    const char *attach_cache;   //  where files shipped with jobs are kept (by SHA-1); NULL =
                                //  $XDG_CACHE_HOME/sluice/attachments or ~/.cache/...
    uint64_t attach_cache_max;  //  bytes that cache may hold (files of jobs still served
                                //  excepted); 0 = 1 GiB
} sluice_worker_options_t;

//  Serves queue (NULL = "default") of the broker with handler until it is
//  stopped: by SIGINT or SIGTERM (czmq's handler, zsys_interrupted), by a
//  Drain from the broker (sluice-ctl drain), or by sluice_worker_stop.
//  Stopping drains like sluice-worker: no new task, tasks not started are
//  handed back at once, running handlers get drain_timeout_ms to finish
//  (their results are sent); then the rest is handed back. A second
//  signal or stop skips the wait. Handlers are never interrupted: the call
//  returns only once every running handler has returned (results of those
//  handed back are dropped). A task's time limit cannot stop a handler
//  by force, only ask it to (sluice_task_should_stop, sluice_task_sleep):
//  a handler that ran over it is reported as `timeout`.
//  Returns 0 when stopped, -1 if the broker could not be reached in time,
//  refused the worker, or the arguments are bad (logged on stderr).
int sluice_worker_run (const char *broker, const char *queue, sluice_handler_fn *handler,
                       void *state, const sluice_worker_options_t *opts);

//  For a handler: true once the task it runs should end early, because
//  its job was cancelled, its time limit passed, or the worker stops now
//  (a second signal, or the drain timeout). A long handler may check it
//  and return: a cancelled task's result is dropped, one over its time
//  limit is reported as `timeout`. False outside a handler, and always in
//  an inline_handler.
bool sluice_task_should_stop (void);

//  For a handler: sleeps ms milliseconds, or less if the task should stop
//  meanwhile (sluice_task_should_stop). Returns true if it slept the whole
//  time. Outside a handler thread (or inline) it just sleeps.
bool sluice_task_sleep (uint64_t ms);

//  For a handler: the path on this host of the file its job was given
//  under `name` (sluice-ventilator --attach NAME=FILE, or the file's base
//  name), as an --exec command sees it in $SLUICE_ATTACH_NAME. The worker
//  fetches each file once and starts the job's tasks only once all are
//  here. NULL if the job has no such file, or outside a handler. The
//  string is valid until the handler returns; read the file, never write.
const char *sluice_task_attachment (const char *name);

//  Stops every sluice_worker_run running in this process when it is
//  called, as a signal would (see above). Safe from any thread, from a
//  handler, and from a signal handler. A sluice_worker_run that starts
//  later is not affected.
void sluice_worker_stop (void);

#ifdef __cplusplus
}
#endif

#endif
