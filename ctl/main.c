/*  sluice-ctl - asks a broker what it is doing, and tells it what to do.

    Connects to the broker's control port like any client (CurveZMQ keys
    included), says hello as a control client, sends one Command and
    prints the reply: a status report as tables or JSON, or what a cancel
    or a drain did.
*/
#include <czmq.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sl_client.h"
#include "sl_config.h"
#include "sl_curve.h"
#include "sl_endpoint.h"
#include "sl_keys.h"
#include "sl_log.h"
#include "sl_proto.h"
#include "sl_start.h"
#include "sl_status_json.h"
#include "sl_util.h"

#define PROG "sluice-ctl"
#define DEFAULT_TIMEOUT_MS 5000

static void s_usage (FILE *out)
{
    fprintf (out,
             "Usage: " PROG " [OPTION]... COMMAND [ARGUMENT]\n"
             "Asks a sluice broker what it is doing, or tells it what to do.\n"
             "\n"
             "Commands:\n"
             "  status          jobs (total, queued, running, done, failed, age), workers\n"
             "                  (host, pid, slots, busy, tasks done, last heartbeat) and\n"
             "                  the broker's counters and throughput; with --standby its\n"
             "                  role, and on the active broker its standbys and their lag\n"
             "  cancel JOB      end the job now: its queued tasks are dropped, its running\n"
             "                  ones stopped; each ends 'cancelled' in the sink's output\n"
             "  drain WORKER    the worker (HOST:PID, as status shows it) takes no new\n"
             "                  task, finishes what it runs and exits\n"
             "  token           print the broker's join token (run on the broker host: it\n"
             "                  reads the broker's join keys, not the network)\n"
             "  token --rotate  replace the token: clients holding the old one are cut off\n"
             "                  at their next message and their tasks go to others\n"
             "\n"
             "Options:\n"
             "  -b, --broker ENDPOINT   broker address (default " SL_DEFAULT_BROKER ")\n"
             "      --json              print the reply as JSON (for scripts)\n"
             "  -t, --timeout SEC       how long to wait for the broker (default 5)\n"
             "  -d, --data-dir DIR      token: the broker's data directory (default: the\n"
             "                          broker's default for the --broker port)\n"
             "      --token-file FILE   token: the broker's --token-file instead\n" SL_CURVE_HELP
                 SL_CONFIG_HELP "  -v, --verbose           more log output\n"
             "  -q, --quiet             less log output\n"
             "  -h, --help              show this help and exit\n"
             "  -V, --version           show the version and exit\n"
             "\n"
             "Exit status: 0 if the broker did it, 1 if it refused or did not answer,\n"
             "2 on usage errors.\n");
}

//  "1h02m", "3m05s", "12.3s"
static void s_age (int64_t ms, char *buf, size_t len)
{
    if (ms < 0)
        ms = 0;
    if (ms < 60000)
        snprintf (buf, len, "%.1fs", ms / 1000.0);
    else if (ms < 3600000)
        snprintf (buf, len, "%lldm%02llds", (long long) (ms / 60000), (long long) (ms / 1000 % 60));
    else
        snprintf (buf, len, "%lldh%02lldm", (long long) (ms / 3600000),
                  (long long) (ms / 60000 % 60));
}

//  The collectors (sinks, libsluice clients) and the jobs each holds.
static void s_print_collectors (const Sluice__StatusReport *r)
{
    printf ("\n%-28s %10s %10s  %s\n", "COLLECTOR", "IN FLIGHT", "DELIVERED", "JOBS");
    if (r->n_collectors == 0)
        printf ("(no collectors: results wait in the broker)\n");
    for (size_t i = 0; i < r->n_collectors; i++) {
        const Sluice__CollectorStatus *c = r->collectors [i];
        printf ("%-28s %10llu %10llu  ", c->name, (unsigned long long) c->in_flight,
                (unsigned long long) c->delivered);
        for (size_t j = 0; j < c->n_jobs; j++)
            printf ("%s%s", j ? " " : "", c->jobs [j]);
        printf ("%s%s\n", c->n_jobs ? "" : "-", c->catch_all ? " (and every job nobody named)" : "");
    }
}

