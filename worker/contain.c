/*  contain - nothing a task started outlives the task, see contain.h.

    State: whether the worker is a subreaper, the cgroup directory task
    cgroups are made in (NULL: none), a counter naming them, a pool of
    empty task cgroups with their files open, and the task cgroups killed
    but not yet removed (their processes were still dying).

    Cost per task: with cgroups, a write in the child (joining) and a read
    of cgroup.events at the end; only a task that left processes behind
    costs a kill, a wait for them and an rmdir (and its successor a mkdir
    and two opens). A fresh cgroup per task (mkdir, rmdir, opens) cost
    about 20% of the worker's time on `echo` tasks. Without cgroups, the
    worker's children are listed (/proc/self/task/T/children) and those not
    known as task shells have their environment read: a few system calls
    per child.
*/
#include "contain.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sl_log.h"

#define MAX_PENDING 64     //  killed task cgroups awaiting removal, at most
#define KILL_ROUNDS 100    //  rounds of kill-and-look before giving up on a fork bomb
#define DEATH_WAIT_MS 200  //  how long a task's end waits for what it killed to die
#define END_BUDGET_MS 500  //  the most a task's end may take (it holds up the worker's loop)
#define ENVIRON_MAX 65536  //  bytes of a process's environment read to find its mark
#define POOL_MAX 64        //  empty task cgroups kept for reuse, at most

//  An empty task cgroup, ready for the next task.
typedef struct {
    char *dir;     //  its directory (owned)
    int procs_fd;  //  its cgroup.procs, open for writing
    int events_fd; //  its cgroup.events, open for reading
} pooled_t;

struct _contain_t {
    bool subreaper;                 //  PR_SET_CHILD_SUBREAPER took
    char *root;                     //  cgroup v2 directory task cgroups go in (owned), or NULL
    uint64_t next;                  //  names the next task cgroup
    char *pending [MAX_PENDING];    //  killed task cgroups not removed yet (owned)
    size_t npending;                //  entries in pending
    pooled_t pool [POOL_MAX];       //  empty task cgroups to reuse
    size_t npool;                   //  entries in pool
};

static int64_t s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  Sleeps a millisecond.
static void s_nap (void)
{
    struct timespec ts = { 0, 1000000 };
    nanosleep (&ts, NULL);
}

//  --- Finding our cgroup ----------------------------------------------------------

//  The cgroup v2 directory of this process, or NULL (caller frees); and
//  whether the cgroup2 mount has favordynmods.
static char *s_own_cgroup (bool *dynmods)
{
    char path [PATH_MAX] = "", mount [PATH_MAX] = "", root [PATH_MAX] = "";
    char line [PATH_MAX + 512];
    FILE *f = fopen ("/proc/self/cgroup", "re");
    while (f && fgets (line, sizeof line, f))
        if (strncmp (line, "0::", 3) == 0) {
            line [strcspn (line, "\n")] = '\0';
            snprintf (path, sizeof path, "%.4000s", line + 3);
        }
    if (f)
        fclose (f);
    f = fopen ("/proc/self/mountinfo", "re");
    while (f && fgets (line, sizeof line, f)) {
        //  ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS... - FSTYPE SOURCE ...
        char *dash = strstr (line, " - cgroup2 ");
        char r [PATH_MAX], m [PATH_MAX];
        if (dash && sscanf (line, "%*s %*s %*s %4095s %4095s", r, m) == 2) {
            snprintf (root, sizeof root, "%s", r);
            snprintf (mount, sizeof mount, "%s", m);
            //  ... - cgroup2 SOURCE SUPER-OPTIONS
            char opts [512] = "";
            *dynmods = sscanf (dash, " - cgroup2 %*s %511s", opts) == 1 &&
                       strstr (opts, "favordynmods") != NULL;
            break;
        }
    }
    if (f)
        fclose (f);
    if (!path [0] || !mount [0])
        return NULL;
    //  The path is relative to the hierarchy's root; the mount may show a
    //  part of it only (its ROOT).
    const char *rest = path;
    if (strcmp (root, "/") != 0) {
        size_t n = strlen (root);
        if (strncmp (path, root, n) != 0)
            return NULL;
        rest = path + n;
    }
    char dir [PATH_MAX * 2];
    snprintf (dir, sizeof dir, "%s%s", mount, strcmp (rest, "/") == 0 ? "" : rest);
    return strdup (dir);
}

