/*  =========================================================================
    test_taskfile - unit tests for sl_taskfile

    Each test writes its own temporary file (or directory) under /tmp through
    the fixture, which removes it, destroys the reader and restores standard
    input in teardown, so a failing test leaves nothing behind. Every task is
    checked byte for byte, with its line number, and every test checks the
    exact end: end of file or the exact error message.
    =========================================================================
*/

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sl_taskfile.h"

#define MIB (1024 * 1024)

typedef struct {
    char path [64];        //  Temporary file or directory, "" if none
    bool is_dir;           //  True if path is a directory
    int saved_stdin;       //  Copy of the real fd 0 while a test replaces it, else -1
    sl_taskfile_t *reader; //  Reader under test, destroyed in teardown
    char err [1024];       //  Error message from the reader
} fixture_t;

static int s_setup (void **state)
{
    fixture_t *fx = calloc (1, sizeof (*fx));
    if (!fx)
        return -1;
    fx->saved_stdin = -1;
    *state = fx;
    return 0;
}

static int s_teardown (void **state)
{
    fixture_t *fx = *state;
    sl_taskfile_destroy (&fx->reader);
    if (fx->saved_stdin >= 0) {
        dup2 (fx->saved_stdin, STDIN_FILENO);
        close (fx->saved_stdin);
    }
    if (fx->path [0]) {
        if (fx->is_dir)
            rmdir (fx->path);
        else
            unlink (fx->path);
    }
    free (fx);
    return 0;
}

//  Writes data to a new temporary file named in fx->path.
static void s_write_file (fixture_t *fx, const void *data, size_t size)
{
    strcpy (fx->path, "/tmp/test_taskfile_XXXXXX");
    int fd = mkstemp (fx->path);
    assert_true (fd >= 0);
    const char *bytes = data;
    while (size > 0) {
        ssize_t put = write (fd, bytes, size);
        assert_true (put > 0);
        bytes += put;
        size -= (size_t) put;
    }
    assert_int_equal (close (fd), 0);
}

//  Opens fx->path (or "-") into fx->reader, which must succeed.
static void s_open (fixture_t *fx, const char *path, size_t max_payload)
{
    fx->reader = sl_taskfile_new (path, max_payload, fx->err, sizeof (fx->err));
    if (!fx->reader)
        fail_msg ("sl_taskfile_new failed: %s", fx->err);
}

//  Replaces standard input with fd, which the fixture restores afterwards.
static void s_redirect_stdin (fixture_t *fx, int fd)
{
    fx->saved_stdin = dup (STDIN_FILENO);
    assert_true (fx->saved_stdin >= 0);
    assert_int_equal (dup2 (fd, STDIN_FILENO), STDIN_FILENO);
    close (fd);
}

static void s_expect_task (fixture_t *fx, const void *data, size_t size, size_t lineno)
{
    const uint8_t *got = NULL;
    size_t got_size = 0;
    int rc = sl_taskfile_next (fx->reader, &got, &got_size, fx->err, sizeof (fx->err));
    if (rc != 1)
        fail_msg ("expected a task at line %zu, got rc %d (%s)", lineno, rc, rc < 0 ? fx->err : "");
    assert_int_equal (got_size, size);
    assert_memory_equal (got, data, size);
    assert_int_equal (sl_taskfile_lineno (fx->reader), lineno);
}

//  End of file must be reported, and reported again on the next call.
static void s_expect_eof (fixture_t *fx)
{
    for (int i = 0; i < 2; i++) {
        const uint8_t *got = NULL;
        size_t got_size = 0;
        int rc = sl_taskfile_next (fx->reader, &got, &got_size, fx->err, sizeof (fx->err));
        if (rc != 0)
            fail_msg ("expected end of file, got rc %d (%s), size %zu", rc, rc < 0 ? fx->err : "",
                      got_size);
    }
}

//  The next call must fail with exactly msg, and keep failing with it.
static void s_expect_error (fixture_t *fx, const char *msg)
{
    for (int i = 0; i < 2; i++) {
        const uint8_t *got = NULL;
        size_t got_size = 0;
        memset (fx->err, 0, sizeof (fx->err));
        int rc = sl_taskfile_next (fx->reader, &got, &got_size, fx->err, sizeof (fx->err));
        if (rc != -1)
            fail_msg ("expected error '%s', got rc %d, size %zu", msg, rc, got_size);
        assert_string_equal (fx->err, msg);
    }
}