//  The active broker of a shared stream: the standbys it hears from and how
//  far behind each is (records of the stream, and its last announcement).
static void s_print_standbys (const Sluice__StatusReport *r)
{
    printf ("\n%-32s %12s %10s %10s\n", "STANDBY", "APPLIED SEQ", "LAG", "LAST SEEN");
    if (r->n_standbys == 0)
        printf ("(no standbys heard from)\n");
    for (size_t i = 0; i < r->n_standbys; i++) {
        const Sluice__StandbyStatus *s = r->standbys [i];
        char seen [32];
        s_age (s->last_seen_ms, seen, sizeof seen);
        printf ("%-32s %12llu %10llu %10s\n", s->address, (unsigned long long) s->applied_seq,
                (unsigned long long) s->lag, seen);
    }
}

//  Splits "host:pid" at its last colon.
static void s_print_status (const Sluice__StatusReport *r)
{
    char up [32];
    s_age (r->uptime_ms, up, sizeof up);
    printf ("broker %s, up %s; sink: %s\n", r->broker_id, up, r->sink [0] ? r->sink : "none");
    printf ("throughput %.1f results/s (last 10 s); %llu tasks accepted, %llu dispatched, "
            "%llu results, %llu retried, %llu runs lost\n",
            r->rate, (unsigned long long) r->tasks_accepted,
            (unsigned long long) r->tasks_dispatched, (unsigned long long) r->results,
            (unsigned long long) r->retries, (unsigned long long) r->runs_lost);
    printf ("memory %.1f of %.0f MiB%s; journal %s, %.1f MiB; %llu bad messages dropped\n",
            r->memory_held / 1048576.0, r->memory_limit / 1048576.0,
            r->throttled ? " (intake paused)" : "", r->journal [0] ? r->journal : "none",
            r->journal_bytes / 1048576.0, (unsigned long long) r->bad_messages);
    if (r->role [0])
        printf ("%s broker (--standby) at stream sequence %llu; active: %s%s\n", r->role,
                (unsigned long long) r->journal_seq,
                r->active_broker [0] ? r->active_broker : "unknown",
                streq (r->role, "standby") ? "" : " (this one)");
    if (r->role [0] && streq (r->role, "standby"))
        printf ("following: the stream last moved %lld ms ago\n", (long long) r->follow_age_ms);
    if (r->role [0] && streq (r->role, "active"))
        s_print_standbys (r);
    if (r->runs_adopted)
        printf ("%llu runs adopted from before a restart (their workers still ran them)\n",
                (unsigned long long) r->runs_adopted);
    printf ("\n%-16s %10s %8s %6s\n", "QUEUE", "QUEUED", "WORKERS", "SLOTS");
    for (size_t i = 0; i < r->n_queues; i++)
        printf ("%-16s %10llu %8u %6u%s\n", r->queues [i]->name,
                (unsigned long long) r->queues [i]->queued, r->queues [i]->workers,
                r->queues [i]->slots,
                r->queues [i]->queued && !r->queues [i]->workers ? "  (no worker serves it)" : "");
    printf ("\n%-24s %-12s %10s %10s %8s %10s %8s %9s %10s  %s\n", "JOB", "QUEUE", "TOTAL",
            "QUEUED", "RUNNING", "DONE", "FAILED", "CANCELLED", "AGE", "STATE");
    if (r->n_jobs == 0)
        printf ("(no jobs)\n");
    for (size_t i = 0; i < r->n_jobs; i++) {
        const Sluice__JobStatus *j = r->jobs [i];
        char total [24], age [32];
        if (j->total || j->finished)
            snprintf (total, sizeof total, "%llu", (unsigned long long) j->total);
        else
            snprintf (total, sizeof total, "%llu+", (unsigned long long) j->received);
        s_age (j->age_ms, age, sizeof age);
        const char *state = j->finished                       ? "finished"
                            : j->cancelled                    ? "cancelled"
                            : j->running                      ? "running"
                            : j->queued                       ? "queued"
                            : j->done < j->total || !j->total ? "receiving"
                                                              : "delivering";
        printf ("%-24s %-12s %10s %10llu %8llu %10llu %8llu %9llu %10s  %s%s\n", j->id,
                j->queue [0] ? j->queue : "-", total, (unsigned long long) j->queued,
                (unsigned long long) j->running, (unsigned long long) j->done,
                (unsigned long long) (j->failed + j->timeout), (unsigned long long) j->cancelled,
                age, state, j->finished ? " ago" : "");
    }
    s_print_collectors (r);
    printf ("\n%-28s %8s %6s %6s %10s %9s\n", "WORKER HOST", "PID", "SLOTS", "BUSY", "DONE",
            "LAST HB");
    if (r->n_workers == 0)
        printf ("(no workers)\n");
    for (size_t i = 0; i < r->n_workers; i++) {
        const Sluice__WorkerStatus *w = r->workers [i];
        char host [256], hb [32];
        const char *pid;
        sl_status_host_pid (w->name, host, sizeof host, &pid);
        s_age (w->last_heartbeat_ms, hb, sizeof hb);
        printf ("%-28s %8s %6u %6u %10llu %9s%s\n", host, pid, w->slots, w->busy,
                (unsigned long long) w->done, hb, w->draining ? "  draining" : "");
    }
}