static int s_kill_cgroup (const char *cgroup, void *killed);

//  Task cgroups of a worker that is gone (killed with SIGKILL, say): what
//  still runs in them is killed, and they are removed.
static void s_clean_stale (const char *root)
{
    DIR *dir = opendir (root);
    struct dirent *entry;
    while (dir && (entry = readdir (dir))) {
        int pid;
        unsigned long long n;
        if (sscanf (entry->d_name, "sluice-task-%d-%llu", &pid, &n) != 2 || pid <= 0 ||
            kill (pid, 0) == 0 || errno != ESRCH)
            continue;
        char path [PATH_MAX * 2 + 300];
        snprintf (path, sizeof path, "%s/%.255s", root, entry->d_name);
        s_kill_cgroup (path, NULL);
        for (int i = 0; i < 100 && rmdir (path) && errno == EBUSY; i++)
            s_nap ();
        sl_info ("removed task cgroup %s of worker %d, which is gone", path, pid);
    }
    if (dir)
        closedir (dir);
}

contain_t *contain_new (bool use_cgroups)
{
    contain_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->subreaper = prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0;
    bool dynmods = false;
    char *own = use_cgroups ? s_own_cgroup (&dynmods) : NULL;
    if (own) {
        //  Try one: a cgroup we cannot make (not root, not delegated) or
        //  cannot move a process into shows at once.
        char probe [PATH_MAX * 2 + 64];
        snprintf (probe, sizeof probe, "%s/sluice-probe-%d", own, (int) getpid ());
        if (mkdir (probe, 0755) == 0) {
            char kill_file [sizeof probe + 16];
            snprintf (kill_file, sizeof kill_file, "%s/cgroup.procs", probe);
            bool usable = access (kill_file, W_OK) == 0;
            rmdir (probe);
            if (usable)
                self->root = own;
        }
        if (!self->root) {
            sl_debug ("cannot make cgroups in %s (%s): tasks are contained as a subreaper", own,
                      strerror (errno));
            free (own);
        }
    }
    if (self->root)
        s_clean_stale (self->root);
    if (self->root)
        sl_info ("tasks run in a cgroup each, under %s%s", self->root,
                 dynmods ? ""
                         : " (each task's move into its cgroup waits for the kernel: for many "
                           "short tasks, mount cgroup2 with favordynmods, see the README)");
    else if (self->subreaper)
        sl_info ("tasks run without a cgroup each: processes that leave a task's process "
                 "group are found as orphans (subreaper)");
    else
        sl_warn ("neither a cgroup per task nor PR_SET_CHILD_SUBREAPER: processes that "
                 "leave a task's process group may outlive it");
    return self;
}

bool contain_cgroups (contain_t *self)
{
    assert (self);
    return self->root != NULL;
}

//  --- Killing -----------------------------------------------------------------------

//  The worker's children, by /proc/self/task/T/children (each thread's
//  children: orphans come to any thread of a subreaper). Returns how many
//  pids were written to pids (at most max), or -1 if the kernel does not
//  list children.
static int s_children (pid_t *pids, int max)
{
    DIR *dir = opendir ("/proc/self/task");
    if (!dir)
        return -1;
    int n = 0, listed = 0;
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        if (entry->d_name [0] == '.')
            continue;
        char path [300];
        snprintf (path, sizeof path, "/proc/self/task/%.255s/children", entry->d_name);
        FILE *f = fopen (path, "re");
        if (!f)
            continue;
        listed++;
        long pid;
        while (n < max && fscanf (f, "%ld", &pid) == 1)
            pids [n++] = (pid_t) pid;
        fclose (f);
    }
    closedir (dir);
    return listed ? n : -1;
}

