/*  =========================================================================
    test_proto - unit tests of the codec (lib/sl_proto.c) and of the
    endpoint arithmetic (lib/sl_endpoint.c)

    Every test gets fresh sockets from the fixture: a PUSH->PULL pipe and a
    DEALER->ROUTER control pair (the DEALER's routing id is "dealer-1"), on
    inproc:// endpoints made unique with a UUID. Messages travel through
    these real sockets and every field is compared with what was sent.
    Malformed input is made by packing envelopes by hand or sending raw
    frames. czmq's default linger is 0, which is fine here: every message
    is received before the sockets are destroyed in teardown.
    =========================================================================
*/

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_endpoint.h"
#include "sl_proto.h"

#define WAIT_MS 5000 //  how long a test waits for a message that was sent
#define DEALER_ID "dealer-1"

typedef struct {
    zsock_t *push, *pull;     //  PUSH -> PULL pipe
    zsock_t *dealer, *router; //  DEALER (routing id DEALER_ID) -> ROUTER
    zsock_t *other;           //  a socket a test makes itself, or NULL
    char control [128];       //  the ROUTER's endpoint
    sl_env_t *env;            //  last envelope received, freed in teardown
    zframe_t *id;             //  last routing id received, destroyed in teardown
    char err [256];           //  last error message
} fixture_t;

static int s_setup (void **state)
{
    fixture_t *fx = calloc (1, sizeof *fx);
    zuuid_t *uuid = zuuid_new ();
    if (!fx || !uuid) {
        free (fx);
        zuuid_destroy (&uuid);
        return -1;
    }
    char pipe [128];
    snprintf (pipe, sizeof pipe, "inproc://test_proto-%s-pipe", zuuid_str (uuid));
    snprintf (fx->control, sizeof fx->control, "inproc://test_proto-%s-control", zuuid_str (uuid));
    zuuid_destroy (&uuid);
    fx->pull = zsock_new (ZMQ_PULL);
    fx->push = zsock_new (ZMQ_PUSH);
    fx->router = zsock_new (ZMQ_ROUTER);
    fx->dealer = zsock_new (ZMQ_DEALER);
    if (!fx->pull || !fx->push || !fx->router || !fx->dealer)
        return -1;
    zsock_set_identity (fx->dealer, DEALER_ID);
    if (zsock_bind (fx->pull, "%s", pipe) != 0 || zsock_connect (fx->push, "%s", pipe) != 0 ||
        zsock_bind (fx->router, "%s", fx->control) != 0 ||
        zsock_connect (fx->dealer, "%s", fx->control) != 0)
        return -1;
    *state = fx;
    return 0;
}

static int s_teardown (void **state)
{
    fixture_t *fx = *state;
    sl_proto_free (&fx->env);
    zframe_destroy (&fx->id);
    zsock_destroy (&fx->push);
    zsock_destroy (&fx->pull);
    zsock_destroy (&fx->dealer);
    zsock_destroy (&fx->router);
    zsock_destroy (&fx->other);
    free (fx);
    return 0;
}

//  --- Helpers ------------------------------------------------------------------

//  Waits for a message on sock and receives it into fx->env (and fx->id
//  when with_id), after dropping the previous ones.
static sl_recv_t s_recv (fixture_t *fx, zsock_t *sock, bool with_id)
{
    sl_proto_free (&fx->env);
    zframe_destroy (&fx->id);
    fx->err [0] = '\0';
    zmq_pollitem_t item = { zsock_resolve (sock), 0, ZMQ_POLLIN, 0 };
    if (zmq_poll (&item, 1, WAIT_MS) != 1)
        fail_msg ("no message within %d ms", WAIT_MS);
    return sl_proto_recv (sock, &fx->env, with_id ? &fx->id : NULL, fx->err, sizeof fx->err);
}

//  Sends one raw frame (ZMQ_SNDMORE in flags for more to follow).
static void s_send_raw (zsock_t *sock, const void *data, size_t size, int flags)
{
    int rc = zmq_send (zsock_resolve (sock), data, size, flags);
    assert_int_equal (rc, (int) size);
}

//  Packs env as it stands (version included) into buffer; returns the size.
static size_t s_pack (const sl_env_t *env, uint8_t *buffer, size_t cap)
{
    size_t size = sluice__envelope__get_packed_size (env);
    assert_true (size <= cap);
    assert_int_equal (sluice__envelope__pack (env, buffer), size);
    return size;
}

static void s_expect_id (const fixture_t *fx, const char *id)
{
    assert_non_null (fx->id);
    assert_int_equal (zframe_size (fx->id), strlen (id));
    assert_memory_equal (zframe_data (fx->id), id, strlen (id));
}

//  True if text holds number as a whole run of digits.
static bool s_mentions_number (const char *text, unsigned long number)
{
    for (const char *p = text; *p;) {
        if (!isdigit ((unsigned char) *p)) {
            p++;
            continue;
        }
        char *end;
        unsigned long value = strtoul (p, &end, 10);
        if (value == number)
            return true;
        p = end;
    }
    return false;
}

//  --- One sample envelope of each body type --------------------------------------

static const Sluice__Envelope__BodyCase s_bodies [] = {
    SLUICE__ENVELOPE__BODY_HELLO,     SLUICE__ENVELOPE__BODY_WELCOME,
    SLUICE__ENVELOPE__BODY_REFUSE,    SLUICE__ENVELOPE__BODY_TASKS,
    SLUICE__ENVELOPE__BODY_JOB_END,   SLUICE__ENVELOPE__BODY_RESULTS,
    SLUICE__ENVELOPE__BODY_ACK,       SLUICE__ENVELOPE__BODY_JOB_DONE,
    SLUICE__ENVELOPE__BODY_JOB_START, SLUICE__ENVELOPE__BODY_JOB_QUERY,
    SLUICE__ENVELOPE__BODY_JOB_STATE, SLUICE__ENVELOPE__BODY_HEARTBEAT,
    SLUICE__ENVELOPE__BODY_BYE,
};
#define BODY_COUNT (sizeof s_bodies / sizeof s_bodies [0])

static const uint8_t s_payload [] = { 0, 'x', 0xff, '\n', 0 };
static const uint8_t s_output [] = { 'o', 0, 'u', 0x80, 't' };

//  Storage for a sample envelope and everything it points to.
typedef struct {
    sl_env_t env;
    Sluice__Hello hello;
    Sluice__Welcome welcome;
    char *jobs [3];
    Sluice__Refuse refuse;
    Sluice__TaskBatch batch;
    Sluice__Task task [3];
    Sluice__Task *tasks [3];
    Sluice__JobEnd job_end;
    Sluice__ResultBatch results;
    Sluice__Result result [2];
    Sluice__Result *result_p [2];
    Sluice__Ack ack;
    uint64_t seqs [4];
    Sluice__JobDone job_done;
    Sluice__JobStart job_start;
    Sluice__JobQuery job_query;
    Sluice__JobState job_state;
    Sluice__Heartbeat heartbeat;
    Sluice__Bye bye;
} sample_t;

