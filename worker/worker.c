/*  worker - a sluice worker's event loop, see worker.h.

    One thread: zmq_poll over the control DEALER, the task PULL socket (only
    while the worker has room for more tasks) and the runner's pipes and
    signalfd. Tasks are read as soon as they arrive and wait in a local queue
    until a slot frees: what the broker's PUSH socket deals to this worker is
    better held where the broker can see it than in ZeroMQ's buffers.

    Every heartbeat lists the tasks the worker took since the previous one,
    so the broker knows whose they are and gives them to others if this
    worker goes silent; after a reconnect it lists all it holds.
    Results go out through an outbox: when the broker is away they wait
    (in ZeroMQ's pipe, then in the outbox) and are sent when it is back.

    Stopping: the first SIGTERM/SIGINT drains (no new task; tasks not
    started are handed back at once; running ones get --drain-timeout to
    finish, then are stopped and handed back); a second one stops at once.
*/
#include "worker.h"

#include <czmq.h>
#include <errno.h>
#include <string.h>

#include "sl_client.h"
#include "sl_credit.h"
#include "sl_deque.h"
#include "sl_log.h"
#include "sl_proto.h"
#include "sl_util.h"

#define MAX_POLL_ITEMS 4096
#define MAX_RESULT_BATCH 256
#define MAX_RESULT_BYTES (4 << 20)
#define MAX_REFS 4096 //  task references in one heartbeat or release

//  A task received and not yet finished.
typedef struct {
    char job [72];        //  its job
    uint64_t seq;         //  its seq
    uint32_t attempt;     //  which run this is
    uint32_t stage;       //  multi-stage job: its stage, echoed in the result (0 = none)
    uint32_t timeout_ms;  //  time limit, 0 = none
    uint8_t *payload;     //  owned until started
    size_t size;          //  bytes at payload
    void *running_handle; //  its place in worker_t.running while it runs
    bool announced;       //  the broker was told we hold it
} wtask_t;

typedef struct {
    const worker_config_t *config;
    char name [300];       //  "host:pid", given in every result
    sl_client_t *client;   //  control DEALER and data sockets
    zsock_t *tasks;        //  PULL from the broker's dispatch port
    zsock_t *results;      //  PUSH to the broker's results port
    runner_t *runner;      //  running tasks
    sl_deque_t *waiting;   //  wtask_t received, not started
    zlistx_t *running;     //  wtask_t started, not finished
    zlistx_t *outbox;      //  zframe_t results not yet taken by ZeroMQ
    bool fair;             //  credit-based dispatch: tasks come on a DEALER we feed credit
    bool got_tasks;        //  a task batch arrived since the last regular heartbeat
    sl_credit_t credit;    //  (fair) what we asked the broker for
    bool draining;         //  asked to stop: no new tasks
    bool refused;          //  the broker refused us after a reconnect or revoked our key
    bool claims_pending;   //  tasks announced as waiting have started: tell the broker
    int64_t drain_until;   //  when draining, when to stop what still runs
    uint64_t done;         //  tasks finished
    char cache_dir [3072]; //  where attachments are kept
    zhashx_t *job_attach;  //  job id -> job_attach_t: the files its tasks need
    zlistx_t *dl_queue;    //  hashes to fetch (owned strings)
    int dl_fd;             //  the download under way (its .part file), or -1
    char dl_hash [41];     //  its hash
    uint64_t dl_offset;    //  bytes of it here
    int64_t dl_asked;      //  when the last piece was asked for (ms)
    int64_t dl_retry_at;   //  no download before this (ms): the broker lacked one
    int64_t dl_failing;    //  since when the broker has answered every fetch with an error, or 0
    int64_t dl_told;       //  when that was last logged as a warning
    uint64_t attach_bytes; //  attachment bytes received
    Sluice__TaskRef *refs; //  room for MAX_REFS task references (heartbeats, releases)
    Sluice__TaskRef **ref_ptrs;
} worker_t;

static void s_wtask_destroy (wtask_t **task_p)
{
    if (*task_p) {
        free ((*task_p)->payload);
        free (*task_p);
        *task_p = NULL;
    }
}

//  --- Results ------------------------------------------------------------------

//  Sends what the outbox holds, in order, until ZeroMQ takes no more.
static void s_flush_outbox (worker_t *self)
{
    zframe_t *frame;
    while ((frame = (zframe_t *) zlistx_first (self->outbox))) {
        zframe_t *copy = zframe_dup (frame);
        if (zframe_send (&copy, self->results, ZFRAME_DONTWAIT)) {
            zframe_destroy (&copy);
            return;
        }
        zlistx_delete (self->outbox, NULL);
    }
}

static void s_queue_result (worker_t *self, sl_env_t *env)
{
    zframe_t *frame = sl_proto_encode (env);
    if (!frame) {
        sl_error ("out of memory encoding results (the broker will redo those tasks)");
        return;
    }
    zlistx_add_end (self->outbox, frame);
    s_flush_outbox (self);
}

