/*  journal_nats - the NATS JetStream journal, see journal_nats.h.

    State: the connection and JetStream context, and one buffer of records
    appended and not yet acknowledged: bytes [0, pos) of it are durable
    (dropped when the buffer is compacted), [pos, sent) are cut into the
    messages of the window (journal_window.h), [sent, len) wait to be cut.
    `rec` is the start of the record `sent` is in (sent itself unless a
    split record is half cut).

    Publishes are asynchronous (js_PublishMsgAsync, up to WINDOW messages
    in flight). libnats calls s_on_answer on its own thread: it only
    queues the answer under `lock` and writes a byte to the `wake` pipe,
    which the broker's loop polls; sl_journal_poll, on the broker's thread,
    hands the answers to the window, drops what is durable and publishes
    more. A failure is retried by the next commit (the broker retries with
    a backoff) without waiting: the window's head alone is sent again,
    with the same bytes and message id (so that JetStream's duplicate
    window recognises it if it was stored after all), and once its answer
    says stored the rest follows, pipelined as before. The broker's loop
    never waits for NATS on that path, and a write to a server that reads
    nothing blocks it at most WRITE_DEADLINE_MS. libnats hands each
    answered message back on its own thread; the broker's thread destroys
    it (it may be writing it still).
*/
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <nats/nats.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "journal_backend.h"
#include "journal_frame.h"
#include "journal_nats.h"
#include "journal_url.h"
#include "journal_window.h"
#include "sl_log.h"

#define HEADER_ROOM 512         //  room left in a message for its headers
#define MIN_BODY 1024           //  smallest message body we accept to cut
#define BUFFER_KEEP (16u << 20) //  a buffer bigger than this is freed when empty
#define COMPACT_AT (4u << 20)   //  durable bytes that make the buffer move down
#define WINDOW 32               //  messages in flight at most
#define HOLD_BYTES 1024         //  what a hold message counts for toward a checkpoint
#define MAX_STARTS 16           //  checkpoints a purge may fall back to
//  The longest a write to a NATS server may block the broker's loop. A
//  server that reads nothing (stopped, or stuck) fills the socket, and a
//  message bigger than libnats's buffer is written in place, by the
//  publishing thread: past this deadline libnats shuts the socket and
//  reconnects, buffering publishes meanwhile, and what was not stored is
//  sent again (same message id) by the retry. Well under the 3 heartbeats
//  after which clients find a broker silent, even at --heartbeat 200.
#define WRITE_DEADLINE_MS 150

//  An answer to an asynchronous publish, from libnats's thread.
typedef struct {
    uint64_t expect; //  the message's expected last sequence (its name)
    uint64_t seq;    //  where it was stored, if ok
    bool ok;         //  stored (or a duplicate of one stored)
    bool fence;      //  refused: wrong last sequence or message id
    char why [200];  //  why not, if not ok
} s_answer_t;

typedef struct {
    char *name;                       //  "nats stream NAME", for messages
    char *stream;                     //  the stream's name
    char *subject;                    //  the subject its messages go to
    int replicas;                     //  replicas, if the stream is created
    int64_t timeout_ms;               //  wait for acknowledgements and reads
    natsConnection *conn;             //  connection to the cluster
    jsCtx *js;                        //  JetStream context of conn
    char nonce [24];                  //  random id of this run, in message ids
    size_t max_body;                  //  largest message body
    bool replayed;                    //  replay was called
    bool disconnected;                //  libnats is reconnecting (atomic: set on its thread)
    bool closed;                      //  libnats called its last callback (under lock)
    pthread_cond_t closed_cond;       //  signalled then
    uint64_t last_seq;                //  the stream's last sequence as replay left it
    uint64_t first_seq;               //  the stream's first sequence when replay began
    sl_jwindow_t *window;             //  messages in flight, from replay on
    uint8_t *buf;                     //  records appended, not yet acknowledged
    size_t len;                       //  bytes in buf
    size_t cap;                       //  room in buf
    size_t pos;                       //  bytes of buf acknowledged
    size_t sent;                      //  bytes of buf in the window's messages
    size_t rec;                       //  start of the record sent is in
    uint64_t cut_position;            //  position of the last record that ends before sent
    bool flushing;                    //  commit asked for everything appended to go out
    size_t unflushed;                 //  bytes appended since the last commit
    uint8_t *msg;                     //  scratch: head + body of one message
    uint64_t appended;                //  records appended (position of the last one)
    uint64_t durable;                 //  position of the last record acknowledged
    bool failed;                      //  a publish failed: the next commit retries
    bool probed;                      //  failed: the window's head was sent again (the retry)
    bool fenced;                      //  another broker wrote to the stream
    char why [256];                   //  why the window's head failed
    uint64_t torn_bytes;              //  bytes of torn runs dropped by replay
    char repaired [256];              //  what replay dropped, in words, or ""
    uint64_t bytes;                   //  the stream's bytes (at replay, plus published)
    uint64_t segment;                 //  rotations since replay, plus 1 (the broker's segment id)
    uint64_t segment_bytes;           //  bytes acknowledged since the last rotation
    uint64_t purge_from;              //  the stream's first message of this segment (0: none yet)
    uint64_t starts [MAX_STARTS];     //  checkpoints' first messages not purged yet, ascending
    size_t nstarts;                   //  how many
    uint64_t keep_from;               //  a live standby has not read this yet (0: none)
    pthread_mutex_t lock;             //  guards answers, nanswers, spent, woken
    s_answer_t answers [WINDOW];      //  answers not yet taken (one per message in flight)
    size_t nanswers;                  //  answers waiting
    natsMsg **spent;                  //  answered messages, destroyed on the broker's thread
    size_t nspent, spent_cap;         //  how many, room
    bool woken;                       //  a byte waits in the wake pipe
    int wake [2];                     //  pipe: readable while answers wait
    natsSubscription *follow;         //  standby: ordered consumer of what others append
    sl_frame_reader_t *follow_reader; //  standby: records split over messages (from replay on)
    bool refused;                     //  the last hold found that another broker wrote
    char holder [256];                //  the holder named by the last hold message read
    char *workers;                    //  the workers it named (owned), or NULL
} s_nats_t;

