/*  sink - the sluice sink's event loop, see sink.h.

    Results arrive on a PULL socket in batches. Each one is checked against
    the seqs already written for its job (a bitmap: a result delivered
    again after a reconnect is not written twice), formatted by the writer,
    and, once the writer has flushed them, acknowledged to the broker over
    the control socket. The broker forgets a result only when acknowledged,
    so a sink that dies loses nothing: the next sink gets what was not
    confirmed.
*/
#include "sink.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "sl_client.h"
#include "sl_log.h"
#include "sl_proto.h"
#include "sl_util.h"

#define MAX_FAILED_LISTED 20
#define READ_BURST 64
#define RETRY_FLUSH_MS 1000
#define MAX_WAITING 1000 //  jobs named in a hello

//  What the sink knows of one job.
typedef struct {
    char id [72];      //  job id
    uint8_t *seen;     //  bitmap of seqs written
    size_t seen_bytes; //  bytes in seen
    bool done;         //  the broker said every result was delivered
    uint64_t written;  //  results written
    zlistx_t *acks;    //  seqs written but not yet acknowledged (as uintptr)
} sjob_t;

typedef struct {
    const sink_config_t *config;
    char name [300];                          //  "host:pid"
    sl_client_t *client;                      //  control DEALER
    zsock_t *delivery;                        //  PULL from the broker's delivery port
    sl_writer_t *writer;                      //  the output
    zhashx_t *jobs;                           //  id -> sjob_t
    bool seen_job;                            //  some job was announced or delivered
    bool unflushed;                           //  results written to the writer, not yet flushed
    int64_t retry_flush;                      //  after a failed flush, when to try again
    bool refused;                             //  the broker refused us after a reconnect
    uint64_t ok, failed, timeout;             //  results written, by status
    uint64_t duplicates;                      //  results received twice and dropped
    uint64_t resumed;                         //  results found in the file by --resume
    uint64_t failed_seqs [MAX_FAILED_LISTED]; //  first failed or timed-out seqs
    char failed_jobs [MAX_FAILED_LISTED][72]; //  and their jobs
    size_t nfailed_listed;
    bool job_reported_failures; //  a JobDone counted failures we did not write ourselves
} sink_t;

static void s_sjob_free (void **item_p)
{
    sjob_t *job = (sjob_t *) *item_p;
    if (job) {
        free (job->seen);
        zlistx_destroy (&job->acks);
        free (job);
        *item_p = NULL;
    }
}

static void s_update_hello (sink_t *self);
static void s_note_failure (sink_t *self, const char *job, uint64_t seq);

static sjob_t *s_job (sink_t *self, const char *id)
{
    sjob_t *job = (sjob_t *) zhashx_lookup (self->jobs, id);
    if (!job) {
        job = calloc (1, sizeof *job);
        if (!job)
            return NULL;
        snprintf (job->id, sizeof job->id, "%s", id);
        job->acks = zlistx_new ();
        zhashx_insert (self->jobs, id, job);
        self->seen_job = true;
        s_update_hello (self);
    }
    return job;
}

//  True if every job the sink waits for is done.
static bool s_all_done (sink_t *self)
{
    if (!self->seen_job)
        return false;
    for (sjob_t *job = (sjob_t *) zhashx_first (self->jobs); job;
         job = (sjob_t *) zhashx_next (self->jobs))
        if (!job->done)
            return false;
    return true;
}

//  Marks seq as written in job's bitmap. Returns false if it already was.
static bool s_mark_seen (sjob_t *job, uint64_t seq)
{
    size_t byte = (size_t) (seq / 8);
    if (byte >= job->seen_bytes) {
        size_t size = job->seen_bytes ? job->seen_bytes : 1024;
        while (size <= byte)
            size *= 2;
        uint8_t *seen = realloc (job->seen, size);
        if (!seen)
            return true; //  cannot track: write it (a duplicate beats a loss)
        memset (seen + job->seen_bytes, 0, size - job->seen_bytes);
        job->seen = seen;
        job->seen_bytes = size;
    }
    uint8_t bit = (uint8_t) (1u << (seq % 8));
    if (job->seen [byte] & bit)
        return false;
    job->seen [byte] |= bit;
    return true;
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
        default:
            return "unknown";
    }
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

