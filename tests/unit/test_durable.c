/*  =========================================================================
    test_durable - unit tests of the broker's journal records and their
    replay into the task table (broker/durable.c)

    Every test gets a fresh directory from mkdtemp (the fixture); the
    journal lives in DIR/j. A test plays the broker before a crash: it
    keeps a live table and journals what happens to it with the
    sl_durable_* functions the way broker.c does (the tasks the table
    accepted, job ends, the final results sl_table_pop_completed reports,
    in batches of one job, acknowledgements, finished jobs), commits, and
    destroys the journal: that is the crash. Then it opens the directory
    again with sl_journal_new, replays it with sl_durable_replay into a
    fresh table, and checks what came back, every task of every job:

    - the table's totals and each job's counts, field by field;
    - QUEUED tasks by dispatching them all: their order, the payload byte
      for byte, the timeout and the retries, and that no run is counted;
    - DONE results by sending them all: their order, every field of the
      result byte for byte, and the runs the task took;
    - DELIVERED tasks by sl_table_redeliver, which accepts only those (and
      the Asan build sees a leak if replay kept their result);
    - the number of records replay returns, counted as they are appended.

    Payloads and results are bytes derived from job and seq (s_fill); seq
    BIG_SEQ has a payload and an output bigger than durable.c's stack
    buffer, some seqs have empty payloads, output or stderr. Tests of bugs
    not yet fixed are kept, marked FAILS, and skipped.
    =========================================================================
*/

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "durable.h"

#define LEASE 30000    //  lease the tests dispatch with (ms)
#define BIG_SEQ 7      //  the seq whose payload and output are big
#define BIG_SIZE 9000  //  bytes: more than durable.c packs on its stack
#define RESULT_BATCH 4 //  most results per ResultBatch (the broker: 256)
#define MAX_SEGMENTS 8 //  segments a test may write
#define MAX_DONE 16    //  JobDone reports a test may see
#define PATH_SIZE 512
#define FINISHED_AT 1700000000123LL //  a finished_at, ms since the epoch

//  --- Fixture --------------------------------------------------------------

//  One JobDone report of replay.
typedef struct {
    char job [64];
    sl_job_counts_t counts;
    int64_t finished_at;
    uint64_t failed [8]; //  its failed ranges (up to 4)
    size_t nfailed;
    bool failed_truncated;
} done_t;

typedef struct {
    char base [64];                      //  the mkdtemp directory
    char dir [128];                      //  the journal directory
    sl_journal_t *journal;               //  the broker's journal, then the one replayed
    sl_table_t *live;                    //  the broker's table before the crash
    sl_table_t *table;                   //  the table replay rebuilt
    uint64_t records [MAX_SEGMENTS + 1]; //  records appended, per segment
    done_t done [MAX_DONE];              //  what replay reported as finished
    size_t ndone;                        //  entries in done
    char err [1024];                     //  error of the last call
} fixture_t;

static sl_journal_t *s_journal_open (fixture_t *fx)
{
    sl_journal_t *journal = sl_journal_new (fx->dir, SL_FSYNC_OFF, fx->err, sizeof fx->err);
    if (!journal)
        fail_msg ("sl_journal_new: %s", fx->err);
    return journal;
}

//  Starts the broker's side afresh in fx->base/name: an empty journal
//  (replayed, so that it takes appends) and an empty live table.
static void s_start (fixture_t *fx, const char *name)
{
    sl_journal_destroy (&fx->journal);
    sl_table_destroy (&fx->live);
    sl_table_destroy (&fx->table);
    memset (fx->records, 0, sizeof fx->records);
    fx->ndone = 0;
    snprintf (fx->dir, sizeof fx->dir, "%s/%s", fx->base, name);
    fx->journal = s_journal_open (fx);
    assert_int_equal (sl_journal_replay (fx->journal, NULL, NULL, fx->err, sizeof fx->err), 0);
    assert_int_equal (sl_journal_segment (fx->journal), 1);
    fx->live = sl_table_new ();
    assert_non_null (fx->live);
}

static int s_setup (void **state)
{
    fixture_t *fx = calloc (1, sizeof *fx);
    if (!fx)
        return -1;
    snprintf (fx->base, sizeof fx->base, "/tmp/test_durable.XXXXXX");
    if (!mkdtemp (fx->base)) {
        free (fx);
        return -1;
    }
    *state = fx;
    s_start (fx, "j");
    return 0;
}

static int s_remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    return remove (path);
}

static int s_teardown (void **state)
{
    fixture_t *fx = *state;
    sl_journal_destroy (&fx->journal);
    sl_table_destroy (&fx->live);
    sl_table_destroy (&fx->table);
    int rc = nftw (fx->base, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free (fx);
    return rc;
}

//  --- Contents of tasks and results ----------------------------------------

//  A seed for the bytes of one kind ('p'ayload, 'o'utput, 'e'rr) of job/seq.
static uint32_t s_seed (const char *job, uint64_t seq, char kind)
{
    uint32_t h = 2166136261u;
    for (const char *c = job; *c; c++)
        h = (h ^ (uint8_t) *c) * 16777619u;
    h ^= (uint32_t) seq * 2654435761u;
    h ^= (uint32_t) (uint8_t) kind << 24;
    return h ? h : 1;
}

//  Deterministic bytes for a seed (xorshift32).
static void s_fill (uint8_t *buf, size_t size, uint32_t seed)
{
    uint32_t x = seed;
    for (size_t i = 0; i < size; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf [i] = (uint8_t) (x >> 24);
    }
}

static size_t s_payload_size (uint64_t seq)
{
    return seq == BIG_SEQ ? BIG_SIZE : seq % 10 == 0 ? 0 : 20 + seq % 40;
}

static size_t s_output_size (uint64_t seq)
{
    return seq == BIG_SEQ ? BIG_SIZE : seq % 5 == 0 ? 0 : 10 + seq % 50;
}

static size_t s_stderr_size (uint64_t seq)
{
    return seq % 3 == 0 ? 0 : 5 + seq % 20;
}

static uint32_t s_timeout_of (uint64_t seq)
{
    return (uint32_t) (seq % 65536) * 10 + 1;
}

static int32_t s_exit_code_of (uint64_t seq, uint8_t status)
{
    return status == SL_STATUS_OK       ? 0
           : status == SL_STATUS_FAILED ? (int32_t) (seq % 100) + 1
                                        : -9 - (int32_t) (seq % 3);
}

//  A worker's result for job/seq with status; in points into self.
typedef struct {
    uint8_t output [BIG_SIZE];
    uint8_t err [64];
    char worker [32];
    sl_result_in_t in;
} result_t;

static void s_result (result_t *self, const char *job, uint64_t seq, uint8_t status)
{
    size_t out_size = s_output_size (seq);
    size_t err_size = s_stderr_size (seq);
    s_fill (self->output, out_size, s_seed (job, seq, 'o'));
    s_fill (self->err, err_size, s_seed (job, seq, 'e'));
    snprintf (self->worker, sizeof self->worker, "host-%u:%u", (unsigned) (seq % 3),
              (unsigned) (4000 + seq % 3));
    self->in = (sl_result_in_t){
        .status = status,
        .exit_code = s_exit_code_of (seq, status),
        .duration_ms = seq * 3 + 1,
        .worker = self->worker,
        .output = self->output,
        .output_size = out_size,
        .err = self->err,
        .err_size = err_size,
        .output_truncated = seq % 2 == 0,
    };
}

//  --- The broker before the crash -------------------------------------------

//  Appended one record to the journal's current segment.
static void s_appended (fixture_t *fx, int rc)
{
    if (rc != 0)
        fail_msg ("sl_durable_*: %s", fx->err);
    uint64_t segment = sl_journal_segment (fx->journal);
    assert_true (segment <= MAX_SEGMENTS);
    fx->records [segment]++;
}

static uint64_t s_records (fixture_t *fx, uint64_t from)
{
    uint64_t n = 0;
    for (uint64_t s = from; s <= MAX_SEGMENTS; s++)
        n += fx->records [s];
    return n;
}

//  The ventilator sends seqs [0..n) of job with `retries`; the broker puts
//  them into the live table and journals the new ones (the tasks its table
//  accepted). Returns how many were new.
static size_t s_submit_seqs (fixture_t *fx, const char *job, const uint64_t *seqs, size_t n,
                             uint32_t retries)
{
    Sluice__Task *tasks = calloc (n, sizeof *tasks);
    Sluice__Task **accepted = calloc (n, sizeof *accepted);
    assert_true (tasks && accepted);
    sl_table_set_tag (fx->live, sl_journal_segment (fx->journal));
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        Sluice__Task init = SLUICE__TASK__INIT;
        tasks [i] = init;
        tasks [i].seq = seqs [i];
        tasks [i].timeout_ms = s_timeout_of (seqs [i]);
        tasks [i].retries = retries;
        tasks [i].payload.len = s_payload_size (seqs [i]);
        tasks [i].payload.data = malloc (tasks [i].payload.len + 1);
        assert_non_null (tasks [i].payload.data);
        s_fill (tasks [i].payload.data, tasks [i].payload.len, s_seed (job, seqs [i], 'p'));
        uint8_t clamped = (uint8_t) (retries > 100 ? 100 : retries);
        sl_table_rc_t rc = sl_table_submit (fx->live, job, seqs [i], tasks [i].payload.data,
                                            tasks [i].payload.len, tasks [i].timeout_ms, clamped);
        assert_true (rc == SL_TABLE_OK || rc == SL_TABLE_DUPLICATE);
        if (rc == SL_TABLE_OK)
            accepted [count++] = &tasks [i];
    }
    if (count)
        s_appended (fx,
                    sl_durable_tasks (fx->journal, job, accepted, count, fx->err, sizeof fx->err));
    for (size_t i = 0; i < n; i++)
        free (tasks [i].payload.data);
    free (tasks);
    free (accepted);
    return count;
}