//  Fills s with an envelope of the given body; every field differs from
//  its default, so a field lost on the way cannot pass unnoticed.
static sl_env_t *s_sample (sample_t *s, Sluice__Envelope__BodyCase body)
{
    memset (s, 0, sizeof *s);
    s->env = (sl_env_t) SLUICE__ENVELOPE__INIT;
    s->env.body_case = body;
    switch (body) {
        case SLUICE__ENVELOPE__BODY_HELLO:
            s->hello = (Sluice__Hello) SLUICE__HELLO__INIT;
            s->hello.role = SLUICE__ROLE__ROLE_WORKER;
            s->hello.name = "host-1:4242";
            s->hello.slots = 64;
            s->hello.job = "job-9";
            s->hello.follow = true;
            s->hello.heartbeat_ms = 1500;
            s->env.hello = &s->hello;
            break;
        case SLUICE__ENVELOPE__BODY_WELCOME:
            s->welcome = (Sluice__Welcome) SLUICE__WELCOME__INIT;
            s->welcome.broker_id = "b-01";
            s->welcome.heartbeat_ms = 2500;
            s->jobs [0] = "a";
            s->jobs [1] = "";
            s->jobs [2] = "job-3";
            s->welcome.n_jobs = 3;
            s->welcome.jobs = s->jobs;
            s->env.welcome = &s->welcome;
            break;
        case SLUICE__ENVELOPE__BODY_REFUSE:
            s->refuse = (Sluice__Refuse) SLUICE__REFUSE__INIT;
            s->refuse.reason = "go away: full";
            s->env.refuse = &s->refuse;
            break;
        case SLUICE__ENVELOPE__BODY_TASKS:
            s->batch = (Sluice__TaskBatch) SLUICE__TASK_BATCH__INIT;
            s->batch.job = "job-t";
            for (int i = 0; i < 3; i++) {
                s->task [i] = (Sluice__Task) SLUICE__TASK__INIT;
                s->tasks [i] = &s->task [i];
            }
            s->task [0].seq = 1;
            s->task [0].payload.data = (uint8_t *) s_payload;
            s->task [0].payload.len = sizeof s_payload;
            s->task [0].attempt = 1;
            s->task [1].seq = UINT64_MAX;
            s->task [1].timeout_ms = UINT32_MAX;
            s->task [1].attempt = 7;
            s->task [2].seq = 3;
            s->task [2].payload.data = (uint8_t *) "abc";
            s->task [2].payload.len = 3;
            s->task [2].timeout_ms = 100;
            s->task [2].attempt = 2;
            s->batch.n_tasks = 3;
            s->batch.tasks = s->tasks;
            s->env.tasks = &s->batch;
            break;
        case SLUICE__ENVELOPE__BODY_JOB_END:
            s->job_end = (Sluice__JobEnd) SLUICE__JOB_END__INIT;
            s->job_end.job = "job-e";
            s->job_end.total = UINT64_MAX;
            s->env.job_end = &s->job_end;
            break;
        case SLUICE__ENVELOPE__BODY_RESULTS:
            s->results = (Sluice__ResultBatch) SLUICE__RESULT_BATCH__INIT;
            s->results.job = "job-r";
            for (int i = 0; i < 2; i++) {
                s->result [i] = (Sluice__Result) SLUICE__RESULT__INIT;
                s->result_p [i] = &s->result [i];
            }
            s->result [0].seq = 5;
            s->result [0].status = SLUICE__STATUS__STATUS_TIMEOUT;
            s->result [0].exit_code = -1;
            s->result [0].output.data = (uint8_t *) s_output;
            s->result [0].output.len = sizeof s_output;
            s->result [0].stderr_tail.data = (uint8_t *) "err\n";
            s->result [0].stderr_tail.len = 4;
            s->result [0].attempts = 3;
            s->result [0].worker = "w:1";
            s->result [0].duration_ms = 12345;
            s->result [0].output_truncated = true;
            s->result [0].attempt = 3;
            s->result [1].seq = UINT64_MAX;
            s->result [1].status = SLUICE__STATUS__STATUS_OK;
            s->result [1].exit_code = INT32_MIN;
            s->result [1].attempts = 1;
            s->result [1].worker = "";
            s->result [1].attempt = 1;
            s->results.n_results = 2;
            s->results.results = s->result_p;
            s->env.results = &s->results;
            break;
        case SLUICE__ENVELOPE__BODY_ACK:
            s->ack = (Sluice__Ack) SLUICE__ACK__INIT;
            s->ack.job = "job-a";
            s->seqs [0] = 1;
            s->seqs [1] = 0;
            s->seqs [2] = UINT64_MAX;
            s->seqs [3] = 300;
            s->ack.n_seqs = 4;
            s->ack.seqs = s->seqs;
            s->env.ack = &s->ack;
            break;
        case SLUICE__ENVELOPE__BODY_JOB_DONE:
            s->job_done = (Sluice__JobDone) SLUICE__JOB_DONE__INIT;
            s->job_done.job = "job-d";
            s->job_done.total = 10;
            s->job_done.ok = 7;
            s->job_done.failed = 2;
            s->job_done.timeout = 1;
            s->env.job_done = &s->job_done;
            break;
        case SLUICE__ENVELOPE__BODY_JOB_START:
            s->job_start = (Sluice__JobStart) SLUICE__JOB_START__INIT;
            s->job_start.job = "job-s";
            s->env.job_start = &s->job_start;
            break;
        case SLUICE__ENVELOPE__BODY_JOB_QUERY:
            s->job_query = (Sluice__JobQuery) SLUICE__JOB_QUERY__INIT;
            s->job_query.job = "job-q";
            s->env.job_query = &s->job_query;
            break;
        case SLUICE__ENVELOPE__BODY_JOB_STATE:
            s->job_state = (Sluice__JobState) SLUICE__JOB_STATE__INIT;
            s->job_state.job = "job-st";
            s->job_state.received = 99;
            s->job_state.total = 100;
            s->job_state.finished = true;
            s->env.job_state = &s->job_state;
            break;
        case SLUICE__ENVELOPE__BODY_HEARTBEAT:
            s->heartbeat = (Sluice__Heartbeat) SLUICE__HEARTBEAT__INIT;
            s->heartbeat.broker_id = "b-02";
            s->heartbeat.running = 17;
            s->env.heartbeat = &s->heartbeat;
            break;
        case SLUICE__ENVELOPE__BODY_BYE:
            s->bye = (Sluice__Bye) SLUICE__BYE__INIT;
            s->env.bye = &s->bye;
            break;
        default:
            fail_msg ("no sample for body %d", (int) body);
    }
    return &s->env;
}

