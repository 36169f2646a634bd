/*  fair - the broker's side of fair (credit-based) dispatch, see fair.h.

    Layout: every queue a worker serves gets an entry in a fixed registry
    (found by pointer when a worker's queues are set, never per task), which
    counts the workers serving it and holds its parked workers. A worker is
    in one of three states: out (no credit or no route), ready (in the ready
    list) or parked (in the parked list of each of its queues). Entries with
    parked workers are "watched": each turn looks at them first and wakes
    the workers of those that have tasks again.
*/
#include "fair.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

enum { FAIR_OUT = 0, FAIR_READY = 1, FAIR_PARKED = 2 };

struct _sl_fair_queue_t {
    sl_queue_t *queue;      //  the table's queue
    size_t serving;         //  joined workers serving it
    sl_fair_link_t *parked; //  its parked workers (first), or NULL
    size_t watch_index;     //  its place in watch while it has parked workers
};

struct _sl_fair_t {
    sl_fair_queue_t queues [SL_TABLE_MAX_QUEUES]; //  registry of the queues workers serve
    size_t nqueues;                               //  entries in use
    sl_fair_queue_t *watch [SL_TABLE_MAX_QUEUES]; //  entries with parked workers
    size_t nwatch;                                //  how many
    sl_fair_worker_t *head;                       //  ready list: least recently served first
    sl_fair_worker_t *tail;                       //  most recently served (or ready) last
    size_t nready;                                //  workers in it
    size_t nparked;                               //  workers parked
};

sl_fair_t *sl_fair_new (void)
{
    return (sl_fair_t *) calloc (1, sizeof (sl_fair_t));
}

void sl_fair_destroy (sl_fair_t **self_p)
{
    assert (self_p);
    free (*self_p);
    *self_p = NULL;
}

//  --- The ready list ---------------------------------------------------------

static void s_ready_unlink (sl_fair_t *self, sl_fair_worker_t *worker)
{
    if (worker->prev)
        worker->prev->next = worker->next;
    else
        self->head = worker->next;
    if (worker->next)
        worker->next->prev = worker->prev;
    else
        self->tail = worker->prev;
    worker->prev = worker->next = NULL;
    self->nready--;
}

static void s_ready_append (sl_fair_t *self, sl_fair_worker_t *worker)
{
    worker->prev = self->tail;
    worker->next = NULL;
    if (self->tail)
        self->tail->next = worker;
    else
        self->head = worker;
    self->tail = worker;
    self->nready++;
}

static void s_ready_prepend (sl_fair_t *self, sl_fair_worker_t *worker)
{
    worker->prev = NULL;
    worker->next = self->head;
    if (self->head)
        self->head->prev = worker;
    else
        self->tail = worker;
    self->head = worker;
    self->nready++;
}

//  --- Parking ------------------------------------------------------------------

static void s_watch (sl_fair_t *self, sl_fair_queue_t *fq)
{
    fq->watch_index = self->nwatch;
    self->watch [self->nwatch++] = fq;
}

static void s_unwatch (sl_fair_t *self, sl_fair_queue_t *fq)
{
    sl_fair_queue_t *last = self->watch [--self->nwatch];
    self->watch [fq->watch_index] = last;
    last->watch_index = fq->watch_index;
}

//  A ready worker with nothing to take: out of the ready list, into the
//  parked list of each of its queues.
static void s_park (sl_fair_t *self, sl_fair_worker_t *worker)
{
    assert (worker->state == FAIR_READY);
    s_ready_unlink (self, worker);
    for (size_t i = 0; i < worker->nqueues; i++) {
        sl_fair_queue_t *fq = worker->queues [i];
        sl_fair_link_t *link = &worker->parked [i];
        link->worker = worker;
        link->prev = NULL;
        link->next = fq->parked;
        if (fq->parked)
            fq->parked->prev = link;
        else
            s_watch (self, fq);
        fq->parked = link;
    }
    worker->state = FAIR_PARKED;
    self->nparked++;
}

