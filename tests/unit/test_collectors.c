/*  test_collectors - the broker's registry of collectors (broker/
    collectors.c): each job whole to one collector, refusals naming the
    holder, hand-over on detach, and credit per collector.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "collectors.h"

static sl_collectors_t *s_new (uint64_t window)
{
    sl_collectors_t *c = sl_collectors_new (window);
    assert_non_null (c);
    return c;
}

static void test_collectors_named_jobs_go_to_their_collector (void **state)
{
    (void) state;
    sl_collectors_t *c = s_new (10);
    const char *holder;
    const char *alice [] = { "alice" };
    const char *bob [] = { "bob" };
    assert_int_equal (sl_collectors_attach (c, "s1", alice, 1, &holder), 0);
    assert_int_equal (sl_collectors_attach (c, "s2", bob, 1, &holder), 0);
    assert_string_equal (sl_collectors_owner (c, "alice"), "s1");
    assert_string_equal (sl_collectors_owner (c, "bob"), "s2");
    //  Nobody asked for carol and no catch-all: it waits.
    assert_null (sl_collectors_owner (c, "carol"));
    assert_null (sl_collectors_holder (c, "carol"));
    assert_int_equal (sl_collectors_size (c), 2);
    sl_collectors_destroy (&c);
    assert_null (c);
}

static void test_collectors_second_claim_is_refused_naming_the_first (void **state)
{
    (void) state;
    sl_collectors_t *c = s_new (10);
    const char *holder;
    const char *jobs [] = { "x", "alice" };
    const char *alice [] = { "alice" };
    assert_int_equal (sl_collectors_attach (c, "first", alice, 1, &holder), 0);
    assert_int_equal (sl_collectors_attach (c, "second", jobs, 2, &holder), -1);
    assert_non_null (holder);
    assert_string_equal (holder, "first");
    //  Nothing changed: x is not held by the refused one.
    assert_null (sl_collectors_holder (c, "x"));
    assert_int_equal (sl_collectors_size (c), 1);
    //  The same name again (a reconnect) replaces itself.
    assert_int_equal (sl_collectors_attach (c, "first", alice, 1, &holder), 0);
    assert_int_equal (sl_collectors_size (c), 1);
    //  Once the first leaves, the second gets it.
    assert_int_equal (sl_collectors_detach (c, "first"), 1);
    assert_int_equal (sl_collectors_attach (c, "second", jobs, 2, &holder), 0);
    assert_string_equal (sl_collectors_owner (c, "alice"), "second");
    sl_collectors_destroy (&c);
}

static void test_collectors_catch_all_takes_unclaimed_jobs_whole (void **state)
{
    (void) state;
    sl_collectors_t *c = s_new (10);
    const char *holder;
    const char *alice [] = { "alice" };
    assert_int_equal (sl_collectors_attach (c, "all1", NULL, 0, &holder), 0);
    assert_int_equal (sl_collectors_attach (c, "all2", NULL, 0, &holder), 0);
    assert_int_equal (sl_collectors_attach (c, "a", alice, 1, &holder), 0);
    assert_string_equal (sl_collectors_owner (c, "alice"), "a");
    //  Unclaimed jobs spread over the catch-alls, each staying with one.
    const char *j1 = sl_collectors_owner (c, "j1");
    const char *j2 = sl_collectors_owner (c, "j2");
    assert_non_null (j1);
    assert_non_null (j2);
    assert_string_not_equal (j1, j2);
    assert_string_equal (sl_collectors_owner (c, "j1"), j1);
    assert_string_equal (sl_collectors_holder (c, "j1"), j1);
    //  A job a catch-all holds cannot be claimed away mid-job.
    const char *j1v [] = { "j1" };
    assert_int_equal (sl_collectors_attach (c, "late", j1v, 1, &holder), -1);
    assert_string_equal (holder, j1);
    sl_collectors_destroy (&c);
}

static void test_collectors_detach_hands_jobs_over (void **state)
{
    (void) state;
    sl_collectors_t *c = s_new (10);
    const char *holder;
    assert_int_equal (sl_collectors_attach (c, "all1", NULL, 0, &holder), 0);
    assert_string_equal (sl_collectors_owner (c, "j1"), "all1");
    assert_string_equal (sl_collectors_owner (c, "j2"), "all1");
    const char *held [4];
    assert_int_equal (sl_collectors_jobs (c, "all1", held, 4), 2);
    assert_int_equal (sl_collectors_detach (c, "all1"), 2);
    assert_null (sl_collectors_holder (c, "j1"));
    assert_null (sl_collectors_owner (c, "j1")); //  nobody now
    assert_int_equal (sl_collectors_detach (c, "all1"), 0);
    assert_int_equal (sl_collectors_attach (c, "all2", NULL, 0, &holder), 0);
    assert_string_equal (sl_collectors_owner (c, "j1"), "all2");
    assert_int_equal (sl_collectors_first (c)->nheld, 1);
    sl_collectors_destroy (&c);
}

static void test_collectors_job_done_ends_the_hold (void **state)
{
    (void) state;
    sl_collectors_t *c = s_new (10);
    const char *holder;
    const char *alice [] = { "alice" };
    assert_int_equal (sl_collectors_attach (c, "a", alice, 1, &holder), 0);
    assert_int_equal (sl_collectors_first (c)->nheld, 1);
    sl_collectors_job_done (c, "alice");
    assert_int_equal (sl_collectors_first (c)->nheld, 0);
    assert_null (sl_collectors_holder (c, "alice"));
    //  Another may name it now.
    assert_int_equal (sl_collectors_attach (c, "b", alice, 1, &holder), 0);
    sl_collectors_destroy (&c);
}

static void test_collectors_credit_is_per_collector (void **state)
{
    (void) state;
    sl_collectors_t *c = s_new (3);
    const char *holder;
    assert_int_equal (sl_collectors_attach (c, "slow", NULL, 0, &holder), 0);
    assert_int_equal (sl_collectors_attach (c, "fast", NULL, 0, &holder), 0);
    assert_int_equal (sl_collectors_credit (c, "slow"), 3);
    sl_collectors_sent (c, "slow", 3);
    assert_int_equal (sl_collectors_credit (c, "slow"), 0);
    sl_collectors_sent (c, "slow", 1); //  past its window (sent again): still none
    assert_int_equal (sl_collectors_credit (c, "slow"), 0);
    //  The stopped one does not hold the other back.
    assert_int_equal (sl_collectors_credit (c, "fast"), 3);
    sl_collectors_sent (c, "fast", 2);
    sl_collectors_acked (c, "fast", 2);
    assert_int_equal (sl_collectors_credit (c, "fast"), 3);
    sl_collectors_acked (c, "slow", 10); //  more than in flight: clamped
    assert_int_equal (sl_collectors_credit (c, "slow"), 3);
    const sl_collector_t *first = sl_collectors_first (c);
    assert_string_equal (first->name, "slow");
    assert_int_equal (first->delivered, 4);
    assert_int_equal (sl_collectors_credit (c, "gone"), 0);
    sl_collectors_destroy (&c);
}

static void test_collectors_refuses_too_many_jobs (void **state)
{
    (void) state;
    sl_collectors_t *c = s_new (3);
    const char *jobs [SL_COLLECTORS_MAX_JOBS + 1];
    for (size_t i = 0; i <= SL_COLLECTORS_MAX_JOBS; i++)
        jobs [i] = "j";
    const char *holder = "x";
    assert_int_equal (sl_collectors_attach (c, "s", jobs, SL_COLLECTORS_MAX_JOBS + 1, &holder), -1);
    assert_null (holder);
    assert_int_equal (sl_collectors_size (c), 0);
    sl_collectors_destroy (&c);
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_collectors_named_jobs_go_to_their_collector),
        cmocka_unit_test (test_collectors_second_claim_is_refused_naming_the_first),
        cmocka_unit_test (test_collectors_catch_all_takes_unclaimed_jobs_whole),
        cmocka_unit_test (test_collectors_detach_hands_jobs_over),
        cmocka_unit_test (test_collectors_job_done_ends_the_hold),
        cmocka_unit_test (test_collectors_credit_is_per_collector),
        cmocka_unit_test (test_collectors_refuses_too_many_jobs),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
