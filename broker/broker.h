/*  broker - the sluice broker's event loop: binds the five ports, reads
    what arrives, feeds the task table, and sends tasks to workers and
    results to the sink.

    All decisions about tasks live in table.c; this module only moves
    messages between sockets and the table, tracks peers (workers, the
    attached sink) and their heartbeats, and enforces one sink at a time.
*/
#ifndef BROKER_H_INCLUDED
#define BROKER_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "journal.h"
#include "journal_nats.h"
#include "sl_discover.h"

typedef struct {
    const char *bind;          //  tcp://IFACE:PORT; ports PORT..PORT+4 are bound
    const char *data_dir;      //  the journal's directory; NULL = in memory only (or NATS)
    sl_nats_config_t nats;     //  the NATS journal: .servers non-NULL = use it, not data_dir
    bool standby;              //  start as a standby on the NATS journal (role.h)
    const char *advertise;     //  where clients reach this broker, told by standbys; NULL = bind
    sl_fsync_t fsync;          //  when the journal syncs to disk
    int64_t retention_ms;      //  how long finished jobs are remembered
    uint32_t heartbeat_ms;     //  heartbeat interval offered to clients
    uint32_t sink_window;      //  results sent to the sink and not yet acknowledged, at most
    bool fair;                 //  credit-based dispatch (ROUTER); false = round-robin PUSH
    uint64_t max_payload;      //  longest task accepted (bytes)
    uint64_t max_memory;       //  tasks and results held, at most (bytes): intake pauses past it
    uint64_t max_attachment;   //  largest attachment accepted (bytes)
    uint64_t checkpoint_bytes; //  journal bytes between checkpoints (a new segment each)
    const char *curve_secret;  //  the broker's certificate: CurveZMQ on every port, NULL = plain
    const char *curve_clients; //  directory of admitted clients' public certificates, NULL = any
    const char *keys_file;     //  join keys (sl_keys.h): CurveZMQ with the join token; NULL = none
    bool insecure;             //  bound beyond loopback without CurveZMQ (--insecure): warn hourly
    const char *metrics;       //  --http (or --metrics) tcp://IFACE:PORT: dashboard, API and
                               //  Prometheus metrics over HTTP, NULL = none
} broker_config_t;

#define BROKER_DEFAULT_HEARTBEAT_MS 1000
#define BROKER_DEFAULT_SINK_WINDOW 20000
#define BROKER_DEFAULT_RETENTION_MS (24 * 3600 * 1000LL)
#define BROKER_DEFAULT_MAX_PAYLOAD (1024 * 1024)
#define BROKER_DEFAULT_MAX_MEMORY (1024ULL * 1024 * 1024)
#define BROKER_DEFAULT_MAX_ATTACHMENT (1024ULL * 1024 * 1024)
#define BROKER_DEFAULT_CHECKPOINT_BYTES (64ULL << 20)

typedef struct _broker_t broker_t;

//  Binds every port and, with a data_dir, opens the journal and rebuilds
//  the jobs it holds. Returns NULL with a message in err (naming the
//  endpoint or the file) on failure. Caller owns the result.
broker_t *broker_new (const broker_config_t *config, char *err, size_t errlen);

//  Closes the sockets and frees everything. NULL-safe, nulls *self_p.
void broker_destroy (broker_t **self_p);

//  --discover: the broker's UDP beacon (sl_discover_announce), kept saying
//  whether this broker is a standby. Borrowed: the caller destroys it after
//  broker_run.
void broker_discover_set (broker_t *self, sl_discover_t *beacon);

//  Runs until SIGINT/SIGTERM. Returns 0, or -1 if it stopped because
//  another broker wrote to its journal (fenced: see journal.h).
int broker_run (broker_t *self);

#endif
