/*  collectors - the broker's collectors of results (sinks and libsluice
    clients, issue 16): who is attached, which jobs each holds, and how
    many results each may still be sent (its credit).

    Pure: no sockets, no clock. The delivery shell asks it who gets a
    job's results and whether that collector may take more now; this
    module keeps the rules:

    - A collector names the jobs it collects (a sink's --job, a client's
      own job) or none (a catch-all sink).
    - Each job goes whole to one collector at a time: the one that named
      it; else the catch-all that already holds it; else the catch-all
      holding the fewest jobs, which holds it from then on. A job nobody
      can take waits (sl_collectors_owner returns NULL).
    - A collector naming a job another one holds is refused, and told who
      holds it (it may wait and try again).
    - A collector that detaches (Bye, silence, replaced) gives its jobs
      back: the next owner gets what was not acknowledged. A job's hold
      ends with its JobDone.
    - Credit: at most `window` results sent and not acknowledged per
      collector, so a slow or stopped collector holds back its own jobs
      only, never the others'.

    Collectors are keyed by name (the peer's "host:pid", unique among
    sessions).
*/
#ifndef COLLECTORS_H_INCLUDED
#define COLLECTORS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_COLLECTORS_MAX_JOBS 64 //  jobs one collector may name

typedef struct _sl_collectors_t sl_collectors_t;

//  A collector, as status reports it. Read-only for the caller.
typedef struct {
    char name [128];      //  the peer's name
    bool catch_all;       //  named no job
    uint64_t in_flight;   //  results sent, not acknowledged
    uint64_t delivered;   //  results acknowledged, in all
    size_t nheld;         //  jobs it holds now
} sl_collector_t;

//  Creates an empty registry; window: results in flight per collector
//  (>= 1). NULL if out of memory. Caller owns it.
sl_collectors_t *sl_collectors_new (uint64_t window);

//  NULL-safe; nulls *self_p.
void sl_collectors_destroy (sl_collectors_t **self_p);

//  Attaches name collecting jobs (njobs ids; 0 = a catch-all). A name
//  already attached is replaced (its jobs given back first). Returns 0, or
//  -1 if a named job is held by another collector: then *holder_p names
//  it (valid until the registry changes) and nothing changes; -1 with
//  *holder_p NULL if out of memory or njobs > SL_COLLECTORS_MAX_JOBS.
int sl_collectors_attach (sl_collectors_t *self, const char *name, const char *const *jobs,
                          size_t njobs, const char **holder_p);

//  Detaches name: its jobs are given back, its credit forgotten. Returns
//  how many jobs it held (0 if it was not attached).
size_t sl_collectors_detach (sl_collectors_t *self, const char *name);

//  Who gets job's results: its holder, else (as above) a collector that
//  takes it now. NULL: no collector may take it (wait).
const char *sl_collectors_owner (sl_collectors_t *self, const char *job);

//  The holder of job, or NULL: no assignment made.
const char *sl_collectors_holder (sl_collectors_t *self, const char *job);

//  Results name may be sent now (its window less those in flight); 0 if
//  it is not attached.
uint64_t sl_collectors_credit (sl_collectors_t *self, const char *name);

//  n results went to name / name acknowledged n (or they were taken back
//  to be sent again).
void sl_collectors_sent (sl_collectors_t *self, const char *name, uint64_t n);
void sl_collectors_acked (sl_collectors_t *self, const char *name, uint64_t n);

//  job is done (its JobDone went out): its hold ends.
void sl_collectors_job_done (sl_collectors_t *self, const char *job);

//  The collectors, in order of attachment: first, then next until NULL.
const sl_collector_t *sl_collectors_first (sl_collectors_t *self);
const sl_collector_t *sl_collectors_next (sl_collectors_t *self);
size_t sl_collectors_size (sl_collectors_t *self);

//  The jobs name holds (at most max into jobs; ids valid until the
//  registry changes). Returns how many.
size_t sl_collectors_jobs (sl_collectors_t *self, const char *name, const char **jobs, size_t max);

#endif
