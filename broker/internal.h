/*  internal - what the broker's modules share: its state and the functions
    one module calls in another. Not part of the broker's interface
    (broker.h); included only by the broker's own .c files.
*/
#ifndef BROKER_INTERNAL_H_INCLUDED
#define BROKER_INTERNAL_H_INCLUDED

#include "broker.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admit.h"
#include "announce.h"
#include "attach.h"
#include "collectors.h"
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
#include "role.h"
#include "sl_curve.h"
#include "sl_discover.h"
#include "sl_endpoint.h"
#include "sl_keys.h"
#include "sl_log.h"
#include "sl_proto.h"
#include "sl_status_json.h"
#include "sl_util.h"
#include "standbys.h"
#include "status.h"
#include "table.h"

#define READ_BURST 256        //  messages read from one socket per loop turn
#define MAX_BATCH_TASKS 64    //  tasks in one TaskBatch to a worker
#define MAX_BATCH_RESULTS 256 //  results in one ResultBatch to the sink
#define MAX_BATCH_BYTES (1 << 20)
#define GRACE_BEATS 2                //  after a restart: heartbeats to wait for workers' claims
#define TAKEOVER_GRACE_MS 1000       //  after a takeover: a heartbeat more, at most this
#define JOURNAL_RETRY_MIN_MS 100     //  a failed journal is tried again after this long,
#define JOURNAL_RETRY_MAX_MS 2000    //  twice as long each time, up to this
#define JOURNAL_POLL_MS 1000         //  a commit in flight is looked at this often without answers
#define MAX_HOLD_WORKERS_BYTES 32768 //  workers named in a hold message, at most (else "*")
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
#define DELIVERY_RETRY_MS 5          //  a collector's DEALER not connected yet: retry
#define PUSH_SNDHWM 2                //  --dispatch push: batches buffered per worker
#define INSECURE_WARNING_MS (3600 * 1000) //  --insecure: the warning again every hour
#define FAILURES_PER_JOB 10000            //  failed tasks kept per job for the dashboard
#define FAILURES_MAX_BYTES (64ULL << 20)  //  failed tasks kept in all, at most (bytes)
#define FAILURES_MEMORY_SHARE 16          //  ... and at most this fraction of --max-memory
#define STATUS_CACHE_MS 200 //  GET /api/status within this long of another gets the same body

//  A collector's delivery (deliver.c): sinks and libsluice clients, each a
//  peer of role sink with its DEALER on the delivery port.
typedef struct {
    sl_peer_t *peer;       //  its session
    zframe_t *rid;         //  its routing id on the delivery port (its name)
    zlistx_t *job_starts;  //  job ids to announce to it (owned strings)
    sl_outbox_t *notices;  //  its JobDone, waiting for their records (outbox.h)
    int64_t retry;         //  its DEALER not connected at the last try: again then (ms)
    int64_t last_ack;      //  when it last acknowledged results (ms)
} collector_io_t;

struct _broker_t {
    broker_config_t config;             //  copy of what main gave
    char broker_id [24];                //  random, new at each start
    zsock_t *control;                   //  ROUTER: hellos, heartbeats, acks, queries
    zsock_t *intake;                    //  PULL from ventilators
    zsock_t *dispatch;                  //  PUSH to workers
    zsock_t *results;                   //  PULL from workers
    zsock_t *delivery;                  //  ROUTER to the collectors (routing id = name)
    sl_table_t *table;                  //  every task's state
    sl_peers_t *peers;                  //  the workers and sinks that said hello (peers.h)
    sl_fair_t *fair;                    //  fair dispatch: which worker gets tasks next
    uint64_t worker_slots;              //  slots of every worker
    broker_counters_t count;            //  what it counted since it started (metrics.h)
    sl_collectors_t *collectors;        //  who collects which job, their credit (collectors.h)
    zhashx_t *collecting;               //  name -> collector_io_t: each collector's delivery
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
    bool checkpointing;                 //  writing one, or waiting for it to be durable: no other
                                        //  rotation meanwhile
    uint64_t checkpoint_segment;        //  the checkpoint waiting to be durable: its segment (0: none)
    uint64_t checkpoint_end;            //  ... the journal's appended position at its end
    int64_t checkpoint_started;         //  ... when it began (ms)
    uint64_t checkpoint_before;         //  ... the journal's bytes before it
    bool journal_failed;                //  the journal cannot be written: no task is accepted
    char journal_error [512];           //  why
    int64_t journal_retry;              //  when to try committing again (ms)
    int64_t journal_polled;             //  when the tick last took the journal's answers (ms)
    int64_t journal_backoff;            //  the wait before the retry after the next (ms)
    bool fenced;                        //  another broker wrote to the journal: stop serving
    int64_t rotate_retry;               //  when to try a failed segment rotation again (ms), or 0
    sl_outbox_t *answers;               //  control replies waiting for their records (outbox.h)
    int64_t next_housekeeping;          //  when to expire silent peers next (ms)
    int64_t next_report;                //  when to log the workers' capacity next (ms)
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
    bool shared;                        //  --standby: the journal is shared with standbys
    sl_role_t role;                     //  active, standby or deposed (role.h)
    char advertise [256];               //  where clients reach this broker (hold messages)
    sl_ratelimit_t role_log;            //  rate limit for logging follow and hold failures
    zhashx_t *awaited;                  //  after a takeover: the old broker's workers that
                                        //  have not claimed their runs yet, or NULL (unknown)
    sl_announce_t *announce;            //  --standby: the brokers' announcements (NATS), or NULL
    int64_t next_announce;              //  a standby: when to announce itself next (ms)
    sl_standbys_t standbys;             //  the active broker: the standbys it hears from
    sl_ratelimit_t announce_log;        //  rate limit for bad or failed announcements
    sl_discover_t *beacon;              //  --discover: the UDP beacon (main.c's), or NULL
    bool beacon_standby;                //  what the beacon says now
};

