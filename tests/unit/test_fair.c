/*  test_fair - the broker's fair (credit-based) dispatch (broker/fair.c).

    Each test gets a fresh table (its queues hold the tasks) and dispatcher
    from the fixture. Workers are test records embedding their
    sl_fair_worker_t; the send callback takes the tasks from the table as
    the broker does, records every call (who, which queue, the limit, the
    `alone` flag, how many) and can be told to fail for one worker.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "fair.h"

#define MAX_CALLS 4096
#define MAX_WORKERS 128

typedef struct {
    sl_fair_worker_t fair;
    const char *name;
    size_t got; //  tasks sent to it
} worker_t;

typedef struct {
    worker_t *worker;
    sl_queue_t *queue;
    size_t limit;
    bool alone;
    int64_t sent;
} call_t;

typedef struct {
    sl_table_t *table;
    sl_fair_t *fair;
    worker_t workers [MAX_WORKERS];
    call_t calls [MAX_CALLS];
    size_t ncalls;
    worker_t *failing; //  sends to it fail
    uint64_t seq;      //  last seq submitted
    int64_t now;       //  the clock the sends are stamped with (ms)
} fixture_t;

static int s_setup (void **state)
{
    static fixture_t fixture;
    memset (&fixture, 0, sizeof fixture);
    fixture.table = sl_table_new ();
    fixture.fair = sl_fair_new ();
    if (!fixture.table || !fixture.fair)
        return -1;
    *state = &fixture;
    return 0;
}

static int s_teardown (void **state)
{
    fixture_t *f = *state;
    sl_fair_destroy (&f->fair);
    sl_table_destroy (&f->table);
    return f->fair == NULL ? 0 : -1;
}

//  sl_fair_send_fn: takes up to limit tasks of queue, as the broker does.
static int64_t s_send (void *arg, void *owner, sl_queue_t *queue, size_t limit, bool alone)
{
    fixture_t *f = arg;
    worker_t *worker = owner;
    assert_true (limit >= 1);
    assert_true (f->ncalls < MAX_CALLS);
    call_t *call = &f->calls [f->ncalls++];
    *call = (call_t){ worker, queue, limit, alone, 0 };
    if (worker == f->failing) {
        call->sent = -1;
        return -1;
    }
    while ((size_t) call->sent < limit &&
           sl_table_dispatch_from (f->table, queue, 0, 1000, worker->name))
        call->sent++;
    worker->got += (size_t) call->sent;
    if (call->sent)
        sl_fair_sent (&worker->fair, (size_t) call->sent, f->now);
    return call->sent;
}

static size_t s_dispatch (fixture_t *f)
{
    f->ncalls = 0;
    return sl_fair_dispatch (f->fair, f->table, s_send, f);
}

//  The queue of this name (made on first use).
static sl_queue_t *s_queue (fixture_t *f, const char *name)
{
    sl_queue_t *queue = sl_table_queue (f->table, name, true);
    assert_non_null (queue);
    return queue;
}

//  Worker index i, joined, serving the queues named (NULL-terminated), with
//  a route and `credit`.
static worker_t *s_worker (fixture_t *f, size_t i, int64_t credit, const char *queue, ...)
{
    static char names [MAX_WORKERS][16];
    worker_t *worker = &f->workers [i];
    snprintf (names [i], sizeof names [i], "w%zu", i);
    worker->name = names [i];
    sl_fair_join (f->fair, &worker->fair, worker);
    sl_queue_t *queues [SL_FAIR_MAX_QUEUES];
    size_t n = 0;
    va_list args;
    va_start (args, queue);
    for (const char *name = queue; name; name = va_arg (args, const char *))
        queues [n++] = s_queue (f, name);
    va_end (args);
    sl_fair_set_queues (f->fair, &worker->fair, queues, n);
    sl_fair_set_routable (f->fair, &worker->fair, true);
    sl_fair_credit (f->fair, &worker->fair, credit, true);
    return worker;
}

//  n tasks of job (in the named queue) queued.
static void s_tasks (fixture_t *f, const char *job, const char *queue, size_t n)
{
    sl_table_rc_t rc = sl_table_job_make (f->table, job, queue);
    assert_true (rc == SL_TABLE_OK || rc == SL_TABLE_DUPLICATE);
    for (size_t i = 0; i < n; i++) {
        f->seq++;
        assert_int_equal (sl_table_submit (f->table, job, f->seq, (const uint8_t *) "x", 1, 0, 0),
                          SL_TABLE_OK);
    }
}

//  --- Credit --------------------------------------------------------------------

static void test_fair_sends_only_within_credit (void **state)
{
    fixture_t *f = *state;
    worker_t *w = s_worker (f, 0, 0, "default", NULL);
    s_tasks (f, "j", NULL, 10);
    //  No credit: nothing, and the worker is not even asked.
    assert_int_equal (s_dispatch (f), 0);
    assert_int_equal (f->ncalls, 0);
    assert_int_equal (sl_fair_ready (f->fair), 0);
    sl_fair_credit (f->fair, &w->fair, 3, false);
    assert_int_equal (s_dispatch (f), 3);
    assert_int_equal (w->got, 3);
    assert_int_equal (w->fair.credit, 0);
    assert_int_equal (sl_fair_ready (f->fair), 0);
    //  Spent: nothing more until it asks again.
    assert_int_equal (s_dispatch (f), 0);
    assert_int_equal (f->ncalls, 0);
    sl_fair_credit (f->fair, &w->fair, 2, false);
    sl_fair_credit (f->fair, &w->fair, 2, false);
    assert_int_equal (s_dispatch (f), 4);
    assert_int_equal (w->got, 7);
    assert_int_equal (sl_table_queued (f->table), 3);
}

static void test_fair_absolute_credit_replaces (void **state)
{
    fixture_t *f = *state;
    worker_t *w = s_worker (f, 0, 50, "default", NULL);
    //  Draining: credit 0, absolute.
    sl_fair_credit (f->fair, &w->fair, 0, true);
    s_tasks (f, "j", NULL, 5);
    assert_int_equal (s_dispatch (f), 0);
    assert_int_equal (f->ncalls, 0);
    sl_fair_credit (f->fair, &w->fair, 2, true);
    assert_int_equal (s_dispatch (f), 2);
}

//  A worker repeats its absolute credit (with its heartbeat) while a batch
//  is on its way to it: the batch counts against the credit, or the worker
//  would get a task it cannot start, held behind a long one.
static void test_fair_absolute_credit_counts_tasks_on_their_way (void **state)
{
    fixture_t *f = *state;
    worker_t *w = s_worker (f, 0, 1, "default", NULL);
    s_tasks (f, "j", NULL, 10);
    f->now = 1000;
    assert_int_equal (s_dispatch (f), 1);
    assert_int_equal (w->fair.dealt, 1);
    //  It has received nothing yet, and asks again for its one slot.
    f->now = 1005;
    sl_fair_credit_since (f->fair, &w->fair, 1, 0, f->now, 200);
    assert_int_equal (w->fair.credit, 0);
    assert_int_equal (s_dispatch (f), 0);
    //  Once it has the batch (dealt 1), the same credit is one more task.
    sl_fair_credit_since (f->fair, &w->fair, 1, 1, f->now, 200);
    assert_int_equal (s_dispatch (f), 1);
    assert_int_equal (w->fair.dealt, 2);
    //  Credit beyond what is on its way: the rest is sent.
    sl_fair_credit_since (f->fair, &w->fair, 5, 1, f->now, 200);
    assert_int_equal (w->fair.credit, 4);
    assert_int_equal (s_dispatch (f), 4);
    assert_int_equal (w->fair.dealt, 6);
}

//  A batch not received one window after it went was lost with a broken
//  connection: counting it would starve the worker. A `received` beyond
//  what was sent (a batch from before the worker joined again) counts
//  nothing either.
static void test_fair_absolute_credit_forgets_lost_batches (void **state)
{
    fixture_t *f = *state;
    worker_t *w = s_worker (f, 0, 3, "default", NULL);
    s_tasks (f, "j", NULL, 10);
    f->now = 1000;
    assert_int_equal (s_dispatch (f), 3);
    sl_fair_credit_since (f->fair, &w->fair, 3, 0, 1200, 200);
    assert_int_equal (w->fair.credit, 0);
    sl_fair_credit_since (f->fair, &w->fair, 3, 0, 1201, 200);
    assert_int_equal (w->fair.credit, 3);
    sl_fair_credit_since (f->fair, &w->fair, 2, 99, 1000, 200);
    assert_int_equal (w->fair.credit, 2);
    //  A worker that joins again counts from 0.
    sl_fair_leave (f->fair, &w->fair);
    w = s_worker (f, 0, 0, "default", NULL);
    assert_int_equal (w->fair.dealt, 0);
}

static void test_fair_no_route_no_tasks (void **state)
{
    fixture_t *f = *state;
    worker_t *w = s_worker (f, 0, 10, "default", NULL);
    sl_fair_set_routable (f->fair, &w->fair, false);
    s_tasks (f, "j", NULL, 5);
    assert_int_equal (s_dispatch (f), 0);
    assert_int_equal (f->ncalls, 0);
    sl_fair_set_routable (f->fair, &w->fair, true);
    assert_int_equal (s_dispatch (f), 5);
}

//  --- Shares --------------------------------------------------------------------

static void test_fair_splits_the_queue_between_workers (void **state)
{
    fixture_t *f = *state;
    worker_t *a = s_worker (f, 0, 100, "default", NULL);
    worker_t *b = s_worker (f, 1, 100, "default", NULL);
    s_tasks (f, "j", NULL, 10);
    assert_int_equal (s_dispatch (f), 10);
    //  One batch each, of its share.
    assert_int_equal (f->ncalls, 2);
    assert_int_equal (a->got, 5);
    assert_int_equal (b->got, 5);
    assert_int_equal (f->calls [0].limit, 5);
    assert_int_equal (f->calls [1].limit, 5);
}

static void test_fair_share_is_capped_by_credit (void **state)
{
    fixture_t *f = *state;
    worker_t *a = s_worker (f, 0, 2, "default", NULL);
    worker_t *b = s_worker (f, 1, 100, "default", NULL);
    s_tasks (f, "j", NULL, 10);
    //  a takes 2 (its credit); b its share of 5, then the rest in the next
    //  round, where it is the only one left.
    assert_int_equal (s_dispatch (f), 10);
    assert_int_equal (a->got, 2);
    assert_int_equal (b->got, 8);
}

static void test_fair_idle_workers_do_not_shrink_the_share (void **state)
{
    fixture_t *f = *state;
    worker_t *a = s_worker (f, 0, 100, "busy", NULL);
    worker_t *b = s_worker (f, 1, 100, "busy", NULL);
    //  Fifty workers of an empty queue, each with credit: they must not
    //  count in the share of those that have something to take.
    for (size_t i = 2; i < 52; i++)
        s_worker (f, i, 1, "idle", NULL);
    s_tasks (f, "j", "busy", 64);
    assert_int_equal (s_dispatch (f), 64);
    assert_int_equal (f->ncalls, 2);
    assert_int_equal (a->got, 32);
    assert_int_equal (b->got, 32);
    for (size_t i = 0; i < f->ncalls; i++)
        assert_ptr_equal (f->calls [i].queue, s_queue (f, "busy"));
}

//  --- Order ---------------------------------------------------------------------

static void test_fair_least_recently_served_first (void **state)
{
    fixture_t *f = *state;
    worker_t *w [3];
    for (size_t i = 0; i < 3; i++)
        w [i] = s_worker (f, i, 100, "default", NULL);
    //  One task at a time: each goes to the worker served longest ago.
    for (size_t round = 0; round < 7; round++) {
        s_tasks (f, "j", NULL, 1);
        assert_int_equal (s_dispatch (f), 1);
        assert_int_equal (f->ncalls, 1);
        assert_ptr_equal (f->calls [0].worker, w [round % 3]);
    }
}

static void test_fair_newly_ready_worker_queues_behind_waiting_ones (void **state)
{
    fixture_t *f = *state;
    worker_t *a = s_worker (f, 0, 100, "default", NULL);
    worker_t *b = s_worker (f, 1, 0, "default", NULL);
    worker_t *c = s_worker (f, 2, 100, "default", NULL);
    //  b gets credit after a and c have been waiting: it comes last.
    sl_fair_credit (f->fair, &b->fair, 5, false);
    for (size_t i = 0; i < 3; i++) {
        s_tasks (f, "j", NULL, 1);
        assert_int_equal (s_dispatch (f), 1);
    }
    assert_int_equal (a->got, 1);
    assert_int_equal (c->got, 1);
    assert_int_equal (b->got, 1);
    assert_ptr_equal (f->calls [0].worker, b);
}

static void test_fair_worker_takes_its_queues_in_turn (void **state)
{
    fixture_t *f = *state;
    worker_t *w = s_worker (f, 0, 0, "qa", "qb", NULL);
    s_tasks (f, "ja", "qa", 10);
    s_tasks (f, "jb", "qb", 10);
    sl_queue_t *seen [6];
    for (size_t i = 0; i < 6; i++) {
        sl_fair_credit (f->fair, &w->fair, 1, false);
        assert_int_equal (s_dispatch (f), 1);
        seen [i] = f->calls [0].queue;
    }
    for (size_t i = 1; i < 6; i++)
        assert_ptr_not_equal (seen [i], seen [i - 1]);
}

//  --- Parking -------------------------------------------------------------------

static void test_fair_parks_workers_with_nothing_to_take (void **state)
{
    fixture_t *f = *state;
    worker_t *busy = s_worker (f, 0, 1000, "busy", NULL);
    for (size_t i = 1; i <= 100; i++)
        s_worker (f, i, 10, "idle", NULL);
    s_tasks (f, "j", "busy", 20);
    assert_int_equal (s_dispatch (f), 20);
    assert_int_equal (busy->got, 20);
    //  The idle ones are parked: ready still (credit and a route), but set
    //  aside until their queue has tasks.
    assert_int_equal (sl_fair_ready (f->fair), 101);
    assert_int_equal (sl_fair_parked (f->fair), 100);
    s_tasks (f, "j", "busy", 5);
    assert_int_equal (s_dispatch (f), 5);
    assert_int_equal (f->ncalls, 1);
    assert_int_equal (sl_fair_parked (f->fair), 100);
    //  Tasks in their queue wake them, and each gets its share.
    s_tasks (f, "k", "idle", 100);
    assert_int_equal (s_dispatch (f), 100);
    assert_int_equal (sl_fair_parked (f->fair), 1); //  now the busy one is idle
    for (size_t i = 1; i <= 100; i++)
        assert_int_equal (f->workers [i].got, 1);
}

static void test_fair_parked_worker_of_two_queues_wakes_for_either (void **state)
{
    fixture_t *f = *state;
    worker_t *w = s_worker (f, 0, 10, "qa", "qb", NULL);
    worker_t *other = s_worker (f, 1, 10, "qc", NULL);
    s_tasks (f, "jc", "qc", 1);
    assert_int_equal (s_dispatch (f), 1);
    assert_int_equal (other->got, 1);
    assert_int_equal (sl_fair_parked (f->fair), 1);
    s_tasks (f, "jb", "qb", 3);
    assert_int_equal (s_dispatch (f), 3);
    assert_int_equal (w->got, 3);
    //  Parked again (qa and qb empty), then woken by qa.
    s_tasks (f, "jc", "qc", 1);
    assert_int_equal (s_dispatch (f), 1);
    assert_int_equal (sl_fair_parked (f->fair), 1);
    s_tasks (f, "ja", "qa", 2);
    assert_int_equal (s_dispatch (f), 2);
    assert_int_equal (w->got, 5);
}

static void test_fair_parked_worker_may_leave_or_change (void **state)
{
    fixture_t *f = *state;
    worker_t *gone = s_worker (f, 0, 10, "qa", NULL);
    worker_t *moved = s_worker (f, 1, 10, "qa", NULL);
    worker_t *spent = s_worker (f, 2, 10, "qa", NULL);
    s_tasks (f, "jb", "qb", 1);
    assert_int_equal (s_dispatch (f), 0);
    assert_int_equal (sl_fair_parked (f->fair), 3);
    //  While parked: one leaves, one now serves qb, one drains (credit 0).
    sl_fair_leave (f->fair, &gone->fair);
    sl_queue_t *qb = s_queue (f, "qb");
    sl_fair_set_queues (f->fair, &moved->fair, &qb, 1);
    sl_fair_credit (f->fair, &spent->fair, 0, true);
    assert_int_equal (sl_fair_parked (f->fair), 0);
    assert_int_equal (s_dispatch (f), 1);
    assert_int_equal (moved->got, 1);
    //  Tasks in qa reach nobody: nobody serves it with credit.
    s_tasks (f, "ja", "qa", 2);
    assert_int_equal (s_dispatch (f), 0);
    assert_int_equal (f->ncalls, 0);
    assert_int_equal (sl_fair_serving (f->fair, s_queue (f, "qa")), 1);
    sl_fair_leave (f->fair, &gone->fair); //  twice: nothing
    sl_fair_credit (f->fair, &spent->fair, 1, true);
    assert_int_equal (s_dispatch (f), 1);
    assert_int_equal (spent->got, 1);
}

//  --- Failures and avoidance ----------------------------------------------------

static void test_fair_failed_send_skips_the_worker_until_routable (void **state)
{
    fixture_t *f = *state;
    worker_t *dead = s_worker (f, 0, 100, "default", NULL);
    worker_t *live = s_worker (f, 1, 100, "default", NULL);
    f->failing = dead;
    s_tasks (f, "j", NULL, 10);
    //  The dead one is tried once; the live one takes everything.
    assert_int_equal (s_dispatch (f), 10);
    assert_int_equal (live->got, 10);
    size_t tried = 0;
    for (size_t i = 0; i < f->ncalls; i++)
        tried += f->calls [i].worker == dead;
    assert_int_equal (tried, 1);
    assert_false (dead->fair.routable);
    assert_int_equal (dead->fair.credit, 100); //  nothing was spent
    //  Not tried again until it is heard from.
    s_tasks (f, "j", NULL, 10);
    assert_int_equal (s_dispatch (f), 10);
    for (size_t i = 0; i < f->ncalls; i++)
        assert_ptr_not_equal (f->calls [i].worker, dead);
    f->failing = NULL;
    sl_fair_set_routable (f->fair, &dead->fair, true);
    s_tasks (f, "j", NULL, 4);
    assert_int_equal (s_dispatch (f), 4);
    assert_int_equal (dead->got, 2);
    assert_int_equal (live->got, 22);
}

static void test_fair_alone_says_whether_another_worker_serves_the_queue (void **state)
{
    fixture_t *f = *state;
    worker_t *a = s_worker (f, 0, 10, "qa", NULL);
    s_tasks (f, "ja", "qa", 1);
    assert_int_equal (s_dispatch (f), 1);
    assert_true (f->calls [0].alone);
    //  Another worker serving qa, even without credit: not alone.
    worker_t *b = s_worker (f, 1, 0, "qa", NULL);
    s_tasks (f, "ja", "qa", 1);
    assert_int_equal (s_dispatch (f), 1);
    assert_ptr_equal (f->calls [0].worker, a);
    assert_false (f->calls [0].alone);
    assert_int_equal (sl_fair_serving (f->fair, s_queue (f, "qa")), 2);
    sl_fair_leave (f->fair, &b->fair);
    s_tasks (f, "ja", "qa", 1);
    assert_int_equal (s_dispatch (f), 1);
    assert_true (f->calls [0].alone);
}

static void test_fair_nothing_queued_costs_nothing (void **state)
{
    fixture_t *f = *state;
    for (size_t i = 0; i < 10; i++)
        s_worker (f, i, 5, "default", NULL);
    assert_int_equal (s_dispatch (f), 0);
    assert_int_equal (f->ncalls, 0);
    //  Not even parked: the turn stopped at an empty table.
    assert_int_equal (sl_fair_parked (f->fair), 0);
}

static void test_fair_destroy_is_null_safe (void **state)
{
    (void) state;
    sl_fair_t *fair = NULL;
    sl_fair_destroy (&fair);
    assert_null (fair);
}

int main (void)
{
#define T(name) cmocka_unit_test_setup_teardown (name, s_setup, s_teardown)
    const struct CMUnitTest tests [] = {
        T (test_fair_sends_only_within_credit),
        T (test_fair_absolute_credit_replaces),
        T (test_fair_absolute_credit_counts_tasks_on_their_way),
        T (test_fair_absolute_credit_forgets_lost_batches),
        T (test_fair_no_route_no_tasks),
        T (test_fair_splits_the_queue_between_workers),
        T (test_fair_share_is_capped_by_credit),
        T (test_fair_idle_workers_do_not_shrink_the_share),
        T (test_fair_least_recently_served_first),
        T (test_fair_newly_ready_worker_queues_behind_waiting_ones),
        T (test_fair_worker_takes_its_queues_in_turn),
        T (test_fair_parks_workers_with_nothing_to_take),
        T (test_fair_parked_worker_of_two_queues_wakes_for_either),
        T (test_fair_parked_worker_may_leave_or_change),
        T (test_fair_failed_send_skips_the_worker_until_routable),
        T (test_fair_alone_says_whether_another_worker_serves_the_queue),
        T (test_fair_nothing_queued_costs_nothing),
        cmocka_unit_test (test_fair_destroy_is_null_safe),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