static void s_expect_bytes (ProtobufCBinaryData got, const void *data, size_t len)
{
    assert_int_equal (got.len, len);
    if (len)
        assert_memory_equal (got.data, data, len);
}

static void s_expect_task (const Sluice__Task *got, const Sluice__Task *want)
{
    assert_int_equal (got->seq, want->seq);
    s_expect_bytes (got->payload, want->payload.data, want->payload.len);
    assert_int_equal (got->timeout_ms, want->timeout_ms);
    assert_int_equal (got->attempt, want->attempt);
}

static void s_expect_result (const Sluice__Result *got, const Sluice__Result *want)
{
    assert_int_equal (got->seq, want->seq);
    assert_int_equal (got->status, want->status);
    assert_int_equal (got->exit_code, want->exit_code);
    s_expect_bytes (got->output, want->output.data, want->output.len);
    s_expect_bytes (got->stderr_tail, want->stderr_tail.data, want->stderr_tail.len);
    assert_int_equal (got->attempts, want->attempts);
    assert_string_equal (got->worker, want->worker);
    assert_int_equal (got->duration_ms, want->duration_ms);
    assert_int_equal (got->output_truncated, want->output_truncated);
    assert_int_equal (got->attempt, want->attempt);
}

//  Compares a received envelope with the sample of its body, field by field.
static void s_expect_sample (const sl_env_t *got, Sluice__Envelope__BodyCase body)
{
    sample_t sample;
    const sl_env_t *want = s_sample (&sample, body);
    assert_non_null (got);
    assert_int_equal (got->version, SL_PROTOCOL_VERSION);
    assert_int_equal (got->body_case, body);
    switch (body) {
        case SLUICE__ENVELOPE__BODY_HELLO:
            assert_int_equal (got->hello->role, want->hello->role);
            assert_string_equal (got->hello->name, want->hello->name);
            assert_int_equal (got->hello->slots, want->hello->slots);
            assert_string_equal (got->hello->job, want->hello->job);
            assert_int_equal (got->hello->follow, want->hello->follow);
            assert_int_equal (got->hello->heartbeat_ms, want->hello->heartbeat_ms);
            break;
        case SLUICE__ENVELOPE__BODY_WELCOME:
            assert_string_equal (got->welcome->broker_id, want->welcome->broker_id);
            assert_int_equal (got->welcome->heartbeat_ms, want->welcome->heartbeat_ms);
            assert_int_equal (got->welcome->n_jobs, want->welcome->n_jobs);
            for (size_t i = 0; i < want->welcome->n_jobs; i++)
                assert_string_equal (got->welcome->jobs [i], want->welcome->jobs [i]);
            break;
        case SLUICE__ENVELOPE__BODY_REFUSE:
            assert_string_equal (got->refuse->reason, want->refuse->reason);
            break;
        case SLUICE__ENVELOPE__BODY_TASKS:
            assert_string_equal (got->tasks->job, want->tasks->job);
            assert_int_equal (got->tasks->n_tasks, want->tasks->n_tasks);
            for (size_t i = 0; i < want->tasks->n_tasks; i++)
                s_expect_task (got->tasks->tasks [i], want->tasks->tasks [i]);
            break;
        case SLUICE__ENVELOPE__BODY_JOB_END:
            assert_string_equal (got->job_end->job, want->job_end->job);
            assert_int_equal (got->job_end->total, want->job_end->total);
            break;
        case SLUICE__ENVELOPE__BODY_RESULTS:
            assert_string_equal (got->results->job, want->results->job);
            assert_int_equal (got->results->n_results, want->results->n_results);
            for (size_t i = 0; i < want->results->n_results; i++)
                s_expect_result (got->results->results [i], want->results->results [i]);
            break;
        case SLUICE__ENVELOPE__BODY_ACK:
            assert_string_equal (got->ack->job, want->ack->job);
            assert_int_equal (got->ack->n_seqs, want->ack->n_seqs);
            assert_memory_equal (got->ack->seqs, want->ack->seqs,
                                 want->ack->n_seqs * sizeof (uint64_t));
            break;
        case SLUICE__ENVELOPE__BODY_JOB_DONE:
            assert_string_equal (got->job_done->job, want->job_done->job);
            assert_int_equal (got->job_done->total, want->job_done->total);
            assert_int_equal (got->job_done->ok, want->job_done->ok);
            assert_int_equal (got->job_done->failed, want->job_done->failed);
            assert_int_equal (got->job_done->timeout, want->job_done->timeout);
            break;
        case SLUICE__ENVELOPE__BODY_JOB_START:
            assert_string_equal (got->job_start->job, want->job_start->job);
            break;
        case SLUICE__ENVELOPE__BODY_JOB_QUERY:
            assert_string_equal (got->job_query->job, want->job_query->job);
            break;
        case SLUICE__ENVELOPE__BODY_JOB_STATE:
            assert_string_equal (got->job_state->job, want->job_state->job);
            assert_int_equal (got->job_state->received, want->job_state->received);
            assert_int_equal (got->job_state->total, want->job_state->total);
            assert_int_equal (got->job_state->finished, want->job_state->finished);
            break;
        case SLUICE__ENVELOPE__BODY_HEARTBEAT:
            assert_string_equal (got->heartbeat->broker_id, want->heartbeat->broker_id);
            assert_int_equal (got->heartbeat->running, want->heartbeat->running);
            break;
        case SLUICE__ENVELOPE__BODY_BYE:
            assert_non_null (got->bye);
            break;
        default:
            fail_msg ("no sample for body %d", (int) body);
    }
}

//  --- Round trips ----------------------------------------------------------------

static void test_proto_round_trips_every_body_over_push_pull (void **state)
{
    fixture_t *fx = *state;
    for (size_t i = 0; i < BODY_COUNT; i++) {
        sample_t sample;
        sl_env_t *env = s_sample (&sample, s_bodies [i]);
        assert_int_equal (sl_proto_send (fx->push, NULL, env, 0), 0);
        //  The version is set by the sender, not by the caller.
        assert_int_equal (env->version, SL_PROTOCOL_VERSION);
        sl_recv_t rc = s_recv (fx, fx->pull, false);
        if (rc != SL_RECV_OK)
            fail_msg ("%s: rc %d (%s)", sl_proto_body_name (env), (int) rc, fx->err);
        s_expect_sample (fx->env, s_bodies [i]);
    }
}

