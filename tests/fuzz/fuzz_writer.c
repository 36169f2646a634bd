/*  =========================================================================
    fuzz_writer - libFuzzer target for the sink's result writer (writer.c)

    Every input is a byte string that becomes the fields of result records:

        record A  output = all bytes, stderr = the second half,
                  job = the first half and worker = the second half (each
                  as a C string, so up to its first NUL), id = all bytes as
                  a C string when the size is even (else none), status =
                  the worker, exit_code = the first 4 bytes, truncated
                  when the size is a multiple of 3
        record B  output = the second half, no stderr, job and worker
                  swapped, the largest seq, duration_ms and attempts
        record C  seq above INT64_MAX, which jsonl cannot format

    The records go through a jsonl writer and a text writer into memfds
    (opened by their /proc/self/fd paths), and what lands there is checked:
      jsonl  C is refused and leaves nothing behind; there is exactly one
             line per accepted record, each a JSON object (parsed with
             jansson) with the keys of writer.h in their order and the
             record's values; output and stderr give back the exact bytes,
             from output_base64/stderr_base64 when present, which is
             exactly when the bytes are not valid UTF-8 (jansson's own
             check decides); text fields that are not valid UTF-8 hold
             every bad byte as U+FFFD and the rest as is;
      text   the output bytes plus "\n" when they do not end with one.
    sl_utf8_valid is also compared with jansson's check on the whole input.
    A difference is reported with abort(), so libFuzzer keeps the input.
    Build and run with tests/fuzz/run.sh.
    =========================================================================
*/

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "writer.h"

#define S_REPLACEMENT "\xEF\xBF\xBD" //  U+FFFD in UTF-8

//  A growable byte string, for expected values and file contents.
typedef struct {
    uint8_t *data; //  bytes, NUL-terminated for convenience
    size_t size;   //  bytes used, without the NUL
} s_bytes_t;

