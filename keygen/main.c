/*  sluice-keygen - makes a CurveZMQ certificate pair for a broker or client.

    Writes NAME (public key) and NAME_secret (both keys, readable by its
    owner only) in czmq's zcert format, as sluice-broker --curve-secret,
    --curve-clients and the clients' --curve-secret/--curve-server read
    them.
*/
#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sl_util.h"

#define PROG "sluice-keygen"

static void s_usage (FILE *out)
{
    fprintf (out, "Usage: " PROG " [OPTION]... NAME\n"
                  "Makes a CurveZMQ certificate pair: NAME (the public key, to give to others)\n"
                  "and NAME_secret (both keys, readable by you only; keep it private).\n"
                  "\n"
                  "  -d, --dir DIR   write the files in DIR (default: the current directory)\n"
                  "  -f, --force     overwrite existing files\n"
                  "  -h, --help      show this help and exit\n"
                  "  -V, --version   show the version and exit\n"
                  "\n"
                  "A broker: sluice-broker --curve-secret broker_secret --curve-clients DIR\n"
                  "A client: sluice-worker --curve-secret worker_secret --curve-server broker ...\n"
                  "(copy each client's public file NAME into the broker's DIR to admit it)\n");
}

int main (int argc, char *argv [])
{
    const char *dir = ".";
    bool force = false;
    int verbosity = 0;
    static const struct option options [] = {
        { "dir", required_argument, NULL, 'd' },
        { "force", no_argument, NULL, 'f' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "d:fhV", options, NULL)) != -1) {
        switch (opt) {
            case 'd':
                dir = optarg;
                break;
            case 'f':
                force = true;
                break;
            default: {
                int rc = sl_common_option (opt, PROG, s_usage, &verbosity);
                if (rc != SL_OPT_HANDLED)
                    return rc == SL_OPT_NOT_COMMON ? SL_EXIT_USAGE : rc;
            }
        }
    }
    if (argc - optind != 1 || !*argv [optind] || strchr (argv [optind], '/')) {
        fprintf (stderr, PROG ": give one NAME (no '/'; use --dir for the directory)\n");
        return SL_EXIT_USAGE;
    }
    char path [PATH_MAX], secret [PATH_MAX + 8];
    snprintf (path, sizeof path, "%s/%s", dir, argv [optind]);
    snprintf (secret, sizeof secret, "%s_secret", path);
    if (!force && (access (path, F_OK) == 0 || access (secret, F_OK) == 0)) {
        fprintf (stderr, PROG ": %s or %s exists (use --force to overwrite)\n", path, secret);
        return 1;
    }
    zcert_t *cert = zcert_new ();
    zcert_set_meta (cert, "name", "%s", argv [optind]);
    zcert_set_meta (cert, "created-by", "%s %s", PROG, SL_VERSION);
    //  The secret file is made private before it holds the key.
    mode_t old = umask (077);
    int rc = zcert_save (cert, path);
    umask (old);
    if (rc == 0 && (chmod (secret, 0600) != 0 || chmod (path, 0644) != 0))
        rc = -1;
    if (rc != 0) {
        fprintf (stderr, PROG ": cannot write %s: %s\n", path, strerror (errno));
        zcert_destroy (&cert);
        return 1;
    }
    printf ("%s\n%s\n", path, secret);
    zcert_destroy (&cert);
    return 0;
}
