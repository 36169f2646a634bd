/*  sc_options - the client library's options: defaults and validation.

    Pure: no sockets, no clock. sluice_options_check and the worker's
    checks are here so that the unit tests can try every bad value.
*/
#ifndef SC_OPTIONS_H_INCLUDED
#define SC_OPTIONS_H_INCLUDED

#include <stddef.h>

#include "sluice.h"

#define SC_DEFAULT_CONNECT_TIMEOUT_MS 30000
#define SC_MAX_RETRIES 100
#define SC_MAX_THEN 7            //  stages after the first (the broker has 8 at most)
#define SC_MAX_NAME 127          //  the broker keys clients by name; keep it short
#define SC_MAX_SLOTS 256         //  handler threads
#define SC_MAX_INLINE_SLOTS 4096 //  inline_handler: tasks asked for at once
#define SC_MAX_QUEUES 16         //  queues one worker serves
#define SC_DEFAULT_DRAIN_TIMEOUT_MS 30000
#define SC_DEFAULT_MAX_OUTPUT (1024 * 1024)

//  Checks a worker's options and queue (NULL = default). Returns 0, or -1
//  with err naming the bad one.
int sc_worker_options_check (const char *queue, const sluice_worker_options_t *opts, char *err,
                             size_t errlen);

//  Points the library's log (czmq's zsys log) at stderr, with the
//  identity "libsluice" and warnings shown; once per process. czmq logs to
//  stdout by default, where it would mix with a program's output.
void sc_log_setup (void);

//  Writes a default client name, "HOST:PID/" + tag + 6 random hex digits,
//  into buf.
void sc_default_name (char *buf, size_t len, const char *tag);

#endif
