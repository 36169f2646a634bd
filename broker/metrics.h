/*  metrics - the broker's counters, and their Prometheus text rendering.

    The event loop counts into a broker_counters_t; GET /metrics renders a
    metrics_view_t (the counters and the gauges read at that moment) as the
    Prometheus text format, version 0.0.4. Pure: the caller reads the clock
    and the table; this module only writes text.
*/
#ifndef METRICS_H_INCLUDED
#define METRICS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  What the broker counts from its start.
typedef struct {
    uint64_t tasks_in;          //  tasks accepted
    uint64_t results_in;        //  results accepted
    uint64_t duplicates;        //  tasks or results dropped as duplicates
    uint64_t tasks_lost;        //  runs lost with a worker or a lease
    uint64_t tasks_released;    //  runs handed back by workers
    uint64_t retries;           //  failed runs queued again
    uint64_t tasks_adopted;     //  runs from before a restart that workers still ran
    uint64_t tasks_dispatched;  //  runs sent to workers
    uint64_t dispatch_failed;   //  task batches whose send to a worker failed
    uint64_t tasks_refused;     //  tasks refused while the journal failed
    uint64_t bad_messages;      //  malformed or misdirected messages dropped
    uint64_t advanced;          //  results that sent their task on to its next stage
    uint64_t completed [5];     //  final results by sl_status_t (1..4)
    uint64_t throttle_count;    //  times intake was paused at the memory limit
    uint64_t attach_bytes_sent; //  attachment bytes sent to workers
} broker_counters_t;

//  One named queue's gauges.
typedef struct {
    const char *name; //  the queue's name
    size_t queued;    //  tasks waiting in it
    size_t workers;   //  workers serving it
} metrics_queue_t;

//  One standby the active broker hears from.
typedef struct {
    const char *address; //  its --advertise
    uint64_t lag;        //  records behind this broker's stream sequence
    double last_seen_s;  //  since its last announcement
} metrics_standby_t;

//  Everything /metrics shows, read by the broker at the moment of a request.
typedef struct {
    const broker_counters_t *count;    //  the counters
    size_t queued;                     //  tasks waiting for a worker
    size_t running;                    //  tasks dispatched
    size_t undelivered;                //  results the sink has not acknowledged
    size_t jobs;                       //  jobs not yet finished
    size_t workers;                    //  workers connected
    uint64_t worker_slots;             //  tasks they can run at once
    size_t workers_busy;               //  workers running at least one task
    bool sink_attached;                //  a sink is attached
    size_t collectors;                 //  collectors attached (sinks, libsluice clients)
    uint64_t memory_held;              //  bytes held for tasks not yet delivered
    uint64_t memory_limit;             //  --max-memory
    bool intake_paused;                //  at the memory limit
    uint64_t journal_bytes;            //  journal on disk (0 without one)
    bool ha;                           //  started --standby: the fields below are set
    int role;                          //  1 active, 0 standby, -1 deposed
    uint64_t journal_seq;              //  the stream's last sequence read or written (NATS)
    int64_t follow_age_ms;             //  a standby: since the stream last moved under it (ms)
    uint64_t takeovers;                //  times this broker took the stream over
    const metrics_standby_t *standbys; //  the active broker: the standbys it hears from
    size_t nstandbys;                  //  how many
    double uptime_s;                   //  seconds since the broker started
    const metrics_queue_t *queues;     //  the named queues
    size_t nqueues;                    //  how many
} metrics_view_t;

//  The Prometheus text for view. NULL if out of memory. Caller frees it.
char *metrics_render (const metrics_view_t *view);

#endif
