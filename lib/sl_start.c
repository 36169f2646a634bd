/*  sl_start - the start of every client program, see sl_start.h.
*/
#include "sl_start.h"

#include <string.h>

#include "sl_config.h"
#include "sl_endpoint.h"
#include "sl_follow.h"
#include "sl_util.h"

//  Every broker discovery keeps fits in a list the client follows.
_Static_assert(SL_DISCOVER_FOUND_MAX <= SL_FOLLOW_MAX, "discovered brokers fit sl_follow");

void sl_start_init (sl_start_t *self, const char *prog, const char *broker)
{
    assert (self);
    memset (self, 0, sizeof *self);
    self->prog = prog;
    self->broker = broker;
}

int sl_start_option (sl_start_t *self, int opt, const char *arg, void (*usage) (FILE *out))
{
    assert (self);
    switch (opt) {
        case 'b':
            self->broker = arg;
            self->discover_port = 0; //  of --broker and --discover, the last one wins
            return SL_OPT_HANDLED;
        case SL_OPT_TOKEN:
            self->token = arg;
            return SL_OPT_HANDLED;
        case SL_OPT_CURVE_SECRET:
            self->curve_secret = arg;
            return SL_OPT_HANDLED;
        case SL_OPT_CURVE_SERVER:
            self->curve_server = arg;
            return SL_OPT_HANDLED;
        case SL_OPT_DISCOVER:
            return sl_discover_port (self->prog, arg, &self->discover_port) ? SL_EXIT_USAGE
                                                                              : SL_OPT_HANDLED;
        case SL_OPT_CONFIG:
            return SL_OPT_HANDLED; //  read by sl_config_main
        default:
            return sl_common_option (opt, self->prog, usage, &self->verbosity);
    }
}

int sl_start_check (sl_start_t *self, sl_log_level_t level)
{
    assert (self);
    char err [512];
    if (!self->discover_port && sl_follow_check (self->broker, err, sizeof err)) {
        fprintf (stderr, "%s: --broker: %s\n", self->prog, err);
        return -1;
    }
    if (sl_curve_client_setup (&self->curve, self->token, self->curve_secret, self->curve_server,
                               err, sizeof err)) {
        fprintf (stderr, "%s: %s\n", self->prog, err);
        return -1;
    }
    self->curve_set = true;
    sl_log_init (self->prog, level);
    sl_log_adjust (self->verbosity);
    return 0;
}

int sl_start_discover (sl_start_t *self, int64_t timeout_ms)
{
    assert (self);
    if (!self->discover_port)
        return 0;
    char err [512];
    sl_discover_found_t found;
    if (sl_discover_find_all (self->discover_port, timeout_ms, SL_DISCOVER_GATHER_MS, NULL, &found,
                              err, sizeof err)) {
        sl_error ("%s", err);
        return -1;
    }
    sl_discover_found_list (&found, self->discovered, sizeof self->discovered);
    if (found.n > 1)
        sl_info ("following the brokers found: %s", self->discovered);
    self->broker = self->discovered;
    return 0;
}

void sl_start_clear (sl_start_t *self)
{
    assert (self);
    if (self->curve_set)
        sl_curve_client_clear (&self->curve);
    self->curve_set = false;
}