static void test_proto_round_trips_every_body_over_dealer_router (void **state)
{
    fixture_t *fx = *state;
    for (size_t i = 0; i < BODY_COUNT; i++) {
        sample_t sample;
        sl_env_t *env = s_sample (&sample, s_bodies [i]);
        assert_int_equal (sl_proto_send (fx->dealer, NULL, env, 0), 0);
        assert_int_equal (s_recv (fx, fx->router, true), SL_RECV_OK);
        s_expect_id (fx, DEALER_ID);
        s_expect_sample (fx->env, s_bodies [i]);
        //  And back, addressed by the routing id just received.
        zframe_t *id = fx->id;
        fx->id = NULL;
        int rc = sl_proto_send (fx->router, id, env, 0);
        zframe_destroy (&id);
        assert_int_equal (rc, 0);
        assert_int_equal (s_recv (fx, fx->dealer, false), SL_RECV_OK);
        assert_null (fx->id);
        s_expect_sample (fx->env, s_bodies [i]);
    }
}

//  Of two dealers, only the one whose routing id is used gets the reply.
static void test_proto_router_reply_reaches_its_dealer_only (void **state)
{
    fixture_t *fx = *state;
    fx->other = zsock_new (ZMQ_DEALER);
    assert_non_null (fx->other);
    zsock_set_identity (fx->other, "dealer-2");
    assert_int_equal (zsock_connect (fx->other, "%s", fx->control), 0);
    sample_t sample;
    assert_int_equal (
        sl_proto_send (fx->dealer, NULL, s_sample (&sample, SLUICE__ENVELOPE__BODY_HELLO), 0), 0);
    assert_int_equal (
        sl_proto_send (fx->other, NULL, s_sample (&sample, SLUICE__ENVELOPE__BODY_BYE), 0), 0);
    zframe_t *ids [2] = { NULL, NULL };
    for (int i = 0; i < 2; i++) {
        assert_int_equal (s_recv (fx, fx->router, true), SL_RECV_OK);
        int from_other = fx->env->body_case == SLUICE__ENVELOPE__BODY_BYE;
        s_expect_id (fx, from_other ? "dealer-2" : DEALER_ID);
        ids [from_other] = fx->id;
        fx->id = NULL;
    }
    assert_non_null (ids [0]);
    assert_non_null (ids [1]);
    int rc = sl_proto_send_refuse (fx->router, ids [1], "no room for dealer-2");
    zframe_destroy (&ids [0]);
    zframe_destroy (&ids [1]);
    assert_int_equal (rc, 0);
    assert_int_equal (s_recv (fx, fx->other, false), SL_RECV_OK);
    assert_int_equal (fx->env->body_case, SLUICE__ENVELOPE__BODY_REFUSE);
    assert_string_equal (fx->env->refuse->reason, "no room for dealer-2");
    zmq_pollitem_t item = { zsock_resolve (fx->dealer), 0, ZMQ_POLLIN, 0 };
    assert_int_equal (zmq_poll (&item, 1, 100), 0);
}

static void test_proto_recv_returns_none_when_nothing_waits (void **state)
{
    fixture_t *fx = *state;
    //  Whatever the outputs held before, they are cleared.
    sl_env_t dummy_env;
    sl_env_t *env = &dummy_env;
    assert_int_equal (sl_proto_recv (fx->pull, &env, NULL, fx->err, sizeof fx->err), SL_RECV_NONE);
    assert_null (env);
    env = &dummy_env;
    zframe_t *id = (zframe_t *) &dummy_env;
    assert_int_equal (sl_proto_recv (fx->router, &env, &id, fx->err, sizeof fx->err), SL_RECV_NONE);
    assert_null (env);
    assert_null (id);
}

//  --- Malformed messages -----------------------------------------------------------

static void test_proto_garbage_is_bad_and_next_message_reads (void **state)
{
    fixture_t *fx = *state;
    const uint8_t garbage [] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    s_send_raw (fx->push, garbage, sizeof garbage, 0);
    s_send_raw (fx->push, "not a sluice envelope", 21, 0);
    sample_t sample;
    assert_int_equal (
        sl_proto_send (fx->push, NULL, s_sample (&sample, SLUICE__ENVELOPE__BODY_ACK), 0), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal (s_recv (fx, fx->pull, false), SL_RECV_BAD);
        assert_null (fx->env);
        assert_true (strlen (fx->err) > 0);
    }
    assert_int_equal (s_recv (fx, fx->pull, false), SL_RECV_OK);
    s_expect_sample (fx->env, SLUICE__ENVELOPE__BODY_ACK);
}

//  The caller gets the routing id of a bad message, so it can answer.
static void test_proto_garbage_on_router_keeps_routing_id (void **state)
{
    fixture_t *fx = *state;
    const uint8_t garbage [] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    s_send_raw (fx->dealer, garbage, sizeof garbage, 0);
    assert_int_equal (s_recv (fx, fx->router, true), SL_RECV_BAD);
    assert_null (fx->env);
    assert_true (strlen (fx->err) > 0);
    s_expect_id (fx, DEALER_ID);
}

static void test_proto_empty_frame_is_bad (void **state)
{
    fixture_t *fx = *state;
    s_send_raw (fx->push, "", 0, 0);
    assert_int_equal (s_recv (fx, fx->pull, false), SL_RECV_BAD);
    assert_null (fx->env);
    assert_true (strlen (fx->err) > 0);
    s_send_raw (fx->dealer, "", 0, 0);
    assert_int_equal (s_recv (fx, fx->router, true), SL_RECV_BAD);
    assert_null (fx->env);
    assert_true (strlen (fx->err) > 0);
    s_expect_id (fx, DEALER_ID);
}

//  A well-formed hello of protocol version 99, packed by hand.
static size_t s_pack_version_99 (uint8_t *buffer, size_t cap)
{
    sample_t sample;
    sl_env_t *env = s_sample (&sample, SLUICE__ENVELOPE__BODY_HELLO);
    env->version = 99;
    return s_pack (env, buffer, cap);
}

static void test_proto_other_version_is_reported_with_both_versions (void **state)
{
    fixture_t *fx = *state;
    uint8_t buffer [256];
    size_t size = s_pack_version_99 (buffer, sizeof buffer);
    s_send_raw (fx->push, buffer, size, 0);
    assert_int_equal (s_recv (fx, fx->pull, false), SL_RECV_VERSION);
    assert_null (fx->env);
    if (!s_mentions_number (fx->err, 99) || !s_mentions_number (fx->err, SL_PROTOCOL_VERSION))
        fail_msg ("'%s' does not name both versions", fx->err);
    uint32_t version = 0;
    char err [256] = "";
    assert_null (sl_proto_decode (buffer, size, &version, err, sizeof err));
    assert_int_equal (version, 99);
    assert_string_equal (err, fx->err);
}