//  True if process pid's environment holds all three entries of mark.
static bool s_marked (pid_t pid, char mark [3][128])
{
    char path [64];
    snprintf (path, sizeof path, "/proc/%d/environ", (int) pid);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char *env = malloc (ENVIRON_MAX + 1);
    ssize_t got = env ? read (fd, env, ENVIRON_MAX) : -1;
    close (fd);
    bool found [3] = { false, false, false };
    for (ssize_t at = 0; got > 0 && at < got;) {
        env [got] = '\0';
        const char *entry = env + at;
        for (int k = 0; k < 3; k++)
            found [k] = found [k] || strcmp (entry, mark [k]) == 0;
        at += (ssize_t) strlen (entry) + 1;
    }
    free (env);
    return found [0] && found [1] && found [2];
}

//  What one task end killed: pids, and process groups whose members are
//  the task's too. Fixed room: beyond it, the rest is reaped by the
//  runner's loop (waitpid(-1)) rather than here.
typedef struct {
    pid_t pids [512];
    int npids;
    pid_t groups [512];
    int ngroups;
} s_killed_t;

static void s_add (pid_t *list, int *n, pid_t pid)
{
    for (int i = 0; i < *n; i++)
        if (list [i] == pid)
            return;
    if (*n < 512)
        list [(*n)++] = pid;
}

static bool s_has (const pid_t *list, int n, pid_t pid)
{
    for (int i = 0; i < n; i++)
        if (list [i] == pid)
            return true;
    return false;
}

//  Reads the state letter and process group of pid. 0 or -1.
static int s_stat (pid_t pid, char *state, pid_t *group)
{
    char path [64], line [1024];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t got = read (fd, line, sizeof line - 1);
    close (fd);
    if (got <= 0)
        return -1;
    line [got] = '\0';
    //  PID (COMM) STATE PPID PGRP ...: COMM may hold anything, so from its last ')'.
    char *end = strrchr (line, ')');
    int ppid, pgrp;
    if (!end || sscanf (end + 1, " %c %d %d", state, &ppid, &pgrp) != 3)
        return -1;
    *group = (pid_t) pgrp;
    return 0;
}

//  Reaps the worker's children that the kill made dead (its pids, or in
//  its groups), as they die and as their own children come to us, until
//  `until` at most: when a task's result goes out, what it left is gone,
//  not a zombie (past that, the runner's loop reaps them).
static void s_reap_killed (s_killed_t *killed, int64_t until)
{
    pid_t pids [1024];
    while (true) {
        int n = s_children (pids, 1024), pending = 0;
        for (int i = 0; i < n; i++) {
            char state;
            pid_t group;
            if (s_stat (pids [i], &state, &group))
                continue;
            if (!s_has (killed->pids, killed->npids, pids [i]) &&
                !s_has (killed->groups, killed->ngroups, group))
                continue;
            if (waitpid (pids [i], NULL, WNOHANG) == 0)
                pending++; //  not dead yet
        }
        if (!pending || s_now_ms () >= until)
            return;
        s_nap ();
    }
}

//  Kills the worker's children marked as the task's (every child if mark
//  is NULL) with their groups, round after round as their own children
//  come to us; notes what it killed.
static void s_kill_orphans (char mark [3][128], s_killed_t *killed, int64_t until)
{
    pid_t pids [1024];
    for (int round = 0; round < KILL_ROUNDS && s_now_ms () < until; round++) {
        int n = s_children (pids, 1024), nkilled = 0;
        for (int i = 0; i < n; i++) {
            if (mark && !s_marked (pids [i], mark))
                continue;
            pid_t group = getpgid (pids [i]);
            if (group > 1 && group != getpgrp ()) {
                kill (-group, SIGKILL);
                s_add (killed->groups, &killed->ngroups, group);
            }
            kill (pids [i], SIGKILL);
            s_add (killed->pids, &killed->npids, pids [i]);
            nkilled++;
        }
        if (nkilled == 0)
            return;
        int64_t wait = s_now_ms () + DEATH_WAIT_MS;
        s_reap_killed (killed, wait < until ? wait : until);
    }
    sl_warn ("processes left by a task keep starting others: gave up killing them after %d ms "
             "(the rest is killed when the worker exits)",
             END_BUDGET_MS);
}

