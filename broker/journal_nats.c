/*  journal_nats - the NATS JetStream journal, see journal_nats.h.

    State: the connection and JetStream context, the stream's last
    sequence as this broker knows it (what the next publish expects), and
    one buffer of records appended and not yet acknowledged. The buffer is
    published from `pos` on, in messages cut by journal_frame; `rec` is the
    start of the record `pos` is in (pos itself unless a split record is
    half sent). A publish that got no answer leaves its cut in `doubt`: the
    next commit sends exactly that message again (same bytes, same message
    id) so that JetStream's duplicate detection can recognise it.

    Publishes are synchronous (js_Publish, one acknowledgement per
    message): a commit is usually one message (up to the servers' max
    payload, 1 MB by default), and the broker's loop waits for a commit as
    it waits for fdatasync with the file journal.
*/
#include <assert.h>
#include <inttypes.h>
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "journal_backend.h"
#include "journal_frame.h"
#include "journal_nats.h"
#include "journal_url.h"

#define HEADER_ROOM 512         //  room left in a message for its headers
#define MIN_BODY 1024           //  smallest message body we accept to cut
#define BUFFER_KEEP (16u << 20) //  a commit frees a buffer bigger than this

typedef struct {
    char *name;               //  "nats stream NAME", for messages
    char *stream;             //  the stream's name
    char *subject;            //  the subject its messages go to
    int replicas;             //  replicas, if the stream is created
    int64_t timeout_ms;       //  wait for acknowledgements and reads
    natsConnection *conn;     //  connection to the cluster
    jsCtx *js;                //  JetStream context of conn
    char nonce [24];          //  random id of this run, in message ids
    size_t max_body;          //  largest message body
    bool replayed;            //  replay was called
    uint64_t last_seq;        //  the stream's last sequence as we know it
    uint64_t first_seq;       //  the stream's first sequence when replay began
    uint8_t *buf;             //  records appended, not yet acknowledged
    size_t len;               //  bytes in buf
    size_t cap;               //  room in buf
    size_t pos;               //  bytes of buf acknowledged
    size_t rec;               //  start of the record pos is in
    bool doubt;               //  the publish of doubt_cut got no answer
    sl_frame_cut_t doubt_cut; //  the message to send again, unchanged
    uint8_t *msg;             //  scratch: head + body of one message
    uint64_t appended;        //  records appended (position of the last one)
    uint64_t durable;         //  position of the last record acknowledged
    bool failed;              //  the last commit failed
    bool fenced;              //  another broker wrote to the stream
    uint64_t torn_bytes;      //  bytes of torn runs dropped by replay
    char repaired [256];      //  what replay dropped, in words, or ""
    uint64_t bytes;           //  the stream's bytes (at replay, plus published)
    natsSubscription *follow; //  standby: ordered consumer of what others append
    sl_frame_reader_t *follow_reader; //  standby: records split over messages
    bool synced;              //  standby: a message that begins a run was followed
    bool refused;             //  the last hold found that another broker wrote
    char holder [256];        //  the holder named by the last hold message read
    char *workers;            //  the workers it named (owned), or NULL
} s_nats_t;

//  The message of the last libnats error.
static const char *s_nats_error (natsStatus s)
{
    natsStatus last;
    const char *text = nats_GetLastError (&last);
    return text && *text ? text : natsStatus_GetText (s);
}

static int s_commit (void *impl, char *err, size_t errlen);
static void s_follow_stop (s_nats_t *self);

static void s_destroy (void **impl_p)
{
    s_nats_t *self = *impl_p;
    if (!self)
        return;
    if (self->replayed && !self->fenced && self->conn) {
        char err [256];
        s_commit (self, err, sizeof err); //  as the file journal does
    }
    s_follow_stop (self);
    jsCtx_Destroy (self->js);
    natsConnection_Destroy (self->conn);
    free (self->buf);
    free (self->msg);
    free (self->name);
    free (self->stream);
    free (self->subject);
    free (self->workers);
    free (self);
    *impl_p = NULL;
}

