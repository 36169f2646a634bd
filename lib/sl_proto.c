/*  sl_proto - packs and unpacks sluice envelopes, see sl_proto.h.

    Hot path: messages are packed straight into a zmq_msg_t of the right
    size and unpacked straight from the received zmq_msg_t, with no
    intermediate copy.

    A decoded envelope lives in an arena. protobuf-c's unpack would malloc
    every submessage, string, bytes field and array (a batch of 30 tasks is
    some 60 mallocs) and free_unpacked would walk the message to free them
    one by one; the broker spent a sixth of its instructions in malloc and
    free. Instead unpack carves them from one block sized from the frame,
    with more blocks chained on if that was not enough, freeing is a no-op,
    and sl_proto_free frees the blocks. The block's first bytes hold the
    arena and the envelope comes right after them (protobuf-c allocates the
    top message first; decode checks it), which is how sl_proto_free finds
    the arena from the envelope alone.
*/
#include "sl_proto.h"

#include <errno.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

//  Every allocation is aligned as malloc's are.
#define ARENA_ALIGN alignof (max_align_t)
#define ARENA_ROUND(n) (((n) + ARENA_ALIGN - 1) & ~(size_t) (ARENA_ALIGN - 1))
//  First block: the frame's size times this, plus ARENA_SLACK. A batch of
//  tasks or results of ~100 bytes decodes to 2.3 times its wire size (a
//  struct of 80-120 bytes each, the payload copied whole), an ack to 3, so
//  the broker's messages fit in the first block; smaller tasks take a
//  second one.
#define ARENA_FACTOR 3
#define ARENA_SLACK 512

typedef struct _s_block_t s_block_t;
struct _s_block_t {
    s_block_t *next; //  the block added before this one
};

typedef struct {
    uint8_t *at;     //  next free byte of the current block
    uint8_t *end;    //  end of the current block
    size_t last;     //  size of the block added last (blocks grow by doubling)
    s_block_t *more; //  blocks added after the first, newest first (owned)
} s_arena_t;

//  Room the arena and a block's link take at the start of their blocks.
#define ARENA_HEAD ARENA_ROUND (sizeof (s_arena_t))
#define BLOCK_HEAD ARENA_ROUND (sizeof (s_block_t))

//  A new arena of one block with room for at least `room` bytes after the
//  head. NULL if out of memory.
static s_arena_t *s_arena_new (size_t room)
{
    if (room > SIZE_MAX / 2)
        return NULL;
    size_t size = ARENA_HEAD + ARENA_ROUND (room);
    s_arena_t *self = (s_arena_t *) malloc (size);
    if (self) {
        self->at = (uint8_t *) self + ARENA_HEAD;
        self->end = (uint8_t *) self + size;
        self->last = size;
        self->more = NULL;
    }
    return self;
}

static void s_arena_destroy (s_arena_t **self_p)
{
    s_arena_t *self = *self_p;
    if (!self)
        return;
    while (self->more) {
        s_block_t *next = self->more->next;
        free (self->more);
        self->more = next;
    }
    free (self);
    *self_p = NULL;
}

//  ProtobufCAllocator.alloc: the next `size` bytes of the current block, or
//  of a new one at least twice as big as the last (so a message that
//  decodes to far more than its frame costs a logarithmic number of
//  mallocs). NULL if out of memory.
static void *s_arena_alloc (void *data, size_t size)
{
    s_arena_t *self = (s_arena_t *) data;
    if (size > SIZE_MAX / 4)
        return NULL;
    size = ARENA_ROUND (size);
    if (size > (size_t) (self->end - self->at)) {
        size_t want = self->last * 2;
        if (want < BLOCK_HEAD + size)
            want = BLOCK_HEAD + size;
        s_block_t *block = (s_block_t *) malloc (want);
        if (!block)
            return NULL;
        block->next = self->more;
        self->more = block;
        self->last = want;
        self->at = (uint8_t *) block + BLOCK_HEAD;
        self->end = (uint8_t *) block + want;
    }
    void *ptr = self->at;
    self->at += size;
    return ptr;
}

//  ProtobufCAllocator.free: nothing; the arena goes as a whole.
static void s_arena_free (void *data, void *ptr)
{
    (void) data;
    (void) ptr;
}

//  The arena whose first allocation env was.
static s_arena_t *s_arena_of (const sl_env_t *env)
{
    return (s_arena_t *) ((const uint8_t *) env - ARENA_HEAD);
}

