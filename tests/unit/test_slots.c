/*  test_slots - libsluice's handler executor (client/sc_slots.c): tasks
    run in slot threads or inline, come back with their status, are asked
    to stop (cancel, time limit), and see their job's attachments.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <czmq.h>

#include "sc_slots.h"

//  Output = payload; "fail" exits 3; "sleep" sleeps up to 5 s (stops
//  early when asked); "attach:NAME" outputs the path of attachment NAME.
static int s_handler (void *state, const uint8_t *payload, size_t size, sluice_buf_t *output)
{
    (void) state;
    const char *text = (const char *) payload;
    if (streq (text, "fail"))
        return 3;
    if (streq (text, "sleep"))
        return sluice_task_sleep (5000) ? 0 : 9;
    if (strncmp (text, "attach:", 7) == 0) {
        const char *path = sluice_task_attachment (text + 7);
        if (!path)
            return 4;
        return sluice_buf_set (output, path, strlen (path)) ? 1 : 0;
    }
    return sluice_buf_set (output, payload, size) ? 1 : 0;
}

//  Polls the executor until a task finished (at most 10 s).
static sl_wexec_done_t *s_wait (sl_wexec_t *exec)
{
    int64_t until = zclock_mono () + 10000;
    while (zclock_mono () < until) {
        sl_wexec_done_t *done = exec->finished (exec->self);
        if (done)
            return done;
        zmq_pollitem_t items [8];
        size_t n = exec->pollitems (exec->self, items, 8);
        int64_t timer = exec->next_timer (exec->self);
        long wait = timer >= 0 ? (long) (timer - zclock_mono ()) : 100;
        zmq_poll (items, (int) n, wait < 0 ? 0 : wait > 100 ? 100 : wait);
        exec->handle (exec->self, items, n, zclock_mono ());
    }
    return NULL;
}

static sl_wexec_task_t s_task (uint64_t tag, const char *payload, uint32_t timeout_ms)
{
    return (sl_wexec_task_t){ .tag = tag,
                              .job = "j1",
                              .seq = tag,
                              .attempt = 1,
                              .timeout_ms = timeout_ms,
                              .payload = (const uint8_t *) payload,
                              .size = strlen (payload) };
}

static void test_slots_task_runs_in_a_slot_and_comes_back (void **state)
{
    (void) state;
    sc_slots_t *slots = sc_slots_new (s_handler, NULL, 2, false, 1024);
    assert_non_null (slots);
    sl_wexec_t exec = sc_slots_exec (slots);
    sl_wexec_task_t a = s_task (7, "hello", 0), b = s_task (8, "fail", 0);
    assert_int_equal (exec.start (exec.self, &a, zclock_mono ()), 0);
    assert_int_equal (exec.start (exec.self, &b, zclock_mono ()), 0);
    for (int i = 0; i < 2; i++) {
        sl_wexec_done_t *done = s_wait (&exec);
        assert_non_null (done);
        if (done->tag == 7) {
            assert_int_equal (done->status, SL_WEXEC_OK);
            assert_int_equal (done->output_size, 5);
            assert_memory_equal (done->output, "hello", 5);
        } else {
            assert_int_equal (done->tag, 8);
            assert_int_equal (done->status, SL_WEXEC_FAILED);
            assert_int_equal (done->exit_code, 3);
        }
        exec.done_free (exec.self, done);
    }
    sc_slots_destroy (&slots);
    assert_null (slots);
}

static void test_slots_no_free_slot_refuses_a_task (void **state)
{
    (void) state;
    sc_slots_t *slots = sc_slots_new (s_handler, NULL, 1, false, 1024);
    sl_wexec_t exec = sc_slots_exec (slots);
    sl_wexec_task_t a = s_task (1, "sleep", 0), b = s_task (2, "x", 0);
    assert_int_equal (exec.start (exec.self, &a, zclock_mono ()), 0);
    assert_int_equal (exec.start (exec.self, &b, zclock_mono ()), -1);
    exec.stop (exec.self, 1, zclock_mono ());
    sl_wexec_done_t *done = s_wait (&exec);
    assert_non_null (done);
    assert_int_equal (done->exit_code, 9); //  it saw the stop
    exec.done_free (exec.self, done);
    sc_slots_destroy (&slots);
}

static void test_slots_over_time_limit_is_stopped_and_timeout (void **state)
{
    (void) state;
    sc_slots_t *slots = sc_slots_new (s_handler, NULL, 1, false, 1024);
    sl_wexec_t exec = sc_slots_exec (slots);
    sl_wexec_task_t a = s_task (1, "sleep", 100);
    int64_t start = zclock_mono ();
    assert_int_equal (exec.start (exec.self, &a, start), 0);
    assert_true (exec.next_timer (exec.self) >= start + 100);
    sl_wexec_done_t *done = s_wait (&exec);
    assert_non_null (done);
    assert_int_equal (done->status, SL_WEXEC_TIMEOUT);
    assert_true (zclock_mono () - start < 4000);
    exec.done_free (exec.self, done);
    sc_slots_destroy (&slots);
}

static void test_slots_inline_finishes_within_start (void **state)
{
    (void) state;
    sc_slots_t *slots = sc_slots_new (s_handler, NULL, 4, true, 3);
    sl_wexec_t exec = sc_slots_exec (slots);
    zmq_pollitem_t items [4];
    assert_int_equal (exec.pollitems (exec.self, items, 4), 0);
    sl_wexec_task_t a = s_task (5, "abcdef", 0);
    assert_int_equal (exec.start (exec.self, &a, zclock_mono ()), 0);
    sl_wexec_done_t *done = exec.finished (exec.self);
    assert_non_null (done);
    assert_int_equal (done->status, SL_WEXEC_OK);
    assert_int_equal (done->output_size, 3); //  cut at max_output
    assert_true (done->output_truncated);
    exec.done_free (exec.self, done);
    assert_null (exec.finished (exec.self));
    sc_slots_destroy (&slots);
}

static void test_slots_handler_finds_its_attachments_by_name (void **state)
{
    (void) state;
    sl_wattach_file_t files [] = { { "model", "/cache/0123" }, { "dict", "/cache/4567" } };
    for (int is_inline = 0; is_inline < 2; is_inline++) {
        sc_slots_t *slots = sc_slots_new (s_handler, NULL, 1, is_inline, 1024);
        sl_wexec_t exec = sc_slots_exec (slots);
        sl_wexec_task_t a = s_task (1, "attach:dict", 0);
        a.files = files;
        a.nfiles = 2;
        assert_int_equal (exec.start (exec.self, &a, zclock_mono ()), 0);
        sl_wexec_done_t *done = s_wait (&exec);
        assert_non_null (done);
        assert_int_equal (done->status, SL_WEXEC_OK);
        assert_int_equal (done->output_size, strlen ("/cache/4567"));
        assert_memory_equal (done->output, "/cache/4567", done->output_size);
        exec.done_free (exec.self, done);
        //  No such name, or no attachments at all: NULL.
        sl_wexec_task_t b = s_task (2, "attach:other", 0);
        b.files = files;
        b.nfiles = 2;
        assert_int_equal (exec.start (exec.self, &b, zclock_mono ()), 0);
        done = s_wait (&exec);
        assert_int_equal (done->exit_code, 4);
        exec.done_free (exec.self, done);
        sc_slots_destroy (&slots);
    }
    assert_null (sluice_task_attachment ("dict")); //  outside a handler
}

int main (void)
{
    zsys_init ();
    zsys_set_logstream (NULL);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_slots_task_runs_in_a_slot_and_comes_back),
        cmocka_unit_test (test_slots_no_free_slot_refuses_a_task),
        cmocka_unit_test (test_slots_over_time_limit_is_stopped_and_timeout),
        cmocka_unit_test (test_slots_inline_finishes_within_start),
        cmocka_unit_test (test_slots_handler_finds_its_attachments_by_name),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