//  The message of the last libnats error.
static const char *s_nats_error (natsStatus s)
{
    natsStatus last;
    const char *text = nats_GetLastError (&last);
    return text && *text ? text : natsStatus_GetText (s);
}

static int s_sync (void *impl, char *err, size_t errlen);
static void s_follow_stop (s_nats_t *self);

//  libnats lost its server and is reconnecting, or is connected again. Its
//  reconnecting thread holds the connection's lock while it connects (up
//  to the connect timeout per server that accepts and says nothing, as a
//  stopped one does), and a publish from the broker's loop would wait for
//  that lock: while disconnected, the loop does not publish.
static void s_on_disconnected (natsConnection *conn, void *closure)
{
    (void) conn;
    __atomic_store_n (&((s_nats_t *) closure)->disconnected, true, __ATOMIC_RELEASE);
}

static void s_on_reconnected (natsConnection *conn, void *closure)
{
    (void) conn;
    __atomic_store_n (&((s_nats_t *) closure)->disconnected, false, __ATOMIC_RELEASE);
}

//  The connection is closed: libnats calls nothing more with self.
static void s_on_closed (natsConnection *conn, void *closure)
{
    (void) conn;
    s_nats_t *self = closure;
    pthread_mutex_lock (&self->lock);
    self->closed = true;
    pthread_cond_signal (&self->closed_cond);
    pthread_mutex_unlock (&self->lock);
}

//  True (with err) if libnats is reconnecting: nothing can be sent now.
static bool s_disconnected (s_nats_t *self, char *err, size_t errlen)
{
    if (!__atomic_load_n (&self->disconnected, __ATOMIC_ACQUIRE))
        return false;
    snprintf (err, errlen, "not connected to any NATS server (reconnecting)");
    return true;
}

//  Destroys the messages libnats handed back with their answers. Only the
//  broker's thread may: the thread that publishes a message can still be
//  writing it to the socket when libnats times it out on its own thread
//  (js_PublishMsgAsync registers the message, with its timeout, before it
//  writes it, and a big message written to a server that does not read
//  blocks), so destroying it in s_on_answer freed bytes still being sent.
static void s_spent_destroy (s_nats_t *self)
{
    pthread_mutex_lock (&self->lock);
    for (size_t i = 0; i < self->nspent; i++)
        natsMsg_Destroy (self->spent [i]);
    self->nspent = 0;
    pthread_mutex_unlock (&self->lock);
}

static void s_destroy (void **impl_p)
{
    s_nats_t *self = *impl_p;
    if (!self)
        return;
    if (self->replayed && !self->fenced && self->conn) {
        char err [256];
        s_sync (self, err, sizeof err); //  as the file journal does
    }
    if (self->js && self->window && sl_jwindow_in_flight (self->window)) {
        //  Answers still due (NATS unreachable): take the messages back,
        //  so that s_on_answer is not called any more. (Only then: libnats
        //  3.4 crashes here if nothing was ever published asynchronously.)
        natsMsgList pending;
        if (js_PublishAsyncGetPendingList (&pending, self->js) == NATS_OK)
            natsMsgList_Destroy (&pending);
    }
    s_follow_stop (self);
    jsCtx_Destroy (self->js);
    if (self->conn) {
        //  The connection's callbacks (self is their closure) come on
        //  libnats's thread, in order, after natsConnection_Destroy has
        //  returned: the closed callback is the last one.
        natsConnection_Destroy (self->conn);
        struct timespec until;
        clock_gettime (CLOCK_REALTIME, &until);
        until.tv_sec += 5;
        pthread_mutex_lock (&self->lock);
        while (!self->closed &&
               pthread_cond_timedwait (&self->closed_cond, &self->lock, &until) == 0)
            ;
        bool closed = self->closed;
        pthread_mutex_unlock (&self->lock);
        if (!closed) {
            //  (Never seen.) Better a leak than a callback into freed memory.
            sl_warn ("journal %s: libnats did not close its connection in 5 s", self->name);
            *impl_p = NULL;
            return;
        }
    }
    s_spent_destroy (self); //  libnats answers nothing more now
    free (self->spent);
    pthread_cond_destroy (&self->closed_cond);
    sl_jwindow_destroy (&self->window);
    pthread_mutex_destroy (&self->lock);
    if (self->wake [0] >= 0) {
        close (self->wake [0]);
        close (self->wake [1]);
    }
    free (self->buf);
    free (self->msg);
    free (self->name);
    free (self->stream);
    free (self->subject);
    free (self->workers);
    free (self);
    *impl_p = NULL;
}

