/*  =========================================================================
    test_sink_progress - unit tests of the sink's progress line
    (sink/progress.c): the text of the line for given numbers, the rate
    measured from samples, and the drawing into a pipe (what a terminal
    would get), with log lines clearing the progress line first.
    =========================================================================
*/

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <czmq.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "progress.h"

static sl_progress_stats_t s_stats (void)
{
    sl_progress_stats_t st = {
        .job = "job-1",
        .done = 250,
        .total = 1000,
        .failed = 3,
        .rate = 50,
        .have_workers = true,
        .workers = 4,
        .busy = 3,
    };
    return st;
}

static void test_sink_progress_line_shows_every_number (void **state)
{
    (void) state;
    sl_progress_stats_t st = s_stats ();
    char line [256];
    size_t len = sl_progress_format (line, sizeof line, &st, 0);
    assert_int_equal (len, strlen (line));
    assert_string_equal (line, "job-1  250/1000  25%  3 failed  50/s  ETA 0:15  workers 3/4 busy");
}

static void test_sink_progress_unknown_total_shows_question_marks (void **state)
{
    (void) state;
    sl_progress_stats_t st = s_stats ();
    st.total = 0;
    st.rate = -1;
    st.have_workers = false;
    char line [256];
    sl_progress_format (line, sizeof line, &st, 0);
    assert_string_equal (line, "job-1  250/?  3 failed  ?/s  ETA ?  workers ?");
}

static void test_sink_progress_eta_in_hours_and_slow_rates (void **state)
{
    (void) state;
    sl_progress_stats_t st = s_stats ();
    st.done = 0;
    st.total = 100000;
    st.rate = 2.5; //  40,000 s = 11:06:40
    char line [256];
    sl_progress_format (line, sizeof line, &st, 0);
    assert_non_null (strstr (line, "  0%"));
    assert_non_null (strstr (line, "2.5/s  ETA 11:06:40"));
    st.rate = 0.001;
    sl_progress_format (line, sizeof line, &st, 0);
    assert_non_null (strstr (line, "ETA >99h"));
    st.done = st.total;
    sl_progress_format (line, sizeof line, &st, 0);
    assert_non_null (strstr (line, "100%"));
    assert_non_null (strstr (line, "ETA 0:00"));
}

static void test_sink_progress_extras_held_jobs_throttled (void **state)
{
    (void) state;
    sl_progress_stats_t st = s_stats ();
    st.held = 17;
    st.more_jobs = 2;
    st.throttled = true;
    char line [256];
    sl_progress_format (line, sizeof line, &st, 0);
    assert_non_null (strstr (line, "  17 held"));
    assert_non_null (strstr (line, "  (+2 jobs)"));
    assert_non_null (strstr (line, "  broker throttled"));
    st.more_jobs = 1;
    sl_progress_format (line, sizeof line, &st, 0);
    assert_non_null (strstr (line, "(+1 job)"));
}

static void test_sink_progress_final_line_shows_time_taken (void **state)
{
    (void) state;
    sl_progress_stats_t st = s_stats ();
    st.done = st.total;
    st.final = true;
    st.elapsed_ms = 12345;
    char line [256];
    sl_progress_format (line, sizeof line, &st, 0);
    assert_string_equal (line, "job-1  1000/1000 100%  3 failed  50/s  in 12.3 s");
    st.elapsed_ms = 3725000;
    sl_progress_format (line, sizeof line, &st, 0);
    assert_non_null (strstr (line, "in 1:02:05"));
}

static void test_sink_progress_line_is_cut_to_width (void **state)
{
    (void) state;
    sl_progress_stats_t st = s_stats ();
    char line [256];
    assert_int_equal (sl_progress_format (line, sizeof line, &st, 20), 20);
    assert_int_equal (strlen (line), 20);
    assert_string_equal (line, "job-1  250/1000  25%");
    //  A tiny buffer: cut, still terminated.
    char tiny [8];
    size_t len = sl_progress_format (tiny, sizeof tiny, &st, 0);
    assert_true (len < sizeof tiny);
    assert_int_equal (strlen (tiny), len);
}

static void test_sink_progress_rate_over_recent_window (void **state)
{
    (void) state;
    sl_rate_t rate = { 0 };
    assert_true (sl_rate_get (&rate) < 0);
    sl_rate_add (&rate, 1000, 0);
    assert_true (sl_rate_get (&rate) < 0);
    sl_rate_add (&rate, 1200, 40);
    assert_true (sl_rate_get (&rate) < 0); //  200 ms: too short to tell
    sl_rate_add (&rate, 2000, 100);
    assert_float_equal (sl_rate_get (&rate), 100.0, 0.001);
    //  Later samples: only the last SL_RATE_WINDOW_MS count.
    for (int64_t t = 2200; t <= 20000; t += 200)
        sl_rate_add (&rate, t, 100 + (uint64_t) (t - 2000) * 2); //  2000/s
    assert_float_equal (sl_rate_get (&rate), 2000.0, 0.001);
    //  The ring wraps (64 samples) without losing its place.
    for (int64_t t = 20200; t <= 40000; t += 200)
        sl_rate_add (&rate, t, 100 + 18000 * 2); //  stopped
    assert_float_equal (sl_rate_get (&rate), 0.0, 0.001);
}

