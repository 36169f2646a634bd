/*  nats_copy - a test tool: copies messages of one sluice journal stream
    to another, so that a test can show a broker a stream as the active
    broker left it at any point, e.g. between the parts of a record split
    over several messages (tests/integration/nats_split.sh). The bodies and
    the Sluice-* headers are copied, nothing else (not the message ids and
    expectations the writer published with); the copy numbers its messages
    from its own last sequence.

        nats_copy URL SRC state
            prints "FIRST LAST MESSAGES BYTES" of stream SRC
        nats_copy URL SRC split
            prints "SPLIT LAST": the sequence of the first message of SRC
            that begins a record without ending it (a record split over
            several messages), 0 if none, and SRC's last sequence
        nats_copy URL SRC DST FROM TO [EXPECT]
            copies SRC's messages FROM..TO to DST (created, 3 replicas, if
            missing). With EXPECT the first one expects DST's last sequence
            to be EXPECT, as a late message of a dead broker would: exit 3
            ("refused") if JetStream refuses it for that

    Exit 0, 3 (refused), or 1 on any other error (with a message).
*/
#include <inttypes.h>
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_BEGIN 0x01 //  as broker/journal_frame.h
#define FRAME_END 0x02

static int s_fail (const char *what, natsStatus s, jsErrCode jerr)
{
    fprintf (stderr, "nats_copy: %s: %s (JetStream error %d)\n", what, natsStatus_GetText (s),
             (int) jerr);
    return 1;
}

//  The last sequence of stream (0 if it does not exist). Returns 0 or -1.
static int s_last (jsCtx *js, const char *stream, uint64_t *last, bool *exists)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo (&si, js, stream, NULL, &jerr);
    *last = 0;
    *exists = s == NATS_OK;
    if (s != NATS_OK)
        return jerr == JSStreamNotFoundErr ? 0 : (s_fail ("stream info", s, jerr), -1);
    *last = si->State.LastSeq;
    jsStreamInfo_Destroy (si);
    return 0;
}

static int s_state (jsCtx *js, const char *src)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo (&si, js, src, NULL, &jerr);
    if (s != NATS_OK)
        return s_fail ("stream info", s, jerr);
    printf ("%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", si->State.FirstSeq,
            si->State.LastSeq, si->State.Msgs, si->State.Bytes);
    jsStreamInfo_Destroy (si);
    return 0;
}

static int s_split (jsCtx *js, const char *src)
{
    uint64_t last;
    bool exists;
    if (s_last (js, src, &last, &exists) || !exists)
        return 1;
    uint64_t split = 0;
    for (uint64_t seq = 1; seq <= last && !split; seq++) {
        natsMsg *msg = NULL;
        jsErrCode jerr = 0;
        natsStatus s = js_GetMsg (&msg, js, src, seq, NULL, &jerr);
        if (s != NATS_OK)
            continue; //  purged
        const unsigned char *data = (const unsigned char *) natsMsg_GetData (msg);
        if (natsMsg_GetDataLength (msg) >= 4 && (data [3] & FRAME_BEGIN) && !(data [3] & FRAME_END))
            split = seq;
        natsMsg_Destroy (msg);
    }
    printf ("%" PRIu64 " %" PRIu64 "\n", split, last);
    return 0;
}

static int s_copy (jsCtx *js, const char *src, const char *dst, uint64_t from, uint64_t to,
                   const char *expect)
{
    uint64_t last;
    bool exists;
    char subject [200];
    snprintf (subject, sizeof subject, "sluice-journal.%s", dst);
    if (s_last (js, dst, &last, &exists))
        return 1;
    if (!exists) {
        jsStreamConfig cfg;
        jsStreamConfig_Init (&cfg);
        const char *subjects [] = { subject };
        cfg.Name = dst;
        cfg.Subjects = subjects;
        cfg.SubjectsLen = 1;
        cfg.Storage = js_FileStorage;
        cfg.Replicas = 3;
        jsStreamInfo *si = NULL;
        jsErrCode jerr = 0;
        natsStatus s = js_AddStream (&si, js, &cfg, NULL, &jerr);
        if (s != NATS_OK)
            return s_fail ("create the stream", s, jerr);
        jsStreamInfo_Destroy (si);
    }
    for (uint64_t seq = from; seq <= to; seq++) {
        natsMsg *in = NULL, *out = NULL;
        jsErrCode jerr = 0;
        natsStatus s = js_GetMsg (&in, js, src, seq, NULL, &jerr);
        if (s != NATS_OK)
            return s_fail ("get a message", s, jerr);
        s = natsMsg_Create (&out, subject, NULL, natsMsg_GetData (in), natsMsg_GetDataLength (in));
        const char **keys = NULL;
        int nkeys = 0;
        if (s == NATS_OK && natsMsgHeader_Keys (in, &keys, &nkeys) == NATS_OK) {
            for (int i = 0; i < nkeys && s == NATS_OK; i++) {
                const char *value = NULL;
                if (strncmp (keys [i], "Sluice-", 7) == 0 &&
                    natsMsgHeader_Get (in, keys [i], &value) == NATS_OK)
                    s = natsMsgHeader_Set (out, keys [i], value);
            }
            free ((void *) keys);
        }
        jsPubOptions po;
        jsPubOptions_Init (&po);
        if (expect && seq == from)
            po.ExpectLastSeq = strtoull (expect, NULL, 10);
        jsPubAck *ack = NULL;
        if (s == NATS_OK)
            s = js_PublishMsg (&ack, js, out, &po, &jerr);
        natsMsg_Destroy (in);
        natsMsg_Destroy (out);
        if (s != NATS_OK && jerr == JSStreamWrongLastSequenceErr) {
            printf ("refused\n");
            return 3;
        }
        if (s != NATS_OK)
            return s_fail ("publish", s, jerr);
        jsPubAck_Destroy (ack);
    }
    return 0;
}

int main (int argc, char *argv [])
{
    bool one = argc >= 4 && (!strcmp (argv [3], "split") || !strcmp (argv [3], "state"));
    if (argc < 4 || (!one && argc < 6)) {
        fprintf (stderr, "usage: nats_copy URL SRC split|state | nats_copy URL SRC DST FROM TO "
                         "[EXPECT]\n");
        return 1;
    }
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    natsStatus s = natsConnection_ConnectTo (&nc, argv [1]);
    if (s == NATS_OK)
        s = natsConnection_JetStream (&js, nc, NULL);
    if (s != NATS_OK)
        return s_fail (argv [1], s, 0);
    int rc = strcmp (argv [3], "split") == 0 ? s_split (js, argv [2])
             : strcmp (argv [3], "state") == 0
                 ? s_state (js, argv [2])
                 : s_copy (js, argv [2], argv [3], strtoull (argv [4], NULL, 10),
                           strtoull (argv [5], NULL, 10), argc > 6 ? argv [6] : NULL);
    jsCtx_Destroy (js);
    natsConnection_Destroy (nc);
    nats_Close ();
    return rc;
}
