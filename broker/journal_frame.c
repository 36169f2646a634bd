/*  journal_frame - records in messages, see journal_frame.h.

    The reader keeps the bytes of an open run (from a BEGIN to its END) in
    one buffer; most runs are one message, and those it parses in place.
*/
#include "journal_frame.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _sl_frame_reader_t {
    uint8_t *run;  //  bytes of the open run
    size_t len;    //  bytes in run
    size_t cap;    //  room in run
    bool open;     //  a run began and has not ended
    uint64_t torn; //  bytes of torn runs dropped
};

static uint32_t s_get32 (const uint8_t *p)
{
    return (uint32_t) p [0] | (uint32_t) p [1] << 8 | (uint32_t) p [2] << 16 |
           (uint32_t) p [3] << 24;
}

static void s_put32 (uint8_t *p, uint32_t value)
{
    p [0] = (uint8_t) value;
    p [1] = (uint8_t) (value >> 8);
    p [2] = (uint8_t) (value >> 16);
    p [3] = (uint8_t) (value >> 24);
}

void sl_frame_put_record (uint8_t *p, uint8_t type, const uint8_t *data, size_t size)
{
    assert (p);
    assert (data || size == 0);
    s_put32 (p, (uint32_t) size);
    p [8] = type;
    if (size)
        memcpy (p + SL_FRAME_RECORD_HEAD, data, size);
    s_put32 (p + 4, sl_crc32c (0, p + 8, 1 + size));
}

int sl_frame_append (uint8_t **buf, size_t *len, size_t *cap, uint8_t type, const uint8_t *data,
                     size_t size, char *err, size_t errlen)
{
    assert (buf && len && cap);
    assert (data || size == 0);
    if (type == 0) {
        snprintf (err, errlen, "journal record type 0 is not allowed");
        return -1;
    }
    if (size > SL_JOURNAL_MAX_RECORD) {
        snprintf (err, errlen, "journal record of %zu bytes is over the limit of %u bytes", size,
                  SL_JOURNAL_MAX_RECORD);
        return -1;
    }
    size_t need = SL_FRAME_RECORD_HEAD + size;
    if (need > *cap - *len) {
        if (*len > SIZE_MAX / 2 - need) {
            snprintf (err, errlen, "out of memory buffering a journal record of %zu bytes", size);
            return -1;
        }
        size_t grown = *cap ? *cap : 4096;
        while (grown < *len + need)
            grown *= 2;
        uint8_t *bigger = realloc (*buf, grown);
        if (!bigger) {
            snprintf (err, errlen, "out of memory buffering a journal record of %zu bytes", size);
            return -1;
        }
        *buf = bigger;
        *cap = grown;
    }
    sl_frame_put_record (*buf + *len, type, data, size);
    *len += need;
    return 0;
}

void sl_frame_put_head (uint8_t *p, uint8_t flags)
{
    p [0] = 'S';
    p [1] = 'J';
    p [2] = SL_FRAME_VERSION;
    p [3] = flags;
}

//  Bytes the record at p takes.
static size_t s_record_bytes (const uint8_t *p)
{
    return SL_FRAME_RECORD_HEAD + (size_t) s_get32 (p);
}

sl_frame_cut_t sl_frame_cut (const uint8_t *records, size_t len, size_t max_body)
{
    assert (max_body > 0);
    sl_frame_cut_t cut = { 0, 0, SL_FRAME_BEGIN | SL_FRAME_END, 0 };
    if (len == 0)
        return cut;
    assert (len >= SL_FRAME_RECORD_HEAD);
    size_t first = s_record_bytes (records);
    if (first > max_body) {
        cut.len = max_body;
        cut.flags = SL_FRAME_BEGIN;
        return cut;
    }
    size_t end = first;
    cut.records = 1;
    while (end < len && s_record_bytes (records + end) <= max_body - end) {
        end += s_record_bytes (records + end);
        cut.records++;
    }
    cut.len = end;
    return cut;
}

sl_frame_cut_t sl_frame_cut_more (const uint8_t *records, size_t rec, size_t off, size_t max_body)
{
    assert (off > rec);
    size_t end = rec + s_record_bytes (records + rec);
    assert (off < end);
    sl_frame_cut_t cut = { off, end - off, SL_FRAME_END, 1 };
    if (cut.len > max_body) {
        cut.len = max_body;
        cut.flags = 0;
        cut.records = 0;
    }
    return cut;
}