//  Sends the command and waits for the reply (caller frees), or NULL.
static sl_env_t *s_ask (sl_client_t *client, Sluice__Command *command, int64_t timeout_ms)
{
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_COMMAND;
    env.command = command;
    if (sl_client_send (client, &env))
        return NULL;
    zsock_t *control = sl_client_control (client);
    zpoller_t *poller = zpoller_new (control, NULL);
    int64_t deadline = zclock_mono () + timeout_ms;
    sl_env_t *reply = NULL;
    while (!reply && !zsys_interrupted && zclock_mono () < deadline) {
        if (!zpoller_wait (poller, (int) (deadline - zclock_mono ())))
            continue;
        char why [256];
        if (sl_proto_recv (control, &reply, NULL, why, sizeof why) != SL_RECV_OK)
            reply = NULL;
        else if (reply->body_case != SLUICE__ENVELOPE__BODY_COMMAND_REPLY &&
                 reply->body_case != SLUICE__ENVELOPE__BODY_STATUS_REPORT)
            sl_proto_free (&reply); //  e.g. a heartbeat answer
    }
    zpoller_destroy (&poller);
    return reply;
}

//  `sluice-ctl token [--rotate]`: the join token from the broker's keys
//  file, on stdout. Returns the exit status.
static int s_token (const char *broker, const char *data_dir, const char *token_file, bool rotate)
{
    char path [PATH_MAX + 32], dir [PATH_MAX];
    if (token_file)
        snprintf (path, sizeof path, "%s", token_file);
    else {
        if (!data_dir) {
            if (sl_keys_default_dir (broker, false, dir, sizeof dir)) {
                fprintf (stderr, PROG ": token: no home directory: give --data-dir\n");
                return SL_EXIT_USAGE;
            }
            data_dir = dir;
        }
        snprintf (path, sizeof path, "%s/" SL_KEYS_FILE, data_dir);
    }
    sl_keys_t keys;
    char err [PATH_MAX + 512];
    if ((rotate ? sl_keys_rotate : sl_keys_load) (path, &keys, err, sizeof err)) {
        fprintf (stderr, PROG ": token: %s%s\n", err,
                 access (path, F_OK) == 0
                     ? ""
                     : " (a broker makes them when it first listens beyond loopback or is given "
                       "--token-file; give the broker's --data-dir or --token-file)");
        return 1;
    }
    char token [SL_TOKEN_SIZE];
    sl_keys_token (&keys, token);
    printf ("%s\n", token);
    if (rotate)
        fprintf (stderr,
                 PROG ": token: rotated in %s: the broker takes the new token within a "
                      "heartbeat, and clients holding the old one are cut off then\n",
                 path);
    memset (&keys, 0, sizeof keys);
    return 0;
}

