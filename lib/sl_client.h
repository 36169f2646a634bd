/*  sl_client - a client's connection to the broker: the control DEALER, the
    hello/welcome handshake, and the data sockets derived from the one
    broker address.

    The control socket sets ZMQ_IMMEDIATE, so nothing queues up for a broker
    that is not there: the handshake re-sends its hello until the broker
    answers, which makes every start order work and lets the client say
    "waiting for broker at ..." meanwhile.
*/
#ifndef SL_CLIENT_H_INCLUDED
#define SL_CLIENT_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "sl_curve.h"
#include "sl_endpoint.h"
#include "sl_proto.h"

typedef struct _sl_client_t sl_client_t;

//  Creates the control DEALER connected to the broker's control port,
//  with CurveZMQ when curve is on (the caller keeps curve alive as long as
//  the client). Returns NULL with a message in err if the endpoint is
//  invalid. Caller owns the result.
sl_client_t *sl_client_new (const char *broker, const sl_curve_client_t *curve, char *err,
                            size_t errlen);

//  Closes every socket the client opened. NULL-safe, nulls *self_p.
void sl_client_destroy (sl_client_t **self_p);

//  The control DEALER (owned by the client).
zsock_t *sl_client_control (sl_client_t *self);

//  The broker address given to sl_client_new.
const char *sl_client_broker (sl_client_t *self);

//  Sets the routing id of the DEALER sockets opened from now on (a
//  worker's dispatch DEALER is known to the broker by its name). NULL: none.
void sl_client_set_routing_id (sl_client_t *self, const char *routing_id);

//  Sets the send high-water mark (messages) of the sockets opened from now
//  on; 0 = libzmq's default.
void sl_client_set_sndhwm (sl_client_t *self, int messages);

//  Opens a socket of ZMQ type `type` connected to the broker's port `port`.
//  The client owns it and closes it in sl_client_destroy. linger_ms is set
//  deliberately (czmq's default of 0 drops unsent messages at close).
//  Returns NULL with a message in err on failure.
zsock_t *sl_client_open (sl_client_t *self, sl_port_t port, int type, int linger_ms, char *err,
                         size_t errlen);

//  Opens the collector's delivery DEALER, connected to the broker's delivery
//  port with routing id `name` (its Hello.name: the broker addresses its
//  results by it; delivery protocol SL_DELIVERY_VERSION). Open it before
//  the hello, so that it is connected when results start to come. Owned
//  by the client. NULL with a message in err on failure.
zsock_t *sl_client_open_delivery (sl_client_t *self, const char *name, char *err, size_t errlen);

typedef enum {
    SL_HELLO_WELCOME = 0,     //  accepted; *welcome_p holds the broker's welcome
    SL_HELLO_TIMEOUT = -1,    //  no answer within timeout_ms
    SL_HELLO_REFUSED = -2,    //  refused, or the broker is incompatible; err says why
    SL_HELLO_INTERRUPTED = -3 //  SIGINT/SIGTERM while waiting
} sl_hello_t;

//  Says hello (re-sent every 250 ms until the broker answers) and waits for
//  the welcome. timeout_ms < 0 waits forever. After one second without an
//  answer it logs "waiting for broker at ..." (and again every 30 s).
//  On SL_HELLO_WELCOME the caller owns *welcome_p.
sl_hello_t sl_client_hello (sl_client_t *self, Sluice__Hello *hello, int64_t timeout_ms,
                            sl_env_t **welcome_p, char *err, size_t errlen);

//  Sends env on the control socket without blocking. Returns 0, or -1 if the
//  broker is not connected right now (EAGAIN) or on error.
int sl_client_send (sl_client_t *self, sl_env_t *env);

//  Sends an Ack (client: the sl_client_t). Shaped as the callback of
//  sl_collect_acks.
void sl_client_send_ack (void *client, const Sluice__Ack *ack);

//  --- The link after the welcome --------------------------------------------
//  Once welcomed, a client heartbeats every agreed interval and expects the
//  broker to answer each one. A broker silent for 3 intervals is lost: the
//  client says hello again (the same hello) until a broker welcomes it. A
//  broker that answers with another broker id, or says it does not know the
//  client, restarted: the client says hello again too.

typedef enum {
    SL_LINK_NONE = 0,  //  nothing changed
    SL_LINK_LOST,      //  the broker stopped answering
    SL_LINK_BACK,      //  welcomed again by the same broker instance
    SL_LINK_RESTARTED, //  welcomed by a new broker instance
    SL_LINK_REFUSED    //  the broker refused the new hello (logged)
} sl_link_t;

//  Replaces the hello re-sent after a loss (e.g. a sink's list of the jobs
//  it still waits for changed).
void sl_client_set_hello (sl_client_t *self, Sluice__Hello *hello);

//  True while the client is welcomed by a live broker.
bool sl_client_connected (sl_client_t *self);

//  The agreed heartbeat interval (ms) and the broker's id, from the welcome.
uint32_t sl_client_heartbeat_ms (sl_client_t *self);
const char *sl_client_broker_id (sl_client_t *self);

//  True if a heartbeat is due at `now` (connected and the interval passed).
bool sl_client_heartbeat_due (sl_client_t *self, int64_t now);

//  Sends hb (or an empty heartbeat if NULL) and schedules the next one.
void sl_client_heartbeat (sl_client_t *self, Sluice__Heartbeat *hb, int64_t now);

//  A heartbeat was sent by other means (a frame made beforehand), or not
//  (sent false: no connection to the broker): schedules the next one. A
//  heartbeat that finds no connection loses the link sooner (sl_follow.h).
void sl_client_heartbeat_sent (sl_client_t *self, int64_t now, bool sent);

//  Checks the broker's liveness and re-sends hellos while lost. Call every
//  loop turn; returns SL_LINK_LOST when the broker was just found silent.
sl_link_t sl_client_tick (sl_client_t *self, int64_t now);

//  For a client that waits for answers by itself (a ventilator's job
//  queries): the broker has not answered for silent_ms. Past 3 heartbeats
//  the client moves to the next broker of its list (sl_follow.h), if it
//  has one; returns true if it did. A standby's refusal is followed by
//  handing it to sl_client_handle.
bool sl_client_silent (sl_client_t *self, int64_t silent_ms, int64_t now);

//  Earliest time sl_client_tick or a heartbeat needs the caller again.
int64_t sl_client_next_wake (sl_client_t *self);

//  Feeds a message that arrived on the control socket. Heartbeats, welcomes
//  and refusals are the link's; *consumed tells whether env was one of them
//  (the caller still frees env). Returns what changed.
sl_link_t sl_client_handle (sl_client_t *self, sl_env_t *env, int64_t now, bool *consumed);

//  The next message waiting on the control socket, already fed to
//  sl_client_handle (*link and *consumed are its answers); bad messages
//  are dropped with a warning. NULL when none waits. Caller frees the
//  result (sl_proto_free). The one receive loop of every client:
//      while ((env = sl_client_recv (client, now, &link, &consumed))) ...
sl_env_t *sl_client_recv (sl_client_t *self, int64_t now, sl_link_t *link, bool *consumed);

#endif
