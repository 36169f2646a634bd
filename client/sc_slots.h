/*  sc_slots - libsluice's executor (lib/sl_wexec.h): runs a handler
    function per task, in `slots` threads (zactors, one task at a time each)
    or, with inline_handler, in the calling thread.

    A task goes to a slot as a pointer over the actor's pipe and comes back
    the same way when done, so a long handler never delays the loop (nor
    the heartbeats: the broker gives a silent worker up after 3 intervals).
    To ask a running handler to stop (cancelled, over its time limit,
    stopping now) a "STOP" goes down the same pipe; the handler sees it
    waiting there (sluice_task_should_stop and sluice_task_sleep poll the
    pipe without reading it) and the slot drops it once the handler
    returned. Time limits are watched here: a handler over its limit is
    asked to stop and reported `timeout`.
*/
#ifndef SC_SLOTS_H_INCLUDED
#define SC_SLOTS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sl_wexec.h"
#include "sluice.h"

typedef struct _sc_slots_t sc_slots_t;

//  Creates nslots handler threads (none if is_inline). Output beyond
//  max_output bytes is cut and flagged. Returns NULL (logged) on failure.
//  Caller owns the result.
sc_slots_t *sc_slots_new (sluice_handler_fn *handler, void *state, uint32_t nslots, bool is_inline,
                          size_t max_output);

//  Ends the threads (once their handler returned) and frees all.
//  NULL-safe, nulls *self_p.
void sc_slots_destroy (sc_slots_t **self_p);

//  The executor interface over self (valid as long as self is).
sl_wexec_t sc_slots_exec (sc_slots_t *self);

#endif