//  Fills buf with size bytes that vary with seed and position, including NUL
//  and bytes >= 0x80, but never "\n" or "\r".
static void s_fill_pattern (uint8_t *buf, size_t size, unsigned seed)
{
    for (size_t i = 0; i < size; i++) {
        uint8_t byte = (uint8_t) (seed * 131u + i * 17u + (i >> 9));
        buf [i] = byte == '\n' || byte == '\r' ? 'x' : byte;
    }
}

static void test_taskfile_reads_plain_lines (void **state)
{
    fixture_t *fx = *state;
    s_write_file (fx, "alpha\nbeta beta\ngamma\n", 22);
    s_open (fx, fx->path, 100);
    assert_string_equal (sl_taskfile_name (fx->reader), fx->path);
    assert_int_equal (sl_taskfile_lineno (fx->reader), 0);
    s_expect_task (fx, "alpha", 5, 1);
    s_expect_task (fx, "beta beta", 9, 2);
    s_expect_task (fx, "gamma", 5, 3);
    s_expect_eof (fx);
    assert_int_equal (sl_taskfile_lineno (fx->reader), 3);

    sl_taskfile_destroy (&fx->reader);
    assert_null (fx->reader);
    sl_taskfile_destroy (&fx->reader); //  NULL-safe
}

static void test_taskfile_strips_crlf (void **state)
{
    fixture_t *fx = *state;
    //  Only the one "\r" right before "\n" goes; other CRs are payload
    const char text [] = "a\r\nb\r\n\r\nc\r\r\nd\re\r\n\rf\n";
    s_write_file (fx, text, sizeof (text) - 1);
    s_open (fx, fx->path, 100);
    s_expect_task (fx, "a", 1, 1);
    s_expect_task (fx, "b", 1, 2);
    s_expect_task (fx, "c\r", 2, 4);
    s_expect_task (fx, "d\re", 3, 5);
    s_expect_task (fx, "\rf", 2, 6);
    s_expect_eof (fx);
}

static void test_taskfile_strips_cr_split_from_lf_by_refill (void **state)
{
    fixture_t *fx = *state;
    //  3-byte lines "x\r\n": for any power-of-two read size up to 1 MiB, some
    //  refill boundary falls before the "\r", one between "\r" and "\n", and
    //  one after the "\n", whatever the reader's buffer size is.
    size_t lines = MIB;
    uint8_t *text = malloc (lines * 3);
    assert_non_null (text);
    for (size_t i = 0; i < lines; i++)
        memcpy (text + i * 3, (char []){ (char) ('a' + i % 26), '\r', '\n' }, 3);
    s_write_file (fx, text, lines * 3);
    free (text);

    s_open (fx, fx->path, 1);
    for (size_t i = 0; i < lines; i++) {
        const uint8_t *got;
        size_t size;
        int rc = sl_taskfile_next (fx->reader, &got, &size, fx->err, sizeof (fx->err));
        if (rc != 1 || size != 1 || got [0] != 'a' + i % 26 ||
            sl_taskfile_lineno (fx->reader) != i + 1)
            fail_msg ("line %zu: rc %d size %zu (%s)", i + 1, rc, size, rc < 0 ? fx->err : "");
    }
    s_expect_eof (fx);
}

static void test_taskfile_reads_last_line_without_newline (void **state)
{
    fixture_t *fx = *state;
    s_write_file (fx, "one\ntwo", 7);
    s_open (fx, fx->path, 100);
    s_expect_task (fx, "one", 3, 1);
    s_expect_task (fx, "two", 3, 2);
    s_expect_eof (fx);
}

static void test_taskfile_strips_lone_cr_at_end_of_file (void **state)
{
    fixture_t *fx = *state;
    s_write_file (fx, "one\r\ntwo\r", 9);
    s_open (fx, fx->path, 100);
    s_expect_task (fx, "one", 3, 1);
    s_expect_task (fx, "two", 3, 2);
    s_expect_eof (fx);
}

