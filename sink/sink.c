/*  sink - the sluice sink's event loop, see sink.h.

    Results arrive on a PULL socket in batches. What to do with each one is
    the collect core's (lib/sl_collect.c, shared with libsluice): it checks
    it against the seqs already written for its job (a result delivered
    again after a reconnect is not written twice), orders it, and queues
    the acknowledgements; this loop formats it with the writer and, once
    the writer has flushed, sends them to the broker on the control socket. The broker forgets a
   result only when acknowledged, so a sink that dies loses nothing: the next sink gets what was not
   confirmed.

    --keep-order: a result ahead of its job's next seq is formatted and
    parked (lib/sl_order.c) until the gap before it is filled. A parked result is
    not acknowledged (if the sink dies, the broker still has it), and one
    delivered again while parked is a duplicate. Two cases need more:
    - The broker keeps at most 20000 results sent and not acknowledged (its
      sink window) and sends results in the order they were completed: with
      that many parked behind a gap, the result that fills it could never
      come. So past KEEP_ACK_AHEAD unacknowledged parked results, parked
      results are acknowledged before they are written. With -o FILE
      --format jsonl they are first appended to the park file FILE.parked,
      which --resume reads back, so a sink that dies still loses nothing.
      With standard output or text they are held in memory only (a warning
      says so once); a sink stopped before it could write them writes them
      out of order rather than lose them. Below that, parked results stay
      unacknowledged even during a long wait: the broker then sends them
      again every ten heartbeats, and that resend is also what brings back
      a gap's result lost on the way (any ack would put it off).
    - A gap that never fills: its results were delivered to an earlier sink
      whose output this one does not continue. When the broker says every
      task of the job has its result and none is queued or running, and no
      new result came for longer than the broker waits before it sends
      unacknowledged results again, the parked results are written in seq
      order over the gaps, with a warning. JobDone (every result delivered)
      does the same.

    Memory: only results that came ahead of their job's next seq are held,
    formatted as they will be written (those acknowledged early included).

    Progress: when stderr is a terminal (or with --progress), a line on
    stderr (progress.c) shows the job written to last (while it is not
    done; else the first job not done), and how many other jobs are not
    done; every POLL_MS the sink asks the broker about that job (JobQuery
    with peek) for its total and the workers. Done and failed are the
    sink's own counts of results written, those found by --resume
    included. The line is cleared before a log line and, when standard
    output is a terminal, before results are written. All of it runs once
    per loop turn, never per result.
*/
#include "sink.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "progress.h"
#include "sl_client.h"
#include "sl_collect.h"
#include "sl_log.h"
#include "sl_proto.h"
#include "sl_util.h"

#define MAX_FAILED_LISTED 20
#define READ_BURST 64
#define RETRY_FLUSH_MS 1000
#define MAX_WAITING 1000 //  jobs named in a hello
#define POLL_MS 400      //  progress: asks the broker about the job shown this often
//  --keep-order: parked results left unacknowledged, at most (below the
//  broker's sink window of 20000 results sent and not acknowledged)
#define KEEP_ACK_AHEAD 8192
//  --keep-order: a job with parked results and no new one for this long
//  is watched for a gap that will never fill
#define KEEP_QUIET_MS 1000
//  the broker sends unacknowledged results again after this many heartbeats
#define BROKER_ACK_TIMEOUT_BEATS 10
#define PARK_SUFFIX ".parked"

typedef struct {
    const sink_config_t *config;
    char name [300];                          //  "host:pid"
    int64_t now;                              //  time of this loop turn (ms, monotonic)
    sl_client_t *client;                      //  control DEALER
    zsock_t *delivery;                        //  PULL from the broker's delivery port
    sl_writer_t *writer;                      //  the output
    sl_collect_t *collect;                    //  the jobs: dedup, order, acks (the collect core)
    bool unflushed;                           //  results written to the writer, not yet flushed
    int64_t retry_flush;                      //  after a failed flush, when to try again
    bool refused;                             //  the broker refused us after a reconnect
    uint64_t ok, failed, timeout, cancelled;  //  results written, by status
    uint64_t resumed;                         //  results found in the file by --resume
    uint64_t failed_seqs [MAX_FAILED_LISTED]; //  first failed or timed-out seqs
    char failed_jobs [MAX_FAILED_LISTED][72]; //  and their jobs
    size_t nfailed_listed;
    bool job_reported_failures; //  a JobDone counted failures we did not write ourselves
    //  --keep-order
    char *park_path;         //  the park file (FILE.parked), NULL = none (stdout or text)
    sl_writer_t *park;       //  the park file, while open for appending
    bool park_exists;        //  the park file exists (written by us or found by --resume)
    bool park_unflushed;     //  results appended to the park file, not yet flushed
    bool park_foreign;       //  the park file holds results of jobs other than --job's
    bool warned_memory_acks; //  told that results are acknowledged from memory
    //  Progress
    sl_progress_t *progress; //  the progress line, NULL = none
    bool stdout_tty;         //  results go to a terminal too: clear the line first
    sl_cjob_t *current;      //  the job written to last
    int64_t next_poll;       //  when to ask the broker next
    bool have_workers;       //  the broker answered a query
    uint32_t workers, busy;  //  its workers and those running something
    bool throttled;          //  its intake is paused
} sink_t;

