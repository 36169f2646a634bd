/*  latency - submit-to-sink latency of one task through a sluice broker.

    One process plays ventilator and sink, with the project's own client
    library (lib/sl_client.h, lib/sl_proto.h), against a broker and its
    workers (separate processes, started by bench/latency.sh):

    - a sink: says hello (ROLE_SINK, every job, follow), heartbeats, reads
      the delivery port and acknowledges every result on the control
      socket, as sink/sink.c does;
    - a ventilator: says hello (ROLE_VENTILATOR), sends TaskBatch messages
      on the intake port and, at the end, each job's JobEnd, as
      ventilator/main.c does.

    A probe is one task sent alone (a TaskBatch of 1, job "lat-PID-probe");
    its latency is the time from just before that send to the moment its
    result has been read from the delivery port (then it is acknowledged).
    One probe is in flight at a time, with a random pause of 0 to --gap-us
    microseconds between a result and the next probe.

    Phases, one broker, in this order:
      1. warm-up: --warmup probes, not counted;
      2. unloaded: --probes probes, nothing else in flight;
      3. capacity: --capacity-tasks tasks of job "lat-PID-cap" sent as fast as
         the broker takes them (batches of 256, as the ventilator sends)
         while their results are read and acknowledged in the same loop;
         capacity = tasks / (first send .. last result). This is what this
         one client process can drive, which is the reference for "load";
      4. loaded: --probes probes again while a background load of job
         "lat-PID-load" is submitted at --load x capacity tasks per second
         (or --rate R) in batches every millisecond, and its results are
         read and acknowledged as they come, interleaved with the probes
         in one event loop. The load is started --settle-ms before the
         first counted probe. The load rate achieved (results per second
         over the phase) is printed so that one can see it held.
    Then every job is ended (JobEnd) and the client waits for their
    JobDone before it says Bye.

    Output: one line per measured phase,
      latency phase=unloaded probes=K p50_us=.. p90_us=.. p99_us=.. max_us=.. mean_us=..
      latency phase=capacity tasks=M seconds=S tasks_per_s=R
      latency phase=loaded probes=K load_target_per_s=.. load_achieved_per_s=.. p50_us=.. ...
    prefixed by PEER=name (--peer).

    Build: see bench/build.sh (links build/libsluice.a and libsluice_proto.a).
*/
#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sl_client.h"
#include "sl_endpoint.h"
#include "sl_proto.h"
#include "sl_util.h"

#define BATCH_TASKS 256
#define MAX_BATCH 4096

typedef struct {
    const char *broker;
    const char *peer;
    long warmup, probes, capacity_tasks;
    double load;      //  fraction of capacity for the loaded phase
    double rate;      //  or this many tasks/s (> 0 overrides load)
    long gap_us;      //  most pause between a result and the next probe
    long settle_ms;   //  load runs this long before probes count
    int size;         //  payload bytes
    bool skip_loaded; //  --no-load: phases 1-2 only
} opts_t;

typedef struct {
    char id [72];
    uint64_t sent;      //  tasks sent (seqs 1..sent)
    uint64_t results;   //  distinct results received
    uint8_t *seen;      //  by seq, for duplicates (grown)
    size_t seen_cap;
    uint64_t *acks;     //  seqs to acknowledge
    size_t nacks, acks_cap;
    bool done;          //  JobDone received
} job_t;

typedef struct {
    opts_t o;
    sl_client_t *sink, *vent;
    zsock_t *intake, *delivery;
    job_t probe, cap, load;
    uint8_t *payload;
    //  the probe in flight
    bool in_flight;
    uint64_t probe_seq;
    int64_t probe_sent_ns;
    int64_t next_probe_ns; //  not before
    int64_t *lat;          //  latencies of the phase (ns)
    long nlat, want_lat;
    unsigned seed;
} client_t;

static int64_t s_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void s_job_init (job_t *job, const char *id)
{
    memset (job, 0, sizeof *job);
    snprintf (job->id, sizeof job->id, "%s", id);
}

