/*  sc_options - defaults and validation of the options, see sc_options.h.  */
#include "sc_options.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_endpoint.h"
#include "sl_log.h"
#include "sl_util.h"

void sluice_options_init (sluice_options_t *opts)
{
    if (opts)
        memset (opts, 0, sizeof *opts);
}

//  A name of a queue, job or client. Returns 0, or -1 with err.
static int s_check_id (const char *what, const char *value, char *err, size_t errlen)
{
    if (value && !sl_job_id_valid (value)) {
        snprintf (err, errlen, "%s: '%.80s' is not 1-64 characters of A-Z a-z 0-9 . _ -", what,
                  value);
        return -1;
    }
    return 0;
}

static int s_check_name (const char *value, char *err, size_t errlen)
{
    if (value && (!value [0] || strlen (value) > SC_MAX_NAME)) {
        snprintf (err, errlen, "name: must be 1-%d bytes", SC_MAX_NAME);
        return -1;
    }
    return 0;
}

int sluice_options_check (const sluice_options_t *opts, char *err, size_t errlen)
{
    if (!opts)
        return 0;
    if (s_check_id ("queue", opts->queue, err, errlen) ||
        s_check_id ("job", opts->job, err, errlen) || s_check_name (opts->name, err, errlen))
        return -1;
    size_t nthen = 0;
    for (; opts->then && opts->then [nthen]; nthen++)
        if (nthen == SC_MAX_THEN) {
            snprintf (err, errlen, "then: at most %d stages after the first", SC_MAX_THEN);
            return -1;
        } else if (s_check_id ("then", opts->then [nthen], err, errlen))
            return -1;
    if (opts->retries > SC_MAX_RETRIES) {
        snprintf (err, errlen, "retries: %u is over the most, %d", opts->retries, SC_MAX_RETRIES);
        return -1;
    }
    if (opts->map_timeout_ms < 0) {
        snprintf (err, errlen, "map_timeout_ms: must be 0 (never) or more");
        return -1;
    }
    if (opts->heartbeat_ms && (opts->heartbeat_ms < 10 || opts->heartbeat_ms > 600000)) {
        snprintf (err, errlen, "heartbeat_ms: %u is not 0 or 10-600000", opts->heartbeat_ms);
        return -1;
    }
    return 0;
}

int sc_worker_options_check (const char *queue, const sluice_worker_options_t *opts, char *err,
                             size_t errlen)
{
    if (s_check_id ("queue", queue, err, errlen))
        return -1;
    if (!opts)
        return 0;
    if (s_check_name (opts->name, err, errlen))
        return -1;
    uint32_t max_slots = opts->inline_handler ? SC_MAX_INLINE_SLOTS : SC_MAX_SLOTS;
    if (opts->slots > max_slots) {
        snprintf (err, errlen, "slots: %u is over the most, %u%s", opts->slots, max_slots,
                  opts->inline_handler ? " (inline)" : "");
        return -1;
    }
    if (opts->nqueues && !opts->queues) {
        snprintf (err, errlen, "queues: NULL with nqueues %zu", opts->nqueues);
        return -1;
    }
    if (opts->nqueues + (queue != NULL) > SC_MAX_QUEUES) {
        snprintf (err, errlen, "queues: %zu queues, the most is %d",
                  opts->nqueues + (queue != NULL), SC_MAX_QUEUES);
        return -1;
    }
    for (size_t i = 0; i < opts->nqueues; i++)
        if (!opts->queues [i]) {
            snprintf (err, errlen, "queues: entry %zu is NULL", i);
            return -1;
        } else if (s_check_id ("queue", opts->queues [i], err, errlen))
            return -1;
    if (opts->prefetch < -1) {
        snprintf (err, errlen, "prefetch: %d is not -1 (automatic) or more", opts->prefetch);
        return -1;
    }
    if (opts->heartbeat_ms && (opts->heartbeat_ms < 10 || opts->heartbeat_ms > 600000)) {
        snprintf (err, errlen, "heartbeat_ms: %u is not 0 or 10-600000", opts->heartbeat_ms);
        return -1;
    }
    if (opts->connect_timeout_ms < 0) {
        snprintf (err, errlen, "connect_timeout_ms: must be 0 (forever) or more");
        return -1;
    }
    return 0;
}

void sc_default_name (char *buf, size_t len, const char *tag)
{
    char self [200], hex [8];
    sl_self_name (self, sizeof self);
    sl_random_hex (hex, sizeof hex, 6);
    snprintf (buf, len, "%.110s/%s%s", self, tag, hex);
}

static void s_log_init (void)
{
    if (sl_log_initialized ())
        return; //  the program set it up (sluice-worker --builtin)
    sl_log_init ("libsluice", SL_LOG_WARN);
    const char *level = getenv ("SLUICE_VERBOSITY");
    if (level && *level)
        sl_log_adjust (atoi (level));
}

void sc_log_setup (void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once (&once, s_log_init);
}

void sluice_set_verbosity (int level)
{
    sc_log_setup ();
    //  sl_log levels: -1 silent, 0 errors, 1 warnings, 2 info, 3 debug.
    int now = -1;
    for (int l = SL_LOG_ERROR; l <= SL_LOG_DEBUG; l++)
        if (sl_log_enabled ((sl_log_level_t) l))
            now = l;
    sl_log_adjust (level + 1 - now);
}