static void s_note_failure (sink_t *self, const char *job, uint64_t seq);

//  True if this sink collects job id: every job, or one --job named.
static bool s_wants (sink_t *self, const char *id)
{
    const sink_config_t *config = self->config;
    if (!config->job || streq (id, config->job))
        return true;
    for (size_t i = 0; i < config->nmore_jobs; i++)
        if (streq (id, config->more_jobs [i]))
            return true;
    return false;
}

//  The job id (a Welcome's, JobStart's or --job), collected from now on.
static sl_cjob_t *s_job (sink_t *self, const char *id)
{
    sl_cjob_t *job = sl_collect_job (self->collect, id, self->now);
    if (!job && s_wants (self, id))
        sl_error ("out of memory for job %s", id);
    return job;
}

static const char *s_status_name (int status)
{
    switch (status) {
        case SLUICE__STATUS__STATUS_OK:
            return "ok";
        case SLUICE__STATUS__STATUS_FAILED:
            return "failed";
        case SLUICE__STATUS__STATUS_TIMEOUT:
            return "timeout";
        case SLUICE__STATUS__STATUS_CANCELLED:
            return "cancelled";
        default:
            return "unknown";
    }
}

static int s_status_code (const char *name)
{
    if (streq (name, "ok"))
        return SLUICE__STATUS__STATUS_OK;
    if (streq (name, "failed"))
        return SLUICE__STATUS__STATUS_FAILED;
    if (streq (name, "timeout"))
        return SLUICE__STATUS__STATUS_TIMEOUT;
    if (streq (name, "cancelled"))
        return SLUICE__STATUS__STATUS_CANCELLED;
    return SLUICE__STATUS__STATUS_UNKNOWN;
}

//  Keeps the MAX_FAILED_LISTED smallest (job, seq) of the failed tasks, in
//  order, for the summary.
static void s_note_failure (sink_t *self, const char *job, uint64_t seq)
{
    size_t at = self->nfailed_listed;
    while (at > 0) {
        int cmp = strcmp (self->failed_jobs [at - 1], job);
        if (cmp < 0 || (cmp == 0 && self->failed_seqs [at - 1] < seq))
            break;
        at--;
    }
    if (at == MAX_FAILED_LISTED)
        return;
    size_t last =
        self->nfailed_listed < MAX_FAILED_LISTED ? self->nfailed_listed : MAX_FAILED_LISTED - 1;
    for (size_t i = last; i > at; i--) {
        memcpy (self->failed_jobs [i], self->failed_jobs [i - 1], 72);
        self->failed_seqs [i] = self->failed_seqs [i - 1];
    }
    snprintf (self->failed_jobs [at], 72, "%s", job);
    self->failed_seqs [at] = seq;
    if (self->nfailed_listed < MAX_FAILED_LISTED)
        self->nfailed_listed++;
}

//  Counts a result of job that is in the output (the sink's own totals,
//  for the summary; the core counts each job's).
static void s_count (sink_t *self, sl_cjob_t *job, uint64_t seq, int status)
{
    if (status == SLUICE__STATUS__STATUS_OK)
        self->ok++;
    else {
        if (status == SLUICE__STATUS__STATUS_TIMEOUT)
            self->timeout++;
        else if (status == SLUICE__STATUS__STATUS_CANCELLED)
            self->cancelled++;
        else
            self->failed++;
        s_note_failure (self, job->id, seq);
    }
}

//  A result of job was handed to the writer.
static void s_written (sink_t *self, sl_cjob_t *job, uint64_t seq, int status)
{
    s_count (self, job, seq, status);
    self->unflushed = true;
    self->current = job;
}

//  Writes a result now. Returns 0, or -1 if it cannot be formatted (should
//  not happen): it is then not acknowledged, so the broker keeps it.
static int s_write_record (sink_t *self, sl_cjob_t *job, const sl_record_t *rec, int status)
{
    char err [512];
    if (sl_writer_put (self->writer, rec, err, sizeof err)) {
        sl_error ("result %s/%llu: %s", job->id, (unsigned long long) rec->seq, err);
        sl_collect_drop (self->collect, job, rec->seq);
        return -1;
    }
    sl_collect_written (self->collect, job, rec->seq, status, true);
    s_written (self, job, rec->seq, status);
    return 0;
}

//  Writes a parked result and frees it. Returns 0, or -1 if out of memory
//  (the caller keeps it).
static int s_write_parked (sink_t *self, sl_cjob_t *job, sl_parked_t *parked)
{
    char err [512];
    if (sl_writer_put_formatted (self->writer, parked->data, parked->size, err, sizeof err)) {
        sl_error ("result %s/%llu: %s", job->id, (unsigned long long) parked->seq, err);
        return -1;
    }
    sl_collect_written_parked (self->collect, job, parked);
    s_written (self, job, parked->seq, parked->status);
    free (parked);
    return 0;
}

//  Writes the parked results of job that are next in order.
static void s_write_ready (sink_t *self, sl_cjob_t *job)
{
    sl_parked_t *parked;
    while ((parked = sl_collect_pop_ready (self->collect, job)))
        if (s_write_parked (self, job, parked)) {
            if (sl_collect_park (self->collect, job, &parked))
                free (parked); //  cannot happen: it was just taken out
            break;
        }
}