//  Sends tasks seq first..first+n-1 of job (blocking: the broker's
//  backpressure). Returns 0 or -1.
static int s_send_tasks (client_t *self, job_t *job, uint64_t first, size_t n, int flags)
{
    Sluice__Task tasks [BATCH_TASKS];
    Sluice__Task *ptrs [BATCH_TASKS];
    for (size_t i = 0; i < n; i++) {
        Sluice__Task init = SLUICE__TASK__INIT;
        tasks [i] = init;
        tasks [i].seq = first + i;
        tasks [i].payload.data = self->payload;
        tasks [i].payload.len = (size_t) self->o.size;
        ptrs [i] = &tasks [i];
    }
    Sluice__TaskBatch batch = SLUICE__TASK_BATCH__INIT;
    batch.job = job->id;
    batch.tasks = ptrs;
    batch.n_tasks = n;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_TASKS;
    env.tasks = &batch;
    while (sl_proto_send (self->intake, NULL, &env, flags)) {
        if (errno == EAGAIN && (flags & ZMQ_DONTWAIT))
            return -1;
        if (errno != EINTR && errno != EAGAIN)
            return -1;
        if (zsys_interrupted)
            return -1;
    }
    return 0;
}

static void s_job_end (client_t *self, job_t *job)
{
    Sluice__JobEnd end = SLUICE__JOB_END__INIT;
    end.job = job->id;
    end.total = job->sent;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_JOB_END;
    env.job_end = &end;
    sl_proto_send (self->intake, NULL, &env, 0);
}

static void s_ack_add (job_t *job, uint64_t seq)
{
    if (job->nacks == job->acks_cap) {
        job->acks_cap = job->acks_cap ? 2 * job->acks_cap : 1024;
        job->acks = realloc (job->acks, job->acks_cap * sizeof *job->acks);
        assert (job->acks);
    }
    job->acks [job->nacks++] = seq;
}

static void s_ack_flush (client_t *self, job_t *job)
{
    if (!job->nacks)
        return;
    Sluice__Ack ack = SLUICE__ACK__INIT;
    ack.job = job->id;
    ack.seqs = job->acks;
    ack.n_seqs = job->nacks;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_ACK;
    env.ack = &ack;
    sl_client_send (self->sink, &env);
    job->nacks = 0;
}

static job_t *s_job_of (client_t *self, const char *id)
{
    if (streq (id, self->probe.id))
        return &self->probe;
    if (streq (id, self->cap.id))
        return &self->cap;
    if (streq (id, self->load.id))
        return &self->load;
    return NULL;
}

//  Marks seq seen; true if it is new.
static bool s_seen (job_t *job, uint64_t seq)
{
    if (seq >= job->seen_cap) {
        size_t cap = job->seen_cap ? job->seen_cap : 4096;
        while (cap <= seq)
            cap *= 2;
        job->seen = realloc (job->seen, cap);
        assert (job->seen);
        memset (job->seen + job->seen_cap, 0, cap - job->seen_cap);
        job->seen_cap = cap;
    }
    if (job->seen [seq])
        return false;
    job->seen [seq] = 1;
    job->results++;
    return true;
}