static void test_taskfile_skips_empty_lines (void **state)
{
    fixture_t *fx = *state;
    //  Line 5 is empty after the CR strip; lines 7 and 8 are whitespace,
    //  which is payload; the file ends with empty lines and a lone "\r"
    const char text [] = "\n\nfirst\n\n\r\nsecond\n \n\t\n\n\n\r";
    s_write_file (fx, text, sizeof (text) - 1);
    s_open (fx, fx->path, 100);
    s_expect_task (fx, "first", 5, 3);
    s_expect_task (fx, "second", 6, 6);
    s_expect_task (fx, " ", 1, 7);
    s_expect_task (fx, "\t", 1, 8);
    s_expect_eof (fx);
    //  Trailing empty lines do not move the number of the last task
    assert_int_equal (sl_taskfile_lineno (fx->reader), 8);
}

static void test_taskfile_preserves_nul_and_invalid_utf8 (void **state)
{
    fixture_t *fx = *state;
    const char text [] = "a\0b\n\xff\xfe\xc3\x28\n\0\n\xed\xa0\x80\0\r\n";
    s_write_file (fx, text, sizeof (text) - 1);
    s_open (fx, fx->path, 100);
    s_expect_task (fx, "a\0b", 3, 1);
    s_expect_task (fx, "\xff\xfe\xc3\x28", 4, 2);
    s_expect_task (fx, "\0", 1, 3);
    s_expect_task (fx, "\xed\xa0\x80\0", 4, 4);
    s_expect_eof (fx);
}

//  Writes "first\n" BIG "\n" BIG "\r\n" "last", BIG being a 1 MiB line.
static uint8_t *s_write_mib_lines (fixture_t *fx)
{
    uint8_t *big = malloc (MIB);
    assert_non_null (big);
    s_fill_pattern (big, MIB, 7);
    size_t size = 6 + MIB + 1 + MIB + 2 + 4;
    uint8_t *text = malloc (size);
    assert_non_null (text);
    uint8_t *at = text;
    memcpy (at, "first\n", 6);
    at += 6;
    memcpy (at, big, MIB);
    at += MIB;
    *at++ = '\n';
    memcpy (at, big, MIB);
    at += MIB;
    memcpy (at, "\r\nlast", 6);
    s_write_file (fx, text, size);
    free (text);
    return big;
}

static void test_taskfile_accepts_line_at_limit (void **state)
{
    fixture_t *fx = *state;
    uint8_t *big = s_write_mib_lines (fx);
    s_open (fx, fx->path, MIB);
    s_expect_task (fx, "first", 5, 1);
    s_expect_task (fx, big, MIB, 2);
    s_expect_task (fx, big, MIB, 3); //  The "\r" takes it to MIB + 1 raw
    s_expect_task (fx, "last", 4, 4);
    s_expect_eof (fx);
    free (big);
}

static void test_taskfile_rejects_line_over_limit (void **state)
{
    fixture_t *fx = *state;
    free (s_write_mib_lines (fx));
    s_open (fx, fx->path, MIB - 1);
    s_expect_task (fx, "first", 5, 1);
    char msg [256];
    snprintf (msg, sizeof (msg),
              "%s:2: line is 1048576 bytes, over the 1048575-byte limit (--max-payload)", fx->path);
    s_expect_error (fx, msg);
    assert_int_equal (sl_taskfile_lineno (fx->reader), 1);
}

static void test_taskfile_rejects_short_line_over_small_limit (void **state)
{
    fixture_t *fx = *state;
    //  "1234\r" is 5 raw bytes but a 4-byte task
    s_write_file (fx, "1234\r\n1234\n12345\nok\n", 20);
    s_open (fx, fx->path, 4);
    s_expect_task (fx, "1234", 4, 1);
    s_expect_task (fx, "1234", 4, 2);
    char msg [256];
    snprintf (msg, sizeof (msg), "%s:3: line is 5 bytes, over the 4-byte limit (--max-payload)",
              fx->path);
    s_expect_error (fx, msg);
}