//  Sends every finished task's result, one batch per run of the same job.
static void s_collect_results (worker_t *self)
{
    Sluice__Result results [MAX_RESULT_BATCH];
    Sluice__Result *ptrs [MAX_RESULT_BATCH];
    wtask_t *tasks [MAX_RESULT_BATCH];
    runner_done_t *dones [MAX_RESULT_BATCH];
    runner_done_t *done = runner_done (self->runner);
    while (done) {
        size_t n = 0, bytes = 0;
        while (done && n < MAX_RESULT_BATCH) {
            wtask_t *task = (wtask_t *) (uintptr_t) done->tag;
            //  One job per batch, and batches well under the broker's
            //  message limit (one output may be 32 MiB).
            if (n && (!streq (task->job, tasks [0]->job) ||
                      bytes + done->output_size + done->err_size > MAX_RESULT_BYTES))
                break;
            bytes += done->output_size + done->err_size;
            Sluice__Result init = SLUICE__RESULT__INIT;
            results [n] = init;
            results [n].seq = task->seq;
            results [n].status = (Sluice__Status) done->status;
            results [n].exit_code = done->exit_code;
            results [n].output.data = done->output;
            results [n].output.len = done->output_size;
            results [n].stderr_tail.data = done->err;
            results [n].stderr_tail.len = done->err_size;
            results [n].worker = self->name;
            results [n].duration_ms = done->duration_ms;
            results [n].output_truncated = done->output_truncated;
            results [n].attempt = task->attempt;
            results [n].stage = task->stage;
            ptrs [n] = &results [n];
            tasks [n] = task;
            dones [n++] = done;
            done = runner_done (self->runner);
        }
        Sluice__ResultBatch batch = SLUICE__RESULT_BATCH__INIT;
        batch.job = tasks [0]->job;
        batch.results = ptrs;
        batch.n_results = n;
        sl_env_t env = SLUICE__ENVELOPE__INIT;
        env.body_case = SLUICE__ENVELOPE__BODY_RESULTS;
        env.results = &batch;
        s_queue_result (self, &env);
        self->done += n;
        for (size_t i = 0; i < n; i++)
            sl_credit_task_done (&self->credit, dones [i]->duration_ms);
        for (size_t i = 0; i < n; i++) {
            if (tasks [i]->running_handle)
                zlistx_delete (self->running, tasks [i]->running_handle);
            s_wtask_destroy (&tasks [i]);
            runner_done_destroy (&dones [i]);
        }
    }
}

//  --- Attachments ----------------------------------------------------------------
//  Files shipped with jobs, fetched from the broker once per host and kept
//  in the cache directory under their SHA-1; a task starts only once its
//  job's files are all here. One download at a time, a piece per request.

#define ATTACH_RETRY_MS 500  //  the broker did not have it yet: ask again after this
#define ATTACH_STALL_MS 5000 //  no answer to a request this long: ask again
#define ATTACH_TELL_MS 10000 //  fetches failing this long are a warning (again after 6 times that)

typedef struct {
    size_t n;
    runner_attach_t list [RUNNER_MAX_ATTACH]; //  name and cache path
    char names [RUNNER_MAX_ATTACH][65];
    char paths [RUNNER_MAX_ATTACH][4096];
    char hashes [RUNNER_MAX_ATTACH][41];
    uint64_t sizes [RUNNER_MAX_ATTACH];
} job_attach_t;

static void s_cache_path (worker_t *self, const char *hash, bool part, char *path, size_t len)
{
    snprintf (path, len, "%s/%s%s", self->cache_dir, hash, part ? ".part" : "");
}

static bool s_cached (worker_t *self, const char *hash)
{
    char path [4200];
    s_cache_path (self, hash, false, path, sizeof path);
    return access (path, R_OK) == 0;
}

//  Remembers the attachments of a job the first time a batch names them.
static void s_note_attachments (worker_t *self, Sluice__TaskBatch *batch)
{
    if (!batch->n_attachments || zhashx_lookup (self->job_attach, batch->job))
        return;
    job_attach_t *ja = calloc (1, sizeof *ja);
    if (!ja)
        return;
    for (size_t i = 0; i < batch->n_attachments && ja->n < RUNNER_MAX_ATTACH; i++) {
        Sluice__Attachment *a = batch->attachments [i];
        bool ok = strlen (a->hash) == 40 && sl_job_id_valid (a->name);
        for (size_t k = 0; ok && k < 40; k++)
            ok = isxdigit ((unsigned char) a->hash [k]) && !isupper ((unsigned char) a->hash [k]);
        if (!ok)
            continue;
        size_t k = ja->n++;
        snprintf (ja->names [k], sizeof ja->names [k], "%s", a->name);
        snprintf (ja->hashes [k], sizeof ja->hashes [k], "%s", a->hash);
        s_cache_path (self, a->hash, false, ja->paths [k], sizeof ja->paths [k]);
        ja->sizes [k] = a->size;
        ja->list [k].name = ja->names [k];
        ja->list [k].path = ja->paths [k];
    }
    zhashx_insert (self->job_attach, batch->job, ja);
}

