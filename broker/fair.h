/*  fair - the broker's side of fair (credit-based) dispatch: which worker
    is sent tasks next, from which of its queues, and how many.

    A worker asks for tasks with credit (worker/credit.h); the broker sends
    it at most that many. Credit is the flow control: nothing else limits
    what goes to a worker, and nothing goes to one that did not ask.

    Workers the broker could send to (credit left, and a route to them that
    did not fail) are kept in a ready list, least recently served first. A
    dispatch turn serves every one of them that has tasks waiting in one of
    its queues, each at most its credit and its share of what is queued
    (queued / such workers), in rounds while tasks and credit last; a
    worker with several queues takes them in turn. A ready worker whose
    queues are all empty is parked on them and costs a turn nothing until
    one of them has tasks again: a turn costs the queues that have parked
    workers and the workers it serves, never the workers that have no
    credit (busy) or nothing to take (idle, of other queues).

    Pure: no sockets, no clock. The broker takes the tasks and sends them
    in a callback; the table is only asked how many tasks each queue holds.
*/
#ifndef FAIR_H_INCLUDED
#define FAIR_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "table.h"

//  Named queues one worker may serve.
#define SL_FAIR_MAX_QUEUES 16

typedef struct _sl_fair_t sl_fair_t;
typedef struct _sl_fair_queue_t sl_fair_queue_t;
typedef struct _sl_fair_worker_t sl_fair_worker_t;

//  A worker's place in a parked list (one per queue it serves).
typedef struct _sl_fair_link_t sl_fair_link_t;
struct _sl_fair_link_t {
    sl_fair_worker_t *worker; //  whose link it is
    sl_fair_link_t *prev;     //  in the queue's parked list
    sl_fair_link_t *next;
};

//  A worker as fair dispatch sees it. The caller embeds it in its own
//  record of the worker (its address must not change while joined) and
//  touches it only through the functions below; credit, routable and dealt
//  may be read.
struct _sl_fair_worker_t {
    void *owner;                                  //  the caller's record, handed to send
    int64_t credit;                               //  tasks it asked for and was not sent yet
    uint64_t dealt;                               //  tasks sent to it since it joined
    int64_t dealt_at;                             //  when the last of them went (ms)
    bool routable;                                //  a route to it is known, the last send worked
    bool joined;                                  //  between sl_fair_join and sl_fair_leave
    uint8_t state;                                //  out, ready or parked (fair.c)
    sl_fair_worker_t *prev;                       //  ready list: the one before
    sl_fair_worker_t *next;                       //  ready list: the one after
    sl_fair_queue_t *queues [SL_FAIR_MAX_QUEUES]; //  the queues it serves
    sl_fair_link_t parked [SL_FAIR_MAX_QUEUES];   //  while parked: in each queue's list
    size_t nqueues;                               //  how many
    size_t next_queue;                            //  where the round over its queues goes on
};

//  Caller owns the result. NULL if out of memory.
sl_fair_t *sl_fair_new (void);

//  Frees the dispatcher (not the workers, which the caller owns).
//  NULL-safe, nulls *self_p.
void sl_fair_destroy (sl_fair_t **self_p);

//  A worker joins, with no credit, no route and no queue. owner is what
//  send is given for it.
void sl_fair_join (sl_fair_t *self, sl_fair_worker_t *worker, void *owner);

//  The worker is gone (or will be): forgotten. Safe on a worker never joined.
void sl_fair_leave (sl_fair_t *self, sl_fair_worker_t *worker);

//  The named queues it serves, replacing those it had (at most
//  SL_FAIR_MAX_QUEUES; more are ignored). Every queue comes from one table,
//  which holds at most SL_TABLE_MAX_QUEUES.
void sl_fair_set_queues (sl_fair_t *self, sl_fair_worker_t *worker, sl_queue_t **queues, size_t n);

//  A Credit message: sets its credit (absolute) or adds to it.
void sl_fair_credit (sl_fair_t *self, sl_fair_worker_t *worker, int64_t credit, bool absolute);

//  An absolute Credit that names the last batch the worker received (by
//  its `dealt`, see sl_fair_sent): credit counts the tasks sent after that
//  batch, which are on their way, if the last send was within window_ms of
//  now. (A worker that repeats its credit with its heartbeat would else be
//  sent those tasks and as many again, and hold them behind a long task
//  while another worker idles. A send older than window_ms that has not
//  arrived was lost with a broken connection: counting it would starve
//  the worker.) A `received` beyond dealt (from before it joined again)
//  counts nothing as on its way.
void sl_fair_credit_since (sl_fair_t *self, sl_fair_worker_t *worker, int64_t credit,
                           uint64_t received, int64_t now, int64_t window_ms);

//  n tasks went to the worker at now, in a batch that said dealt + n.
void sl_fair_sent (sl_fair_worker_t *worker, size_t n, int64_t now);

//  Whether tasks can be sent to it: a route to it is known. A failed send
//  clears it (see sl_fair_send_fn); the caller sets it again when it hears
//  from the worker.
void sl_fair_set_routable (sl_fair_t *self, sl_fair_worker_t *worker, bool routable);

//  Sends up to `limit` (>= 1) tasks from `queue` to the worker `owner`.
//  `alone` is true when no other worker serves that queue (a task that
//  should avoid this worker may then go to it all the same). Returns how
//  many were sent (0 if none could be taken), or -1 if the send failed:
//  the worker is then not routable until sl_fair_set_routable. It must not
//  call sl_fair_join, sl_fair_leave or sl_fair_set_queues.
typedef int64_t (sl_fair_send_fn) (void *arg, void *owner, sl_queue_t *queue, size_t limit,
                                   bool alone);

//  One dispatch turn (see above). Returns the tasks sent.
size_t sl_fair_dispatch (sl_fair_t *self, sl_table_t *table, sl_fair_send_fn *send, void *arg);

//  Workers ready to be sent tasks, and those of them parked (idle).
size_t sl_fair_ready (sl_fair_t *self);
size_t sl_fair_parked (sl_fair_t *self);

//  Workers joined that serve queue (whatever their credit).
size_t sl_fair_serving (sl_fair_t *self, sl_queue_t *queue);

#endif
