/*  sluice-ventilator - submits a task file to the broker as one job.

    Reads the task file (one task per non-empty line; "-" is stdin), says
    hello to the broker, prints the job id, streams the tasks in batches over
    PUSH, ends the job with its total, and exits 0 only once the broker says
    it holds every task of the job.

    A regular file is checked from end to end before anything is sent, so a
    bad line (over --max-payload) stops the submission with nothing sent.

    What to send, and when to send it again, is the submit core's
    (lib/sl_submit.c, shared with libsluice): this file reads the input
    for each pass it asks for, uploads the attachments, and blocks on the
    sockets.
*/
#include <czmq.h>
#include <errno.h>
#include <stddef.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "sl_client.h"
#include "sl_config.h"
#include "sl_discover.h"
#include "sl_jsontask.h"
#include "sl_log.h"
#include "sl_proto.h"
#include "sl_taskfile.h"
#include "sl_start.h"
#include "sl_submit.h"
#include "sl_util.h"

#define PROG "sluice-ventilator"
#define DEFAULT_MAX_PAYLOAD (1024 * 1024)
#define QUERY_INTERVAL_MS 100
#define BLOCKED_TELL_MS 3000 //  a send blocked this long is explained
#define MAX_THEN 7           //  stages after the first, at most
#define MAX_ATTACH 8
#define ATTACH_PIECE (256 * 1024) //  bytes of an attachment per message
#define SEND_HWM 16               //  batches queued towards the broker, at most

typedef struct {
    const char *broker;                     //  --broker
    const char *path;                       //  task file, "-" for stdin
    char job [72];                          //  --job or generated
    uint64_t timeout_ms;                    //  --timeout, per task, 0 = none
    uint64_t connect_timeout_ms;            //  --connect-timeout
    uint64_t max_payload;                   //  --max-payload
    bool jsonl;                             //  --format jsonl: each line a JSON object
    char *queue;                            //  --queue: the named queue of the job, NULL = default
    char *then [MAX_THEN];                  //  --then: the queues of its next stages
    size_t nthen;                           //  how many
    Sluice__Attachment attach [MAX_ATTACH]; //  --attach: files shipped with the job
    Sluice__Attachment *attach_ptrs [MAX_ATTACH];
    char *attach_path [MAX_ATTACH]; //  their files
    char attach_name [MAX_ATTACH][65];
    char attach_hash [MAX_ATTACH][41];
    size_t nattach;
    uint64_t retries;        //  --retries
    FILE *spool;             //  copy of standard input, for sending parts again
    bool spool_writing;      //  the first pass over stdin is filling the spool
    uint8_t *spool_buf;      //  a task read back from the spool
    size_t spool_cap;        //  bytes at spool_buf
    sl_client_t *client;     //  control connection to the broker
    const char *resume_job;  //  --resume-failed: the finished job whose failures to redo
    uint64_t *resume_ranges; //  its seqs that did not end ok (first, last pairs)
    size_t resume_n;         //  ranges at resume_ranges
    uint64_t file_tasks;     //  tasks in the task file (regular files), 0 = not counted
} ventilator_t;

static sl_env_t *s_query (ventilator_t *self, sl_client_t *client, const char *job,
                          bool want_missing, bool peek, int64_t timeout_ms, char *err,
                          size_t errlen);

//  A send has been blocked for a while: the broker takes no more tasks for
//  now. Says why, once per stall: its memory limit (backpressure), or
//  silence.
static void s_tell_blocked (ventilator_t *self)
{
    char err [256];
    sl_env_t *reply = s_query (self, self->client, self->job, false, true, 2000, err, sizeof err);
    if (!reply)
        sl_warn ("the broker at %s does not answer; waiting for it (Ctrl-C to stop)", self->broker);
    else if (reply->job_state->throttled)
        sl_warn ("job %s: the broker is at its memory limit (--max-memory) with %llu tasks of "
                 "this job queued; sending more as workers and the sink catch up",
                 self->job, (unsigned long long) reply->job_state->queued);
    else
        sl_info ("job %s: the broker is slow to take tasks; waiting", self->job);
    sl_proto_free (&reply);
}

static const struct option s_options [] = {
    { "broker", required_argument, NULL, 'b' },
    { "job", required_argument, NULL, 'J' },
    { "timeout", required_argument, NULL, 't' },
    { "connect-timeout", required_argument, NULL, 'C' },
    SL_CURVE_OPTIONS,
    SL_DISCOVER_OPTION,
    SL_CONFIG_OPTION,
    { "max-payload", required_argument, NULL, 'M' },
    { "retries", required_argument, NULL, 'r' },
    { "format", required_argument, NULL, 'f' },
    { "resume-failed", required_argument, NULL, 'R' },
    { "queue", required_argument, NULL, 'Q' },
    { "then", required_argument, NULL, 'T' },
    { "attach", required_argument, NULL, 'A' },
    SL_COMMON_OPTIONS,
    { NULL, 0, NULL, 0 },
};

