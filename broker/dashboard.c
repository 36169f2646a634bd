/*  dashboard - the broker's web dashboard and JSON API, see dashboard.h.  */
#include "dashboard.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "httpreq.h"
#include "sl_util.h"

#define JSON_TYPE "application/json"

static const char *s_status_names [] = { "none", "ok", "failed", "timeout", "cancelled" };

const dashboard_asset_t *dashboard_asset (const char *name)
{
    for (size_t i = 0; i < dashboard_asset_count; i++)
        if (strcmp (dashboard_assets [i].name, name) == 0)
            return &dashboard_assets [i];
    return NULL;
}

static char *s_asset (const char *name, const char **content_type)
{
    const dashboard_asset_t *asset = dashboard_asset (name);
    if (!asset)
        return NULL;
    *content_type = asset->content_type;
    return strdup (asset->data);
}

//  Takes ownership of doc.
static char *s_dump (json_t *doc, const char **content_type)
{
    if (!doc)
        return NULL;
    char *text = json_dumps (doc, JSON_COMPACT);
    json_decref (doc);
    *content_type = JSON_TYPE;
    return text;
}

//  bytes as a JSON string: as they are if valid UTF-8, else with every
//  byte outside ASCII printed as '?'. (Standard error is whatever a
//  program wrote, and its tail may start inside a character.)
static json_t *s_text (const char *bytes, size_t size)
{
    json_t *text = json_stringn (bytes, size);
    if (text)
        return text;
    char *copy = (char *) malloc (size + 1);
    if (!copy)
        return NULL;
    for (size_t i = 0; i < size; i++)
        copy [i] = (unsigned char) bytes [i] < 0x80 && bytes [i] ? bytes [i] : '?';
    text = json_stringn (copy, size);
    free (copy);
    return text;
}

//  The job `id` of the status document, or NULL (borrowed from doc).
static json_t *s_find_job (json_t *doc, const char *id)
{
    json_t *jobs = json_object_get (doc, "jobs"), *job;
    size_t i;
    json_array_foreach (jobs, i, job)
    {
        const char *job_id = json_string_value (json_object_get (job, "id"));
        if (job_id && strcmp (job_id, id) == 0)
            return job;
    }
    return NULL;
}

static char *s_job (const dashboard_src_t *src, const char *id, const char **content_type)
{
    json_t *doc = src->status (src->arg);
    if (!doc)
        return NULL;
    json_t *job = s_find_job (doc, id);
    uint64_t noted = failures_count (src->failures, id);
    if (!job && !noted) {
        json_decref (doc);
        return NULL;
    }
    json_t *reply = job ? json_deep_copy (job) : json_pack ("{s:s, s:b}", "id", id, "known", 0);
    json_decref (doc);
    if (!reply)
        return NULL;
    json_object_set_new (reply, "failed_noted", json_integer ((json_int_t) noted));
    json_object_set_new (reply, "failed_kept",
                         json_integer ((json_int_t) failures_kept (src->failures, id)));
    return s_dump (reply, content_type);
}

static char *s_failed (const dashboard_src_t *src, const char *id, const char *query,
                       const char **content_type)
{
    uint64_t after = 0, limit = DASHBOARD_PAGE;
    bool after_any = !httpreq_query_u64 (query, "after", &after);
    if (httpreq_query_u64 (query, "limit", &limit) && (limit == 0 || limit > DASHBOARD_PAGE_MAX))
        limit = limit == 0 ? 1 : DASHBOARD_PAGE_MAX;
    //  One more than asked, to tell whether there are more.
    const failure_t *page [DASHBOARD_PAGE_MAX + 1];
    size_t n = failures_page (src->failures, id, after_any, after, page, (size_t) limit + 1);
    bool more = n > limit;
    if (more)
        n = (size_t) limit;
    json_t *list = json_array ();
    json_t *reply = json_pack ("{s:s, s:o, s:b, s:I, s:I}", "job", id, "failed", list, "more", more,
                               "noted", (json_int_t) failures_count (src->failures, id), "kept",
                               (json_int_t) failures_kept (src->failures, id));
    if (!reply)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const failure_t *f = page [i];
        json_t *item =
            json_pack ("{s:I, s:s, s:s, s:i, s:I, s:s, s:o}", "seq", (json_int_t) f->seq, "id",
                       f->id, "status", f->status < 5 ? s_status_names [f->status] : "unknown",
                       "exit_code", (int) f->exit_code, "attempts", (json_int_t) f->attempts,
                       "worker", f->worker, "stderr", s_text (f->stderr_tail, f->stderr_size));
        json_array_append_new (list, item);
    }
    json_object_set_new (reply, "next_after",
                         more && n ? json_integer ((json_int_t) page [n - 1]->seq) : json_null ());
    return s_dump (reply, content_type);
}

static char *s_history (const dashboard_src_t *src, const char *query, const char **content_type)
{
    uint64_t since = 0;
    int64_t since_ms = httpreq_query_u64 (query, "since", &since) && since < INT64_MAX / 1000
                           ? (int64_t) since * 1000
                           : INT64_MIN;
    return s_dump (history_json (src->history, since_ms), content_type);
}

char *dashboard_render (const dashboard_src_t *src, const char *path, const char *query,
                        int *status, const char **content_type)
{
    assert (src);
    *status = 200;
    if (strcmp (path, "/") == 0 || strcmp (path, "/index.html") == 0)
        return s_asset ("index.html", content_type);
    if (strcmp (path, "/favicon.ico") == 0)
        return s_asset ("favicon.svg", content_type);
    if (strncmp (path, "/static/", 8) == 0)
        return strchr (path + 8, '/') || !strcmp (path + 8, "index.html") ||
                       !strcmp (path + 8, "job.html")
                   ? NULL
                   : s_asset (path + 8, content_type);
    if (strncmp (path, "/jobs/", 6) == 0)
        return sl_job_id_valid (path + 6) ? s_asset ("job.html", content_type) : NULL;
    if (strcmp (path, "/api/status") == 0)
        return s_dump (src->status (src->arg), content_type);
    if (strcmp (path, "/api/history") == 0)
        return s_history (src, query, content_type);
    if (strncmp (path, "/api/jobs/", 10) == 0) {
        char id [80];
        const char *rest = path + 10;
        const char *slash = strchr (rest, '/');
        size_t len = slash ? (size_t) (slash - rest) : strlen (rest);
        if (len == 0 || len >= sizeof id)
            return NULL;
        memcpy (id, rest, len);
        id [len] = '\0';
        if (!sl_job_id_valid (id))
            return NULL;
        if (!slash)
            return s_job (src, id, content_type);
        if (strcmp (slash, "/failed") == 0)
            return s_failed (src, id, query, content_type);
    }
    return NULL;
}
