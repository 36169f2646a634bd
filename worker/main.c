/*  sluice-worker - runs tasks dealt by the broker.

    Options, start, run until SIGINT/SIGTERM, exit status. Both modes run
    on the one worker core and loop (lib/sl_wcore.c, lib/sl_wloop.c): with
    --exec its executor is the process runner (worker.c, runner.c); the
    built-ins (builtin.c) are handlers served by libsluice's worker API, as
    a user's own C handler would be.
*/
#include <czmq.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "builtin.h"
#include "sl_config.h"
#include "sl_curve.h"
#include "sl_discover.h"
#include "sl_endpoint.h"
#include "sl_log.h"
#include "sl_start.h"
#include "sl_util.h"
#include "worker.h"

#define PROG "sluice-worker"
#define DEFAULT_MAX_OUTPUT (1024 * 1024)

static const struct option s_options [] = {
    { "broker", required_argument, NULL, 'b' },
    { "exec", required_argument, NULL, 'e' },
    { "builtin", required_argument, NULL, 'B' },
    { "jobs", required_argument, NULL, 'j' },
    { "max-output", required_argument, NULL, 'O' },
    { "connect-timeout", required_argument, NULL, 'C' },
    SL_CURVE_OPTIONS,
    SL_DISCOVER_OPTION,
    SL_CONFIG_OPTION,
    { "heartbeat", required_argument, NULL, 'H' },
    { "prefetch", required_argument, NULL, 'P' },
    { "queue", required_argument, NULL, 'Q' },
    { "attach-cache", required_argument, NULL, 'K' },
    { "attach-cache-max", required_argument, NULL, 'X' },
    { "drain-timeout", required_argument, NULL, 'D' },
    { "realtime", no_argument, NULL, 'R' },
    SL_COMMON_OPTIONS,
    { NULL, 0, NULL, 0 },
};

static void s_usage (FILE *out)
{
    fprintf (out,
             "Usage: " PROG " [OPTION]... (--exec CMD | --builtin echo|sleep)\n"
             "Takes tasks from the broker and runs them, several at once.\n"
             "\n"
             "  -b, --broker ENDPOINT      broker address (default " SL_DEFAULT_BROKER ")\n"
             "  -e, --exec CMD             run each task as /bin/sh -c CMD with the task's\n"
             "                             payload on standard input; {} in CMD is replaced by\n"
             "                             the shell-quoted payload. The task's output is its\n"
             "                             standard output; exit status 0 is ok, anything else\n"
             "                             failed. CMD is always this worker's: a payload is\n"
             "                             data, never a command.\n"
             "      --builtin NAME         echo: output = payload; sleep: sleep payload\n"
             "                             milliseconds, output = payload (tests, benchmarks;\n"
             "                             -j at most 256 for sleep, a thread each)\n"
             "  -j, --jobs N               tasks run at once (default: number of CPUs, %ld)\n"
             "      --max-output BYTES     output kept per task; the rest is dropped and the\n"
             "                             result says so (default %d)\n"
             "      --connect-timeout SEC  give up if no broker answers in time (default: "
             "wait)\n" SL_DISCOVER_HELP SL_CURVE_HELP
             "      --attach-cache DIR     where files shipped with jobs (--attach) are kept,\n"
             "                             by their SHA-1 (default ~/.cache/sluice/attachments)\n"
             "      --attach-cache-max BYTES  what the cache may hold (default 1G; files of\n"
             "                             jobs still running are never removed)\n"
             "  -Q, --queue NAME           serve the named queue NAME (repeatable; default:\n"
             "                             the queue named default); tasks of other queues\n"
             "                             never reach this worker\n"
             "      --prefetch K           hold up to K tasks beyond the -j running ones, to hide\n"
             "                             the round trip to the broker for tiny tasks\n"
             "                             (default: automatic, as many as the slots finish\n"
             "                             in 10 ms, so none for long tasks, up to 1024 for\n"
             "                             tiny ones; no effect with\n"
             "                             --dispatch push on the broker)\n"
             "      --heartbeat MS         heartbeat interval (default: the broker's, 1000); the\n"
             "                             broker gives a worker silent for 3 intervals up\n"
             "      --drain-timeout SEC    on SIGTERM/SIGINT: take no new task, hand back those\n"
             "                             not started, give running ones this long to finish\n"
             "                             (default 30), then stop them and hand them back; a\n"
             "                             second signal stops at once\n",
             sysconf (_SC_NPROCESSORS_ONLN), DEFAULT_MAX_OUTPUT);
    fprintf (out,
             "      --realtime             with --exec: run this worker's own loop (not the\n"
             "                             tasks) at real-time priority (SCHED_FIFO 1), so\n"
             "                             that a freed slot gets its next task at once on a\n"
             "                             machine the tasks keep busy (short tasks: about\n"
             "                             7%% more a second); needs root, CAP_SYS_NICE or\n"
             "                             ulimit -r 1\n" SL_CONFIG_HELP
             "  -v, --verbose              more log output\n"
             "  -q, --quiet                less log output\n"
             "  -h, --help                 show this help and exit\n"
             "  -V, --version              show the version and exit\n"
             "\n"
             "Commands see SLUICE_JOB, SLUICE_SEQ and SLUICE_ATTEMPT in their environment.\n"
             "A task may run more than once (a worker that vanished mid-task has its tasks\n"
             "run elsewhere), so commands should be idempotent.\n");
}

