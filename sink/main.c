/*  sluice-sink - collects results from the broker and writes them out.

    Options, start, run, exit status; the event loop is in sink.c, the
    output formats in writer.c.
*/
#include <czmq.h>
#include <getopt.h>
#include <stdio.h>

#include "sink.h"
#include "sl_config.h"
#include "sl_discover.h"
#include "sl_endpoint.h"
#include "sl_log.h"
#include "sl_start.h"
#include "sl_util.h"

#define PROG "sluice-sink"

static const struct option s_options [] = {
    { "broker", required_argument, NULL, 'b' },
    { "output", required_argument, NULL, 'o' },
    { "format", required_argument, NULL, 'f' },
    { "job", required_argument, NULL, 'J' },
    { "follow", no_argument, NULL, 'F' },
    { "resume", no_argument, NULL, 'r' },
    { "from-start", no_argument, NULL, 'S' },
    { "keep-order", no_argument, NULL, 'k' },
    { "progress", no_argument, NULL, 'P' },
    { "no-progress", no_argument, NULL, 'N' },
    { "connect-timeout", required_argument, NULL, 'C' },
    SL_CURVE_OPTIONS,
    SL_DISCOVER_OPTION,
    SL_CONFIG_OPTION,
    SL_COMMON_OPTIONS,
    { NULL, 0, NULL, 0 },
};

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
             "                             output (and id when the task had one, stage for\n"
             "                             multi-stage jobs, stderr when it wrote any)\n"
             "      --job ID               collect only this job (give --job again for\n"
             "                             more, up to 64; exits once all are done)\n"
             "      --follow               keep collecting forever\n"
             "      --resume               continue -o FILE (jsonl) after an interruption: the\n"
             "                             results already in it are not written again\n"
             "      --from-start           with --job: have the broker deliver the whole job\n"
             "                             again (e.g. after losing the output file)\n"
             "  -k, --keep-order           write each job's results in task order (seq 1, 2,\n"
             "                             3...), holding back only those that arrive early\n"
             "      --progress             show a progress line on standard error (done/total,\n"
             "                             failed, rate, ETA, busy workers) even when it is\n"
             "                             not a terminal (default: only on a terminal)\n"
             "      --no-progress          never show the progress line\n"
             "      --connect-timeout SEC  give up if no broker answers in time (default: "
             "wait)\n" SL_DISCOVER_HELP SL_CURVE_HELP SL_CONFIG_HELP
             "  -v, --verbose              more log output\n"
             "  -q, --quiet                less log output\n"
             "  -h, --help                 show this help and exit\n"
             "  -V, --version              show the version and exit\n"
             "\n"
             "With --keep-order, results held back are not confirmed to the broker until\n"
             "written (past 8192 of them they are, and with -o FILE --format jsonl saved\n"
             "first in FILE.parked, which --resume reads back).\n"
             "One sink collects from a broker at a time; a second one is refused.\n"
             "Exit status: 0 if every task was ok, 1 if any failed or timed out (or the sink\n"
             "was interrupted), 2 on usage errors or when the sink could not work.\n");
}

//  One option of the sink's own (not sl_start's). Prints the problem and
//  returns -1.
static int s_option (sink_config_t *config, int opt, const char *arg)
{
    uint64_t value;
    switch (opt) {
        case 'o':
            config->output = arg;
            return 0;
        case 'f':
            if (sl_format_parse (arg, &config->format)) {
                fprintf (stderr, PROG ": --format: '%s' is not a format (text, jsonl)\n", arg);
                return -1;
            }
            return 0;
        case 'J':
            if (!sl_job_id_valid (arg)) {
                fprintf (stderr,
                         PROG ": --job: '%s' is not a job id (1-64 characters of "
                              "A-Z a-z 0-9 . _ -)\n",
                         arg);
                return -1;
            }
            if (!config->job)
                config->job = arg;
            else if (config->nmore_jobs == SL_COLLECT_MAX_JOBS - 1) {
                fprintf (stderr, PROG ": --job: at most %d jobs\n", SL_COLLECT_MAX_JOBS);
                return -1;
            } else
                config->more_jobs [config->nmore_jobs++] = arg;
            return 0;
        case 'r':
            config->resume = true;
            return 0;
        case 'S':
            config->from_start = true;
            return 0;
        case 'F':
            config->follow = true;
            return 0;
        case 'k':
            config->keep_order = true;
            return 0;
        case 'P':
            config->progress = SINK_PROGRESS_ON;
            return 0;
        case 'N':
            config->progress = SINK_PROGRESS_OFF;
            return 0;
        case 'C':
            if (sl_parse_seconds (PROG, "--connect-timeout", arg, &value))
                return -1;
            config->connect_timeout_ms = (int64_t) value;
            return 0;
        default:
            return -1;
    }
}

//  Options that do not go together. Prints the problem and returns -1.
static int s_check (const sink_config_t *config)
{
    if (config->resume && (!config->output || config->format != SL_FORMAT_JSONL)) {
        fprintf (stderr, PROG ": --resume needs -o FILE and --format jsonl (text output "
                              "carries no seq to resume from)\n");
        return -1;
    }
    if (config->from_start && (!config->job || config->nmore_jobs)) {
        fprintf (stderr, PROG ": --from-start needs one --job ID\n");
        return -1;
    }
    if (config->from_start && config->resume) {
        fprintf (stderr, PROG ": --from-start writes the whole job again: not with --resume\n");
        return -1;
    }
    return 0;
}

static int s_run (int argc, char *argv [])
{
    sink_config_t config = {
        .format = SL_FORMAT_TEXT,
        .connect_timeout_ms = -1,
    };
    sl_start_t start;
    sl_start_init (&start, PROG, SL_DEFAULT_BROKER);
    int opt;
    while ((opt = getopt_long (argc, argv, "b:o:f:kvqhV", s_options, NULL)) != -1) {
        int common = sl_start_option (&start, opt, optarg, s_usage);
        if (common == SL_OPT_HANDLED)
            continue;
        if (common != SL_OPT_NOT_COMMON)
            return common;
        if (s_option (&config, opt, optarg))
            return SL_EXIT_USAGE;
    }
    if (optind < argc) {
        fprintf (stderr, PROG ": unexpected argument '%s'\nTry '" PROG " --help'.\n",
                 argv [optind]);
        return SL_EXIT_USAGE;
    }
    if (s_check (&config) || sl_start_check (&start, SL_LOG_WARN))
        return SL_EXIT_USAGE;
    if (sl_start_discover (&start, config.connect_timeout_ms)) {
        sl_start_clear (&start);
        return SL_EXIT_USAGE;
    }
    config.broker = start.broker;
    config.curve = &start.curve;
    int rc = sink_run (&config);
    sl_start_clear (&start);
    return rc;
}

int main (int argc, char *argv [])
{
    return sl_config_main (PROG, "sink", s_options, argc, argv, s_run);
}
