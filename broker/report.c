/*  report - status, metrics and the dashboard's pages rendered from the broker's state.
    Part of the broker (see broker.c); shared state in internal.h.
*/
#include "internal.h"

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

void broker_rate_tick (broker_t *self, int64_t now)
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
        .sink = sl_collectors_first (self->collectors)
                    ? sl_collectors_first (self->collectors)->name
                    : NULL,
        .collectors = self->collectors,
        .now = zclock_mono (),
        .wall = zclock_time (),
        .started_at = self->started_at,
        .rate = s_rate (self),
        .max_memory = self->config.max_memory,
        .throttled = self->throttled,
        .journal_bytes = self->journal ? sl_journal_total_bytes (self->journal) : 0,
        .journal = self->journal ? sl_journal_dir (self->journal) : NULL,
        .role = self->shared ? sl_role_name (self->role.state) : NULL,
        .active_broker = self->shared ? sl_journal_holder (self->journal) : NULL,
        .journal_seq = self->journal ? sl_journal_last_seq (self->journal) : 0,
        .follow_age_ms = broker_follow_age (self),
        .standbys = self->role.state == SL_ROLE_ACTIVE ? &self->standbys : NULL,
    };
    return status_build (&view, parts);
}

//  Answers COMMAND_STATUS: jobs, workers, counters.
void broker_status (broker_t *self, zframe_t *routing_id)
{
    status_parts_t parts;
    if (s_status_build (self, &parts)) {
        broker_command_reply (self, routing_id, false, "out of memory");
        return;
    }
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_STATUS_REPORT;
    env.status_report = &parts.report;
    broker_reply (self, routing_id, &env);
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
void broker_history_tick (broker_t *self)
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
        .sink_attached = sl_collectors_size (self->collectors) > 0,
        .collectors = sl_collectors_size (self->collectors),
        .memory_held = sl_table_held (self->table),
        .memory_limit = self->config.max_memory,
        .intake_paused = self->throttled,
        .journal_bytes = self->journal ? sl_journal_total_bytes (self->journal) : 0,
        .ha = self->shared,
        .role = self->role.state == SL_ROLE_ACTIVE    ? 1
                : self->role.state == SL_ROLE_STANDBY ? 0
                                                      : -1,
        .journal_seq = self->journal ? sl_journal_last_seq (self->journal) : 0,
        .follow_age_ms = broker_follow_age (self),
        .takeovers = self->role.takeovers,
        .uptime_s = (double) (zclock_mono () - self->started_at) / 1000.0,
    };
    metrics_standby_t standbys [SL_STANDBYS_MAX];
    for (size_t i = 0; self->role.state == SL_ROLE_ACTIVE && i < self->standbys.n; i++) {
        const sl_standby_t *entry = &self->standbys.entries [i];
        standbys [i] = (metrics_standby_t){
            .address = entry->said.broker,
            .lag = sl_standby_lag (entry, view.journal_seq),
            .last_seen_s = (double) (zclock_mono () - entry->seen_at) / 1000.0,
        };
        view.nstandbys = i + 1;
    }
    view.standbys = standbys;
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
char *broker_render_http (void *arg, const char *path, const char *query, int *status,
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