static void s_cache_evict (worker_t *self);

static void s_attach_request (worker_t *self, int64_t now)
{
    Sluice__AttachGet get = SLUICE__ATTACH_GET__INIT;
    get.hash = self->dl_hash;
    get.offset = self->dl_offset;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_ATTACH_GET;
    env.attach_get = &get;
    sl_client_send (self->client, &env);
    self->dl_asked = now;
}

//  Starts the next download if none runs.
static void s_attach_next (worker_t *self, int64_t now)
{
    while (self->dl_fd < 0 && zlistx_size (self->dl_queue) && now >= self->dl_retry_at) {
        char *hash = (char *) zlistx_detach (self->dl_queue, NULL);
        if (!s_cached (self, hash)) {
            char part [4200];
            s_cache_path (self, hash, true, part, sizeof part);
            self->dl_fd = open (part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (self->dl_fd < 0)
                sl_error ("cannot write %s: %s", part, strerror (errno));
            else {
                snprintf (self->dl_hash, sizeof self->dl_hash, "%s", hash);
                self->dl_offset = 0;
                s_attach_request (self, now);
            }
        }
        free (hash);
    }
}

//  A job's files are all here (else their downloads are queued).
static bool s_attach_ready (worker_t *self, const char *job, int64_t now)
{
    job_attach_t *ja = (job_attach_t *) zhashx_lookup (self->job_attach, job);
    bool ready = true;
    for (size_t i = 0; ja && i < ja->n; i++) {
        if (s_cached (self, ja->hashes [i]))
            continue;
        ready = false;
        bool queued = self->dl_fd >= 0 && streq (self->dl_hash, ja->hashes [i]);
        for (char *h = (char *) zlistx_first (self->dl_queue); h && !queued;
             h = (char *) zlistx_next (self->dl_queue))
            queued = streq (h, ja->hashes [i]);
        if (!queued)
            zlistx_add_end (self->dl_queue, strdup (ja->hashes [i]));
    }
    if (!ready)
        s_attach_next (self, now);
    return ready;
}

static void s_on_attach_chunk (worker_t *self, Sluice__AttachChunk *chunk, int64_t now)
{
    if (self->dl_fd < 0 || !streq (chunk->hash, self->dl_hash) || chunk->offset != self->dl_offset)
        return; //  stale
    char part [4200], path [4200];
    s_cache_path (self, self->dl_hash, true, part, sizeof part);
    s_cache_path (self, self->dl_hash, false, path, sizeof path);
    if (chunk->error [0] ||
        (chunk->data.len && pwrite (self->dl_fd, chunk->data.data, chunk->data.len,
                                    (off_t) chunk->offset) != (ssize_t) chunk->data.len)) {
        if (chunk->error [0]) {
            //  Tasks that need it wait: say so, not only in debug output.
            if (!self->dl_failing)
                self->dl_failing = now;
            if (now - self->dl_failing >= ATTACH_TELL_MS &&
                (!self->dl_told || now - self->dl_told >= 6 * ATTACH_TELL_MS)) {
                sl_warn ("attachment %s: the broker has answered \"%s\" for %lld s; the tasks "
                         "that need it wait (the ventilator must send it again), asking every "
                         "%d ms",
                         self->dl_hash, chunk->error, (long long) (now - self->dl_failing) / 1000,
                         ATTACH_RETRY_MS);
                self->dl_told = now;
            } else
                sl_debug ("attachment %s: %s; asking again soon", self->dl_hash, chunk->error);
        } else
            sl_error ("cannot write %s: %s", part, strerror (errno));
        close (self->dl_fd);
        self->dl_fd = -1;
        unlink (part);
        zlistx_add_end (self->dl_queue, strdup (self->dl_hash));
        self->dl_retry_at = now + ATTACH_RETRY_MS;
        return;
    }
    self->dl_failing = self->dl_told = 0;
    self->dl_offset += chunk->data.len;
    self->attach_bytes += chunk->data.len;
    if (self->dl_offset < chunk->total && chunk->data.len) {
        s_attach_request (self, now);
        return;
    }
    close (self->dl_fd);
    self->dl_fd = -1;
    char hash [41], err [300];
    uint64_t size;
    if (sl_file_sha1 (part, hash, &size, err, sizeof err) || !streq (hash, self->dl_hash)) {
        sl_warn ("attachment %s: what arrived does not match its hash; fetching it again",
                 self->dl_hash);
        unlink (part);
        zlistx_add_end (self->dl_queue, strdup (self->dl_hash));
        self->dl_retry_at = now + ATTACH_RETRY_MS;
    } else if (rename (part, path))
        sl_error ("cannot rename %s: %s", part, strerror (errno));
    else {
        sl_info ("attachment %s fetched (%llu bytes)", self->dl_hash, (unsigned long long) size);
        s_cache_evict (self);
    }
    s_attach_next (self, now);
}

//  No answer for a while (a lost message, a broker restarting): ask again.
static void s_attach_tick (worker_t *self, int64_t now)
{
    if (self->dl_fd >= 0 && now - self->dl_asked > ATTACH_STALL_MS)
        s_attach_request (self, now);
    s_attach_next (self, now);
}

//  The cache directory: --attach-cache, else $XDG_CACHE_HOME/sluice/
//  attachments or ~/.cache/sluice/attachments (made if missing).
static int s_cache_setup (worker_t *self)
{
    const char *xdg = getenv ("XDG_CACHE_HOME"), *home = getenv ("HOME");
    if (self->config->attach_cache)
        snprintf (self->cache_dir, sizeof self->cache_dir, "%s", self->config->attach_cache);
    else if (xdg && *xdg)
        snprintf (self->cache_dir, sizeof self->cache_dir, "%s/sluice/attachments", xdg);
    else
        snprintf (self->cache_dir, sizeof self->cache_dir, "%s/.cache/sluice/attachments",
                  home && *home ? home : "/tmp");
    if (zsys_dir_create ("%s", self->cache_dir)) {
        sl_error ("cannot make the attachment cache %s: %s", self->cache_dir, strerror (errno));
        return -1;
    }
    return 0;
}

//  Keeps the cache under --attach-cache-max: the files used longest ago
//  go first, never one a job this worker knows still needs.
static void s_cache_evict (worker_t *self)
{
    zdir_t *dir = zdir_new (self->cache_dir, "-");
    if (!dir)
        return;
    zfile_t **files = zdir_flatten (dir);
    uint64_t total = 0;
    size_t n = 0;
    for (; files && files [n]; n++)
        total += (uint64_t) zfile_cursize (files [n]);
    while (total > self->config->attach_cache_max) {
        zfile_t *oldest = NULL;
        for (size_t i = 0; i < n; i++) {
            if (!files [i] || zfile_is_directory (files [i]))
                continue;
            const char *base = strrchr (zfile_filename (files [i], NULL), '/');
            base = base ? base + 1 : zfile_filename (files [i], NULL);
            bool needed = false;
            for (job_attach_t *ja = (job_attach_t *) zhashx_first (self->job_attach); ja && !needed;
                 ja = (job_attach_t *) zhashx_next (self->job_attach))
                for (size_t k = 0; k < ja->n && !needed; k++)
                    needed = streq (ja->hashes [k], base);
            if (!needed && (!oldest || zfile_modified (files [i]) < zfile_modified (oldest)))
                oldest = files [i];
        }
        if (!oldest)
            break;
        total -= (uint64_t) zfile_cursize (oldest);
        sl_info ("attachment cache over %llu bytes: removing %s",
                 (unsigned long long) self->config->attach_cache_max,
                 zfile_filename (oldest, NULL));
        zfile_remove (oldest);
        for (size_t i = 0; i < n; i++)
            if (files [i] == oldest)
                files [i] = NULL; //  (the array still owns it: freed below)
    }
    zdir_flatten_free (&files);
    zdir_destroy (&dir);
}

static void s_job_attach_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

//  --- Tasks --------------------------------------------------------------------

//  Starts waiting tasks while slots are free.
static void s_start_tasks (worker_t *self, int64_t now)
{
    while (runner_running (self->runner) < self->config->slots && sl_deque_size (self->waiting)) {
        wtask_t *front = (wtask_t *) sl_deque_at (self->waiting, 0);
        if (!s_attach_ready (self, front->job, now))
            break; //  its files are on their way
        job_attach_t *ja = (job_attach_t *) zhashx_lookup (self->job_attach, front->job);
        wtask_t *task = (wtask_t *) sl_deque_pop_front (self->waiting);
        task->running_handle = zlistx_add_end (self->running, task);
        if (!task->running_handle ||
            runner_start_with (self->runner, (uint64_t) (uintptr_t) task, task->job, task->seq,
                               task->attempt, task->payload, task->size, task->timeout_ms, now,
                               ja ? ja->list : NULL, ja ? ja->n : 0)) {
            sl_error ("out of memory starting task %s/%llu", task->job,
                      (unsigned long long) task->seq);
            if (task->running_handle)
                zlistx_delete (self->running, task->running_handle);
            task->running_handle = NULL;
            sl_deque_push_front (self->waiting, task);
            break;
        }
        free (task->payload);
        task->payload = NULL;
        //  Announced as waiting? Tell the broker at once that it runs now
        //  (so that, lost with us, it counts as a run).
        if (task->announced) {
            task->announced = false;
            self->claims_pending = true;
        }
    }
}

static void s_on_task_batch (worker_t *self, Sluice__TaskBatch *batch)
{
    if (!sl_job_id_valid (batch->job)) {
        sl_warn_dropped ("dropped tasks with an invalid job id from the broker");
        return;
    }
    s_note_attachments (self, batch);
    for (size_t i = 0; i < batch->n_tasks; i++) {
        Sluice__Task *in = batch->tasks [i];
        wtask_t *task = calloc (1, sizeof *task);
        if (task)
            task->payload = malloc (in->payload.len ? in->payload.len : 1);
        if (!task || !task->payload) {
            s_wtask_destroy (&task);
            sl_error ("out of memory: task %s/%llu dropped (the broker will redo it)", batch->job,
                      (unsigned long long) in->seq);
            continue;
        }
        snprintf (task->job, sizeof task->job, "%s", batch->job);
        task->seq = in->seq;
        task->attempt = in->attempt;
        task->stage = in->stage;
        task->timeout_ms = in->timeout_ms;
        if (in->payload.len)
            memcpy (task->payload, in->payload.data, in->payload.len);
        task->size = in->payload.len;
        sl_deque_push_back (self->waiting, task);
    }
}

//  Fair dispatch: asks the broker for tasks (see credit.h). With
//  `absolute` (after a (re)connect) the broker is told the whole figure.
static void s_credit (worker_t *self, bool absolute)
{
    if (!self->fair)
        return;
    size_t held = runner_running (self->runner) + sl_deque_size (self->waiting);
    uint32_t amount;
    int64_t want;
    if (!sl_credit_ask (&self->credit, held, self->draining, absolute, &amount, &want))
        return;
    Sluice__Credit credit = SLUICE__CREDIT__INIT;
    credit.credit = amount;
    credit.absolute = absolute;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_CREDIT;
    env.credit = &credit;
    if (sl_proto_send (self->tasks, NULL, &env, ZMQ_DONTWAIT) == 0)
        sl_credit_sent (&self->credit, want);
}

//  Reads every task batch ZeroMQ holds.
static void s_read_tasks (worker_t *self)
{
    while (true) {
        sl_env_t *env = NULL;
        char why [256];
        sl_recv_t rc = sl_proto_recv (self->tasks, &env, NULL, why, sizeof why);
        if (rc == SL_RECV_NONE)
            break;
        if (rc != SL_RECV_OK)
            sl_warn_dropped ("dropped a bad message from the broker: %s", why);
        else if (env->body_case == SLUICE__ENVELOPE__BODY_TASKS) {
            sl_credit_received (&self->credit, env->tasks->n_tasks);
            self->got_tasks = true;
            s_on_task_batch (self, env->tasks);
        } else
            sl_warn_dropped ("dropped an unexpected %s message on the task socket",
                             sl_proto_body_name (env));
        sl_proto_free (&env);
    }
}

//  --- Telling the broker what we hold ---------------------------------------------

//  Adds a reference to task to self->refs at n if it qualifies (see
//  s_held). Returns the new count.
static size_t s_add_ref (worker_t *self, wtask_t *task, size_t n, bool fresh)
{
    if (fresh && task->announced)
        return n;
    Sluice__TaskRef init = SLUICE__TASK_REF__INIT;
    self->refs [n] = init;
    self->refs [n].job = task->job;
    self->refs [n].seq = task->seq;
    self->refs [n].attempt = task->attempt;
    self->refs [n].waiting = task->running_handle == NULL;
    self->ref_ptrs [n] = &self->refs [n];
    if (fresh)
        task->announced = true;
    return n + 1;
}

//  Fills self->refs (at most max) with the tasks held: running ones if
//  `running`, waiting ones if `waiting`; with `fresh` only those not yet
//  announced, which are then marked announced. Returns how many.
static size_t s_held (worker_t *self, size_t max, bool running, bool waiting, bool fresh)
{
    size_t n = 0;
    if (running)
        for (wtask_t *task = (wtask_t *) zlistx_first (self->running); task && n < max;
             task = (wtask_t *) zlistx_next (self->running))
            n = s_add_ref (self, task, n, fresh);
    if (waiting)
        for (size_t i = 0; i < sl_deque_size (self->waiting) && n < max; i++)
            n = s_add_ref (self, (wtask_t *) sl_deque_at (self->waiting, i), n, fresh);
    return n;
}

//  Heartbeats, claiming every task taken since the last one (in several
//  messages if there are many).
static void s_heartbeat (worker_t *self, int64_t now)
{
    size_t n;
    do {
        Sluice__Heartbeat hb = SLUICE__HEARTBEAT__INIT;
        hb.running = (uint32_t) runner_running (self->runner);
        hb.held = self->ref_ptrs;
        hb.n_held = n = s_held (self, MAX_REFS, true, true, true);
        sl_client_heartbeat (self->client, &hb, now);
    } while (n == MAX_REFS);
}

//  The regular heartbeat. With credit out and no task since the last one,
//  the credit goes again, absolute: credit (and tasks) lost with a dispatch
//  connection that broke would otherwise leave this worker idle for good.
static void s_beat (worker_t *self, int64_t now)
{
    s_heartbeat (self, now);
    if (self->fair && !self->draining && !self->got_tasks && self->credit.granted > 0)
        s_credit (self, true);
    self->got_tasks = false;
}

//  After a reconnect the broker may not know what we hold: tell it all.
static void s_announce_all (worker_t *self, int64_t now)
{
    for (wtask_t *task = (wtask_t *) zlistx_first (self->running); task;
         task = (wtask_t *) zlistx_next (self->running))
        task->announced = false;
    for (size_t i = 0; i < sl_deque_size (self->waiting); i++)
        ((wtask_t *) sl_deque_at (self->waiting, i))->announced = false;
    s_heartbeat (self, now);
}

//  Hands every waiting task back to the broker and forgets them.
static void s_release_waiting (worker_t *self)
{
    while (sl_deque_size (self->waiting)) {
        size_t n = s_held (self, MAX_REFS, false, true, false);
        Sluice__Release release = SLUICE__RELEASE__INIT;
        release.tasks = self->ref_ptrs;
        release.n_tasks = n;
        sl_env_t env = SLUICE__ENVELOPE__INIT;
        env.body_case = SLUICE__ENVELOPE__BODY_RELEASE;
        env.release = &release;
        sl_client_send (self->client, &env);
        for (size_t i = 0; i < n; i++) {
            wtask_t *task = (wtask_t *) sl_deque_pop_front (self->waiting);
            s_wtask_destroy (&task);
        }
    }
}

//  Says goodbye, listing what runs still (stopped, to be redone elsewhere).
static void s_say_bye (worker_t *self)
{
    Sluice__Bye bye = SLUICE__BYE__INIT;
    bye.unfinished = self->ref_ptrs;
    bye.n_unfinished = s_held (self, MAX_REFS, true, true, false);
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_BYE;
    env.bye = &bye;
    sl_client_send (self->client, &env);
}

static void s_drain (worker_t *self, int64_t now);

//  The broker cancelled a job: its tasks waiting here are dropped (they
//  ended `cancelled` at the broker) and its running ones are stopped
//  (their results will be dropped as late).
static void s_cancel_job (worker_t *self, const char *job, int64_t now)
{
    size_t dropped = 0, stopped = 0;
    for (size_t i = sl_deque_size (self->waiting); i > 0; i--) {
        wtask_t *task = (wtask_t *) sl_deque_pop_front (self->waiting);
        if (streq (task->job, job)) {
            s_wtask_destroy (&task);
            dropped++;
        } else
            sl_deque_push_back (self->waiting, task);
    }
    for (wtask_t *task = (wtask_t *) zlistx_first (self->running); task;
         task = (wtask_t *) zlistx_next (self->running))
        if (streq (task->job, job) &&
            runner_stop (self->runner, (uint64_t) (uintptr_t) task, now) == 0)
            stopped++;
    if (dropped || stopped)
        sl_info ("job %s was cancelled: %zu waiting tasks dropped, %zu running ones stopped", job,
                 dropped, stopped);
}

static void s_on_control (worker_t *self, int64_t now)
{
    sl_env_t *env = NULL;
    char why [256];
    sl_recv_t rc;
    while ((rc = sl_proto_recv (sl_client_control (self->client), &env, NULL, why, sizeof why)) !=
           SL_RECV_NONE) {
        if (rc != SL_RECV_OK) {
            sl_warn_dropped ("dropped a bad message from the broker: %s", why);
            continue;
        }
        bool consumed;
        sl_link_t link = sl_client_handle (self->client, env, now, &consumed);
        if (link == SL_LINK_REFUSED)
            self->refused = true; //  e.g. our key was revoked: stop
        else if (link == SL_LINK_BACK || link == SL_LINK_RESTARTED) {
            //  Tell the broker at once what this worker holds and wants.
            s_announce_all (self, now);
            s_credit (self, true);
        } else if (!consumed && env->body_case == SLUICE__ENVELOPE__BODY_ATTACH_CHUNK)
            s_on_attach_chunk (self, env->attach_chunk, now);
        else if (!consumed && env->body_case == SLUICE__ENVELOPE__BODY_CANCEL_JOB)
            s_cancel_job (self, env->cancel_job->job, now);
        else if (!consumed && env->body_case == SLUICE__ENVELOPE__BODY_DRAIN) {
            if (!self->draining) {
                sl_warn ("the broker asks this worker to drain (sluice-ctl drain)");
                s_drain (self, now);
            }
        } else if (!consumed)
            sl_debug ("ignored a %s message on the control socket", sl_proto_body_name (env));
        sl_proto_free (&env);
    }
}

//  --- Start and loop ---------------------------------------------------------------

static int s_connect (worker_t *self)
{
    char err [512];
    self->client = sl_client_new (self->config->broker, self->config->curve, err, sizeof err);
    if (!self->client) {
        sl_error ("%s", err);
        return -1;
    }
    Sluice__Hello hello = SLUICE__HELLO__INIT;
    hello.role = SLUICE__ROLE__ROLE_WORKER;
    hello.name = self->name;
    hello.slots = self->config->slots;
    hello.heartbeat_ms = self->config->heartbeat_ms;
    hello.queues = (char **) self->config->queues;
    hello.n_queues = self->config->nqueues;
    sl_env_t *welcome = NULL;
    sl_hello_t said = sl_client_hello (self->client, &hello, self->config->connect_timeout_ms,
                                       &welcome, err, sizeof err);
    if (said != SL_HELLO_WELCOME) {
        if (said != SL_HELLO_INTERRUPTED)
            sl_error ("%s", err);
        return said == SL_HELLO_INTERRUPTED ? 1 : -1;
    }
    self->fair = welcome->welcome->fair;
    sl_proto_free (&welcome);
    //  Fair dispatch: a DEALER the broker knows by our name, fed credit.
    sl_client_set_routing_id (self->client, self->fair ? self->name : NULL);
    if (!(self->tasks = sl_client_open (self->client, SL_PORT_DISPATCH,
                                        self->fair ? ZMQ_DEALER : ZMQ_PULL, 0, err, sizeof err)) ||
        !(self->results =
              sl_client_open (self->client, SL_PORT_RESULTS, ZMQ_PUSH, 2000, err, sizeof err))) {
        sl_error ("%s", err);
        return -1;
    }
    sl_client_set_routing_id (self->client, NULL);
    //  Keep what ZeroMQ buffers for this worker small: tasks are better
    //  left with the broker than queued behind a busy worker.
    zsock_set_rcvhwm (self->tasks, 2);
    s_credit (self, true);
    sl_info ("connected to broker %s at %s, running %u tasks at once, heartbeat %u ms",
             sl_client_broker_id (self->client), self->config->broker, self->config->slots,
             sl_client_heartbeat_ms (self->client));
    return 0;
}

//  Handles SIGINT/SIGTERM: the first drains, a second stops at once.
//  Returns true when the loop must end now.
static bool s_on_signal (worker_t *self, int64_t now)
{
    zsys_interrupted = 0; //  so that a second signal is seen
    if (self->draining) {
        sl_warn ("second signal: stopping now; %zu running tasks go back to the broker",
                 runner_running (self->runner));
        return true;
    }
    s_drain (self, now);
    return false;
}

//  Starts draining: no new task, those not started handed back, running
//  ones given --drain-timeout to finish.
static void s_drain (worker_t *self, int64_t now)
{
    self->draining = true;
    self->drain_until = now + (int64_t) self->config->drain_timeout_ms;
    //  No new tasks: take what ZeroMQ already holds, hand back all not
    //  started. Fair: ask for nothing more (what is on the way is handed
    //  back as it comes). Push: disconnect, so that nothing more is dealt.
    s_read_tasks (self);
    if (self->fair)
        s_credit (self, true);
    else {
        char endpoint [300], err [256];
        if (sl_endpoint_derive (self->config->broker, SL_PORT_DISPATCH, endpoint, sizeof endpoint,
                                err, sizeof err) == 0)
            zsock_disconnect (self->tasks, "%s", endpoint);
    }
    size_t handed = sl_deque_size (self->waiting);
    s_release_waiting (self);
    sl_info ("draining: %zu tasks handed back, waiting up to %.1f s for %zu running", handed,
             self->config->drain_timeout_ms / 1000.0, runner_running (self->runner));
}

int worker_run (const worker_config_t *config)
{
    assert (config);
    worker_t self = { .config = config };
    sl_credit_init (&self.credit, config->slots, config->prefetch);
    sl_self_name (self.name, sizeof self.name);
    //  The runner blocks SIGCHLD: it must exist before any ZeroMQ thread.
    self.runner = runner_new (&config->runner);
    self.waiting = sl_deque_new ();
    self.running = zlistx_new ();
    self.outbox = zlistx_new ();
    zmq_pollitem_t *items = calloc (MAX_POLL_ITEMS, sizeof *items);
    self.refs = calloc (MAX_REFS, sizeof *self.refs);
    self.ref_ptrs = calloc (MAX_REFS, sizeof *self.ref_ptrs);
    if (!self.runner || !self.waiting || !self.running || !self.outbox || !items || !self.refs ||
        !self.ref_ptrs) {
        free (self.refs);
        free (self.ref_ptrs);
        sl_error ("cannot set up the task runner: %s", strerror (errno));
        runner_destroy (&self.runner);
        sl_deque_destroy (&self.waiting);
        zlistx_destroy (&self.running);
        zlistx_destroy (&self.outbox);
        free (items);
        return 1;
    }
    zlistx_set_destructor (self.outbox, (zlistx_destructor_fn *) zframe_destroy);
    self.dl_fd = -1;
    self.job_attach = zhashx_new ();
    self.dl_queue = zlistx_new ();
    if (!self.job_attach || !self.dl_queue || s_cache_setup (&self)) {
        zhashx_destroy (&self.job_attach);
        zlistx_destroy (&self.dl_queue);
        runner_destroy (&self.runner);
        sl_deque_destroy (&self.waiting);
        zlistx_destroy (&self.running);
        zlistx_destroy (&self.outbox);
        free (items);
        free (self.refs);
        free (self.ref_ptrs);
        return 1;
    }
    zhashx_set_destructor (self.job_attach, s_job_attach_free);
    zlistx_set_destructor (self.dl_queue, (zlistx_destructor_fn *) zstr_free);
    int rc = s_connect (&self);
    while (rc == 0) {
        int64_t now = zclock_mono ();
        if (zsys_interrupted && s_on_signal (&self, now))
            break;
        if (self.refused) {
            rc = -1;
            break;
        }
        if (self.draining && runner_running (self.runner) == 0)
            break;
        if (self.draining && now >= self.drain_until) {
            sl_warn ("drain timeout: stopping %zu running tasks; they go back to the broker",
                     runner_running (self.runner));
            break;
        }
        sl_client_tick (self.client, now);
        s_attach_tick (&self, now);
        if (sl_client_heartbeat_due (self.client, now))
            s_beat (&self, now);
        items [0] =
            (zmq_pollitem_t){ zsock_resolve (sl_client_control (self.client)), 0, ZMQ_POLLIN, 0 };
        //  Read even while draining: what arrives then is handed back.
        items [1] = (zmq_pollitem_t){ zsock_resolve (self.tasks), 0, ZMQ_POLLIN, 0 };
        items [2] = (zmq_pollitem_t){ zsock_resolve (self.results), 0,
                                      zlistx_size (self.outbox) ? ZMQ_POLLOUT : 0, 0 };
        size_t n = 3 + runner_pollitems (self.runner, items + 3, MAX_POLL_ITEMS - 3);
        int64_t wake = sl_client_next_wake (self.client);
        int64_t timer = runner_next_timer (self.runner);
        if (timer >= 0 && timer < wake)
            wake = timer;
        if (self.dl_fd >= 0 && self.dl_asked + ATTACH_STALL_MS < wake)
            wake = self.dl_asked + ATTACH_STALL_MS;
        if (self.dl_fd < 0 && zlistx_size (self.dl_queue) && self.dl_retry_at < wake)
            wake = self.dl_retry_at;
        if (self.draining && self.drain_until < wake)
            wake = self.drain_until;
        long timeout = wake > now ? (long) (wake - now) : 0;
        if (zmq_poll (items, (int) n, timeout) < 0) {
            if (errno == EINTR)
                continue;
            sl_error ("poll failed: %s", zmq_strerror (errno));
            rc = -1;
            break;
        }
        now = zclock_mono ();
        runner_handle (self.runner, items + 3, n - 3, now);
        if (items [0].revents & ZMQ_POLLIN)
            s_on_control (&self, now);
        if (items [1].revents & ZMQ_POLLIN) {
            s_read_tasks (&self);
            if (self.draining)
                s_release_waiting (&self); //  arrived on the way: hand back
        }
        if (items [2].revents & ZMQ_POLLOUT)
            s_flush_outbox (&self);
        s_start_tasks (&self, now);
        s_collect_results (&self);
        s_credit (&self, false);
        if (self.claims_pending && sl_client_connected (self.client)) {
            s_heartbeat (&self, now);
            self.claims_pending = false;
        }
    }
    if (self.client) {
        //  What still runs is stopped and handed back, with what waits.
        s_flush_outbox (&self);
        s_say_bye (&self);
        if (zlistx_size (self.outbox))
            sl_warn ("%zu result batches could not be sent; the broker will redo those tasks",
                     zlistx_size (self.outbox));
    }
    free (items);
    free (self.refs);
    free (self.ref_ptrs);
    runner_destroy (&self.runner);
    wtask_t *task;
    while ((task = (wtask_t *) sl_deque_pop_front (self.waiting)))
        s_wtask_destroy (&task);
    while ((task = (wtask_t *) zlistx_detach (self.running, NULL)))
        s_wtask_destroy (&task);
    sl_deque_destroy (&self.waiting);
    zlistx_destroy (&self.running);
    zlistx_destroy (&self.outbox);
    if (self.dl_fd >= 0) {
        char part [4200];
        s_cache_path (&self, self.dl_hash, true, part, sizeof part);
        close (self.dl_fd);
        unlink (part);
    }
    if (self.attach_bytes)
        sl_info ("attachments: %llu bytes fetched", (unsigned long long) self.attach_bytes);
    zhashx_destroy (&self.job_attach);
    zlistx_destroy (&self.dl_queue);
    sl_client_destroy (&self.client);
    sl_info ("worker done: %llu tasks finished", (unsigned long long) self.done);
    return rc < 0 ? 1 : 0;
}