//  Writes every parked result of job in seq order, over the gaps.
static void s_write_all_parked (sink_t *self, sl_cjob_t *job, const char *why)
{
    if (!job->order || !sl_order_size (job->order))
        return;
    uint64_t next = sl_order_next (job->order, job->written);
    size_t n;
    sl_parked_t **all = sl_collect_take_parked (self->collect, job, &n);
    if (!all) {
        sl_error ("job %s: out of memory", job->id);
        return;
    }
    if (why)
        sl_warn ("job %s: %s; writing the %zu results held back (seqs %llu..%llu) and skipping "
                 "the seqs never received from %llu on",
                 job->id, why, n, (unsigned long long) all [0]->seq,
                 (unsigned long long) all [n - 1]->seq, (unsigned long long) next);
    for (size_t i = 0; i < n; i++)
        if (s_write_parked (self, job, all [i]) && sl_collect_park (self->collect, job, &all [i]))
            free (all [i]);
    free (all);
}

//  Formats a result that is ahead of its job's next seq and parks it, not
//  acknowledged. If that fails (out of memory), it is dropped unacknowledged:
//  the broker sends it again later.
static void s_park (sink_t *self, sl_cjob_t *job, const sl_record_t *rec, int status)
{
    char err [512];
    const uint8_t *data;
    size_t size;
    if (sl_writer_format (self->writer, rec, &data, &size, err, sizeof err)) {
        sl_error ("result %s/%llu: %s", job->id, (unsigned long long) rec->seq, err);
        return;
    }
    sl_parked_t *parked = sl_parked_new (rec->seq, status, data, size);
    if (!parked || sl_collect_park (self->collect, job, &parked)) {
        sl_error ("result %s/%llu: out of memory to hold it back", job->id,
                  (unsigned long long) rec->seq);
        free (parked);
    }
}

static void s_record (sl_record_t *rec, const char *job, const Sluice__Result *r)
{
    *rec = (sl_record_t){
        .job = job,
        .seq = r->seq,
        .status = s_status_name (r->status),
        .exit_code = r->exit_code,
        .attempts = r->attempts,
        .worker = r->worker,
        .duration_ms = r->duration_ms,
        .output = r->output.data,
        .output_size = r->output.len,
        .err = r->stderr_tail.data,
        .err_size = r->stderr_tail.len,
        .output_truncated = r->output_truncated,
        .id = r->id [0] ? r->id : NULL,
        .stage = r->stage,
    };
}

static void s_on_results (sink_t *self, Sluice__ResultBatch *batch)
{
    for (size_t i = 0; i < batch->n_results; i++) {
        Sluice__Result *r = batch->results [i];
        sl_cjob_t *job;
        sl_collect_verdict_t verdict =
            sl_collect_offer (self->collect, batch->job, r->seq, self->now, &job);
        if (verdict == SL_COLLECT_FOREIGN) {
            if (!s_wants (self, batch->job))
                sl_warn_dropped ("dropped results of job %s (collecting %s%s only)", batch->job,
                                 self->config->job, self->config->nmore_jobs ? " and others" : "");
            else //  every job is ours: only memory can refuse it (the broker resends)
                sl_error ("out of memory for job %s; its results wait at the broker", batch->job);
            return;
        }
        if (verdict == SL_COLLECT_OUT_OF_RANGE)
            sl_warn_dropped ("dropped a result with seq %llu out of range",
                             (unsigned long long) r->seq);
        if (verdict >= SL_COLLECT_DUPLICATE)
            continue;
        sl_record_t rec;
        s_record (&rec, batch->job, r);
        if (verdict == SL_COLLECT_PARK) {
            s_park (self, job, &rec, r->status);
            continue;
        }
        if (verdict == SL_COLLECT_LATE && sl_collect_late (self->collect) == 1)
            sl_warn ("job %s: result %llu came after the sink stopped waiting for it; "
                     "written out of order",
                     job->id, (unsigned long long) r->seq);
        if (s_write_record (self, job, &rec, r->status) == 0)
            s_write_ready (self, job);
    }
}

//  --- Park file (--keep-order) ------------------------------------------------

static int s_park_open (sink_t *self)
{
    char err [512];
    self->park = sl_writer_new (self->park_path, SL_FORMAT_JSONL, true, err, sizeof err);
    if (!self->park) {
        sl_error ("%s; results held back by --keep-order are kept in memory only", err);
        free (self->park_path);
        self->park_path = NULL;
        return -1;
    }
    self->park_exists = true;
    return 0;
}

//  Removes the park file once nothing in it is needed any more.
static void s_park_remove (sink_t *self)
{
    sl_writer_destroy (&self->park);
    if (self->park_path && unlink (self->park_path) && errno != ENOENT)
        sl_warn ("cannot remove %s: %s", self->park_path, strerror (errno));
    self->park_exists = false;
}

//  sl_collect_ack_parked callback: saves a parked result in the park file
//  (if there is one) before it is acknowledged.
static int s_save_parked (sl_parked_t *parked, void *arg)
{
    sink_t *self = (sink_t *) arg;
    if (self->park_path && !self->park)
        s_park_open (self);
    if (self->park) {
        char err [512];
        if (sl_writer_put_formatted (self->park, parked->data, parked->size, err, sizeof err)) {
            sl_error ("%s", err);
            return -1;
        }
        self->park_unflushed = true;
    }
    return 0;
}

