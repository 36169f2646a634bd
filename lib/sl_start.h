/*  sl_start - what every client program (sluice-worker, -ventilator, -sink,
    -ctl) does at start: the options they share and the set-up after them.

    The options: -b/--broker, --token, --curve-server, --curve-secret,
    --discover[=PORT], --config (read earlier by sl_config_main), -v, -q,
    -h, -V. The set-up, in two steps: sl_start_check checks the broker
    address, makes the CurveZMQ settings (a token, or key files, or none)
    and starts logging; sl_start_discover finds the broker by its UDP
    beacon when --discover was given. Each prints why it failed, naming
    the option; the program chooses its exit status.

        sl_start_t start;
        sl_start_init (&start, PROG, SL_DEFAULT_BROKER);
        while ((opt = getopt_long (...)) != -1) {
            int rc = sl_start_option (&start, opt, optarg, s_usage);
            if (rc == SL_OPT_HANDLED)
                continue;
            if (rc != SL_OPT_NOT_COMMON)
                return rc;
            switch (opt) { ...the program's own options... }
        }
        if (sl_start_check (&start, SL_LOG_WARN))
            return SL_EXIT_USAGE;
        if (sl_start_discover (&start, connect_timeout_ms))
            ...its exit status for "no broker"...
        ...run with start.broker and &start.curve...
        sl_start_clear (&start);

    Programs differ only in the options they add and the log level they
    start at; what they share is written once here.
*/
#ifndef SL_START_H_INCLUDED
#define SL_START_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sl_curve.h"
#include "sl_discover.h"
#include "sl_log.h"

typedef struct {
    const char *prog;                             //  program name, for messages
    const char *broker;                           //  --broker, or the one discovered
    const char *token;                            //  --token, or NULL ($SLUICE_TOKEN then)
    const char *curve_secret;                     //  --curve-secret FILE, or NULL
    const char *curve_server;                     //  --curve-server FILE, or NULL
    uint16_t discover_port;                       //  --discover's UDP port, 0 = off
    int verbosity;                                //  -v counts up, -q down
    sl_curve_client_t curve;                      //  CurveZMQ settings (sl_start_check)
    bool curve_set;                               //  curve holds something to clear
    char discovered [SL_DISCOVER_LIST_MAX];       //  the addresses --discover found
} sl_start_t;

//  Starts with no option given; broker is the default address.
void sl_start_init (sl_start_t *self, const char *prog, const char *broker);

//  One option from getopt_long (arg its optarg). Returns SL_OPT_HANDLED if
//  it was a shared option (taken), SL_OPT_NOT_COMMON if it is the
//  program's own, or an exit status for main to return at once: 0 after
//  --help (usage printed on stdout) or --version, SL_EXIT_USAGE after an
//  unknown option or a bad value (said on stderr).
int sl_start_option (sl_start_t *self, int opt, const char *arg, void (*usage) (FILE *out));

//  After the options: checks the broker address (unless --discover will
//  find one) and the CurveZMQ options, and starts logging at level adjusted
//  by -v/-q. Returns 0, or -1 having said why on stderr.
int sl_start_check (sl_start_t *self, sl_log_level_t level);

//  With --discover: waits up to timeout_ms (< 0: for ever) for a broker's
//  beacon, listens SL_DISCOVER_GATHER_MS more for the others (an active
//  broker's standbys), and makes broker the list of their addresses,
//  active ones first, which the client follows as it would --broker a,b. Returns 0 (at once without
//  --discover), or -1 having logged why.
int sl_start_discover (sl_start_t *self, int64_t timeout_ms);

//  Frees what sl_start_check made (CurveZMQ keys). Safe to call twice.
void sl_start_clear (sl_start_t *self);

#endif
