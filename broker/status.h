/*  status - the broker's status report: its jobs (unfinished, and the most
    recently finished), its workers, its queues and its counters, as the
    StatusReport message `sluice-ctl status` receives and the dashboard's
    /api/status renders (lib/sl_status_json.c).

    Pure: the broker passes what it holds in a status_view_t, the clock
    readings included; this module only lays it out.
*/
#ifndef STATUS_H_INCLUDED
#define STATUS_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "collectors.h"
#include "finished.h"
#include "metrics.h"
#include "peers.h"
#include "sl_proto.h"
#include "standbys.h"
#include "table.h"

#define STATUS_FINISHED_JOBS 20 //  recently finished jobs listed

//  What the report is made of. Pointers are the broker's, read only.
typedef struct {
    sl_table_t *table;              //  jobs and queues
    sl_peers_t *peers;              //  workers
    sl_finished_t *finished;        //  finished jobs
    zhashx_t *job_times;            //  job id -> when it started here (int64_t ms), or NULL
    const broker_counters_t *count; //  counters
    const char *broker_id;          //  the broker's id
    const char *sink;               //  the first collector's name, or NULL
    sl_collectors_t *collectors;    //  the collectors and the jobs they hold
    int64_t now;                    //  monotonic ms, the clock job ages are kept in
    int64_t wall;                   //  wall-clock ms, for finished jobs' ages
    int64_t started_at;             //  when the broker started (monotonic ms)
    double rate;                    //  results per second lately
    uint64_t max_memory;            //  --max-memory
    bool throttled;                 //  intake paused at the memory limit
    uint64_t journal_bytes;         //  journal on disk (0 without one)
    const char *journal;            //  where the journal is (sl_journal_dir), or NULL
    const char *role;               //  "active", "standby", "deposed", or NULL (no --standby)
    const char *active_broker;      //  the address the stream names as active, or NULL
    uint64_t journal_seq;           //  the stream's last sequence read or written
    int64_t follow_age_ms;          //  a standby: since the stream last moved (ms)
    const sl_standbys_t *standbys;  //  the active broker: the standbys heard from, or NULL
} status_view_t;

//  A status report and the arrays it points into (owned).
typedef struct {
    Sluice__StatusReport report;   //  points into the arrays below and into the broker
    Sluice__JobStatus *jobs;       //  jobs listed
    Sluice__JobStatus **job_ptrs;  //  pointers to them
    Sluice__WorkerStatus *workers; //  workers listed
    Sluice__WorkerStatus **worker_ptrs;
    char **queue_names;          //  SL_PEERS_MAX_QUEUES per worker
    Sluice__QueueStatus *queues; //  queues listed
    Sluice__QueueStatus **queue_ptrs;
    Sluice__CollectorStatus *collectors; //  collectors listed
    Sluice__CollectorStatus **collector_ptrs;
    char **collector_jobs;                            //  SL_COLLECTORS_MAX_JOBS per collector
    Sluice__StandbyStatus standbys [SL_STANDBYS_MAX]; //  standbys listed
    Sluice__StandbyStatus *standby_ptrs [SL_STANDBYS_MAX];
} status_parts_t;

//  Fills parts from view. The report points into view's objects: valid
//  until status_free and the next change to them. 0, or -1 if out of memory.
int status_build (const status_view_t *view, status_parts_t *parts);

//  Frees what status_build allocated.
void status_free (status_parts_t *parts);

//  True if the worker peer serves queue.
bool status_serves (const sl_peer_t *peer, const sl_queue_t *queue);

#endif
