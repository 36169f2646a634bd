/*  test_credit - a worker's credit accounting under fair dispatch.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sl_credit.h"

//  Asks; checks whether a request is due and for how much; marks it sent.
static void s_expect_ask (sl_credit_t *credit, size_t held, bool draining, bool absolute, bool due,
                          uint32_t amount)
{
    uint32_t got = 12345;
    int64_t want = -1;
    bool asked = sl_credit_ask (credit, held, draining, absolute, &got, &want);
    assert_int_equal (asked, due);
    if (due) {
        assert_int_equal (got, amount);
        sl_credit_sent (credit, want);
    } else
        assert_int_equal (got, 12345);
}

static void test_credit_first_request_is_the_slots (void **state)
{
    (void) state;
    sl_credit_t credit;
    sl_credit_init (&credit, 4, -1);
    assert_int_equal (sl_credit_prefetch (&credit), 0);
    s_expect_ask (&credit, 0, false, true, true, 4);
    assert_int_equal (credit.granted, 4);
    //  Nothing changed: nothing more to ask.
    s_expect_ask (&credit, 0, false, false, false, 0);
}

static void test_credit_asks_again_as_tasks_finish (void **state)
{
    (void) state;
    sl_credit_t credit;
    sl_credit_init (&credit, 2, 0);
    s_expect_ask (&credit, 0, false, true, true, 2);
    sl_credit_received (&credit, 2);
    assert_int_equal (credit.granted, 0);
    //  Both running: no room.
    s_expect_ask (&credit, 2, false, false, false, 0);
    //  One finished: one more.
    s_expect_ask (&credit, 1, false, false, true, 1);
    assert_int_equal (credit.granted, 1);
    //  The other finished too while the first request is on its way.
    s_expect_ask (&credit, 0, false, false, true, 1);
    assert_int_equal (credit.granted, 2);
}

static void test_credit_never_asks_beyond_its_room (void **state)
{
    (void) state;
    sl_credit_t credit;
    sl_credit_init (&credit, 2, 1);
    //  Holding more than slots + prefetch (a reconnect sent us extra).
    s_expect_ask (&credit, 5, false, true, true, 0);
    s_expect_ask (&credit, 5, false, false, false, 0);
    s_expect_ask (&credit, 3, false, false, false, 0);
    s_expect_ask (&credit, 2, false, false, true, 1);
}

static void test_credit_draining_asks_for_nothing (void **state)
{
    (void) state;
    sl_credit_t credit;
    sl_credit_init (&credit, 3, 2);
    s_expect_ask (&credit, 0, false, true, true, 5);
    //  Draining: the broker is told, absolutely, to send nothing more.
    s_expect_ask (&credit, 1, true, true, true, 0);
    assert_int_equal (credit.granted, 0);
    s_expect_ask (&credit, 0, true, false, false, 0);
}

static void test_credit_fixed_prefetch_is_kept (void **state)
{
    (void) state;
    sl_credit_t credit;
    sl_credit_init (&credit, 2, 3);
    for (int i = 0; i < 50; i++)
        sl_credit_task_done (&credit, 0);
    assert_int_equal (sl_credit_prefetch (&credit), 3);
    s_expect_ask (&credit, 0, false, true, true, 5);
}

static void test_credit_automatic_prefetch_follows_task_length (void **state)
{
    (void) state;
    sl_credit_t credit;
    sl_credit_init (&credit, 1, -1);
    //  Tiny tasks (under 0.01 ms counts as 0.01): 1 slot x 10 ms / 0.01 ms.
    sl_credit_task_done (&credit, 0);
    assert_int_equal (sl_credit_prefetch (&credit), 1000);
    //  Long tasks: none, once the average has moved there.
    for (int i = 0; i < 100; i++)
        sl_credit_task_done (&credit, 500);
    assert_int_equal (sl_credit_prefetch (&credit), 0);
    //  ... capped for many slots.
    sl_credit_init (&credit, 8, -1);
    sl_credit_task_done (&credit, 0);
    assert_int_equal (sl_credit_prefetch (&credit), SL_CREDIT_MAX_PREFETCH);
    //  1 ms tasks on 2 slots hide a 10 ms round trip with 20.
    sl_credit_init (&credit, 2, -1);
    sl_credit_task_done (&credit, 1);
    assert_int_equal (sl_credit_prefetch (&credit), 20);
    s_expect_ask (&credit, 0, false, true, true, 22);
    //  Past 40 ms on 2 slots (under half a task in 10 ms): none.
    sl_credit_init (&credit, 2, -1);
    sl_credit_task_done (&credit, 41);
    assert_int_equal (sl_credit_prefetch (&credit), 0);
}

static void test_credit_tiny_tasks_ask_in_steps (void **state)
{
    (void) state;
    sl_credit_t credit;
    sl_credit_init (&credit, 2, 4); //  a window of 6: steps of 3
    s_expect_ask (&credit, 0, false, true, true, 6);
    sl_credit_received (&credit, 6);
    //  Both slots busy, prefetched tasks waiting: one or two free places
    //  in the window are not worth a message.
    s_expect_ask (&credit, 5, false, false, false, 0);
    s_expect_ask (&credit, 4, false, false, false, 0);
    //  Half the window free: ask for all of it.
    s_expect_ask (&credit, 3, false, false, true, 3);
    sl_credit_received (&credit, 3);
    //  A slot that would go idle asks at once, whatever the step.
    s_expect_ask (&credit, 1, false, false, true, 5);
    sl_credit_received (&credit, 5);
    s_expect_ask (&credit, 6, false, false, false, 0);
    s_expect_ask (&credit, 1, false, false, true, 5);
}

static void test_credit_received_tasks_use_up_the_request (void **state)
{
    (void) state;
    sl_credit_t credit;
    sl_credit_init (&credit, 4, 0);
    s_expect_ask (&credit, 0, false, true, true, 4);
    sl_credit_received (&credit, 3);
    assert_int_equal (credit.granted, 1);
    //  Holding 3 (running), 1 still to come: room is 1, already asked.
    s_expect_ask (&credit, 3, false, false, false, 0);
    sl_credit_received (&credit, 1);
    s_expect_ask (&credit, 3, false, false, true, 1);
}

static void test_credit_tasks_on_their_way_after_an_absolute_zero_ask_nothing (void **state)
{
    (void) state;
    sl_credit_t credit;
    sl_credit_init (&credit, 2, 0);
    s_expect_ask (&credit, 0, false, true, true, 2);
    //  Draining: absolute 0; then the two asked for arrive anyway.
    s_expect_ask (&credit, 0, true, true, true, 0);
    sl_credit_received (&credit, 2);
    assert_int_equal (credit.granted, 0);
    s_expect_ask (&credit, 0, true, false, false, 0);
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_credit_first_request_is_the_slots),
        cmocka_unit_test (test_credit_asks_again_as_tasks_finish),
        cmocka_unit_test (test_credit_never_asks_beyond_its_room),
        cmocka_unit_test (test_credit_draining_asks_for_nothing),
        cmocka_unit_test (test_credit_fixed_prefetch_is_kept),
        cmocka_unit_test (test_credit_automatic_prefetch_follows_task_length),
        cmocka_unit_test (test_credit_tiny_tasks_ask_in_steps),
        cmocka_unit_test (test_credit_received_tasks_use_up_the_request),
        cmocka_unit_test (test_credit_tasks_on_their_way_after_an_absolute_zero_ask_nothing),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