//  Serves the built-in handler with the library's worker API, with the
//  options given to sluice-worker. Returns the exit status.
static int s_run_builtin (const worker_config_t *config, sluice_handler_fn *handler, bool is_inline,
                          const char *token, const char *curve_secret, const char *curve_server)
{
    char name [300];
    sl_self_name (name, sizeof name); //  "host:pid", as sluice-ctl drain names it
    sluice_worker_options_t opts = {
        .slots = config->slots,
        .prefetch = config->prefetch,
        .heartbeat_ms = config->heartbeat_ms,
        //  The library's 0 means forever, ours a negative value.
        .connect_timeout_ms = config->connect_timeout_ms < 0 ? 0
                              : config->connect_timeout_ms   ? config->connect_timeout_ms
                                                             : 1,
        .drain_timeout_ms = config->drain_timeout_ms ? config->drain_timeout_ms : 1,
        .curve_server = curve_server,
        .curve_secret = curve_secret,
        .token = token,
        .name = name,
        .max_output = config->runner.max_output ? config->runner.max_output : 1,
        .inline_handler = is_inline,
        .attach_cache = config->attach_cache,
        .attach_cache_max = config->attach_cache_max,
    };
    const char *first = config->nqueues ? config->queues [0] : NULL;
    if (config->nqueues > 1) {
        opts.queues = (const char *const *) config->queues + 1;
        opts.nqueues = config->nqueues - 1;
    }
    return sluice_worker_run (config->broker, first, handler, NULL, &opts) == 0 ? 0 : 1;
}

//  --queue NAME: one more queue to serve. Prints the problem and returns -1.
static int s_option_queue (worker_config_t *config, const char *arg)
{
    if (config->nqueues == WORKER_MAX_QUEUES) {
        fprintf (stderr, PROG ": --queue: at most %d queues\n", WORKER_MAX_QUEUES);
        return -1;
    }
    if (!sl_job_id_valid (arg)) { //  same rules as job ids
        fprintf (stderr,
                 PROG ": --queue: '%s' is not a queue name (1-64 characters of "
                      "A-Z a-z 0-9 . _ -)\n",
                 arg);
        return -1;
    }
    config->queues [config->nqueues++] = (char *) arg;
    return 0;
}

//  One of the worker's own options into config (--builtin into *builtin).
//  Prints the problem and returns -1.
static int s_option (worker_config_t *config, const char **builtin, int opt, const char *arg)
{
    uint64_t value;
    switch (opt) {
        case 'e':
            config->runner.command = arg;
            return 0;
        case 'B':
            *builtin = arg;
            return 0;
        case 'K':
            config->attach_cache = arg;
            return 0;
        case 'Q':
            return s_option_queue (config, arg);
        case 'j':
            if (sl_parse_u64 (PROG, "--jobs", arg, 1, 4096, &value))
                return -1;
            config->slots = (uint32_t) value;
            return 0;
        case 'O':
            if (sl_parse_size (PROG, "--max-output", arg, 0, 32 * 1024 * 1024, &value))
                return -1;
            config->runner.max_output = (size_t) value;
            return 0;
        case 'C':
            if (sl_parse_seconds (PROG, "--connect-timeout", arg, &value))
                return -1;
            config->connect_timeout_ms = (int64_t) value;
            return 0;
        case 'X':
            return sl_parse_size (PROG, "--attach-cache-max", arg, 0, UINT64_MAX / 2,
                                  &config->attach_cache_max);
        case 'P':
            if (sl_parse_u64 (PROG, "--prefetch", arg, 0, 100000, &value))
                return -1;
            config->prefetch = (int32_t) value;
            return 0;
        case 'H':
            if (sl_parse_u64 (PROG, "--heartbeat", arg, 10, 600000, &value))
                return -1;
            config->heartbeat_ms = (uint32_t) value;
            return 0;
        case 'D':
            return sl_parse_seconds (PROG, "--drain-timeout", arg, &config->drain_timeout_ms);
        case 'R':
            config->realtime = true;
            return 0;
        default:
            return -1;
    }
}