//  Kills every process of a task cgroup, noting them. 0, or -1 if some
//  may live on.
static int s_kill_cgroup (const char *cgroup, void *killed_arg)
{
    s_killed_t none = { 0 };
    s_killed_t *killed = killed_arg ? killed_arg : &none;
    char path [PATH_MAX * 2 + 64];
    snprintf (path, sizeof path, "%s/cgroup.procs", cgroup);
    FILE *f = fopen (path, "re");
    long member;
    while (f && fscanf (f, "%ld", &member) == 1)
        s_add (killed->pids, &killed->npids, (pid_t) member);
    if (f)
        fclose (f);
    snprintf (path, sizeof path, "%s/cgroup.kill", cgroup);
    int fd = open (path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        bool ok = write (fd, "1", 1) == 1;
        close (fd);
        if (ok)
            return 0;
    }
    //  Before Linux 5.14: kill what cgroup.procs lists until it lists none.
    snprintf (path, sizeof path, "%s/cgroup.procs", cgroup);
    for (int round = 0; round < KILL_ROUNDS; round++) {
        FILE *procs = fopen (path, "re");
        if (!procs)
            return -1;
        long pid;
        int n = 0;
        while (fscanf (procs, "%ld", &pid) == 1) {
            kill ((pid_t) pid, SIGKILL);
            s_add (killed->pids, &killed->npids, (pid_t) pid);
            n++;
        }
        fclose (procs);
        if (n == 0)
            return 0;
        s_nap ();
    }
    return -1;
}

//  Removes the killed task cgroups whose processes are gone; with wait_ms,
//  waits that long at most for the others.
static void s_remove_pending (contain_t *self, int wait_ms)
{
    int64_t until = s_now_ms () + wait_ms;
    while (true) {
        size_t kept = 0;
        for (size_t i = 0; i < self->npending; i++) {
            if (rmdir (self->pending [i]) == 0 || errno == ENOENT)
                free (self->pending [i]);
            else
                self->pending [kept++] = self->pending [i];
        }
        self->npending = kept;
        if (!kept || s_now_ms () >= until)
            break;
        s_nap ();
    }
}

void contain_destroy (contain_t **self_p)
{
    assert (self_p);
    contain_t *self = *self_p;
    if (!self)
        return;
    if (self->subreaper) {
        s_killed_t *killed = calloc (1, sizeof *killed);
        if (killed)
            s_kill_orphans (NULL, killed, s_now_ms () + 5 * END_BUDGET_MS);
        free (killed);
    }
    while (self->npool) {
        pooled_t *cg = &self->pool [--self->npool];
        close (cg->procs_fd);
        close (cg->events_fd);
        if (rmdir (cg->dir) && self->npending < MAX_PENDING)
            self->pending [self->npending++] = cg->dir;
        else
            free (cg->dir);
    }
    s_remove_pending (self, 1000);
    for (size_t i = 0; i < self->npending; i++) {
        sl_warn ("cannot remove task cgroup %s: %s", self->pending [i], strerror (errno));
        free (self->pending [i]);
    }
    free (self->root);
    free (self);
    *self_p = NULL;
}

//  --- A task -----------------------------------------------------------------------

//  Closes a task cgroup's files.
static void s_close_files (contain_task_t *task)
{
    if (task->procs_fd >= 0)
        close (task->procs_fd);
    if (task->events_fd >= 0)
        close (task->events_fd);
    task->procs_fd = task->events_fd = -1;
}

//  Makes a new task cgroup for task and opens its files. Leaves task
//  without one if it cannot.
static void s_make_cgroup (contain_t *self, contain_task_t *task)
{
    char dir [PATH_MAX * 2 + 64], file [sizeof dir + 16];
    snprintf (dir, sizeof dir, "%s/sluice-task-%d-%llu", self->root, (int) getpid (),
              (unsigned long long) self->next++);
    if (mkdir (dir, 0755) && errno != EEXIST) {
        sl_debug ("cannot make task cgroup %s: %s", dir, strerror (errno));
        return;
    }
    snprintf (file, sizeof file, "%s/cgroup.procs", dir);
    task->procs_fd = open (file, O_WRONLY | O_CLOEXEC);
    snprintf (file, sizeof file, "%s/cgroup.events", dir);
    task->events_fd = task->procs_fd >= 0 ? open (file, O_RDONLY | O_CLOEXEC) : -1;
    if (task->events_fd < 0 || !(task->cgroup = strdup (dir))) {
        sl_debug ("cannot use task cgroup %s: %s", dir, strerror (errno));
        s_close_files (task);
        rmdir (dir);
    }
}

