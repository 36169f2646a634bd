/*  The built-in handlers of sluice-worker (worker/builtin.c), called as
    the library's worker API calls them, outside a slot thread.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "builtin.h"

static int64_t s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int s_call (sluice_handler_fn *handler, const char *payload, sluice_buf_t *out)
{
    memset (out, 0, sizeof *out);
    return handler (NULL, (const uint8_t *) payload, strlen (payload), out);
}

static void test_builtin_names (void **state)
{
    (void) state;
    bool is_inline = true;
    assert_ptr_equal (builtin_handler ("echo", &is_inline), builtin_echo);
    assert_true (is_inline);
    assert_ptr_equal (builtin_handler ("sleep", &is_inline), builtin_sleep);
    assert_false (is_inline); //  it blocks: a thread per slot
    assert_null (builtin_handler ("cat", &is_inline));
}

static void test_builtin_echo_copies_the_payload (void **state)
{
    (void) state;
    sluice_buf_t out;
    assert_int_equal (s_call (builtin_echo, "hello world", &out), 0);
    assert_int_equal (out.size, 11);
    assert_memory_equal (out.data, "hello world", 11);
    sluice_buf_clear (&out);
    assert_int_equal (s_call (builtin_echo, "", &out), 0);
    assert_int_equal (out.size, 0);
    sluice_buf_clear (&out);
}

static void test_builtin_sleep_sleeps_then_echoes (void **state)
{
    (void) state;
    sluice_buf_t out;
    int64_t start = s_now_ms ();
    assert_int_equal (s_call (builtin_sleep, " 30\t", &out), 0);
    assert_true (s_now_ms () - start >= 30);
    assert_int_equal (out.size, 4);
    assert_memory_equal (out.data, " 30\t", 4);
    sluice_buf_clear (&out);
    assert_int_equal (s_call (builtin_sleep, "0", &out), 0);
    sluice_buf_clear (&out);
}

static void test_builtin_sleep_refuses_what_is_not_a_number (void **state)
{
    (void) state;
    const char *bad [] = { "",           "   ", "abc", "-5",
                           "+5",         "5ms", "1.5", "99999999999999999999",
                           "31536000001" /* over a year */ };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        sluice_buf_t out;
        int64_t start = s_now_ms ();
        assert_int_equal (s_call (builtin_sleep, bad [i], &out), 2);
        assert_true (s_now_ms () - start < 1000);
        assert_non_null (out.data);
        assert_non_null (memmem (out.data, out.size, "not a whole number", 18));
        sluice_buf_clear (&out);
    }
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_builtin_names),
        cmocka_unit_test (test_builtin_echo_copies_the_payload),
        cmocka_unit_test (test_builtin_sleep_sleeps_then_echoes),
        cmocka_unit_test (test_builtin_sleep_refuses_what_is_not_a_number),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
