/*  sl_util - small shared helpers, see sl_util.h.  */
#include "sl_util.h"

#include <czmq.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "sl_proto.h"

int sl_parse_u64 (const char *prog, const char *opt, const char *arg, uint64_t min, uint64_t max,
                  uint64_t *value)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull (arg, &end, 10);
    if (errno || end == arg || *end != '\0' || !isdigit ((unsigned char) arg [0]) || v < min ||
        v > max) {
        fprintf (stderr, "%s: %s: '%s' is not a whole number from %llu to %llu\n", prog, opt, arg,
                 (unsigned long long) min, (unsigned long long) max);
        return -1;
    }
    *value = v;
    return 0;
}

int sl_parse_size (const char *prog, const char *opt, const char *arg, uint64_t min, uint64_t max,
                   uint64_t *value)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull (arg, &end, 10);
    int shift = 0;
    if (end != arg && *end && !end [1]) {
        const char *units = "KMGT";
        const char *unit = strchr (units, toupper ((unsigned char) *end));
        if (unit && *unit) {
            shift = 10 * (int) (unit - units + 1);
            end++;
        }
    }
    bool overflow = shift && v > (ULLONG_MAX >> shift);
    if (errno || end == arg || *end != '\0' || !isdigit ((unsigned char) arg [0]) || overflow ||
        (v << shift) < min || (v << shift) > max) {
        fprintf (stderr,
                 "%s: %s: '%s' is not a size from %llu to %llu bytes (a number, optionally "
                 "followed by K, M, G or T)\n",
                 prog, opt, arg, (unsigned long long) min, (unsigned long long) max);
        return -1;
    }
    *value = v << shift;
    return 0;
}

int sl_parse_seconds (const char *prog, const char *opt, const char *arg, uint64_t *ms)
{
    char *end;
    errno = 0;
    double v = strtod (arg, &end);
    if (errno || end == arg || *end != '\0' || !(v >= 0) || v > 365.0 * 86400) {
        fprintf (stderr, "%s: %s: '%s' is not a number of seconds (0 to 31536000, e.g. 2.5)\n",
                 prog, opt, arg);
        return -1;
    }
    *ms = (uint64_t) (v * 1000 + 0.5);
    return 0;
}

void sl_self_name (char *buf, size_t len)
{
    char host [256];
    if (gethostname (host, sizeof host) != 0)
        strcpy (host, "localhost");
    host [sizeof host - 1] = '\0';
    snprintf (buf, len, "%s:%ld", host, (long) getpid ());
}

void sl_random_hex (char *buf, size_t len, size_t nchars)
{
    static const char digits [] = "0123456789abcdef";
    if (nchars + 1 > len)
        nchars = len - 1;
    uint8_t bytes [64];
    size_t need = (nchars + 1) / 2;
    if (need > sizeof bytes)
        need = sizeof bytes;
    if (getrandom (bytes, need, 0) != (ssize_t) need) {
        //  No entropy source: fall back to time and pid, still unique enough
        //  for ids that are checked for collisions by the broker.
        srandom ((unsigned) (getpid () ^ time (NULL)));
        for (size_t i = 0; i < need; i++)
            bytes [i] = (uint8_t) random ();
    }
    for (size_t i = 0; i < nchars; i++)
        buf [i] = digits [(bytes [i / 2] >> ((i % 2) ? 0 : 4)) & 15];
    buf [nchars] = '\0';
}

void sl_print_version (const char *prog)
{
    printf ("%s %s (sluice protocol %d)\n", prog, SL_VERSION, SL_PROTOCOL_VERSION);
}

int sl_file_sha1 (const char *path, char hex [41], uint64_t *size, char *err, size_t errlen)
{
    FILE *file = fopen (path, "rb");
    if (!file) {
        snprintf (err, errlen, "cannot open %s: %s", path, strerror (errno));
        return -1;
    }
    zdigest_t *digest = zdigest_new ();
    uint8_t *buffer = malloc (1 << 20);
    if (!digest || !buffer) {
        fclose (file);
        zdigest_destroy (&digest);
        free (buffer);
        snprintf (err, errlen, "out of memory");
        return -1;
    }
    *size = 0;
    size_t got;
    while ((got = fread (buffer, 1, 1 << 20, file)) > 0) {
        zdigest_update (digest, buffer, got);
        *size += got;
    }
    int rc = 0;
    if (ferror (file)) {
        snprintf (err, errlen, "cannot read %s: %s", path, strerror (errno));
        rc = -1;
    } else {
        const char *text = zdigest_string (digest);
        for (size_t i = 0; i < 40; i++)
            hex [i] = (char) tolower ((unsigned char) text [i]);
        hex [40] = '\0';
    }
    fclose (file);
    free (buffer);
    zdigest_destroy (&digest);
    return rc;
}

bool sl_job_id_valid (const char *s)
{
    size_t len = strlen (s);
    if (len == 0 || len > 64)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s [i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

int sl_common_option (int opt, const char *prog, void (*usage) (FILE *out), int *verbosity)
{
    switch (opt) {
        case 'v':
            (*verbosity)++;
            return SL_OPT_HANDLED;
        case 'q':
            (*verbosity)--;
            return SL_OPT_HANDLED;
        case 'h':
            usage (stdout);
            return 0;
        case 'V':
            sl_print_version (prog);
            return 0;
        case '?':
            fprintf (stderr, "Try '%s --help' for more information.\n", prog);
            return SL_EXIT_USAGE;
        default:
            return SL_OPT_NOT_COMMON;
    }
}

int sl_parse_sleep_ms (const uint8_t *payload, size_t size, uint64_t *ms)
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
