/*  peers - the broker's sessions: the workers and sinks that said hello,
    found by connection and by name, and when each is to be given up.

    Pure: no sockets, no clock (`now` is an argument). The broker decides
    what a hello, a heartbeat or a silence means for the tasks and the sink;
    this module keeps who is there, under which keys, and answers the
    questions a hello raises:

    - Which session must go first? A connection that says hello again
      under another name or role is a new client (the old one is given up
      first). A client that reconnects (a new connection, the same name)
      takes the place of its old session, tasks included.
    - Is the hello itself acceptable? A known role, valid job and queue
      names, and named queues only under fair dispatch.
    - Which heartbeat does the client get? Its wish, within 10..600000 ms,
      else the broker's.
    - Who is silent? A peer not heard (Hello or Heartbeat) for LIVENESS of
      its own agreed intervals.

    Workers are also listed newest first, for status and dispatch reports.
*/
#ifndef PEERS_H_INCLUDED
#define PEERS_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "fair.h"
#include "sl_proto.h"
#include "table.h"

#define SL_PEERS_LIVENESS 3           //  heartbeats a peer may miss before it is gone
#define SL_PEERS_MIN_HEARTBEAT 10     //  shortest heartbeat interval agreed (ms)
#define SL_PEERS_MAX_HEARTBEAT 600000 //  longest
#define SL_PEERS_MAX_QUEUES SL_FAIR_MAX_QUEUES

typedef struct {
    char key [64];         //  routing id in hex: the hash key
    zframe_t *routing_id;  //  to address replies (owned)
    int role;              //  Sluice__Role
    char name [128];       //  "host:pid" the peer gave
    char job [72];         //  sink: job it collects ("" = all)
    bool follow;           //  sink: never finishes
    uint32_t slots;        //  worker: tasks it runs at once
    uint32_t running;      //  worker: tasks running, from its last heartbeat
    uint32_t heartbeat_ms; //  agreed heartbeat interval
    const char *holder;    //  worker: its interned name, as the table knows it
    int64_t last_seen;     //  ms, monotonic
    zlistx_t *waiting;     //  sink: finished jobs it may not know are finished (owned strings)
    sl_fair_worker_t fair; //  worker: its credit and place in fair dispatch
    uint64_t done;         //  worker: results of it accepted
    zframe_t *dispatch_id; //  worker (fair): its routing id on the dispatch ROUTER (owned)
    char client_key [48];  //  CurveZMQ: the public key it authenticated with ("" = plain)
    bool draining;         //  worker: told to drain by sluice-ctl
    sl_queue_t *queues [SL_PEERS_MAX_QUEUES]; //  worker: the named queues it serves
    size_t nqueues;                           //  worker: how many
    uint64_t batches_seen;                    //  worker: highest ResultBatch.batch received
    uint64_t bye_batch;                       //  worker: Bye came after this batch, not yet here
} sl_peer_t;

typedef struct _sl_peers_t sl_peers_t;

//  An empty registry. NULL if out of memory. Caller owns it.
sl_peers_t *sl_peers_new (void);

//  Frees every peer and the registry. NULL-safe, nulls *self_p.
void sl_peers_destroy (sl_peers_t **self_p);

//  The peer on connection key (a routing id in hex), or NULL.
sl_peer_t *sl_peers_by_key (sl_peers_t *self, const char *key);

//  The peer that said hello under name ("host:pid"), or NULL.
sl_peer_t *sl_peers_by_name (sl_peers_t *self, const char *name);

//  A hello for role and name on connection key: the session that must be
//  given up before it can be served (the connection's own session under
//  another role or name, or an older connection under this name), or NULL.
//  Call again until NULL: there may be both. *again is set when the
//  connection already holds a session of this role and name (a hello said
//  twice: the same peer goes on).
sl_peer_t *sl_peers_superseded (sl_peers_t *self, const char *key, int role, const char *name,
                                bool *again);

//  Adds a peer for connection key (routing_id copied) with role and name,
//  seen at now; a worker goes to the front of the workers. NULL if out of
//  memory. The registry owns it.
sl_peer_t *sl_peers_add (sl_peers_t *self, const char *key, zframe_t *routing_id, int role,
                         const char *name, int64_t now);

//  Forgets peer and frees it. The caller first undoes what else knows it
//  (fair dispatch, the table's holders).
void sl_peers_remove (sl_peers_t *self, sl_peer_t *peer);

//  Peers in all, and workers among them.
size_t sl_peers_size (sl_peers_t *self);
size_t sl_peers_workers (sl_peers_t *self);

//  Iterates the workers, newest first: first, then next until NULL. Do
//  not add or remove while iterating.
sl_peer_t *sl_peers_worker_first (sl_peers_t *self);
sl_peer_t *sl_peers_worker_next (sl_peers_t *self);

//  Writes up to max peers silent at now (not heard for SL_PEERS_LIVENESS of
//  their intervals) into gone; returns how many. Remove them afterwards.
size_t sl_peers_silent (sl_peers_t *self, int64_t now, sl_peer_t **gone, size_t max);

//  The heartbeat interval a client gets: wished (0 = none) within
//  SL_PEERS_MIN_HEARTBEAT..SL_PEERS_MAX_HEARTBEAT, else dflt.
uint32_t sl_peers_heartbeat (uint32_t wished, uint32_t dflt);

//  True if hello must be refused whatever the broker's state, with the
//  reason in why: an unknown role, an invalid job id (a ventilator must
//  name one; a sink may name none), too many queues, an invalid queue
//  name, or a named queue when fair is false (--dispatch push).
bool sl_peers_hello_refused (const Sluice__Hello *hello, bool fair, char *why, size_t whylen);

#endif