//  What a failed publish says, for the log.
static void s_publish_error (s_nats_t *self, bool fence, uint64_t expect, const char *why,
                             char *err, size_t errlen)
{
    if (fence)
        snprintf (err, errlen,
                  "another broker wrote to the journal stream %s since this broker last read or "
                  "wrote it (its last sequence is not %" PRIu64
                  "): this broker no longer holds the journal and stops serving",
                  self->stream, expect);
    else
        snprintf (err, errlen,
                  "cannot publish to the journal stream %s: %s; check that a majority of its "
                  "servers are up and reachable, and that its leader has room on disk",
                  self->stream, why);
}

//  True if a publish was refused because the stream is not as expected.
static bool s_fence_error (jsErrCode jerr)
{
    return jerr == JSStreamWrongLastSequenceErr || jerr == JSStreamWrongLastMsgIDErr;
}

//  Publishes data [0..len) synchronously expecting the stream's last
//  sequence (if expect) to be last_seq. Returns 0 (last_seq updated), or
//  -1 with err; *fenced says whether the stream refused it for a wrong
//  last sequence. Only for replay's first message on an empty stream.
static int s_publish (s_nats_t *self, const uint8_t *data, size_t len, bool expect, bool *fenced,
                      char *err, size_t errlen)
{
    *fenced = false;
    jsPubOptions po;
    jsPubOptions_Init (&po);
    po.MaxWait = self->timeout_ms;
    if (expect)
        po.ExpectLastSeq = self->last_seq;
    jsPubAck *ack = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_Publish (&ack, self->js, self->subject, data, (int) len, &po, &jerr);
    if (s == NATS_OK) {
        self->last_seq = ack->Sequence;
        jsPubAck_Destroy (ack);
        self->bytes += len;
        return 0;
    }
    char why [256];
    snprintf (why, sizeof why, "%s (JetStream error %d)", s_nats_error (s), (int) jerr);
    *fenced = s_fence_error (jerr);
    s_publish_error (self, *fenced, self->last_seq, why, err, errlen);
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
//  ordered consumer, feeding the records to fn. Returns records, or -1;
//  *torn (if torn) is the bytes not applied: torn runs, and a run still
//  open at last. If keep, a reader left with such an open run is handed
//  over in *keep (caller owns it) to go on with the messages after last.
static int64_t s_read (s_nats_t *self, uint64_t first, uint64_t last, sl_journal_fn *fn, void *arg,
                       uint64_t *torn, sl_frame_reader_t **keep, char *err, size_t errlen)
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
    if (torn)
        *torn = sl_frame_reader_torn (reader) + sl_frame_reader_pending (reader);
    if (keep && count >= 0 && sl_frame_reader_pending (reader))
        *keep = reader;
    else
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
    //  A record split over several messages may be open at the end: its
    //  writer died between the parts, or is alive and about to send the
    //  rest. Not applied now (nothing in it was confirmed yet); the reader
    //  is kept, so that a standby applies it from its parts to come
    //  (s_follow). A broker that appends drops it: its first message
    //  begins a run, which tears the open one for every reader.
    sl_frame_reader_t *tail = NULL;
    int64_t count = s_read (self, first, last, fn, arg, &self->torn_bytes, &tail, err, errlen);
    size_t open = tail ? sl_frame_reader_pending (tail) : 0;
    self->follow_reader = tail;
    self->last_seq = last;
    self->segment = 1;
    if (count >= 0 && !(self->window = sl_jwindow_new (WINDOW, last))) {
        snprintf (err, errlen, "out of memory opening the journal stream %s", self->stream);
        count = -1;
    }
    if (count >= 0 && self->torn_bytes > open)
        snprintf (self->repaired, sizeof self->repaired,
                  "journal stream %s: dropped %" PRIu64
                  " bytes of records a crash left half-published (never confirmed)",
                  self->stream, self->torn_bytes - open);
    else if (count >= 0 && open)
        snprintf (self->repaired, sizeof self->repaired,
                  "journal stream %s: the last %zu bytes are a record split over several "
                  "messages and not ended (not confirmed): dropped, unless its writer is alive "
                  "and ends it while this broker follows as a standby",
                  self->stream, open);
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
    size_t before = self->len;
    if (sl_frame_append (&self->buf, &self->len, &self->cap, type, data, size, err, errlen))
        return -1;
    self->unflushed += self->len - before;
    self->appended++;
    return 0;
}

//  --- Publishing ---------------------------------------------------------------

//  The message id of the message expecting `expect`: the sequence it
//  takes, after this run's nonce.
static void s_msg_id (s_nats_t *self, uint64_t expect, char *id, size_t idlen)
{
    snprintf (id, idlen, "%s-%" PRIu64, self->nonce, expect + 1);
}

