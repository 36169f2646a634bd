/*  builtin - sluice-worker's built-in tasks (--builtin echo|sleep), served
    through the library's worker API (sluice_worker_run), as any program
    linked with libsluice would serve its own handler.
*/
#ifndef BUILTIN_H_INCLUDED
#define BUILTIN_H_INCLUDED

#include <stdbool.h>

#include "sluice.h"

//  The handler of a built-in by name ("echo", "sleep"), and whether it
//  runs inline (never blocks); NULL for an unknown name.
sluice_handler_fn *builtin_handler (const char *name, bool *inline_p);

//  echo: the output is the payload.
int builtin_echo (void *state, const uint8_t *payload, size_t size, sluice_buf_t *output);

//  sleep: the payload is a whole number of milliseconds (blanks around it
//  allowed) to sleep; the output is the payload. Returns early, failed,
//  when asked to stop (cancelled, over its time limit). A payload that is
//  not a number fails at once, saying so in the output.
int builtin_sleep (void *state, const uint8_t *payload, size_t size, sluice_buf_t *output);

#endif
