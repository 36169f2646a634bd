/*  Unit tests for lib/sl_follow.c: which broker a client talks to. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sl_follow.h"

static void test_follow_parses_a_list (void **state)
{
    (void) state;
    sl_follow_t f;
    char err [256];
    assert_int_equal (sl_follow_init (&f, "tcp://a:5560, tcp://b:5560 ,tcp://a:5560", 0, err,
                                      sizeof err),
                      0);
    assert_int_equal (f.n, 2);
    assert_string_equal (sl_follow_current (&f), "tcp://a:5560");
    char list [600];
    sl_follow_list (&f, list, sizeof list);
    assert_string_equal (list, "tcp://a:5560, tcp://b:5560");
}

static void test_follow_names_a_bad_address (void **state)
{
    (void) state;
    char err [256] = "";
    assert_int_equal (sl_follow_check ("tcp://a:5560,b:5560", err, sizeof err), -1);
    assert_non_null (strstr (err, "b:5560"));
    assert_int_equal (sl_follow_check ("tcp://a:5560,", err, sizeof err), -1);
    assert_non_null (strstr (err, "empty"));
    assert_int_equal (sl_follow_check ("tcp://a:5560", err, sizeof err), 0);
}

static void test_follow_goes_to_the_active_broker_named (void **state)
{
    (void) state;
    sl_follow_t f;
    char err [256];
    sl_follow_init (&f, "tcp://a:5560,tcp://b:5560,tcp://c:5560", 0, err, sizeof err);
    assert_int_equal (sl_follow_refused (&f, "standby; the active broker is tcp://c:5560", 10),
                      SL_FOLLOW_SWITCH);
    assert_string_equal (sl_follow_current (&f), "tcp://c:5560");
    assert_int_equal (f.switches, 1);
    //  An address the user did not give is added.
    assert_int_equal (sl_follow_refused (&f, "standby; the active broker is tcp://d:6000", 20),
                      SL_FOLLOW_SWITCH);
    assert_string_equal (sl_follow_current (&f), "tcp://d:6000");
    assert_int_equal (f.n, 4);
}

static void test_follow_standby_without_hint_tries_the_next (void **state)
{
    (void) state;
    sl_follow_t f;
    char err [256];
    sl_follow_init (&f, "tcp://a:5560,tcp://b:5560", 0, err, sizeof err);
    assert_int_equal (sl_follow_refused (&f, "standby; no active broker known yet", 5),
                      SL_FOLLOW_SWITCH);
    assert_string_equal (sl_follow_current (&f), "tcp://b:5560");
    assert_int_equal (sl_follow_refused (&f, "deposed; another broker took over", 6),
                      SL_FOLLOW_SWITCH);
    assert_string_equal (sl_follow_current (&f), "tcp://a:5560");
}

static void test_follow_one_address_stays_with_a_standby (void **state)
{
    (void) state;
    sl_follow_t f;
    char err [256];
    sl_follow_init (&f, "tcp://a:5560", 0, err, sizeof err);
    assert_int_equal (sl_follow_refused (&f, "standby; no active broker known yet", 5),
                      SL_FOLLOW_STAY);
    assert_int_equal (sl_follow_silent (&f, 100000), SL_FOLLOW_STAY);
    assert_string_equal (sl_follow_current (&f), "tcp://a:5560");
}

static void test_follow_other_refusals_are_final (void **state)
{
    (void) state;
    sl_follow_t f;
    char err [256];
    sl_follow_init (&f, "tcp://a:5560,tcp://b:5560", 0, err, sizeof err);
    assert_int_equal (sl_follow_refused (&f, "job id must be 1-64 characters", 5),
                      SL_FOLLOW_FINAL);
    assert_string_equal (sl_follow_current (&f), "tcp://a:5560");
}

static void test_follow_silent_broker_is_left_after_the_dwell (void **state)
{
    (void) state;
    sl_follow_t f;
    char err [256];
    sl_follow_init (&f, "tcp://a:5560,tcp://b:5560", 1000, err, sizeof err);
    assert_int_equal (sl_follow_silent (&f, 1000 + SL_FOLLOW_DWELL_MS - 1), SL_FOLLOW_STAY);
    assert_int_equal (sl_follow_silent (&f, 1000 + SL_FOLLOW_DWELL_MS), SL_FOLLOW_SWITCH);
    assert_string_equal (sl_follow_current (&f), "tcp://b:5560");
    //  The dwell starts again at each switch.
    assert_int_equal (sl_follow_silent (&f, 1000 + SL_FOLLOW_DWELL_MS + 1), SL_FOLLOW_STAY);
    assert_int_equal (sl_follow_silent (&f, 1000 + 2 * SL_FOLLOW_DWELL_MS), SL_FOLLOW_SWITCH);
    assert_string_equal (sl_follow_current (&f), "tcp://a:5560");
}

static void test_follow_stays_with_a_standby_naming_a_broker_just_left (void **state)
{
    (void) state;
    sl_follow_t f;
    char err [256];
    sl_follow_init (&f, "tcp://a:5560,tcp://b:5560", 0, err, sizeof err);
    //  a died: left for silence, to b, a standby that does not know yet.
    assert_int_equal (sl_follow_silent (&f, 1000), SL_FOLLOW_SWITCH);
    assert_int_equal (sl_follow_refused (&f, "standby; the active broker is tcp://a:5560", 1100),
                      SL_FOLLOW_STAY);
    assert_string_equal (sl_follow_current (&f), "tcp://b:5560");
    //  It answered: not silent, so no move either.
    assert_int_equal (sl_follow_silent (&f, 1100 + SL_FOLLOW_DWELL_MS - 1), SL_FOLLOW_STAY);
    //  Long after, a hint to a is followed again.
    assert_int_equal (sl_follow_refused (&f, "standby; the active broker is tcp://a:5560",
                                         1000 + SL_FOLLOW_STALE_MS),
                      SL_FOLLOW_SWITCH);
    assert_string_equal (sl_follow_current (&f), "tcp://a:5560");
}

static void test_follow_lost_link_moves_on_at_once (void **state)
{
    (void) state;
    sl_follow_t f;
    char err [256];
    sl_follow_init (&f, "tcp://a:5560,tcp://b:5560", 0, err, sizeof err);
    //  No dwell: a lost link leaves at once, even right after a move.
    assert_int_equal (sl_follow_lost (&f, 10), SL_FOLLOW_SWITCH);
    assert_string_equal (sl_follow_current (&f), "tcp://b:5560");
    //  The standby there names a: stay until it takes over.
    assert_int_equal (sl_follow_refused (&f, "standby; the active broker is tcp://a:5560", 20),
                      SL_FOLLOW_STAY);
    assert_string_equal (sl_follow_current (&f), "tcp://b:5560");
    //  With one address, nowhere to go.
    sl_follow_init (&f, "tcp://a:5560", 0, err, sizeof err);
    assert_int_equal (sl_follow_lost (&f, 10), SL_FOLLOW_STAY);
}

static void test_follow_link_lost_sooner_without_a_connection (void **state)
{
    (void) state;
    sl_follow_t two, one;
    char err [256];
    sl_follow_init (&two, "tcp://a:5560,tcp://b:5560", 0, err, sizeof err);
    sl_follow_init (&one, "tcp://a:5560", 0, err, sizeof err);
    const int64_t beat = 200;
    //  Heartbeats answered, or merely late: 3 heartbeats.
    assert_false (sl_follow_link_lost (&two, 3 * beat, beat, false));
    assert_true (sl_follow_link_lost (&two, 3 * beat + 1, beat, false));
    assert_int_equal (sl_follow_lost_at (&two, 1000, beat, false), 1000 + 3 * beat + 1);
    //  A heartbeat that found no connection, another broker to try: one
    //  heartbeat, so that the client is at the standby before its
    //  takeover (2.5 heartbeats after the last append).
    assert_false (sl_follow_link_lost (&two, beat, beat, true));
    assert_true (sl_follow_link_lost (&two, beat + 1, beat, true));
    assert_int_equal (sl_follow_lost_at (&two, 1000, beat, true), 1000 + beat + 1);
    //  Alone, a client waits the 3 heartbeats whatever the connection.
    assert_false (sl_follow_link_lost (&one, 3 * beat, beat, true));
    assert_int_equal (sl_follow_lost_at (&one, 1000, beat, true), 1000 + 3 * beat + 1);
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_follow_parses_a_list),
        cmocka_unit_test (test_follow_names_a_bad_address),
        cmocka_unit_test (test_follow_goes_to_the_active_broker_named),
        cmocka_unit_test (test_follow_standby_without_hint_tries_the_next),
        cmocka_unit_test (test_follow_one_address_stays_with_a_standby),
        cmocka_unit_test (test_follow_other_refusals_are_final),
        cmocka_unit_test (test_follow_silent_broker_is_left_after_the_dwell),
        cmocka_unit_test (test_follow_stays_with_a_standby_naming_a_broker_just_left),
        cmocka_unit_test (test_follow_lost_link_moves_on_at_once),
        cmocka_unit_test (test_follow_link_lost_sooner_without_a_connection),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
