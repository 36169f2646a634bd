/*  progress - the sink's live progress line, see progress.h.

    Log lines reach the terminal through a stdio stream made with
    fopencookie and set as czmq's log stream: its write function clears the
    progress line before it writes the log text. A mutex guards the "line
    is shown" flag and the writes, as czmq may log from its own threads.
*/
#include "progress.h"

#include <czmq.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define CLEAR_LINE "\r\033[K"

//  Appends a formatted piece to buf [*len..size), keeping it NUL-terminated
//  (cut if it does not fit).
static void __attribute__ ((format (printf, 4, 5)))
s_add (char *buf, size_t size, size_t *len, const char *format, ...)
{
    if (*len + 1 >= size)
        return;
    va_list args;
    va_start (args, format);
    int n = vsnprintf (buf + *len, size - *len, format, args);
    va_end (args);
    if (n > 0)
        *len = *len + (size_t) n < size ? *len + (size_t) n : size - 1;
}

//  Appends a duration as h:mm:ss or m:ss.
static void s_add_duration (char *buf, size_t size, size_t *len, uint64_t seconds)
{
    if (seconds >= 100 * 3600)
        s_add (buf, size, len, ">99h");
    else if (seconds >= 3600)
        s_add (buf, size, len, "%" PRIu64 ":%02" PRIu64 ":%02" PRIu64, seconds / 3600,
               seconds / 60 % 60, seconds % 60);
    else
        s_add (buf, size, len, "%" PRIu64 ":%02" PRIu64, seconds / 60, seconds % 60);
}

static void s_add_rate (char *buf, size_t size, size_t *len, double rate)
{
    if (rate < 0)
        s_add (buf, size, len, "?/s");
    else if (rate < 10)
        s_add (buf, size, len, "%.1f/s", rate);
    else
        s_add (buf, size, len, "%.0f/s", rate);
}

size_t sl_progress_format (char *buf, size_t size, const sl_progress_stats_t *st, size_t width)
{
    assert (buf && size > 0);
    assert (st);
    size_t len = 0;
    buf [0] = '\0';
    s_add (buf, size, &len, "%s  %" PRIu64 "/", st->job ? st->job : "?", st->done);
    if (st->total) {
        uint64_t done = st->done < st->total ? st->done : st->total;
        s_add (buf, size, &len, "%" PRIu64 " %3u%%", st->total,
               (unsigned) (done * 100 / st->total));
    } else
        s_add (buf, size, &len, "?");
    s_add (buf, size, &len, "  %" PRIu64 " failed  ", st->failed);
    s_add_rate (buf, size, &len, st->rate);
    if (st->final) {
        s_add (buf, size, &len, "  in ");
        if (st->elapsed_ms < 60000)
            s_add (buf, size, &len, "%.1f s", (double) st->elapsed_ms / 1000);
        else
            s_add_duration (buf, size, &len, (uint64_t) st->elapsed_ms / 1000);
    } else {
        s_add (buf, size, &len, "  ETA ");
        if (st->total && st->done >= st->total)
            s_add (buf, size, &len, "0:00");
        else if (st->total && st->rate > 0)
            s_add_duration (buf, size, &len,
                            (uint64_t) ((double) (st->total - st->done) / st->rate + 0.5));
        else
            s_add (buf, size, &len, "?");
        if (st->have_workers)
            s_add (buf, size, &len, "  workers %" PRIu32 "/%" PRIu32 " busy", st->busy,
                   st->workers);
        else
            s_add (buf, size, &len, "  workers ?");
    }
    if (st->held)
        s_add (buf, size, &len, "  %" PRIu64 " held", st->held);
    if (st->more_jobs)
        s_add (buf, size, &len, "  (+%zu job%s)", st->more_jobs, st->more_jobs == 1 ? "" : "s");
    if (st->throttled && !st->final)
        s_add (buf, size, &len, "  broker throttled");
    if (width && len > width) {
        len = width;
        buf [len] = '\0';
    }
    return len;
}

//  --- Rate --------------------------------------------------------------------

void sl_rate_add (sl_rate_t *self, int64_t now, uint64_t count)
{
    assert (self);
    self->head = self->size ? (self->head + 1) % SL_RATE_SAMPLES : 0;
    self->at [self->head] = now;
    self->count [self->head] = count;
    if (self->size < SL_RATE_SAMPLES)
        self->size++;
}

double sl_rate_get (const sl_rate_t *self)
{
    assert (self);
    if (self->size < 2)
        return -1;
    int64_t newest = self->at [self->head];
    //  Back from the newest to the oldest sample still in the window.
    size_t oldest = self->head;
    for (size_t i = 1; i < self->size; i++) {
        size_t at = (self->head + SL_RATE_SAMPLES - i) % SL_RATE_SAMPLES;
        if (newest - self->at [at] > SL_RATE_WINDOW_MS)
            break;
        oldest = at;
    }
    int64_t span = newest - self->at [oldest];
    if (span < SL_RATE_MIN_MS || self->count [self->head] < self->count [oldest])
        return -1;
    return (double) (self->count [self->head] - self->count [oldest]) * 1000.0 / (double) span;
}

