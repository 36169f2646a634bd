/*  test_journal_url - unit tests of the --journal server list and the
    stream name (broker/journal_url.c).
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "journal_url.h"

static void test_journal_url_nats_and_tls_schemes_name_nats (void **state)
{
    (void) state;
    assert_true (sl_journal_url_is_nats ("nats://h:4222"));
    assert_true (sl_journal_url_is_nats ("tls://h:4222"));
    assert_false (sl_journal_url_is_nats ("/var/lib/sluice"));
    assert_false (sl_journal_url_is_nats ("nats:/h:4222"));
    assert_false (sl_journal_url_is_nats ("http://h:4222"));
    assert_false (sl_journal_url_is_nats (NULL));
}

static void test_journal_url_a_list_splits_in_order (void **state)
{
    (void) state;
    char *urls [SL_JOURNAL_MAX_URLS];
    size_t n = 99;
    char err [256] = "";
    assert_int_equal (sl_journal_urls_parse ("nats://h1:4222,tls://10.0.0.2:4223,"
                                             "nats://u:p@[::1]:4224",
                                             urls, &n, err, sizeof err),
                      0);
    assert_int_equal (n, 3);
    assert_string_equal (urls [0], "nats://h1:4222");
    assert_string_equal (urls [1], "tls://10.0.0.2:4223");
    assert_string_equal (urls [2], "nats://u:p@[::1]:4224");
    sl_journal_urls_free (urls, n);
    assert_null (urls [0]);
    assert_int_equal (sl_journal_urls_parse ("nats://one:1", urls, &n, err, sizeof err), 0);
    assert_int_equal (n, 1);
    sl_journal_urls_free (urls, n);
}

static void test_journal_url_bad_items_are_named (void **state)
{
    (void) state;
    const char *bad [][2] = {
        { "", "empty item" },
        { "nats://h:4222,", "empty item" },
        { "nats://h:4222,,nats://g:1", "empty item" },
        { "nats://h", "no HOST:PORT" },
        { "nats://:4222", "no HOST:PORT" },
        { "nats://h:", "no port" },
        { "nats://h:0", "1..65535" },
        { "nats://h:65536", "1..65535" },
        { "nats://h:99999999999", "1..65535" },
        { "nats://h:42x", "1..65535" },
        { "nats://h:4222/path", "path" },
        { "nats://h :4222", "space" },
        { "http://h:4222", "not nats://" },
        { "nats://", "not nats://" },
        { "nats://::1:4222", "IPv6" },
        { "nats://[::1]4222", "IPv6" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        char *urls [SL_JOURNAL_MAX_URLS];
        size_t n = 99;
        char err [256] = "";
        assert_int_equal (sl_journal_urls_parse (bad [i][0], urls, &n, err, sizeof err), -1);
        assert_int_equal (n, 0);
        if (!strstr (err, bad [i][1]))
            fail_msg ("'%s': '%s' does not say '%s'", bad [i][0], err, bad [i][1]);
    }
}

static void test_journal_url_at_most_the_limit_of_servers (void **state)
{
    (void) state;
    char spec [2048] = "";
    for (int i = 0; i < SL_JOURNAL_MAX_URLS; i++)
        snprintf (spec + strlen (spec), sizeof spec - strlen (spec), "%snats://h%d:4222",
                  i ? "," : "", i);
    char *urls [SL_JOURNAL_MAX_URLS];
    size_t n;
    char err [256];
    assert_int_equal (sl_journal_urls_parse (spec, urls, &n, err, sizeof err), 0);
    assert_int_equal (n, SL_JOURNAL_MAX_URLS);
    sl_journal_urls_free (urls, n);
    strcat (spec, ",nats://one-more:4222");
    assert_int_equal (sl_journal_urls_parse (spec, urls, &n, err, sizeof err), -1);
    assert_non_null (strstr (err, "more servers"));
}

static void test_journal_url_stream_names (void **state)
{
    (void) state;
    assert_true (sl_journal_stream_valid ("sluice"));
    assert_true (sl_journal_stream_valid ("a-B_9"));
    assert_false (sl_journal_stream_valid (""));
    assert_false (sl_journal_stream_valid (NULL));
    assert_false (sl_journal_stream_valid ("a.b"));
    assert_false (sl_journal_stream_valid ("a b"));
    assert_false (sl_journal_stream_valid ("a*"));
    assert_false (sl_journal_stream_valid ("a>"));
    char longest [66];
    memset (longest, 'x', 65);
    longest [65] = '\0';
    assert_false (sl_journal_stream_valid (longest));
    longest [64] = '\0';
    assert_true (sl_journal_stream_valid (longest));
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_journal_url_nats_and_tls_schemes_name_nats),
        cmocka_unit_test (test_journal_url_a_list_splits_in_order),
        cmocka_unit_test (test_journal_url_bad_items_are_named),
        cmocka_unit_test (test_journal_url_at_most_the_limit_of_servers),
        cmocka_unit_test (test_journal_url_stream_names),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
