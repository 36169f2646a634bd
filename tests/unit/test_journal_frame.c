/*  test_journal_frame - unit tests of how the NATS journal packs records
    into messages (broker/journal_frame.c): records cut into message
    bodies by sl_frame_cut / sl_frame_cut_more, each sent with its head,
    read back by the reader in stream order. Every test writes records,
    "publishes" them into an array of messages, and checks that the reader
    gives back every record, byte for byte, in order; then damage: torn
    runs, bad heads, a run without its beginning, a CRC mismatch.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal_frame.h"

#define MAX_MSGS 4096
#define MAX_RECORDS 256

typedef struct {
    uint8_t *data [MAX_MSGS]; //  message bytes: head + body (owned)
    size_t len [MAX_MSGS];    //  their sizes
    size_t n;                 //  messages
} stream_t;

typedef struct {
    uint8_t type [MAX_RECORDS];  //  types read back
    uint8_t *data [MAX_RECORDS]; //  copies of their data (owned)
    size_t size [MAX_RECORDS];   //  sizes
    size_t n;                    //  records read back
} seen_t;

//  Record k: type 1 + k % 5, size sizes [k], bytes derived from k.
static void s_fill (uint8_t *p, size_t size, size_t k)
{
    for (size_t i = 0; i < size; i++)
        p [i] = (uint8_t) (k * 31 + i * 7);
}

//  Buffers records with the given sizes, as the journal's append does.
static uint8_t *s_records (const size_t *sizes, size_t n, size_t *len)
{
    size_t total = 0;
    for (size_t k = 0; k < n; k++)
        total += SL_FRAME_RECORD_HEAD + sizes [k];
    uint8_t *buf = malloc (total ? total : 1);
    uint8_t *data = malloc (1 << 20);
    assert_non_null (buf);
    assert_non_null (data);
    size_t at = 0;
    for (size_t k = 0; k < n; k++) {
        s_fill (data, sizes [k], k);
        sl_frame_put_record (buf + at, (uint8_t) (1 + k % 5), data, sizes [k]);
        at += SL_FRAME_RECORD_HEAD + sizes [k];
    }
    free (data);
    *len = total;
    return buf;
}

static void s_add (stream_t *stream, const uint8_t *body, size_t len, uint8_t flags)
{
    assert_true (stream->n < MAX_MSGS);
    uint8_t *msg = malloc (SL_FRAME_HEAD + len);
    assert_non_null (msg);
    sl_frame_put_head (msg, flags);
    if (len)
        memcpy (msg + SL_FRAME_HEAD, body, len);
    stream->data [stream->n] = msg;
    stream->len [stream->n++] = SL_FRAME_HEAD + len;
}

//  Publishes records [0..len) as the NATS journal's commit does.
static void s_publish (stream_t *stream, const uint8_t *buf, size_t len, size_t max_body)
{
    size_t pos = 0, rec = 0;
    while (pos < len) {
        sl_frame_cut_t cut;
        if (pos == rec) {
            cut = sl_frame_cut (buf + pos, len - pos, max_body);
            cut.off += pos;
        } else
            cut = sl_frame_cut_more (buf, rec, pos, max_body);
        assert_int_equal (cut.off, pos);
        assert_true (cut.len > 0 && cut.len <= max_body);
        s_add (stream, buf + cut.off, cut.len, cut.flags);
        pos += cut.len;
        if (cut.flags & SL_FRAME_END)
            rec = pos;
    }
}

static void s_stream_free (stream_t *stream)
{
    for (size_t i = 0; i < stream->n; i++)
        free (stream->data [i]);
    stream->n = 0;
}

static int s_collect (uint8_t type, const uint8_t *data, size_t size, uint64_t segment, void *arg)
{
    seen_t *seen = arg;
    assert_int_equal (segment, 1);
    assert_true (seen->n < MAX_RECORDS);
    seen->type [seen->n] = type;
    seen->size [seen->n] = size;
    seen->data [seen->n] = malloc (size ? size : 1);
    if (size)
        memcpy (seen->data [seen->n], data, size);
    seen->n++;
    return 0;
}

static void s_seen_free (seen_t *seen)
{
    for (size_t i = 0; i < seen->n; i++)
        free (seen->data [i]);
    seen->n = 0;
}

//  Reads the whole stream. Returns the records (or -1), torn bytes in *torn.
static int64_t s_read (stream_t *stream, seen_t *seen, uint64_t *torn, char *err, size_t errlen)
{
    sl_frame_reader_t *reader = sl_frame_reader_new ();
    assert_non_null (reader);
    int64_t count = 0;
    for (size_t i = 0; i < stream->n && count >= 0; i++) {
        int64_t n = sl_frame_reader_feed (reader, i + 1, stream->data [i], stream->len [i],
                                          s_collect, seen, err, errlen);
        count = n < 0 ? -1 : count + n;
    }
    *torn = sl_frame_reader_finish (reader);
    sl_frame_reader_destroy (&reader);
    return count;
}

//  Checks that seen holds records [first..first+n) of sizes.
static void s_check (seen_t *seen, const size_t *sizes, size_t first, size_t n)
{
    assert_int_equal (seen->n, n);
    uint8_t *want = malloc (1 << 20);
    for (size_t i = 0; i < n; i++) {
        size_t k = first + i;
        assert_int_equal (seen->type [i], 1 + k % 5);
        assert_int_equal (seen->size [i], sizes [k]);
        s_fill (want, sizes [k], k);
        assert_memory_equal (seen->data [i], want, sizes [k]);
    }
    free (want);
}

static void test_journal_frame_small_records_share_one_message (void **state)
{
    (void) state;
    size_t sizes [] = { 0, 1, 10, 100, 1000, 17, 0, 3 };
    size_t n = sizeof sizes / sizeof sizes [0], len;
    uint8_t *buf = s_records (sizes, n, &len);
    stream_t stream = { 0 };
    s_publish (&stream, buf, len, 64 * 1024);
    assert_int_equal (stream.n, 1);
    assert_int_equal (stream.data [0][3], SL_FRAME_BEGIN | SL_FRAME_END);
    seen_t seen = { 0 };
    uint64_t torn;
    char err [256] = "";
    assert_int_equal (s_read (&stream, &seen, &torn, err, sizeof err), (int64_t) n);
    assert_int_equal (torn, 0);
    s_check (&seen, sizes, 0, n);
    s_seen_free (&seen);
    s_stream_free (&stream);
    free (buf);
}

static void test_journal_frame_messages_hold_whole_records_up_to_the_limit (void **state)
{
    (void) state;
    size_t sizes [100];
    for (size_t k = 0; k < 100; k++)
        sizes [k] = 50 + k * 13 % 300;
    size_t len;
    uint8_t *buf = s_records (sizes, 100, &len);
    stream_t stream = { 0 };
    s_publish (&stream, buf, len, 1024);
    assert_true (stream.n > 1);
    for (size_t i = 0; i < stream.n; i++) {
        assert_int_equal (stream.data [i][3], SL_FRAME_BEGIN | SL_FRAME_END);
        assert_true (stream.len [i] <= SL_FRAME_HEAD + 1024);
        //  full: the next record would not have fitted
        if (i + 1 < stream.n) {
            size_t next = SL_FRAME_RECORD_HEAD + (size_t) stream.data [i + 1][4] +
                          ((size_t) stream.data [i + 1][5] << 8);
            assert_true (stream.len [i] - SL_FRAME_HEAD + next > 1024);
        }
    }
    seen_t seen = { 0 };
    uint64_t torn;
    char err [256] = "";
    assert_int_equal (s_read (&stream, &seen, &torn, err, sizeof err), 100);
    s_check (&seen, sizes, 0, 100);
    s_seen_free (&seen);
    s_stream_free (&stream);
    free (buf);
}

static void test_journal_frame_a_big_record_is_split_and_joined (void **state)
{
    (void) state;
    size_t sizes [] = { 10, 5000, 20, 999, 1015, 3 };
    size_t n = sizeof sizes / sizeof sizes [0], len;
    uint8_t *buf = s_records (sizes, n, &len);
    stream_t stream = { 0 };
    s_publish (&stream, buf, len, 1024);
    //  The 5000-byte record: BEGIN, middles, END.
    assert_int_equal (stream.data [1][3], SL_FRAME_BEGIN);
    assert_int_equal (stream.data [2][3], 0);
    bool split_end = false;
    for (size_t i = 2; i < stream.n; i++)
        split_end |= stream.data [i][3] == SL_FRAME_END;
    assert_true (split_end);
    seen_t seen = { 0 };
    uint64_t torn;
    char err [256] = "";
    assert_int_equal (s_read (&stream, &seen, &torn, err, sizeof err), (int64_t) n);
    assert_int_equal (torn, 0);
    s_check (&seen, sizes, 0, n);
    s_seen_free (&seen);
    s_stream_free (&stream);
    free (buf);
}

static void test_journal_frame_a_torn_run_is_dropped_before_the_next_begin (void **state)
{
    (void) state;
    size_t sizes [] = { 5000, 7, 8 };
    size_t len;
    uint8_t *buf = s_records (sizes, 3, &len);
    stream_t full = { 0 };
    s_publish (&full, buf, len, 1024);
    //  A crash after the first two parts of the big record; then the next
    //  broker writes records 1 and 2 again.
    stream_t stream = { 0 };
    s_add (&stream, full.data [0] + SL_FRAME_HEAD, full.len [0] - SL_FRAME_HEAD, full.data [0][3]);
    s_add (&stream, full.data [1] + SL_FRAME_HEAD, full.len [1] - SL_FRAME_HEAD, full.data [1][3]);
    size_t rest = SL_FRAME_RECORD_HEAD + 5000;
    s_publish (&stream, buf + rest, len - rest, 1024);
    seen_t seen = { 0 };
    uint64_t torn;
    char err [256] = "";
    assert_int_equal (s_read (&stream, &seen, &torn, err, sizeof err), 2);
    assert_int_equal (torn, 2048);
    s_check (&seen, sizes, 1, 2);
    s_seen_free (&seen);
    s_stream_free (&stream);
    s_stream_free (&full);
    free (buf);
}

static void test_journal_frame_an_open_run_at_the_end_is_torn (void **state)
{
    (void) state;
    size_t sizes [] = { 4, 5000 };
    size_t len;
    uint8_t *buf = s_records (sizes, 2, &len);
    stream_t stream = { 0 };
    s_publish (&stream, buf, len, 1024);
    free (stream.data [--stream.n]); //  the END part never made it
    seen_t seen = { 0 };
    uint64_t torn;
    char err [256] = "";
    assert_int_equal (s_read (&stream, &seen, &torn, err, sizeof err), 1);
    assert_true (torn > 0);
    s_check (&seen, sizes, 0, 1);
    s_seen_free (&seen);
    s_stream_free (&stream);
    free (buf);
}

//  Feeds messages [from, to) of stream to reader. Returns the records.
static int64_t s_feed (sl_frame_reader_t *reader, stream_t *stream, size_t from, size_t to,
                       seen_t *seen)
{
    char err [256] = "";
    int64_t count = 0;
    for (size_t i = from; i < to; i++) {
        int64_t n = sl_frame_reader_feed (reader, i + 1, stream->data [i], stream->len [i],
                                          s_collect, seen, err, sizeof err);
        assert_true (n >= 0);
        count += n;
    }
    return count;
}

static void test_journal_frame_a_run_open_at_replay_ends_while_following (void **state)
{
    (void) state;
    //  A standby replays up to the middle of a split record (its writer is
    //  alive), then follows the rest with the same reader: the record is
    //  applied once, when its last part comes.
    size_t sizes [] = { 4, 5000, 6 };
    size_t len;
    uint8_t *buf = s_records (sizes, 3, &len);
    stream_t stream = { 0 };
    s_publish (&stream, buf, len, 1024);
    assert_true (stream.n > 3);
    sl_frame_reader_t *reader = sl_frame_reader_new ();
    seen_t seen = { 0 };
    assert_int_equal (s_feed (reader, &stream, 0, 2, &seen), 1); //  record 0; 5000's first part
    assert_int_equal (sl_frame_reader_pending (reader), 1024);
    assert_int_equal (sl_frame_reader_torn (reader), 0);
    assert_int_equal (s_feed (reader, &stream, 2, stream.n, &seen), 2);
    assert_int_equal (sl_frame_reader_pending (reader), 0);
    assert_int_equal (sl_frame_reader_finish (reader), 0);
    s_check (&seen, sizes, 0, 3);
    sl_frame_reader_destroy (&reader);
    s_seen_free (&seen);
    s_stream_free (&stream);
    free (buf);
}

static void test_journal_frame_a_run_open_at_a_takeover_is_torn_by_the_hold (void **state)
{
    (void) state;
    //  The writer died after the first part; the standby's takeover hold
    //  (an empty message that begins and ends a run) tears the open run:
    //  nothing of it is applied, and the next broker's records are.
    size_t sizes [] = { 5000 };
    size_t len;
    uint8_t *buf = s_records (sizes, 1, &len);
    stream_t stream = { 0 };
    s_publish (&stream, buf, len, 1024);
    sl_frame_reader_t *reader = sl_frame_reader_new ();
    seen_t seen = { 0 };
    assert_int_equal (s_feed (reader, &stream, 0, 2, &seen), 0);
    assert_int_equal (sl_frame_reader_pending (reader), 2048);
    uint8_t hold [SL_FRAME_HEAD];
    sl_frame_put_head (hold, SL_FRAME_BEGIN | SL_FRAME_END);
    char err [256] = "";
    assert_int_equal (
        sl_frame_reader_feed (reader, 3, hold, sizeof hold, s_collect, &seen, err, sizeof err), 0);
    assert_int_equal (sl_frame_reader_pending (reader), 0);
    assert_int_equal (sl_frame_reader_torn (reader), 2048);
    assert_int_equal (seen.n, 0);
    //  The dead writer's next part, had it been stored: no run is open.
    assert_int_equal (sl_frame_reader_feed (reader, 4, stream.data [2], stream.len [2], s_collect,
                                            &seen, err, sizeof err),
                      -1);
    assert_non_null (strstr (err, "whose beginning is not in the stream"));
    sl_frame_reader_destroy (&reader);
    s_stream_free (&stream);
    free (buf);
}

static void test_journal_frame_an_empty_message_holds_no_record (void **state)
{
    (void) state;
    stream_t stream = { 0 };
    s_add (&stream, NULL, 0, SL_FRAME_BEGIN | SL_FRAME_END);
    seen_t seen = { 0 };
    uint64_t torn;
    char err [256] = "";
    assert_int_equal (s_read (&stream, &seen, &torn, err, sizeof err), 0);
    assert_int_equal (torn, 0);
    s_stream_free (&stream);
}

static void test_journal_frame_damage_is_an_error_naming_the_message (void **state)
{
    (void) state;
    size_t sizes [] = { 10, 20 };
    size_t len;
    uint8_t *buf = s_records (sizes, 2, &len);
    seen_t seen = { 0 };
    uint64_t torn;
    char err [256];
    //  A CRC mismatch.
    stream_t stream = { 0 };
    s_publish (&stream, buf, len, 1024);
    stream.data [0][SL_FRAME_HEAD + SL_FRAME_RECORD_HEAD + 3] ^= 1;
    err [0] = '\0';
    assert_int_equal (s_read (&stream, &seen, &torn, err, sizeof err), -1);
    assert_non_null (strstr (err, "message 1"));
    assert_non_null (strstr (err, "CRC"));
    s_seen_free (&seen);
    s_stream_free (&stream);
    //  Not a journal message.
    s_add (&stream, buf, len, SL_FRAME_BEGIN | SL_FRAME_END);
    stream.data [0][0] = 'X';
    assert_int_equal (s_read (&stream, &seen, &torn, err, sizeof err), -1);
    assert_non_null (strstr (err, "not a sluice journal message"));
    s_stream_free (&stream);
    //  A newer version.
    s_add (&stream, buf, len, SL_FRAME_BEGIN | SL_FRAME_END);
    stream.data [0][2] = SL_FRAME_VERSION + 1;
    assert_int_equal (s_read (&stream, &seen, &torn, err, sizeof err), -1);
    assert_non_null (strstr (err, "version"));
    s_stream_free (&stream);
    //  A continuation with no beginning (a purge cut a run in two).
    s_add (&stream, buf, len, SL_FRAME_END);
    assert_int_equal (s_read (&stream, &seen, &torn, err, sizeof err), -1);
    assert_non_null (strstr (err, "beginning"));
    s_stream_free (&stream);
    //  A size beyond the run.
    s_add (&stream, buf, len - 1, SL_FRAME_BEGIN | SL_FRAME_END);
    assert_int_equal (s_read (&stream, &seen, &torn, err, sizeof err), -1);
    assert_non_null (strstr (err, "beyond"));
    s_stream_free (&stream);
    s_seen_free (&seen);
    free (buf);
}

static int s_refuse (uint8_t type, const uint8_t *data, size_t size, uint64_t segment, void *arg)
{
    (void) type, (void) data, (void) size, (void) segment, (void) arg;
    return -1;
}

static void test_journal_frame_a_refused_record_stops_the_read (void **state)
{
    (void) state;
    size_t sizes [] = { 1, 2 };
    size_t len;
    uint8_t *buf = s_records (sizes, 2, &len);
    uint8_t msg [64];
    sl_frame_put_head (msg, SL_FRAME_BEGIN | SL_FRAME_END);
    memcpy (msg + SL_FRAME_HEAD, buf, len);
    sl_frame_reader_t *reader = sl_frame_reader_new ();
    char err [256] = "";
    assert_int_equal (sl_frame_reader_feed (reader, 42, msg, SL_FRAME_HEAD + len, s_refuse, NULL,
                                            err, sizeof err),
                      -1);
    assert_non_null (strstr (err, "42"));
    sl_frame_reader_destroy (&reader);
    assert_null (reader);
    free (buf);
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_journal_frame_small_records_share_one_message),
        cmocka_unit_test (test_journal_frame_messages_hold_whole_records_up_to_the_limit),
        cmocka_unit_test (test_journal_frame_a_big_record_is_split_and_joined),
        cmocka_unit_test (test_journal_frame_a_torn_run_is_dropped_before_the_next_begin),
        cmocka_unit_test (test_journal_frame_an_open_run_at_the_end_is_torn),
        cmocka_unit_test (test_journal_frame_a_run_open_at_replay_ends_while_following),
        cmocka_unit_test (test_journal_frame_a_run_open_at_a_takeover_is_torn_by_the_hold),
        cmocka_unit_test (test_journal_frame_an_empty_message_holds_no_record),
        cmocka_unit_test (test_journal_frame_damage_is_an_error_naming_the_message),
        cmocka_unit_test (test_journal_frame_a_refused_record_stops_the_read),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
