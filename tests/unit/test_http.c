/*  Tests of the broker's minimal HTTP request parser (http_parse).  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "http.h"

static int s_parse (const char *text, char *method, char *path)
{
    return http_parse (text, strlen (text), method, 16, path, 64);
}

static void test_http_complete_requests (void **state)
{
    (void) state;
    char method [16], path [64];
    assert_int_equal (s_parse ("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", method, path), 1);
    assert_string_equal (method, "GET");
    assert_string_equal (path, "/metrics");
    //  Bare LF line ends, a query string, HTTP/1.0, HEAD.
    assert_int_equal (s_parse ("HEAD /metrics?x=1 HTTP/1.0\n\n", method, path), 1);
    assert_string_equal (method, "HEAD");
    assert_string_equal (path, "/metrics");
    assert_int_equal (s_parse ("POST / HTTP/1.1\r\n\r\n", method, path), 1);
    assert_string_equal (method, "POST");
    assert_string_equal (path, "/");
    //  A path longer than the buffer is cut, not overrun.
    char longer [200];
    snprintf (longer, sizeof longer, "GET /%0120d HTTP/1.1\r\n\r\n", 0);
    assert_int_equal (s_parse (longer, method, path), 1);
    assert_int_equal (strlen (path), 63);
}

static void test_http_incomplete_requests (void **state)
{
    (void) state;
    char method [16], path [64];
    assert_int_equal (s_parse ("", method, path), 0);
    assert_int_equal (s_parse ("GE", method, path), 0);
    assert_int_equal (s_parse ("GET /metrics HTTP/1.1", method, path), 0);
    assert_int_equal (s_parse ("GET /metrics HTTP/1.1\r\nHost: x\r\n", method, path), 0);
}

static void test_http_garbage (void **state)
{
    (void) state;
    char method [16], path [64];
    assert_int_equal (s_parse ("garbage\r\n\r\n", method, path), -1);
    assert_int_equal (s_parse ("get /metrics HTTP/1.1\r\n\r\n", method, path), -1);
    assert_int_equal (s_parse ("GET metrics HTTP/1.1\r\n\r\n", method, path), -1);
    assert_int_equal (s_parse ("GET /metrics FTP/1.1\r\n\r\n", method, path), -1);
    assert_int_equal (s_parse ("GET /metrics\r\n\r\n", method, path), -1);
    assert_int_equal (s_parse (" GET / HTTP/1.1\r\n\r\n", method, path), -1);
    //  A TLS hello (NUL bytes included): not HTTP.
    static const char tls [] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 binary\n";
    assert_int_equal (http_parse (tls, sizeof tls - 1, method, sizeof method, path, sizeof path),
                      -1);
    //  No space in the first 16 bytes: not a method.
    assert_int_equal (s_parse ("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", method, path), -1);
    //  Bytes with no request line at all, cut anywhere: never a crash.
    const char *req = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    for (size_t n = 0; n <= strlen (req); n++)
        assert_true (http_parse (req, n, method, sizeof method, path, sizeof path) >= 0);
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_http_complete_requests),
        cmocka_unit_test (test_http_incomplete_requests),
        cmocka_unit_test (test_http_garbage),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