//  Acknowledges parked results before they are written, when there are so
//  many that the broker's window would fill. See the top of this file.
static void s_ack_ahead (sink_t *self)
{
    size_t unacked = sl_collect_unacked_parked (self->collect);
    if (unacked <= KEEP_ACK_AHEAD)
        return;
    if (!self->park_path && !self->warned_memory_acks) {
        sl_warn ("--keep-order: %zu results wait behind a gap; acknowledging them to the broker "
                 "before they are written so that it sends the rest. They are held in memory "
                 "only: if this sink is killed they are lost (-o FILE --format jsonl keeps them "
                 "in FILE" PARK_SUFFIX ")",
                 unacked);
        self->warned_memory_acks = true;
    }
    sl_collect_ack_parked (self->collect, s_save_parked, self);
}

//  Flushes a writer. Returns 0, or -1 (logged; retried later).
static int s_flush (sink_t *self, sl_writer_t *writer, bool *unflushed)
{
    char err [512];
    if (*unflushed && sl_writer_flush (writer, false, err, sizeof err)) {
        sl_error ("%s; results are kept by the broker, retrying", err);
        self->retry_flush = zclock_mono () + RETRY_FLUSH_MS;
        return -1;
    }
    *unflushed = false;
    return 0;
}

//  Flushes the writer (and the park file), then acknowledges everything
//  written (or parked and saved). On a write error nothing is
//  acknowledged: the broker keeps those results. ack_ahead: the sink goes
//  on, so parked results may be acknowledged early (not when stopping).
static int s_flush_and_ack (sink_t *self, bool ack_ahead)
{
    if (self->config->keep_order && ack_ahead)
        s_ack_ahead (self);
    if (self->unflushed && self->progress && self->stdout_tty)
        sl_progress_clear (self->progress);
    if (s_flush (self, self->writer, &self->unflushed) ||
        s_flush (self, self->park, &self->park_unflushed))
        return -1;
    //  Everything the park file held is in the output now.
    if (self->park_exists && sl_collect_parked_acked (self->collect) == 0 && !self->park_foreign)
        s_park_remove (self);
    //  If the broker is away the acks are lost; the broker then delivers
    //  those results again and the core drops them (and acks again).
    sl_collect_acks (self->collect, sl_client_send_ack, self->client);
    return 0;
}

static void s_on_job_done (sink_t *self, Sluice__JobDone *done)
{
    sl_cjob_t *job = sl_collect_job_done (self->collect, done, self->now);
    if (!job)
        return;
    //  Every result was delivered: what is still held back waits for
    //  results that went to an earlier sink.
    s_write_all_parked (self, job, "the broker delivered every result, some to an earlier sink");
    if (done->forgotten) {
        sl_warn ("the broker does not know job %s (finished longer ago than its --retention?)",
                 done->job);
        return;
    }
    if ((done->failed || done->timeout || done->cancelled) && !job->nwritten)
        self->job_reported_failures = true;
    sl_info ("job %s done: %llu tasks, %llu ok, %llu failed, %llu timed out", done->job,
             (unsigned long long) done->total, (unsigned long long) done->ok,
             (unsigned long long) done->failed, (unsigned long long) done->timeout);
}

static void s_on_delivery (sink_t *self)
{
    if (self->progress && self->stdout_tty)
        sl_progress_clear (self->progress); //  the writer may write to the terminal
    for (int i = 0; i < READ_BURST; i++) {
        sl_env_t *env = NULL;
        char why [256];
        sl_recv_t rc = sl_proto_recv (self->delivery, &env, NULL, why, sizeof why);
        if (rc == SL_RECV_NONE)
            break;
        if (rc != SL_RECV_OK) {
            sl_warn_dropped ("dropped a bad message from the broker: %s", why);
            continue;
        }
        switch (env->body_case) {
            case SLUICE__ENVELOPE__BODY_RESULTS:
                s_on_results (self, env->results);
                break;
            case SLUICE__ENVELOPE__BODY_JOB_DONE:
                //  Results before it in the stream must be confirmed first.
                s_on_job_done (self, env->job_done);
                break;
            case SLUICE__ENVELOPE__BODY_JOB_START:
                if (s_wants (self, env->job_start->job))
                    s_job (self, env->job_start->job);
                break;
            default:
                sl_warn_dropped ("dropped an unexpected %s message from the broker",
                                 sl_proto_body_name (env));
                break;
        }
        sl_proto_free (&env);
    }
}

static void s_on_job_state (sink_t *self, Sluice__JobState *state)
{
    self->have_workers = true;
    self->workers = state->workers;
    self->busy = state->busy_workers;
    self->throttled = state->throttled;
    //  --keep-order: parked results wait for gaps that will never fill once
    //  a result lost on the way would have been sent again (the broker's
    //  ack timeout, and some).
    int64_t beat =
        sl_client_heartbeat_ms (self->client) ? sl_client_heartbeat_ms (self->client) : 1000;
    int64_t quiet = (BROKER_ACK_TIMEOUT_BEATS + 3) * beat;
    sl_cjob_t *job;
    if (!sl_collect_job_state (self->collect, state, quiet, self->now, &job))
        return;
    char why [160];
    snprintf (why, sizeof why,
              "no new result for %.0f s and the broker has every result; the missing ones went "
              "to an earlier sink (continue its file with --resume, or use --from-start)",
              (double) (self->now - job->last_new) / 1000);
    s_write_all_parked (self, job, why);
}

