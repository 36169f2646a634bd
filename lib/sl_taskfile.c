/*  =========================================================================
    sl_taskfile - streaming reader for task files

    Reads the input in S_BUFSIZE blocks with read(2) and finds line ends with
    memchr. A line that lies wholly inside the read buffer is returned as a
    pointer into it, with no copy; only a line that spans a refill is copied,
    piece by piece, into the line buffer, which grows on demand up to
    max_payload + 1 bytes (the + 1 holds a "\r" that is stripped afterwards).
    A line that would outgrow that is not stored: the reader skips to its end,
    counting bytes, so the error can give its length. Memory use is therefore
    O(max_payload + S_BUFSIZE) whatever the input.

    Owns the read buffer, the line buffer, a copy of the name, and the file
    descriptor unless it is standard input.
    =========================================================================
*/

#include "sl_taskfile.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  Size of one read(2). Large enough that syscalls are rare for short lines,
//  small enough to stay in cache.
#define S_BUFSIZE (64 * 1024)

struct _sl_taskfile_t {
    char *name;         //  Path, or "stdin"; used in messages
    int fd;             //  Input file descriptor
    bool owns_fd;       //  True if destroy closes fd (not for stdin)
    size_t max_payload; //  Longest payload accepted, in bytes
    size_t hold_max;    //  Longest raw line stored: max_payload + 1 for a "\r"
    uint8_t *buf;       //  Read buffer, S_BUFSIZE bytes
    size_t pos;         //  Offset of the first unconsumed byte in buf
    size_t len;         //  Offset past the last valid byte in buf
    bool eof;           //  True once read(2) has returned 0
    uint8_t *line;      //  Copy of a line that spans refills
    size_t line_cap;    //  Allocated size of line, at most hold_max
    size_t line_len;    //  Raw bytes of the current line, stored or not
    bool line_over;     //  True if the current line outgrew hold_max
    uint8_t line_last;  //  Last byte of the current line so far
    size_t lineno;      //  Physical lines begun so far
    size_t task_lineno; //  Physical line of the task last returned
    char error [512];   //  Sticky error message, empty if none
};

//  Formats a message into the caller's error buffer, if it has one.
__attribute__ ((format (printf, 3, 4))) static void s_report (char *errbuf, size_t errlen,
                                                              const char *format, ...)
{
    if (!errbuf || errlen == 0)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (errbuf, errlen, format, args);
    va_end (args);
}

sl_taskfile_t *sl_taskfile_new (const char *path, size_t max_payload, char *errbuf, size_t errlen)
{
    assert (path);
    assert (max_payload > 0);

    sl_taskfile_t *self = calloc (1, sizeof (*self));
    if (!self)
        goto err_alloc;
    bool is_stdin = strcmp (path, "-") == 0;
    self->name = strdup (is_stdin ? "stdin" : path);
    self->buf = malloc (S_BUFSIZE);
    if (!self->name || !self->buf)
        goto err_alloc;
    self->max_payload = max_payload;
    self->hold_max = max_payload < SIZE_MAX ? max_payload + 1 : SIZE_MAX;

    if (is_stdin) {
        self->fd = STDIN_FILENO;
    } else {
        self->fd = open (path, O_RDONLY | O_CLOEXEC);
        if (self->fd < 0)
            goto err_open;
        self->owns_fd = true;
    }
    //  open(2) accepts a directory; refuse it now rather than at first read
    struct stat st;
    if (fstat (self->fd, &st) != 0)
        goto err_open;
    if (S_ISDIR (st.st_mode)) {
        errno = EISDIR;
        goto err_open;
    }
    return self;

err_open:
    s_report (errbuf, errlen, "cannot open %s: %s", self->name, strerror (errno));
    sl_taskfile_destroy (&self);
    return NULL;

err_alloc:
    s_report (errbuf, errlen, "cannot open task file: out of memory");
    sl_taskfile_destroy (&self);
    return NULL;
}

void sl_taskfile_destroy (sl_taskfile_t **self_p)
{
    assert (self_p);
    sl_taskfile_t *self = *self_p;
    if (!self)
        return;
    if (self->owns_fd)
        close (self->fd);
    free (self->line);
    free (self->buf);
    free (self->name);
    free (self);
    *self_p = NULL;
}

//  Refills the empty read buffer. Returns bytes read, 0 at end of input, or
//  -1 with errno set.
static ssize_t s_fill (sl_taskfile_t *self)
{
    assert (self->pos == self->len);
    self->pos = 0;
    self->len = 0;
    ssize_t got;
    do
        got = read (self->fd, self->buf, S_BUFSIZE);
    while (got < 0 && errno == EINTR);
    if (got > 0)
        self->len = (size_t) got;
    return got;
}

