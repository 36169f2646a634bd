/*  sl_credit - a worker's side of fair dispatch, see sl_credit.h.  */
#include "sl_credit.h"

#include <assert.h>

void sl_credit_init (sl_credit_t *self, uint32_t slots, int32_t prefetch)
{
    assert (self);
    self->slots = slots;
    self->prefetch = prefetch;
    self->granted = 0;
    self->task_ms_avg = -1;
}

void sl_credit_task_done (sl_credit_t *self, uint64_t duration_ms)
{
    double ms = (double) duration_ms;
    self->task_ms_avg = self->task_ms_avg < 0 ? ms : 0.9 * self->task_ms_avg + 0.1 * ms;
}

void sl_credit_received (sl_credit_t *self, size_t n)
{
    //  More than asked for: tasks on their way when an absolute credit
    //  (which the broker counts from then on) replaced the request. They
    //  use up nothing of it; below 0 a draining worker would ask again.
    self->granted -= (int64_t) n;
    if (self->granted < 0)
        self->granted = 0;
}

int64_t sl_credit_prefetch (const sl_credit_t *self)
{
    if (self->prefetch >= 0)
        return self->prefetch;
    if (self->task_ms_avg < 0)
        return 0; //  nothing known yet: tiny tasks ramp up at once
    double per_task = self->task_ms_avg > 0.01 ? self->task_ms_avg : 0.01;
    double prefetch = self->slots * SL_CREDIT_HIDE_MS / per_task;
    return prefetch > SL_CREDIT_MAX_PREFETCH ? SL_CREDIT_MAX_PREFETCH : (int64_t) (prefetch + 0.5);
}

bool sl_credit_ask (const sl_credit_t *self, size_t held, bool draining, bool absolute,
                    uint32_t *amount, int64_t *want)
{
    int64_t prefetch = sl_credit_prefetch (self);
    int64_t room = draining ? 0 : (int64_t) self->slots + prefetch - (int64_t) held;
    if (room < 0)
        room = 0;
    if (!absolute && room <= self->granted)
        return false;
    //  In steps: a slot about to go idle asks at once, the prefetch only
    //  once half of the window is free (one credit and one task batch per
    //  few tasks, not per task).
    int64_t step = ((int64_t) self->slots + prefetch) / 2;
    bool slot_idle = (int64_t) held + self->granted < (int64_t) self->slots;
    if (!absolute && !slot_idle && room - self->granted < step)
        return false;
    *want = room;
    *amount = (uint32_t) (absolute ? room : room - self->granted);
    return true;
}

void sl_credit_sent (sl_credit_t *self, int64_t want)
{
    self->granted = want;
}
