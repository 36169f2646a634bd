/*  journal - the broker's write-ahead journal: segment files of records.

    The journal knows files and records only. A record is an opaque type
    byte (1..255) and up to SL_JOURNAL_MAX_RECORD bytes of data; what a
    record means is the caller's business. The journal owns its directory:
    the segment files, a lock on the directory (one journal per directory at
    a time, even within one process), and a buffer of records appended but
    not yet committed.

    Files: DIR/journal-NNNNNNNNNNNNNNNN.wal, NNNN... the segment id in 16
    decimal digits, starting at 1 and increasing. Each segment starts with a
    16-byte header, then holds records back to back:

        header: "SLUICEJ1" | u32 version = 1 | u32 reserved = 0
        record: u32 size | u32 CRC32C of (type, data) | u8 type | data [size]

    Integers are little-endian. To change the format: bump the version,
    keep the reader of the old version (a segment is read by the version in
    its own header), write only the new version, and say in the release notes
    that an older broker cannot read a journal a newer one wrote. Segments are
    never rewritten in place, so an old journal upgrades itself as its old
    segments are deleted.

    Life cycle: new() checks the directory; replay() reads every record once
    and repairs a torn tail (what a crash in the middle of a write leaves);
    then append() buffers records and commit() makes them durable. Like
    beanstalkd's binlog, which reserves space before it accepts a job, the
    broker must not acknowledge anything whose record has not been committed:
    a commit that fails (disk full) keeps its records buffered and retries
    them on the next commit, so nothing acknowledged is ever lost and nothing
    is written twice.

    Fsync modes: ALWAYS and BATCH both fdatasync on every commit; the
    difference is the caller's: with ALWAYS the broker commits after every
    record it accepts, with BATCH once per turn of its loop (group commit:
    one sync for many records, at the cost of holding acknowledgements for
    that long). OFF never syncs (neither data nor directory): records survive
    the broker crashing but not the machine.

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

//  Opens the journal in dir, creating dir (mode 0700, and missing parents)
//  if missing. Checks the directory is writable (creates and removes a
//  probe file), so a read-only or unwritable directory fails here with a
//  clear message naming dir, and locks it (flock) so that a second journal
//  on the same directory fails. Does not read records yet. Returns NULL
//  with a message in err. Caller owns the result.
sl_journal_t *sl_journal_new (const char *dir, sl_fsync_t mode, char *err, size_t errlen);

//  Commits what is buffered (errors ignored), closes files and releases the
//  lock. NULL-safe, nulls *self_p.
void sl_journal_destroy (sl_journal_t **self_p);

//  Called once per record by replay and scan. data points into a read
//  buffer and is valid only during the call. Returns 0 to go on, -1 to stop.
typedef int (sl_journal_fn) (uint8_t type, const uint8_t *data, size_t size, uint64_t segment,
                             void *arg);

//  Replays every record, oldest first, calling fn (which may be NULL) for
//  each. Must be called once, before the first append. Rules:
//  - A torn or corrupt record (header cut short, size beyond the end of the
//    file or over the limit, CRC mismatch, type 0) with nothing valid after
//    it, at the end of the LAST segment, is what a crash leaves: the file
//    is truncated where that record starts (and synced), the bytes dropped
//    are counted in sl_journal_torn_bytes, and replay goes on. "Nothing
//    valid after it" means: no later offset in the file starts a complete
//    record with a size within the limit, a type other than 0 and a good
//    CRC (a plain scan, quadratic at worst on a damaged tail).
//  - Any other bad record (in an older segment, or followed by a valid
//    record) is damage: returns -1 with a message naming the file and the
//    byte offset of the bad record.
//  - A bad segment header (magic, version) is an error naming the file,
//    except in the last segment a header cut short (a crash just after the
//    file was created, including an empty file): it is written again.
//  Then appends go to the last segment, or to a new segment 1 if there was
//  none. err is cleared first; if fn returns -1, replay returns -1 and, if
//  fn left err empty (pass err in arg to write your own), err names the file
//  and offset of the record fn refused. On -1 fn may have seen some records,
//  and the journal can only be destroyed. Returns the number of records.
int64_t sl_journal_replay (sl_journal_t *self, sl_journal_fn *fn, void *arg, char *err,
                           size_t errlen);

//  Bytes of torn tail dropped by replay (0 if none).
uint64_t sl_journal_torn_bytes (sl_journal_t *self);

//  Buffers a copy of a record for the current segment (data may be NULL if
//  size is 0). Returns 0, or -1 (type 0, size over SL_JOURNAL_MAX_RECORD,
//  out of memory) with err, and then nothing was buffered.
int sl_journal_append (sl_journal_t *self, uint8_t type, const uint8_t *data, size_t size,
                       char *err, size_t errlen);

//  Writes every appended record (write(2), resuming short writes) and,
//  unless the mode is OFF, fdatasyncs the segment. Returns 0, or -1 with
//  err naming the file, the error and what to do; on -1 the records stay
//  buffered and the next commit goes on from where the write stopped.
//  After a failed sync, the next commit writes again (at the same offsets)
//  every byte since the last good sync, because Linux may have dropped the
//  dirty pages that failed and a second fdatasync would not see them.
int sl_journal_commit (sl_journal_t *self, char *err, size_t errlen);

//  Bytes appended but not yet committed.
size_t sl_journal_uncommitted (sl_journal_t *self);

//  Positions: every record appended takes the next one (1, 2, ...; counted
//  from sl_journal_new, replayed records excluded). sl_journal_appended is
//  the position of the last record appended, sl_journal_durable that of the
//  last one committed. An answer that depends on a record may go out once
//  sl_journal_durable reaches the record's position (see broker/outbox.h).
uint64_t sl_journal_appended (sl_journal_t *self);
uint64_t sl_journal_durable (sl_journal_t *self);

//  True if the last commit failed (and nothing committed since).
bool sl_journal_failed (sl_journal_t *self);

//  Id of the segment appends go to now (0 before replay).
uint64_t sl_journal_segment (sl_journal_t *self);

//  Bytes in the current segment file (committed, header included) and in
//  all segments.
uint64_t sl_journal_segment_bytes (sl_journal_t *self);
uint64_t sl_journal_total_bytes (sl_journal_t *self);

//  Commits, then starts a new segment (its header written and, unless the
//  mode is OFF, synced with the directory). Returns its id, or 0 with err;
//  then appends still go to the old segment.
uint64_t sl_journal_rotate (sl_journal_t *self, char *err, size_t errlen);

//  Deletes every segment with id < segment, never the current one, and
//  syncs the directory (unless the mode is OFF). Returns how many were
//  deleted, or -1 with err (those deleted before the error stay deleted).
int sl_journal_delete_before (sl_journal_t *self, uint64_t segment, char *err, size_t errlen);

//  Reads again every record of the segments with id >= from, in order,
//  e.g. to find the results of one job. Only committed records are seen.
//  A bad record is an error here (replay has already dropped a torn tail).
//  fn returning -1 stops the scan as for replay. Returns records visited,
//  or -1 with err.
int64_t sl_journal_scan (sl_journal_t *self, uint64_t from, sl_journal_fn *fn, void *arg, char *err,
                         size_t errlen);

//  The directory, as given to new (trailing slashes removed).
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