static void test_taskfile_reports_length_of_line_far_over_limit (void **state)
{
    fixture_t *fx = *state;
    //  The reader stops storing at the limit but counts on to the "\n"
    size_t size = 2000000 + 5;
    uint8_t *text = malloc (size);
    assert_non_null (text);
    s_fill_pattern (text, 2000000, 5);
    memcpy (text + 2000000, "\r\nok\n", 5);
    s_write_file (fx, text, size);
    free (text);

    s_open (fx, fx->path, MIB);
    char msg [256];
    snprintf (msg, sizeof (msg),
              "%s:1: line is 2000000 bytes, over the 1048576-byte limit (--max-payload)", fx->path);
    s_expect_error (fx, msg);
    assert_int_equal (sl_taskfile_lineno (fx->reader), 0);
}

static void test_taskfile_rejects_long_last_line_without_newline (void **state)
{
    fixture_t *fx = *state;
    //  200000 payload bytes then a lone "\r" at end of file, spanning refills
    size_t size = 3 + 200000 + 1;
    uint8_t *text = malloc (size);
    assert_non_null (text);
    memcpy (text, "ok\n", 3);
    s_fill_pattern (text + 3, 200000, 3);
    text [size - 1] = '\r';
    s_write_file (fx, text, size);
    free (text);

    s_open (fx, fx->path, 100000);
    s_expect_task (fx, "ok", 2, 1);
    char msg [256];
    snprintf (msg, sizeof (msg),
              "%s:2: line is 200000 bytes, over the 100000-byte limit (--max-payload)", fx->path);
    s_expect_error (fx, msg);
}

static void test_taskfile_reads_lines_longer_than_buffer (void **state)
{
    fixture_t *fx = *state;
    //  The reader reads 64 KiB at a time; these straddle and exceed that
    static const size_t sizes [] = { 1, 65535, 65536, 65537, 300000, 2, 3 * MIB + 5, 131071, 3 };
    size_t count = sizeof (sizes) / sizeof (sizes [0]);
    size_t total = 0;
    for (size_t i = 0; i < count; i++)
        total += sizes [i] + 1;
    uint8_t *text = malloc (total);
    assert_non_null (text);
    uint8_t *at = text;
    for (size_t i = 0; i < count; i++) {
        s_fill_pattern (at, sizes [i], (unsigned) i);
        at += sizes [i];
        *at++ = '\n';
    }
    s_write_file (fx, text, total);

    s_open (fx, fx->path, 4 * MIB);
    at = text;
    for (size_t i = 0; i < count; i++) {
        s_expect_task (fx, at, sizes [i], i + 1);
        at += sizes [i] + 1;
    }
    s_expect_eof (fx);
    free (text);
}

//  Task number i of the 200,000-line file: its bytes in buf, length returned.
static size_t s_task_200k (size_t i, uint8_t *buf)
{
    size_t len = (size_t) snprintf ((char *) buf, 32, "task %zu:", i);
    size_t extra = (i * 7) % 151;
    for (size_t j = 0; j < extra; j++)
        buf [len + j] = (uint8_t) ('a' + (i + j) % 26);
    return len + extra;
}

static void test_taskfile_reads_200000_lines (void **state)
{
    fixture_t *fx = *state;
    //  Every 1000th line is empty; every third task ends in CRLF
    size_t lines = 200000;
    uint8_t *text = malloc (lines * 200);
    assert_non_null (text);
    size_t size = 0;
    size_t tasks = 0;
    for (size_t line = 1; line <= lines; line++) {
        if (line % 1000 != 0) {
            size += s_task_200k (tasks, text + size);
            if (tasks % 3 == 0)
                text [size++] = '\r';
            tasks++;
        }
        text [size++] = '\n';
    }
    s_write_file (fx, text, size);
    free (text);

    s_open (fx, fx->path, 1000);
    uint8_t expect [256];
    size_t task = 0;
    for (size_t line = 1; line <= lines; line++) {
        if (line % 1000 == 0)
            continue;
        size_t len = s_task_200k (task, expect);
        const uint8_t *got;
        size_t got_size;
        int rc = sl_taskfile_next (fx->reader, &got, &got_size, fx->err, sizeof (fx->err));
        if (rc != 1 || got_size != len || memcmp (got, expect, len) != 0 ||
            sl_taskfile_lineno (fx->reader) != line)
            fail_msg ("line %zu (task %zu): rc %d, size %zu, want %zu, lineno %zu (%s)", line, task,
                      rc, got_size, len, sl_taskfile_lineno (fx->reader), rc < 0 ? fx->err : "");
        task++;
    }
    assert_int_equal (task, tasks);
    assert_int_equal (tasks, 199800);
    s_expect_eof (fx);
}

