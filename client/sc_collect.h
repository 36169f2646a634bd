/*  sc_collect - what a client knows of its job's seqs: which results came
    and which it has handed to the user, and which tasks to send again.

    Pure: no sockets, no clock, so every duplicate and every resend can be
    tested. A job of n tasks costs n bytes.

    A result goes NEW -> QUEUED (received, waiting for the user) -> TAKEN
    (handed to the user and acknowledged). The broker delivers a result
    again when an acknowledgement did not reach it (a restart, a timeout):
    one QUEUED is dropped (it is acknowledged when taken), one TAKEN is
    acknowledged again, never handed out twice.
*/
#ifndef SC_COLLECT_H_INCLUDED
#define SC_COLLECT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _sc_collect_t sc_collect_t;

typedef enum {
    SC_OFFER_NEW = 0,    //  first time: queue it for the user
    SC_OFFER_QUEUED = 1, //  a duplicate of one waiting for the user: drop it
    SC_OFFER_TAKEN = 2,  //  a duplicate of one handed out: acknowledge it again
    SC_OFFER_BAD = -1    //  seq out of 1..n: drop it
} sc_offer_t;

//  For a job of n tasks (n >= 1). NULL if out of memory. Caller owns it.
sc_collect_t *sc_collect_new (uint64_t n);

//  NULL-safe, nulls *self_p.
void sc_collect_destroy (sc_collect_t **self_p);

//  A result for seq arrived.
sc_offer_t sc_collect_offer (sc_collect_t *self, uint64_t seq);

//  The result for seq (QUEUED) is handed to the user. Returns 0, or -1 if
//  it was not QUEUED.
int sc_collect_take (sc_collect_t *self, uint64_t seq);

//  Results handed out so far, and whether that is all n.
uint64_t sc_collect_taken (sc_collect_t *self);
bool sc_collect_complete (sc_collect_t *self);

//  Walks the seqs to send in one pass: every seq of 1..n, or only those in
//  ranges (first, last pairs as the broker's JobState.missing lists them;
//  clamped to 1..n, ascending).
typedef struct {
    uint64_t n;       //  tasks in the job
    uint64_t *ranges; //  owned copy, NULL = all
    size_t nranges;   //  pairs at ranges
    size_t at;        //  range being walked
    uint64_t next;    //  next seq to return, 0 = none left
} sc_cursor_t;

//  Starts a walk (copies ranges; nranges pairs, NULL = all). Returns 0, or
//  -1 if out of memory.
int sc_cursor_init (sc_cursor_t *self, uint64_t n, const uint64_t *ranges, size_t nranges);

//  The next seq to send, or 0 at the end.
uint64_t sc_cursor_next (sc_cursor_t *self);

//  Frees the walk's copy of the ranges.
void sc_cursor_clear (sc_cursor_t *self);

#endif
