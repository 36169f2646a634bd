/*  sl_jsontask - one line of a JSONL task file (sluice-ventilator
    --format jsonl), parsed with jansson.

    Each line is a JSON object:
        {"payload": "...", "id": "...", "timeout": 2.5, "retries": 1, "priority": 10}
    payload (string, required) is the task's bytes, as UTF-8 (a JSON
    string cannot carry invalid UTF-8; "\u0000" is allowed); id (string,
    or an integer written as its decimal digits) is echoed in the sink's
    records; timeout (seconds, >= 0) and retries (0..100) override the
    ventilator's --timeout and --retries for this task; priority (integer,
    -1000000..1000000, default 0): higher runs first. Other members are
    an error, so a typo does not go unnoticed.
*/
#ifndef SL_JSONTASK_H_INCLUDED
#define SL_JSONTASK_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_JSONTASK_MAX_ID 128 //  bytes of an id, at most
#define SL_JSONTASK_MAX_PRIORITY 1000000

typedef struct {
    uint8_t *payload;                 //  the payload bytes (owned; freed by sl_jsontask_clear)
    size_t size;                      //  bytes at payload
    char id [SL_JSONTASK_MAX_ID + 1]; //  "" when none
    bool has_timeout;
    uint32_t timeout_ms;
    bool has_retries;
    uint32_t retries;
    int32_t priority;
} sl_jsontask_t;

//  Parses one line (size bytes, no line end). Returns 0 with *task filled
//  (clear it after use), or -1 with a message in err saying what is wrong
//  (the caller adds the file and line).
int sl_jsontask_parse (const uint8_t *line, size_t size, sl_jsontask_t *task, char *err,
                       size_t errlen);

//  Frees what a parse allocated. Safe on a zeroed or cleared task.
void sl_jsontask_clear (sl_jsontask_t *task);

#endif