static void test_taskfile_reports_missing_file (void **state)
{
    fixture_t *fx = *state;
    s_write_file (fx, "", 0);
    assert_int_equal (unlink (fx->path), 0);
    sl_taskfile_t *reader = sl_taskfile_new (fx->path, 100, fx->err, sizeof (fx->err));
    assert_null (reader);
    char msg [256];
    snprintf (msg, sizeof (msg), "cannot open %s: No such file or directory", fx->path);
    assert_string_equal (fx->err, msg);
}

static void test_taskfile_reports_directory (void **state)
{
    fixture_t *fx = *state;
    strcpy (fx->path, "/tmp/test_taskfile_XXXXXX");
    assert_non_null (mkdtemp (fx->path));
    fx->is_dir = true;
    sl_taskfile_t *reader = sl_taskfile_new (fx->path, 100, fx->err, sizeof (fx->err));
    assert_null (reader);
    char msg [256];
    snprintf (msg, sizeof (msg), "cannot open %s: Is a directory", fx->path);
    assert_string_equal (fx->err, msg);

    //  The same through standard input
    s_redirect_stdin (fx, open (fx->path, O_RDONLY));
    reader = sl_taskfile_new ("-", 100, fx->err, sizeof (fx->err));
    assert_null (reader);
    assert_string_equal (fx->err, "cannot open stdin: Is a directory");
}

static void test_taskfile_reads_empty_file (void **state)
{
    fixture_t *fx = *state;
    s_write_file (fx, "", 0);
    s_open (fx, fx->path, 100);
    s_expect_eof (fx);
    assert_int_equal (sl_taskfile_lineno (fx->reader), 0);
}

static void test_taskfile_reads_file_of_empty_lines (void **state)
{
    fixture_t *fx = *state;
    s_write_file (fx, "\n\r\n\n\r", 5);
    s_open (fx, fx->path, 100);
    s_expect_eof (fx);
    assert_int_equal (sl_taskfile_lineno (fx->reader), 0);
}

static void test_taskfile_reads_stdin (void **state)
{
    fixture_t *fx = *state;
    s_write_file (fx, "one\r\ntwo\n\nthree", 15);
    s_redirect_stdin (fx, open (fx->path, O_RDONLY));
    s_open (fx, "-", 100);
    assert_string_equal (sl_taskfile_name (fx->reader), "stdin");
    s_expect_task (fx, "one", 3, 1);
    s_expect_task (fx, "two", 3, 2);
    s_expect_task (fx, "three", 5, 4);
    s_expect_eof (fx);

    //  Destroying the reader leaves standard input open
    sl_taskfile_destroy (&fx->reader);
    assert_true (fcntl (STDIN_FILENO, F_GETFD) != -1);
}

static void test_taskfile_reports_read_error (void **state)
{
    fixture_t *fx = *state;
    //  A write-only descriptor opens and stats fine but cannot be read
    s_write_file (fx, "task\n", 5);
    s_redirect_stdin (fx, open (fx->path, O_WRONLY));
    s_open (fx, "-", 100);
    s_expect_error (fx, "cannot read stdin: Bad file descriptor");
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_taskfile_reads_plain_lines, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_taskfile_strips_crlf, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_taskfile_strips_cr_split_from_lf_by_refill, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_taskfile_reads_last_line_without_newline, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_taskfile_strips_lone_cr_at_end_of_file, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_taskfile_skips_empty_lines, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_taskfile_preserves_nul_and_invalid_utf8, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_taskfile_accepts_line_at_limit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_taskfile_rejects_line_over_limit, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_taskfile_rejects_short_line_over_small_limit, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_taskfile_reports_length_of_line_far_over_limit,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_taskfile_rejects_long_last_line_without_newline,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_taskfile_reads_lines_longer_than_buffer, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_taskfile_reads_200000_lines, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_taskfile_reports_missing_file, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_taskfile_reports_directory, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_taskfile_reads_empty_file, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_taskfile_reads_file_of_empty_lines, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_taskfile_reads_stdin, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_taskfile_reports_read_error, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
