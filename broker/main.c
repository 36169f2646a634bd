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
#include "sl_keys.h"
#include "sl_log.h"
#include "sl_util.h"

#define PROG "sluice-broker"

//  getopt codes of the NATS journal's options (no short forms).
enum {
    OPT_JOURNAL = 2000,
    OPT_JOURNAL_STREAM,
    OPT_JOURNAL_REPLICAS,
    OPT_NATS_CREDS,
    OPT_NATS_TLS_CA,
    OPT_STANDBY,
    OPT_ADVERTISE,
    OPT_CHECKPOINT_BYTES,
};

static const struct option s_options [] = {
    { "bind", required_argument, NULL, 'b' },
    { "heartbeat", required_argument, NULL, 'H' },
    { "data-dir", required_argument, NULL, 'd' },
    { "in-memory", no_argument, NULL, 'M' },
    { "journal", required_argument, NULL, OPT_JOURNAL },
    { "journal-stream", required_argument, NULL, OPT_JOURNAL_STREAM },
    { "journal-replicas", required_argument, NULL, OPT_JOURNAL_REPLICAS },
    { "nats-creds", required_argument, NULL, OPT_NATS_CREDS },
    { "nats-tls-ca", required_argument, NULL, OPT_NATS_TLS_CA },
    { "standby", no_argument, NULL, OPT_STANDBY },
    { "advertise", required_argument, NULL, OPT_ADVERTISE },
    { "fsync", required_argument, NULL, 'F' },
    { "retention", required_argument, NULL, 'R' },
    { "dispatch", required_argument, NULL, 'D' },
    { "curve-secret", required_argument, NULL, SL_OPT_CURVE_SECRET },
    { "curve-clients", required_argument, NULL, 'A' },
    { "token-file", required_argument, NULL, 'T' },
    { "insecure", no_argument, NULL, 'I' },
    { "max-payload", required_argument, NULL, 'P' },
    { "max-memory", required_argument, NULL, 'm' },
    { "max-attachment", required_argument, NULL, 'a' },
    { "checkpoint-bytes", required_argument, NULL, OPT_CHECKPOINT_BYTES },
    SL_DISCOVER_OPTION,
    SL_CONFIG_OPTION,
    { "metrics", required_argument, NULL, 'X' },
    { "http", required_argument, NULL, 'W' },
    SL_COMMON_OPTIONS,
    { NULL, 0, NULL, 0 },
};

//  The NATS journal's part of --help, apart: C99 promises string literals
//  of 4095 bytes only.
static const char *s_usage_nats (void)
{
    static char text [2048];
    snprintf (text, sizeof text,
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
              "                          (--data-dir beside --journal keeps the join keys and\n"
              "                          attachments, not the journal)\n"
              "      --standby           start as a standby: follow the stream and take over\n"
              "                          once its active broker is silent for 2.5 heartbeats\n"
              "                          (give it to every broker of a highly available set)\n"
              "      --advertise ENDPOINT  tcp://HOST:PORT clients reach this broker at, told\n"
              "                          to clients of the standbys (default: --bind, with\n"
              "                          this host's name for *)\n",
              sl_nats_available () ? "" : " (not in this build: no libnats)",
              SL_NATS_DEFAULT_STREAM, SL_NATS_DEFAULT_REPLICAS);
    return text;
}

