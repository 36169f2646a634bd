/*  =========================================================================
    test_sink_seen - unit tests of the sink's set of written seqs
    (sink/seen.c)

    Every test gets a fresh set from the fixture. The edges are the
    boundaries of pages (4096 seqs) and of the nodes above them (2^18 and
    2^25 seqs), and the ends of the range (1 and 2^32). The memory tests check the point of the
    structure: a hostile seq near 2^32 costs kilobytes, not half a
    gigabyte. The random test checks 200,000 operations against a plain
    bitmap model.
    =========================================================================
*/

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "sl_seen.h"

#define PAGE 4096                 //  seqs per page
#define LEAF (UINT64_C (1) << 18) //  seqs per leaf node
#define MID (UINT64_C (1) << 25)  //  seqs per mid node

static int s_setup (void **state)
{
    sl_seen_t *seen = sl_seen_new ();
    if (!seen)
        return -1;
    *state = seen;
    return 0;
}

static int s_teardown (void **state)
{
    sl_seen_t *seen = *state;
    sl_seen_destroy (&seen);
    return seen == NULL ? 0 : -1;
}

//  Tiny deterministic generator (xorshift64*), so failures reproduce.
static uint64_t s_random (uint64_t *seed)
{
    *seed ^= *seed >> 12;
    *seed ^= *seed << 25;
    *seed ^= *seed >> 27;
    return *seed * UINT64_C (2685821657736338717);
}

static void test_sink_seen_destroy_is_null_safe (void **state)
{
    (void) state;
    sl_seen_t *seen = NULL;
    sl_seen_destroy (&seen);
    assert_null (seen);
}

static void test_sink_seen_add_reports_new_then_duplicate (void **state)
{
    sl_seen_t *seen = *state;
    assert_false (sl_seen_has (seen, 7));
    assert_int_equal (sl_seen_add (seen, 7), 1);
    assert_true (sl_seen_has (seen, 7));
    assert_int_equal (sl_seen_add (seen, 7), 0);
    assert_int_equal (sl_seen_count (seen), 1);
    assert_false (sl_seen_has (seen, 6));
    assert_false (sl_seen_has (seen, 8));
}

static void test_sink_seen_rejects_out_of_range (void **state)
{
    sl_seen_t *seen = *state;
    assert_int_equal (sl_seen_add (seen, 0), -1);
    assert_int_equal (sl_seen_add (seen, SL_SEEN_MAX_SEQ + 1), -1);
    assert_int_equal (sl_seen_add (seen, UINT64_MAX), -1);
    assert_false (sl_seen_has (seen, 0));
    assert_false (sl_seen_has (seen, UINT64_MAX));
    assert_int_equal (sl_seen_count (seen), 0);
    //  Both ends of the range are fine.
    assert_int_equal (sl_seen_add (seen, 1), 1);
    assert_int_equal (sl_seen_add (seen, SL_SEEN_MAX_SEQ), 1);
    assert_true (sl_seen_has (seen, 1));
    assert_true (sl_seen_has (seen, SL_SEEN_MAX_SEQ));
    assert_false (sl_seen_has (seen, SL_SEEN_MAX_SEQ - 1));
    assert_int_equal (sl_seen_count (seen), 2);
}

static void test_sink_seen_keeps_page_and_node_edges_apart (void **state)
{
    sl_seen_t *seen = *state;
    const uint64_t edges [] = { PAGE - 1,
                                PAGE,
                                PAGE + 1,
                                LEAF - 1,
                                LEAF,
                                LEAF + 1,
                                MID - 1,
                                MID,
                                MID + 1,
                                2 * MID,
                                63,
                                64,
                                65,
                                SL_SEEN_MAX_SEQ - PAGE,
                                SL_SEEN_MAX_SEQ - 1 };
    size_t n = sizeof edges / sizeof edges [0];
    for (size_t i = 0; i < n; i++) {
        assert_int_equal (sl_seen_add (seen, edges [i]), 1);
        for (size_t j = 0; j < n; j++)
            assert_int_equal (sl_seen_has (seen, edges [j]), j <= i);
    }
    assert_int_equal (sl_seen_count (seen), n);
}

static void test_sink_seen_high_seq_costs_little_memory (void **state)
{
    sl_seen_t *seen = *state;
    size_t empty = sl_seen_memory (seen);
    assert_true (empty < 16 * 1024);
    //  The old bitmap grew to 512 MiB for this one result.
    assert_int_equal (sl_seen_add (seen, SL_SEEN_MAX_SEQ - 5), 1);
    assert_true (sl_seen_memory (seen) - empty < 16 * 1024);
    //  A few far-apart seqs: a few pages each.
    for (uint64_t seq = 1; seq < SL_SEEN_MAX_SEQ; seq += SL_SEEN_MAX_SEQ / 8)
        sl_seen_add (seen, seq);
    assert_true (sl_seen_memory (seen) - empty < 10 * 16 * 1024);
}

static void test_sink_seen_small_job_costs_a_few_kib (void **state)
{
    sl_seen_t *seen = *state;
    for (uint64_t seq = 1; seq <= 100; seq++)
        sl_seen_add (seen, seq);
    //  A sink following many small jobs keeps one set per job.
    assert_true (sl_seen_memory (seen) < 4 * 1024);
}

