/*  map - the blocking map of libsluice: submits COUNT strings ("item-1",
    "item-2", ...) as one job and prints every result in task order, one
    line each: SEQ, a tab, STATUS, a tab, OUTPUT.

        map tcp://127.0.0.1:5560 [QUEUE [COUNT [THEN]]]      (COUNT default 1000)

    With THEN, a two-stage job: each task's output on QUEUE becomes a task
    on the queue THEN, and the results are those of the second stage.

    Build: cc map.c $(pkg-config --cflags --libs sluice)
    Exit status: 0 if every task ended ok, 1 otherwise.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice.h>

static const char *s_status_name (sluice_status_t status)
{
    switch (status) {
        case SLUICE_OK:
            return "ok";
        case SLUICE_FAILED:
            return "failed";
        case SLUICE_TIMEOUT:
            return "timeout";
        case SLUICE_CANCELLED:
            return "cancelled";
    }
    return "unknown";
}

int main (int argc, char *argv [])
{
    if (argc < 2 || argc > 5) {
        fprintf (stderr, "usage: %s BROKER [QUEUE [COUNT [THEN]]]\n", argv [0]);
        return 2;
    }
    size_t count = argc > 3 ? strtoul (argv [3], NULL, 10) : 1000;
    if (count == 0) {
        fprintf (stderr, "%s: COUNT must be at least 1\n", argv [0]);
        return 2;
    }
    sluice_options_t opts;
    sluice_options_init (&opts);
    opts.queue = argc > 2 ? argv [2] : NULL;
    const char *then [2] = { argc > 4 ? argv [4] : NULL, NULL };
    opts.then = then;
    char err [512];
    sluice_client_t *client = sluice_client_new_err (argv [1], &opts, err, sizeof err);
    if (!client) {
        fprintf (stderr, "%s: %s\n", argv [0], err);
        return 2;
    }
    //  The tasks: COUNT strings, in one block.
    sluice_buf_t *tasks = calloc (count, sizeof *tasks);
    char *text = malloc (count * 24);
    if (!tasks || !text) {
        fprintf (stderr, "%s: out of memory\n", argv [0]);
        return 1;
    }
    for (size_t i = 0; i < count; i++) {
        tasks [i].data = text + 24 * i;
        tasks [i].size = (size_t) snprintf (tasks [i].data, 24, "item-%zu", i + 1);
    }
    sluice_result_t *results;
    int rc = 1;
    if (sluice_map (client, tasks, count, &results, err, sizeof err))
        fprintf (stderr, "%s: %s\n", argv [0], err);
    else {
        size_t ok = 0;
        for (size_t i = 0; i < count; i++) {
            sluice_result_t *r = &results [i];
            printf ("%llu\t%s\t%.*s\n", (unsigned long long) r->seq, s_status_name (r->status),
                    (int) r->output_size, (const char *) r->output);
            ok += r->status == SLUICE_OK;
        }
        fprintf (stderr, "%s: %zu results, %zu ok\n", argv [0], count, ok);
        rc = ok == count ? 0 : 1;
        sluice_results_destroy (&results, count);
    }
    free (text);
    free (tasks);
    sluice_client_destroy (&client);
    return rc;
}