//  Called by libnats on its own thread with the answer to a publish (or
//  its timeout): queues it for s_poll and wakes the broker's loop.
static void s_on_answer (jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    (void) js;
    s_nats_t *self = closure;
    const char *id = NULL;
    const char *dash;
    if (natsMsgHeader_Get (msg, "Nats-Msg-Id", &id) != NATS_OK || !(dash = strrchr (id, '-')))
        id = NULL; //  not ours
    s_answer_t answer = { .expect = id ? strtoull (dash + 1, NULL, 10) - 1 : 0, .ok = pa != NULL };
    if (pa)
        answer.seq = pa->Sequence;
    else if (pae) {
        answer.fence = s_fence_error (pae->ErrCode);
        snprintf (answer.why, sizeof answer.why, "%s (JetStream error %d)",
                  pae->ErrText && *pae->ErrText ? pae->ErrText : natsStatus_GetText (pae->Err),
                  (int) pae->ErrCode);
    }
    pthread_mutex_lock (&self->lock);
    //  The message may still be being written by the broker's thread: it
    //  is destroyed there (s_spent_destroy). Without memory for the list,
    //  it is leaked rather than freed under the writer.
    if (self->nspent == self->spent_cap) {
        size_t cap = self->spent_cap ? 2 * self->spent_cap : WINDOW;
        natsMsg **grown = realloc (self->spent, cap * sizeof *grown);
        if (grown) {
            self->spent = grown;
            self->spent_cap = cap;
        }
    }
    if (self->nspent < self->spent_cap)
        self->spent [self->nspent++] = msg;
    //  One answer per message in flight, at most WINDOW of them.
    if (id && self->nanswers < WINDOW)
        self->answers [self->nanswers++] = answer;
    if (!self->woken) {
        self->woken = true;
        ssize_t rc = write (self->wake [1], "!", 1);
        (void) rc; //  a full pipe is readable anyway
    }
    pthread_mutex_unlock (&self->lock);
}

//  Takes the answers queued by s_on_answer to the window.
static void s_take_answers (s_nats_t *self)
{
    s_answer_t answers [WINDOW];
    pthread_mutex_lock (&self->lock);
    size_t n = self->nanswers;
    memcpy (answers, self->answers, n * sizeof *answers);
    self->nanswers = 0;
    if (self->woken) {
        char drain [16];
        while (read (self->wake [0], drain, sizeof drain) > 0)
            ;
        self->woken = false;
    }
    pthread_mutex_unlock (&self->lock);
    s_spent_destroy (self); //  not being written: this is the thread that writes
    for (size_t i = 0; i < n; i++) {
        if (answers [i].ok)
            sl_jwindow_acked (self->window, answers [i].expect, answers [i].seq);
        else if (sl_jwindow_failed (self->window, answers [i].expect, answers [i].fence) &&
                 (sl_jwindow_at (self->window, 0)->expect == answers [i].expect ||
                  !self->why [0]))
            //  The head's reason, else the first one known (the head's
            //  own may never come: it may be stored yet).
            snprintf (self->why, sizeof self->why, "%s", answers [i].why);
    }
}

//  Builds pub's message in self->msg and its options (ids in id, last).
//  Returns the message's length.
static size_t s_prepare (s_nats_t *self, const sl_pub_t *pub, jsPubOptions *po, char *id,
                         char *last, size_t idlen)
{
    sl_frame_put_head (self->msg, pub->cut.flags);
    memcpy (self->msg + SL_FRAME_HEAD, self->buf + pub->cut.off, pub->cut.len);
    s_msg_id (self, pub->expect, id, idlen);
    jsPubOptions_Init (po);
    po->MaxWait = self->timeout_ms;
    po->MsgId = id;
    po->ExpectLastSeq = pub->expect;
    if (pub->chained) {
        s_msg_id (self, pub->expect - 1, last, idlen);
        po->ExpectLastMsgId = last;
    }
    return SL_FRAME_HEAD + pub->cut.len;
}

//  Milliseconds of the monotonic clock.
static int64_t s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  Publishes pub (QUEUED) without waiting for its answer. Returns 0, or
//  -1 if it could not even be handed to libnats (then it FAILED).
static int s_send (s_nats_t *self, sl_pub_t *pub)
{
    sl_jwindow_sent (self->window, pub);
    pub->sent_at = s_now_ms ();
    char why [64] = "";
    natsStatus s = NATS_OK;
    if (!s_disconnected (self, why, sizeof why)) {
        char id [64], last [64];
        jsPubOptions po;
        size_t len = s_prepare (self, pub, &po, id, last, sizeof id);
        natsMsg *msg = NULL;
        s = natsMsg_Create (&msg, self->subject, NULL, (const char *) self->msg, (int) len);
        if (s == NATS_OK)
            s = js_PublishMsgAsync (self->js, &msg, &po);
        natsMsg_Destroy (msg); //  NULL if libnats took it
    }
    if (why [0] || s != NATS_OK) {
        //  Not sent (or its answer will not come): failed now.
        if (sl_jwindow_at (self->window, 0) == pub)
            snprintf (self->why, sizeof self->why, "%s", why [0] ? why : s_nats_error (s));
        sl_jwindow_failed (self->window, pub->expect, false);
        return -1;
    }
    return 0;
}

//  Cuts the next message from the bytes appended and not yet cut.
static sl_frame_cut_t s_cut (s_nats_t *self)
{
    sl_frame_cut_t cut;
    if (self->sent == self->rec) {
        cut = sl_frame_cut (self->buf + self->sent, self->len - self->sent, self->max_body);
        cut.off += self->sent;
    } else
        cut = sl_frame_cut_more (self->buf, self->rec, self->sent, self->max_body);
    self->sent += cut.len;
    if (cut.flags & SL_FRAME_END)
        self->rec = self->sent;
    self->cut_position += cut.records;
    return cut;
}

