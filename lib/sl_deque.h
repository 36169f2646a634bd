/*  sl_deque - a double-ended queue of pointers in one ring buffer.

    The broker's queues hold millions of task pointers; a ring buffer costs
    8 bytes an entry and no allocation per push (zlistx costs a node each).
    Grows by doubling; never shrinks below its initial size.
*/
#ifndef SL_DEQUE_H_INCLUDED
#define SL_DEQUE_H_INCLUDED

#include <stddef.h>

typedef struct _sl_deque_t sl_deque_t;

//  Caller owns the result. Returns NULL if out of memory.
sl_deque_t *sl_deque_new (void);

//  Frees the deque (not what the pointers point to). NULL-safe, nulls *self_p.
void sl_deque_destroy (sl_deque_t **self_p);

//  Return 0, or -1 if out of memory (the deque is unchanged).
int sl_deque_push_back (sl_deque_t *self, void *item);
int sl_deque_push_front (sl_deque_t *self, void *item);

//  Remove and return the first / last item, or NULL if empty.
void *sl_deque_pop_front (sl_deque_t *self);
void *sl_deque_pop_back (sl_deque_t *self);

//  The first item without removing it, or NULL.
void *sl_deque_front (sl_deque_t *self);

//  Item at position index (0 = front); index must be < size.
void *sl_deque_at (sl_deque_t *self, size_t index);

size_t sl_deque_size (sl_deque_t *self);

//  Removes every item.
void sl_deque_clear (sl_deque_t *self);

#endif
