/*  Tests of failures (the failed tasks kept for the dashboard).  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "failures.h"

static void s_add (failures_t *self, const char *job, uint64_t seq)
{
    failure_t f = { 0 };
    f.seq = seq;
    snprintf (f.id, sizeof f.id, "task-%llu", (unsigned long long) seq);
    f.status = 2;
    f.exit_code = (int32_t) (seq % 7);
    f.attempts = 3;
    snprintf (f.worker, sizeof f.worker, "host:%llu", (unsigned long long) seq);
    f.stderr_size = (uint16_t) snprintf (f.stderr_tail, sizeof f.stderr_tail, "err %llu",
                                         (unsigned long long) seq);
    assert_int_equal (failures_add (self, job, &f), 0);
}

static void test_failures_page_in_seq_order (void **state)
{
    (void) state;
    failures_t *self = failures_new (1000, 100);
    //  Out of order, as results arrive.
    uint64_t seqs [] = { 5, 1, 9, 3, 7, 2 };
    for (size_t i = 0; i < 6; i++)
        s_add (self, "job1", seqs [i]);
    const failure_t *page [10];
    size_t n = failures_page (self, "job1", true, 0, page, 10);
    assert_int_equal (n, 6);
    uint64_t want [] = { 1, 2, 3, 5, 7, 9 };
    for (size_t i = 0; i < n; i++)
        assert_int_equal (page [i]->seq, want [i]);
    assert_string_equal (page [0]->id, "task-1");
    assert_string_equal (page [0]->worker, "host:1");
    assert_memory_equal (page [0]->stderr_tail, "err 1", 5);
    assert_int_equal (page [0]->attempts, 3);
    //  After a seq (itself excluded), and a limit.
    n = failures_page (self, "job1", false, 3, page, 2);
    assert_int_equal (n, 2);
    assert_int_equal (page [0]->seq, 5);
    assert_int_equal (page [1]->seq, 7);
    assert_int_equal (failures_page (self, "job1", false, 9, page, 10), 0);
    assert_int_equal (failures_page (self, "job1", false, UINT64_MAX, page, 10), 0);
    assert_int_equal (failures_page (self, "nojob", true, 0, page, 10), 0);
    assert_int_equal (failures_count (self, "job1"), 6);
    failures_destroy (&self);
    assert_null (self);
}

static void test_failures_same_seq_replaces (void **state)
{
    (void) state;
    failures_t *self = failures_new (1000, 100);
    s_add (self, "j", 4);
    s_add (self, "j", 4);
    assert_int_equal (failures_kept (self, "j"), 1);
    assert_int_equal (failures_count (self, "j"), 1);
    failures_destroy (&self);
}

static void test_failures_per_job_cap_counts_the_rest (void **state)
{
    (void) state;
    failures_t *self = failures_new (1000, 10);
    for (uint64_t seq = 1; seq <= 25; seq++)
        s_add (self, "j", seq);
    assert_int_equal (failures_kept (self, "j"), 10);
    assert_int_equal (failures_count (self, "j"), 25);
    assert_int_equal (failures_size (self), 10);
    failures_destroy (&self);
}

static void test_failures_forget_the_oldest_job_when_full (void **state)
{
    (void) state;
    failures_t *self = failures_new (20, 15);
    for (uint64_t seq = 1; seq <= 10; seq++)
        s_add (self, "old", seq);
    for (uint64_t seq = 1; seq <= 10; seq++)
        s_add (self, "mid", seq);
    assert_int_equal (failures_size (self), 20);
    s_add (self, "new", 1);
    assert_int_equal (failures_kept (self, "old"), 0);
    assert_int_equal (failures_count (self, "old"), 0);
    assert_int_equal (failures_kept (self, "mid"), 10);
    assert_int_equal (failures_kept (self, "new"), 1);
    assert_int_equal (failures_size (self), 11);
    //  One job alone past the total: its later failures are counted only.
    failures_t *one = failures_new (5, 100);
    for (uint64_t seq = 1; seq <= 8; seq++)
        s_add (one, "j", seq);
    assert_int_equal (failures_kept (one, "j"), 5);
    assert_int_equal (failures_count (one, "j"), 8);
    failures_destroy (&one);
    failures_destroy (&self);
}

static void test_failures_cut_long_fields (void **state)
{
    (void) state;
    failures_t *self = failures_new (10, 10);
    failure_t f = { 0 };
    f.seq = 1;
    memset (f.id, 'i', sizeof f.id - 1);
    memset (f.worker, 'w', sizeof f.worker - 1);
    memset (f.stderr_tail, 'e', sizeof f.stderr_tail);
    f.stderr_size = 60000; //  more than fits: cut to the buffer
    assert_int_equal (failures_add (self, "j", &f), 0);
    const failure_t *page [1];
    assert_int_equal (failures_page (self, "j", true, 0, page, 1), 1);
    assert_int_equal (strlen (page [0]->id), FAILURE_ID_MAX);
    assert_int_equal (strlen (page [0]->worker), FAILURE_WORKER_MAX);
    assert_int_equal (page [0]->stderr_size, FAILURE_STDERR_MAX);
    failures_forget (self, "j");
    assert_int_equal (failures_size (self), 0);
    failures_forget (self, "j"); //  twice: nothing
    failures_destroy (&self);
    failures_destroy (&self); //  NULL-safe
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_failures_page_in_seq_order),
        cmocka_unit_test (test_failures_same_seq_replaces),
        cmocka_unit_test (test_failures_per_job_cap_counts_the_rest),
        cmocka_unit_test (test_failures_forget_the_oldest_job_when_full),
        cmocka_unit_test (test_failures_cut_long_fields),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
