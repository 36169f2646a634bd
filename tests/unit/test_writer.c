/*  =========================================================================
    test_writer - unit tests of the sink's result writer (sink/writer.c)

    Every test writes to its own temporary file in /tmp (made by the
    fixture, removed afterwards) or to a device, reads the file back and
    checks the exact bytes. JSON lines are parsed back with jansson and
    every field is compared with the record that was put. Expected lossy
    text and UTF-8 validity come from a reference decoder written here
    independently of the writer's, and base64 is checked with a decoder
    written here too.
    =========================================================================
*/

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "writer.h"

#define ERRLEN 256

typedef struct {
    char path [64]; //  temporary file of the test, removed by teardown
} fixture_t;

static int s_setup (void **state)
{
    fixture_t *fixture = calloc (1, sizeof *fixture);
    if (!fixture)
        return -1;
    strcpy (fixture->path, "/tmp/test_writer_XXXXXX");
    int fd = mkstemp (fixture->path);
    if (fd == -1) {
        free (fixture);
        return -1;
    }
    close (fd);
    *state = fixture;
    return 0;
}

static int s_teardown (void **state)
{
    fixture_t *fixture = *state;
    unlink (fixture->path);
    free (fixture);
    return 0;
}

//  Returns the whole file, its size in *size. Caller frees the result.
static uint8_t *s_slurp (const char *path, size_t *size)
{
    FILE *file = fopen (path, "rb");
    assert_non_null (file);
    size_t cap = 4096;
    size_t len = 0;
    uint8_t *data = malloc (cap);
    assert_non_null (data);
    size_t n;
    while ((n = fread (data + len, 1, cap - len, file)) > 0) {
        len += n;
        if (len == cap) {
            cap *= 2;
            data = realloc (data, cap);
            assert_non_null (data);
        }
    }
    assert_false (ferror (file));
    fclose (file);
    *size = len;
    return data;
}

static size_t s_file_size (const char *path)
{
    struct stat st;
    assert_int_equal (stat (path, &st), 0);
    return (size_t) st.st_size;
}

static void s_write_file (const char *path, const char *text)
{
    FILE *file = fopen (path, "wb");
    assert_non_null (file);
    assert_int_equal (fwrite (text, 1, strlen (text), file), strlen (text));
    assert_int_equal (fclose (file), 0);
}

static void s_assert_file_is (const char *path, const void *expected, size_t size)
{
    size_t actual_size;
    uint8_t *actual = s_slurp (path, &actual_size);
    assert_int_equal (actual_size, size);
    assert_memory_equal (actual, expected, size);
    free (actual);
}

//  A record with every field set to something recognisable.
static sl_record_t s_record (const void *output, size_t output_size)
{
    sl_record_t rec = {
        .job = "job-1",
        .seq = 1,
        .id = NULL,
        .status = "ok",
        .exit_code = 0,
        .attempts = 1,
        .worker = "host:42",
        .duration_ms = 5,
        .output = output,
        .output_size = output_size,
    };
    return rec;
}

static sl_writer_t *s_open (const char *path, sl_format_t fmt, bool append)
{
    char errbuf [ERRLEN] = "";
    sl_writer_t *writer = sl_writer_new (path, fmt, append, errbuf, sizeof errbuf);
    if (!writer)
        fail_msg ("sl_writer_new(%s): %s", path, errbuf);
    return writer;
}

static void s_put (sl_writer_t *writer, const sl_record_t *rec)
{
    char errbuf [ERRLEN] = "";
    if (sl_writer_put (writer, rec, errbuf, sizeof errbuf))
        fail_msg ("sl_writer_put: %s", errbuf);
}

static void s_flush (sl_writer_t *writer)
{
    char errbuf [ERRLEN] = "";
    if (sl_writer_flush (writer, false, errbuf, sizeof errbuf))
        fail_msg ("sl_writer_flush: %s", errbuf);
}

//  --------------------------------------------------------------------------
//  Reference UTF-8 decoder: decodes the code point arithmetically and then
//  checks its range, unlike the writer, which checks byte ranges.

