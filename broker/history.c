/*  history - the broker's recent past in a bounded ring, see history.h.  */
#include "history.h"

#include <assert.h>
#include <stdlib.h>

struct _history_t {
    history_sample_t samples [HISTORY_SAMPLES]; //  the ring
    size_t next;                                //  slot the next sample goes to
    size_t size;                                //  samples held
    int64_t last;                               //  time_ms of the newest sample
};

history_t *history_new (void)
{
    return (history_t *) calloc (1, sizeof (history_t));
}

void history_destroy (history_t **self_p)
{
    assert (self_p);
    free (*self_p);
    *self_p = NULL;
}

bool history_due (history_t *self, int64_t now)
{
    assert (self);
    return self->size == 0 || now - self->last >= HISTORY_INTERVAL_MS || now < self->last;
}

void history_add (history_t *self, const history_sample_t *sample)
{
    assert (self);
    assert (sample);
    if (self->size && sample->time_ms < self->last)
        return;
    self->samples [self->next] = *sample;
    self->next = (self->next + 1) % HISTORY_SAMPLES;
    if (self->size < HISTORY_SAMPLES)
        self->size++;
    self->last = sample->time_ms;
}

size_t history_size (history_t *self)
{
    assert (self);
    return self->size;
}

const history_sample_t *history_at (history_t *self, size_t i)
{
    assert (self);
    if (i >= self->size)
        return NULL;
    size_t oldest = (self->next + HISTORY_SAMPLES - self->size) % HISTORY_SAMPLES;
    return &self->samples [(oldest + i) % HISTORY_SAMPLES];
}

//  Change of a cumulative counter per second between two samples.
static double s_rate (uint64_t before, uint64_t after, int64_t ms)
{
    if (ms <= 0 || after < before)
        return 0;
    return (double) (after - before) * 1000.0 / (double) ms;
}

json_t *history_json (history_t *self, int64_t since)
{
    assert (self);
    json_t *t = json_array (), *completed = json_array (), *failed = json_array ();
    json_t *queued = json_array (), *running = json_array (), *busy = json_array ();
    json_t *slots = json_array ();
    json_t *doc =
        json_pack ("{s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "interval_ms", HISTORY_INTERVAL_MS,
                   "t", t, "completed_per_s", completed, "failed_per_s", failed, "queued", queued,
                   "running", running, "busy", busy, "slots", slots);
    if (!doc)
        return NULL;
    const history_sample_t *prev = NULL;
    for (size_t i = 0; i < self->size; i++) {
        const history_sample_t *s = history_at (self, i);
        if (s->time_ms > since) {
            int64_t ms = prev ? s->time_ms - prev->time_ms : 0;
            json_array_append_new (t, json_real ((double) s->time_ms / 1000.0));
            json_array_append_new (
                completed, json_real (prev ? s_rate (prev->completed, s->completed, ms) : 0));
            json_array_append_new (failed,
                                   json_real (prev ? s_rate (prev->failed, s->failed, ms) : 0));
            json_array_append_new (queued, json_integer ((json_int_t) s->queued));
            json_array_append_new (running, json_integer ((json_int_t) s->running));
            json_array_append_new (busy, json_integer ((json_int_t) s->busy));
            json_array_append_new (slots, json_integer ((json_int_t) s->slots));
        }
        prev = s;
    }
    return doc;
}
