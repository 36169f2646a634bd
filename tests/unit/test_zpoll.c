/*  Tests of sl_zpoll: zmq_poll's results at one poll() a turn, over real
    inproc sockets and a pipe. */
#include <czmq.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>

#include <cmocka.h>

#include "sl_zpoll.h"

typedef struct {
    zsock_t *push; //  sends to pull
    zsock_t *pull; //  the socket polled
    int pipe [2];  //  a plain fd to poll beside it
    sl_zpoll_t poller;
} fixture_t;

static int s_setup (void **state)
{
    static int n;
    fixture_t *f = calloc (1, sizeof *f);
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "inproc://zpoll-%d", n++);
    f->pull = zsock_new_pull (endpoint);
    f->push = zsock_new_push (endpoint);
    assert_non_null (f->pull);
    assert_non_null (f->push);
    assert_int_equal (pipe (f->pipe), 0);
    *state = f;
    return 0;
}

static int s_teardown (void **state)
{
    fixture_t *f = *state;
    sl_zpoll_clear (&f->poller);
    zsock_destroy (&f->push);
    zsock_destroy (&f->pull);
    close (f->pipe [0]);
    close (f->pipe [1]);
    free (f);
    return 0;
}

//  Polls pull (tracked or not) and the pipe's read end.
static int s_poll (fixture_t *f, zmq_pollitem_t *items, long timeout)
{
    items [0] = (zmq_pollitem_t){ zsock_resolve (f->pull), 0, ZMQ_POLLIN, 0 };
    items [1] = (zmq_pollitem_t){ NULL, f->pipe [0], ZMQ_POLLIN, 0 };
    return sl_zpoll (&f->poller, items, 2, timeout);
}

static void test_zpoll_times_out_when_nothing_is_ready (void **state)
{
    fixture_t *f = *state;
    zmq_pollitem_t items [2];
    int64_t start = zclock_mono ();
    assert_int_equal (s_poll (f, items, 50), 0);
    assert_true (zclock_mono () - start >= 45);
    assert_int_equal (items [0].revents, 0);
    assert_int_equal (items [1].revents, 0);
}

static void test_zpoll_wakes_for_a_message (void **state)
{
    fixture_t *f = *state;
    assert_int_equal (sl_zpoll_track (&f->poller, zsock_resolve (f->pull)), 0);
    zmq_pollitem_t items [2];
    assert_int_equal (s_poll (f, items, 0), 0); //  idle: events asked once
    zstr_send (f->push, "one");
    assert_int_equal (s_poll (f, items, 2000), 1);
    assert_int_equal (items [0].revents, ZMQ_POLLIN);
    char *got = zstr_recv (f->pull);
    assert_string_equal (got, "one");
    zstr_free (&got);
}

static void test_zpoll_reports_a_plain_fd (void **state)
{
    fixture_t *f = *state;
    zmq_pollitem_t items [2];
    assert_int_equal (write (f->pipe [1], "x", 1), 1);
    assert_int_equal (s_poll (f, items, 2000), 1);
    assert_int_equal (items [0].revents, 0);
    assert_int_equal (items [1].revents & ZMQ_POLLIN, ZMQ_POLLIN);
}

//  A message that arrived while the socket was in use (its ZMQ_FD's
//  signal taken by that use) is seen at once after a touch.
static void test_zpoll_sees_a_message_taken_in_by_a_use (void **state)
{
    fixture_t *f = *state;
    assert_int_equal (sl_zpoll_track (&f->poller, zsock_resolve (f->pull)), 0);
    zmq_pollitem_t items [2];
    assert_int_equal (s_poll (f, items, 0), 0);
    zstr_send (f->push, "one");
    zstr_send (f->push, "two");
    assert_int_equal (s_poll (f, items, 2000), 1);
    char *got = zstr_recv (f->pull); //  "two" stays
    zstr_free (&got);
    //  Ready at the last turn: asked again without a touch.
    assert_int_equal (s_poll (f, items, 2000), 1);
    got = zstr_recv (f->pull);
    assert_string_equal (got, "two");
    zstr_free (&got);
    assert_int_equal (s_poll (f, items, 0), 0); //  nothing left: not asked again
    //  A use outside a ready turn, told with a touch.
    zstr_send (f->push, "three");
    zclock_sleep (20);
    assert_int_equal (zsock_events (f->pull) & ZMQ_POLLIN, ZMQ_POLLIN); //  takes in the signal
    sl_zpoll_touch (&f->poller, zsock_resolve (f->pull));
    int64_t start = zclock_mono ();
    assert_int_equal (s_poll (f, items, 2000), 1);
    assert_true (zclock_mono () - start < 1000);
    got = zstr_recv (f->pull);
    assert_string_equal (got, "three");
    zstr_free (&got);
}

//  An untracked socket is asked every time: a use outside the loop never
//  hides its messages.
static void test_zpoll_asks_an_untracked_socket_every_time (void **state)
{
    fixture_t *f = *state;
    zmq_pollitem_t items [2];
    assert_int_equal (s_poll (f, items, 0), 0);
    zstr_send (f->push, "one");
    zclock_sleep (20);
    assert_int_equal (zsock_events (f->pull) & ZMQ_POLLIN, ZMQ_POLLIN); //  no touch
    int64_t start = zclock_mono ();
    assert_int_equal (s_poll (f, items, 2000), 1);
    assert_true (zclock_mono () - start < 1000);
    assert_int_equal (items [0].revents, ZMQ_POLLIN);
}

static void test_zpoll_tracks_a_bounded_number (void **state)
{
    fixture_t *f = *state;
    zsock_t *socks [SL_ZPOLL_MAX_SOCKETS + 1];
    for (int i = 0; i <= SL_ZPOLL_MAX_SOCKETS; i++) {
        socks [i] = zsock_new (ZMQ_PAIR);
        int rc = sl_zpoll_track (&f->poller, zsock_resolve (socks [i]));
        assert_int_equal (rc, i < SL_ZPOLL_MAX_SOCKETS ? 0 : -1);
    }
    for (int i = 0; i <= SL_ZPOLL_MAX_SOCKETS; i++)
        zsock_destroy (&socks [i]);
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_zpoll_times_out_when_nothing_is_ready, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_zpoll_wakes_for_a_message, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_zpoll_reports_a_plain_fd, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_zpoll_sees_a_message_taken_in_by_a_use, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_zpoll_asks_an_untracked_socket_every_time, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_zpoll_tracks_a_bounded_number, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
