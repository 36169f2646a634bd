/*  contain - nothing a task started outlives the task.

    A task's command runs in its own process group, and the runner kills
    that group when the task ends. A process that leaves the group (setsid,
    a daemon's double fork) escaped that kill; this module catches it with
    what Linux offers:

    - A cgroup (v2) per task, where the worker may make them (root, or a
      delegated cgroup, with cgroup2 mounted): the command joins its cgroup
      before it execs, every process it starts is born there whatever its
      session or group, and the end of the task kills the cgroup
      (cgroup.kill, or each process in cgroup.procs on kernels before
      5.14) and removes it. A task cgroup found empty at the end (the
      common case: the command left nothing behind) is kept, open, for a
      later task, since making and removing one costs more than many a
      short command.
    - Without one: the worker is a child subreaper (PR_SET_CHILD_SUBREAPER),
      so a process orphaned by its task's shell becomes the worker's child
      instead of init's. When a task ends, the worker's children that carry
      that task's SLUICE_JOB, SLUICE_SEQ and SLUICE_ATTEMPT in their
      environment are killed with their process groups, and so are their
      own children as they are orphaned in turn.

    What remains (the README says it too): without cgroups, a process that
    dropped or rewrote those variables (env -i, a setuid program whose
    environment the worker cannot read) survives its task until the worker
    exits, which kills all of its children. With cgroups, a process that
    someone allowed to (root) moves to another cgroup escapes. A worker
    killed with SIGKILL kills nothing; with cgroups, the next worker that
    starts on the host kills what the dead one's tasks left and removes
    their cgroups (named sluice-task-PID-N), and under systemd stopping the
    unit kills what is left in its cgroup.

    Used by the runner only; one per runner.
*/
#ifndef CONTAIN_H_INCLUDED
#define CONTAIN_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct _contain_t contain_t;

//  One task's share: its cgroup, or the environment that marks its
//  processes. Zeroed (procs_fd -1) when the task has none.
typedef struct {
    char *cgroup;       //  its cgroup directory (owned), or NULL
    int procs_fd;       //  with cgroup: its cgroup.procs, open for the child to join
    int events_fd;      //  with cgroup: its cgroup.events, open to see it empty
    char mark [3][128]; //  its SLUICE_JOB=, SLUICE_SEQ=, SLUICE_ATTEMPT= entries
} contain_task_t;

//  Makes the worker a subreaper and looks for a cgroup v2 directory it may
//  make task cgroups in (unless use_cgroups is false: tests of the
//  fallback). Returns NULL if out of memory. Caller owns the result.
contain_t *contain_new (bool use_cgroups);

//  Kills every child the worker still has (call it once every task has
//  ended: what is left belongs to none that runs) and removes the task
//  cgroups. NULL-safe, nulls *self_p.
void contain_destroy (contain_t **self_p);

//  True if tasks get a cgroup each.
bool contain_cgroups (contain_t *self);

//  Before a task's command is spawned: its cgroup (if any) and its mark
//  (the three environment entries the runner gives it).
void contain_begin (contain_t *self, contain_task_t *task, const char *marks [3]);

//  The spawned child joins the task's cgroup before it execs, by writing
//  "0" to procs_fd (if cgroup is set). Once the worker knows whether it
//  could (the child reaped, at the latest): joined false leaves the task
//  to the fallback. Call before contain_end.
void contain_started (contain_t *self, contain_task_t *task, bool joined);

//  The task is over (its process group, group, already killed; 0 if it
//  has none): kills whatever it started that is still alive, reaps what
//  of it came to the worker (waiting a little for it to die), and frees
//  task's share (an empty cgroup goes back to the pool). Also for a task
//  whose command never started.
void contain_end (contain_t *self, contain_task_t *task, pid_t group);

#endif
