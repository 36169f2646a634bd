/*  Unit tests for broker/role.c: which broker acts on a shared journal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "role.h"

#define BEAT 200

#define TAKEOVER (5 * BEAT / 2) //  2.5 heartbeats of silence

static void test_role_standby_takes_over_after_two_and_a_half_silent_beats (void **state)
{
    (void) state;
    sl_role_t role;
    sl_role_init (&role, true, BEAT, 1000);
    assert_int_equal (role.state, SL_ROLE_STANDBY);
    assert_false (sl_role_may_serve (&role, 1000));
    assert_false (sl_role_takeover_due (&role, 1000 + TAKEOVER - 1));
    assert_true (sl_role_takeover_due (&role, 1000 + TAKEOVER));
    assert_int_equal (sl_role_wake (&role), 1000 + TAKEOVER);
    //  The default heartbeat: a takeover within 3 heartbeats of the kill
    //  needs the silence to be shorter than 3 of them.
    assert_int_equal (sl_role_takeover_ms (1000), 2500);
    assert_int_equal (sl_role_serve_ms (1000), 2000);
}

static void test_role_short_heartbeats_keep_a_margin (void **state)
{
    (void) state;
    //  Half a heartbeat of 10 ms is no margin against a loop turn: the
    //  takeover waits for SL_ROLE_MARGIN_MS past the window.
    assert_int_equal (sl_role_serve_ms (10), 20);
    assert_int_equal (sl_role_takeover_ms (10), 20 + SL_ROLE_MARGIN_MS);
    assert_int_equal (sl_role_takeover_ms (100), 200 + SL_ROLE_MARGIN_MS);
    assert_int_equal (sl_role_takeover_ms (200), 500);
    sl_role_t role;
    sl_role_init (&role, true, 10, 0);
    assert_false (sl_role_takeover_due (&role, 20 + SL_ROLE_MARGIN_MS - 1));
    assert_true (sl_role_takeover_due (&role, 20 + SL_ROLE_MARGIN_MS));
}

static void test_role_standby_waits_while_the_stream_moves (void **state)
{
    (void) state;
    sl_role_t role;
    sl_role_init (&role, true, BEAT, 0);
    for (int64_t now = 100; now < 5000; now += BEAT) {
        sl_role_followed (&role, (uint64_t) now, now);
        assert_false (sl_role_takeover_due (&role, now + TAKEOVER - 1));
    }
    //  The same sequence again is no sign of life.
    sl_role_followed (&role, 4900, 5000);
    assert_true (sl_role_takeover_due (&role, 4900 + TAKEOVER));
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
    assert_true (sl_role_takeover_due (&role, TAKEOVER));
    sl_role_refused (&role, TAKEOVER);
    assert_int_equal (role.state, SL_ROLE_STANDBY);
    assert_false (sl_role_takeover_due (&role, TAKEOVER + 1));
    assert_false (sl_role_takeover_due (&role, 2 * TAKEOVER - 1));
    assert_true (sl_role_takeover_due (&role, 2 * TAKEOVER));
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
    //  The active holds at t; a standby reads that hold at t or later. The
    //  window closes half a heartbeat before the takeover, and at least
    //  SL_ROLE_MARGIN_MS before it, whatever the heartbeat.
    const int64_t beats [] = { 10, 50, 200, 1000, 5000 };
    for (size_t b = 0; b < sizeof beats / sizeof beats [0]; b++) {
        int64_t beat = beats [b];
        int64_t margin = beat / 2 > SL_ROLE_MARGIN_MS ? beat / 2 : SL_ROLE_MARGIN_MS;
        for (int64_t t = 0; t < 3000; t += 37) {
            for (int64_t read_late = 0; read_late <= 60; read_late += 30) {
                sl_role_t active, standby;
                sl_role_init (&active, false, beat, t);
                sl_role_init (&standby, true, beat, 0);
                sl_role_followed (&standby, 1 + (uint64_t) t, t + read_late);
                int64_t takeover = t;
                while (!sl_role_takeover_due (&standby, takeover))
                    takeover++;
                assert_false (sl_role_may_serve (&active, takeover - margin));
                assert_true (sl_role_may_serve (&active, t + 2 * beat - 1));
            }
        }
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
        cmocka_unit_test (test_role_standby_takes_over_after_two_and_a_half_silent_beats),
        cmocka_unit_test (test_role_short_heartbeats_keep_a_margin),
        cmocka_unit_test (test_role_standby_waits_while_the_stream_moves),
        cmocka_unit_test (test_role_hold_makes_a_standby_active),
        cmocka_unit_test (test_role_refused_standby_follows_on),
        cmocka_unit_test (test_role_active_serves_only_within_its_window),
        cmocka_unit_test (test_role_window_closes_before_any_takeover),
        cmocka_unit_test (test_role_refused_active_is_deposed_for_good),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
