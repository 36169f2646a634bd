/*  sl_status_json - a broker's StatusReport as JSON, see sl_status_json.h.  */
#include "sl_status_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sl_status_host_pid (const char *name, char *host, size_t hostlen, const char **pid)
{
    const char *colon = strrchr (name, ':');
    if (colon) {
        snprintf (host, hostlen, "%.*s", (int) (colon - name), name);
        *pid = colon + 1;
    } else {
        snprintf (host, hostlen, "%s", name);
        *pid = "";
    }
}

json_t *sl_status_json (const Sluice__StatusReport *r)
{
    json_t *jobs = json_array ();
    for (size_t i = 0; i < r->n_jobs; i++) {
        const Sluice__JobStatus *j = r->jobs [i];
        json_t *job = json_pack (
            "{s:s, s:I, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
            "s:f, s:b}",
            "id", j->id, "total", (json_int_t) j->total, "total_known",
            j->total != 0 || j->finished, "received", (json_int_t) j->received, "queued",
            (json_int_t) j->queued, "running", (json_int_t) j->running, "done",
            (json_int_t) j->done, "ok", (json_int_t) j->ok, "failed", (json_int_t) j->failed,
            "timeout", (json_int_t) j->timeout, "cancelled", (json_int_t) j->cancelled, "delivered",
            (json_int_t) j->delivered, "age_s", j->age_ms / 1000.0, "finished", j->finished);
        if (j->queue [0])
            json_object_set_new (job, "queue", json_string (j->queue));
        json_array_append_new (jobs, job);
    }
    json_t *workers = json_array ();
    for (size_t i = 0; i < r->n_workers; i++) {
        const Sluice__WorkerStatus *w = r->workers [i];
        char host [256];
        const char *pid;
        sl_status_host_pid (w->name, host, sizeof host, &pid);
        json_t *worker =
            json_pack ("{s:s, s:s, s:I, s:i, s:i, s:I, s:f, s:b}", "name", w->name, "host", host,
                       "pid", (json_int_t) strtoll (pid, NULL, 10), "slots", (int) w->slots, "busy",
                       (int) w->busy, "done", (json_int_t) w->done, "last_heartbeat_s",
                       w->last_heartbeat_ms / 1000.0, "draining", w->draining);
        json_t *names = json_array ();
        for (size_t q = 0; q < w->n_queues; q++)
            json_array_append_new (names, json_string (w->queues [q]));
        json_object_set_new (worker, "queues", names);
        json_array_append_new (workers, worker);
    }
    json_t *queues = json_array ();
    for (size_t i = 0; i < r->n_queues; i++) {
        const Sluice__QueueStatus *q = r->queues [i];
        json_array_append_new (queues, json_pack ("{s:s, s:I, s:i, s:i}", "name", q->name, "queued",
                                                  (json_int_t) q->queued, "workers",
                                                  (int) q->workers, "slots", (int) q->slots));
    }
    json_t *collectors = json_array ();
    for (size_t i = 0; i < r->n_collectors; i++) {
        const Sluice__CollectorStatus *c = r->collectors [i];
        json_t *held = json_array ();
        for (size_t j = 0; j < c->n_jobs; j++)
            json_array_append_new (held, json_string (c->jobs [j]));
        json_array_append_new (collectors,
                               json_pack ("{s:s, s:b, s:I, s:I, s:o}", "name", c->name,
                                          "catch_all", c->catch_all, "in_flight",
                                          (json_int_t) c->in_flight, "delivered",
                                          (json_int_t) c->delivered, "jobs", held));
    }
    json_t *doc = json_pack (
        "{s:s, s:f, s:s?, s:f, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}, "
        "s:{s:I, s:I, s:b}, s:I, s:s?, s:o, s:o, s:o}",
        "broker_id", r->broker_id, "uptime_s", r->uptime_ms / 1000.0, "sink",
        r->sink [0] ? r->sink : NULL, "rate", r->rate, "counters", "tasks_accepted",
        (json_int_t) r->tasks_accepted, "tasks_dispatched", (json_int_t) r->tasks_dispatched,
        "results", (json_int_t) r->results, "retries", (json_int_t) r->retries, "runs_lost",
        (json_int_t) r->runs_lost, "runs_adopted", (json_int_t) r->runs_adopted, "duplicates",
        (json_int_t) r->duplicates, "bad_messages", (json_int_t) r->bad_messages, "memory", "held", (json_int_t) r->memory_held, "limit",
        (json_int_t) r->memory_limit, "intake_paused", r->throttled, "journal_bytes",
        (json_int_t) r->journal_bytes, "journal", r->journal [0] ? r->journal : NULL, "jobs", jobs, "workers", workers, "queues", queues);
    if (doc)
        json_object_set_new (doc, "collectors", collectors);
    else
        json_decref (collectors);
    //  Standby brokers (--standby): this broker's role on the shared stream.
    if (doc && r->role && r->role [0])
        json_object_set_new (
            doc, "ha",
            json_pack ("{s:s, s:s?, s:I, s:I}", "role", r->role, "active_broker",
                       r->active_broker && r->active_broker [0] ? r->active_broker : NULL,
                       "journal_seq", (json_int_t) r->journal_seq, "follow_age_ms",
                       (json_int_t) r->follow_age_ms));
    //  The active broker: the standbys it hears from, and their lag.
    if (doc && r->role && r->role [0]) {
        json_t *standbys = json_array ();
        for (size_t i = 0; i < r->n_standbys; i++) {
            const Sluice__StandbyStatus *s = r->standbys [i];
            json_array_append_new (
                standbys, json_pack ("{s:s, s:I, s:I, s:f}", "address", s->address, "applied_seq",
                                     (json_int_t) s->applied_seq, "lag_records",
                                     (json_int_t) s->lag, "last_seen_s", s->last_seen_ms / 1000.0));
        }
        json_object_set_new (doc, "standbys", standbys);
    }
    return doc;
}
