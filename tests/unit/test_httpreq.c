/*  Tests of httpreq (the HTTP request head parser).  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpreq.h"

static int s_parse (const char *text, httpreq_t *req)
{
    return httpreq_parse (text, strlen (text), req);
}

static void test_httpreq_splits_path_and_query (void **state)
{
    (void) state;
    httpreq_t req;
    const char *text = "GET /api/jobs/j1/failed?after=17&limit=5 HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal (s_parse (text, &req), 1);
    assert_string_equal (req.method, "GET");
    assert_string_equal (req.path, "/api/jobs/j1/failed");
    assert_string_equal (req.query, "after=17&limit=5");
    assert_false (req.too_long);
    assert_int_equal (req.head_size, strlen (text));
    assert_int_equal (s_parse ("HEAD / HTTP/1.0\n\n", &req), 1);
    assert_string_equal (req.path, "/");
    assert_string_equal (req.query, "");
    assert_int_equal (req.head_size, 17);
}

static void test_httpreq_pipelined_requests_end_at_the_first_head (void **state)
{
    (void) state;
    httpreq_t req;
    const char *two = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
    assert_int_equal (s_parse (two, &req), 1);
    assert_string_equal (req.path, "/a");
    assert_int_equal (req.head_size, strlen ("GET /a HTTP/1.1\r\n\r\n"));
}

static void test_httpreq_long_target_is_flagged (void **state)
{
    (void) state;
    httpreq_t req;
    char *text = malloc (4096);
    snprintf (text, 4096, "GET /%0600d HTTP/1.1\r\n\r\n", 0);
    assert_int_equal (s_parse (text, &req), 1);
    assert_true (req.too_long);
    assert_int_equal (strlen (req.path), HTTPREQ_PATH_MAX - 1);
    snprintf (text, 4096, "GET /?%0600d HTTP/1.1\r\n\r\n", 0);
    assert_int_equal (s_parse (text, &req), 1);
    assert_true (req.too_long);
    assert_string_equal (req.path, "/");
    free (text);
}

static void test_httpreq_incomplete_and_garbage (void **state)
{
    (void) state;
    httpreq_t req;
    assert_int_equal (s_parse ("", &req), 0);
    assert_int_equal (s_parse ("GET / HTTP/1.1\r\nHost: x\r\n", &req), 0);
    assert_int_equal (s_parse ("GET / HTTP/1.1\r\nX: 1\r\n\r", &req), 0);
    assert_int_equal (s_parse ("get / HTTP/1.1\r\n\r\n", &req), -1);
    assert_int_equal (s_parse ("GET x HTTP/1.1\r\n\r\n", &req), -1);
    assert_int_equal (s_parse ("GET / HTTP/2\r\n\r\n", &req), -1);
    assert_int_equal (s_parse ("AVERYLONGMETHODNAME / HTTP/1.1\r\n\r\n", &req), -1);
    assert_int_equal (s_parse ("AAAAAAAAAAAAAAAAAAAAAAAAA", &req), -1);
    //  Every prefix of a good request: never -1, never past the bytes.
    const char *good = "GET /api/status?x=1 HTTP/1.1\r\nHost: y\r\n\r\n";
    for (size_t n = 0; n < strlen (good); n++) {
        char *copy = malloc (n ? n : 1);
        memcpy (copy, good, n);
        assert_int_equal (httpreq_parse (copy, n, &req), 0);
        free (copy);
    }
}

static void test_httpreq_query_numbers (void **state)
{
    (void) state;
    uint64_t v = 0;
    assert_true (httpreq_query_u64 ("after=42", "after", &v));
    assert_int_equal (v, 42);
    assert_true (httpreq_query_u64 ("limit=3&after=7", "after", &v));
    assert_int_equal (v, 7);
    assert_true (httpreq_query_u64 ("after=18446744073709551615", "after", &v));
    assert_true (v == UINT64_MAX);
    assert_false (httpreq_query_u64 ("after=18446744073709551616", "after", &v));
    assert_false (httpreq_query_u64 ("after=-1", "after", &v));
    assert_false (httpreq_query_u64 ("after=", "after", &v));
    assert_false (httpreq_query_u64 ("after=1x", "after", &v));
    assert_false (httpreq_query_u64 ("xafter=1", "after", &v));
    assert_false (httpreq_query_u64 ("afterx=1", "after", &v));
    assert_false (httpreq_query_u64 ("", "after", &v));
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_httpreq_splits_path_and_query),
        cmocka_unit_test (test_httpreq_pipelined_requests_end_at_the_first_head),
        cmocka_unit_test (test_httpreq_long_target_is_flagged),
        cmocka_unit_test (test_httpreq_incomplete_and_garbage),
        cmocka_unit_test (test_httpreq_query_numbers),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