//  The same for seqs first..last.
static size_t s_submit (fixture_t *fx, const char *job, uint64_t first, uint64_t last,
                        uint32_t retries)
{
    size_t n = (size_t) (last - first + 1);
    uint64_t *seqs = calloc (n, sizeof *seqs);
    assert_non_null (seqs);
    for (size_t i = 0; i < n; i++)
        seqs [i] = first + i;
    size_t count = s_submit_seqs (fx, job, seqs, n, retries);
    free (seqs);
    return count;
}

//  Puts tasks first..last of job into table without journaling them: the
//  table of a journal whose TaskBatch records are gone.
static void s_submit_unjournaled (sl_table_t *table, const char *job, uint64_t first, uint64_t last)
{
    for (uint64_t seq = first; seq <= last; seq++)
        assert_int_equal (sl_table_submit (table, job, seq, NULL, 0, 0, 0), SL_TABLE_OK);
}

//  The ventilator says job has total tasks.
static void s_end (fixture_t *fx, const char *job, uint64_t total)
{
    sl_table_set_tag (fx->live, sl_journal_segment (fx->journal));
    assert_int_equal (sl_table_end (fx->live, job, total), SL_TABLE_OK);
    s_appended (fx, sl_durable_end (fx->journal, job, total, fx->err, sizeof fx->err));
}

//  Dispatches the next task of the live table, which must be job/seq.
static sl_task_t *s_live_dispatch (fixture_t *fx, const char *job, uint64_t seq, int64_t now,
                                   const char *holder)
{
    sl_task_t *task = sl_table_dispatch (fx->live, now, LEASE, holder);
    assert_non_null (task);
    assert_string_equal (sl_job_id (sl_task_job (task)), job);
    assert_int_equal (sl_task_seq (task), seq);
    return task;
}

//  Dispatches every queued task of the live table; returns how many.
static size_t s_live_dispatch_all (fixture_t *fx)
{
    size_t n = 0;
    while (sl_table_dispatch (fx->live, 1000, LEASE, NULL))
        n++;
    return n;
}

//  A worker reports run `attempt` of job/seq with status.
static sl_table_rc_t s_complete (fixture_t *fx, const char *job, uint64_t seq, uint32_t attempt,
                                 uint8_t status)
{
    result_t *r = malloc (sizeof *r);
    assert_non_null (r);
    s_result (r, job, seq, status);
    sl_table_rc_t rc = sl_table_complete (fx->live, job, seq, attempt, &r->in);
    free (r);
    return rc;
}

//  Journals the final results the live table reached, as broker.c does:
//  in the order they were reached, one job per record.
static void s_journal_results (fixture_t *fx)
{
    sl_task_t *batch [RESULT_BATCH];
    size_t n = 0;
    sl_task_t *task;
    while ((task = sl_table_pop_completed (fx->live))) {
        if (n && (sl_task_job (task) != sl_task_job (batch [0]) || n == RESULT_BATCH)) {
            s_appended (fx, sl_durable_results (fx->journal, batch, n, fx->err, sizeof fx->err));
            n = 0;
        }
        batch [n++] = task;
    }
    if (n)
        s_appended (fx, sl_durable_results (fx->journal, batch, n, fx->err, sizeof fx->err));
}

static void s_commit (fixture_t *fx)
{
    s_journal_results (fx);
    if (sl_journal_commit (fx->journal, fx->err, sizeof fx->err) != 0)
        fail_msg ("sl_journal_commit: %s", fx->err);
}

static uint64_t s_rotate (fixture_t *fx)
{
    s_journal_results (fx);
    uint64_t id = sl_journal_rotate (fx->journal, fx->err, sizeof fx->err);
    if (id == 0)
        fail_msg ("sl_journal_rotate: %s", fx->err);
    return id;
}

//  Sends the next n results of job to the sink (SENT, not yet acked).
static void s_send (fixture_t *fx, const char *job, size_t n)
{
    sl_job_t *j = sl_table_job (fx->live, job);
    assert_non_null (j);
    for (size_t i = 0; i < n; i++)
        assert_non_null (sl_table_send_next (fx->live, j));
}

//  The sink acknowledges seqs [0..n) of job: the live table applies them
//  and the broker journals those it applied.
static void s_ack (fixture_t *fx, const char *job, const uint64_t *seqs, size_t n)
{
    uint64_t *applied = calloc (n, sizeof *applied);
    assert_non_null (applied);
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal (sl_table_ack (fx->live, job, seqs [i]), SL_TABLE_OK);
        applied [count++] = seqs [i];
    }
    s_appended (fx,
                sl_durable_delivered (fx->journal, job, applied, count, fx->err, sizeof fx->err));
    free (applied);
}

//  The live job is finished: the broker journals JobDone and retires it.
static void s_job_done (fixture_t *fx, const char *job, int64_t finished_at)
{
    sl_job_t *j = sl_table_job (fx->live, job);
    assert_non_null (j);
    assert_true (sl_job_finished (j));
    s_appended (fx, sl_durable_job_done (fx->journal, job, sl_job_counts (j), finished_at, NULL,
                                         fx->err, sizeof fx->err));
    sl_table_retire (fx->live, j);
}

//  --- The crash and the replay -----------------------------------------------

static void s_on_done (const char *job, const sl_job_counts_t *counts, int64_t finished_at,
                       const sl_failed_t *failed, void *arg)
{
    assert_non_null (failed);
    fixture_t *fx = arg;
    assert_true (fx->ndone < MAX_DONE);
    done_t *done = &fx->done [fx->ndone++];
    snprintf (done->job, sizeof done->job, "%s", job);
    done->counts = *counts;
    done->finished_at = finished_at;
    assert_true (failed->n <= 4);
    if (failed->n)
        memcpy (done->failed, failed->ranges, 2 * failed->n * sizeof (uint64_t));
    done->nfailed = failed->n;
    done->failed_truncated = failed->truncated;
}

//  Commits what is pending and closes the journal, as a broker stopping
//  or crashing right after a commit.
static void s_crash (fixture_t *fx)
{
    s_commit (fx);
    sl_journal_destroy (&fx->journal);
}

//  Opens the directory again and replays it into a fresh table. Returns
//  what sl_durable_replay returned.
static int64_t s_replay (fixture_t *fx)
{
    sl_journal_destroy (&fx->journal);
    sl_table_destroy (&fx->table);
    fx->ndone = 0;
    fx->journal = s_journal_open (fx);
    fx->table = sl_table_new ();
    assert_non_null (fx->table);
    fx->err [0] = '\0';
    return sl_durable_replay (fx->journal, fx->table, s_on_done, fx, fx->err, sizeof fx->err);
}

//  Crash, then a replay that must succeed and see every record appended.
static void s_recover (fixture_t *fx)
{
    s_crash (fx);
    int64_t rc = s_replay (fx);
    if (rc < 0)
        fail_msg ("sl_durable_replay: %s", fx->err);
    assert_int_equal (rc, s_records (fx, 1));
    //  Restored results are in the journal already: none to journal again.
    assert_null (sl_table_pop_completed (fx->table));
}

//  The replayed table becomes the live one (the broker goes on after replay).
static void s_go_on (fixture_t *fx)
{
    sl_table_destroy (&fx->live);
    fx->live = fx->table;
    fx->table = NULL;
}

//  --- Checks of the replayed table -------------------------------------------

//  The job with this id in the replayed table, which must exist.
static sl_job_t *s_job (fixture_t *fx, const char *id)
{
    sl_job_t *job = sl_table_job (fx->table, id);
    if (!job)
        fail_msg ("job %s is not in the replayed table", id);
    assert_string_equal (sl_job_id (job), id);
    return job;
}

//  Checks the table's four totals.
#define CHECK_TABLE(table, queued, running, deliverable, unacked)                                  \
    s_check_table ((table), (queued), (running), (deliverable), (unacked), __FILE__, __LINE__)

static void s_check_table (sl_table_t *table, size_t queued, size_t running, size_t deliverable,
                           size_t unacked, const char *file, int line)
{
    _assert_int_equal (sl_table_queued (table), queued, file, line);
    _assert_int_equal (sl_table_running (table), running, file, line);
    _assert_int_equal (sl_table_deliverable (table, NULL), deliverable, file, line);
    _assert_int_equal (sl_table_unacked (table), unacked, file, line);
}

//  Checks every field of a job's counts against a designated initializer:
//  CHECK_COUNTS (counts, .received = 2, .queued = 2) means every other
//  field is 0.
#define CHECK_COUNTS(have, ...)                                                                    \
    s_check_counts ((have), &(sl_job_counts_t){ __VA_ARGS__ }, __FILE__, __LINE__)
#define CHECK_JOB(job, ...) CHECK_COUNTS (sl_job_counts (job), __VA_ARGS__)