//  Reports a difference and aborts, which libFuzzer records as a crash.
static void s_fail (const char *what, const char *detail)
{
    fprintf (stderr, "fuzz_writer: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort ();
}

static void s_bytes_add (s_bytes_t *bytes, const void *data, size_t size)
{
    uint8_t *grown = realloc (bytes->data, bytes->size + size + 1);
    if (!grown)
        s_fail ("harness: out of memory", NULL);
    bytes->data = grown;
    memcpy (bytes->data + bytes->size, data, size);
    bytes->size += size;
    bytes->data [bytes->size] = '\0';
}

//  Copy of data[0..size) as a C string (ends at the first NUL). Caller frees.
static char *s_cstr (const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr (data, '\0', size);
    size_t len = nul ? (size_t) (nul - data) : size;
    char *string = malloc (len + 1);
    if (!string)
        s_fail ("harness: out of memory", NULL);
    memcpy (string, data, len);
    string [len] = '\0';
    return string;
}

//  The oracle for UTF-8: jansson refuses to make a string of invalid UTF-8.
static bool s_jansson_utf8 (const uint8_t *data, size_t size)
{
    json_t *string = json_stringn ((const char *) data, size);
    json_decref (string);
    return string != NULL;
}

//  What a lossy text field must hold: every well-formed sequence as is,
//  every other byte as U+FFFD. A sequence's length comes from its lead
//  byte; whether it is well-formed, jansson says.
static s_bytes_t s_lossy (const uint8_t *data, size_t size)
{
    s_bytes_t lossy = { NULL, 0 };
    s_bytes_add (&lossy, "", 0);
    for (size_t i = 0; i < size;) {
        uint8_t lead = data [i];
        size_t len = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
        if (len <= size - i && (len == 1 || s_jansson_utf8 (data + i, len))) {
            s_bytes_add (&lossy, data + i, len);
            i += len;
        } else {
            s_bytes_add (&lossy, S_REPLACEMENT, 3);
            i++;
        }
    }
    return lossy;
}

//  Strict standard base64 with padding. Returns false if text is not that.
static bool s_base64_decode (const char *text, size_t size, s_bytes_t *out)
{
    static const char alphabet [] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (size % 4 != 0)
        return false;
    for (size_t i = 0; i < size; i += 4) {
        uint32_t quad = 0;
        size_t pad = 0;
        for (size_t j = 0; j < 4; j++) {
            char c = text [i + j];
            const char *digit = c ? strchr (alphabet, c) : NULL;
            if (c == '=' && i + 4 == size && j >= 2)
                pad++;
            else if (!digit || pad)
                return false;
            quad = quad << 6 | (uint32_t) (digit ? digit - alphabet : 0);
        }
        uint8_t triple [3] = { quad >> 16 & 0xFF, quad >> 8 & 0xFF, quad & 0xFF };
        s_bytes_add (out, triple, 3 - pad);
    }
    return true;
}

//  Checks a byte field: key holds the bytes (lossy if they are not UTF-8)
//  and b64_key, present exactly then, the exact bytes.
static void s_check_bytes (json_t *object, const char *key, const char *b64_key,
                           const uint8_t *data, size_t size)
{
    json_t *text = json_object_get (object, key);
    if (!json_is_string (text))
        s_fail ("no string at key", key);
    bool valid = s_jansson_utf8 (data, size);
    if (valid) {
        if (json_string_length (text) != size || memcmp (json_string_value (text), data, size))
            s_fail ("valid UTF-8 does not round-trip at key", key);
        if (json_object_get (object, b64_key))
            s_fail ("base64 for valid UTF-8 at key", b64_key);
        return;
    }
    s_bytes_t lossy = s_lossy (data, size);
    if (json_string_length (text) != lossy.size ||
        memcmp (json_string_value (text), lossy.data, lossy.size) != 0)
        s_fail ("lossy text is not byte-for-byte U+FFFD at key", key);
    free (lossy.data);

    json_t *b64 = json_object_get (object, b64_key);
    if (!json_is_string (b64))
        s_fail ("invalid UTF-8 without base64 at key", b64_key);
    s_bytes_t exact = { NULL, 0 };
    s_bytes_add (&exact, "", 0);
    if (!s_base64_decode (json_string_value (b64), json_string_length (b64), &exact))
        s_fail ("not strict base64 at key", b64_key);
    if (exact.size != size || memcmp (exact.data, data, size) != 0)
        s_fail ("base64 does not round-trip at key", b64_key);
    free (exact.data);
}

//  Checks a text field made from a C string.
static void s_check_cstr (json_t *object, const char *key, const char *string)
{
    size_t size = strlen (string);
    json_t *text = json_object_get (object, key);
    if (!json_is_string (text))
        s_fail ("no string at key", key);
    s_bytes_t expect = { NULL, 0 };
    if (s_jansson_utf8 ((const uint8_t *) string, size))
        s_bytes_add (&expect, string, size);
    else
        expect = s_lossy ((const uint8_t *) string, size);
    if (json_string_length (text) != expect.size ||
        memcmp (json_string_value (text), expect.data, expect.size) != 0)
        s_fail ("text field differs at key", key);
    free (expect.data);
}

static void s_check_integer (json_t *object, const char *key, json_int_t value)
{
    json_t *number = json_object_get (object, key);
    if (!json_is_integer (number) || json_integer_value (number) != value)
        s_fail ("wrong integer at key", key);
}

//  Checks one jsonl line against the record it was made from.
static void s_check_line (const char *line, size_t size, const sl_record_t *rec)
{
    json_error_t error;
    json_t *object = json_loadb (line, size, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &error);
    if (!object)
        s_fail ("line is not valid JSON", error.text);
    if (!json_is_object (object))
        s_fail ("line is not a JSON object", NULL);

    //  The keys of writer.h, in their order
    const char *keys [16];
    size_t nkeys = 0;
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
    if (!s_jansson_utf8 (rec->output, rec->output_size))
        keys [nkeys++] = "output_base64";
    if (rec->err_size > 0) {
        keys [nkeys++] = "stderr";
        if (!s_jansson_utf8 (rec->err, rec->err_size))
            keys [nkeys++] = "stderr_base64";
    }
    if (rec->output_truncated)
        keys [nkeys++] = "output_truncated";
    size_t i = 0;
    for (void *iter = json_object_iter (object); iter; iter = json_object_iter_next (object, iter))
        if (i >= nkeys || strcmp (json_object_iter_key (iter), keys [i++]) != 0)
            s_fail ("unexpected key or order", json_object_iter_key (iter));
    if (i != nkeys)
        s_fail ("missing key", keys [i]);

    s_check_cstr (object, "job", rec->job);
    s_check_integer (object, "seq", (json_int_t) rec->seq);
    if (rec->id)
        s_check_cstr (object, "id", rec->id);
    s_check_cstr (object, "status", rec->status);
    s_check_integer (object, "exit_code", rec->exit_code);
    s_check_integer (object, "attempts", rec->attempts);
    s_check_cstr (object, "worker", rec->worker);
    s_check_integer (object, "duration_ms", (json_int_t) rec->duration_ms);
    s_check_bytes (object, "output", "output_base64", rec->output, rec->output_size);
    if (rec->err_size > 0)
        s_check_bytes (object, "stderr", "stderr_base64", rec->err, rec->err_size);
    if (rec->output_truncated && !json_is_true (json_object_get (object, "output_truncated")))
        s_fail ("output_truncated is not true", NULL);
    json_decref (object);
}

//  Writes records through a writer into a fresh memfd and returns what the
//  file holds. refused[i] says that put must fail for records[i].
static s_bytes_t s_write (sl_format_t fmt, const sl_record_t *records, const bool *refused,
                          size_t count)
{
    int fd = memfd_create ("fuzz_writer", MFD_CLOEXEC);
    if (fd < 0)
        s_fail ("harness: memfd_create failed", strerror (errno));
    char path [64];
    snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
    char err [512] = "";
    sl_writer_t *writer = sl_writer_new (path, fmt, false, err, sizeof err);
    if (!writer)
        s_fail ("cannot open the writer", err);
    for (size_t i = 0; i < count; i++) {
        err [0] = '\0';
        int rc = sl_writer_put (writer, &records [i], err, sizeof err);
        if (rc != (refused [i] ? -1 : 0))
            s_fail (refused [i] ? "put accepted a record it cannot format"
                                : "put refused a good record",
                    err);
        if (rc && !err [0])
            s_fail ("put failed without a message", NULL);
    }
    if (sl_writer_flush (writer, false, err, sizeof err) != 0)
        s_fail ("flush failed", err);
    uint64_t offset = sl_writer_offset (writer);
    sl_writer_destroy (&writer);
    if (writer)
        s_fail ("destroy did not null the pointer", NULL);

    struct stat st;
    if (fstat (fd, &st) != 0)
        s_fail ("harness: fstat failed", strerror (errno));
    if (offset != (uint64_t) st.st_size)
        s_fail ("sl_writer_offset is not the file size", NULL);
    s_bytes_t file = { NULL, 0 };
    s_bytes_add (&file, "", 0);
    uint8_t chunk [65536];
    ssize_t n;
    while ((n = pread (fd, chunk, sizeof chunk, (off_t) file.size)) > 0)
        s_bytes_add (&file, chunk, (size_t) n);
    if (n < 0)
        s_fail ("harness: pread failed", strerror (errno));
    close (fd);
    return file;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (sl_utf8_valid (data, size) != s_jansson_utf8 (data, size))
        s_fail ("sl_utf8_valid disagrees with jansson", NULL);

    size_t half = size / 2;
    char *first = s_cstr (data, half);
    char *second = s_cstr (data + half, size - half);
    char *whole = size % 2 == 0 ? s_cstr (data, size) : NULL;
    int32_t exit_code = 0;
    if (size >= sizeof exit_code)
        memcpy (&exit_code, data, sizeof exit_code);

    sl_record_t records [3] = {
        { .job = first,
          .seq = 1 + size,
          .id = whole,
          .status = second,
          .exit_code = exit_code,
          .attempts = (uint32_t) half,
          .worker = second,
          .duration_ms = size * 1000,
          .output = data,
          .output_size = size,
          .err = data + half,
          .err_size = size - half,
          .output_truncated = size % 3 == 0 },
        { .job = second,
          .seq = INT64_MAX,
          .status = "ok",
          .exit_code = INT32_MIN,
          .attempts = UINT32_MAX,
          .worker = first,
          .duration_ms = INT64_MAX,
          .output = data + half,
          .output_size = size - half },
        { .job = first,
          .seq = (uint64_t) INT64_MAX + 1,
          .status = "ok",
          .worker = second,
          .output = data,
          .output_size = size },
    };
    const bool refused [3] = { false, false, true };

    s_bytes_t jsonl = s_write (SL_FORMAT_JSONL, records, refused, 3);
    size_t start = 0;
    for (size_t i = 0; i < 2; i++) {
        const uint8_t *newline = memchr (jsonl.data + start, '\n', jsonl.size - start);
        if (!newline)
            s_fail ("fewer lines than accepted records", NULL);
        size_t end = (size_t) (newline - jsonl.data);
        s_check_line ((const char *) jsonl.data + start, end - start, &records [i]);
        start = end + 1;
    }
    if (start != jsonl.size)
        s_fail ("more output than one line per accepted record", NULL);
    free (jsonl.data);

    //  Text takes any seq: only the two records with output
    const bool accepted [2] = { false, false };
    s_bytes_t text = s_write (SL_FORMAT_TEXT, records, accepted, 2);
    s_bytes_t expect = { NULL, 0 };
    s_bytes_add (&expect, "", 0);
    for (size_t i = 0; i < 2; i++) {
        const sl_record_t *rec = &records [i];
        s_bytes_add (&expect, rec->output, rec->output_size);
        if (rec->output_size == 0 || rec->output [rec->output_size - 1] != '\n')
            s_bytes_add (&expect, "\n", 1);
    }
    if (text.size != expect.size || memcmp (text.data, expect.data, text.size) != 0)
        s_fail ("text output is not the bytes plus a newline", NULL);
    free (expect.data);
    free (text.data);

    free (whole);
    free (second);
    free (first);
    return 0;
}
