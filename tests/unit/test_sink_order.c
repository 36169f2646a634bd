/*  =========================================================================
    test_sink_order - unit tests of the results --keep-order holds back
    (sink/order.c)

    Every test gets a fresh order and set of written seqs from the fixture,
    and "writes" a result the way the sink does: by adding its seq to the
    set. A parked result's data is its seq as text, so each can be checked.
    The random test delivers 5,000 seqs in a shuffled order with duplicates
    and checks that they come out in order, each once.
    =========================================================================
*/

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_order.h"

typedef struct {
    sl_order_t *order;  //  under test
    sl_seen_t *written; //  seqs "written"
} fixture_t;

static int s_setup (void **state)
{
    fixture_t *fx = calloc (1, sizeof *fx);
    if (!fx)
        return -1;
    fx->order = sl_order_new ();
    fx->written = sl_seen_new ();
    *state = fx;
    return fx->order && fx->written ? 0 : -1;
}

static int s_teardown (void **state)
{
    fixture_t *fx = *state;
    sl_order_destroy (&fx->order);
    sl_seen_destroy (&fx->written);
    int rc = fx->order == NULL ? 0 : -1;
    free (fx);
    return rc;
}

//  Parks seq with its number as data; asserts it was taken.
static void s_park (fixture_t *fx, uint64_t seq)
{
    char text [32];
    int len = snprintf (text, sizeof text, "%llu", (unsigned long long) seq);
    sl_parked_t *parked = sl_parked_new (seq, 1, text, (size_t) len);
    assert_non_null (parked);
    assert_int_equal (sl_order_park (fx->order, &parked), 0);
    assert_null (parked);
}

//  Pops everything ready, "writes" it and returns how many; checks each is
//  the next seq and carries its data.
static size_t s_drain (fixture_t *fx)
{
    size_t n = 0;
    sl_parked_t *parked;
    while ((parked = sl_order_pop_ready (fx->order, fx->written))) {
        char text [32];
        snprintf (text, sizeof text, "%llu", (unsigned long long) parked->seq);
        assert_int_equal (parked->size, strlen (text));
        assert_memory_equal (parked->data, text, parked->size);
        assert_false (sl_seen_has (fx->written, parked->seq));
        sl_seen_add (fx->written, parked->seq);
        free (parked);
        n++;
    }
    return n;
}

static void test_sink_order_destroy_is_null_safe (void **state)
{
    (void) state;
    sl_order_t *order = NULL;
    sl_order_destroy (&order);
    assert_null (order);
}

static void test_sink_order_starts_at_seq_one (void **state)
{
    fixture_t *fx = *state;
    assert_int_equal (sl_order_next (fx->order, fx->written), 1);
    assert_null (sl_order_pop_ready (fx->order, fx->written));
    assert_int_equal (sl_order_size (fx->order), 0);
}

static void test_sink_order_releases_parked_once_gap_fills (void **state)
{
    fixture_t *fx = *state;
    s_park (fx, 3);
    s_park (fx, 2);
    s_park (fx, 5);
    assert_int_equal (sl_order_size (fx->order), 3);
    assert_int_equal (sl_order_bytes (fx->order), 3);
    assert_int_equal (s_drain (fx), 0); //  1 is missing
    sl_seen_add (fx->written, 1);       //  1 came and was written directly
    assert_int_equal (s_drain (fx), 2); //  2, 3
    assert_int_equal (sl_order_next (fx->order, fx->written), 4);
    assert_int_equal (sl_order_size (fx->order), 1);
    sl_seen_add (fx->written, 4);
    assert_int_equal (s_drain (fx), 1); //  5
    assert_int_equal (sl_order_next (fx->order, fx->written), 6);
    assert_int_equal (sl_order_size (fx->order), 0);
    assert_int_equal (sl_order_bytes (fx->order), 0);
}

static void test_sink_order_refuses_a_seq_parked_twice (void **state)
{
    fixture_t *fx = *state;
    s_park (fx, 9);
    sl_parked_t *again = sl_parked_new (9, 1, "x", 1);
    assert_int_equal (sl_order_park (fx->order, &again), -1);
    assert_non_null (again); //  still the caller's
    free (again);
    assert_non_null (sl_order_lookup (fx->order, 9));
    assert_null (sl_order_lookup (fx->order, 8));
    assert_int_equal (sl_order_size (fx->order), 1);
    assert_int_equal (sl_order_unacked (fx->order), 1);
}

static void test_sink_order_steps_over_seqs_written_before (void **state)
{
    fixture_t *fx = *state;
    //  A resumed file held 1..3 and 6..8: the next seq is the first gap.
    for (uint64_t seq = 1; seq <= 8; seq++)
        if (seq < 4 || seq > 5)
            sl_seen_add (fx->written, seq);
    assert_int_equal (sl_order_next (fx->order, fx->written), 4);
    s_park (fx, 9);
    s_park (fx, 5);
    sl_seen_add (fx->written, 4);
    assert_int_equal (s_drain (fx), 2); //  5, then 9 over 6..8
    assert_int_equal (sl_order_next (fx->order, fx->written), 10);
}

static int s_ack_counting (sl_parked_t *parked, void *arg)
{
    uint64_t *acked = arg;
    assert_false (parked->acked);
    acked [0]++;
    acked [acked [0]] = parked->seq;
    return 0;
}

static int s_ack_refusing (sl_parked_t *parked, void *arg)
{
    (void) parked;
    (void) arg;
    return -1;
}