//  True unless msg itself (not its submessages) holds an unknown field 0.
static bool s_no_unknown_zero (const ProtobufCMessage *msg)
{
    for (unsigned i = 0; i < msg->n_unknown_fields; i++)
        if (msg->unknown_fields [i].tag == 0)
            return false;
    return true;
}

//  Whether messages of desc have a field of message type.
static bool s_has_submessages (const ProtobufCMessageDescriptor *desc)
{
    for (unsigned i = 0; i < desc->n_fields; i++)
        if (desc->fields [i].type == PROTOBUF_C_TYPE_MESSAGE)
            return true;
    return false;
}

//  protobuf-c keeps an unknown field numbered 0 when its tag takes two
//  bytes, but refuses the same field when it reads the message again (e.g.
//  from the broker's journal). Field 0 is never valid: refuse it anywhere.
//  The items of a repeated field whose type has no submessages (tasks,
//  results) only get their own unknown fields checked: no walk of their
//  descriptor for each one.
static bool s_no_field_zero (const ProtobufCMessage *msg)
{
    if (!s_no_unknown_zero (msg))
        return false;
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = &desc->fields [i];
        if (field->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *base = (const char *) msg;
        if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF &&
            *(const uint32_t *) (base + field->quantifier_offset) != field->id)
            continue; //  not the member of its oneof that is set
        if (field->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *) (base + field->quantifier_offset);
            ProtobufCMessage *const *items =
                *(ProtobufCMessage *const *const *) (base + field->offset);
            bool deep = n && s_has_submessages (field->descriptor);
            for (size_t k = 0; k < n; k++)
                if (items [k] &&
                    !(deep ? s_no_field_zero (items [k]) : s_no_unknown_zero (items [k])))
                    return false;
        } else {
            const ProtobufCMessage *sub = *(ProtobufCMessage *const *) (base + field->offset);
            if (sub && !s_no_field_zero (sub))
                return false;
        }
    }
    return true;
}

//  sl_proto_unpack without the check for fields numbered 0.
static ProtobufCMessage *s_unpack (const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                                   size_t size, char *err, size_t errlen)
{
    assert (desc);
    if (size == 0) {
        snprintf (err, errlen, "empty message");
        return NULL;
    }
    //  (A frame too big to multiply cannot be allocated anyway.)
    size_t room = size <= SIZE_MAX / 8 ? ARENA_FACTOR * size + ARENA_SLACK : SIZE_MAX;
    s_arena_t *arena = s_arena_new (room);
    if (!arena) {
        snprintf (err, errlen, "out of memory decoding a message of %zu bytes", size);
        return NULL;
    }
    ProtobufCAllocator allocator = { s_arena_alloc, s_arena_free, arena };
    ProtobufCMessage *msg = protobuf_c_message_unpack (desc, &allocator, size, data);
    if (!msg) {
        snprintf (err, errlen, "undecodable message of %zu bytes (not a %s)", size, desc->name);
        s_arena_destroy (&arena);
        return NULL;
    }
    if ((void *) s_arena_of ((const sl_env_t *) msg) != (void *) arena) {
        //  A protobuf-c that no longer allocates the top message first:
        //  sl_proto_release could not find the arena. Never seen; say so
        //  rather than corrupt the heap.
        snprintf (err, errlen,
                  "cannot decode: protobuf-c %s put the message elsewhere in its arena",
                  protobuf_c_version ());
        s_arena_destroy (&arena);
        return NULL;
    }
    return msg;
}

//  The message if it has no field numbered 0, else NULL (it is freed).
static void *s_checked (ProtobufCMessage *msg, char *err, size_t errlen)
{
    if (msg && !s_no_field_zero (msg)) {
        snprintf (err, errlen, "message with an invalid field number 0");
        sl_proto_release (&msg);
    }
    return msg;
}

void *sl_proto_unpack (const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t size,
                       char *err, size_t errlen)
{
    return s_checked (s_unpack (desc, data, size, err, errlen), err, errlen);
}

void sl_proto_release (void *msg_p)
{
    void **p = (void **) msg_p;
    assert (p);
    if (*p) {
        s_arena_t *arena = s_arena_of ((const sl_env_t *) *p);
        s_arena_destroy (&arena);
        *p = NULL;
    }
}

