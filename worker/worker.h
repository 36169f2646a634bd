/*  worker - sluice-worker --exec: the worker core and loop of lib/
    (sl_wcore, sl_wloop) with the process runner (runner.h) as executor.
*/
#ifndef WORKER_H_INCLUDED
#define WORKER_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "runner.h"
#include "sl_curve.h"

#define WORKER_MAX_QUEUES 16

typedef struct {
    const char *broker;             //  tcp://HOST:PORT
    uint32_t slots;                 //  tasks run at once (-j)
    int32_t prefetch;               //  tasks held beyond the slots (fair dispatch), -1 = automatic
    uint32_t heartbeat_ms;          //  wished heartbeat (0 = the broker's)
    int64_t connect_timeout_ms;     //  how long to wait for the broker, < 0 = forever
    uint64_t drain_timeout_ms;      //  on SIGTERM, how long running tasks may finish
    runner_config_t runner;         //  what a task runs
    const sl_curve_client_t *curve; //  CurveZMQ settings (NULL or off: plain)
    char *queues [WORKER_MAX_QUEUES]; //  named queues served (--queue), none = "default"
    size_t nqueues;                   //  how many
    const char *attach_cache;  //  attachment cache directory, NULL = ~/.cache/sluice/attachments
    uint64_t attach_cache_max; //  bytes the cache may hold (files still needed excepted)
    bool realtime;             //  the loop at real-time priority (--realtime)
} worker_config_t;

//  Runs the worker until SIGINT/SIGTERM. Returns the exit status: 0, or 1
//  if the broker refused it or could not be reached in time.
int worker_run (const worker_config_t *config);

#endif