//  Publishes data [0..len) expecting the stream's last sequence (if any).
//  Returns 0 (last_seq updated), or -1 with err; *fenced says whether the
//  stream refused it for a wrong last sequence.
static int s_publish (s_nats_t *self, const uint8_t *data, size_t len, bool expect, bool *fenced,
                      char *err, size_t errlen)
{
    *fenced = false;
    char id [64];
    snprintf (id, sizeof id, "%s-%" PRIu64, self->nonce, self->last_seq + 1);
    jsPubOptions po;
    jsPubOptions_Init (&po);
    po.MaxWait = self->timeout_ms;
    if (expect) {
        po.ExpectLastSeq = self->last_seq;
        po.MsgId = id;
    }
    jsPubAck *ack = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_Publish (&ack, self->js, self->subject, data, (int) len, &po, &jerr);
    if (s == NATS_OK) {
        self->last_seq = ack->Sequence;
        jsPubAck_Destroy (ack);
        self->bytes += len;
        return 0;
    }
    if (jerr == JSStreamWrongLastSequenceErr) {
        *fenced = true;
        snprintf (err, errlen,
                  "another broker wrote to the journal stream %s since this broker last read or "
                  "wrote it (its last sequence is not %" PRIu64
                  "): this broker no longer holds the journal and stops serving",
                  self->stream, self->last_seq);
        return -1;
    }
    snprintf (err, errlen,
              "cannot publish to the journal stream %s: %s (JetStream error %d); check that a "
              "majority of its servers are up and reachable",
              self->stream, s_nats_error (s), (int) jerr);
    return -1;
}

#define HOLDER_HEADER "Sluice-Holder"   //  names the broker in a hold message
#define WORKERS_HEADER "Sluice-Workers" //  ... and its workers

//  Remembers the holder a hold message names.
static void s_holder_note (s_nats_t *self, natsMsg *msg)
{
    const char *holder = NULL, *workers = NULL;
    if (natsMsgHeader_Get (msg, HOLDER_HEADER, &holder) != NATS_OK || !holder)
        return;
    snprintf (self->holder, sizeof self->holder, "%s", holder);
    free (self->workers);
    self->workers = NULL;
    if (natsMsgHeader_Get (msg, WORKERS_HEADER, &workers) == NATS_OK && workers)
        self->workers = strdup (workers); //  NULL if out of memory: no list, the full grace
}

//  Reads the stream's messages from first to last (inclusive) with an
//  ordered consumer, feeding the records to fn. Returns records, or -1.
static int64_t s_read (s_nats_t *self, uint64_t first, uint64_t last, sl_journal_fn *fn, void *arg,
                       uint64_t *torn, char *err, size_t errlen)
{
    if (last < first || last == 0)
        return 0;
    sl_frame_reader_t *reader = sl_frame_reader_new ();
    if (!reader) {
        snprintf (err, errlen, "out of memory reading the journal stream %s", self->stream);
        return -1;
    }
    jsSubOptions so;
    jsSubOptions_Init (&so);
    so.Stream = self->stream;
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = first;
    natsSubscription *sub = NULL;
    jsErrCode jerr = 0;
    int64_t count = 0;
    natsStatus s = js_SubscribeSync (&sub, self->js, self->subject, NULL, &so, &jerr);
    if (s != NATS_OK) {
        snprintf (err, errlen, "cannot read the journal stream %s: %s (JetStream error %d)",
                  self->stream, s_nats_error (s), (int) jerr);
        count = -1;
    }
    uint64_t seq = 0;
    while (count >= 0 && seq < last) {
        natsMsg *msg = NULL;
        s = natsSubscription_NextMsg (&msg, sub, self->timeout_ms);
        if (s != NATS_OK) {
            snprintf (err, errlen,
                      "cannot read the journal stream %s after sequence %" PRIu64 " of %" PRIu64
                      ": %s",
                      self->stream, seq, last, s_nats_error (s));
            count = -1;
            break;
        }
        jsMsgMetaData *meta = NULL;
        if (natsMsg_GetMetaData (&meta, msg) != NATS_OK) {
            snprintf (err, errlen, "a message of the journal stream %s has no metadata",
                      self->stream);
            natsMsg_Destroy (msg);
            count = -1;
            break;
        }
        seq = meta->Sequence.Stream;
        jsMsgMetaData_Destroy (meta);
        s_holder_note (self, msg);
        if (seq <= last) {
            int64_t n =
                sl_frame_reader_feed (reader, seq, (const uint8_t *) natsMsg_GetData (msg),
                                      (size_t) natsMsg_GetDataLength (msg), fn, arg, err, errlen);
            count = n < 0 ? -1 : count + n;
        }
        natsMsg_Destroy (msg);
    }
    if (sub) {
        natsSubscription_Unsubscribe (sub);
        natsSubscription_Destroy (sub);
    }
    uint64_t dropped = sl_frame_reader_finish (reader);
    if (torn)
        *torn = dropped;
    sl_frame_reader_destroy (&reader);
    return count;
}