static void test_proto_other_version_on_router_can_be_refused (void **state)
{
    fixture_t *fx = *state;
    uint8_t buffer [256];
    s_send_raw (fx->dealer, buffer, s_pack_version_99 (buffer, sizeof buffer), 0);
    assert_int_equal (s_recv (fx, fx->router, true), SL_RECV_VERSION);
    s_expect_id (fx, DEALER_ID);
    char reason [256];
    snprintf (reason, sizeof reason, "%s", fx->err);
    assert_int_equal (sl_proto_send_refuse (fx->router, fx->id, reason), 0);
    assert_int_equal (s_recv (fx, fx->dealer, false), SL_RECV_OK);
    assert_int_equal (fx->env->body_case, SLUICE__ENVELOPE__BODY_REFUSE);
    assert_string_equal (fx->env->refuse->reason, reason);
}

static void test_proto_envelope_without_body_is_bad (void **state)
{
    fixture_t *fx = *state;
    uint8_t buffer [64];
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.version = SL_PROTOCOL_VERSION;
    size_t size = s_pack (&env, buffer, sizeof buffer);
    s_send_raw (fx->push, buffer, size, 0);
    //  Version 1 with field 100 (a body this program does not know).
    const uint8_t unknown [] = { 0x08, 0x01, 0xa2, 0x06, 0x02, 0x08, 0x01 };
    s_send_raw (fx->push, unknown, sizeof unknown, 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal (s_recv (fx, fx->pull, false), SL_RECV_BAD);
        assert_null (fx->env);
        assert_true (strlen (fx->err) > 0);
    }
    uint32_t version = 0;
    assert_null (sl_proto_decode (unknown, sizeof unknown, &version, fx->err, sizeof fx->err));
    assert_int_equal (version, SL_PROTOCOL_VERSION);
}

//  Field number 0 is invalid; protobuf-c keeps it as an unknown field when
//  its tag takes two bytes, but cannot read it back once re-encoded (as the
//  broker's journal would): refused, at any depth.
static void test_proto_field_zero_is_refused (void **state)
{
    (void) state;
    //  Version 1, a TaskBatch for job-a with one task (seq 1, "echo") that
    //  carries field 0; found by fuzzing.
    const uint8_t inner [] = { 0x08, 0x01, 0x2a, 0x14, 0x0a, 0x05, 0x6a, 0x6f,
                               0x62, 0x2d, 0x61, 0x12, 0x0b, 0x08, 0x01, 0x12,
                               0x04, 0x65, 0x63, 0x68, 0x6f, 0x82, 0x00, 0x00 };
    //  The same field 0 at the top level.
    const uint8_t top [] = { 0x82, 0x00, 0x00, 0x82, 0x01, 0x00, 0x08, 0x01 };
    char err [256] = "";
    uint32_t version = 0;
    assert_null (sl_proto_decode (inner, sizeof inner, &version, err, sizeof err));
    assert_non_null (strstr (err, "field number 0"));
    err [0] = '\0';
    assert_null (sl_proto_decode (top, sizeof top, &version, err, sizeof err));
    assert_non_null (strstr (err, "field number 0"));
    //  Without the field the same task batch is fine.
    const uint8_t good [] = { 0x08, 0x01, 0x2a, 0x11, 0x0a, 0x05, 0x6a, 0x6f, 0x62, 0x2d, 0x61,
                              0x12, 0x08, 0x08, 0x01, 0x12, 0x04, 0x65, 0x63, 0x68, 0x6f };
    sl_env_t *env = sl_proto_decode (good, sizeof good, &version, err, sizeof err);
    assert_non_null (env);
    assert_int_equal (env->tasks->n_tasks, 1);
    sl_proto_free (&env);
}

//  A message of several frames is dropped whole: the next one reads fine.
static void test_proto_extra_frames_are_drained_on_pull (void **state)
{
    fixture_t *fx = *state;
    uint8_t buffer [256];
    sample_t sample;
    sl_env_t *env = s_sample (&sample, SLUICE__ENVELOPE__BODY_HELLO);
    env->version = SL_PROTOCOL_VERSION;
    size_t size = s_pack (env, buffer, sizeof buffer);
    s_send_raw (fx->push, buffer, size, ZMQ_SNDMORE);
    s_send_raw (fx->push, "extra", 5, ZMQ_SNDMORE);
    s_send_raw (fx->push, buffer, size, 0);
    s_send_raw (fx->push, "\xff\xff\xff\xff\xff\xff", 6, ZMQ_SNDMORE);
    s_send_raw (fx->push, "extra", 5, 0);
    assert_int_equal (
        sl_proto_send (fx->push, NULL, s_sample (&sample, SLUICE__ENVELOPE__BODY_JOB_END), 0), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal (s_recv (fx, fx->pull, false), SL_RECV_BAD);
        assert_null (fx->env);
        assert_true (strlen (fx->err) > 0);
    }
    assert_int_equal (s_recv (fx, fx->pull, false), SL_RECV_OK);
    s_expect_sample (fx->env, SLUICE__ENVELOPE__BODY_JOB_END);
}

static void test_proto_extra_frames_are_drained_on_router (void **state)
{
    fixture_t *fx = *state;
    sample_t sample;
    sl_env_t *env = s_sample (&sample, SLUICE__ENVELOPE__BODY_HEARTBEAT);
    env->version = SL_PROTOCOL_VERSION;
    uint8_t buffer [256];
    size_t size = s_pack (env, buffer, sizeof buffer);
    s_send_raw (fx->dealer, buffer, size, ZMQ_SNDMORE);
    s_send_raw (fx->dealer, buffer, size, ZMQ_SNDMORE);
    s_send_raw (fx->dealer, "extra", 5, 0);
    assert_int_equal (sl_proto_send (fx->dealer, NULL, env, 0), 0);
    assert_int_equal (s_recv (fx, fx->router, true), SL_RECV_BAD);
    assert_null (fx->env);
    assert_true (strlen (fx->err) > 0);
    s_expect_id (fx, DEALER_ID);
    assert_int_equal (s_recv (fx, fx->router, true), SL_RECV_OK);
    s_expect_id (fx, DEALER_ID);
    s_expect_sample (fx->env, SLUICE__ENVELOPE__BODY_HEARTBEAT);
}

