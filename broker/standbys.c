/*  standbys - the standby brokers an active broker heard from, see
    standbys.h.
*/
#include "standbys.h"

#include <assert.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

void sl_standbys_init (sl_standbys_t *self)
{
    assert (self);
    memset (self, 0, sizeof *self);
}

int sl_standbys_heard (sl_standbys_t *self, const sl_announcement_t *said, int64_t now)
{
    assert (self && said);
    size_t i = 0;
    while (i < self->n && strcmp (self->entries [i].said.broker, said->broker) != 0)
        i++;
    if (i == self->n) {
        if (self->n == SL_STANDBYS_MAX) {
            self->dropped++;
            return -1;
        }
        self->n++;
    }
    self->entries [i].said = *said;
    self->entries [i].seen_at = now;
    return 0;
}

//  Removes entry i, keeping the others in order.
static void s_remove (sl_standbys_t *self, size_t i)
{
    memmove (&self->entries [i], &self->entries [i + 1],
             (self->n - i - 1) * sizeof self->entries [0]);
    self->n--;
}

size_t sl_standbys_expire (sl_standbys_t *self, int64_t now)
{
    assert (self);
    size_t gone = 0;
    for (size_t i = 0; i < self->n;) {
        const sl_standby_t *e = &self->entries [i];
        int64_t every = e->said.every_ms > 0 ? e->said.every_ms : 1;
        if (now - e->seen_at >= SL_STANDBYS_EXPIRE_BEATS * every) {
            s_remove (self, i);
            gone++;
        } else
            i++;
    }
    return gone;
}

void sl_standbys_forget (sl_standbys_t *self, const char *broker)
{
    assert (self && broker);
    for (size_t i = 0; i < self->n; i++)
        if (strcmp (self->entries [i].said.broker, broker) == 0) {
            s_remove (self, i);
            return;
        }
}

uint64_t sl_standby_lag (const sl_standby_t *entry, uint64_t active_seq)
{
    assert (entry);
    return active_seq > entry->said.seq ? active_seq - entry->said.seq : 0;
}

size_t sl_announcement_encode (const sl_announcement_t *said, char *buf, size_t len)
{
    assert (said && buf);
    if (!said->broker [0] || !said->role [0])
        return 0;
    json_t *doc = json_pack ("{s:i, s:s, s:I, s:s, s:I}", "v", SL_STANDBYS_VERSION, "broker",
                             said->broker, "seq", (json_int_t) said->seq, "role", said->role,
                             "every_ms", (json_int_t) said->every_ms);
    if (!doc)
        return 0;
    size_t size = json_dumpb (doc, buf, len, JSON_COMPACT);
    json_decref (doc);
    if (size == 0 || size >= len)
        return 0;
    buf [size] = '\0';
    return size;
}

int sl_announcement_decode (const char *data, size_t size, sl_announcement_t *said, char *why,
                            size_t whylen)
{
    assert (data && said);
    json_error_t error;
    json_t *doc = json_loadb (data, size, 0, &error);
    if (!doc || !json_is_object (doc)) {
        snprintf (why, whylen, "not a JSON object");
        json_decref (doc);
        return -1;
    }
    int rc = -1;
    json_t *v = json_object_get (doc, "v");
    json_t *broker = json_object_get (doc, "broker");
    json_t *seq = json_object_get (doc, "seq");
    json_t *role = json_object_get (doc, "role");
    json_t *every = json_object_get (doc, "every_ms");
    if (!json_is_integer (v) || json_integer_value (v) != SL_STANDBYS_VERSION)
        snprintf (why, whylen, "not version %d of the broker announcements", SL_STANDBYS_VERSION);
    else if (!json_is_string (broker) || json_string_length (broker) == 0 ||
             json_string_length (broker) >= sizeof said->broker)
        snprintf (why, whylen, "no broker address, or one too long");
    else if (!json_is_string (role) || json_string_length (role) == 0 ||
             json_string_length (role) >= sizeof said->role)
        snprintf (why, whylen, "no role, or one too long");
    else if (!json_is_integer (seq) || json_integer_value (seq) < 0)
        snprintf (why, whylen, "no stream sequence");
    else if (!json_is_integer (every) || json_integer_value (every) <= 0)
        snprintf (why, whylen, "no announcement interval");
    else {
        memset (said, 0, sizeof *said);
        memcpy (said->broker, json_string_value (broker), json_string_length (broker));
        memcpy (said->role, json_string_value (role), json_string_length (role));
        said->seq = (uint64_t) json_integer_value (seq);
        said->every_ms = (int64_t) json_integer_value (every);
        rc = 0;
    }
    json_decref (doc);
    return rc;
}

uint64_t sl_standbys_min_seq (const sl_standbys_t *self)
{
    assert (self);
    uint64_t min = 0;
    for (size_t i = 0; i < self->n; i++)
        if (i == 0 || self->entries [i].said.seq < min)
            min = self->entries [i].said.seq;
    return min;
}