static void test_sink_seen_dense_memory_is_about_a_bit_per_seq (void **state)
{
    sl_seen_t *seen = *state;
    size_t empty = sl_seen_memory (seen);
    for (uint64_t seq = 1; seq <= 1000000; seq++)
        assert_int_equal (sl_seen_add (seen, seq), 1);
    assert_int_equal (sl_seen_count (seen), 1000000);
    size_t used = sl_seen_memory (seen) - empty;
    //  1,000,000 bits = 125,000 bytes, plus page counts and nodes.
    assert_true (used >= 125000);
    assert_true (used < 150000);
}

static void test_sink_seen_remove_clears_one_seq (void **state)
{
    sl_seen_t *seen = *state;
    for (uint64_t seq = 1; seq <= 10; seq++)
        sl_seen_add (seen, seq);
    sl_seen_remove (seen, 5);
    sl_seen_remove (seen, 5);      //  twice: nothing more
    sl_seen_remove (seen, 99);     //  never added
    sl_seen_remove (seen, 123456); //  no page
    assert_int_equal (sl_seen_count (seen), 9);
    assert_false (sl_seen_has (seen, 5));
    assert_true (sl_seen_has (seen, 4));
    assert_true (sl_seen_has (seen, 6));
    assert_int_equal (sl_seen_add (seen, 5), 1);
}

static void test_sink_seen_next_missing_finds_first_gap (void **state)
{
    sl_seen_t *seen = *state;
    assert_int_equal (sl_seen_next_missing (seen, 0), 1);
    assert_int_equal (sl_seen_next_missing (seen, 1), 1);
    //  1..10000 but 70 and 5000: the gaps, across words and pages.
    for (uint64_t seq = 1; seq <= 10000; seq++)
        if (seq != 70 && seq != 5000)
            sl_seen_add (seen, seq);
    assert_int_equal (sl_seen_next_missing (seen, 1), 70);
    assert_int_equal (sl_seen_next_missing (seen, 70), 70);
    assert_int_equal (sl_seen_next_missing (seen, 71), 5000);
    assert_int_equal (sl_seen_next_missing (seen, 5001), 10001);
    sl_seen_add (seen, 70);
    sl_seen_add (seen, 5000);
    assert_int_equal (sl_seen_next_missing (seen, 0), 10001);
    //  Full pages are skipped whole: 1..3*PAGE-1 (page 0 has no seq 0).
    for (uint64_t seq = 10001; seq < 3 * PAGE; seq++)
        sl_seen_add (seen, seq);
    assert_int_equal (sl_seen_next_missing (seen, 1), 3 * PAGE);
}

static void test_sink_seen_next_missing_at_the_top_of_the_range (void **state)
{
    sl_seen_t *seen = *state;
    for (uint64_t seq = SL_SEEN_MAX_SEQ - 100; seq <= SL_SEEN_MAX_SEQ; seq++)
        sl_seen_add (seen, seq);
    assert_int_equal (sl_seen_next_missing (seen, SL_SEEN_MAX_SEQ - 100), SL_SEEN_MAX_SEQ + 1);
    assert_int_equal (sl_seen_next_missing (seen, SL_SEEN_MAX_SEQ - 101), SL_SEEN_MAX_SEQ - 101);
    assert_int_equal (sl_seen_next_missing (seen, SL_SEEN_MAX_SEQ + 1), SL_SEEN_MAX_SEQ + 1);
}

static void test_sink_seen_matches_a_bitmap_model (void **state)
{
    sl_seen_t *seen = *state;
    //  Seqs within 2 pages of a mid node boundary, and as many 3 mid nodes
    //  further, so that every level is exercised, against a plain bitmap.
    const uint64_t base = MID - 2 * PAGE;
    const size_t span = 4 * PAGE;
    uint8_t *model = calloc (span * 2, 1);
    assert_non_null (model);
    uint64_t count = 0;
    uint64_t rng = 12345;
    for (int i = 0; i < 200000; i++) {
        uint64_t r = s_random (&rng);
        size_t at = (size_t) (r % (span * 2));
        uint64_t seq = (at < span ? base : base + 3 * MID) + at % span;
        switch ((r >> 32) % 4) {
            case 0:
            case 1:
                assert_int_equal (sl_seen_add (seen, seq), model [at] ? 0 : 1);
                count += !model [at];
                model [at] = 1;
                break;
            case 2:
                sl_seen_remove (seen, seq);
                count -= model [at];
                model [at] = 0;
                break;
            default: {
                assert_int_equal (sl_seen_has (seen, seq), model [at]);
                //  next_missing from seq, within the first span
                if (at < span) {
                    size_t k = at;
                    while (k < span && model [k])
                        k++;
                    if (k < span)
                        assert_int_equal (sl_seen_next_missing (seen, seq), base + k);
                }
            }
        }
        assert_int_equal (sl_seen_count (seen), count);
    }
    free (model);
}

int main (void)
{
#define T(name) cmocka_unit_test_setup_teardown (name, s_setup, s_teardown)
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_sink_seen_destroy_is_null_safe),
        T (test_sink_seen_add_reports_new_then_duplicate),
        T (test_sink_seen_rejects_out_of_range),
        T (test_sink_seen_keeps_page_and_node_edges_apart),
        T (test_sink_seen_high_seq_costs_little_memory),
        T (test_sink_seen_small_job_costs_a_few_kib),
        T (test_sink_seen_dense_memory_is_about_a_bit_per_seq),
        T (test_sink_seen_remove_clears_one_seq),
        T (test_sink_seen_next_missing_finds_first_gap),
        T (test_sink_seen_next_missing_at_the_top_of_the_range),
        T (test_sink_seen_matches_a_bitmap_model),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
