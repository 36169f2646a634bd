/*  journal_file - the file backend of the journal (journal.h): segment
    files of records in a directory. This is the default backend.

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
#ifndef JOURNAL_FILE_H_INCLUDED
#define JOURNAL_FILE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal.h"

typedef struct _sl_jfile_t sl_jfile_t;

//  Opens the journal in dir, creating dir (mode 0700, and missing parents)
//  if missing. Checks the directory is writable (creates and removes a
//  probe file), so a read-only or unwritable directory fails here with a
//  clear message naming dir, and locks it (flock) so that a second journal
//  on the same directory fails. Does not read records yet. Returns NULL
//  with a message in err. Caller owns the result.
sl_jfile_t *sl_jfile_new (const char *dir, sl_fsync_t mode, char *err, size_t errlen);

//  Commits what is buffered (errors ignored), closes files and releases the
//  lock. NULL-safe, nulls *self_p.
void sl_jfile_destroy (sl_jfile_t **self_p);

//  Replays every record, oldest first, calling fn (which may be NULL) for
//  each. Must be called once, before the first append. Rules:
//  - A torn or corrupt record (header cut short, size beyond the end of the
//    file or over the limit, CRC mismatch, type 0) with nothing valid after
//    it, at the end of the LAST segment, is what a crash leaves: the file
//    is truncated where that record starts (and synced), the bytes dropped
//    are counted in sl_jfile_torn_bytes, and replay goes on. "Nothing
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
int64_t sl_jfile_replay (sl_jfile_t *self, sl_journal_fn *fn, void *arg, char *err, size_t errlen);

//  Bytes of torn tail dropped by replay (0 if none).
uint64_t sl_jfile_torn_bytes (sl_jfile_t *self);

//  What replay repaired in the last segment, in words for the log: the
//  segment's file, the bytes and records dropped (a torn tail), or that its
//  header was missing or cut short (also an empty file, which drops no
//  byte but may have lost every record); and that a file cut short by other
//  means than a crash lost more than can be seen. NULL if nothing.
const char *sl_jfile_repaired (sl_jfile_t *self);

//  Buffers a copy of a record for the current segment (data may be NULL if
//  size is 0). Returns 0, or -1 (type 0, size over SL_JOURNAL_MAX_RECORD,
//  out of memory) with err, and then nothing was buffered.
int sl_jfile_append (sl_jfile_t *self, uint8_t type, const uint8_t *data, size_t size, char *err,
                     size_t errlen);

//  Writes every appended record (write(2), resuming short writes) and,
//  unless the mode is OFF, fdatasyncs the segment. Returns 0, or -1 with
//  err naming the file, the error and what to do; on -1 the records stay
//  buffered and the next commit goes on from where the write stopped.
//  After a failed sync, the next commit writes again (at the same offsets)
//  every byte since the last good sync, because Linux may have dropped the
//  dirty pages that failed and a second fdatasync would not see them.
int sl_jfile_commit (sl_jfile_t *self, char *err, size_t errlen);

//  Bytes appended but not yet committed.
size_t sl_jfile_uncommitted (sl_jfile_t *self);

//  Positions: every record appended takes the next one (1, 2, ...; counted
//  from sl_jfile_new, replayed records excluded). sl_jfile_appended is
//  the position of the last record appended, sl_jfile_durable that of the
//  last one committed. An answer that depends on a record may go out once
//  sl_jfile_durable reaches the record's position (see broker/outbox.h).
uint64_t sl_jfile_appended (sl_jfile_t *self);
uint64_t sl_jfile_durable (sl_jfile_t *self);

//  True if the last commit failed (and nothing committed since).
bool sl_jfile_failed (sl_jfile_t *self);

//  Id of the segment appends go to now (0 before replay).
uint64_t sl_jfile_segment (sl_jfile_t *self);

//  Bytes in the current segment file (committed, header included) and in
//  all segments.
uint64_t sl_jfile_segment_bytes (sl_jfile_t *self);
uint64_t sl_jfile_total_bytes (sl_jfile_t *self);

//  Commits, then starts a new segment (its header written and, unless the
//  mode is OFF, synced with the directory). Returns its id, or 0 with err;
//  then appends still go to the old segment.
uint64_t sl_jfile_rotate (sl_jfile_t *self, char *err, size_t errlen);

//  Deletes every segment with id < segment, never the current one, and
//  syncs the directory (unless the mode is OFF). Returns how many were
//  deleted, or -1 with err (those deleted before the error stay deleted).
int sl_jfile_delete_before (sl_jfile_t *self, uint64_t segment, char *err, size_t errlen);

//  Reads again every record of the segments with id >= from, in order,
//  e.g. to find the results of one job. Only committed records are seen.
//  A bad record is an error here (replay has already dropped a torn tail).
//  fn returning -1 stops the scan as for replay. Returns records visited,
//  or -1 with err.
int64_t sl_jfile_scan (sl_jfile_t *self, uint64_t from, sl_journal_fn *fn, void *arg, char *err,
                       size_t errlen);

//  The directory, as given to new (trailing slashes removed).
const char *sl_jfile_dir (sl_jfile_t *self);

#endif