static void s_usage (FILE *out)
{
    fprintf (
        out,
        "Usage: " PROG " [OPTION]... FILE\n"
        "Submits FILE (one task per non-empty line; - reads standard input) to the broker\n"
        "as one job, prints the job id, and exits once the broker holds every task.\n"
        "\n"
        "  -b, --broker ENDPOINT       broker address (default " SL_DEFAULT_BROKER ")\n"
        "      --job ID                name the job (default: a random id); re-running with\n"
        "                              the same id adds no duplicate tasks\n"
        "  -t, --timeout SEC           time limit for each task (default: none); a task over\n"
        "                              it is killed (its whole process group) and ends\n"
        "                              'timeout'\n"
        "  -r, --retries N             run a task that failed or timed out again, up to N\n"
        "                              times (default 0); a task whose worker vanished is\n"
        "                              run again up to max(N, 3) times\n" SL_DISCOVER_HELP
        "      --connect-timeout SEC   how long to wait for the broker (default 30)\n" SL_CURVE_HELP
        "      --max-payload BYTES     longest task line accepted (default %d)\n" SL_CONFIG_HELP
        "  -Q, --queue NAME            submit the job to the named queue NAME (default:\n"
        "                              the queue named default): only workers serving it\n"
        "                              run its tasks\n"
        "      --attach [NAME=]FILE    ship FILE with the job (repeatable, at most 8): each\n"
        "                              worker fetches it once (cached by its SHA-1) and its\n"
        "                              commands see its path in $SLUICE_ATTACH_NAME and\n"
        "                              {attach:NAME}\n"
        "      --then QUEUE            a multi-stage job: each task that ends ok goes on,\n"
        "                              its output as its payload, to a task in QUEUE\n"
        "                              (repeatable, one per further stage, at most 7); the\n"
        "                              sink gets each task's last stage, or the one it\n"
        "                              failed in (\"stage\" in its record)\n"
        "      --resume-failed JOB     submit again, as a new job, only the tasks of FILE\n"
        "                              that did not end ok in the finished job JOB (like\n"
        "                              parallel --resume-failed); each carries its seq in\n"
        "                              JOB as its id, unless the JSONL line gives one\n"
        "  -f, --format FORMAT         text (default): each line is a task's payload;\n"
        "                              jsonl: each line is a JSON object with \"payload\"\n"
        "                              (a string) and optional \"id\" (echoed in the\n"
        "                              sink's records), \"timeout\" (seconds),\n"
        "                              \"retries\" and \"priority\" (higher runs first)\n"
        "  -v, --verbose               more log output\n"
        "  -q, --quiet                 less log output\n"
        "  -h, --help                  show this help and exit\n"
        "  -V, --version               show the version and exit\n"
        "\n"
        "Exit status: 0 when the broker holds the whole job, 1 on errors, 2 on usage errors.\n",
        DEFAULT_MAX_PAYLOAD);
}

//  Longest line the reader takes: a payload, or in JSONL its object (with
//  room for escapes: "\u0001" is 6 bytes for 1).
static size_t s_line_limit (ventilator_t *self)
{
    return self->jsonl ? 6 * self->max_payload + 4096 : self->max_payload;
}

//  One task of the input: its payload and, from JSONL, what the line says
//  besides. Returns 0, or -1 with err naming the line.
static int s_decode (ventilator_t *self, sl_taskfile_t *file, const uint8_t *line, size_t size,
                     sl_jsontask_t *task, char *err, size_t errlen)
{
    if (!self->jsonl) {
        memset (task, 0, sizeof *task);
        task->payload = (uint8_t *) line; //  borrowed: not cleared
        task->size = size;
        return 0;
    }
    char why [300];
    if (sl_jsontask_parse (line, size, task, why, sizeof why) == 0 &&
        task->size > self->max_payload) {
        snprintf (why, sizeof why, "payload of %zu bytes is over --max-payload %llu", task->size,
                  (unsigned long long) self->max_payload);
        sl_jsontask_clear (task);
    } else if (task->payload)
        return 0;
    if (file)
        snprintf (err, errlen, "%s:%zu: %s", sl_taskfile_name (file), sl_taskfile_lineno (file),
                  why);
    else
        snprintf (err, errlen, "stdin: %s", why);
    return -1;
}

//  Frees what s_decode allocated.
static void s_decoded_clear (ventilator_t *self, sl_jsontask_t *task)
{
    if (self->jsonl)
        sl_jsontask_clear (task);
}

