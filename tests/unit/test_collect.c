/*  test_collect - the collect core (lib/sl_collect.c) shared by the sink
    and libsluice: each result handed out exactly once whatever the broker
    delivers again, results in seq order with keep_order, the
    acknowledgements, --resume, JobDone and JobState, and the jobs a
    collector does not collect.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "sl_collect.h"

//  What sl_collect_acks sent: the seqs of each Ack, one after the other.
typedef struct {
    char job [72];
    uint64_t seqs [64];
    size_t nseqs;
    size_t nacks;
} sent_t;

static void s_send (void *arg, const Sluice__Ack *ack)
{
    sent_t *sent = (sent_t *) arg;
    snprintf (sent->job, sizeof sent->job, "%s", ack->job);
    for (size_t i = 0; i < ack->n_seqs && sent->nseqs < 64; i++)
        sent->seqs [sent->nseqs++] = ack->seqs [i];
    sent->nacks++;
}

static sent_t s_acks (sl_collect_t *collect)
{
    sent_t sent;
    memset (&sent, 0, sizeof sent);
    sl_collect_acks (collect, s_send, &sent);
    return sent;
}

static sl_collect_t *s_new (const char *job, bool keep_order)
{
    sl_collect_config_t config = { .job = job, .keep_order = keep_order };
    sl_collect_t *collect = sl_collect_new (&config);
    assert_non_null (collect);
    return collect;
}

static sl_parked_t *s_parked (uint64_t seq)
{
    sl_parked_t *parked = sl_parked_new (seq, SLUICE__STATUS__STATUS_OK, "x\n", 2);
    assert_non_null (parked);
    return parked;
}

static void test_collect_writes_a_result_once (void **state)
{
    (void) state;
    sl_collect_t *collect = s_new (NULL, false);
    sl_cjob_t *job;
    assert_int_equal (sl_collect_offer (collect, "j", 5, 0, &job), SL_COLLECT_WRITE);
    assert_non_null (job);
    assert_string_equal (job->id, "j");
    //  Again before it is written (queued for the user): dropped, no ack.
    assert_int_equal (sl_collect_offer (collect, "j", 5, 0, &job), SL_COLLECT_DUPLICATE);
    assert_int_equal (s_acks (collect).nseqs, 0);
    sl_collect_written (collect, job, 5, SLUICE__STATUS__STATUS_OK, true);
    sent_t sent = s_acks (collect);
    assert_int_equal (sent.nseqs, 1);
    assert_int_equal (sent.seqs [0], 5);
    assert_string_equal (sent.job, "j");
    //  Again once written: dropped and acknowledged again.
    assert_int_equal (sl_collect_offer (collect, "j", 5, 0, &job), SL_COLLECT_DUPLICATE);
    sent = s_acks (collect);
    assert_int_equal (sent.nseqs, 1);
    assert_int_equal (sent.seqs [0], 5);
    assert_int_equal (sl_collect_duplicates (collect), 2);
    assert_int_equal (job->nwritten, 1);
    sl_collect_destroy (&collect);
    assert_null (collect);
}

static void test_collect_acks_once_per_job_and_then_none (void **state)
{
    (void) state;
    sl_collect_t *collect = s_new (NULL, false);
    sl_cjob_t *a, *b;
    for (uint64_t seq = 1; seq <= 3; seq++) {
        assert_int_equal (sl_collect_offer (collect, "a", seq, 0, &a), SL_COLLECT_WRITE);
        sl_collect_written (collect, a, seq, SLUICE__STATUS__STATUS_OK, true);
    }
    assert_int_equal (sl_collect_offer (collect, "b", 9, 0, &b), SL_COLLECT_WRITE);
    sl_collect_written (collect, b, 9, SLUICE__STATUS__STATUS_FAILED, false); //  no ack asked
    sent_t sent = s_acks (collect);
    assert_int_equal (sent.nacks, 1);
    assert_int_equal (sent.nseqs, 3);
    assert_string_equal (sent.job, "a");
    assert_int_equal (sent.seqs [2], 3);
    assert_int_equal (s_acks (collect).nacks, 0);
    assert_int_equal (b->failed, 1);
    assert_int_equal (a->failed, 0);
    sl_collect_destroy (&collect);
}

static void test_collect_dropped_result_is_new_again (void **state)
{
    (void) state;
    sl_collect_t *collect = s_new (NULL, false);
    sl_cjob_t *job;
    assert_int_equal (sl_collect_offer (collect, "j", 2, 0, &job), SL_COLLECT_WRITE);
    sl_collect_drop (collect, job, 2); //  could not be handed out
    assert_int_equal (sl_collect_offer (collect, "j", 2, 0, &job), SL_COLLECT_WRITE);
    sl_collect_destroy (&collect);
}

static void test_collect_keeps_order (void **state)
{
    (void) state;
    sl_collect_t *collect = s_new (NULL, true);
    sl_cjob_t *job;
    assert_int_equal (sl_collect_offer (collect, "j", 3, 0, &job), SL_COLLECT_PARK);
    sl_parked_t *parked = s_parked (3);
    assert_int_equal (sl_collect_park (collect, job, &parked), 0);
    assert_null (parked);
    assert_int_equal (sl_collect_offer (collect, "j", 2, 0, &job), SL_COLLECT_PARK);
    parked = s_parked (2);
    assert_int_equal (sl_collect_park (collect, job, &parked), 0);
    //  Parked and delivered again: not written yet, so not acknowledged.
    assert_int_equal (sl_collect_offer (collect, "j", 3, 0, &job), SL_COLLECT_DUPLICATE);
    assert_int_equal (s_acks (collect).nseqs, 0);
    assert_null (sl_collect_pop_ready (collect, job));
    assert_int_equal (sl_collect_offer (collect, "j", 1, 0, &job), SL_COLLECT_WRITE);
    sl_collect_written (collect, job, 1, SLUICE__STATUS__STATUS_OK, true);
    for (uint64_t seq = 2; seq <= 3; seq++) {
        sl_parked_t *ready = sl_collect_pop_ready (collect, job);
        assert_non_null (ready);
        assert_int_equal (ready->seq, seq);
        sl_collect_written_parked (collect, job, ready);
        free (ready);
    }
    assert_null (sl_collect_pop_ready (collect, job));
    sent_t sent = s_acks (collect);
    assert_int_equal (sent.nseqs, 3);
    assert_int_equal (sl_collect_held (collect), 2);
    assert_int_equal (sl_collect_held_max (collect), 2);
    sl_collect_destroy (&collect);
}

static void test_collect_acks_parked_ahead (void **state)
{
    (void) state;
    sl_collect_t *collect = s_new (NULL, true);
    sl_cjob_t *job;
    for (uint64_t seq = 2; seq <= 4; seq++) {
        assert_int_equal (sl_collect_offer (collect, "j", seq, 0, &job), SL_COLLECT_PARK);
        sl_parked_t *parked = s_parked (seq);
        assert_int_equal (sl_collect_park (collect, job, &parked), 0);
    }
    assert_int_equal (sl_collect_unacked_parked (collect), 3);
    assert_int_equal (sl_collect_ack_parked (collect, NULL, NULL), 3);
    assert_int_equal (sl_collect_unacked_parked (collect), 0);
    assert_int_equal (sl_collect_parked_acked (collect), 3);
    assert_int_equal (s_acks (collect).nseqs, 3);
    //  Parked, acknowledged and delivered again: acknowledged again.
    assert_int_equal (sl_collect_offer (collect, "j", 3, 0, &job), SL_COLLECT_DUPLICATE);
    assert_int_equal (s_acks (collect).nseqs, 1);
    //  Written at last: not acknowledged a second time.
    size_t n;
    sl_parked_t **all = sl_collect_take_parked (collect, job, &n);
    assert_int_equal (n, 3);
    for (size_t i = 0; i < n; i++) {
        sl_collect_written_parked (collect, job, all [i]);
        free (all [i]);
    }
    free (all);
    assert_int_equal (sl_collect_parked_acked (collect), 0);
    assert_int_equal (s_acks (collect).nseqs, 0);
    //  Its gap given up, seq 1 comes late: written out of order.
    assert_int_equal (sl_collect_offer (collect, "j", 1, 0, &job), SL_COLLECT_LATE);
    assert_int_equal (sl_collect_late (collect), 1);
    sl_collect_destroy (&collect);
}

static void test_collect_resume (void **state)
{
    (void) state;
    sl_collect_t *collect = s_new (NULL, true);
    assert_true (sl_collect_resumed (collect, "j", 1, SLUICE__STATUS__STATUS_OK, 0));
    assert_true (sl_collect_resumed (collect, "j", 2, SLUICE__STATUS__STATUS_TIMEOUT, 0));
    assert_false (sl_collect_resumed (collect, "j", 2, SLUICE__STATUS__STATUS_OK, 0));
    sl_cjob_t *job = sl_collect_job (collect, "j", 0);
    assert_int_equal (job->nwritten, 2);
    assert_int_equal (job->failed, 1);
    //  Written before: not again, but acknowledged (the old sink may not have).
    assert_int_equal (sl_collect_offer (collect, "j", 1, 0, &job), SL_COLLECT_DUPLICATE);
    assert_int_equal (s_acks (collect).nseqs, 1);
    //  The park file: 4 is parked again (acknowledged), 2 is written already.
    sl_parked_t *parked = s_parked (4);
    assert_int_equal (sl_collect_resumed_parked (collect, "j", &parked, 0), 1);
    assert_null (parked);
    parked = s_parked (2);
    assert_int_equal (sl_collect_resumed_parked (collect, "j", &parked, 0), 0);
    free (parked);
    assert_int_equal (sl_collect_parked_acked (collect), 1);
    //  The next in turn is 3; once written, 4 follows.
    assert_int_equal (sl_collect_offer (collect, "j", 3, 0, &job), SL_COLLECT_WRITE);
    sl_collect_written (collect, job, 3, SLUICE__STATUS__STATUS_OK, true);
    sl_parked_t *ready = sl_collect_pop_ready (collect, job);
    assert_non_null (ready);
    assert_int_equal (ready->seq, 4);
    assert_true (ready->acked);
    free (ready);
    sl_collect_destroy (&collect);
}

static void test_collect_job_done_and_hello (void **state)
{
    (void) state;
    sl_collect_t *collect = s_new (NULL, false);
    assert_false (sl_collect_all_done (collect)); //  no job named yet
    assert_false (sl_collect_hello_changed (collect));
    char *jobs [] = { "a", "b" };
    Sluice__Welcome welcome = SLUICE__WELCOME__INIT;
    welcome.jobs = jobs;
    welcome.n_jobs = 2;
    sl_collect_attached (collect, &welcome, 0);
    assert_true (sl_collect_hello_changed (collect));
    assert_false (sl_collect_hello_changed (collect)); //  said once
    char *waiting [4];
    assert_int_equal (sl_collect_waiting (collect, waiting, 4), 2);
    Sluice__JobDone done = SLUICE__JOB_DONE__INIT;
    done.job = "a";
    done.total = 7;
    sl_cjob_t *job = sl_collect_job_done (collect, &done, 0);
    assert_non_null (job);
    assert_true (job->done);
    assert_int_equal (job->total, 7);
    assert_true (sl_collect_hello_changed (collect));
    assert_int_equal (sl_collect_waiting (collect, waiting, 4), 1);
    assert_string_equal (waiting [0], "b");
    assert_false (sl_collect_all_done (collect));
    done.job = "b";
    sl_collect_job_done (collect, &done, 0);
    assert_true (sl_collect_all_done (collect));
    sl_collect_destroy (&collect);
}

static void test_collect_not_done_while_parked (void **state)
{
    (void) state;
    sl_collect_t *collect = s_new (NULL, true);
    sl_cjob_t *job;
    assert_int_equal (sl_collect_offer (collect, "j", 2, 0, &job), SL_COLLECT_PARK);
    sl_parked_t *parked = s_parked (2);
    assert_int_equal (sl_collect_park (collect, job, &parked), 0);
    Sluice__JobDone done = SLUICE__JOB_DONE__INIT;
    done.job = "j";
    sl_collect_job_done (collect, &done, 0);
    assert_false (sl_collect_all_done (collect));
    size_t n;
    sl_parked_t **all = sl_collect_take_parked (collect, job, &n);
    assert_int_equal (n, 1);
    free (all [0]);
    free (all);
    assert_true (sl_collect_all_done (collect));
    sl_collect_destroy (&collect);
}

static void test_collect_only_its_job (void **state)
{
    (void) state;
    sl_collect_t *collect = s_new ("mine", false);
    sl_cjob_t *job;
    assert_int_equal (sl_collect_offer (collect, "other", 1, 0, &job), SL_COLLECT_FOREIGN);
    assert_null (job);
    char *jobs [] = { "other", "mine" };
    Sluice__Welcome welcome = SLUICE__WELCOME__INIT;
    welcome.jobs = jobs;
    welcome.n_jobs = 2;
    sl_collect_welcome (collect, &welcome, 0);
    assert_int_equal (sl_collect_size (collect), 1);
    assert_string_equal (sl_collect_first (collect)->id, "mine");
    Sluice__JobDone done = SLUICE__JOB_DONE__INIT;
    done.job = "other";
    assert_null (sl_collect_job_done (collect, &done, 0));
    assert_false (sl_collect_resumed (collect, "other", 1, 0, 0));
    sl_parked_t *parked = s_parked (1);
    assert_int_equal (sl_collect_resumed_parked (collect, "other", &parked, 0), -1);
    free (parked);
    sl_collect_destroy (&collect);
}

static void test_collect_only_its_jobs (void **state)
{
    (void) state;
    const char *more [] = { "second", "third" };
    sl_collect_config_t config = { .job = "first", .more = more, .nmore = 2 };
    sl_collect_t *collect = sl_collect_new (&config);
    assert_non_null (collect);
    sl_cjob_t *job;
    assert_int_equal (sl_collect_offer (collect, "other", 1, 0, &job), SL_COLLECT_FOREIGN);
    assert_int_equal (sl_collect_offer (collect, "first", 1, 0, &job), SL_COLLECT_WRITE);
    assert_int_equal (sl_collect_offer (collect, "third", 1, 0, &job), SL_COLLECT_WRITE);
    assert_string_equal (job->id, "third");
    char *jobs [] = { "other", "second", "third" };
    Sluice__Welcome welcome = SLUICE__WELCOME__INIT;
    welcome.jobs = jobs;
    welcome.n_jobs = 3;
    sl_collect_welcome (collect, &welcome, 0);
    assert_int_equal (sl_collect_size (collect), 3); //  first, second, third; not other
    sl_collect_destroy (&collect);
}

static void test_collect_expected_size (void **state)
{
    (void) state;
    sl_collect_t *collect = s_new ("j", false);
    sl_cjob_t *job = sl_collect_expect (collect, "j", 3, 0);
    assert_non_null (job);
    sl_cjob_t *got;
    assert_int_equal (sl_collect_offer (collect, "j", 0, 0, &got), SL_COLLECT_OUT_OF_RANGE);
    assert_int_equal (sl_collect_offer (collect, "j", 4, 0, &got), SL_COLLECT_OUT_OF_RANGE);
    for (uint64_t seq = 3; seq >= 1; seq--) {
        assert_false (sl_collect_complete (job));
        assert_int_equal (sl_collect_offer (collect, "j", seq, 0, &got), SL_COLLECT_WRITE);
        sl_collect_written (collect, job, seq, SLUICE__STATUS__STATUS_OK, true);
    }
    assert_true (sl_collect_complete (job));
    sl_collect_destroy (&collect);
}

static void test_collect_gives_up_gaps_when_quiet (void **state)
{
    (void) state;
    sl_collect_t *collect = s_new (NULL, true);
    sl_cjob_t *job;
    assert_int_equal (sl_collect_offer (collect, "j", 5, 1000, &job), SL_COLLECT_PARK);
    sl_parked_t *parked = s_parked (5);
    assert_int_equal (sl_collect_park (collect, job, &parked), 0);
    Sluice__JobState st = SLUICE__JOB_STATE__INIT;
    st.job = "j";
    st.total = 5;
    st.done = 5;
    sl_cjob_t *got;
    //  Not quiet long enough.
    assert_false (sl_collect_job_state (collect, &st, 500, 1200, &got));
    assert_ptr_equal (got, job);
    //  Still running somewhere.
    st.running = 1;
    assert_false (sl_collect_job_state (collect, &st, 500, 2000, &got));
    st.running = 0;
    assert_true (sl_collect_job_state (collect, &st, 500, 2000, &got));
    assert_int_equal (job->total, 5);
    st.job = "unknown";
    assert_false (sl_collect_job_state (collect, &st, 500, 2000, &got));
    assert_null (got);
    sl_collect_destroy (&collect);
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_collect_writes_a_result_once),
        cmocka_unit_test (test_collect_acks_once_per_job_and_then_none),
        cmocka_unit_test (test_collect_dropped_result_is_new_again),
        cmocka_unit_test (test_collect_keeps_order),
        cmocka_unit_test (test_collect_acks_parked_ahead),
        cmocka_unit_test (test_collect_resume),
        cmocka_unit_test (test_collect_job_done_and_hello),
        cmocka_unit_test (test_collect_not_done_while_parked),
        cmocka_unit_test (test_collect_only_its_job),
        cmocka_unit_test (test_collect_only_its_jobs),
        cmocka_unit_test (test_collect_expected_size),
        cmocka_unit_test (test_collect_gives_up_gaps_when_quiet),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
