/*  sl_order - the results of one job that --keep-order holds back ("parks")
    until every seq before them is written.

    The sink writes a job's results in seq order: a result whose seq is the
    next to write is written at once, one that arrives ahead of it is parked
    here, already formatted, and leaves when the gap before it is filled.
    Only what is out of order is held: the memory is the parked results'
    formatted bytes plus about 100 bytes each.

    The order does not keep its own record of what is written: the caller
    passes its set of written seqs (sl_seen_t), and the next seq to write
    is the first one missing from it. So a resumed file with gaps continues
    from the first gap, and seqs written earlier are stepped over.

    A parked result is normally not acknowledged to the broker (it is not
    written yet). The sink may acknowledge some early (see sink.c); the
    order keeps the unacknowledged ones on a list, oldest first, so that
    this needs no scan of everything parked. Pure: no sockets, no clock,
    no files.
*/
#ifndef SL_ORDER_H_INCLUDED
#define SL_ORDER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sl_seen.h"

typedef struct _sl_parked_t sl_parked_t;

//  One parked result.
struct _sl_parked_t {
    uint64_t seq;             //  its seq
    int status;               //  its Sluice__Status, for the sink's counts
    bool acked;               //  acknowledged to the broker before being written
    sl_parked_t *prev, *next; //  on the order's unacknowledged list
    size_t size;              //  bytes in data
    uint8_t data [];          //  the record, formatted for the output
};

//  Returns a new parked result, not acknowledged, holding a copy of size
//  bytes of data; NULL if out of memory. Caller owns it: free () it, or
//  give it to sl_order_park.
sl_parked_t *sl_parked_new (uint64_t seq, int status, const void *data, size_t size);

typedef struct _sl_order_t sl_order_t;

//  Creates an empty order whose next seq is 1. NULL if out of memory.
//  Caller owns the result.
sl_order_t *sl_order_new (void);

//  Frees the order and every result parked in it. NULL-safe; nulls *self_p.
void sl_order_destroy (sl_order_t **self_p);

//  The next seq to write: the first seq from the current one on that is
//  not in written (the order moves past seqs written since).
uint64_t sl_order_next (sl_order_t *self, sl_seen_t *written);

//  Parks a result; an acknowledged one (parked->acked) does not go on the
//  unacknowledged list. Takes ownership of *parked_p and nulls it. Returns
//  0, or -1 if its seq is already parked (*parked_p is left to the caller).
int sl_order_park (sl_order_t *self, sl_parked_t **parked_p);

//  The parked result with this seq, or NULL. The order keeps it.
sl_parked_t *sl_order_lookup (sl_order_t *self, uint64_t seq);

//  If the next seq to write (see sl_order_next) is parked, takes it out and
//  returns it: the caller owns it, writes it and adds its seq to written
//  (or parks it again). Else NULL.
sl_parked_t *sl_order_pop_ready (sl_order_t *self, sl_seen_t *written);

//  Gives up on the gaps: takes every parked result out, sorted by seq, and
//  moves the next seq past the highest. Returns an array of *count_p
//  results, or NULL (none parked, or out of memory: nothing taken). Caller
//  owns the array and the results.
sl_parked_t **sl_order_take_all (sl_order_t *self, size_t *count_p);

//  Marks the parked results not yet acknowledged as acknowledged, oldest
//  first, calling fn (parked, arg) for each just before; fn returning -1
//  stops there (that one stays unacknowledged). Returns how many were
//  marked.
size_t sl_order_ack_all (sl_order_t *self, int (*fn) (sl_parked_t *parked, void *arg), void *arg);

//  Results parked.
size_t sl_order_size (sl_order_t *self);

//  Of those, results not acknowledged.
size_t sl_order_unacked (sl_order_t *self);

//  Bytes of formatted data parked.
size_t sl_order_bytes (sl_order_t *self);

#endif
