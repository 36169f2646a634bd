/*  announce_none - the brokers' announcements when the broker was built
    without libnats: there is no shared stream, so nothing to announce.
    CMake compiles this file instead of announce_nats.c.
*/
#include <stdio.h>

#include "announce.h"

sl_announce_t *sl_announce_new (const sl_nats_config_t *config, char *err, size_t errlen)
{
    (void) config;
    snprintf (err, errlen, "this sluice-broker was built without NATS support");
    return NULL;
}

void sl_announce_destroy (sl_announce_t **self_p)
{
    *self_p = NULL;
}

int sl_announce_send (sl_announce_t *self, const char *data, size_t size)
{
    (void) self, (void) data, (void) size;
    return -1;
}

int sl_announce_recv (sl_announce_t *self, char *buf, size_t len)
{
    (void) self, (void) buf, (void) len;
    return -1;
}
