/*  fuzz_jsontask - libFuzzer target for one JSONL task line (sl_jsontask).

    Every input is one line. A parse either fails with a message or gives a
    task whose fields obey the rules of lib/sl_jsontask.h: a payload (its
    size is what the JSON string decodes to, checked by parsing the line
    again with jansson), an id of at most SL_JSONTASK_MAX_ID bytes and no
    NUL, retries 0..100, a priority in range. A rule broken aborts, so
    libFuzzer keeps the input. Build and run with tests/fuzz/run.sh.
*/
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_jsontask.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    sl_jsontask_t task;
    char err [300];
    err [0] = '\0';
    if (sl_jsontask_parse (data, size, &task, err, sizeof err) != 0) {
        if (!err [0] || strlen (err) >= sizeof err)
            abort (); //  a failure always says why
        return 0;
    }
    if (!task.payload || strlen (task.id) > SL_JSONTASK_MAX_ID || task.retries > 100 ||
        task.priority < -SL_JSONTASK_MAX_PRIORITY || task.priority > SL_JSONTASK_MAX_PRIORITY)
        abort ();
    json_t *root = json_loadb ((const char *) data, size, JSON_ALLOW_NUL, NULL);
    json_t *payload = root ? json_object_get (root, "payload") : NULL;
    if (!payload || json_string_length (payload) != task.size ||
        memcmp (json_string_value (payload), task.payload, task.size) != 0)
        abort ();
    json_decref (root);
    sl_jsontask_clear (&task);
    return 0;
}
