/*  test_metrics - the broker's Prometheus text (broker/metrics.c): every
    counter and gauge of a view appears with its value, HELP and TYPE, and
    named queues get one labelled line each.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

static void s_expect_line (const char *text, const char *line)
{
    char want [256];
    snprintf (want, sizeof want, "\n%s\n", line);
    if (!strstr (text, want))
        fail_msg ("no line '%s' in:\n%s", line, text);
}

static void test_metrics_render_counters_and_gauges (void **state)
{
    (void) state;
    broker_counters_t count = { .tasks_in = 1001, .tasks_dispatched = 1002, .retries = 3,
                                .tasks_lost = 4, .tasks_released = 5, .tasks_adopted = 6,
                                .duplicates = 7, .bad_messages = 8, .throttle_count = 9,
                                .attach_bytes_sent = 10, .dispatch_failed = 11 };
    count.completed [1] = 900;
    count.completed [2] = 50;
    count.completed [3] = 40;
    count.completed [4] = 11;
    metrics_queue_t queues [] = { { "default", 12, 2 }, { "gpu", 0, 1 } };
    metrics_view_t view = { .count = &count, .queued = 12, .running = 13, .undelivered = 14,
                            .jobs = 2, .workers = 3, .worker_slots = 16, .workers_busy = 2,
                            .sink_attached = true, .memory_held = 123456, .memory_limit = 1 << 30,
                            .intake_paused = false, .journal_bytes = 999, .uptime_s = 1.5,
                            .queues = queues, .nqueues = 2 };
    char *text = metrics_render (&view);
    assert_non_null (text);
    s_expect_line (text, "sluice_tasks_accepted_total 1001");
    s_expect_line (text, "sluice_tasks_dispatched_total 1002");
    s_expect_line (text, "sluice_dispatch_sends_failed_total 11");
    s_expect_line (text, "sluice_tasks_completed_total{status=\"ok\"} 900");
    s_expect_line (text, "sluice_tasks_completed_total{status=\"failed\"} 50");
    s_expect_line (text, "sluice_tasks_completed_total{status=\"timeout\"} 40");
    s_expect_line (text, "sluice_tasks_completed_total{status=\"cancelled\"} 11");
    s_expect_line (text, "sluice_tasks_retried_total 3");
    s_expect_line (text, "sluice_runs_lost_total 4");
    s_expect_line (text, "sluice_runs_released_total 5");
    s_expect_line (text, "sluice_runs_adopted_total 6");
    s_expect_line (text, "sluice_duplicates_dropped_total 7");
    s_expect_line (text, "sluice_malformed_messages_total 8");
    s_expect_line (text, "sluice_tasks_queued 12");
    s_expect_line (text, "sluice_queue_tasks_queued{queue=\"default\"} 12");
    s_expect_line (text, "sluice_queue_tasks_queued{queue=\"gpu\"} 0");
    s_expect_line (text, "sluice_queue_workers{queue=\"default\"} 2");
    s_expect_line (text, "sluice_queue_workers{queue=\"gpu\"} 1");
    s_expect_line (text, "sluice_tasks_running 13");
    s_expect_line (text, "sluice_results_undelivered 14");
    s_expect_line (text, "sluice_jobs 2");
    s_expect_line (text, "sluice_workers 3");
    s_expect_line (text, "sluice_worker_slots 16");
    s_expect_line (text, "sluice_workers_busy 2");
    s_expect_line (text, "sluice_sink_attached 1");
    s_expect_line (text, "sluice_memory_held_bytes 123456");
    s_expect_line (text, "sluice_memory_limit_bytes 1073741824");
    s_expect_line (text, "sluice_intake_paused 0");
    s_expect_line (text, "sluice_intake_pauses_total 9");
    s_expect_line (text, "sluice_attachment_bytes_sent_total 10");
    s_expect_line (text, "sluice_journal_bytes 999");
    s_expect_line (text, "sluice_uptime_seconds 1.500");
    //  Every sample line's metric has its HELP and TYPE before it.
    char *copy = strdup (text);
    for (char *line = strtok (copy, "\n"); line; line = strtok (NULL, "\n")) {
        if (line [0] == '#')
            continue;
        char name [128];
        size_t len = strcspn (line, "{ ");
        assert_true (len < sizeof name);
        memcpy (name, line, len);
        name [len] = '\0';
        char help [160], type [160];
        snprintf (help, sizeof help, "# HELP %s ", name);
        snprintf (type, sizeof type, "# TYPE %s ", name);
        char whole [256];
        snprintf (whole, sizeof whole, "\n%s\n", line);
        const char *at = strstr (text, whole);
        assert_non_null (at);
        const char *h = strstr (text, help), *t = strstr (text, type);
        if (!h || !t || h > at || t > at)
            fail_msg ("%s: no HELP or TYPE before its sample", name);
    }
    free (copy);
    free (text);
}

static void test_metrics_render_without_queues (void **state)
{
    (void) state;
    broker_counters_t count = { 0 };
    metrics_view_t view = { .count = &count };
    char *text = metrics_render (&view);
    assert_non_null (text);
    s_expect_line (text, "sluice_tasks_accepted_total 0");
    s_expect_line (text, "sluice_sink_attached 0");
    assert_null (strstr (text, "{queue="));
    free (text);
}

//  The active broker: how many standbys, and a labelled lag and age each
//  (a label value escaped: it came over the network).
static void test_metrics_render_standbys (void **state)
{
    (void) state;
    broker_counters_t count = { 0 };
    metrics_standby_t standbys [] = {
        { .address = "tcp://b:5560", .lag = 3, .last_seen_s = 0.25 },
        { .address = "tcp://\"odd\\one\"", .lag = 0, .last_seen_s = 1 },
    };
    metrics_view_t view = {
        .count = &count, .ha = true, .role = 1, .standbys = standbys, .nstandbys = 2
    };
    char *text = metrics_render (&view);
    assert_non_null (text);
    s_expect_line (text, "sluice_standbys 2");
    s_expect_line (text, "# TYPE sluice_standby_lag_records gauge");
    s_expect_line (text, "sluice_standby_lag_records{standby=\"tcp://b:5560\"} 3");
    s_expect_line (text, "sluice_standby_lag_records{standby=\"tcp://\\\"odd\\\\one\\\"\"} 0");
    s_expect_line (text, "sluice_standby_last_seen_seconds{standby=\"tcp://b:5560\"} 0.250");
    free (text);
    //  A broker alone (no --standby): none of it.
    view.ha = false;
    text = metrics_render (&view);
    assert_null (strstr (text, "sluice_standbys"));
    free (text);
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_metrics_render_counters_and_gauges),
        cmocka_unit_test (test_metrics_render_without_queues),
        cmocka_unit_test (test_metrics_render_standbys),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
