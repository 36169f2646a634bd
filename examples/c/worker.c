/*  worker - the worker API of libsluice: serves a queue with a handler
    that uppercases each task's payload. Stops on SIGINT or SIGTERM.

        worker tcp://127.0.0.1:5560 [QUEUE [SLOTS [DELAY_MS]]]

    SLOTS handler threads (default 1); DELAY_MS makes each task take that
    long (for tests). Build: cc worker.c $(pkg-config --cflags --libs sluice)
*/
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <sluice.h>

typedef struct {
    long delay_ms; //  how long each task takes
} upper_t;

static int s_upper (void *state, const uint8_t *payload, size_t size, sluice_buf_t *output)
{
    upper_t *self = (upper_t *) state;
    if (self->delay_ms > 0) {
        struct timespec ts = { self->delay_ms / 1000, (self->delay_ms % 1000) * 1000000 };
        nanosleep (&ts, NULL);
    }
    if (sluice_buf_set (output, payload, size))
        return 1;
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