//  broker.c
void broker_free_item (void **item_p);
void broker_bad (broker_t *self, const char *where, const char *from, const char *why);
void broker_event (broker_t *self, sl_log_level_t level, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
void broker_key (zframe_t *routing_id, char *key, size_t keylen);
void broker_reply (broker_t *self, zframe_t *routing_id, sl_env_t *env);
sl_finished_job_t *broker_finished_lookup (broker_t *self, const char *job_id);
void broker_remember (broker_t *self, const char *job_id, const sl_job_counts_t *counts,
                      int64_t finished_at, const sl_failed_t *failed);

//  secure.c
int broker_curve_setup (broker_t *self, char *err, size_t errlen);
bool broker_admitted (broker_t *self, const char *key);
void broker_metrics_guard (broker_t *self);
void broker_token_check (broker_t *self);
void broker_insecure_warning (broker_t *self, int64_t now);

//  commit.c
void broker_journal_appended (broker_t *self, int rc, const char *err);
int broker_outbox_flush (broker_t *self, sl_outbox_t *outbox, zsock_t *sock);
bool broker_outbox_ready (broker_t *self, sl_outbox_t *outbox);
void broker_answer (broker_t *self, zframe_t *routing_id, sl_env_t *env);
void broker_notify (broker_t *self, collector_io_t *io, sl_env_t *env);
void broker_journal_tag (broker_t *self);
int broker_journal_commit (broker_t *self);
int broker_journal_sync (broker_t *self);
void broker_journal_poll (broker_t *self);
void broker_journal_held (broker_t *self);
void broker_journal_tick (broker_t *self, int64_t now);
int64_t broker_journal_wake (broker_t *self);
int broker_journal_open (broker_t *self, char *err, size_t errlen);
void broker_on_replayed_done (const char *job, const sl_job_counts_t *counts, int64_t finished_at,
                              const sl_failed_t *failed, void *arg);

//  standby.c
void broker_role_init (broker_t *self);
int broker_standby_run (broker_t *self);
bool broker_role_serving (broker_t *self, int64_t now);
void broker_standby_answer (broker_t *self, zframe_t *routing_id, sl_env_t *env);
int64_t broker_follow_age (broker_t *self);
void broker_standby_heard (broker_t *self, sl_peer_t *peer);

//  standbys_io.c
void broker_standbys_open (broker_t *self);
void broker_standbys_tick (broker_t *self, int64_t now);
void broker_standbys_close (broker_t *self);

//  session.c
void broker_peer_remove (broker_t *self, sl_peer_t *peer);
sl_peer_t *broker_peer_by_name (broker_t *self, const char *name);
void broker_worker_gone (broker_t *self, sl_peer_t *peer, const char *why);
void broker_welcome (broker_t *self, sl_peer_t *peer, char **jobs, size_t njobs);
const char *broker_from_start (broker_t *self, const char *job_id, char *why, size_t whylen);
void broker_on_control (broker_t *self);

//  attach_io.c
int broker_attach_setup (broker_t *self, char *err, size_t errlen);
void broker_attach_cleanup (broker_t *self);
void broker_on_attach_put (broker_t *self, Sluice__AttachPut *put);
void broker_on_attach_get (broker_t *self, zframe_t *routing_id, sl_peer_t *peer,
                           Sluice__AttachGet *get);

//  intake.c
bool broker_throttled (broker_t *self);
void broker_on_intake (broker_t *self);
void broker_on_results (broker_t *self);

//  dispatch.c
void broker_on_dispatch (broker_t *self);
bool broker_writable (zsock_t *sock);
void broker_dispatch (broker_t *self);

//  deliver.c
void broker_collector_detach (broker_t *self, sl_peer_t *peer, const char *why);
void broker_hello_sink (broker_t *self, sl_peer_t *peer, Sluice__Hello *hello);
void broker_job_started (broker_t *self, const char *job_id);
void broker_collectors_tick (broker_t *self, int64_t now);
int64_t broker_delivery_wake (broker_t *self);
void broker_notices_flush (broker_t *self);
void broker_io_flush (broker_t *self, collector_io_t *io, int64_t now);
int broker_collecting_new (broker_t *self);
void broker_collecting_destroy (broker_t *self);
bool broker_delivery_pending (broker_t *self);
void broker_on_delivery_input (broker_t *self);
void broker_on_ack (broker_t *self, sl_peer_t *peer, Sluice__Ack *ack);
void broker_deliver (broker_t *self);
void broker_finish_jobs (broker_t *self);

//  command.c
void broker_command_reply (broker_t *self, zframe_t *routing_id, bool ok, const char *message);
void broker_on_command (broker_t *self, zframe_t *routing_id, Sluice__Command *command);

//  report.c
void broker_rate_tick (broker_t *self, int64_t now);
void broker_status (broker_t *self, zframe_t *routing_id);
void broker_history_tick (broker_t *self);
char *broker_render_http (void *arg, const char *path, const char *query, int *status,
                          const char **content_type);

#endif
