/*  =========================================================================
    writer - buffered result writer of the sink (text or JSON Lines)

    Records are formatted into one growing byte buffer, which is written
    with write(2) when it passes SL_WRITER_CHUNK and on every flush. The
    buffer always holds exactly the bytes not yet written: a short or
    failed write leaves the rest at its front, so a later flush continues
    where the failed one stopped and nothing is written twice or dropped.

    JSON objects are built and dumped with jansson. jansson refuses strings
    that are not valid UTF-8, so every string is checked here first (with
    sl_utf8_valid, which follows table 3-7 of the Unicode standard, the
    same rules jansson applies) and then handed over unchecked; anything
    invalid is replaced byte by byte with U+FFFD, and for output and stderr
    the exact bytes are kept in base64 next to the lossy text.

    The writer owns its buffer, its name for messages and its file
    descriptor, unless that is standard output.
    =========================================================================
*/

#include "writer.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  put writes the buffer out once it holds more than this
#define SL_WRITER_CHUNK ((size_t) 1024 * 1024)
//  first allocation; the buffer grows by doubling
#define SL_WRITER_INITIAL ((size_t) 64 * 1024)
//  an empty buffer larger than this (left by a huge record) is given back
#define SL_WRITER_KEEP (4 * SL_WRITER_CHUNK)
//  largest single write(2); Linux writes at most about 2 GiB per call anyway
#define SL_WRITER_MAX_IO ((size_t) 1 << 30)

//  U+FFFD REPLACEMENT CHARACTER in UTF-8
#define SL_REPLACEMENT "\xEF\xBF\xBD"
#define SL_REPLACEMENT_SIZE 3

struct _sl_writer_t {
    int fd;            //  output file descriptor
    bool owns_fd;      //  we opened fd (false for standard output, never closed)
    bool regular;      //  fd is a regular file, so fdatasync applies
    sl_format_t fmt;   //  format of every record
    char *name;        //  path as given, or "standard output", for messages
    uint8_t *buf;      //  formatted bytes not yet written, oldest first
    size_t len;        //  bytes used in buf
    size_t cap;        //  bytes allocated for buf
    uint64_t offset;   //  bytes written to fd by this writer
    int pending_errno; //  write error met by put, for the next flush, or 0
};

//  Formats a message into errbuf, if the caller gave one.
static void __attribute__ ((format (printf, 3, 4)))
s_error (char *errbuf, size_t errlen, const char *format, ...)
{
    if (!errbuf || errlen == 0)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (errbuf, errlen, format, args);
    va_end (args);
}

//  --------------------------------------------------------------------------
//  UTF-8

