/*  sl_order - results parked by --keep-order, see sl_order.h.

    Parked results are in a zhashx keyed by seq (the key is the seq itself
    cast to a pointer: no key allocation, no string hashing), and those not
    acknowledged are also on an intrusive doubly linked list, oldest first.
*/
#include "sl_order.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

struct _sl_order_t {
    zhashx_t *parked;     //  seq (as a pointer) -> sl_parked_t, owned
    uint64_t next;        //  next seq to write (or a written one just below it)
    sl_parked_t *unacked; //  oldest parked result not acknowledged
    sl_parked_t *last;    //  newest one
    size_t nunacked;      //  results on that list
    size_t bytes;         //  formatted bytes parked
};

static size_t s_hash (const void *key)
{
    //  Fibonacci hashing spreads consecutive seqs over the table.
    return (size_t) ((uint64_t) (uintptr_t) key * UINT64_C (0x9E3779B97F4A7C15) >> 16);
}

static int s_compare (const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) a, y = (uintptr_t) b;
    return x < y ? -1 : x > y;
}

sl_parked_t *sl_parked_new (uint64_t seq, int status, const void *data, size_t size)
{
    if (size > SIZE_MAX - sizeof (sl_parked_t))
        return NULL;
    sl_parked_t *self = malloc (sizeof *self + size);
    if (!self)
        return NULL;
    *self = (sl_parked_t){ .seq = seq, .status = status, .size = size };
    if (size)
        memcpy (self->data, data, size);
    return self;
}

sl_order_t *sl_order_new (void)
{
    sl_order_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->parked = zhashx_new ();
    if (!self->parked) {
        free (self);
        return NULL;
    }
    zhashx_set_key_hasher (self->parked, s_hash);
    zhashx_set_key_comparator (self->parked, s_compare);
    zhashx_set_key_duplicator (self->parked, NULL);
    zhashx_set_key_destructor (self->parked, NULL);
    self->next = 1;
    return self;
}

void sl_order_destroy (sl_order_t **self_p)
{
    assert (self_p);
    sl_order_t *self = *self_p;
    if (!self)
        return;
    for (void *parked = zhashx_first (self->parked); parked; parked = zhashx_next (self->parked))
        free (parked);
    zhashx_destroy (&self->parked);
    free (self);
    *self_p = NULL;
}

//  Takes parked off the unacknowledged list, if it is on it.
static void s_unlist (sl_order_t *self, sl_parked_t *parked)
{
    if (parked->acked)
        return;
    if (parked->prev)
        parked->prev->next = parked->next;
    else
        self->unacked = parked->next;
    if (parked->next)
        parked->next->prev = parked->prev;
    else
        self->last = parked->prev;
    parked->prev = parked->next = NULL;
    self->nunacked--;
}

//  Takes parked out of the order; the caller owns it.
static void s_take (sl_order_t *self, sl_parked_t *parked)
{
    zhashx_delete (self->parked, (void *) (uintptr_t) parked->seq);
    s_unlist (self, parked);
    self->bytes -= parked->size;
}

uint64_t sl_order_next (sl_order_t *self, sl_seen_t *written)
{
    assert (self);
    assert (written);
    if (sl_seen_has (written, self->next))
        self->next = sl_seen_next_missing (written, self->next);
    return self->next;
}

int sl_order_park (sl_order_t *self, sl_parked_t **parked_p)
{
    assert (self);
    assert (parked_p && *parked_p);
    sl_parked_t *parked = *parked_p;
    if (zhashx_insert (self->parked, (void *) (uintptr_t) parked->seq, parked))
        return -1; //  already parked
    parked->prev = parked->next = NULL;
    if (!parked->acked) {
        parked->prev = self->last;
        if (self->last)
            self->last->next = parked;
        else
            self->unacked = parked;
        self->last = parked;
        self->nunacked++;
    }
    self->bytes += parked->size;
    *parked_p = NULL;
    return 0;
}

sl_parked_t *sl_order_lookup (sl_order_t *self, uint64_t seq)
{
    assert (self);
    return (sl_parked_t *) zhashx_lookup (self->parked, (void *) (uintptr_t) seq);
}

sl_parked_t *sl_order_pop_ready (sl_order_t *self, sl_seen_t *written)
{
    assert (self);
    if (zhashx_size (self->parked) == 0)
        return NULL;
    sl_parked_t *parked = sl_order_lookup (self, sl_order_next (self, written));
    if (parked)
        s_take (self, parked);
    return parked;
}

static int s_by_seq (const void *a, const void *b)
{
    uint64_t x = (*(sl_parked_t *const *) a)->seq, y = (*(sl_parked_t *const *) b)->seq;
    return x < y ? -1 : x > y;
}

sl_parked_t **sl_order_take_all (sl_order_t *self, size_t *count_p)
{
    assert (self);
    assert (count_p);
    *count_p = 0;
    size_t n = zhashx_size (self->parked);
    sl_parked_t **all = n ? malloc (n * sizeof *all) : NULL;
    if (!all)
        return NULL;
    size_t k = 0;
    for (sl_parked_t *parked = (sl_parked_t *) zhashx_first (self->parked); parked;
         parked = (sl_parked_t *) zhashx_next (self->parked))
        all [k++] = parked;
    qsort (all, n, sizeof *all, s_by_seq);
    for (size_t i = 0; i < n; i++)
        s_take (self, all [i]);
    self->next = all [n - 1]->seq + 1;
    *count_p = n;
    return all;
}

size_t sl_order_ack_all (sl_order_t *self, int (*fn) (sl_parked_t *parked, void *arg), void *arg)
{
    assert (self);
    assert (fn);
    size_t marked = 0;
    while (self->unacked) {
        sl_parked_t *parked = self->unacked;
        if (fn (parked, arg))
            break;
        s_unlist (self, parked);
        parked->acked = true;
        marked++;
    }
    return marked;
}

size_t sl_order_size (sl_order_t *self)
{
    assert (self);
    return zhashx_size (self->parked);
}

size_t sl_order_unacked (sl_order_t *self)
{
    assert (self);
    return self->nunacked;
}

size_t sl_order_bytes (sl_order_t *self)
{
    assert (self);
    return self->bytes;
}
