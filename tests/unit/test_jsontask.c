/*  Tests of sl_jsontask: one line of a JSONL task file.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "sl_jsontask.h"

static int s_parse (const char *line, sl_jsontask_t *task, char *err)
{
    return sl_jsontask_parse ((const uint8_t *) line, strlen (line), task, err, 300);
}

static void test_jsontask_every_field (void **state)
{
    (void) state;
    sl_jsontask_t task;
    char err [300];
    assert_int_equal (s_parse ("{\"payload\": \"gzip \\\"a b\\\"\", \"id\": \"img-7\", "
                               "\"timeout\": 2.5, \"retries\": 3, \"priority\": -20}",
                               &task, err),
                      0);
    assert_int_equal (task.size, 10);
    assert_memory_equal (task.payload, "gzip \"a b\"", 10);
    assert_string_equal (task.id, "img-7");
    assert_true (task.has_timeout);
    assert_int_equal (task.timeout_ms, 2500);
    assert_true (task.has_retries);
    assert_int_equal (task.retries, 3);
    assert_int_equal (task.priority, -20);
    sl_jsontask_clear (&task);
    //  Only the payload; an integer id; a NUL and UTF-8 in the payload.
    assert_int_equal (s_parse ("{\"id\": 12345, \"payload\": \"a\\u0000\\u00e9\"}", &task, err), 0);
    assert_string_equal (task.id, "12345");
    assert_int_equal (task.size, 4);
    assert_memory_equal (task.payload, "a\0\xc3\xa9", 4);
    assert_false (task.has_timeout);
    assert_false (task.has_retries);
    assert_int_equal (task.priority, 0);
    sl_jsontask_clear (&task);
    assert_int_equal (s_parse ("{\"payload\": \"\"}", &task, err), 0);
    assert_int_equal (task.size, 0);
    assert_non_null (task.payload);
    sl_jsontask_clear (&task);
    sl_jsontask_clear (&task); //  twice is fine
}

static void test_jsontask_errors_say_what (void **state)
{
    (void) state;
    struct {
        const char *line;
        const char *says;
    } cases [] = {
        { "", "not valid JSON" },
        { "payload", "not valid JSON" },
        { "{\"payload\": \"x\"", "not valid JSON" },
        { "[\"x\"]", "not a JSON object" },
        { "\"x\"", "not a JSON object" },
        { "{}", "no \"payload\"" },
        { "{\"payload\": 5}", "\"payload\" is not a string" },
        { "{\"payload\": null}", "\"payload\" is not a string" },
        { "{\"payload\": \"x\", \"payload\": \"y\"}", "duplicate" },
        { "{\"payload\": \"x\", \"prio\": 1}", "unknown member \"prio\"" },
        { "{\"payload\": \"x\", \"id\": [1]}", "\"id\" is not a string or an integer" },
        { "{\"payload\": \"x\", \"id\": 1.5}", "\"id\" is not a string or an integer" },
        { "{\"payload\": \"x\", \"id\": \"a\\u0000b\"}", "holds a NUL" },
        { "{\"payload\": \"x\", \"timeout\": -1}", "\"timeout\"" },
        { "{\"payload\": \"x\", \"timeout\": \"5\"}", "\"timeout\"" },
        { "{\"payload\": \"x\", \"retries\": 101}", "\"retries\"" },
        { "{\"payload\": \"x\", \"retries\": 1.0}", "\"retries\"" },
        { "{\"payload\": \"x\", \"priority\": 1000001}", "\"priority\"" },
        { "{\"payload\": \"x\"} trailing", "not valid JSON" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        sl_jsontask_t task;
        char err [300] = "";
        if (s_parse (cases [i].line, &task, err) != -1 || !strstr (err, cases [i].says)) {
            print_error ("line %s: got '%s', wanted '%s'\n", cases [i].line, err, cases [i].says);
            fail ();
        }
        assert_null (task.payload);
    }
    //  An id of 128 bytes passes, 129 do not.
    char line [400];
    char id [130];
    memset (id, 'i', 129);
    id [128] = '\0';
    snprintf (line, sizeof line, "{\"payload\": \"x\", \"id\": \"%s\"}", id);
    sl_jsontask_t task;
    char err [300];
    assert_int_equal (s_parse (line, &task, err), 0);
    assert_int_equal (strlen (task.id), 128);
    sl_jsontask_clear (&task);
    id [128] = 'i';
    id [129] = '\0';
    snprintf (line, sizeof line, "{\"payload\": \"x\", \"id\": \"%s\"}", id);
    assert_int_equal (s_parse (line, &task, err), -1);
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_jsontask_every_field),
        cmocka_unit_test (test_jsontask_errors_say_what),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