//  Returns the length of the well-formed UTF-8 sequence that starts
//  data[0..size), size > 0, or 0 if there is none. The allowed ranges of
//  the second byte exclude overlong forms (E0, F0), surrogates (ED) and
//  code points above U+10FFFF (F4); C0, C1 and F5..FF never start one.
static size_t s_utf8_seq_len (const uint8_t *data, size_t size)
{
    uint8_t lead = data [0];
    uint8_t lo = 0x80; //  smallest allowed second byte
    uint8_t hi = 0xBF; //  largest allowed second byte
    size_t len;

    if (lead < 0x80)
        return 1;
    if (lead < 0xC2)
        return 0;
    if (lead < 0xE0)
        len = 2;
    else if (lead < 0xF0) {
        len = 3;
        if (lead == 0xE0)
            lo = 0xA0;
        else if (lead == 0xED)
            hi = 0x9F;
    } else if (lead < 0xF5) {
        len = 4;
        if (lead == 0xF0)
            lo = 0x90;
        else if (lead == 0xF4)
            hi = 0x8F;
    } else
        return 0;

    if (size < len || data [1] < lo || data [1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((data [i] & 0xC0) != 0x80)
            return 0;
    return len;
}

bool sl_utf8_valid (const uint8_t *data, size_t size)
{
    assert (data || size == 0);
    size_t i = 0;
    while (i < size) {
        //  Task output is mostly ASCII: skip it eight bytes at a time
        if (size - i >= 8) {
            uint64_t word;
            memcpy (&word, data + i, sizeof word);
            if ((word & UINT64_C (0x8080808080808080)) == 0) {
                i += 8;
                continue;
            }
        }
        size_t len = s_utf8_seq_len (data + i, size - i);
        if (len == 0)
            return false;
        i += len;
    }
    return true;
}

//  Returns a copy of data with every byte that is not part of a well-formed
//  sequence replaced by U+FFFD, and its size in *lossy_size; NULL if out of
//  memory. Caller owns the result (not NUL-terminated).
static char *s_utf8_lossy (const uint8_t *data, size_t size, size_t *lossy_size)
{
    if (size > (SIZE_MAX - 1) / SL_REPLACEMENT_SIZE)
        return NULL;
    char *lossy = malloc (size * SL_REPLACEMENT_SIZE + 1);
    if (!lossy)
        return NULL;
    size_t out = 0;
    size_t i = 0;
    while (i < size) {
        size_t len = s_utf8_seq_len (data + i, size - i);
        if (len) {
            memcpy (lossy + out, data + i, len);
            out += len;
            i += len;
        } else {
            memcpy (lossy + out, SL_REPLACEMENT, SL_REPLACEMENT_SIZE);
            out += SL_REPLACEMENT_SIZE;
            i++;
        }
    }
    *lossy_size = out;
    return lossy;
}

//  Returns data in standard base64 with padding, its size in *b64_size;
//  NULL if out of memory. Caller owns the result (not NUL-terminated).
static char *s_base64 (const uint8_t *data, size_t size, size_t *b64_size)
{
    static const char alphabet [] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    if (size / 3 >= (SIZE_MAX - 1) / 4)
        return NULL;
    size_t out_size = (size + 2) / 3 * 4;
    char *b64 = malloc (out_size + 1);
    if (!b64)
        return NULL;
    char *out = b64;
    size_t i = 0;
    for (; size - i >= 3; i += 3) {
        uint32_t triple = (uint32_t) data [i] << 16 | (uint32_t) data [i + 1] << 8 | data [i + 2];
        *out++ = alphabet [triple >> 18 & 0x3F];
        *out++ = alphabet [triple >> 12 & 0x3F];
        *out++ = alphabet [triple >> 6 & 0x3F];
        *out++ = alphabet [triple & 0x3F];
    }
    if (i < size) {
        uint32_t triple = (uint32_t) data [i] << 16;
        if (size - i == 2)
            triple |= (uint32_t) data [i + 1] << 8;
        *out++ = alphabet [triple >> 18 & 0x3F];
        *out++ = alphabet [triple >> 12 & 0x3F];
        *out++ = size - i == 2 ? alphabet [triple >> 6 & 0x3F] : '=';
        *out++ = '=';
    }
    assert ((size_t) (out - b64) == out_size);
    *b64_size = out_size;
    return b64;
}

//  --------------------------------------------------------------------------
//  Buffer and file

//  Makes room for extra more bytes in the buffer. Returns 0 or -1.
static int s_reserve (sl_writer_t *self, size_t extra)
{
    if (extra > SIZE_MAX - self->len)
        return -1;
    size_t need = self->len + extra;
    if (need <= self->cap)
        return 0;
    size_t cap = self->cap ? self->cap : SL_WRITER_INITIAL;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *buf = realloc (self->buf, cap);
    if (!buf)
        return -1;
    self->buf = buf;
    self->cap = cap;
    return 0;
}

//  Appends size bytes to the buffer. Returns 0 or -1.
static int s_append (sl_writer_t *self, const void *data, size_t size)
{
    if (size == 0)
        return 0;
    if (s_reserve (self, size))
        return -1;
    memcpy (self->buf + self->len, data, size);
    self->len += size;
    return 0;
}

//  Writes the buffer to fd until it is empty or a write fails. What was
//  written leaves the buffer; the rest moves to its front. Returns 0 or
//  the errno of the failure.
static int s_drain (sl_writer_t *self)
{
    size_t done = 0;
    int err = 0;
    while (done < self->len) {
        size_t chunk = self->len - done;
        if (chunk > SL_WRITER_MAX_IO)
            chunk = SL_WRITER_MAX_IO;
        ssize_t n = write (self->fd, self->buf + done, chunk);
        if (n > 0) {
            done += (size_t) n;
            continue;
        }
        if (n == 0) {
            //  Not expected for a non-empty write; don't spin on it
            err = EIO;
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            //  Someone made our standard output non-blocking: wait for room
            struct pollfd pfd = { .fd = self->fd, .events = POLLOUT };
            if (poll (&pfd, 1, -1) >= 0 || errno == EINTR)
                continue;
        }
        err = errno;
        break;
    }
    self->offset += done;
    self->len -= done;
    if (self->len && done)
        memmove (self->buf, self->buf + done, self->len);
    if (self->len == 0 && self->cap > SL_WRITER_KEEP) {
        free (self->buf);
        self->buf = NULL;
        self->cap = 0;
    }
    return err;
}

//  --------------------------------------------------------------------------
//  Formats

int sl_format_parse (const char *name, sl_format_t *fmt)
{
    assert (fmt);
    if (!name)
        return -1;
    if (strcmp (name, "text") == 0)
        *fmt = SL_FORMAT_TEXT;
    else if (strcmp (name, "jsonl") == 0 || strcmp (name, "json") == 0)
        *fmt = SL_FORMAT_JSONL;
    else
        return -1;
    return 0;
}

static int s_put_text (sl_writer_t *self, const sl_record_t *rec, char *errbuf, size_t errlen)
{
    bool has_newline = rec->output_size > 0 && rec->output [rec->output_size - 1] == '\n';
    if (s_append (self, rec->output, rec->output_size) ||
        (!has_newline && s_append (self, "\n", 1))) {
        s_error (errbuf, errlen, "cannot format result %" PRIu64 " of job %s: out of memory",
                 rec->seq, rec->job ? rec->job : "?");
        return -1;
    }
    return 0;
}

//  Returns a JSON string of size bytes of text, which are valid UTF-8 or
//  else made so lossily; NULL if out of memory. Caller owns the result.
static json_t *s_json_text (const uint8_t *text, size_t size, bool valid)
{
    if (size == 0)
        return json_string_nocheck ("");
    if (valid)
        return json_stringn_nocheck ((const char *) text, size);
    size_t lossy_size;
    char *lossy = s_utf8_lossy (text, size, &lossy_size);
    if (!lossy)
        return NULL;
    json_t *string = json_stringn_nocheck (lossy, lossy_size);
    free (lossy);
    return string;
}

//  As s_json_text, for a NUL-terminated string.
static json_t *s_json_cstr (const char *string)
{
    size_t size = strlen (string);
    return s_json_text ((const uint8_t *) string, size,
                        sl_utf8_valid ((const uint8_t *) string, size));
}

//  Sets key to the bytes as text and, if they are not valid UTF-8, b64_key
//  to the exact bytes in base64. Returns 0 or -1 (out of memory).
static int s_json_set_bytes (json_t *object, const char *key, const char *b64_key,
                             const uint8_t *data, size_t size)
{
    bool valid = sl_utf8_valid (data, size);
    if (json_object_set_new (object, key, s_json_text (data, size, valid)))
        return -1;
    if (valid)
        return 0;
    size_t b64_size;
    char *b64 = s_base64 (data, size, &b64_size);
    if (!b64)
        return -1;
    int rc = json_object_set_new (object, b64_key, json_stringn_nocheck (b64, b64_size));
    free (b64);
    return rc;
}

//  json_dump_callback target: appends to the writer's buffer.
static int s_dump_to_buffer (const char *buffer, size_t size, void *data)
{
    return s_append ((sl_writer_t *) data, buffer, size);
}

static int s_put_jsonl (sl_writer_t *self, const sl_record_t *rec, char *errbuf, size_t errlen)
{
    const char *missing = !rec->job      ? "job"
                          : !rec->status ? "status"
                          : !rec->worker ? "worker"
                                         : NULL;
    if (missing) {
        s_error (errbuf, errlen, "cannot format result %" PRIu64 " of job %s: no %s", rec->seq,
                 rec->job ? rec->job : "?", missing);
        return -1;
    }
    //  jansson integers are signed 64-bit
    if (rec->seq > INT64_MAX || rec->duration_ms > INT64_MAX) {
        s_error (errbuf, errlen,
                 "cannot format result %" PRIu64 " of job %s: seq or duration_ms too large",
                 rec->seq, rec->job);
        return -1;
    }

    int rc = -1;
    json_t *object = json_object ();
    if (!object)
        goto out;
    //  json_object_set_new takes the value even when it fails, and fails
    //  when the value is NULL, so each line checks both
    if (json_object_set_new (object, "job", s_json_cstr (rec->job)) ||
        json_object_set_new (object, "seq", json_integer ((json_int_t) rec->seq)) ||
        (rec->id && json_object_set_new (object, "id", s_json_cstr (rec->id))) ||
        json_object_set_new (object, "status", s_json_cstr (rec->status)) ||
        (rec->stage && json_object_set_new (object, "stage", json_integer (rec->stage))) ||
        json_object_set_new (object, "exit_code", json_integer (rec->exit_code)) ||
        json_object_set_new (object, "attempts", json_integer (rec->attempts)) ||
        json_object_set_new (object, "worker", s_json_cstr (rec->worker)) ||
        json_object_set_new (object, "duration_ms", json_integer ((json_int_t) rec->duration_ms)) ||
        s_json_set_bytes (object, "output", "output_base64", rec->output, rec->output_size) ||
        (rec->err_size > 0 &&
         s_json_set_bytes (object, "stderr", "stderr_base64", rec->err, rec->err_size)) ||
        (rec->output_truncated && json_object_set_new (object, "output_truncated", json_true ())))
        goto out;
    if (json_dump_callback (object, s_dump_to_buffer, self, JSON_COMPACT | JSON_PRESERVE_ORDER) ||
        s_append (self, "\n", 1))
        goto out;
    rc = 0;
out:
    if (rc)
        s_error (errbuf, errlen, "cannot format result %" PRIu64 " of job %s: out of memory",
                 rec->seq, rec->job);
    json_decref (object);
    return rc;
}

//  --------------------------------------------------------------------------
//  Writer

sl_writer_t *sl_writer_new (const char *path, sl_format_t fmt, bool append, char *errbuf,
                            size_t errlen)
{
    assert (fmt == SL_FORMAT_TEXT || fmt == SL_FORMAT_JSONL);
    bool use_stdout = !path || strcmp (path, "-") == 0;
    const char *name = use_stdout ? "standard output" : path;
    int err;

    sl_writer_t *self = calloc (1, sizeof *self);
    if (!self) {
        err = ENOMEM;
        goto err_report;
    }
    self->fmt = fmt;
    self->name = strdup (name);
    if (!self->name) {
        err = ENOMEM;
        goto err_free_self;
    }
    if (use_stdout)
        self->fd = STDOUT_FILENO;
    else {
        int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
        self->fd = open (path, flags, 0644);
        if (self->fd == -1) {
            err = errno;
            goto err_free_name;
        }
        self->owns_fd = true;
    }
    //  Also catches a closed standard output before any result is taken
    struct stat st;
    if (fstat (self->fd, &st) == -1) {
        err = errno;
        goto err_close;
    }
    self->regular = S_ISREG (st.st_mode);
    return self;

err_close:
    if (self->owns_fd)
        close (self->fd);
err_free_name:
    free (self->name);
err_free_self:
    free (self);
err_report:
    s_error (errbuf, errlen, "cannot open %s: %s", name, strerror (err));
    return NULL;
}

void sl_writer_destroy (sl_writer_t **self_p)
{
    assert (self_p);
    sl_writer_t *self = *self_p;
    if (!self)
        return;
    (void) s_drain (self);
    if (self->owns_fd)
        close (self->fd);
    free (self->buf);
    free (self->name);
    free (self);
    *self_p = NULL;
}

int sl_writer_put (sl_writer_t *self, const sl_record_t *rec, char *errbuf, size_t errlen)
{
    assert (self);
    assert (rec);
    assert (rec->output || rec->output_size == 0);
    assert (rec->err || rec->err_size == 0);

    size_t start = self->len;
    int rc = self->fmt == SL_FORMAT_TEXT ? s_put_text (self, rec, errbuf, errlen)
                                         : s_put_jsonl (self, rec, errbuf, errlen);
    if (rc) {
        self->len = start; //  drop the half-formatted record
        return -1;
    }
    //  After a failure keep buffering: the next flush reports it first
    if (self->len > SL_WRITER_CHUNK && self->pending_errno == 0)
        self->pending_errno = s_drain (self);
    return 0;
}

int sl_writer_format (sl_writer_t *self, const sl_record_t *rec, const uint8_t **data_p,
                      size_t *size_p, char *errbuf, size_t errlen)
{
    assert (self);
    assert (rec);
    assert (data_p && size_p);
    assert (rec->output || rec->output_size == 0);
    assert (rec->err || rec->err_size == 0);

    //  Formatted behind the queued bytes, then taken off the queue again:
    //  the bytes stay in the buffer's spare room until the next append.
    size_t start = self->len;
    int rc = self->fmt == SL_FORMAT_TEXT ? s_put_text (self, rec, errbuf, errlen)
                                         : s_put_jsonl (self, rec, errbuf, errlen);
    size_t end = self->len;
    self->len = start;
    if (rc)
        return -1;
    *data_p = self->buf + start;
    *size_p = end - start;
    return 0;
}

int sl_writer_put_formatted (sl_writer_t *self, const uint8_t *data, size_t size, char *errbuf,
                             size_t errlen)
{
    assert (self);
    assert (data || size == 0);
    if (s_append (self, data, size)) {
        s_error (errbuf, errlen, "cannot queue %zu bytes for %s: out of memory", size, self->name);
        return -1;
    }
    //  After a failure keep buffering: the next flush reports it first
    if (self->len > SL_WRITER_CHUNK && self->pending_errno == 0)
        self->pending_errno = s_drain (self);
    return 0;
}

int sl_writer_flush (sl_writer_t *self, bool sync, char *errbuf, size_t errlen)
{
    assert (self);
    int err = self->pending_errno;
    self->pending_errno = 0;
    if (!err)
        err = s_drain (self);
    if (err) {
        s_error (errbuf, errlen, "cannot write %s: %s", self->name, strerror (err));
        return -1;
    }
    if (sync && self->regular && fdatasync (self->fd) == -1) {
        s_error (errbuf, errlen, "cannot sync %s: %s", self->name, strerror (errno));
        return -1;
    }
    return 0;
}

uint64_t sl_writer_offset (sl_writer_t *self)
{
    assert (self);
    return self->offset;
}
