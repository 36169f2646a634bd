/*  =========================================================================
    make_proto_seeds - writes the seed corpus of fuzz_proto

    Packs one realistic envelope of every body type, plus an envelope of
    another protocol version and one without a body, and writes each to
    OUTDIR/<name>.bin. The files in tests/fuzz/corpus/proto/ were made with
    it, and tests/fuzz/run.sh runs it again so the seeds follow
    proto/sluice.proto when it changes.

        make_proto_seeds OUTDIR

    Packs with the generated protobuf-c code directly: sl_proto_encode
    would need czmq frames, and a seed is only bytes.
    =========================================================================
*/

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_proto.h"

//  Packs env and writes it to dir/name.bin. Returns 0 or -1 (reported).
static int s_write_seed (const char *dir, const char *name, sl_env_t *env, uint32_t version)
{
    env->version = version;
    size_t size = sluice__envelope__get_packed_size (env);
    uint8_t *data = malloc (size);
    if (!data) {
        fprintf (stderr, "make_proto_seeds: out of memory\n");
        return -1;
    }
    sluice__envelope__pack (env, data);
    char path [4096];
    snprintf (path, sizeof path, "%s/%s.bin", dir, name);
    FILE *file = fopen (path, "wb");
    int rc = file && fwrite (data, 1, size, file) == size ? 0 : -1;
    if (file && fclose (file) != 0)
        rc = -1;
    if (rc)
        perror (path);
    free (data);
    return rc;
}