static void s_usage (FILE *out)
{
    fprintf (out,
             "Usage: " PROG " [OPTION]...\n"
             "The sluice broker: takes jobs from ventilators, deals their tasks to workers and\n"
             "hands results to a sink. Every other program connects to it.\n"
             "\n"
             "  -b, --bind ENDPOINT     where to listen (default " SL_DEFAULT_BIND ",\n"
             "                          this host only); the broker uses this port and\n"
             "                          the next %d. Beyond loopback it admits only clients\n"
             "                          with its join token (see --token-file)\n"
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
             "%s"
             "      --fsync MODE        batch (default): records reach the disk within 10 ms,\n"
             "                          one fsync for many; always: before the broker acts on\n"
             "                          them; off: when the kernel decides (a machine crash\n"
             "                          may lose the last seconds)\n"
             "      --retention SEC     how long finished jobs are remembered (default 86400)\n"
             "      --checkpoint-bytes BYTES  every BYTES of journal (default 64M), write\n"
             "                          the live state and drop the journal before it\n"
             "      --max-payload BYTES longest task accepted (default 1M); longer\n"
             "                          messages are cut off unread\n"
             "      --max-memory BYTES  memory for tasks not yet delivered: payloads, results\n"
             "                          and ~100 bytes a task (default 1G; K, M, G, T\n"
             "                          suffixes); past it the broker takes no new tasks and\n"
             "                          ventilators wait until workers and the sink catch up\n"
             "      --max-attachment BYTES  largest file a job may ship with it\n"
             "                          (sluice-ventilator --attach; default 1G)\n"
             "      --token-file FILE   the join keys (made there if missing; default\n"
             "                          DATA_DIR/" SL_KEYS_FILE "): CurveZMQ on every port,\n"
             "                          clients need the join token (sluice-ctl token prints\n"
             "                          it). On by itself when --bind reaches beyond loopback\n"
             "      --insecure          allow a --bind beyond loopback without CurveZMQ:\n"
             "                          anyone who can reach the broker may use it (warned\n"
             "                          at start and every hour)\n"
             "      --http ENDPOINT     serve the web dashboard at ENDPOINT/ (read-only), its\n"
             "                          JSON API at /api/ and Prometheus metrics at /metrics\n"
             "                          over HTTP (tcp://IFACE:PORT, or a PORT alone for\n"
             "                          127.0.0.1:PORT; not encrypted: keep it on loopback;\n"
             "                          beyond it, with a join token, requests must carry\n"
             "                          Authorization: Bearer TOKEN)\n"
             "      --metrics ENDPOINT  the same as --http (its older name)\n",
             SL_PORT_COUNT - 1, BROKER_DEFAULT_HEARTBEAT_MS, s_usage_nats ());
    //  (In two parts: C99 promises string literals of 4095 bytes only.)
    fprintf (out,
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
             SL_DISCOVER_PORT);
}

//  Decides how the broker keeps strangers out. --curve-secret: its own
//  keys, as given. Else the join token when --token-file is given or the
//  bind reaches beyond loopback (keys in the data directory by default),
//  unless --insecure says to admit anyone there. On loopback, plain: only
//  this host's users can connect. Prints the problem and returns -1.
static int s_security (broker_config_t *config, const char *token_file, bool insecure,
                       char *keys_file, size_t len)
{
    bool loopback = sl_endpoint_loopback (config->bind);
    if (insecure && (token_file || config->curve_secret)) {
        fprintf (stderr, PROG ": --insecure turns CurveZMQ off: give it without %s\n",
                 token_file ? "--token-file" : "--curve-secret");
        return -1;
    }
    if (token_file && config->curve_secret) {
        fprintf (stderr, PROG ": give --token-file or --curve-secret, not both\n");
        return -1;
    }
    if (token_file)
        snprintf (keys_file, len, "%s", token_file);
    else if (!config->curve_secret && !loopback && !insecure) {
        if (!config->data_dir) {
            fprintf (stderr,
                     PROG ": --bind %s reaches beyond this host, so the broker admits only "
                          "clients with its join token; with --in-memory it has no data "
                          "directory to keep the keys in: give --token-file FILE (or --insecure "
                          "to admit anyone)\n",
                     config->bind);
            return -1;
        }
        snprintf (keys_file, len, "%s/" SL_KEYS_FILE, config->data_dir);
    } else
        keys_file = NULL;
    config->keys_file = keys_file;
    if (config->curve_clients && !config->curve_secret && !config->keys_file) {
        fprintf (stderr, PROG ": --curve-clients needs --curve-secret or --token-file (or a "
                              "--bind beyond loopback, which turns the join token on)\n");
        return -1;
    }
    config->insecure = insecure && !loopback;
    return 0;
}

