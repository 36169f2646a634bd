/*  journal_url - the --journal option, see journal_url.h.  */
#include "journal_url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool sl_journal_url_is_nats (const char *spec)
{
    return spec && (strncmp (spec, "nats://", 7) == 0 || strncmp (spec, "tls://", 6) == 0);
}

//  Checks one item [p, p + len). Returns 0, or -1 with why.
static int s_check (const char *p, size_t len, const char **why)
{
    size_t scheme = strncmp (p, "nats://", 7) == 0 ? 7 : strncmp (p, "tls://", 6) == 0 ? 6 : 0;
    if (len == 0) {
        *why = "an empty item";
        return -1;
    }
    if (!scheme || len <= scheme) {
        *why = "not nats://HOST:PORT or tls://HOST:PORT";
        return -1;
    }
    const char *host = p + scheme, *end = p + len;
    for (const char *q = host; q < end; q++)
        if (*q == ' ' || *q == '\t' || *q == '/') {
            *why = "a space or a path in the URL";
            return -1;
        }
    const char *at = memchr (host, '@', (size_t) (end - host));
    if (at)
        host = at + 1;
    const char *colon = NULL; //  the one before the port
    if (host < end && *host == '[') {
        const char *close = memchr (host, ']', (size_t) (end - host));
        if (!close || close == host + 1 || close + 1 >= end || close [1] != ':') {
            *why = "an IPv6 address not written [ADDRESS]:PORT";
            return -1;
        }
        colon = close + 1;
    } else {
        for (const char *q = host; q < end; q++)
            if (*q == ':')
                colon = q;
        if (!colon || colon == host) {
            *why = "no HOST:PORT";
            return -1;
        }
        if (memchr (host, ':', (size_t) (colon - host))) {
            *why = "an IPv6 address not written [ADDRESS]:PORT";
            return -1;
        }
    }
    long port = 0;
    const char *q = colon + 1;
    if (q == end) {
        *why = "no port";
        return -1;
    }
    for (; q < end; q++) {
        if (*q < '0' || *q > '9' || port > 65535) {
            *why = "a port that is not 1..65535";
            return -1;
        }
        port = port * 10 + (*q - '0');
    }
    if (port < 1 || port > 65535) {
        *why = "a port that is not 1..65535";
        return -1;
    }
    return 0;
}

int sl_journal_urls_parse (const char *spec, char **urls, size_t *n, char *err, size_t errlen)
{
    *n = 0;
    const char *p = spec ? spec : "";
    while (1) {
        const char *comma = strchr (p, ',');
        size_t len = comma ? (size_t) (comma - p) : strlen (p);
        const char *why = NULL;
        if (*n == SL_JOURNAL_MAX_URLS)
            why = "more servers than " SL_JOURNAL_MAX_URLS_TEXT;
        else
            s_check (p, len, &why);
        if (!why && !(urls [*n] = strndup (p, len)))
            why = "out of memory";
        if (why) {
            snprintf (err, errlen, "%s in item %zu '%.*s' of the NATS server list", why, *n + 1,
                      (int) (len > 200 ? 200 : len), p);
            sl_journal_urls_free (urls, *n);
            *n = 0;
            return -1;
        }
        (*n)++;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

void sl_journal_urls_free (char **urls, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free (urls [i]);
        urls [i] = NULL;
    }
}

bool sl_journal_stream_valid (const char *name)
{
    size_t len = name ? strlen (name) : 0;
    if (len == 0 || len > 64)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name [i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}
