/*  Tests of sl_util: option values (sizes with suffixes, whole numbers,
    seconds) and job ids.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "sl_util.h"

static void test_util_size_suffixes (void **state)
{
    (void) state;
    uint64_t v = 0;
    assert_int_equal (sl_parse_size ("t", "--size", "0", 0, UINT64_MAX, &v), 0);
    assert_int_equal (v, 0);
    assert_int_equal (sl_parse_size ("t", "--size", "1536", 0, UINT64_MAX, &v), 0);
    assert_int_equal (v, 1536);
    assert_int_equal (sl_parse_size ("t", "--size", "4K", 0, UINT64_MAX, &v), 0);
    assert_int_equal (v, 4096);
    assert_int_equal (sl_parse_size ("t", "--size", "4k", 0, UINT64_MAX, &v), 0);
    assert_int_equal (v, 4096);
    assert_int_equal (sl_parse_size ("t", "--size", "512M", 0, UINT64_MAX, &v), 0);
    assert_int_equal (v, 512ULL << 20);
    assert_int_equal (sl_parse_size ("t", "--size", "3G", 0, UINT64_MAX, &v), 0);
    assert_int_equal (v, 3ULL << 30);
    assert_int_equal (sl_parse_size ("t", "--size", "2T", 0, UINT64_MAX, &v), 0);
    assert_int_equal (v, 2ULL << 40);
}

//  Every suffix in either case: "32m" is typed as often as "32M".
static void test_util_size_suffixes_in_either_case (void **state)
{
    (void) state;
    static const struct {
        const char *text;
        uint64_t value;
    } cases [] = {
        { "32M", 32ULL << 20 }, { "32m", 32ULL << 20 }, { "7G", 7ULL << 30 },
        { "7g", 7ULL << 30 },   { "3T", 3ULL << 40 },   { "3t", 3ULL << 40 },
        { "9K", 9ULL << 10 },   { "9k", 9ULL << 10 },   { "0M", 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        uint64_t v = 1;
        assert_int_equal (sl_parse_size ("t", "--size", cases [i].text, 0, UINT64_MAX, &v), 0);
        assert_int_equal (v, cases [i].value);
    }
    //  The largest value a suffix can carry, and one more.
    uint64_t v = 0;
    assert_int_equal (sl_parse_size ("t", "--size", "16777215T", 0, UINT64_MAX, &v), 0);
    assert_int_equal (v, 16777215ULL << 40);
    assert_int_equal (sl_parse_size ("t", "--size", "16777216t", 0, UINT64_MAX, &v), -1);
}

static void test_util_size_rejects (void **state)
{
    (void) state;
    uint64_t v = 77;
    const char *bad [] = {
        "", "K", "-1", "1.5G", "12Q", "1MB", "1 M", "99999999999999999999", "17179869184G", " 5"
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        assert_int_equal (sl_parse_size ("t", "--size", bad [i], 0, UINT64_MAX, &v), -1);
        assert_int_equal (v, 77);
    }
    //  Bounds apply to the value with its suffix.
    assert_int_equal (sl_parse_size ("t", "--size", "1K", 2048, UINT64_MAX, &v), -1);
    assert_int_equal (sl_parse_size ("t", "--size", "2M", 0, 1 << 20, &v), -1);
    assert_int_equal (sl_parse_size ("t", "--size", "1M", 0, 1 << 20, &v), 0);
    assert_int_equal (v, 1 << 20);
}

static void test_util_u64_and_seconds (void **state)
{
    (void) state;
    uint64_t v = 0;
    assert_int_equal (sl_parse_u64 ("t", "-n", "42", 1, 100, &v), 0);
    assert_int_equal (v, 42);
    assert_int_equal (sl_parse_u64 ("t", "-n", "0", 1, 100, &v), -1);
    assert_int_equal (sl_parse_u64 ("t", "-n", "4K", 1, 100000, &v), -1);
    assert_int_equal (sl_parse_seconds ("t", "--timeout", "2.5", &v), 0);
    assert_int_equal (v, 2500);
    assert_int_equal (sl_parse_seconds ("t", "--timeout", "-1", &v), -1);
    assert_int_equal (sl_parse_seconds ("t", "--timeout", "nan", &v), -1);
}

static void test_util_job_ids (void **state)
{
    (void) state;
    assert_true (sl_job_id_valid ("job-1.a_B"));
    assert_false (sl_job_id_valid (""));
    assert_false (sl_job_id_valid ("a b"));
    assert_false (sl_job_id_valid ("a/b"));
    char longest [66];
    memset (longest, 'x', 65);
    longest [64] = '\0';
    assert_true (sl_job_id_valid (longest));
    longest [64] = 'x';
    longest [65] = '\0';
    assert_false (sl_job_id_valid (longest));
}

static void test_util_sleep_ms (void **state)
{
    (void) state;
    const struct {
        const char *text;
        int rc;
        uint64_t ms;
    } cases [] = {
        { "0", 0, 0 },
        { "100", 0, 100 },
        { " 7\t", 0, 7 },
        { "31536000000", 0, 31536000000ULL },
        { "", -1, 0 },
        { "  ", -1, 0 },
        { "abc", -1, 0 },
        { "-5", -1, 0 },
        { "+5", -1, 0 },
        { "5ms", -1, 0 },
        { "1.5", -1, 0 },
        { "0x10", -1, 0 },
        { "31536000001", -1, 0 },
        { "99999999999999999999999", -1, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        uint64_t ms = 12345;
        int rc = sl_parse_sleep_ms ((const uint8_t *) cases [i].text, strlen (cases [i].text), &ms);
        if (rc != cases [i].rc || (rc == 0 && ms != cases [i].ms))
            fail_msg ("'%s': rc %d, ms %llu", cases [i].text, rc, (unsigned long long) ms);
        if (rc != 0)
            assert_int_equal (ms, 12345); //  untouched on error
    }
}

int main (void)
{
    //  The rejections print their messages on stderr, as they should.
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_util_size_suffixes),   cmocka_unit_test (test_util_size_rejects),
        cmocka_unit_test (test_util_size_suffixes_in_either_case),
        cmocka_unit_test (test_util_u64_and_seconds), cmocka_unit_test (test_util_job_ids),
        cmocka_unit_test (test_util_sleep_ms),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
