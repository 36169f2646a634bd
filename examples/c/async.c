/*  async - the asynchronous API of libsluice: submits COUNT strings
    ("item-1", ...) and prints each result as it completes, one line each:
    SEQ, a tab, STATUS (ok or not-ok), a tab, OUTPUT. MODE `next` polls with
    sluice_next (with a short timeout, doing other work between polls),
    `run` takes a callback with sluice_job_run.

        async tcp://127.0.0.1:5560 [QUEUE [COUNT [next|run]]]

    It checks what the API promises and exits 1 if broken: no seq twice,
    every seq once, sluice_job_done at the end and sluice_next NULL after.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice.h>

typedef struct {
    size_t count;  //  tasks
    uint8_t *seen; //  [seq - 1]: result printed
    size_t got;    //  results printed
    size_t twice;  //  results that came twice
} tally_t;

static int s_on_result (void *arg, const sluice_result_t *r)
{
    tally_t *self = (tally_t *) arg;
    if (r->seq < 1 || r->seq > self->count || self->seen [r->seq - 1]++) {
        self->twice++;
        fprintf (stderr, "async: result %llu came twice or is out of range\n",
                 (unsigned long long) r->seq);
    } else
        self->got++;
    printf ("%llu\t%s\t%.*s\n", (unsigned long long) r->seq,
            r->status == SLUICE_OK ? "ok" : "not-ok", (int) r->output_size,
            (const char *) r->output);
    return 0;
}

int main (int argc, char *argv [])
{
    if (argc < 2 || argc > 5) {
        fprintf (stderr, "usage: %s BROKER [QUEUE [COUNT [next|run]]]\n", argv [0]);
        return 2;
    }
    tally_t tally = { argc > 3 ? strtoul (argv [3], NULL, 10) : 1000, NULL, 0, 0 };
    const char *mode = argc > 4 ? argv [4] : "next";
    sluice_options_t opts = { 0 };
    opts.queue = argc > 2 && argv [2][0] ? argv [2] : NULL;
    char err [512];
    sluice_client_t *client = sluice_client_new_err (argv [1], &opts, err, sizeof err);
    if (!client || tally.count == 0) {
        fprintf (stderr, "async: %s\n", client ? "COUNT must be at least 1" : err);
        return 2;
    }
    tally.seen = calloc (tally.count, 1);
    sluice_buf_t *tasks = calloc (tally.count, sizeof *tasks);
    char *text = malloc (tally.count * 24);
    for (size_t i = 0; i < tally.count; i++) {
        tasks [i].data = text + 24 * i;
        tasks [i].size = (size_t) snprintf (tasks [i].data, 24, "item-%zu", i + 1);
    }
    int rc = 1;
    sluice_job_t *job = sluice_submit (client, tasks, tally.count, err, sizeof err);
    //  The tasks are copied: the caller's memory may go at once.
    free (text);
    free (tasks);
    if (!job)
        fprintf (stderr, "async: %s\n", err);
    else if (strcmp (mode, "run") == 0) {
        if (sluice_job_run (job, s_on_result, &tally))
            fprintf (stderr, "async: %s\n", sluice_job_error (job));
    } else {
        //  Poll-style: a short wait, then other work, until done.
        size_t polls = 0;
        while (!sluice_job_done (job)) {
            sluice_result_t *r = sluice_next (job, polls % 2 ? 0 : 50); //  also non-blocking
            polls++;
            if (r) {
                s_on_result (&tally, r);
                sluice_result_destroy (&r);
            } else if (sluice_job_error (job) [0]) {
                fprintf (stderr, "async: %s\n", sluice_job_error (job));
                break;
            }
        }
        if (sluice_job_done (job) && sluice_next (job, 0) != NULL) {
            fprintf (stderr, "async: sluice_next returned a result after the job was done\n");
            tally.twice++;
        }
        fprintf (stderr, "async: %zu polls\n", polls);
    }
    if (job && sluice_job_done (job) && tally.got == tally.count && tally.twice == 0)
        rc = 0;
    if (job)
        fprintf (stderr, "async: job %s: %zu of %zu results, %zu twice\n", sluice_job_id (job),
                 tally.got, tally.count, tally.twice);
    sluice_job_destroy (&job);
    sluice_client_destroy (&client);
    free (tally.seen);
    return rc;
}
