/*  sl_status_json - a broker's StatusReport as JSON: what `sluice-ctl
    status --json` prints and what the broker's /api/status serves, from
    one function so that the two can never differ.

    Pure: no sockets, no clock.
*/
#ifndef SL_STATUS_JSON_H_INCLUDED
#define SL_STATUS_JSON_H_INCLUDED

#include <jansson.h>
#include <stddef.h>

#include "sluice.pb-c.h"

//  Splits a worker's "host:pid" name at its last colon: host is copied
//  (cut to hostlen), *pid points into name ("" without a colon).
void sl_status_host_pid (const char *name, char *host, size_t hostlen, const char **pid);

//  The report as a JSON object (the layout documented in the README under
//  "sluice-ctl status --json"). Caller owns the result (json_decref); NULL
//  if out of memory.
json_t *sl_status_json (const Sluice__StatusReport *r);

#endif