//  Reads what the delivery port has. Returns the number of messages read.
static int s_on_delivery (client_t *self)
{
    int nread = 0;
    for (; nread < 256; nread++) {
        sl_env_t *env = NULL;
        char why [256];
        sl_recv_t rc = sl_proto_recv (self->delivery, &env, NULL, why, sizeof why);
        if (rc == SL_RECV_NONE)
            break;
        if (rc != SL_RECV_OK) {
            fprintf (stderr, "latency: bad message on delivery: %s\n", why);
            continue;
        }
        int64_t now = s_now_ns ();
        if (env->body_case == SLUICE__ENVELOPE__BODY_RESULTS) {
            job_t *job = s_job_of (self, env->results->job);
            for (size_t i = 0; job && i < env->results->n_results; i++) {
                Sluice__Result *r = env->results->results [i];
                bool fresh = s_seen (job, r->seq);
                s_ack_add (job, r->seq);
                if (job == &self->probe && fresh && self->in_flight && r->seq == self->probe_seq) {
                    if (self->want_lat && self->nlat < self->want_lat)
                        self->lat [self->nlat++] = now - self->probe_sent_ns;
                    self->in_flight = false;
                    long gap = self->o.gap_us > 0 ? rand_r (&self->seed) % (self->o.gap_us + 1) : 0;
                    self->next_probe_ns = now + gap * 1000;
                }
            }
            //  The probe's ack goes at once; the others once per burst.
            if (job == &self->probe)
                s_ack_flush (self, job);
        } else if (env->body_case == SLUICE__ENVELOPE__BODY_JOB_DONE) {
            job_t *job = s_job_of (self, env->job_done->job);
            if (job)
                job->done = true;
        }
        sl_proto_free (&env);
    }
    s_ack_flush (self, &self->cap);
    s_ack_flush (self, &self->load);
    s_ack_flush (self, &self->probe);
    return nread;
}

static void s_on_control (client_t *self, sl_client_t *client)
{
    sl_env_t *env = NULL;
    char why [256];
    sl_recv_t rc;
    while ((rc = sl_proto_recv (sl_client_control (client), &env, NULL, why, sizeof why)) !=
           SL_RECV_NONE) {
        if (rc != SL_RECV_OK)
            continue;
        bool consumed;
        if (client == self->sink)
            sl_client_handle (client, env, zclock_mono (), &consumed);
        sl_proto_free (&env);
    }
}

//  One turn of the event loop: heartbeats, then waits at most until
//  `until_ns` for messages and handles them.
static void s_turn (client_t *self, int64_t until_ns, bool want_write, bool may_sleep)
{
    int64_t now_ms = zclock_mono ();
    sl_client_tick (self->sink, now_ms);
    if (sl_client_heartbeat_due (self->sink, now_ms))
        sl_client_heartbeat (self->sink, NULL, now_ms);
    zmq_pollitem_t items [] = {
        { zsock_resolve (self->delivery), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (sl_client_control (self->sink)), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (sl_client_control (self->vent)), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (self->intake), 0, ZMQ_POLLOUT, 0 },
    };
    int64_t wait_ns = until_ns - s_now_ns ();
    int64_t hb_ms = sl_client_next_wake (self->sink) - now_ms;
    long timeout;
    if (wait_ns <= 0)
        timeout = 0;
    else
        timeout = (long) ((wait_ns + 999999) / 1000000);
    if (hb_ms < timeout)
        timeout = hb_ms < 0 ? 0 : (long) hb_ms;
    //  zmq_poll's timeout is in ms: a shorter wait (a probe's pause, when
    //  nothing is in flight) is slept, then what arrived meanwhile is read.
    if (may_sleep && wait_ns > 0 && wait_ns < 1000000) {
        struct timespec pause = { 0, (long) wait_ns };
        nanosleep (&pause, NULL);
        timeout = 0;
    }
    int rc = zmq_poll (items, want_write ? 4 : 3, timeout);
    if (rc <= 0)
        return;
    if (items [0].revents & ZMQ_POLLIN)
        s_on_delivery (self);
    if (items [1].revents & ZMQ_POLLIN)
        s_on_control (self, self->sink);
    if (items [2].revents & ZMQ_POLLIN)
        s_on_control (self, self->vent);
}

static int s_cmp (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y ? -1 : x > y;
}

