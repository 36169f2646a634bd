/*  Tests of history (the dashboard's bounded ring of samples).  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "history.h"

static int setup (void **state)
{
    *state = history_new ();
    return *state ? 0 : -1;
}

static int teardown (void **state)
{
    history_t *self = (history_t *) *state;
    history_destroy (&self);
    assert_null (self);
    return 0;
}

static void s_add (history_t *self, int64_t t, uint64_t completed, uint64_t queued)
{
    history_sample_t s = { 0 };
    s.time_ms = t;
    s.completed = completed;
    s.failed = completed / 10;
    s.queued = queued;
    history_add (self, &s);
}

static void test_history_due_once_a_second (void **state)
{
    history_t *self = (history_t *) *state;
    assert_true (history_due (self, 5000));
    s_add (self, 5000, 0, 0);
    assert_false (history_due (self, 5000));
    assert_false (history_due (self, 5999));
    assert_true (history_due (self, 6000));
    //  The clock went back: a sample is due (and it will be dropped).
    assert_true (history_due (self, 4000));
}

static void test_history_keeps_the_last_hour (void **state)
{
    history_t *self = (history_t *) *state;
    for (int64_t i = 0; i < HISTORY_SAMPLES + 250; i++)
        s_add (self, i * 1000, (uint64_t) i, 0);
    assert_int_equal (history_size (self), HISTORY_SAMPLES);
    assert_int_equal (history_at (self, 0)->time_ms, 250 * 1000);
    assert_int_equal (history_at (self, HISTORY_SAMPLES - 1)->completed, HISTORY_SAMPLES + 249);
    assert_null (history_at (self, HISTORY_SAMPLES));
}

static void test_history_drops_a_sample_from_the_past (void **state)
{
    history_t *self = (history_t *) *state;
    s_add (self, 10000, 1, 0);
    s_add (self, 9000, 2, 0);
    assert_int_equal (history_size (self), 1);
    assert_int_equal (history_at (self, 0)->completed, 1);
}

static void test_history_json_gives_rates_and_gauges (void **state)
{
    history_t *self = (history_t *) *state;
    s_add (self, 1000, 100, 7);
    s_add (self, 2000, 150, 8);
    s_add (self, 4000, 250, 9); //  a second missed: 100 in 2 s
    json_t *doc = history_json (self, INT64_MIN);
    assert_non_null (doc);
    json_t *rate = json_object_get (doc, "completed_per_s");
    assert_int_equal (json_array_size (rate), 3);
    assert_true (json_real_value (json_array_get (rate, 0)) == 0.0);
    assert_true (json_real_value (json_array_get (rate, 1)) == 50.0);
    assert_true (json_real_value (json_array_get (rate, 2)) == 50.0);
    assert_true (json_real_value (json_array_get (json_object_get (doc, "failed_per_s"), 2)) ==
                 5.0);
    assert_int_equal (json_integer_value (json_array_get (json_object_get (doc, "queued"), 2)), 9);
    assert_true (json_real_value (json_array_get (json_object_get (doc, "t"), 0)) == 1.0);
    json_decref (doc);
    //  Only what came after `since`, rates still against the sample before.
    doc = history_json (self, 2000);
    rate = json_object_get (doc, "completed_per_s");
    assert_int_equal (json_array_size (rate), 1);
    assert_true (json_real_value (json_array_get (rate, 0)) == 50.0);
    json_decref (doc);
}

static void test_history_json_of_nothing_is_empty (void **state)
{
    history_t *self = (history_t *) *state;
    json_t *doc = history_json (self, INT64_MIN);
    assert_int_equal (json_array_size (json_object_get (doc, "t")), 0);
    assert_int_equal (json_integer_value (json_object_get (doc, "interval_ms")),
                      HISTORY_INTERVAL_MS);
    json_decref (doc);
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_history_due_once_a_second, setup, teardown),
        cmocka_unit_test_setup_teardown (test_history_keeps_the_last_hour, setup, teardown),
        cmocka_unit_test_setup_teardown (test_history_drops_a_sample_from_the_past, setup,
                                         teardown),
        cmocka_unit_test_setup_teardown (test_history_json_gives_rates_and_gauges, setup, teardown),
        cmocka_unit_test_setup_teardown (test_history_json_of_nothing_is_empty, setup, teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
