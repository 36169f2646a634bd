/*  sl_wloop - the event loop of a worker: the one shell around the worker
    core (sl_wcore.h) for sluice-worker (--exec and --builtin) and
    libsluice's sluice_worker_run.

    It connects (hello, then the dispatch and results sockets), polls the
    control, dispatch and results sockets with whatever the executor asks
    for, reads, decodes, hands events to the core and sends what the core
    queued. It owns the sockets and the clock; the core owns the protocol.
*/
#ifndef SL_WLOOP_H_INCLUDED
#define SL_WLOOP_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "sl_curve.h"
#include "sl_wexec.h"

#define SL_WLOOP_MAX_QUEUES 16

typedef struct {
    const char *broker;             //  tcp://HOST:PORT
    const sl_curve_client_t *curve; //  CurveZMQ settings (NULL or off: plain)
    const char *name;               //  name at the broker
    uint32_t slots;                 //  tasks run at once
    int32_t prefetch;               //  tasks held beyond the slots, -1 automatic
    uint32_t heartbeat_ms;          //  wished heartbeat, 0 = the broker's
    int64_t connect_timeout_ms;     //  wait for the broker this long at first, < 0 forever
    uint64_t drain_timeout_ms;      //  how long running tasks may finish when draining
    const char *const *queues;      //  queues served (nqueues of them), none = default
    size_t nqueues;
    const char *attach_cache;  //  attachment cache directory, NULL = the default
    uint64_t attach_cache_max; //  bytes it may hold (files still needed excepted)
    //  Polled every turn (and at least every 100 ms): true when a stop was
    //  asked for besides SIGINT/SIGTERM (sluice_worker_stop). NULL: none.
    bool (*stop_requested) (void *arg);
    void *stop_arg;
} sl_wloop_config_t;

//  Serves the broker with exec until stopped: the first SIGINT/SIGTERM or
//  stop request (or a Drain from the broker) drains, a second one, or the
//  drain timeout, stops at once. Returns 0, or -1 if the broker could not
//  be reached in time or refused us (logged).
int sl_wloop_run (const sl_wloop_config_t *config, sl_wexec_t *exec);

#endif