//  Every prefix of a valid message decodes to NULL with a reason, or to a
//  valid envelope; never a crash (the sanitizer build checks the reads).
static void test_proto_decode_survives_every_truncation (void **state)
{
    (void) state;
    Sluice__Envelope__BodyCase bodies [] = { SLUICE__ENVELOPE__BODY_HELLO,
                                             SLUICE__ENVELOPE__BODY_TASKS,
                                             SLUICE__ENVELOPE__BODY_RESULTS };
    for (size_t b = 0; b < sizeof bodies / sizeof bodies [0]; b++) {
        sample_t sample;
        sl_env_t *env = s_sample (&sample, bodies [b]);
        env->version = SL_PROTOCOL_VERSION;
        uint8_t packed [512];
        size_t size = s_pack (env, packed, sizeof packed);
        for (size_t len = 0; len <= size; len++) {
            //  A copy of exactly len bytes, so a read past it is caught.
            uint8_t *prefix = malloc (len ? len : 1);
            assert_non_null (prefix);
            memcpy (prefix, packed, len);
            char err [256] = "";
            uint32_t version = 12345;
            sl_env_t *got = sl_proto_decode (prefix, len, &version, err, sizeof err);
            free (prefix);
            if (got) {
                assert_int_equal (got->version, SL_PROTOCOL_VERSION);
                assert_int_equal (version, SL_PROTOCOL_VERSION);
                assert_true (got->body_case != SLUICE__ENVELOPE__BODY__NOT_SET);
                if (len == size)
                    s_expect_sample (got, bodies [b]);
                sl_proto_free (&got);
                assert_null (got);
            } else {
                assert_true (len < size);
                assert_true (strlen (err) > 0);
                assert_true (version == 0 || version == SL_PROTOCOL_VERSION);
            }
        }
    }
}

//  --- Decoding into an arena ----------------------------------------------------

//  Packs env with protobuf-c into a buffer of its own, decodes that with
//  sl_proto_decode and frees the buffer, so nothing decoded can point into
//  the wire bytes. The caller frees the result.
static sl_env_t *s_decode_copy (sl_env_t *env)
{
    env->version = SL_PROTOCOL_VERSION;
    size_t size = sluice__envelope__get_packed_size (env);
    uint8_t *packed = malloc (size);
    assert_non_null (packed);
    assert_int_equal (sluice__envelope__pack (env, packed), size);
    char err [256] = "";
    sl_env_t *got = sl_proto_decode (packed, size, NULL, err, sizeof err);
    free (packed);
    if (!got)
        fail_msg ("decode failed: %s", err);
    return got;
}

//  The broker's everyday messages (64 tasks or results of ~100 bytes, an
//  ack of 64 seqs) decode whole into the one block their frame's size asks
//  for: one malloc per message, not one per field.
static void test_proto_decoded_batches_take_one_block (void **state)
{
    (void) state;
    enum { N = 64, PAYLOAD = 98 };
    static uint8_t payload [N][PAYLOAD];
    static Sluice__Task task [N];
    static Sluice__Task *tasks [N];
    static Sluice__Result result [N];
    static Sluice__Result *results [N];
    static uint64_t seqs [N];
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < PAYLOAD; k++)
            payload [i][k] = (uint8_t) (i * 31 + k);
        task [i] = (Sluice__Task) SLUICE__TASK__INIT;
        task [i].seq = 1000000 + (uint64_t) i;
        task [i].attempt = 1;
        task [i].payload.data = payload [i];
        task [i].payload.len = PAYLOAD;
        tasks [i] = &task [i];
        result [i] = (Sluice__Result) SLUICE__RESULT__INIT;
        result [i].seq = task [i].seq;
        result [i].status = SLUICE__STATUS__STATUS_OK;
        result [i].output.data = payload [i];
        result [i].output.len = PAYLOAD;
        result [i].worker = "worker-host.example:123456";
        result [i].duration_ms = 3;
        result [i].attempt = 1;
        results [i] = &result [i];
        seqs [i] = task [i].seq;
    }
    for (size_t n = 1; n <= N; n += N - 1) {
        Sluice__TaskBatch batch = SLUICE__TASK_BATCH__INIT;
        batch.job = "job-0123456789";
        batch.n_tasks = n;
        batch.tasks = tasks;
        sl_env_t env = SLUICE__ENVELOPE__INIT;
        env.body_case = SLUICE__ENVELOPE__BODY_TASKS;
        env.tasks = &batch;
        sl_env_t *got = s_decode_copy (&env);
        assert_int_equal (sl_proto_blocks (got), 1);
        assert_string_equal (got->tasks->job, batch.job);
        assert_int_equal (got->tasks->n_tasks, n);
        for (size_t i = 0; i < n; i++)
            s_expect_task (got->tasks->tasks [i], &task [i]);
        sl_proto_free (&got);

        Sluice__ResultBatch rbatch = SLUICE__RESULT_BATCH__INIT;
        rbatch.job = batch.job;
        rbatch.n_results = n;
        rbatch.results = results;
        env.body_case = SLUICE__ENVELOPE__BODY_RESULTS;
        env.results = &rbatch;
        got = s_decode_copy (&env);
        assert_int_equal (sl_proto_blocks (got), 1);
        assert_int_equal (got->results->n_results, n);
        for (size_t i = 0; i < n; i++)
            s_expect_result (got->results->results [i], &result [i]);
        sl_proto_free (&got);

        Sluice__Ack ack = SLUICE__ACK__INIT;
        ack.job = batch.job;
        ack.n_seqs = n;
        ack.seqs = seqs;
        env.body_case = SLUICE__ENVELOPE__BODY_ACK;
        env.ack = &ack;
        got = s_decode_copy (&env);
        assert_int_equal (sl_proto_blocks (got), 1);
        assert_int_equal (got->ack->n_seqs, n);
        assert_memory_equal (got->ack->seqs, seqs, n * sizeof seqs [0]);
        sl_proto_free (&got);
    }
}

//  A message that decodes to many times its frame (empty tasks take 2
//  bytes on the wire and a struct each; an ack's seqs 1 byte and 8) gets
//  more blocks, a few, each at least twice the last, and decodes whole.
static void test_proto_decode_grows_its_arena_when_a_message_expands (void **state)
{
    (void) state;
    enum { EMPTY = 20000, SEQS = 100000 };
    Sluice__Task empty = SLUICE__TASK__INIT;
    Sluice__Task **tasks = malloc (EMPTY * sizeof *tasks);
    uint64_t *seqs = malloc (SEQS * sizeof *seqs);
    assert_non_null (tasks);
    assert_non_null (seqs);
    for (size_t i = 0; i < EMPTY; i++)
        tasks [i] = &empty;
    for (size_t i = 0; i < SEQS; i++)
        seqs [i] = i % 100;

    Sluice__TaskBatch batch = SLUICE__TASK_BATCH__INIT;
    batch.job = "dense";
    batch.n_tasks = EMPTY;
    batch.tasks = tasks;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_TASKS;
    env.tasks = &batch;
    sl_env_t *got = s_decode_copy (&env);
    size_t blocks = sl_proto_blocks (got);
    assert_true (blocks > 1);
    assert_true (blocks <= 8);
    assert_string_equal (got->tasks->job, "dense");
    assert_int_equal (got->tasks->n_tasks, EMPTY);
    for (size_t i = 0; i < EMPTY; i++)
        s_expect_task (got->tasks->tasks [i], &empty);
    sl_proto_free (&got);

    Sluice__Ack ack = SLUICE__ACK__INIT;
    ack.job = "dense";
    ack.n_seqs = SEQS;
    ack.seqs = seqs;
    env.body_case = SLUICE__ENVELOPE__BODY_ACK;
    env.ack = &ack;
    got = s_decode_copy (&env);
    blocks = sl_proto_blocks (got);
    assert_true (blocks > 1);
    assert_true (blocks <= 8);
    assert_int_equal (got->ack->n_seqs, SEQS);
    assert_memory_equal (got->ack->seqs, seqs, SEQS * sizeof seqs [0]);
    sl_proto_free (&got);
    free (tasks);
    free (seqs);
}