void contain_begin (contain_t *self, contain_task_t *task, const char *marks [3])
{
    assert (self);
    memset (task, 0, sizeof *task);
    task->procs_fd = task->events_fd = -1;
    for (int k = 0; k < 3; k++)
        snprintf (task->mark [k], sizeof task->mark [k], "%s", marks [k]);
    if (!self->root)
        return;
    if (self->npool) {
        pooled_t *cg = &self->pool [--self->npool];
        task->cgroup = cg->dir;
        task->procs_fd = cg->procs_fd;
        task->events_fd = cg->events_fd;
        return;
    }
    s_make_cgroup (self, task);
}

void contain_started (contain_t *self, contain_task_t *task, bool joined)
{
    assert (self);
    (void) self;
    if (!task->cgroup || joined)
        return; //  its files stay open: the cgroup goes back to the pool, empty
    sl_debug ("a task could not join its cgroup %s", task->cgroup);
    s_close_files (task);
    rmdir (task->cgroup);
    free (task->cgroup);
    task->cgroup = NULL;
}

//  True unless the task cgroup is known to hold no process (cgroup.events
//  says "populated 0": the kernel counts a process out when it exits).
static bool s_populated (const contain_task_t *task)
{
    char events [256];
    ssize_t got = pread (task->events_fd, events, sizeof events - 1, 0);
    if (got <= 0)
        return true;
    events [got] = '\0';
    return !strstr (events, "populated 0");
}

//  Puts the empty cgroup of task back in the pool (or removes it when the
//  pool is full).
static void s_pool_put (contain_t *self, contain_task_t *task)
{
    if (self->npool < POOL_MAX) {
        self->pool [self->npool++] =
            (pooled_t){ task->cgroup, task->procs_fd, task->events_fd };
    } else {
        s_close_files (task);
        if (rmdir (task->cgroup) == 0 || self->npending >= MAX_PENDING)
            free (task->cgroup);
        else
            self->pending [self->npending++] = task->cgroup;
    }
    task->cgroup = NULL;
    task->procs_fd = task->events_fd = -1;
}

//  Reaps what of the task's process group came to the worker and is
//  dead. True if none of it is left (no child in the group at all).
static bool s_group_reaped (pid_t group)
{
    if (group <= 1)
        return true;
    pid_t pid;
    while ((pid = waitpid (-group, NULL, WNOHANG)) > 0)
        ;
    return pid < 0; //  ECHILD; 0: one is still exiting
}

void contain_end (contain_t *self, contain_task_t *task, pid_t group)
{
    assert (self);
    //  A process counts out of its cgroup a moment before it is a zombie
    //  to reap: the group's must be reaped too, so that none is left.
    if (task->cgroup && !s_populated (task) && s_group_reaped (group)) {
        //  Nothing of the task is left alive: neither a kill nor a wait.
        s_pool_put (self, task);
        if (self->npending)
            s_remove_pending (self, 0);
        return;
    }
    s_killed_t *killed = calloc (1, sizeof *killed);
    if (killed && group > 1)
        s_add (killed->groups, &killed->ngroups, group); //  the runner killed it
    if (task->cgroup) {
        s_close_files (task);
        if (s_kill_cgroup (task->cgroup, killed))
            sl_warn ("cannot kill what is left in task cgroup %s: %s", task->cgroup,
                     strerror (errno));
    } else if (self->subreaper && killed)
        s_kill_orphans (task->mark, killed, s_now_ms () + END_BUDGET_MS);
    if (killed && self->subreaper)
        s_reap_killed (killed, s_now_ms () + DEATH_WAIT_MS);
    free (killed);
    if (task->cgroup) {
        if (rmdir (task->cgroup) == 0)
            free (task->cgroup);
        else if (self->npending < MAX_PENDING)
            self->pending [self->npending++] = task->cgroup; //  its processes are dying
        else {
            s_remove_pending (self, DEATH_WAIT_MS);
            if (rmdir (task->cgroup) && self->npending < MAX_PENDING)
                self->pending [self->npending++] = task->cgroup;
            else
                free (task->cgroup);
        }
        task->cgroup = NULL;
    }
    s_remove_pending (self, 0);
}