//  What the command line says, before it becomes a broker_config_t.
typedef struct {
    broker_config_t config;
    bool in_memory;            //  --in-memory
    bool insecure;             //  --insecure
    const char *token_file;    //  --token-file
    uint16_t discover_port;    //  --discover's UDP port, 0: off
    char http_endpoint [64];   //  --http PORT as tcp://127.0.0.1:PORT
    char data_dir [PATH_MAX];  //  the default --data-dir
    char keys_file [PATH_MAX]; //  where the join keys are
    int verbosity;
} s_args_t;

//  Option results: handled, bad (already said), or for another handler.
enum { S_OPT_OK = 0, S_OPT_BAD = -1, S_OPT_OTHER = 1 };

//  Where the journal lives and how it is written.
static int s_option_journal (s_args_t *args, int opt, const char *arg)
{
    broker_config_t *config = &args->config;
    uint64_t value;
    switch (opt) {
        case 'd':
            config->data_dir = arg;
            break;
        case 'M':
            args->in_memory = true;
            break;
        case OPT_JOURNAL:
            config->nats.servers = arg;
            break;
        case OPT_JOURNAL_STREAM:
            config->nats.stream = arg;
            break;
        case OPT_JOURNAL_REPLICAS:
            if (sl_parse_u64 (PROG, "--journal-replicas", arg, 1, 5, &value))
                return S_OPT_BAD;
            config->nats.replicas = (int) value;
            break;
        case OPT_NATS_CREDS:
            config->nats.creds = arg;
            break;
        case OPT_NATS_TLS_CA:
            config->nats.tls_ca = arg;
            break;
        case OPT_STANDBY:
            config->standby = true;
            break;
        case OPT_ADVERTISE:
            config->advertise = arg;
            break;
        case 'F':
            if (sl_fsync_parse (arg, &config->fsync)) {
                fprintf (stderr, PROG ": --fsync: '%s' is not always, batch or off\n", arg);
                return S_OPT_BAD;
            }
            break;
        case 'R':
            if (sl_parse_seconds (PROG, "--retention", arg, &value))
                return S_OPT_BAD;
            config->retention_ms = (int64_t) value;
            break;
        case OPT_CHECKPOINT_BYTES:
            return sl_parse_size (PROG, "--checkpoint-bytes", arg, 64 * 1024, UINT64_MAX / 2,
                                  &config->checkpoint_bytes)
                       ? S_OPT_BAD
                       : S_OPT_OK;
        default:
            return S_OPT_OTHER;
    }
    return S_OPT_OK;
}

//  Limits, and who may connect.
static int s_option_limits (s_args_t *args, int opt, const char *arg)
{
    broker_config_t *config = &args->config;
    switch (opt) {
        case 'P':
            return sl_parse_size (PROG, "--max-payload", arg, 1, 256 * 1024 * 1024,
                                  &config->max_payload)
                       ? S_OPT_BAD
                       : S_OPT_OK;
        case 'a':
            return sl_parse_size (PROG, "--max-attachment", arg, 1, UINT64_MAX / 2,
                                  &config->max_attachment)
                       ? S_OPT_BAD
                       : S_OPT_OK;
        case 'm':
            return sl_parse_size (PROG, "--max-memory", arg, 1024 * 1024, UINT64_MAX / 2,
                                  &config->max_memory)
                       ? S_OPT_BAD
                       : S_OPT_OK;
        case SL_OPT_CURVE_SECRET:
            config->curve_secret = arg;
            return S_OPT_OK;
        case 'A':
            config->curve_clients = arg;
            return S_OPT_OK;
        case 'T':
            args->token_file = arg;
            return S_OPT_OK;
        case 'I':
            args->insecure = true;
            return S_OPT_OK;
        default:
            return S_OPT_OTHER;
    }
}

