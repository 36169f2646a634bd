/*  admit - which CurveZMQ clients the broker lets in: the ZAP handler
    (RFC 27) of the broker's sockets, in a thread of its own, in place of
    czmq's zauth, which can admit one directory of certificates or any key
    but not the join token's key beside a directory.

    A client is admitted if its public key is the cluster client's (the
    join token's, replaced when the token is rotated), or its certificate
    is in --curve-clients DIR (re-read when DIR changes), or, with neither
    given (--curve-secret alone), any key is. Each refusal is logged with
    the client's address, at a bounded rate; so are, on a watched socket,
    clients refused before their key is known (they speak plain). The user id of an admitted
    connection is the client's public key in Z85: the broker reads it with
    every message and cuts off a client no longer admitted (admit_allows).
*/
#ifndef ADMIT_H_INCLUDED
#define ADMIT_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>

//  What the handler admits; both NULL = any key.
typedef struct {
    const char *token_key;   //  the cluster client's public key (Z85), or NULL
    const char *clients_dir; //  --curve-clients DIR, or NULL
} admit_config_t;

//  The policy, pure but for the store's re-read of its directory: true if
//  key (Z85) may talk to the broker. store is the --curve-clients store or
//  NULL; token_key "" or NULL for none.
bool admit_allows (const char *token_key, zcertstore_t *store, const char *key);

//  Starts the handler (binds inproc://zeromq.zap.01, so at most one per
//  process, before the broker binds its CURVE sockets). NULL with err.
//  Caller owns the result; zactor_destroy stops it.
zactor_t *admit_new (const admit_config_t *config, char *err, size_t errlen);

//  Logs (at a bounded rate) the handshakes that fail on sock before a key
//  reaches the handler: clients that speak plain, or hold another
//  broker's key. Best effort: a plain client that sees the mismatch first
//  and hangs up leaves only a "no detail" failure, which is not logged
//  (port probes and health checks make those too); the client itself
//  always says why. Call from the thread that owns sock. 0, or -1.
int admit_watch (zactor_t *self, zsock_t *sock);

//  Replaces the cluster client's key (a rotated token): from now on only
//  the new one is admitted. Returns once the handler has it.
void admit_set_token_key (zactor_t *self, const char *token_key);

#endif