//  The stream's first and last sequences and bytes. Returns 0 or -1.
static int s_state (s_nats_t *self, uint64_t *first, uint64_t *last, char *err, size_t errlen)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo (&si, self->js, self->stream, NULL, &jerr);
    if (s != NATS_OK) {
        snprintf (err, errlen,
                  "cannot read the state of the journal stream %s: %s (JetStream "
                  "error %d)",
                  self->stream, s_nats_error (s), (int) jerr);
        return -1;
    }
    *first = si->State.FirstSeq;
    *last = si->State.LastSeq;
    self->bytes = si->State.Bytes;
    jsStreamInfo_Destroy (si);
    return 0;
}

static int64_t s_replay (void *impl, sl_journal_fn *fn, void *arg, char *err, size_t errlen)
{
    s_nats_t *self = impl;
    assert (!self->replayed);
    self->replayed = true;
    if (err && errlen)
        err [0] = '\0';
    uint64_t first, last;
    if (s_state (self, &first, &last, err, errlen))
        return -1;
    if (last == 0) {
        //  An empty stream: no last sequence to expect. Publish an empty
        //  message without expectation and read up to it, so that what
        //  another broker wrote meanwhile is replayed, not skipped.
        uint8_t head [SL_FRAME_HEAD];
        sl_frame_put_head (head, SL_FRAME_BEGIN | SL_FRAME_END);
        bool fenced;
        if (s_publish (self, head, sizeof head, false, &fenced, err, errlen))
            return -1;
        last = self->last_seq;
        first = 1;
    }
    if (first == 0)
        first = 1;
    self->first_seq = first;
    int64_t count = s_read (self, first, last, fn, arg, &self->torn_bytes, err, errlen);
    self->last_seq = last;
    if (count >= 0 && self->torn_bytes)
        snprintf (self->repaired, sizeof self->repaired,
                  "journal stream %s: dropped %" PRIu64
                  " bytes of records a crash left half-published (never confirmed)",
                  self->stream, self->torn_bytes);
    return count;
}

static uint64_t s_torn_bytes (void *impl)
{
    return ((s_nats_t *) impl)->torn_bytes;
}

static const char *s_repaired (void *impl)
{
    s_nats_t *self = impl;
    return self->repaired [0] ? self->repaired : NULL;
}

static int s_append (void *impl, uint8_t type, const uint8_t *data, size_t size, char *err,
                     size_t errlen)
{
    s_nats_t *self = impl;
    assert (self->replayed);
    if (sl_frame_append (&self->buf, &self->len, &self->cap, type, data, size, err, errlen))
        return -1;
    self->appended++;
    return 0;
}