static void s_check_counts (const sl_job_counts_t *have, const sl_job_counts_t *want,
                            const char *file, int line)
{
    _assert_int_equal (have->received, want->received, file, line);
    _assert_int_equal (have->total, want->total, file, line);
    _assert_int_equal (have->total_known, want->total_known, file, line);
    _assert_int_equal (have->queued, want->queued, file, line);
    _assert_int_equal (have->running, want->running, file, line);
    _assert_int_equal (have->done, want->done, file, line);
    _assert_int_equal (have->delivered, want->delivered, file, line);
    _assert_int_equal (have->ok, want->ok, file, line);
    _assert_int_equal (have->failed, want->failed, file, line);
    _assert_int_equal (have->timeout, want->timeout, file, line);
}

//  Dispatches the next task of the replayed table and checks it is job/seq,
//  QUEUED with its payload byte for byte, its timeout and `retries`, and no
//  run, failure or loss counted before this dispatch.
#define EXPECT_QUEUED(fx, job, seq, retries)                                                       \
    s_expect_queued ((fx), (job), (seq), (retries), __FILE__, __LINE__)

static void s_expect_queued (fixture_t *fx, const char *job, uint64_t seq, uint8_t retries,
                             const char *file, int line)
{
    sl_task_t *task = sl_table_dispatch (fx->table, 1000, LEASE, NULL);
    _assert_true (task != NULL, "a task was queued", file, line);
    _assert_string_equal (sl_job_id (sl_task_job (task)), job, file, line);
    _assert_int_equal (sl_task_seq (task), seq, file, line);
    _assert_int_equal (task->state, SL_TASK_RUNNING, file, line);
    _assert_int_equal (task->attempts, 1, file, line);
    _assert_int_equal (sl_task_uncounted (task), 0, file, line);
    _assert_int_equal (sl_task_failures (task), 0, file, line);
    _assert_int_equal (sl_task_losses (task), 0, file, line);
    _assert_int_equal (sl_task_ended_run (task), 0, file, line);
    _assert_int_equal (task->timeout_ms, s_timeout_of (seq), file, line);
    _assert_int_equal (task->retries, retries, file, line);
    _assert_true (sl_task_result (task) == NULL, "sl_task_result (task) == NULL", file, line);
    size_t size = s_payload_size (seq);
    _assert_int_equal (task->payload_size, size, file, line);
    _assert_true (sl_task_payload (task) != NULL, "sl_task_payload (task) != NULL", file, line);
    uint8_t *want = malloc (size + 1);
    _assert_true (want != NULL, "malloc", file, line);
    s_fill (want, size, s_seed (job, seq, 'p'));
    _assert_memory_equal (sl_task_payload (task), want, size, file, line);
    free (want);
}

//  Checks that nothing more is queued in the replayed table.
#define EXPECT_NONE_QUEUED(fx)                                                                     \
    _assert_true (sl_table_dispatch ((fx)->table, 1000, LEASE, NULL) == NULL, "nothing queued",    \
                  __FILE__, __LINE__)

//  Checks that r is, field by field, what s_result made for job/seq.
static void s_check_result (const sl_result_t *r, const char *job, uint64_t seq, uint8_t status,
                            const char *file, int line)
{
    result_t *want = malloc (sizeof *want);
    _assert_true (want != NULL, "malloc", file, line);
    s_result (want, job, seq, status);
    _assert_int_equal (r->status, status, file, line);
    _assert_int_equal (r->exit_code, want->in.exit_code, file, line);
    _assert_int_equal (r->duration_ms, want->in.duration_ms, file, line);
    _assert_int_equal (r->output_truncated, want->in.output_truncated, file, line);
    _assert_string_equal (r->worker, want->worker, file, line);
    _assert_int_equal (r->output_size, want->in.output_size, file, line);
    _assert_int_equal (r->stderr_size, want->in.err_size, file, line);
    _assert_memory_equal (r->data, want->output, r->output_size, file, line);
    _assert_memory_equal (r->data + r->output_size, want->err, r->stderr_size, file, line);
    free (want);
}

//  Sends the next result of job from the replayed table and checks it is
//  job/seq's, DONE before the send, with the result s_result made and
//  `runs` runs.
#define EXPECT_RESULT(fx, job, seq, status, runs)                                                  \
    s_expect_result ((fx), (job), (seq), (status), (runs), __FILE__, __LINE__)

static sl_task_t *s_next_result (fixture_t *fx, const char *job, uint64_t seq, unsigned runs,
                                 const char *file, int line)
{
    sl_job_t *j = sl_table_job (fx->table, job);
    _assert_true (j != NULL, "job in the replayed table", file, line);
    sl_task_t *task = sl_table_send_next (fx->table, j);
    _assert_true (task != NULL, "a result was deliverable", file, line);
    _assert_string_equal (sl_job_id (sl_task_job (task)), job, file, line);
    _assert_int_equal (sl_task_seq (task), seq, file, line);
    _assert_int_equal (task->state, SL_TASK_SENT, file, line);
    _assert_int_equal (sl_task_runs (task), runs, file, line);
    _assert_true (sl_task_payload (task) == NULL, "sl_task_payload (task) == NULL", file, line);
    _assert_true (sl_task_result (task) != NULL, "sl_task_result (task) != NULL", file, line);
    return task;
}

static void s_expect_result (fixture_t *fx, const char *job, uint64_t seq, uint8_t status,
                             unsigned runs, const char *file, int line)
{
    sl_task_t *task = s_next_result (fx, job, seq, runs, file, line);
    s_check_result (sl_task_result (task), job, seq, status, file, line);
}

//  The same for the result the table makes for a task lost too often.
#define EXPECT_LOST_RESULT(fx, job, seq, runs, losses, worker)                                     \
    s_expect_lost_result ((fx), (job), (seq), (runs), (losses), (worker), __FILE__, __LINE__)

static void s_expect_lost_result (fixture_t *fx, const char *job, uint64_t seq, unsigned runs,
                                  unsigned losses, const char *worker, const char *file, int line)
{
    sl_task_t *task = s_next_result (fx, job, seq, runs, file, line);
    const sl_result_t *r = sl_task_result (task);
    char why [200];
    snprintf (why, sizeof why, "lost: the worker running it vanished or went silent %u times",
              losses);
    _assert_int_equal (r->status, SL_STATUS_FAILED, file, line);
    _assert_int_equal (r->exit_code, -1, file, line);
    _assert_int_equal (r->duration_ms, 0, file, line);
    _assert_int_equal (r->output_truncated, false, file, line);
    _assert_string_equal (r->worker, worker, file, line);
    _assert_int_equal (r->output_size, 0, file, line);
    _assert_int_equal (r->stderr_size, strlen (why), file, line);
    _assert_memory_equal (r->data, why, strlen (why), file, line);
}

//  Checks that job has no more results to send.
#define EXPECT_NO_RESULT(fx, job)                                                                  \
    _assert_true (sl_table_send_next ((fx)->table, s_job ((fx), (job))) == NULL,                   \
                  "no more results", __FILE__, __LINE__)

//  Checks which tasks of job are DELIVERED: states has one character per
//  seq from 1, 'L' for DELIVERED, '-' for a task that never arrived, '.'
//  for any other state. Only a DELIVERED task takes a result back
//  (sl_table_redeliver); those that did are then sent in seq order with
//  the result they were given, and the payload they no longer hold.
#define CHECK_DELIVERED(fx, job, states)                                                           \
    s_check_delivered ((fx), (job), (states), __FILE__, __LINE__)

static void s_check_delivered (fixture_t *fx, const char *job, const char *states, const char *file,
                               int line)
{
    sl_job_t *j = sl_table_job (fx->table, job);
    _assert_true (j != NULL, "job in the replayed table", file, line);
    sl_result_in_t again = { .status = SL_STATUS_OK,
                             .worker = "again:1",
                             .output = (const uint8_t *) "again",
                             .output_size = 5 };
    size_t n = strlen (states);
    size_t redelivered = 0;
    for (uint64_t seq = 1; seq <= n; seq++) {
        char state = states [seq - 1];
        sl_table_rc_t want = state == 'L'   ? SL_TABLE_OK
                             : state == '-' ? SL_TABLE_INVALID
                                            : SL_TABLE_DUPLICATE;
        sl_table_rc_t rc = sl_table_redeliver (fx->table, job, seq, &again);
        _assert_int_equal (rc, want, file, line);
        redelivered += rc == SL_TABLE_OK;
    }
    for (uint64_t seq = 1; seq <= n; seq++) {
        if (states [seq - 1] != 'L')
            continue;
        sl_task_t *task = sl_table_send_next (fx->table, j);
        _assert_true (task != NULL, "a redelivered result", file, line);
        _assert_int_equal (sl_task_seq (task), seq, file, line);
        _assert_true (sl_task_payload (task) == NULL, "sl_task_payload (task) == NULL", file, line);
        _assert_int_equal (sl_task_result (task)->output_size, 5, file, line);
        _assert_memory_equal (sl_task_result (task)->data, "again", 5, file, line);
        _assert_string_equal (sl_task_result (task)->worker, "again:1", file, line);
        redelivered--;
    }
    _assert_int_equal (redelivered, 0, file, line);
}

//  --- Tests -------------------------------------------------------------------

