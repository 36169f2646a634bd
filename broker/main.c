/*  sluice-broker - the one stable address of a sluice cluster.

    Options, start, run until SIGINT/SIGTERM, exit status. Everything else
    is in broker.c (event loop) and table.c (task bookkeeping).
*/
#include <czmq.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"
#include "journal_url.h"
#include "sl_config.h"
#include "sl_discover.h"
#include "sl_endpoint.h"
#include "sl_log.h"
#include "sl_util.h"

#define PROG "sluice-broker"

//  The default journal directory: one per port, so that brokers on one
//  host never share a journal.
static int s_default_data_dir (const char *bind, char *dir, size_t len)
{
    const char *port = strrchr (bind, ':');
    port = port ? port + 1 : "5560";
    if (geteuid () == 0) {
        mkdir ("/var/lib/sluice", 0755);
        snprintf (dir, len, "/var/lib/sluice/broker-%s", port);
        return 0;
    }
    const char *home = getenv ("HOME");
    if (!home || !*home)
        return -1;
    //  The parents are made here; the journal makes the last one itself.
    snprintf (dir, len, "%s/.local", home);
    mkdir (dir, 0755);
    snprintf (dir, len, "%s/.local/state", home);
    mkdir (dir, 0755);
    snprintf (dir, len, "%s/.local/state/sluice", home);
    mkdir (dir, 0700);
    snprintf (dir, len, "%s/.local/state/sluice/broker-%s", home, port);
    return 0;
}