static int s_commit (void *impl, char *err, size_t errlen)
{
    s_nats_t *self = impl;
    if (self->fenced) {
        snprintf (err, errlen,
                  "the journal stream %s was written by another broker: this broker writes "
                  "nothing more",
                  self->stream);
        return -1;
    }
    while (self->pos < self->len) {
        sl_frame_cut_t cut;
        if (self->doubt)
            cut = self->doubt_cut;
        else if (self->pos == self->rec) {
            cut = sl_frame_cut (self->buf + self->pos, self->len - self->pos, self->max_body);
            cut.off += self->pos;
        } else
            cut = sl_frame_cut_more (self->buf, self->rec, self->pos, self->max_body);
        assert (cut.off == self->pos && cut.len > 0);
        sl_frame_put_head (self->msg, cut.flags);
        memcpy (self->msg + SL_FRAME_HEAD, self->buf + cut.off, cut.len);
        bool fenced;
        if (s_publish (self, self->msg, SL_FRAME_HEAD + cut.len, true, &fenced, err, errlen)) {
            self->failed = true;
            self->fenced = fenced;
            self->doubt = !fenced;
            self->doubt_cut = cut;
            return -1;
        }
        self->doubt = false;
        self->pos += cut.len;
        if (cut.flags & SL_FRAME_END)
            self->rec = self->pos;
    }
    self->len = self->pos = self->rec = 0;
    self->failed = false;
    self->durable = self->appended;
    if (self->cap > BUFFER_KEEP) {
        free (self->buf);
        self->buf = NULL;
        self->cap = 0;
    }
    return 0;
}

static size_t s_uncommitted (void *impl)
{
    s_nats_t *self = impl;
    return self->len - self->pos;
}

static uint64_t s_appended (void *impl)
{
    return ((s_nats_t *) impl)->appended;
}

static uint64_t s_durable (void *impl)
{
    return ((s_nats_t *) impl)->durable;
}

static bool s_failed (void *impl)
{
    return ((s_nats_t *) impl)->failed;
}

static bool s_fenced (void *impl)
{
    return ((s_nats_t *) impl)->fenced;
}

static uint64_t s_segment (void *impl)
{
    return ((s_nats_t *) impl)->replayed ? 1 : 0;
}

static uint64_t s_segment_bytes (void *impl)
{
    (void) impl;
    return 0; //  never rotated
}

static uint64_t s_total_bytes (void *impl)
{
    return ((s_nats_t *) impl)->bytes;
}

static uint64_t s_rotate (void *impl, char *err, size_t errlen)
{
    return s_commit (impl, err, errlen) ? 0 : 1;
}

static int s_delete_before (void *impl, uint64_t segment, char *err, size_t errlen)
{
    (void) impl;
    (void) segment;
    (void) err;
    (void) errlen;
    return 0;
}

static int64_t s_scan (void *impl, uint64_t from, sl_journal_fn *fn, void *arg, char *err,
                       size_t errlen)
{
    s_nats_t *self = impl;
    if (err && errlen)
        err [0] = '\0';
    if (from > 1)
        return 0;
    //  Only what was acknowledged: up to last_seq, less a run in flight
    //  (a split record half sent), which the reader drops as open.
    return s_read (self, self->first_seq, self->last_seq, fn, arg, NULL, err, errlen);
}

static const char *s_dir (void *impl)
{
    return ((s_nats_t *) impl)->name;
}

//  --- Standby brokers: following the stream, holding it ------------------------

static void s_follow_stop (s_nats_t *self)
{
    if (self->follow) {
        natsSubscription_Unsubscribe (self->follow);
        natsSubscription_Destroy (self->follow);
        self->follow = NULL;
    }
    sl_frame_reader_destroy (&self->follow_reader);
}

//  Starts an ordered consumer after the last sequence read. Returns 0 or -1.
static int s_follow_start (s_nats_t *self, char *err, size_t errlen)
{
    jsSubOptions so;
    jsSubOptions_Init (&so);
    so.Stream = self->stream;
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = self->last_seq + 1;
    jsErrCode jerr = 0;
    natsStatus s = js_SubscribeSync (&self->follow, self->js, self->subject, NULL, &so, &jerr);
    if (s == NATS_OK && (self->follow_reader = sl_frame_reader_new ()))
        return 0;
    snprintf (err, errlen, "cannot follow the journal stream %s: %s (JetStream error %d)",
              self->stream, s == NATS_OK ? "out of memory" : s_nats_error (s), (int) jerr);
    s_follow_stop (self);
    return -1;
}

