/*  broker - the sluice broker's event loop, see broker.h.

    One thread, one zmq_poll loop. zloop is not used because the loop needs
    ZMQ_POLLOUT on the dispatch and delivery sockets: the broker sends only
    while a socket can take a message without blocking, and otherwise keeps
    the work in its table (that is the back-pressure: a slow sink or slow
    workers make the table grow, never the broker block).
*/
#include "broker.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admit.h"
#include "attach.h"
#include "checkpoint.h"
#include "dashboard.h"
#include "durable.h"
#include "failures.h"
#include "fair.h"
#include "finished.h"
#include "history.h"
#include "http.h"
#include "metrics.h"
#include "outbox.h"
#include "peers.h"
#include "sl_curve.h"
#include "sl_endpoint.h"
#include "sl_keys.h"
#include "sl_log.h"
#include "sl_proto.h"
#include "sl_status_json.h"
#include "sl_util.h"
#include "status.h"
#include "table.h"

#define READ_BURST 256        //  messages read from one socket per loop turn
#define MAX_BATCH_TASKS 64    //  tasks in one TaskBatch to a worker
#define MAX_BATCH_RESULTS 256 //  results in one ResultBatch to the sink
#define MAX_BATCH_BYTES (1 << 20)
#define GRACE_BEATS 2                //  after a restart: heartbeats to wait for workers' claims
#define ACK_TIMEOUT_BEATS 10         //  heartbeats without an ack before unacked results go again
#define FINISHED_MEMORY 1000         //  finished jobs remembered for late queries
#define BATCH_COMMIT_MS 10           //  --fsync batch: longest a record waits for its fsync
#define BATCH_COMMIT_BYTES (1 << 20) //  --fsync batch: commit early past this much
#define MAX_MISSING_RANGES 1024      //  ranges of missing seqs in one JobState
#define WORKER_REPORT_MS 30000       //  how often the workers' capacity is logged
#define INTAKE_SLACK (1 << 20)       //  a ventilator's batch: up to 256 KiB + one task, framed
#define RESULTS_MAX_BYTES (40 << 20) //  a worker's result batch: one 32 MiB output at most
#define CONTROL_MAX_BYTES (4 << 20)  //  hellos, heartbeats, acks, credits
#define INTAKE_HWM 16                //  ventilators' batches buffered at the broker, at most
#define RESULTS_HWM 32               //  result batches buffered per worker connection, at most
#define RESUME_FRACTION 8            //  intake resumes below 7/8 of --max-memory
#define RATE_SAMPLES 11              //  results counted each second, for the rate over 10 s
#define MAX_FILL_SEQS 1000000        //  cancel: absent seqs it fills in, at most
#define MAX_FAILED_RANGES 1024       //  ranges of failed seqs remembered per finished job
#define MAX_WORKER_QUEUES SL_FAIR_MAX_QUEUES //  named queues one worker may serve
#define PUSH_SNDHWM 2                        //  --dispatch push: batches buffered per worker
#define INSECURE_WARNING_MS (3600 * 1000)    //  --insecure: the warning again every hour
#define FAILURES_PER_JOB 10000               //  failed tasks kept per job for the dashboard
#define FAILURES_MAX_BYTES (64ULL << 20)     //  failed tasks kept in all, at most (bytes)
#define FAILURES_MEMORY_SHARE 16             //  ... and at most this fraction of --max-memory
#define STATUS_CACHE_MS 200 //  GET /api/status within this long of another gets the same body

struct _broker_t {
    broker_config_t config;             //  copy of what main gave
    char broker_id [24];                //  random, new at each start
    zsock_t *control;                   //  ROUTER: hellos, heartbeats, acks, queries
    zsock_t *intake;                    //  PULL from ventilators
    zsock_t *dispatch;                  //  PUSH to workers
    zsock_t *results;                   //  PULL from workers
    zsock_t *delivery;                  //  PUSH to the sink
    sl_table_t *table;                  //  every task's state
    sl_peers_t *peers;                  //  the workers and sinks that said hello (peers.h)
    sl_fair_t *fair;                    //  fair dispatch: which worker gets tasks next
    uint64_t worker_slots;              //  slots of every worker
    broker_counters_t count;            //  what it counted since it started (metrics.h)
    sl_peer_t *sink;                    //  the attached sink, or NULL
    zlistx_t *job_starts;               //  job ids to announce to the sink (owned strings)
    bool check_finished;                //  something happened that may finish a job
    sl_finished_t *finished;            //  finished jobs remembered (finished.h)
    sl_ratelimit_t bad_log;             //  rate limit for logging them
    sl_ratelimit_t event_log;           //  rate limit for logging peers and jobs coming and going
    sl_ratelimit_t throttle_log;        //  rate limit for logging intake pauses
    int64_t grace_until;                //  after a restart: no dispatch before (ms), so that
                                        //  workers can claim the runs they still run
    int64_t unclaimed_lease_ms;         //  how long a dispatched task may go unclaimed
    int64_t max_worker_heartbeat_ms;    //  longest heartbeat interval of any worker seen
    sl_journal_t *journal;              //  write-ahead journal, NULL with --in-memory
    zcert_t *cert;                      //  CurveZMQ: the broker's certificate, or NULL
    zactor_t *auth;                     //  CurveZMQ: the ZAP handler (admit.h)
    zcertstore_t *admitted;             //  CurveZMQ: --curve-clients, re-read when it changes
    char token_key [41];                //  join token: the client key admitted, "" = none
    char token [SL_TOKEN_SIZE];         //  join token: the token (the HTTP bearer), "" = none
    struct stat keys_stat;              //  join token: the keys file as last read
    int64_t next_insecure_warning;      //  --insecure: when to warn again (ms)
    int64_t dirty_since;                //  when the oldest uncommitted record was appended (ms)
    uint64_t checkpoint_size;           //  bytes of the last checkpoint (checkpoint.h)
    bool checkpointing;                 //  writing one: no other rotation meanwhile
    bool journal_failed;                //  the journal cannot be written: no task is accepted
    char journal_error [512];           //  why
    int64_t journal_retry;              //  when to try committing again (ms)
    bool fenced;                        //  another broker wrote to the journal: stop serving
    int64_t rotate_retry;               //  when to try a failed segment rotation again (ms), or 0
    sl_outbox_t *answers;               //  control replies waiting for their records (outbox.h)
    sl_outbox_t *notices;               //  JobDone to the sink waiting for their records
    int64_t next_housekeeping;          //  when to expire silent peers next (ms)
    int64_t next_report;                //  when to log the workers' capacity next (ms)
    int64_t last_ack;                   //  when the sink last acknowledged results (ms)
    bool throttled;                     //  at --max-memory: intake paused
    int64_t started_at;                 //  when this broker started (ms, monotonic)
    uint64_t rate_count [RATE_SAMPLES]; //  results_in sampled once a second
    int64_t rate_time [RATE_SAMPLES];   //  when each sample was taken (ms)
    size_t rate_samples;                //  samples taken, up to RATE_SAMPLES
    size_t rate_next;                   //  next sample to overwrite
    int64_t next_rate_sample;           //  when (ms)
    zhashx_t *job_times;                //  job id -> when it started here (int64_t ms, owned)
    http_t *metrics;                    //  --http (--metrics) HTTP server, or NULL
    history_t *history;                 //  a sample a second for the dashboard's charts
    failures_t *failures;               //  failed tasks kept for the dashboard's job pages
    char *status_body;                  //  the last /api/status body (owned), or NULL
    int64_t status_body_at;             //  when it was rendered (ms, monotonic)
    char attach_dir [3072];             //  where attachments are kept
    bool attach_temporary;              //  attach_dir goes with the broker (--in-memory)
    sl_attach_store_t *attach;          //  the attachments in attach_dir
};

static int s_journal_open (broker_t *self, char *err, size_t errlen);
static void s_on_command (broker_t *self, zframe_t *routing_id, Sluice__Command *command);
static int s_attach_setup (broker_t *self, char *err, size_t errlen);
static void s_attach_cleanup (broker_t *self);
static void s_on_attach_get (broker_t *self, zframe_t *routing_id, sl_peer_t *peer,
                             Sluice__AttachGet *get);
static char *s_render_http (void *arg, const char *path, const char *query, int *status,
                            const char **content_type);