static const struct option s_options [] = {
    { "bind", required_argument, NULL, 'b' },
    { "heartbeat", required_argument, NULL, 'H' },
    { "data-dir", required_argument, NULL, 'd' },
    { "in-memory", no_argument, NULL, 'M' },
    { "journal", required_argument, NULL, 'J' },
    { "journal-stream", required_argument, NULL, 'S' },
    { "journal-replicas", required_argument, NULL, 'r' },
    { "nats-creds", required_argument, NULL, 'C' },
    { "nats-tls-ca", required_argument, NULL, 'T' },
    { "fsync", required_argument, NULL, 'F' },
    { "retention", required_argument, NULL, 'R' },
    { "dispatch", required_argument, NULL, 'D' },
    { "curve-secret", required_argument, NULL, SL_OPT_CURVE_SECRET },
    { "curve-clients", required_argument, NULL, 'A' },
    { "max-payload", required_argument, NULL, 'P' },
    { "max-memory", required_argument, NULL, 'm' },
    { "max-attachment", required_argument, NULL, 'a' },
    SL_DISCOVER_OPTION,
    SL_CONFIG_OPTION,
    { "metrics", required_argument, NULL, 'X' },
    { "verbose", no_argument, NULL, 'v' },
    { "quiet", no_argument, NULL, 'q' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
};

static void s_usage (FILE *out)
{
    fprintf (out,
             "Usage: " PROG " [OPTION]...\n"
             "The sluice broker: takes jobs from ventilators, deals their tasks to workers and\n"
             "hands results to a sink. Every other program connects to it.\n"
             "\n"
             "  -b, --bind ENDPOINT     where to listen (default " SL_DEFAULT_BIND "); the broker\n"
             "                          uses this port and the next %d\n"
             "      --heartbeat MS      heartbeat interval offered to clients (default %d);\n"
             "                          a client silent for 3 intervals is considered gone\n"
             "      --dispatch MODE     fair (default): a task goes only to a worker with a free\n"
             "                          slot (credit-based); push: ZeroMQ deals tasks\n"
             "                          round-robin whether workers are busy or not (for\n"
             "                          uniform tiny tasks and the simplest foreign workers)\n"
             "  -d, --data-dir DIR      the journal's directory (default: /var/lib/sluice/\n"
             "                          broker-PORT as root, else ~/.local/state/sluice/\n"
             "                          broker-PORT)\n"
             "      --in-memory         keep no journal: a broker restart loses every task\n"
             "      --journal nats://HOST:PORT[,nats://HOST:PORT...]\n"
             "                          keep the journal in a NATS JetStream stream, replicated\n"
             "                          on the cluster of these servers, instead of --data-dir\n"
             "                          (tls://HOST:PORT for TLS); nothing is confirmed before\n"
             "                          the stream acknowledged it%s\n"
             "      --journal-stream NAME  the stream's name (default %s); a broker\n"
             "                          that finds another broker wrote to it stops\n"
             "      --journal-replicas N  replicas when the stream is created (default %d;\n"
             "                          1 for a single NATS server)\n"
             "      --nats-creds FILE   NATS credentials file (user JWT and NKey seed)\n"
             "      --nats-tls-ca FILE  CA certificates to check the NATS servers' TLS with\n"
             "      --fsync MODE        batch (default): records reach the disk within 10 ms,\n"
             "                          one fsync for many; always: before the broker acts on\n"
             "                          them; off: when the kernel decides (a machine crash\n"
             "                          may lose the last seconds)\n"
             "      --retention SEC     how long finished jobs are remembered (default 86400)\n"
             "      --max-payload BYTES longest task accepted (default 1M); longer\n"
             "                          messages are cut off unread\n"
             "      --max-memory BYTES  memory for tasks not yet delivered: payloads, results\n"
             "                          and ~100 bytes a task (default 1G; K, M, G, T\n"
             "                          suffixes); past it the broker takes no new tasks and\n"
             "                          ventilators wait until workers and the sink catch up\n"
             "      --max-attachment BYTES  largest file a job may ship with it\n"
             "                          (sluice-ventilator --attach; default 1G)\n"
             "      --metrics ENDPOINT  serve Prometheus metrics over HTTP at ENDPOINT/metrics\n"
             "                          (e.g. tcp://127.0.0.1:9560; not encrypted)\n"
             "      --curve-secret FILE encrypt every port with CurveZMQ, with this certificate\n"
             "                          (from sluice-keygen); clients need --curve-server\n"
             "                          with its public half\n"
             "      --curve-clients DIR admit only clients whose public certificates are in DIR\n"
             "                          (re-read when it changes: add or remove a file to admit\n"
             "                          or revoke a client)\n"
             "      --discover[=PORT]   announce the broker on the local network by UDP\n"
             "                          beacons on PORT (default %d), for clients started\n"
             "                          with --discover\n"
             "      --config FILE       read options from FILE (default $" SL_CONFIG_ENV ", else\n"
             "                          " SL_CONFIG_DEFAULT " if it exists); options\n"
             "                          on the command line override it\n"
             "  -v, --verbose           more log output (repeat for debug)\n"
             "  -q, --quiet             less log output\n"
             "  -h, --help              show this help and exit\n"
             "  -V, --version           show the version and exit\n"
             "\n"
             "Clients are given tcp://HOST:PORT with the same PORT, e.g.\n"
             "  sluice-worker --broker tcp://HOST:5560 --exec 'gzip -c | wc -c'\n",
             SL_PORT_COUNT - 1, BROKER_DEFAULT_HEARTBEAT_MS,
             sl_nats_available () ? "" : " (not in this build: no libnats)", SL_NATS_DEFAULT_STREAM,
             SL_NATS_DEFAULT_REPLICAS, SL_DISCOVER_PORT);
}

static int s_run (int argc, char *argv [])
{
    broker_config_t config = {
        .bind = SL_DEFAULT_BIND,
        .heartbeat_ms = BROKER_DEFAULT_HEARTBEAT_MS,
        .sink_window = BROKER_DEFAULT_SINK_WINDOW,
        .fsync = SL_FSYNC_BATCH,
        .fair = true,
        .max_payload = BROKER_DEFAULT_MAX_PAYLOAD,
        .max_memory = BROKER_DEFAULT_MAX_MEMORY,
        .max_attachment = BROKER_DEFAULT_MAX_ATTACHMENT,
        .retention_ms = BROKER_DEFAULT_RETENTION_MS,
        .nats = { .stream = SL_NATS_DEFAULT_STREAM,
                  .replicas = SL_NATS_DEFAULT_REPLICAS,
                  .timeout_ms = SL_NATS_DEFAULT_TIMEOUT_MS },
    };
    bool in_memory = false;
    uint16_t discover_port = 0; //  --discover's UDP port, 0: off
    int verbosity = 0;
    int opt;
    uint64_t value;
    while ((opt = getopt_long (argc, argv, "b:d:vqhV", s_options, NULL)) != -1) {
        switch (opt) {
            case 'b':
                config.bind = optarg;
                break;
            case 'd':
                config.data_dir = optarg;
                break;
            case 'M':
                in_memory = true;
                break;
            case 'J':
                config.nats.servers = optarg;
                break;
            case 'S':
                config.nats.stream = optarg;
                break;
            case 'r':
                if (sl_parse_u64 (PROG, "--journal-replicas", optarg, 1, 5, &value))
                    return SL_EXIT_USAGE;
                config.nats.replicas = (int) value;
                break;
            case 'C':
                config.nats.creds = optarg;
                break;
            case 'T':
                config.nats.tls_ca = optarg;
                break;
            case 'F':
                if (sl_fsync_parse (optarg, &config.fsync)) {
                    fprintf (stderr, PROG ": --fsync: '%s' is not always, batch or off\n", optarg);
                    return SL_EXIT_USAGE;
                }
                break;
            case 'R':
                if (sl_parse_seconds (PROG, "--retention", optarg, &value))
                    return SL_EXIT_USAGE;
                config.retention_ms = (int64_t) value;
                break;
            case SL_OPT_CURVE_SECRET:
                config.curve_secret = optarg;
                break;
            case 'P':
                if (sl_parse_size (PROG, "--max-payload", optarg, 1, 256 * 1024 * 1024,
                                   &config.max_payload))
                    return SL_EXIT_USAGE;
                break;
            case 'a':
                if (sl_parse_size (PROG, "--max-attachment", optarg, 1, UINT64_MAX / 2,
                                   &config.max_attachment))
                    return SL_EXIT_USAGE;
                break;
            case 'm':
                if (sl_parse_size (PROG, "--max-memory", optarg, 1024 * 1024, UINT64_MAX / 2,
                                   &config.max_memory))
                    return SL_EXIT_USAGE;
                break;
            case 'A':
                config.curve_clients = optarg;
                break;
            case SL_OPT_DISCOVER:
                if (sl_discover_port (PROG, optarg, &discover_port))
                    return SL_EXIT_USAGE;
                break;
            case SL_OPT_CONFIG:
                break; //  read by sl_config_main
            case 'X':
                config.metrics = optarg;
                break;
            case 'D':
                if (streq (optarg, "fair"))
                    config.fair = true;
                else if (streq (optarg, "push"))
                    config.fair = false;
                else {
                    fprintf (stderr, PROG ": --dispatch: '%s' is not fair or push\n", optarg);
                    return SL_EXIT_USAGE;
                }
                break;
            case 'H':
                if (sl_parse_u64 (PROG, "--heartbeat", optarg, 10, 600000, &value))
                    return SL_EXIT_USAGE;
                config.heartbeat_ms = (uint32_t) value;
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
    char err [512];
    if (sl_endpoint_check (config.bind, err, sizeof err)) {
        fprintf (stderr, PROG ": --bind: %s\n", err);
        return SL_EXIT_USAGE;
    }
    if (config.metrics && sl_endpoint_check (config.metrics, err, sizeof err)) {
        fprintf (stderr, PROG ": --metrics: %s\n", err);
        return SL_EXIT_USAGE;
    }
    if (config.curve_clients && !config.curve_secret) {
        fprintf (stderr, PROG ": --curve-clients needs --curve-secret\n");
        return SL_EXIT_USAGE;
    }
    if (in_memory && config.data_dir) {
        fprintf (stderr, PROG ": give --data-dir or --in-memory, not both\n");
        return SL_EXIT_USAGE;
    }
    if (config.nats.servers) {
        char *urls [SL_JOURNAL_MAX_URLS];
        size_t nurls;
        if (!sl_journal_url_is_nats (config.nats.servers)) {
            fprintf (stderr,
                     PROG ": --journal: '%s' is not a list of nats://HOST:PORT (for a journal in "
                          "a directory, use --data-dir)\n",
                     config.nats.servers);
            return SL_EXIT_USAGE;
        }
        if (sl_journal_urls_parse (config.nats.servers, urls, &nurls, err, sizeof err)) {
            fprintf (stderr, PROG ": --journal: %s\n", err);
            return SL_EXIT_USAGE;
        }
        sl_journal_urls_free (urls, nurls);
        if (!sl_journal_stream_valid (config.nats.stream)) {
            fprintf (stderr,
                     PROG ": --journal-stream: '%s' is not 1 to 64 letters, digits, - and _\n",
                     config.nats.stream);
            return SL_EXIT_USAGE;
        }
        if (in_memory || config.data_dir) {
            fprintf (stderr, PROG ": give --journal or --data-dir or --in-memory, not two\n");
            return SL_EXIT_USAGE;
        }
    }
    char data_dir [PATH_MAX];
    if (!in_memory && !config.data_dir && !config.nats.servers) {
        if (s_default_data_dir (config.bind, data_dir, sizeof data_dir)) {
            fprintf (stderr, PROG ": no home directory for the default --data-dir; give one\n");
            return SL_EXIT_USAGE;
        }
        config.data_dir = data_dir;
    }
    sl_log_init (PROG, SL_LOG_INFO);
    sl_log_adjust (verbosity);

    broker_t *broker = broker_new (&config, err, sizeof err);
    if (!broker) {
        sl_error ("%s", err);
        return 1;
    }
    sl_discover_t *announce = NULL;
    if (discover_port &&
        !(announce = sl_discover_announce (config.bind, discover_port, NULL, err, sizeof err))) {
        sl_error ("%s", err);
        broker_destroy (&broker);
        return 1;
    }
    int rc = broker_run (broker) == 0 ? 0 : 1;
    sl_discover_destroy (&announce);
    broker_destroy (&broker);
    return rc;
}

int main (int argc, char *argv [])
{
    return sl_config_main (PROG, "broker", s_options, argc, argv, s_run);
}
