/*  sink - the sluice sink's event loop: attaches to the broker as its one
    sink, writes every result it receives exactly once (each job in seq
    order with keep_order), confirms what it has written, shows its
    progress on a terminal, and ends when every job it waits for is done.
*/
#ifndef SINK_H_INCLUDED
#define SINK_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "sl_collect.h"
#include "sl_curve.h"
#include "writer.h"

//  --progress / --no-progress
typedef enum {
    SINK_PROGRESS_AUTO, //  when standard error is a terminal
    SINK_PROGRESS_ON,   //  always (into a file too)
    SINK_PROGRESS_OFF   //  never
} sink_progress_t;

typedef struct {
    const char *broker;                              //  tcp://HOST:PORT
    const char *output;                              //  -o FILE, NULL = stdout
    sl_format_t format;                              //  text or jsonl
    const char *job;                                 //  --job: collect only this job, NULL = all
    const char *more_jobs [SL_COLLECT_MAX_JOBS - 1]; //  --job given again: these too
    size_t nmore_jobs;                               //  how many
    bool follow;                                     //  --follow: never exit
    bool resume;                                     //  --resume: continue the output file
    bool from_start;                                 //  --from-start: the whole job again
    bool keep_order;                                 //  -k: each job's results in seq order
    sink_progress_t progress;                        //  the progress line on standard error
    int64_t connect_timeout_ms;                      //  < 0 = wait forever
    const sl_curve_client_t *curve;                  //  CurveZMQ settings (NULL or off: plain)
} sink_config_t;

//  Exit statuses.
#define SINK_EXIT_OK 0     //  every task ok
#define SINK_EXIT_FAILED 1 //  some task failed or timed out
#define SINK_EXIT_ERROR 2  //  usage error, or the sink could not do its job

//  Runs the sink. Returns its exit status.
int sink_run (const sink_config_t *config);

#endif