static const struct option s_options [] = {
    { "broker", required_argument, NULL, 'b' },
    { "json", no_argument, NULL, 'j' },
    { "timeout", required_argument, NULL, 't' },
    { "data-dir", required_argument, NULL, 'd' },
    { "token-file", required_argument, NULL, 'T' },
    { "rotate", no_argument, NULL, 'R' },
    SL_CURVE_OPTIONS,
    SL_CONFIG_OPTION,
    SL_COMMON_OPTIONS,
    { NULL, 0, NULL, 0 },
};

//  What the command line says.
typedef struct {
    sl_start_t start;
    const char *data_dir;   //  token: --data-dir
    const char *token_file; //  token: --token-file
    bool rotate;            //  token: --rotate
    bool json;              //  --json
    uint64_t timeout_ms;    //  --timeout
} s_args_t;

#define S_PARSED (-1) //  s_parse: the options are read, go on

//  Reads the options into args. Returns S_PARSED, or the status to exit
//  with (0 after --help or --version).
static int s_parse (s_args_t *args, int argc, char *argv [])
{
    int opt;
    while ((opt = getopt_long (argc, argv, "b:t:d:vqhV", s_options, NULL)) != -1) {
        int common = sl_start_option (&args->start, opt, optarg, s_usage);
        if (common == SL_OPT_HANDLED)
            continue;
        if (common != SL_OPT_NOT_COMMON)
            return common;
        switch (opt) {
            case 'j':
                args->json = true;
                break;
            case 'd':
                args->data_dir = optarg;
                break;
            case 'T':
                args->token_file = optarg;
                break;
            case 'R':
                args->rotate = true;
                break;
            case 't':
                if (sl_parse_seconds (PROG, "--timeout", optarg, &args->timeout_ms))
                    return SL_EXIT_USAGE;
                break;
            default:
                return SL_EXIT_USAGE;
        }
    }
    return S_PARSED;
}

//  Turns the words after the options (verb and its argument) into the
//  command for the broker. Prints the problem and returns -1.
static int s_command (const char *verb, int nargs, char **argv, Sluice__Command *command)
{
    if (verb && streq (verb, "status") && nargs == 0)
        command->kind = SLUICE__COMMAND_KIND__COMMAND_STATUS;
    else if (verb && streq (verb, "cancel") && nargs == 1)
        command->kind = SLUICE__COMMAND_KIND__COMMAND_CANCEL;
    else if (verb && streq (verb, "drain") && nargs == 1)
        command->kind = SLUICE__COMMAND_KIND__COMMAND_DRAIN;
    else {
        fprintf (stderr, PROG ": %s\nTry '" PROG " --help' for more information.\n",
                 !verb ? "give a command: status, cancel JOB, drain WORKER or token"
                 : streq (verb, "status") ? "status takes no argument"
                 : streq (verb, "token")  ? "token takes no argument (token --rotate replaces it)"
                 : streq (verb, "cancel") ? "cancel takes one job id"
                 : streq (verb, "drain")  ? "drain takes one worker name (HOST:PID)"
                                          : "unknown command (status, cancel JOB, drain WORKER, "
                                            "token)");
        return -1;
    }
    command->target = nargs == 1 ? argv [0] : "";
    if (command->kind == SLUICE__COMMAND_KIND__COMMAND_CANCEL &&
        !sl_job_id_valid (command->target)) {
        fprintf (stderr,
                 PROG ": cancel: '%s' is not a job id (1-64 characters of A-Z a-z 0-9 . _ -)\n",
                 command->target);
        return -1;
    }
    return 0;
}