static void test_durable_empty_journal_replays_nothing (void **state)
{
    fixture_t *fx = *state;
    s_recover (fx);
    assert_int_equal (sl_table_job_count (fx->table), 0);
    CHECK_TABLE (fx->table, 0, 0, 0, 0);
    assert_int_equal (fx->ndone, 0);
    assert_int_equal (sl_journal_torn_bytes (fx->journal), 0);
}

//  Tasks only submitted come back QUEUED in the order they were journaled,
//  each with its payload, timeout and retries (clamped to 100 as at
//  intake); a batch resent by the ventilator journals only its new tasks.
static void test_durable_submitted_tasks_replay_queued (void **state)
{
    fixture_t *fx = *state;
    assert_int_equal (s_submit (fx, "a", 5, 8, 2), 4);
    assert_int_equal (s_submit (fx, "a", 1, 4, 0), 4);
    assert_int_equal (s_submit (fx, "b", 1, 3, 250), 3);
    assert_int_equal (s_submit (fx, "a", 3, 10, 1), 2); //  only 9 and 10 are new
    s_recover (fx);
    assert_int_equal (s_records (fx, 1), 4);

    assert_int_equal (sl_table_job_count (fx->table), 2);
    CHECK_TABLE (fx->table, 13, 0, 0, 0);
    CHECK_JOB (s_job (fx, "a"), .received = 10, .queued = 10);
    CHECK_JOB (s_job (fx, "b"), .received = 3, .queued = 3);
    assert_false (sl_job_finished (s_job (fx, "a")));
    for (uint64_t seq = 5; seq <= 8; seq++)
        EXPECT_QUEUED (fx, "a", seq, 2);
    for (uint64_t seq = 1; seq <= 4; seq++)
        EXPECT_QUEUED (fx, "a", seq, 0);
    for (uint64_t seq = 1; seq <= 3; seq++)
        EXPECT_QUEUED (fx, "b", seq, 100);
    EXPECT_QUEUED (fx, "a", 9, 1);
    EXPECT_QUEUED (fx, "a", 10, 1);
    EXPECT_NONE_QUEUED (fx);
    EXPECT_NO_RESULT (fx, "a");
    CHECK_DELIVERED (fx, "a", "..........-");
    assert_int_equal (fx->ndone, 0);
}

//  Tasks RUNNING at the crash (dispatched, claimed, failed once and run
//  again, handed back) have no result record: they come back QUEUED, in
//  the order they were journaled, as if never run. What their runs did is
//  not journaled, so a failed run with retries left is forgotten too.
static void test_durable_running_tasks_replay_queued (void **state)
{
    fixture_t *fx = *state;
    s_submit (fx, "r", 1, 6, 1);
    const char *holder = sl_table_intern (fx->live, "w1:1");
    for (uint64_t seq = 1; seq <= 6; seq++)
        s_live_dispatch (fx, "r", seq, 1000, holder);
    assert_int_equal (sl_table_claim (fx->live, "r", 1, 1, holder, 90000), SL_TABLE_OK);
    assert_int_equal (s_complete (fx, "r", 2, 1, SL_STATUS_FAILED), SL_TABLE_RETRY);
    s_live_dispatch (fx, "r", 2, 2000, holder);
    assert_int_equal (sl_table_release (fx->live, "r", 3, 1), SL_TABLE_OK);
    assert_int_equal (sl_table_running (fx->live), 5);
    s_recover (fx);

    CHECK_TABLE (fx->table, 6, 0, 0, 0);
    CHECK_JOB (s_job (fx, "r"), .received = 6, .queued = 6);
    for (uint64_t seq = 1; seq <= 6; seq++)
        EXPECT_QUEUED (fx, "r", seq, 1);
    EXPECT_NONE_QUEUED (fx);
    CHECK_TABLE (fx->table, 0, 6, 0, 0);
}

//  Final results come back DONE and deliverable, in the order they were
//  reached, with every byte and field of the result; the tasks without a
//  result are QUEUED. The results are not reported again for the journal.
static void test_durable_done_results_replay_deliverable (void **state)
{
    fixture_t *fx = *state;
    s_submit (fx, "a", 1, 12, 0);
    s_end (fx, "a", 12);
    assert_int_equal (s_live_dispatch_all (fx), 12);
    const uint64_t order [] = { 7, 3, 1, 12, 10, 5 };
    const uint8_t status [] = { SL_STATUS_OK,      SL_STATUS_FAILED, SL_STATUS_OK,
                                SL_STATUS_TIMEOUT, SL_STATUS_OK,     SL_STATUS_FAILED };
    for (size_t i = 0; i < 6; i++)
        assert_int_equal (s_complete (fx, "a", order [i], 1, status [i]), SL_TABLE_OK);
    s_recover (fx);
    //  Tasks, end, and two ResultBatch records (4 + 2 results).
    assert_int_equal (s_records (fx, 1), 4);

    CHECK_TABLE (fx->table, 6, 0, 6, 0);
    CHECK_JOB (s_job (fx, "a"), .received = 12, .total = 12, .total_known = true, .queued = 6,
               .done = 6, .ok = 3, .failed = 2, .timeout = 1);
    assert_int_equal (sl_table_deliverable (fx->table, s_job (fx, "a")), 6);
    for (size_t i = 0; i < 6; i++)
        EXPECT_RESULT (fx, "a", order [i], status [i], 1);
    EXPECT_NO_RESULT (fx, "a");
    const uint64_t queued [] = { 2, 4, 6, 8, 9, 11 };
    for (size_t i = 0; i < 6; i++)
        EXPECT_QUEUED (fx, "a", queued [i], 0);
    EXPECT_NONE_QUEUED (fx);
    CHECK_DELIVERED (fx, "a", "............-");
}

//  A result keeps the runs its task took (Result.attempts): a retried
//  failure, failures to the last retry, a run handed back uncounted, and
//  the failed results the table makes for tasks lost too often, claimed
//  (4 runs) or never claimed (0 runs, no worker).
static void test_durable_results_keep_their_runs (void **state)
{
    fixture_t *fx = *state;
    s_submit (fx, "r", 1, 6, 2);
    s_live_dispatch (fx, "r", 1, 1000, NULL);
    assert_int_equal (s_complete (fx, "r", 1, 1, SL_STATUS_OK), SL_TABLE_OK);

    s_live_dispatch (fx, "r", 2, 1000, NULL);
    assert_int_equal (s_complete (fx, "r", 2, 1, SL_STATUS_FAILED), SL_TABLE_RETRY);
    s_live_dispatch (fx, "r", 2, 1000, NULL);
    assert_int_equal (s_complete (fx, "r", 2, 2, SL_STATUS_TIMEOUT), SL_TABLE_RETRY);
    s_live_dispatch (fx, "r", 2, 1000, NULL);
    assert_int_equal (s_complete (fx, "r", 2, 3, SL_STATUS_OK), SL_TABLE_OK);

    for (uint32_t run = 1; run <= 3; run++) {
        s_live_dispatch (fx, "r", 3, 1000, NULL);
        assert_int_equal (s_complete (fx, "r", 3, run, SL_STATUS_FAILED),
                          run < 3 ? SL_TABLE_RETRY : SL_TABLE_OK);
    }

    s_live_dispatch (fx, "r", 4, 1000, NULL);
    assert_int_equal (sl_table_release (fx->live, "r", 4, 1), SL_TABLE_OK);
    s_live_dispatch (fx, "r", 4, 1000, NULL);
    assert_int_equal (s_complete (fx, "r", 4, 2, SL_STATUS_OK), SL_TABLE_OK);

    //  Lost with its worker 4 times: more than max(retries, 3).
    const char *w4 = NULL;
    for (unsigned i = 1; i <= 4; i++) {
        char name [16];
        snprintf (name, sizeof name, "w%u:1", i);
        const char *holder = sl_table_intern (fx->live, name);
        s_live_dispatch (fx, "r", 5, 1000, holder);
        assert_int_equal (sl_table_worker_lost (fx->live, holder), 1);
        w4 = holder;
    }
    //  Dispatched 4 times and never claimed before its lease ran out: no
    //  run counts.
    for (int64_t now = 1000, i = 0; i < 4; i++, now += LEASE) {
        s_live_dispatch (fx, "r", 6, now, NULL);
        assert_int_equal (sl_table_expire (fx->live, now + LEASE), 1);
    }
    CHECK_TABLE (fx->live, 0, 0, 6, 0);
    s_recover (fx);

    CHECK_TABLE (fx->table, 0, 0, 6, 0);
    CHECK_JOB (s_job (fx, "r"), .received = 6, .done = 6, .ok = 3, .failed = 3);
    EXPECT_RESULT (fx, "r", 1, SL_STATUS_OK, 1);
    EXPECT_RESULT (fx, "r", 2, SL_STATUS_OK, 3);
    EXPECT_RESULT (fx, "r", 3, SL_STATUS_FAILED, 3);
    EXPECT_RESULT (fx, "r", 4, SL_STATUS_OK, 1);
    EXPECT_LOST_RESULT (fx, "r", 5, 4, 4, w4);
    EXPECT_LOST_RESULT (fx, "r", 6, 0, 4, "");
    EXPECT_NO_RESULT (fx, "r");
    EXPECT_NONE_QUEUED (fx);
}

