/*  Tests of sl_discover: the beacon format (round trip, and garbage of
    every kind rejected), the --discover option value, and, where this
    machine has an interface with broadcast, a broker announced and found
    on a random UDP port.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_discover.h"
#include "sl_endpoint.h"
#include "sl_log.h"

static void test_discover_beacon_round_trip (void **state)
{
    (void) state;
    uint8_t buf [128];
    sl_discover_beacon_t in = { .port = 5560 }, out;
    char why [128];
    strcpy (in.name, "broker-1.example_net");
    size_t size = sl_discover_encode (&in, buf, sizeof buf);
    assert_int_equal (size, 9 + strlen (in.name));
    assert_memory_equal (buf, "SLUICE\x01\x15\xb8", 9);
    assert_int_equal (sl_discover_decode (buf, size, &out, why, sizeof why), 0);
    assert_int_equal (out.port, 5560);
    assert_string_equal (out.name, in.name);
    //  No name; the longest name; the highest port that leaves room for
    //  the derived ones.
    in = (sl_discover_beacon_t){ .port = 65531 };
    size = sl_discover_encode (&in, buf, sizeof buf);
    assert_int_equal (size, 9);
    assert_int_equal (sl_discover_decode (buf, size, &out, why, sizeof why), 0);
    assert_int_equal (out.port, 65531);
    assert_string_equal (out.name, "");
    memset (in.name, 'n', SL_DISCOVER_NAME_MAX);
    in.name [SL_DISCOVER_NAME_MAX] = '\0';
    size = sl_discover_encode (&in, buf, sizeof buf);
    assert_int_equal (size, 9 + SL_DISCOVER_NAME_MAX);
    assert_int_equal (sl_discover_decode (buf, size, &out, why, sizeof why), 0);
    assert_string_equal (out.name, in.name);
}

static void test_discover_standby_beacon_round_trip (void **state)
{
    (void) state;
    uint8_t buf [128];
    sl_discover_beacon_t in = { .port = 5560, .standby = true }, out;
    char why [128];
    strcpy (in.name, "b2");
    size_t size = sl_discover_encode (&in, buf, sizeof buf);
    assert_int_equal (size, 9 + 2 + 2);
    assert_memory_equal (buf + 9, "b2\0\x01", 4);
    assert_int_equal (sl_discover_decode (buf, size, &out, why, sizeof why), 0);
    assert_true (out.standby);
    assert_string_equal (out.name, "b2");
    //  An active broker's beacon is what it was before standbys.
    in.standby = false;
    size = sl_discover_encode (&in, buf, sizeof buf);
    assert_int_equal (size, 9 + 2);
    assert_int_equal (sl_discover_decode (buf, size, &out, why, sizeof why), 0);
    assert_false (out.standby);
    //  No room for the trailer.
    in.standby = true;
    assert_int_equal (sl_discover_encode (&in, buf, 12), 0);
}

static void s_found_add (sl_discover_found_t *found, const char *endpoint, bool standby, int rc)
{
    sl_discover_beacon_t beacon = { .port = 5560, .standby = standby };
    strcpy (beacon.name, "host");
    assert_int_equal (sl_discover_found_add (found, endpoint, &beacon), rc);
}

static void test_discover_found_keeps_every_broker_once_active_first (void **state)
{
    (void) state;
    sl_discover_found_t found;
    sl_discover_found_init (&found);
    char list [SL_DISCOVER_LIST_MAX];
    assert_int_equal (sl_discover_found_list (&found, list, sizeof list), 0);
    assert_string_equal (list, "");
    s_found_add (&found, "tcp://10.0.0.2:5560", true, 1);
    s_found_add (&found, "tcp://10.0.0.1:5560", false, 1);
    s_found_add (&found, "tcp://10.0.0.3:5560", true, 1);
    s_found_add (&found, "tcp://10.0.0.2:5560", true, 0); //  its next beacon
    assert_int_equal (found.n, 3);
    assert_int_equal (sl_discover_found_list (&found, list, sizeof list), 3);
    assert_string_equal (list, "tcp://10.0.0.1:5560,tcp://10.0.0.2:5560,tcp://10.0.0.3:5560");
    //  A standby that took over meanwhile goes first with the active ones.
    s_found_add (&found, "tcp://10.0.0.3:5560", false, 0);
    sl_discover_found_list (&found, list, sizeof list);
    assert_string_equal (list, "tcp://10.0.0.1:5560,tcp://10.0.0.3:5560,tcp://10.0.0.2:5560");
    //  A list too long for out: the brokers that fit.
    assert_int_equal (sl_discover_found_list (&found, list, 25), 1);
    assert_string_equal (list, "tcp://10.0.0.1:5560");
}

static void test_discover_found_is_capped (void **state)
{
    (void) state;
    sl_discover_found_t found;
    sl_discover_found_init (&found);
    char endpoint [64], list [SL_DISCOVER_LIST_MAX];
    for (int i = 0; i < SL_DISCOVER_FOUND_MAX; i++) {
        snprintf (endpoint, sizeof endpoint, "tcp://[fd00::%d]:65531", i + 100);
        s_found_add (&found, endpoint, i % 2, 1);
    }
    s_found_add (&found, "tcp://10.9.9.9:5560", false, -1);
    assert_int_equal (found.dropped, 1);
    //  The longest list fits its buffer.
    assert_int_equal (sl_discover_found_list (&found, list, sizeof list), SL_DISCOVER_FOUND_MAX);
}

static void test_discover_encode_rejects_what_it_cannot_send (void **state)
{
    (void) state;
    uint8_t buf [128];
    sl_discover_beacon_t beacon = { .port = 0 };
    assert_int_equal (sl_discover_encode (&beacon, buf, sizeof buf), 0);
    beacon.port = 65532; //  no room for the 4 derived ports
    assert_int_equal (sl_discover_encode (&beacon, buf, sizeof buf), 0);
    beacon.port = 5560;
    strcpy (beacon.name, "two words");
    assert_int_equal (sl_discover_encode (&beacon, buf, sizeof buf), 0);
    strcpy (beacon.name, "ok");
    assert_int_equal (sl_discover_encode (&beacon, buf, 10), 0);
    assert_int_equal (sl_discover_encode (&beacon, buf, 11), 11);
}

static void s_assert_rejected (const void *data, size_t size, const char *why_part)
{
    sl_discover_beacon_t beacon = { .port = 77 };
    char why [128] = "";
    assert_int_equal (sl_discover_decode (data, size, &beacon, why, sizeof why), -1);
    assert_int_equal (beacon.port, 77);
    if (!strstr (why, why_part))
        fail_msg ("'%s' does not say '%s'", why, why_part);
}

static void test_discover_decode_rejects_garbage (void **state)
{
    (void) state;
    s_assert_rejected ("", 0, "not a sluice beacon");
    s_assert_rejected ("SLUIC", 5, "not a sluice beacon");
    s_assert_rejected ("ZRE\x01\x15\xb8xxxxx", 11, "not a sluice beacon");
    s_assert_rejected ("sluice\x01\x15\xb8", 9, "not a sluice beacon");
    s_assert_rejected ("SLUICE", 6, "truncated");
    s_assert_rejected ("SLUICE\x01\x15", 8, "truncated");
    s_assert_rejected ("SLUICE\x02\x15\xb8", 9, "version 2 (this program reads version 1)");
    s_assert_rejected ("SLUICE\x00\x15\xb8", 9, "version 0");
    s_assert_rejected ("SLUICE\x01\x00\x00", 9, "port 0");
    s_assert_rejected ("SLUICE\x01\xff\xff", 9, "port 65535");
    s_assert_rejected ("SLUICE\x01\x15\xb8na me", 14, "bad broker name");
    s_assert_rejected ("SLUICE\x01\x15\xb8na\0me", 14, "bad flags trailer");
    s_assert_rejected ("SLUICE\x01\x15\xb8na\0", 12, "bad flags trailer");
    s_assert_rejected ("SLUICE\x01\x15\xb8n e\0\x01", 14, "bad broker name");
    s_assert_rejected ("SLUICE\x01\x15\xb8\xc3\xa9", 11, "bad broker name");
    uint8_t big [9 + SL_DISCOVER_NAME_MAX + 1];
    memcpy (big, "SLUICE\x01\x15\xb8", 9);
    memset (big + 9, 'n', sizeof big - 9);
    s_assert_rejected (big, sizeof big, "bad broker name");
    //  Random bytes after a valid header: decoded only when valid.
    srandom (42);
    for (int i = 0; i < 20000; i++) {
        size_t size = 6 + (size_t) (random () % 80);
        uint8_t *data = malloc (size);
        memcpy (data, "SLUICE", 6);
        for (size_t j = 6; j < size; j++)
            data [j] = (uint8_t) (i % 2 && j == 6 ? 1 : random ());
        sl_discover_beacon_t beacon;
        char why [128];
        if (sl_discover_decode (data, size, &beacon, why, sizeof why) == 0) {
            assert_true (beacon.port >= 1 && beacon.port <= 65531);
            assert_true (strlen (beacon.name) == size - 9 - (beacon.standby ? 2 : 0));
        }
        free (data);
    }
}

static void test_discover_port_option (void **state)
{
    (void) state;
    uint16_t port = 0;
    assert_int_equal (sl_discover_port ("t", NULL, &port), 0);
    assert_int_equal (port, SL_DISCOVER_PORT);
    assert_int_equal (sl_discover_port ("t", "6000", &port), 0);
    assert_int_equal (port, 6000);
    assert_int_equal (sl_discover_port ("t", "0", &port), -1);
    assert_int_equal (sl_discover_port ("t", "65536", &port), -1);
    assert_int_equal (sl_discover_port ("t", "", &port), -1);
    assert_int_equal (port, 6000);
}

static void test_discover_announce_refuses_unreachable_bind (void **state)
{
    (void) state;
    char err [256];
    assert_null (sl_discover_announce ("tcp://127.0.0.1:5560", 5670, NULL, err, sizeof err));
    assert_non_null (strstr (err, "listens on loopback only (127.0.0.1)"));
    assert_null (sl_discover_announce ("tcp://localhost:5560", 5670, NULL, err, sizeof err));
    assert_non_null (strstr (err, "loopback only"));
    //  An address of no interface here (TEST-NET-2).
    assert_null (sl_discover_announce ("tcp://198.51.100.7:5560", 5670, NULL, err, sizeof err));
    assert_non_null (strstr (err, "no network interface with broadcast has the address "
                                  "198.51.100.7"));
    assert_null (sl_discover_announce ("tcp://*:65533", 5670, NULL, err, sizeof err));
    assert_non_null (strstr (err, "port must be"));
    assert_null (sl_discover_announce ("tcp://*:5560", 5670, "bad name", err, sizeof err));
    assert_non_null (strstr (err, "'bad name' is not a broker name"));
    char longer [SL_DISCOVER_NAME_MAX + 2];
    memset (longer, 'n', sizeof longer - 1);
    longer [sizeof longer - 1] = '\0';
    assert_null (sl_discover_announce ("tcp://*:5560", 5670, longer, err, sizeof err));
    assert_non_null (strstr (err, "is not a broker name"));
}

//  A UDP port for one test: random, so that parallel runs do not hear
//  each other.
static uint16_t s_udp_port (void)
{
    return (uint16_t) (20000 + randof (10000));
}

static void test_discover_find_times_out_clearly (void **state)
{
    (void) state;
    uint16_t port = s_udp_port ();
    char endpoint [SL_DISCOVER_ENDPOINT_MAX], err [256], want [256];
    int64_t start = zclock_mono ();
    int rc = sl_discover_find (port, 300, NULL, endpoint, sizeof endpoint, err, sizeof err);
    if (rc && strstr (err, "no network interface with broadcast"))
        skip ();
    int64_t took = zclock_mono () - start;
    assert_int_equal (rc, -1);
    assert_true (took >= 300 && took < 2000);
    snprintf (want, sizeof want,
              "no sluice broker announced itself on UDP port %u within 0.3 s; give --broker", port);
    assert_string_equal (err, want);
}

static void test_discover_finds_an_announced_broker (void **state)
{
    (void) state;
    uint16_t port = s_udp_port ();
    char err [256], endpoint [SL_DISCOVER_ENDPOINT_MAX];
    sl_discover_t *alpha = sl_discover_announce ("tcp://*:5560", port, "alpha", err, sizeof err);
    if (!alpha && strstr (err, "no network interface with broadcast"))
        skip ();
    assert_non_null (alpha);
    sl_discover_t *beta = sl_discover_announce ("tcp://*:7000", port, "beta", err, sizeof err);
    assert_non_null (beta);
    //  By name: beta's port, at the address its beacons come from.
    assert_int_equal (
        sl_discover_find (port, 5000, "beta", endpoint, sizeof endpoint, err, sizeof err), 0);
    assert_int_equal (strncmp (endpoint, "tcp://", 6), 0);
    const char *colon = strrchr (endpoint, ':');
    assert_string_equal (colon, ":7000");
    assert_int_equal (sl_endpoint_check (endpoint, err, sizeof err), 0);
    //  Any: the first heard.
    assert_int_equal (
        sl_discover_find (port, 5000, NULL, endpoint, sizeof endpoint, err, sizeof err), 0);
    colon = strrchr (endpoint, ':');
    assert_true (streq (colon, ":5560") || streq (colon, ":7000"));
    //  A name nobody has.
    assert_int_equal (
        sl_discover_find (port, 1500, "gamma", endpoint, sizeof endpoint, err, sizeof err), -1);
    assert_non_null (strstr (err, "no sluice broker named gamma announced itself"));
    //  Silenced: nothing more to hear.
    sl_discover_destroy (&alpha);
    sl_discover_destroy (&beta);
    assert_null (alpha);
    sl_discover_destroy (&beta);
    assert_int_equal (
        sl_discover_find (port, 1500, NULL, endpoint, sizeof endpoint, err, sizeof err), -1);
}

static void test_discover_find_all_hears_every_broker (void **state)
{
    (void) state;
    uint16_t port = s_udp_port ();
    char err [256];
    sl_discover_t *active = sl_discover_announce ("tcp://*:5560", port, "active", err, sizeof err);
    if (!active && strstr (err, "no network interface with broadcast"))
        skip ();
    assert_non_null (active);
    sl_discover_t *standby =
        sl_discover_announce ("tcp://*:7000", port, "standby", err, sizeof err);
    assert_non_null (standby);
    sl_discover_set_standby (standby, true);
    sl_discover_found_t found;
    int64_t start = zclock_mono ();
    assert_int_equal (
        sl_discover_find_all (port, 5000, SL_DISCOVER_GATHER_MS, NULL, &found, err, sizeof err), 0);
    assert_true (zclock_mono () - start >= SL_DISCOVER_GATHER_MS);
    assert_int_equal (found.n, 2);
    char list [SL_DISCOVER_LIST_MAX];
    assert_int_equal (sl_discover_found_list (&found, list, sizeof list), 2);
    //  The active one first, whichever was heard first.
    const char *comma = strchr (list, ',');
    assert_non_null (comma);
    assert_memory_equal (comma - 5, ":5560", 5);
    assert_string_equal (strrchr (list, ':'), ":7000");
    for (size_t i = 0; i < found.n; i++)
        assert_int_equal (found.standby [i], streq (found.name [i], "standby"));
    sl_discover_destroy (&active);
    sl_discover_destroy (&standby);
}

int main (void)
{
    sl_log_init ("test_discover", SL_LOG_WARN);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_discover_beacon_round_trip),
        cmocka_unit_test (test_discover_standby_beacon_round_trip),
        cmocka_unit_test (test_discover_found_keeps_every_broker_once_active_first),
        cmocka_unit_test (test_discover_found_is_capped),
        cmocka_unit_test (test_discover_encode_rejects_what_it_cannot_send),
        cmocka_unit_test (test_discover_decode_rejects_garbage),
        cmocka_unit_test (test_discover_port_option),
        cmocka_unit_test (test_discover_announce_refuses_unreachable_bind),
        cmocka_unit_test (test_discover_find_times_out_clearly),
        cmocka_unit_test (test_discover_finds_an_announced_broker),
        cmocka_unit_test (test_discover_find_all_hears_every_broker),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
