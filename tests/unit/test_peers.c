/*  test_peers - the broker's sessions (broker/peers.c): lookup by
    connection and by name, what a hello supersedes, the agreed heartbeat,
    and who is silent at a given `now`. Each test gets a fresh registry.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "peers.h"
#include "sl_proto.h"

#define WORKER SLUICE__ROLE__ROLE_WORKER
#define SINK SLUICE__ROLE__ROLE_SINK

static int s_setup (void **state)
{
    *state = sl_peers_new ();
    return *state ? 0 : -1;
}

static int s_teardown (void **state)
{
    sl_peers_t *peers = (sl_peers_t *) *state;
    sl_peers_destroy (&peers);
    return peers ? -1 : 0;
}

static sl_peer_t *s_add (sl_peers_t *peers, const char *key, int role, const char *name,
                         int64_t now, uint32_t heartbeat_ms)
{
    zframe_t *routing_id = zframe_new (key, strlen (key));
    sl_peer_t *peer = sl_peers_add (peers, key, routing_id, role, name, now);
    zframe_destroy (&routing_id);
    assert_non_null (peer);
    peer->heartbeat_ms = heartbeat_ms;
    return peer;
}

static void test_peers_found_by_key_and_by_name (void **state)
{
    sl_peers_t *peers = (sl_peers_t *) *state;
    sl_peer_t *w = s_add (peers, "k1", WORKER, "host:1", 0, 1000);
    sl_peer_t *s = s_add (peers, "k2", SINK, "host:2", 0, 1000);
    assert_ptr_equal (sl_peers_by_key (peers, "k1"), w);
    assert_ptr_equal (sl_peers_by_name (peers, "host:2"), s);
    assert_null (sl_peers_by_key (peers, "k3"));
    assert_null (sl_peers_by_key (peers, ""));
    assert_null (sl_peers_by_key (peers, NULL));
    assert_null (sl_peers_by_name (peers, "host:3"));
    assert_true (zframe_streq (w->routing_id, "k1"));
    assert_int_equal (sl_peers_size (peers), 2);
    assert_int_equal (sl_peers_workers (peers), 1); //  the sink is no worker
    sl_peers_remove (peers, w);
    assert_null (sl_peers_by_key (peers, "k1"));
    assert_null (sl_peers_by_name (peers, "host:1"));
    assert_int_equal (sl_peers_workers (peers), 0);
    assert_int_equal (sl_peers_size (peers), 1);
}

static void test_peers_workers_newest_first (void **state)
{
    sl_peers_t *peers = (sl_peers_t *) *state;
    s_add (peers, "a", WORKER, "w:1", 0, 1000);
    s_add (peers, "b", WORKER, "w:2", 0, 1000);
    s_add (peers, "c", WORKER, "w:3", 0, 1000);
    const char *want [] = { "w:3", "w:2", "w:1" };
    size_t i = 0;
    for (sl_peer_t *p = sl_peers_worker_first (peers); p; p = sl_peers_worker_next (peers))
        assert_string_equal (p->name, want [i++]);
    assert_int_equal (i, 3);
}

static void test_peers_hello_again_on_the_same_connection_goes_on (void **state)
{
    sl_peers_t *peers = (sl_peers_t *) *state;
    s_add (peers, "k1", WORKER, "host:1", 0, 1000);
    bool again = false;
    assert_null (sl_peers_superseded (peers, "k1", WORKER, "host:1", &again));
    assert_true (again);
    //  A brand-new client: nothing in the way.
    assert_null (sl_peers_superseded (peers, "k9", WORKER, "host:9", &again));
    assert_false (again);
}

static void test_peers_hello_as_another_client_supersedes_the_connection (void **state)
{
    sl_peers_t *peers = (sl_peers_t *) *state;
    sl_peer_t *w = s_add (peers, "k1", WORKER, "host:1", 0, 1000);
    bool again = true;
    //  Another role, or another name, on the same connection.
    assert_ptr_equal (sl_peers_superseded (peers, "k1", SINK, "host:1", &again), w);
    assert_false (again);
    assert_ptr_equal (sl_peers_superseded (peers, "k1", WORKER, "host:2", &again), w);
    assert_false (again);
}

static void test_peers_reconnect_supersedes_the_old_connection (void **state)
{
    sl_peers_t *peers = (sl_peers_t *) *state;
    sl_peer_t *old = s_add (peers, "old", WORKER, "host:1", 0, 1000);
    bool again = true;
    assert_ptr_equal (sl_peers_superseded (peers, "new", WORKER, "host:1", &again), old);
    assert_false (again);
    sl_peers_remove (peers, old);
    assert_null (sl_peers_superseded (peers, "new", WORKER, "host:1", &again));
}

static void test_peers_both_in_the_way_one_after_the_other (void **state)
{
    //  Connection k1 was host:1 and says hello as host:2, which another
    //  connection k2 holds: first k1's own session goes, then k2's.
    sl_peers_t *peers = (sl_peers_t *) *state;
    sl_peer_t *mine = s_add (peers, "k1", WORKER, "host:1", 0, 1000);
    sl_peer_t *named = s_add (peers, "k2", WORKER, "host:2", 0, 1000);
    bool again;
    assert_ptr_equal (sl_peers_superseded (peers, "k1", WORKER, "host:2", &again), mine);
    sl_peers_remove (peers, mine);
    assert_ptr_equal (sl_peers_superseded (peers, "k1", WORKER, "host:2", &again), named);
    sl_peers_remove (peers, named);
    assert_null (sl_peers_superseded (peers, "k1", WORKER, "host:2", &again));
    assert_int_equal (sl_peers_size (peers), 0);
}

static void test_peers_heartbeat_is_the_wish_within_bounds (void **state)
{
    (void) state;
    assert_int_equal (sl_peers_heartbeat (0, 1000), 1000);
    assert_int_equal (sl_peers_heartbeat (250, 1000), 250);
    assert_int_equal (sl_peers_heartbeat (1, 1000), SL_PEERS_MIN_HEARTBEAT);
    assert_int_equal (sl_peers_heartbeat (UINT32_MAX, 1000), SL_PEERS_MAX_HEARTBEAT);
    assert_int_equal (sl_peers_heartbeat (0, 5), SL_PEERS_MIN_HEARTBEAT);
}

static void test_peers_silent_after_liveness_of_their_own_intervals (void **state)
{
    sl_peers_t *peers = (sl_peers_t *) *state;
    sl_peer_t *fast = s_add (peers, "f", WORKER, "fast:1", 1000, 100);
    sl_peer_t *slow = s_add (peers, "s", SINK, "slow:1", 1000, 2000);
    sl_peer_t *gone [4];
    //  3 of its own intervals: not yet at exactly 300 ms, at 301 ms.
    assert_int_equal (sl_peers_silent (peers, 1300, gone, 4), 0);
    assert_int_equal (sl_peers_silent (peers, 1301, gone, 4), 1);
    assert_ptr_equal (gone [0], fast);
    //  Heard again: alive.
    fast->last_seen = 1301;
    assert_int_equal (sl_peers_silent (peers, 1500, gone, 4), 0);
    assert_int_equal (sl_peers_silent (peers, 7001, gone, 4), 2);
    //  At most max at a time.
    assert_int_equal (sl_peers_silent (peers, 7001, gone, 1), 1);
    (void) slow;
}

//  A hello of role with job and queues, and whether it is refused.
static bool s_refused (int role, const char *job, char **queues, size_t nqueues, bool fair,
                       char *why)
{
    Sluice__Hello hello = SLUICE__HELLO__INIT;
    hello.role = role;
    hello.name = "h:1";
    hello.job = (char *) job;
    hello.queues = queues;
    hello.n_queues = nqueues;
    hello.delivery = role == SINK ? SL_DELIVERY_VERSION : 0;
    why [0] = '\0';
    return sl_peers_hello_refused (&hello, fair, why, 256);
}

static void test_peers_hello_refused_for_what_it_says (void **state)
{
    (void) state;
    char why [256];
    char *good [] = { "default", "gpu" };
    char *bad [] = { "no spaces" };
    char *many [SL_PEERS_MAX_QUEUES + 1];
    for (size_t i = 0; i < SL_PEERS_MAX_QUEUES + 1; i++)
        many [i] = "q";
    //  Acceptable hellos.
    assert_false (s_refused (WORKER, "", good, 2, true, why));
    assert_false (s_refused (SINK, "", NULL, 0, true, why));
    assert_false (s_refused (SINK, "job-1", NULL, 0, true, why));
    assert_false (s_refused (SLUICE__ROLE__ROLE_VENTILATOR, "job-1", NULL, 0, true, why));
    assert_false (s_refused (SLUICE__ROLE__ROLE_CONTROL, "", NULL, 0, false, why));
    assert_string_equal (why, "");
    //  An unknown role.
    assert_true (s_refused (99, "", NULL, 0, true, why));
    assert_string_equal (why, "unknown client role");
    //  A ventilator must name a valid job; a sink may name none.
    assert_true (s_refused (SLUICE__ROLE__ROLE_VENTILATOR, "", NULL, 0, true, why));
    assert_non_null (strstr (why, "job id"));
    assert_true (s_refused (SINK, "bad job", NULL, 0, true, why));
    assert_non_null (strstr (why, "job id"));
    //  Queues: how many, their names, and named ones under push dispatch.
    assert_true (s_refused (WORKER, "", many, SL_PEERS_MAX_QUEUES + 1, true, why));
    assert_non_null (strstr (why, "queues per worker"));
    assert_true (s_refused (WORKER, "", bad, 1, true, why));
    assert_non_null (strstr (why, "'no spaces'"));
    assert_true (s_refused (WORKER, "", good, 2, false, why));
    assert_non_null (strstr (why, "--dispatch push"));
    assert_false (s_refused (WORKER, "", good, 1, false, why)); //  "default" alone is fine
}

//  A sink of another delivery protocol (an older one reads the delivery
//  port with PULL and sends no version) is told so, with both versions.
static void test_peers_hello_refused_for_another_delivery_protocol (void **state)
{
    (void) state;
    char why [256] = "";
    Sluice__Hello hello = SLUICE__HELLO__INIT;
    hello.role = SINK;
    hello.name = "h:1";
    hello.job = "";
    hello.delivery = 0;
    assert_true (sl_peers_hello_refused (&hello, true, why, sizeof why));
    assert_non_null (strstr (why, "delivery protocol 2"));
    assert_non_null (strstr (why, "delivery protocol 1"));
    assert_non_null (strstr (why, "older"));
    hello.delivery = SL_DELIVERY_VERSION + 1;
    assert_true (sl_peers_hello_refused (&hello, true, why, sizeof why));
    assert_non_null (strstr (why, "newer"));
    hello.delivery = SL_DELIVERY_VERSION;
    assert_false (sl_peers_hello_refused (&hello, true, why, sizeof why));
    //  Workers do not collect: no version asked of them.
    hello.role = WORKER;
    hello.delivery = 0;
    assert_false (sl_peers_hello_refused (&hello, true, why, sizeof why));
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_peers_found_by_key_and_by_name, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_peers_workers_newest_first, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_peers_hello_again_on_the_same_connection_goes_on,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (
            test_peers_hello_as_another_client_supersedes_the_connection, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_peers_reconnect_supersedes_the_old_connection,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_peers_both_in_the_way_one_after_the_other, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_peers_heartbeat_is_the_wish_within_bounds, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_peers_silent_after_liveness_of_their_own_intervals,
                                         s_setup, s_teardown),
        cmocka_unit_test (test_peers_hello_refused_for_what_it_says),
        cmocka_unit_test (test_peers_hello_refused_for_another_delivery_protocol),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