//  What the arena decodes is what protobuf-c's own allocator decodes: on
//  mutations of every sample (bytes changed, dropped, duplicated), an
//  envelope sl_proto_decode accepts is one protobuf-c reads too, and both
//  pack to the same bytes; what protobuf-c cannot read is refused.
static void test_proto_arena_decodes_as_protobuf_c_does (void **state)
{
    (void) state;
    uint32_t x = 2463534242u; //  xorshift32
#define NEXT() (x ^= x << 13, x ^= x >> 17, x ^= x << 5, x)
    size_t accepted = 0;
    for (size_t b = 0; b < BODY_COUNT; b++) {
        sample_t sample;
        sl_env_t *env = s_sample (&sample, s_bodies [b]);
        env->version = SL_PROTOCOL_VERSION;
        uint8_t packed [512];
        size_t size = s_pack (env, packed, sizeof packed);
        for (int round = 0; round < 2000; round++) {
            uint8_t input [1024];
            size_t len = size;
            memcpy (input, packed, size);
            for (int edits = 1 + NEXT () % 3; edits > 0 && len; edits--) {
                size_t at = NEXT () % len;
                uint32_t kind = NEXT () % 4;
                if (kind == 0)
                    input [at] = (uint8_t) NEXT ();
                else if (kind == 1)
                    input [at] ^= (uint8_t) (1u << (NEXT () % 8));
                else if (kind == 2) {
                    memmove (input + at, input + at + 1, len - at - 1);
                    len--;
                } else if (len < sizeof input) {
                    memmove (input + at + 1, input + at, len - at);
                    len++;
                }
            }
            char err [256] = "";
            sl_env_t *got = sl_proto_decode (input, len, NULL, err, sizeof err);
            Sluice__Envelope *raw = len ? sluice__envelope__unpack (NULL, len, input) : NULL;
            if (!raw)
                assert_null (got);
            if (got) {
                accepted++;
                uint8_t a [1024], r [1024];
                size_t na = s_pack (got, a, sizeof a);
                size_t nr = s_pack (raw, r, sizeof r);
                assert_int_equal (na, nr);
                assert_memory_equal (a, r, na);
                sl_proto_free (&got);
            }
            if (raw)
                sluice__envelope__free_unpacked (raw, NULL);
        }
    }
#undef NEXT
    //  The mutations leave many envelopes readable: the comparison ran.
    assert_true (accepted > BODY_COUNT * 100);
}

//  --- Sending ----------------------------------------------------------------------

static void test_proto_send_reports_would_block (void **state)
{
    fixture_t *fx = *state;
    fx->other = zsock_new (ZMQ_PUSH); //  connected to nothing
    assert_non_null (fx->other);
    sample_t sample;
    errno = 0;
    assert_int_equal (sl_proto_send (fx->other, NULL,
                                     s_sample (&sample, SLUICE__ENVELOPE__BODY_BYE), ZMQ_DONTWAIT),
                      -1);
    assert_int_equal (errno, EAGAIN);
}

static void test_proto_send_reports_gone_router_peer (void **state)
{
    fixture_t *fx = *state;
    zsock_set_router_mandatory (fx->router, 1);
    zframe_t *id = zframe_new ("nobody", 6);
    assert_non_null (id);
    errno = 0;
    int rc = sl_proto_send_refuse (fx->router, id, "who?");
    int saved = errno;
    zframe_destroy (&id);
    assert_int_equal (rc, -1);
    assert_int_equal (saved, EHOSTUNREACH);
}

static void test_proto_names_every_body (void **state)
{
    (void) state;
    const char *names [] = { "hello",     "welcome",   "refuse",   "tasks",     "job-end",
                             "results",   "ack",       "job-done", "job-start", "job-query",
                             "job-state", "heartbeat", "bye" };
    assert_int_equal (sizeof names / sizeof names [0], BODY_COUNT);
    for (size_t i = 0; i < BODY_COUNT; i++) {
        sample_t sample;
        assert_string_equal (sl_proto_body_name (s_sample (&sample, s_bodies [i])), names [i]);
    }
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    assert_string_equal (sl_proto_body_name (&env), "unknown");
}

//  --- Endpoints --------------------------------------------------------------------

static void s_expect_derived (const char *base, sl_port_t port, const char *want)
{
    char out [300] = "";
    char err [300] = "";
    if (sl_endpoint_derive (base, port, out, sizeof out, err, sizeof err) != 0)
        fail_msg ("%s: %s", base, err);
    assert_string_equal (out, want);
}

static void test_proto_endpoint_derives_consecutive_ports (void **state)
{
    (void) state;
    const char *bases [] = { "tcp://127.0.0.1:5560", "tcp://*:5560", "tcp://[::1]:5560",
                             "tcp://broker.example.com:1", "tcp://h:65531" };
    for (size_t i = 0; i < sizeof bases / sizeof bases [0]; i++) {
        char err [300] = "";
        if (sl_endpoint_check (bases [i], err, sizeof err) != 0)
            fail_msg ("%s: %s", bases [i], err);
    }
    s_expect_derived ("tcp://127.0.0.1:5560", SL_PORT_CONTROL, "tcp://127.0.0.1:5560");
    s_expect_derived ("tcp://127.0.0.1:5560", SL_PORT_INTAKE, "tcp://127.0.0.1:5561");
    s_expect_derived ("tcp://127.0.0.1:5560", SL_PORT_DISPATCH, "tcp://127.0.0.1:5562");
    s_expect_derived ("tcp://127.0.0.1:5560", SL_PORT_RESULTS, "tcp://127.0.0.1:5563");
    s_expect_derived ("tcp://127.0.0.1:5560", SL_PORT_DELIVERY, "tcp://127.0.0.1:5564");
    s_expect_derived ("tcp://*:5560", SL_PORT_DISPATCH, "tcp://*:5562");
    s_expect_derived ("tcp://[::1]:5560", SL_PORT_CONTROL, "tcp://[::1]:5560");
    s_expect_derived ("tcp://[::1]:5560", SL_PORT_DELIVERY, "tcp://[::1]:5564");
    s_expect_derived ("tcp://broker.example.com:1", SL_PORT_RESULTS, "tcp://broker.example.com:4");
    s_expect_derived ("tcp://h:65531", SL_PORT_DELIVERY, "tcp://h:65535");
    s_expect_derived (SL_DEFAULT_BROKER, SL_PORT_INTAKE, "tcp://127.0.0.1:5561");
    s_expect_derived (SL_DEFAULT_BIND, SL_PORT_DELIVERY, "tcp://127.0.0.1:5564");
}

