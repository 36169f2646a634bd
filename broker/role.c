/*  role - which broker acts on a shared journal, see role.h. */
#include "role.h"

#include <assert.h>

//  The margin is what a deposed broker may be late by between its check of
//  the window and its last send of a loop turn (the loop checks again
//  before it deals and delivers): half a heartbeat, 500 ms by default,
//  and never under 100 ms for short heartbeats. The clocks are ms ticks
//  of monotonic clocks; the standby's polling (at most 50 ms) and the NATS
//  round trip only make the takeover later.
int64_t sl_role_takeover_ms (int64_t beat_ms)
{
    int64_t takeover = beat_ms * SL_ROLE_TAKEOVER_TENTHS / 10;
    int64_t floor = sl_role_serve_ms (beat_ms) + SL_ROLE_MARGIN_MS;
    return takeover > floor ? takeover : floor;
}

int64_t sl_role_serve_ms (int64_t beat_ms)
{
    return beat_ms * SL_ROLE_SERVE_TENTHS / 10;
}

void sl_role_init (sl_role_t *self, bool standby, int64_t beat_ms, int64_t now)
{
    assert (self && beat_ms > 0);
    *self = (sl_role_t){
        .state = standby ? SL_ROLE_STANDBY : SL_ROLE_ACTIVE,
        .beat_ms = beat_ms,
        .takeover_ms = sl_role_takeover_ms (beat_ms),
        .serve_ms = sl_role_serve_ms (beat_ms),
        .progress_at = now,
        .held_at = now,
        .took_over_at = standby ? -1 : now,
    };
}

void sl_role_followed (sl_role_t *self, uint64_t seq, int64_t now)
{
    assert (self);
    if (self->state == SL_ROLE_STANDBY && seq != self->seen_seq) {
        self->seen_seq = seq;
        self->progress_at = now;
    }
}

bool sl_role_takeover_due (const sl_role_t *self, int64_t now)
{
    assert (self);
    return self->state == SL_ROLE_STANDBY && now - self->progress_at >= self->takeover_ms;
}

void sl_role_held (sl_role_t *self, int64_t started)
{
    assert (self);
    if (self->state == SL_ROLE_DEPOSED)
        return;
    if (self->state == SL_ROLE_STANDBY) {
        self->state = SL_ROLE_ACTIVE;
        self->took_over_at = started;
        self->takeovers++;
    }
    if (started > self->held_at)
        self->held_at = started;
}

void sl_role_refused (sl_role_t *self, int64_t now)
{
    assert (self);
    if (self->state == SL_ROLE_STANDBY)
        self->progress_at = now;
    else
        self->state = SL_ROLE_DEPOSED;
}

bool sl_role_may_serve (const sl_role_t *self, int64_t now)
{
    assert (self);
    return self->state == SL_ROLE_ACTIVE && now - self->held_at < self->serve_ms;
}

bool sl_role_hold_due (const sl_role_t *self, int64_t now)
{
    assert (self);
    return self->state == SL_ROLE_ACTIVE && now - self->held_at >= self->beat_ms;
}

int64_t sl_role_wake (const sl_role_t *self)
{
    assert (self);
    if (self->state == SL_ROLE_ACTIVE)
        return self->held_at + self->beat_ms;
    if (self->state == SL_ROLE_STANDBY)
        return self->progress_at + self->takeover_ms;
    return INT64_MAX;
}

const char *sl_role_name (sl_role_state_t state)
{
    switch (state) {
        case SL_ROLE_STANDBY:
            return "standby";
        case SL_ROLE_ACTIVE:
            return "active";
        default:
            return "deposed";
    }
}
