/*  test_client_options - checks of the client library's options
    (client/sc_options.c): defaults pass, each bad value is named.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "sc_options.h"

static void test_client_options_defaults_pass (void **state)
{
    (void) state;
    char err [256] = "";
    sluice_options_t opts;
    memset (&opts, 0xff, sizeof opts);
    sluice_options_init (&opts);
    assert_int_equal (sluice_options_check (&opts, err, sizeof err), 0);
    assert_int_equal (sluice_options_check (NULL, err, sizeof err), 0);
    assert_null (opts.queue);
    assert_int_equal (opts.connect_timeout_ms, 0);
}

//  Expects opts to be refused with a message containing word.
static void s_refused (const sluice_options_t *opts, const char *word)
{
    char err [256] = "";
    assert_int_equal (sluice_options_check (opts, err, sizeof err), -1);
    assert_non_null (strstr (err, word));
}

static void test_client_options_bad_names_are_refused (void **state)
{
    (void) state;
    sluice_options_t opts = { 0 };
    opts.queue = "no spaces";
    s_refused (&opts, "queue");
    opts.queue = "";
    s_refused (&opts, "queue");
    opts.queue = "ok-queue_1.x";
    opts.job = "j/1";
    s_refused (&opts, "job");
    opts.job = "0123456789012345678901234567890123456789012345678901234567890123456789";
    s_refused (&opts, "job");
    opts.job = "job-1";
    char long_name [200];
    memset (long_name, 'n', sizeof long_name - 1);
    long_name [sizeof long_name - 1] = '\0';
    opts.name = long_name;
    s_refused (&opts, "name");
    opts.name = "";
    s_refused (&opts, "name");
    opts.name = "host:1/x";
    char err [256];
    assert_int_equal (sluice_options_check (&opts, err, sizeof err), 0);
}

static void test_client_options_bad_numbers_are_refused (void **state)
{
    (void) state;
    sluice_options_t opts = { 0 };
    opts.retries = SC_MAX_RETRIES + 1;
    s_refused (&opts, "retries");
    opts.retries = SC_MAX_RETRIES;
    opts.map_timeout_ms = -1;
    s_refused (&opts, "map_timeout_ms");
    opts.map_timeout_ms = 0;
    opts.heartbeat_ms = 5;
    s_refused (&opts, "heartbeat_ms");
    opts.heartbeat_ms = 600001;
    s_refused (&opts, "heartbeat_ms");
    opts.heartbeat_ms = 10;
    char err [256];
    assert_int_equal (sluice_options_check (&opts, err, sizeof err), 0);
}

static void test_client_options_bad_stages_are_refused (void **state)
{
    (void) state;
    sluice_options_t opts = { 0 };
    const char *bad [] = { "ok", "not ok", NULL };
    opts.then = bad;
    s_refused (&opts, "then");
    const char *many [SC_MAX_THEN + 2];
    for (int i = 0; i <= SC_MAX_THEN; i++)
        many [i] = "q";
    many [SC_MAX_THEN + 1] = NULL;
    opts.then = many;
    s_refused (&opts, "at most");
    many [SC_MAX_THEN] = NULL; //  exactly the most
    char err [256];
    assert_int_equal (sluice_options_check (&opts, err, sizeof err), 0);
}

static void test_client_options_worker_checks (void **state)
{
    (void) state;
    char err [256] = "";
    assert_int_equal (sc_worker_options_check (NULL, NULL, err, sizeof err), 0);
    assert_int_equal (sc_worker_options_check ("bad queue", NULL, err, sizeof err), -1);
    assert_non_null (strstr (err, "queue"));
    sluice_worker_options_t opts = { 0 };
    assert_int_equal (sc_worker_options_check ("q", &opts, err, sizeof err), 0);
    opts.slots = SC_MAX_SLOTS + 1;
    assert_int_equal (sc_worker_options_check (NULL, &opts, err, sizeof err), -1);
    assert_non_null (strstr (err, "slots"));
    opts.slots = SC_MAX_SLOTS;
    opts.prefetch = -2;
    assert_int_equal (sc_worker_options_check (NULL, &opts, err, sizeof err), -1);
    assert_non_null (strstr (err, "prefetch"));
    opts.prefetch = -1;
    opts.connect_timeout_ms = -5;
    assert_int_equal (sc_worker_options_check (NULL, &opts, err, sizeof err), -1);
    assert_non_null (strstr (err, "connect_timeout_ms"));
    opts.connect_timeout_ms = 0;
    assert_int_equal (sc_worker_options_check (NULL, &opts, err, sizeof err), 0);
    //  Inline handlers need no thread per slot: more slots allowed.
    opts.slots = SC_MAX_SLOTS + 1;
    opts.inline_handler = true;
    assert_int_equal (sc_worker_options_check (NULL, &opts, err, sizeof err), 0);
    opts.slots = SC_MAX_INLINE_SLOTS + 1;
    assert_int_equal (sc_worker_options_check (NULL, &opts, err, sizeof err), -1);
    assert_non_null (strstr (err, "slots"));
    opts.slots = 1;
    //  Further queues: each checked, NULLs and too many refused.
    const char *good [] = { "a", "b.c" };
    opts.queues = good;
    opts.nqueues = 2;
    assert_int_equal (sc_worker_options_check ("q", &opts, err, sizeof err), 0);
    const char *bad [] = { "a", "no spaces" };
    opts.queues = bad;
    assert_int_equal (sc_worker_options_check ("q", &opts, err, sizeof err), -1);
    assert_non_null (strstr (err, "no spaces"));
    const char *null [] = { "a", NULL };
    opts.queues = null;
    assert_int_equal (sc_worker_options_check ("q", &opts, err, sizeof err), -1);
    assert_non_null (strstr (err, "entry 1"));
    opts.queues = NULL;
    assert_int_equal (sc_worker_options_check ("q", &opts, err, sizeof err), -1);
    const char *many [SC_MAX_QUEUES];
    for (size_t i = 0; i < SC_MAX_QUEUES; i++)
        many [i] = "x";
    opts.queues = many;
    opts.nqueues = SC_MAX_QUEUES;
    assert_int_equal (sc_worker_options_check (NULL, &opts, err, sizeof err), 0);
    assert_int_equal (sc_worker_options_check ("q", &opts, err, sizeof err), -1);
    assert_non_null (strstr (err, "queues"));
}

static void test_client_options_default_names_differ (void **state)
{
    (void) state;
    char a [SC_MAX_NAME + 1], b [SC_MAX_NAME + 1];
    sc_default_name (a, sizeof a, "w");
    sc_default_name (b, sizeof b, "w");
    assert_true (strcmp (a, b) != 0); //  two workers in one process stay apart
    assert_non_null (strstr (a, "/w"));
    assert_true (strlen (a) <= SC_MAX_NAME);
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_client_options_defaults_pass),
        cmocka_unit_test (test_client_options_bad_names_are_refused),
        cmocka_unit_test (test_client_options_bad_numbers_are_refused),
        cmocka_unit_test (test_client_options_bad_stages_are_refused),
        cmocka_unit_test (test_client_options_worker_checks),
        cmocka_unit_test (test_client_options_default_names_differ),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
