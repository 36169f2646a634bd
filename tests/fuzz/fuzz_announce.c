/*  =========================================================================
    fuzz_announce - libFuzzer target for what arrives from the network
    about other brokers: a standby's announcement on the core NATS subject
    sluice-brokers.STREAM (broker/standbys.c, JSON, anyone who may publish
    on the NATS servers can send one) and a discovery beacon on the UDP
    port (lib/sl_discover.c, anyone on the network can send one).

    The first input byte picks the parser, the rest is the message. Each
    decoder must refuse with a message or accept; what it accepts must
    encode, and decode again to the same fields. A difference is reported
    with abort(), so libFuzzer keeps the input. Build and run with
    tests/fuzz/run.sh.
    =========================================================================
*/

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_discover.h"
#include "standbys.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void s_announcement (const uint8_t *data, size_t size)
{
    sl_announcement_t said, again;
    char why [256] = "";
    if (sl_announcement_decode ((const char *) data, size, &said, why, sizeof why) != 0) {
        if (!why [0]) {
            fprintf (stderr, "fuzz_announce: an announcement refused without a reason\n");
            abort ();
        }
        return;
    }
    char buf [SL_STANDBYS_MSG_MAX];
    size_t n = sl_announcement_encode (&said, buf, sizeof buf);
    if (n == 0 || sl_announcement_decode (buf, n, &again, why, sizeof why) != 0 ||
        strcmp (said.broker, again.broker) != 0 || strcmp (said.role, again.role) != 0 ||
        said.seq != again.seq || said.every_ms != again.every_ms) {
        fprintf (stderr, "fuzz_announce: accepted announcement does not round-trip (%zu, %s)\n",
                 n, why);
        abort ();
    }
}

static void s_beacon (const uint8_t *data, size_t size)
{
    sl_discover_beacon_t beacon, again;
    char why [256] = "";
    if (sl_discover_decode (data, size, &beacon, why, sizeof why) != 0) {
        if (!why [0]) {
            fprintf (stderr, "fuzz_announce: a beacon refused without a reason\n");
            abort ();
        }
        return;
    }
    uint8_t buf [256];
    size_t n = sl_discover_encode (&beacon, buf, sizeof buf);
    if (n == 0 || sl_discover_decode (buf, n, &again, why, sizeof why) != 0 ||
        beacon.port != again.port || strcmp (beacon.name, again.name) != 0 ||
        beacon.standby != again.standby) {
        fprintf (stderr, "fuzz_announce: accepted beacon does not round-trip (%zu, %s)\n", n, why);
        abort ();
    }
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data [0] & 1)
        s_beacon (data + 1, size - 1);
    else
        s_announcement (data + 1, size - 1);
    return 0;
}
