/*  sc_collect - the walks over a job's seqs, see sc_collect.h.  */
#include "sc_collect.h"

#include <stdlib.h>
#include <string.h>

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