uint8_t *sl_proto_pack (const ProtobufCMessage *msg, uint8_t *stack, size_t stacklen,
                        size_t *size_p)
{
    assert (msg);
    size_t size = protobuf_c_message_get_packed_size (msg);
    uint8_t *buffer = size <= stacklen ? stack : (uint8_t *) malloc (size ? size : 1);
    if (!buffer)
        return NULL;
    protobuf_c_message_pack (msg, buffer);
    *size_p = size;
    return buffer;
}

sl_env_t *sl_proto_decode (const uint8_t *data, size_t size, uint32_t *version_p, char *err,
                           size_t errlen)
{
    if (version_p)
        *version_p = 0;
    sl_env_t *env = (sl_env_t *) s_unpack (&sluice__envelope__descriptor, data, size, err, errlen);
    if (!env) {
        if (size && strstr (err, "undecodable"))
            snprintf (err, errlen, "undecodable message of %zu bytes (not a sluice envelope)",
                      size);
        return NULL;
    }
    if (version_p)
        *version_p = env->version;
    if (env->version != SL_PROTOCOL_VERSION) {
        snprintf (err, errlen, "peer speaks sluice protocol version %u, this program speaks %u",
                  env->version, SL_PROTOCOL_VERSION);
        sl_proto_release (&env);
        return NULL;
    }
    if (!(env = s_checked (&env->base, err, errlen)))
        return NULL;
    if (env->body_case == SLUICE__ENVELOPE__BODY__NOT_SET) {
        snprintf (err, errlen, "envelope without a body (unknown message type?)");
        sl_proto_release (&env);
        return NULL;
    }
    return env;
}

void sl_proto_free (sl_env_t **env_p)
{
    assert (env_p);
    sl_proto_release (env_p);
}

size_t sl_proto_blocks (const sl_env_t *env)
{
    assert (env);
    const s_arena_t *arena = s_arena_of (env);
    size_t blocks = 1;
    for (const s_block_t *block = arena->more; block; block = block->next)
        blocks++;
    return blocks;
}

//  Discards the remaining frames of a multipart message.
static void s_drain_more (void *handle)
{
    int more = 1;
    size_t more_size = sizeof more;
    while (zmq_getsockopt (handle, ZMQ_RCVMORE, &more, &more_size) == 0 && more) {
        zmq_msg_t part;
        zmq_msg_init (&part);
        int rc = zmq_msg_recv (&part, handle, 0);
        zmq_msg_close (&part);
        if (rc < 0)
            break;
    }
}

sl_recv_t sl_proto_recv (zsock_t *sock, sl_env_t **env_p, zframe_t **routing_id_p, char *err,
                         size_t errlen)
{
    return sl_proto_recv_user (sock, env_p, routing_id_p, NULL, 0, err, errlen);
}

sl_recv_t sl_proto_recv_user (zsock_t *sock, sl_env_t **env_p, zframe_t **routing_id_p, char *user,
                              size_t userlen, char *err, size_t errlen)
{
    if (user && userlen)
        user [0] = '\0';
    assert (sock);
    assert (env_p);
    *env_p = NULL;
    void *handle = zsock_resolve (sock);
    if (routing_id_p) {
        *routing_id_p = NULL;
        zmq_msg_t id;
        zmq_msg_init (&id);
        if (zmq_msg_recv (&id, handle, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&id);
            return SL_RECV_NONE;
        }
        *routing_id_p = zframe_new (zmq_msg_data (&id), zmq_msg_size (&id));
        int more = zmq_msg_more (&id);
        zmq_msg_close (&id);
        if (!more) {
            snprintf (err, errlen, "message without a body");
            return SL_RECV_BAD;
        }
    }
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    //  After a routing id the body is already here: blocking is safe.
    if (zmq_msg_recv (&msg, handle, routing_id_p ? 0 : ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&msg);
        if (routing_id_p) {
            snprintf (err, errlen, "message without a body");
            return SL_RECV_BAD;
        }
        return SL_RECV_NONE;
    }
    int more = zmq_msg_more (&msg);
    if (user && userlen) {
        const char *id = zmq_msg_gets (&msg, "User-Id");
        if (id)
            snprintf (user, userlen, "%s", id);
    }
    uint32_t version = 0;
    sl_env_t *env =
        sl_proto_decode (zmq_msg_data (&msg), zmq_msg_size (&msg), &version, err, errlen);
    zmq_msg_close (&msg);
    if (more) {
        s_drain_more (handle);
        if (env) {
            snprintf (err, errlen, "unexpected extra frames after a %s message",
                      sl_proto_body_name (env));
            sl_proto_free (&env);
        }
        return SL_RECV_BAD;
    }
    if (!env)
        return version != 0 && version != SL_PROTOCOL_VERSION ? SL_RECV_VERSION : SL_RECV_BAD;
    *env_p = env;
    return SL_RECV_OK;
}

