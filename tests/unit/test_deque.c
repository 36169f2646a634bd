/*  =========================================================================
    test_deque - unit tests of the pointer ring buffer (lib/sl_deque.c)

    Every test gets a fresh deque from the fixture. Items are small integers
    cast to pointers (never 0, so they cannot be mistaken for the NULL an
    empty deque returns), so each can be checked exactly. The ring starts
    with 64 slots; the growth tests put the head at every one of them before
    the ring fills, and the random test checks 100,000 operations against a
    plain array model.
    =========================================================================
*/

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>

#include "sl_deque.h"

#define RING 64 //  the deque's initial capacity

//  Item number n as a pointer, and back.
#define ITEM(n) ((void *) (uintptr_t) (n))
#define NUM(p) ((uintptr_t) (p))

static int s_setup (void **state)
{
    sl_deque_t *deque = sl_deque_new ();
    if (!deque)
        return -1;
    *state = deque;
    return 0;
}

static int s_teardown (void **state)
{
    sl_deque_t *deque = *state;
    sl_deque_destroy (&deque);
    return deque == NULL ? 0 : -1;
}

//  Checks that the deque holds exactly want [0..n) from front to back,
//  through sl_deque_at and sl_deque_front.
#define CHECK_CONTENTS(deque, want, n) s_check_contents ((deque), (want), (n), __FILE__, __LINE__)

static void s_check_contents (sl_deque_t *deque, const uintptr_t *want, size_t n, const char *file,
                              int line)
{
    _assert_int_equal (sl_deque_size (deque), n, file, line);
    for (size_t i = 0; i < n; i++)
        _assert_int_equal (NUM (sl_deque_at (deque, i)), want [i], file, line);
    _assert_int_equal (NUM (sl_deque_front (deque)), n ? want [0] : 0, file, line);
}

//  Tiny deterministic generator (xorshift64*), so failures reproduce.
static uint64_t s_random (uint64_t *seed)
{
    *seed ^= *seed >> 12;
    *seed ^= *seed << 25;
    *seed ^= *seed >> 27;
    return *seed * 2685821657736338717ULL;
}

static void test_deque_new_is_empty (void **state)
{
    sl_deque_t *deque = *state;
    assert_int_equal (sl_deque_size (deque), 0);
    assert_null (sl_deque_front (deque));
    assert_null (sl_deque_pop_front (deque));
    assert_null (sl_deque_pop_back (deque));
    assert_int_equal (sl_deque_size (deque), 0);
}

static void test_deque_destroy_is_null_safe (void **state)
{
    (void) state;
    sl_deque_t *deque = NULL;
    sl_deque_destroy (&deque);
    assert_null (deque);
    deque = sl_deque_new ();
    assert_non_null (deque);
    assert_int_equal (sl_deque_push_back (deque, ITEM (1)), 0);
    sl_deque_destroy (&deque);
    assert_null (deque);
}

static void test_deque_push_back_pop_front_is_fifo (void **state)
{
    sl_deque_t *deque = *state;
    //  Past two doublings.
    for (uintptr_t n = 1; n <= 300; n++) {
        assert_int_equal (sl_deque_push_back (deque, ITEM (n)), 0);
        assert_int_equal (sl_deque_size (deque), n);
        assert_int_equal (NUM (sl_deque_front (deque)), 1);
    }
    for (uintptr_t n = 1; n <= 300; n++) {
        assert_int_equal (NUM (sl_deque_pop_front (deque)), n);
        assert_int_equal (sl_deque_size (deque), 300 - n);
    }
    assert_null (sl_deque_pop_front (deque));
    assert_null (sl_deque_front (deque));
}

static void test_deque_push_front_pop_front_is_lifo (void **state)
{
    sl_deque_t *deque = *state;
    for (uintptr_t n = 1; n <= 300; n++) {
        assert_int_equal (sl_deque_push_front (deque, ITEM (n)), 0);
        assert_int_equal (sl_deque_size (deque), n);
        assert_int_equal (NUM (sl_deque_front (deque)), n);
    }
    for (uintptr_t n = 300; n >= 1; n--)
        assert_int_equal (NUM (sl_deque_pop_front (deque)), n);
    assert_null (sl_deque_pop_front (deque));
}

