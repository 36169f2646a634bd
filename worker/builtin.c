/*  builtin - sluice-worker's built-in tasks, see builtin.h.  */
#include "builtin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "sl_util.h"

int builtin_echo (void *state, const uint8_t *payload, size_t size, sluice_buf_t *output)
{
    (void) state;
    return sluice_buf_set (output, payload, size) == 0 ? 0 : 1;
}

int builtin_sleep (void *state, const uint8_t *payload, size_t size, sluice_buf_t *output)
{
    (void) state;
    uint64_t ms;
    if (sl_parse_sleep_ms (payload, size, &ms)) {
        const char *why = "sleep: the payload is not a whole number of milliseconds";
        sluice_buf_set (output, why, strlen (why));
        return 2;
    }
    if (!sluice_task_sleep (ms))
        return 3; //  stopped early: timeout or cancelled, says the library
    return sluice_buf_set (output, payload, size) == 0 ? 0 : 1;
}

sluice_handler_fn *builtin_handler (const char *name, bool *inline_p)
{
    *inline_p = false;
    if (streq (name, "echo")) {
        *inline_p = true; //  a copy: never blocks
        return builtin_echo;
    }
    if (streq (name, "sleep"))
        return builtin_sleep;
    return NULL;
}