//  Returns the code point at s[0..size) and its length in *len, or -1.
static long s_ref_decode (const uint8_t *s, size_t size, size_t *len)
{
    static const long smallest [] = { 0, 0, 0x80, 0x800, 0x10000 };
    size_t n;
    long cp;
    if (s [0] < 0x80) {
        *len = 1;
        return s [0];
    } else if ((s [0] & 0xE0) == 0xC0) {
        n = 2;
        cp = s [0] & 0x1F;
    } else if ((s [0] & 0xF0) == 0xE0) {
        n = 3;
        cp = s [0] & 0x0F;
    } else if ((s [0] & 0xF8) == 0xF0) {
        n = 4;
        cp = s [0] & 0x07;
    } else
        return -1;
    if (size < n)
        return -1;
    for (size_t i = 1; i < n; i++) {
        if ((s [i] & 0xC0) != 0x80)
            return -1;
        cp = cp << 6 | (s [i] & 0x3F);
    }
    if (cp < smallest [n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    *len = n;
    return cp;
}

static bool s_ref_valid (const uint8_t *s, size_t size)
{
    size_t i = 0;
    while (i < size) {
        size_t len;
        if (s_ref_decode (s + i, size - i, &len) < 0)
            return false;
        i += len;
    }
    return true;
}

//  Returns s with each byte that starts no valid sequence replaced by
//  U+FFFD, its size in *lossy_size. Caller frees the result.
static uint8_t *s_ref_lossy (const uint8_t *s, size_t size, size_t *lossy_size)
{
    uint8_t *lossy = malloc (size * 3 + 1);
    assert_non_null (lossy);
    size_t out = 0;
    size_t i = 0;
    while (i < size) {
        size_t len;
        if (s_ref_decode (s + i, size - i, &len) < 0) {
            memcpy (lossy + out, "\xEF\xBF\xBD", 3);
            out += 3;
            i++;
        } else {
            memcpy (lossy + out, s + i, len);
            out += len;
            i += len;
        }
    }
    *lossy_size = out;
    return lossy;
}

//  Strict standard base64 decoder (padding required). Returns the bytes,
//  their count in *size, or NULL if text is not canonical base64.
static uint8_t *s_base64_decode (const char *text, size_t len, size_t *size)
{
    static const char alphabet [] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (len % 4)
        return NULL;
    uint8_t *data = malloc (len / 4 * 3 + 1);
    assert_non_null (data);
    size_t out = 0;
    for (size_t i = 0; i < len; i += 4) {
        uint32_t quad = 0;
        int pad = 0;
        for (size_t j = 0; j < 4; j++) {
            char ch = text [i + j];
            const char *hit = ch ? strchr (alphabet, ch) : NULL;
            if (ch == '=' && i + 4 == len && j >= 2)
                pad++;
            else if (!hit || pad) {
                //  Not in the alphabet, or data after padding
                free (data);
                return NULL;
            }
            quad = quad << 6 | (uint32_t) (hit ? hit - alphabet : 0);
        }
        data [out++] = (uint8_t) (quad >> 16);
        if (pad < 2)
            data [out++] = (uint8_t) (quad >> 8);
        if (pad < 1)
            data [out++] = (uint8_t) quad;
    }
    *size = out;
    return data;
}

//  --------------------------------------------------------------------------
//  Reading JSON Lines back

//  Parses every line of the file; returns how many, the objects in *lines
//  (caller frees each and the array).
static size_t s_load_lines (const char *path, json_t ***lines)
{
    size_t size;
    uint8_t *data = s_slurp (path, &size);
    assert_true (size == 0 || data [size - 1] == '\n');
    size_t count = 0;
    size_t cap = 16;
    *lines = malloc (cap * sizeof **lines);
    assert_non_null (*lines);
    size_t start = 0;
    while (start < size) {
        const uint8_t *newline = memchr (data + start, '\n', size - start);
        size_t end = (size_t) (newline - data);
        for (size_t i = start; i < end; i++)
            assert_true (data [i] >= 0x20); //  JSON escapes every control byte
        assert_true (s_ref_valid (data + start, end - start));
        json_error_t error;
        json_t *object = json_loadb ((const char *) data + start, end - start,
                                     JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &error);
        if (!object)
            fail_msg ("line %zu is not JSON: %s: %.*s", count + 1, error.text, (int) (end - start),
                      (const char *) data + start);
        assert_true (json_is_object (object));
        if (count == cap) {
            cap *= 2;
            *lines = realloc (*lines, cap * sizeof **lines);
            assert_non_null (*lines);
        }
        (*lines) [count++] = object;
        start = end + 1;
    }
    free (data);
    return count;
}

static void s_free_lines (json_t **lines, size_t count)
{
    for (size_t i = 0; i < count; i++)
        json_decref (lines [i]);
    free (lines);
}

//  Checks that value is a string holding the bytes, made lossy if invalid.
static void s_check_text (json_t *value, const void *bytes, size_t size)
{
    assert_true (json_is_string (value));
    size_t expected_size;
    uint8_t *expected = s_ref_lossy (bytes, size, &expected_size);
    assert_int_equal (json_string_length (value), expected_size);
    assert_memory_equal (json_string_value (value), expected, expected_size);
    free (expected);
}

static void s_check_base64 (json_t *value, const void *bytes, size_t size)
{
    assert_true (json_is_string (value));
    size_t decoded_size;
    uint8_t *decoded =
        s_base64_decode (json_string_value (value), json_string_length (value), &decoded_size);
    assert_non_null (decoded);
    assert_int_equal (decoded_size, size);
    assert_memory_equal (decoded, bytes, size);
    free (decoded);
}

static void s_check_integer (json_t *value, json_int_t expected)
{
    assert_true (json_is_integer (value));
    assert_true (json_integer_value (value) == expected);
}

//  Checks that object holds exactly the fields of rec, keys in order.
static void s_check_record (json_t *object, const sl_record_t *rec)
{
    const char *keys [16];
    size_t nkeys = 0;
    bool output_valid = s_ref_valid (rec->output, rec->output_size);
    bool err_valid = s_ref_valid (rec->err, rec->err_size);

    keys [nkeys++] = "job";
    keys [nkeys++] = "seq";
    if (rec->id)
        keys [nkeys++] = "id";
    keys [nkeys++] = "status";
    keys [nkeys++] = "exit_code";
    keys [nkeys++] = "attempts";
    keys [nkeys++] = "worker";
    keys [nkeys++] = "duration_ms";
    keys [nkeys++] = "output";
    if (!output_valid)
        keys [nkeys++] = "output_base64";
    if (rec->err_size) {
        keys [nkeys++] = "stderr";
        if (!err_valid)
            keys [nkeys++] = "stderr_base64";
    }
    if (rec->output_truncated)
        keys [nkeys++] = "output_truncated";

    assert_int_equal (json_object_size (object), nkeys);
    size_t i = 0;
    const char *key;
    json_t *value;
    json_object_foreach (object, key, value)
    {
        assert_string_equal (key, keys [i]);
        i++;
    }

    s_check_text (json_object_get (object, "job"), rec->job, strlen (rec->job));
    s_check_integer (json_object_get (object, "seq"), (json_int_t) rec->seq);
    if (rec->id)
        s_check_text (json_object_get (object, "id"), rec->id, strlen (rec->id));
    s_check_text (json_object_get (object, "status"), rec->status, strlen (rec->status));
    s_check_integer (json_object_get (object, "exit_code"), rec->exit_code);
    s_check_integer (json_object_get (object, "attempts"), rec->attempts);
    s_check_text (json_object_get (object, "worker"), rec->worker, strlen (rec->worker));
    s_check_integer (json_object_get (object, "duration_ms"), (json_int_t) rec->duration_ms);
    s_check_text (json_object_get (object, "output"), rec->output, rec->output_size);
    if (!output_valid)
        s_check_base64 (json_object_get (object, "output_base64"), rec->output, rec->output_size);
    if (rec->err_size) {
        s_check_text (json_object_get (object, "stderr"), rec->err, rec->err_size);
        if (!err_valid)
            s_check_base64 (json_object_get (object, "stderr_base64"), rec->err, rec->err_size);
    }
    if (rec->output_truncated)
        assert_true (json_is_true (json_object_get (object, "output_truncated")));
}

//  --------------------------------------------------------------------------
//  Formats

static void test_writer_format_parse_accepts_known_names (void **state)
{
    (void) state;
    sl_format_t fmt = SL_FORMAT_JSONL;
    assert_int_equal (sl_format_parse ("text", &fmt), 0);
    assert_int_equal (fmt, SL_FORMAT_TEXT);
    assert_int_equal (sl_format_parse ("jsonl", &fmt), 0);
    assert_int_equal (fmt, SL_FORMAT_JSONL);
    fmt = SL_FORMAT_TEXT;
    assert_int_equal (sl_format_parse ("json", &fmt), 0);
    assert_int_equal (fmt, SL_FORMAT_JSONL);
}

static void test_writer_format_parse_rejects_unknown_names (void **state)
{
    (void) state;
    const char *names [] = { "", "JSONL", "Text", "xml", "jsonl ", "texts", NULL };
    for (size_t i = 0; i < sizeof names / sizeof names [0]; i++) {
        sl_format_t fmt = SL_FORMAT_TEXT;
        assert_int_equal (sl_format_parse (names [i], &fmt), -1);
        assert_int_equal (fmt, SL_FORMAT_TEXT);
    }
}

//  --------------------------------------------------------------------------
//  Text

static void test_writer_text_adds_newline_only_when_missing (void **state)
{
    fixture_t *fixture = *state;
    static const struct {
        const char *bytes;
        size_t size;
    } outputs [] = {
        { "a", 1 },    { "b\n", 2 }, { "", 0 },         { "c\n\n", 3 },
        { "x\0y", 3 }, { "\n", 1 },  { "\xff\xfe", 2 }, { "no\nend", 6 },
    };
    const char expected [] = "a\nb\n\nc\n\nx\0y\n\n\xff\xfe\nno\nend\n";

    sl_writer_t *writer = s_open (fixture->path, SL_FORMAT_TEXT, false);
    for (size_t i = 0; i < sizeof outputs / sizeof outputs [0]; i++) {
        sl_record_t rec = s_record (outputs [i].bytes, outputs [i].size);
        s_put (writer, &rec);
    }
    s_flush (writer);
    sl_writer_destroy (&writer);
    s_assert_file_is (fixture->path, expected, sizeof expected - 1);
}

static void test_writer_text_accepts_null_empty_output (void **state)
{
    fixture_t *fixture = *state;
    sl_writer_t *writer = s_open (fixture->path, SL_FORMAT_TEXT, false);
    sl_record_t rec = s_record (NULL, 0);
    s_put (writer, &rec);
    s_flush (writer);
    sl_writer_destroy (&writer);
    s_assert_file_is (fixture->path, "\n", 1);
}

static void test_writer_many_records_keep_their_order (void **state)
{
    fixture_t *fixture = *state;
    size_t cap = 8 * 1024 * 1024;
    char *expected = malloc (cap);
    char *line = malloc (4096);
    assert_non_null (expected);
    assert_non_null (line);
    size_t len = 0;

    sl_writer_t *writer = s_open (fixture->path, SL_FORMAT_TEXT, false);
    for (int i = 0; i < 5000; i++) {
        //  Lengths vary so that records straddle every drain point
        int size = snprintf (line, 4096, "record %d ", i);
        int pad = (i * 7919) % 1500;
        memset (line + size, 'a' + i % 26, (size_t) pad);
        size += pad;
        sl_record_t rec = s_record (line, (size_t) size);
        s_put (writer, &rec);
        memcpy (expected + len, line, (size_t) size);
        len += (size_t) size;
        expected [len++] = '\n';
        assert_true (len < cap);
    }
    assert_true (len > 3 * 1024 * 1024);
    s_flush (writer);
    assert_int_equal (sl_writer_offset (writer), len);
    sl_writer_destroy (&writer);
    s_assert_file_is (fixture->path, expected, len);
    free (line);
    free (expected);
}

//  --------------------------------------------------------------------------
//  JSON Lines

static void test_writer_jsonl_writes_exact_line_with_all_fields (void **state)
{
    fixture_t *fixture = *state;
    sl_writer_t *writer = s_open (fixture->path, SL_FORMAT_JSONL, false);
    sl_record_t rec = {
        .job = "j1",
        .seq = 7,
        .id = "t-7",
        .status = "failed",
        .exit_code = 137,
        .attempts = 3,
        .worker = "h:1",
        .duration_ms = 12,
        .output = (const uint8_t *) "hi\n",
        .output_size = 3,
        .err = (const uint8_t *) "warn",
        .err_size = 4,
        .output_truncated = true,
    };
    s_put (writer, &rec);
    s_flush (writer);
    sl_writer_destroy (&writer);
    const char expected [] = "{\"job\":\"j1\",\"seq\":7,\"id\":\"t-7\",\"status\":\"failed\","
                             "\"exit_code\":137,\"attempts\":3,\"worker\":\"h:1\","
                             "\"duration_ms\":12,\"output\":\"hi\\n\",\"stderr\":\"warn\","
                             "\"output_truncated\":true}\n";
    s_assert_file_is (fixture->path, expected, strlen (expected));
}

static void test_writer_jsonl_omits_optional_fields (void **state)
{
    fixture_t *fixture = *state;
    sl_writer_t *writer = s_open (fixture->path, SL_FORMAT_JSONL, false);
    sl_record_t rec = s_record (NULL, 0);
    rec.job = "j1";
    rec.seq = 7;
    rec.worker = "h:1";
    rec.duration_ms = 12;
    rec.err = (const uint8_t *) "not empty, but err_size is 0";
    s_put (writer, &rec);
    s_flush (writer);
    sl_writer_destroy (&writer);
    const char expected [] = "{\"job\":\"j1\",\"seq\":7,\"status\":\"ok\",\"exit_code\":0,"
                             "\"attempts\":1,\"worker\":\"h:1\",\"duration_ms\":12,"
                             "\"output\":\"\"}\n";
    s_assert_file_is (fixture->path, expected, strlen (expected));
}

//  Outputs that need escaping, NULs, multibyte and invalid UTF-8.
#define BYTES(literal)                                                                             \
    {                                                                                              \
        literal, sizeof literal - 1                                                                \
    }
static const struct {
    const char *bytes;
    size_t size;
} s_awkward [] = {
    BYTES (""),
    BYTES ("plain"),
    BYTES ("quote \" backslash \\ slash / end"),
    BYTES ("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
           "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f"),
    BYTES ("\0"),
    BYTES ("a\0b\0\0c"),
    BYTES ("h\xc3\xa9llo \xe2\x98\x83 \xf0\x9d\x84\x9e"),
    BYTES ("\xf4\x8f\xbf\xbf \xef\xbf\xbf \xed\x9f\xbf \xee\x80\x80 \xc2\x80"),
    BYTES ("\xe2\x80\xa8 line separators \xe2\x80\xa9"),
    BYTES ("\xff"),
    BYTES ("abc\xc3"),
    BYTES ("\xc0\xaf"),
    BYTES ("\xe0\x80\xaf"),
    BYTES ("\xed\xa0\x80"),
    BYTES ("\xed\xbf\xbf"),
    BYTES ("\xf4\x90\x80\x80"),
    BYTES ("\xf8\x88\x80\x80\x80"),
    BYTES ("\x80x"),
    BYTES ("\xe2\x82 truncated"),
    BYTES ("ok\xfe\0\n\"\\"),
    BYTES ("0123456789abcdef\xf0\x9f\x98\x80 after the fast path \xf0\x9f\x98"),
    BYTES ("\0\0\0\0\0\0\0\0\0\xff\0"),
};

static void test_writer_jsonl_roundtrips_awkward_outputs (void **state)
{
    fixture_t *fixture = *state;
    size_t n = sizeof s_awkward / sizeof s_awkward [0];
    sl_record_t recs [sizeof s_awkward / sizeof s_awkward [0]];

    sl_writer_t *writer = s_open (fixture->path, SL_FORMAT_JSONL, false);
    for (size_t i = 0; i < n; i++) {
        recs [i] = s_record (s_awkward [i].bytes, s_awkward [i].size);
        recs [i].seq = i + 1;
        s_put (writer, &recs [i]);
    }
    s_flush (writer);
    sl_writer_destroy (&writer);

    json_t **lines;
    assert_int_equal (s_load_lines (fixture->path, &lines), n);
    for (size_t i = 0; i < n; i++)
        s_check_record (lines [i], &recs [i]);
    s_free_lines (lines, n);
}

static void test_writer_jsonl_roundtrips_awkward_stderr (void **state)
{
    fixture_t *fixture = *state;
    size_t n = sizeof s_awkward / sizeof s_awkward [0];
    sl_record_t recs [sizeof s_awkward / sizeof s_awkward [0]];

    sl_writer_t *writer = s_open (fixture->path, SL_FORMAT_JSONL, false);
    for (size_t i = 0; i < n; i++) {
        recs [i] = s_record ("out\xff", 4);
        recs [i].seq = i + 1;
        recs [i].id = "task";
        recs [i].err = (const uint8_t *) s_awkward [i].bytes;
        recs [i].err_size = s_awkward [i].size;
        recs [i].output_truncated = i % 2;
        s_put (writer, &recs [i]);
    }
    s_flush (writer);
    sl_writer_destroy (&writer);

    json_t **lines;
    assert_int_equal (s_load_lines (fixture->path, &lines), n);
    for (size_t i = 0; i < n; i++)
        s_check_record (lines [i], &recs [i]);
    s_free_lines (lines, n);
}

static void test_writer_jsonl_invalid_utf8_gives_lossy_text_and_base64 (void **state)
{
    fixture_t *fixture = *state;
    sl_writer_t *writer = s_open (fixture->path, SL_FORMAT_JSONL, false);
    sl_record_t rec = s_record ("a\xff"
                                "b\xc3",
                                4);
    rec.err = (const uint8_t *) "\xe2\x82\x41";
    rec.err_size = 3;
    s_put (writer, &rec);
    s_flush (writer);
    sl_writer_destroy (&writer);

    json_t **lines;
    assert_int_equal (s_load_lines (fixture->path, &lines), 1);
    json_t *object = lines [0];
    assert_string_equal (json_string_value (json_object_get (object, "output")), "a\xef\xbf\xbd"
                                                                                 "b\xef\xbf\xbd");
    assert_string_equal (json_string_value (json_object_get (object, "output_base64")), "Yf9iww==");
    assert_string_equal (json_string_value (json_object_get (object, "stderr")),
                         "\xef\xbf\xbd\xef\xbf\xbd"
                         "A");
    assert_string_equal (json_string_value (json_object_get (object, "stderr_base64")), "4oJB");
    s_free_lines (lines, 1);
}

static void test_writer_jsonl_base64_is_padded (void **state)
{
    fixture_t *fixture = *state;
    static const char *expected [] = { "/w==", "//4=", "//79", "//79/A==", "//79/Ps=" };
    const uint8_t bytes [] = { 0xff, 0xfe, 0xfd, 0xfc, 0xfb };

    sl_writer_t *writer = s_open (fixture->path, SL_FORMAT_JSONL, false);
    for (size_t size = 1; size <= sizeof bytes; size++) {
        sl_record_t rec = s_record (bytes, size);
        s_put (writer, &rec);
    }
    s_flush (writer);
    sl_writer_destroy (&writer);

    json_t **lines;
    assert_int_equal (s_load_lines (fixture->path, &lines), sizeof bytes);
    for (size_t i = 0; i < sizeof bytes; i++)
        assert_string_equal (json_string_value (json_object_get (lines [i], "output_base64")),
                             expected [i]);
    s_free_lines (lines, sizeof bytes);
}

static void test_writer_jsonl_replaces_invalid_utf8_in_names (void **state)
{
    fixture_t *fixture = *state;
    sl_writer_t *writer = s_open (fixture->path, SL_FORMAT_JSONL, false);
    sl_record_t rec = s_record ("fine", 4);
    rec.job = "j\xff";
    rec.id = "i\xed\xa0\x80";
    rec.status = "ok\xfe";
    rec.worker = "h\xc0:1";
    s_put (writer, &rec);
    s_flush (writer);
    sl_writer_destroy (&writer);

    json_t **lines;
    assert_int_equal (s_load_lines (fixture->path, &lines), 1);
    json_t *object = lines [0];
    assert_string_equal (json_string_value (json_object_get (object, "job")), "j\xef\xbf\xbd");
    assert_string_equal (json_string_value (json_object_get (object, "id")),
                         "i\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    assert_string_equal (json_string_value (json_object_get (object, "status")), "ok\xef\xbf\xbd");
    assert_string_equal (json_string_value (json_object_get (object, "worker")), "h\xef\xbf\xbd:1");
    s_check_record (object, &rec); //  and no *_base64 for them
    s_free_lines (lines, 1);
}

static void test_writer_jsonl_keeps_integer_extremes (void **state)
{
    fixture_t *fixture = *state;
    sl_record_t recs [2];
    recs [0] = s_record ("x", 1);
    recs [0].seq = INT64_MAX;
    recs [0].exit_code = INT32_MIN;
    recs [0].attempts = UINT32_MAX;
    recs [0].duration_ms = INT64_MAX;
    recs [1] = s_record ("y", 1);
    recs [1].seq = 0;
    recs [1].exit_code = -1;
    recs [1].attempts = 0;
    recs [1].duration_ms = 0;

    sl_writer_t *writer = s_open (fixture->path, SL_FORMAT_JSONL, false);
    s_put (writer, &recs [0]);
    s_put (writer, &recs [1]);
    s_flush (writer);
    sl_writer_destroy (&writer);

    json_t **lines;
    assert_int_equal (s_load_lines (fixture->path, &lines), 2);
    s_check_record (lines [0], &recs [0]);
    s_check_record (lines [1], &recs [1]);
    assert_true (json_integer_value (json_object_get (lines [0], "attempts")) == 4294967295LL);
    assert_true (json_integer_value (json_object_get (lines [0], "exit_code")) == -2147483648LL);
    s_free_lines (lines, 2);
}

static void test_writer_jsonl_rejects_unformattable_records (void **state)
{
    fixture_t *fixture = *state;
    sl_writer_t *writer = s_open (fixture->path, SL_FORMAT_JSONL, false);
    char errbuf [ERRLEN];

    sl_record_t rec = s_record ("x", 1);
    rec.seq = (uint64_t) INT64_MAX + 1;
    errbuf [0] = 0;
    assert_int_equal (sl_writer_put (writer, &rec, errbuf, sizeof errbuf), -1);
    assert_non_null (strstr (errbuf, "job-1"));

    rec = s_record ("x", 1);
    rec.duration_ms = UINT64_MAX;
    errbuf [0] = 0;
    assert_int_equal (sl_writer_put (writer, &rec, errbuf, sizeof errbuf), -1);
    assert_non_null (strstr (errbuf, "too large"));

    rec = s_record ("x", 1);
    rec.worker = NULL;
    errbuf [0] = 0;
    assert_int_equal (sl_writer_put (writer, &rec, errbuf, sizeof errbuf), -1);
    assert_non_null (strstr (errbuf, "worker"));

    rec = s_record ("x", 1);
    rec.job = NULL;
    errbuf [0] = 0;
    assert_int_equal (sl_writer_put (writer, &rec, errbuf, sizeof errbuf), -1);
    assert_non_null (strstr (errbuf, "job"));

    //  Nothing of the rejected records was buffered; the writer goes on
    rec = s_record ("x", 1);
    s_put (writer, &rec);
    s_flush (writer);
    sl_writer_destroy (&writer);
    json_t **lines;
    assert_int_equal (s_load_lines (fixture->path, &lines), 1);
    s_check_record (lines [0], &rec);
    s_free_lines (lines, 1);
}

static uint64_t s_xorshift (uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void test_writer_jsonl_roundtrips_random_bytes (void **state)
{
    fixture_t *fixture = *state;
    enum { COUNT = 400, MAXLEN = 300 };
    static const char *pieces [] = { "a",        "\n",           "\"",
                                     "\\",       "\0",           "\x1f",
                                     "\xc3\xa9", "\xe2\x98\x83", "\xf0\x9d\x84\x9e",
                                     "\xff",     "\x80",         "\xed\xa0\x80",
                                     "\xc3" };
    static const size_t piece_sizes [] = { 1, 1, 1, 1, 1, 1, 2, 3, 4, 1, 1, 3, 1 };
    uint8_t *outputs = malloc (COUNT * MAXLEN);
    uint8_t *errs = malloc (COUNT * MAXLEN);
    sl_record_t *recs = calloc (COUNT, sizeof *recs);
    assert_non_null (outputs);
    assert_non_null (errs);
    assert_non_null (recs);
    uint64_t seed = 0x9E3779B97F4A7C15u;
    size_t invalid = 0;

    sl_writer_t *writer = s_open (fixture->path, SL_FORMAT_JSONL, false);
    for (size_t i = 0; i < COUNT; i++) {
        uint8_t *bufs [2] = { outputs + i * MAXLEN, errs + i * MAXLEN };
        size_t sizes [2];
        for (size_t b = 0; b < 2; b++) {
            size_t target = s_xorshift (&seed) % (MAXLEN - 4);
            size_t len = 0;
            //  Mostly well-formed pieces, sometimes a raw random byte
            while (len < target) {
                uint64_t r = s_xorshift (&seed);
                if (r % 4 == 0)
                    bufs [b][len++] = (uint8_t) (r >> 8);
                else {
                    size_t p = (size_t) (r >> 8) % (sizeof pieces / sizeof pieces [0]);
                    memcpy (bufs [b] + len, pieces [p], piece_sizes [p]);
                    len += piece_sizes [p];
                }
            }
            sizes [b] = len;
        }
        recs [i] = s_record (bufs [0], sizes [0]);
        recs [i].seq = i + 1;
        recs [i].err = bufs [1];
        recs [i].err_size = sizes [1];
        invalid += !s_ref_valid (bufs [0], sizes [0]);
        s_put (writer, &recs [i]);
    }
    //  Both paths were exercised
    assert_true (invalid > COUNT / 10 && invalid < COUNT);
    s_flush (writer);
    sl_writer_destroy (&writer);

    json_t **lines;
    assert_int_equal (s_load_lines (fixture->path, &lines), COUNT);
    for (size_t i = 0; i < COUNT; i++)
        s_check_record (lines [i], &recs [i]);
    s_free_lines (lines, COUNT);
    free (recs);
    free (errs);
    free (outputs);
}

//  Allocations jansson may still make before s_failing_malloc fails. A
//  global because jansson's allocator hook takes no context.
static int s_allocs_left;

static void *s_failing_malloc (size_t size)
{
    if (s_allocs_left == 0)
        return NULL;
    s_allocs_left--;
    return malloc (size);
}

static void test_writer_jsonl_put_survives_allocation_failures (void **state)
{
    fixture_t *fixture = *state;
    sl_record_t rec = s_record ("out\xff", 4);
    rec.id = "task-9";
    rec.err = (const uint8_t *) "err\xfe";
    rec.err_size = 4;
    rec.output_truncated = true;
    char errbuf [ERRLEN];
    int put = -1;
    int failures = 0;

    //  Let jansson fail at its first, second, ... allocation in turn
    sl_writer_t *writer = s_open (fixture->path, SL_FORMAT_JSONL, false);
    for (int budget = 0; put != 0 && budget < 1000; budget++) {
        s_allocs_left = budget;
        errbuf [0] = 0;
        json_set_alloc_funcs (s_failing_malloc, free);
        put = sl_writer_put (writer, &rec, errbuf, sizeof errbuf);
        json_set_alloc_funcs (malloc, free);
        if (put) {
            assert_int_equal (put, -1);
            assert_non_null (strstr (errbuf, "out of memory"));
            failures++;
        }
    }
    assert_int_equal (put, 0);
    assert_true (failures >= 10);
    s_flush (writer);
    sl_writer_destroy (&writer);

    //  Only the record that went through was written
    json_t **lines;
    assert_int_equal (s_load_lines (fixture->path, &lines), 1);
    s_check_record (lines [0], &rec);
    s_free_lines (lines, 1);
}

//  --------------------------------------------------------------------------
//  Buffering and offset

static void test_writer_put_buffers_until_flush (void **state)
{
    fixture_t *fixture = *state;
    sl_writer_t *writer = s_open (fixture->path, SL_FORMAT_TEXT, false);
    sl_record_t rec = s_record ("hello", 5);
    s_put (writer, &rec);
    s_put (writer, &rec);
    assert_int_equal (s_file_size (fixture->path), 0);
    assert_int_equal (sl_writer_offset (writer), 0);
    s_flush (writer);
    assert_int_equal (s_file_size (fixture->path), 12);
    assert_int_equal (sl_writer_offset (writer), 12);
    s_flush (writer); //  nothing left: writes nothing
    assert_int_equal (sl_writer_offset (writer), 12);
    sl_writer_destroy (&writer);
    s_assert_file_is (fixture->path, "hello\nhello\n", 12);
}

static void test_writer_put_writes_once_buffer_exceeds_1mib (void **state)
{
    fixture_t *fixture = *state;
    size_t chunk = 64 * 1024;
    uint8_t *block = malloc (chunk);
    assert_non_null (block);
    memset (block, 'z', chunk - 1);
    block [chunk - 1] = '\n';

    sl_writer_t *writer = s_open (fixture->path, SL_FORMAT_TEXT, false);
    sl_record_t rec = s_record (block, chunk);
    //  16 blocks are exactly 1 MiB: not more than it yet
    for (int i = 0; i < 16; i++)
        s_put (writer, &rec);
    assert_int_equal (s_file_size (fixture->path), 0);
    assert_int_equal (sl_writer_offset (writer), 0);
    s_put (writer, &rec);
    assert_int_equal (s_file_size (fixture->path), 17 * chunk);
    assert_int_equal (sl_writer_offset (writer), 17 * chunk);
    s_put (writer, &rec);
    assert_int_equal (s_file_size (fixture->path), 17 * chunk);
    s_flush (writer);
    assert_int_equal (sl_writer_offset (writer), 18 * chunk);
    sl_writer_destroy (&writer);

    size_t size;
    uint8_t *data = s_slurp (fixture->path, &size);
    assert_int_equal (size, 18 * chunk);
    for (size_t i = 0; i < 18; i++)
        assert_memory_equal (data + i * chunk, block, chunk);
    free (data);
    free (block);
}

static void test_writer_destroy_flushes_and_clears_pointer (void **state)
{
    fixture_t *fixture = *state;
    sl_writer_t *writer = s_open (fixture->path, SL_FORMAT_TEXT, false);
    sl_record_t rec = s_record ("last words", 10);
    s_put (writer, &rec);
    sl_writer_destroy (&writer);
    assert_null (writer);
    sl_writer_destroy (&writer); //  NULL-safe
    assert_null (writer);
    s_assert_file_is (fixture->path, "last words\n", 11);
}

static void test_writer_flush_sync_skips_non_regular_files (void **state)
{
    fixture_t *fixture = *state;
    char errbuf [ERRLEN] = "";
    sl_record_t rec = s_record ("synced", 6);

    sl_writer_t *writer = s_open (fixture->path, SL_FORMAT_TEXT, false);
    s_put (writer, &rec);
    assert_int_equal (sl_writer_flush (writer, true, errbuf, sizeof errbuf), 0);
    sl_writer_destroy (&writer);
    s_assert_file_is (fixture->path, "synced\n", 7);

    //  fdatasync on /dev/null fails with EINVAL, so it must not be called
    writer = s_open ("/dev/null", SL_FORMAT_TEXT, false);
    s_put (writer, &rec);
    if (sl_writer_flush (writer, true, errbuf, sizeof errbuf))
        fail_msg ("flush with sync to /dev/null: %s", errbuf);
    assert_int_equal (sl_writer_offset (writer), 7);
    sl_writer_destroy (&writer);
}

//  --------------------------------------------------------------------------
//  Opening

static void test_writer_new_reports_path_on_failure (void **state)
{
    (void) state;
    char errbuf [ERRLEN] = "";
    const char *path = "/nonexistent-sluice-dir/results.jsonl";
    sl_writer_t *writer = sl_writer_new (path, SL_FORMAT_JSONL, false, errbuf, sizeof errbuf);
    assert_null (writer);
    assert_non_null (strstr (errbuf, path));
    assert_non_null (strstr (errbuf, "No such file or directory"));

    errbuf [0] = 0;
    writer = sl_writer_new ("/tmp", SL_FORMAT_TEXT, true, errbuf, sizeof errbuf);
    assert_null (writer);
    assert_non_null (strstr (errbuf, "/tmp"));
    assert_non_null (strstr (errbuf, "Is a directory"));
}

static void test_writer_new_truncates_without_append (void **state)
{
    fixture_t *fixture = *state;
    s_write_file (fixture->path, "old content that must go\n");
    sl_writer_t *writer = s_open (fixture->path, SL_FORMAT_TEXT, false);
    assert_int_equal (s_file_size (fixture->path), 0);
    sl_record_t rec = s_record ("new", 3);
    s_put (writer, &rec);
    sl_writer_destroy (&writer);
    s_assert_file_is (fixture->path, "new\n", 4);
}

static void test_writer_new_creates_file_with_mode_0644 (void **state)
{
    fixture_t *fixture = *state;
    mode_t old_umask = umask (022);
    for (int append = 0; append <= 1; append++) {
        assert_int_equal (unlink (fixture->path), 0);
        sl_writer_t *writer = s_open (fixture->path, SL_FORMAT_TEXT, append);
        sl_writer_destroy (&writer);
        struct stat st;
        assert_int_equal (stat (fixture->path, &st), 0);
        assert_true (S_ISREG (st.st_mode));
        assert_int_equal (st.st_mode & 07777, 0644);
    }
    umask (old_umask);
}

static void test_writer_append_keeps_existing_content (void **state)
{
    fixture_t *fixture = *state;
    s_write_file (fixture->path, "earlier\n");
    sl_writer_t *writer = s_open (fixture->path, SL_FORMAT_TEXT, true);
    sl_record_t rec = s_record ("later", 5);
    s_put (writer, &rec);
    s_flush (writer);
    //  The offset counts this writer's bytes only
    assert_int_equal (sl_writer_offset (writer), 6);
    sl_writer_destroy (&writer);

    writer = s_open (fixture->path, SL_FORMAT_JSONL, true);
    s_put (writer, &rec);
    sl_writer_destroy (&writer);

    size_t size;
    uint8_t *data = s_slurp (fixture->path, &size);
    assert_true (size > 14);
    assert_memory_equal (data, "earlier\nlater\n{\"job\":", 21);
    free (data);
}

static void test_writer_dash_and_null_mean_stdout (void **state)
{
    fixture_t *fixture = *state;
    int fd = open (fixture->path, O_WRONLY | O_TRUNC);
    assert_true (fd >= 0);
    fflush (stdout);
    int saved = dup (STDOUT_FILENO);
    assert_true (saved >= 0);
    assert_int_equal (dup2 (fd, STDOUT_FILENO), STDOUT_FILENO);
    close (fd);

    //  Record the results, restore stdout, then check
    sl_record_t one = s_record ("one", 3);
    sl_record_t two = s_record ("two", 3);
    char errbuf [ERRLEN] = "";
    sl_writer_t *dash = sl_writer_new ("-", SL_FORMAT_TEXT, false, errbuf, sizeof errbuf);
    int put1 = dash ? sl_writer_put (dash, &one, errbuf, sizeof errbuf) : -1;
    sl_writer_destroy (&dash);
    bool open_after_dash = fcntl (STDOUT_FILENO, F_GETFD) != -1;
    sl_writer_t *null = sl_writer_new (NULL, SL_FORMAT_TEXT, true, errbuf, sizeof errbuf);
    int put2 = null ? sl_writer_put (null, &two, errbuf, sizeof errbuf) : -1;
    int flush2 = null ? sl_writer_flush (null, true, errbuf, sizeof errbuf) : -1;
    sl_writer_destroy (&null);
    bool open_after_null = fcntl (STDOUT_FILENO, F_GETFD) != -1;

    assert_int_equal (dup2 (saved, STDOUT_FILENO), STDOUT_FILENO);
    close (saved);
    assert_int_equal (put1, 0);
    assert_int_equal (put2, 0);
    assert_int_equal (flush2, 0);
    assert_true (open_after_dash);
    assert_true (open_after_null);
    s_assert_file_is (fixture->path, "one\ntwo\n", 8);
}

//  --------------------------------------------------------------------------
//  Write failures

static void test_writer_flush_reports_enospc_on_dev_full (void **state)
{
    (void) state;
    char errbuf [ERRLEN] = "";
    sl_writer_t *writer = s_open ("/dev/full", SL_FORMAT_JSONL, false);
    sl_record_t rec = s_record ("lost?", 5);
    s_put (writer, &rec);
    assert_int_equal (sl_writer_flush (writer, false, errbuf, sizeof errbuf), -1);
    assert_non_null (strstr (errbuf, "/dev/full"));
    assert_non_null (strstr (errbuf, "No space left on device"));
    assert_int_equal (sl_writer_offset (writer), 0);
    //  The bytes are still there: the next flush fails the same way
    errbuf [0] = 0;
    assert_int_equal (sl_writer_flush (writer, true, errbuf, sizeof errbuf), -1);
    assert_non_null (strstr (errbuf, "No space left on device"));
    sl_writer_destroy (&writer);
}

static void test_writer_put_failure_is_reported_by_next_flush (void **state)
{
    (void) state;
    char errbuf [ERRLEN] = "";
    size_t size = 1024 * 1024 + 1;
    uint8_t *big = malloc (size);
    assert_non_null (big);
    memset (big, 'q', size);

    sl_writer_t *writer = s_open ("/dev/full", SL_FORMAT_TEXT, false);
    sl_record_t rec = s_record (big, size);
    //  This put tries to write, fails, and still succeeds itself
    assert_int_equal (sl_writer_put (writer, &rec, errbuf, sizeof errbuf), 0);
    assert_int_equal (sl_writer_flush (writer, false, errbuf, sizeof errbuf), -1);
    assert_string_equal (errbuf, "cannot write /dev/full: No space left on device");
    assert_int_equal (sl_writer_offset (writer), 0);
    sl_writer_destroy (&writer);
    free (big);
}

//  Saved state of a lowered file size limit.
typedef struct {
    struct rlimit limit;   //  limit before s_limit_file_size
    void (*handler) (int); //  SIGXFSZ disposition before it
} fsize_saved_t;

//  Lowers the file size limit to size bytes: write(2) then stops short at
//  that size and fails with EFBIG (SIGXFSZ is ignored meanwhile). Assert
//  nothing until s_unlimit_file_size: cmocka's output could be cut off.
static int s_limit_file_size (rlim_t size, fsize_saved_t *saved)
{
    if (getrlimit (RLIMIT_FSIZE, &saved->limit))
        return -1;
    saved->handler = signal (SIGXFSZ, SIG_IGN);
    struct rlimit limit = { .rlim_cur = size, .rlim_max = saved->limit.rlim_max };
    return setrlimit (RLIMIT_FSIZE, &limit);
}

static int s_unlimit_file_size (fsize_saved_t *saved)
{
    int rc = setrlimit (RLIMIT_FSIZE, &saved->limit);
    signal (SIGXFSZ, saved->handler);
    return rc;
}

static void test_writer_failed_flush_keeps_bytes_for_retry (void **state)
{
    fixture_t *fixture = *state;
    const char expected [] = "0123456789abcdefghij\nsecond record\n";
    size_t size = sizeof expected - 1;
    char errbuf [ERRLEN] = "";

    sl_writer_t *writer = s_open (fixture->path, SL_FORMAT_TEXT, false);
    sl_record_t first = s_record ("0123456789abcdefghij", 20);
    sl_record_t second = s_record ("second record\n", 14);
    s_put (writer, &first);
    s_put (writer, &second);

    fsize_saved_t saved;
    int set = s_limit_file_size (10, &saved);
    int flush1 = sl_writer_flush (writer, false, errbuf, sizeof errbuf);
    uint64_t offset1 = sl_writer_offset (writer);
    int reset = s_unlimit_file_size (&saved);

    assert_int_equal (set, 0);
    assert_int_equal (reset, 0);
    assert_int_equal (flush1, -1);
    assert_non_null (strstr (errbuf, fixture->path));
    assert_non_null (strstr (errbuf, strerror (EFBIG)));
    assert_int_equal (offset1, 10);
    s_assert_file_is (fixture->path, expected, 10);

    //  The rest goes out on the next flush, once and in order
    s_flush (writer);
    assert_int_equal (sl_writer_offset (writer), size);
    sl_writer_destroy (&writer);
    s_assert_file_is (fixture->path, expected, size);
}

static void test_writer_put_failure_is_reported_even_if_retry_would_succeed (void **state)
{
    fixture_t *fixture = *state;
    size_t size = 1024 * 1024 + 1;
    uint8_t *big = malloc (size);
    assert_non_null (big);
    memset (big, 'r', size - 1);
    big [size - 1] = '\n';
    char errbuf [ERRLEN] = "";

    sl_writer_t *writer = s_open (fixture->path, SL_FORMAT_TEXT, false);
    sl_record_t rec = s_record (big, size);
    fsize_saved_t saved;
    int set = s_limit_file_size (100, &saved);
    int put = sl_writer_put (writer, &rec, errbuf, sizeof errbuf);
    int reset = s_unlimit_file_size (&saved);

    assert_int_equal (set, 0);
    assert_int_equal (reset, 0);
    assert_int_equal (put, 0);
    assert_int_equal (sl_writer_offset (writer), 100);
    //  Writing would work now, but the failure is reported first, once
    assert_int_equal (sl_writer_flush (writer, false, errbuf, sizeof errbuf), -1);
    assert_non_null (strstr (errbuf, fixture->path));
    assert_non_null (strstr (errbuf, strerror (EFBIG)));
    assert_int_equal (sl_writer_offset (writer), 100);
    s_flush (writer);
    assert_int_equal (sl_writer_offset (writer), size);
    sl_writer_destroy (&writer);
    s_assert_file_is (fixture->path, big, size);
    free (big);
}

//  --------------------------------------------------------------------------
//  UTF-8 validator

static void test_writer_utf8_valid_table (void **state)
{
    (void) state;
    static const struct {
        const char *bytes;
        size_t size;
        bool valid;
        const char *what;
    } cases [] = {
        { "", 0, true, "empty" },
        { "hello, world", 12, true, "ASCII" },
        { "\0", 1, true, "NUL" },
        { "\x7f", 1, true, "U+007F" },
        { "\xc2\x80", 2, true, "U+0080, smallest 2-byte" },
        { "\xdf\xbf", 2, true, "U+07FF, largest 2-byte" },
        { "\xe0\xa0\x80", 3, true, "U+0800, smallest 3-byte" },
        { "\xed\x9f\xbf", 3, true, "U+D7FF, below surrogates" },
        { "\xee\x80\x80", 3, true, "U+E000, above surrogates" },
        { "\xef\xbf\xbf", 3, true, "U+FFFF" },
        { "\xf0\x90\x80\x80", 4, true, "U+10000, smallest 4-byte" },
        { "\xf4\x8f\xbf\xbf", 4, true, "U+10FFFF, largest" },
        { "abcdefgh\xc3\xa9"
          "ijklmnopq",
          19, true, "multibyte between ASCII runs" },
        { "\xc0\x80", 2, false, "overlong NUL" },
        { "\xc1\xbf", 2, false, "overlong U+007F" },
        { "\xe0\x80\x80", 3, false, "overlong 3-byte NUL" },
        { "\xe0\x9f\xbf", 3, false, "overlong U+07FF" },
        { "\xf0\x80\x80\x80", 4, false, "overlong 4-byte NUL" },
        { "\xf0\x8f\xbf\xbf", 4, false, "overlong U+FFFF" },
        { "\xed\xa0\x80", 3, false, "surrogate U+D800" },
        { "\xed\xbf\xbf", 3, false, "surrogate U+DFFF" },
        { "\xed\xa0\xbd\xed\xb8\x80", 6, false, "surrogate pair (CESU-8)" },
        { "\xf4\x90\x80\x80", 4, false, "U+110000" },
        { "\xf5\x80\x80\x80", 4, false, "lead F5" },
        { "\xf7\xbf\xbf\xbf", 4, false, "lead F7" },
        { "\xf8\x88\x80\x80\x80", 5, false, "5-byte form" },
        { "\xfc\x84\x80\x80\x80\x80", 6, false, "6-byte form" },
        { "\xfe", 1, false, "FE" },
        { "\xff", 1, false, "FF" },
        { "\x80", 1, false, "lone continuation" },
        { "\xbf", 1, false, "lone continuation BF" },
        { "a\x80"
          "b",
          3, false, "continuation between ASCII" },
        { "\xc3", 1, false, "truncated 2-byte" },
        { "\xe2\x82", 2, false, "truncated 3-byte" },
        { "\xf0\x9f\x98", 3, false, "truncated 4-byte" },
        { "\xe2\x82"
          "A",
          3, false, "3-byte cut by ASCII" },
        { "\xc3\xc3\xa9", 3, false, "lead followed by lead" },
        { "\xf0\x9f\x98\xc0", 4, false, "bad last continuation" },
        { "abcdefgh\xff", 9, false, "invalid after ASCII run" },
        { "abcdefghijklmnop\xc3", 17, false, "truncated after fast path" },
        { "abcdefg\xc3\xa9", 9, true, "multibyte straddling an 8-byte word" },
        { "abcdefg\xc3"
          "abcdefgh",
          16, false, "truncated straddling an 8-byte word" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        bool valid = sl_utf8_valid ((const uint8_t *) cases [i].bytes, cases [i].size);
        if (valid != cases [i].valid)
            fail_msg ("%s: sl_utf8_valid says %s", cases [i].what, valid ? "valid" : "invalid");
    }
    assert_true (sl_utf8_valid (NULL, 0));
}

//  Checks the writer's validator against the reference on s[0..size),
//  alone and between runs of ASCII long enough for the fast path.
static void s_compare_with_reference (const uint8_t *s, size_t size)
{
    bool expected = s_ref_valid (s, size);
    if (sl_utf8_valid (s, size) != expected)
        fail_msg ("%02x %02x %02x %02x (%zu bytes): reference says %d", s [0], size > 1 ? s [1] : 0,
                  size > 2 ? s [2] : 0, size > 3 ? s [3] : 0, size, expected);
    uint8_t padded [32];
    memset (padded, 'p', sizeof padded);
    memcpy (padded + 9, s, size);
    if (sl_utf8_valid (padded, 9 + size + 9) != expected)
        fail_msg ("%02x %02x (%zu bytes) between ASCII: reference says %d", s [0],
                  size > 1 ? s [1] : 0, size, expected);
}

static void test_writer_utf8_matches_reference_decoder (void **state)
{
    (void) state;
    //  Trailing bytes at the edges of every range that matters
    static const uint8_t edges [] = { 0x00, 0x41, 0x7f, 0x80, 0x81, 0x8f, 0x90,
                                      0x9f, 0xa0, 0xbf, 0xc0, 0xf5, 0xff };
    uint8_t s [4];
    for (unsigned a = 0; a < 256; a++) {
        s [0] = (uint8_t) a;
        s_compare_with_reference (s, 1);
        for (unsigned b = 0; b < 256; b++) {
            s [1] = (uint8_t) b;
            s_compare_with_reference (s, 2);
            for (size_t c = 0; c < sizeof edges; c++) {
                s [2] = edges [c];
                s_compare_with_reference (s, 3);
                if (a < 0xe0)
                    continue;
                for (size_t d = 0; d < sizeof edges; d++) {
                    s [3] = edges [d];
                    s_compare_with_reference (s, 4);
                }
            }
        }
    }
}

static void test_writer_utf8_agrees_with_jansson (void **state)
{
    (void) state;
    static const uint8_t tails [] = { 0x41, 0x80, 0x9f, 0xa0, 0xbf, 0xc0 };
    uint8_t s [4];
    for (unsigned a = 0x80; a < 256; a++) {
        s [0] = (uint8_t) a;
        for (unsigned b = 0; b < 256; b++) {
            s [1] = (uint8_t) b;
            for (size_t c = 0; c < sizeof tails; c++) {
                s [2] = tails [c];
                s [3] = tails [sizeof tails - 1 - c];
                for (size_t size = 2; size <= 4; size++) {
                    json_t *string = json_stringn ((const char *) s, size);
                    bool valid = sl_utf8_valid (s, size);
                    json_decref (string);
                    if (valid != (string != NULL))
                        fail_msg ("%02x %02x %02x %02x (%zu bytes): jansson disagrees", s [0],
                                  s [1], s [2], s [3], size);
                }
            }
        }
    }
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_writer_format_parse_accepts_known_names),
        cmocka_unit_test (test_writer_format_parse_rejects_unknown_names),
        cmocka_unit_test_setup_teardown (test_writer_text_adds_newline_only_when_missing, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_writer_text_accepts_null_empty_output, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_writer_many_records_keep_their_order, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_writer_jsonl_writes_exact_line_with_all_fields,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_writer_jsonl_omits_optional_fields, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_writer_jsonl_roundtrips_awkward_outputs, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_writer_jsonl_roundtrips_awkward_stderr, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_writer_jsonl_invalid_utf8_gives_lossy_text_and_base64,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_writer_jsonl_base64_is_padded, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_writer_jsonl_replaces_invalid_utf8_in_names, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_writer_jsonl_keeps_integer_extremes, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_writer_jsonl_rejects_unformattable_records, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_writer_jsonl_roundtrips_random_bytes, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_writer_jsonl_put_survives_allocation_failures,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_writer_put_buffers_until_flush, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_writer_put_writes_once_buffer_exceeds_1mib, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_writer_destroy_flushes_and_clears_pointer, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_writer_flush_sync_skips_non_regular_files, s_setup,
                                         s_teardown),
        cmocka_unit_test (test_writer_new_reports_path_on_failure),
        cmocka_unit_test_setup_teardown (test_writer_new_truncates_without_append, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_writer_new_creates_file_with_mode_0644, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_writer_append_keeps_existing_content, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_writer_dash_and_null_mean_stdout, s_setup,
                                         s_teardown),
        cmocka_unit_test (test_writer_flush_reports_enospc_on_dev_full),
        cmocka_unit_test (test_writer_put_failure_is_reported_by_next_flush),
        cmocka_unit_test_setup_teardown (test_writer_failed_flush_keeps_bytes_for_retry, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (
            test_writer_put_failure_is_reported_even_if_retry_would_succeed, s_setup, s_teardown),
        cmocka_unit_test (test_writer_utf8_valid_table),
        cmocka_unit_test (test_writer_utf8_matches_reference_decoder),
        cmocka_unit_test (test_writer_utf8_agrees_with_jansson),
    };
    return cmocka_run_group_tests_name ("writer", tests, NULL, NULL);
}
