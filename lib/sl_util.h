/*  sl_util - small helpers every sluice program uses: option values with
    clear errors, the process's "host:pid" name, random ids, the version.
*/
#ifndef SL_UTIL_H_INCLUDED
#define SL_UTIL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SL_VERSION "0.1.0"

//  Exit status for usage errors, shared by all programs.
#define SL_EXIT_USAGE 2

//  Parses a whole decimal number in [min, max] for option `opt`. On error
//  prints "PROG: OPT: 'ARG' is not ..." on stderr and returns -1.
int sl_parse_u64 (const char *prog, const char *opt, const char *arg, uint64_t min, uint64_t max,
                  uint64_t *value);

//  Like sl_parse_u64, for a size in bytes with an optional binary suffix:
//  K, M, G or T (KiB, MiB, GiB, TiB; either case), e.g. "512M". Every
//  option that takes a size, in every program and in the configuration
//  file, goes through this one parser, so they all read the same.
int sl_parse_size (const char *prog, const char *opt, const char *arg, uint64_t min, uint64_t max,
                   uint64_t *value);

//  Like sl_parse_u64, for a duration in seconds that may have a fraction
//  ("2.5"); *ms gets milliseconds.
int sl_parse_seconds (const char *prog, const char *opt, const char *arg, uint64_t *ms);

//  A sleep task's payload: a whole number of milliseconds, at most a year,
//  blanks around it allowed (no sign, no fraction, no unit). Returns 0, or
//  -1 if it is not one. Used by the built-in sleep of the worker and of its
//  runner.
int sl_parse_sleep_ms (const uint8_t *payload, size_t size, uint64_t *ms);

//  Writes "host:pid" of this process into buf.
void sl_self_name (char *buf, size_t len);

//  Writes nchars random lowercase hex digits and a NUL into buf (len > nchars).
void sl_random_hex (char *buf, size_t len, size_t nchars);

//  Prints "PROG VERSION (protocol N)" on stdout.
void sl_print_version (const char *prog);

//  getopt codes and help text of the CurveZMQ options every client has.
#define SL_OPT_CURVE_SECRET 1001
#define SL_OPT_CURVE_SERVER 1002
#define SL_OPT_TOKEN 1003
#define SL_CURVE_OPTIONS                                                                           \
    { "curve-secret", required_argument, NULL, SL_OPT_CURVE_SECRET },                              \
        { "curve-server", required_argument, NULL, SL_OPT_CURVE_SERVER },                          \
    {                                                                                              \
        "token", required_argument, NULL, SL_OPT_TOKEN                                             \
    }
#define SL_CURVE_HELP                                                                              \
    "      --token TOKEN          the broker's join token (SLUICE1-..., default\n"                 \
    "                             $SLUICE_TOKEN): CurveZMQ, needed by a broker that\n"             \
    "                             listens beyond loopback; on its host `sluice-ctl\n"              \
    "                             token` prints it. A secret: prefer $SLUICE_TOKEN or\n"           \
    "                             the config file to the command line\n"                           \
    "      --curve-server FILE    encrypt with CurveZMQ: the broker's public certificate\n"        \
    "      --curve-secret FILE    this client's certificate (from sluice-keygen), if the\n"        \
    "                             broker admits only known clients\n"

//  The options every program has (sl_common_option handles them).
#define SL_COMMON_OPTIONS                                                                          \
    { "verbose", no_argument, NULL, 'v' }, { "quiet", no_argument, NULL, 'q' },                    \
        { "help", no_argument, NULL, 'h' }, {                                                      \
        "version", no_argument, NULL, 'V'                                                          \
    }

//  What sl_common_option tells the caller to do.
#define SL_OPT_NOT_COMMON (-1) //  not one of the common options: handle it
#define SL_OPT_HANDLED (-2)    //  handled (-v, -q): go on parsing

//  Handles the options every program has: -v, -q (adjust *verbosity),
//  -h (prints usage on stdout), -V, and getopt's '?' for unknown ones.
//  Returns SL_OPT_NOT_COMMON, SL_OPT_HANDLED, or an exit status to return
//  from main at once (0 after help or version, SL_EXIT_USAGE for '?').
int sl_common_option (int opt, const char *prog, void (*usage) (FILE *out), int *verbosity);

//  SHA-1 of a file's content (czmq's zdigest) as 40 lowercase hex digits
//  into hex, and its size. 0, or -1 with err naming the file.
int sl_file_sha1 (const char *path, char hex [41], uint64_t *size, char *err, size_t errlen);

//  True if s is usable as a job id: 1..64 characters of [A-Za-z0-9._-].
bool sl_job_id_valid (const char *s);

#endif