static void s_on_results (sink_t *self, Sluice__ResultBatch *batch)
{
    if (self->config->job && !streq (batch->job, self->config->job)) {
        sl_warn_dropped ("dropped results of job %s (collecting %s only)", batch->job,
                         self->config->job);
        return;
    }
    sjob_t *job = s_job (self, batch->job);
    if (!job)
        return;
    for (size_t i = 0; i < batch->n_results; i++) {
        Sluice__Result *r = batch->results [i];
        if (r->seq == 0 || r->seq > (1ULL << 32)) {
            sl_warn_dropped ("dropped a result with seq %llu out of range",
                             (unsigned long long) r->seq);
            continue;
        }
        if (!s_mark_seen (job, r->seq)) {
            self->duplicates++;
            zlistx_add_end (job->acks, (void *) (uintptr_t) r->seq); //  confirm it again
            continue;
        }
        sl_record_t rec = {
            .job = batch->job,
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
        };
        char err [512];
        if (sl_writer_put (self->writer, &rec, err, sizeof err)) {
            //  Unformattable (should not happen): not acknowledged, so the
            //  broker keeps it; forget that we saw it.
            sl_error ("result %s/%llu: %s", batch->job, (unsigned long long) r->seq, err);
            if (r->seq / 8 < job->seen_bytes)
                job->seen [r->seq / 8] &= (uint8_t) ~(1u << (r->seq % 8));
            continue;
        }
        if (r->status == SLUICE__STATUS__STATUS_OK)
            self->ok++;
        else {
            if (r->status == SLUICE__STATUS__STATUS_TIMEOUT)
                self->timeout++;
            else
                self->failed++;
            s_note_failure (self, batch->job, r->seq);
        }
        job->written++;
        zlistx_add_end (job->acks, (void *) (uintptr_t) r->seq);
        self->unflushed = true;
    }
}

//  Flushes the writer, then acknowledges everything written. On a write
//  error nothing is acknowledged: the broker keeps those results.
static int s_flush_and_ack (sink_t *self)
{
    if (self->unflushed) {
        char err [512];
        if (sl_writer_flush (self->writer, false, err, sizeof err)) {
            sl_error ("%s; results are kept by the broker, retrying", err);
            self->retry_flush = zclock_mono () + RETRY_FLUSH_MS;
            return -1;
        }
        self->unflushed = false;
    }
    for (sjob_t *job = (sjob_t *) zhashx_first (self->jobs); job;
         job = (sjob_t *) zhashx_next (self->jobs)) {
        size_t n = zlistx_size (job->acks);
        if (n == 0)
            continue;
        uint64_t *seqs = malloc (n * sizeof *seqs);
        if (!seqs)
            return -1;
        size_t k = 0;
        for (void *seq = zlistx_first (job->acks); seq; seq = zlistx_next (job->acks))
            seqs [k++] = (uint64_t) (uintptr_t) seq;
        Sluice__Ack ack = SLUICE__ACK__INIT;
        ack.job = job->id;
        ack.seqs = seqs;
        ack.n_seqs = n;
        sl_env_t env = SLUICE__ENVELOPE__INIT;
        env.body_case = SLUICE__ENVELOPE__BODY_ACK;
        env.ack = &ack;
        //  If the broker is away the ack is lost; the broker then delivers
        //  those results again and the bitmap drops them (and re-acks).
        sl_client_send (self->client, &env);
        free (seqs);
        zlistx_purge (job->acks);
    }
    return 0;
}

static void s_on_job_done (sink_t *self, Sluice__JobDone *done)
{
    if (self->config->job && !streq (done->job, self->config->job))
        return;
    sjob_t *job = s_job (self, done->job);
    if (!job)
        return;
    job->done = true;
    s_update_hello (self);
    if (done->forgotten) {
        sl_warn ("the broker does not know job %s (finished longer ago than its --retention?)",
                 done->job);
        return;
    }
    if ((done->failed || done->timeout) && !job->written)
        self->job_reported_failures = true;
    sl_info ("job %s done: %llu tasks, %llu ok, %llu failed, %llu timed out", done->job,
             (unsigned long long) done->total, (unsigned long long) done->ok,
             (unsigned long long) done->failed, (unsigned long long) done->timeout);
}