//  --http PORT or ENDPOINT (--metrics is its older name).
static int s_option_http (s_args_t *args, const char *arg)
{
    broker_config_t *config = &args->config;
    if (config->metrics && !streq (config->metrics, arg)) {
        fprintf (stderr, PROG ": --http and --metrics name one endpoint: give it once\n");
        return S_OPT_BAD;
    }
    config->metrics = arg;
    if (arg [0] && strspn (arg, "0123456789") == strlen (arg)) {
        snprintf (args->http_endpoint, sizeof args->http_endpoint, "tcp://127.0.0.1:%s", arg);
        config->metrics = args->http_endpoint;
    }
    return S_OPT_OK;
}

//  How the broker talks to its clients.
static int s_option_service (s_args_t *args, int opt, const char *arg)
{
    broker_config_t *config = &args->config;
    uint64_t value;
    switch (opt) {
        case 'b':
            config->bind = arg;
            break;
        case SL_OPT_DISCOVER:
            if (sl_discover_port (PROG, arg, &args->discover_port))
                return S_OPT_BAD;
            break;
        case SL_OPT_CONFIG:
            break; //  read by sl_config_main
        case 'X':
        case 'W':
            return s_option_http (args, arg);
        case 'D':
            if (!streq (arg, "fair") && !streq (arg, "push")) {
                fprintf (stderr, PROG ": --dispatch: '%s' is not fair or push\n", arg);
                return S_OPT_BAD;
            }
            config->fair = streq (arg, "fair");
            break;
        case 'H':
            if (sl_parse_u64 (PROG, "--heartbeat", arg, 10, 600000, &value))
                return S_OPT_BAD;
            config->heartbeat_ms = (uint32_t) value;
            break;
        default:
            return S_OPT_OTHER;
    }
    return S_OPT_OK;
}

#define S_PARSED (-1) //  s_parse: the options are read, go on

//  Reads the command line into args. Returns S_PARSED, or the status to
//  exit with (0 after --help or --version).
static int s_parse (s_args_t *args, int argc, char *argv [])
{
    int opt;
    while ((opt = getopt_long (argc, argv, "b:d:vqhV", s_options, NULL)) != -1) {
        int rc = s_option_journal (args, opt, optarg);
        if (rc == S_OPT_OTHER)
            rc = s_option_limits (args, opt, optarg);
        if (rc == S_OPT_OTHER)
            rc = s_option_service (args, opt, optarg);
        if (rc == S_OPT_BAD)
            return SL_EXIT_USAGE;
        if (rc == S_OPT_OTHER) {
            rc = sl_common_option (opt, PROG, s_usage, &args->verbosity);
            if (rc != SL_OPT_HANDLED)
                return rc == SL_OPT_NOT_COMMON ? SL_EXIT_USAGE : rc;
        }
    }
    if (optind < argc) {
        fprintf (stderr, PROG ": unexpected argument '%s'\nTry '" PROG " --help'.\n",
                 argv [optind]);
        return SL_EXIT_USAGE;
    }
    return S_PARSED;
}

//  --journal: a list of NATS servers, a valid stream name, and no other
//  place for the journal. Prints the problem and returns -1.
static int s_check_journal (const s_args_t *args)
{
    const broker_config_t *config = &args->config;
    char err [512];
    char *urls [SL_JOURNAL_MAX_URLS];
    size_t nurls;
    if (!sl_journal_url_is_nats (config->nats.servers)) {
        fprintf (stderr,
                 PROG ": --journal: '%s' is not a list of nats://HOST:PORT (for a journal in "
                      "a directory, use --data-dir)\n",
                 config->nats.servers);
        return -1;
    }
    if (sl_journal_urls_parse (config->nats.servers, urls, &nurls, err, sizeof err)) {
        fprintf (stderr, PROG ": --journal: %s\n", err);
        return -1;
    }
    sl_journal_urls_free (urls, nurls);
    if (!sl_journal_stream_valid (config->nats.stream)) {
        fprintf (stderr, PROG ": --journal-stream: '%s' is not 1 to 64 letters, digits, - and _\n",
                 config->nats.stream);
        return -1;
    }
    //  --data-dir beside --journal keeps the join keys and attachments (as
    //  the systemd unit gives it), not the journal.
    if (args->in_memory) {
        fprintf (stderr, PROG ": give --journal or --in-memory, not both\n");
        return -1;
    }
    return 0;
}