//  Whether a bind reaches beyond this host decides whether the broker
//  needs its join token: only loopback addresses do not.
static void test_proto_endpoint_tells_loopback (void **state)
{
    (void) state;
    assert_true (sl_endpoint_loopback (SL_DEFAULT_BIND));
    assert_true (sl_endpoint_loopback ("tcp://127.0.0.1:5560"));
    assert_true (sl_endpoint_loopback ("tcp://127.3.2.1:5560"));
    assert_true (sl_endpoint_loopback ("tcp://localhost:5560"));
    assert_true (sl_endpoint_loopback ("tcp://[::1]:5560"));
    const char *beyond [] = { "tcp://*:5560",           "tcp://0.0.0.0:5560",
                              "tcp://10.0.0.5:5560",    "tcp://eth0:5560",
                              "tcp://[::]:5560",        "tcp://128.0.0.1:5560",
                              "tcp://127.0.0.1.x:5560", "tcp://127.evil:5560",
                              "tcp://lo;10.0.0.5:5560", "tcp://127.0.0.1;10.0.0.5:5560",
                              "not an endpoint" };
    for (size_t i = 0; i < sizeof beyond / sizeof beyond [0]; i++)
        if (sl_endpoint_loopback (beyond [i]))
            fail_msg ("%s taken for loopback", beyond [i]);
}

static void test_proto_endpoint_rejects_bad_endpoints (void **state)
{
    (void) state;
    const char *bad [] = {
        "",
        "127.0.0.1:5560",
        "udp://h:5560",
        "tcp:/h:5560",
        "tcp://h",
        "tcp://h:",
        "tcp://:5560",
        "tcp://h:0",
        "tcp://h:65535",
        "tcp://h:65532",
        "tcp://h:-1",
        "tcp://h:55x",
        "tcp://h:5560 x",
        "tcp://[::1]",
        "tcp://[::1]:",
        "tcp://h:99999999999999999999",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        char err [300] = "";
        char out [300] = "unchanged";
        if (sl_endpoint_check (bad [i], err, sizeof err) != -1)
            fail_msg ("'%s' was accepted", bad [i]);
        //  The message names the endpoint.
        assert_non_null (strstr (err, bad [i]));
        err [0] = '\0';
        assert_int_equal (
            sl_endpoint_derive (bad [i], SL_PORT_INTAKE, out, sizeof out, err, sizeof err), -1);
        assert_non_null (strstr (err, bad [i]));
        assert_true (strlen (err) > strlen (bad [i]));
    }
}

static void test_proto_endpoint_reports_output_too_small (void **state)
{
    (void) state;
    //  "tcp://127.0.0.1:5561" needs 21 bytes with its NUL.
    char out [21];
    char err [300] = "";
    assert_int_equal (
        sl_endpoint_derive ("tcp://127.0.0.1:5560", SL_PORT_INTAKE, out, 20, err, sizeof err), -1);
    assert_non_null (strstr (err, "tcp://127.0.0.1:5560"));
    assert_int_equal (sl_endpoint_derive ("tcp://127.0.0.1:5560", SL_PORT_INTAKE, out, sizeof out,
                                          err, sizeof err),
                      0);
    assert_string_equal (out, "tcp://127.0.0.1:5561");
}

//  Every body of the Envelope (every member of its oneof) has a name for
//  log lines: a body added to proto/ must be added to sl_proto_body_name.
static void test_proto_every_body_has_a_name (void **state)
{
    (void) state;
    const ProtobufCMessageDescriptor *desc = &sluice__envelope__descriptor;
    size_t bodies = 0;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = &desc->fields [i];
        if (field->quantifier_offset == 0 || strcmp (field->name, "version") == 0)
            continue; //  not a member of the body oneof
        sl_env_t env = SLUICE__ENVELOPE__INIT;
        env.body_case = (Sluice__Envelope__BodyCase) field->id;
        const char *name = sl_proto_body_name (&env);
        if (strcmp (name, "unknown") == 0) {
            print_error ("body %s (field %u) has no name\n", field->name, field->id);
            fail ();
        }
        bodies++;
    }
    assert_int_equal (bodies, desc->n_fields - 1); //  all but the version
}

int main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_proto_every_body_has_a_name),
        cmocka_unit_test_setup_teardown (test_proto_round_trips_every_body_over_push_pull, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_proto_round_trips_every_body_over_dealer_router,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_proto_router_reply_reaches_its_dealer_only, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_proto_recv_returns_none_when_nothing_waits, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_proto_garbage_is_bad_and_next_message_reads, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_proto_garbage_on_router_keeps_routing_id, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_proto_empty_frame_is_bad, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_proto_other_version_is_reported_with_both_versions,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_proto_other_version_on_router_can_be_refused, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_proto_envelope_without_body_is_bad, s_setup,
                                         s_teardown),
        cmocka_unit_test (test_proto_field_zero_is_refused),
        cmocka_unit_test_setup_teardown (test_proto_extra_frames_are_drained_on_pull, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_proto_extra_frames_are_drained_on_router, s_setup,
                                         s_teardown),
        cmocka_unit_test (test_proto_decode_survives_every_truncation),
        cmocka_unit_test (test_proto_decoded_batches_take_one_block),
        cmocka_unit_test (test_proto_decode_grows_its_arena_when_a_message_expands),
        cmocka_unit_test (test_proto_arena_decodes_as_protobuf_c_does),
        cmocka_unit_test_setup_teardown (test_proto_send_reports_would_block, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_proto_send_reports_gone_router_peer, s_setup,
                                         s_teardown),
        cmocka_unit_test (test_proto_names_every_body),
        cmocka_unit_test (test_proto_endpoint_derives_consecutive_ports),
        cmocka_unit_test (test_proto_endpoint_rejects_bad_endpoints),
        cmocka_unit_test (test_proto_endpoint_tells_loopback),
        cmocka_unit_test (test_proto_endpoint_reports_output_too_small),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