static void test_deque_push_back_pop_back_is_lifo (void **state)
{
    sl_deque_t *deque = *state;
    for (uintptr_t n = 1; n <= 300; n++)
        assert_int_equal (sl_deque_push_back (deque, ITEM (n)), 0);
    for (uintptr_t n = 300; n >= 1; n--) {
        assert_int_equal (NUM (sl_deque_pop_back (deque)), n);
        assert_int_equal (sl_deque_size (deque), n - 1);
    }
    assert_null (sl_deque_pop_back (deque));
}

static void test_deque_push_front_pop_back_is_fifo (void **state)
{
    sl_deque_t *deque = *state;
    for (uintptr_t n = 1; n <= 300; n++)
        assert_int_equal (sl_deque_push_front (deque, ITEM (n)), 0);
    for (uintptr_t n = 1; n <= 300; n++)
        assert_int_equal (NUM (sl_deque_pop_back (deque)), n);
    assert_null (sl_deque_pop_back (deque));
    assert_int_equal (sl_deque_size (deque), 0);
}

static void test_deque_both_ends_interleaved (void **state)
{
    sl_deque_t *deque = *state;
    assert_int_equal (sl_deque_push_back (deque, ITEM (2)), 0);
    assert_int_equal (sl_deque_push_front (deque, ITEM (1)), 0);
    assert_int_equal (sl_deque_push_back (deque, ITEM (3)), 0);
    assert_int_equal (sl_deque_push_front (deque, ITEM (9)), 0);
    CHECK_CONTENTS (deque, ((uintptr_t []){ 9, 1, 2, 3 }), 4);
    assert_int_equal (NUM (sl_deque_pop_front (deque)), 9);
    assert_int_equal (NUM (sl_deque_pop_back (deque)), 3);
    CHECK_CONTENTS (deque, ((uintptr_t []){ 1, 2 }), 2);
    assert_int_equal (NUM (sl_deque_pop_back (deque)), 2);
    assert_int_equal (NUM (sl_deque_pop_back (deque)), 1);
    assert_null (sl_deque_pop_back (deque));
    assert_null (sl_deque_pop_front (deque));
}

//  A full ring whose head sits at each possible slot grows, by a push at
//  either end, without losing or reordering an item.
static void test_deque_grows_across_wrap_point (void **state)
{
    (void) state;
    uintptr_t want [RING + 3];
    for (size_t start = 0; start < RING; start++) {
        for (int at_front = 0; at_front < 2; at_front++) {
            sl_deque_t *deque = sl_deque_new ();
            assert_non_null (deque);
            //  Move the head to slot `start`, leaving the ring empty.
            for (size_t i = 0; i < start; i++)
                assert_int_equal (sl_deque_push_back (deque, ITEM (1000 + i)), 0);
            for (size_t i = 0; i < start; i++)
                assert_int_equal (NUM (sl_deque_pop_front (deque)), 1000 + i);
            assert_int_equal (sl_deque_size (deque), 0);
            //  Fill it from both ends, half each: the head ends at slot
            //  (start - RING / 2) mod RING, every slot over the loop; the
            //  pushes at the front wrap below slot 0 when start < RING / 2,
            //  those at the back past the last slot when start > RING / 2.
            for (size_t i = 0; i < RING / 2; i++)
                assert_int_equal (sl_deque_push_front (deque, ITEM (RING / 2 - i)), 0);
            for (size_t i = RING / 2; i < RING; i++)
                assert_int_equal (sl_deque_push_back (deque, ITEM (i + 1)), 0);
            for (size_t i = 0; i < RING; i++)
                want [i] = i + 1;
            CHECK_CONTENTS (deque, want, RING);

            //  One more: the ring grows.
            size_t n = RING;
            if (at_front) {
                assert_int_equal (sl_deque_push_front (deque, ITEM (500)), 0);
                for (size_t i = n; i > 0; i--)
                    want [i] = want [i - 1];
                want [0] = 500;
            } else {
                assert_int_equal (sl_deque_push_back (deque, ITEM (500)), 0);
                want [n] = 500;
            }
            n++;
            CHECK_CONTENTS (deque, want, n);
            //  And keeps working at both ends after growing.
            assert_int_equal (sl_deque_push_front (deque, ITEM (600)), 0);
            assert_int_equal (sl_deque_push_back (deque, ITEM (700)), 0);
            for (size_t i = n; i > 0; i--)
                want [i] = want [i - 1];
            want [0] = 600;
            want [n + 1] = 700;
            n += 2;
            CHECK_CONTENTS (deque, want, n);
            for (size_t i = 0; i < n; i++)
                assert_int_equal (NUM (sl_deque_pop_front (deque)), want [i]);
            assert_null (sl_deque_pop_front (deque));
            sl_deque_destroy (&deque);
        }
    }
}

