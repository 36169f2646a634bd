/*  journal_frame - how the NATS journal packs records into messages.

    Pure: no sockets, no NATS. A message body is a 4-byte head, then bytes
    of records in the file journal's record format (journal_file.h):

        head:   'S' 'J' | u8 version = 1 | u8 flags
        record: u32 size | u32 CRC32C of (type, data) | u8 type | data [size]

    flags: SL_FRAME_BEGIN, the body starts at a record boundary;
    SL_FRAME_END, it ends at one. Records that fit are packed whole, as many
    as fit in one message (BEGIN|END); a record longer than a message is
    split across several (BEGIN, then none, then END). A run of messages
    from a BEGIN to the next END holds whole records.

    A commit cut short (a crash, a lost connection between the parts of a
    split record) leaves a run without its END. The next message that
    BEGINs (a retry, or the next broker's first append) shows it was torn:
    the reader drops it, as the file journal drops a torn tail, and counts
    its bytes. A run still open at the end of the stream is dropped too.
    Nothing in a torn run was ever confirmed: a broker confirms only what
    the stream acknowledged, and it acknowledges a run only message by
    message, the END last.

    To change the format: bump the version; the reader refuses versions it
    does not know, naming the stream sequence.
*/
#ifndef JOURNAL_FRAME_H_INCLUDED
#define JOURNAL_FRAME_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal.h"

#define SL_FRAME_HEAD 4        //  bytes of a message head
#define SL_FRAME_RECORD_HEAD 9 //  bytes of a record head: size, crc, type
#define SL_FRAME_VERSION 1
#define SL_FRAME_BEGIN 0x01 //  the body starts at a record boundary
#define SL_FRAME_END 0x02   //  the body ends at a record boundary

//  Writes one record at p, which has room for SL_FRAME_RECORD_HEAD + size
//  bytes (data may be NULL if size is 0).
void sl_frame_put_record (uint8_t *p, uint8_t type, const uint8_t *data, size_t size);

//  Appends one record to the buffer *buf of *len bytes used and *cap
//  allocated (both journals keep the records appended and not committed
//  so), growing it as needed. Returns 0, or -1 (type 0, size over
//  SL_JOURNAL_MAX_RECORD, out of memory) with err; then nothing changed.
int sl_frame_append (uint8_t **buf, size_t *len, size_t *cap, uint8_t type, const uint8_t *data,
                     size_t size, char *err, size_t errlen);

//  Writes a message head with flags at p (SL_FRAME_HEAD bytes).
void sl_frame_put_head (uint8_t *p, uint8_t flags);

//  One message body: bytes [off, off + len) of the records, and its flags.
typedef struct {
    size_t off;     //  first byte in the records
    size_t len;     //  bytes (not counting the head)
    uint8_t flags;  //  SL_FRAME_BEGIN, SL_FRAME_END
    size_t records; //  records that end in it
} sl_frame_cut_t;

//  The first message body of records [0..len), which must start at a
//  record boundary and hold whole records: as many whole records as fit
//  in max_body bytes (at least 1 byte), or the first max_body bytes of a
//  record that does not fit alone. Returns the cut (len 0 if len is 0).
sl_frame_cut_t sl_frame_cut (const uint8_t *records, size_t len, size_t max_body);

//  The cut that continues a split record: bytes [off..) of the record
//  that starts at rec (off > rec), at most max_body of them.
sl_frame_cut_t sl_frame_cut_more (const uint8_t *records, size_t rec, size_t off, size_t max_body);

typedef struct _sl_frame_reader_t sl_frame_reader_t;

//  A reader of messages in stream order. Returns NULL if out of memory.
sl_frame_reader_t *sl_frame_reader_new (void);

//  NULL-safe, nulls *self_p.
void sl_frame_reader_destroy (sl_frame_reader_t **self_p);

//  Reads one message (seq: its stream sequence, for messages), calling fn
//  (which may be NULL) with segment 1 for each record it completes.
//  Returns the number of records, or -1 with err: a bad head, a run that
//  does not begin (a message without BEGIN and no run open), a bad record
//  inside a completed run, fn returning -1 (err as fn left it, or naming
//  seq).
int64_t sl_frame_reader_feed (sl_frame_reader_t *self, uint64_t seq, const uint8_t *msg, size_t len,
                              sl_journal_fn *fn, void *arg, char *err, size_t errlen);

//  Ends the stream: an open run is dropped. Returns the bytes dropped at
//  the end and before (torn runs) so far.
uint64_t sl_frame_reader_finish (sl_frame_reader_t *self);

//  Bytes of the run still open (begun, not ended), or 0: a reader that
//  stops at the end of what the stream holds now and goes on later (a
//  standby's replay, then its following) keeps them for the parts to come.
size_t sl_frame_reader_pending (const sl_frame_reader_t *self);

//  Bytes of torn runs dropped so far (not counting the open one).
uint64_t sl_frame_reader_torn (const sl_frame_reader_t *self);

#endif
