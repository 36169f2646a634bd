/*  Tests of dashboard (routes of the broker's web dashboard and API),
    with a fixed status document and real history and failures.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard.h"

typedef struct {
    dashboard_src_t src;
    int status_calls;
} fixture_t;

static json_t *s_status (void *arg)
{
    fixture_t *f = (fixture_t *) arg;
    f->status_calls++;
    return json_pack ("{s:s, s:[{s:s, s:I, s:b}, {s:s, s:I, s:b}]}", "broker_id", "b1", "jobs",
                      "id", "j1", "done", (json_int_t) 5, "finished", 0, "id", "j2", "done",
                      (json_int_t) 9, "finished", 1);
}

static int setup (void **state)
{
    fixture_t *f = calloc (1, sizeof *f);
    f->src.status = s_status;
    f->src.arg = f;
    f->src.failures = failures_new (100, 100);
    f->src.history = history_new ();
    for (uint64_t seq = 1; seq <= 7; seq++) {
        failure_t failure = { 0 };
        failure.seq = seq * 2;
        failure.status = 2;
        failure.exit_code = 3;
        failure.attempts = 1;
        //  Not UTF-8: served with '?' instead.
        failure.stderr_size = 3;
        memcpy (failure.stderr_tail, "e\xff\n", 3);
        failures_add (f->src.failures, "j2", &failure);
    }
    history_sample_t sample = { 1000, 1, 0, 2, 3, 4, 5 };
    history_add (f->src.history, &sample);
    *state = f;
    return 0;
}

static int teardown (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    failures_destroy (&f->src.failures);
    history_destroy (&f->src.history);
    free (f);
    return 0;
}

//  GET path?query as JSON (NULL for a 404).
static json_t *s_get_json (fixture_t *f, const char *path, const char *query)
{
    int status = 0;
    const char *type = NULL;
    char *body = dashboard_render (&f->src, path, query, &status, &type);
    if (!body)
        return NULL;
    assert_int_equal (status, 200);
    assert_string_equal (type, "application/json");
    json_t *doc = json_loads (body, 0, NULL);
    assert_non_null (doc);
    free (body);
    return doc;
}

static void test_dashboard_serves_the_embedded_pages (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    const char *pages [][2] = { { "/", "text/html" },
                                { "/jobs/j2", "text/html" },
                                { "/static/app.js", "text/javascript" },
                                { "/static/job.js", "text/javascript" },
                                { "/static/common.js", "text/javascript" },
                                { "/static/style.css", "text/css" },
                                { "/favicon.ico", "image/svg+xml" } };
    for (size_t i = 0; i < sizeof pages / sizeof pages [0]; i++) {
        int status = 0;
        const char *type = NULL;
        char *body = dashboard_render (&f->src, pages [i][0], "", &status, &type);
        assert_non_null (body);
        assert_int_equal (status, 200);
        assert_true (strncmp (type, pages [i][1], strlen (pages [i][1])) == 0);
        assert_true (strlen (body) > 100 || strcmp (pages [i][0], "/favicon.ico") == 0);
        free (body);
    }
    //  No external resource in any page: self-contained.
    for (size_t i = 0; i < dashboard_asset_count; i++) {
        const char *external [] = { "src=\"http", "href=\"http", "url(http", "src=\"//",
                                    "href=\"//",  "import(",     "https://" };
        for (size_t k = 0; k < sizeof external / sizeof external [0]; k++)
            if (strstr (dashboard_assets [i].data, external [k]))
                fail_msg ("%s refers to %s...", dashboard_assets [i].name, external [k]);
        assert_int_equal (strlen (dashboard_assets [i].data), dashboard_assets [i].size);
    }
}

static void test_dashboard_refuses_other_paths (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    const char *paths [] = { "/api/jobs/../../etc/passwd",
                             "/api/jobs/..",
                             "/api/jobs/",
                             "/api/jobs/j1/failed/x",
                             "/api/jobs/j%2F1",
                             "/static/../broker.c",
                             "/static/",
                             "/static/missing.js",
                             "/jobs/bad$id",
                             "/etc/passwd",
                             "//",
                             "/api/statusx" };
    for (size_t i = 0; i < sizeof paths / sizeof paths [0]; i++) {
        int status = 0;
        const char *type = NULL;
        char *body = dashboard_render (&f->src, paths [i], "", &status, &type);
        if (body)
            fail_msg ("%s was served", paths [i]);
    }
    //  /api/jobs/.. names a job that does not exist: 404 too (above).
}

static void test_dashboard_status_is_the_status_document (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    json_t *doc = s_get_json (f, "/api/status", "");
    json_t *want = s_status (f);
    assert_true (json_equal (doc, want));
    json_decref (doc);
    json_decref (want);
}

static void test_dashboard_job_has_its_failure_counts (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    json_t *job = s_get_json (f, "/api/jobs/j2", "");
    assert_int_equal (json_integer_value (json_object_get (job, "done")), 9);
    assert_int_equal (json_integer_value (json_object_get (job, "failed_noted")), 7);
    assert_int_equal (json_integer_value (json_object_get (job, "failed_kept")), 7);
    json_decref (job);
    assert_null (s_get_json (f, "/api/jobs/nosuchjob", ""));
}

static void test_dashboard_failed_pages_follow_after (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    //  7 failures at seqs 2, 4, ... 14, 3 a page: 2 4 6 | 8 10 12 | 14.
    uint64_t want = 2;
    const char *query = "limit=3";
    char next [64];
    for (int page = 0; page < 3; page++) {
        json_t *doc = s_get_json (f, "/api/jobs/j2/failed", query);
        json_t *list = json_object_get (doc, "failed");
        assert_int_equal (json_array_size (list), page < 2 ? 3 : 1);
        size_t i;
        json_t *item;
        json_array_foreach (list, i, item)
        {
            assert_int_equal (json_integer_value (json_object_get (item, "seq")), want);
            assert_string_equal (json_string_value (json_object_get (item, "stderr")), "e?\n");
            assert_string_equal (json_string_value (json_object_get (item, "status")), "failed");
            want += 2;
        }
        assert_int_equal (json_is_true (json_object_get (doc, "more")), page < 2);
        if (page < 2) {
            snprintf (next, sizeof next, "limit=3&after=%lld",
                      (long long) json_integer_value (json_object_get (doc, "next_after")));
            query = next;
        } else
            assert_true (json_is_null (json_object_get (doc, "next_after")));
        json_decref (doc);
    }
    assert_int_equal (want, 16);
    //  A limit past the maximum is cut to it; 0 is 1; nonsense is ignored.
    json_t *doc = s_get_json (f, "/api/jobs/j2/failed", "limit=0");
    assert_int_equal (json_array_size (json_object_get (doc, "failed")), 1);
    json_decref (doc);
    doc = s_get_json (f, "/api/jobs/j2/failed", "after=zz&limit=99999");
    assert_int_equal (json_array_size (json_object_get (doc, "failed")), 7);
    json_decref (doc);
}

static void test_dashboard_history (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    json_t *doc = s_get_json (f, "/api/history", "");
    assert_int_equal (json_array_size (json_object_get (doc, "t")), 1);
    assert_int_equal (json_integer_value (json_array_get (json_object_get (doc, "busy"), 0)), 4);
    json_decref (doc);
    doc = s_get_json (f, "/api/history", "since=1");
    assert_int_equal (json_array_size (json_object_get (doc, "t")), 0);
    json_decref (doc);
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_dashboard_serves_the_embedded_pages, setup, teardown),
        cmocka_unit_test_setup_teardown (test_dashboard_refuses_other_paths, setup, teardown),
        cmocka_unit_test_setup_teardown (test_dashboard_status_is_the_status_document, setup,
                                         teardown),
        cmocka_unit_test_setup_teardown (test_dashboard_job_has_its_failure_counts, setup,
                                         teardown),
        cmocka_unit_test_setup_teardown (test_dashboard_failed_pages_follow_after, setup, teardown),
        cmocka_unit_test_setup_teardown (test_dashboard_history, setup, teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
