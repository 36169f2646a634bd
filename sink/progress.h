/*  progress - the sink's live progress line on standard error (like
    parallel --bar): done/total, failures, rate, ETA and busy workers,
    redrawn in place with "\r" and "\033[K".

    Two parts. The pure part formats a line from numbers (sl_progress_format)
    and measures a rate from samples of a counter (sl_rate_t); both take the
    time as an argument and are unit-tested. The drawing part
    (sl_progress_t) draws the line at most every SL_PROGRESS_DRAW_MS and,
    while it exists, takes over czmq's log stream: a log line clears the
    progress line first (the next draw puts it back), so log messages never
    land in the middle of it. The sink draws from its event loop, never
    per result.
*/
#ifndef SL_PROGRESS_H_INCLUDED
#define SL_PROGRESS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_PROGRESS_DRAW_MS 200 //  at most 5 redraws a second

//  What the line shows.
typedef struct {
    const char *job;    //  job shown
    size_t more_jobs;   //  other incomplete jobs the sink collects
    uint64_t done;      //  results written (with those found by --resume)
    uint64_t total;     //  tasks in the job, 0 = not known yet
    uint64_t failed;    //  of done: failed or timed out
    double rate;        //  results per second, < 0 = not known yet
    bool have_workers;  //  the broker answered: workers and busy are known
    uint32_t workers;   //  workers connected to the broker
    uint32_t busy;      //  of those, running something
    bool throttled;     //  the broker paused intake at its memory limit
    uint64_t held;      //  --keep-order: results held back, waiting for a gap
    bool final;         //  the last line: the time taken instead of the ETA
    int64_t elapsed_ms; //  for the final line: how long the sink ran
} sl_progress_stats_t;

//  Formats the line (no "\r", no escape, no newline) into buf, cut to
//  width columns when width > 0. Returns its length (< size).
size_t sl_progress_format (char *buf, size_t size, const sl_progress_stats_t *stats, size_t width);

//  --- Rate: results per second over the last few seconds ---------------------

#define SL_RATE_SAMPLES 64     //  samples kept
#define SL_RATE_WINDOW_MS 5000 //  the rate is measured over this long
#define SL_RATE_MIN_MS 500     //  a shorter span gives no rate yet

typedef struct {
    int64_t at [SL_RATE_SAMPLES];     //  when each sample was taken (ms)
    uint64_t count [SL_RATE_SAMPLES]; //  the counter then
    size_t head;                      //  index of the newest sample
    size_t size;                      //  samples held
} sl_rate_t;

//  Adds a sample: the counter was count at time now (ms, non-decreasing).
//  Zero-initialise an sl_rate_t before the first sample.
void sl_rate_add (sl_rate_t *self, int64_t now, uint64_t count);

//  The counter's growth per second from the oldest sample within
//  SL_RATE_WINDOW_MS of the newest to the newest; -1 if they span less
//  than SL_RATE_MIN_MS.
double sl_rate_get (const sl_rate_t *self);

//  --- Drawing -----------------------------------------------------------------

typedef struct _sl_progress_t sl_progress_t;

//  Starts drawing on file descriptor fd (standard error) and routes czmq's
//  log stream through the progress line; now (ms) starts the clock of the
//  final line. Returns NULL if out of memory. Caller owns the result.
sl_progress_t *sl_progress_new (int fd, int64_t now);

//  Clears the line if one is shown, gives czmq's log stream back to stderr
//  and frees the object. NULL-safe; nulls *self_p.
void sl_progress_destroy (sl_progress_t **self_p);

//  When the next draw is due (ms); INT64_MAX after the final line.
int64_t sl_progress_next (sl_progress_t *self);

//  Draws the line for stats (the rate is measured here from the samples
//  of stats->done: stats->rate is set) and schedules the next draw.
void sl_progress_draw (sl_progress_t *self, sl_progress_stats_t *stats, int64_t now);

//  Clears the line if it is shown (before something else writes to the
//  same terminal, e.g. results on standard output); the next draw puts it
//  back.
void sl_progress_clear (sl_progress_t *self);

//  Draws the final line (rate: the average since the first draw) and ends
//  it with a newline, if any line was drawn before; later draws do nothing.
void sl_progress_finish (sl_progress_t *self, sl_progress_stats_t *stats, int64_t now);

#endif