//  Checks every line of a regular file, so that a bad line is found before
//  anything is sent. Returns 0, or -1 with err set.
static int s_prescan (ventilator_t *self, char *err, size_t errlen)
{
    struct stat st;
    if (streq (self->path, "-") || stat (self->path, &st) != 0 || !S_ISREG (st.st_mode))
        return 0; //  streamed input: checked as it is sent
    sl_taskfile_t *file = sl_taskfile_new (self->path, s_line_limit (self), err, errlen);
    if (!file)
        return -1;
    const uint8_t *data;
    size_t size;
    int rc;
    while ((rc = sl_taskfile_next (file, &data, &size, err, errlen)) == 1) {
        sl_jsontask_t task;
        if (s_decode (self, file, data, size, &task, err, errlen)) {
            rc = -1;
            break;
        }
        s_decoded_clear (self, &task);
        self->file_tasks++;
    }
    sl_taskfile_destroy (&file);
    return rc < 0 ? -1 : 0;
}

//  Sends frame (destroyed) on the PUSH socket, blocking (the broker's
//  backpressure) but waking up each second (its send timeout) to check for
//  SIGINT and to say why it waits. 0, or -1 if not sent.
static int s_send (ventilator_t *self, zsock_t *push, zframe_t *frame)
{
    int64_t since = zclock_mono ();
    bool told = false;
    int rc = -1;
    while (frame && !zsys_interrupted) {
        //  ZFRAME_REUSE: ZeroMQ shares the bytes (no copy) and we keep the
        //  frame for another try.
        if (zframe_send (&frame, push, ZFRAME_REUSE) == 0) {
            if (told)
                sl_info ("job %s: the broker takes tasks again", self->job);
            rc = 0;
            break;
        }
        if (errno != EAGAIN && errno != EINTR)
            break;
        if (!told && zclock_mono () - since >= BLOCKED_TELL_MS) {
            s_tell_blocked (self);
            told = true;
        }
    }
    zframe_destroy (&frame);
    return rc;
}

//  Reads the next task of a pass over the input: from the task file, or on
//  a later pass over standard input from the spool kept during the first.
//  Returns 1, 0 at the end, -1 with err.
static int s_next_task (ventilator_t *self, sl_taskfile_t *file, const uint8_t **data, size_t *size,
                        char *err, size_t errlen)
{
    if (file) {
        int rc = sl_taskfile_next (file, data, size, err, errlen);
        if (rc == 1 && self->spool_writing) {
            uint64_t len = *size;
            if (fwrite (&len, sizeof len, 1, self->spool) != 1 ||
                (len && fwrite (*data, len, 1, self->spool) != 1)) {
                snprintf (err, errlen, "cannot keep a copy of standard input in %s: %s", P_tmpdir,
                          strerror (errno));
                return -1;
            }
        }
        return rc;
    }
    uint64_t len;
    if (fread (&len, sizeof len, 1, self->spool) != 1)
        return 0;
    if (len > self->spool_cap) {
        uint8_t *buf = realloc (self->spool_buf, len);
        if (!buf) {
            snprintf (err, errlen, "out of memory");
            return -1;
        }
        self->spool_buf = buf;
        self->spool_cap = len;
    }
    if (len && fread (self->spool_buf, len, 1, self->spool) != 1) {
        snprintf (err, errlen, "cannot read back the copy of standard input");
        return -1;
    }
    *data = self->spool_buf;
    *size = len;
    return 1;
}

//  True if seq is in one of the ranges (first, last pairs, ascending);
//  *at remembers where the search got to (seqs come in order).
static bool s_wanted (const uint64_t *ranges, size_t nranges, size_t *at, uint64_t seq)
{
    while (*at < nranges && ranges [2 * *at + 1] < seq)
        (*at)++;
    return *at < nranges && ranges [2 * *at] <= seq;
}

//  Says how far the submission got before SIGINT (or a lost broker).
static int s_interrupted (ventilator_t *self, uint64_t seq, char *err, size_t errlen)
{
    snprintf (err, errlen,
              "interrupted after sending %llu tasks; job %s is incomplete "
              "(run the same command with --job %s to complete it)",
              (unsigned long long) seq, self->job, self->job);
    return -1;
}

//  Packs the task of this line (its seq in the job: seq; in the file:
//  line_seq) into the core's batch, and sends the batch once full.
//  Returns 0, or -1 with err set.
static int s_pack (ventilator_t *self, sl_submit_t *core, zsock_t *push, sl_taskfile_t *file,
                   const uint8_t *data, size_t size, uint64_t seq, uint64_t line_seq, char *err,
                   size_t errlen)
{
    sl_jsontask_t decoded;
    if (s_decode (self, file, data, size, &decoded, err, errlen))
        return -1;
    if (!decoded.id [0] && self->resume_job)
        //  Its seq in the job it failed in, so that results can be matched.
        snprintf (decoded.id, sizeof decoded.id, "%llu", (unsigned long long) line_seq);
    sl_submit_task_t task = {
        .seq = seq,
        .payload = decoded.payload,
        .size = decoded.size,
        .id = decoded.id,
        .has_timeout = decoded.has_timeout,
        .timeout_ms = decoded.timeout_ms,
        .has_retries = decoded.has_retries,
        .retries = decoded.retries,
        .has_priority = true,
        .priority = decoded.priority,
    };
    int full = sl_submit_add (core, &task);
    s_decoded_clear (self, &decoded);
    if (full < 0) {
        snprintf (err, errlen, "out of memory");
        return -1;
    }
    if (full && s_send (self, push, sl_submit_batch (core))) {
        return s_interrupted (self, seq, err, errlen);
    }
    return 0;
}