//  Feeds one followed message to the reader. A run another broker left
//  open when this one replayed (its first part was dropped then) is
//  skipped up to the next message that begins a run. Returns records or -1.
static int64_t s_follow_msg (s_nats_t *self, natsMsg *msg, uint64_t seq, sl_journal_fn *fn,
                             void *arg, char *err, size_t errlen)
{
    const uint8_t *data = (const uint8_t *) natsMsg_GetData (msg);
    size_t len = (size_t) natsMsg_GetDataLength (msg);
    s_holder_note (self, msg);
    self->last_seq = seq;
    self->bytes += len;
    if (len >= SL_FRAME_HEAD && !(data [3] & SL_FRAME_BEGIN) && !self->synced)
        return 0;
    self->synced = true;
    return sl_frame_reader_feed (self->follow_reader, seq, data, len, fn, arg, err, errlen);
}

static int64_t s_follow (void *impl, sl_journal_fn *fn, void *arg, char *err, size_t errlen)
{
    s_nats_t *self = impl;
    assert (self->replayed);
    if (err && errlen)
        err [0] = '\0';
    if (!self->follow && s_follow_start (self, err, errlen))
        return -1;
    int64_t count = 0;
    int pending = 0;
    while (natsSubscription_GetPending (self->follow, &pending, NULL) == NATS_OK && pending > 0) {
        natsMsg *msg = NULL;
        if (natsSubscription_NextMsg (&msg, self->follow, self->timeout_ms) != NATS_OK)
            break;
        jsMsgMetaData *meta = NULL;
        uint64_t seq = 0;
        if (natsMsg_GetMetaData (&meta, msg) == NATS_OK) {
            seq = meta->Sequence.Stream;
            jsMsgMetaData_Destroy (meta);
        }
        int64_t n = seq > self->last_seq ? s_follow_msg (self, msg, seq, fn, arg, err, errlen) : 0;
        natsMsg_Destroy (msg);
        if (n < 0)
            return -1;
        count += n;
    }
    return count;
}

//  Publishes an empty hold message naming holder, expecting the last
//  sequence. Returns 0, or -1 with err (self->refused if another broker
//  wrote first).
static int s_hold_publish (s_nats_t *self, const char *holder, const char *workers, char *err,
                           size_t errlen)
{
    uint8_t head [SL_FRAME_HEAD];
    sl_frame_put_head (head, SL_FRAME_BEGIN | SL_FRAME_END);
    natsMsg *msg = NULL;
    char id [64];
    snprintf (id, sizeof id, "%s-%" PRIu64, self->nonce, self->last_seq + 1);
    jsPubOptions po;
    jsPubOptions_Init (&po);
    po.MaxWait = self->timeout_ms;
    po.ExpectLastSeq = self->last_seq;
    po.MsgId = id;
    jsPubAck *ack = NULL;
    jsErrCode jerr = 0;
    natsStatus s = natsMsg_Create (&msg, self->subject, NULL, (const char *) head, sizeof head);
    if (s == NATS_OK)
        s = natsMsgHeader_Set (msg, HOLDER_HEADER, holder ? holder : "");
    if (s == NATS_OK && workers)
        s = natsMsgHeader_Set (msg, WORKERS_HEADER, workers);
    if (s == NATS_OK)
        s = js_PublishMsg (&ack, self->js, msg, &po, &jerr);
    natsMsg_Destroy (msg);
    if (s == NATS_OK) {
        self->last_seq = ack->Sequence;
        jsPubAck_Destroy (ack);
        return 0;
    }
    self->refused = jerr == JSStreamWrongLastSequenceErr;
    if (self->refused)
        snprintf (err, errlen,
                  "another broker wrote to the journal stream %s since this broker last read or "
                  "wrote it (its last sequence is not %" PRIu64 ")",
                  self->stream, self->last_seq);
    else
        snprintf (err, errlen, "cannot write to the journal stream %s: %s (JetStream error %d)",
                  self->stream, s_nats_error (s), (int) jerr);
    return -1;
}

static int s_hold (void *impl, const char *holder, const char *workers, char *err,
                   size_t errlen)
{
    s_nats_t *self = impl;
    assert (self->replayed);
    self->refused = false;
    if (self->fenced)
        return s_commit (impl, err, errlen); //  says so
    int rc = self->len > self->pos ? s_commit (impl, err, errlen) : 0;
    if (rc == 0)
        rc = s_hold_publish (self, holder, workers, err, errlen);
    self->refused |= self->fenced;
    if (rc == 0 && self->follow) {
        //  Taken over: what is read from now on is this broker's own.
        s_follow_stop (self);
    }
    if (rc == 0 && holder)
        snprintf (self->holder, sizeof self->holder, "%s", holder);
    //  A holder whose hold is refused is deposed; a follower just lost a race.
    if (rc && self->refused && !self->follow)
        self->fenced = true;
    return rc;
}

