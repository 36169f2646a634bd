/*  sl_log - leveled logging on stderr for every sluice program.

    A thin layer over czmq's zsys log functions (which stamp each line with
    the date, time and level letter, and the program name set with
    sl_log_init). It only adds a verbosity threshold: -q lowers it, each -v
    raises it. Also a small rate limiter for messages caused by peers
    (malformed input must be logged, but a flood must not flood the log).
*/
#ifndef SL_LOG_H_INCLUDED
#define SL_LOG_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    SL_LOG_ERROR = 0, //  always shown unless -q -q
    SL_LOG_WARN = 1,  //  shown by default
    SL_LOG_INFO = 2,  //  shown by default in the broker, -v in clients
    SL_LOG_DEBUG = 3  //  -v -v
} sl_log_level_t;

//  Sets the program name shown in log lines and the threshold.
void sl_log_init (const char *ident, sl_log_level_t level);

//  True once sl_log_init was called (a program set up logging before a
//  library call that would otherwise set its own).
bool sl_log_initialized (void);

//  Adds delta (may be negative) to the threshold, clamped to the levels.
void sl_log_adjust (int delta);

//  True if messages of this level are shown.
bool sl_log_enabled (sl_log_level_t level);

void sl_log (sl_log_level_t level, const char *format, ...) __attribute__ ((format (printf, 2, 3)));

#define sl_error(...) sl_log (SL_LOG_ERROR, __VA_ARGS__)
#define sl_warn(...) sl_log (SL_LOG_WARN, __VA_ARGS__)
#define sl_info(...) sl_log (SL_LOG_INFO, __VA_ARGS__)
#define sl_debug(...) sl_log (SL_LOG_DEBUG, __VA_ARGS__)

//  Rate limiter: allows `burst` messages per `period_ms`, then counts what it
//  suppressed and reports the count with the next allowed message.
typedef struct {
    int64_t window_start; //  start of the current period (ms, monotonic)
    uint32_t used;        //  messages allowed in this period
    uint32_t suppressed;  //  messages refused since the last allowed one
    uint32_t burst;       //  allowed per period
    int64_t period_ms;    //  length of a period
} sl_ratelimit_t;

#define SL_RATELIMIT_INIT(burst, period)                                                           \
    {                                                                                              \
        0, 0, 0, (burst), (period)                                                                 \
    }

//  Returns true if a message may be logged now; *suppressed_p gets how many
//  were refused since the last one allowed.
bool sl_ratelimit_allow (sl_ratelimit_t *self, int64_t now, uint32_t *suppressed_p);

//  Logs a warning about something a peer sent that was dropped, at most
//  10 a minute (with a count of those not logged): a peer sending garbage
//  must not flood the log.
void sl_warn_dropped (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

#endif
