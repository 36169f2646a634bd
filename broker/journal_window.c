/*  journal_window - NATS publishes in flight, see journal_window.h.

    A plain array, oldest first: a window holds a few dozen messages, so
    popping the head moves the rest down and an answer is matched by a
    linear search (both cheap next to a publish of up to 1 MB each).
*/
#include "journal_window.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct _sl_jwindow_t {
    sl_pub_t *pubs;    //  messages, oldest first
    size_t size;       //  messages in pubs
    size_t max;        //  room in pubs
    uint64_t last_seq; //  the stream's last sequence before the head
};

sl_jwindow_t *sl_jwindow_new (size_t max, uint64_t last_seq)
{
    assert (max > 0);
    sl_jwindow_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->pubs = calloc (max, sizeof *self->pubs);
    if (!self->pubs) {
        free (self);
        return NULL;
    }
    self->max = max;
    self->last_seq = last_seq;
    return self;
}

void sl_jwindow_destroy (sl_jwindow_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    free ((*self_p)->pubs);
    free (*self_p);
    *self_p = NULL;
}

size_t sl_jwindow_size (sl_jwindow_t *self)
{
    assert (self);
    return self->size;
}

bool sl_jwindow_full (sl_jwindow_t *self)
{
    assert (self);
    return self->size == self->max;
}

sl_pub_t *sl_jwindow_at (sl_jwindow_t *self, size_t i)
{
    assert (self);
    assert (i < self->size);
    return &self->pubs [i];
}

sl_pub_t *sl_jwindow_push (sl_jwindow_t *self, sl_frame_cut_t cut, uint64_t position)
{
    assert (self);
    assert (self->size < self->max);
    sl_pub_t *pub = &self->pubs [self->size];
    memset (pub, 0, sizeof *pub);
    pub->cut = cut;
    pub->position = position;
    pub->expect = self->size ? pub [-1].expect + 1 : self->last_seq;
    pub->state = SL_PUB_QUEUED;
    self->size++;
    return pub;
}

sl_pub_t *sl_jwindow_next (sl_jwindow_t *self)
{
    assert (self);
    for (size_t i = 0; i < self->size; i++)
        if (self->pubs [i].state == SL_PUB_QUEUED)
            return &self->pubs [i];
    return NULL;
}

void sl_jwindow_sent (sl_jwindow_t *self, sl_pub_t *pub)
{
    assert (self);
    assert (pub >= self->pubs && pub < self->pubs + self->size);
    assert (pub->state == SL_PUB_QUEUED);
    pub->state = SL_PUB_SENT;
    pub->chained = pub > self->pubs && pub [-1].state != SL_PUB_ACKED;
    pub->fence = false;
}

//  The SENT message that expects `expect`, or NULL.
static sl_pub_t *s_sent (sl_jwindow_t *self, uint64_t expect)
{
    for (size_t i = 0; i < self->size; i++)
        if (self->pubs [i].expect == expect)
            return self->pubs [i].state == SL_PUB_SENT ? &self->pubs [i] : NULL;
    return NULL;
}

bool sl_jwindow_acked (sl_jwindow_t *self, uint64_t expect, uint64_t seq)
{
    assert (self);
    sl_pub_t *pub = s_sent (self, expect);
    if (!pub)
        return false;
    pub->state = SL_PUB_ACKED;
    pub->seq = seq;
    return true;
}

bool sl_jwindow_failed (sl_jwindow_t *self, uint64_t expect, bool fence)
{
    assert (self);
    sl_pub_t *pub = s_sent (self, expect);
    if (!pub)
        return false;
    pub->state = SL_PUB_FAILED;
    pub->fence = fence;
    return true;
}

bool sl_jwindow_pop (sl_jwindow_t *self, sl_pub_t *pub)
{
    assert (self);
    if (self->size == 0 || self->pubs [0].state != SL_PUB_ACKED)
        return false;
    *pub = self->pubs [0];
    self->last_seq = pub->seq;
    self->size--;
    memmove (self->pubs, self->pubs + 1, self->size * sizeof *self->pubs);
    return true;
}

bool sl_jwindow_broken (sl_jwindow_t *self)
{
    assert (self);
    for (size_t i = 0; i < self->size; i++)
        if (self->pubs [i].state == SL_PUB_FAILED)
            return true;
    return false;
}

size_t sl_jwindow_in_flight (sl_jwindow_t *self)
{
    assert (self);
    size_t n = 0;
    for (size_t i = 0; i < self->size; i++)
        n += self->pubs [i].state == SL_PUB_SENT;
    return n;
}

bool sl_jwindow_stuck (sl_jwindow_t *self)
{
    assert (self);
    return self->size && self->pubs [0].state == SL_PUB_FAILED && sl_jwindow_in_flight (self) == 0;
}

void sl_jwindow_rewind (sl_jwindow_t *self)
{
    assert (self);
    assert (sl_jwindow_in_flight (self) == 0);
    for (size_t i = 0; i < self->size; i++)
        self->pubs [i].state = SL_PUB_QUEUED;
}

uint64_t sl_jwindow_last_seq (sl_jwindow_t *self)
{
    assert (self);
    return self->last_seq;
}
