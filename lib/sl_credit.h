/*  sl_credit - a worker's side of fair (credit-based) dispatch: how many tasks
    to ask the broker for.

    The broker sends a worker at most as many tasks as it asked for. The
    worker asks for as many as fit in its free slots plus a prefetch, less
    those it already asked for and has not received. Pure: no sockets, no
    clock; the worker's loop feeds it what happened.
*/
#ifndef CREDIT_H_INCLUDED
#define CREDIT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Automatic prefetch: the round trip to the broker it aims to hide (ms),
//  and the most it holds. 10 ms, not the 1 ms of an idle loopback: on a
//  busy machine (the tasks' own processes on every core) a credit's
//  answer takes several ms, and each step of credit is a message to the
//  broker and a task batch back. Measured on 1 ms --exec echo tasks, 2
//  slots on 2 cores (bench/exec.sh): with 2 ms (a window of about 6) the
//  slots went idle waiting for tasks and the broker spent about 65 us of
//  CPU per task; with a window of 22, about 33 us, and 20% more tasks a
//  second. Long tasks are not prefetched (2 slots: none past 40 ms).
#define SL_CREDIT_HIDE_MS 10.0
#define SL_CREDIT_MAX_PREFETCH 1024

typedef struct {
    uint32_t slots;     //  tasks run at once
    int32_t prefetch;   //  tasks held beyond the slots; -1 = automatic
    int64_t granted;    //  tasks asked for and not yet received
    double task_ms_avg; //  moving average of run times (ms); < 0 before the first
} sl_credit_t;

void sl_credit_init (sl_credit_t *self, uint32_t slots, int32_t prefetch);

//  A task finished after duration_ms: feeds the automatic prefetch.
void sl_credit_task_done (sl_credit_t *self, uint64_t duration_ms);

//  n tasks arrived from the broker (what is beyond the request was on its
//  way before the last absolute credit: granted stays at 0).
void sl_credit_received (sl_credit_t *self, size_t n);

//  Tasks held beyond the slots now: fixed, or automatically as many as the
//  slots get through in SL_CREDIT_HIDE_MS (none for long tasks, so a task
//  never waits behind a slow one while another worker is free; up to
//  SL_CREDIT_MAX_PREFETCH for tiny ones); none until a task has finished.
int64_t sl_credit_prefetch (const sl_credit_t *self);

//  Whether to ask the broker for tasks now, holding `held` tasks (running
//  and waiting). With `absolute` (after a (re)connect, or to stop when
//  draining) the whole figure is sent; else only an increase, and only
//  when a slot would go idle without it or it is half of slots + prefetch
//  (credit in steps: fewer, fuller task batches for tiny tasks). Returns true
//  with *amount to send and *want to pass to sl_credit_sent once sent.
bool sl_credit_ask (const sl_credit_t *self, size_t held, bool draining, bool absolute,
                    uint32_t *amount, int64_t *want);

//  The request for `want` tasks in all was sent.
void sl_credit_sent (sl_credit_t *self, int64_t want);

#endif
