/*  sl_jsontask - one line of a JSONL task file, see sl_jsontask.h.  */
#include "sl_jsontask.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sl_jsontask_clear (sl_jsontask_t *task)
{
    free (task->payload);
    memset (task, 0, sizeof *task);
}

//  "id": a string without NUL of at most SL_JSONTASK_MAX_ID bytes, or an
//  integer. 0, or -1 with err.
static int s_id (json_t *value, sl_jsontask_t *task, char *err, size_t errlen)
{
    if (json_is_string (value)) {
        if (json_string_length (value) > SL_JSONTASK_MAX_ID ||
            memchr (json_string_value (value), 0, json_string_length (value))) {
            snprintf (err, errlen, "\"id\" is longer than %d bytes or holds a NUL",
                      SL_JSONTASK_MAX_ID);
            return -1;
        }
        snprintf (task->id, sizeof task->id, "%s", json_string_value (value));
    } else if (json_is_integer (value))
        snprintf (task->id, sizeof task->id, "%" JSON_INTEGER_FORMAT, json_integer_value (value));
    else {
        snprintf (err, errlen, "\"id\" is not a string or an integer");
        return -1;
    }
    return 0;
}

//  One member other than "payload" into task. 0, or -1 with err.
static int s_member (const char *key, json_t *value, sl_jsontask_t *task, char *err, size_t errlen)
{
    if (strcmp (key, "id") == 0)
        return s_id (value, task, err, errlen);
    if (strcmp (key, "timeout") == 0) {
        double seconds = json_number_value (value);
        if (!json_is_number (value) || !(seconds >= 0) || seconds > 4294967.0) {
            snprintf (err, errlen, "\"timeout\" is not a number of seconds (0 to 4294967)");
            return -1;
        }
        task->has_timeout = true;
        task->timeout_ms = (uint32_t) llround (seconds * 1000);
    } else if (strcmp (key, "retries") == 0) {
        if (!json_is_integer (value) || json_integer_value (value) < 0 ||
            json_integer_value (value) > 100) {
            snprintf (err, errlen, "\"retries\" is not a whole number from 0 to 100");
            return -1;
        }
        task->has_retries = true;
        task->retries = (uint32_t) json_integer_value (value);
    } else if (strcmp (key, "priority") == 0) {
        if (!json_is_integer (value) || json_integer_value (value) < -SL_JSONTASK_MAX_PRIORITY ||
            json_integer_value (value) > SL_JSONTASK_MAX_PRIORITY) {
            snprintf (err, errlen, "\"priority\" is not a whole number from %d to %d",
                      -SL_JSONTASK_MAX_PRIORITY, SL_JSONTASK_MAX_PRIORITY);
            return -1;
        }
        task->priority = (int32_t) json_integer_value (value);
    } else {
        snprintf (err, errlen,
                  "unknown member \"%.40s\" (a task has payload, id, timeout, retries, "
                  "priority)",
                  key);
        return -1;
    }
    return 0;
}

//  The object's members into task. 0, or -1 with err.
static int s_object (json_t *root, sl_jsontask_t *task, char *err, size_t errlen)
{
    if (!json_is_object (root)) {
        snprintf (err, errlen, "not a JSON object (each line must be {\"payload\": ...})");
        return -1;
    }
    json_t *payload = json_object_get (root, "payload");
    if (!payload) {
        snprintf (err, errlen, "no \"payload\"");
        return -1;
    }
    if (!json_is_string (payload)) {
        snprintf (err, errlen, "\"payload\" is not a string");
        return -1;
    }
    const char *key;
    json_t *value;
    json_object_foreach (root, key, value)
    {
        if (strcmp (key, "payload") != 0 && s_member (key, value, task, err, errlen))
            return -1;
    }
    task->size = json_string_length (payload);
    task->payload = malloc (task->size ? task->size : 1);
    if (!task->payload) {
        snprintf (err, errlen, "out of memory");
        return -1;
    }
    memcpy (task->payload, json_string_value (payload), task->size);
    return 0;
}

int sl_jsontask_parse (const uint8_t *line, size_t size, sl_jsontask_t *task, char *err,
                       size_t errlen)
{
    memset (task, 0, sizeof *task);
    json_error_t error;
    json_t *root = json_loadb ((const char *) line, size,
                               JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY, &error);
    if (!root) {
        snprintf (err, errlen, "not valid JSON: %s (column %d)", error.text, error.column);
        return -1;
    }
    int rc = s_object (root, task, err, errlen);
    json_decref (root);
    if (rc)
        sl_jsontask_clear (task);
    return rc;
}