//  Adds a piece of the current line to the line buffer, or only counts it
//  once the line is too long to be a task. Returns 0, or -1 if out of memory.
static int s_append (sl_taskfile_t *self, const uint8_t *piece, size_t size)
{
    if (size == 0)
        return 0;
    self->line_last = piece [size - 1];
    if (!self->line_over && size > self->hold_max - self->line_len)
        self->line_over = true;
    if (self->line_over) {
        //  Saturate rather than wrap; only reachable with a > SIZE_MAX line
        self->line_len = size > SIZE_MAX - self->line_len ? SIZE_MAX : self->line_len + size;
        return 0;
    }
    size_t need = self->line_len + size;
    if (need > self->line_cap) {
        //  Grow geometrically so a long line costs O(n) copying, not O(n^2)
        size_t cap = self->line_cap ? self->line_cap : 4096;
        while (cap < need)
            cap = cap > self->hold_max / 2 ? self->hold_max : cap * 2;
        if (cap > self->hold_max)
            cap = self->hold_max;
        uint8_t *line = realloc (self->line, cap);
        if (!line)
            return -1;
        self->line = line;
        self->line_cap = cap;
    }
    memcpy (self->line + self->line_len, piece, size);
    self->line_len = need;
    return 0;
}

//  Reads the next physical line, without its "\n" and without one "\r" just
//  before it (or at end of input). Sets *data/*size to the line; a line too
//  long to store comes back with *data NULL and *size its length. Returns 1,
//  0 at end of input, or -1 with self->error set.
static int s_read_line (sl_taskfile_t *self, const uint8_t **data, size_t *size)
{
    self->line_len = 0;
    self->line_over = false;
    self->line_last = 0;
    bool begun = false; //  True once a byte of this line has been seen
    bool ended = false; //  True once its "\n" has been seen

    while (!ended) {
        if (self->pos == self->len) {
            if (self->eof)
                break;
            ssize_t got = s_fill (self);
            if (got < 0) {
                snprintf (self->error, sizeof (self->error), "cannot read %s: %s", self->name,
                          strerror (errno));
                return -1;
            }
            if (got == 0) {
                self->eof = true;
                break;
            }
        }
        if (!begun) {
            begun = true;
            self->lineno++;
        }
        const uint8_t *start = self->buf + self->pos;
        size_t avail = self->len - self->pos;
        const uint8_t *newline = memchr (start, '\n', avail);
        size_t piece = newline ? (size_t) (newline - start) : avail;
        if (newline && self->line_len == 0 && !self->line_over) {
            //  Fast path: the whole line is in the buffer
            self->pos += piece + 1;
            *data = start;
            *size = piece > 0 && start [piece - 1] == '\r' ? piece - 1 : piece;
            return 1;
        }
        if (s_append (self, start, piece) != 0) {
            snprintf (self->error, sizeof (self->error), "%s:%zu: out of memory", self->name,
                      self->lineno);
            return -1;
        }
        self->pos += piece;
        if (newline) {
            self->pos++;
            ended = true;
        }
    }
    if (!begun)
        return 0;

    size_t len = self->line_len;
    if (len > 0 && self->line_last == '\r' && len < SIZE_MAX)
        len--;
    *data = self->line_over ? NULL : self->line;
    *size = len;
    return 1;
}

int sl_taskfile_next (sl_taskfile_t *self, const uint8_t **data, size_t *size, char *errbuf,
                      size_t errlen)
{
    assert (self);
    assert (data);
    assert (size);

    while (!self->error [0]) {
        const uint8_t *line;
        size_t len;
        int rc = s_read_line (self, &line, &len);
        if (rc < 0)
            break;
        if (rc == 0)
            return 0;
        if (len == 0)
            continue; //  Empty lines are not tasks
        if (!line || len > self->max_payload) {
            snprintf (self->error, sizeof (self->error),
                      "%s:%zu: line is %zu bytes, over the %zu-byte limit (--max-payload)",
                      self->name, self->lineno, len, self->max_payload);
            break;
        }
        self->task_lineno = self->lineno;
        *data = line;
        *size = len;
        return 1;
    }
    s_report (errbuf, errlen, "%s", self->error);
    return -1;
}

size_t sl_taskfile_lineno (sl_taskfile_t *self)
{
    assert (self);
    return self->task_lineno;
}

const char *sl_taskfile_name (sl_taskfile_t *self)
{
    assert (self);
    return self->name;
}
