/*  sl_deque - pointer ring buffer, see sl_deque.h.  */
#include "sl_deque.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define INITIAL_CAPACITY 64 //  a power of two

struct _sl_deque_t {
    void **items;    //  ring of capacity slots
    size_t capacity; //  always a power of two
    size_t head;     //  index of the first item
    size_t size;     //  items held
};

sl_deque_t *sl_deque_new (void)
{
    sl_deque_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->items = malloc (INITIAL_CAPACITY * sizeof (void *));
    if (!self->items) {
        free (self);
        return NULL;
    }
    self->capacity = INITIAL_CAPACITY;
    return self;
}

void sl_deque_destroy (sl_deque_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free ((*self_p)->items);
        free (*self_p);
        *self_p = NULL;
    }
}

//  Doubles the capacity, unrolling the ring so that head is 0.
static int s_grow (sl_deque_t *self)
{
    size_t capacity = self->capacity * 2;
    void **items = malloc (capacity * sizeof (void *));
    if (!items)
        return -1;
    size_t first = self->capacity - self->head;
    if (first > self->size)
        first = self->size;
    memcpy (items, self->items + self->head, first * sizeof (void *));
    memcpy (items + first, self->items, (self->size - first) * sizeof (void *));
    free (self->items);
    self->items = items;
    self->capacity = capacity;
    self->head = 0;
    return 0;
}

int sl_deque_push_back (sl_deque_t *self, void *item)
{
    assert (self);
    if (self->size == self->capacity && s_grow (self))
        return -1;
    self->items [(self->head + self->size) & (self->capacity - 1)] = item;
    self->size++;
    return 0;
}

int sl_deque_push_front (sl_deque_t *self, void *item)
{
    assert (self);
    if (self->size == self->capacity && s_grow (self))
        return -1;
    self->head = (self->head + self->capacity - 1) & (self->capacity - 1);
    self->items [self->head] = item;
    self->size++;
    return 0;
}

void *sl_deque_pop_front (sl_deque_t *self)
{
    assert (self);
    if (self->size == 0)
        return NULL;
    void *item = self->items [self->head];
    self->head = (self->head + 1) & (self->capacity - 1);
    self->size--;
    return item;
}

void *sl_deque_pop_back (sl_deque_t *self)
{
    assert (self);
    if (self->size == 0)
        return NULL;
    self->size--;
    return self->items [(self->head + self->size) & (self->capacity - 1)];
}

void *sl_deque_front (sl_deque_t *self)
{
    assert (self);
    return self->size ? self->items [self->head] : NULL;
}

void *sl_deque_at (sl_deque_t *self, size_t index)
{
    assert (self);
    assert (index < self->size);
    return self->items [(self->head + index) & (self->capacity - 1)];
}

size_t sl_deque_size (sl_deque_t *self)
{
    assert (self);
    return self->size;
}

void sl_deque_clear (sl_deque_t *self)
{
    assert (self);
    self->head = 0;
    self->size = 0;
}
