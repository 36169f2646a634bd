/*  test_submit - the submit core (lib/sl_submit.c) without sockets: the
    broker's JobState answers in, queries, uploads, passes, batches and
    JobEnds out, with `now` given by each test.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <czmq.h>

#include "sl_proto.h"
#include "sl_submit.h"

static char *s_then [] = { "stage2" };

//  A job of n tasks (0: not known before the pass), no attachments.
static sl_submit_t *s_core (uint64_t n)
{
    sl_submit_config_t config = {
        .job = "j1", .tasks = n, .timeout_ms = 5000, .retries = 2, .priority = 3
    };
    sl_submit_t *core = sl_submit_new (&config);
    assert_non_null (core);
    return core;
}

//  An attachment as --attach describes it.
static Sluice__Attachment s_attachment (const char *name, const char *hash, uint64_t size)
{
    Sluice__Attachment a = SLUICE__ATTACHMENT__INIT;
    a.name = (char *) name;
    a.hash = (char *) hash;
    a.size = size;
    return a;
}

//  Decodes a frame (destroyed) into an envelope of the given kind.
static sl_env_t *s_decode (zframe_t *frame, int body_case)
{
    assert_non_null (frame);
    char err [256];
    sl_env_t *env = sl_proto_decode (zframe_data (frame), zframe_size (frame), NULL, err, sizeof err);
    zframe_destroy (&frame);
    assert_non_null (env);
    assert_int_equal (env->body_case, body_case);
    return env;
}

//  The broker's answer.
static Sluice__JobState s_state (const char *job, bool known, uint64_t total, uint64_t received)
{
    Sluice__JobState state = SLUICE__JOB_STATE__INIT;
    state.job = (char *) job;
    state.known = known;
    state.total = total;
    state.received = received;
    return state;
}

//  Adds the tasks of the pass (payload "task SEQ") until the core has no
//  more; returns how many, checks each full batch is SL_SUBMIT_BATCH_TASKS.
static uint64_t s_fill (sl_submit_t *core, uint64_t *batches)
{
    uint64_t seq, n = 0;
    while ((seq = sl_submit_next (core))) {
        char payload [32];
        snprintf (payload, sizeof payload, "task %llu", (unsigned long long) seq);
        sl_submit_task_t task = { .seq = seq, .payload = payload, .size = strlen (payload) };
        int full = sl_submit_add (core, &task);
        assert_true (full >= 0);
        n++;
        if (full) {
            sl_env_t *env = s_decode (sl_submit_batch (core), SLUICE__ENVELOPE__BODY_TASKS);
            assert_int_equal (env->tasks->n_tasks, SL_SUBMIT_BATCH_TASKS);
            sl_proto_free (&env);
            (*batches)++;
        }
    }
    return n;
}

static void test_submit_new_job_is_sent_whole_in_batches (void **state)
{
    (void) state;
    sl_submit_t *core = s_core (600);
    Sluice__JobQuery query;
    assert_true (sl_submit_query (core, 0, &query));
    assert_string_equal (query.job, "j1");
    assert_true (query.want_missing); //  the first one asks what is there
    assert_false (sl_submit_query (core, 50, &query)); //  not due again yet
    Sluice__JobState st = s_state ("j1", false, 0, 0);
    sl_submit_state (core, &st, 10);
    assert_true (sl_submit_passing (core));
    assert_int_equal (sl_submit_upload_next (core), -1);
    uint64_t batches = 0;
    assert_int_equal (s_fill (core, &batches), 600);
    assert_int_equal (batches, 2);
    sl_env_t *env = s_decode (sl_submit_batch (core), SLUICE__ENVELOPE__BODY_TASKS);
    assert_int_equal (env->tasks->n_tasks, 600 - 2 * SL_SUBMIT_BATCH_TASKS);
    assert_int_equal (env->tasks->tasks [0]->seq, 2 * SL_SUBMIT_BATCH_TASKS + 1);
    assert_memory_equal (env->tasks->tasks [0]->payload.data, "task 513", 8);
    sl_proto_free (&env);
    assert_null (sl_submit_batch (core)); //  empty now
    env = s_decode (sl_submit_pass_end (core, 600, 600, 20), SLUICE__ENVELOPE__BODY_JOB_END);
    assert_string_equal (env->job_end->job, "j1");
    assert_int_equal (env->job_end->total, 600);
    sl_proto_free (&env);
    assert_false (sl_submit_passing (core));
    assert_int_equal (sl_submit_status (core), SL_SUBMIT_RUNNING);
    assert_true (sl_submit_query (core, 20, &query));
    assert_false (query.want_missing);
    st = s_state ("j1", true, 600, 600);
    sl_submit_state (core, &st, 30);
    assert_int_equal (sl_submit_status (core), SL_SUBMIT_HELD);
    assert_false (sl_submit_query (core, 1000, &query)); //  nothing more to ask
    sl_submit_destroy (&core);
}

static void test_submit_batch_is_full_by_bytes (void **state)
{
    (void) state;
    sl_submit_t *core = s_core (10);
    static uint8_t big [100 * 1024];
    memset (big, 'x', sizeof big);
    sl_submit_task_t task = { .seq = 1, .payload = big, .size = sizeof big };
    assert_int_equal (sl_submit_add (core, &task), 0);
    task.seq = 2;
    assert_int_equal (sl_submit_add (core, &task), 0);
    task.seq = 3;
    assert_int_equal (sl_submit_add (core, &task), 1); //  300 KiB >= 256 KiB
    assert_int_equal (sl_submit_batched (core), 3);
    sl_env_t *env = s_decode (sl_submit_batch (core), SLUICE__ENVELOPE__BODY_TASKS);
    assert_int_equal (env->tasks->n_tasks, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal (env->tasks->tasks [i]->payload.len, sizeof big);
        assert_memory_equal (env->tasks->tasks [i]->payload.data, big, sizeof big);
    }
    sl_proto_free (&env);
    assert_int_equal (sl_submit_batched (core), 0);
    sl_submit_destroy (&core);
}

static void test_submit_task_options_and_job_fields (void **state)
{
    (void) state;
    Sluice__Attachment a = s_attachment ("data", "0123456789012345678901234567890123456789", 7);
    Sluice__Attachment *attach [] = { &a };
    sl_submit_config_t config = { .job = "j2", .queue = "gpu", .then = s_then, .nthen = 1,
                                  .attachments = attach, .nattach = 1, .timeout_ms = 1000,
                                  .retries = 1, .priority = 0 };
    sl_submit_t *core = sl_submit_new (&config);
    char payload [8] = "abc";
    sl_submit_task_t plain = { .seq = 1, .payload = payload, .size = 3 };
    sl_submit_task_t own = { .seq = 2, .payload = payload, .size = 3, .id = "mine",
                             .has_timeout = true, .timeout_ms = 9000, .has_retries = true,
                             .retries = 0, .has_priority = true, .priority = -4 };
    assert_int_equal (sl_submit_add (core, &plain), 0);
    memcpy (payload, "zzz", 3); //  the core copied it
    assert_int_equal (sl_submit_add (core, &own), 0);
    sl_env_t *env = s_decode (sl_submit_batch (core), SLUICE__ENVELOPE__BODY_TASKS);
    Sluice__TaskBatch *b = env->tasks;
    assert_string_equal (b->job, "j2");
    assert_string_equal (b->queue, "gpu");
    assert_int_equal (b->n_then, 1);
    assert_string_equal (b->then [0], "stage2");
    assert_int_equal (b->n_attachments, 1);
    assert_string_equal (b->attachments [0]->name, "data");
    assert_memory_equal (b->tasks [0]->payload.data, "abc", 3);
    assert_int_equal (b->tasks [0]->timeout_ms, 1000);
    assert_int_equal (b->tasks [0]->retries, 1);
    assert_int_equal (b->tasks [0]->priority, 0);
    assert_true (!b->tasks [0]->id || !b->tasks [0]->id [0]);
    assert_memory_equal (b->tasks [1]->payload.data, "zzz", 3);
    assert_string_equal (b->tasks [1]->id, "mine");
    assert_int_equal (b->tasks [1]->timeout_ms, 9000);
    assert_int_equal (b->tasks [1]->retries, 0);
    assert_int_equal (b->tasks [1]->priority, -4);
    sl_proto_free (&env);
    env = s_decode (sl_submit_pass_end (core, 2, 2, 0), SLUICE__ENVELOPE__BODY_JOB_END);
    assert_string_equal (env->job_end->queue, "gpu");
    assert_int_equal (env->job_end->n_then, 1);
    assert_int_equal (env->job_end->n_attachments, 1);
    sl_proto_free (&env);
    sl_submit_destroy (&core);
}

static void test_submit_known_job_gets_only_what_it_lacks (void **state)
{
    (void) state;
    Sluice__Attachment a = s_attachment ("a", "aaaa", 1), b = s_attachment ("b", "bbbb", 1);
    Sluice__Attachment *attach [] = { &a, &b };
    sl_submit_config_t config = { .job = "j1", .tasks = 10, .attachments = attach, .nattach = 2 };
    sl_submit_t *core = sl_submit_new (&config);
    Sluice__JobQuery query;
    assert_true (sl_submit_query (core, 0, &query));
    Sluice__JobState st = s_state ("j1", true, 10, 6);
    uint64_t missing [] = { 2, 3, 7, 8 };
    st.missing = missing;
    st.n_missing = 4;
    char *lacked [] = { "bbbb", "cccc" }; //  cccc is not ours
    st.attachments_missing = lacked;
    st.n_attachments_missing = 2;
    sl_submit_state (core, &st, 5);
    assert_true (sl_submit_passing (core));
    assert_int_equal (sl_submit_upload_next (core), 1);
    assert_int_equal (sl_submit_upload_next (core), -1);
    uint64_t seqs [10], n = 0, seq;
    while ((seq = sl_submit_next (core)))
        seqs [n++] = seq;
    assert_int_equal (n, 4);
    assert_int_equal (seqs [0], 2);
    assert_int_equal (seqs [1], 3);
    assert_int_equal (seqs [2], 7);
    assert_int_equal (seqs [3], 8);
    sl_submit_destroy (&core);
}

static void test_submit_wanted_follows_the_ranges (void **state)
{
    (void) state;
    sl_submit_t *core = s_core (0); //  streamed: total not known
    Sluice__JobQuery query;
    sl_submit_query (core, 0, &query);
    Sluice__JobState st = s_state ("j1", true, 9, 5);
    uint64_t missing [] = { 1, 1, 4, 6 };
    st.missing = missing;
    st.n_missing = 4;
    sl_submit_state (core, &st, 0);
    bool want [10];
    for (uint64_t seq = 1; seq <= 9; seq++)
        want [seq] = sl_submit_wanted (core, seq);
    assert_true (want [1]);
    assert_false (want [2]);
    assert_false (want [3]);
    assert_true (want [4]);
    assert_true (want [5]);
    assert_true (want [6]);
    assert_false (want [7]);
    assert_false (want [9]);
    sl_submit_destroy (&core);
}

//  A core past its first pass of n tasks, confirming at time t.
static sl_submit_t *s_confirming (uint64_t n, int64_t t)
{
    sl_submit_t *core = s_core (n);
    Sluice__JobQuery query;
    sl_submit_query (core, t, &query);
    Sluice__JobState st = s_state ("j1", false, 0, 0);
    sl_submit_state (core, &st, t);
    uint64_t batches = 0;
    s_fill (core, &batches);
    zframe_t *frame = sl_submit_batch (core);
    zframe_destroy (&frame);
    frame = sl_submit_pass_end (core, n, n, t);
    zframe_destroy (&frame);
    return core;
}

static void test_submit_stall_resends_what_is_missing (void **state)
{
    (void) state;
    sl_submit_t *core = s_confirming (10, 0);
    Sluice__JobQuery query;
    assert_true (sl_submit_query (core, 100, &query));
    assert_false (query.want_missing);
    Sluice__JobState st = s_state ("j1", true, 10, 4);
    sl_submit_state (core, &st, 100); //  progress
    assert_true (sl_submit_query (core, 600, &query));
    assert_false (query.want_missing);
    sl_submit_state (core, &st, 600); //  none, but not stalled long
    assert_false (sl_submit_passing (core));
    assert_true (sl_submit_query (core, 1200, &query));
    assert_true (query.want_missing); //  stalled: ask what is missing
    uint64_t missing [] = { 5, 10 };
    st.missing = missing;
    st.n_missing = 2;
    sl_submit_state (core, &st, 1200);
    assert_true (sl_submit_passing (core));
    uint64_t batches = 0;
    assert_int_equal (s_fill (core, &batches), 6); //  5..10
    zframe_t *frame = sl_submit_batch (core);
    sl_env_t *env = s_decode (frame, SLUICE__ENVELOPE__BODY_TASKS);
    assert_int_equal (env->tasks->n_tasks, 6);
    assert_int_equal (env->tasks->tasks [0]->seq, 5);
    sl_proto_free (&env);
    env = s_decode (sl_submit_pass_end (core, 10, 6, 1300), SLUICE__ENVELOPE__BODY_JOB_END);
    assert_int_equal (env->job_end->total, 10);
    sl_proto_free (&env);
    assert_true (sl_submit_query (core, 1300, &query));
    st = s_state ("j1", true, 10, 10);
    sl_submit_state (core, &st, 1300);
    assert_int_equal (sl_submit_status (core), SL_SUBMIT_HELD);
    sl_submit_destroy (&core);
}

static void test_submit_throttled_broker_is_not_a_stall (void **state)
{
    (void) state;
    sl_submit_t *core = s_confirming (10, 0);
    Sluice__JobQuery query;
    Sluice__JobState st = s_state ("j1", true, 0, 0);
    st.throttled = true;
    for (int64_t t = 100; t <= 5000; t += 100) {
        assert_true (sl_submit_query (core, t, &query));
        assert_false (query.want_missing); //  its memory limit, not a loss
        sl_submit_state (core, &st, t);
        assert_false (sl_submit_passing (core));
    }
    //  Throttling over, still nothing: a stall after STALL_MS.
    st.throttled = false;
    assert_true (sl_submit_query (core, 5100, &query));
    sl_submit_state (core, &st, 5100);
    assert_true (sl_submit_query (core, 5100 + SL_SUBMIT_STALL_MS + 1, &query));
    assert_true (query.want_missing);
    sl_submit_state (core, &st, 5100 + SL_SUBMIT_STALL_MS + 1);
    assert_true (sl_submit_passing (core));
    //  Nothing listed: every task again.
    uint64_t batches = 0;
    assert_int_equal (s_fill (core, &batches), 10);
    sl_submit_destroy (&core);
}

static void test_submit_restart_asks_at_once (void **state)
{
    (void) state;
    sl_submit_t *core = s_confirming (10, 0);
    Sluice__JobQuery query;
    sl_submit_restarted (core);
    assert_true (sl_submit_query (core, 100, &query));
    assert_true (query.want_missing);
    assert_true (sl_submit_query (core, 200, &query));
    assert_false (query.want_missing); //  once
    sl_submit_destroy (&core);
}

static void test_submit_lost_attachment_is_sent_again_then_given_up (void **state)
{
    (void) state;
    Sluice__Attachment a = s_attachment ("data", "aaaa", 99);
    Sluice__Attachment *attach [] = { &a };
    const char *paths [] = { "/tmp/data.bin" };
    sl_submit_config_t config = { .job = "j1", .tasks = 1, .attachments = attach,
                                  .attach_paths = paths, .nattach = 1 };
    sl_submit_t *core = sl_submit_new (&config);
    Sluice__JobQuery query;
    sl_submit_query (core, 0, &query);
    Sluice__JobState st = s_state ("j1", false, 0, 0);
    sl_submit_state (core, &st, 0);
    assert_int_equal (sl_submit_upload_next (core), 0); //  a new job: all of them
    assert_int_equal (sl_submit_upload_next (core), -1);
    uint64_t batches = 0;
    s_fill (core, &batches);
    zframe_t *frame = sl_submit_batch (core);
    zframe_destroy (&frame);
    frame = sl_submit_pass_end (core, 1, 1, 0);
    zframe_destroy (&frame);
    st = s_state ("j1", true, 1, 1);
    char *lacked [] = { "aaaa" };
    st.attachments_missing = lacked;
    st.n_attachments_missing = 1;
    st.attachments_error = "No space left on device";
    int64_t t = 100;
    assert_true (sl_submit_query (core, t, &query));
    sl_submit_state (core, &st, t); //  the tasks arrived: progress
    assert_int_equal (sl_submit_upload_next (core), -1);
    for (int tries = 0; tries < SL_SUBMIT_ATTACH_TRIES; tries++) {
        t += SL_SUBMIT_STALL_MS + 1;
        assert_true (sl_submit_query (core, t, &query));
        assert_true (query.want_missing);
        sl_submit_state (core, &st, t);
        assert_int_equal (sl_submit_status (core), SL_SUBMIT_RUNNING);
        assert_false (sl_submit_passing (core)); //  the tasks are there
        assert_int_equal (sl_submit_upload_next (core), 0);
        assert_int_equal (sl_submit_upload_next (core), -1);
    }
    t += SL_SUBMIT_STALL_MS + 1;
    assert_true (sl_submit_query (core, t, &query));
    sl_submit_state (core, &st, t);
    assert_int_equal (sl_submit_status (core), SL_SUBMIT_FAILED);
    assert_non_null (strstr (sl_submit_error (core), "data (/tmp/data.bin, 99 bytes)"));
    assert_non_null (strstr (sl_submit_error (core), "No space left on device"));
    assert_non_null (strstr (sl_submit_error (core), "--job j1"));
    sl_submit_destroy (&core);
}

static void test_submit_errors_and_endings (void **state)
{
    (void) state;
    Sluice__JobQuery query;
    //  The broker cannot take it.
    sl_submit_t *core = s_core (5);
    sl_submit_query (core, 0, &query);
    Sluice__JobState st = s_state ("j1", false, 0, 0);
    st.error = "disk full";
    sl_submit_state (core, &st, 0);
    assert_int_equal (sl_submit_status (core), SL_SUBMIT_FAILED);
    assert_non_null (strstr (sl_submit_error (core), "disk full"));
    assert_false (sl_submit_passing (core));
    sl_submit_destroy (&core);
    //  Finished before: nothing to send.
    core = s_core (5);
    sl_submit_query (core, 0, &query);
    st = s_state ("j1", true, 5, 5);
    st.finished = true;
    sl_submit_state (core, &st, 0);
    assert_int_equal (sl_submit_status (core), SL_SUBMIT_FINISHED);
    assert_int_equal (sl_submit_total (core), 5);
    assert_false (sl_submit_passing (core));
    sl_submit_destroy (&core);
    //  Another job of that id, with another number of tasks.
    core = s_core (5);
    sl_submit_query (core, 0, &query);
    st = s_state ("j1", true, 7, 3);
    sl_submit_state (core, &st, 0);
    assert_int_equal (sl_submit_status (core), SL_SUBMIT_FAILED);
    assert_non_null (strstr (sl_submit_error (core), "with 7 tasks, not 5"));
    sl_submit_destroy (&core);
    //  An answer about another job changes nothing; an error while
    //  confirming fails.
    core = s_confirming (5, 0);
    st = s_state ("other", true, 5, 5);
    sl_submit_state (core, &st, 10);
    assert_int_equal (sl_submit_status (core), SL_SUBMIT_RUNNING);
    st = s_state ("j1", true, 5, 2);
    st.error = "journal write failed";
    sl_submit_state (core, &st, 20);
    assert_int_equal (sl_submit_status (core), SL_SUBMIT_FAILED);
    assert_non_null (strstr (sl_submit_error (core), "stopped taking tasks of job j1"));
    sl_submit_destroy (&core);
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_submit_new_job_is_sent_whole_in_batches),
        cmocka_unit_test (test_submit_batch_is_full_by_bytes),
        cmocka_unit_test (test_submit_task_options_and_job_fields),
        cmocka_unit_test (test_submit_known_job_gets_only_what_it_lacks),
        cmocka_unit_test (test_submit_wanted_follows_the_ranges),
        cmocka_unit_test (test_submit_stall_resends_what_is_missing),
        cmocka_unit_test (test_submit_throttled_broker_is_not_a_stall),
        cmocka_unit_test (test_submit_restart_asks_at_once),
        cmocka_unit_test (test_submit_lost_attachment_is_sent_again_then_given_up),
        cmocka_unit_test (test_submit_errors_and_endings),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