//  --- Drawing -----------------------------------------------------------------

struct _sl_progress_t {
    int fd;               //  where the line goes (standard error)
    pthread_mutex_t lock; //  guards shown and the writes to fd
    bool shown;           //  a progress line is on the screen now
    bool finished;        //  the final line was drawn
    FILE *log;            //  czmq's log stream while we exist, or NULL
    int64_t started;      //  when we started (ms)
    int64_t first_at;     //  when the first line was drawn, 0 = not yet
    uint64_t first_done;  //  the done count then
    int64_t next_draw;    //  when the next draw is due
    sl_rate_t rate;       //  samples of the done count, one per draw
    char line [512];      //  the line being drawn
};

//  Writes all of data to fd. Errors are ignored: there is no one to tell.
static void s_write_all (int fd, const char *data, size_t size)
{
    while (size) {
        ssize_t n = write (fd, data, size);
        if (n <= 0)
            return;
        data += n;
        size -= (size_t) n;
    }
}

//  The log stream's write function: clears the line, then writes the text.
static ssize_t s_log_write (void *cookie, const char *data, size_t size)
{
    sl_progress_t *self = (sl_progress_t *) cookie;
    pthread_mutex_lock (&self->lock);
    if (self->shown) {
        s_write_all (self->fd, CLEAR_LINE, strlen (CLEAR_LINE));
        self->shown = false;
    }
    s_write_all (self->fd, data, size);
    pthread_mutex_unlock (&self->lock);
    return (ssize_t) size;
}

sl_progress_t *sl_progress_new (int fd, int64_t now)
{
    sl_progress_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->fd = fd;
    self->started = now;
    self->next_draw = now;
    pthread_mutex_init (&self->lock, NULL);
    cookie_io_functions_t io = { .write = s_log_write };
    self->log = fopencookie (self, "w", io);
    if (self->log)
        zsys_set_logstream (self->log);
    return self;
}

void sl_progress_destroy (sl_progress_t **self_p)
{
    assert (self_p);
    sl_progress_t *self = *self_p;
    if (!self)
        return;
    if (self->log) {
        zsys_set_logstream (stderr);
        fclose (self->log);
    }
    sl_progress_clear (self);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

int64_t sl_progress_next (sl_progress_t *self)
{
    assert (self);
    return self->finished ? INT64_MAX : self->next_draw;
}

//  Terminal width in columns, or 0 (no limit) if fd is not a terminal.
static size_t s_width (int fd)
{
    struct winsize ws;
    if (ioctl (fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
        return (size_t) ws.ws_col - 1; //  a full last column wraps on some terminals
    return 0;
}

static void s_draw (sl_progress_t *self, const sl_progress_stats_t *stats, bool final)
{
    size_t len = strlen (CLEAR_LINE);
    memcpy (self->line, CLEAR_LINE, len);
    len += sl_progress_format (self->line + len, sizeof self->line - len - 1, stats,
                               s_width (self->fd));
    if (final)
        self->line [len++] = '\n';
    pthread_mutex_lock (&self->lock);
    s_write_all (self->fd, self->line, len);
    self->shown = !final;
    pthread_mutex_unlock (&self->lock);
}

void sl_progress_draw (sl_progress_t *self, sl_progress_stats_t *stats, int64_t now)
{
    assert (self);
    assert (stats);
    if (self->finished)
        return;
    if (!self->first_at) {
        self->first_at = now;
        self->first_done = stats->done;
    }
    sl_rate_add (&self->rate, now, stats->done);
    stats->rate = sl_rate_get (&self->rate);
    stats->final = false;
    s_draw (self, stats, false);
    self->next_draw = now + SL_PROGRESS_DRAW_MS;
}

void sl_progress_clear (sl_progress_t *self)
{
    assert (self);
    pthread_mutex_lock (&self->lock);
    if (self->shown)
        s_write_all (self->fd, CLEAR_LINE, strlen (CLEAR_LINE));
    self->shown = false;
    pthread_mutex_unlock (&self->lock);
}

void sl_progress_finish (sl_progress_t *self, sl_progress_stats_t *stats, int64_t now)
{
    assert (self);
    assert (stats);
    if (self->finished)
        return;
    self->finished = true;
    if (!self->first_at)
        return; //  nothing was shown: nothing to end
    stats->elapsed_ms = now - self->started;
    int64_t span = self->first_at ? now - self->first_at : 0;
    stats->rate = span > 0 && stats->done >= self->first_done
                      ? (double) (stats->done - self->first_done) * 1000.0 / (double) span
                      : -1;
    stats->final = true;
    s_draw (self, stats, true);
}