int sl_proto_send (zsock_t *sock, zframe_t *routing_id, sl_env_t *env, int flags)
{
    assert (sock);
    assert (env);
    void *handle = zsock_resolve (sock);
    env->version = SL_PROTOCOL_VERSION;
    size_t size = sluice__envelope__get_packed_size (env);
    zmq_msg_t msg;
    if (zmq_msg_init_size (&msg, size) != 0)
        return -1;
    sluice__envelope__pack (env, zmq_msg_data (&msg));
    if (routing_id) {
        if (zmq_send (handle, zframe_data (routing_id), zframe_size (routing_id),
                      ZMQ_SNDMORE | flags) < 0) {
            int saved = errno;
            zmq_msg_close (&msg);
            errno = saved;
            return -1;
        }
    }
    if (zmq_msg_send (&msg, handle, flags) < 0) {
        int saved = errno;
        zmq_msg_close (&msg);
        errno = saved;
        return -1;
    }
    return 0;
}

zframe_t *sl_proto_encode (sl_env_t *env)
{
    assert (env);
    env->version = SL_PROTOCOL_VERSION;
    zframe_t *frame = zframe_new (NULL, sluice__envelope__get_packed_size (env));
    if (frame)
        sluice__envelope__pack (env, zframe_data (frame));
    return frame;
}

const char *sl_proto_body_name (const sl_env_t *env)
{
    switch (env->body_case) {
        case SLUICE__ENVELOPE__BODY_HELLO:
            return "hello";
        case SLUICE__ENVELOPE__BODY_WELCOME:
            return "welcome";
        case SLUICE__ENVELOPE__BODY_REFUSE:
            return "refuse";
        case SLUICE__ENVELOPE__BODY_TASKS:
            return "tasks";
        case SLUICE__ENVELOPE__BODY_JOB_END:
            return "job-end";
        case SLUICE__ENVELOPE__BODY_RESULTS:
            return "results";
        case SLUICE__ENVELOPE__BODY_ACK:
            return "ack";
        case SLUICE__ENVELOPE__BODY_JOB_DONE:
            return "job-done";
        case SLUICE__ENVELOPE__BODY_JOB_START:
            return "job-start";
        case SLUICE__ENVELOPE__BODY_JOB_QUERY:
            return "job-query";
        case SLUICE__ENVELOPE__BODY_JOB_STATE:
            return "job-state";
        case SLUICE__ENVELOPE__BODY_HEARTBEAT:
            return "heartbeat";
        case SLUICE__ENVELOPE__BODY_BYE:
            return "bye";
        case SLUICE__ENVELOPE__BODY_RELEASE:
            return "release";
        case SLUICE__ENVELOPE__BODY_CREDIT:
            return "credit";
        case SLUICE__ENVELOPE__BODY_COMMAND:
            return "command";
        case SLUICE__ENVELOPE__BODY_COMMAND_REPLY:
            return "command reply";
        case SLUICE__ENVELOPE__BODY_STATUS_REPORT:
            return "status report";
        case SLUICE__ENVELOPE__BODY_CANCEL_JOB:
            return "cancel job";
        case SLUICE__ENVELOPE__BODY_DRAIN:
            return "drain";
        case SLUICE__ENVELOPE__BODY_ATTACH_PUT:
            return "attachment piece (put)";
        case SLUICE__ENVELOPE__BODY_ATTACH_GET:
            return "attachment request";
        case SLUICE__ENVELOPE__BODY_ATTACH_CHUNK:
            return "attachment piece";
        default:
            return "unknown";
    }
}

int sl_proto_send_refuse (zsock_t *sock, zframe_t *routing_id, const char *reason)
{
    Sluice__Refuse refuse = SLUICE__REFUSE__INIT;
    refuse.reason = (char *) reason;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_REFUSE;
    env.refuse = &refuse;
    return sl_proto_send (sock, routing_id, &env, ZMQ_DONTWAIT);
}
