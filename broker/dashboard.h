/*  dashboard - the broker's web dashboard and its JSON API: routes an HTTP
    GET to a page (HTML, CSS and JavaScript from web/, embedded in the
    binary at build time) or to an API document.

      /                          the dashboard (web/index.html)
      /jobs/ID                   one job's page (web/job.html)
      /static/NAME               web/NAME (app.js, job.js, common.js, style.css)
      /favicon.ico               web/favicon.svg (browsers ask for it)
      /api/status                what `sluice-ctl status --json` prints
      /api/jobs/ID               one job of /api/status, with its failure counts
      /api/jobs/ID/failed?after=SEQ&limit=N
                                 its failed tasks with seq > SEQ, in seq order
      /api/history?since=T       the history ring (history.h), samples after T (s)

    Read-only: nothing here changes the broker. Paths are matched exactly
    against this table, never mapped to files, so "/api/jobs/../x" is just
    a job id that is not valid (404).

    Pure: no sockets, no clock; the broker's state comes in through
    dashboard_src_t.
*/
#ifndef DASHBOARD_H_INCLUDED
#define DASHBOARD_H_INCLUDED

#include <jansson.h>
#include <stddef.h>

#include "failures.h"
#include "history.h"

#define DASHBOARD_PAGE 50      //  failed tasks per page, by default
#define DASHBOARD_PAGE_MAX 500 //  failed tasks per page, at most

//  A file of web/, embedded by cmake/embed.cmake (dashboard_assets.c).
typedef struct {
    const char *name;         //  file name in web/
    const char *content_type; //  its MIME type
    const char *data;         //  its bytes, NUL-terminated
    size_t size;              //  bytes at data, the NUL not counted
} dashboard_asset_t;

extern const dashboard_asset_t dashboard_assets [];
extern const size_t dashboard_asset_count;

typedef struct {
    //  The status document of `sluice-ctl status --json`. Caller of the
    //  callback owns the result; NULL if out of memory.
    json_t *(*status) (void *arg);
    void *arg;            //  for status
    failures_t *failures; //  failed tasks kept (not owned)
    history_t *history;   //  the charts' samples (not owned)
} dashboard_src_t;

//  The embedded file name, or NULL.
const dashboard_asset_t *dashboard_asset (const char *name);

//  Renders GET path?query. Returns the body (caller frees) with *status
//  and *content_type set, or NULL for a 404.
char *dashboard_render (const dashboard_src_t *src, const char *path, const char *query,
                        int *status, const char **content_type);

#endif
