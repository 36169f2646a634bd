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

#include "sl_endpoint.h"
#include "sl_proto.h"

typedef struct _sl_client_t sl_client_t;

//  Creates the control DEALER connected to the broker's control port.
//  Returns NULL with a message in err if the endpoint is invalid.
//  Caller owns the result.
sl_client_t *sl_client_new (const char *broker, char *err, size_t errlen);

//  Closes every socket the client opened. NULL-safe, nulls *self_p.
void sl_client_destroy (sl_client_t **self_p);

//  The control DEALER (owned by the client).
zsock_t *sl_client_control (sl_client_t *self);

//  The broker address given to sl_client_new.
const char *sl_client_broker (sl_client_t *self);

//  Opens a socket of ZMQ type `type` connected to the broker's port `port`.
//  The client owns it and closes it in sl_client_destroy. linger_ms is set
//  deliberately (czmq's default of 0 drops unsent messages at close).
//  Returns NULL with a message in err on failure.
zsock_t *sl_client_open (sl_client_t *self, sl_port_t port, int type, int linger_ms, char *err,
                         size_t errlen);

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

#endif