//  Out of every parked list; the caller puts it somewhere.
static void s_unpark_links (sl_fair_t *self, sl_fair_worker_t *worker)
{
    assert (worker->state == FAIR_PARKED);
    for (size_t i = 0; i < worker->nqueues; i++) {
        sl_fair_queue_t *fq = worker->queues [i];
        sl_fair_link_t *link = &worker->parked [i];
        if (link->prev)
            link->prev->next = link->next;
        else
            fq->parked = link->next;
        if (link->next)
            link->next->prev = link->prev;
        link->prev = link->next = NULL;
        if (!fq->parked)
            s_unwatch (self, fq);
    }
    worker->state = FAIR_OUT;
    self->nparked--;
}

//  Workers parked on queues that have tasks again go back to the ready
//  list, at its front: they have waited longest.
static void s_wake (sl_fair_t *self)
{
    sl_fair_queue_t *wake [SL_TABLE_MAX_QUEUES];
    size_t n = 0;
    for (size_t i = 0; i < self->nwatch; i++)
        if (sl_queue_queued (self->watch [i]->queue))
            wake [n++] = self->watch [i];
    for (size_t i = 0; i < n; i++)
        while (wake [i]->parked) {
            sl_fair_worker_t *worker = wake [i]->parked->worker;
            s_unpark_links (self, worker);
            s_ready_prepend (self, worker);
            worker->state = FAIR_READY;
        }
}

//  --- Worker state -------------------------------------------------------------

//  Takes the worker out of whatever list holds it.
static void s_out (sl_fair_t *self, sl_fair_worker_t *worker)
{
    if (worker->state == FAIR_READY)
        s_ready_unlink (self, worker);
    else if (worker->state == FAIR_PARKED)
        s_unpark_links (self, worker);
    worker->state = FAIR_OUT;
}

//  Puts the worker where its credit, route and queues say: ready (at the
//  back, behind those waiting longer) or out. A parked one stays parked.
static void s_update (sl_fair_t *self, sl_fair_worker_t *worker)
{
    bool ready = worker->joined && worker->credit > 0 && worker->routable && worker->nqueues > 0;
    if (!ready)
        s_out (self, worker);
    else if (worker->state == FAIR_OUT) {
        s_ready_append (self, worker);
        worker->state = FAIR_READY;
    }
}

void sl_fair_join (sl_fair_t *self, sl_fair_worker_t *worker, void *owner)
{
    assert (self);
    (void) self; //  nothing to do until it has queues
    assert (worker);
    assert (!worker->joined);
    memset (worker, 0, sizeof *worker);
    worker->owner = owner;
    worker->joined = true;
}

static sl_fair_queue_t *s_registry (sl_fair_t *self, sl_queue_t *queue)
{
    for (size_t i = 0; i < self->nqueues; i++)
        if (self->queues [i].queue == queue)
            return &self->queues [i];
    //  Every queue comes from one table, which holds no more than this.
    assert (self->nqueues < SL_TABLE_MAX_QUEUES);
    sl_fair_queue_t *fq = &self->queues [self->nqueues++];
    fq->queue = queue;
    return fq;
}

void sl_fair_set_queues (sl_fair_t *self, sl_fair_worker_t *worker, sl_queue_t **queues, size_t n)
{
    assert (self);
    assert (worker && worker->joined);
    bool parked = worker->state == FAIR_PARKED;
    if (parked) {
        //  Its parked links name its old queues: ready again, looked at anew.
        s_unpark_links (self, worker);
        s_ready_prepend (self, worker);
        worker->state = FAIR_READY;
    }
    for (size_t i = 0; i < worker->nqueues; i++)
        worker->queues [i]->serving--;
    worker->nqueues = 0;
    worker->next_queue = 0;
    for (size_t i = 0; i < n && worker->nqueues < SL_FAIR_MAX_QUEUES; i++) {
        assert (queues [i]);
        sl_fair_queue_t *fq = s_registry (self, queues [i]);
        fq->serving++;
        worker->queues [worker->nqueues++] = fq;
    }
    s_update (self, worker);
}

void sl_fair_leave (sl_fair_t *self, sl_fair_worker_t *worker)
{
    assert (self);
    assert (worker);
    if (!worker->joined)
        return;
    s_out (self, worker);
    for (size_t i = 0; i < worker->nqueues; i++)
        worker->queues [i]->serving--;
    worker->nqueues = 0;
    worker->joined = false;
}

void sl_fair_credit (sl_fair_t *self, sl_fair_worker_t *worker, int64_t credit, bool absolute)
{
    assert (self);
    assert (worker && worker->joined);
    worker->credit = absolute ? credit : worker->credit + credit;
    s_update (self, worker);
}

