/*  journal_window - the NATS journal's messages between publish and
    acknowledgement, in stream order, and what their answers mean.

    Pure: no NATS, no clock, no threads. journal_nats.c publishes
    asynchronously (several messages in flight, so that the broker's loop
    never waits for a round trip) and tells the window what came back; the
    window says how far the journal is durable and when it must stop.

    Each message expects the stream's last sequence to be that of the
    message before it (Nats-Expected-Last-Sequence): the first one
    expects the last sequence the journal knows (read at replay or
    acknowledged since), the next one that plus 1, and so on. A message
    sent while the one before it is still in flight also names that one's
    message id as the stream's last (Nats-Expected-Last-Msg-Id, `chained`):
    the sequence alone would let it be stored after another broker's
    message that took its predecessor's place, leaving a hole in this
    broker's records.

    Life of a message: QUEUED (cut, not sent) -> SENT -> ACKED (stored at
    `seq`) or FAILED. Acknowledgements may come back in any order (a
    timeout is made by the client library, not the server), but the
    journal is durable only up to the first message not ACKED: the head
    is popped once ACKED, never a later one before it.

    A FAILED head stops everything behind it, whatever their answers: a
    message after a failed one was either refused for expecting the
    failed one (nothing to retry but the same bytes) or stored after it
    (a duplicate of it when sent again, which JetStream's message ids
    recognise). Once nothing is SENT any more the window is settled and
    its head decides: refused for a wrong last sequence or message id
    (`fence`), another broker wrote to the stream and this one must stop;
    any other failure (a timeout, no leader) and every message is sent
    again from the head, in order, with the same expectations.

    Messages are named by the sequence they expect (unique in a window).
*/
#ifndef JOURNAL_WINDOW_H_INCLUDED
#define JOURNAL_WINDOW_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal_frame.h"

typedef enum {
    SL_PUB_QUEUED, //  cut, not sent (or to be sent again)
    SL_PUB_SENT,   //  published, no answer yet
    SL_PUB_ACKED,  //  stored at seq
    SL_PUB_FAILED  //  refused, or no answer in time
} sl_pub_state_t;

typedef struct {
    sl_frame_cut_t cut; //  the bytes of the journal's buffer it carries
    uint64_t expect;    //  the stream's last sequence it expects
    uint64_t position;  //  journal position of the last record ending in it (0: none)
    uint64_t seq;       //  its stream sequence, once ACKED
    int64_t sent_at;    //  SENT: when (ms, the caller's monotonic clock; the caller sets it)
    bool chained;       //  sent while its predecessor was in flight (see above)
    bool fence;         //  FAILED: the stream's last sequence or message was not ours
    uint8_t state;      //  sl_pub_state_t
} sl_pub_t;

typedef struct _sl_jwindow_t sl_jwindow_t;

//  A window of at most max messages, after the stream's last sequence
//  last_seq. NULL if out of memory. Caller owns it.
sl_jwindow_t *sl_jwindow_new (size_t max, uint64_t last_seq);

//  NULL-safe, nulls *self_p.
void sl_jwindow_destroy (sl_jwindow_t **self_p);

//  Messages in the window (any state), and room for more.
size_t sl_jwindow_size (sl_jwindow_t *self);
bool sl_jwindow_full (sl_jwindow_t *self);

//  The i-th oldest message (i < size). Valid until the next push or pop.
sl_pub_t *sl_jwindow_at (sl_jwindow_t *self, size_t i);

//  Adds a QUEUED message carrying cut, in which the records up to
//  position end (0 if none does). Returns it; the window must not be full.
sl_pub_t *sl_jwindow_push (sl_jwindow_t *self, sl_frame_cut_t cut, uint64_t position);

//  The oldest QUEUED message, or NULL: the next to send.
sl_pub_t *sl_jwindow_next (sl_jwindow_t *self);

//  pub was published: SENT, chained if the one before it is not ACKED.
void sl_jwindow_sent (sl_jwindow_t *self, sl_pub_t *pub);

//  The message expecting `expect` (SENT) was stored at seq. Returns false
//  if no SENT message expects it (a stray answer, ignored).
bool sl_jwindow_acked (sl_jwindow_t *self, uint64_t expect, uint64_t seq);

//  The message expecting `expect` (SENT) failed; fence: the stream
//  refused it for its expected last sequence or message id. Returns
//  false for a stray answer, ignored.
bool sl_jwindow_failed (sl_jwindow_t *self, uint64_t expect, bool fence);

//  Pops the head if it is ACKED: true with a copy in *pub (the bytes it
//  carried are durable, and so is the journal up to pub->position if
//  not 0), else false.
bool sl_jwindow_pop (sl_jwindow_t *self, sl_pub_t *pub);

//  True if a message FAILED: send nothing more until it is settled.
bool sl_jwindow_broken (sl_jwindow_t *self);

//  Messages SENT and not answered.
size_t sl_jwindow_in_flight (sl_jwindow_t *self);

//  True if the head FAILED and nothing is in flight: the head's `fence`
//  says whether to stop; otherwise sl_jwindow_rewind and send again.
bool sl_jwindow_stuck (sl_jwindow_t *self);

//  Every message back to QUEUED (same bytes, same expectations), to be
//  sent again from the head. Only when nothing is in flight.
void sl_jwindow_rewind (sl_jwindow_t *self);

//  The stream's last sequence as far as this window knows: that of the
//  last message popped, or last_seq given to new.
uint64_t sl_jwindow_last_seq (sl_jwindow_t *self);

#endif