static void s_free_item (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

//  czmq's certificate store aborts on two files with the same public key
//  (zcertstore_insert asserts): find them first and say which. Returns 0,
//  or -1 with err naming both files.
static int s_curve_duplicates (const char *dir, char *err, size_t errlen)
{
    zdir_t *files = zdir_new (dir, "-");
    if (!files)
        return 0;
    zhashx_t *seen = zhashx_new (); //  public key -> file name (owned)
    zhashx_set_destructor (seen, s_free_item);
    zhashx_set_duplicator (seen, (zhashx_duplicator_fn *) strdup);
    int rc = 0;
    zfile_t **list = zdir_flatten (files);
    for (size_t i = 0; list && list [i] && rc == 0; i++) {
        const char *path = zfile_filename (list [i], NULL);
        size_t len = strlen (path);
        if (len >= 7 && streq (path + len - 7, "_secret"))
            continue; //  the store reads public files only
        zcert_t *cert = zcert_load (path);
        if (!cert)
            continue;
        const char *other = (const char *) zhashx_lookup (seen, zcert_public_txt (cert));
        if (other) {
            snprintf (err, errlen,
                      "--curve-clients %s: %s and %s hold the same public key; remove one", dir,
                      other, path);
            rc = -1;
        } else
            zhashx_insert (seen, zcert_public_txt (cert), (void *) path);
        zcert_destroy (&cert);
    }
    zdir_flatten_free (&list);
    zhashx_destroy (&seen);
    zdir_destroy (&files);
    return rc;
}

//  The join token: the broker's key pair and the cluster client's from the
//  keys file, made the first time. A new file logs the line to copy.
static int s_token_setup (broker_t *self, char *err, size_t errlen)
{
    sl_keys_t keys;
    bool created;
    //  The file's identity before it is read: a rotation in between is
    //  seen as a change at the first check, never missed.
    if (stat (self->config.keys_file, &self->keys_stat) != 0)
        memset (&self->keys_stat, 0, sizeof self->keys_stat);
    if (sl_keys_open (self->config.keys_file, &keys, &created, err, errlen))
        return -1;
    byte public_key [32], secret_key [32];
    zmq_z85_decode (public_key, keys.broker_public);
    zmq_z85_decode (secret_key, keys.broker_secret);
    self->cert = zcert_new_from (public_key, secret_key);
    memset (secret_key, 0, sizeof secret_key);
    if (!self->cert) {
        snprintf (err, errlen, "cannot use the keys in %s", self->config.keys_file);
        return -1;
    }
    snprintf (self->token_key, sizeof self->token_key, "%s", keys.client_public);
    sl_keys_token (&keys, self->token);
    const char *token = self->token;
    if (created) {
        //  Clients are given the address they reach the broker by: a
        //  wildcard bind gets this host's name.
        char host [256];
        const char *bind = self->config.bind + 6;
        const char *colon = strrchr (bind, ':');
        snprintf (host, sizeof host, "%.*s", (int) (colon - bind), bind);
        if (streq (host, "*") || streq (host, "0.0.0.0") || streq (host, "[::]")) {
            char *name = zsys_hostname ();
            snprintf (host, sizeof host, "%s", name ? name : "HOST");
            zstr_free (&name);
        }
        sl_info ("made the join keys %s; on each client host run:", self->config.keys_file);
        sl_info ("sluice-worker --broker tcp://%s:%s --token %s", host, colon + 1, token);
        sl_info ("(the token is a secret: whoever holds it may act as any client)");
    } else
        sl_info ("join keys from %s; `sluice-ctl token` prints the join token",
                 self->config.keys_file);
    memset (&keys, 0, sizeof keys);
    return 0;
}

//  CurveZMQ: the broker's certificate (--curve-secret, or the join keys)
//  and the ZAP handler admitting clients: the join token's, those whose
//  public certificates are in --curve-clients (re-read when it changes),
//  or, with --curve-secret alone, any client.
static int s_curve_setup (broker_t *self, char *err, size_t errlen)
{
    if (self->config.keys_file
            ? s_token_setup (self, err, errlen) != 0
            : !(self->cert = sl_curve_load (self->config.curve_secret, true, err, errlen)))
        return -1;
    const char *dir = self->config.curve_clients;
    if (dir) {
        struct stat st;
        if (stat (dir, &st) != 0 || !S_ISDIR (st.st_mode)) {
            snprintf (err, errlen, "--curve-clients %s is not a directory", dir);
            return -1;
        }
        if (s_curve_duplicates (dir, err, errlen))
            return -1;
        self->admitted = zcertstore_new (dir);
    }
    admit_config_t admit = { self->token_key [0] ? self->token_key : NULL, dir };
    if (!(self->auth = admit_new (&admit, err, errlen)))
        return -1;
    sl_info ("CurveZMQ on every port, broker key %s; admitting %s%s%s",
             zcert_public_txt (self->cert), self->token_key [0] ? "the join token's clients" : "",
             self->token_key [0] && dir ? " and " : "",
             dir                   ? "the clients in "
             : self->token_key [0] ? ""
                                   : "any client");
    if (dir)
        sl_info ("(--curve-clients %s)", dir);
    return 0;
}

//  True if the client with this key may still talk to us: the join
//  token's (not rotated since), or still in --curve-clients (a revoked
//  client is cut off at once).
static bool s_admitted (broker_t *self, const char *key)
{
    return !key [0] || !self->auth || admit_allows (self->token_key, self->admitted, key);
}

//  With a join token, the HTTP endpoint bound beyond loopback wants it too.
static void s_metrics_guard (broker_t *self)
{
    if (self->metrics && self->token [0] && !sl_endpoint_loopback (self->config.metrics))
        http_require_bearer (self->metrics, self->token);
}

//  Join token: a keys file replaced since it was read (sluice-ctl token
//  --rotate) brings a new client key; clients with the old one are cut
//  off at their next message. Called at each housekeeping tick.
static void s_token_check (broker_t *self)
{
    struct stat st;
    if (!self->config.keys_file || stat (self->config.keys_file, &st) != 0)
        return;
    if (st.st_ino == self->keys_stat.st_ino && st.st_size == self->keys_stat.st_size &&
        st.st_mtim.tv_sec == self->keys_stat.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == self->keys_stat.st_mtim.tv_nsec)
        return;
    self->keys_stat = st;
    sl_keys_t keys;
    char err [512];
    if (sl_keys_load (self->config.keys_file, &keys, err, sizeof err))
        sl_error ("%s; keeping the join token in use", err);
    else if (!streq (keys.broker_public, zcert_public_txt (self->cert)))
        sl_error ("the broker key in %s changed: restart the broker to use it; until then the "
                  "clients need the old token",
                  self->config.keys_file);
    else if (!streq (keys.client_public, self->token_key)) {
        snprintf (self->token_key, sizeof self->token_key, "%s", keys.client_public);
        admit_set_token_key (self->auth, self->token_key);
        sl_keys_token (&keys, self->token);
        s_metrics_guard (self);
        sl_warn ("the join token was rotated (%s changed): clients holding the old one are cut "
                 "off at their next message",
                 self->config.keys_file);
    }
    memset (&keys, 0, sizeof keys);
}

//  --insecure: bound beyond loopback with no CurveZMQ. Said at the start
//  and every hour, so that it is never forgotten in a log.
static void s_insecure_warning (broker_t *self, int64_t now)
{
    if (!self->config.insecure || now < self->next_insecure_warning)
        return;
    sl_warn ("INSECURE: listening on %s without CurveZMQ (--insecure): anyone who can reach it "
             "may take tasks, read results and forge them",
             self->config.bind);
    self->next_insecure_warning = now + INSECURE_WARNING_MS;
}

//  --- Set-up -------------------------------------------------------------

//  Creates a socket of `type` and binds it to `port` derived from the
//  broker's address. Options are set before the bind: libzmq copies a
//  listener's options into every connection it accepts.
static zsock_t *s_bind (const broker_config_t *config, zcert_t *cert, sl_port_t port, int type,
                        char *err, size_t errlen)
{
    char endpoint [300];
    if (sl_endpoint_derive (config->bind, port, endpoint, sizeof endpoint, err, errlen))
        return NULL;
    zsock_t *sock = zsock_new (type);
    if (!sock) {
        snprintf (err, errlen, "cannot create a socket: %s", zmq_strerror (errno));
        return NULL;
    }
    //  ZMTP heartbeats close a connection whose peer stopped answering
    //  (killed, hung, cut off): then PUSH stops dealing tasks into it, and
    //  what was queued there comes back through the unclaimed lease.
    if (port == SL_PORT_DISPATCH) {
        //  Only here: it is where a dead peer costs (tasks dealt into its
        //  buffers). Elsewhere the application heartbeats suffice, and
        //  libzmq 4.3.4 can assert when a ZMTP heartbeat resets a connection
        //  whose receive queue is full (libzmq#4364).
        zsock_set_heartbeat_ivl (sock, (int) config->heartbeat_ms);
        zsock_set_heartbeat_timeout (sock, 3 * (int) config->heartbeat_ms);
    }
    if (cert)
        sl_curve_server_apply (cert, sock);
    if (type == ZMQ_ROUTER) {
        //  Replies to a client that vanished must not block or pile up.
        zsock_set_router_mandatory (sock, 1);
        //  A worker that reconnects takes its routing id back at once.
        if (port == SL_PORT_DISPATCH)
            zsock_set_router_handover (sock, 1);
    }
    if (port == SL_PORT_INTAKE)
        //  What the broker has not read yet is outside its memory limit:
        //  keep it small, so that a paused intake stops ventilators soon
        //  (at most INTAKE_HWM batches of 256 KiB wait here).
        zsock_set_rcvhwm (sock, INTAKE_HWM);
    if (port == SL_PORT_RESULTS)
        //  The same for results: while the journal fails they are not read,
        //  and must wait in the workers, not here.
        zsock_set_rcvhwm (sock, RESULTS_HWM);
    if (port == SL_PORT_DISPATCH)
        //  Push: PUSH deals to any worker whose pipe has room, busy or
        //  not, so the pipe is all that bounds what a worker is dealt:
        //  keep it small, and the tasks wait in the table, where the
        //  broker sees them. Fair: credit bounds it (each batch spends at
        //  least one, so a worker's pipe never holds more batches than it
        //  asked tasks for), and a limit here would only make sends within
        //  credit fail, each one a batch packed for nothing: none. (No
        //  finite one would do: libzmq tells a pipe's writer what its
        //  reader took in steps of up to half the limit, and late, when
        //  the writer's thread next reads its commands, so a pipe refuses
        //  with room in it.)
        zsock_set_sndhwm (sock, type == ZMQ_ROUTER ? 0 : PUSH_SNDHWM);
    //  A peer sending a message larger than any a sluice program sends is
    //  cut off by libzmq before the broker reads it (ZMQ_MAXMSGSIZE).
    int64_t max = port == SL_PORT_INTAKE    ? (int64_t) config->max_payload + INTAKE_SLACK
                  : port == SL_PORT_RESULTS ? RESULTS_MAX_BYTES
                                            : CONTROL_MAX_BYTES;
    //  (Also on the PUSH to the sink: a peer there may send frames too.)
    zsock_set_maxmsgsize (sock, (int) (max > INT32_MAX ? INT32_MAX : max));
    if (zsock_bind (sock, "%s", endpoint) < 0) {
        snprintf (err, errlen, "cannot bind %s: %s%s", endpoint, zmq_strerror (errno),
                  errno == EADDRINUSE ? " (another broker running? sluice needs 5 consecutive "
                                        "ports from the one given)"
                                      : "");
        zsock_destroy (&sock);
        return NULL;
    }
    return sock;
}

broker_t *broker_new (const broker_config_t *config, char *err, size_t errlen)
{
    assert (config);
    broker_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->config = *config;
    sl_random_hex (self->broker_id, sizeof self->broker_id, 16);
    self->bad_log = (sl_ratelimit_t) SL_RATELIMIT_INIT (10, 60000);
    self->event_log = (sl_ratelimit_t) SL_RATELIMIT_INIT (60, 10000);
    self->throttle_log = (sl_ratelimit_t) SL_RATELIMIT_INIT (1, 60000);
    self->started_at = zclock_mono ();
    self->next_rate_sample = self->started_at;
    self->table = sl_table_new ();
    self->peers = sl_peers_new ();
    self->job_times = zhashx_new ();
    self->finished = sl_finished_new (FINISHED_MEMORY, MAX_FAILED_RANGES);
    if (!self->table || !self->peers || !self->finished || !self->job_times) {
        snprintf (err, errlen, "out of memory");
        goto fail;
    }
    zhashx_set_destructor (self->job_times, s_free_item);
    self->fair = sl_fair_new ();
    if (!self->fair) {
        snprintf (err, errlen, "out of memory");
        goto fail;
    }
    self->job_starts = zlistx_new ();
    self->answers = sl_outbox_new ();
    self->notices = sl_outbox_new ();
    if (!self->job_starts || !self->answers || !self->notices) {
        snprintf (err, errlen, "out of memory");
        goto fail;
    }
    zlistx_set_destructor (self->job_starts, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_duplicator (self->job_starts, (zlistx_duplicator_fn *) strdup);
    if ((config->curve_secret || config->keys_file) && s_curve_setup (self, err, errlen))
        goto fail;
    if (!(self->control = s_bind (config, self->cert, SL_PORT_CONTROL, ZMQ_ROUTER, err, errlen)) ||
        !(self->intake = s_bind (config, self->cert, SL_PORT_INTAKE, ZMQ_PULL, err, errlen)) ||
        !(self->dispatch = s_bind (config, self->cert, SL_PORT_DISPATCH,
                                   config->fair ? ZMQ_ROUTER : ZMQ_PUSH, err, errlen)) ||
        !(self->results = s_bind (config, self->cert, SL_PORT_RESULTS, ZMQ_PULL, err, errlen)) ||
        !(self->delivery = s_bind (config, self->cert, SL_PORT_DELIVERY, ZMQ_PUSH, err, errlen)))
        goto fail;
    //  Every client says hello on the control port first: a client turned
    //  away there before its key is known is logged too.
    if (self->auth && admit_watch (self->auth, self->control))
        sl_warn ("cannot watch the control port's handshakes: clients that speak plain are "
                 "refused without a word in this log");
    //  A worker claims each task in the heartbeat after it took it; one not
    //  claimed within 5 intervals was lost on the way (or sits in the
    //  buffers of a worker that stopped reading).
    self->unclaimed_lease_ms = 5 * (int64_t) config->heartbeat_ms;
    if ((config->data_dir || config->nats.servers) && s_journal_open (self, err, errlen))
        goto fail;
    if (config->metrics && !(self->metrics = http_new (config->metrics, err, errlen)))
        goto fail;
    s_metrics_guard (self);
    //  Failed tasks kept for the dashboard: a share of --max-memory, capped.
    uint64_t failure_bytes = config->max_memory / FAILURES_MEMORY_SHARE;
    if (failure_bytes > FAILURES_MAX_BYTES)
        failure_bytes = FAILURES_MAX_BYTES;
    size_t max_failures = (size_t) (failure_bytes / sizeof (failure_t));
    if (!(self->history = history_new ()) ||
        !(self->failures =
              failures_new (max_failures > 100 ? max_failures : 100, FAILURES_PER_JOB))) {
        snprintf (err, errlen, "out of memory");
        goto fail;
    }
    if (s_attach_setup (self, err, errlen))
        goto fail;
    return self;
fail:
    broker_destroy (&self);
    return NULL;
}

void broker_destroy (broker_t **self_p)
{
    assert (self_p);
    broker_t *self = *self_p;
    if (!self)
        return;
    http_destroy (&self->metrics);
    history_destroy (&self->history);
    failures_destroy (&self->failures);
    zstr_free (&self->status_body);
    s_attach_cleanup (self);
    zhashx_destroy (&self->job_times);
    zsock_destroy (&self->control);
    zsock_destroy (&self->intake);
    zsock_destroy (&self->dispatch);
    zsock_destroy (&self->results);
    zsock_destroy (&self->delivery);
    sl_peers_destroy (&self->peers);
    sl_fair_destroy (&self->fair);
    zlistx_destroy (&self->job_starts);
    sl_outbox_destroy (&self->answers);
    sl_outbox_destroy (&self->notices);
    sl_journal_destroy (&self->journal);
    zactor_destroy (&self->auth);
    zcertstore_destroy (&self->admitted);
    zcert_destroy (&self->cert);
    memset (self->token, 0, sizeof self->token);
    sl_table_destroy (&self->table);
    sl_finished_destroy (&self->finished);
    free (self);
    *self_p = NULL;
}

//  --- Helpers ------------------------------------------------------------

//  Counts and (rate-limited) logs a message the broker drops.
static void s_bad (broker_t *self, const char *where, const char *from, const char *why)
{
    self->count.bad_messages++;
    uint32_t suppressed = 0;
    if (sl_ratelimit_allow (&self->bad_log, zclock_mono (), &suppressed)) {
        if (suppressed)
            sl_warn ("dropped %u more bad messages (not logged)", suppressed);
        sl_warn ("dropped a message on the %s socket%s%s: %s", where, from ? " from " : "",
                 from ? from : "", why);
    }
}

//  Logs a peer or a job coming or going, rate-limited: peers can make
//  these happen at will (a flood of hellos must not flood the log).
static void s_event (broker_t *self, sl_log_level_t level, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static void s_event (broker_t *self, sl_log_level_t level, const char *format, ...)
{
    if (!sl_log_enabled (level))
        return;
    uint32_t suppressed = 0;
    if (!sl_ratelimit_allow (&self->event_log, zclock_mono (), &suppressed))
        return;
    if (suppressed)
        sl_log (level, "(%u more events of workers, sinks and jobs not logged)", suppressed);
    char line [1024];
    va_list args;
    va_start (args, format);
    vsnprintf (line, sizeof line, format, args);
    va_end (args);
    sl_log (level, "%s", line);
}

static void s_key (zframe_t *routing_id, char *key, size_t keylen)
{
    static const char hex [] = "0123456789abcdef";
    size_t size = zframe_size (routing_id);
    const uint8_t *data = zframe_data (routing_id);
    size_t i;
    for (i = 0; i < size && 2 * i + 2 < keylen; i++) {
        key [2 * i] = hex [data [i] >> 4];
        key [2 * i + 1] = hex [data [i] & 15];
    }
    key [2 * i] = '\0';
}

static void s_reply (broker_t *self, zframe_t *routing_id, sl_env_t *env)
{
    //  EHOSTUNREACH: the client left meanwhile; nothing to do.
    sl_proto_send (self->control, routing_id, env, ZMQ_DONTWAIT);
}

//  A finished job still remembered (within --retention), or NULL.
static sl_finished_job_t *s_finished_lookup (broker_t *self, const char *job_id)
{
    return sl_finished_lookup (self->finished, job_id, zclock_time () - self->config.retention_ms);
}

static void s_remember (broker_t *self, const char *job_id, const sl_job_counts_t *counts,
                        int64_t finished_at, const sl_failed_t *failed)
{
    sl_finished_remember (self->finished, job_id, counts, finished_at, failed);
}

//  --- Journal ----------------------------------------------------------------
//  Records are appended as the broker changes its table and committed in
//  groups: at once with --fsync always, else within BATCH_COMMIT_MS. Before
//  it tells a ventilator which tasks it holds, the broker commits, so what
//  it confirms is on disk. If the journal cannot be written the broker
//  refuses new tasks (and says why) rather than accept what it could lose.

static void s_journal_error (broker_t *self, const char *err)
{
    if (sl_journal_fenced (self->journal)) {
        //  Another broker holds the journal now: whatever this one still
        //  has to say was not appended, so it says nothing more.
        if (!self->fenced)
            sl_error ("%s", err);
        self->fenced = true;
    } else if (!self->journal_failed)
        sl_error ("%s; refusing new tasks and results until the journal can be written again", err);
    self->journal_failed = true;
    snprintf (self->journal_error, sizeof self->journal_error, "%s", err);
    self->journal_retry = zclock_mono () + 1000;
}

static void s_journal_appended (broker_t *self, int rc, const char *err)
{
    if (rc)
        sl_error ("cannot journal: %s", err);
    else if (!self->dirty_since)
        self->dirty_since = zclock_mono ();
}

//  The journal position every record appended so far will have reached
//  when it is durable (0 without a journal: nothing to wait for).
static uint64_t s_journal_position (broker_t *self)
{
    return self->journal ? sl_journal_appended (self->journal) : 0;
}

//  The position up to which records are durable (UINT64_MAX without a
//  journal).
static uint64_t s_journal_durable (broker_t *self)
{
    return self->journal ? sl_journal_durable (self->journal) : UINT64_MAX;
}

//  Sends the answers whose records are durable, oldest first, as far as
//  their socket takes them. A reply to a client that left is dropped.
static void s_outbox_flush (broker_t *self, sl_outbox_t *outbox, zsock_t *sock)
{
    //  A job's JobStart goes before its JobDone: announcements first.
    if (outbox == self->notices && zlistx_size (self->job_starts))
        return;
    uint64_t durable = s_journal_durable (self);
    zframe_t *routing_id, *msg;
    while (sl_outbox_peek (outbox, durable, &routing_id, &msg)) {
        void *handle = zsock_resolve (sock);
        if (routing_id && zmq_send (handle, zframe_data (routing_id), zframe_size (routing_id),
                                    ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
            if (errno == EAGAIN)
                return;
            sl_outbox_pop (outbox); //  EHOSTUNREACH: the client left
            continue;
        }
        if (zmq_send (handle, zframe_data (msg), zframe_size (msg), ZMQ_DONTWAIT) < 0 &&
            errno == EAGAIN && !routing_id)
            return; //  the sink's pipe is full: later
        sl_outbox_pop (outbox);
    }
}

//  True if the oldest answer in outbox may go now.
static bool s_outbox_ready (broker_t *self, sl_outbox_t *outbox)
{
    zframe_t *routing_id, *msg;
    return sl_outbox_peek (outbox, s_journal_durable (self), &routing_id, &msg);
}

//  Queues an answer that reports a state change: it goes out once every
//  record appended so far is durable (at once without a journal, or when
//  nothing is pending). routing_id NULL: to the sink, on the delivery
//  socket; else a reply on the control socket.
static void s_journal_results (broker_t *self);

static void s_answer (broker_t *self, zframe_t *routing_id, sl_env_t *env)
{
    s_journal_results (self); //  the table's changes so far are records first
    zframe_t *msg = sl_proto_encode (env);
    if (!msg) {
        sl_error ("out of memory encoding a %s", sl_proto_body_name (env));
        return;
    }
    sl_outbox_t *outbox = routing_id ? self->answers : self->notices;
    if (sl_outbox_add (outbox, s_journal_position (self), routing_id, &msg))
        sl_error ("out of memory queueing a %s", sl_proto_body_name (env));
    s_outbox_flush (self, outbox, routing_id ? self->control : self->delivery);
}

//  Records up to the journal's durable position are safe: results reached
//  so far may go to the sink, answers waiting for them may go out.
static void s_journal_durable_now (broker_t *self)
{
    sl_table_durable_to (self->table, s_journal_durable (self));
    s_outbox_flush (self, self->answers, self->control);
    s_outbox_flush (self, self->notices, self->delivery);
}

//  The segment new jobs are tagged with: the oldest one they need.
static void s_journal_tag (broker_t *self)
{
    sl_table_set_tag (self->table, self->journal ? sl_journal_segment (self->journal) : 0);
}

//  Keeps a task whose final result was not ok for the dashboard.
static void s_failure_note (broker_t *self, sl_task_t *task)
{
    sl_result_t *r = sl_task_result (task);
    if (!self->failures || !r || r->status == SL_STATUS_OK)
        return;
    failure_t failure = { 0 };
    failure.seq = sl_task_seq (task);
    if (r->id_size) {
        char id [256];
        snprintf (failure.id, sizeof failure.id, "%s", sl_result_id (r, id));
    }
    failure.status = r->status;
    failure.exit_code = r->exit_code;
    failure.attempts = sl_task_runs (task);
    snprintf (failure.worker, sizeof failure.worker, "%s", r->worker ? r->worker : "");
    size_t tail = r->stderr_size < FAILURE_STDERR_MAX ? r->stderr_size : FAILURE_STDERR_MAX;
    memcpy (failure.stderr_tail, r->data + r->output_size + r->stderr_size - tail, tail);
    failure.stderr_size = (uint16_t) tail;
    if (failures_add (self->failures, sl_job_id (sl_task_job (task)), &failure))
        sl_warn ("out of memory: failed task %s/%llu not kept for the dashboard",
                 sl_job_id (sl_task_job (task)), (unsigned long long) failure.seq);
}

//  Appends the results of batch [0..n) (one job) and tells the table
//  where their records are, so that each goes to the sink once its
//  record is durable.
static void s_journal_result_batch (broker_t *self, sl_task_t **batch, size_t n)
{
    char err [512];
    s_journal_appended (self, sl_durable_results (self->journal, batch, n, err, sizeof err), err);
    uint64_t position = sl_journal_appended (self->journal);
    for (size_t i = 0; i < n; i++)
        sl_table_recorded (self->table, batch [i], position);
}

//  Records the final results the table reached since the last call.
static void s_journal_results (broker_t *self)
{
    sl_task_t *batch [MAX_BATCH_RESULTS];
    size_t n = 0;
    char err [512];
    sl_task_t *task;
    //  Tasks that went on to their next stage: their new payloads first
    //  (a task may go on and end in one turn).
    while ((task = sl_table_pop_advanced (self->table))) {
        if (!self->journal)
            continue;
        if (n && (sl_task_job (task) != sl_task_job (batch [0]) || n == MAX_BATCH_RESULTS)) {
            s_journal_appended (
                self, sl_durable_advanced (self->journal, batch, n, err, sizeof err), err);
            n = 0;
        }
        batch [n++] = task;
    }
    if (n)
        s_journal_appended (self, sl_durable_advanced (self->journal, batch, n, err, sizeof err),
                            err);
    n = 0;
    while ((task = sl_table_pop_completed (self->table))) {
        if (sl_task_result (task) && sl_task_result (task)->status < 5)
            self->count.completed [sl_task_result (task)->status]++;
        s_failure_note (self, task);
        if (!self->journal)
            continue;
        if (n && (sl_task_job (task) != sl_task_job (batch [0]) || n == MAX_BATCH_RESULTS)) {
            s_journal_result_batch (self, batch, n);
            n = 0;
        }
        batch [n++] = task;
    }
    if (n)
        s_journal_result_batch (self, batch, n);
}

static void s_journal_rotate (broker_t *self);

//  True when the journal grew by --checkpoint-bytes since the last
//  checkpoint, and by at least the checkpoint's own size (so that a live
//  state bigger than --checkpoint-bytes is not written again and again).
static bool s_checkpoint_due (broker_t *self)
{
    uint64_t bytes = sl_journal_segment_bytes (self->journal);
    uint64_t since = bytes > self->checkpoint_size ? bytes - self->checkpoint_size : 0;
    uint64_t due = self->config.checkpoint_bytes > self->checkpoint_size
                       ? self->config.checkpoint_bytes
                       : self->checkpoint_size;
    return !self->checkpointing && since >= due;
}

//  Commits what was appended. Returns 0, or -1 if the journal failed.
static int s_journal_commit (broker_t *self)
{
    if (!self->journal)
        return 0;
    s_journal_results (self);
    char err [512];
    if (sl_journal_commit (self->journal, err, sizeof err)) {
        s_journal_error (self, err);
        return -1;
    }
    if (self->journal_failed)
        sl_warn ("the journal in %s can be written again: accepting tasks and results",
                 sl_journal_dir (self->journal));
    self->journal_failed = false;
    self->dirty_since = 0;
    s_journal_durable_now (self);
    if (s_checkpoint_due (self) && (!self->rotate_retry || zclock_mono () >= self->rotate_retry))
        s_journal_rotate (self);
    return 0;
}

//  Commits and waits until every record appended is durable, for an
//  answer that must be synchronous. Returns 0, or -1 if the journal failed.
static int s_journal_sync (broker_t *self)
{
    if (!self->journal)
        return 0;
    if (s_journal_commit (self))
        return -1;
    char err [512];
    if (sl_journal_sync (self->journal, err, sizeof err)) {
        s_journal_error (self, err);
        return -1;
    }
    s_journal_durable_now (self);
    return 0;
}

//  The journal answered commits (NATS): what is durable now goes out.
static void s_journal_poll (broker_t *self)
{
    char err [512];
    if (sl_journal_poll (self->journal, err, sizeof err))
        s_journal_error (self, err);
    s_journal_durable_now (self);
}

//  Commits when the fsync policy says it is time, and retries a failed
//  commit or rotation once a second, whether or not anything new came in:
//  a quiet broker must notice that space came back.
static void s_journal_tick (broker_t *self, int64_t now)
{
    s_journal_results (self); //  in memory too: counts and failures
    if (!self->journal)
        return;
    if (self->journal_failed) {
        if (now >= self->journal_retry)
            s_journal_commit (self);
        return;
    }
    if (self->rotate_retry && now >= self->rotate_retry) {
        s_journal_commit (self); //  rotates
        return;
    }
    if (!self->dirty_since)
        return; //  nothing appended since the last commit
    if (self->config.fsync == SL_FSYNC_ALWAYS ||
        sl_journal_unflushed (self->journal) >= BATCH_COMMIT_BYTES ||
        now - self->dirty_since >= BATCH_COMMIT_MS)
        s_journal_commit (self);
}

//  When the journal needs the loop again (ms), or INT64_MAX.
static int64_t s_journal_wake (broker_t *self)
{
    if (!self->journal)
        return INT64_MAX;
    int64_t wake = INT64_MAX;
    if (self->journal_failed)
        wake = self->journal_retry;
    else if (self->dirty_since)
        wake = self->dirty_since + BATCH_COMMIT_MS;
    if (self->rotate_retry && self->rotate_retry < wake)
        wake = self->rotate_retry;
    return wake;
}

static int s_journal_sync (broker_t *self);

//  Writes a checkpoint of the live state (checkpoint.h) at the start of
//  segment: the finished jobs remembered, oldest first (so that a replay
//  remembers them in the same order), and every unfinished job. Returns
//  0, or -1 if a record could not be appended (logged).
static int s_journal_checkpoint (broker_t *self, uint64_t id)
{
    char err [512];
    s_journal_results (self); //  the table's changes so far are records first
    int rc = sl_checkpoint_begin (self->journal, id, err, sizeof err);
    int64_t oldest = zclock_time () - self->config.retention_ms;
    for (size_t i = sl_finished_count (self->finished); rc == 0 && i-- > 0;) {
        sl_finished_job_t *f = sl_finished_newest (self->finished, i);
        sl_failed_t failed = sl_finished_failed (f);
        if (f->finished_at >= oldest)
            rc = sl_durable_job_done (self->journal, f->id, &f->counts, f->finished_at, &failed,
                                      err, sizeof err);
    }
    if (rc == 0)
        rc = sl_checkpoint_jobs (self->journal, self->table, err, sizeof err);
    if (rc == 0)
        rc = sl_checkpoint_end (self->journal, self->table, id, err, sizeof err);
    s_journal_appended (self, rc, err);
    return rc;
}

//  Starts a new segment with a checkpoint of the live state and, once it
//  is durable, deletes the segments before it (the NATS journal purges its
//  stream up to it). A rotation that fails (no inode, say) is no reason to
//  refuse work while the current segment can still be written: it is
//  logged and tried again each second.
static void s_journal_rotate (broker_t *self)
{
    char err [512];
    uint64_t segment = sl_journal_rotate (self->journal, err, sizeof err);
    if (!segment) {
        if (sl_journal_failed (self->journal)) {
            s_journal_error (self, err); //  its commit failed: nothing can be written
            return;
        }
        if (!self->rotate_retry)
            sl_warn ("%s; the journal goes on in its current segment (%.1f MB) and tries a new "
                     "one every second",
                     err, sl_journal_segment_bytes (self->journal) / 1e6);
        self->rotate_retry = zclock_mono () + 1000;
        return;
    }
    if (self->rotate_retry)
        sl_warn ("journal: a new segment could be started again");
    self->rotate_retry = 0;
    int64_t start = zclock_mono ();
    uint64_t before = sl_journal_total_bytes (self->journal);
    self->checkpointing = true;
    int rc = s_journal_checkpoint (self, (uint64_t) zclock_usecs ());
    rc = rc ? rc : s_journal_sync (self);
    self->checkpointing = false;
    if (rc)
        return; //  the segments before stay: replay needs them
    self->checkpoint_size = sl_journal_segment_bytes (self->journal);
    int deleted = sl_journal_delete_before (self->journal, segment, err, sizeof err);
    if (deleted < 0)
        sl_warn ("%s", err);
    else
        sl_info ("journal: checkpoint in segment %llu (%zu jobs) in %lld ms, %d old segments "
                 "deleted, %.1f MB before, %.1f MB now",
                 (unsigned long long) segment, sl_table_job_count (self->table),
                 (long long) (zclock_mono () - start), deleted, before / 1e6,
                 sl_journal_total_bytes (self->journal) / 1e6);
}

static void s_on_replayed_done (const char *job, const sl_job_counts_t *counts, int64_t finished_at,
                                const sl_failed_t *failed, void *arg)
{
    s_remember ((broker_t *) arg, job, counts, finished_at, failed);
}

//  Opens the journal and rebuilds the table from it.
static int s_journal_open (broker_t *self, char *err, size_t errlen)
{
    int64_t start = zclock_mono ();
    self->journal = self->config.nats.servers
                        ? sl_journal_new_nats (&self->config.nats, err, errlen)
                        : sl_journal_new (self->config.data_dir, self->config.fsync, err, errlen);
    if (!self->journal)
        return -1;
    int64_t records =
        sl_durable_replay (self->journal, self->table, s_on_replayed_done, self, err, errlen);
    if (records < 0)
        return -1;
    //  From now on a result goes to the sink only once its record is
    //  durable (replayed ones are).
    sl_table_hold_fresh (self->table, true);
    //  Tasks queued by the replay may still be running on workers that
    //  outlived the old broker: give them time to claim those runs before
    //  anything is dealt again (a worker notices the restart at its next
    //  heartbeat and claims everything it holds as soon as it is welcomed).
    if (sl_table_queued (self->table)) {
        self->grace_until = zclock_mono () + GRACE_BEATS * (int64_t) self->config.heartbeat_ms;
        sl_info ("journal: dealing no task for %lld ms, for workers to claim the runs they "
                 "still run",
                 (long long) (GRACE_BEATS * (int64_t) self->config.heartbeat_ms));
    }
    if (sl_journal_repaired (self->journal))
        sl_warn ("%s", sl_journal_repaired (self->journal));
    size_t jobs = sl_table_job_count (self->table);
    sl_info ("journal %s: %lld records replayed in %lld ms: %zu unfinished jobs, %zu tasks "
             "queued, %zu results to deliver",
             sl_journal_dir (self->journal), (long long) records,
             (long long) (zclock_mono () - start), jobs, sl_table_queued (self->table),
             sl_table_deliverable (self->table, NULL));
    self->check_finished = true;
    return 0;
}

//  True if the attached sink collects this job.
static bool s_sink_wants (broker_t *self, const char *job_id)
{
    return self->sink && (self->sink->job [0] == '\0' || streq (self->sink->job, job_id));
}

//  Forgets a peer (frees it).
static void s_peer_remove (broker_t *self, sl_peer_t *peer)
{
    if (peer->role == SLUICE__ROLE__ROLE_WORKER) {
        sl_fair_leave (self->fair, &peer->fair);
        self->worker_slots -= peer->slots;
    }
    sl_peers_remove (self->peers, peer);
}

static void s_sink_detach (broker_t *self, const char *why)
{
    if (!self->sink)
        return;
    size_t resent = sl_table_unsend_all (self->table);
    s_event (self, SL_LOG_INFO,
             "sink %s detached (%s); %zu unacknowledged results will be delivered again",
             self->sink->name, why, resent);
    sl_peer_t *sink = self->sink;
    self->sink = NULL;
    zlistx_purge (self->job_starts);
    sl_outbox_purge (self->notices); //  the next sink asks again
    s_peer_remove (self, sink);
}

//  --- Control socket -------------------------------------------------------

static sl_peer_t *s_peer_by_name (broker_t *self, const char *name)
{
    return sl_peers_by_name (self->peers, name);
}

//  A worker is gone (silent, or it left without handing everything back):
//  every task it held is queued again, ahead of new work.
static void s_worker_gone (broker_t *self, sl_peer_t *peer, const char *why)
{
    size_t lost = peer->holder ? sl_table_worker_lost (self->table, peer->holder) : 0;
    self->count.tasks_lost += lost;
    if (lost)
        s_event (self, SL_LOG_WARN, "worker %s %s: its %zu tasks go to other workers", peer->name,
                 why, lost);
    else
        s_event (self, SL_LOG_INFO, "worker %s %s", peer->name, why);
    s_peer_remove (self, peer);
}

//  A worker hands tasks back: only those it holds (or that nobody has
//  claimed yet) are queued again.
static void s_task_refs_release (broker_t *self, sl_peer_t *peer, Sluice__TaskRef **refs, size_t n)
{
    if (!peer || peer->role != SLUICE__ROLE__ROLE_WORKER) {
        s_bad (self, "control", peer ? peer->name : NULL, "tasks handed back by a non-worker");
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (sl_table_release_by (self->table, refs [i]->job, refs [i]->seq, refs [i]->attempt,
                                 peer->holder) == SL_TABLE_OK)
            self->count.tasks_released++;
}

//  A worker's Bye: what it lists is handed back at once; what it does not
//  is lost, but only once the last result batch it sent before the Bye
//  is here (results and Bye travel on different sockets: nothing orders
//  them). Until then it gets no task; if the batch never comes (lost with
//  a broken connection), it is given up as silent after SL_PEERS_LIVENESS beats.
static void s_on_bye (broker_t *self, sl_peer_t *peer, Sluice__Bye *bye)
{
    s_task_refs_release (self, peer, bye->unfinished, bye->n_unfinished);
    if (bye->last_batch <= peer->batches_seen) {
        s_worker_gone (self, peer, "left");
        return;
    }
    peer->bye_batch = bye->last_batch;
    peer->last_seen = zclock_mono ();
    sl_fair_credit (self->fair, &peer->fair, 0, true);
    sl_debug ("worker %s left after its result batch %llu (%llu here): waiting for it", peer->name,
              (unsigned long long) bye->last_batch, (unsigned long long) peer->batches_seen);
}

static void s_welcome (broker_t *self, sl_peer_t *peer, char **jobs, size_t njobs)
{
    Sluice__Welcome welcome = SLUICE__WELCOME__INIT;
    welcome.broker_id = self->broker_id;
    welcome.heartbeat_ms = peer->heartbeat_ms ? peer->heartbeat_ms : self->config.heartbeat_ms;
    welcome.jobs = jobs;
    welcome.n_jobs = njobs;
    welcome.fair = self->config.fair;
    welcome.max_payload = self->config.max_payload;
    welcome.max_attachment = self->config.max_attachment;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_WELCOME;
    env.welcome = &welcome;
    s_reply (self, peer->routing_id, &env);
}

//  Result read back from the journal for --from-start: delivered again.
static void s_on_old_result (const char *job, Sluice__Result *r, void *arg)
{
    broker_t *self = (broker_t *) arg;
    sl_result_in_t in;
    sl_durable_result_in (r, &in);
    sl_table_redeliver (self->table, job, r->seq, &in);
}

//  --from-start: the job's results already delivered are delivered again.
//  Returns NULL, or why it cannot be done.
static const char *s_from_start (broker_t *self, const char *job_id, char *why, size_t whylen)
{
    sl_job_t *job = sl_table_job (self->table, job_id);
    if (!job) {
        snprintf (why, whylen,
                  s_finished_lookup (self, job_id)
                      ? "job %s finished and was delivered in full; its results are no longer "
                        "kept"
                      : "this broker does not know job %s",
                  job_id);
        return why;
    }
    if (!self->journal) {
        snprintf (why, whylen, "--from-start needs a broker with a journal (not --in-memory)");
        return why;
    }
    s_journal_sync (self);
    if (sl_durable_scan_results (self->journal, sl_job_tag (job), job_id, s_on_old_result, self,
                                 why, whylen) < 0)
        return why;
    return NULL;
}

static void s_hello_sink (broker_t *self, sl_peer_t *peer, Sluice__Hello *hello)
{
    if (self->sink && self->sink != peer) {
        char reason [400];
        snprintf (reason, sizeof reason,
                  "another sink (%s) is attached; sluice delivers results to one sink at a "
                  "time so that no job is split between two",
                  self->sink->name);
        s_event (self, SL_LOG_WARN, "refused sink %s: sink %s is attached", peer->name,
                 self->sink->name);
        //  The attached sink may have died: it is given up after SL_PEERS_LIVENESS
        //  silent heartbeats, so a restarted sink may try until then.
        Sluice__Refuse refuse = SLUICE__REFUSE__INIT;
        refuse.reason = reason;
        refuse.retry_ms = (SL_PEERS_LIVENESS + 1) * self->sink->heartbeat_ms;
        sl_env_t env = SLUICE__ENVELOPE__INIT;
        env.body_case = SLUICE__ENVELOPE__BODY_REFUSE;
        env.refuse = &refuse;
        s_reply (self, peer->routing_id, &env);
        s_peer_remove (self, peer);
        return;
    }
    char why [600];
    if (hello->from_start && s_from_start (self, peer->job, why, sizeof why)) {
        s_event (self, SL_LOG_WARN, "refused sink %s: %s", peer->name, why);
        sl_proto_send_refuse (self->control, peer->routing_id, why);
        s_peer_remove (self, peer);
        return;
    }
    if (!self->sink)
        s_event (self, SL_LOG_INFO, "sink %s attached%s%s%s%s", peer->name,
                 peer->job [0] ? " for job " : "", peer->job, peer->follow ? " (follow)" : "",
                 hello->from_start ? " (from the start)" : "");
    //  Jobs it waits for that may have finished meanwhile: told below.
    zlistx_destroy (&peer->waiting);
    peer->waiting = zlistx_new ();
    zlistx_set_destructor (peer->waiting, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_duplicator (peer->waiting, (zlistx_duplicator_fn *) strdup);
    for (size_t i = 0; i < hello->n_waiting; i++)
        zlistx_add_end (peer->waiting, hello->waiting [i]);
    if (peer->job [0])
        zlistx_add_end (peer->waiting, peer->job);
    self->sink = peer;
    self->last_ack = zclock_mono ();
    self->check_finished = true;
    zlistx_purge (self->job_starts); //  the welcome lists every job
    //  The jobs the sink should wait for: those not yet announced as done.
    size_t njobs = 0;
    char **jobs = calloc (sl_table_job_count (self->table) + 1, sizeof (char *));
    if (jobs) {
        for (sl_job_t *job = sl_table_job_first (self->table); job;
             job = sl_table_job_next (self->table))
            if (s_sink_wants (self, sl_job_id (job)))
                jobs [njobs++] = (char *) sl_job_id (job);
    }
    s_welcome (self, peer, jobs, njobs);
    free (jobs);
}

//  The named queues a hello asks for must be valid, few, and (with push
//  dispatch, which cannot choose a worker by queue) only the default one.
//  Returns true with why if the hello is refused for them.
static bool s_queues_refused (broker_t *self, Sluice__Hello *hello, char *why, size_t whylen)
{
    if (hello->n_queues > MAX_WORKER_QUEUES) {
        snprintf (why, whylen, "at most %d queues per worker", MAX_WORKER_QUEUES);
        return true;
    }
    for (size_t i = 0; i < hello->n_queues; i++) {
        const char *name = hello->queues [i];
        if (!sl_queue_name_valid (name)) {
            snprintf (why, whylen, "queue name '%.64s' is not 1-64 characters of A-Z a-z 0-9 . _ -",
                      name);
            return true;
        }
        if (!self->config.fair && !streq (name, SL_QUEUE_DEFAULT)) {
            snprintf (why, whylen,
                      "this broker runs --dispatch push, which has the default queue only "
                      "(named queues need --dispatch fair)");
            return true;
        }
        if (!sl_table_queue (self->table, name, true)) {
            snprintf (why, whylen, "the broker has no room for another queue (at most %d)",
                      SL_TABLE_MAX_QUEUES);
            return true;
        }
    }
    return false;
}

static void s_on_hello (broker_t *self, zframe_t *routing_id, const char *key, Sluice__Hello *hello)
{
    if (hello->role == SLUICE__ROLE__ROLE_CONTROL) {
        //  sluice-ctl: welcomed (so it knows its keys work), not a peer.
        sl_peer_t scratch = { .routing_id = routing_id };
        s_welcome (self, &scratch, NULL, 0);
        return;
    }
    char why [300];
    if (s_queues_refused (self, hello, why, sizeof why)) {
        sl_proto_send_refuse (self->control, routing_id, why);
        return;
    }
    if (hello->role == SLUICE__ROLE__ROLE_VENTILATOR) {
        if (!sl_job_id_valid (hello->job)) {
            sl_proto_send_refuse (self->control, routing_id,
                                  "job id must be 1-64 characters of A-Z a-z 0-9 . _ -");
            return;
        }
        sl_peer_t scratch = { .routing_id = routing_id };
        s_welcome (self, &scratch, NULL, 0);
        sl_debug ("ventilator %s submits job %s", hello->name, hello->job);
        return;
    }
    if (hello->role != SLUICE__ROLE__ROLE_WORKER && hello->role != SLUICE__ROLE__ROLE_SINK) {
        s_bad (self, "control", hello->name, "hello with an unknown role");
        sl_proto_send_refuse (self->control, routing_id, "unknown client role");
        return;
    }
    if (hello->role == SLUICE__ROLE__ROLE_SINK && hello->job [0] && !sl_job_id_valid (hello->job)) {
        sl_proto_send_refuse (self->control, routing_id,
                              "job id must be 1-64 characters of A-Z a-z 0-9 . _ -");
        return;
    }
    //  A connection that says hello again under another name or role is a
    //  new client, and a client that reconnects (a new connection, the same
    //  name) takes over its old session's place and tasks: the sessions in
    //  the way are given up first.
    bool again = false;
    sl_peer_t *old;
    while ((old = sl_peers_superseded (self->peers, key, hello->role, hello->name, &again))) {
        bool same_connection = streq (old->key, key);
        if (!same_connection)
            s_event (self, SL_LOG_INFO, "%s %s reconnected",
                     old->role == SLUICE__ROLE__ROLE_SINK ? "sink" : "worker", old->name);
        if (old == self->sink)
            s_sink_detach (self,
                           same_connection ? "it said hello as another client" : "it reconnected");
        else if (same_connection)
            s_worker_gone (self, old, "said hello as another client");
        else
            s_peer_remove (self, old);
    }
    sl_peer_t *peer = sl_peers_by_key (self->peers, key);
    bool is_new = !peer;
    if (is_new) {
        peer =
            sl_peers_add (self->peers, key, routing_id, hello->role, hello->name, zclock_mono ());
        if (!peer)
            return;
        if (hello->role == SLUICE__ROLE__ROLE_WORKER)
            sl_fair_join (self->fair, &peer->fair, peer);
    }
    peer->role = hello->role;
    snprintf (peer->name, sizeof peer->name, "%s", hello->name);
    snprintf (peer->job, sizeof peer->job, "%s", hello->job);
    peer->follow = hello->follow;
    if (peer->role == SLUICE__ROLE__ROLE_WORKER)
        self->worker_slots += (uint64_t) hello->slots - peer->slots;
    peer->slots = hello->slots;
    peer->nqueues = 0;
    for (size_t i = 0; i < hello->n_queues; i++)
        peer->queues [peer->nqueues++] = sl_table_queue (self->table, hello->queues [i], true);
    if (peer->nqueues == 0)
        peer->queues [peer->nqueues++] = sl_table_queue (self->table, NULL, true);
    if (peer->role == SLUICE__ROLE__ROLE_WORKER)
        sl_fair_set_queues (self->fair, &peer->fair, peer->queues, peer->nqueues);
    //  The client's wish, within the bounds --heartbeat itself has.
    peer->heartbeat_ms = sl_peers_heartbeat (hello->heartbeat_ms, self->config.heartbeat_ms);
    peer->holder = sl_table_intern (self->table, peer->name);
    peer->last_seen = zclock_mono ();
    if (hello->role == SLUICE__ROLE__ROLE_WORKER &&
        (int64_t) peer->heartbeat_ms > self->max_worker_heartbeat_ms)
        self->max_worker_heartbeat_ms = peer->heartbeat_ms;
    if (hello->role == SLUICE__ROLE__ROLE_SINK)
        s_hello_sink (self, peer, hello);
    else {
        if (is_new)
            s_event (self, SL_LOG_INFO, "worker %s joined with %u slots, heartbeat %u ms",
                     peer->name, peer->slots, peer->heartbeat_ms);
        s_welcome (self, peer, NULL, 0);
    }
}

static void s_on_ack (broker_t *self, sl_peer_t *peer, Sluice__Ack *ack)
{
    if (peer != self->sink || !self->sink) {
        s_bad (self, "control", peer ? peer->name : NULL, "acknowledgement from a detached sink");
        return;
    }
    self->last_ack = zclock_mono ();
    size_t applied = 0;
    for (size_t i = 0; i < ack->n_seqs; i++) {
        sl_table_rc_t rc = sl_table_ack (self->table, ack->job, ack->seqs [i]);
        if (rc == SL_TABLE_OK)
            ack->seqs [applied++] = ack->seqs [i];
        else if (rc == SL_TABLE_INVALID && !s_finished_lookup (self, ack->job))
            s_bad (self, "control", peer->name, "acknowledgement for an unknown task");
    }
    if (self->journal && applied) {
        char err [512];
        s_journal_appended (
            self,
            sl_durable_delivered (self->journal, ack->job, ack->seqs, applied, err, sizeof err),
            err);
    }
    self->check_finished = true;
}

static void s_on_job_query (broker_t *self, zframe_t *routing_id, Sluice__JobQuery *query)
{
    //  What the broker confirms must be durable first (a peek only
    //  watches progress and confirms nothing): the reply waits in the
    //  outbox for the records appended so far, while the broker goes on
    //  (the file journal's commit makes them durable at once).
    if (!query->peek)
        s_journal_commit (self);
    Sluice__JobState state = SLUICE__JOB_STATE__INIT;
    state.job = query->job;
    uint64_t ranges [2 * MAX_MISSING_RANGES];
    sl_job_t *job = sl_table_job (self->table, query->job);
    sl_finished_job_t *done = job ? NULL : s_finished_lookup (self, query->job);
    if (job) {
        const sl_job_counts_t *counts = sl_job_counts (job);
        state.known = true;
        state.received = counts->received;
        state.total = counts->total_known ? counts->total : 0;
        state.finished = sl_job_finished (job);
        state.queued = counts->queued;
        state.running = counts->running;
        state.done = counts->done;
        state.failed = counts->failed + counts->timeout;
        if (query->want_missing) {
            state.n_missing =
                2 * sl_table_missing (self->table, query->job, ranges, MAX_MISSING_RANGES);
            state.missing = ranges;
        }
    } else if (done) {
        state.known = true;
        state.received = done->counts.total;
        state.total = done->counts.total;
        state.finished = true;
        state.done = done->counts.total;
        state.failed = done->counts.failed + done->counts.timeout;
        if (query->want_failed) {
            state.failed_seqs = done->failed;
            state.n_failed_seqs = 2 * done->nfailed;
            state.failed_truncated = done->failed_truncated;
        }
    }
    for (sl_peer_t *peer = sl_peers_worker_first (self->peers); peer;
         peer = sl_peers_worker_next (self->peers)) {
        state.workers++;
        if (peer->running)
            state.busy_workers++;
    }
    if (self->journal_failed)
        state.error = self->journal_error;
    state.throttled = self->throttled;
    //  Attachments: held only once whole and durable (see attach.h), so a
    //  ventilator told none is missing may go.
    char *missing [SL_MAX_ATTACHMENTS];
    if (job) {
        size_t nattach;
        const sl_attach_t *list = sl_job_attachments (job, &nattach);
        for (size_t i = 0; i < nattach; i++) {
            if (sl_attach_held (self->attach, list [i].hash))
                continue;
            missing [state.n_attachments_missing++] = (char *) list [i].hash;
            state.attachments_partial += sl_attach_partial (self->attach, list [i].hash);
            const char *why = sl_attach_error (self->attach, list [i].hash);
            if (why)
                state.attachments_error = (char *) why;
        }
        state.attachments_missing = missing;
    }
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_JOB_STATE;
    env.job_state = &state;
    //  A failed journal's reply confirms nothing: it says why, at once.
    if (query->peek || self->journal_failed)
        s_reply (self, routing_id, &env);
    else
        s_answer (self, routing_id, &env);
}

static void s_on_heartbeat (broker_t *self, zframe_t *routing_id, sl_peer_t *peer,
                            Sluice__Heartbeat *hb)
{
    Sluice__Heartbeat reply = SLUICE__HEARTBEAT__INIT;
    reply.broker_id = self->broker_id;
    if (peer) {
        int64_t now = zclock_mono ();
        peer->last_seen = now;
        peer->running = hb->running;
        //  A worker whose last dispatch send failed (its connection was
        //  gone) is tried again once it is heard from.
        if (peer->role == SLUICE__ROLE__ROLE_WORKER && peer->dispatch_id && !peer->fair.routable)
            sl_fair_set_routable (self->fair, &peer->fair, true);
        //  The worker took these runs: they are alive while it is (a long
        //  task on a live worker never expires), and lost with it.
        for (size_t i = 0; i < hb->n_held; i++) {
            Sluice__TaskRef *ref = hb->held [i];
            if (sl_table_claim (self->table, ref->job, ref->seq, ref->attempt, peer->holder,
                                INT64_MAX) == SL_TABLE_DUPLICATE &&
                sl_table_adopt (self->table, ref->job, ref->seq, ref->attempt, ref->stage,
                                peer->holder, INT64_MAX) == SL_TABLE_OK)
                //  A run from before this broker started, still going.
                self->count.tasks_adopted++;
            if (ref->waiting)
                sl_table_waiting (self->table, ref->job, ref->seq, ref->attempt);
        }
    } else
        //  A client this broker does not know (it restarted, or gave the
        //  client up for dead): it must say hello again.
        reply.rehello = true;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &reply;
    s_reply (self, routing_id, &env);
}

static void s_on_control (broker_t *self)
{
    for (int i = 0; i < READ_BURST; i++) {
        sl_env_t *env = NULL;
        zframe_t *routing_id = NULL;
        char why [256];
        char user [48];
        sl_recv_t rc = sl_proto_recv_user (self->control, &env, &routing_id, user, sizeof user, why,
                                           sizeof why);
        if (rc == SL_RECV_NONE)
            break;
        char key [64] = "";
        if (routing_id)
            s_key (routing_id, key, sizeof key);
        sl_peer_t *peer = sl_peers_by_key (self->peers, key);
        if (rc != SL_RECV_OK) {
            s_bad (self, "control", peer ? peer->name : NULL, why);
            if (rc == SL_RECV_VERSION && routing_id) {
                char reason [300];
                snprintf (reason, sizeof reason, "%s; upgrade so both sides match", why);
                sl_proto_send_refuse (self->control, routing_id, reason);
            }
            zframe_destroy (&routing_id);
            continue;
        }
        if (!s_admitted (self, user)) {
            //  Revoked since it connected: refused, and forgotten.
            sl_warn ("client %s: its key %s was revoked; cutting it off", peer ? peer->name : "?",
                     user);
            sl_proto_send_refuse (self->control, routing_id,
                                  self->token_key [0]
                                      ? "this client's CurveZMQ key is no longer admitted (its "
                                        "join token was rotated? `sluice-ctl token` prints the "
                                        "new one on the broker host)"
                                      : "this client's CurveZMQ key is no longer admitted");
            if (peer == self->sink)
                s_sink_detach (self, "its key was revoked");
            else if (peer)
                s_worker_gone (self, peer, "was revoked");
            sl_proto_free (&env);
            zframe_destroy (&routing_id);
            continue;
        }
        switch (env->body_case) {
            case SLUICE__ENVELOPE__BODY_HELLO:
                s_on_hello (self, routing_id, key, env->hello);
                break;
            case SLUICE__ENVELOPE__BODY_HEARTBEAT:
                s_on_heartbeat (self, routing_id, peer, env->heartbeat);
                break;
            case SLUICE__ENVELOPE__BODY_ACK:
                s_on_ack (self, peer, env->ack);
                break;
            case SLUICE__ENVELOPE__BODY_JOB_QUERY:
                s_on_job_query (self, routing_id, env->job_query);
                break;
            case SLUICE__ENVELOPE__BODY_BYE:
                if (peer && peer == self->sink)
                    s_sink_detach (self, "it said goodbye");
                else if (peer && peer->role == SLUICE__ROLE__ROLE_WORKER)
                    s_on_bye (self, peer, env->bye);
                else if (peer) {
                    s_task_refs_release (self, peer, env->bye->unfinished, env->bye->n_unfinished);
                    s_worker_gone (self, peer, "left");
                }
                break;
            case SLUICE__ENVELOPE__BODY_RELEASE:
                s_task_refs_release (self, peer, env->release->tasks, env->release->n_tasks);
                break;
            case SLUICE__ENVELOPE__BODY_COMMAND:
                s_on_command (self, routing_id, env->command);
                break;
            case SLUICE__ENVELOPE__BODY_ATTACH_GET:
                s_on_attach_get (self, routing_id, peer, env->attach_get);
                break;
            default:
                s_bad (self, "control", peer ? peer->name : NULL,
                       "message of a type not "
                       "expected here");
                break;
        }
        sl_proto_free (&env);
        zframe_destroy (&routing_id);
    }
}

//  --- Attachments --------------------------------------------------------------
//  Files shipped with jobs, stored by the SHA-1 of their content in
//  attach_dir: DATA_DIR/attachments (or a private temporary directory with
//  --in-memory). A ventilator puts each in pieces on the intake, in order
//  (a piece that does not continue the file is dropped: the ventilator
//  sends again what the broker says it lacks); the last piece is checked
//  against the hash before the file takes its name. Workers get them in
//  pieces on the control socket, one request per piece.

static int s_attach_setup (broker_t *self, char *err, size_t errlen)
{
    if (self->config.data_dir) {
        snprintf (self->attach_dir, sizeof self->attach_dir, "%s/attachments",
                  self->config.data_dir);
        if (mkdir (self->attach_dir, 0700) && errno != EEXIST) {
            snprintf (err, errlen, "cannot make %s: %s", self->attach_dir, strerror (errno));
            return -1;
        }
    } else {
        const char *tmp = getenv ("TMPDIR");
        snprintf (self->attach_dir, sizeof self->attach_dir, "%s/sluice-attach.XXXXXX",
                  tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp (self->attach_dir)) {
            snprintf (err, errlen, "cannot make a directory for attachments in %s: %s",
                      tmp && *tmp ? tmp : "/tmp", strerror (errno));
            self->attach_dir [0] = '\0';
            return -1;
        }
        self->attach_temporary = true;
    }
    if (!(self->attach = sl_attach_store_new (self->attach_dir))) {
        snprintf (err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

//  --in-memory: the attachments go with the broker.
static void s_attach_cleanup (broker_t *self)
{
    sl_attach_store_destroy (&self->attach);
    if (!self->attach_temporary || !self->attach_dir [0])
        return;
    zdir_t *dir = zdir_new (self->attach_dir, "-");
    if (dir) {
        zdir_remove (dir, true);
        zdir_destroy (&dir);
    }
    rmdir (self->attach_dir);
}

static void s_on_attach_put (broker_t *self, Sluice__AttachPut *put)
{
    if (!sl_attach_hash_valid (put->hash) || put->total > self->config.max_attachment ||
        put->offset > put->total || put->data.len > put->total - put->offset) {
        s_bad (self, "intake", NULL, "an attachment piece with a bad hash or size");
        return;
    }
    //  A failure is logged and kept for the ventilator's next JobState.
    sl_attach_put (self->attach, put->hash, put->offset, put->total, put->data.data, put->data.len);
}

#define ATTACH_CHUNK (512 * 1024) //  bytes of an attachment per message to a worker

static void s_on_attach_get (broker_t *self, zframe_t *routing_id, sl_peer_t *peer,
                             Sluice__AttachGet *get)
{
    Sluice__AttachChunk chunk = SLUICE__ATTACH_CHUNK__INIT;
    chunk.hash = get->hash;
    chunk.offset = get->offset;
    uint8_t *buffer = NULL;
    char path [PATH_MAX];
    int fd = -1;
    struct stat st;
    if (!peer || peer->role != SLUICE__ROLE__ROLE_WORKER)
        chunk.error = "attachments are for workers";
    else if (!sl_attach_hash_valid (get->hash))
        chunk.error = "bad hash";
    else {
        sl_attach_path (self->attach, get->hash, path, sizeof path);
        fd = open (path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat (fd, &st))
            chunk.error = "this broker does not have it (yet)";
        else if (get->offset > (uint64_t) st.st_size)
            chunk.error = "offset beyond the end";
        else if (!(buffer = malloc (ATTACH_CHUNK)))
            chunk.error = "out of memory";
        else {
            ssize_t got = pread (fd, buffer, ATTACH_CHUNK, (off_t) get->offset);
            if (got < 0)
                chunk.error = "cannot read it";
            else {
                chunk.total = (uint64_t) st.st_size;
                chunk.data.data = buffer;
                chunk.data.len = (size_t) got;
                self->count.attach_bytes_sent += (uint64_t) got;
            }
        }
    }
    if (fd >= 0)
        close (fd);
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_ATTACH_CHUNK;
    env.attach_chunk = &chunk;
    s_reply (self, routing_id, &env);
    free (buffer);
}

//  --- Intake and results ---------------------------------------------------

//  A job's first message: its queue, next stages and attachments. 0, or
//  -1 (counted and logged as a bad message) if they are not acceptable.
static int s_job_make (broker_t *self, const char *job_id, const char *queue, char **then,
                       size_t nthen, Sluice__Attachment **attachments, size_t nattachments)
{
    sl_attach_t list [SL_MAX_ATTACHMENTS];
    char why [128];
    if (sl_attach_from_proto (attachments, nattachments, list, why, sizeof why)) {
        s_bad (self, "intake", NULL, why);
        return -1;
    }
    for (size_t i = 0; i < nattachments; i++)
        if (list [i].size > self->config.max_attachment) {
            s_bad (self, "intake", NULL, "an attachment over --max-attachment");
            return -1;
        }
    if (sl_table_job_make_stages (self->table, job_id, queue, then, nthen) == SL_TABLE_INVALID) {
        s_bad (self, "intake", NULL, "a job for queues that cannot be made");
        return -1;
    }
    sl_job_t *job = sl_table_job (self->table, job_id);
    if (job && nattachments)
        sl_job_set_attachments (job, list, nattachments);
    return 0;
}

//  A job appeared: the attached sink must know it has one more to wait for.
static void s_job_started (broker_t *self, const char *job_id)
{
    s_event (self, SL_LOG_INFO, "job %s started", job_id);
    int64_t *when = malloc (sizeof *when);
    if (when) {
        *when = zclock_mono ();
        zhashx_update (self->job_times, job_id, when);
    }
    if (s_sink_wants (self, job_id))
        zlistx_add_end (self->job_starts, (void *) job_id);
}

static void s_on_tasks (broker_t *self, Sluice__TaskBatch *batch)
{
    if (!sl_job_id_valid (batch->job)) {
        s_bad (self, "intake", NULL, "tasks with an invalid job id");
        return;
    }
    if (self->journal_failed) {
        //  Not accepted: the ventilator hears why and sends them again.
        self->count.tasks_refused += batch->n_tasks;
        return;
    }
    bool is_new = sl_table_job (self->table, batch->job) == NULL;
    if (is_new && s_job_make (self, batch->job, batch->queue, batch->then, batch->n_then,
                              batch->attachments, batch->n_attachments))
        return;
    s_journal_tag (self);
    size_t accepted = 0;
    for (size_t i = 0; i < batch->n_tasks; i++) {
        Sluice__Task *task = batch->tasks [i];
        if (task->payload.len > self->config.max_payload) {
            s_bad (self, "intake", NULL, "task over --max-payload");
            continue;
        }
        if (strlen (task->id) > 255) {
            s_bad (self, "intake", NULL, "task with an id over 255 bytes");
            continue;
        }
        sl_task_in_t in = {
            .payload = task->payload.data,
            .size = task->payload.len,
            .timeout_ms = task->timeout_ms,
            .retries = (uint8_t) (task->retries > 100 ? 100 : task->retries),
            .priority = task->priority,
            .id = task->id,
        };
        sl_table_rc_t rc = sl_table_submit_task (self->table, batch->job, task->seq, &in);
        if (rc == SL_TABLE_OK) {
            self->count.tasks_in++;
            batch->tasks [accepted++] = task; //  the new ones, for the journal
        } else if (rc == SL_TABLE_DUPLICATE)
            self->count.duplicates++;
        else if (rc == SL_TABLE_INVALID)
            s_bad (self, "intake", NULL, "task with a seq out of range");
        else
            sl_error ("out of memory: task %s/%llu dropped", batch->job,
                      (unsigned long long) task->seq);
    }
    if (self->journal && accepted) {
        char err [512];
        s_journal_appended (self,
                            sl_durable_job_tasks (self->journal,
                                                  sl_table_job (self->table, batch->job),
                                                  batch->tasks, accepted, err, sizeof err),
                            err);
    }
    if (is_new && sl_table_job (self->table, batch->job))
        s_job_started (self, batch->job);
}

static void s_on_job_end (broker_t *self, Sluice__JobEnd *end)
{
    if (!sl_job_id_valid (end->job)) {
        s_bad (self, "intake", NULL, "job end with an invalid job id");
        return;
    }
    if (self->journal_failed)
        return;
    bool is_new = sl_table_job (self->table, end->job) == NULL;
    if (is_new && s_job_make (self, end->job, end->queue, end->then, end->n_then, end->attachments,
                              end->n_attachments))
        return;
    s_journal_tag (self);
    sl_table_rc_t rc = sl_table_end (self->table, end->job, end->total);
    if (rc == SL_TABLE_INVALID)
        s_bad (self, "intake", NULL, "job end contradicting the tasks received");
    else if (rc == SL_TABLE_OK) {
        if (self->journal) {
            char err [512];
            s_journal_appended (self,
                                sl_durable_job_end (self->journal,
                                                    sl_table_job (self->table, end->job),
                                                    end->total, err, sizeof err),
                                err);
        }
        if (is_new)
            s_job_started (self, end->job);
        sl_info ("job %s has %llu tasks", end->job, (unsigned long long) end->total);
        self->check_finished = true;
    }
}

//  True while the tasks held are at the memory limit: intake is paused
//  (ventilators block in send, their backpressure) until the workers and
//  the sink bring the table below 7/8 of the limit.
static bool s_throttled (broker_t *self)
{
    //  Records not yet committed are memory too (a failing journal keeps
    //  them all).
    size_t held =
        sl_table_held (self->table) + (self->journal ? sl_journal_uncommitted (self->journal) : 0);
    uint64_t limit = self->config.max_memory;
    if (!self->throttled && held >= limit) {
        self->throttled = true;
        self->count.throttle_count++;
        uint32_t suppressed = 0;
        if (sl_ratelimit_allow (&self->throttle_log, zclock_mono (), &suppressed))
            sl_warn ("memory limit reached: %zu MiB held for %zu queued, %zu running and %zu "
                     "undelivered tasks (--max-memory %llu MiB); taking no new tasks until "
                     "workers and the sink catch up%s",
                     held >> 20, sl_table_queued (self->table), sl_table_running (self->table),
                     sl_table_deliverable (self->table, NULL) + sl_table_unacked (self->table),
                     (unsigned long long) (limit >> 20),
                     suppressed ? " (and paused more often than logged)" : "");
    } else if (self->throttled && held < limit - limit / RESUME_FRACTION) {
        self->throttled = false;
        sl_debug ("memory: %zu MiB held, taking tasks again", held >> 20);
    }
    return self->throttled;
}

static void s_on_intake (broker_t *self)
{
    for (int i = 0; i < READ_BURST && !s_throttled (self); i++) {
        sl_env_t *env = NULL;
        char why [256];
        char user [48];
        sl_recv_t rc =
            sl_proto_recv_user (self->intake, &env, NULL, user, sizeof user, why, sizeof why);
        if (rc == SL_RECV_OK && !s_admitted (self, user)) {
            s_bad (self, "intake", user, "tasks from a revoked client");
            sl_proto_free (&env);
            continue;
        }
        if (rc == SL_RECV_NONE)
            break;
        if (rc != SL_RECV_OK) {
            s_bad (self, "intake", NULL, why);
            continue;
        }
        if (env->body_case == SLUICE__ENVELOPE__BODY_TASKS)
            s_on_tasks (self, env->tasks);
        else if (env->body_case == SLUICE__ENVELOPE__BODY_ATTACH_PUT)
            s_on_attach_put (self, env->attach_put);
        else if (env->body_case == SLUICE__ENVELOPE__BODY_JOB_END)
            s_on_job_end (self, env->job_end);
        else
            s_bad (self, "intake", NULL, "message of a type not expected here");
        sl_proto_free (&env);
    }
}

static void s_on_result_batch (broker_t *self, Sluice__ResultBatch *batch)
{
    //  The results of a batch normally name one worker: it is looked up
    //  once, and again only when the name changes.
    const char *seen = NULL; //  the worker name last looked up
    sl_peer_t *peer = NULL;  //  its peer, or NULL
    for (size_t i = 0; i < batch->n_results; i++) {
        Sluice__Result *result = batch->results [i];
        if (result->status < SLUICE__STATUS__STATUS_OK ||
            result->status > SLUICE__STATUS__STATUS_TIMEOUT) {
            s_bad (self, "results", result->worker, "result with an unknown status");
            continue;
        }
        sl_result_in_t in;
        sl_durable_result_in (result, &in);
        sl_table_rc_t rc =
            sl_table_complete (self->table, batch->job, result->seq, result->attempt, &in);
        if ((rc == SL_TABLE_OK || rc == SL_TABLE_RETRY || rc == SL_TABLE_ADVANCED) &&
            result->worker) {
            if (!seen || !streq (seen, result->worker)) {
                seen = result->worker;
                peer = s_peer_by_name (self, seen);
            }
            if (peer)
                peer->done++;
        }
        if (rc == SL_TABLE_OK)
            self->count.results_in++;
        else if (rc == SL_TABLE_ADVANCED)
            self->count.advanced++;
        else if (rc == SL_TABLE_RETRY) {
            self->count.retries++;
            sl_debug ("task %s/%llu failed on %s (run %u): retrying", batch->job,
                      (unsigned long long) result->seq, result->worker, result->attempt);
        } else if (rc == SL_TABLE_DUPLICATE)
            self->count.duplicates++;
        else if (rc == SL_TABLE_INVALID && s_finished_lookup (self, batch->job))
            self->count.duplicates++; //  a late result for a job already finished
        else if (rc == SL_TABLE_INVALID)
            s_bad (self, "results", result->worker, "result for an unknown job or task");
        else
            sl_error ("out of memory: result %s/%llu dropped, the task will run again", batch->job,
                      (unsigned long long) result->seq);
    }
    //  The batch a worker that said Bye was waited for: it is gone now.
    sl_peer_t *sender = batch->batch && batch->n_results && batch->results [0]->worker
                            ? s_peer_by_name (self, batch->results [0]->worker)
                            : NULL;
    if (sender && sender->role == SLUICE__ROLE__ROLE_WORKER) {
        if (batch->batch > sender->batches_seen)
            sender->batches_seen = batch->batch;
        if (sender->bye_batch && sender->batches_seen >= sender->bye_batch)
            s_worker_gone (self, sender, "left");
    }
}

//  Fair dispatch: credits from workers' DEALERs (routing id = worker name).
static void s_on_dispatch (broker_t *self)
{
    for (int i = 0; i < READ_BURST; i++) {
        sl_env_t *env = NULL;
        zframe_t *routing_id = NULL;
        char why [256];
        sl_recv_t rc = sl_proto_recv (self->dispatch, &env, &routing_id, why, sizeof why);
        if (rc == SL_RECV_NONE)
            break;
        char name [128];
        size_t len = routing_id ? zframe_size (routing_id) : 0;
        if (len >= sizeof name)
            len = sizeof name - 1;
        if (len)
            memcpy (name, zframe_data (routing_id), len);
        name [len] = '\0';
        sl_peer_t *peer = s_peer_by_name (self, name);
        if (rc != SL_RECV_OK)
            s_bad (self, "dispatch", peer ? peer->name : NULL, why);
        else if (env->body_case != SLUICE__ENVELOPE__BODY_CREDIT)
            s_bad (self, "dispatch", peer ? peer->name : NULL,
                   "message of a type not expected here");
        else if (!peer || peer->role != SLUICE__ROLE__ROLE_WORKER)
            //  Not (or no longer) a worker here: it says hello again soon.
            sl_debug ("credit from unknown worker %s ignored", name);
        else {
            if (!peer->dispatch_id || !zframe_eq (peer->dispatch_id, routing_id)) {
                zframe_destroy (&peer->dispatch_id);
                peer->dispatch_id = zframe_dup (routing_id);
            }
            sl_fair_set_routable (self->fair, &peer->fair, true);
            sl_fair_credit (self->fair, &peer->fair, env->credit->credit, env->credit->absolute);
        }
        sl_proto_free (&env);
        zframe_destroy (&routing_id);
    }
}

static void s_on_results (broker_t *self)
{
    for (int i = 0; i < READ_BURST; i++) {
        sl_env_t *env = NULL;
        char why [256];
        char user [48];
        sl_recv_t rc =
            sl_proto_recv_user (self->results, &env, NULL, user, sizeof user, why, sizeof why);
        if (rc == SL_RECV_OK && !s_admitted (self, user)) {
            s_bad (self, "results", user, "results from a revoked client");
            sl_proto_free (&env);
            continue;
        }
        if (rc == SL_RECV_NONE)
            break;
        if (rc != SL_RECV_OK) {
            s_bad (self, "results", NULL, why);
            continue;
        }
        if (env->body_case == SLUICE__ENVELOPE__BODY_RESULTS)
            s_on_result_batch (self, env->results);
        else
            s_bad (self, "results", NULL, "message of a type not expected here");
        sl_proto_free (&env);
    }
}

//  --- Dispatch and delivery --------------------------------------------------

static bool s_writable (zsock_t *sock)
{
    return (zsock_events (sock) & ZMQ_POLLOUT) != 0;
}

//  Tasks per batch to a worker: large when much is queued, down to one
//  task at the end of a job so the tail spreads over every worker.
static size_t s_batch_size (broker_t *self)
{
    uint64_t slots = self->worker_slots ? self->worker_slots : 1;
    uint64_t batch = sl_table_queued (self->table) / (2 * slots);
    return batch < 1 ? 1 : batch > MAX_BATCH_TASKS ? MAX_BATCH_TASKS : (size_t) batch;
}

//  How long a task PUSH dealt may go unclaimed: 5 heartbeats of the
//  slowest-beating worker that ever joined (any of them may have got it,
//  and each claims at its own interval).
static int64_t s_unclaimed_lease (broker_t *self)
{
    int64_t beat = self->config.heartbeat_ms;
    if (self->max_worker_heartbeat_ms > beat)
        beat = self->max_worker_heartbeat_ms;
    return self->unclaimed_lease_ms > 5 * beat ? self->unclaimed_lease_ms : 5 * beat;
}

//  Takes up to limit queued tasks of one job from queue and sends them as
//  one batch: to the worker `peer` on the ROUTER (fair), or to whichever
//  worker PUSH deals it to (peer NULL). With `choosy`, a task that failed
//  or was lost on this worker is left for another. Returns how many were
//  sent; 0 if none could be taken; -1 if the send failed (then the tasks
//  are queued again).
//  How long a task dealt to a worker (fair) may go unclaimed: 5 of its
//  heartbeats. It claims what it took in its next heartbeat; a task that
//  never arrived (libzmq drops what it queued for a connection that broke
//  while the worker lives on) comes back instead of being held forever.
static int64_t s_fair_lease (broker_t *self, sl_peer_t *peer)
{
    int64_t lease = 5 * (int64_t) peer->heartbeat_ms;
    return lease > self->unclaimed_lease_ms ? lease : self->unclaimed_lease_ms;
}

static int64_t s_send_batch (broker_t *self, sl_peer_t *peer, sl_queue_t *queue, size_t limit,
                             bool choosy, int64_t now)
{
    Sluice__Task tasks [MAX_BATCH_TASKS];
    Sluice__Task *task_ptrs [MAX_BATCH_TASKS];
    sl_task_t *taken [MAX_BATCH_TASKS];
    //  A worker that gets the task holds it from now: it is lost with that
    //  worker. Under PUSH nobody knows who got it until a worker claims it.
    const char *holder = peer ? peer->holder : NULL;
    int64_t lease = peer ? s_fair_lease (self, peer) : s_unclaimed_lease (self);
    sl_task_t *skipped [MAX_BATCH_TASKS]; //  tasks left for another worker
    size_t n = 0, nskipped = 0, bytes = 0;
    if (limit > MAX_BATCH_TASKS)
        limit = MAX_BATCH_TASKS;
    while (n < limit && bytes < MAX_BATCH_BYTES) {
        sl_task_t *task = sl_table_dispatch_from (self->table, queue, now, lease, holder);
        if (!task)
            break;
        if (choosy && sl_task_avoid (task) == holder) {
            //  It failed or was lost on this worker: another one runs it.
            skipped [nskipped++] = task;
            if (nskipped == MAX_BATCH_TASKS)
                break;
            continue;
        }
        if (n && sl_task_job (task) != sl_task_job (taken [0])) {
            sl_table_undispatch (self->table, task); //  first of the next batch
            break;
        }
        Sluice__Task init = SLUICE__TASK__INIT;
        tasks [n] = init;
        tasks [n].seq = sl_task_seq (task);
        tasks [n].payload.data = (uint8_t *) sl_task_payload (task);
        tasks [n].payload.len = task->payload_size;
        tasks [n].timeout_ms = task->timeout_ms;
        tasks [n].attempt = task->attempts;
        task_ptrs [n] = &tasks [n];
        taken [n++] = task;
        bytes += task->payload_size;
    }
    //  Back at the front, in their order.
    for (size_t i = nskipped; i > 0; i--)
        sl_table_undispatch (self->table, skipped [i - 1]);
    if (n == 0)
        return 0;
    sl_job_t *job = sl_task_job (taken [0]);
    if (sl_job_stages (job) > 1)
        //  Multi-stage: the worker echoes the stage in its result.
        for (size_t i = 0; i < n; i++)
            tasks [i].stage = taken [i]->stage + 1u;
    Sluice__TaskBatch batch = SLUICE__TASK_BATCH__INIT;
    batch.job = (char *) sl_job_id (job);
    Sluice__Attachment attach [SL_MAX_ATTACHMENTS];
    Sluice__Attachment *attach_ptrs [SL_MAX_ATTACHMENTS];
    size_t nattach;
    const sl_attach_t *list = sl_job_attachments (job, &nattach);
    sl_attach_to_proto (list, nattach, attach, attach_ptrs);
    batch.attachments = attach_ptrs;
    batch.n_attachments = nattach;
    batch.tasks = task_ptrs;
    batch.n_tasks = n;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_TASKS;
    env.tasks = &batch;
    if (sl_proto_send (self->dispatch, peer ? peer->dispatch_id : NULL, &env, ZMQ_DONTWAIT)) {
        //  Fair: the worker's connection is gone. Push: no worker can take
        //  it (the loop waits for POLLOUT first, so hardly ever).
        for (size_t i = n; i > 0; i--)
            sl_table_undispatch (self->table, taken [i - 1]);
        self->count.dispatch_failed++;
        return -1;
    }
    self->count.tasks_dispatched += n;
    return (int64_t) n;
}

typedef struct {
    broker_t *self;
    int64_t now;
} dispatch_turn_t;

//  sl_fair_send_fn: a batch to one worker.
static int64_t s_send_fair (void *arg, void *owner, sl_queue_t *queue, size_t limit, bool alone)
{
    dispatch_turn_t *turn = (dispatch_turn_t *) arg;
    return s_send_batch (turn->self, (sl_peer_t *) owner, queue, limit, !alone, turn->now);
}

static void s_dispatch (broker_t *self)
{
    //  While the journal cannot be written, results cannot be taken: no
    //  point running more tasks (their results would wait in the workers).
    if (self->journal_failed)
        return;
    int64_t now = zclock_mono ();
    if (self->grace_until) {
        if (now < self->grace_until)
            return;
        self->grace_until = 0;
        if (self->count.tasks_adopted)
            sl_info ("workers claimed %llu runs from before the restart: they go on where they "
                     "run",
                     (unsigned long long) self->count.tasks_adopted);
    }
    if (self->config.fair) {
        //  Credit-based: tasks go only to workers that asked for them (fair.h).
        dispatch_turn_t turn = { self, now };
        sl_fair_dispatch (self->fair, self->table, s_send_fair, &turn);
        return;
    }
    sl_queue_t *dflt = sl_table_queue (self->table, NULL, false);
    while (dflt && sl_queue_queued (dflt) && s_writable (self->dispatch))
        if (s_send_batch (self, NULL, dflt, s_batch_size (self), false, now) <= 0)
            break;
}

static sl_status_t s_status_of (uint8_t status)
{
    return (sl_status_t) status;
}

static void s_deliver (broker_t *self)
{
    if (!self->sink)
        return;
    //  Announcements first: a job's start must precede its end.
    const char *job_id;
    while ((job_id = (const char *) zlistx_first (self->job_starts)) &&
           s_writable (self->delivery)) {
        Sluice__JobStart start = SLUICE__JOB_START__INIT;
        start.job = (char *) job_id;
        sl_env_t env = SLUICE__ENVELOPE__INIT;
        env.body_case = SLUICE__ENVELOPE__BODY_JOB_START;
        env.job_start = &start;
        if (sl_proto_send (self->delivery, NULL, &env, ZMQ_DONTWAIT))
            return;
        zlistx_delete (self->job_starts, NULL);
    }
    if (zlistx_size (self->job_starts))
        return;
    sl_job_t *only = NULL;
    if (self->sink->job [0]) {
        only = sl_table_job (self->table, self->sink->job);
        if (!only)
            return;
    }
    Sluice__Result results [MAX_BATCH_RESULTS];
    static char ids [MAX_BATCH_RESULTS][256]; //  the tasks' ids, as strings
    Sluice__Result *result_ptrs [MAX_BATCH_RESULTS];
    while (sl_table_sendable (self->table, only) &&
           sl_table_unacked (self->table) < self->config.sink_window &&
           s_writable (self->delivery)) {
        sl_task_t *first = sl_table_send_next (self->table, only);
        if (!first)
            break;
        sl_job_t *job = sl_task_job (first);
        size_t n = 0, bytes = 0;
        for (sl_task_t *task = first; task;) {
            sl_result_t *r = sl_task_result (task);
            Sluice__Result init = SLUICE__RESULT__INIT;
            results [n] = init;
            results [n].seq = sl_task_seq (task);
            results [n].status = (Sluice__Status) s_status_of (r->status);
            results [n].exit_code = r->exit_code;
            results [n].output.data = r->data;
            results [n].output.len = r->output_size;
            results [n].stderr_tail.data = r->data + r->output_size;
            results [n].stderr_tail.len = r->stderr_size;
            results [n].attempts = sl_task_runs (task);
            results [n].worker = (char *) r->worker;
            results [n].duration_ms = r->duration_ms;
            results [n].output_truncated = r->output_truncated;
            if (r->id_size) //  else the default, ""
                results [n].id = sl_result_id (r, ids [n]);
            results [n].stage = r->stage;
            result_ptrs [n] = &results [n];
            n++;
            bytes += r->output_size + r->stderr_size;
            if (n == MAX_BATCH_RESULTS || bytes >= MAX_BATCH_BYTES ||
                sl_table_unacked (self->table) >= self->config.sink_window ||
                !sl_table_sendable (self->table, job))
                break;
            task = sl_table_send_next (self->table, job);
        }
        Sluice__ResultBatch batch = SLUICE__RESULT_BATCH__INIT;
        batch.job = (char *) sl_job_id (job);
        batch.results = result_ptrs;
        batch.n_results = n;
        sl_env_t env = SLUICE__ENVELOPE__INIT;
        env.body_case = SLUICE__ENVELOPE__BODY_RESULTS;
        env.results = &batch;
        if (sl_proto_send (self->delivery, NULL, &env, ZMQ_DONTWAIT)) {
            while (n--)
                sl_table_unsend_last (self->table, job);
            break;
        }
    }
}

//  Tells the sink a job is finished, once every record appended so far
//  (the job's last acknowledgements and its end among them) is durable: a
//  sink that exits on this must never see the job again, whatever happens
//  to the broker then.
static void s_send_job_done (broker_t *self, const char *job_id, const sl_job_counts_t *counts,
                             bool forgotten)
{
    Sluice__JobDone done = SLUICE__JOB_DONE__INIT;
    done.forgotten = forgotten;
    done.job = (char *) job_id;
    done.total = counts->total;
    done.ok = counts->ok;
    done.failed = counts->failed;
    done.timeout = counts->timeout;
    done.cancelled = counts->cancelled;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_JOB_DONE;
    env.job_done = &done;
    s_answer (self, NULL, &env);
}

//  Announces finished jobs to the sink that collected them and retires them.
//  A sink collecting one job that finished before it attached hears of it
//  from the finished-jobs memory.
static void s_finish_jobs (broker_t *self)
{
    if (!self->check_finished || !self->sink)
        return;
    self->check_finished = false;
    sl_job_t *job = sl_table_job_first (self->table);
    while (job) {
        sl_job_t *next = sl_table_job_next (self->table);
        if (sl_job_finished (job) && s_sink_wants (self, sl_job_id (job))) {
            const sl_job_counts_t *c = sl_job_counts (job);
            sl_info ("job %s finished: %llu tasks, %llu ok, %llu failed, %llu timed out, %llu "
                     "cancelled",
                     sl_job_id (job), (unsigned long long) c->total, (unsigned long long) c->ok,
                     (unsigned long long) c->failed, (unsigned long long) c->timeout,
                     (unsigned long long) c->cancelled);
            int64_t now = zclock_time ();
            static uint64_t ranges [2 * MAX_FAILED_RANGES];
            sl_failed_t failed = { ranges, 0, false };
            if (c->failed + c->timeout + c->cancelled)
                failed.n = sl_table_failed (self->table, job, ranges, MAX_FAILED_RANGES,
                                            &failed.truncated);
            if (self->journal) {
                char err [512];
                s_journal_appended (self,
                                    sl_durable_job_done (self->journal, sl_job_id (job), c, now,
                                                         &failed, err, sizeof err),
                                    err);
            }
            s_remember (self, sl_job_id (job), c, now, &failed);
            s_send_job_done (self, sl_job_id (job), c, false);
            zhashx_delete (self->job_times, sl_job_id (job));
            sl_table_retire (self->table, job);
        }
        job = next;
    }
    //  Jobs the sink waits for that finished while it was away, or that
    //  this broker does not know (a job named with --job may simply not
    //  have started yet: that one it waits for).
    const char *waiting;
    while (self->sink->waiting && (waiting = (const char *) zlistx_first (self->sink->waiting))) {
        if (!sl_table_job (self->table, waiting)) {
            sl_finished_job_t *done = s_finished_lookup (self, waiting);
            sl_job_counts_t none = { 0 };
            if (done)
                s_send_job_done (self, done->id, &done->counts, false);
            else if (!streq (waiting, self->sink->job))
                s_send_job_done (self, waiting, &none, true);
        }
        zlistx_delete (self->sink->waiting, NULL);
    }
}

//  --- Operating: sluice-ctl commands and --metrics ----------------------------

//  Every reply to a command goes through the outbox: one that reports a
//  change (a cancel) leaves only once the records it made are durable, and
//  the others (refusals, a drain order) never overtake it.
static void s_command_reply (broker_t *self, zframe_t *routing_id, bool ok, const char *message)
{
    Sluice__CommandReply reply = SLUICE__COMMAND_REPLY__INIT;
    reply.ok = ok;
    reply.message = (char *) message;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_COMMAND_REPLY;
    env.command_reply = &reply;
    s_answer (self, routing_id, &env);
}

//  Results per second since the oldest sample (about 10 s ago, or the
//  broker's start).
static double s_rate (broker_t *self)
{
    size_t oldest = self->rate_samples < RATE_SAMPLES ? 0 : self->rate_next;
    int64_t since = self->rate_samples ? self->rate_time [oldest] : self->started_at;
    uint64_t count = self->rate_samples ? self->rate_count [oldest] : 0;
    int64_t elapsed = zclock_mono () - since;
    return elapsed > 0 ? (double) (self->count.results_in - count) * 1000.0 / (double) elapsed : 0;
}

static void s_rate_tick (broker_t *self, int64_t now)
{
    if (now < self->next_rate_sample)
        return;
    self->rate_count [self->rate_next] = self->count.results_in;
    self->rate_time [self->rate_next] = now;
    self->rate_next = (self->rate_next + 1) % RATE_SAMPLES;
    if (self->rate_samples < RATE_SAMPLES)
        self->rate_samples++;
    self->next_rate_sample = now + 1000;
}

//  The broker's status as a StatusReport (status.h).
static int s_status_build (broker_t *self, status_parts_t *parts)
{
    status_view_t view = {
        .table = self->table,
        .peers = self->peers,
        .finished = self->finished,
        .job_times = self->job_times,
        .count = &self->count,
        .broker_id = self->broker_id,
        .sink = self->sink ? self->sink->name : NULL,
        .now = zclock_mono (),
        .wall = zclock_time (),
        .started_at = self->started_at,
        .rate = s_rate (self),
        .max_memory = self->config.max_memory,
        .throttled = self->throttled,
        .journal_bytes = self->journal ? sl_journal_total_bytes (self->journal) : 0,
        .journal = self->journal ? sl_journal_dir (self->journal) : NULL,
    };
    return status_build (&view, parts);
}

//  Answers COMMAND_STATUS: jobs, workers, counters.
static void s_status (broker_t *self, zframe_t *routing_id)
{
    status_parts_t parts;
    if (s_status_build (self, &parts)) {
        s_command_reply (self, routing_id, false, "out of memory");
        return;
    }
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_STATUS_REPORT;
    env.status_report = &parts.report;
    s_reply (self, routing_id, &env);
    status_free (&parts);
}

//  The status as `sluice-ctl status --json` prints it, for the dashboard.
static json_t *s_status_doc (void *arg)
{
    broker_t *self = (broker_t *) arg;
    status_parts_t parts;
    if (s_status_build (self, &parts))
        return NULL;
    json_t *doc = sl_status_json (&parts.report);
    status_free (&parts);
    return doc;
}

//  Takes a sample for the dashboard's charts once a second.
static void s_history_tick (broker_t *self)
{
    int64_t wall = zclock_time ();
    if (!history_due (self->history, wall))
        return;
    history_sample_t sample = { 0 };
    sample.time_ms = wall;
    sample.completed = self->count.results_in;
    sample.failed = self->count.completed [SL_STATUS_FAILED] +
                    self->count.completed [SL_STATUS_TIMEOUT] +
                    self->count.completed [SL_STATUS_CANCELLED];
    sample.queued = sl_table_queued (self->table);
    sample.running = sl_table_running (self->table);
    for (sl_peer_t *peer = sl_peers_worker_first (self->peers); peer;
         peer = sl_peers_worker_next (self->peers)) {
        sample.busy += peer->running;
        sample.slots += peer->slots;
    }
    history_add (self->history, &sample);
}

//  Adds the seqs of job that never arrived (up to its total) as empty
//  tasks, journaled, so that a cancel can end them too. Returns how many,
//  or -1 with why if there are too many.
static int64_t s_fill_absent (broker_t *self, const char *job_id, char *why, size_t whylen)
{
    uint64_t ranges [2 * MAX_MISSING_RANGES];
    int64_t filled = 0;
    size_t nranges;
    while ((nranges = sl_table_missing (self->table, job_id, ranges, MAX_MISSING_RANGES))) {
        uint64_t count = 0;
        for (size_t r = 0; r < nranges; r++)
            count += ranges [2 * r + 1] - ranges [2 * r] + 1;
        if (filled + count > MAX_FILL_SEQS) {
            snprintf (why, whylen,
                      "job %s lacks more than %d of its tasks; run its ventilator again with "
                      "--job %s first",
                      job_id, MAX_FILL_SEQS, job_id);
            return -1;
        }
        for (size_t r = 0; r < nranges; r++) {
            Sluice__Task tasks [64];
            Sluice__Task *ptrs [64];
            size_t n = 0;
            for (uint64_t seq = ranges [2 * r]; seq <= ranges [2 * r + 1]; seq++) {
                if (sl_table_submit (self->table, job_id, seq, NULL, 0, 0, 0) != SL_TABLE_OK)
                    continue;
                self->count.tasks_in++;
                Sluice__Task init = SLUICE__TASK__INIT;
                tasks [n] = init;
                tasks [n].seq = seq;
                ptrs [n] = &tasks [n];
                if (++n == 64 || seq == ranges [2 * r + 1]) {
                    if (self->journal) {
                        char err [512];
                        s_journal_appended (
                            self,
                            sl_durable_tasks (self->journal, job_id, ptrs, n, err, sizeof err),
                            err);
                    }
                    filled += (int64_t) n;
                    n = 0;
                }
            }
        }
    }
    return filled;
}

//  COMMAND_CANCEL: every task of the job not yet ended ends `cancelled`
//  (queued ones at once; running ones too, and their workers are told to
//  stop them). The sink gets a record for each, so the job finishes as
//  usual. A job whose ventilator has not sent its end yet is cut at the
//  highest seq that arrived.
static void s_cancel (broker_t *self, zframe_t *routing_id, const char *job_id)
{
    char message [512];
    sl_job_t *job = sl_job_id_valid (job_id) ? sl_table_job (self->table, job_id) : NULL;
    if (!job) {
        snprintf (message, sizeof message, "%s: %s", job_id,
                  s_finished_lookup (self, job_id) ? "already finished" : "no such job");
        s_command_reply (self, routing_id, false, message);
        return;
    }
    const sl_job_counts_t *counts = sl_job_counts (job);
    if (counts->total_known && counts->done == counts->total) {
        snprintf (message, sizeof message,
                  "%s: already finished: all %llu of its tasks have ended, nothing to cancel",
                  job_id, (unsigned long long) counts->total);
        s_command_reply (self, routing_id, false, message);
        return;
    }
    if (self->journal_failed) {
        snprintf (message, sizeof message, "cannot cancel now: %.400s", self->journal_error);
        s_command_reply (self, routing_id, false, message);
        return;
    }
    s_journal_tag (self);
    if (!counts->total_known) {
        uint64_t total = sl_job_highest (job);
        if (sl_table_end (self->table, job_id, total) == SL_TABLE_OK && self->journal) {
            char err [512];
            s_journal_appended (
                self, sl_durable_end (self->journal, job_id, total, err, sizeof err), err);
        }
    }
    int64_t filled = s_fill_absent (self, job_id, message, sizeof message);
    if (filled < 0) {
        s_command_reply (self, routing_id, false, message);
        return;
    }
    size_t running = counts->running;
    size_t cancelled = sl_table_cancel (self->table, job_id);
    self->check_finished = true;
    //  Workers stop what they run of it (their results would be dropped).
    Sluice__CancelJob cancel = SLUICE__CANCEL_JOB__INIT;
    cancel.job = (char *) job_id;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_CANCEL_JOB;
    env.cancel_job = &cancel;
    for (sl_peer_t *peer = sl_peers_worker_first (self->peers); peer;
         peer = sl_peers_worker_next (self->peers))
        s_reply (self, peer->routing_id, &env);
    snprintf (message, sizeof message,
              "job %s cancelled: %zu tasks ended (%zu of them were running), %llu of %llu had "
              "ended before",
              job_id, cancelled, running, (unsigned long long) (counts->done - cancelled),
              (unsigned long long) counts->total);
    sl_warn ("%s", message);
    s_command_reply (self, routing_id, true, message); //  once the cancel is durable
}

//  COMMAND_DRAIN: the worker takes no new task, hands back those it has
//  not started, finishes the others and exits.
static void s_drain (broker_t *self, zframe_t *routing_id, const char *name)
{
    char message [512];
    sl_peer_t *peer = s_peer_by_name (self, name);
    if (!peer || peer->role != SLUICE__ROLE__ROLE_WORKER) {
        snprintf (message, sizeof message, "%s: no such worker (sluice-ctl status lists them)",
                  name);
        s_command_reply (self, routing_id, false, message);
        return;
    }
    Sluice__Drain drain = SLUICE__DRAIN__INIT;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_DRAIN;
    env.drain = &drain;
    s_reply (self, peer->routing_id, &env);
    peer->draining = true;
    snprintf (message, sizeof message, "worker %s told to drain (%u tasks running)", peer->name,
              peer->running);
    sl_info ("%s", message);
    s_command_reply (self, routing_id, true, message);
}

static void s_on_command (broker_t *self, zframe_t *routing_id, Sluice__Command *command)
{
    switch (command->kind) {
        case SLUICE__COMMAND_KIND__COMMAND_STATUS:
            s_status (self, routing_id);
            break;
        case SLUICE__COMMAND_KIND__COMMAND_CANCEL:
            s_cancel (self, routing_id, command->target);
            break;
        case SLUICE__COMMAND_KIND__COMMAND_DRAIN:
            s_drain (self, routing_id, command->target);
            break;
        default:
            s_bad (self, "control", NULL, "unknown command");
            s_command_reply (self, routing_id, false, "unknown command");
    }
}

//  Prometheus text format (version 0.0.4) for GET /metrics.
static char *s_render_metrics (broker_t *self, int *status, const char **content_type)
{
    metrics_view_t view = {
        .count = &self->count,
        .queued = sl_table_queued (self->table),
        .running = sl_table_running (self->table),
        .undelivered = sl_table_deliverable (self->table, NULL) + sl_table_unacked (self->table),
        .jobs = sl_table_job_count (self->table),
        .workers = sl_peers_workers (self->peers),
        .sink_attached = self->sink != NULL,
        .memory_held = sl_table_held (self->table),
        .memory_limit = self->config.max_memory,
        .intake_paused = self->throttled,
        .journal_bytes = self->journal ? sl_journal_total_bytes (self->journal) : 0,
        .uptime_s = (double) (zclock_mono () - self->started_at) / 1000.0,
    };
    for (sl_peer_t *peer = sl_peers_worker_first (self->peers); peer;
         peer = sl_peers_worker_next (self->peers)) {
        view.worker_slots += peer->slots;
        view.workers_busy += peer->running ? 1 : 0;
    }
    size_t nqueues = sl_table_queue_count (self->table);
    metrics_queue_t *queues = calloc (nqueues ? nqueues : 1, sizeof *queues);
    if (!queues)
        return NULL;
    for (size_t q = 0; q < nqueues; q++) {
        sl_queue_t *queue = sl_table_queue_at (self->table, q);
        queues [q].name = sl_queue_name (queue);
        queues [q].queued = sl_queue_queued (queue);
        for (sl_peer_t *peer = sl_peers_worker_first (self->peers); peer;
             peer = sl_peers_worker_next (self->peers))
            queues [q].workers += status_serves (peer, queue);
    }
    view.queues = queues;
    view.nqueues = nqueues;
    char *text = metrics_render (&view);
    free (queues);
    *status = 200;
    *content_type = "text/plain; version=0.0.4; charset=utf-8";
    return text;
}

//  GET on --http: /metrics here, everything else from the dashboard.
static char *s_render_http (void *arg, const char *path, const char *query, int *status,
                            const char **content_type)
{
    broker_t *self = (broker_t *) arg;
    if (streq (path, "/metrics"))
        return s_render_metrics (self, status, content_type);
    dashboard_src_t src = { s_status_doc, self, self->failures, self->history };
    if (!streq (path, "/api/status"))
        return dashboard_render (&src, path, query, status, content_type);
    //  The status of 1,000 jobs and 500 workers takes ~8 ms to render: a
    //  burst of requests (500 browsers, or one client opening 500
    //  connections) shares one rendering instead of stalling the loop.
    int64_t now = zclock_mono ();
    if (!self->status_body || now - self->status_body_at >= STATUS_CACHE_MS) {
        zstr_free (&self->status_body);
        self->status_body = dashboard_render (&src, path, query, status, content_type);
        self->status_body_at = now;
    }
    *status = 200;
    *content_type = "application/json";
    return self->status_body ? strdup (self->status_body) : NULL;
}

//  --- Housekeeping -----------------------------------------------------------

static void s_expire_peers (broker_t *self, int64_t now)
{
    sl_peer_t *gone [256];
    size_t ngone = sl_peers_silent (self->peers, now, gone, 256); //  the rest next time
    for (size_t i = 0; i < ngone; i++) {
        sl_peer_t *peer = gone [i];
        if (peer == self->sink)
            s_sink_detach (self, "no heartbeat");
        else {
            char why [80];
            if (peer->bye_batch)
                snprintf (why, sizeof why, "left, and its last results did not come");
            else
                snprintf (why, sizeof why, "silent for %lld ms",
                          (long long) (now - peer->last_seen));
            s_worker_gone (self, peer, why);
        }
    }
    //  Results sent to the sink and not acknowledged for a while were lost
    //  on the way (or taken by a peer that is not the sink: anyone may
    //  connect to the delivery port unless CurveZMQ keeps them out): they
    //  are sent again; the sink writes each seq once.
    int64_t ack_timeout = (int64_t) ACK_TIMEOUT_BEATS * self->config.heartbeat_ms;
    if (self->sink && sl_table_unacked (self->table) && now - self->last_ack > ack_timeout) {
        size_t again = sl_table_unsend_all (self->table);
        sl_warn ("%zu results sent to the sink were not acknowledged within %lld ms: sending "
                 "them again",
                 again, (long long) ack_timeout);
        self->last_ack = now;
    }
    //  Tasks that no worker claimed in time were lost on the way.
    size_t expired = sl_table_expire (self->table, now);
    if (expired) {
        self->count.tasks_lost += expired;
        sl_warn ("%zu dispatched tasks were not claimed by a worker in time: queued again",
                 expired);
    }
}

//  Logs each worker's capacity: what it can run, runs, and has done.
static void s_report_workers (broker_t *self)
{
    if (sl_peers_workers (self->peers) == 0)
        return;
    uint32_t slots = 0, busy = 0;
    for (sl_peer_t *peer = sl_peers_worker_first (self->peers); peer;
         peer = sl_peers_worker_next (self->peers)) {
        sl_info ("worker %s: %u slots, %u busy, %llu tasks done%s", peer->name, peer->slots,
                 peer->running, (unsigned long long) peer->done,
                 self->config.fair && !peer->dispatch_id ? " (no credit yet)" : "");
        slots += peer->slots;
        busy += peer->running;
    }
    sl_info ("%zu workers: %u slots, %u busy; %zu tasks queued, %zu running",
             sl_peers_workers (self->peers), slots, busy, sl_table_queued (self->table),
             sl_table_running (self->table));
}

int broker_run (broker_t *self)
{
    assert (self);
    sl_info ("broker %s listening on %s (and the next %d ports), heartbeat %u ms", self->broker_id,
             self->config.bind, SL_PORT_COUNT - 1, self->config.heartbeat_ms);
    if (self->metrics)
        sl_info ("dashboard at http://%s/ and Prometheus metrics at /metrics%s",
                 self->config.metrics + (strncmp (self->config.metrics, "tcp://", 6) ? 0 : 6),
                 self->token [0] && !sl_endpoint_loopback (self->config.metrics)
                     ? " (requests need Authorization: Bearer JOIN-TOKEN)"
                     : "");
    s_insecure_warning (self, zclock_mono ());
    zmq_pollitem_t items [] = {
        { zsock_resolve (self->control), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (self->intake), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (self->results), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (self->dispatch), 0, ZMQ_POLLOUT, 0 },
        { zsock_resolve (self->delivery), 0, ZMQ_POLLOUT, 0 },
        { NULL, self->journal ? sl_journal_fd (self->journal) : -1, ZMQ_POLLIN, 0 },
        { self->metrics ? zsock_resolve (http_sock (self->metrics)) : NULL, 0, ZMQ_POLLIN, 0 },
    };
    //  The journal's answers (NATS) and the HTTP socket only if there are.
    int nitems = 5;
    int answers = items [5].fd >= 0 ? nitems++ : -1;
    int http = self->metrics ? nitems++ : -1;
    if (http >= 0)
        items [http] = items [6];
    int64_t tick = self->config.heartbeat_ms / 2 > 0 ? self->config.heartbeat_ms / 2 : 1;
    self->next_housekeeping = zclock_mono () + tick;
    self->next_report = zclock_mono () + WORKER_REPORT_MS;
    while (!zsys_interrupted && !self->fenced) {
        //  Wait for writability only when there is something to write:
        //  the PUSH to workers when tasks are queued, the PUSH to the sink
        //  when there is something for it. Under fair dispatch the dispatch
        //  ROUTER is read for credits instead.
        bool dealing = sl_table_queued (self->table) && !self->grace_until && !self->journal_failed;
        short dispatch_events = self->config.fair ? ZMQ_POLLIN : dealing ? ZMQ_POLLOUT : 0;
        bool to_sink = self->sink && (self->check_finished || zlistx_size (self->job_starts) ||
                                      sl_table_sendable (self->table, NULL) ||
                                      s_outbox_ready (self, self->notices));
        items [1].events = s_throttled (self) ? 0 : ZMQ_POLLIN;
        //  Results not journaled would only pile up in memory: while the
        //  journal fails they wait in the workers (as while the broker is
        //  away) and in small socket buffers.
        items [2].events = self->journal_failed ? 0 : ZMQ_POLLIN;
        items [3].events = dispatch_events;
        items [4].events = to_sink ? ZMQ_POLLOUT : 0;
        int64_t now = zclock_mono ();
        int64_t wake = self->next_housekeeping;
        if (s_journal_wake (self) < wake)
            wake = s_journal_wake (self);
        if (self->grace_until && self->grace_until < wake)
            wake = self->grace_until;
        long timeout = wake > now ? (long) (wake - now) : 0;
        int rc = zmq_poll (items, nitems, timeout);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            sl_error ("poll failed: %s", zmq_strerror (errno));
            break;
        }
        if (self->config.fair && (items [3].revents & ZMQ_POLLIN))
            s_on_dispatch (self);
        if (items [0].revents & ZMQ_POLLIN)
            s_on_control (self);
        if (items [1].revents & ZMQ_POLLIN)
            s_on_intake (self);
        if (items [2].revents & ZMQ_POLLIN)
            s_on_results (self);
        if (answers >= 0 && (items [answers].revents & ZMQ_POLLIN))
            s_journal_poll (self);
        if (http >= 0 && (items [http].revents & ZMQ_POLLIN))
            http_handle (self->metrics, s_render_http, self);
        s_dispatch (self);
        s_deliver (self);
        s_finish_jobs (self);
        s_outbox_flush (self, self->notices, self->delivery);
        s_outbox_flush (self, self->answers, self->control);
        now = zclock_mono ();
        s_journal_tick (self, now);
        s_rate_tick (self, now);
        s_history_tick (self);
        if (now >= self->next_report) {
            s_report_workers (self);
            self->next_report = now + WORKER_REPORT_MS;
        }
        if (now >= self->next_housekeeping) {
            s_expire_peers (self, now);
            s_token_check (self);
            s_insecure_warning (self, now);
            if (self->metrics)
                http_expire (self->metrics, now);
            self->next_housekeeping = now + tick;
        }
    }
    s_journal_sync (self);
    sl_info ("broker stopping: %llu tasks accepted, %llu results, %llu runs lost, %llu handed "
             "back, %llu retried, %llu duplicates dropped, %llu bad messages dropped",
             (unsigned long long) self->count.tasks_in, (unsigned long long) self->count.results_in,
             (unsigned long long) self->count.tasks_lost,
             (unsigned long long) self->count.tasks_released,
             (unsigned long long) self->count.retries, (unsigned long long) self->count.duplicates,
             (unsigned long long) self->count.bad_messages);
    if (self->fenced) {
        sl_error ("broker stopped: another broker took over the journal %s; nothing that was "
                  "not in the journal was confirmed",
                  sl_journal_dir (self->journal));
        return -1;
    }
    return 0;
}
