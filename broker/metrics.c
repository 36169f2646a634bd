/*  metrics - Prometheus text for the broker's counters, see metrics.h.
*/
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>

#define METRIC(out, name, type, help, value)                                                       \
    fprintf ((out),                                                                                \
             "# HELP sluice_" name " " help "\n# TYPE sluice_" name " " type "\n"                  \
             "sluice_" name " %llu\n",                                                             \
             (unsigned long long) (value))

//  A label value, escaped as the text format wants (\\, \", \n): a
//  standby's address came over the network.
static void s_label (FILE *out, const char *value)
{
    for (const char *c = value; *c; c++) {
        if (*c == '\\' || *c == '"')
            fprintf (out, "\\%c", *c);
        else if (*c == '\n')
            fputs ("\\n", out);
        else
            fputc (*c, out);
    }
}

//  Standby brokers (--standby): this broker's role on the shared stream.
static void s_render_ha (FILE *out, const metrics_view_t *view)
{
    if (!view->ha)
        return;
    METRIC (out, "broker_active", "gauge",
            "1 if this broker (--standby) holds the journal stream and serves, 0 if it is a "
            "standby (or deposed).",
            (uint64_t) (view->role == 1));
    METRIC (out, "journal_sequence", "gauge",
            "The journal stream's last sequence this broker read or wrote.", view->journal_seq);
    METRIC (out, "standby_follow_age_ms", "gauge",
            "A standby: milliseconds since the stream last moved under it (0 when active).",
            (uint64_t) view->follow_age_ms);
    METRIC (out, "takeovers_total", "counter", "Times this broker took the stream over.",
            view->takeovers);
    METRIC (out, "standbys", "gauge",
            "The active broker: standbys that announced themselves within 3 of their heartbeats.",
            view->nstandbys);
    fprintf (out, "# HELP sluice_standby_lag_records Records of the stream each standby has not "
                  "applied yet.\n# TYPE sluice_standby_lag_records gauge\n");
    for (size_t i = 0; i < view->nstandbys; i++) {
        fprintf (out, "sluice_standby_lag_records{standby=\"");
        s_label (out, view->standbys [i].address);
        fprintf (out, "\"} %llu\n", (unsigned long long) view->standbys [i].lag);
    }
    fprintf (out, "# HELP sluice_standby_last_seen_seconds Seconds since each standby last "
                  "announced itself.\n# TYPE sluice_standby_last_seen_seconds gauge\n");
    for (size_t i = 0; i < view->nstandbys; i++) {
        fprintf (out, "sluice_standby_last_seen_seconds{standby=\"");
        s_label (out, view->standbys [i].address);
        fprintf (out, "\"} %.3f\n", view->standbys [i].last_seen_s);
    }
}

char *metrics_render (const metrics_view_t *view)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    if (!out)
        return NULL;
    const broker_counters_t *c = view->count;
    METRIC (out, "tasks_accepted_total", "counter", "Tasks accepted from ventilators.",
            c->tasks_in);
    METRIC (out, "tasks_dispatched_total", "counter", "Runs of tasks sent to workers.",
            c->tasks_dispatched);
    METRIC (out, "dispatch_sends_failed_total", "counter",
            "Task batches whose send to a worker failed (their tasks were queued again).",
            c->dispatch_failed);
    fprintf (out, "# HELP sluice_tasks_completed_total Tasks that reached their final result, by "
                  "status.\n# TYPE sluice_tasks_completed_total counter\n");
    static const char *names [] = { NULL, "ok", "failed", "timeout", "cancelled" };
    for (int i = 1; i < 5; i++)
        fprintf (out, "sluice_tasks_completed_total{status=\"%s\"} %llu\n", names [i],
                 (unsigned long long) c->completed [i]);
    METRIC (out, "tasks_retried_total", "counter", "Failed or timed-out runs queued again.",
            c->retries);
    METRIC (out, "runs_lost_total", "counter", "Runs lost with a worker or an unclaimed lease.",
            c->tasks_lost);
    METRIC (out, "runs_released_total", "counter", "Runs handed back unstarted by workers.",
            c->tasks_released);
    METRIC (out, "runs_adopted_total", "counter",
            "Runs from before a broker restart that workers still ran, adopted.",
            c->tasks_adopted);
    METRIC (out, "duplicates_dropped_total", "counter", "Duplicate tasks or results dropped.",
            c->duplicates);
    METRIC (out, "malformed_messages_total", "counter",
            "Malformed or misdirected messages dropped.", c->bad_messages);
    METRIC (out, "tasks_queued", "gauge", "Tasks waiting for a worker (queue depth).",
            view->queued);
    fprintf (out, "# HELP sluice_queue_tasks_queued Tasks waiting in each named queue.\n"
                  "# TYPE sluice_queue_tasks_queued gauge\n");
    for (size_t q = 0; q < view->nqueues; q++)
        fprintf (out, "sluice_queue_tasks_queued{queue=\"%s\"} %zu\n", view->queues [q].name,
                 view->queues [q].queued);
    fprintf (out, "# HELP sluice_queue_workers Workers serving each named queue.\n"
                  "# TYPE sluice_queue_workers gauge\n");
    for (size_t q = 0; q < view->nqueues; q++)
        fprintf (out, "sluice_queue_workers{queue=\"%s\"} %zu\n", view->queues [q].name,
                 view->queues [q].workers);
    METRIC (out, "tasks_running", "gauge", "Tasks dispatched to workers.", view->running);
    METRIC (out, "results_undelivered", "gauge", "Results the sink has not acknowledged yet.",
            view->undelivered);
    METRIC (out, "jobs", "gauge", "Jobs not yet finished.", view->jobs);
    METRIC (out, "workers", "gauge", "Workers connected.", view->workers);
    METRIC (out, "worker_slots", "gauge", "Tasks the connected workers can run at once.",
            view->worker_slots);
    METRIC (out, "workers_busy", "gauge", "Workers running at least one task.",
            view->workers_busy);
    METRIC (out, "sink_attached", "gauge", "1 if a sink is attached.", view->sink_attached);
    METRIC (out, "collectors", "gauge", "Collectors attached (sinks and libsluice clients).",
            view->collectors);
    METRIC (out, "memory_held_bytes", "gauge", "Bytes held for tasks not yet delivered.",
            view->memory_held);
    METRIC (out, "memory_limit_bytes", "gauge", "The --max-memory limit.", view->memory_limit);
    METRIC (out, "intake_paused", "gauge", "1 while intake is paused at the memory limit.",
            view->intake_paused);
    METRIC (out, "intake_pauses_total", "counter", "Times intake was paused at the memory limit.",
            c->throttle_count);
    METRIC (out, "attachment_bytes_sent_total", "counter", "Attachment bytes sent to workers.",
            c->attach_bytes_sent);
    METRIC (out, "journal_bytes", "gauge", "Bytes of journal on disk (0 with --in-memory).",
            view->journal_bytes);
    s_render_ha (out, view);
    fprintf (out,
             "# HELP sluice_uptime_seconds Seconds since the broker started.\n"
             "# TYPE sluice_uptime_seconds gauge\nsluice_uptime_seconds %.3f\n",
             view->uptime_s);
    if (fclose (out)) {
        free (text);
        return NULL;
    }
    return text;
}