//  Results sent to the sink but not acknowledged at the crash are DONE
//  again (delivered again, in the order they were reached); acknowledged
//  ones are DELIVERED, their result freed.
static void test_durable_sent_unacked_results_replay_done (void **state)
{
    fixture_t *fx = *state;
    s_submit (fx, "s", 1, 6, 0);
    s_end (fx, "s", 6);
    s_live_dispatch_all (fx);
    for (uint64_t seq = 6; seq >= 1; seq--)
        assert_int_equal (s_complete (fx, "s", seq, 1, SL_STATUS_OK), SL_TABLE_OK);
    s_commit (fx);
    s_send (fx, "s", 4); //  6, 5, 4, 3
    const uint64_t acked [] = { 6, 4 };
    s_ack (fx, "s", acked, 2);
    CHECK_TABLE (fx->live, 0, 0, 2, 2);
    s_recover (fx);

    CHECK_TABLE (fx->table, 0, 0, 4, 0);
    CHECK_JOB (s_job (fx, "s"), .received = 6, .total = 6, .total_known = true, .done = 6,
               .delivered = 2, .ok = 6);
    assert_false (sl_job_finished (s_job (fx, "s")));
    assert_int_equal (sl_table_ack (fx->table, "s", 5), SL_TABLE_DUPLICATE); //  not SENT now
    EXPECT_RESULT (fx, "s", 5, SL_STATUS_OK, 1);
    EXPECT_RESULT (fx, "s", 3, SL_STATUS_OK, 1);
    EXPECT_RESULT (fx, "s", 2, SL_STATUS_OK, 1);
    EXPECT_RESULT (fx, "s", 1, SL_STATUS_OK, 1);
    EXPECT_NO_RESULT (fx, "s");
    EXPECT_NONE_QUEUED (fx);
    CHECK_DELIVERED (fx, "s", "...L.L-");
}

//  Acknowledgements over several records, of results sent in several
//  rounds: every acknowledged task is DELIVERED, the rest deliverable.
static void test_durable_acked_results_replay_delivered (void **state)
{
    fixture_t *fx = *state;
    enum { N = 40 };
    s_submit (fx, "d", 1, N, 0);
    s_live_dispatch_all (fx);
    for (uint64_t seq = 1; seq <= N; seq++)
        assert_int_equal (s_complete (fx, "d", seq, 1, SL_STATUS_OK), SL_TABLE_OK);
    s_end (fx, "d", N);
    s_commit (fx);
    s_send (fx, "d", N);
    uint64_t acks [N];
    size_t n = 0;
    for (uint64_t seq = N; seq >= 1; seq--)
        if (seq != 17 && seq != 33)
            acks [n++] = seq;
    s_ack (fx, "d", acks, 10);
    s_ack (fx, "d", acks + 10, 1);
    s_ack (fx, "d", acks + 11, n - 11);
    s_recover (fx);

    CHECK_TABLE (fx->table, 0, 0, 2, 0);
    CHECK_JOB (s_job (fx, "d"), .received = N, .total = N, .total_known = true, .done = N,
               .delivered = N - 2, .ok = N);
    assert_false (sl_job_finished (s_job (fx, "d")));
    assert_int_equal (sl_table_ack (fx->table, "d", 1), SL_TABLE_DUPLICATE);
    EXPECT_RESULT (fx, "d", 17, SL_STATUS_OK, 1);
    EXPECT_RESULT (fx, "d", 33, SL_STATUS_OK, 1);
    EXPECT_NO_RESULT (fx, "d");
    char states [N + 2];
    for (uint64_t seq = 1; seq <= N; seq++)
        states [seq - 1] = seq == 17 || seq == 33 ? '.' : 'L';
    states [N] = '-';
    states [N + 1] = '\0';
    CHECK_DELIVERED (fx, "d", states);
    CHECK_JOB (s_job (fx, "d"), .received = N, .total = N, .total_known = true, .done = N, .ok = N);
}

//  JobEnd makes the total known, before or after the tasks; a job whose
//  every result was acknowledged but whose JobDone was not journaled yet
//  comes back finished (for the broker to announce); an empty job too.
static void test_durable_job_end_makes_total_known (void **state)
{
    fixture_t *fx = *state;
    s_end (fx, "e1", 5);
    s_submit (fx, "e1", 1, 5, 0);
    s_submit (fx, "e2", 1, 3, 0);
    s_end (fx, "e2", 3);
    s_submit (fx, "e3", 1, 4, 0);
    s_end (fx, "e4", 0);
    s_submit (fx, "f", 1, 2, 0);
    s_end (fx, "f", 2);
    while (sl_table_dispatch (fx->live, 1000, LEASE, NULL))
        ;
    assert_int_equal (s_complete (fx, "f", 2, 1, SL_STATUS_OK), SL_TABLE_OK);
    assert_int_equal (s_complete (fx, "f", 1, 1, SL_STATUS_TIMEOUT), SL_TABLE_OK);
    s_commit (fx);
    s_send (fx, "f", 2);
    const uint64_t acked [] = { 1, 2 };
    s_ack (fx, "f", acked, 2);
    assert_true (sl_job_finished (sl_table_job (fx->live, "f")));
    s_recover (fx);

    assert_int_equal (sl_table_job_count (fx->table), 5);
    CHECK_TABLE (fx->table, 12, 0, 0, 0);
    CHECK_JOB (s_job (fx, "e1"), .received = 5, .total = 5, .total_known = true, .queued = 5);
    CHECK_JOB (s_job (fx, "e2"), .received = 3, .total = 3, .total_known = true, .queued = 3);
    CHECK_JOB (s_job (fx, "e3"), .received = 4, .queued = 4);
    CHECK_JOB (s_job (fx, "e4"), .total_known = true);
    CHECK_JOB (s_job (fx, "f"), .received = 2, .total = 2, .total_known = true, .done = 2,
               .delivered = 2, .ok = 1, .timeout = 1);
    assert_false (sl_job_finished (s_job (fx, "e1")));
    assert_false (sl_job_finished (s_job (fx, "e2")));
    assert_false (sl_job_finished (s_job (fx, "e3")));
    assert_true (sl_job_finished (s_job (fx, "e4")));
    assert_true (sl_job_finished (s_job (fx, "f")));
    //  The total holds: a task beyond it is refused, a different total too.
    assert_int_equal (sl_table_submit (fx->table, "e1", 6, NULL, 0, 0, 0), SL_TABLE_INVALID);
    assert_int_equal (sl_table_end (fx->table, "e2", 4), SL_TABLE_INVALID);
    assert_int_equal (sl_table_end (fx->table, "e3", 4), SL_TABLE_OK);
    assert_int_equal (fx->ndone, 0);
    //  Arrival order is the order of the jobs' first records.
    const char *order [] = { "e1", "e2", "e3", "e4", "f" };
    sl_job_t *job = sl_table_job_first (fx->table);
    for (size_t i = 0; i < 5; i++, job = sl_table_job_next (fx->table)) {
        assert_non_null (job);
        assert_string_equal (sl_job_id (job), order [i]);
    }
    assert_null (job);
}

//  JobDone retires the job from the table and reports it, with its counts
//  and finished_at; the JobDone records carried into a new segment for
//  jobs already retired (one never seen in this journal) are reported too.
//  Other jobs are untouched.
static void test_durable_job_done_retires_job_and_reports_it (void **state)
{
    fixture_t *fx = *state;
    s_submit (fx, "x", 1, 5, 0);
    s_submit (fx, "y", 1, 2, 3);
    s_end (fx, "x", 5);
    //  x's tasks are dispatched; y's stay queued.
    for (uint64_t seq = 1; seq <= 5; seq++)
        s_live_dispatch (fx, "x", seq, 1000, NULL);
    const uint8_t status [] = { SL_STATUS_OK, SL_STATUS_FAILED, SL_STATUS_OK, SL_STATUS_TIMEOUT,
                                SL_STATUS_FAILED };
    for (uint64_t seq = 1; seq <= 5; seq++)
        assert_int_equal (s_complete (fx, "x", seq, 1, status [seq - 1]), SL_TABLE_OK);
    s_commit (fx);
    s_send (fx, "x", 5);
    const uint64_t acked [] = { 3, 1, 5, 4, 2 };
    s_ack (fx, "x", acked, 5);
    s_job_done (fx, "x", FINISHED_AT);
    assert_int_equal (s_rotate (fx), 2);
    //  The broker carries the finished jobs it remembers into the segment.
    sl_job_counts_t x_counts = { .received = 5,
                                 .total = 5,
                                 .total_known = true,
                                 .done = 5,
                                 .delivered = 5,
                                 .ok = 2,
                                 .failed = 2,
                                 .timeout = 1 };
    //  Its seqs 2 and 4-5 did not end ok (and there were more ranges).
    uint64_t x_failed [] = { 2, 2, 4, 5 };
    sl_failed_t failed = { x_failed, 2, true };
    s_appended (fx, sl_durable_job_done (fx->journal, "x", &x_counts, FINISHED_AT, &failed, fx->err,
                                         sizeof fx->err));
    sl_job_counts_t old_counts = { .total = 9, .ok = 5, .failed = 1, .timeout = 3 };
    s_appended (fx, sl_durable_job_done (fx->journal, "old", &old_counts, FINISHED_AT - 86400000,
                                         NULL, fx->err, sizeof fx->err));
    s_recover (fx);
    //  Tasks x, tasks y, end x, results x (4 + 1), ack, JobDone; 2 JobDone.
    assert_int_equal (fx->records [1], 7);
    assert_int_equal (fx->records [2], 2);

    assert_int_equal (sl_table_job_count (fx->table), 1);
    assert_null (sl_table_job (fx->table, "x"));
    assert_null (sl_table_job (fx->table, "old"));
    CHECK_TABLE (fx->table, 2, 0, 0, 0);
    CHECK_JOB (s_job (fx, "y"), .received = 2, .queued = 2);
    assert_int_equal (sl_table_redeliver (fx->table, "x", 1, &(sl_result_in_t){ 0 }),
                      SL_TABLE_INVALID);
    EXPECT_QUEUED (fx, "y", 1, 3);
    EXPECT_QUEUED (fx, "y", 2, 3);
    EXPECT_NONE_QUEUED (fx);

    assert_int_equal (fx->ndone, 3);
    for (size_t i = 0; i < 2; i++) {
        assert_string_equal (fx->done [i].job, "x");
        CHECK_COUNTS (&fx->done [i].counts, .received = 5, .total = 5, .total_known = true,
                      .done = 5, .delivered = 5, .ok = 2, .failed = 2, .timeout = 1);
        assert_int_equal (fx->done [i].finished_at, FINISHED_AT);
    }
    //  The first JobDone of x had no failed list (written before); the
    //  one the rotation carried has it.
    assert_int_equal (fx->done [0].nfailed, 0);
    assert_int_equal (fx->done [1].nfailed, 2);
    assert_memory_equal (fx->done [1].failed, x_failed, sizeof x_failed);
    assert_true (fx->done [1].failed_truncated);
    assert_string_equal (fx->done [2].job, "old");
    CHECK_COUNTS (&fx->done [2].counts, .received = 9, .total = 9, .total_known = true, .done = 9,
                  .delivered = 9, .ok = 5, .failed = 1, .timeout = 3);
    assert_int_equal (fx->done [2].finished_at, FINISHED_AT - 86400000);
}

