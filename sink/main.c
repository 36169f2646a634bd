/*  sluice-sink - collects results from the broker and writes them out.

    Options, start, run, exit status; the event loop is in sink.c, the
    output formats in writer.c.
*/
#include <czmq.h>
#include <getopt.h>
#include <stdio.h>

#include "sink.h"
#include "sl_endpoint.h"
#include "sl_log.h"
#include "sl_util.h"

#define PROG "sluice-sink"

static void s_usage (FILE *out)
{
    fprintf (out,
             "Usage: " PROG " [OPTION]...\n"
             "Collects task results from the broker and writes each exactly once.\n"
             "By default it waits for a job, collects every job the broker holds, and exits\n"
             "once none is incomplete.\n"
             "\n"
             "  -b, --broker ENDPOINT      broker address (default " SL_DEFAULT_BROKER ")\n"
             "  -o, --output FILE          write results to FILE (default: standard output)\n"
             "  -f, --format FORMAT        text (default): each task's output, newline-ended;\n"
             "                             jsonl: one JSON object per result with job, seq,\n"
             "                             status, exit_code, attempts, worker, duration_ms,\n"
             "                             output (and stderr when the task wrote any)\n"
             "      --job ID               collect only this job\n"
             "      --follow               keep collecting forever\n"
             "      --resume               continue -o FILE (jsonl) after an interruption: the\n"
             "                             results already in it are not written again\n"
             "      --from-start           with --job: have the broker deliver the whole job\n"
             "                             again (e.g. after losing the output file)\n"
             "      --connect-timeout SEC  give up if no broker answers in time (default: "
             "wait)\n" SL_CURVE_HELP "  -v, --verbose              more log output\n"
             "  -q, --quiet                less log output\n"
             "  -h, --help                 show this help and exit\n"
             "  -V, --version              show the version and exit\n"
             "\n"
             "One sink collects from a broker at a time; a second one is refused.\n"
             "Exit status: 0 if every task was ok, 1 if any failed or timed out (or the sink\n"
             "was interrupted), 2 on usage errors or when the sink could not work.\n");
}

int main (int argc, char *argv [])
{
    sink_config_t config = {
        .broker = SL_DEFAULT_BROKER,
        .format = SL_FORMAT_TEXT,
        .connect_timeout_ms = -1,
    };
    int verbosity = 0;
    const char *curve_secret = NULL, *curve_server = NULL;
    static const struct option options [] = {
        { "broker", required_argument, NULL, 'b' },
        { "output", required_argument, NULL, 'o' },
        { "format", required_argument, NULL, 'f' },
        { "job", required_argument, NULL, 'J' },
        { "follow", no_argument, NULL, 'F' },
        { "resume", no_argument, NULL, 'r' },
        { "from-start", no_argument, NULL, 'S' },
        { "connect-timeout", required_argument, NULL, 'C' },
        SL_CURVE_OPTIONS,
        { "verbose", no_argument, NULL, 'v' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    int opt;
    uint64_t value;
    while ((opt = getopt_long (argc, argv, "b:o:f:vqhV", options, NULL)) != -1) {
        switch (opt) {
            case 'b':
                config.broker = optarg;
                break;
            case 'o':
                config.output = optarg;
                break;
            case 'f':
                if (sl_format_parse (optarg, &config.format)) {
                    fprintf (stderr, PROG ": --format: '%s' is not a format (text, jsonl)\n",
                             optarg);
                    return SL_EXIT_USAGE;
                }
                break;
            case 'J':
                if (!sl_job_id_valid (optarg)) {
                    fprintf (stderr,
                             PROG ": --job: '%s' is not a job id (1-64 characters of "
                                  "A-Z a-z 0-9 . _ -)\n",
                             optarg);
                    return SL_EXIT_USAGE;
                }
                config.job = optarg;
                break;
            case 'r':
                config.resume = true;
                break;
            case 'S':
                config.from_start = true;
                break;
            case 'F':
                config.follow = true;
                break;
            case SL_OPT_CURVE_SECRET:
                curve_secret = optarg;
                break;
            case SL_OPT_CURVE_SERVER:
                curve_server = optarg;
                break;
            case 'C':
                if (sl_parse_seconds (PROG, "--connect-timeout", optarg, &value))
                    return SL_EXIT_USAGE;
                config.connect_timeout_ms = (int64_t) value;
                break;
            default: {
                int rc = sl_common_option (opt, PROG, s_usage, &verbosity);
                if (rc != SL_OPT_HANDLED)
                    return rc == SL_OPT_NOT_COMMON ? SL_EXIT_USAGE : rc;
            }
        }
    }
    if (optind < argc) {
        fprintf (stderr, PROG ": unexpected argument '%s'\nTry '" PROG " --help'.\n",
                 argv [optind]);
        return SL_EXIT_USAGE;
    }
    if (config.resume && (!config.output || config.format != SL_FORMAT_JSONL)) {
        fprintf (stderr, PROG ": --resume needs -o FILE and --format jsonl (text output "
                              "carries no seq to resume from)\n");
        return SL_EXIT_USAGE;
    }
    if (config.from_start && !config.job) {
        fprintf (stderr, PROG ": --from-start needs --job ID\n");
        return SL_EXIT_USAGE;
    }
    if (config.from_start && config.resume) {
        fprintf (stderr, PROG ": --from-start writes the whole job again: not with --resume\n");
        return SL_EXIT_USAGE;
    }
    char err [512];
    if (sl_endpoint_check (config.broker, err, sizeof err)) {
        fprintf (stderr, PROG ": --broker: %s\n", err);
        return SL_EXIT_USAGE;
    }
    sl_curve_client_t curve;
    if (sl_curve_client_init (&curve, curve_secret, curve_server, err, sizeof err)) {
        fprintf (stderr, PROG ": %s\n", err);
        return SL_EXIT_USAGE;
    }
    config.curve = &curve;
    sl_log_init (PROG, SL_LOG_WARN);
    sl_log_adjust (verbosity);
    int rc = sink_run (&config);
    sl_curve_client_clear (&curve);
    return rc;
}
