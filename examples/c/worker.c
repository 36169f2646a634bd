/*  worker - the worker API of libsluice: serves a queue with a handler
    that uppercases each task's payload. Stops on SIGINT or SIGTERM.
    A payload "@NAME" uppercases the job's attachment NAME instead
    (sluice-ventilator --attach NAME=FILE): sluice_task_attachment gives
    its path on this host.

        worker tcp://127.0.0.1:5560 [QUEUE [SLOTS [DELAY_MS]]]

    SLOTS handler threads (default 1); DELAY_MS makes each task take that
    long (for tests). Build: cc worker.c $(pkg-config --cflags --libs sluice)
*/
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sluice.h>

typedef struct {
    long delay_ms; //  how long each task takes
} upper_t;

//  Reads the job's attachment name into output. Returns 0, or 1 (with why
//  in output) if the job has no such file or it cannot be read.
static int s_read_attachment (const char *name, sluice_buf_t *output)
{
    const char *path = sluice_task_attachment (name);
    FILE *file = path ? fopen (path, "rb") : NULL;
    if (!file) {
        const char *why = path ? "cannot open the attachment" : "no such attachment";
        sluice_buf_set (output, why, strlen (why));
        return 1;
    }
    char chunk [4096];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread (chunk, 1, sizeof chunk, file)) > 0)
        rc = sluice_buf_append (output, chunk, n) ? 1 : 0;
    fclose (file);
    return rc;
}

static int s_upper (void *state, const uint8_t *payload, size_t size, sluice_buf_t *output)
{
    upper_t *self = (upper_t *) state;
    if (self->delay_ms > 0) {
        struct timespec ts = { self->delay_ms / 1000, (self->delay_ms % 1000) * 1000000 };
        nanosleep (&ts, NULL);
    }
    if (size > 1 && payload [0] == '@') {
        int rc = s_read_attachment ((const char *) payload + 1, output); //  payload is NUL-ended
        if (rc)
            return rc;
    } else if (sluice_buf_set (output, payload, size))
        return 1;
    size = output->size;
    uint8_t *out = (uint8_t *) output->data;
    for (size_t i = 0; i < size; i++)
        out [i] = (uint8_t) toupper (out [i]);
    return 0;
}

int main (int argc, char *argv [])
{
    if (argc < 2 || argc > 5) {
        fprintf (stderr, "usage: %s BROKER [QUEUE [SLOTS [DELAY_MS]]]\n", argv [0]);
        return 2;
    }
    upper_t state = { argc > 4 ? atol (argv [4]) : 0 };
    sluice_worker_options_t opts = { 0 };
    opts.slots = argc > 3 ? (uint32_t) atoi (argv [3]) : 1;
    const char *queue = argc > 2 && argv [2][0] ? argv [2] : NULL;
    return sluice_worker_run (argv [1], queue, s_upper, &state, &opts) ? 1 : 0;
}
