/*  test_client_discover - libsluice's sluice_discover (client/discover.c):
    every broker that beacons, active ones first, as one --broker list;
    clear failures. Skipped where no interface can broadcast.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <czmq.h>
#include <string.h>

#include "sl_discover.h"
#include "sl_log.h"
#include "sluice.h"

static uint16_t s_udp_port (void)
{
    return (uint16_t) (30000 + randof (10000));
}

static void test_client_discover_lists_every_broker_active_first (void **state)
{
    (void) state;
    uint16_t port = s_udp_port ();
    char err [256], brokers [576];
    sl_discover_t *standby = sl_discover_announce ("tcp://*:7000", port, "b", err, sizeof err);
    if (!standby && strstr (err, "no network interface with broadcast"))
        skip ();
    assert_non_null (standby);
    sl_discover_set_standby (standby, true);
    sl_discover_t *active = sl_discover_announce ("tcp://*:5560", port, "a", err, sizeof err);
    assert_non_null (active);
    assert_int_equal (sluice_discover (port, 5000, brokers, sizeof brokers, err, sizeof err), 2);
    const char *comma = strchr (brokers, ',');
    assert_non_null (comma);
    assert_memory_equal (comma - 5, ":5560", 5);
    assert_string_equal (strrchr (brokers, ':'), ":7000");
    //  No room for even one address.
    assert_int_equal (sluice_discover (port, 5000, brokers, 8, err, sizeof err), -1);
    assert_non_null (strstr (err, "too few"));
    sl_discover_destroy (&active);
    sl_discover_destroy (&standby);
}

static void test_client_discover_says_when_nobody_answers (void **state)
{
    (void) state;
    char err [256], brokers [576];
    int rc = sluice_discover (s_udp_port (), 300, brokers, sizeof brokers, err, sizeof err);
    if (rc && strstr (err, "no network interface with broadcast"))
        skip ();
    assert_int_equal (rc, -1);
    assert_non_null (strstr (err, "announced itself"));
}

int main (void)
{
    sl_log_init ("test_client_discover", SL_LOG_ERROR);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_client_discover_lists_every_broker_active_first),
        cmocka_unit_test (test_client_discover_says_when_nobody_answers),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
