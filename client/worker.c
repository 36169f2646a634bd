/*  worker - the worker API of libsluice: serves queues with an in-process
    handler function. See include/sluice.h and docs/protocol.md (Workers).

    A thin shell: the options are checked and completed here, the handler
    runs in sc_slots (threads, or inline), and the protocol is the one
    worker core (lib/sl_wcore.c) in the one worker loop (lib/sl_wloop.c)
    that sluice-worker --exec runs too.

    Stopping (a signal, sluice_worker_stop, a Drain from the broker) drains
    as sluice-worker does: no new task, every task not started handed
    back, drain_timeout_ms for the running ones, then Bye listing what
    still runs. Threads cannot be stopped safely: the call returns once
    every handler has returned.
*/
#include <czmq.h>
#include <stdatomic.h>
#include <string.h>

#include "sc_options.h"
#include "sc_slots.h"
#include "sl_curve.h"
#include "sl_follow.h"
#include "sl_log.h"
#include "sl_wloop.h"
#include "sluice.h"

#define DEFAULT_ATTACH_CACHE_MAX (1024ULL * 1024 * 1024)

//  Bumped by sluice_worker_stop; each run notices a change. The library's
//  one global: an interrupt flag, like zsys_interrupted.
static atomic_uint s_stop_requests;

void sluice_worker_stop (void)
{
    atomic_fetch_add (&s_stop_requests, 1);
}

//  The stop requests a run has seen.
typedef struct {
    unsigned seen;
} stops_t;

static bool s_stop_requested (void *arg)
{
    stops_t *stops = (stops_t *) arg;
    unsigned now = atomic_load (&s_stop_requests);
    if (now == stops->seen)
        return false;
    stops->seen = now;
    return true;
}

int sluice_worker_run (const char *broker, const char *queue, sluice_handler_fn *handler,
                       void *state, const sluice_worker_options_t *options)
{
    sc_log_setup ();
    stops_t stops = { atomic_load (&s_stop_requests) };
    char err [512];
    if (!handler) {
        sl_error ("sluice_worker_run: no handler");
        return -1;
    }
    if (!broker || sl_follow_check (broker, err, sizeof err) ||
        sc_worker_options_check (queue, options, err, sizeof err)) {
        sl_error ("sluice_worker_run: %s", broker ? err : "no broker address");
        return -1;
    }
    sluice_worker_options_t opts = { 0 };
    if (options)
        opts = *options;
    char name [SC_MAX_NAME + 1];
    if (opts.name)
        snprintf (name, sizeof name, "%s", opts.name);
    else
        sc_default_name (name, sizeof name, "w");
    sl_curve_client_t curve;
    if (sl_curve_client_setup (&curve, opts.token, opts.curve_secret, opts.curve_server, err,
                               sizeof err)) {
        sl_error ("sluice_worker_run: %s", err);
        return -1;
    }
    const char *queues [SC_MAX_QUEUES];
    size_t nqueues = 0;
    if (queue)
        queues [nqueues++] = queue;
    for (size_t i = 0; i < opts.nqueues && nqueues < SC_MAX_QUEUES; i++)
        queues [nqueues++] = opts.queues [i];
    uint32_t slots = opts.slots ? opts.slots : 1;
    sc_slots_t *runner = sc_slots_new (handler, state, slots, opts.inline_handler,
                                       opts.max_output ? opts.max_output : SC_DEFAULT_MAX_OUTPUT);
    int rc = -1;
    if (runner) {
        sl_wexec_t exec = sc_slots_exec (runner);
        sl_wloop_config_t loop = {
            .broker = broker,
            .curve = &curve,
            .name = name,
            .slots = slots,
            .prefetch = opts.prefetch,
            .heartbeat_ms = opts.heartbeat_ms,
            .connect_timeout_ms = opts.connect_timeout_ms ? opts.connect_timeout_ms : -1,
            .drain_timeout_ms =
                opts.drain_timeout_ms ? opts.drain_timeout_ms : SC_DEFAULT_DRAIN_TIMEOUT_MS,
            .queues = queues,
            .nqueues = nqueues,
            .attach_cache = opts.attach_cache,
            .attach_cache_max =
                opts.attach_cache_max ? opts.attach_cache_max : DEFAULT_ATTACH_CACHE_MAX,
            .stop_requested = s_stop_requested,
            .stop_arg = &stops,
        };
        rc = sl_wloop_run (&loop, &exec);
    }
    sc_slots_destroy (&runner);
    sl_curve_client_clear (&curve);
    return rc == 0 ? 0 : -1;
}