//  Prints the broker's reply, as text or JSON. Returns the exit status.
static int s_show (const sl_env_t *reply, bool json)
{
    if (reply->body_case == SLUICE__ENVELOPE__BODY_STATUS_REPORT) {
        if (!json) {
            s_print_status (reply->status_report);
            return 0;
        }
        json_t *doc = sl_status_json (reply->status_report);
        int rc = 0;
        if (doc && json_dumpf (doc, stdout, JSON_INDENT (2)) == 0)
            printf ("\n");
        else {
            fprintf (stderr, PROG ": cannot write the status as JSON\n");
            rc = 1;
        }
        json_decref (doc);
        return rc;
    }
    const Sluice__CommandReply *answer = reply->command_reply;
    if (json) {
        json_t *doc = json_pack ("{s:b, s:s}", "ok", answer->ok, "message", answer->message);
        json_dumpf (doc, stdout, JSON_INDENT (2));
        printf ("\n");
        json_decref (doc);
    } else
        fprintf (answer->ok ? stdout : stderr, "%s%s\n", answer->ok ? "" : PROG ": ",
                 answer->message);
    return answer->ok ? 0 : 1;
}

//  Says hello to the broker, sends the command and shows the reply.
//  Returns the exit status.
static int s_call (s_args_t *args, Sluice__Command *command)
{
    const char *broker = args->start.broker;
    char err [512];
    sl_client_t *client = sl_client_new (broker, &args->start.curve, err, sizeof err);
    if (!client) {
        fprintf (stderr, PROG ": %s\n", err);
        return SL_EXIT_USAGE;
    }
    char name [300];
    sl_self_name (name, sizeof name);
    Sluice__Hello hello = SLUICE__HELLO__INIT;
    hello.role = SLUICE__ROLE__ROLE_CONTROL;
    hello.name = name;
    sl_env_t *welcome = NULL;
    int64_t timeout_ms = (int64_t) args->timeout_ms;
    int rc = 1;
    sl_hello_t said = sl_client_hello (client, &hello, timeout_ms, &welcome, err, sizeof err);
    sl_proto_free (&welcome);
    sl_env_t *reply = NULL;
    if (said != SL_HELLO_WELCOME) {
        if (said != SL_HELLO_INTERRUPTED)
            fprintf (stderr, PROG ": %s\n", err);
    } else if (!(reply = s_ask (client, command, timeout_ms)))
        fprintf (stderr, PROG ": the broker at %s did not answer within %.1f s\n", broker,
                 timeout_ms / 1000.0);
    else
        rc = s_show (reply, args->json);
    sl_proto_free (&reply);
    sl_client_destroy (&client);
    return rc;
}

static int s_run (int argc, char *argv [])
{
    s_args_t args = { .timeout_ms = DEFAULT_TIMEOUT_MS };
    sl_start_init (&args.start, PROG, SL_DEFAULT_BROKER);
    int rc = s_parse (&args, argc, argv);
    if (rc != S_PARSED)
        return rc;
    const char *verb = optind < argc ? argv [optind] : NULL;
    int nargs = argc - optind - 1;
    if (verb && streq (verb, "token") && nargs == 0)
        return s_token (args.start.broker, args.data_dir, args.token_file, args.rotate);
    if (args.rotate || args.data_dir || args.token_file) {
        fprintf (stderr, PROG ": --%s is for the token command only\n",
                 args.rotate     ? "rotate"
                 : args.data_dir ? "data-dir"
                                 : "token-file");
        return SL_EXIT_USAGE;
    }
    Sluice__Command command = SLUICE__COMMAND__INIT;
    if (s_command (verb, nargs, argv + optind + 1, &command))
        return SL_EXIT_USAGE;
    if (sl_start_check (&args.start, SL_LOG_WARN))
        return SL_EXIT_USAGE;
    rc = s_call (&args, &command);
    sl_start_clear (&args.start);
    return rc;
}

int main (int argc, char *argv [])
{
    return sl_config_main (PROG, "ctl", s_options, argc, argv, s_run);
}
