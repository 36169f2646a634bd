/*  test_client_collect - the client library's record of its job's seqs
    (the collect core, lib/sl_collect.c, as client/client.c uses it): each
    result handed out exactly once, whatever the broker delivers again.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>

#include "sl_collect.h"

//  The client's use of the collect core: its one job of 10 tasks. offer
//  and take stand for what client.c does with a delivered result and when
//  it hands one to the user.
typedef struct {
    sl_collect_t *core;
    sl_cjob_t *job;
} client_t;

typedef enum { OFFER_NEW, OFFER_QUEUED, OFFER_TAKEN, OFFER_BAD } offer_t;

static size_t s_acked; //  seqs acknowledged, in all

static void s_count_ack (void *arg, const Sluice__Ack *ack)
{
    (void) arg;
    s_acked += ack->n_seqs;
}

static offer_t s_offer (client_t *client, uint64_t seq)
{
    sl_cjob_t *job;
    s_acked = 0;
    sl_collect_verdict_t verdict = sl_collect_offer (client->core, "job", seq, 0, &job);
    sl_collect_acks (client->core, s_count_ack, NULL);
    if (verdict == SL_COLLECT_WRITE)
        return OFFER_NEW;
    if (verdict == SL_COLLECT_DUPLICATE)
        return s_acked ? OFFER_TAKEN : OFFER_QUEUED; //  acknowledged again: handed out
    return OFFER_BAD;
}

static int s_take (client_t *client, uint64_t seq)
{
    return sl_collect_written (client->core, client->job, seq, SLUICE__STATUS__STATUS_OK, true);
}

static int s_setup (void **state)
{
    client_t *client = calloc (1, sizeof *client);
    sl_collect_config_t config = { .job = "job" };
    client->core = sl_collect_new (&config);
    client->job = client->core ? sl_collect_expect (client->core, "job", 10, 0) : NULL;
    *state = client;
    return client->job ? 0 : -1;
}

static int s_teardown (void **state)
{
    client_t *client = *state;
    sl_collect_destroy (&client->core);
    int rc = client->core == NULL ? 0 : -1;
    free (client);
    return rc;
}

static void test_client_collect_refuses_other_jobs (void **state)
{
    (void) state;
    sl_collect_config_t config = { .job = "job" };
    sl_collect_t *core = sl_collect_new (&config);
    assert_non_null (core);
    assert_null (sl_collect_expect (core, "other", 10, 0));
    sl_collect_destroy (&core);
}

static void test_client_collect_refuses_empty_job (void **state)
{
    (void) state;
    sl_collect_config_t config = { .job = "job" };
    sl_collect_t *core = sl_collect_new (&config);
    assert_non_null (core);
    assert_null (sl_collect_expect (core, "job", 0, 0));
    sl_collect_destroy (&core);
}

static void test_client_collect_first_delivery_is_new (void **state)
{
    client_t *collect = *state;
    assert_int_equal (s_offer (collect, 1), OFFER_NEW);
    assert_int_equal (s_offer (collect, 10), OFFER_NEW);
    assert_int_equal (collect->job->nwritten, 0);
}

static void test_client_collect_out_of_range_is_bad (void **state)
{
    client_t *collect = *state;
    assert_int_equal (s_offer (collect, 0), OFFER_BAD);
    assert_int_equal (s_offer (collect, 11), OFFER_BAD);
    assert_int_equal (s_offer (collect, UINT64_MAX), OFFER_BAD);
}

static void test_client_collect_duplicate_while_queued_is_dropped (void **state)
{
    client_t *collect = *state;
    assert_int_equal (s_offer (collect, 3), OFFER_NEW);
    assert_int_equal (s_offer (collect, 3), OFFER_QUEUED);
    assert_int_equal (s_take (collect, 3), 0);
    assert_int_equal (collect->job->nwritten, 1);
}

static void test_client_collect_duplicate_after_take_is_acked_again (void **state)
{
    client_t *collect = *state;
    assert_int_equal (s_offer (collect, 4), OFFER_NEW);
    assert_int_equal (s_take (collect, 4), 0);
    assert_int_equal (s_offer (collect, 4), OFFER_TAKEN);
    assert_int_equal (s_offer (collect, 4), OFFER_TAKEN);
    assert_int_equal (collect->job->nwritten, 1);
}

static void test_client_collect_take_needs_a_queued_result (void **state)
{
    client_t *collect = *state;
    assert_int_equal (s_take (collect, 5), -1); //  never came
    s_offer (collect, 5);
    assert_int_equal (s_take (collect, 5), 0);
    assert_int_equal (s_take (collect, 5), -1); //  twice
    assert_int_equal (s_take (collect, 0), -1);
    assert_int_equal (s_take (collect, 11), -1);
    assert_int_equal (collect->job->nwritten, 1);
}

static void test_client_collect_complete_when_all_taken (void **state)
{
    client_t *collect = *state;
    //  Delivered in reverse order, each twice, as after a broker restart.
    for (uint64_t seq = 10; seq >= 1; seq--) {
        assert_false (sl_collect_complete (collect->job));
        s_offer (collect, seq);
        s_offer (collect, seq);
        assert_int_equal (s_take (collect, seq), 0);
    }
    assert_true (sl_collect_complete (collect->job));
    assert_int_equal (collect->job->nwritten, 10);
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_client_collect_refuses_empty_job),
        cmocka_unit_test (test_client_collect_refuses_other_jobs),
        cmocka_unit_test_setup_teardown (test_client_collect_first_delivery_is_new, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_client_collect_out_of_range_is_bad, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_client_collect_duplicate_while_queued_is_dropped,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_client_collect_duplicate_after_take_is_acked_again,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_client_collect_take_needs_a_queued_result, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_client_collect_complete_when_all_taken, s_setup,
                                         s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