static void s_on_control (sink_t *self)
{
    sl_env_t *env;
    sl_link_t link;
    bool consumed;
    while ((env = sl_client_recv (self->client, self->now, &link, &consumed))) {
        if (link == SL_LINK_BACK || link == SL_LINK_RESTARTED) {
            //  Attached again: the welcome lists the jobs to wait for.
            sl_collect_welcome (self->collect, env->welcome, self->now);
        } else if (link == SL_LINK_REFUSED)
            self->refused = true;
        else if (!consumed && env->body_case == SLUICE__ENVELOPE__BODY_JOB_STATE)
            s_on_job_state (self, env->job_state);
        sl_proto_free (&env);
    }
}

static void s_send_simple (sink_t *self, Sluice__Envelope__BodyCase body_case)
{
    Sluice__Heartbeat hb = SLUICE__HEARTBEAT__INIT;
    Sluice__Bye bye = SLUICE__BYE__INIT;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = body_case;
    if (body_case == SLUICE__ENVELOPE__BODY_HEARTBEAT)
        env.heartbeat = &hb;
    else
        env.bye = &bye;
    sl_client_send (self->client, &env);
}

//  The hello: who we are and the jobs we still wait for (so that, after a
//  reconnect, the broker tells us of those that finished meanwhile).
static void s_hello (sink_t *self, Sluice__Hello *hello, char **waiting)
{
    Sluice__Hello init = SLUICE__HELLO__INIT;
    *hello = init;
    hello->role = SLUICE__ROLE__ROLE_SINK;
    hello->name = self->name;
    hello->job = (char *) (self->config->job ? self->config->job : "");
    hello->jobs = (char **) self->config->more_jobs;
    hello->n_jobs = self->config->nmore_jobs;
    hello->follow = self->config->follow;
    hello->from_start = self->config->from_start;
    hello->delivery = SL_DELIVERY_VERSION;
    hello->waiting = waiting;
    hello->n_waiting = sl_collect_waiting (self->collect, waiting, MAX_WAITING);
}

//  Keeps the hello the client says again after a reconnect up to date.
static void s_update_hello (sink_t *self)
{
    if (!self->client)
        return;
    char *waiting [MAX_WAITING];
    Sluice__Hello hello;
    s_hello (self, &hello, waiting);
    //  A reconnect must not start the job over again.
    hello.from_start = false;
    sl_client_set_hello (self->client, &hello);
}

//  --- Progress ------------------------------------------------------------------

//  The job the progress line shows: the one written to last while it is
//  not done, else the first one not done.
static sl_cjob_t *s_shown_job (sink_t *self)
{
    if (self->current && !self->current->done)
        return self->current;
    for (sl_cjob_t *job = sl_collect_first (self->collect); job;
         job = sl_collect_next (self->collect))
        if (!job->done)
            return job;
    return self->current ? self->current : sl_collect_first (self->collect);
}

static void s_query (sink_t *self, sl_cjob_t *job)
{
    Sluice__JobQuery query = SLUICE__JOB_QUERY__INIT;
    query.job = job->id;
    query.peek = true;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_JOB_QUERY;
    env.job_query = &query;
    sl_client_send (self->client, &env);
}

//  Every POLL_MS: asks the broker about the job shown and (--keep-order)
//  about jobs whose parked results wait for a while.
static void s_poll (sink_t *self)
{
    if (self->now < self->next_poll || !sl_client_connected (self->client))
        return;
    self->next_poll = self->now + POLL_MS;
    sl_cjob_t *shown = self->progress ? s_shown_job (self) : NULL;
    if (shown && !shown->done)
        s_query (self, shown);
    if (!self->config->keep_order)
        return;
    for (sl_cjob_t *job = sl_collect_first (self->collect); job;
         job = sl_collect_next (self->collect))
        if (job != shown && !job->done && job->order && sl_order_size (job->order) &&
            self->now - job->last_new >= KEEP_QUIET_MS)
            s_query (self, job);
}

static void s_draw (sink_t *self, bool final)
{
    sl_cjob_t *job = s_shown_job (self);
    sl_progress_stats_t stats = {
        .job = self->config->job ? self->config->job : "(waiting for a job)",
        .rate = -1,
        .have_workers = self->have_workers,
        .workers = self->workers,
        .busy = self->busy,
        .throttled = self->throttled,
    };
    if (job) {
        stats.job = job->id;
        stats.done = job->nwritten;
        stats.total = job->total;
        stats.failed = job->failed;
        stats.held = job->order ? sl_order_size (job->order) : 0;
    }
    for (sl_cjob_t *other = sl_collect_first (self->collect); other;
         other = sl_collect_next (self->collect))
        if (other != job && !other->done)
            stats.more_jobs++;
    if (final)
        sl_progress_finish (self->progress, &stats, self->now);
    else
        sl_progress_draw (self->progress, &stats, self->now);
}

//  --- Resume ------------------------------------------------------------------

