/*  collectors - the broker's collectors of results, see collectors.h.

    Collectors are a list in order of attachment; holds are a hash from job
    id to the collector holding it. A collector's named jobs are held from
    its attachment on; a catch-all's from the first result it is given.
*/
#include "collectors.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    sl_collector_t pub; //  what status sees (first: the list hands it out)
    uint64_t window;    //  results in flight, at most
} collector_t;

struct _sl_collectors_t {
    uint64_t window;   //  per collector
    zlistx_t *list;    //  collector_t, in order of attachment (owned)
    zhashx_t *holds;   //  job id -> collector_t holding it (not owned)
};

static void s_collector_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

sl_collectors_t *sl_collectors_new (uint64_t window)
{
    sl_collectors_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->window = window ? window : 1;
    self->list = zlistx_new ();
    self->holds = zhashx_new ();
    if (!self->list || !self->holds) {
        sl_collectors_destroy (&self);
        return NULL;
    }
    zlistx_set_destructor (self->list, s_collector_free);
    return self;
}

void sl_collectors_destroy (sl_collectors_t **self_p)
{
    if (self_p && *self_p) {
        sl_collectors_t *self = *self_p;
        zlistx_destroy (&self->list);
        zhashx_destroy (&self->holds);
        free (self);
        *self_p = NULL;
    }
}

static collector_t *s_find (sl_collectors_t *self, const char *name)
{
    for (collector_t *c = (collector_t *) zlistx_first (self->list); c;
         c = (collector_t *) zlistx_next (self->list))
        if (streq (c->pub.name, name))
            return c;
    return NULL;
}

static int s_hold (sl_collectors_t *self, const char *job, collector_t *c)
{
    if (zhashx_insert (self->holds, job, c))
        return -1;
    c->pub.nheld++;
    return 0;
}

//  The holder of a named job other than name, if any.
static const char *s_other_holder (sl_collectors_t *self, const char *job, const char *name)
{
    collector_t *c = (collector_t *) zhashx_lookup (self->holds, job);
    return c && !streq (c->pub.name, name) ? c->pub.name : NULL;
}

int sl_collectors_attach (sl_collectors_t *self, const char *name, const char *const *jobs,
                          size_t njobs, const char **holder_p)
{
    *holder_p = NULL;
    if (njobs > SL_COLLECTORS_MAX_JOBS)
        return -1;
    for (size_t i = 0; i < njobs; i++)
        if ((*holder_p = s_other_holder (self, jobs [i], name)))
            return -1;
    sl_collectors_detach (self, name);
    collector_t *c = calloc (1, sizeof *c);
    if (!c || !zlistx_add_end (self->list, c)) {
        free (c);
        return -1;
    }
    snprintf (c->pub.name, sizeof c->pub.name, "%s", name);
    c->pub.catch_all = njobs == 0;
    c->window = self->window;
    for (size_t i = 0; i < njobs; i++)
        if (!zhashx_lookup (self->holds, jobs [i]) && s_hold (self, jobs [i], c)) {
            sl_collectors_detach (self, name);
            return -1;
        }
    return 0;
}

size_t sl_collectors_detach (sl_collectors_t *self, const char *name)
{
    collector_t *c = s_find (self, name);
    if (!c)
        return 0;
    size_t held = c->pub.nheld;
    //  Its holds go: collect the keys first (no deletion while walking).
    zlistx_t *gone = zlistx_new ();
    for (collector_t *h = (collector_t *) zhashx_first (self->holds); h;
         h = (collector_t *) zhashx_next (self->holds))
        if (h == c && gone)
            zlistx_add_end (gone, (void *) zhashx_cursor (self->holds));
    for (const char *job = gone ? (const char *) zlistx_first (gone) : NULL; job;
         job = (const char *) zlistx_next (gone)) {
        char id [256];
        snprintf (id, sizeof id, "%s", job);
        zhashx_delete (self->holds, id);
    }
    zlistx_destroy (&gone);
    void *handle = zlistx_find (self->list, c);
    zlistx_delete (self->list, handle);
    return held;
}

//  The catch-all holding the fewest jobs, or NULL.
static collector_t *s_least_busy (sl_collectors_t *self)
{
    collector_t *best = NULL;
    for (collector_t *c = (collector_t *) zlistx_first (self->list); c;
         c = (collector_t *) zlistx_next (self->list))
        if (c->pub.catch_all && (!best || c->pub.nheld < best->pub.nheld))
            best = c;
    return best;
}

const char *sl_collectors_owner (sl_collectors_t *self, const char *job)
{
    collector_t *c = (collector_t *) zhashx_lookup (self->holds, job);
    if (!c) {
        c = s_least_busy (self);
        if (!c || s_hold (self, job, c))
            return NULL;
    }
    return c->pub.name;
}

const char *sl_collectors_holder (sl_collectors_t *self, const char *job)
{
    collector_t *c = (collector_t *) zhashx_lookup (self->holds, job);
    return c ? c->pub.name : NULL;
}

uint64_t sl_collectors_credit (sl_collectors_t *self, const char *name)
{
    collector_t *c = s_find (self, name);
    if (!c || c->pub.in_flight >= c->window)
        return 0;
    return c->window - c->pub.in_flight;
}

void sl_collectors_sent (sl_collectors_t *self, const char *name, uint64_t n)
{
    collector_t *c = s_find (self, name);
    if (c)
        c->pub.in_flight += n;
}

void sl_collectors_acked (sl_collectors_t *self, const char *name, uint64_t n)
{
    collector_t *c = s_find (self, name);
    if (!c)
        return;
    uint64_t back = n < c->pub.in_flight ? n : c->pub.in_flight;
    c->pub.in_flight -= back;
    c->pub.delivered += back;
}

void sl_collectors_job_done (sl_collectors_t *self, const char *job)
{
    collector_t *c = (collector_t *) zhashx_lookup (self->holds, job);
    if (!c)
        return;
    c->pub.nheld--;
    zhashx_delete (self->holds, job);
}

const sl_collector_t *sl_collectors_first (sl_collectors_t *self)
{
    collector_t *c = (collector_t *) zlistx_first (self->list);
    return c ? &c->pub : NULL;
}

const sl_collector_t *sl_collectors_next (sl_collectors_t *self)
{
    collector_t *c = (collector_t *) zlistx_next (self->list);
    return c ? &c->pub : NULL;
}

size_t sl_collectors_size (sl_collectors_t *self)
{
    return zlistx_size (self->list);
}

size_t sl_collectors_jobs (sl_collectors_t *self, const char *name, const char **jobs, size_t max)
{
    size_t n = 0;
    collector_t *c = s_find (self, name);
    for (collector_t *h = (collector_t *) zhashx_first (self->holds); c && h && n < max;
         h = (collector_t *) zhashx_next (self->holds))
        if (h == c)
            jobs [n++] = (const char *) zhashx_cursor (self->holds);
    return n;
}
