/*  test_finished - the broker's memory of finished jobs (broker/finished.c):
    lookups within a horizon, the ring's order and its limit, failed ranges
    kept and truncated.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "finished.h"

static void s_remember (sl_finished_t *f, const char *id, uint64_t total, int64_t at)
{
    sl_job_counts_t counts = { 0 };
    counts.total = total;
    sl_finished_remember (f, id, &counts, at, NULL);
}

static void test_finished_lookup_within_the_horizon (void **state)
{
    (void) state;
    sl_finished_t *f = sl_finished_new (4, 8);
    assert_non_null (f);
    s_remember (f, "a", 10, 1000);
    sl_finished_job_t *a = sl_finished_lookup (f, "a", 0);
    assert_non_null (a);
    assert_int_equal (a->counts.total, 10);
    assert_int_equal (a->finished_at, 1000);
    assert_non_null (sl_finished_lookup (f, "a", 1000));
    assert_null (sl_finished_lookup (f, "a", 1001)); //  finished before the horizon
    assert_null (sl_finished_lookup (f, "b", 0));
    sl_finished_destroy (&f);
    assert_null (f);
    sl_finished_destroy (&f); //  NULL-safe
}

static void test_finished_ring_forgets_the_oldest_and_lists_newest_first (void **state)
{
    (void) state;
    sl_finished_t *f = sl_finished_new (3, 8);
    s_remember (f, "j1", 1, 1);
    s_remember (f, "j2", 2, 2);
    assert_int_equal (sl_finished_count (f), 2);
    assert_string_equal (sl_finished_newest (f, 0)->id, "j2");
    assert_string_equal (sl_finished_newest (f, 1)->id, "j1");
    assert_null (sl_finished_newest (f, 2));
    s_remember (f, "j3", 3, 3);
    s_remember (f, "j4", 4, 4);
    assert_int_equal (sl_finished_count (f), 3);
    assert_null (sl_finished_lookup (f, "j1", 0));
    assert_string_equal (sl_finished_newest (f, 0)->id, "j4");
    assert_string_equal (sl_finished_newest (f, 2)->id, "j2");
    //  Remembered again: its slot is reused, not a second entry.
    s_remember (f, "j3", 33, 5);
    assert_int_equal (sl_finished_count (f), 3);
    assert_int_equal (sl_finished_lookup (f, "j3", 0)->counts.total, 33);
    assert_non_null (sl_finished_lookup (f, "j2", 0));
    sl_finished_destroy (&f);
}

static void test_finished_keeps_failed_ranges_up_to_its_limit (void **state)
{
    (void) state;
    sl_finished_t *f = sl_finished_new (2, 2);
    sl_job_counts_t counts = { 0 };
    uint64_t ranges [] = { 1, 1, 5, 9, 20, 20 };
    sl_failed_t two = { ranges, 2, false };
    sl_finished_remember (f, "a", &counts, 1, &two);
    sl_finished_job_t *a = sl_finished_lookup (f, "a", 0);
    assert_int_equal (a->nfailed, 2);
    assert_false (a->failed_truncated);
    assert_int_equal (a->failed [3], 9);
    sl_failed_t out = sl_finished_failed (a);
    assert_int_equal (out.n, 2);
    assert_ptr_equal (out.ranges, a->failed);
    //  Three ranges, two kept: truncated, and said so.
    sl_failed_t three = { ranges, 3, false };
    sl_finished_remember (f, "b", &counts, 2, &three);
    sl_finished_job_t *b = sl_finished_lookup (f, "b", 0);
    assert_int_equal (b->nfailed, 2);
    assert_true (b->failed_truncated);
    //  Truncated already at the source.
    sl_failed_t cut = { ranges, 1, true };
    sl_finished_remember (f, "a", &counts, 3, &cut);
    a = sl_finished_lookup (f, "a", 0);
    assert_int_equal (a->nfailed, 1);
    assert_true (a->failed_truncated);
    sl_finished_destroy (&f);
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_finished_lookup_within_the_horizon),
        cmocka_unit_test (test_finished_ring_forgets_the_oldest_and_lists_newest_first),
        cmocka_unit_test (test_finished_keeps_failed_ranges_up_to_its_limit),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
