/*  sl_endpoint - derives the broker's ports from one address, see sl_endpoint.h.  */
#include "sl_endpoint.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Splits base into its host part (without the port) and the port number.
static int s_split (const char *base, char *host, size_t hostlen, long *port, char *err,
                    size_t errlen)
{
    if (strncmp (base, "tcp://", 6) != 0) {
        snprintf (err, errlen, "endpoint '%s' is not of the form tcp://HOST:PORT", base);
        return -1;
    }
    const char *colon = strrchr (base + 6, ':');
    if (!colon || colon == base + 6) {
        snprintf (err, errlen, "endpoint '%s' has no host or no port (want tcp://HOST:PORT)", base);
        return -1;
    }
    //  An IPv6 literal is [addr]:port; a colon inside brackets is not the port's.
    const char *bracket = strrchr (base + 6, ']');
    if (bracket && bracket > colon) {
        snprintf (err, errlen, "endpoint '%s' has no port (want tcp://HOST:PORT)", base);
        return -1;
    }
    char *end;
    errno = 0;
    long value = strtol (colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end != '\0' || value < 1 ||
        value > 65535 - (SL_PORT_COUNT - 1)) {
        snprintf (err, errlen,
                  "endpoint '%s': port must be a number from 1 to %d (sluice uses %d consecutive "
                  "ports from it)",
                  base, 65535 - (SL_PORT_COUNT - 1), SL_PORT_COUNT);
        return -1;
    }
    size_t len = (size_t) (colon - base);
    if (len + 1 > hostlen) {
        snprintf (err, errlen, "endpoint '%s' is too long", base);
        return -1;
    }
    memcpy (host, base, len);
    host [len] = '\0';
    *port = value;
    return 0;
}

int sl_endpoint_check (const char *base, char *err, size_t errlen)
{
    char host [256];
    long port;
    return s_split (base, host, sizeof host, &port, err, errlen);
}

int sl_endpoint_derive (const char *base, sl_port_t which, char *out, size_t outlen, char *err,
                        size_t errlen)
{
    char host [256];
    long port;
    if (s_split (base, host, sizeof host, &port, err, errlen))
        return -1;
    int n = snprintf (out, outlen, "%s:%ld", host, port + (long) which);
    if (n < 0 || (size_t) n >= outlen) {
        snprintf (err, errlen, "endpoint '%s' is too long", base);
        return -1;
    }
    return 0;
}

bool sl_endpoint_loopback (const char *base)
{
    char host [256], err [256];
    long port;
    if (s_split (base, host, sizeof host, &port, err, sizeof err))
        return false;
    const char *name = host + 6; //  after tcp://
    //  libzmq's "tcp://IFACE;HOST:PORT" binds IFACE: judge the address bound.
    if (strchr (name, ';'))
        return false;
    struct in_addr v4;
    if (inet_pton (AF_INET, name, &v4) == 1)
        return (ntohl (v4.s_addr) >> 24) == 127;
    return strcmp (name, "localhost") == 0 || strcmp (name, "[::1]") == 0;
}