//  Exactly one of --exec and --builtin, and a built-in that exists (its
//  handler into *handler_p). Prints the problem and returns -1.
static int s_check (const worker_config_t *config, const char *builtin,
                    sluice_handler_fn **handler_p, bool *is_inline)
{
    if (!!config->runner.command == !!builtin) {
        fprintf (stderr, PROG ": give either --exec CMD or --builtin NAME\n"
                              "Try '" PROG " --help' for more information.\n");
        return -1;
    }
    if (builtin && config->realtime) {
        fprintf (stderr, PROG ": --realtime is for --exec (a built-in starts no process)\n");
        return -1;
    }
    *handler_p = builtin ? builtin_handler (builtin, is_inline) : NULL;
    if (builtin && !*handler_p) {
        fprintf (stderr, PROG ": --builtin: '%s' is not a built-in (echo, sleep)\n", builtin);
        return -1;
    }
    if (*handler_p && !*is_inline && config->slots > 256) {
        fprintf (stderr, PROG ": --jobs: at most 256 with --builtin %s (a thread each)\n", builtin);
        return -1;
    }
    return 0;
}

static int s_run (int argc, char *argv [])
{
    //  SIGCHLD is read from a signalfd by the runner: block it before any
    //  thread (ZeroMQ's) exists, so that every thread inherits the mask.
    sigset_t mask;
    sigemptyset (&mask);
    sigaddset (&mask, SIGCHLD);
    sigprocmask (SIG_BLOCK, &mask, NULL);
    long cpus = sysconf (_SC_NPROCESSORS_ONLN);
    worker_config_t config = {
        .slots = cpus > 0 ? (uint32_t) cpus : 1,
        .connect_timeout_ms = -1,
        .prefetch = -1,
        .attach_cache_max = 1024ULL * 1024 * 1024,
        .drain_timeout_ms = 30000,
        .runner = { .mode = RUNNER_EXEC, .max_output = DEFAULT_MAX_OUTPUT, .kill_grace_ms = 2000 },
    };
    const char *builtin = NULL;
    sl_start_t start;
    sl_start_init (&start, PROG, SL_DEFAULT_BROKER);
    int opt;
    while ((opt = getopt_long (argc, argv, "b:e:j:Q:vqhV", s_options, NULL)) != -1) {
        int common = sl_start_option (&start, opt, optarg, s_usage);
        if (common == SL_OPT_HANDLED)
            continue;
        if (common != SL_OPT_NOT_COMMON)
            return common;
        if (s_option (&config, &builtin, opt, optarg))
            return SL_EXIT_USAGE;
    }
    if (optind < argc) {
        fprintf (stderr, PROG ": unexpected argument '%s' (quote the command of --exec)\n",
                 argv [optind]);
        return SL_EXIT_USAGE;
    }
    bool builtin_inline = false;
    sluice_handler_fn *handler = NULL;
    if (s_check (&config, builtin, &handler, &builtin_inline))
        return SL_EXIT_USAGE;
    if (sl_start_check (&start, SL_LOG_INFO))
        return SL_EXIT_USAGE;
    if (sl_start_discover (&start, config.connect_timeout_ms)) {
        sl_start_clear (&start);
        return 1;
    }
    config.broker = start.broker;
    config.curve = &start.curve;
    int rc = handler ? s_run_builtin (&config, handler, builtin_inline, start.token,
                                      start.curve_secret, start.curve_server)
                     : worker_run (&config);
    sl_start_clear (&start);
    return rc;
}

int main (int argc, char *argv [])
{
    return sl_config_main (PROG, "worker", s_options, argc, argv, s_run);
}