//  Reads one JSON Lines result: its job, seq and status. Returns the parsed
//  object (job and status point into it: the caller json_decref's it), or
//  NULL if the line is not a sluice result.
static json_t *s_parse_result (const char *line, size_t len, const char **job, uint64_t *seq,
                               const char **status)
{
    json_error_t jerr;
    json_t *rec = json_loadb (line, len, 0, &jerr);
    *job = rec ? json_string_value (json_object_get (rec, "job")) : NULL;
    json_int_t n = rec ? json_integer_value (json_object_get (rec, "seq")) : 0;
    *status = rec ? json_string_value (json_object_get (rec, "status")) : NULL;
    if (!*job || !sl_job_id_valid (*job) || n < 1 || (uint64_t) n > SL_SEEN_MAX_SEQ || !*status) {
        json_decref (rec);
        return NULL;
    }
    *seq = (uint64_t) n;
    return rec;
}

//  Reads the complete lines of a JSON Lines file open in file and cuts off
//  a torn last line (left by a crash in the middle of a write). Calls
//  fn (self, line, len, lineno) for each line; fn returning -1 stops.
//  Returns 0, or -1 with err.
static int s_read_lines (sink_t *self, FILE *file, const char *path,
                         int (*fn) (sink_t *, const char *, size_t, size_t, char *, size_t),
                         char *err, size_t errlen)
{
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t len;
    off_t good = 0;
    int rc = 0;
    while ((len = getline (&line, &cap, file)) > 0) {
        lineno++;
        if (line [len - 1] != '\n')
            break; //  torn: cut below
        if (fn (self, line, (size_t) len, lineno, err, errlen)) {
            rc = -1;
            break;
        }
        good += len;
    }
    free (line);
    if (rc == 0 && fseeko (file, 0, SEEK_END) == 0 && ftello (file) > good) {
        sl_warn ("%s: dropped a torn last line (%lld bytes) left by an interrupted write", path,
                 (long long) (ftello (file) - good));
        if (ftruncate (fileno (file), good) != 0) {
            snprintf (err, errlen, "cannot cut the torn end of %s: %s", path, strerror (errno));
            rc = -1;
        }
    }
    return rc;
}

//  A line of the output file: its result is written.
static int s_resume_line (sink_t *self, const char *line, size_t len, size_t lineno, char *err,
                          size_t errlen)
{
    const char *job, *status;
    uint64_t seq;
    json_t *rec = s_parse_result (line, len, &job, &seq, &status);
    if (!rec) {
        snprintf (err, errlen,
                  "%s:%zu is not a sluice JSONL result; cannot resume this file (give "
                  "another -o, or --from-start without --resume)",
                  self->config->output, lineno);
        return -1;
    }
    //  With --job, the file's other jobs are not this sink's business.
    if (sl_collect_resumed (self->collect, job, seq, s_status_code (status), self->now)) {
        s_count (self, sl_collect_job (self->collect, job, self->now), seq, s_status_code (status));
        self->resumed++;
    }
    json_decref (rec);
    return 0;
}

//  A line of the park file: a result acknowledged before it was written;
//  parked again unless the output has it.
static int s_resume_park_line (sink_t *self, const char *line, size_t len, size_t lineno, char *err,
                               size_t errlen)
{
    (void) err;
    (void) errlen;
    const char *job, *status;
    uint64_t seq;
    json_t *rec = s_parse_result (line, len, &job, &seq, &status);
    if (!rec) {
        sl_warn ("%s:%zu is not a sluice JSONL result; skipped", self->park_path, lineno);
        return 0;
    }
    sl_parked_t *parked = sl_parked_new (seq, s_status_code (status), line, len);
    if (parked && sl_collect_resumed_parked (self->collect, job, &parked, self->now) < 0)
        self->park_foreign = true; //  another sink's business: keep the file
    free (parked);
    json_decref (rec);
    return 0;
}

//  Opens path for --resume and reads it with fn. A missing file is no
//  error (*found false). Returns 0, or -1 with err.
static int s_resume_file (sink_t *self, const char *path,
                          int (*fn) (sink_t *, const char *, size_t, size_t, char *, size_t),
                          bool *found, char *err, size_t errlen)
{
    *found = false;
    FILE *file = fopen (path, "r+");
    if (!file) {
        if (errno == ENOENT)
            return 0;
        snprintf (err, errlen, "cannot open %s to resume: %s", path, strerror (errno));
        return -1;
    }
    *found = true;
    int rc = s_read_lines (self, file, path, fn, err, errlen);
    fclose (file);
    return rc;
}

//  --resume: reads the results already in the output file, marks their
//  seqs as written (so none is written twice) and counts them; then the
//  park file, whose results are held back again (--keep-order) or written
//  first thing (see s_write_resumed_park). Returns 0, or -1 with err.
static int s_resume (sink_t *self, char *err, size_t errlen)
{
    bool found;
    if (s_resume_file (self, self->config->output, s_resume_line, &found, err, errlen))
        return -1;
    if (self->resumed)
        sl_info ("resuming %s: %llu results already written", self->config->output,
                 (unsigned long long) self->resumed);
    if (!self->park_path)
        return 0;
    if (s_resume_file (self, self->park_path, s_resume_park_line, &found, err, errlen))
        return -1;
    self->park_exists = found;
    if (sl_collect_parked_acked (self->collect))
        sl_info ("resuming %s: %llu results acknowledged ahead of their turn found in %s",
                 self->config->output, (unsigned long long) sl_collect_parked_acked (self->collect),
                 self->park_path);
    return 0;
}

