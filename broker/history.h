/*  history - the broker's recent past, for the dashboard's charts: a
    bounded ring of one sample a second (HISTORY_SAMPLES of them, an hour).

    Each sample holds cumulative counters (results, failures) and gauges
    (queued, running, busy slots) as they were at that second; rates are
    the differences between neighbouring samples, computed when rendered.
    Memory is fixed at creation: HISTORY_SAMPLES * sizeof (history_sample_t)
    (about 170 KiB); the oldest sample is overwritten.

    Pure: no sockets, no clock (`now` is an argument).
*/
#ifndef HISTORY_H_INCLUDED
#define HISTORY_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HISTORY_SAMPLES 3600     //  an hour
#define HISTORY_INTERVAL_MS 1000 //  one sample a second

typedef struct {
    int64_t time_ms;    //  wall clock (ms since the epoch) when taken
    uint64_t completed; //  final results so far (cumulative)
    uint64_t failed;    //  final results not ok so far (cumulative)
    uint64_t queued;    //  tasks waiting for a worker
    uint64_t running;   //  tasks at workers
    uint64_t busy;      //  worker slots busy
    uint64_t slots;     //  worker slots connected
} history_sample_t;

typedef struct _history_t history_t;

//  An empty history. NULL if out of memory. Caller owns the result.
history_t *history_new (void);

//  NULL-safe, nulls *self_p.
void history_destroy (history_t **self_p);

//  Whether a sample is due at now (ms, the clock the samples use): true
//  for the first one, then once HISTORY_INTERVAL_MS has passed since the
//  last one taken.
bool history_due (history_t *self, int64_t now);

//  Records sample (its time_ms is the time used), overwriting the oldest
//  once HISTORY_SAMPLES are held. A sample older than the last one is
//  dropped (the clock went back).
void history_add (history_t *self, const history_sample_t *sample);

//  Samples held (at most HISTORY_SAMPLES).
size_t history_size (history_t *self);

//  The i-th sample held, 0 the oldest; NULL past the end.
const history_sample_t *history_at (history_t *self, size_t i);

//  The samples with time_ms > since as JSON, oldest first:
//  {"interval_ms":1000, "t":[s...], "completed_per_s":[...],
//   "failed_per_s":[...], "queued":[...], "running":[...], "busy":[...],
//   "slots":[...]}. t is in seconds since the epoch; a rate is the change
//  since the sample before divided by the time between them (0 for the
//  first sample held). Caller owns the result; NULL if out of memory.
json_t *history_json (history_t *self, int64_t since);

#endif
