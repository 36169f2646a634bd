/*  test_status - the broker's status report (broker/status.c) from a table,
    peers, finished jobs and counters made by hand: every job (unfinished
    first, then the newest finished), worker and queue, with their numbers
    and ages computed from the clock readings passed in.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "sl_status_json.h"
#include "status.h"

static void test_status_lists_jobs_workers_queues_and_counters (void **state)
{
    (void) state;
    sl_table_t *table = sl_table_new ();
    sl_peers_t *peers = sl_peers_new ();
    sl_finished_t *finished = sl_finished_new (100, 8);
    assert_non_null (table);
    for (uint64_t seq = 1; seq <= 3; seq++)
        assert_int_equal (sl_table_submit (table, "live", seq, (const uint8_t *) "x", 1, 0, 0),
                          SL_TABLE_OK);
    sl_queue_t *gpu = sl_table_queue (table, "gpu", true);
    sl_queue_t *dflt = sl_table_queue (table, NULL, true);
    sl_peer_t *w = sl_peers_add (peers, "k1", NULL, SLUICE__ROLE__ROLE_WORKER, "host:7", 100);
    w->slots = 4;
    w->running = 2;
    w->done = 17;
    w->queues [0] = gpu;
    w->nqueues = 1;
    sl_job_counts_t counts = { 0 };
    counts.total = counts.done = counts.ok = 5;
    counts.total_known = true;
    for (int i = 0; i < 25; i++) {
        char id [16];
        snprintf (id, sizeof id, "old-%d", i);
        sl_finished_remember (finished, id, &counts, 1000 + i, NULL);
    }
    broker_counters_t count = { .tasks_in = 3, .retries = 2, .tasks_lost = 1,
                                .tasks_adopted = 4 };
    status_view_t view = { .table = table, .peers = peers, .finished = finished,
                           .count = &count, .broker_id = "b1", .sink = "sink:1",
                           .now = 5000, .wall = 2000, .started_at = 1000, .rate = 12.5,
                           .max_memory = 1 << 20, .throttled = true, .journal_bytes = 77,
                           .journal = "/var/lib/sluice" };
    status_parts_t parts;
    assert_int_equal (status_build (&view, &parts), 0);
    Sluice__StatusReport *r = &parts.report;
    //  One unfinished job, then the 20 newest finished, newest first.
    assert_int_equal (r->n_jobs, 1 + STATUS_FINISHED_JOBS);
    assert_string_equal (r->jobs [0]->id, "live");
    assert_int_equal (r->jobs [0]->received, 3);
    assert_int_equal (r->jobs [0]->queued, 3);
    assert_false (r->jobs [0]->finished);
    assert_int_equal (r->jobs [0]->age_ms, 4000); //  no start time known: the broker's start
    assert_string_equal (r->jobs [1]->id, "old-24");
    assert_int_equal (r->jobs [1]->age_ms, 2000 - 1024);
    assert_true (r->jobs [1]->finished);
    assert_int_equal (r->jobs [1]->ok, 5);
    assert_string_equal (r->jobs [20]->id, "old-5");
    //  The worker and the queues it serves.
    assert_int_equal (r->n_workers, 1);
    assert_string_equal (r->workers [0]->name, "host:7");
    assert_int_equal (r->workers [0]->slots, 4);
    assert_int_equal (r->workers [0]->busy, 2);
    assert_int_equal (r->workers [0]->done, 17);
    assert_int_equal (r->workers [0]->last_heartbeat_ms, 4900);
    assert_int_equal (r->workers [0]->n_queues, 1);
    assert_string_equal (r->workers [0]->queues [0], "gpu");
    assert_int_equal (r->n_queues, 2);
    for (size_t q = 0; q < r->n_queues; q++) {
        if (streq (r->queues [q]->name, "gpu")) {
            assert_int_equal (r->queues [q]->workers, 1);
            assert_int_equal (r->queues [q]->slots, 4);
            assert_int_equal (r->queues [q]->queued, 0);
        } else {
            assert_string_equal (r->queues [q]->name, sl_queue_name (dflt));
            assert_int_equal (r->queues [q]->workers, 0);
            assert_int_equal (r->queues [q]->queued, 3);
        }
    }
    assert_string_equal (r->broker_id, "b1");
    assert_string_equal (r->sink, "sink:1");
    assert_int_equal (r->uptime_ms, 4000);
    assert_int_equal (r->tasks_accepted, 3);
    assert_int_equal (r->retries, 2);
    assert_int_equal (r->runs_lost, 1);
    assert_int_equal (r->memory_limit, 1 << 20);
    assert_true (r->throttled);
    assert_int_equal (r->journal_bytes, 77);
    assert_string_equal (r->journal, "/var/lib/sluice");
    assert_int_equal (r->runs_adopted, 4);
    status_free (&parts);
    assert_null (parts.jobs);
    sl_finished_destroy (&finished);
    sl_peers_destroy (&peers);
    sl_table_destroy (&table);
}

//  Collectors, each with the jobs it holds; no registry lists none.
static void test_status_lists_collectors_and_their_jobs (void **state)
{
    (void) state;
    sl_table_t *table = sl_table_new ();
    sl_peers_t *peers = sl_peers_new ();
    sl_finished_t *finished = sl_finished_new (10, 8);
    sl_collectors_t *collectors = sl_collectors_new (100);
    assert_non_null (collectors);
    const char *const two [] = { "a", "b" };
    const char *holder = NULL;
    assert_int_equal (sl_collectors_attach (collectors, "named:1", two, 2, &holder), 0);
    assert_int_equal (sl_collectors_attach (collectors, "all:2", NULL, 0, &holder), 0);
    assert_string_equal (sl_collectors_owner (collectors, "c"), "all:2");
    sl_collectors_sent (collectors, "named:1", 7);
    sl_collectors_acked (collectors, "named:1", 3);
    broker_counters_t count = { 0 };
    status_view_t view = { .table = table, .peers = peers, .finished = finished,
                           .count = &count, .broker_id = "b1", .collectors = collectors };
    status_parts_t parts;
    assert_int_equal (status_build (&view, &parts), 0);
    Sluice__StatusReport *r = &parts.report;
    assert_int_equal (r->n_collectors, 2);
    assert_string_equal (r->collectors [0]->name, "named:1");
    assert_false (r->collectors [0]->catch_all);
    assert_int_equal (r->collectors [0]->in_flight, 4);
    assert_int_equal (r->collectors [0]->delivered, 3);
    assert_int_equal (r->collectors [0]->n_jobs, 2);
    bool a = false, b = false;
    for (size_t i = 0; i < 2; i++) {
        a |= streq (r->collectors [0]->jobs [i], "a");
        b |= streq (r->collectors [0]->jobs [i], "b");
    }
    assert_true (a && b);
    assert_string_equal (r->collectors [1]->name, "all:2");
    assert_true (r->collectors [1]->catch_all);
    assert_int_equal (r->collectors [1]->n_jobs, 1);
    assert_string_equal (r->collectors [1]->jobs [0], "c");
    status_free (&parts);
    view.collectors = NULL;
    assert_int_equal (status_build (&view, &parts), 0);
    assert_int_equal (parts.report.n_collectors, 0);
    status_free (&parts);
    sl_collectors_destroy (&collectors);
    sl_finished_destroy (&finished);
    sl_peers_destroy (&peers);
    sl_table_destroy (&table);
}

//  The active broker's standbys: address, applied sequence, lag behind
//  its stream sequence and the age of the last announcement; in JSON as
//  `standbys` only for a broker with a role (--standby).
static void test_status_lists_standbys_with_their_lag (void **state)
{
    (void) state;
    sl_table_t *table = sl_table_new ();
    sl_peers_t *peers = sl_peers_new ();
    sl_finished_t *finished = sl_finished_new (10, 8);
    sl_standbys_t standbys;
    sl_standbys_init (&standbys);
    sl_announcement_t b = { .seq = 90, .every_ms = 200, .role = "standby" };
    sl_announcement_t c = { .seq = 101, .every_ms = 200, .role = "standby" };
    strcpy (b.broker, "tcp://b:5560");
    strcpy (c.broker, "tcp://c:5560");
    sl_standbys_heard (&standbys, &b, 1000);
    sl_standbys_heard (&standbys, &c, 1150);
    broker_counters_t count = { 0 };
    status_view_t view = { .table = table,
                           .peers = peers,
                           .finished = finished,
                           .count = &count,
                           .broker_id = "a",
                           .now = 1200,
                           .role = "active",
                           .journal_seq = 100,
                           .standbys = &standbys };
    status_parts_t parts;
    assert_int_equal (status_build (&view, &parts), 0);
    Sluice__StatusReport *r = &parts.report;
    assert_int_equal (r->n_standbys, 2);
    assert_string_equal (r->standbys [0]->address, "tcp://b:5560");
    assert_int_equal (r->standbys [0]->applied_seq, 90);
    assert_int_equal (r->standbys [0]->lag, 10);
    assert_int_equal (r->standbys [0]->last_seen_ms, 200);
    assert_string_equal (r->standbys [1]->address, "tcp://c:5560");
    assert_int_equal (r->standbys [1]->lag, 0); //  ahead: read a hold not yet counted
    assert_int_equal (r->standbys [1]->last_seen_ms, 50);
    json_t *doc = sl_status_json (r);
    json_t *list = json_object_get (doc, "standbys");
    assert_int_equal (json_array_size (list), 2);
    json_t *first = json_array_get (list, 0);
    assert_string_equal (json_string_value (json_object_get (first, "address")), "tcp://b:5560");
    assert_int_equal (json_integer_value (json_object_get (first, "applied_seq")), 90);
    assert_int_equal (json_integer_value (json_object_get (first, "lag_records")), 10);
    assert_true (json_real_value (json_object_get (first, "last_seen_s")) == 0.2);
    json_decref (doc);
    status_free (&parts);
    //  A broker alone (no role): no list, no `standbys` in JSON.
    view.role = NULL;
    view.standbys = NULL;
    assert_int_equal (status_build (&view, &parts), 0);
    assert_int_equal (parts.report.n_standbys, 0);
    doc = sl_status_json (&parts.report);
    assert_null (json_object_get (doc, "standbys"));
    assert_null (json_object_get (doc, "ha"));
    json_decref (doc);
    status_free (&parts);
    sl_finished_destroy (&finished);
    sl_peers_destroy (&peers);
    sl_table_destroy (&table);
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_status_lists_jobs_workers_queues_and_counters),
        cmocka_unit_test (test_status_lists_collectors_and_their_jobs),
        cmocka_unit_test (test_status_lists_standbys_with_their_lag),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
