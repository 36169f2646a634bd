/*  test_outbox - answers held until their journal records are durable
    (broker/outbox.c). Each test gets a fresh outbox from the fixture.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "outbox.h"

static int s_setup (void **state)
{
    *state = sl_outbox_new ();
    return *state ? 0 : -1;
}

static int s_teardown (void **state)
{
    sl_outbox_t *outbox = (sl_outbox_t *) *state;
    sl_outbox_destroy (&outbox);
    assert_null (outbox);
    return 0;
}

static void s_add (sl_outbox_t *outbox, uint64_t after, const char *to, const char *text)
{
    zframe_t *msg = zframe_new (text, strlen (text));
    zframe_t *routing_id = to ? zframe_new (to, strlen (to)) : NULL;
    assert_int_equal (sl_outbox_add (outbox, after, routing_id, &msg), 0);
    assert_null (msg);
    zframe_destroy (&routing_id);
}

static void s_expect_head (sl_outbox_t *outbox, uint64_t durable, const char *to, const char *text)
{
    zframe_t *routing_id = NULL, *msg = NULL;
    assert_true (sl_outbox_peek (outbox, durable, &routing_id, &msg));
    assert_true (zframe_streq (msg, text));
    if (to)
        assert_true (zframe_streq (routing_id, to));
    else
        assert_null (routing_id);
}

static void test_outbox_holds_an_answer_until_its_position_is_durable (void **state)
{
    sl_outbox_t *outbox = (sl_outbox_t *) *state;
    s_add (outbox, 7, "ctl", "cancelled");
    zframe_t *routing_id, *msg;
    assert_false (sl_outbox_peek (outbox, 0, &routing_id, &msg));
    assert_false (sl_outbox_peek (outbox, 6, &routing_id, &msg));
    s_expect_head (outbox, 7, "ctl", "cancelled");
    s_expect_head (outbox, 100, "ctl", "cancelled");
    assert_int_equal (sl_outbox_size (outbox), 1);
}

static void test_outbox_sends_in_order_and_pop_moves_on (void **state)
{
    sl_outbox_t *outbox = (sl_outbox_t *) *state;
    s_add (outbox, 1, NULL, "a");
    s_add (outbox, 2, NULL, "b");
    s_add (outbox, 5, NULL, "c");
    s_expect_head (outbox, 2, NULL, "a");
    sl_outbox_pop (outbox);
    s_expect_head (outbox, 2, NULL, "b");
    sl_outbox_pop (outbox);
    zframe_t *routing_id, *msg;
    assert_false (sl_outbox_peek (outbox, 4, &routing_id, &msg));
    s_expect_head (outbox, 5, NULL, "c");
    sl_outbox_pop (outbox);
    assert_int_equal (sl_outbox_size (outbox), 0);
    assert_false (sl_outbox_peek (outbox, 1000, &routing_id, &msg));
    sl_outbox_pop (outbox); //  empty: nothing happens
}

static void test_outbox_never_lets_a_later_answer_overtake (void **state)
{
    //  An answer queued after another waits for at least as much, even if
    //  its own record came earlier: the client sees answers in order.
    sl_outbox_t *outbox = (sl_outbox_t *) *state;
    s_add (outbox, 9, "x", "first");
    s_add (outbox, 3, "y", "second");
    zframe_t *routing_id, *msg;
    assert_false (sl_outbox_peek (outbox, 8, &routing_id, &msg));
    s_expect_head (outbox, 9, "x", "first");
    sl_outbox_pop (outbox);
    assert_false (sl_outbox_peek (outbox, 8, &routing_id, &msg));
    s_expect_head (outbox, 9, "y", "second");
}

static void test_outbox_answer_without_records_goes_at_once (void **state)
{
    //  Position 0: nothing was ever appended (or --in-memory).
    sl_outbox_t *outbox = (sl_outbox_t *) *state;
    s_add (outbox, 0, "ctl", "ok");
    s_expect_head (outbox, 0, "ctl", "ok");
}

static void test_outbox_purge_drops_everything (void **state)
{
    sl_outbox_t *outbox = (sl_outbox_t *) *state;
    s_add (outbox, 1, NULL, "a");
    s_add (outbox, 2, NULL, "b");
    sl_outbox_purge (outbox);
    assert_int_equal (sl_outbox_size (outbox), 0);
    zframe_t *routing_id, *msg;
    assert_false (sl_outbox_peek (outbox, 10, &routing_id, &msg));
    s_add (outbox, 3, NULL, "c");
    s_expect_head (outbox, 3, NULL, "c");
}

static void test_outbox_destroy_is_null_safe (void **state)
{
    (void) state;
    sl_outbox_t *none = NULL;
    sl_outbox_destroy (&none);
    sl_outbox_t *full = sl_outbox_new ();
    assert_non_null (full);
    s_add (full, 1, "peer", "left queued: freed by destroy");
    sl_outbox_destroy (&full);
    assert_null (full);
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (
            test_outbox_holds_an_answer_until_its_position_is_durable, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_outbox_sends_in_order_and_pop_moves_on, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_outbox_never_lets_a_later_answer_overtake, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_outbox_answer_without_records_goes_at_once, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_outbox_purge_drops_everything, s_setup, s_teardown),
        cmocka_unit_test (test_outbox_destroy_is_null_safe),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