//  Replay without on_done still retires the job.
static void test_durable_job_done_without_callback_retires (void **state)
{
    fixture_t *fx = *state;
    s_submit (fx, "x", 1, 1, 0);
    s_end (fx, "x", 1);
    s_live_dispatch_all (fx);
    assert_int_equal (s_complete (fx, "x", 1, 1, SL_STATUS_OK), SL_TABLE_OK);
    s_commit (fx);
    s_send (fx, "x", 1);
    const uint64_t acked [] = { 1 };
    s_ack (fx, "x", acked, 1);
    s_job_done (fx, "x", FINISHED_AT);
    s_crash (fx);
    fx->journal = s_journal_open (fx);
    fx->table = sl_table_new ();
    assert_non_null (fx->table);
    assert_int_equal (
        sl_durable_replay (fx->journal, fx->table, NULL, NULL, fx->err, sizeof fx->err), 5);
    assert_int_equal (sl_table_job_count (fx->table), 0);
    CHECK_TABLE (fx->table, 0, 0, 0, 0);
}

//  Results and acknowledgements of a job whose TaskBatch records are not
//  in the journal (its segment deleted), or of seqs a known job never got,
//  are ignored: no job is made up, nothing changes, nothing crashes.
static void test_durable_results_of_unknown_tasks_are_ignored (void **state)
{
    fixture_t *fx = *state;
    s_submit (fx, "k", 1, 3, 0);
    //  Another table holds the tasks the journal lacks: ghost/1..3, k/8..9.
    sl_table_t *other = sl_table_new ();
    assert_non_null (other);
    s_submit_unjournaled (other, "ghost", 1, 3);
    s_submit_unjournaled (other, "k", 8, 9);
    sl_table_t *live = fx->live;
    fx->live = other;
    s_live_dispatch_all (fx);
    for (uint64_t seq = 1; seq <= 3; seq++)
        assert_int_equal (s_complete (fx, "ghost", seq, 1, SL_STATUS_OK), SL_TABLE_OK);
    assert_int_equal (s_complete (fx, "k", 9, 1, SL_STATUS_OK), SL_TABLE_OK);
    assert_int_equal (s_complete (fx, "k", 8, 1, SL_STATUS_FAILED), SL_TABLE_OK);
    s_commit (fx);
    s_send (fx, "ghost", 3);
    s_send (fx, "k", 2);
    const uint64_t ghost_acked [] = { 1, 2, 3 };
    s_ack (fx, "ghost", ghost_acked, 3);
    const uint64_t k_acked [] = { 9 };
    s_ack (fx, "k", k_acked, 1);
    fx->live = live;
    sl_table_destroy (&other);
    s_recover (fx);
    //  k's tasks; results of ghost, of k; acknowledgements of ghost, of k.
    assert_int_equal (s_records (fx, 1), 5);

    assert_int_equal (sl_table_job_count (fx->table), 1);
    assert_null (sl_table_job (fx->table, "ghost"));
    CHECK_TABLE (fx->table, 3, 0, 0, 0);
    CHECK_JOB (s_job (fx, "k"), .received = 3, .queued = 3);
    EXPECT_NO_RESULT (fx, "k");
    for (uint64_t seq = 1; seq <= 3; seq++)
        EXPECT_QUEUED (fx, "k", seq, 0);
    EXPECT_NONE_QUEUED (fx);
    CHECK_DELIVERED (fx, "k", "...------");
    assert_int_equal (fx->ndone, 0);
}

//  A record of a type this version does not know stops replay with a
//  message naming the type and the segment.
static void test_durable_unknown_record_type_fails (void **state)
{
    fixture_t *fx = *state;
    s_submit (fx, "a", 1, 2, 0);
    assert_int_equal (s_rotate (fx), 2);
    s_submit (fx, "a", 3, 3, 0);
    assert_int_equal (sl_journal_append (fx->journal, 6, (const uint8_t *) "\x08\x01", 2, fx->err,
                                         sizeof fx->err),
                      0);
    s_submit (fx, "a", 4, 4, 0);
    s_crash (fx);
    assert_int_equal (s_replay (fx), -1);
    assert_string_equal (fx->err,
                         "journal record of unknown type 6 in segment 2 (written by a newer "
                         "sluice?)");
    assert_int_equal (fx->ndone, 0);
}

//  A record of a known type whose bytes do not decode stops replay with a
//  message naming the type and the segment, whatever the type.
static void test_durable_undecodable_record_fails (void **state)
{
    fixture_t *fx = *state;
    //  Field 1 (the job id of every record) said to be 127 bytes long, and
    //  cut after 3.
    const uint8_t garbage [] = { 0x0a, 0x7f, 'a', 'b', 'c' };
    for (uint8_t type = SL_REC_TASKS; type <= SL_REC_JOB_DONE; type++) {
        char name [16];
        snprintf (name, sizeof name, "t%u", type);
        s_start (fx, name);
        s_submit (fx, "a", 1, 2, 0);
        assert_int_equal (
            sl_journal_append (fx->journal, type, garbage, sizeof garbage, fx->err, sizeof fx->err),
            0);
        s_crash (fx);
        assert_int_equal (s_replay (fx), -1);
        //  Which record, where, and what it was meant to be.
        char want [200];
        snprintf (want, sizeof want,
                  "journal record of type %u in segment 1 cannot be decoded: undecodable message "
                  "of %zu bytes (not a sluice.",
                  type, sizeof garbage);
        assert_memory_equal (fx->err, want, strlen (want));
        assert_non_null (strstr (fx->err, "(written by a newer sluice?)"));
    }
}

//  A last record cut short by a crash (the segment file truncated by a
//  few bytes) is dropped; every record before it is replayed, and the
//  broker goes on journaling from there.
static void test_durable_torn_tail_recovers_records_before_it (void **state)
{
    fixture_t *fx = *state;
    s_submit (fx, "t", 1, 8, 0);
    s_end (fx, "t", 8);
    s_live_dispatch_all (fx);
    assert_int_equal (s_complete (fx, "t", 1, 1, SL_STATUS_OK), SL_TABLE_OK);
    assert_int_equal (s_complete (fx, "t", 2, 1, SL_STATUS_FAILED), SL_TABLE_OK);
    s_commit (fx);
    s_send (fx, "t", 1);
    const uint64_t acked [] = { 1 };
    s_ack (fx, "t", acked, 1);
    s_commit (fx);
    uint64_t before = sl_journal_total_bytes (fx->journal);
    //  The last record: results of 3 and BIG_SEQ.
    assert_int_equal (s_complete (fx, "t", 3, 1, SL_STATUS_OK), SL_TABLE_OK);
    assert_int_equal (s_complete (fx, "t", BIG_SEQ, 1, SL_STATUS_OK), SL_TABLE_OK);
    s_commit (fx);
    uint64_t last = sl_journal_total_bytes (fx->journal) - before;
    assert_true (last > BIG_SIZE);
    s_crash (fx);

    char path [PATH_SIZE];
    snprintf (path, sizeof path, "%s/journal-%016d.wal", fx->dir, 1);
    struct stat st;
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal ((uint64_t) st.st_size, before + last);
    assert_int_equal (truncate (path, st.st_size - 3), 0);

    int64_t rc = s_replay (fx);
    if (rc < 0)
        fail_msg ("sl_durable_replay: %s", fx->err);
    assert_int_equal (rc, s_records (fx, 1) - 1);
    assert_int_equal (sl_journal_torn_bytes (fx->journal), last - 3);
    CHECK_TABLE (fx->table, 6, 0, 1, 0);
    CHECK_JOB (s_job (fx, "t"), .received = 8, .total = 8, .total_known = true, .queued = 6,
               .done = 2, .delivered = 1, .ok = 1, .failed = 1);

    //  The broker goes on: runs 3 and BIG_SEQ again, journals their results.
    s_go_on (fx);
    fx->records [1]--;
    for (uint64_t seq = 3; seq <= 8; seq++) {
        s_live_dispatch (fx, "t", seq, 5000, NULL);
        if (seq == 3 || seq == BIG_SEQ)
            assert_int_equal (s_complete (fx, "t", seq, 1, SL_STATUS_TIMEOUT), SL_TABLE_OK);
    }
    s_recover (fx);
    assert_int_equal (sl_journal_torn_bytes (fx->journal), 0);
    CHECK_TABLE (fx->table, 4, 0, 3, 0);
    CHECK_JOB (s_job (fx, "t"), .received = 8, .total = 8, .total_known = true, .queued = 4,
               .done = 4, .delivered = 1, .ok = 1, .failed = 1, .timeout = 2);
    EXPECT_RESULT (fx, "t", 2, SL_STATUS_FAILED, 1);
    EXPECT_RESULT (fx, "t", 3, SL_STATUS_TIMEOUT, 1);
    EXPECT_RESULT (fx, "t", BIG_SEQ, SL_STATUS_TIMEOUT, 1);
    EXPECT_NO_RESULT (fx, "t");
    const uint64_t queued [] = { 4, 5, 6, 8 };
    for (size_t i = 0; i < 4; i++)
        EXPECT_QUEUED (fx, "t", queued [i], 0);
    EXPECT_NONE_QUEUED (fx);
    CHECK_DELIVERED (fx, "t", "L.......-");
}

