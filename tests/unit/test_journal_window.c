/*  test_journal_window - the NATS journal's publishes in flight
    (broker/journal_window.c): what is durable when answers come back in
    any order, and what a failure in the middle of the window means.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "journal_window.h"

#define LAST_SEQ 100 //  the stream's last sequence when the window opens

static int s_setup (void **state)
{
    *state = sl_jwindow_new (4, LAST_SEQ);
    return *state ? 0 : -1;
}

static int s_teardown (void **state)
{
    sl_jwindow_t *window = *state;
    sl_jwindow_destroy (&window);
    assert_null (window);
    return 0;
}

//  Pushes and sends a message of len bytes at off, whose last record is
//  position (0: none ends in it).
static sl_pub_t *s_send (sl_jwindow_t *window, size_t off, size_t len, uint64_t position)
{
    sl_frame_cut_t cut = { off, len, SL_FRAME_BEGIN | SL_FRAME_END, position ? 1 : 0 };
    sl_pub_t *pub = sl_jwindow_push (window, cut, position);
    sl_jwindow_sent (window, pub);
    return pub;
}

static void test_journal_window_messages_expect_one_after_another (void **state)
{
    sl_jwindow_t *window = *state;
    sl_pub_t *a = s_send (window, 0, 10, 1);
    assert_int_equal (a->expect, LAST_SEQ);
    assert_false (a->chained); //  nothing before it in flight
    sl_pub_t *b = s_send (window, 10, 10, 2);
    assert_int_equal (b->expect, LAST_SEQ + 1);
    assert_true (b->chained); //  a is in flight: b names it too
    assert_int_equal (sl_jwindow_in_flight (window), 2);
    assert_int_equal (sl_jwindow_size (window), 2);
}

static void test_journal_window_is_durable_only_up_to_the_first_unanswered (void **state)
{
    sl_jwindow_t *window = *state;
    s_send (window, 0, 10, 3);
    s_send (window, 10, 10, 0); //  a split record's first part
    s_send (window, 20, 10, 5);
    //  The third and second answer first: nothing is durable yet.
    assert_true (sl_jwindow_acked (window, LAST_SEQ + 2, LAST_SEQ + 3));
    assert_true (sl_jwindow_acked (window, LAST_SEQ + 1, LAST_SEQ + 2));
    sl_pub_t pub;
    assert_false (sl_jwindow_pop (window, &pub));
    assert_true (sl_jwindow_acked (window, LAST_SEQ, LAST_SEQ + 1));
    assert_true (sl_jwindow_pop (window, &pub));
    assert_int_equal (pub.position, 3);
    assert_int_equal (pub.cut.off + pub.cut.len, 10);
    assert_true (sl_jwindow_pop (window, &pub));
    assert_int_equal (pub.position, 0); //  no record ends in it
    assert_true (sl_jwindow_pop (window, &pub));
    assert_int_equal (pub.position, 5);
    assert_false (sl_jwindow_pop (window, &pub));
    assert_int_equal (sl_jwindow_last_seq (window), LAST_SEQ + 3);
    //  The next message expects the last one popped.
    assert_int_equal (s_send (window, 30, 10, 6)->expect, LAST_SEQ + 3);
}

static void test_journal_window_failure_stops_everything_after_it (void **state)
{
    sl_jwindow_t *window = *state;
    s_send (window, 0, 10, 1);
    s_send (window, 10, 10, 2);
    s_send (window, 20, 10, 3);
    //  The first times out; the ones after it were refused for expecting
    //  it (a consequence, not another broker), or even stored.
    assert_true (sl_jwindow_failed (window, LAST_SEQ, false));
    assert_true (sl_jwindow_broken (window));
    assert_false (sl_jwindow_stuck (window)); //  answers still due
    assert_true (sl_jwindow_failed (window, LAST_SEQ + 1, true));
    assert_true (sl_jwindow_acked (window, LAST_SEQ + 2, LAST_SEQ + 3));
    assert_true (sl_jwindow_stuck (window));
    sl_pub_t pub;
    assert_false (sl_jwindow_pop (window, &pub)); //  nothing durable past the failure
    //  The head decides: a timeout, not a fence. Everything goes again.
    assert_false (sl_jwindow_at (window, 0)->fence);
    sl_jwindow_rewind (window);
    assert_false (sl_jwindow_broken (window));
    for (size_t i = 0; i < 3; i++) {
        sl_pub_t *again = sl_jwindow_next (window);
        assert_ptr_equal (again, sl_jwindow_at (window, i));
        assert_int_equal (again->expect, LAST_SEQ + i); //  same expectations
        sl_jwindow_sent (window, again);
    }
    assert_null (sl_jwindow_next (window));
    //  The first had been stored after all: a duplicate, same sequence.
    assert_true (sl_jwindow_acked (window, LAST_SEQ, LAST_SEQ + 1));
    assert_true (sl_jwindow_pop (window, &pub));
    assert_int_equal (pub.position, 1);
}

static void test_journal_window_refused_head_is_a_fence (void **state)
{
    sl_jwindow_t *window = *state;
    s_send (window, 0, 10, 1);
    s_send (window, 10, 10, 2);
    assert_true (sl_jwindow_failed (window, LAST_SEQ, true)); //  another broker wrote
    assert_true (sl_jwindow_failed (window, LAST_SEQ + 1, true));
    assert_true (sl_jwindow_stuck (window));
    assert_true (sl_jwindow_at (window, 0)->fence);
}

static void test_journal_window_ignores_stray_answers (void **state)
{
    sl_jwindow_t *window = *state;
    s_send (window, 0, 10, 1);
    assert_false (sl_jwindow_acked (window, LAST_SEQ + 7, 1)); //  no such message
    assert_false (sl_jwindow_failed (window, LAST_SEQ - 1, true));
    assert_true (sl_jwindow_acked (window, LAST_SEQ, LAST_SEQ + 1));
    assert_false (sl_jwindow_acked (window, LAST_SEQ, LAST_SEQ + 1)); //  answered already
    assert_false (sl_jwindow_failed (window, LAST_SEQ, false));
    sl_pub_t pub;
    assert_true (sl_jwindow_pop (window, &pub));
}

static void test_journal_window_is_full_at_its_size (void **state)
{
    sl_jwindow_t *window = *state;
    for (size_t i = 0; i < 4; i++) {
        assert_false (sl_jwindow_full (window));
        s_send (window, i * 10, 10, i + 1);
    }
    assert_true (sl_jwindow_full (window));
    assert_true (sl_jwindow_acked (window, LAST_SEQ, LAST_SEQ + 1));
    sl_pub_t pub;
    assert_true (sl_jwindow_pop (window, &pub));
    assert_false (sl_jwindow_full (window));
    //  A message sent after its predecessor was answered is not chained.
    assert_true (sl_jwindow_acked (window, LAST_SEQ + 1, LAST_SEQ + 2));
    sl_pub_t *next = sl_jwindow_push (window, (sl_frame_cut_t){ 40, 10, 3, 1 }, 5);
    assert_true (sl_jwindow_at (window, 0)->state == SL_PUB_ACKED);
    sl_jwindow_sent (window, next);
    assert_true (next->chained); //  the one before it (LAST_SEQ + 3) is in flight
}

int main (void)
{
#define T(name) cmocka_unit_test_setup_teardown (name, s_setup, s_teardown)
    const struct CMUnitTest tests [] = {
        T (test_journal_window_messages_expect_one_after_another),
        T (test_journal_window_is_durable_only_up_to_the_first_unanswered),
        T (test_journal_window_failure_stops_everything_after_it),
        T (test_journal_window_refused_head_is_a_fence),
        T (test_journal_window_ignores_stray_answers),
        T (test_journal_window_is_full_at_its_size),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