void sl_fair_credit_since (sl_fair_t *self, sl_fair_worker_t *worker, int64_t credit,
                           uint64_t received, int64_t now, int64_t window_ms)
{
    assert (self);
    assert (worker && worker->joined);
    if (received < worker->dealt && now - worker->dealt_at <= window_ms) {
        uint64_t on_way = worker->dealt - received;
        credit = on_way >= (uint64_t) credit ? 0 : credit - (int64_t) on_way;
    }
    sl_fair_credit (self, worker, credit, true);
}

void sl_fair_sent (sl_fair_worker_t *worker, size_t n, int64_t now)
{
    assert (worker);
    worker->dealt += n;
    worker->dealt_at = now;
}

void sl_fair_set_routable (sl_fair_t *self, sl_fair_worker_t *worker, bool routable)
{
    assert (self);
    assert (worker && worker->joined);
    worker->routable = routable;
    s_update (self, worker);
}

//  --- Dispatch -------------------------------------------------------------------

//  The next of the worker's queues that has tasks waiting (round-robin, so
//  that a flood on one queue does not starve its others), or NULL.
static sl_fair_queue_t *s_next_queue (sl_fair_worker_t *worker)
{
    for (size_t i = 0; i < worker->nqueues; i++) {
        size_t at = (worker->next_queue + i) % worker->nqueues;
        if (sl_queue_queued (worker->queues [at]->queue)) {
            worker->next_queue = (at + 1) % worker->nqueues;
            return worker->queues [at];
        }
    }
    return NULL;
}

static bool s_has_work (const sl_fair_worker_t *worker)
{
    for (size_t i = 0; i < worker->nqueues; i++)
        if (sl_queue_queued (worker->queues [i]->queue))
            return true;
    return false;
}

size_t sl_fair_dispatch (sl_fair_t *self, sl_table_t *table, sl_fair_send_fn *send, void *arg)
{
    assert (self);
    assert (table);
    assert (send);
    size_t total = 0;
    bool progress = true;
    while (progress && sl_table_queued (table)) {
        progress = false;
        s_wake (self);
        //  The share counts only the workers that have something to take:
        //  idle ones of other queues must not make the others' batches small.
        size_t ready = 0;
        sl_fair_worker_t *next;
        for (sl_fair_worker_t *worker = self->head; worker; worker = next) {
            next = worker->next;
            if (s_has_work (worker))
                ready++;
            else
                s_park (self, worker);
        }
        if (ready == 0)
            break;
        size_t share = (sl_table_queued (table) + ready - 1) / ready;
        //  Each once, in order; a worker served goes to the back (behind
        //  `last`, so not again in this round), or out with its credit spent.
        sl_fair_worker_t *last = self->tail;
        for (sl_fair_worker_t *worker = self->head; worker && sl_table_queued (table);
             worker = next) {
            next = worker == last ? NULL : worker->next;
            sl_fair_queue_t *fq = s_next_queue (worker);
            if (!fq)
                continue; //  others took what its queues held: parked next turn
            size_t limit = share < (uint64_t) worker->credit ? share : (size_t) worker->credit;
            int64_t sent = send (arg, worker->owner, fq->queue, limit, fq->serving <= 1);
            if (sent < 0) {
                worker->routable = false;
                s_out (self, worker);
                continue;
            }
            if (sent == 0)
                continue;
            assert ((uint64_t) sent <= limit);
            worker->credit -= sent;
            total += (size_t) sent;
            progress = true;
            s_ready_unlink (self, worker);
            if (worker->credit > 0)
                s_ready_append (self, worker);
            else
                worker->state = FAIR_OUT;
        }
    }
    return total;
}

size_t sl_fair_ready (sl_fair_t *self)
{
    assert (self);
    return self->nready + self->nparked;
}

size_t sl_fair_parked (sl_fair_t *self)
{
    assert (self);
    return self->nparked;
}

size_t sl_fair_serving (sl_fair_t *self, sl_queue_t *queue)
{
    assert (self);
    for (size_t i = 0; i < self->nqueues; i++)
        if (self->queues [i].queue == queue)
            return self->queues [i].serving;
    return 0;
}