static void s_report (client_t *self, const char *phase, const char *extra)
{
    long n = self->nlat;
    if (n == 0) {
        printf ("peer=%s latency phase=%s status=failed no probes\n", self->o.peer, phase);
        return;
    }
    qsort (self->lat, (size_t) n, sizeof *self->lat, s_cmp);
    double sum = 0;
    for (long i = 0; i < n; i++)
        sum += (double) self->lat [i];
#define PCT(p) ((double) self->lat [(size_t) ((double) (n - 1) * (p))] / 1000)
    printf ("peer=%s latency phase=%s probes=%ld%s p50_us=%.0f p90_us=%.0f p99_us=%.0f "
            "max_us=%.0f mean_us=%.0f\n",
            self->o.peer, phase, n, extra ? extra : "", PCT (0.5), PCT (0.9), PCT (0.99),
            PCT (1.0), sum / (double) n / 1000);
    fflush (stdout);
}

//  Sends a probe if none is in flight and its pause is over.
static void s_probe (client_t *self)
{
    if (self->in_flight || s_now_ns () < self->next_probe_ns)
        return;
    self->probe_seq = ++self->probe.sent;
    self->probe_sent_ns = s_now_ns ();
    if (s_send_tasks (self, &self->probe, self->probe_seq, 1, 0) == 0)
        self->in_flight = true;
}

//  Phase: `want` probes (counted if count), with a load of `rate` tasks/s
//  (0: none) from `load_start_ns` on.
static void s_run_probes (client_t *self, long want, bool count, double rate, int64_t settle_ns,
                          uint64_t *load_done_in_phase, double *phase_s)
{
    self->nlat = 0;
    self->want_lat = count ? want : 0;
    long probes_done = 0;
    int64_t start = s_now_ns ();
    int64_t measure_start = start + settle_ns;
    uint64_t load_at_measure = 0;
    bool measuring = settle_ns == 0;
    uint64_t start_probe = self->probe.results;
    while (!zsys_interrupted) {
        int64_t now = s_now_ns ();
        if (!measuring && now >= measure_start) {
            measuring = true;
            load_at_measure = self->load.results;
            start_probe = self->probe.results;
        }
        probes_done = (long) (self->probe.results - start_probe);
        if (measuring && probes_done >= want && !self->in_flight)
            break;
        if (measuring && !self->in_flight)
            s_probe (self);
        int64_t until = self->in_flight || !measuring ? now + 1000000 : self->next_probe_ns;
        if (rate > 0) {
            //  Load due by now: rate x elapsed, sent in batches of up to 256.
            uint64_t due = (uint64_t) (rate * (double) (now - start) / 1e9);
            while (self->load.sent < due) {
                size_t n = due - self->load.sent > BATCH_TASKS ? BATCH_TASKS
                                                                 : (size_t) (due - self->load.sent);
                if (s_send_tasks (self, &self->load, self->load.sent + 1, n, ZMQ_DONTWAIT))
                    break; //  the broker is behind: try again next turn
                self->load.sent += n;
            }
            int64_t next_ms = now + 1000000;
            if (next_ms < until)
                until = next_ms;
        }
        if (!measuring && measure_start < until)
            until = measure_start;
        s_turn (self, until, false, !self->in_flight && measuring);
    }
    if (load_done_in_phase)
        *load_done_in_phase = self->load.results - load_at_measure;
    if (phase_s)
        *phase_s = (double) (s_now_ns () - measure_start) / 1e9;
}

//  Phase 3: as many tasks as the broker takes. Returns tasks/s.
static double s_capacity (client_t *self)
{
    uint64_t total = (uint64_t) self->o.capacity_tasks;
    int64_t start = s_now_ns (), end = 0;
    while (!zsys_interrupted && self->cap.results < total) {
        while (self->cap.sent < total) {
            size_t n = total - self->cap.sent > BATCH_TASKS ? BATCH_TASKS
                                                            : (size_t) (total - self->cap.sent);
            if (s_send_tasks (self, &self->cap, self->cap.sent + 1, n, ZMQ_DONTWAIT))
                break;
            self->cap.sent += n;
        }
        s_turn (self, s_now_ns () + 100000000, self->cap.sent < total, false);
    }
    end = s_now_ns ();
    double seconds = (double) (end - start) / 1e9;
    double rate = (double) total / seconds;
    printf ("peer=%s latency phase=capacity tasks=%llu seconds=%.3f tasks_per_s=%.0f\n",
            self->o.peer, (unsigned long long) total, seconds, rate);
    fflush (stdout);
    return rate;
}