static bool s_refused (void *impl)
{
    return ((s_nats_t *) impl)->refused;
}

static const char *s_holder (void *impl)
{
    s_nats_t *self = impl;
    return self->holder [0] ? self->holder : NULL;
}

static const char *s_holder_workers (void *impl)
{
    return ((s_nats_t *) impl)->workers;
}

static uint64_t s_last_seq (void *impl)
{
    return ((s_nats_t *) impl)->last_seq;
}

static const sl_journal_ops_t s_ops = {
    .destroy = s_destroy,
    .replay = s_replay,
    .torn_bytes = s_torn_bytes,
    .repaired = s_repaired,
    .append = s_append,
    .commit = s_commit,
    .uncommitted = s_uncommitted,
    .appended = s_appended,
    .durable = s_durable,
    .failed = s_failed,
    .fenced = s_fenced,
    .segment = s_segment,
    .segment_bytes = s_segment_bytes,
    .total_bytes = s_total_bytes,
    .rotate = s_rotate,
    .delete_before = s_delete_before,
    .scan = s_scan,
    .dir = s_dir,
    .follow = s_follow,
    .hold = s_hold,
    .refused = s_refused,
    .holder = s_holder,
    .holder_workers = s_holder_workers,
    .last_seq = s_last_seq,
};

bool sl_nats_available (void)
{
    return true;
}

//  Finds the stream, or creates it. Returns 0 or -1 with err.
static int s_stream_open (s_nats_t *self, char *err, size_t errlen)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo (&si, self->js, self->stream, NULL, &jerr);
    if (s == NATS_OK) {
        bool ours = false;
        for (int i = 0; i < si->Config->SubjectsLen; i++)
            ours |= strcmp (si->Config->Subjects [i], self->subject) == 0;
        jsStreamInfo_Destroy (si);
        if (!ours) {
            snprintf (err, errlen,
                      "the NATS stream %s exists but does not hold the subject %s: it is not a "
                      "sluice journal; choose another --journal-stream",
                      self->stream, self->subject);
            return -1;
        }
        return 0;
    }
    if (jerr != JSStreamNotFoundErr) {
        snprintf (err, errlen, "cannot look up the journal stream %s: %s (JetStream error %d)%s",
                  self->stream, s_nats_error (s), (int) jerr,
                  s == NATS_NO_RESPONDERS || s == NATS_TIMEOUT
                      ? "; is JetStream enabled on the servers (nats-server -js)?"
                      : "");
        return -1;
    }
    jsStreamConfig cfg;
    jsStreamConfig_Init (&cfg);
    const char *subjects [] = { self->subject };
    cfg.Name = self->stream;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Replicas = self->replicas;
    s = js_AddStream (&si, self->js, &cfg, NULL, &jerr);
    if (s != NATS_OK) {
        snprintf (err, errlen,
                  "cannot create the journal stream %s with %d replicas: %s (JetStream error "
                  "%d); a stream needs as many JetStream servers as replicas (--journal-replicas)",
                  self->stream, self->replicas, s_nats_error (s), (int) jerr);
        return -1;
    }
    jsStreamInfo_Destroy (si);
    return 0;
}