//  --standby and --advertise. Returns 0, or -1 with the message printed.
static int s_check_standby (const broker_config_t *config)
{
    char err [512];
    if (config->standby && !config->nats.servers) {
        fprintf (stderr, PROG ": --standby follows a shared journal: it needs --journal "
                              "nats://...\n");
        return -1;
    }
    if (config->advertise && sl_endpoint_check (config->advertise, err, sizeof err)) {
        fprintf (stderr, PROG ": --advertise: %s\n", err);
        return -1;
    }
    return 0;
}

//  The options together: endpoints, the journal's place, security.
//  Prints the problem and returns -1.
static int s_check (s_args_t *args)
{
    broker_config_t *config = &args->config;
    char err [512];
    if (sl_endpoint_check (config->bind, err, sizeof err)) {
        fprintf (stderr, PROG ": --bind: %s\n", err);
        return -1;
    }
    if (config->metrics && sl_endpoint_check (config->metrics, err, sizeof err)) {
        fprintf (stderr, PROG ": --http: %s\n", err);
        return -1;
    }
    if (args->in_memory && config->data_dir) {
        fprintf (stderr, PROG ": give --data-dir or --in-memory, not both\n");
        return -1;
    }
    if ((config->nats.servers && s_check_journal (args)) || s_check_standby (config))
        return -1;
    if (!args->in_memory && !config->data_dir && !config->nats.servers) {
        if (sl_keys_default_dir (config->bind, true, args->data_dir, sizeof args->data_dir)) {
            fprintf (stderr, PROG ": no home directory for the default --data-dir; give one\n");
            return -1;
        }
        config->data_dir = args->data_dir;
    }
    return s_security (config, args->token_file, args->insecure, args->keys_file,
                       sizeof args->keys_file);
}

//  Runs the broker (and its --discover beacon) until a signal.
static int s_serve (const s_args_t *args)
{
    char err [512];
    broker_t *broker = broker_new (&args->config, err, sizeof err);
    if (!broker) {
        sl_error ("%s", err);
        return 1;
    }
    sl_discover_t *announce = NULL;
    if (args->discover_port &&
        !(announce = sl_discover_announce (args->config.bind, args->discover_port, NULL, err,
                                           sizeof err))) {
        sl_error ("%s", err);
        broker_destroy (&broker);
        return 1;
    }
    if (announce)
        broker_discover_set (broker, announce);
    int rc = broker_run (broker) == 0 ? 0 : 1;
    sl_discover_destroy (&announce);
    broker_destroy (&broker);
    return rc;
}

static int s_run (int argc, char *argv [])
{
    s_args_t args = {
        .config = {
            .bind = SL_DEFAULT_BIND,
            .heartbeat_ms = BROKER_DEFAULT_HEARTBEAT_MS,
            .sink_window = BROKER_DEFAULT_SINK_WINDOW,
            .fsync = SL_FSYNC_BATCH,
            .fair = true,
            .max_payload = BROKER_DEFAULT_MAX_PAYLOAD,
            .max_memory = BROKER_DEFAULT_MAX_MEMORY,
            .max_attachment = BROKER_DEFAULT_MAX_ATTACHMENT,
            .checkpoint_bytes = BROKER_DEFAULT_CHECKPOINT_BYTES,
            .retention_ms = BROKER_DEFAULT_RETENTION_MS,
            .nats = { .stream = SL_NATS_DEFAULT_STREAM,
                      .replicas = SL_NATS_DEFAULT_REPLICAS,
                      .timeout_ms = SL_NATS_DEFAULT_TIMEOUT_MS },
        },
    };
    int rc = s_parse (&args, argc, argv);
    if (rc != S_PARSED)
        return rc;
    if (s_check (&args))
        return SL_EXIT_USAGE;
    sl_log_init (PROG, SL_LOG_INFO);
    sl_log_adjust (args.verbosity);
    return s_serve (&args);
}

int main (int argc, char *argv [])
{
    return sl_config_main (PROG, "broker", s_options, argc, argv, s_run);
}