//  A wrapped ring grows twice, then drains from the back.
static void test_deque_grows_twice_while_wrapped (void **state)
{
    sl_deque_t *deque = *state;
    for (uintptr_t n = 31; n <= 70; n++)
        assert_int_equal (sl_deque_push_back (deque, ITEM (n)), 0);
    for (uintptr_t n = 31; n <= 50; n++)
        assert_int_equal (NUM (sl_deque_pop_front (deque)), n);
    //  Head at slot 20 holding 51..70; 30 pushes at the front wrap it
    //  below slot 0.
    for (uintptr_t n = 50; n >= 21; n--)
        assert_int_equal (sl_deque_push_front (deque, ITEM (n)), 0);
    assert_int_equal (sl_deque_size (deque), 50);
    //  Past 64 (while wrapped) and 128.
    for (uintptr_t n = 71; n <= 250; n++)
        assert_int_equal (sl_deque_push_back (deque, ITEM (n)), 0);
    assert_int_equal (sl_deque_size (deque), 230);
    for (size_t i = 0; i < 230; i++)
        assert_int_equal (NUM (sl_deque_at (deque, i)), 21 + i);
    for (uintptr_t n = 250; n >= 21; n--)
        assert_int_equal (NUM (sl_deque_pop_back (deque)), n);
    assert_int_equal (sl_deque_size (deque), 0);
    assert_null (sl_deque_pop_back (deque));
}

static void test_deque_at_indexes_from_front (void **state)
{
    sl_deque_t *deque = *state;
    //  Wrapped: the head is not at slot 0.
    for (uintptr_t n = 1; n <= 50; n++)
        assert_int_equal (sl_deque_push_back (deque, ITEM (n)), 0);
    for (uintptr_t n = 1; n <= 45; n++)
        assert_int_equal (NUM (sl_deque_pop_front (deque)), n);
    for (uintptr_t n = 51; n <= 100; n++)
        assert_int_equal (sl_deque_push_back (deque, ITEM (n)), 0);
    assert_int_equal (sl_deque_size (deque), 55);
    for (size_t i = 0; i < 55; i++)
        assert_int_equal (NUM (sl_deque_at (deque, i)), 46 + i);
    //  at does not remove.
    assert_int_equal (sl_deque_size (deque), 55);
    assert_int_equal (NUM (sl_deque_front (deque)), 46);
    assert_int_equal (NUM (sl_deque_at (deque, 54)), 100);
}

static void test_deque_front_peeks (void **state)
{
    sl_deque_t *deque = *state;
    assert_int_equal (sl_deque_push_back (deque, ITEM (7)), 0);
    assert_int_equal (sl_deque_push_back (deque, ITEM (8)), 0);
    assert_int_equal (NUM (sl_deque_front (deque)), 7);
    assert_int_equal (NUM (sl_deque_front (deque)), 7);
    assert_int_equal (sl_deque_size (deque), 2);
    assert_int_equal (NUM (sl_deque_pop_front (deque)), 7);
    assert_int_equal (NUM (sl_deque_front (deque)), 8);
    assert_int_equal (NUM (sl_deque_pop_back (deque)), 8);
    assert_null (sl_deque_front (deque));
}

static void test_deque_clear_empties_and_stays_usable (void **state)
{
    sl_deque_t *deque = *state;
    //  Grown and wrapped before the clear.
    for (uintptr_t n = 1; n <= 100; n++)
        assert_int_equal (sl_deque_push_back (deque, ITEM (n)), 0);
    for (uintptr_t n = 1; n <= 90; n++)
        assert_int_equal (NUM (sl_deque_pop_front (deque)), n);
    for (uintptr_t n = 1; n <= 50; n++)
        assert_int_equal (sl_deque_push_front (deque, ITEM (1000 + n)), 0);
    sl_deque_clear (deque);
    assert_int_equal (sl_deque_size (deque), 0);
    assert_null (sl_deque_front (deque));
    assert_null (sl_deque_pop_front (deque));
    assert_null (sl_deque_pop_back (deque));
    sl_deque_clear (deque); //  clearing an empty deque is harmless
    assert_int_equal (sl_deque_size (deque), 0);

    for (uintptr_t n = 1; n <= 300; n++)
        assert_int_equal (sl_deque_push_back (deque, ITEM (n)), 0);
    assert_int_equal (sl_deque_push_front (deque, ITEM (999)), 0);
    assert_int_equal (sl_deque_size (deque), 301);
    assert_int_equal (NUM (sl_deque_pop_front (deque)), 999);
    for (uintptr_t n = 1; n <= 300; n++)
        assert_int_equal (NUM (sl_deque_pop_front (deque)), n);
    assert_null (sl_deque_pop_front (deque));
}

