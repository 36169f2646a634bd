/*  test_checkpoint - checkpoints of the live state (broker/checkpoint.c):
    a journal replayed from a checkpoint rebuilds the table its history
    rebuilds, and a checkpoint cut short by a crash at any record leaves
    the journal as good as before it.

    Each test plays the broker in a mkdtemp directory: a live table and a
    file journal of what happens to it (the sl_durable_* records, as
    broker.c writes them). The picture of a table (s_picture) is text:
    every job's counts and queue, every task's state, payload, options and
    result, byte for byte (a running task as queued and a sent result as
    done: what any replay makes of them).
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "durable.h"

#define LEASE 30000

typedef struct {
    char base [64];        //  the mkdtemp directory (the journal)
    sl_journal_t *journal; //  the broker's journal
    sl_table_t *live;      //  the broker's table
    char err [1024];
} fixture_t;

static sl_journal_t *s_open (fixture_t *fx)
{
    sl_journal_t *journal = sl_journal_new (fx->base, SL_FSYNC_OFF, fx->err, sizeof fx->err);
    if (!journal)
        fail_msg ("sl_journal_new: %s", fx->err);
    return journal;
}

static int s_setup (void **state)
{
    fixture_t *fx = calloc (1, sizeof *fx);
    snprintf (fx->base, sizeof fx->base, "/tmp/test_checkpoint.XXXXXX");
    if (!mkdtemp (fx->base))
        return -1;
    fx->journal = s_open (fx);
    assert_int_equal (sl_journal_replay (fx->journal, NULL, NULL, fx->err, sizeof fx->err), 0);
    fx->live = sl_table_new ();
    *state = fx;
    return 0;
}

static int s_remove (const char *path, const struct stat *st, int flag, struct FTW *ftw)
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
    int rc = nftw (fx->base, s_remove, 16, FTW_DEPTH | FTW_PHYS);
    free (fx);
    return rc;
}

static void s_ok (fixture_t *fx, int rc)
{
    if (rc)
        fail_msg ("journal: %s", fx->err);
}

//  --- The broker's side --------------------------------------------------------

//  Submits seqs [first, last] of job (in queue, with stages then) and
//  journals them; every third task has an id, priorities vary.
static void s_submit (fixture_t *fx, const char *job, const char *queue, uint64_t first,
                      uint64_t last)
{
    size_t n = last - first + 1;
    Sluice__Task *tasks = calloc (n, sizeof *tasks);
    Sluice__Task **ptrs = calloc (n, sizeof *ptrs);
    char (*payloads) [64] = calloc (n, sizeof *payloads);
    char (*ids) [32] = calloc (n, sizeof *ids);
    if (!sl_table_job (fx->live, job))
        assert_int_equal (sl_table_job_make (fx->live, job, queue), SL_TABLE_OK);
    for (size_t i = 0; i < n; i++) {
        uint64_t seq = first + i;
        Sluice__Task init = SLUICE__TASK__INIT;
        tasks [i] = init;
        tasks [i].seq = seq;
        snprintf (payloads [i], sizeof payloads [i], "%s payload %llu", job,
                  (unsigned long long) seq);
        tasks [i].payload.data = (uint8_t *) payloads [i];
        tasks [i].payload.len = seq % 7 ? strlen (payloads [i]) : 0;
        tasks [i].timeout_ms = (uint32_t) seq * 10;
        tasks [i].retries = (uint32_t) seq % 3;
        tasks [i].priority = (int32_t) (seq % 4) - 1;
        snprintf (ids [i], sizeof ids [i], "id-%llu", (unsigned long long) seq);
        tasks [i].id = seq % 3 ? "" : ids [i];
        ptrs [i] = &tasks [i];
        sl_task_in_t in = { tasks [i].payload.data, tasks [i].payload.len,
                            tasks [i].timeout_ms,   (uint8_t) tasks [i].retries,
                            tasks [i].priority,     seq % 3 ? NULL : ids [i] };
        assert_int_equal (sl_table_submit_task (fx->live, job, seq, &in), SL_TABLE_OK);
    }
    s_ok (fx, sl_durable_job_tasks (fx->journal, sl_table_job (fx->live, job), ptrs, n, fx->err,
                                    sizeof fx->err));
    free (tasks);
    free (ptrs);
    free (payloads);
    free (ids);
}

//  Runs n tasks and finishes them, with statuses by seq; journals the results.
static void s_run (fixture_t *fx, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sl_task_t *task = sl_table_dispatch (fx->live, 0, LEASE, sl_table_intern (fx->live, "w"));
        if (!task)
            break;
        uint64_t seq = sl_task_seq (task);
        char output [32];
        snprintf (output, sizeof output, "out %llu", (unsigned long long) seq);
        sl_result_in_t in = {
            .status = seq % 5 == 1   ? SL_STATUS_FAILED
                      : seq % 5 == 2 ? SL_STATUS_TIMEOUT
                                     : SL_STATUS_OK,
            .exit_code = (int32_t) seq % 5,
            .duration_ms = seq,
            .worker = "host:1",
            .output = (const uint8_t *) output,
            .output_size = strlen (output),
            .err = (const uint8_t *) "e",
            .err_size = seq % 2,
        };
        //  OK, or RETRY for a failure with retries left (queued again)
        assert_true (sl_table_complete (fx->live, sl_job_id (sl_task_job (task)), seq,
                                        task->attempts, &in) >= 0);
    }
    sl_task_t *task;
    while ((task = sl_table_pop_completed (fx->live)))
        s_ok (fx, sl_durable_results (fx->journal, &task, 1, fx->err, sizeof fx->err));
}

//  The sink gets n results of job and confirms every other one.
static void s_deliver (fixture_t *fx, const char *job, size_t n)
{
    sl_job_t *j = sl_table_job (fx->live, job);
    for (size_t i = 0; i < n; i++) {
        sl_task_t *task = sl_table_send_next (fx->live, j);
        if (!task)
            break;
        uint64_t seq = sl_task_seq (task);
        if (i % 2)
            continue; //  sent, not confirmed
        assert_int_equal (sl_table_ack (fx->live, job, seq), SL_TABLE_OK);
        s_ok (fx, sl_durable_delivered (fx->journal, job, &seq, 1, fx->err, sizeof fx->err));
    }
}

static void s_end (fixture_t *fx, const char *job, uint64_t total)
{
    assert_int_equal (sl_table_end (fx->live, job, total), SL_TABLE_OK);
    s_ok (fx, sl_durable_end (fx->journal, job, total, fx->err, sizeof fx->err));
}

//  Three jobs in every state: one with its end, one in a named queue,
//  one with no task yet.
static void s_history (fixture_t *fx)
{
    sl_table_hold_fresh (fx->live, false);
    s_submit (fx, "a", NULL, 1, 60);
    s_end (fx, "a", 60);
    s_submit (fx, "b", "gpu", 1, 10);
    s_run (fx, 40);
    s_deliver (fx, "a", 30);
    s_submit (fx, "b", "gpu", 11, 20);
    assert_int_equal (sl_table_job_make (fx->live, "empty", NULL), SL_TABLE_OK);
    s_ok (fx, sl_durable_job_tasks (fx->journal, sl_table_job (fx->live, "empty"), NULL, 0, fx->err,
                                    sizeof fx->err));
    sl_table_dispatch (fx->live, 0, LEASE, NULL); //  one left running
    s_ok (fx, sl_journal_commit (fx->journal, fx->err, sizeof fx->err));
}

//  --- Pictures of a table ------------------------------------------------------

static void s_add (char **buf, size_t *len, const char *format, ...)
{
    char line [512];
    va_list args;
    va_start (args, format);
    int n = vsnprintf (line, sizeof line, format, args);
    va_end (args);
    *buf = realloc (*buf, *len + (size_t) n + 1);
    memcpy (*buf + *len, line, (size_t) n + 1);
    *len += (size_t) n;
}

static void s_bytes (char **buf, size_t *len, const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < size; i++)
        s_add (buf, len, "%02x", data [i]);
}

static void s_task (char **buf, size_t *len, sl_task_t *task)
{
    int state = task->state == SL_TASK_RUNNING ? SL_TASK_QUEUED
                : task->state == SL_TASK_SENT  ? SL_TASK_DONE
                                               : task->state;
    s_add (buf, len, " %llu:%d", (unsigned long long) sl_task_seq (task), state);
    const uint8_t *payload = sl_task_payload (task);
    if (payload) {
        s_add (buf, len, " p=");
        s_bytes (buf, len, payload, task->payload_size + task->id_size);
        s_add (buf, len, " t=%u r=%u pr=%d", task->timeout_ms, task->retries,
               sl_task_priority (task));
    }
    sl_result_t *r = sl_task_result (task);
    if (r) {
        char id [256];
        s_add (buf, len, " s=%u x=%d d=%llu w=%s runs=%u id=%s o=", r->status, r->exit_code,
               (unsigned long long) r->duration_ms, r->worker, sl_task_runs (task),
               sl_result_id (r, id));
        s_bytes (buf, len, r->data, r->output_size + r->stderr_size);
        s_add (buf, len, "/%zu", r->output_size);
    }
    if (task->state == SL_TASK_DELIVERED)
        s_add (buf, len, " notok=%d", task->not_ok);
    s_add (buf, len, "\n");
}

//  Caller frees the result.
static char *s_picture (sl_table_t *table)
{
    char *buf = NULL;
    size_t len = 0;
    s_add (&buf, &len, "queued %zu deliverable %zu\n",
           sl_table_queued (table) + sl_table_running (table),
           sl_table_deliverable (table, NULL) + sl_table_unacked (table));
    for (sl_job_t *job = sl_table_job_first (table); job; job = sl_table_job_next (table)) {
        const sl_job_counts_t *c = sl_job_counts (job);
        s_add (&buf, &len,
               "job %s queue %s received %llu total %llu/%d done %llu delivered %llu "
               "ok %llu failed %llu timeout %llu cancelled %llu finished %d\n",
               sl_job_id (job), sl_queue_name (sl_job_queue (job)),
               (unsigned long long) c->received, (unsigned long long) c->total, c->total_known,
               (unsigned long long) c->done, (unsigned long long) c->delivered,
               (unsigned long long) c->ok, (unsigned long long) c->failed,
               (unsigned long long) c->timeout, (unsigned long long) c->cancelled,
               sl_job_finished (job));
        for (uint64_t seq = 1; seq <= sl_job_highest (job); seq++)
            if (sl_job_task (job, seq))
                s_task (&buf, &len, sl_job_task (job, seq));
    }
    return buf;
}

//  Replays the journal directory into a new table; returns its picture.
static char *s_replayed (fixture_t *fx)
{
    sl_journal_destroy (&fx->journal);
    fx->journal = s_open (fx);
    sl_table_t *table = sl_table_new ();
    if (sl_durable_replay (fx->journal, table, NULL, NULL, fx->err, sizeof fx->err) < 0)
        fail_msg ("replay: %s", fx->err);
    char *picture = s_picture (table);
    sl_table_destroy (&table);
    return picture;
}

static void s_checkpoint (fixture_t *fx, uint64_t id)
{
    s_ok (fx, sl_checkpoint_begin (fx->journal, id, fx->err, sizeof fx->err));
    s_ok (fx, sl_checkpoint_jobs (fx->journal, fx->live, fx->err, sizeof fx->err));
    s_ok (fx, sl_checkpoint_end (fx->journal, fx->live, id, fx->err, sizeof fx->err));
    s_ok (fx, sl_journal_commit (fx->journal, fx->err, sizeof fx->err));
}

//  --- Tests ---------------------------------------------------------------------

static void test_checkpoint_replay_rebuilds_what_the_history_did (void **state)
{
    fixture_t *fx = *state;
    s_history (fx);
    char *live = s_picture (fx->live);
    char *history = s_replayed (fx);
    assert_string_equal (live, history);
    //  A checkpoint at the start of a new segment, the history deleted.
    uint64_t segment = sl_journal_rotate (fx->journal, fx->err, sizeof fx->err);
    assert_int_equal (segment, 2);
    s_checkpoint (fx, 77);
    assert_int_equal (sl_journal_delete_before (fx->journal, segment, fx->err, sizeof fx->err), 1);
    char *from_checkpoint = s_replayed (fx);
    assert_string_equal (from_checkpoint, history);
    free (live);
    free (history);
    free (from_checkpoint);
}

static void test_checkpoint_replay_starts_at_the_last_complete_one (void **state)
{
    fixture_t *fx = *state;
    s_history (fx);
    s_checkpoint (fx, 1);             //  in the same segment as the history: both kept
    s_submit (fx, "a", NULL, 61, 60); //  nothing: a's total is 60
    s_submit (fx, "c", NULL, 1, 5);
    s_run (fx, 3);
    s_checkpoint (fx, 2);
    s_deliver (fx, "c", 2);
    s_ok (fx, sl_journal_commit (fx->journal, fx->err, sizeof fx->err));
    char *live = s_picture (fx->live);
    char *replayed = s_replayed (fx);
    assert_string_equal (replayed, live);
    free (live);
    free (replayed);
}

//  A standby applies what it follows once, in order, checkpoints included
//  (no plan, no second pass): its table must be the live one too.
static void test_checkpoint_followed_on_a_current_table_changes_nothing (void **state)
{
    fixture_t *fx = *state;
    s_history (fx);
    s_checkpoint (fx, 1);
    s_submit (fx, "c", NULL, 1, 5);
    s_run (fx, 3);
    s_deliver (fx, "a", 10);
    s_checkpoint (fx, 2);
    s_deliver (fx, "c", 2);
    s_end (fx, "c", 5);
    s_ok (fx, sl_journal_commit (fx->journal, fx->err, sizeof fx->err));
    char *live = s_picture (fx->live);
    char *replayed = s_replayed (fx); //  (reopens the journal: scan needs a replayed one)
    sl_table_t *follower = sl_table_new ();
    assert_true (sl_durable_apply (fx->journal, 1, follower, fx->err, sizeof fx->err) > 0);
    char *followed = s_picture (follower);
    assert_string_equal (replayed, live);
    assert_string_equal (followed, live);
    sl_table_destroy (&follower);
    free (live);
    free (replayed);
    free (followed);
}

//  The records of the segment file, as offsets where each ends.
static size_t s_record_ends (const char *path, size_t *ends, size_t max)
{
    FILE *f = fopen (path, "rb");
    assert_non_null (f);
    size_t n = 0, at = 16; //  the segment header
    uint8_t head [9];
    while (n < max && fseek (f, (long) at, SEEK_SET) == 0 && fread (head, 1, 9, f) == 9) {
        size_t size = head [0] | head [1] << 8 | head [2] << 16 | (size_t) head [3] << 24;
        at += 9 + size;
        ends [n++] = at;
    }
    fclose (f);
    return n;
}

static void test_checkpoint_cut_short_at_any_record_is_ignored (void **state)
{
    fixture_t *fx = *state;
    s_history (fx);
    char *history = s_replayed (fx);
    size_t before [4096];
    char path [256];
    snprintf (path, sizeof path, "%s/journal-%016llx.wal", fx->base, 1ULL);
    size_t nhistory = s_record_ends (path, before, 4096);
    s_checkpoint (fx, 5);
    sl_journal_destroy (&fx->journal);
    size_t ends [4096];
    size_t n = s_record_ends (path, ends, 4096);
    assert_true (n > nhistory + 3);
    char copy [300];
    snprintf (copy, sizeof copy, "%s.whole", path);
    assert_int_equal (link (path, copy), 0);
    //  A crash after each record of the checkpoint but its end, and in
    //  the middle of the next record.
    for (size_t k = nhistory; k < n - 1; k++) {
        for (int torn = 0; torn < 2; torn++) {
            off_t at = (off_t) (torn ? ends [k] + 5 : ends [k]);
            char cmd [1200];
            snprintf (cmd, sizeof cmd, "cp '%s' '%s' && truncate -s %lld '%s'", copy, path,
                      (long long) at, path);
            unlink (path);
            assert_int_equal (system (cmd), 0);
            char *replayed = s_replayed (fx);
            assert_string_equal (replayed, history);
            free (replayed);
            //  The next broker aborted the checkpoint: what it appends
            //  next is its own, not the checkpoint's rest.
            s_ok (fx, sl_durable_end (fx->journal, "b", 20, fx->err, sizeof fx->err));
            s_ok (fx, sl_journal_commit (fx->journal, fx->err, sizeof fx->err));
            replayed = s_replayed (fx);
            assert_non_null (strstr (replayed, "job b queue gpu received 20 total 20/1"));
            assert_null (strstr (history, "total 20/1"));
            free (replayed);
        }
    }
    free (history);
}

static void test_checkpoint_plan_skips_history_and_aborted_runs (void **state)
{
    (void) state;
    sl_cpplan_t *plan = sl_cpplan_new ();
    //  0 1: history; 2..4: checkpoint 9; 5: record; 6..7: checkpoint 10
    //  cut short, 8: its abort; 9: record; 10: a begin left open, 11.
    uint8_t types [] = { 1, 3, 16, 1, 17, 4, 16, 1, 18, 3, 16, 1 };
    uint64_t ids [] = { 0, 0, 9, 0, 9, 0, 10, 0, 10, 0, 11, 0 };
    for (size_t i = 0; i < sizeof types; i++)
        assert_int_equal (sl_cpplan_add (plan, types [i], ids [i]), 0);
    bool want [] = {
        false, false, false, true, true, true, false, false, false, true, false, false
    };
    for (size_t i = 0; i < sizeof types; i++)
        assert_int_equal (sl_cpplan_applies (plan, i), want [i]);
    assert_int_equal (sl_cpplan_start (plan), 2);
    assert_int_equal (sl_cpplan_open (plan), 11);
    assert_false (sl_cpplan_simple (plan));
    sl_cpplan_destroy (&plan);
    assert_null (plan);
    //  A journal that starts with a complete checkpoint: one pass is enough.
    plan = sl_cpplan_new ();
    uint8_t simple [] = { 16, 1, 3, 17, 4 };
    for (size_t i = 0; i < sizeof simple; i++)
        assert_int_equal (sl_cpplan_add (plan, simple [i], simple [i] >= 16 ? 3 : 0), 0);
    assert_true (sl_cpplan_simple (plan));
    assert_int_equal (sl_cpplan_open (plan), 0);
    sl_cpplan_destroy (&plan);
}

int main (void)
{
#define T(name) cmocka_unit_test_setup_teardown (name, s_setup, s_teardown)
    const struct CMUnitTest tests [] = {
        T (test_checkpoint_replay_rebuilds_what_the_history_did),
        T (test_checkpoint_replay_starts_at_the_last_complete_one),
        T (test_checkpoint_cut_short_at_any_record_is_ignored),
        cmocka_unit_test (test_checkpoint_plan_skips_history_and_aborted_runs),
        T (test_checkpoint_followed_on_a_current_table_changes_nothing),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