//  After --resume: the results found in the park file are written, in
//  order with --keep-order (those next in turn; the rest stay parked),
//  else all at once.
static void s_write_resumed_park (sink_t *self)
{
    for (sl_cjob_t *job = sl_collect_first (self->collect); job;
         job = sl_collect_next (self->collect)) {
        if (self->config->keep_order)
            s_write_ready (self, job);
        else
            s_write_all_parked (self, job, NULL);
    }
}

//  A sink stopping with results acknowledged early but held in memory only
//  (no park file) writes them out of order rather than lose them.
static void s_write_acked_parked (sink_t *self)
{
    if (self->park_path || !sl_collect_parked_acked (self->collect))
        return;
    sl_warn ("stopping with %llu results acknowledged but held back by --keep-order; writing "
             "them out of order so that none is lost",
             (unsigned long long) sl_collect_parked_acked (self->collect));
    for (sl_cjob_t *job = sl_collect_first (self->collect); job;
         job = sl_collect_next (self->collect)) {
        size_t n;
        sl_parked_t **all = sl_collect_take_parked (self->collect, job, &n);
        for (size_t i = 0; all && i < n; i++)
            if (!all [i]->acked || s_write_parked (self, job, all [i]))
                free (all [i]); //  the broker has it still, or out of memory
        free (all);
    }
}

static int s_attach (sink_t *self)
{
    char err [512];
    self->client = sl_client_new (self->config->broker, self->config->curve, err, sizeof err);
    if (!self->client) {
        sl_error ("%s", err);
        return -1;
    }
    self->delivery = sl_client_open_delivery (self->client, self->name, err, sizeof err);
    if (!self->delivery) {
        sl_error ("%s", err);
        return -1;
    }
    char *waiting [MAX_WAITING];
    Sluice__Hello hello;
    s_hello (self, &hello, waiting);
    sl_env_t *welcome = NULL;
    sl_hello_t said = sl_client_hello (self->client, &hello, self->config->connect_timeout_ms,
                                       &welcome, err, sizeof err);
    if (said != SL_HELLO_WELCOME) {
        if (said != SL_HELLO_INTERRUPTED)
            sl_error ("%s", err);
        return -1;
    }
    self->now = zclock_mono ();
    //  The clocks of --keep-order start now (the wait for the broker counts not).
    sl_collect_attached (self->collect, welcome->welcome, self->now);
    if (self->config->job)
        s_job (self, self->config->job);
    for (size_t i = 0; i < self->config->nmore_jobs; i++)
        s_job (self, self->config->more_jobs [i]);
    sl_proto_free (&welcome);
    s_update_hello (self);
    sl_info ("attached to the broker at %s", self->config->broker);
    return 0;
}

static void s_summary (sink_t *self)
{
    char list [MAX_FAILED_LISTED * 90] = "";
    size_t len = 0;
    bool one_job = sl_collect_size (self->collect) <= 1;
    for (size_t i = 0; i < self->nfailed_listed && len < sizeof list - 90; i++)
        len += (size_t) snprintf (list + len, sizeof list - len, "%s%s%s%llu", i ? " " : "",
                                  one_job ? "" : self->failed_jobs [i], one_job ? "" : "/",
                                  (unsigned long long) self->failed_seqs [i]);
    uint64_t bad = self->failed + self->timeout + self->cancelled;
    char cancelled [48] = "";
    if (self->cancelled)
        snprintf (cancelled, sizeof cancelled, ", %llu cancelled",
                  (unsigned long long) self->cancelled);
    fprintf (stderr, "sluice-sink: %llu results: %llu ok, %llu failed, %llu timed out%s%s%s%s\n",
             (unsigned long long) (self->ok + bad), (unsigned long long) self->ok,
             (unsigned long long) self->failed, (unsigned long long) self->timeout, cancelled,
             bad ? "; failed seqs: " : "", list, bad > MAX_FAILED_LISTED ? " ..." : "");
}

//  When the loop needs to wake up next.
static int64_t s_next_wake (sink_t *self)
{
    int64_t wake = sl_client_next_wake (self->client);
    if (self->retry_flush && self->retry_flush < wake)
        wake = self->retry_flush;
    if (self->progress && sl_progress_next (self->progress) < wake)
        wake = sl_progress_next (self->progress);
    if ((self->progress || self->config->keep_order) && self->next_poll < wake)
        wake = self->next_poll;
    return wake;
}

//  The park file of -o FILE --format jsonl, for --keep-order (NULL for
//  standard output or text: only JSON Lines carry the seq to resume by).
static char *s_park_path (const sink_config_t *config)
{
    if (!config->output || streq (config->output, "-") || config->format != SL_FORMAT_JSONL)
        return NULL;
    char *path = malloc (strlen (config->output) + sizeof PARK_SUFFIX);
    if (path)
        sprintf (path, "%s" PARK_SUFFIX, config->output);
    return path;
}

static bool s_want_progress (const sink_config_t *config)
{
    if (config->progress == SINK_PROGRESS_AUTO)
        return isatty (STDERR_FILENO);
    return config->progress == SINK_PROGRESS_ON;
}