//  Publishes what is queued in the window, then cuts and publishes what
//  was appended, as far as the window has room.
static void s_send_more (s_nats_t *self)
{
    sl_pub_t *pub;
    if (sl_jwindow_broken (self->window))
        return; //  what follows a failed message would fail too
    while ((pub = sl_jwindow_next (self->window)))
        if (s_send (self, pub))
            return;
    while (self->flushing && self->sent < self->len && !sl_jwindow_full (self->window)) {
        sl_frame_cut_t cut = s_cut (self);
        if (s_send (self,
                    sl_jwindow_push (self->window, cut, cut.records ? self->cut_position : 0)))
            return;
    }
    if (self->sent == self->len)
        self->flushing = false;
}

//  Moves the bytes not yet durable to the start of the buffer, but not
//  past the start of a record still being cut into messages (its head says
//  where it ends, and its first parts may be durable already).
static void s_compact (s_nats_t *self)
{
    size_t drop = self->pos < self->rec ? self->pos : self->rec;
    if (drop == 0)
        return;
    memmove (self->buf, self->buf + drop, self->len - drop);
    for (size_t i = 0; i < sl_jwindow_size (self->window); i++)
        sl_jwindow_at (self->window, i)->cut.off -= drop;
    self->len -= drop;
    self->sent -= drop;
    self->rec -= drop;
    self->pos -= drop;
}

//  Drops the messages acknowledged in order from the window: their bytes
//  and records are durable.
static void s_pop_acked (s_nats_t *self)
{
    sl_pub_t pub;
    while (sl_jwindow_pop (self->window, &pub)) {
        self->pos = pub.cut.off + pub.cut.len;
        self->bytes += SL_FRAME_HEAD + pub.cut.len;
        self->segment_bytes += SL_FRAME_HEAD + pub.cut.len;
        if (pub.position)
            self->durable = pub.position;
    }
    if (self->pos == self->len) {
        self->len = self->pos = self->sent = self->rec = 0;
        if (self->cap > BUFFER_KEEP) {
            free (self->buf);
            self->buf = NULL;
            self->cap = 0;
        }
    } else if (self->pos >= COMPACT_AT)
        s_compact (self);
}

static int s_fenced_error (s_nats_t *self, char *err, size_t errlen)
{
    snprintf (err, errlen,
              "another broker wrote to the journal stream %s: this broker no longer holds the "
              "journal and writes nothing more",
              self->stream);
    return -1;
}

//  Messages sent and not answered well past timeout_ms: failed as timed out.
//  libnats times each one out after timeout_ms, but a message in flight
//  when the server it went to was killed has been seen to get no answer at
//  all (libnats 3.4.1, the nats_node test under load), and the journal
//  then waited for ever. Sent again, a message keeps its id and
//  expectation: one that was stored after all is a duplicate, not twice.
static void s_fail_overdue (s_nats_t *self)
{
    int64_t now = s_now_ms ();
    int64_t patience = self->timeout_ms + 1000;
    for (size_t i = 0; i < sl_jwindow_size (self->window); i++) {
        sl_pub_t *pub = sl_jwindow_at (self->window, i);
        if (pub->state != SL_PUB_SENT || now - pub->sent_at <= patience)
            continue;
        if (i == 0 || !self->why [0])
            snprintf (self->why, sizeof self->why, "no answer to a publish in %lld ms",
                      (long long) patience);
        sl_jwindow_failed (self->window, pub->expect, false);
    }
}

static int s_poll (void *impl, char *err, size_t errlen)
{
    s_nats_t *self = impl;
    if (!self->window)
        return 0;
    s_take_answers (self);
    s_fail_overdue (self);
    s_pop_acked (self);
    if (self->fenced)
        return s_fenced_error (self, err, errlen);
    if (sl_jwindow_stuck (self->window) && (!self->failed || self->probed)) {
        //  The head failed and everything behind it answered (or the head
        //  sent again failed again): not durable.
        sl_pub_t *head = sl_jwindow_at (self->window, 0);
        self->failed = true;
        self->probed = false;
        self->fenced = head->fence;
        s_publish_error (self, head->fence, head->expect, self->why, err, errlen);
        if (!self->fenced)
            sl_jwindow_rewind (self->window); //  the next commit sends the head again
        return -1;
    }
    if (self->failed && self->probed && !sl_jwindow_in_flight (self->window)) {
        //  The head sent again is stored (or was already: a duplicate):
        //  the rest goes out as usual, pipelined again.
        self->failed = false;
        self->probed = false;
        self->why [0] = '\0';
    }
    if (!self->failed)
        s_send_more (self);
    return 0;
}

static int s_commit (void *impl, char *err, size_t errlen)
{
    s_nats_t *self = impl;
    if (self->fenced)
        return s_fenced_error (self, err, errlen);
    self->flushing = true;
    self->unflushed = 0;
    if (self->failed) {
        //  The retry (the broker calls again after a backoff) never waits:
        //  it sends the first message not stored alone, with the same bytes,
        //  id and expectation, and s_poll takes its answer when it comes
        //  (within timeout_ms): stored, the journal goes on; refused for
        //  the stream's last sequence, fenced; else the next retry.
        char why [512];
        if (s_poll (self, why, sizeof why) && self->fenced) {
            snprintf (err, errlen, "%s", why);
            return -1;
        }
        sl_pub_t *head;
        if (self->failed && !self->probed && (head = sl_jwindow_next (self->window))) {
            self->probed = true;
            s_send (self, head); //  a failure here is the answer: the next s_poll
        }
        if (self->failed) {
            snprintf (err, errlen,
                      "cannot publish to the journal stream %s: %s; sending the first message "
                      "not stored again, without waiting",
                      self->stream, self->why);
            return -1;
        }
    }
    s_send_more (self);
    return 0;
}

