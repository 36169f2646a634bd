/*  outbox - answers that wait for their journal records to be durable.

    The broker's rule: nothing it tells a client about a state change
    (cancelled, finished, ...) goes out before the journal record that makes
    it true is committed. A crash between the answer and the commit would
    otherwise leave a client believing something the restarted broker does
    not know. So such an answer is encoded at once and queued here with the
    journal position of the last record appended (sl_journal_appended); the
    loop sends an answer once sl_journal_durable has reached its position.

    Positions only grow, so answers are queued in position order and a FIFO
    is enough: the head is always the first to become sendable. An answer
    the socket cannot take yet (a full pipe) stays at the head and keeps its
    order; one per socket, so a slow sink never holds up a ctl reply.

    Pure: no sockets, no clock. The broker sends; the outbox only keeps.
*/
#ifndef OUTBOX_H_INCLUDED
#define OUTBOX_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct _sl_outbox_t sl_outbox_t;

//  A new, empty outbox. NULL if out of memory. Caller owns it.
sl_outbox_t *sl_outbox_new (void);

//  Frees the outbox and every answer in it. NULL-safe, nulls *self_p.
void sl_outbox_destroy (sl_outbox_t **self_p);

//  Queues the encoded answer *msg_p (takes ownership and nulls it), to go
//  to routing_id (copied; NULL on a socket without routing) once position
//  `after` is durable. Returns 0, or -1 when out of memory (the answer is
//  dropped: the client asks again, as after a lost message).
int sl_outbox_add (sl_outbox_t *self, uint64_t after, zframe_t *routing_id, zframe_t **msg_p);

//  The oldest answer if its position is at most `durable`: true with
//  *routing_id_p (may be NULL) and *msg_p pointing into the outbox (valid
//  until the next pop), else false. The answer stays queued.
bool sl_outbox_peek (sl_outbox_t *self, uint64_t durable, zframe_t **routing_id_p,
                     zframe_t **msg_p);

//  Drops the oldest answer (sent, or its client gone).
void sl_outbox_pop (sl_outbox_t *self);

//  Answers queued.
size_t sl_outbox_size (sl_outbox_t *self);

//  Drops every answer (their client left).
void sl_outbox_purge (sl_outbox_t *self);

#endif
