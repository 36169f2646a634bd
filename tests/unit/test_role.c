/*  Unit tests for broker/role.c: which broker acts on a shared journal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "role.h"

#define BEAT 200

static void test_role_standby_takes_over_after_three_silent_beats (void **state)
{
    (void) state;
    sl_role_t role;
    sl_role_init (&role, true, BEAT, 1000);
    assert_int_equal (role.state, SL_ROLE_STANDBY);
    assert_false (sl_role_may_serve (&role, 1000));
    assert_false (sl_role_takeover_due (&role, 1000 + 3 * BEAT - 1));
    assert_true (sl_role_takeover_due (&role, 1000 + 3 * BEAT));
    assert_int_equal (sl_role_wake (&role), 1000 + 3 * BEAT);
}

static void test_role_standby_waits_while_the_stream_moves (void **state)
{
    (void) state;
    sl_role_t role;
    sl_role_init (&role, true, BEAT, 0);
    for (int64_t now = 100; now < 5000; now += BEAT) {
        sl_role_followed (&role, (uint64_t) now, now);
        assert_false (sl_role_takeover_due (&role, now + 3 * BEAT - 1));
    }
    //  The same sequence again is no sign of life.
    sl_role_followed (&role, 4900, 5000);
    assert_true (sl_role_takeover_due (&role, 4900 + 3 * BEAT));
}

static void test_role_hold_makes_a_standby_active (void **state)
{
    (void) state;
    sl_role_t role;
    sl_role_init (&role, true, BEAT, 0);
    sl_role_held (&role, 700);
    assert_int_equal (role.state, SL_ROLE_ACTIVE);
    assert_int_equal (role.took_over_at, 700);
    assert_int_equal (role.takeovers, 1);
    assert_true (sl_role_may_serve (&role, 700));
    assert_false (sl_role_takeover_due (&role, 100000));
}

static void test_role_refused_standby_follows_on (void **state)
{
    (void) state;
    sl_role_t role;
    sl_role_init (&role, true, BEAT, 0);
    assert_true (sl_role_takeover_due (&role, 3 * BEAT));
    sl_role_refused (&role, 3 * BEAT);
    assert_int_equal (role.state, SL_ROLE_STANDBY);
    assert_false (sl_role_takeover_due (&role, 3 * BEAT + 1));
    assert_true (sl_role_takeover_due (&role, 6 * BEAT));
}

static void test_role_active_serves_only_within_its_window (void **state)
{
    (void) state;
    sl_role_t role;
    sl_role_init (&role, false, BEAT, 0);
    assert_true (sl_role_may_serve (&role, 0));
    assert_false (sl_role_hold_due (&role, BEAT - 1));
    assert_true (sl_role_hold_due (&role, BEAT));
    assert_true (sl_role_may_serve (&role, 2 * BEAT - 1));
    //  Stopped past its window: it must hold again before serving.
    assert_false (sl_role_may_serve (&role, 2 * BEAT));
    sl_role_held (&role, 5000);
    assert_true (sl_role_may_serve (&role, 5000 + 2 * BEAT - 1));
    assert_int_equal (sl_role_wake (&role), 5000 + BEAT);
}

static void test_role_window_closes_before_any_takeover (void **state)
{
    (void) state;
    //  The active holds at t; a standby reads that hold at t or later.
    for (int64_t t = 0; t < 3000; t += 37) {
        sl_role_t active, standby;
        sl_role_init (&active, false, BEAT, t);
        sl_role_init (&standby, true, BEAT, 0);
        sl_role_followed (&standby, 1 + (uint64_t) t, t);
        int64_t takeover = t;
        while (!sl_role_takeover_due (&standby, takeover))
            takeover++;
        assert_false (sl_role_may_serve (&active, takeover - BEAT));
    }
}

static void test_role_refused_active_is_deposed_for_good (void **state)
{
    (void) state;
    sl_role_t role;
    sl_role_init (&role, false, BEAT, 0);
    sl_role_refused (&role, 10);
    assert_int_equal (role.state, SL_ROLE_DEPOSED);
    assert_false (sl_role_may_serve (&role, 10));
    sl_role_held (&role, 20);
    assert_int_equal (role.state, SL_ROLE_DEPOSED);
    assert_false (sl_role_hold_due (&role, 100000));
    assert_string_equal (sl_role_name (role.state), "deposed");
    assert_string_equal (sl_role_name (SL_ROLE_STANDBY), "standby");
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_role_standby_takes_over_after_three_silent_beats),
        cmocka_unit_test (test_role_standby_waits_while_the_stream_moves),
        cmocka_unit_test (test_role_hold_makes_a_standby_active),
        cmocka_unit_test (test_role_refused_standby_follows_on),
        cmocka_unit_test (test_role_active_serves_only_within_its_window),
        cmocka_unit_test (test_role_window_closes_before_any_takeover),
        cmocka_unit_test (test_role_refused_active_is_deposed_for_good),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