sl_frame_reader_t *sl_frame_reader_new (void)
{
    return calloc (1, sizeof (sl_frame_reader_t));
}

void sl_frame_reader_destroy (sl_frame_reader_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    free ((*self_p)->run);
    free (*self_p);
    *self_p = NULL;
}

//  Calls fn for every record of a completed run. Returns records, or -1.
static int64_t s_records (const uint8_t *p, size_t len, uint64_t seq, sl_journal_fn *fn, void *arg,
                          char *err, size_t errlen)
{
    int64_t count = 0;
    size_t at = 0;
    while (at < len) {
        const char *why = NULL;
        size_t size = 0;
        if (len - at < SL_FRAME_RECORD_HEAD)
            why = "a record head cut short";
        else if ((size = s_get32 (p + at)) > SL_JOURNAL_MAX_RECORD ||
                 size > len - at - SL_FRAME_RECORD_HEAD)
            why = "a record size beyond the run";
        else if (p [at + 8] == 0)
            why = "a record of type 0";
        else if (sl_crc32c (0, p + at + 8, 1 + size) != s_get32 (p + at + 4))
            why = "a record CRC mismatch";
        if (why) {
            snprintf (err, errlen,
                      "journal stream message %" PRIu64 " is damaged: %s at byte %zu of its run",
                      seq, why, at);
            return -1;
        }
        if (fn && fn (p [at + 8], p + at + SL_FRAME_RECORD_HEAD, size, 1, arg) == -1) {
            if (err && errlen && !err [0])
                snprintf (err, errlen, "journal stream message %" PRIu64 ": a record was refused",
                          seq);
            return -1;
        }
        at += SL_FRAME_RECORD_HEAD + size;
        count++;
    }
    return count;
}

int64_t sl_frame_reader_feed (sl_frame_reader_t *self, uint64_t seq, const uint8_t *msg, size_t len,
                              sl_journal_fn *fn, void *arg, char *err, size_t errlen)
{
    assert (self);
    if (len < SL_FRAME_HEAD || msg [0] != 'S' || msg [1] != 'J') {
        snprintf (err, errlen, "journal stream message %" PRIu64 " is not a sluice journal message",
                  seq);
        return -1;
    }
    if (msg [2] != SL_FRAME_VERSION) {
        snprintf (err, errlen,
                  "journal stream message %" PRIu64
                  " has format version %u; this broker reads version %u (written by a newer "
                  "sluice?)",
                  seq, msg [2], SL_FRAME_VERSION);
        return -1;
    }
    uint8_t flags = msg [3];
    const uint8_t *body = msg + SL_FRAME_HEAD;
    size_t size = len - SL_FRAME_HEAD;
    if (flags & SL_FRAME_BEGIN) {
        if (self->open)
            self->torn += self->len; //  a run that never ended
        self->len = 0;
        self->open = true;
    } else if (!self->open) {
        snprintf (err, errlen,
                  "journal stream message %" PRIu64
                  " continues a record whose beginning is not in the stream",
                  seq);
        return -1;
    }
    if ((flags & SL_FRAME_BEGIN) && (flags & SL_FRAME_END)) {
        self->open = false;
        return s_records (body, size, seq, fn, arg, err, errlen);
    }
    if (size > self->cap - self->len) {
        size_t cap = self->cap ? self->cap : 65536;
        while (cap - self->len < size)
            cap *= 2;
        uint8_t *run = realloc (self->run, cap);
        if (!run) {
            snprintf (err, errlen, "out of memory reading journal stream message %" PRIu64, seq);
            return -1;
        }
        self->run = run;
        self->cap = cap;
    }
    memcpy (self->run + self->len, body, size);
    self->len += size;
    if (!(flags & SL_FRAME_END))
        return 0;
    self->open = false;
    int64_t count = s_records (self->run, self->len, seq, fn, arg, err, errlen);
    self->len = 0;
    return count;
}

size_t sl_frame_reader_pending (const sl_frame_reader_t *self)
{
    assert (self);
    return self->open ? self->len : 0;
}

uint64_t sl_frame_reader_torn (const sl_frame_reader_t *self)
{
    assert (self);
    return self->torn;
}

uint64_t sl_frame_reader_finish (sl_frame_reader_t *self)
{
    assert (self);
    if (self->open)
        self->torn += self->len;
    self->open = false;
    self->len = 0;
    return self->torn;
}