//  One pass over the input: sends the tasks the core wants, then the job's
//  end. Returns 0, or -1 with err set.
static int s_pass (ventilator_t *self, sl_submit_t *core, zsock_t *push, char *err, size_t errlen)
{
    sl_taskfile_t *file = NULL;
    if (!self->spool || self->spool_writing) {
        file = sl_taskfile_new (self->path, s_line_limit (self), err, errlen);
        if (!file)
            return -1;
    } else
        rewind (self->spool);
    uint64_t seq = 0, line_seq = 0, sent = 0;
    size_t resume_at = 0;
    int rc;
    const uint8_t *data;
    size_t size;
    while ((rc = s_next_task (self, file, &data, &size, err, errlen)) == 1) {
        //  --resume-failed: only the tasks that failed in that job.
        if (zsys_interrupted) {
            rc = s_interrupted (self, seq, err, errlen);
            break;
        }
        line_seq++;
        if (self->resume_job &&
            !s_wanted (self->resume_ranges, self->resume_n, &resume_at, line_seq))
            continue;
        if (!sl_submit_wanted (core, ++seq))
            continue;
        if ((rc = s_pack (self, core, push, file, data, size, seq, line_seq, err, errlen)))
            break;
        sent++;
    }
    sl_taskfile_destroy (&file);
    self->spool_writing = false;
    if (rc < 0)
        return -1;
    if (sl_submit_batched (core) && s_send (self, push, sl_submit_batch (core))) {
        return s_interrupted (self, seq, err, errlen);
    }
    if (s_send (self, push, sl_submit_pass_end (core, seq, sent, zclock_mono ()))) {
        snprintf (err, errlen, "interrupted before the job's end was sent");
        return -1;
    }
    return 0;
}

//  Asks the broker query (how much of a job it holds) and waits for the
//  answer (re-asking every QUERY_INTERVAL_MS), up to timeout_ms. Returns
//  the JobState envelope (caller frees), or NULL with err.
static sl_env_t *s_ask (ventilator_t *self, sl_client_t *client, Sluice__JobQuery *query,
                        int64_t timeout_ms, char *err, size_t errlen)
{
    const char *job = query->job;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_JOB_QUERY;
    env.job_query = query;
    zsock_t *control = sl_client_control (client);
    zpoller_t *poller = zpoller_new (control, NULL);
    int64_t start = zclock_mono ();
    int64_t answered = start; //  a standby's refusal counts: it moves the client
    sl_env_t *state = NULL;
    while (!state && !zsys_interrupted && zclock_mono () - start < timeout_ms) {
        sl_client_send (client, &env);
        if (!zpoller_wait (poller, QUERY_INTERVAL_MS)) {
            if (sl_client_silent (client, zclock_mono () - answered, zclock_mono ()))
                answered = zclock_mono (); //  another broker of --broker's list
            continue;
        }
        sl_env_t *reply = NULL;
        char why [256];
        bool consumed;
        while (sl_proto_recv (control, &reply, NULL, why, sizeof why) == SL_RECV_OK) {
            answered = zclock_mono ();
            if (!state && reply->body_case == SLUICE__ENVELOPE__BODY_JOB_STATE &&
                streq (reply->job_state->job, job))
                state = reply;
            else {
                sl_client_handle (client, reply, answered, &consumed);
                sl_proto_free (&reply);
            }
        }
    }
    zpoller_destroy (&poller);
    if (!state)
        snprintf (err, errlen,
                  zsys_interrupted ? "interrupted while waiting for the broker at %s"
                                   : "the broker at %s stopped answering",
                  self->broker);
    return state;
}

//  s_ask for a peek at job, or for its failed tasks (the --resume-failed
//  job).
static sl_env_t *s_query (ventilator_t *self, sl_client_t *client, const char *job,
                          bool want_missing, bool peek, int64_t timeout_ms, char *err,
                          size_t errlen)
{
    Sluice__JobQuery query = SLUICE__JOB_QUERY__INIT;
    query.job = (char *) job;
    query.want_missing = want_missing;
    query.want_failed = job != self->job; //  only asked of the --resume-failed job
    query.peek = peek;
    return s_ask (self, client, &query, timeout_ms, err, errlen);
}

