/*  journal - the broker's write-ahead journal: records appended, committed
    in groups, replayed after a restart. One interface, two backends:

    - files (journal_file.h, the default): segment files in a directory,
      durable when fdatasync returns;
    - NATS JetStream (journal_nats.h, --journal nats://...): messages of a
      replicated stream, durable when the stream acknowledged them (stored
      on a majority of its replicas).

    The broker (broker.c) and the record layer (durable.c) use only this
    header and do not know which backend they have.

    A record is an opaque type byte (1..255) and up to SL_JOURNAL_MAX_RECORD
    bytes of data; what a record means is the caller's business.

    Life cycle: new; replay() reads every record once (and repairs what a
    crash left); then append() buffers records and commit() makes them
    durable. The broker must not acknowledge anything whose record has not
    been committed: a commit that fails keeps its records buffered and
    retries them on the next commit, so nothing acknowledged is ever lost
    and nothing is written twice.

    Asynchronous commits: the file journal's commit returns once the
    records are synced. The NATS journal's commit only publishes them;
    they become durable as the stream's acknowledgements come back, while
    the broker goes on working: sl_journal_fd becomes readable, and
    sl_journal_poll takes the answers in and advances sl_journal_durable.
    sl_journal_sync commits and waits until everything appended is
    durable, for the rare answer that must be synchronous.

    Positions: every record appended takes the next position (1, 2, ...;
    counted from new, replayed records excluded). sl_journal_appended is the
    position of the last record appended, sl_journal_durable that of the
    last one committed. An answer that depends on a record may go out once
    sl_journal_durable reaches the record's position (see broker/outbox.h).

    Fencing: a backend shared by several brokers (NATS) finds out at commit
    that another broker wrote to it since it last read or wrote; then
    sl_journal_fenced is true, every later commit fails, and the broker
    must stop serving at once. The file journal is never fenced (its
    directory lock keeps a second broker out).

    Not thread-safe: one thread uses a journal.
*/
#ifndef JOURNAL_H_INCLUDED
#define JOURNAL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _sl_journal_t sl_journal_t;

typedef enum {
    SL_FSYNC_ALWAYS, //  sync on every commit; the caller commits every record
    SL_FSYNC_BATCH,  //  sync on every commit; the caller commits batches
    SL_FSYNC_OFF     //  never sync: durable against a process crash only
} sl_fsync_t;

//  Largest record data, in bytes; append refuses bigger.
#define SL_JOURNAL_MAX_RECORD (64u * 1024 * 1024)

//  Parses "always", "batch", "off". Returns 0 or -1 (mode untouched).
int sl_fsync_parse (const char *name, sl_fsync_t *mode);

//  Opens a file journal in dir: see sl_jfile_new in journal_file.h.
//  Returns NULL with a message in err. Caller owns the result.
sl_journal_t *sl_journal_new (const char *dir, sl_fsync_t mode, char *err, size_t errlen);

//  Commits what is buffered (errors ignored; a fenced journal writes
//  nothing) and closes the backend. NULL-safe, nulls *self_p.
void sl_journal_destroy (sl_journal_t **self_p);

//  Called once per record by replay and scan. data points into a read
//  buffer and is valid only during the call. segment is the file
//  journal's segment id (1 for the NATS journal). Returns 0 to go on, -1
//  to stop.
typedef int (sl_journal_fn) (uint8_t type, const uint8_t *data, size_t size, uint64_t segment,
                             void *arg);

//  Replays every record, oldest first, calling fn (which may be NULL) for
//  each. Must be called once, before the first append. A torn tail (what
//  a crash in the middle of a commit leaves) is dropped and counted in
//  sl_journal_torn_bytes; other damage is an error naming where it is.
//  err is cleared first; if fn returns -1, replay returns -1 and, if fn
//  left err empty, err names the record fn refused. On -1 the journal can
//  only be destroyed. Returns the number of records.
int64_t sl_journal_replay (sl_journal_t *self, sl_journal_fn *fn, void *arg, char *err,
                           size_t errlen);

//  Bytes of torn tail dropped by replay (0 if none).
uint64_t sl_journal_torn_bytes (sl_journal_t *self);

//  What replay repaired, in words for the log, or NULL if nothing. The
//  file journal: the last segment's file, the bytes and records dropped (a
//  torn tail), or that its header was missing or cut short (also an empty
//  file, which drops no byte but may have lost every record); and that a
//  file cut short by other means than a crash lost more than can be seen.
//  The NATS journal: the bytes of runs that never ended (journal_frame.h).
const char *sl_journal_repaired (sl_journal_t *self);

//  Buffers a copy of a record (data may be NULL if size is 0). Returns 0,
//  or -1 (type 0, size over SL_JOURNAL_MAX_RECORD, out of memory) with
//  err, and then nothing was buffered.
int sl_journal_append (sl_journal_t *self, uint8_t type, const uint8_t *data, size_t size,
                       char *err, size_t errlen);

//  Makes every appended record durable. Returns 0, or -1 with err saying
//  what failed and what to do; on -1 the records stay buffered and the
//  next commit tries again (unless the journal is fenced: then nothing is
//  written any more).
int sl_journal_commit (sl_journal_t *self, char *err, size_t errlen);

//  Commits and waits until every record appended is durable (or the
//  journal failed). Returns 0 or -1 with err as commit. The file journal's
//  commit does that already.
int sl_journal_sync (sl_journal_t *self, char *err, size_t errlen);

