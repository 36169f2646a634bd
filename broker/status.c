/*  status - the broker's status report, see status.h.
 */
#include "status.h"

#include <string.h>

bool status_serves (const sl_peer_t *peer, const sl_queue_t *queue)
{
    for (size_t i = 0; i < peer->nqueues; i++)
        if (peer->queues [i] == queue)
            return true;
    return false;
}

static void s_job_status (Sluice__JobStatus *js, const char *id, const sl_job_counts_t *c)
{
    js->id = (char *) id;
    js->total = c->total_known ? c->total : 0;
    js->received = c->received;
    js->queued = c->queued;
    js->running = c->running;
    js->done = c->done;
    js->ok = c->ok;
    js->failed = c->failed;
    js->timeout = c->timeout;
    js->cancelled = c->cancelled;
    js->delivered = c->delivered;
}

void status_free (status_parts_t *parts)
{
    free (parts->jobs);
    free (parts->job_ptrs);
    free (parts->workers);
    free (parts->worker_ptrs);
    free (parts->queue_names);
    free (parts->queues);
    free (parts->queue_ptrs);
    free (parts->collectors);
    free (parts->collector_ptrs);
    free (parts->collector_jobs);
    memset (parts, 0, sizeof *parts);
}

//  The jobs in the table, then the most recently finished ones.
static size_t s_jobs_fill (const status_view_t *view, status_parts_t *parts, size_t jobs_max,
                           size_t nfinished)
{
    Sluice__JobStatus *jobs = parts->jobs;
    size_t n = 0;
    for (sl_job_t *job = sl_table_job_first (view->table); job && n < jobs_max;
         job = sl_table_job_next (view->table)) {
        Sluice__JobStatus init = SLUICE__JOB_STATUS__INIT;
        jobs [n] = init;
        s_job_status (&jobs [n], sl_job_id (job), sl_job_counts (job));
        int64_t *since =
            view->job_times ? (int64_t *) zhashx_lookup (view->job_times, sl_job_id (job)) : NULL;
        jobs [n].age_ms = view->now - (since ? *since : view->started_at);
        jobs [n].finished = sl_job_finished (job);
        jobs [n].queue = (char *) sl_queue_name (sl_job_queue (job));
        parts->job_ptrs [n] = &jobs [n];
        n++;
    }
    for (size_t i = 0; i < nfinished; i++) {
        sl_finished_job_t *done = sl_finished_newest (view->finished, i);
        Sluice__JobStatus init = SLUICE__JOB_STATUS__INIT;
        jobs [n] = init;
        s_job_status (&jobs [n], done->id, &done->counts);
        jobs [n].age_ms = view->wall - done->finished_at;
        jobs [n].finished = true;
        parts->job_ptrs [n] = &jobs [n];
        n++;
    }
    return n;
}

static size_t s_workers_fill (const status_view_t *view, status_parts_t *parts, size_t nworkers)
{
    Sluice__WorkerStatus *workers = parts->workers;
    char **queue_names = parts->queue_names;
    size_t n = 0;
    for (sl_peer_t *peer = sl_peers_worker_first (view->peers); peer && n < nworkers;
         peer = sl_peers_worker_next (view->peers)) {
        Sluice__WorkerStatus init = SLUICE__WORKER_STATUS__INIT;
        workers [n] = init;
        workers [n].name = peer->name;
        workers [n].slots = peer->slots;
        workers [n].busy = peer->running;
        workers [n].done = peer->done;
        workers [n].last_heartbeat_ms = view->now - peer->last_seen;
        workers [n].draining = peer->draining;
        for (size_t q = 0; q < peer->nqueues; q++)
            queue_names [n * SL_PEERS_MAX_QUEUES + q] = (char *) sl_queue_name (peer->queues [q]);
        workers [n].queues = &queue_names [n * SL_PEERS_MAX_QUEUES];
        workers [n].n_queues = peer->nqueues;
        parts->worker_ptrs [n] = &workers [n];
        n++;
    }
    return n;
}

static void s_queues_fill (const status_view_t *view, status_parts_t *parts, size_t nqueues)
{
    Sluice__QueueStatus *queues = parts->queues;
    for (size_t q = 0; q < nqueues; q++) {
        sl_queue_t *queue = sl_table_queue_at (view->table, q);
        Sluice__QueueStatus init = SLUICE__QUEUE_STATUS__INIT;
        queues [q] = init;
        queues [q].name = (char *) sl_queue_name (queue);
        queues [q].queued = sl_queue_queued (queue);
        for (sl_peer_t *peer = sl_peers_worker_first (view->peers); peer;
             peer = sl_peers_worker_next (view->peers))
            if (status_serves (peer, queue)) {
                queues [q].workers++;
                queues [q].slots += peer->slots;
            }
        parts->queue_ptrs [q] = &queues [q];
    }
}

//  The broker's own figures.
static void s_broker_fill (const status_view_t *view, Sluice__StatusReport *report)
{
    report->broker_id = (char *) view->broker_id;
    report->uptime_ms = view->now - view->started_at;
    report->sink = (char *) (view->sink ? view->sink : "");
    report->rate = view->rate;
    report->tasks_accepted = view->count->tasks_in;
    report->tasks_dispatched = view->count->tasks_dispatched;
    report->results = view->count->results_in;
    report->retries = view->count->retries;
    report->runs_lost = view->count->tasks_lost;
    report->duplicates = view->count->duplicates;
    report->bad_messages = view->count->bad_messages;
    report->memory_held = sl_table_held (view->table);
    report->memory_limit = view->max_memory;
    report->throttled = view->throttled;
    report->journal_bytes = view->journal_bytes;
    report->journal = (char *) (view->journal ? view->journal : "");
    report->role = (char *) (view->role ? view->role : "");
    report->active_broker = (char *) (view->active_broker ? view->active_broker : "");
    report->journal_seq = view->journal_seq;
    report->follow_age_ms = view->follow_age_ms;
    report->runs_adopted = view->count->tasks_adopted;
}