//  Sends attachment i to the broker, in pieces, on the PUSH (ahead of the
//  tasks that need it). 0, or -1 with err.
static int s_upload (ventilator_t *self, zsock_t *push, size_t i, char *err, size_t errlen)
{
    FILE *file = fopen (self->attach_path [i], "rb");
    uint8_t *buffer = malloc (ATTACH_PIECE);
    int rc = 0;
    uint64_t offset = 0;
    if (!file || !buffer) {
        snprintf (err, errlen, "cannot read %s: %s", self->attach_path [i], strerror (errno));
        rc = -1;
    }
    while (rc == 0) {
        size_t got = fread (buffer, 1, ATTACH_PIECE, file);
        if (ferror (file) || offset + got > self->attach [i].size ||
            (got == 0 && offset < self->attach [i].size)) {
            snprintf (err, errlen, "%s changed while it was sent", self->attach_path [i]);
            rc = -1;
            break;
        }
        Sluice__AttachPut put = SLUICE__ATTACH_PUT__INIT;
        put.hash = self->attach [i].hash;
        put.offset = offset;
        put.total = self->attach [i].size;
        put.data.data = buffer;
        put.data.len = got;
        sl_env_t env = SLUICE__ENVELOPE__INIT;
        env.body_case = SLUICE__ENVELOPE__BODY_ATTACH_PUT;
        env.attach_put = &put;
        if (s_send (self, push, sl_proto_encode (&env))) {
            snprintf (err, errlen, "interrupted while sending %s", self->attach_path [i]);
            rc = -1;
            break;
        }
        offset += got;
        if (offset == self->attach [i].size)
            break;
    }
    if (rc == 0)
        sl_info ("attachment %s (%s, %llu bytes) sent", self->attach [i].name,
                 self->attach [i].hash, (unsigned long long) self->attach [i].size);
    if (file)
        fclose (file);
    free (buffer);
    return rc;
}

//  --attach [NAME=]FILE: names it (NAME, else the file's base name) and
//  hashes it. 0, or -1 with a message on stderr.
static int s_add_attachment (ventilator_t *self, char *arg)
{
    if (self->nattach == MAX_ATTACH) {
        fprintf (stderr, PROG ": --attach: at most %d attachments\n", MAX_ATTACH);
        return -1;
    }
    char *path = arg;
    char *eq = strchr (arg, '=');
    char name [65];
    if (eq && eq > arg && (size_t) (eq - arg) < sizeof name) {
        snprintf (name, sizeof name, "%.*s", (int) (eq - arg), arg);
        path = eq + 1;
    } else {
        const char *base = strrchr (arg, '/');
        snprintf (name, sizeof name, "%s", base ? base + 1 : arg);
    }
    if (!sl_job_id_valid (name)) {
        fprintf (stderr,
                 PROG ": --attach %s: '%s' is not a usable name (1-64 characters of A-Z a-z "
                      "0-9 . _ -); give one as NAME=FILE\n",
                 arg, name);
        return -1;
    }
    for (size_t i = 0; i < self->nattach; i++)
        if (streq (self->attach [i].name, name)) {
            fprintf (stderr, PROG ": --attach %s: two attachments named %s\n", arg, name);
            return -1;
        }
    char hash [41], err [300];
    uint64_t size;
    if (sl_file_sha1 (path, hash, &size, err, sizeof err)) {
        fprintf (stderr, PROG ": --attach: %s\n", err);
        return -1;
    }
    Sluice__Attachment init = SLUICE__ATTACHMENT__INIT;
    Sluice__Attachment *a = &self->attach [self->nattach];
    *a = init;
    a->name = strcpy (self->attach_name [self->nattach], name);
    a->hash = strcpy (self->attach_hash [self->nattach], hash);
    a->size = size;
    self->attach_path [self->nattach] = path;
    self->attach_ptrs [self->nattach] = a;
    self->nattach++;
    return 0;
}

//  --resume-failed JOB: asks the broker which tasks of JOB did not end ok.
//  Returns 1 if there are some (self->resume_ranges set), 0 if none, -1
//  with err.
static int s_resume_setup (ventilator_t *self, char *err, size_t errlen)
{
    sl_env_t *reply = s_query (self, self->client, self->resume_job, false, true,
                               (int64_t) self->connect_timeout_ms, err, errlen);
    if (!reply)
        return -1;
    Sluice__JobState *state = reply->job_state;
    int rc = -1;
    if (!state->known)
        snprintf (err, errlen,
                  "--resume-failed: the broker does not know job %s (it remembers finished "
                  "jobs for its --retention, 1 day by default)",
                  self->resume_job);
    else if (!state->finished && state->total && state->done == state->total)
        snprintf (err, errlen,
                  "--resume-failed: job %s is not finished: its results have not all reached a "
                  "sink yet",
                  self->resume_job);
    else if (!state->finished)
        snprintf (err, errlen,
                  "--resume-failed: job %s is not finished (%llu of %llu tasks done); wait for "
                  "it, or cancel it with sluice-ctl",
                  self->resume_job, (unsigned long long) state->done,
                  (unsigned long long) state->total);
    else if (state->failed_truncated)
        snprintf (err, errlen,
                  "--resume-failed: job %s failed in too many places for the broker to list; "
                  "pick the failed lines from the sink's output instead",
                  self->resume_job);
    else if (self->file_tasks && self->file_tasks != state->total)
        snprintf (err, errlen,
                  "--resume-failed: %s has %llu tasks but job %s had %llu: not the same task "
                  "file?",
                  self->path, (unsigned long long) self->file_tasks, self->resume_job,
                  (unsigned long long) state->total);
    else if (state->n_failed_seqs == 0)
        rc = 0;
    else if (!(self->resume_ranges = malloc (state->n_failed_seqs * sizeof (uint64_t))))
        snprintf (err, errlen, "out of memory");
    else {
        memcpy (self->resume_ranges, state->failed_seqs, state->n_failed_seqs * sizeof (uint64_t));
        self->resume_n = state->n_failed_seqs / 2;
        uint64_t count = 0;
        for (size_t i = 0; i < self->resume_n; i++)
            count += self->resume_ranges [2 * i + 1] - self->resume_ranges [2 * i] + 1;
        sl_info ("job %s: %llu of its %llu tasks did not end ok; submitting them as job %s",
                 self->resume_job, (unsigned long long) count, (unsigned long long) state->total,
                 self->job);
        rc = 1;
    }
    sl_proto_free (&reply);
    return rc;
}