//  The loop: until every job is done (not with --follow), an interrupt or
//  a refusal.
static void s_loop (sink_t *self)
{
    zpoller_t *poller = zpoller_new (sl_client_control (self->client), self->delivery, NULL);
    while (!zsys_interrupted && !self->refused) {
        self->now = zclock_mono ();
        sl_client_tick (self->client, self->now);
        if (sl_client_heartbeat_due (self->client, self->now))
            sl_client_heartbeat (self->client, NULL, self->now);
        int64_t wake = s_next_wake (self);
        void *which = zpoller_wait (poller, wake > self->now ? (int) (wake - self->now) : 0);
        self->now = zclock_mono ();
        if (which == sl_client_control (self->client))
            s_on_control (self);
        else if (which == self->delivery)
            s_on_delivery (self);
        if (sl_collect_hello_changed (self->collect))
            s_update_hello (self);
        if (self->progress || self->config->keep_order)
            s_poll (self);
        if (self->progress && self->now >= sl_progress_next (self->progress))
            s_draw (self, false);
        if (self->retry_flush && self->now < self->retry_flush)
            continue;
        self->retry_flush = 0;
        if (s_flush_and_ack (self, true) == 0 && !self->config->follow &&
            sl_collect_all_done (self->collect))
            break;
    }
    zpoller_destroy (&poller);
}

//  Set-up before the broker: the park file, --resume, the writer.
static int s_open (sink_t *self)
{
    const sink_config_t *config = self->config;
    char err [512];
    sl_collect_config_t cconfig = { .job = config->job,
                                    .more = config->more_jobs,
                                    .nmore = config->nmore_jobs,
                                    .keep_order = config->keep_order };
    self->collect = sl_collect_new (&cconfig);
    if (!self->collect) {
        sl_error ("out of memory");
        return -1;
    }
    self->park_path = s_park_path (config);
    if (self->park_path && !config->resume && unlink (self->park_path) == 0)
        sl_info ("removed %s, left by an earlier sink (not resuming)", self->park_path);
    if (config->resume && s_resume (self, err, sizeof err)) {
        sl_error ("%s", err);
        return -1;
    }
    self->writer = sl_writer_new (config->output, config->format, config->resume, err, sizeof err);
    if (!self->writer) {
        sl_error ("%s", err);
        return -1;
    }
    s_write_resumed_park (self);
    self->stdout_tty =
        !config->output || streq (config->output, "-") ? isatty (STDOUT_FILENO) : false;
    if (s_want_progress (config))
        self->progress = sl_progress_new (STDERR_FILENO, zclock_mono ());
    return 0;
}

//  Leaving: what is written is flushed and acknowledged, bye. Returns rc,
//  or -1 if a flush failed.
static int s_leave (sink_t *self, int rc)
{
    char err [512];
    if (self->client) {
        s_write_acked_parked (self);
        if (rc == 0)
            s_flush_and_ack (self, false);
        s_send_simple (self, SLUICE__ENVELOPE__BODY_BYE);
    }
    if (sl_writer_flush (self->writer, false, err, sizeof err)) {
        sl_error ("%s", err);
        rc = -1;
    }
    if (self->park && sl_writer_flush (self->park, false, err, sizeof err)) {
        sl_error ("%s", err);
        rc = -1;
    }
    if (sl_collect_parked_acked (self->collect) && self->park_path)
        sl_warn ("%llu results acknowledged ahead of their turn are kept in %s; run the sink "
                 "again with --resume to write them",
                 (unsigned long long) sl_collect_parked_acked (self->collect), self->park_path);
    return rc;
}

//  The closing logs and summary.
static void s_report (sink_t *self, int rc)
{
    if (self->progress) {
        self->now = zclock_mono ();
        s_draw (self, true);
        sl_progress_destroy (&self->progress);
    }
    if (sl_collect_duplicates (self->collect))
        sl_info ("%llu results delivered twice were written once",
                 (unsigned long long) sl_collect_duplicates (self->collect));
    if (sl_collect_late (self->collect) > 1)
        sl_warn ("%llu results came after the sink stopped waiting for them and were written "
                 "out of order",
                 (unsigned long long) sl_collect_late (self->collect));
    if (self->config->keep_order)
        sl_info ("--keep-order held back %llu results that came early, at most %zu at once",
                 (unsigned long long) sl_collect_held (self->collect),
                 sl_collect_held_max (self->collect));
    if (rc == 0)
        s_summary (self);
}

int sink_run (const sink_config_t *config)
{
    assert (config);
    sink_t self = { .config = config, .now = zclock_mono () };
    sl_self_name (self.name, sizeof self.name);
    //  A closed stdout pipe must be an error we report, not a silent death.
    signal (SIGPIPE, SIG_IGN);
    bool interrupted = false;
    int rc = s_open (&self);
    if (rc == 0) {
        rc = s_attach (&self);
        if (rc == 0)
            s_loop (&self);
        interrupted = zsys_interrupted;
        if (self.refused)
            rc = -1;
        rc = s_leave (&self, rc);
        s_report (&self, rc);
        sl_client_destroy (&self.client);
    }
    sl_progress_destroy (&self.progress);
    sl_writer_destroy (&self.park);
    sl_writer_destroy (&self.writer);
    free (self.park_path);
    sl_collect_destroy (&self.collect);
    if (rc)
        return SINK_EXIT_ERROR;
    if (interrupted)
        return SINK_EXIT_FAILED;
    return self.failed || self.timeout || self.cancelled || self.job_reported_failures
               ? SINK_EXIT_FAILED
               : SINK_EXIT_OK;
}
