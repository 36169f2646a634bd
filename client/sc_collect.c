/*  sc_collect - a job's seqs on the client's side, see sc_collect.h.  */
#include "sc_collect.h"

#include <stdlib.h>
#include <string.h>

enum { S_NEW = 0, S_QUEUED = 1, S_TAKEN = 2 };

struct _sc_collect_t {
    uint64_t n;     //  tasks in the job
    uint8_t *state; //  S_* of seq i at [i - 1]
    uint64_t taken; //  seqs TAKEN
};

sc_collect_t *sc_collect_new (uint64_t n)
{
    if (n == 0 || n > SIZE_MAX)
        return NULL;
    sc_collect_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->n = n;
    self->state = calloc ((size_t) n, 1);
    if (!self->state) {
        free (self);
        return NULL;
    }
    return self;
}

void sc_collect_destroy (sc_collect_t **self_p)
{
    if (self_p && *self_p) {
        free ((*self_p)->state);
        free (*self_p);
        *self_p = NULL;
    }
}

sc_offer_t sc_collect_offer (sc_collect_t *self, uint64_t seq)
{
    if (seq < 1 || seq > self->n)
        return SC_OFFER_BAD;
    uint8_t *state = &self->state [seq - 1];
    if (*state == S_QUEUED)
        return SC_OFFER_QUEUED;
    if (*state == S_TAKEN)
        return SC_OFFER_TAKEN;
    *state = S_QUEUED;
    return SC_OFFER_NEW;
}

int sc_collect_take (sc_collect_t *self, uint64_t seq)
{
    if (seq < 1 || seq > self->n || self->state [seq - 1] != S_QUEUED)
        return -1;
    self->state [seq - 1] = S_TAKEN;
    self->taken++;
    return 0;
}

uint64_t sc_collect_taken (sc_collect_t *self)
{
    return self->taken;
}

bool sc_collect_complete (sc_collect_t *self)
{
    return self->taken == self->n;
}

int sc_cursor_init (sc_cursor_t *self, uint64_t n, const uint64_t *ranges, size_t nranges)
{
    memset (self, 0, sizeof *self);
    self->n = n;
    if (ranges) {
        self->ranges = malloc ((nranges ? nranges : 1) * 2 * sizeof (uint64_t));
        if (!self->ranges)
            return -1;
        if (nranges)
            memcpy (self->ranges, ranges, nranges * 2 * sizeof (uint64_t));
        self->nranges = nranges;
        self->next = nranges ? ranges [0] : 0;
    } else
        self->next = n ? 1 : 0;
    return 0;
}

uint64_t sc_cursor_next (sc_cursor_t *self)
{
    if (!self->ranges) {
        if (self->next == 0 || self->next > self->n)
            return 0;
        return self->next++;
    }
    while (self->at < self->nranges) {
        uint64_t first = self->ranges [2 * self->at];
        uint64_t last = self->ranges [2 * self->at + 1];
        if (last > self->n)
            last = self->n;
        if (self->next < first)
            self->next = first;
        if (self->next < 1)
            self->next = 1;
        if (self->next <= last)
            return self->next++;
        self->at++;
        self->next = 0;
    }
    return 0;
}

void sc_cursor_clear (sc_cursor_t *self)
{
    free (self->ranges);
    self->ranges = NULL;
}