//  Does what the core asks until the broker holds the job: queries,
//  uploads, passes. Returns its verdict, with err set if it failed.
static sl_submit_status_t s_drive (ventilator_t *self, sl_submit_t *core, sl_client_t *client,
                                   zsock_t *push, char *err, size_t errlen)
{
    int64_t timeout = (int64_t) self->connect_timeout_ms;
    int index;
    while (sl_submit_status (core) == SL_SUBMIT_RUNNING) {
        int64_t now = zclock_mono ();
        Sluice__JobQuery query;
        sl_env_t *reply = NULL;
        if ((index = sl_submit_upload_next (core)) >= 0) {
            if (s_upload (self, push, (size_t) index, err, errlen))
                return SL_SUBMIT_FAILED;
        } else if (sl_submit_passing (core)) {
            if (s_pass (self, core, push, err, errlen))
                return SL_SUBMIT_FAILED;
        } else if (sl_submit_query (core, now, &query)) {
            if (!(reply = s_ask (self, client, &query, timeout, err, errlen)))
                return SL_SUBMIT_FAILED;
            sl_submit_state (core, reply->job_state, zclock_mono ());
            sl_proto_free (&reply);
        } else
            zclock_sleep ((int) (sl_submit_next_wake (core) - now));
    }
    snprintf (err, errlen, "%s", sl_submit_error (core));
    return sl_submit_status (core);
}

//  Submits the job and waits until the broker holds every task durably,
//  sending again whatever it turns out to be missing (after a broker crash,
//  or when the same command is run again with --job). Returns 0 or -1.
static int s_submit (ventilator_t *self, sl_client_t *client, zsock_t *push, char *err,
                     size_t errlen)
{
    sl_submit_config_t config = {
        .job = self->job,
        .queue = self->queue,
        .then = self->then,
        .nthen = self->nthen,
        .attachments = self->attach_ptrs,
        .attach_paths = (const char *const *) self->attach_path,
        .nattach = self->nattach,
        .timeout_ms = (uint32_t) self->timeout_ms,
        .retries = (uint32_t) self->retries,
    };
    sl_submit_t *core = sl_submit_new (&config);
    if (!core) {
        snprintf (err, errlen, "out of memory");
        return -1;
    }
    sl_submit_status_t status = s_drive (self, core, client, push, err, errlen);
    if (status == SL_SUBMIT_FINISHED)
        sl_warn ("job %s is already finished (%llu tasks); nothing to send", self->job,
                 (unsigned long long) sl_submit_total (core));
    sl_submit_destroy (&core);
    return status == SL_SUBMIT_FAILED ? -1 : 0;
}

//  The options that take a number, declared: which field they set and
//  how (s: seconds, z: a size in bytes, n: a count), with their limits.
static const struct {
    int opt;
    const char *name;
    char kind;
    size_t field;      //  offsetof the uint64_t in ventilator_t
    uint64_t min, max; //  for sizes and counts; seconds: max in ms, 0 = none
} s_numbers [] = {
    { 't', "--timeout", 's', offsetof (ventilator_t, timeout_ms), 0, UINT32_MAX },
    { 'C', "--connect-timeout", 's', offsetof (ventilator_t, connect_timeout_ms), 0, 0 },
    { 'M', "--max-payload", 'z', offsetof (ventilator_t, max_payload), 1, 256 * 1024 * 1024 },
    { 'r', "--retries", 'n', offsetof (ventilator_t, retries), 0, 100 },
};

