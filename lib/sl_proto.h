/*  sl_proto - the one module that packs and unpacks sluice messages.

    Every message is one ZeroMQ frame holding a sluice.Envelope (see
    proto/sluice.proto); on a ROUTER socket a routing-id frame comes first.
    This module checks the protocol version and the shape of what arrives, so
    the rest of the code only ever sees well-formed envelopes of the version
    it speaks. Everything malformed is reported as an error string and the
    whole message (all its frames) is consumed.
*/
#ifndef SL_PROTO_H_INCLUDED
#define SL_PROTO_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice.pb-c.h"

//  Bump when a change to proto/sluice.proto would be misread by old peers.
#define SL_PROTOCOL_VERSION 1

//  The delivery protocol (Hello.delivery, Welcome.delivery): 2 = the broker's
//  delivery port is a ROUTER, each collector connects a DEALER whose routing
//  id is its name (1, or 0 on the wire: PUSH to PULL, one sink at a time).
#define SL_DELIVERY_VERSION 2

typedef Sluice__Envelope sl_env_t;

//  Result of sl_proto_recv.
typedef enum {
    SL_RECV_OK = 1,      //  *env_p holds a decoded envelope
    SL_RECV_NONE = 0,    //  nothing to read (EAGAIN) or interrupted
    SL_RECV_BAD = -1,    //  a malformed message was read and dropped; err says why
    SL_RECV_VERSION = -2 //  a well-formed envelope of another protocol version; err says which
} sl_recv_t;

//  Decodes one frame. Returns the envelope, or NULL with the reason in err
//  (garbage, empty, no body, or another version: *version_p gets the
//  peer's version when the envelope itself was readable, else 0).
//  Caller owns the result: free it with sl_proto_free. The envelope and
//  everything it points to (submessages, strings, bytes, arrays) live in
//  one arena that goes with it: never free a part of it, keep a pointer
//  into it past sl_proto_free, or hand it to protobuf-c's free_unpacked.
sl_env_t *sl_proto_decode (const uint8_t *data, size_t size, uint32_t *version_p, char *err,
                           size_t errlen);

//  Decodes any sluice message of type desc (the journal's records, say)
//  the way sl_proto_decode decodes envelopes: in one arena, with the same
//  checks of its shape. Returns the message, or NULL with the reason in
//  err. Free it with sl_proto_release.
void *sl_proto_unpack (const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t size,
                       char *err, size_t errlen);

//  Frees a message from sl_proto_unpack (or sl_proto_decode) and nulls the
//  pointer: msg_p is the address of the pointer. NULL-safe.
void sl_proto_release (void *msg_p);

//  Packs msg into stack if it fits in stacklen bytes, else into a new
//  buffer (free it when the result is not stack). Its size goes into
//  *size_p. NULL if out of memory.
uint8_t *sl_proto_pack (const ProtobufCMessage *msg, uint8_t *stack, size_t stacklen,
                        size_t *size_p);

//  Frees a decoded envelope and nulls the pointer. NULL-safe.
void sl_proto_free (sl_env_t **env_p);

//  Memory blocks a decoded envelope holds: 1 unless it decoded to more than
//  about three times its frame (e.g. many empty submessages). For tests.
size_t sl_proto_blocks (const sl_env_t *env);

//  Receives one message without blocking. On a ROUTER socket pass
//  routing_id_p: it gets the sender's routing id (caller owns it, also on
//  SL_RECV_BAD and SL_RECV_VERSION so the caller can answer). For other
//  sockets pass NULL.
sl_recv_t sl_proto_recv (zsock_t *sock, sl_env_t **env_p, zframe_t **routing_id_p, char *err,
                         size_t errlen);

//  sl_proto_recv that also gives the message's ZAP user id (with CurveZMQ
//  and czmq's zauth: the sender's public key in Z85) in user, "" if none.
sl_recv_t sl_proto_recv_user (zsock_t *sock, sl_env_t **env_p, zframe_t **routing_id_p, char *user,
                              size_t userlen, char *err, size_t errlen);

//  Packs env (its version is set here) and sends it. flags: 0 or
//  ZMQ_DONTWAIT. routing_id is for ROUTER sockets (not consumed), else NULL.
//  Returns 0, or -1 with errno set (EAGAIN when the socket would block,
//  EHOSTUNREACH for a gone ROUTER peer with ROUTER_MANDATORY).
int sl_proto_send (zsock_t *sock, zframe_t *routing_id, sl_env_t *env, int flags);

//  Packs env (its version is set here) into a new frame, for messages that
//  are kept and sent later. NULL if out of memory. Caller owns the result.
zframe_t *sl_proto_encode (sl_env_t *env);

//  Short name of an envelope's body ("hello", "tasks", ...) for log lines.
const char *sl_proto_body_name (const sl_env_t *env);

//  Convenience for replies: sends a Refuse with the given reason.
int sl_proto_send_refuse (zsock_t *sock, zframe_t *routing_id, const char *reason);

#endif
