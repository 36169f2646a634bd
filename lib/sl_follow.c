/*  sl_follow - which of several brokers a client talks to, see sl_follow.h. */
#include "sl_follow.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "sl_endpoint.h"

#define STANDBY_PREFIX "standby;"
#define DEPOSED_PREFIX "deposed;"
#define ACTIVE_HINT "the active broker is "

//  Adds addr (len bytes) unless listed. Returns its index, or -1 with err.
static int s_add (sl_follow_t *self, const char *addr, size_t len, char *err, size_t errlen)
{
    char one [SL_FOLLOW_ADDR];
    if (len == 0 || len >= sizeof one) {
        snprintf (err, errlen, "broker address '%.*s' is %s", (int) (len > 40 ? 40 : len), addr,
                  len ? "too long" : "empty");
        return -1;
    }
    memcpy (one, addr, len);
    one [len] = '\0';
    if (sl_endpoint_check (one, err, errlen))
        return -1;
    for (size_t i = 0; i < self->n; i++)
        if (strcmp (self->addrs [i], one) == 0)
            return (int) i;
    if (self->n == SL_FOLLOW_MAX) {
        snprintf (err, errlen, "more than %d broker addresses", SL_FOLLOW_MAX);
        return -1;
    }
    memcpy (self->addrs [self->n], one, len + 1);
    return (int) self->n++;
}

int sl_follow_init (sl_follow_t *self, const char *list, int64_t now, char *err, size_t errlen)
{
    assert (self && list);
    memset (self, 0, sizeof *self);
    self->since = now;
    const char *p = list;
    while (true) {
        p += strspn (p, " ");
        size_t len = strcspn (p, ",");
        size_t trim = len;
        while (trim && p [trim - 1] == ' ')
            trim--;
        if (s_add (self, p, trim, err, errlen) < 0)
            return -1;
        if (!p [len])
            return 0;
        p += len + 1;
    }
}

int sl_follow_check (const char *list, char *err, size_t errlen)
{
    sl_follow_t scratch;
    return sl_follow_init (&scratch, list, 0, err, errlen);
}

const char *sl_follow_current (const sl_follow_t *self)
{
    assert (self && self->n);
    return self->addrs [self->current];
}

static sl_follow_action_t s_go (sl_follow_t *self, size_t to, int64_t now)
{
    if (to == self->current)
        return SL_FOLLOW_STAY;
    self->current = to;
    self->since = now;
    self->switches++;
    return SL_FOLLOW_SWITCH;
}

//  True if address i was left for silence a moment ago.
static bool s_stale (const sl_follow_t *self, size_t i, int64_t now)
{
    return self->left_silent [i] && now - self->left_silent [i] < SL_FOLLOW_STALE_MS;
}

sl_follow_action_t sl_follow_refused (sl_follow_t *self, const char *reason, int64_t now)
{
    assert (self && reason);
    if (strncmp (reason, STANDBY_PREFIX, strlen (STANDBY_PREFIX)) &&
        strncmp (reason, DEPOSED_PREFIX, strlen (DEPOSED_PREFIX)))
        return SL_FOLLOW_FINAL;
    const char *hint = strstr (reason, ACTIVE_HINT);
    if (hint) {
        hint += strlen (ACTIVE_HINT);
        char err [256];
        int at = s_add (self, hint, strcspn (hint, " ;,"), err, sizeof err);
        if (at >= 0 && (size_t) at != self->current && !s_stale (self, (size_t) at, now))
            return s_go (self, (size_t) at, now);
    }
    for (size_t step = 1; step < self->n; step++) {
        size_t next = (self->current + step) % self->n;
        if (!s_stale (self, next, now))
            return s_go (self, next, now);
    }
    self->since = now; //  it answered: stay until it takes over
    return SL_FOLLOW_STAY;
}

sl_follow_action_t sl_follow_silent (sl_follow_t *self, int64_t now)
{
    assert (self);
    if (self->n < 2 || now - self->since < SL_FOLLOW_DWELL_MS)
        return SL_FOLLOW_STAY;
    self->left_silent [self->current] = now;
    return s_go (self, (self->current + 1) % self->n, now);
}

//  Heartbeats without an answer that lose a link (see sl_follow.h).
static int64_t s_lost_beats (const sl_follow_t *self, bool unsent)
{
    return unsent && self->n > 1 ? 1 : SL_FOLLOW_LOST_BEATS;
}

bool sl_follow_link_lost (const sl_follow_t *self, int64_t silent_ms, int64_t beat_ms, bool unsent)
{
    assert (self && beat_ms > 0);
    return silent_ms > s_lost_beats (self, unsent) * beat_ms;
}

int64_t sl_follow_lost_at (const sl_follow_t *self, int64_t last_answer, int64_t beat_ms,
                           bool unsent)
{
    assert (self && beat_ms > 0);
    return last_answer + s_lost_beats (self, unsent) * beat_ms + 1;
}

sl_follow_action_t sl_follow_lost (sl_follow_t *self, int64_t now)
{
    assert (self);
    if (self->n < 2)
        return SL_FOLLOW_STAY;
    self->left_silent [self->current] = now;
    return s_go (self, (self->current + 1) % self->n, now);
}

void sl_follow_list (const sl_follow_t *self, char *out, size_t outlen)
{
    assert (self && outlen);
    out [0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < self->n && used < outlen; i++) {
        int n = snprintf (out + used, outlen - used, "%s%s", i ? ", " : "", self->addrs [i]);
        if (n < 0)
            break;
        used += (size_t) n;
    }
}
