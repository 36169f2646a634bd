/*  builtin - sluice-worker's built-in tasks, see builtin.h.  */
#include "builtin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

int builtin_echo (void *state, const uint8_t *payload, size_t size, sluice_buf_t *output)
{
    (void) state;
    return sluice_buf_set (output, payload, size) == 0 ? 0 : 1;
}

//  A whole number of milliseconds, at most a year, blanks around it.
static int s_parse_ms (const uint8_t *payload, size_t size, uint64_t *ms)
{
    char text [32];
    while (size && (payload [size - 1] == ' ' || payload [size - 1] == '\t'))
        size--;
    while (size && (*payload == ' ' || *payload == '\t'))
        payload++, size--;
    if (size == 0 || size >= sizeof text)
        return -1;
    memcpy (text, payload, size);
    text [size] = '\0';
    if (text [0] < '0' || text [0] > '9')
        return -1; //  strtoull would take a sign or blanks
    char *end;
    errno = 0;
    unsigned long long v = strtoull (text, &end, 10);
    if (errno || *end || v > 86400000ULL * 365)
        return -1;
    *ms = v;
    return 0;
}

int builtin_sleep (void *state, const uint8_t *payload, size_t size, sluice_buf_t *output)
{
    (void) state;
    uint64_t ms;
    if (s_parse_ms (payload, size, &ms)) {
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
