/*  Unit tests for broker/standbys.c: the standbys an active broker heard
    from, their lag and expiry, and the announcement's wire format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "standbys.h"

#define BEAT 200

static sl_announcement_t s_said (const char *broker, uint64_t seq)
{
    sl_announcement_t said = { .seq = seq, .every_ms = BEAT };
    snprintf (said.broker, sizeof said.broker, "%s", broker);
    snprintf (said.role, sizeof said.role, "standby");
    return said;
}

static void test_standbys_one_entry_per_address (void **state)
{
    (void) state;
    sl_standbys_t list;
    sl_standbys_init (&list);
    sl_announcement_t a = s_said ("tcp://a:5560", 10), b = s_said ("tcp://b:5560", 7);
    assert_int_equal (sl_standbys_heard (&list, &a, 100), 0);
    assert_int_equal (sl_standbys_heard (&list, &b, 110), 0);
    a.seq = 12;
    assert_int_equal (sl_standbys_heard (&list, &a, 300), 0);
    assert_int_equal (list.n, 2);
    assert_string_equal (list.entries [0].said.broker, "tcp://a:5560");
    assert_int_equal (list.entries [0].said.seq, 12);
    assert_int_equal (list.entries [0].seen_at, 300);
    assert_string_equal (list.entries [1].said.broker, "tcp://b:5560");
}

static void test_standbys_lag_is_the_active_sequence_minus_the_applied_one (void **state)
{
    (void) state;
    sl_standbys_t list;
    sl_standbys_init (&list);
    sl_announcement_t a = s_said ("tcp://a:5560", 40);
    sl_standbys_heard (&list, &a, 0);
    assert_int_equal (sl_standby_lag (&list.entries [0], 52), 12);
    assert_int_equal (sl_standby_lag (&list.entries [0], 40), 0);
    //  A standby that read a hold the active one has not counted yet.
    assert_int_equal (sl_standby_lag (&list.entries [0], 39), 0);
}

static void test_standbys_silent_entries_expire_after_three_of_their_beats (void **state)
{
    (void) state;
    sl_standbys_t list;
    sl_standbys_init (&list);
    sl_announcement_t a = s_said ("tcp://a:5560", 1), b = s_said ("tcp://b:5560", 1);
    b.every_ms = 1000; //  a slower heartbeat than a's
    sl_standbys_heard (&list, &a, 1000);
    sl_standbys_heard (&list, &b, 1000);
    assert_int_equal (sl_standbys_expire (&list, 1000 + 3 * BEAT - 1), 0);
    assert_int_equal (list.n, 2);
    assert_int_equal (sl_standbys_expire (&list, 1000 + 3 * BEAT), 1);
    assert_int_equal (list.n, 1);
    assert_string_equal (list.entries [0].said.broker, "tcp://b:5560");
    //  Each announcement starts its silence again.
    sl_standbys_heard (&list, &b, 3500);
    assert_int_equal (sl_standbys_expire (&list, 3500 + 3 * 1000 - 1), 0);
    assert_int_equal (sl_standbys_expire (&list, 3500 + 3 * 1000), 1);
    assert_int_equal (list.n, 0);
}

static void test_standbys_full_list_drops_and_counts (void **state)
{
    (void) state;
    sl_standbys_t list;
    sl_standbys_init (&list);
    char name [64];
    for (int i = 0; i < SL_STANDBYS_MAX; i++) {
        snprintf (name, sizeof name, "tcp://s%d:5560", i);
        sl_announcement_t said = s_said (name, 1);
        assert_int_equal (sl_standbys_heard (&list, &said, 0), 0);
    }
    sl_announcement_t extra = s_said ("tcp://extra:5560", 1);
    assert_int_equal (sl_standbys_heard (&list, &extra, 0), -1);
    assert_int_equal (list.dropped, 1);
    //  One already listed still updates.
    sl_announcement_t again = s_said ("tcp://s3:5560", 9);
    assert_int_equal (sl_standbys_heard (&list, &again, 5), 0);
    assert_int_equal (list.entries [3].said.seq, 9);
}

static void test_standbys_forget_keeps_the_others_in_order (void **state)
{
    (void) state;
    sl_standbys_t list;
    sl_standbys_init (&list);
    const char *names [] = { "tcp://a:1", "tcp://b:1", "tcp://c:1" };
    for (int i = 0; i < 3; i++) {
        sl_announcement_t said = s_said (names [i], 1);
        sl_standbys_heard (&list, &said, 0);
    }
    sl_standbys_forget (&list, "tcp://b:1");
    sl_standbys_forget (&list, "tcp://nobody:1");
    assert_int_equal (list.n, 2);
    assert_string_equal (list.entries [0].said.broker, "tcp://a:1");
    assert_string_equal (list.entries [1].said.broker, "tcp://c:1");
}

static void test_standbys_announcement_round_trip (void **state)
{
    (void) state;
    sl_announcement_t said = s_said ("tcp://[::1]:5560", 123456789012ULL), back;
    char buf [SL_STANDBYS_MSG_MAX], why [128];
    size_t size = sl_announcement_encode (&said, buf, sizeof buf);
    assert_true (size > 0);
    assert_int_equal (size, strlen (buf));
    assert_int_equal (sl_announcement_decode (buf, size, &back, why, sizeof why), 0);
    assert_string_equal (back.broker, said.broker);
    assert_string_equal (back.role, "standby");
    assert_int_equal (back.seq, said.seq);
    assert_int_equal (back.every_ms, BEAT);
    //  Too small a buffer, or an empty address: nothing.
    assert_int_equal (sl_announcement_encode (&said, buf, 20), 0);
    said.broker [0] = '\0';
    assert_int_equal (sl_announcement_encode (&said, buf, sizeof buf), 0);
}

static void test_standbys_announcement_bad_ones_are_refused (void **state)
{
    (void) state;
    sl_announcement_t said;
    char why [128];
    const char *bad [] = {
        "",
        "not json",
        "[1,2]",
        "{\"v\":2,\"broker\":\"tcp://a:1\",\"seq\":1,\"role\":\"standby\",\"every_ms\":200}",
        "{\"v\":1,\"seq\":1,\"role\":\"standby\",\"every_ms\":200}",
        "{\"v\":1,\"broker\":\"\",\"seq\":1,\"role\":\"standby\",\"every_ms\":200}",
        "{\"v\":1,\"broker\":\"tcp://a:1\",\"seq\":-1,\"role\":\"standby\",\"every_ms\":200}",
        "{\"v\":1,\"broker\":\"tcp://a:1\",\"seq\":1,\"every_ms\":200}",
        "{\"v\":1,\"broker\":\"tcp://a:1\",\"seq\":1,\"role\":\"standby\",\"every_ms\":0}",
        "{\"v\":1,\"broker\":\"tcp://a:1\",\"seq\":1,\"role\":\"a role far too long\","
        "\"every_ms\":200}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        why [0] = '\0';
        assert_int_equal (
            sl_announcement_decode (bad [i], strlen (bad [i]), &said, why, sizeof why), -1);
        assert_true (why [0] != '\0');
    }
    //  Unknown fields are ignored.
    const char *more = "{\"v\":1,\"broker\":\"tcp://"
                       "a:1\",\"seq\":5,\"role\":\"standby\",\"every_ms\":200,\"x\":1}";
    assert_int_equal (sl_announcement_decode (more, strlen (more), &said, why, sizeof why), 0);
    assert_int_equal (said.seq, 5);
}

static void test_standbys_min_seq_is_the_one_furthest_behind (void **state)
{
    (void) state;
    sl_standbys_t list;
    sl_standbys_init (&list);
    assert_int_equal (sl_standbys_min_seq (&list), 0); //  none listed: nothing to wait for
    sl_announcement_t a = s_said ("tcp://a:5560", 40), b = s_said ("tcp://b:5560", 25);
    sl_standbys_heard (&list, &a, 0);
    assert_int_equal (sl_standbys_min_seq (&list), 40);
    sl_standbys_heard (&list, &b, 0);
    assert_int_equal (sl_standbys_min_seq (&list), 25);
    b.seq = 90; //  b catches up: a is now the furthest behind
    sl_standbys_heard (&list, &b, 10);
    assert_int_equal (sl_standbys_min_seq (&list), 40);
    sl_standbys_forget (&list, "tcp://a:5560");
    assert_int_equal (sl_standbys_min_seq (&list), 90);
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_standbys_one_entry_per_address),
        cmocka_unit_test (test_standbys_lag_is_the_active_sequence_minus_the_applied_one),
        cmocka_unit_test (test_standbys_silent_entries_expire_after_three_of_their_beats),
        cmocka_unit_test (test_standbys_full_list_drops_and_counts),
        cmocka_unit_test (test_standbys_forget_keeps_the_others_in_order),
        cmocka_unit_test (test_standbys_announcement_round_trip),
        cmocka_unit_test (test_standbys_announcement_bad_ones_are_refused),
        cmocka_unit_test (test_standbys_min_seq_is_the_one_furthest_behind),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