int main (int argc, char *argv [])
{
    if (argc != 2) {
        fprintf (stderr, "usage: make_proto_seeds OUTDIR\n");
        return 2;
    }
    const char *dir = argv [1];
    int rc = 0;
    sl_env_t env = SLUICE__ENVELOPE__INIT;

    char *waiting [] = { "job-a", "job-b" };
    Sluice__Hello hello = SLUICE__HELLO__INIT;
    hello.role = SLUICE__ROLE__ROLE_SINK;
    hello.name = "host:4242";
    hello.job = "job-a";
    hello.follow = 1;
    hello.heartbeat_ms = 1000;
    hello.n_waiting = 2;
    hello.waiting = waiting;
    hello.from_start = 1;
    env.body_case = SLUICE__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    rc |= s_write_seed (dir, "hello", &env, SL_PROTOCOL_VERSION);
    //  The same hello from a peer of the next protocol version
    rc |= s_write_seed (dir, "hello_version2", &env, SL_PROTOCOL_VERSION + 1);

    Sluice__Hello worker_hello = SLUICE__HELLO__INIT;
    worker_hello.role = SLUICE__ROLE__ROLE_WORKER;
    worker_hello.name = "node7:99";
    worker_hello.slots = 8;
    env.hello = &worker_hello;
    rc |= s_write_seed (dir, "hello_worker", &env, SL_PROTOCOL_VERSION);

    char *jobs [] = { "job-a" };
    Sluice__Welcome welcome = SLUICE__WELCOME__INIT;
    welcome.broker_id = "b-0d15ea5e";
    welcome.heartbeat_ms = 2500;
    welcome.n_jobs = 1;
    welcome.jobs = jobs;
    welcome.fair = 1;
    env.body_case = SLUICE__ENVELOPE__BODY_WELCOME;
    env.welcome = &welcome;
    rc |= s_write_seed (dir, "welcome", &env, SL_PROTOCOL_VERSION);

    Sluice__Refuse refuse = SLUICE__REFUSE__INIT;
    refuse.reason = "another sink collects job-a";
    refuse.retry_ms = 5000;
    env.body_case = SLUICE__ENVELOPE__BODY_REFUSE;
    env.refuse = &refuse;
    rc |= s_write_seed (dir, "refuse", &env, SL_PROTOCOL_VERSION);

    static uint8_t binary [] = { 0x00, 0xff, '\r', '\n', 0xc3, 0x28 };
    Sluice__Task task1 = SLUICE__TASK__INIT;
    task1.seq = 1;
    task1.payload.data = (uint8_t *) "echo hello";
    task1.payload.len = 10;
    task1.attempt = 1;
    task1.retries = 2;
    Sluice__Task task2 = SLUICE__TASK__INIT;
    task2.seq = 2;
    task2.payload.data = binary;
    task2.payload.len = sizeof binary;
    task2.timeout_ms = 30000;
    task2.attempt = 3;
    Sluice__Task *tasks [] = { &task1, &task2 };
    Sluice__TaskBatch batch = SLUICE__TASK_BATCH__INIT;
    batch.job = "job-a";
    batch.n_tasks = 2;
    batch.tasks = tasks;
    env.body_case = SLUICE__ENVELOPE__BODY_TASKS;
    env.tasks = &batch;
    rc |= s_write_seed (dir, "tasks", &env, SL_PROTOCOL_VERSION);

    Sluice__JobEnd job_end = SLUICE__JOB_END__INIT;
    job_end.job = "job-a";
    job_end.total = 2;
    env.body_case = SLUICE__ENVELOPE__BODY_JOB_END;
    env.job_end = &job_end;
    rc |= s_write_seed (dir, "job_end", &env, SL_PROTOCOL_VERSION);

    Sluice__Result result1 = SLUICE__RESULT__INIT;
    result1.seq = 1;
    result1.status = SLUICE__STATUS__STATUS_OK;
    result1.output.data = (uint8_t *) "hello\n";
    result1.output.len = 6;
    result1.attempts = 1;
    result1.worker = "node7:99";
    result1.duration_ms = 12;
    result1.attempt = 1;
    Sluice__Result result2 = SLUICE__RESULT__INIT;
    result2.seq = 2;
    result2.status = SLUICE__STATUS__STATUS_FAILED;
    result2.exit_code = -137;
    result2.output.data = binary;
    result2.output.len = sizeof binary;
    result2.stderr_tail.data = (uint8_t *) "Killed\n";
    result2.stderr_tail.len = 7;
    result2.attempts = 3;
    result2.worker = "node8:100";
    result2.duration_ms = 30001;
    result2.output_truncated = 1;
    result2.attempt = 3;
    Sluice__Result *results [] = { &result1, &result2 };
    Sluice__ResultBatch result_batch = SLUICE__RESULT_BATCH__INIT;
    result_batch.job = "job-a";
    result_batch.n_results = 2;
    result_batch.results = results;
    env.body_case = SLUICE__ENVELOPE__BODY_RESULTS;
    env.results = &result_batch;
    rc |= s_write_seed (dir, "results", &env, SL_PROTOCOL_VERSION);

    uint64_t seqs [] = { 1, 2, 300, UINT64_MAX };
    Sluice__Ack ack = SLUICE__ACK__INIT;
    ack.job = "job-a";
    ack.n_seqs = 4;
    ack.seqs = seqs;
    env.body_case = SLUICE__ENVELOPE__BODY_ACK;
    env.ack = &ack;
    rc |= s_write_seed (dir, "ack", &env, SL_PROTOCOL_VERSION);

    Sluice__JobDone job_done = SLUICE__JOB_DONE__INIT;
    job_done.job = "job-a";
    job_done.total = 2;
    job_done.ok = 1;
    job_done.failed = 1;
    job_done.finished_at = 1700000000000;
    env.body_case = SLUICE__ENVELOPE__BODY_JOB_DONE;
    env.job_done = &job_done;
    rc |= s_write_seed (dir, "job_done", &env, SL_PROTOCOL_VERSION);

    Sluice__JobStart job_start = SLUICE__JOB_START__INIT;
    job_start.job = "job-b";
    env.body_case = SLUICE__ENVELOPE__BODY_JOB_START;
    env.job_start = &job_start;
    rc |= s_write_seed (dir, "job_start", &env, SL_PROTOCOL_VERSION);

    Sluice__JobQuery job_query = SLUICE__JOB_QUERY__INIT;
    job_query.job = "job-b";
    job_query.want_missing = 1;
    env.body_case = SLUICE__ENVELOPE__BODY_JOB_QUERY;
    env.job_query = &job_query;
    rc |= s_write_seed (dir, "job_query", &env, SL_PROTOCOL_VERSION);

    uint64_t missing [] = { 3, 7, 12, 12 };
    Sluice__JobState job_state = SLUICE__JOB_STATE__INIT;
    job_state.job = "job-b";
    job_state.received = 9;
    job_state.total = 14;
    job_state.known = 1;
    job_state.n_missing = 4;
    job_state.missing = missing;
    job_state.error = "no space left on device";
    env.body_case = SLUICE__ENVELOPE__BODY_JOB_STATE;
    env.job_state = &job_state;
    rc |= s_write_seed (dir, "job_state", &env, SL_PROTOCOL_VERSION);

    Sluice__TaskRef ref1 = SLUICE__TASK_REF__INIT;
    ref1.job = "job-a";
    ref1.seq = 5;
    ref1.attempt = 1;
    Sluice__TaskRef ref2 = SLUICE__TASK_REF__INIT;
    ref2.job = "job-b";
    ref2.seq = 1;
    ref2.attempt = 2;
    Sluice__TaskRef *refs [] = { &ref1, &ref2 };
    Sluice__Heartbeat heartbeat = SLUICE__HEARTBEAT__INIT;
    heartbeat.broker_id = "b-0d15ea5e";
    heartbeat.running = 2;
    heartbeat.n_held = 2;
    heartbeat.held = refs;
    heartbeat.rehello = 1;
    env.body_case = SLUICE__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &heartbeat;
    rc |= s_write_seed (dir, "heartbeat", &env, SL_PROTOCOL_VERSION);

    Sluice__Bye bye = SLUICE__BYE__INIT;
    bye.n_unfinished = 2;
    bye.unfinished = refs;
    env.body_case = SLUICE__ENVELOPE__BODY_BYE;
    env.bye = &bye;
    rc |= s_write_seed (dir, "bye", &env, SL_PROTOCOL_VERSION);

    Sluice__Release release = SLUICE__RELEASE__INIT;
    release.n_tasks = 1;
    release.tasks = refs;
    env.body_case = SLUICE__ENVELOPE__BODY_RELEASE;
    env.release = &release;
    rc |= s_write_seed (dir, "release", &env, SL_PROTOCOL_VERSION);

    Sluice__Credit credit = SLUICE__CREDIT__INIT;
    credit.credit = 16;
    credit.absolute = 1;
    env.body_case = SLUICE__ENVELOPE__BODY_CREDIT;
    env.credit = &credit;
    rc |= s_write_seed (dir, "credit", &env, SL_PROTOCOL_VERSION);

    Sluice__Command command = SLUICE__COMMAND__INIT;
    command.kind = SLUICE__COMMAND_KIND__COMMAND_CANCEL;
    command.target = "job-1";
    env.body_case = SLUICE__ENVELOPE__BODY_COMMAND;
    env.command = &command;
    rc |= s_write_seed (dir, "command", &env, SL_PROTOCOL_VERSION);

    Sluice__JobStatus job_status = SLUICE__JOB_STATUS__INIT;
    job_status.id = "job-1";
    job_status.total = 10;
    job_status.done = 3;
    Sluice__JobStatus *job_ptrs [] = { &job_status };
    Sluice__WorkerStatus worker_status = SLUICE__WORKER_STATUS__INIT;
    worker_status.name = "host:1";
    worker_status.slots = 2;
    Sluice__WorkerStatus *worker_ptrs [] = { &worker_status };
    Sluice__StatusReport report = SLUICE__STATUS_REPORT__INIT;
    report.broker_id = "b";
    report.n_jobs = 1;
    report.jobs = job_ptrs;
    report.n_workers = 1;
    report.workers = worker_ptrs;
    report.rate = 12.5;
    env.body_case = SLUICE__ENVELOPE__BODY_STATUS_REPORT;
    env.status_report = &report;
    rc |= s_write_seed (dir, "status_report", &env, SL_PROTOCOL_VERSION);

    Sluice__CancelJob cancel = SLUICE__CANCEL_JOB__INIT;
    cancel.job = "job-1";
    env.body_case = SLUICE__ENVELOPE__BODY_CANCEL_JOB;
    env.cancel_job = &cancel;
    rc |= s_write_seed (dir, "cancel_job", &env, SL_PROTOCOL_VERSION);

    Sluice__AttachGet get = SLUICE__ATTACH_GET__INIT;
    get.hash = "0b08561b2f03e859091102fe1a967e7beeaa4c4b";
    get.offset = 524288;
    env.body_case = SLUICE__ENVELOPE__BODY_ATTACH_GET;
    env.attach_get = &get;
    rc |= s_write_seed (dir, "attach_get", &env, SL_PROTOCOL_VERSION);

    //  A well-formed envelope of our version that carries no body
    env.body_case = SLUICE__ENVELOPE__BODY__NOT_SET;
    rc |= s_write_seed (dir, "no_body", &env, SL_PROTOCOL_VERSION);

    return rc ? 1 : 0;
}
