/*  sl_wattach - a worker's attachment cache: the files shipped with jobs
    (sluice-ventilator --attach), fetched from the broker once per host and
    kept in a cache directory under their SHA-1.

    Owns the cache directory's files it writes, the download under way
    (one at a time, a piece per request) and, per job, the list of its
    files (name and path). It does file I/O but no socket I/O: a request
    for the next piece is handed out with sl_wattach_request and the worker
    core sends it. Time is passed in (`now`, monotonic ms).
*/
#ifndef SL_WATTACH_H_INCLUDED
#define SL_WATTACH_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice.pb-c.h"

#define SL_WATTACH_MAX 8 //  files per job

//  A file a task may use: its name in the job and where it is here.
typedef struct {
    const char *name;
    const char *path;
} sl_wattach_file_t;

typedef struct _sl_wattach_t sl_wattach_t;

//  Creates the cache in dir (NULL: $XDG_CACHE_HOME/sluice/attachments or
//  ~/.cache/sluice/attachments), made if missing, holding at most
//  max_bytes (files of known jobs excepted). Returns NULL (logged) if the
//  directory cannot be made. Caller owns the result.
sl_wattach_t *sl_wattach_new (const char *dir, uint64_t max_bytes);

//  Removes a partial download, frees all. NULL-safe, nulls *self_p.
void sl_wattach_destroy (sl_wattach_t **self_p);

//  Remembers the attachments of batch's job, the first time a batch names
//  them (malformed names or hashes are skipped).
void sl_wattach_note (sl_wattach_t *self, const Sluice__TaskBatch *batch);

//  True if every file of job is here; else queues their downloads.
bool sl_wattach_ready (sl_wattach_t *self, const char *job, int64_t now);

//  The files of job (*count of them; NULL and 0 if none). The array and
//  its strings belong to the cache and live as long as it does.
const sl_wattach_file_t *sl_wattach_files (sl_wattach_t *self, const char *job, size_t *count);

//  A piece arrived from the broker.
void sl_wattach_on_chunk (sl_wattach_t *self, const Sluice__AttachChunk *chunk, int64_t now);

//  Asks again after a stall, starts the next download when due.
void sl_wattach_tick (sl_wattach_t *self, int64_t now);

//  Earliest time sl_wattach_tick has something to do, or INT64_MAX.
int64_t sl_wattach_next_wake (sl_wattach_t *self);

//  A request for a piece to send to the broker, if one is due: fills *get
//  (its hash points into the cache, valid until the next call) and returns
//  true, once per request.
bool sl_wattach_request (sl_wattach_t *self, Sluice__AttachGet *get);

//  Bytes received from the broker so far.
uint64_t sl_wattach_bytes (sl_wattach_t *self);

#endif