sl_journal_t *sl_journal_new_nats (const sl_nats_config_t *config, char *err, size_t errlen)
{
    assert (config && config->servers && config->stream);
    char *urls [SL_JOURNAL_MAX_URLS];
    size_t nurls = 0;
    if (sl_journal_urls_parse (config->servers, urls, &nurls, err, errlen))
        return NULL;
    if (!sl_journal_stream_valid (config->stream)) {
        snprintf (err, errlen,
                  "'%s' is not a valid journal stream name (1 to 64 letters, digits, - and _)",
                  config->stream);
        sl_journal_urls_free (urls, nurls);
        return NULL;
    }
    s_nats_t *self = calloc (1, sizeof *self);
    natsOptions *opts = NULL;
    natsStatus s = NATS_OK;
    if (!self)
        goto oom;
    self->stream = strdup (config->stream);
    self->replicas = config->replicas > 0 ? config->replicas : SL_NATS_DEFAULT_REPLICAS;
    self->timeout_ms = config->timeout_ms > 0 ? config->timeout_ms : SL_NATS_DEFAULT_TIMEOUT_MS;
    if (!self->stream)
        goto oom;
    if (asprintf (&self->subject, "sluice-journal.%s", config->stream) < 0) {
        self->subject = NULL; //  undefined after a failure
        goto oom;
    }
    if (asprintf (&self->name, "nats stream %s", config->stream) < 0) {
        self->name = NULL;
        goto oom;
    }
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    snprintf (self->nonce, sizeof self->nonce, "%lx%lx%x", (unsigned long) ts.tv_sec,
              (unsigned long) ts.tv_nsec, (unsigned) getpid ());

    if ((s = natsOptions_Create (&opts)) != NATS_OK ||
        (s = natsOptions_SetServers (opts, (const char **) urls, (int) nurls)) != NATS_OK ||
        (s = natsOptions_SetName (opts, "sluice-broker journal")) != NATS_OK ||
        (s = natsOptions_SetTimeout (opts, self->timeout_ms)) != NATS_OK ||
        (s = natsOptions_SetMaxReconnect (opts, -1)) != NATS_OK ||
        (s = natsOptions_SetReconnectWait (opts, 250)) != NATS_OK) {
        snprintf (err, errlen, "cannot set up the NATS connection: %s", s_nats_error (s));
        goto fail;
    }
    if (config->creds &&
        (s = natsOptions_SetUserCredentialsFromFiles (opts, config->creds, NULL)) != NATS_OK) {
        snprintf (err, errlen, "cannot use the NATS credentials file %s: %s", config->creds,
                  s_nats_error (s));
        goto fail;
    }
    if (config->tls_ca &&
        ((s = natsOptions_SetSecure (opts, true)) != NATS_OK ||
         (s = natsOptions_LoadCATrustedCertificates (opts, config->tls_ca)) != NATS_OK)) {
        snprintf (err, errlen, "cannot use the CA certificates in %s for NATS: %s", config->tls_ca,
                  s_nats_error (s));
        goto fail;
    }
    if ((s = natsConnection_Connect (&self->conn, opts)) != NATS_OK) {
        snprintf (err, errlen, "cannot connect to the NATS servers %s: %s", config->servers,
                  s_nats_error (s));
        goto fail;
    }
    jsOptions jo;
    jsOptions_Init (&jo);
    jo.Wait = self->timeout_ms;
    if ((s = natsConnection_JetStream (&self->js, self->conn, &jo)) != NATS_OK) {
        snprintf (err, errlen, "cannot use JetStream on %s: %s", config->servers, s_nats_error (s));
        goto fail;
    }
    if (s_stream_open (self, err, errlen))
        goto fail;
    int64_t max_payload = natsConnection_GetMaxPayload (self->conn);
    self->max_body = max_payload > HEADER_ROOM + SL_FRAME_HEAD + MIN_BODY
                         ? (size_t) max_payload - HEADER_ROOM - SL_FRAME_HEAD
                         : MIN_BODY;
    if (!(self->msg = malloc (SL_FRAME_HEAD + self->max_body)))
        goto oom;
    natsOptions_Destroy (opts);
    sl_journal_urls_free (urls, nurls);
    void *impl = self;
    sl_journal_t *journal = sl_journal_wrap (&s_ops, &impl);
    if (!journal)
        snprintf (err, errlen, "out of memory opening the journal stream %s", config->stream);
    return journal;
oom:
    snprintf (err, errlen, "out of memory opening the journal stream %s", config->stream);
fail:
    natsOptions_Destroy (opts);
    sl_journal_urls_free (urls, nurls);
    void *doomed = self;
    s_destroy (&doomed);
    return NULL;
}
