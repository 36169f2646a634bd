/*  discover - sluice_discover: the brokers on the local network, for
    libsluice's users, as every program's --discover finds them
    (lib/sl_discover.h). See sluice.h.
*/
#include <stdio.h>

#include "sl_discover.h"
#include "sluice.h"

_Static_assert(SL_DISCOVER_LIST_MAX <= 576, "sluice.h promises 576 bytes are enough");

int sluice_discover (uint16_t udp_port, int64_t timeout_ms, char *brokers, size_t len, char *err,
                     size_t errlen)
{
    if (!brokers || len == 0) {
        snprintf (err, errlen, "sluice_discover: no room for the brokers' addresses");
        return -1;
    }
    sl_discover_found_t found;
    if (sl_discover_find_all (udp_port ? udp_port : SL_DISCOVER_PORT, timeout_ms,
                              SL_DISCOVER_GATHER_MS, NULL, &found, err, errlen))
        return -1;
    size_t listed = sl_discover_found_list (&found, brokers, len);
    if (listed == 0) {
        snprintf (err, errlen, "sluice_discover: %zu bytes are too few for %s", len,
                  found.endpoint [0]);
        return -1;
    }
    return (int) listed;
}
