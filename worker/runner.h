/*  runner - runs a worker's tasks: `/bin/sh -c CMD` children, or the
    built-in echo and sleep, many at once in one thread.

    The runner owns every child process it starts and the pipes to it. It
    does no polling of its own: the worker's event loop asks it for the file
    descriptors to watch (runner_pollitems), hands back what became ready
    (runner_handle), and picks up finished tasks (runner_done). Time is
    passed in (`now`, monotonic ms), so timers need no threads: a task that
    sleeps or waits for a child only costs an entry in a table.

    An exec'd task runs in its own process group. When it runs over its time
    limit the whole group gets SIGTERM, then SIGKILL after a short grace; a
    task whose shell exited but whose grandchildren still hold its output
    open gets the same treatment, so no task leaves processes behind; and
    what left the group (setsid, a daemon's double fork) is killed when the
    task ends too (see contain.h: a cgroup per task, or the worker as a
    child subreaper).
*/
#ifndef RUNNER_H_INCLUDED
#define RUNNER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "sl_wexec.h"

typedef enum {
    RUNNER_EXEC, //  /bin/sh -c CMD, payload on stdin, {} substituted
    RUNNER_ECHO, //  output = payload
    RUNNER_SLEEP //  payload = milliseconds to sleep; output = payload
} runner_mode_t;

typedef struct {
    runner_mode_t mode;
    const char *command;    //  RUNNER_EXEC: the command (the worker's, never a payload's)
    size_t max_output;      //  output bytes kept per task; the rest is dropped and flagged
    uint32_t kill_grace_ms; //  SIGTERM -> SIGKILL delay for a timed-out task
} runner_config_t;

//  Final statuses, as in proto/sluice.proto.
#define RUNNER_OK SL_WEXEC_OK
#define RUNNER_FAILED SL_WEXEC_FAILED
#define RUNNER_TIMEOUT SL_WEXEC_TIMEOUT

//  A finished task (tag: what the caller passed to runner_start; output:
//  standard output, or the payload for built-ins; err: the last bytes of
//  standard error, or why it failed to start). The caller owns it: free
//  with runner_done_destroy.
typedef sl_wexec_done_t runner_done_t;

void runner_done_destroy (runner_done_t **done_p);

typedef struct _runner_t runner_t;

//  Creates a runner. For RUNNER_EXEC it sets up SIGCHLD handling through a
//  signalfd: call it before any other thread exists (before the first czmq
//  socket), because SIGCHLD must be blocked in every thread. Returns NULL
//  with errno set on failure. Caller owns the result.
runner_t *runner_new (const runner_config_t *config);

//  Kills every running child (SIGKILL to its group), reaps them, frees all.
//  NULL-safe, nulls *self_p.
void runner_destroy (runner_t **self_p);

//  Starts a task. job, seq and attempt are given to the command in
//  SLUICE_JOB, SLUICE_SEQ and SLUICE_ATTEMPT. timeout_ms 0 = no limit.
//  A task that cannot start (bad {} substitution, spawn failure, a sleep
//  payload that is not a number) finishes at once with RUNNER_FAILED and
//  the reason in its err bytes. Returns 0, or -1 if out of memory.
int runner_start (runner_t *self, uint64_t tag, const char *job, uint64_t seq, uint32_t attempt,
                  const uint8_t *payload, size_t size, uint32_t timeout_ms, int64_t now);

//  A file a task's command may use (sluice-ventilator --attach): its name
//  and where it is on this host.
typedef sl_wattach_file_t runner_attach_t;

#define RUNNER_MAX_ATTACH 8

//  runner_start, for an exec task that has attachments: each is in the
//  command's environment as SLUICE_ATTACH_<NAME> (upper case, any other
//  character than a letter or digit as _) and replaces {attach:NAME} in the
//  command, shell-quoted. An {attach:NAME} with no such attachment fails
//  the task at once, saying which.
int runner_start_with (runner_t *self, uint64_t tag, const char *job, uint64_t seq,
                       uint32_t attempt, const uint8_t *payload, size_t size, uint32_t timeout_ms,
                       int64_t now, const runner_attach_t *attach, size_t nattach);

//  Returns command with every {attach:NAME} replaced by the shell-quoted
//  path of that attachment (a new string), or NULL with why set (an
//  unknown name, or out of memory). Exposed for tests.
char *runner_substitute_attach (const char *command, const runner_attach_t *attach, size_t nattach,
                                char *why, size_t whylen);

//  Tasks started and not yet finished.
size_t runner_running (runner_t *self);

//  Writes the poll items the runner needs into items (at most max) and
//  returns how many. Call again before each poll: the set changes.
size_t runner_pollitems (runner_t *self, zmq_pollitem_t *items, size_t max);

//  Handles the items after a poll (those from runner_pollitems, in the same
//  order) and every timer that is due at `now`.
void runner_handle (runner_t *self, zmq_pollitem_t *items, size_t count, int64_t now);

//  Earliest time the runner must be called again (a timer), or -1 if none.
int64_t runner_next_timer (runner_t *self);

//  Takes the next finished task, or NULL. Caller owns the result.
runner_done_t *runner_done (runner_t *self);

//  Stops the running task `tag` as if its time limit had passed now
//  (SIGTERM to its group, SIGKILL after the grace; a sleep ends at once).
//  It finishes as usual, through runner_done. Returns 0, or -1 if no task
//  with that tag runs.
int runner_stop (runner_t *self, uint64_t tag, int64_t now);

//  Sends SIGTERM to the process group of every running exec task and lets
//  their normal completion follow (used when the worker is told to stop).
void runner_terminate_all (runner_t *self);

//  Shell-quotes data into a new NUL-terminated string ('...' with '\''
//  for each quote). Returns NULL if data holds a NUL byte or on OOM.
//  Caller owns the result. Exposed for tests.
char *runner_shell_quote (const uint8_t *data, size_t size);

//  Returns command with every "{}" replaced by the quoted payload, or NULL
//  (payload holds a NUL and {} is used, or OOM). Caller owns the result.
char *runner_substitute (const char *command, const uint8_t *payload, size_t size);

#endif