//  A file descriptor that becomes readable when answers to a commit wait
//  for sl_journal_poll, or -1 if the backend never has any (files).
int sl_journal_fd (sl_journal_t *self);

//  Takes in the answers to commits: advances sl_journal_durable, goes on
//  publishing what commit left for later. Returns 0, or -1 with err when
//  a commit failed: then sl_journal_failed is true (and sl_journal_fenced
//  if another broker wrote to the journal), and the next commit retries.
int sl_journal_poll (sl_journal_t *self, char *err, size_t errlen);

//  Bytes appended but not yet durable.
size_t sl_journal_uncommitted (sl_journal_t *self);

//  Bytes appended since the last commit: what the next commit sends (the
//  file journal: the same as uncommitted).
size_t sl_journal_unflushed (sl_journal_t *self);

//  Positions, see above.
uint64_t sl_journal_appended (sl_journal_t *self);
uint64_t sl_journal_durable (sl_journal_t *self);

//  True if the last commit failed (and nothing committed since).
bool sl_journal_failed (sl_journal_t *self);

//  True once a commit found that another broker wrote to the journal:
//  this broker must stop serving. Never true for the file journal.
bool sl_journal_fenced (sl_journal_t *self);

//  Standby brokers (NATS only; see docs/durability.md "Standby brokers").
//  follow: after replay, reads the records another broker appended since
//  this one last read, without waiting, and calls fn for each (split
//  records whose end has not arrived wait for the next call). Returns the
//  records read (0 if none, or for the file journal), or -1 with err.
//  While following, a refused hold does not fence the journal.
int64_t sl_journal_follow (sl_journal_t *self, sl_journal_fn *fn, void *arg, char *err,
                           size_t errlen);

//  hold: proves that this broker still holds the journal, or takes it
//  over after follow: commits what is buffered, then appends an empty
//  message naming holder (the address clients reach this broker at) and
//  workers (its workers' names, comma-separated; "*" if too many to list;
//  NULL: none), both expecting the stream's last sequence as this broker
//  read it. Returns 0 (this broker holds the journal: nobody wrote since
//  it last read or wrote), or -1 with err; then sl_journal_refused says
//  whether another broker wrote meanwhile (fenced too, unless following).
//  The file journal is always held (0).
int sl_journal_hold (sl_journal_t *self, const char *holder, const char *workers, char *err,
                     size_t errlen);

//  True if the last hold failed because another broker wrote first.
bool sl_journal_refused (sl_journal_t *self);

//  The holder named by the last hold message read (replay or follow), or
//  NULL if none was read.
const char *sl_journal_holder (sl_journal_t *self);

//  The workers named by that hold message, or NULL if none was read.
const char *sl_journal_holder_workers (sl_journal_t *self);

//  The stream's last sequence this broker read or wrote (0: file journal).
uint64_t sl_journal_last_seq (sl_journal_t *self);

//  A shared stream's active broker: a live standby has read up to seq - 1,
//  so a checkpoint's purge must not take seq or later (the standby would
//  miss records and have to stop); 0: none to wait for. A purge that would
//  is put off to the next checkpoint. Nothing in the file journal.
void sl_journal_keep_from (sl_journal_t *self, uint64_t seq);

//  Id of the segment appends go to now (0 before replay). The NATS
//  journal has one segment, 1, for the whole stream.
uint64_t sl_journal_segment (sl_journal_t *self);

//  Bytes in the current segment (committed) and in the whole journal. The
//  NATS journal's current segment is reported as 0 bytes, so that the
//  broker never rotates it (see sl_journal_rotate).
uint64_t sl_journal_segment_bytes (sl_journal_t *self);
uint64_t sl_journal_total_bytes (sl_journal_t *self);

//  Commits, then starts a new segment. Returns its id, or 0 with err;
//  then appends still go to the old segment. The NATS journal has no
//  segments: it commits and returns 1.
uint64_t sl_journal_rotate (sl_journal_t *self, char *err, size_t errlen);

//  Deletes every segment with id < segment, never the current one.
//  Returns how many were deleted, or -1 with err. The NATS journal
//  deletes nothing (0): its stream grows until checkpoints purge it.
int sl_journal_delete_before (sl_journal_t *self, uint64_t segment, char *err, size_t errlen);

//  Reads again every committed record of the segments with id >= from,
//  in order, e.g. to find the results of one job. fn returning -1 stops
//  the scan as for replay. Returns records visited, or -1 with err.
int64_t sl_journal_scan (sl_journal_t *self, uint64_t from, sl_journal_fn *fn, void *arg, char *err,
                         size_t errlen);

//  Where the journal is, for messages: the directory (as given to new,
//  trailing slashes removed), or "nats stream NAME".
const char *sl_journal_dir (sl_journal_t *self);

//  CRC32C (Castagnoli) of data, continuing from crc: start with 0, and
//  sl_crc32c (sl_crc32c (0, a, n), b, m) is the CRC of a then b. Uses the
//  CPU's crc32 instruction when sl_crc32c_hardware says it has one, else
//  sl_crc32c_portable. Exposed for tests.
uint32_t sl_crc32c (uint32_t crc, const uint8_t *data, size_t size);

//  The same CRC without the instruction (slice-by-8 tables), so that tests
//  can check both ways against each other on any machine.
uint32_t sl_crc32c_portable (uint32_t crc, const uint8_t *data, size_t size);

//  True if sl_crc32c runs on the CPU's instruction (SSE4.2 on x86-64).
bool sl_crc32c_hardware (void);

#endif