//  A numeric option: 0 if taken, 1 if not one, SL_EXIT_USAGE if bad.
static int s_number (ventilator_t *self, int opt, const char *arg)
{
    for (size_t i = 0; i < sizeof s_numbers / sizeof s_numbers [0]; i++) {
        if (s_numbers [i].opt != opt)
            continue;
        const char *name = s_numbers [i].name;
        uint64_t *field = (uint64_t *) ((char *) self + s_numbers [i].field);
        uint64_t min = s_numbers [i].min, max = s_numbers [i].max;
        int rc = s_numbers [i].kind == 's'   ? sl_parse_seconds (PROG, name, arg, field)
                 : s_numbers [i].kind == 'z' ? sl_parse_size (PROG, name, arg, min, max, field)
                                             : sl_parse_u64 (PROG, name, arg, min, max, field);
        if (rc == 0 && s_numbers [i].kind == 's' && max && *field > max) {
            fprintf (stderr, PROG ": %s: at most %llu seconds\n", name,
                     (unsigned long long) (max / 1000));
            rc = -1;
        }
        return rc ? SL_EXIT_USAGE : 0;
    }
    return 1;
}

//  arg must be a job id or queue name: else says so, naming the option.
static bool s_name_ok (const char *option, const char *arg, const char *what, bool hint)
{
    if (sl_job_id_valid (arg))
        return true;
    fprintf (stderr, PROG ": %s: '%s' is not a %s%s\n", option, arg, what,
             hint ? " (1-64 characters of A-Z a-z 0-9 . _ -)" : "");
    return false;
}

//  One of the ventilator's own options. 0, or SL_EXIT_USAGE.
static int s_option (ventilator_t *self, int opt, char *arg)
{
    int number = s_number (self, opt, arg);
    if (number != 1)
        return number;
    bool ok = true;
    if (opt == 'J' && (ok = s_name_ok ("--job", arg, "job id", true)))
        snprintf (self->job, sizeof self->job, "%s", arg);
    else if (opt == 'Q' && (ok = s_name_ok ("--queue", arg, "queue name", true)))
        self->queue = arg;
    else if (opt == 'R' && (ok = s_name_ok ("--resume-failed", arg, "job id", false)))
        self->resume_job = arg;
    else if (opt == 'A')
        ok = s_add_attachment (self, arg) == 0;
    else if (opt == 'T' && self->nthen == MAX_THEN) {
        fprintf (stderr, PROG ": --then: at most %d stages after the first\n", MAX_THEN);
        ok = false;
    } else if (opt == 'T' && (ok = s_name_ok ("--then", arg, "queue name", true)))
        self->then [self->nthen++] = arg;
    else if (opt == 'f' && (streq (arg, "jsonl") || streq (arg, "text")))
        self->jsonl = streq (arg, "jsonl");
    else if (opt == 'f') {
        fprintf (stderr, PROG ": --format: '%s' is not text or jsonl\n", arg);
        ok = false;
    } else if (!strchr ("JQRAT", opt))
        ok = false;
    return ok ? 0 : SL_EXIT_USAGE;
}

//  The command line. Returns -1 to go on, else the exit status.
static int s_parse (ventilator_t *self, sl_start_t *start, int argc, char *argv [])
{
    int opt;
    while ((opt = getopt_long (argc, argv, "b:t:r:f:Q:vqhV", s_options, NULL)) != -1) {
        int common = sl_start_option (start, opt, optarg, s_usage);
        if (common == SL_OPT_HANDLED)
            continue;
        if (common != SL_OPT_NOT_COMMON)
            return common;
        if (s_option (self, opt, optarg))
            return SL_EXIT_USAGE;
    }
    if (argc - optind != 1) {
        fprintf (stderr, PROG ": %s\nTry '" PROG " --help' for more information.\n",
                 optind < argc ? "give exactly one task file"
                               : "missing task file (use - for "
                                 "standard input)");
        return SL_EXIT_USAGE;
    }
    self->path = argv [optind];
    if (sl_start_check (start, SL_LOG_WARN))
        return SL_EXIT_USAGE;
    if (!self->job [0])
        sl_random_hex (self->job, sizeof self->job, 12);
    return -1;
}

//  Everything that can be checked locally is checked before the broker
//  hears anything; standard input gets its spool. 0, or -1 having said why.
static int s_prepare (ventilator_t *self)
{
    char err [1024];
    sl_taskfile_t *file = NULL;
    if (s_prescan (self, err, sizeof err) ||
        (!streq (self->path, "-") &&
         !(file = sl_taskfile_new (self->path, s_line_limit (self), err, sizeof err)))) {
        fprintf (stderr, PROG ": %s\n", err);
        return -1;
    }
    sl_taskfile_destroy (&file);
    if (streq (self->path, "-")) {
        //  Standard input can be read once: keep a copy in case the broker
        //  needs some of it again.
        self->spool = tmpfile ();
        if (!self->spool) {
            fprintf (stderr, PROG ": cannot create a temporary file in %s: %s\n", P_tmpdir,
                     strerror (errno));
            return -1;
        }
        self->spool_writing = true;
    }
    return 0;
}

