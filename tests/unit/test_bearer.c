/*  Tests of bearer: the HTTP endpoint's token check.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "bearer.h"

#define TOKEN "SLUICE1-abc_def-123"

static bool s_allows (const char *head)
{
    return bearer_allows (TOKEN, head, strlen (head));
}

static void test_bearer_allows_the_token (void **state)
{
    (void) state;
    assert_true (
        s_allows ("GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN "\r\n\r\n"));
    assert_true (s_allows ("GET / HTTP/1.0\nauthorization:bearer " TOKEN "  \n\n"));
    assert_true (s_allows ("GET / HTTP/1.1\r\nAUTHORIZATION:   BEARER " TOKEN "\r\n\r\n"));
}

static void test_bearer_refuses_anything_else (void **state)
{
    (void) state;
    const char *heads [] = {
        "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nAuthorization: Bearer \r\n\r\n",
        "GET /metrics HTTP/1.1\r\nAuthorization: Bearer SLUICE1-abc_def-12\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nAuthorization: Bearer " TOKEN "4\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nAuthorization: Basic " TOKEN "\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nAuthorization: " TOKEN "\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nX-Authorization: Bearer " TOKEN "\r\n\r\n",
        //  After the head's end it is the body, not a header.
        "GET /metrics HTTP/1.1\r\n\r\nAuthorization: Bearer " TOKEN "\r\n",
        //  On the request line it is not a header either.
        "Authorization: Bearer " TOKEN "\r\n\r\n",
        "",
    };
    for (size_t i = 0; i < sizeof heads / sizeof heads [0]; i++)
        if (s_allows (heads [i]))
            fail_msg ("allowed: %s", heads [i]);
}

static void test_bearer_reads_only_size_bytes (void **state)
{
    (void) state;
    const char *head = "GET / HTTP/1.1\r\nAuthorization: Bearer " TOKEN "\r\n\r\n";
    //  Cut inside the token: not allowed.
    assert_false (bearer_allows (TOKEN, head, strlen (head) - 8));
    //  Cut after the header line, before the blank line: allowed.
    assert_true (bearer_allows (TOKEN, head, strlen (head) - 2));
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_bearer_allows_the_token),
        cmocka_unit_test (test_bearer_refuses_anything_else),
        cmocka_unit_test (test_bearer_reads_only_size_bytes),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