static void test_sink_order_acks_unacked_oldest_first (void **state)
{
    fixture_t *fx = *state;
    s_park (fx, 7);
    s_park (fx, 4);
    s_park (fx, 9);
    assert_int_equal (sl_order_ack_all (fx->order, s_ack_refusing, NULL), 0);
    assert_int_equal (sl_order_unacked (fx->order), 3);
    uint64_t acked [8] = { 0 };
    assert_int_equal (sl_order_ack_all (fx->order, s_ack_counting, acked), 3);
    assert_int_equal (acked [0], 3);
    assert_int_equal (acked [1], 7);
    assert_int_equal (acked [2], 4);
    assert_int_equal (acked [3], 9);
    assert_int_equal (sl_order_unacked (fx->order), 0);
    assert_true (sl_order_lookup (fx->order, 4)->acked);
    //  Newly parked ones are unacknowledged again; acked ones parked
    //  (from a park file) are not.
    s_park (fx, 12);
    sl_parked_t *from_file = sl_parked_new (11, 1, "11", 2);
    from_file->acked = true;
    assert_int_equal (sl_order_park (fx->order, &from_file), 0);
    assert_int_equal (sl_order_unacked (fx->order), 1);
    memset (acked, 0, sizeof acked);
    assert_int_equal (sl_order_ack_all (fx->order, s_ack_counting, acked), 1);
    assert_int_equal (acked [1], 12);
}

static void test_sink_order_pop_keeps_unacked_list_consistent (void **state)
{
    fixture_t *fx = *state;
    for (uint64_t seq = 2; seq <= 6; seq++)
        s_park (fx, seq);
    sl_seen_add (fx->written, 1);
    //  Take out 2 (head of the list) and 3, then check the rest.
    sl_parked_t *two = sl_order_pop_ready (fx->order, fx->written);
    assert_int_equal (two->seq, 2);
    sl_seen_add (fx->written, 2);
    free (two);
    sl_parked_t *three = sl_order_pop_ready (fx->order, fx->written);
    assert_int_equal (three->seq, 3);
    //  Parked again (the write failed): it goes to the list's end.
    assert_int_equal (sl_order_park (fx->order, &three), 0);
    assert_int_equal (sl_order_unacked (fx->order), 4);
    uint64_t acked [8] = { 0 };
    assert_int_equal (sl_order_ack_all (fx->order, s_ack_counting, acked), 4);
    assert_int_equal (acked [1], 4);
    assert_int_equal (acked [2], 5);
    assert_int_equal (acked [3], 6);
    assert_int_equal (acked [4], 3);
}

static void test_sink_order_take_all_sorts_and_moves_past (void **state)
{
    fixture_t *fx = *state;
    size_t n = 99;
    assert_null (sl_order_take_all (fx->order, &n));
    assert_int_equal (n, 0);
    const uint64_t seqs [] = { 40, 7, 1000, 8, 3 };
    for (size_t i = 0; i < 5; i++)
        s_park (fx, seqs [i]);
    sl_parked_t **all = sl_order_take_all (fx->order, &n);
    assert_non_null (all);
    assert_int_equal (n, 5);
    const uint64_t sorted [] = { 3, 7, 8, 40, 1000 };
    for (size_t i = 0; i < n; i++) {
        assert_int_equal (all [i]->seq, sorted [i]);
        free (all [i]);
    }
    free (all);
    assert_int_equal (sl_order_size (fx->order), 0);
    assert_int_equal (sl_order_unacked (fx->order), 0);
    assert_int_equal (sl_order_bytes (fx->order), 0);
    assert_int_equal (sl_order_next (fx->order, fx->written), 1001);
}

static void test_sink_order_shuffled_duplicated_arrivals_come_out_in_order (void **state)
{
    fixture_t *fx = *state;
    enum { N = 5000 };
    uint64_t *arrivals = malloc (2 * N * sizeof *arrivals);
    assert_non_null (arrivals);
    for (uint64_t i = 0; i < 2 * N; i++)
        arrivals [i] = i % N + 1; //  every seq twice
    uint64_t rng = 99;
    for (size_t i = 2 * N - 1; i > 0; i--) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t j = (size_t) (rng >> 33) % (i + 1);
        uint64_t t = arrivals [i];
        arrivals [i] = arrivals [j];
        arrivals [j] = t;
    }
    uint64_t expect = 1;
    size_t duplicates = 0;
    for (size_t i = 0; i < 2 * N; i++) {
        uint64_t seq = arrivals [i];
        //  What the sink does with a result.
        if (sl_seen_has (fx->written, seq) || sl_order_lookup (fx->order, seq)) {
            duplicates++;
            continue;
        }
        if (seq != sl_order_next (fx->order, fx->written)) {
            s_park (fx, seq);
            continue;
        }
        assert_int_equal (seq, expect++);
        sl_seen_add (fx->written, seq);
        sl_parked_t *parked;
        while ((parked = sl_order_pop_ready (fx->order, fx->written))) {
            assert_int_equal (parked->seq, expect++);
            sl_seen_add (fx->written, parked->seq);
            free (parked);
        }
    }
    assert_int_equal (expect, N + 1);
    assert_int_equal (duplicates, N);
    assert_int_equal (sl_order_size (fx->order), 0);
    free (arrivals);
}

int main (void)
{
#define T(name) cmocka_unit_test_setup_teardown (name, s_setup, s_teardown)
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_sink_order_destroy_is_null_safe),
        T (test_sink_order_starts_at_seq_one),
        T (test_sink_order_releases_parked_once_gap_fills),
        T (test_sink_order_refuses_a_seq_parked_twice),
        T (test_sink_order_steps_over_seqs_written_before),
        T (test_sink_order_acks_unacked_oldest_first),
        T (test_sink_order_pop_keeps_unacked_list_consistent),
        T (test_sink_order_take_all_sorts_and_moves_past),
        T (test_sink_order_shuffled_duplicated_arrivals_come_out_in_order),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
