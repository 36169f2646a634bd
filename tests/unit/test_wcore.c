/*  test_wcore - the worker core (lib/sl_wcore.c) without sockets: events
    in, frames and executor calls out. The executor is a fake that records
    what it was asked to start and stop and reports what a test finishes.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <czmq.h>

#include "sl_proto.h"
#include "sl_wcore.h"

#define MAX_FAKE 64

//  --- A fake executor -----------------------------------------------------------

typedef struct {
    uint64_t started [MAX_FAKE]; //  tags, in order
    char started_job [MAX_FAKE][72];
    uint64_t started_seq [MAX_FAKE];
    size_t nfiles [MAX_FAKE];
    char file0 [MAX_FAKE][256]; //  path of the first attachment
    size_t nstarted;
    uint64_t stopped [MAX_FAKE]; //  tags asked to stop
    size_t nstopped;
    sl_wexec_done_t *finished [MAX_FAKE]; //  reported at the next `finished`
    size_t nfinished;
    bool fail_start; //  start returns -1
} fake_t;

static int s_fake_start (void *self, const sl_wexec_task_t *task, int64_t now)
{
    (void) now;
    fake_t *fake = (fake_t *) self;
    if (fake->fail_start)
        return -1;
    assert_true (fake->nstarted < MAX_FAKE);
    assert_int_equal (task->payload [task->size], '\0');
    size_t i = fake->nstarted++;
    fake->started [i] = task->tag;
    snprintf (fake->started_job [i], 72, "%s", task->job);
    fake->started_seq [i] = task->seq;
    fake->nfiles [i] = task->nfiles;
    if (task->nfiles)
        snprintf (fake->file0 [i], 256, "%s", task->files [0].path);
    return 0;
}

static void s_fake_stop (void *self, uint64_t tag, int64_t now)
{
    (void) now;
    fake_t *fake = (fake_t *) self;
    fake->stopped [fake->nstopped++] = tag;
}

static size_t s_fake_pollitems (void *self, zmq_pollitem_t *items, size_t max)
{
    (void) self, (void) items, (void) max;
    return 0;
}

static void s_fake_handle (void *self, zmq_pollitem_t *items, size_t count, int64_t now)
{
    (void) self, (void) items, (void) count, (void) now;
}

static int64_t s_fake_next_timer (void *self)
{
    (void) self;
    return -1;
}

static sl_wexec_done_t *s_fake_finished (void *self)
{
    fake_t *fake = (fake_t *) self;
    if (!fake->nfinished)
        return NULL;
    sl_wexec_done_t *done = fake->finished [0];
    memmove (fake->finished, fake->finished + 1, --fake->nfinished * sizeof *fake->finished);
    return done;
}

static void s_fake_done_free (void *self, sl_wexec_done_t *done)
{
    (void) self;
    free (done->output);
    free (done);
}

static void s_fake_shutdown (void *self)
{
    (void) self;
}

//  The task started i-th finishes with status and output.
static void s_finish (fake_t *fake, size_t i, int status, const char *output)
{
    sl_wexec_done_t *done = calloc (1, sizeof *done);
    done->tag = fake->started [i];
    done->status = status;
    done->exit_code = status == SL_WEXEC_OK ? 0 : 1;
    done->output = (uint8_t *) strdup (output);
    done->output_size = strlen (output);
    done->duration_ms = 5;
    fake->finished [fake->nfinished++] = done;
}

//  --- Fixture ---------------------------------------------------------------------

typedef struct {
    fake_t fake;
    sl_wexec_t exec;
    sl_wcore_t *core;
    sl_wattach_t *attach;
    char dir [256];
    uint64_t dealt; //  tasks the "broker" sent, as its batches say
} fixture_t;

static int s_setup_with (void **state, uint32_t slots, bool attachments)
{
    fixture_t *fx = calloc (1, sizeof *fx);
    fx->exec = (sl_wexec_t){ .self = &fx->fake,
                             .start = s_fake_start,
                             .stop = s_fake_stop,
                             .pollitems = s_fake_pollitems,
                             .handle = s_fake_handle,
                             .next_timer = s_fake_next_timer,
                             .finished = s_fake_finished,
                             .done_free = s_fake_done_free,
                             .shutdown = s_fake_shutdown };
    if (attachments) {
        snprintf (fx->dir, sizeof fx->dir, "/tmp/test_wcore.XXXXXX");
        assert_non_null (mkdtemp (fx->dir));
        fx->attach = sl_wattach_new (fx->dir, 1 << 20);
        assert_non_null (fx->attach);
    }
    sl_wcore_config_t config = {
        .name = "host:1", .slots = slots, .prefetch = 0, .drain_timeout_ms = 1000
    };
    fx->core = sl_wcore_new (&config, &fx->exec, fx->attach);
    assert_non_null (fx->core);
    *state = fx;
    return 0;
}

static int s_setup (void **state)
{
    return s_setup_with (state, 2, false);
}

static int s_setup_attach (void **state)
{
    return s_setup_with (state, 2, true);
}

static int s_teardown (void **state)
{
    fixture_t *fx = (fixture_t *) *state;
    sl_wcore_destroy (&fx->core);
    sl_wattach_destroy (&fx->attach);
    while (fx->fake.nfinished)
        s_fake_done_free (NULL, fx->fake.finished [--fx->fake.nfinished]);
    if (fx->dir [0]) {
        char cmd [300];
        snprintf (cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
        assert_int_equal (system (cmd), 0);
    }
    free (fx);
    return 0;
}

//  --- Helpers -------------------------------------------------------------------------

//  Feeds a batch of n tasks of job, seqs first.., attempt 1, payload "p<seq>".
static void s_tasks (fixture_t *fx, const char *job, uint64_t first, size_t n,
                     Sluice__Attachment *attachment)
{
    Sluice__Task tasks [MAX_FAKE], *ptrs [MAX_FAKE];
    char payloads [MAX_FAKE][16];
    for (size_t i = 0; i < n; i++) {
        Sluice__Task init = SLUICE__TASK__INIT;
        tasks [i] = init;
        tasks [i].seq = first + i;
        tasks [i].attempt = 1;
        tasks [i].stage = 2;
        snprintf (payloads [i], 16, "p%llu", (unsigned long long) (first + i));
        tasks [i].payload.data = (uint8_t *) payloads [i];
        tasks [i].payload.len = strlen (payloads [i]);
        ptrs [i] = &tasks [i];
    }
    Sluice__TaskBatch batch = SLUICE__TASK_BATCH__INIT;
    batch.job = (char *) job;
    batch.tasks = ptrs;
    batch.n_tasks = n;
    batch.dealt = fx->dealt += n;
    if (attachment) {
        batch.attachments = &attachment;
        batch.n_attachments = 1;
    }
    sl_wcore_tasks (fx->core, &batch, 0);
}

//  The next control message, decoded (caller frees), or NULL.
static sl_env_t *s_control (fixture_t *fx, bool *heartbeat)
{
    bool hb = false;
    zframe_t *frame = sl_wcore_control_next (fx->core, &hb);
    if (!frame)
        return NULL;
    char err [256];
    sl_env_t *env =
        sl_proto_decode (zframe_data (frame), zframe_size (frame), NULL, err, sizeof err);
    zframe_destroy (&frame);
    assert_non_null (env);
    if (heartbeat)
        *heartbeat = hb;
    return env;
}

//  The next control message must be of kind body; returns it decoded.
static sl_env_t *s_expect (fixture_t *fx, Sluice__Envelope__BodyCase body)
{
    bool hb;
    sl_env_t *env = s_control (fx, &hb);
    assert_non_null (env);
    assert_int_equal (env->body_case, body);
    assert_int_equal (hb, body == SLUICE__ENVELOPE__BODY_HEARTBEAT);
    return env;
}

static void s_expect_none (fixture_t *fx)
{
    sl_env_t *env = s_control (fx, NULL);
    if (env)
        fail_msg ("unexpected %s message", sl_proto_body_name (env));
}

//  Expects a credit of amount (absolute or not) and marks it sent. An
//  absolute one names the last batch received, by its `dealt`.
static void s_expect_credit (fixture_t *fx, uint32_t amount, bool absolute)
{
    Sluice__Credit credit;
    assert_true (sl_wcore_credit (fx->core, &credit));
    assert_int_equal (credit.credit, amount);
    assert_int_equal (credit.absolute, absolute);
    assert_int_equal (credit.counted, absolute);
    assert_int_equal (credit.received, fx->dealt);
    sl_wcore_credit_sent (fx->core);
}

//  The next result batch, decoded (caller frees), taken as sent.
static sl_env_t *s_result (fixture_t *fx)
{
    zframe_t *frame = sl_wcore_result_peek (fx->core);
    if (!frame)
        return NULL;
    char err [256];
    sl_env_t *env =
        sl_proto_decode (zframe_data (frame), zframe_size (frame), NULL, err, sizeof err);
    assert_non_null (env);
    assert_int_equal (env->body_case, SLUICE__ENVELOPE__BODY_RESULTS);
    sl_wcore_result_sent (fx->core);
    return env;
}

//  Welcomed in fair mode, initial credit taken.
static void s_connected (fixture_t *fx)
{
    sl_wcore_welcome (fx->core, true, 0);
    s_expect_credit (fx, 2, true);
    s_expect_none (fx);
}

//  --- Tests ----------------------------------------------------------------------------

static void test_wcore_first_welcome_asks_for_the_slots (void **state)
{
    fixture_t *fx = (fixture_t *) *state;
    Sluice__Credit credit;
    assert_false (sl_wcore_credit (fx->core, &credit)); //  not welcomed: no dispatch socket
    sl_wcore_welcome (fx->core, true, 0);
    s_expect_credit (fx, 2, true);
    assert_false (sl_wcore_credit (fx->core, &credit));
    s_expect_none (fx); //  nothing held: no claim
}

static void test_wcore_push_mode_sends_no_credit (void **state)
{
    fixture_t *fx = (fixture_t *) *state;
    sl_wcore_welcome (fx->core, false, 0);
    Sluice__Credit credit;
    assert_false (sl_wcore_credit (fx->core, &credit));
}

static void test_wcore_tasks_start_up_to_the_slots (void **state)
{
    fixture_t *fx = (fixture_t *) *state;
    s_connected (fx);
    s_tasks (fx, "j1", 1, 3, NULL);
    sl_wcore_step (fx->core, 0);
    assert_int_equal (fx->fake.nstarted, 2);
    assert_int_equal (fx->fake.started_seq [0], 1);
    assert_int_equal (fx->fake.started_seq [1], 2);
    assert_int_equal (sl_wcore_task_state (fx->core, "j1", 1), SL_WTASK_RUNNING);
    assert_int_equal (sl_wcore_task_state (fx->core, "j1", 3), SL_WTASK_WAITING);
    assert_int_equal (sl_wcore_running (fx->core), 2);
    assert_int_equal (sl_wcore_waiting (fx->core), 1);
}

static void test_wcore_heartbeat_claims_each_task_once (void **state)
{
    fixture_t *fx = (fixture_t *) *state;
    s_connected (fx);
    s_tasks (fx, "j1", 1, 3, NULL);
    sl_wcore_step (fx->core, 0);
    sl_wcore_heartbeat (fx->core, 10);
    sl_env_t *env = s_expect (fx, SLUICE__ENVELOPE__BODY_HEARTBEAT);
    assert_int_equal (env->heartbeat->running, 2);
    assert_int_equal (env->heartbeat->n_held, 3);
    size_t waiting = 0;
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal (env->heartbeat->held [i]->job, "j1");
        assert_int_equal (env->heartbeat->held [i]->attempt, 1);
        waiting += env->heartbeat->held [i]->waiting;
    }
    assert_int_equal (waiting, 1);
    sl_proto_free (&env);
    //  The next one claims nothing new.
    sl_wcore_heartbeat (fx->core, 20);
    env = s_expect (fx, SLUICE__ENVELOPE__BODY_HEARTBEAT);
    assert_int_equal (env->heartbeat->n_held, 0);
    sl_proto_free (&env);
}

static void test_wcore_task_claimed_waiting_is_claimed_again_when_it_starts (void **state)
{
    fixture_t *fx = (fixture_t *) *state;
    s_connected (fx);
    s_tasks (fx, "j1", 1, 3, NULL);
    sl_wcore_step (fx->core, 0);
    sl_wcore_heartbeat (fx->core, 10);
    sl_env_t *env = s_expect (fx, SLUICE__ENVELOPE__BODY_HEARTBEAT);
    sl_proto_free (&env);
    s_finish (&fx->fake, 0, SL_WEXEC_OK, "out1");
    sl_wcore_step (fx->core, 20);
    assert_int_equal (fx->fake.nstarted, 3);
    //  At once, not at the next regular heartbeat: seq 3 runs now.
    bool regular = true;
    env = s_control (fx, &regular);
    assert_non_null (env);
    assert_int_equal (env->body_case, SLUICE__ENVELOPE__BODY_HEARTBEAT);
    assert_false (regular);
    assert_int_equal (env->heartbeat->n_held, 1);
    assert_int_equal (env->heartbeat->held [0]->seq, 3);
    assert_false (env->heartbeat->held [0]->waiting);
    sl_proto_free (&env);
    s_expect_none (fx);
}

static void test_wcore_claim_at_a_start_names_only_tasks_claimed_waiting (void **state)
{
    fixture_t *fx = (fixture_t *) *state;
    s_connected (fx);
    s_tasks (fx, "j1", 1, 3, NULL);
    sl_wcore_step (fx->core, 0);
    sl_wcore_heartbeat (fx->core, 10); //  seq 3 claimed waiting
    sl_env_t *env = s_expect (fx, SLUICE__ENVELOPE__BODY_HEARTBEAT);
    sl_proto_free (&env);
    s_tasks (fx, "j1", 4, 2, NULL); //  not claimed yet
    s_finish (&fx->fake, 0, SL_WEXEC_OK, "out1");
    sl_wcore_step (fx->core, 20); //  seq 3 starts
    bool regular = true;
    env = s_control (fx, &regular);
    assert_non_null (env);
    assert_int_equal (env->body_case, SLUICE__ENVELOPE__BODY_HEARTBEAT);
    assert_int_equal (env->heartbeat->n_held, 1); //  not seqs 4 and 5
    assert_int_equal (env->heartbeat->held [0]->seq, 3);
    //  Not the regular heartbeat: that one still comes when due (were it
    //  put off by each start, seqs 4 and 5 would never be claimed).
    assert_false (regular);
    sl_proto_free (&env);
    s_expect_none (fx);
    //  Seq 4 starts: it was never claimed waiting, so nothing goes at once
    //  (were it claimed above, every start would heartbeat again).
    s_finish (&fx->fake, 1, SL_WEXEC_OK, "out2");
    sl_wcore_step (fx->core, 30);
    assert_int_equal (fx->fake.nstarted, 4);
    s_expect_none (fx);
    //  The next regular heartbeat claims the rest: 4 running, 5 waiting.
    sl_wcore_heartbeat (fx->core, 40);
    env = s_expect (fx, SLUICE__ENVELOPE__BODY_HEARTBEAT);
    assert_int_equal (env->heartbeat->n_held, 2);
    assert_int_equal (env->heartbeat->held [0]->seq, 4);
    assert_false (env->heartbeat->held [0]->waiting);
    assert_int_equal (env->heartbeat->held [1]->seq, 5);
    assert_true (env->heartbeat->held [1]->waiting);
    sl_proto_free (&env);
}

static void test_wcore_results_go_in_numbered_batches_of_one_job (void **state)
{
    fixture_t *fx = (fixture_t *) *state;
    s_connected (fx);
    s_tasks (fx, "j1", 1, 1, NULL);
    s_tasks (fx, "j2", 7, 1, NULL);
    sl_wcore_step (fx->core, 0);
    s_finish (&fx->fake, 0, SL_WEXEC_OK, "out-1");
    s_finish (&fx->fake, 1, SL_WEXEC_FAILED, "out-7");
    sl_wcore_step (fx->core, 10);
    assert_int_equal (sl_wcore_outbox_size (fx->core), 2);
    sl_env_t *env = s_result (fx);
    assert_string_equal (env->results->job, "j1");
    assert_int_equal (env->results->batch, 1);
    assert_int_equal (env->results->n_results, 1);
    Sluice__Result *r = env->results->results [0];
    assert_int_equal (r->seq, 1);
    assert_int_equal (r->attempt, 1);
    assert_int_equal (r->stage, 2);
    assert_int_equal (r->status, SLUICE__STATUS__STATUS_OK);
    assert_string_equal (r->worker, "host:1");
    assert_memory_equal (r->output.data, "out-1", 5);
    sl_proto_free (&env);
    env = s_result (fx);
    assert_string_equal (env->results->job, "j2");
    assert_int_equal (env->results->batch, 2);
    assert_int_equal (env->results->results [0]->status, SLUICE__STATUS__STATUS_FAILED);
    sl_proto_free (&env);
    assert_int_equal (sl_wcore_last_batch (fx->core), 2);
    assert_int_equal (sl_wcore_done (fx->core), 2);
    assert_int_equal (sl_wcore_running (fx->core), 0);
    //  Two slots free again: asks for two more.
    s_expect_credit (fx, 2, false);
}

static void test_wcore_outbox_is_kept_while_the_broker_is_away (void **state)
{
    fixture_t *fx = (fixture_t *) *state;
    s_connected (fx);
    s_tasks (fx, "j1", 1, 2, NULL);
    sl_wcore_step (fx->core, 0);
    sl_wcore_lost (fx->core);
    s_finish (&fx->fake, 0, SL_WEXEC_OK, "a");
    sl_wcore_step (fx->core, 10);
    //  ZeroMQ takes nothing meanwhile: the batch stays, unsent.
    assert_non_null (sl_wcore_result_peek (fx->core));
    assert_non_null (sl_wcore_result_peek (fx->core));
    assert_int_equal (sl_wcore_outbox_size (fx->core), 1);
    assert_int_equal (sl_wcore_last_batch (fx->core), 0);
    //  Back: the task still running is claimed again, the whole credit sent.
    sl_wcore_welcome (fx->core, true, 20);
    sl_env_t *env = s_expect (fx, SLUICE__ENVELOPE__BODY_HEARTBEAT);
    assert_int_equal (env->heartbeat->n_held, 1);
    assert_int_equal (env->heartbeat->held [0]->seq, 2);
    sl_proto_free (&env);
    s_expect_credit (fx, 1, true);
    env = s_result (fx);
    assert_int_equal (env->results->results [0]->seq, 1);
    sl_proto_free (&env);
    assert_int_equal (sl_wcore_outbox_size (fx->core), 0);
}

static void test_wcore_rehello_claims_everything_held (void **state)
{
    fixture_t *fx = (fixture_t *) *state;
    s_connected (fx);
    s_tasks (fx, "j1", 1, 3, NULL);
    sl_wcore_step (fx->core, 0);
    sl_wcore_heartbeat (fx->core, 10);
    sl_env_t *env = s_expect (fx, SLUICE__ENVELOPE__BODY_HEARTBEAT);
    sl_proto_free (&env);
    //  A restarted broker: everything again, running and waiting.
    sl_wcore_lost (fx->core);
    sl_wcore_welcome (fx->core, true, 30);
    env = s_expect (fx, SLUICE__ENVELOPE__BODY_HEARTBEAT);
    assert_int_equal (env->heartbeat->n_held, 3);
    sl_proto_free (&env);
    s_expect_credit (fx, 0, true); //  2 running + 1 waiting: no room
}

static void test_wcore_idle_heartbeat_sends_credit_again_absolute (void **state)
{
    fixture_t *fx = (fixture_t *) *state;
    s_connected (fx);
    //  Credit out, no task came: lost with a broken dispatch connection?
    sl_wcore_heartbeat (fx->core, 1000);
    sl_env_t *env = s_expect (fx, SLUICE__ENVELOPE__BODY_HEARTBEAT);
    sl_proto_free (&env);
    s_expect_credit (fx, 2, true);
    //  Tasks came since: no repeat.
    s_tasks (fx, "j1", 1, 1, NULL);
    sl_wcore_step (fx->core, 1100);
    sl_wcore_heartbeat (fx->core, 2000);
    env = s_expect (fx, SLUICE__ENVELOPE__BODY_HEARTBEAT);
    sl_proto_free (&env);
    Sluice__Credit credit;
    assert_false (sl_wcore_credit (fx->core, &credit));
    //  None since: repeated, naming the last batch (dealt 1), so that the
    //  broker counts what it sent since as on its way.
    sl_wcore_heartbeat (fx->core, 3000);
    env = s_expect (fx, SLUICE__ENVELOPE__BODY_HEARTBEAT);
    sl_proto_free (&env);
    assert_int_equal (fx->dealt, 1);
    s_expect_credit (fx, 1, true); //  2 slots, 1 running
}

static void test_wcore_drain_hands_back_waiting_and_asks_for_nothing (void **state)
{
    fixture_t *fx = (fixture_t *) *state;
    s_connected (fx);
    s_tasks (fx, "j1", 1, 4, NULL);
    sl_wcore_step (fx->core, 0);
    sl_wcore_drain (fx->core, 100);
    assert_true (sl_wcore_draining (fx->core));
    assert_int_equal (sl_wcore_drain_until (fx->core), 1100);
    sl_env_t *env = s_expect (fx, SLUICE__ENVELOPE__BODY_RELEASE);
    assert_int_equal (env->release->n_tasks, 2);
    assert_int_equal (env->release->tasks [0]->seq, 3);
    assert_int_equal (env->release->tasks [1]->seq, 4);
    sl_proto_free (&env);
    s_expect_credit (fx, 0, true);
    //  A batch on its way is handed back as it comes.
    s_tasks (fx, "j1", 5, 1, NULL);
    env = s_expect (fx, SLUICE__ENVELOPE__BODY_RELEASE);
    assert_int_equal (env->release->tasks [0]->seq, 5);
    sl_proto_free (&env);
    //  Running ones finish, their results go, no new task starts.
    assert_false (sl_wcore_drained (fx->core));
    s_finish (&fx->fake, 0, SL_WEXEC_OK, "a");
    s_finish (&fx->fake, 1, SL_WEXEC_OK, "b");
    sl_wcore_step (fx->core, 200);
    assert_int_equal (fx->fake.nstarted, 2);
    assert_true (sl_wcore_drained (fx->core));
    assert_int_equal (sl_wcore_outbox_size (fx->core), 1);
    Sluice__Credit credit;
    assert_false (sl_wcore_credit (fx->core, &credit));
}

static void test_wcore_drain_message_asks_to_drain_once (void **state)
{
    fixture_t *fx = (fixture_t *) *state;
    s_connected (fx);
    Sluice__Drain drain = SLUICE__DRAIN__INIT;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_DRAIN;
    env.drain = &drain;
    assert_int_equal (sl_wcore_control (fx->core, &env, 0), SL_WCORE_DRAIN);
    sl_wcore_drain (fx->core, 0);
    assert_int_equal (sl_wcore_control (fx->core, &env, 0), SL_WCORE_HANDLED);
}

static void test_wcore_cancel_drops_waiting_and_stops_running (void **state)
{
    fixture_t *fx = (fixture_t *) *state;
    s_connected (fx);
    s_tasks (fx, "j1", 1, 1, NULL);
    s_tasks (fx, "j2", 1, 1, NULL);
    s_tasks (fx, "j1", 2, 2, NULL);
    sl_wcore_step (fx->core, 0);
    Sluice__CancelJob cancel = SLUICE__CANCEL_JOB__INIT;
    cancel.job = "j1";
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_CANCEL_JOB;
    env.cancel_job = &cancel;
    assert_int_equal (sl_wcore_control (fx->core, &env, 5), SL_WCORE_HANDLED);
    assert_int_equal (fx->fake.nstopped, 1);
    assert_int_equal (fx->fake.stopped [0], fx->fake.started [0]);
    assert_int_equal (sl_wcore_task_state (fx->core, "j1", 1), SL_WTASK_ABANDONED);
    assert_int_equal (sl_wcore_task_state (fx->core, "j2", 1), SL_WTASK_RUNNING);
    assert_int_equal (sl_wcore_task_state (fx->core, "j1", 2), 0);
    assert_int_equal (sl_wcore_waiting (fx->core), 0);
    //  The stopped one ends: its result is dropped, its slot freed.
    s_finish (&fx->fake, 0, SL_WEXEC_FAILED, "stopped");
    sl_wcore_step (fx->core, 10);
    assert_int_equal (sl_wcore_outbox_size (fx->core), 0);
    assert_int_equal (sl_wcore_running (fx->core), 1);
}

static void test_wcore_bye_lists_what_is_unfinished_and_the_last_batch (void **state)
{
    fixture_t *fx = (fixture_t *) *state;
    s_connected (fx);
    s_tasks (fx, "j1", 1, 3, NULL);
    sl_wcore_step (fx->core, 0);
    s_finish (&fx->fake, 0, SL_WEXEC_OK, "a");
    sl_wcore_step (fx->core, 10); //  seq 3 starts
    sl_env_t *env = s_result (fx);
    sl_proto_free (&env);
    sl_wcore_bye (fx->core, 20);
    env = s_expect (fx, SLUICE__ENVELOPE__BODY_BYE);
    assert_int_equal (env->bye->last_batch, 1);
    assert_int_equal (env->bye->n_unfinished, 2);
    assert_int_equal (env->bye->unfinished [0]->seq + env->bye->unfinished [1]->seq, 5);
    sl_proto_free (&env);
    //  What ran is asked to stop; its results, if any come, are dropped.
    assert_int_equal (fx->fake.nstopped, 2);
    s_finish (&fx->fake, 1, SL_WEXEC_OK, "late");
    sl_wcore_step (fx->core, 30);
    assert_int_equal (sl_wcore_outbox_size (fx->core), 0);
}

static void test_wcore_bye_counts_only_batches_taken_by_zeromq (void **state)
{
    fixture_t *fx = (fixture_t *) *state;
    s_connected (fx);
    s_tasks (fx, "j1", 1, 2, NULL);
    sl_wcore_step (fx->core, 0);
    s_finish (&fx->fake, 0, SL_WEXEC_OK, "a");
    sl_wcore_step (fx->core, 10);
    sl_env_t *env = s_result (fx); //  batch 1 sent
    sl_proto_free (&env);
    s_finish (&fx->fake, 1, SL_WEXEC_OK, "b");
    sl_wcore_step (fx->core, 15); //  batch 2 made, never sent
    sl_wcore_bye (fx->core, 20);
    env = s_expect (fx, SLUICE__ENVELOPE__BODY_BYE);
    assert_int_equal (env->bye->last_batch, 1);
    assert_int_equal (env->bye->n_unfinished, 0);
    sl_proto_free (&env);
    assert_int_equal (sl_wcore_outbox_size (fx->core), 1);
}

static void test_wcore_bye_hands_back_what_finished_since_the_last_step (void **state)
{
    fixture_t *fx = (fixture_t *) *state;
    s_connected (fx);
    s_tasks (fx, "j1", 1, 1, NULL);
    sl_wcore_step (fx->core, 0);
    s_finish (&fx->fake, 0, SL_WEXEC_OK, "a"); //  reported, not yet collected
    sl_wcore_bye (fx->core, 10);
    sl_env_t *env = s_expect (fx, SLUICE__ENVELOPE__BODY_BYE);
    assert_int_equal (env->bye->last_batch, 0);
    assert_int_equal (env->bye->n_unfinished, 1); //  handed back, never lost
    sl_proto_free (&env);
    sl_wcore_step (fx->core, 20); //  its result is dropped
    assert_int_equal (sl_wcore_outbox_size (fx->core), 0);
}

static void test_wcore_bye_right_after_the_last_results_names_them (void **state)
{
    fixture_t *fx = (fixture_t *) *state;
    s_connected (fx);
    s_tasks (fx, "j1", 1, 2, NULL);
    sl_wcore_step (fx->core, 0);
    s_finish (&fx->fake, 0, SL_WEXEC_OK, "a");
    s_finish (&fx->fake, 1, SL_WEXEC_OK, "b");
    sl_wcore_step (fx->core, 10);
    sl_env_t *env = s_result (fx);
    assert_int_equal (env->results->batch, 1);
    assert_int_equal (env->results->n_results, 2);
    sl_proto_free (&env);
    sl_wcore_bye (fx->core, 10);
    env = s_expect (fx, SLUICE__ENVELOPE__BODY_BYE);
    assert_int_equal (env->bye->last_batch, 1); //  the broker waits for batch 1
    assert_int_equal (env->bye->n_unfinished, 0);
    sl_proto_free (&env);
}

static void test_wcore_executor_out_of_memory_keeps_the_task_waiting (void **state)
{
    fixture_t *fx = (fixture_t *) *state;
    s_connected (fx);
    fx->fake.fail_start = true;
    s_tasks (fx, "j1", 1, 1, NULL);
    sl_wcore_step (fx->core, 0);
    assert_int_equal (sl_wcore_task_state (fx->core, "j1", 1), SL_WTASK_WAITING);
    assert_int_equal (sl_wcore_running (fx->core), 0);
    fx->fake.fail_start = false;
    sl_wcore_step (fx->core, 10);
    assert_int_equal (sl_wcore_task_state (fx->core, "j1", 1), SL_WTASK_RUNNING);
}

static void test_wcore_invalid_job_id_is_dropped (void **state)
{
    fixture_t *fx = (fixture_t *) *state;
    s_connected (fx);
    s_tasks (fx, "bad job/../", 1, 2, NULL);
    sl_wcore_step (fx->core, 0);
    assert_int_equal (fx->fake.nstarted, 0);
    assert_int_equal (sl_wcore_waiting (fx->core), 0);
}

#define HELLO_SHA1 "f572d396fae9206628714fb2ce00f72e94f2258f"

static void test_wcore_attachments_are_fetched_before_the_task_starts (void **state)
{
    fixture_t *fx = (fixture_t *) *state;
    s_connected (fx);
    Sluice__Attachment a = SLUICE__ATTACHMENT__INIT;
    a.name = "greeting";
    a.hash = HELLO_SHA1;
    a.size = 6;
    s_tasks (fx, "j1", 1, 1, &a);
    sl_wcore_step (fx->core, 0);
    assert_int_equal (fx->fake.nstarted, 0);
    sl_env_t *env = s_expect (fx, SLUICE__ENVELOPE__BODY_ATTACH_GET);
    assert_string_equal (env->attach_get->hash, HELLO_SHA1);
    assert_int_equal (env->attach_get->offset, 0);
    sl_proto_free (&env);
    //  Nothing new until an answer (or the stall time) comes.
    sl_wcore_step (fx->core, 10);
    s_expect_none (fx);
    //  The first piece, then the rest.
    Sluice__AttachChunk chunk = SLUICE__ATTACH_CHUNK__INIT;
    chunk.hash = HELLO_SHA1;
    chunk.total = 6;
    chunk.data.data = (uint8_t *) "hel";
    chunk.data.len = 3;
    sl_env_t in = SLUICE__ENVELOPE__INIT;
    in.body_case = SLUICE__ENVELOPE__BODY_ATTACH_CHUNK;
    in.attach_chunk = &chunk;
    sl_wcore_control (fx->core, &in, 20);
    env = s_expect (fx, SLUICE__ENVELOPE__BODY_ATTACH_GET);
    assert_int_equal (env->attach_get->offset, 3);
    sl_proto_free (&env);
    chunk.offset = 3;
    chunk.data.data = (uint8_t *) "lo\n";
    sl_wcore_control (fx->core, &in, 30);
    sl_wcore_step (fx->core, 30);
    assert_int_equal (fx->fake.nstarted, 1);
    assert_int_equal (fx->fake.nfiles [0], 1);
    char want [400];
    snprintf (want, sizeof want, "%s/%s", fx->dir, HELLO_SHA1);
    assert_string_equal (fx->fake.file0 [0], want);
    FILE *file = fopen (want, "r");
    assert_non_null (file);
    char content [16] = "";
    assert_non_null (fgets (content, sizeof content, file));
    fclose (file);
    assert_string_equal (content, "hello\n");
    //  The next task of the job starts at once: the file is here.
    s_tasks (fx, "j1", 2, 1, NULL);
    sl_wcore_step (fx->core, 40);
    assert_int_equal (fx->fake.nstarted, 2);
    s_expect_none (fx);
}

static void test_wcore_attachment_that_does_not_match_its_hash_is_fetched_again (void **state)
{
    fixture_t *fx = (fixture_t *) *state;
    s_connected (fx);
    Sluice__Attachment a = SLUICE__ATTACHMENT__INIT;
    a.name = "greeting";
    a.hash = HELLO_SHA1;
    s_tasks (fx, "j1", 1, 1, &a);
    sl_wcore_step (fx->core, 0);
    sl_env_t *env = s_expect (fx, SLUICE__ENVELOPE__BODY_ATTACH_GET);
    sl_proto_free (&env);
    Sluice__AttachChunk chunk = SLUICE__ATTACH_CHUNK__INIT;
    chunk.hash = HELLO_SHA1;
    chunk.total = 6;
    chunk.data.data = (uint8_t *) "HELLO\n";
    chunk.data.len = 6;
    sl_env_t in = SLUICE__ENVELOPE__INIT;
    in.body_case = SLUICE__ENVELOPE__BODY_ATTACH_CHUNK;
    in.attach_chunk = &chunk;
    sl_wcore_control (fx->core, &in, 10);
    sl_wcore_step (fx->core, 10);
    assert_int_equal (fx->fake.nstarted, 0);
    s_expect_none (fx);
    //  Asked again after the retry pause.
    sl_wcore_step (fx->core, 10 + 600);
    env = s_expect (fx, SLUICE__ENVELOPE__BODY_ATTACH_GET);
    assert_int_equal (env->attach_get->offset, 0);
    sl_proto_free (&env);
}

//  Seqs of a result batch, in order, as "1,2,3".
static void s_seqs (const sl_env_t *env, char *out, size_t size)
{
    out [0] = '\0';
    for (size_t i = 0; i < env->results->n_results; i++)
        snprintf (out + strlen (out), size - strlen (out), "%s%llu", i ? "," : "",
                  (unsigned long long) env->results->results [i]->seq);
}

static void test_wcore_results_close_together_wait_for_one_batch (void **state)
{
    fixture_t *fx = (fixture_t *) *state;
    s_connected (fx);
    s_tasks (fx, "j1", 1, 6, NULL);
    sl_wcore_step (fx->core, 100);
    //  The first result after a quiet spell goes at once.
    s_finish (&fx->fake, 0, SL_WEXEC_OK, "a");
    sl_wcore_step (fx->core, 101); //  seq 3 starts
    char seqs [64];
    sl_env_t *env = s_result (fx);
    assert_non_null (env);
    s_seqs (env, seqs, sizeof seqs);
    assert_string_equal (seqs, "1");
    sl_proto_free (&env);
    //  The next ones, within SL_WCORE_RESULT_WAIT_MS of it, wait...
    s_finish (&fx->fake, 1, SL_WEXEC_OK, "b");
    sl_wcore_step (fx->core, 102); //  seq 4 starts
    assert_null (sl_wcore_result_peek (fx->core));
    assert_int_equal (sl_wcore_next_wake (fx->core), 101 + SL_WCORE_RESULT_WAIT_MS);
    s_finish (&fx->fake, 2, SL_WEXEC_OK, "c");
    sl_wcore_step (fx->core, 103); //  seq 5 starts
    assert_null (sl_wcore_result_peek (fx->core));
    assert_int_equal (sl_wcore_running (fx->core), 2); //  their slots are free already
    assert_int_equal (fx->fake.nstarted, 5);
    //  ...and go in one batch when the wait is over.
    sl_wcore_step (fx->core, 101 + SL_WCORE_RESULT_WAIT_MS);
    env = s_result (fx);
    assert_non_null (env);
    s_seqs (env, seqs, sizeof seqs);
    assert_string_equal (seqs, "2,3");
    sl_proto_free (&env);
    assert_null (s_result (fx));
    assert_int_equal (sl_wcore_next_wake (fx->core), INT64_MAX);
}

static void test_wcore_last_running_result_and_drain_do_not_wait (void **state)
{
    fixture_t *fx = (fixture_t *) *state;
    s_connected (fx);
    s_tasks (fx, "j1", 1, 2, NULL);
    sl_wcore_step (fx->core, 100);
    s_finish (&fx->fake, 0, SL_WEXEC_OK, "a");
    sl_wcore_step (fx->core, 100);
    sl_env_t *env = s_result (fx);
    assert_non_null (env);
    sl_proto_free (&env);
    //  Nothing runs after this one: no result is coming to join it.
    s_finish (&fx->fake, 1, SL_WEXEC_OK, "b");
    sl_wcore_step (fx->core, 101);
    env = s_result (fx);
    assert_non_null (env);
    assert_int_equal (env->results->results [0]->seq, 2);
    sl_proto_free (&env);
    //  A held result goes at once when the worker starts draining.
    s_tasks (fx, "j1", 3, 2, NULL);
    sl_wcore_step (fx->core, 102);
    s_finish (&fx->fake, 2, SL_WEXEC_OK, "c");
    sl_wcore_step (fx->core, 103);
    assert_null (sl_wcore_result_peek (fx->core));
    sl_wcore_drain (fx->core, 103);
    sl_wcore_step (fx->core, 103);
    env = s_result (fx);
    assert_non_null (env);
    assert_int_equal (env->results->results [0]->seq, 3);
    sl_proto_free (&env);
}

static void test_wcore_bye_names_results_still_waiting_for_their_batch (void **state)
{
    fixture_t *fx = (fixture_t *) *state;
    s_connected (fx);
    s_tasks (fx, "j1", 1, 3, NULL);
    sl_wcore_step (fx->core, 100);
    s_finish (&fx->fake, 0, SL_WEXEC_OK, "a");
    sl_wcore_step (fx->core, 100);
    sl_env_t *env = s_result (fx);
    sl_proto_free (&env);
    s_finish (&fx->fake, 1, SL_WEXEC_OK, "b"); //  seq 2: waits for a batch
    sl_wcore_step (fx->core, 101);
    assert_null (sl_wcore_result_peek (fx->core));
    sl_wcore_bye (fx->core, 102);
    env = s_expect (fx, SLUICE__ENVELOPE__BODY_BYE);
    //  Running: seq 3; waiting for its batch: seq 2. Both count as unfinished.
    assert_int_equal (env->bye->n_unfinished, 2);
    uint64_t sum = env->bye->unfinished [0]->seq + env->bye->unfinished [1]->seq;
    assert_int_equal (sum, 5);
    assert_int_equal (env->bye->last_batch, 1);
    sl_proto_free (&env);
    //  And its result never goes after the Bye.
    sl_wcore_step (fx->core, 200);
    assert_null (sl_wcore_result_peek (fx->core));
}

int main (void)
{
    zsys_init ();
    zsys_set_logstream (NULL);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_wcore_first_welcome_asks_for_the_slots, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_wcore_push_mode_sends_no_credit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_wcore_tasks_start_up_to_the_slots, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_wcore_heartbeat_claims_each_task_once, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (
            test_wcore_task_claimed_waiting_is_claimed_again_when_it_starts, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (
            test_wcore_claim_at_a_start_names_only_tasks_claimed_waiting, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_wcore_results_go_in_numbered_batches_of_one_job,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_wcore_outbox_is_kept_while_the_broker_is_away,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_wcore_rehello_claims_everything_held, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_wcore_idle_heartbeat_sends_credit_again_absolute,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_wcore_drain_hands_back_waiting_and_asks_for_nothing,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_wcore_drain_message_asks_to_drain_once, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_wcore_cancel_drops_waiting_and_stops_running, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_wcore_bye_lists_what_is_unfinished_and_the_last_batch,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_wcore_bye_counts_only_batches_taken_by_zeromq,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (
            test_wcore_bye_hands_back_what_finished_since_the_last_step, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_wcore_bye_right_after_the_last_results_names_them,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_wcore_executor_out_of_memory_keeps_the_task_waiting,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_wcore_invalid_job_id_is_dropped, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_wcore_attachments_are_fetched_before_the_task_starts,
                                         s_setup_attach, s_teardown),
        cmocka_unit_test_setup_teardown (
            test_wcore_attachment_that_does_not_match_its_hash_is_fetched_again, s_setup_attach,
            s_teardown),
        cmocka_unit_test_setup_teardown (test_wcore_results_close_together_wait_for_one_batch,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_wcore_last_running_result_and_drain_do_not_wait,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (
            test_wcore_bye_names_results_still_waiting_for_their_batch, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