//  A job's records spread over three segments replay in order: tasks in
//  the first, results and acknowledgements in the later ones.
static void test_durable_records_across_rotation_replay_in_order (void **state)
{
    fixture_t *fx = *state;
    s_submit (fx, "a", 1, 4, 0);
    s_end (fx, "a", 4);
    s_live_dispatch_all (fx);
    assert_int_equal (s_complete (fx, "a", 1, 1, SL_STATUS_OK), SL_TABLE_OK);
    assert_int_equal (s_complete (fx, "a", 2, 1, SL_STATUS_OK), SL_TABLE_OK);
    assert_int_equal (s_rotate (fx), 2);

    s_end (fx, "b", 2);
    s_submit (fx, "b", 1, 2, 1);
    assert_int_equal (s_complete (fx, "a", 3, 1, SL_STATUS_FAILED), SL_TABLE_OK);
    s_commit (fx);
    s_send (fx, "a", 2);
    const uint64_t ack1 [] = { 1 };
    s_ack (fx, "a", ack1, 1);
    assert_int_equal (s_rotate (fx), 3);

    assert_int_equal (s_complete (fx, "a", 4, 1, SL_STATUS_OK), SL_TABLE_OK);
    s_commit (fx);
    s_send (fx, "a", 1); //  3
    const uint64_t ack2 [] = { 2, 3 };
    s_ack (fx, "a", ack2, 2);
    s_submit (fx, "c", 1, 1, 0);
    s_recover (fx);
    assert_int_equal (fx->records [1], 3);
    assert_int_equal (fx->records [2], 4);
    assert_int_equal (fx->records [3], 3);
    assert_int_equal (sl_journal_segment (fx->journal), 3);

    assert_int_equal (sl_table_job_count (fx->table), 3);
    CHECK_TABLE (fx->table, 3, 0, 1, 0);
    CHECK_JOB (s_job (fx, "a"), .received = 4, .total = 4, .total_known = true, .done = 4,
               .delivered = 3, .ok = 3, .failed = 1);
    CHECK_JOB (s_job (fx, "b"), .received = 2, .total = 2, .total_known = true, .queued = 2);
    CHECK_JOB (s_job (fx, "c"), .received = 1, .queued = 1);
    assert_int_equal (sl_job_tag (s_job (fx, "a")), 1);
    assert_int_equal (sl_job_tag (s_job (fx, "b")), 2);
    assert_int_equal (sl_job_tag (s_job (fx, "c")), 3);
    EXPECT_RESULT (fx, "a", 4, SL_STATUS_OK, 1);
    EXPECT_NO_RESULT (fx, "a");
    EXPECT_QUEUED (fx, "b", 1, 1);
    EXPECT_QUEUED (fx, "b", 2, 1);
    EXPECT_QUEUED (fx, "c", 1, 0);
    EXPECT_NONE_QUEUED (fx);
    CHECK_DELIVERED (fx, "a", "LLL.-");
}

//  What sl_durable_scan_results expects of each result, in order.
typedef struct {
    const char *job;
    const uint64_t *seqs;
    const uint8_t *status;
    size_t n;
    size_t seen;
} scan_want_t;

static void s_on_result (const char *job, Sluice__Result *r, void *arg)
{
    scan_want_t *want = arg;
    assert_string_equal (job, want->job);
    assert_true (want->seen < want->n);
    uint64_t seq = want->seqs [want->seen];
    uint8_t status = want->status [want->seen];
    want->seen++;
    result_t *expect = malloc (sizeof *expect);
    assert_non_null (expect);
    s_result (expect, job, seq, status);
    assert_int_equal (r->seq, seq);
    assert_int_equal (r->status, status);
    assert_int_equal (r->exit_code, expect->in.exit_code);
    assert_int_equal (r->attempts, 1);
    assert_string_equal (r->worker, expect->worker);
    assert_int_equal (r->duration_ms, expect->in.duration_ms);
    assert_int_equal (r->output_truncated, expect->in.output_truncated);
    assert_int_equal (r->output.len, expect->in.output_size);
    assert_memory_equal (r->output.data, expect->output, r->output.len);
    assert_int_equal (r->stderr_tail.len, expect->in.err_size);
    assert_memory_equal (r->stderr_tail.data, expect->err, r->stderr_tail.len);
    free (expect);
}

//  Scans job from segment `from` and checks it saw exactly the results of
//  want, and that it visited every record of those segments.
#define CHECK_SCAN(fx, from, job, seqs, status, n)                                                 \
    s_check_scan ((fx), (from), (job), (seqs), (status), (n), __FILE__, __LINE__)

static void s_check_scan (fixture_t *fx, uint64_t from, const char *job, const uint64_t *seqs,
                          const uint8_t *status, size_t n, const char *file, int line)
{
    scan_want_t want = { job, seqs, status, n, 0 };
    int64_t rc = sl_durable_scan_results (fx->journal, from, job, s_on_result, &want, fx->err,
                                          sizeof fx->err);
    if (rc < 0)
        fail_msg ("sl_durable_scan_results: %s", fx->err);
    _assert_int_equal (rc, s_records (fx, from), file, line);
    _assert_int_equal (want.seen, n, file, line);
}

//  sl_durable_scan_results returns exactly the results of one job, in the
//  order they were journaled, from the segments >= from only.
static void test_durable_scan_results_returns_one_job_from_segment (void **state)
{
    fixture_t *fx = *state;
    s_submit (fx, "a", 1, 8, 0);
    s_submit (fx, "ab", 1, 4, 0);
    s_live_dispatch_all (fx);
    assert_int_equal (s_complete (fx, "a", 2, 1, SL_STATUS_OK), SL_TABLE_OK);
    assert_int_equal (s_complete (fx, "a", 1, 1, SL_STATUS_FAILED), SL_TABLE_OK);
    assert_int_equal (s_complete (fx, "ab", 1, 1, SL_STATUS_OK), SL_TABLE_OK);
    assert_int_equal (s_rotate (fx), 2);
    //  Task a/10 has an empty payload and no retries: its TaskBatch is also
    //  a well-formed ResultBatch of job a (seq, then field 3), so only the
    //  record type tells it holds no result.
    s_submit (fx, "a", 10, 10, 0);
    assert_int_equal (s_complete (fx, "a", BIG_SEQ, 1, SL_STATUS_TIMEOUT), SL_TABLE_OK);
    assert_int_equal (s_complete (fx, "ab", 2, 1, SL_STATUS_OK), SL_TABLE_OK);
    assert_int_equal (s_complete (fx, "a", 3, 1, SL_STATUS_OK), SL_TABLE_OK);
    assert_int_equal (s_rotate (fx), 3);
    assert_int_equal (s_complete (fx, "a", 5, 1, SL_STATUS_OK), SL_TABLE_OK);
    assert_int_equal (s_complete (fx, "ab", 3, 1, SL_STATUS_FAILED), SL_TABLE_OK);
    s_commit (fx);
    s_send (fx, "a", 2);
    const uint64_t acked [] = { 2, 1 };
    s_ack (fx, "a", acked, 2);
    s_end (fx, "a", 10);
    s_recover (fx);
    assert_int_equal (fx->records [1], 4);
    assert_int_equal (fx->records [2], 4);
    assert_int_equal (fx->records [3], 4);

    const uint64_t a_all [] = { 2, 1, BIG_SEQ, 3, 5 };
    const uint8_t a_status [] = { SL_STATUS_OK, SL_STATUS_FAILED, SL_STATUS_TIMEOUT, SL_STATUS_OK,
                                  SL_STATUS_OK };
    CHECK_SCAN (fx, 1, "a", a_all, a_status, 5);
    CHECK_SCAN (fx, 2, "a", a_all + 2, a_status + 2, 3);
    CHECK_SCAN (fx, 3, "a", a_all + 4, a_status + 4, 1);
    CHECK_SCAN (fx, 4, "a", a_all, a_status, 0);
    const uint64_t ab_all [] = { 1, 2, 3 };
    const uint8_t ab_status [] = { SL_STATUS_OK, SL_STATUS_OK, SL_STATUS_FAILED };
    CHECK_SCAN (fx, 1, "ab", ab_all, ab_status, 3);
    CHECK_SCAN (fx, 3, "ab", ab_all + 2, ab_status + 2, 1);
    CHECK_SCAN (fx, 1, "b", ab_all, ab_status, 0);
    CHECK_SCAN (fx, 1, "", ab_all, ab_status, 0);
}

