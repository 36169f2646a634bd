/*  journal_nats_none - the NATS backend when the broker was built without
    libnats: asking for it is a clear error. CMake compiles this file
    instead of journal_nats.c.
*/
#include <stdio.h>

#include "journal_nats.h"

bool sl_nats_available (void)
{
    return false;
}

sl_journal_t *sl_journal_new_nats (const sl_nats_config_t *config, char *err, size_t errlen)
{
    snprintf (err, errlen,
              "this sluice-broker was built without NATS support (libnats was not found when it "
              "was built), so --journal %s cannot be used; install libnats-dev and rebuild, or "
              "use a directory journal (--data-dir)",
              config && config->servers ? config->servers : "nats://...");
    return NULL;
}