//  Reads what is in the pipe (non-blocking) into buf.
static size_t s_read_pipe (int fd, char *buf, size_t size)
{
    size_t len = 0;
    ssize_t n;
    while (len < size - 1 && (n = read (fd, buf + len, size - 1 - len)) > 0)
        len += (size_t) n;
    buf [len] = '\0';
    return len;
}

static void test_sink_progress_draws_clears_for_logs_and_finishes (void **state)
{
    (void) state;
    int fds [2];
    assert_int_equal (pipe (fds), 0);
    fcntl (fds [0], F_SETFL, O_NONBLOCK);
    zsys_set_logident ("test");
    zsys_set_logsystem (false);
    sl_progress_t *progress = sl_progress_new (fds [1], 1000);
    assert_non_null (progress);
    assert_int_equal (sl_progress_next (progress), 1000);

    sl_progress_stats_t st = s_stats ();
    sl_progress_draw (progress, &st, 1000);
    assert_int_equal (sl_progress_next (progress), 1000 + SL_PROGRESS_DRAW_MS);
    char buf [4096];
    s_read_pipe (fds [0], buf, sizeof buf);
    assert_string_equal (buf,
                         "\r\033[Kjob-1  250/1000  25%  3 failed  ?/s  ETA ?  workers 3/4 busy");

    //  A log line clears the progress line first.
    zsys_info ("hello from the log");
    s_read_pipe (fds [0], buf, sizeof buf);
    assert_memory_equal (buf, "\r\033[K", 4);
    assert_non_null (strstr (buf, "hello from the log\n"));
    //  A second one needs no clearing.
    zsys_info ("again");
    s_read_pipe (fds [0], buf, sizeof buf);
    assert_int_not_equal (buf [0], '\r');

    st.done = 750;
    sl_progress_draw (progress, &st, 2000);
    s_read_pipe (fds [0], buf, sizeof buf);
    assert_non_null (strstr (buf, "750/1000  75%"));
    assert_non_null (strstr (buf, "500/s")); //  measured: 500 in 1 s
    sl_progress_clear (progress);
    s_read_pipe (fds [0], buf, sizeof buf);
    assert_string_equal (buf, "\r\033[K");
    sl_progress_clear (progress); //  nothing shown: nothing written
    assert_int_equal (s_read_pipe (fds [0], buf, sizeof buf), 0);

    st.done = 1000;
    sl_progress_finish (progress, &st, 3000);
    s_read_pipe (fds [0], buf, sizeof buf);
    assert_string_equal (buf, "\r\033[Kjob-1  1000/1000 100%  3 failed  375/s  in 2.0 s\n");
    assert_int_equal (sl_progress_next (progress), INT64_MAX);
    sl_progress_draw (progress, &st, 4000); //  after the end: nothing
    assert_int_equal (s_read_pipe (fds [0], buf, sizeof buf), 0);

    sl_progress_destroy (&progress);
    assert_null (progress);
    //  Logs go to stderr again, not to the pipe.
    zsys_info ("back on stderr");
    assert_int_equal (s_read_pipe (fds [0], buf, sizeof buf), 0);
    close (fds [0]);
    close (fds [1]);
}

static void test_sink_progress_nothing_drawn_means_no_final_line (void **state)
{
    (void) state;
    int fds [2];
    assert_int_equal (pipe (fds), 0);
    fcntl (fds [0], F_SETFL, O_NONBLOCK);
    sl_progress_t *progress = sl_progress_new (fds [1], 0);
    sl_progress_stats_t st = s_stats ();
    sl_progress_finish (progress, &st, 500);
    sl_progress_destroy (&progress);
    char buf [256];
    assert_int_equal (s_read_pipe (fds [0], buf, sizeof buf), 0);
    close (fds [0]);
    close (fds [1]);
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_sink_progress_line_shows_every_number),
        cmocka_unit_test (test_sink_progress_unknown_total_shows_question_marks),
        cmocka_unit_test (test_sink_progress_eta_in_hours_and_slow_rates),
        cmocka_unit_test (test_sink_progress_extras_held_jobs_throttled),
        cmocka_unit_test (test_sink_progress_final_line_shows_time_taken),
        cmocka_unit_test (test_sink_progress_line_is_cut_to_width),
        cmocka_unit_test (test_sink_progress_rate_over_recent_window),
        cmocka_unit_test (test_sink_progress_draws_clears_for_logs_and_finishes),
        cmocka_unit_test (test_sink_progress_nothing_drawn_means_no_final_line),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