//  The broker's limits, from its welcome: the file and the attachments
//  are checked against them before anything is sent. 0, or -1 having said
//  why.
static int s_check_limits (ventilator_t *self, const Sluice__Welcome *welcome)
{
    char err [1024];
    if (welcome->max_payload && welcome->max_payload < self->max_payload) {
        //  The broker takes no longer task than its own --max-payload.
        self->max_payload = welcome->max_payload;
        if (s_prescan (self, err, sizeof err)) {
            fprintf (stderr, PROG ": %s (the broker's --max-payload)\n", err);
            return -1;
        }
    }
    for (size_t i = 0; i < self->nattach; i++)
        if (welcome->max_attachment && self->attach [i].size > welcome->max_attachment) {
            fprintf (stderr,
                     PROG ": --attach %s: %llu bytes, over the broker's --max-attachment %llu\n",
                     self->attach_path [i], (unsigned long long) self->attach [i].size,
                     (unsigned long long) welcome->max_attachment);
            return -1;
        }
    return 0;
}

//  Says hello as the job's ventilator and checks the broker's limits.
//  Returns 0, or -1 having said why.
static int s_hello (ventilator_t *self, sl_client_t *client)
{
    char name [300], err [1024];
    sl_self_name (name, sizeof name);
    Sluice__Hello hello = SLUICE__HELLO__INIT;
    hello.role = SLUICE__ROLE__ROLE_VENTILATOR;
    hello.name = name;
    hello.job = self->job;
    //  The queues of every stage, for the broker to check.
    char *queues [1 + MAX_THEN];
    queues [0] = self->queue ? self->queue : "default";
    for (size_t i = 0; i < self->nthen; i++)
        queues [i + 1] = self->then [i];
    hello.queues = queues;
    hello.n_queues = 1 + self->nthen;
    sl_env_t *welcome = NULL;
    err [0] = '\0';
    sl_hello_t said = sl_client_hello (client, &hello, (int64_t) self->connect_timeout_ms,
                                       &welcome, err, sizeof err);
    int rc = said == SL_HELLO_WELCOME ? s_check_limits (self, welcome->welcome) : -1;
    if (said != SL_HELLO_WELCOME && err [0])
        fprintf (stderr, PROG ": %s\n", err);
    sl_proto_free (&welcome);
    return rc;
}

//  Submits over the intake (after --resume-failed's question). Returns
//  the exit status.
static int s_go (ventilator_t *self, sl_client_t *client)
{
    char err [1024];
    zsock_t *push = sl_client_open (client, SL_PORT_INTAKE, ZMQ_PUSH, 2000, err, sizeof err);
    if (!push) {
        fprintf (stderr, PROG ": %s\n", err);
        return 1;
    }
    //  Sends block while the broker takes no tasks (its backpressure);
    //  they wake up each second to check for Ctrl-C.
    zsock_set_sndtimeo (push, 1000);
    self->client = client;
    int resume = self->resume_job ? s_resume_setup (self, err, sizeof err) : 1;
    if (resume < 0) {
        fprintf (stderr, PROG ": %s\n", err);
        return 1;
    }
    if (resume == 0) {
        fprintf (stderr, PROG ": job %s had no failed tasks: nothing to submit\n",
                 self->resume_job);
        return 0;
    }
    printf ("%s\n", self->job);
    fflush (stdout);
    if (s_submit (self, client, push, err, sizeof err)) {
        fprintf (stderr, PROG ": %s\n", err);
        return 1;
    }
    return 0;
}

//  Connects to the broker (found first with --discover) and submits.
//  Returns the exit status.
static int s_connect (ventilator_t *self, sl_start_t *start)
{
    if (sl_start_discover (start, (int64_t) self->connect_timeout_ms))
        return 1;
    self->broker = start->broker;
    char err [1024];
    sl_client_t *client = sl_client_new (self->broker, &start->curve, err, sizeof err);
    if (!client) {
        fprintf (stderr, PROG ": %s\n", err);
        return SL_EXIT_USAGE;
    }
    //  Little queued at this end either: a paused broker stops the reading
    //  of the task file soon.
    sl_client_set_sndhwm (client, SEND_HWM);
    int rc = s_hello (self, client) ? 1 : s_go (self, client);
    sl_client_destroy (&client);
    return rc;
}

static int s_run (int argc, char *argv [])
{
    ventilator_t self = {
        .connect_timeout_ms = 30000,
        .max_payload = DEFAULT_MAX_PAYLOAD,
    };
    sl_start_t start;
    sl_start_init (&start, PROG, SL_DEFAULT_BROKER);
    int rc = s_parse (&self, &start, argc, argv);
    if (rc < 0)
        rc = s_prepare (&self) ? 1 : s_connect (&self, &start);
    free (self.resume_ranges);
    if (self.spool)
        fclose (self.spool);
    free (self.spool_buf);
    sl_start_clear (&start);
    return rc;
}

int main (int argc, char *argv [])
{
    return sl_config_main (PROG, "ventilator", s_options, argc, argv, s_run);
}