static int s_sync (void *impl, char *err, size_t errlen)
{
    s_nats_t *self = impl;
    if (s_commit (self, err, errlen))
        return -1;
    //  Every message in flight gets an answer within timeout_ms (libnats
    //  times it out): a little more than that without any answer is a bug.
    int64_t patience = self->timeout_ms + 1000;
    while (self->durable < self->appended) {
        struct pollfd pfd = { .fd = self->wake [0], .events = POLLIN };
        if (poll (&pfd, 1, (int) patience) == 0) {
            snprintf (err, errlen, "the journal stream %s: no answer to a publish in %lld ms",
                      self->stream, (long long) patience);
            return -1;
        }
        if (s_poll (self, err, errlen) || self->failed)
            return -1;
    }
    return 0;
}

static int s_fd (void *impl)
{
    return ((s_nats_t *) impl)->wake [0];
}

static size_t s_uncommitted (void *impl)
{
    s_nats_t *self = impl;
    return self->len - self->pos;
}

static size_t s_unflushed (void *impl)
{
    return ((s_nats_t *) impl)->unflushed;
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

//  Segments: the stream has none, but the broker's rotations mark where
//  its checkpoints begin (a rotation waits until everything is
//  acknowledged, so the next message starts the segment), and deleting the
//  segments before one purges the stream up to its first message.
static uint64_t s_segment (void *impl)
{
    s_nats_t *self = impl;
    return self->replayed ? self->segment : 0;
}

static uint64_t s_segment_bytes (void *impl)
{
    return ((s_nats_t *) impl)->segment_bytes;
}

static uint64_t s_total_bytes (void *impl)
{
    return ((s_nats_t *) impl)->bytes;
}

static uint64_t s_rotate (void *impl, char *err, size_t errlen)
{
    s_nats_t *self = impl;
    if (s_sync (self, err, errlen))
        return 0;
    self->segment++;
    self->segment_bytes = 0;
    self->purge_from = sl_jwindow_last_seq (self->window) + 1;
    if (self->nstarts == MAX_STARTS) //  the oldest is the least useful
        memmove (self->starts, self->starts + 1, --self->nstarts * sizeof self->starts [0]);
    self->starts [self->nstarts++] = self->purge_from;
    return self->segment;
}

static void s_keep_from (void *impl, uint64_t seq)
{
    ((s_nats_t *) impl)->keep_from = seq;
}

//  Where a purge may start the stream now: at the newest checkpoint that
//  every live standby has reached (the stream must start at a checkpoint
//  for replay; a standby whose next message is purged must stop). 0: none.
static uint64_t s_purge_to (const s_nats_t *self)
{
    uint64_t to = 0;
    for (size_t i = 0; i < self->nstarts; i++)
        if (!self->keep_from || self->starts [i] <= self->keep_from)
            to = self->starts [i];
    return to;
}

static int s_delete_before (void *impl, uint64_t segment, char *err, size_t errlen)
{
    s_nats_t *self = impl;
    uint64_t to = s_purge_to (self);
    if (segment != self->segment || to <= self->first_seq)
        return 0;
    jsOptions jo;
    jsOptions_Init (&jo);
    jo.Wait = self->timeout_ms;
    jo.Stream.Purge.Sequence = to;
    jsErrCode jerr = 0;
    natsStatus s = js_PurgeStream (self->js, self->stream, &jo, &jerr);
    if (s != NATS_OK) {
        snprintf (err, errlen,
                  "cannot purge the journal stream %s up to sequence %" PRIu64
                  ": %s (JetStream error %d); it keeps what it holds",
                  self->stream, to, s_nats_error (s), (int) jerr);
        return -1;
    }
    uint64_t purged = to - self->first_seq;
    self->first_seq = to;
    size_t kept = 0;
    for (size_t i = 0; i < self->nstarts; i++)
        if (self->starts [i] > to)
            self->starts [kept++] = self->starts [i];
    self->nstarts = kept;
    uint64_t first, last;
    char why [256];
    s_state (self, &first, &last, why, sizeof why); //  the bytes left; an error only says less
    return purged > INT32_MAX ? INT32_MAX : (int) purged;
}

static int64_t s_scan (void *impl, uint64_t from, sl_journal_fn *fn, void *arg, char *err,
                       size_t errlen)
{
    s_nats_t *self = impl;
    if (err && errlen)
        err [0] = '\0';
    (void) from; //  one stream: the job's records are anywhere in it
    //  Only what was acknowledged: up to last_seq, less a run in flight
    //  (a split record half sent), which the reader drops as open.
    return s_read (self, self->first_seq, sl_jwindow_last_seq (self->window), fn, arg, NULL, NULL,
                   err, errlen);
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
    //  The reader replay left, if a record was open at its end.
    if (!self->follow_reader && !(self->follow_reader = sl_frame_reader_new ())) {
        snprintf (err, errlen, "cannot follow the journal stream %s: out of memory", self->stream);
        return -1;
    }
    natsStatus s = js_SubscribeSync (&self->follow, self->js, self->subject, NULL, &so, &jerr);
    if (s == NATS_OK)
        return 0;
    snprintf (err, errlen, "cannot follow the journal stream %s: %s (JetStream error %d)",
              self->stream, s_nats_error (s), (int) jerr);
    natsSubscription_Destroy (self->follow); //  the reader stays, for the next try
    self->follow = NULL;
    return -1;
}

//  Feeds one followed message to the reader, which goes on from replay's
//  (a record open at its end is applied once its last part comes; one
//  that a takeover cut short is dropped at the next message that begins
//  a run). Returns records, or -1: a message this standby cannot apply
//  (damaged, or refused), which leaves its table short of a record: it is
//  fenced, never to take over with it.
static int64_t s_follow_msg (s_nats_t *self, natsMsg *msg, uint64_t seq, sl_journal_fn *fn,
                             void *arg, char *err, size_t errlen)
{
    const uint8_t *data = (const uint8_t *) natsMsg_GetData (msg);
    size_t len = (size_t) natsMsg_GetDataLength (msg);
    s_holder_note (self, msg);
    self->last_seq = seq;
    self->bytes += len;
    int64_t n = sl_frame_reader_feed (self->follow_reader, seq, data, len, fn, arg, err, errlen);
    if (n < 0) {
        size_t used = strlen (err);
        snprintf (err + used, errlen - used,
                  "; this standby misses it: restart it to read the stream again");
        self->fenced = true;
    }
    return n;
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
        if (seq > self->last_seq + 1) {
            //  A checkpoint's purge took messages this standby never read:
            //  its table misses them, so it must never act on it.
            natsMsg_Destroy (msg);
            snprintf (err, errlen,
                      "the journal stream %s was purged past sequence %" PRIu64
                      " before this standby read it (a checkpoint); restart this broker to "
                      "read the stream again from its checkpoint",
                      self->stream, self->last_seq + 1);
            self->fenced = true;
            return -1;
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
    char why [64];
    if (s_disconnected (self, why, sizeof why)) {
        snprintf (err, errlen, "cannot write to the journal stream %s: %s", self->stream, why);
        return -1;
    }
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
        //  An idle active broker appends nothing but holds, one a
        //  heartbeat: they count toward the broker's checkpoints (more than
        //  their stored size: each is also a message for replay to read),
        //  whose purge keeps the stream from growing for ever.
        self->bytes += sizeof head;
        self->segment_bytes += HOLD_BYTES;
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

static int s_hold (void *impl, const char *holder, const char *workers, char *err, size_t errlen)
{
    s_nats_t *self = impl;
    assert (self->replayed);
    self->refused = false;
    if (self->fenced)
        return s_fenced_error (self, err, errlen);
    //  The active broker: everything it appended acknowledged first, so
    //  that the hold expects the stream's true last sequence. (A standby
    //  appends nothing: its last sequence is the last one it followed.)
    int rc = self->appended > self->durable ? s_sync (impl, err, errlen) : 0;
    if (rc == 0 && !self->follow) {
        if (sl_jwindow_size (self->window)) {
            snprintf (err, errlen, "the journal stream %s: messages still in flight", self->stream);
            return -1;
        }
        self->last_seq = sl_jwindow_last_seq (self->window);
    }
    if (rc == 0)
        rc = s_hold_publish (self, holder, workers, err, errlen);
    if (rc == 0) {
        //  The window goes on after the hold (at a takeover: after what
        //  this broker read).
        sl_jwindow_destroy (&self->window);
        if (!(self->window = sl_jwindow_new (WINDOW, self->last_seq))) {
            snprintf (err, errlen, "out of memory holding the journal stream %s", self->stream);
            self->fenced = true; //  cannot go on appending: stop
            return -1;
        }
    }
    self->refused |= self->fenced;
    if (rc == 0)
        s_follow_stop (self); //  taken over: what is read from now on is this broker's own
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
    s_nats_t *self = impl;
    //  The active broker's commits move its window on past its last hold.
    uint64_t window = !self->follow && self->window ? sl_jwindow_last_seq (self->window) : 0;
    return window > self->last_seq ? window : self->last_seq;
}

static const sl_journal_ops_t s_ops = {
    .destroy = s_destroy,
    .replay = s_replay,
    .torn_bytes = s_torn_bytes,
    .repaired = s_repaired,
    .append = s_append,
    .commit = s_commit,
    .sync = s_sync,
    .fd = s_fd,
    .poll = s_poll,
    .uncommitted = s_uncommitted,
    .unflushed = s_unflushed,
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
    .keep_from = s_keep_from,
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

//  Connects to the servers (urls) as config says. Returns 0 or -1 with err.
static int s_connect (s_nats_t *self, const sl_nats_config_t *config, char **urls, size_t nurls,
                      char *err, size_t errlen)
{
    natsOptions *opts = NULL;
    natsStatus s;
    int rc = -1;
    if ((s = natsOptions_Create (&opts)) != NATS_OK ||
        (s = natsOptions_SetServers (opts, (const char **) urls, (int) nurls)) != NATS_OK ||
        (s = natsOptions_SetName (opts, "sluice-broker journal")) != NATS_OK ||
        (s = natsOptions_SetTimeout (opts, self->timeout_ms)) != NATS_OK ||
        (s = natsOptions_SetMaxReconnect (opts, -1)) != NATS_OK ||
        (s = natsOptions_SetReconnectWait (opts, 250)) != NATS_OK ||
        (s = natsOptions_SetWriteDeadline (opts, WRITE_DEADLINE_MS)) != NATS_OK ||
        (s = natsOptions_SetDisconnectedCB (opts, s_on_disconnected, self)) != NATS_OK ||
        (s = natsOptions_SetReconnectedCB (opts, s_on_reconnected, self)) != NATS_OK ||
        (s = natsOptions_SetClosedCB (opts, s_on_closed, self)) != NATS_OK)
        snprintf (err, errlen, "cannot set up the NATS connection: %s", s_nats_error (s));
    else if (config->creds &&
             (s = natsOptions_SetUserCredentialsFromFiles (opts, config->creds, NULL)) != NATS_OK)
        snprintf (err, errlen, "cannot use the NATS credentials file %s: %s", config->creds,
                  s_nats_error (s));
    else if (config->tls_ca &&
             ((s = natsOptions_SetSecure (opts, true)) != NATS_OK ||
              (s = natsOptions_LoadCATrustedCertificates (opts, config->tls_ca)) != NATS_OK))
        snprintf (err, errlen, "cannot use the CA certificates in %s for NATS: %s", config->tls_ca,
                  s_nats_error (s));
    else if ((s = natsConnection_Connect (&self->conn, opts)) != NATS_OK)
        snprintf (err, errlen, "cannot connect to the NATS servers %s: %s", config->servers,
                  s_nats_error (s));
    else
        rc = 0;
    natsOptions_Destroy (opts);
    return rc;
}

//  The JetStream context, answering asynchronous publishes to s_on_answer,
//  and the stream. Returns 0 or -1 with err.
static int s_jetstream (s_nats_t *self, const char *servers, char *err, size_t errlen)
{
    jsOptions jo;
    jsOptions_Init (&jo);
    jo.Wait = self->timeout_ms;
    jo.PublishAsync.AckHandler = s_on_answer;
    jo.PublishAsync.AckHandlerClosure = self;
    jo.PublishAsync.MaxPending = 2 * WINDOW; //  the window keeps to WINDOW
    natsStatus s = natsConnection_JetStream (&self->js, self->conn, &jo);
    if (s != NATS_OK) {
        snprintf (err, errlen, "cannot use JetStream on %s: %s", servers, s_nats_error (s));
        return -1;
    }
    if (s_stream_open (self, err, errlen))
        return -1;
    int64_t max_payload = natsConnection_GetMaxPayload (self->conn);
    self->max_body = max_payload > HEADER_ROOM + SL_FRAME_HEAD + MIN_BODY
                         ? (size_t) max_payload - HEADER_ROOM - SL_FRAME_HEAD
                         : MIN_BODY;
    if (!(self->msg = malloc (SL_FRAME_HEAD + self->max_body))) {
        snprintf (err, errlen, "out of memory opening the journal stream %s", self->stream);
        return -1;
    }
    return 0;
}

//  A new journal object with its names, lock and wake pipe, not connected.
//  NULL with err if that fails.
static s_nats_t *s_new (const sl_nats_config_t *config, char *err, size_t errlen)
{
    s_nats_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory opening the journal stream %s", config->stream);
        return NULL;
    }
    self->wake [0] = self->wake [1] = -1;
    pthread_mutex_init (&self->lock, NULL);
    pthread_cond_init (&self->closed_cond, NULL);
    self->replicas = config->replicas > 0 ? config->replicas : SL_NATS_DEFAULT_REPLICAS;
    self->timeout_ms = config->timeout_ms > 0 ? config->timeout_ms : SL_NATS_DEFAULT_TIMEOUT_MS;
    bool ok = (self->stream = strdup (config->stream)) != NULL;
    if (ok && asprintf (&self->subject, "sluice-journal.%s", config->stream) < 0) {
        self->subject = NULL; //  undefined after a failure
        ok = false;
    }
    if (ok && asprintf (&self->name, "nats stream %s", config->stream) < 0) {
        self->name = NULL;
        ok = false;
    }
    if (!ok)
        snprintf (err, errlen, "out of memory opening the journal stream %s", config->stream);
    else if (pipe2 (self->wake, O_NONBLOCK | O_CLOEXEC)) {
        self->wake [0] = self->wake [1] = -1;
        snprintf (err, errlen, "cannot make a pipe for the journal stream %s: %s", config->stream,
                  strerror (errno));
        ok = false;
    }
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    snprintf (self->nonce, sizeof self->nonce, "%lx%lx%x", (unsigned long) ts.tv_sec,
              (unsigned long) ts.tv_nsec, (unsigned) getpid ());
    if (!ok) {
        void *doomed = self;
        s_destroy (&doomed);
        return NULL;
    }
    return self;
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
    void *impl = s_new (config, err, errlen);
    if (impl && (s_connect (impl, config, urls, nurls, err, errlen) ||
                 s_jetstream (impl, config->servers, err, errlen)))
        s_destroy (&impl);
    sl_journal_urls_free (urls, nurls);
    if (!impl)
        return NULL;
    sl_journal_t *journal = sl_journal_wrap (&s_ops, &impl);
    if (!journal)
        snprintf (err, errlen, "out of memory opening the journal stream %s", config->stream);
    return journal;
}
