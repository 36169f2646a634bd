/*  client_tasks - drives libsluice's per-task options and sluice_job_cancel
    for tests/integration/client_tasks.sh.

        client_tasks BROKER options   six tasks with their own ids,
                                      priorities and one time limit; prints
                                      "held" on stderr once the broker holds
                                      them (no worker yet), then each result
                                      as "seq<TAB>id<TAB>status" in the
                                      order they come
        client_tasks BROKER cancel    four sleeps of 10 s, cancelled while
                                      they run: prints the results, then
                                      tries to cancel the finished job again

    Exit status 0 if every call behaved as documented, 1 otherwise (with a
    message on stderr).
*/
#include <stdio.h>
#include <string.h>

#include "sluice.h"

static const char *s_status (sluice_status_t status)
{
    return status == SLUICE_OK          ? "ok"
           : status == SLUICE_FAILED    ? "failed"
           : status == SLUICE_TIMEOUT   ? "timeout"
           : status == SLUICE_CANCELLED ? "cancelled"
                                        : "?";
}

//  Prints every result of job; returns how many came.
static size_t s_collect (sluice_job_t *job)
{
    size_t count = 0;
    sluice_result_t *result;
    while ((result = sluice_next (job, 60000))) {
        printf ("%llu\t%s\t%s\n", (unsigned long long) result->seq, result->id,
                s_status (result->status));
        fflush (stdout);
        sluice_result_destroy (&result);
        count++;
    }
    return count;
}

static int s_options (sluice_client_t *client)
{
    struct {
        const char *payload; //  milliseconds for --builtin sleep
        const char *id;
        int priority;
        bool has_priority;
        uint32_t timeout_ms;
    } spec [] = {
        { "20", "low-a", 0, false, 0 }, { "20", "high", 10, true, 0 },
        { "400", "slow", 0, false, 100 }, { "20", "mid", 5, true, 0 },
        { "20", NULL, 0, false, 0 },     { "20", "last", -1, true, 0 },
    };
    sluice_task_t tasks [6];
    for (size_t i = 0; i < 6; i++) {
        sluice_task_init (&tasks [i]);
        tasks [i].payload.data = (void *) spec [i].payload;
        tasks [i].payload.size = strlen (spec [i].payload);
        tasks [i].id = spec [i].id;
        tasks [i].priority = spec [i].priority;
        tasks [i].has_priority = spec [i].has_priority;
        tasks [i].timeout_ms = spec [i].timeout_ms;
    }
    char err [512];
    //  A bad option is refused, naming the task.
    sluice_task_t bad = tasks [0];
    bad.retries = 101;
    sluice_job_t *job = sluice_submit_tasks (client, &bad, 1, err, sizeof err);
    if (job || !strstr (err, "task 0: retries 101")) {
        fprintf (stderr, "retries 101 not refused as expected: %s\n", job ? "accepted" : err);
        return 1;
    }
    job = sluice_submit_tasks (client, tasks, 6, err, sizeof err);
    if (!job) {
        fprintf (stderr, "sluice_submit_tasks: %s\n", err);
        return 1;
    }
    //  No worker serves the queue yet: this only sends the tasks.
    sluice_result_t *early = sluice_next (job, 1500);
    if (early) {
        fprintf (stderr, "a result came before any worker\n");
        sluice_result_destroy (&early);
        sluice_job_destroy (&job);
        return 1;
    }
    fprintf (stderr, "held\n");
    fflush (stderr);
    size_t count = s_collect (job);
    int rc = count == 6 && sluice_job_done (job) ? 0 : 1;
    if (rc)
        fprintf (stderr, "%zu results: %s\n", count, sluice_job_error (job));
    sluice_job_destroy (&job);
    return rc;
}

static int s_cancel (sluice_client_t *client)
{
    sluice_buf_t tasks [4] = {
        { "10000", 5 }, { "10000", 5 }, { "10000", 5 }, { "10000", 5 } };
    char err [512];
    sluice_job_t *job = sluice_submit (client, tasks, 4, err, sizeof err);
    if (!job) {
        fprintf (stderr, "sluice_submit: %s\n", err);
        return 1;
    }
    int rc = 1;
    sluice_result_t *early = sluice_next (job, 1500);
    if (early) {
        fprintf (stderr, "a 10 s task ended within 1.5 s\n");
        sluice_result_destroy (&early);
        goto done;
    }
    if (sluice_job_cancel (job, err, sizeof err)) {
        fprintf (stderr, "sluice_job_cancel: %s\n", err);
        goto done;
    }
    fprintf (stderr, "cancelled\n");
    size_t count = s_collect (job);
    if (count != 4 || !sluice_job_done (job)) {
        fprintf (stderr, "%zu results after the cancel: %s\n", count, sluice_job_error (job));
        goto done;
    }
    //  A job whose tasks all ended cannot be cancelled: a clear error.
    if (sluice_job_cancel (job, err, sizeof err) == 0 || !strstr (err, "already finished")) {
        fprintf (stderr, "a second cancel: %s\n", err);
        goto done;
    }
    fprintf (stderr, "second cancel refused: %s\n", err);
    rc = 0;
done:
    sluice_job_destroy (&job);
    return rc;
}

int main (int argc, char *argv [])
{
    if (argc != 3 || (strcmp (argv [2], "options") && strcmp (argv [2], "cancel"))) {
        fprintf (stderr, "usage: %s BROKER options|cancel\n", argv [0]);
        return 2;
    }
    sluice_options_t opts;
    sluice_options_init (&opts);
    opts.heartbeat_ms = 200;
    char err [512];
    sluice_client_t *client = sluice_client_new_err (argv [1], &opts, err, sizeof err);
    if (!client) {
        fprintf (stderr, "%s\n", err);
        return 1;
    }
    int rc = strcmp (argv [2], "options") == 0 ? s_options (client) : s_cancel (client);
    sluice_client_destroy (&client);
    return rc;
}