//  The collectors and the jobs each holds (at most SL_COLLECTORS_MAX_JOBS
//  of them listed). Returns how many collectors.
static size_t s_collectors_fill (const status_view_t *view, status_parts_t *parts, size_t max)
{
    size_t n = 0;
    for (const sl_collector_t *c = view->collectors ? sl_collectors_first (view->collectors) : NULL;
         c && n < max; c = sl_collectors_next (view->collectors)) {
        Sluice__CollectorStatus init = SLUICE__COLLECTOR_STATUS__INIT;
        Sluice__CollectorStatus *cs = &parts->collectors [n];
        *cs = init;
        cs->name = (char *) c->name;
        cs->catch_all = c->catch_all;
        cs->in_flight = c->in_flight;
        cs->delivered = c->delivered;
        cs->jobs = &parts->collector_jobs [n * SL_COLLECTORS_MAX_JOBS];
        parts->collector_ptrs [n] = cs;
        n++;
    }
    //  The jobs after the walk: sl_collectors_jobs has a cursor of its own.
    for (size_t i = 0; i < n; i++)
        parts->collectors [i].n_jobs =
            sl_collectors_jobs (view->collectors, parts->collectors [i].name,
                                (const char **) parts->collectors [i].jobs, SL_COLLECTORS_MAX_JOBS);
    return n;
}

//  The standbys the active broker hears from, their lag behind its
//  stream sequence and the age of their last announcement.
static void s_standbys_fill (const status_view_t *view, status_parts_t *parts)
{
    const sl_standbys_t *list = view->standbys;
    for (size_t i = 0; list && i < list->n; i++) {
        const sl_standby_t *entry = &list->entries [i];
        Sluice__StandbyStatus init = SLUICE__STANDBY_STATUS__INIT;
        Sluice__StandbyStatus *ss = &parts->standbys [i];
        *ss = init;
        ss->address = (char *) entry->said.broker;
        ss->applied_seq = entry->said.seq;
        ss->lag = sl_standby_lag (entry, view->journal_seq);
        ss->last_seen_ms = view->now - entry->seen_at;
        parts->standby_ptrs [i] = ss;
    }
    parts->report.standbys = parts->standby_ptrs;
    parts->report.n_standbys = list ? list->n : 0;
}

int status_build (const status_view_t *view, status_parts_t *parts)
{
    memset (parts, 0, sizeof *parts);
    size_t njobs = sl_table_job_count (view->table);
    size_t nworkers = sl_peers_workers (view->peers);
    size_t nfinished = sl_finished_count (view->finished);
    if (nfinished > STATUS_FINISHED_JOBS)
        nfinished = STATUS_FINISHED_JOBS;
    size_t jobs_max = njobs + nfinished;
    size_t nqueues = sl_table_queue_count (view->table);
    parts->jobs = calloc (jobs_max ? jobs_max : 1, sizeof *parts->jobs);
    parts->job_ptrs = calloc (jobs_max ? jobs_max : 1, sizeof *parts->job_ptrs);
    parts->workers = calloc (nworkers ? nworkers : 1, sizeof *parts->workers);
    parts->worker_ptrs = calloc (nworkers ? nworkers : 1, sizeof *parts->worker_ptrs);
    parts->queue_names = calloc ((nworkers ? nworkers : 1) * SL_PEERS_MAX_QUEUES, sizeof (char *));
    parts->queues = calloc (nqueues ? nqueues : 1, sizeof *parts->queues);
    parts->queue_ptrs = calloc (nqueues ? nqueues : 1, sizeof *parts->queue_ptrs);
    size_t ncollectors = view->collectors ? sl_collectors_size (view->collectors) : 0;
    size_t nc = ncollectors ? ncollectors : 1;
    parts->collectors = calloc (nc, sizeof *parts->collectors);
    parts->collector_ptrs = calloc (nc, sizeof *parts->collector_ptrs);
    parts->collector_jobs = calloc (nc * SL_COLLECTORS_MAX_JOBS, sizeof (char *));
    if (!parts->jobs || !parts->job_ptrs || !parts->workers || !parts->worker_ptrs ||
        !parts->queue_names || !parts->queues || !parts->queue_ptrs || !parts->collectors ||
        !parts->collector_ptrs || !parts->collector_jobs) {
        status_free (parts);
        return -1;
    }
    Sluice__StatusReport init_report = SLUICE__STATUS_REPORT__INIT;
    parts->report = init_report;
    Sluice__StatusReport *report = &parts->report;
    report->n_jobs = s_jobs_fill (view, parts, jobs_max, nfinished);
    report->jobs = parts->job_ptrs;
    report->n_workers = s_workers_fill (view, parts, nworkers);
    report->workers = parts->worker_ptrs;
    s_queues_fill (view, parts, nqueues);
    report->queues = parts->queue_ptrs;
    report->n_queues = nqueues;
    report->n_collectors = s_collectors_fill (view, parts, ncollectors);
    report->collectors = parts->collector_ptrs;
    s_broker_fill (view, report);
    s_standbys_fill (view, parts);
    return 0;
}