static void s_on_delivery (sink_t *self)
{
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
                if (!self->config->job || streq (env->job_start->job, self->config->job))
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

static void s_on_control (sink_t *self)
{
    sl_env_t *env = NULL;
    char why [256];
    sl_recv_t rc;
    int64_t now = zclock_mono ();
    while ((rc = sl_proto_recv (sl_client_control (self->client), &env, NULL, why, sizeof why)) !=
           SL_RECV_NONE) {
        if (rc != SL_RECV_OK) {
            sl_warn_dropped ("dropped a bad message from the broker: %s", why);
            continue;
        }
        bool consumed;
        sl_link_t link = sl_client_handle (self->client, env, now, &consumed);
        if (link == SL_LINK_BACK || link == SL_LINK_RESTARTED) {
            //  Attached again: the welcome lists the jobs to wait for.
            for (size_t i = 0; i < env->welcome->n_jobs; i++)
                if (!self->config->job || streq (env->welcome->jobs [i], self->config->job))
                    s_job (self, env->welcome->jobs [i]);
        } else if (link == SL_LINK_REFUSED)
            self->refused = true;
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
    hello->follow = self->config->follow;
    hello->from_start = self->config->from_start;
    size_t n = 0;
    for (sjob_t *job = (sjob_t *) zhashx_first (self->jobs); job && n < MAX_WAITING;
         job = (sjob_t *) zhashx_next (self->jobs))
        if (!job->done)
            waiting [n++] = job->id;
    hello->waiting = waiting;
    hello->n_waiting = n;
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

//  --resume: reads the results already in the output file, marks their
//  seqs as written (so none is written twice) and counts them; a torn last
//  line, left by a crash in the middle of a write, is cut off. Returns 0, or
//  -1 with err.
static int s_resume (sink_t *self, char *err, size_t errlen)
{
    const char *path = self->config->output;
    FILE *file = fopen (path, "r+");
    if (!file) {
        if (errno == ENOENT)
            return 0; //  nothing yet: start it
        snprintf (err, errlen, "cannot open %s to resume: %s", path, strerror (errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t len;
    off_t good = 0;
    int rc = 0;
    while ((len = getline (&line, &cap, file)) > 0) {
        lineno++;
        if (line [len - 1] != '\n')
            break; //  torn: cut below
        json_error_t jerr;
        json_t *rec = json_loadb (line, (size_t) len, 0, &jerr);
        const char *job = rec ? json_string_value (json_object_get (rec, "job")) : NULL;
        json_int_t seq = rec ? json_integer_value (json_object_get (rec, "seq")) : 0;
        const char *status = rec ? json_string_value (json_object_get (rec, "status")) : NULL;
        if (!job || seq < 1 || !status) {
            snprintf (err, errlen,
                      "%s:%zu is not a sluice JSONL result; cannot resume this file (give "
                      "another -o, or --from-start without --resume)",
                      path, lineno);
            json_decref (rec);
            rc = -1;
            break;
        }
        sjob_t *sjob = s_job (self, job);
        if (sjob && s_mark_seen (sjob, (uint64_t) seq)) {
            sjob->written++;
            self->resumed++;
            if (streq (status, "ok"))
                self->ok++;
            else {
                if (streq (status, "timeout"))
                    self->timeout++;
                else
                    self->failed++;
                s_note_failure (self, job, (uint64_t) seq);
            }
        }
        json_decref (rec);
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
    fclose (file);
    if (rc == 0 && self->resumed)
        sl_info ("resuming %s: %llu results already written", path,
                 (unsigned long long) self->resumed);
    return rc;
}

static int s_attach (sink_t *self)
{
    char err [512];
    self->client = sl_client_new (self->config->broker, self->config->curve, err, sizeof err);
    if (!self->client) {
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
    for (size_t i = 0; i < welcome->welcome->n_jobs; i++)
        s_job (self, welcome->welcome->jobs [i]);
    if (self->config->job)
        s_job (self, self->config->job);
    sl_proto_free (&welcome);
    s_update_hello (self);
    self->delivery = sl_client_open (self->client, SL_PORT_DELIVERY, ZMQ_PULL, 0, err, sizeof err);
    if (!self->delivery) {
        sl_error ("%s", err);
        return -1;
    }
    sl_info ("attached to the broker at %s", self->config->broker);
    return 0;
}

static void s_summary (sink_t *self)
{
    char list [MAX_FAILED_LISTED * 90] = "";
    size_t len = 0;
    bool one_job = zhashx_size (self->jobs) <= 1;
    for (size_t i = 0; i < self->nfailed_listed && len < sizeof list - 90; i++)
        len += (size_t) snprintf (list + len, sizeof list - len, "%s%s%s%llu", i ? " " : "",
                                  one_job ? "" : self->failed_jobs [i], one_job ? "" : "/",
                                  (unsigned long long) self->failed_seqs [i]);
    uint64_t bad = self->failed + self->timeout;
    fprintf (stderr, "sluice-sink: %llu results: %llu ok, %llu failed, %llu timed out%s%s%s\n",
             (unsigned long long) (self->ok + bad), (unsigned long long) self->ok,
             (unsigned long long) self->failed, (unsigned long long) self->timeout,
             bad ? "; failed seqs: " : "", list, bad > MAX_FAILED_LISTED ? " ..." : "");
}

int sink_run (const sink_config_t *config)
{
    assert (config);
    sink_t self = { .config = config };
    sl_self_name (self.name, sizeof self.name);
    //  A closed stdout pipe must be an error we report, not a silent death.
    signal (SIGPIPE, SIG_IGN);
    char err [512];
    self.jobs = zhashx_new ();
    zhashx_set_destructor (self.jobs, s_sjob_free);
    if (config->resume && s_resume (&self, err, sizeof err)) {
        sl_error ("%s", err);
        zhashx_destroy (&self.jobs);
        return SINK_EXIT_ERROR;
    }
    self.writer = sl_writer_new (config->output, config->format, config->resume, err, sizeof err);
    if (!self.writer) {
        sl_error ("%s", err);
        zhashx_destroy (&self.jobs);
        return SINK_EXIT_ERROR;
    }
    int rc = s_attach (&self);
    zpoller_t *poller =
        rc ? NULL : zpoller_new (sl_client_control (self.client), self.delivery, NULL);
    while (rc == 0 && !zsys_interrupted && !self.refused) {
        int64_t now = zclock_mono ();
        sl_client_tick (self.client, now);
        if (sl_client_heartbeat_due (self.client, now))
            sl_client_heartbeat (self.client, NULL, now);
        int64_t wake = sl_client_next_wake (self.client);
        if (self.retry_flush && self.retry_flush < wake)
            wake = self.retry_flush;
        void *which = zpoller_wait (poller, wake > now ? (int) (wake - now) : 0);
        if (which == sl_client_control (self.client))
            s_on_control (&self);
        else if (which == self.delivery)
            s_on_delivery (&self);
        if (self.retry_flush && zclock_mono () < self.retry_flush)
            continue;
        self.retry_flush = 0;
        if (s_flush_and_ack (&self) == 0 && !config->follow && s_all_done (&self))
            break;
    }
    bool interrupted = zsys_interrupted;
    if (self.refused)
        rc = -1;
    if (self.client) {
        if (rc == 0)
            s_flush_and_ack (&self);
        s_send_simple (&self, SLUICE__ENVELOPE__BODY_BYE);
    }
    zpoller_destroy (&poller);
    if (sl_writer_flush (self.writer, false, err, sizeof err)) {
        sl_error ("%s", err);
        rc = -1;
    }
    sl_writer_destroy (&self.writer);
    sl_client_destroy (&self.client);
    if (self.duplicates)
        sl_info ("%llu results delivered twice were written once",
                 (unsigned long long) self.duplicates);
    if (rc == 0)
        s_summary (&self);
    zhashx_destroy (&self.jobs);
    if (rc)
        return SINK_EXIT_ERROR;
    if (interrupted)
        return SINK_EXIT_FAILED;
    return self.failed || self.timeout || self.job_reported_failures ? SINK_EXIT_FAILED
                                                                     : SINK_EXIT_OK;
}