//  A job's tag is the segment of its first record (a TaskBatch or a
//  JobEnd), the same tag the broker gave it; records that make no job
//  (a result of a task not yet journaled, JobDone of a job not in the
//  table) give none.
static void test_durable_job_tag_is_segment_of_first_record (void **state)
{
    fixture_t *fx = *state;
    s_submit (fx, "p", 1, 2, 0);
    assert_int_equal (s_rotate (fx), 2);
    s_end (fx, "q", 3);
    s_submit (fx, "p", 3, 4, 0);
    //  A result of r/1 before any TaskBatch of r (from another table).
    sl_table_t *other = sl_table_new ();
    assert_non_null (other);
    s_submit_unjournaled (other, "r", 1, 1);
    sl_table_t *live = fx->live;
    fx->live = other;
    s_live_dispatch_all (fx);
    assert_int_equal (s_complete (fx, "r", 1, 1, SL_STATUS_OK), SL_TABLE_OK);
    s_journal_results (fx);
    fx->live = live;
    sl_table_destroy (&other);
    assert_int_equal (s_rotate (fx), 3);
    s_submit (fx, "q", 1, 3, 0);
    s_submit (fx, "r", 2, 2, 0);
    sl_job_counts_t counts = { .total = 1, .ok = 1 };
    s_appended (fx, sl_durable_job_done (fx->journal, "s", &counts, FINISHED_AT, NULL, fx->err,
                                         sizeof fx->err));
    assert_int_equal (sl_job_tag (sl_table_job (fx->live, "p")), 1);
    assert_int_equal (sl_job_tag (sl_table_job (fx->live, "q")), 2);
    assert_int_equal (sl_job_tag (sl_table_job (fx->live, "r")), 3);
    s_recover (fx);

    assert_int_equal (sl_table_job_count (fx->table), 3);
    assert_int_equal (sl_job_tag (s_job (fx, "p")), 1);
    assert_int_equal (sl_job_tag (s_job (fx, "q")), 2);
    assert_int_equal (sl_job_tag (s_job (fx, "r")), 3);
    assert_null (sl_table_job (fx->table, "s"));
    assert_int_equal (fx->ndone, 1);
}

//  A large job over many chunks of the table, every task in one of the
//  states, checked one by one.
static void test_durable_large_job_every_task_recovered (void **state)
{
    fixture_t *fx = *state;
    enum { N = 2500, BATCH = 250 };
    for (uint64_t first = N - BATCH + 1;; first -= BATCH) {
        s_submit (fx, "big", first, first + BATCH - 1, 0);
        if (first == 1)
            break;
    }
    s_end (fx, "big", N);
    s_live_dispatch_all (fx);
    for (uint64_t seq = N; seq >= 1; seq--)
        if (seq % 3 == 0)
            assert_int_equal (
                s_complete (fx, "big", seq, 1, seq % 4 == 0 ? SL_STATUS_FAILED : SL_STATUS_OK),
                SL_TABLE_OK);
    s_commit (fx);
    s_send (fx, "big", N / 3);
    uint64_t acks [N / 6];
    size_t n = 0;
    for (uint64_t seq = 6; seq <= N; seq += 6)
        acks [n++] = seq;
    s_ack (fx, "big", acks, n);
    s_recover (fx);

    size_t done = N / 3, delivered = N / 6;
    size_t failed = 0;
    for (uint64_t seq = 3; seq <= N; seq += 3)
        failed += seq % 4 == 0;
    CHECK_TABLE (fx->table, N - done, 0, done - delivered, 0);
    CHECK_JOB (s_job (fx, "big"), .received = N, .total = N, .total_known = true,
               .queued = N - done, .done = done, .delivered = delivered, .ok = done - failed,
               .failed = failed);
    for (uint64_t seq = N; seq >= 1; seq--)
        if (seq % 3 == 0 && seq % 6 != 0)
            EXPECT_RESULT (fx, "big", seq, seq % 4 == 0 ? SL_STATUS_FAILED : SL_STATUS_OK, 1);
    EXPECT_NO_RESULT (fx, "big");
    for (uint64_t first = N - BATCH + 1;; first -= BATCH) {
        for (uint64_t seq = first; seq < first + BATCH; seq++)
            if (seq % 3 != 0)
                EXPECT_QUEUED (fx, "big", seq, 0);
        if (first == 1)
            break;
    }
    EXPECT_NONE_QUEUED (fx);
    char *states = malloc (N + 2);
    assert_non_null (states);
    for (uint64_t seq = 1; seq <= N; seq++)
        states [seq - 1] = seq % 6 == 0 ? 'L' : '.';
    states [N] = '-';
    states [N + 1] = '\0';
    CHECK_DELIVERED (fx, "big", states);
    free (states);
}

//  FAILS: sl_durable_results packs all its results into one record, and
//  the journal refuses records over SL_JOURNAL_MAX_RECORD (64 MiB). The
//  broker hands it up to 256 results of one job, and a worker keeps up to
//  1 MiB of output per task by default (--max-output allows 256 MiB): from
//  64 full outputs on, the whole batch is refused. The broker only logs
//  "cannot journal" and delivers the results anyway, so after a crash
//  those tasks run again and are delivered a second time, although the
//  sink acknowledged them (their Ack records find the tasks QUEUED and are
//  ignored). Skipped until the results are split over several records (or
//  batched by bytes); then this checks that they all come back.
static void test_durable_results_of_full_outputs_are_journaled (void **state)
{
    fixture_t *fx = *state;
    enum { N = 65, OUTPUT = 1024 * 1024 };
    s_submit (fx, "huge", 1, N, 0);
    s_live_dispatch_all (fx);
    uint8_t *output = malloc (OUTPUT);
    assert_non_null (output);
    for (uint64_t seq = 1; seq <= N; seq++) {
        s_fill (output, OUTPUT, s_seed ("huge", seq, 'o'));
        sl_result_in_t in = { .status = SL_STATUS_OK,
                              .worker = "w:1",
                              .output = output,
                              .output_size = OUTPUT,
                              .output_truncated = true };
        assert_int_equal (sl_table_complete (fx->live, "huge", seq, 1, &in), SL_TABLE_OK);
    }
    //  One batch, as broker.c makes it (up to 256 results of one job).
    sl_task_t *batch [N];
    for (size_t i = 0; i < N; i++)
        assert_non_null (batch [i] = sl_table_pop_completed (fx->live));
    if (sl_durable_results (fx->journal, batch, N, fx->err, sizeof fx->err) != 0)
        fail_msg ("sl_durable_results: %s", fx->err);
    s_crash (fx);
    if (s_replay (fx) < 0)
        fail_msg ("sl_durable_replay: %s", fx->err);

    CHECK_TABLE (fx->table, 0, 0, N, 0);
    CHECK_JOB (s_job (fx, "huge"), .received = N, .done = N, .ok = N);
    for (uint64_t seq = 1; seq <= N; seq++) {
        sl_task_t *task = sl_table_send_next (fx->table, s_job (fx, "huge"));
        assert_non_null (task);
        assert_int_equal (sl_task_seq (task), seq);
        assert_int_equal (sl_task_result (task)->output_size, OUTPUT);
        assert_true (sl_task_result (task)->output_truncated);
        s_fill (output, OUTPUT, s_seed ("huge", seq, 'o'));
        assert_memory_equal (sl_task_result (task)->data, output, OUTPUT);
    }
    free (output);
}

int main (void)
{
#define T(name) cmocka_unit_test_setup_teardown (name, s_setup, s_teardown)
    const struct CMUnitTest tests [] = {
        T (test_durable_empty_journal_replays_nothing),
        T (test_durable_submitted_tasks_replay_queued),
        T (test_durable_running_tasks_replay_queued),
        T (test_durable_done_results_replay_deliverable),
        T (test_durable_results_keep_their_runs),
        T (test_durable_sent_unacked_results_replay_done),
        T (test_durable_acked_results_replay_delivered),
        T (test_durable_job_end_makes_total_known),
        T (test_durable_job_done_retires_job_and_reports_it),
        T (test_durable_job_done_without_callback_retires),
        T (test_durable_results_of_unknown_tasks_are_ignored),
        T (test_durable_unknown_record_type_fails),
        T (test_durable_undecodable_record_fails),
        T (test_durable_torn_tail_recovers_records_before_it),
        T (test_durable_records_across_rotation_replay_in_order),
        T (test_durable_scan_results_returns_one_job_from_segment),
        T (test_durable_job_tag_is_segment_of_first_record),
        T (test_durable_large_job_every_task_recovered),
        T (test_durable_results_of_full_outputs_are_journaled),
    };
#undef T
    return cmocka_run_group_tests (tests, NULL, NULL);
}
