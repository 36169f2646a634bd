/*  sl_log - leveled logging on stderr, see sl_log.h.  */
#include "sl_log.h"

#include <czmq.h>
#include <stdarg.h>
#include <stdio.h>

//  The threshold is process-wide configuration set once by main() from the
//  command line, like czmq's own log identity.
static int s_level = SL_LOG_WARN;
static bool s_initialized;

void sl_log_init (const char *ident, sl_log_level_t level)
{
    s_initialized = true;
    zsys_set_logident (ident);
    zsys_set_logstream (stderr);
    zsys_set_logsystem (false);
    s_level = level;
}

bool sl_log_initialized (void)
{
    return s_initialized;
}

void sl_log_adjust (int delta)
{
    s_level += delta;
    if (s_level < -1)
        s_level = -1; //  -1 silences even errors (-q -q)
    if (s_level > SL_LOG_DEBUG)
        s_level = SL_LOG_DEBUG;
}

bool sl_log_enabled (sl_log_level_t level)
{
    return (int) level <= s_level;
}

void sl_log (sl_log_level_t level, const char *format, ...)
{
    if (!sl_log_enabled (level))
        return;
    char line [2048];
    va_list args;
    va_start (args, format);
    vsnprintf (line, sizeof line, format, args);
    va_end (args);
    switch (level) {
        case SL_LOG_ERROR:
            zsys_error ("%s", line);
            break;
        case SL_LOG_WARN:
            zsys_warning ("%s", line);
            break;
        case SL_LOG_INFO:
            zsys_info ("%s", line);
            break;
        default:
            zsys_debug ("%s", line);
            break;
    }
}

bool sl_ratelimit_allow (sl_ratelimit_t *self, int64_t now, uint32_t *suppressed_p)
{
    if (now - self->window_start >= self->period_ms) {
        self->window_start = now;
        self->used = 0;
    }
    if (self->used < self->burst) {
        self->used++;
        if (suppressed_p)
            *suppressed_p = self->suppressed;
        self->suppressed = 0;
        return true;
    }
    self->suppressed++;
    return false;
}

void sl_warn_dropped (const char *format, ...)
{
    //  Process-wide, like the log threshold: every module of a client shares it.
    static sl_ratelimit_t limit = SL_RATELIMIT_INIT (10, 60000);
    uint32_t suppressed = 0;
    if (!sl_log_enabled (SL_LOG_WARN) || !sl_ratelimit_allow (&limit, zclock_mono (), &suppressed))
        return;
    char line [1024];
    va_list args;
    va_start (args, format);
    vsnprintf (line, sizeof line, format, args);
    va_end (args);
    if (suppressed)
        sl_warn ("%s (and %u more dropped messages not logged)", line, suppressed);
    else
        sl_warn ("%s", line);
}