static void s_usage (void)
{
    fprintf (stderr,
             "usage: latency --broker EP [--probes K] [--warmup N] [--capacity-tasks M]\n"
             "               [--load F | --rate R] [--no-load] [--gap-us U] [--settle-ms S]\n"
             "               [--size B] [--peer NAME]\n");
    exit (2);
}

int main (int argc, char *argv [])
{
    client_t self = { 0 };
    self.o = (opts_t){ .broker = SL_DEFAULT_BROKER,
                       .peer = "sluice",
                       .warmup = 200,
                       .probes = 2000,
                       .capacity_tasks = 200000,
                       .load = 0.5,
                       .gap_us = 1000,
                       .settle_ms = 500,
                       .size = 100 };
    static const struct option longopts [] = {
        { "broker", required_argument, NULL, 'b' },  { "probes", required_argument, NULL, 'p' },
        { "warmup", required_argument, NULL, 'w' },  { "capacity-tasks", required_argument, NULL, 'c' },
        { "load", required_argument, NULL, 'l' },    { "rate", required_argument, NULL, 'r' },
        { "gap-us", required_argument, NULL, 'g' },  { "settle-ms", required_argument, NULL, 's' },
        { "size", required_argument, NULL, 'z' },    { "peer", required_argument, NULL, 'P' },
        { "no-load", no_argument, NULL, 'n' },       { NULL, 0, NULL, 0 },
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
            case 'b': self.o.broker = optarg; break;
            case 'p': self.o.probes = atol (optarg); break;
            case 'w': self.o.warmup = atol (optarg); break;
            case 'c': self.o.capacity_tasks = atol (optarg); break;
            case 'l': self.o.load = atof (optarg); break;
            case 'r': self.o.rate = atof (optarg); break;
            case 'g': self.o.gap_us = atol (optarg); break;
            case 's': self.o.settle_ms = atol (optarg); break;
            case 'z': self.o.size = atoi (optarg); break;
            case 'P': self.o.peer = optarg; break;
            case 'n': self.o.skip_loaded = true; break;
            default: s_usage ();
        }
    }
    if (self.o.probes < 1 || self.o.size < 1 || self.o.capacity_tasks < 1)
        s_usage ();
    zsys_init ();
    zsys_handler_set (NULL); //  SIGINT/SIGTERM end the process
    self.seed = (unsigned) getpid ();
    self.payload = malloc ((size_t) self.o.size);
    for (int i = 0; i < self.o.size; i++)
        self.payload [i] = (uint8_t) ('a' + i % 26);
    self.lat = malloc ((size_t) self.o.probes * sizeof *self.lat);
    char id [72];
    snprintf (id, sizeof id, "lat-%d-probe", (int) getpid ());
    s_job_init (&self.probe, id);
    snprintf (id, sizeof id, "lat-%d-cap", (int) getpid ());
    s_job_init (&self.cap, id);
    snprintf (id, sizeof id, "lat-%d-load", (int) getpid ());
    s_job_init (&self.load, id);

    char err [512], name [300], vname [320];
    sl_self_name (name, sizeof name);
    snprintf (vname, sizeof vname, "%s-ventilator", name);
    self.sink = sl_client_new (self.o.broker, NULL, err, sizeof err);
    self.vent = self.sink ? sl_client_new (self.o.broker, NULL, err, sizeof err) : NULL;
    if (!self.vent) {
        fprintf (stderr, "latency: %s\n", err);
        return 1;
    }
    //  The sink first: a sink for every job, following (it never ends by
    //  itself; this program decides).
    Sluice__Hello hello = SLUICE__HELLO__INIT;
    hello.role = SLUICE__ROLE__ROLE_SINK;
    hello.name = name;
    hello.job = "";
    hello.follow = true;
    hello.delivery = SL_DELIVERY_VERSION;
    sl_env_t *welcome = NULL;
    self.delivery = sl_client_open_delivery (self.sink, name, err, sizeof err);
    if (!self.delivery) {
        fprintf (stderr, "latency: %s\n", err);
        return 1;
    }
    if (sl_client_hello (self.sink, &hello, 30000, &welcome, err, sizeof err) != SL_HELLO_WELCOME) {
        fprintf (stderr, "latency: sink hello: %s\n", err);
        return 1;
    }
    sl_proto_free (&welcome);
    Sluice__Hello vhello = SLUICE__HELLO__INIT;
    vhello.role = SLUICE__ROLE__ROLE_VENTILATOR;
    vhello.name = vname;
    vhello.job = self.probe.id;
    if (!self.delivery ||
        sl_client_hello (self.vent, &vhello, 30000, &welcome, err, sizeof err) != SL_HELLO_WELCOME) {
        fprintf (stderr, "latency: %s\n", err);
        return 1;
    }
    sl_proto_free (&welcome);
    sl_client_set_sndhwm (self.vent, 16);
    self.intake = sl_client_open (self.vent, SL_PORT_INTAKE, ZMQ_PUSH, 2000, err, sizeof err);
    if (!self.intake) {
        fprintf (stderr, "latency: %s\n", err);
        return 1;
    }
    //  Let the data connections come up (IMMEDIATE is off on them: a
    //  message sent now would wait in the queue, not be lost, but its time
    //  would count).
    zclock_sleep (300);

    s_run_probes (&self, self.o.warmup, false, 0, 0, NULL, NULL);
    s_run_probes (&self, self.o.probes, true, 0, 0, NULL, NULL);
    s_report (&self, "unloaded", NULL);
    if (!self.o.skip_loaded) {
        double rate = self.o.rate;
        if (rate <= 0) {
            double capacity = s_capacity (&self);
            rate = self.o.load * capacity;
        }
        uint64_t load_done = 0;
        double phase_s = 0;
        s_run_probes (&self, self.o.probes, true, rate, self.o.settle_ms * 1000000LL, &load_done,
                      &phase_s);
        char extra [160];
        snprintf (extra, sizeof extra, " load_target_per_s=%.0f load_achieved_per_s=%.0f", rate,
                  (double) load_done / phase_s);
        s_report (&self, "loaded", extra);
    }
    //  End every job and wait for the broker to say each is done.
    job_t *jobs [] = { &self.probe, &self.cap, &self.load };
    for (int i = 0; i < 3; i++)
        if (jobs [i]->sent)
            s_job_end (&self, jobs [i]);
        else
            jobs [i]->done = true;
    int64_t give_up = s_now_ns () + 60 * 1000000000LL;
    while (!zsys_interrupted && s_now_ns () < give_up &&
           !(self.probe.done && self.cap.done && self.load.done))
        s_turn (&self, s_now_ns () + 100000000, false, false);
    int rc = self.probe.done && self.cap.done && self.load.done ? 0 : 1;
    if (rc)
        fprintf (stderr, "latency: not every job finished (probe %d cap %d load %d)\n",
                 self.probe.done, self.cap.done, self.load.done);
    Sluice__Bye bye = SLUICE__BYE__INIT;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_BYE;
    env.bye = &bye;
    sl_client_send (self.sink, &env);
    sl_client_destroy (&self.vent);
    sl_client_destroy (&self.sink);
    free (self.lat);
    free (self.payload);
    free (self.probe.seen);
    free (self.cap.seen);
    free (self.load.seen);
    free (self.probe.acks);
    free (self.cap.acks);
    free (self.load.acks);
    return rc;
}