//  --- Random operations against a model -------------------------------------

#define OPS 100000

//  The model: items model [first .. first + size) of an array with room for
//  OPS pushes at either end.
typedef struct {
    uintptr_t items [2 * OPS + 1]; //  storage
    size_t first;                  //  index of the front item
    size_t size;                   //  items held
} model_t;

static void test_deque_random_ops_match_model (void **state)
{
    sl_deque_t *deque = *state;
    static model_t model;
    model.first = OPS;
    model.size = 0;
    uint64_t seed = 0x0dec0de;
    uintptr_t next = 1;
    size_t max_size = 0, nclears = 0, nempty = 0;
    for (size_t op = 0; op < OPS; op++) {
        //  Phases of 5,000 operations lean towards pushes or towards pops,
        //  so the deque grows large, drains and wraps repeatedly; a rare
        //  clear empties it at once.
        unsigned push_below = (op / 5000) % 2 ? 3500 : 6000;
        unsigned roll = (unsigned) (s_random (&seed) % 10000);
        if (roll < 2) {
            sl_deque_clear (deque);
            model.first = OPS;
            model.size = 0;
            nclears++;
        } else if (roll < push_below) {
            void *item = ITEM (next);
            if (s_random (&seed) % 2) {
                assert_int_equal (sl_deque_push_front (deque, item), 0);
                model.items [--model.first] = next;
            } else {
                assert_int_equal (sl_deque_push_back (deque, item), 0);
                model.items [model.first + model.size] = next;
            }
            model.size++;
            next++;
        } else if (roll < 9500) {
            if (s_random (&seed) % 2) {
                uintptr_t want = model.size ? model.items [model.first] : 0;
                assert_int_equal (NUM (sl_deque_pop_front (deque)), want);
                if (model.size) {
                    model.first++;
                    model.size--;
                }
            } else {
                uintptr_t want = model.size ? model.items [model.first + model.size - 1] : 0;
                assert_int_equal (NUM (sl_deque_pop_back (deque)), want);
                if (model.size)
                    model.size--;
            }
        } else if (model.size) {
            size_t index = (size_t) (s_random (&seed) % model.size);
            assert_int_equal (NUM (sl_deque_at (deque, index)), model.items [model.first + index]);
        }
        //  Keep the model inside its storage: recentre when empty.
        if (model.size == 0) {
            model.first = OPS;
            nempty++;
        }
        assert_int_equal (sl_deque_size (deque), model.size);
        assert_int_equal (NUM (sl_deque_front (deque)), model.size ? model.items [model.first] : 0);
        if (model.size > max_size)
            max_size = model.size;
        if (op % 1000 == 999)
            CHECK_CONTENTS (deque, model.items + model.first, model.size);
    }
    CHECK_CONTENTS (deque, model.items + model.first, model.size);
    //  The run grew the ring several times, and emptied and cleared it.
    assert_true (max_size > 8 * RING);
    assert_true (nclears > 0);
    assert_true (nempty > nclears);
}

int main (void)
{
#define T(name) cmocka_unit_test_setup_teardown (name, s_setup, s_teardown)
    const struct CMUnitTest tests [] = {
        T (test_deque_new_is_empty),
        cmocka_unit_test (test_deque_destroy_is_null_safe),
        T (test_deque_push_back_pop_front_is_fifo),
        T (test_deque_push_front_pop_front_is_lifo),
        T (test_deque_push_back_pop_back_is_lifo),
        T (test_deque_push_front_pop_back_is_fifo),
        T (test_deque_both_ends_interleaved),
        cmocka_unit_test (test_deque_grows_across_wrap_point),
        T (test_deque_grows_twice_while_wrapped),
        T (test_deque_at_indexes_from_front),
        T (test_deque_front_peeks),
        T (test_deque_clear_empties_and_stays_usable),
        T (test_deque_random_ops_match_model),
    };
#undef T
    return cmocka_run_group_tests (tests, NULL, NULL);
}
