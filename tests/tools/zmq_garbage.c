/*  zmq_garbage - hostile input for sluice. A test tool, not a sluice program.

    Attack mode:

        zmq_garbage tcp://HOST:PORT [SECONDS] [--job ID] [--seed N]
                    [--skip LIST] [--only LIST] [--extra LIST] [--list]

    connects raw libzmq sockets of the right (and of wrong) types to the five
    ports of the broker at PORT and, round after round for SECONDS (default
    5), sends what a broker must survive: random bytes, truncated, bit-flipped
    and oversized envelopes, other protocol versions, envelopes without a
    body, every message type on every port where it does not belong,
    multi-frame messages, absurd hellos, tasks and results with impossible
    seqs and job ids, contradicting job ends, duplicate and stale results,
    acks from a non-sink, credits from unknown workers, a worker that takes
    tasks and never runs them, ZMTP-level garbage over raw TCP and a flood of
    500 connections. --job names a real job: results (never ok ones: those
    would forge output), acks, claims and releases are aimed at it too. It
    also measures how long the broker takes to answer a heartbeat. At the
    end it prints what it sent, per port and kind, on standard output.
    --list shows the scenarios; --extra runs ones that are off by default
    because they stall, flood or starve the system under test for longer
    than a test should take (see the list).

    Impostor mode:

        zmq_garbage --impostor tcp://HOST:PORT SECONDS [--push] [--seed N]
                    [--answer garbage|welcome] [--extra LIST]

    binds the five ports like a broker (HOST may be *) and answers clients.
    --answer garbage (default) answers every message, the first hello
    included, with garbage or another protocol version: a client must give
    up with a clear error.
    --answer welcome first welcomes each client (after a burst of messages a
    client must ignore, with absurd but legal values), then answers
    everything with garbage and pushes garbage tasks and results down the
    dispatch and delivery ports: a client must keep going without crashing.
    --push binds a PUSH on the dispatch port (and welcomes with fair=false)
    instead of a ROUTER. Extras: absurd-heartbeat (the welcome agrees on
    4,000,000,000 ms), bitmap-bomb (results with seq 2^32 for ever new jobs:
    a sink sizes a bitmap of 512 MiB or more for each; use a memory limit).

    It never blocks: every send is ZMQ_DONTWAIT on a socket with linger 0 and
    a small high-water mark; a send that would block is counted as dropped.
    Exit status: 0, or 2 on usage errors.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "sl_proto.h" //  SL_PROTOCOL_VERSION and the generated message types

enum { P_CONTROL, P_INTAKE, P_DISPATCH, P_RESULTS, P_DELIVERY, P_COUNT };

static const char *s_port_name [P_COUNT] = { "control", "intake", "dispatch", "results",
                                             "delivery" };

#define MAX_KINDS 160
#define MAX_RAW 16        //  raw TCP connections in flight
#define MAX_HELD 4096     //  tasks the thief holds
#define MAX_IMP_PEERS 64  //  clients the impostor tells apart
#define MAX_SPARE 64      //  sockets kept open until the end (hellos)
#define FLOOD_SOCKETS 500 //  connections opened and closed at once
#define MIB (1024 * 1024)

//  What was sent (or received) under one (port, kind).
typedef struct {
    int port;         //  P_*
    const char *kind; //  static string
    uint64_t sent;    //  messages ZeroMQ took
    uint64_t blocked; //  sends that would have blocked (dropped)
    uint64_t bytes;   //  bytes taken
} tally_t;

//  One instance of every message type with plausible contents, to wrap in
//  an envelope of any body type.
typedef struct {
    Sluice__Hello hello;
    Sluice__Welcome welcome;
    Sluice__Refuse refuse;
    Sluice__Task task;
    Sluice__Task *task_ptr [1];
    Sluice__TaskBatch tasks;
    Sluice__JobEnd job_end;
    Sluice__Result result;
    Sluice__Result *result_ptr [1];
    Sluice__ResultBatch results;
    uint64_t seqs [3];
    Sluice__Ack ack;
    Sluice__JobDone job_done;
    Sluice__JobStart job_start;
    Sluice__JobQuery job_query;
    Sluice__JobState job_state;
    Sluice__TaskRef ref;
    Sluice__TaskRef *ref_ptr [1];
    Sluice__Heartbeat heartbeat;
    Sluice__Bye bye;
    Sluice__Release release;
    Sluice__Credit credit;
} bodies_t;

//  A raw TCP connection (ZMQ_STREAM) being driven through its steps.
typedef struct {
    bool used;       //  slot in use
    int port;        //  P_*
    int what;        //  which kind of garbage
    char id [16];    //  its routing id on the STREAM socket
    int64_t sent_at; //  0 until the garbage went out
    int64_t born;    //  when it connected
} raw_t;

//  A task the thief took: claimed in heartbeats, half of them released.
typedef struct {
    char job [72];
    uint64_t seq;
    uint32_t attempt;
} held_t;

//  A client the impostor has heard from.
typedef struct {
    uint8_t id [256]; //  routing id on the control port
    size_t id_size;
    char name [128]; //  from its hello
    int role;        //  from its hello
    uint64_t hellos; //  hellos seen
} imp_peer_t;

typedef struct _gz_t gz_t;
typedef void (scenario_fn) (gz_t *self);

typedef struct {
    const char *name;  //  for --skip, --only, --extra
    int period_ms;     //  0: every round; > 0: at most this often; < 0: once, after -period ms
    bool extra;        //  off unless named in --extra
    scenario_fn *fn;   //  sends it
    const char *about; //  for --list
} scenario_t;

struct _gz_t {
    void *ctx;                   //  ZeroMQ context
    char host [256];             //  from tcp://HOST:PORT
    int port;                    //  base port
    double seconds;              //  how long to run
    uint64_t seed;               //  for the PRNG, printed to replay a run
    uint64_t rng;                //  PRNG state
    const char *job;             //  --job: a real job to aim at, or NULL
    int64_t start, deadline;     //  ms, monotonic
    uint64_t rounds;             //  rounds run
    tally_t tally [MAX_KINDS];   //  what was sent
    size_t ntally;               //  entries used
    uint64_t received [P_COUNT]; //  messages read back
    bodies_t b;                  //  message templates
    char zg_job [72];            //  a job id of our own
    //  Attack mode sockets.
    void *ctl;                    //  DEALER on control: never says hello
    void *ctl_fake;               //  DEALER on control: a fake worker
    char fake_name [64];          //  its name
    void *intake;                 //  PUSH on intake
    void *disp;                   //  DEALER on dispatch, random routing id
    void *disp_pull;              //  PULL on dispatch (push mode: steals)
    void *results;                //  PUSH on results
    void *intake2, *results2;     //  PUSHes for messages that must not be
                                  //  dropped behind the garbage
    void *deliv;                  //  DEALER on delivery (the wrong type)
    void *deliv_pull;             //  --extra steal-results: PULL on delivery
    void *thief_ctl, *thief_disp; //  fair mode: a worker that keeps its tasks
    char thief_name [64];         //  its name and routing id
    held_t *held;                 //  what it took
    size_t nheld;
    int64_t thief_hb;             //  its next heartbeat
    uint64_t stolen;              //  tasks the thieves took
    uint64_t results_taken;       //  results the PULL on the delivery port took
    void *probe;                  //  DEALER on control: heartbeat latency
    int64_t probe_sent;           //  when the outstanding probe went, 0 = none
    uint64_t probes;              //  answered probes
    int64_t probe_max, probe_sum; //  latency (ms)
    void *raw [P_COUNT];          //  STREAM sockets for raw TCP garbage
    int raw_deliv;                //  TCP socket posing as a ZMTP/1.0 peer, or -1
    int64_t raw_deliv_at;         //  when it connected
    uint64_t raw_deliv_bytes;     //  bytes the broker sent it, past its greeting
    int bigframe;                 //  TCP socket that declared a huge frame, or -1
    raw_t raws [MAX_RAW];         //  connections in flight
    uint64_t raw_seq;             //  to name them
    void *spare [MAX_SPARE];      //  sockets kept open until the end
    size_t nspare;
    uint64_t flood_opened, flood_failed;
    int wrong_turn [P_COUNT]; //  cycles through the wrong bodies
    int version_turn;         //  cycles through the wrong versions
    uint64_t dup_round;       //  numbers the duplicate jobs
    int turn_oversize, turn_hello, turn_tasks, turn_jobend, turn_results, turn_misc;
    char *job10k; //  a 10 KiB job id, for the whole run
    //  Impostor mode.
    bool push;             //  --push: PUSH on the dispatch port
    bool answer_welcome;   //  --answer welcome
    bool absurd_heartbeat; //  --extra absurd-heartbeat
    bool bitmap_bomb;      //  --extra bitmap-bomb
    void *bound [P_COUNT]; //  the five bound sockets
    imp_peer_t peers [MAX_IMP_PEERS];
    size_t npeers;
    uint64_t imp_tasks;  //  valid tasks handed out
    char broker_id [64]; //  the id it welcomes with
};

static volatile sig_atomic_t s_stop = 0;

static void s_on_signal (int sig)
{
    (void) sig;
    s_stop = 1;
}

//  --- Small helpers ----------------------------------------------------------

static int64_t s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  xorshift64*: reproducible from --seed.
static uint64_t s_rand (gz_t *self)
{
    self->rng ^= self->rng >> 12;
    self->rng ^= self->rng << 25;
    self->rng ^= self->rng >> 27;
    return self->rng * 2685821657736338717ULL;
}

//  Uniform in [0, n).
static uint64_t s_below (gz_t *self, uint64_t n)
{
    return n ? s_rand (self) % n : 0;
}

static void s_fill (gz_t *self, uint8_t *buf, size_t size)
{
    for (size_t i = 0; i < size; i++)
        buf [i] = (uint8_t) s_rand (self);
}

static void *s_xmalloc (size_t size)
{
    void *p = malloc (size ? size : 1);
    if (!p) {
        fprintf (stderr, "zmq_garbage: out of memory\n");
        exit (1);
    }
    return p;
}

//  A string of n copies of c (caller frees).
static char *s_repeat (char c, size_t n)
{
    char *s = s_xmalloc (n + 1);
    memset (s, c, n);
    s [n] = '\0';
    return s;
}

//  Random valid job id: zg-<hex>.
static void s_job_id (gz_t *self, char *buf, size_t len)
{
    snprintf (buf, len, "zg-%016" PRIx64, s_rand (self));
}

static bool s_in_list (const char *list, const char *name)
{
    if (!list)
        return false;
    size_t n = strlen (name);
    for (const char *p = list; *p;) {
        const char *end = strchr (p, ',');
        size_t len = end ? (size_t) (end - p) : strlen (p);
        if (len == n && strncmp (p, name, n) == 0)
            return true;
        p += len + (end ? 1 : 0);
    }
    return false;
}

//  --- Counting -----------------------------------------------------------------

static tally_t *s_tally (gz_t *self, int port, const char *kind)
{
    for (size_t i = 0; i < self->ntally; i++)
        if (self->tally [i].port == port && self->tally [i].kind == kind)
            return &self->tally [i];
    if (self->ntally == MAX_KINDS)
        return &self->tally [MAX_KINDS - 1];
    tally_t *t = &self->tally [self->ntally++];
    t->port = port;
    t->kind = kind;
    return t;
}

static void s_count (gz_t *self, int port, const char *kind, bool ok, size_t bytes)
{
    tally_t *t = s_tally (self, port, kind);
    if (ok) {
        t->sent++;
        t->bytes += bytes;
    } else
        t->blocked++;
}

//  --- Sending ------------------------------------------------------------------

//  Sends a message of n frames (after the routing id `id`, if given) without
//  blocking and counts it. Returns true if ZeroMQ took it.
static bool s_send_parts (gz_t *self, void *sock, int port, const char *kind, const void *id,
                          size_t id_size, const void **data, const size_t *size, size_t n)
{
    if (!sock)
        return false;
    size_t bytes = 0;
    bool ok = true;
    if (id && zmq_send (sock, id, id_size, ZMQ_DONTWAIT | ZMQ_SNDMORE) < 0)
        ok = false;
    for (size_t i = 0; ok && i < n; i++) {
        int flags = ZMQ_DONTWAIT | (i + 1 < n ? ZMQ_SNDMORE : 0);
        if (zmq_send (sock, data [i], size [i], flags) < 0)
            ok = false;
        else
            bytes += size [i];
    }
    s_count (self, port, kind, ok, bytes);
    return ok;
}

static bool s_send (gz_t *self, void *sock, int port, const char *kind, const void *id,
                    size_t id_size, const void *data, size_t size)
{
    return s_send_parts (self, sock, port, kind, id, id_size, &data, &size, 1);
}

//  Packs env with `version` into a new buffer (caller frees).
static uint8_t *s_pack (Sluice__Envelope *env, uint32_t version, size_t *size_p)
{
    env->version = version;
    size_t size = sluice__envelope__get_packed_size (env);
    uint8_t *buf = s_xmalloc (size);
    sluice__envelope__pack (env, buf);
    *size_p = size;
    return buf;
}

static bool s_send_env (gz_t *self, void *sock, int port, const char *kind, const void *id,
                        size_t id_size, Sluice__Envelope *env, uint32_t version)
{
    size_t size;
    uint8_t *buf = s_pack (env, version, &size);
    bool ok = s_send (self, sock, port, kind, id, id_size, buf, size);
    free (buf);
    return ok;
}

static void s_send_random (gz_t *self, void *sock, int port, const char *kind, const void *id,
                           size_t id_size, size_t max)
{
    size_t size = (size_t) s_below (self, max + 1);
    uint8_t *buf = s_xmalloc (size);
    s_fill (self, buf, size);
    s_send (self, sock, port, kind, id, id_size, buf, size);
    free (buf);
}

//  --- Message templates ------------------------------------------------------

static void s_bodies_init (bodies_t *b, const char *job)
{
    Sluice__Hello hello = SLUICE__HELLO__INIT;
    Sluice__Welcome welcome = SLUICE__WELCOME__INIT;
    Sluice__Refuse refuse = SLUICE__REFUSE__INIT;
    Sluice__Task task = SLUICE__TASK__INIT;
    Sluice__TaskBatch tasks = SLUICE__TASK_BATCH__INIT;
    Sluice__JobEnd job_end = SLUICE__JOB_END__INIT;
    Sluice__Result result = SLUICE__RESULT__INIT;
    Sluice__ResultBatch results = SLUICE__RESULT_BATCH__INIT;
    Sluice__Ack ack = SLUICE__ACK__INIT;
    Sluice__JobDone job_done = SLUICE__JOB_DONE__INIT;
    Sluice__JobStart job_start = SLUICE__JOB_START__INIT;
    Sluice__JobQuery job_query = SLUICE__JOB_QUERY__INIT;
    Sluice__JobState job_state = SLUICE__JOB_STATE__INIT;
    Sluice__TaskRef ref = SLUICE__TASK_REF__INIT;
    Sluice__Heartbeat heartbeat = SLUICE__HEARTBEAT__INIT;
    Sluice__Bye bye = SLUICE__BYE__INIT;
    Sluice__Release release = SLUICE__RELEASE__INIT;
    Sluice__Credit credit = SLUICE__CREDIT__INIT;
    b->hello = hello;
    b->hello.role = SLUICE__ROLE__ROLE_WORKER;
    b->hello.name = (char *) "zg-template:1";
    b->hello.slots = 2;
    b->welcome = welcome;
    b->welcome.broker_id = (char *) "zg-broker";
    b->welcome.heartbeat_ms = 1000;
    b->refuse = refuse;
    b->refuse.reason = (char *) "zg refuses";
    b->task = task;
    b->task.seq = 1;
    b->task.payload.data = (uint8_t *) "zg";
    b->task.payload.len = 2;
    b->task_ptr [0] = &b->task;
    b->tasks = tasks;
    b->tasks.job = (char *) job;
    b->tasks.tasks = b->task_ptr;
    b->tasks.n_tasks = 1;
    b->job_end = job_end;
    b->job_end.job = (char *) job;
    b->job_end.total = 1;
    b->result = result;
    b->result.seq = 1;
    b->result.status = SLUICE__STATUS__STATUS_FAILED;
    b->result.attempt = 60000;
    b->result.worker = (char *) "zg-template:1";
    b->result_ptr [0] = &b->result;
    b->results = results;
    b->results.job = (char *) job;
    b->results.results = b->result_ptr;
    b->results.n_results = 1;
    b->seqs [0] = 1;
    b->seqs [1] = 2;
    b->seqs [2] = 3;
    b->ack = ack;
    b->ack.job = (char *) job;
    b->ack.seqs = b->seqs;
    b->ack.n_seqs = 3;
    b->job_done = job_done;
    b->job_done.job = (char *) job;
    b->job_start = job_start;
    b->job_start.job = (char *) job;
    b->job_query = job_query;
    b->job_query.job = (char *) job;
    b->job_state = job_state;
    b->job_state.job = (char *) job;
    b->ref = ref;
    b->ref.job = (char *) job;
    b->ref.seq = 1;
    b->ref.attempt = 60000;
    b->ref_ptr [0] = &b->ref;
    b->heartbeat = heartbeat;
    b->bye = bye;
    b->release = release;
    b->release.tasks = b->ref_ptr;
    b->release.n_tasks = 1;
    b->credit = credit;
    b->credit.credit = 1;
}

//  Points env at the template of `body`.
static void s_wrap (bodies_t *b, Sluice__Envelope *env, Sluice__Envelope__BodyCase body)
{
    Sluice__Envelope init = SLUICE__ENVELOPE__INIT;
    *env = init;
    env->body_case = body;
    switch (body) {
        case SLUICE__ENVELOPE__BODY_HELLO:
            env->hello = &b->hello;
            break;
        case SLUICE__ENVELOPE__BODY_WELCOME:
            env->welcome = &b->welcome;
            break;
        case SLUICE__ENVELOPE__BODY_REFUSE:
            env->refuse = &b->refuse;
            break;
        case SLUICE__ENVELOPE__BODY_TASKS:
            env->tasks = &b->tasks;
            break;
        case SLUICE__ENVELOPE__BODY_JOB_END:
            env->job_end = &b->job_end;
            break;
        case SLUICE__ENVELOPE__BODY_RESULTS:
            env->results = &b->results;
            break;
        case SLUICE__ENVELOPE__BODY_ACK:
            env->ack = &b->ack;
            break;
        case SLUICE__ENVELOPE__BODY_JOB_DONE:
            env->job_done = &b->job_done;
            break;
        case SLUICE__ENVELOPE__BODY_JOB_START:
            env->job_start = &b->job_start;
            break;
        case SLUICE__ENVELOPE__BODY_JOB_QUERY:
            env->job_query = &b->job_query;
            break;
        case SLUICE__ENVELOPE__BODY_JOB_STATE:
            env->job_state = &b->job_state;
            break;
        case SLUICE__ENVELOPE__BODY_HEARTBEAT:
            env->heartbeat = &b->heartbeat;
            break;
        case SLUICE__ENVELOPE__BODY_BYE:
            env->bye = &b->bye;
            break;
        case SLUICE__ENVELOPE__BODY_RELEASE:
            env->release = &b->release;
            break;
        case SLUICE__ENVELOPE__BODY_CREDIT:
            env->credit = &b->credit;
            break;
        default:
            env->body_case = SLUICE__ENVELOPE__BODY__NOT_SET;
            break;
    }
}

//  The body each port expects from a client (what the broker reads there).
static Sluice__Envelope__BodyCase s_expected (int port)
{
    switch (port) {
        case P_CONTROL:
            return SLUICE__ENVELOPE__BODY_HEARTBEAT;
        case P_INTAKE:
            return SLUICE__ENVELOPE__BODY_TASKS;
        case P_DISPATCH:
            return SLUICE__ENVELOPE__BODY_CREDIT;
        case P_RESULTS:
            return SLUICE__ENVELOPE__BODY_RESULTS;
        default:
            return SLUICE__ENVELOPE__BODY_RESULTS;
    }
}

//  True if the broker accepts `body` on `port` (so it is not "wrong" there).
static bool s_belongs (int port, int body)
{
    switch (port) {
        case P_CONTROL:
            return body == SLUICE__ENVELOPE__BODY_HELLO ||
                   body == SLUICE__ENVELOPE__BODY_HEARTBEAT || body == SLUICE__ENVELOPE__BODY_ACK ||
                   body == SLUICE__ENVELOPE__BODY_JOB_QUERY || body == SLUICE__ENVELOPE__BODY_BYE ||
                   body == SLUICE__ENVELOPE__BODY_RELEASE;
        case P_INTAKE:
            return body == SLUICE__ENVELOPE__BODY_TASKS || body == SLUICE__ENVELOPE__BODY_JOB_END;
        case P_DISPATCH:
            return body == SLUICE__ENVELOPE__BODY_CREDIT;
        case P_RESULTS:
            return body == SLUICE__ENVELOPE__BODY_RESULTS;
        default:
            return false;
    }
}

//  --- Sockets ------------------------------------------------------------------

static void s_endpoint (gz_t *self, int port, char *buf, size_t len)
{
    snprintf (buf, len, "tcp://%s:%d", self->host, self->port + port);
}

//  A socket of `type` connected (or bound) to `port`, linger 0, no waiting,
//  small high-water marks. routing_id: NULL or a string.
static void *s_socket (gz_t *self, int type, int port, const char *routing_id, bool bind)
{
    void *sock = zmq_socket (self->ctx, type);
    if (!sock)
        return NULL;
    int zero = 0, hwm = 64, one = 1;
    zmq_setsockopt (sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (sock, ZMQ_SNDTIMEO, &zero, sizeof zero);
    zmq_setsockopt (sock, ZMQ_RCVTIMEO, &zero, sizeof zero);
    zmq_setsockopt (sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    if (type == ZMQ_REQ)
        zmq_setsockopt (sock, ZMQ_REQ_RELAXED, &one, sizeof one);
    if (type == ZMQ_SUB)
        zmq_setsockopt (sock, ZMQ_SUBSCRIBE, "", 0);
    if (routing_id)
        zmq_setsockopt (sock, ZMQ_ROUTING_ID, routing_id, strlen (routing_id));
    char endpoint [300];
    s_endpoint (self, port, endpoint, sizeof endpoint);
    if ((bind ? zmq_bind (sock, endpoint) : zmq_connect (sock, endpoint)) != 0) {
        fprintf (stderr, "zmq_garbage: cannot %s %s: %s\n", bind ? "bind" : "connect", endpoint,
                 zmq_strerror (errno));
        zmq_close (sock);
        return NULL;
    }
    return sock;
}

static void s_close (void **sock_p)
{
    if (*sock_p) {
        zmq_close (*sock_p);
        *sock_p = NULL;
    }
}

//  Keeps sock open until the end (so what it sent is not dropped at once).
static void s_keep (gz_t *self, void *sock)
{
    if (!sock)
        return;
    if (self->nspare == MAX_SPARE)
        s_close (&self->spare [--self->nspare]);
    self->spare [self->nspare++] = sock;
}

//  Reads and drops every message waiting on sock; returns how many. Each
//  message (all its frames) is passed to `seen` if given.
typedef void (seen_fn) (gz_t *self, void *sock, zmq_msg_t *frames, size_t nframes);

static uint64_t s_drain (gz_t *self, void *sock, int port, seen_fn *seen)
{
    if (!sock)
        return 0;
    uint64_t n = 0;
    for (int i = 0; i < 1000; i++) {
        zmq_msg_t frames [8]; //  the first 8 frames; the rest are dropped
        size_t nframes = 0;
        bool more = true;
        while (more) {
            zmq_msg_t msg;
            zmq_msg_init (&msg);
            if (zmq_msg_recv (&msg, sock, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close (&msg);
                break;
            }
            more = zmq_msg_more (&msg);
            if (nframes < 8) {
                zmq_msg_init (&frames [nframes]);
                zmq_msg_move (&frames [nframes++], &msg);
            }
            zmq_msg_close (&msg);
        }
        if (nframes == 0)
            break;
        n++;
        if (seen)
            seen (self, sock, frames, nframes);
        for (size_t f = 0; f < nframes; f++)
            zmq_msg_close (&frames [f]);
    }
    self->received [port] += n;
    return n;
}

//  --- Attack scenarios -------------------------------------------------------
//  The ports a client writes to, and the socket it uses there.

static void *s_port_sock (gz_t *self, int port)
{
    switch (port) {
        case P_CONTROL:
            return self->ctl;
        case P_INTAKE:
            return self->intake;
        case P_DISPATCH:
            return self->disp;
        case P_RESULTS:
            return self->results;
        default:
            return self->deliv;
    }
}

static void s_sc_random (gz_t *self)
{
    for (int port = 0; port < P_COUNT; port++)
        s_send_random (self, s_port_sock (self, port), port, "random bytes (0-64 KiB)", NULL, 0,
                       64 * 1024);
}

static void s_sc_empty (gz_t *self)
{
    for (int port = 0; port < P_COUNT; port++)
        s_send (self, s_port_sock (self, port), port, "empty frame", NULL, 0, "", 0);
}

//  A valid envelope of the type the port expects, cut short.
static void s_sc_truncated (gz_t *self)
{
    for (int port = 0; port < P_COUNT; port++) {
        Sluice__Envelope env;
        s_wrap (&self->b, &env, s_expected (port));
        size_t size;
        uint8_t *buf = s_pack (&env, SL_PROTOCOL_VERSION, &size);
        size_t cut = size > 1 ? 1 + (size_t) s_below (self, size - 1) : 0;
        s_send (self, s_port_sock (self, port), port, "truncated envelope", NULL, 0, buf, cut);
        free (buf);
    }
}

//  Valid envelopes with 1-3 bits flipped. The sources are chosen so that no
//  single flip turns them into a hello (which would make a peer of ctl).
static void s_sc_bitflip (gz_t *self)
{
    for (int port = 0; port < P_COUNT; port++) {
        Sluice__Envelope env;
        s_wrap (&self->b, &env, s_expected (port));
        size_t size;
        uint8_t *buf = s_pack (&env, SL_PROTOCOL_VERSION, &size);
        int flips = 1 + (int) s_below (self, 3);
        for (int i = 0; i < flips && size; i++)
            buf [s_below (self, size)] ^= (uint8_t) (1u << s_below (self, 8));
        s_send (self, s_port_sock (self, port), port, "bit-flipped envelope", NULL, 0, buf, size);
        free (buf);
    }
}

static void s_sc_version (gz_t *self)
{
    static const uint32_t versions [] = { 0, 2, 99, UINT32_MAX };
    uint32_t version = versions [self->version_turn++ % 4];
    for (int port = 0; port < P_COUNT; port++) {
        Sluice__Envelope env;
        s_wrap (&self->b, &env, s_expected (port));
        s_send_env (self, s_port_sock (self, port), port, "other protocol version", NULL, 0, &env,
                    version);
    }
}

//  Version 1 and no body; and a body of a type from the future (field 99).
static void s_sc_no_body (gz_t *self)
{
    static const uint8_t future [] = { 0x08, SL_PROTOCOL_VERSION, 0x9a, 0x06, 0x03, 'z', 'g', '!' };
    for (int port = 0; port < P_COUNT; port++) {
        Sluice__Envelope env;
        s_wrap (&self->b, &env, SLUICE__ENVELOPE__BODY__NOT_SET);
        s_send_env (self, s_port_sock (self, port), port, "envelope without a body", NULL, 0, &env,
                    SL_PROTOCOL_VERSION);
        s_send (self, s_port_sock (self, port), port, "envelope of an unknown type", NULL, 0,
                future, sizeof future);
    }
}

//  Every body type on every port where it does not belong, one per round.
static void s_sc_wrong_type (gz_t *self)
{
    for (int port = 0; port < P_COUNT; port++) {
        int body;
        do
            body = SLUICE__ENVELOPE__BODY_HELLO + self->wrong_turn [port]++ % 15;
        while (s_belongs (port, body));
        Sluice__Envelope env;
        s_wrap (&self->b, &env, (Sluice__Envelope__BodyCase) body);
        s_send_env (self, s_port_sock (self, port), port, "message type not for this port", NULL, 0,
                    &env, SL_PROTOCOL_VERSION);
    }
}

static void s_sc_multi_frame (gz_t *self)
{
    for (int port = 0; port < P_COUNT; port++) {
        Sluice__Envelope env;
        s_wrap (&self->b, &env, s_expected (port));
        size_t size;
        uint8_t *buf = s_pack (&env, SL_PROTOCOL_VERSION, &size);
        uint8_t junk [32];
        s_fill (self, junk, sizeof junk);
        const void *data [4] = { buf, junk, "", buf };
        size_t sizes [4] = { size, sizeof junk, 0, size };
        size_t n = 2 + (size_t) s_below (self, 3);
        if (s_below (self, 2)) { //  garbage first, then the valid one
            data [0] = junk;
            sizes [0] = sizeof junk;
            data [1] = buf;
            sizes [1] = size;
        }
        s_send_parts (self, s_port_sock (self, port), port, "multi-frame message", NULL, 0, data,
                      sizes, n);
        free (buf);
    }
}

//  4 MiB: random bytes, or a well-formed envelope with a 4 MiB string.
static void s_sc_oversize (gz_t *self)
{
    int turn = self->turn_oversize++;
    int port = turn % P_COUNT;
    bool valid = (turn / P_COUNT) % 2;
    if (!valid) {
        uint8_t *buf = s_xmalloc (4 * MIB);
        s_fill (self, buf, 4 * MIB);
        s_send (self, s_port_sock (self, port), port, "4 MiB of random bytes", NULL, 0, buf,
                4 * MIB);
        free (buf);
        return;
    }
    char *big = s_repeat ('J', 4 * MIB);
    bodies_t b;
    s_bodies_init (&b, big); //  a 4 MiB job id: invalid everywhere
    Sluice__Envelope env;
    s_wrap (&b, &env, port == P_CONTROL ? SLUICE__ENVELOPE__BODY_JOB_QUERY : s_expected (port));
    s_send_env (self, s_port_sock (self, port), port, "4 MiB envelope (4 MiB job id)", NULL, 0,
                &env, SL_PROTOCOL_VERSION);
    free (big);
}

//  Hello on a fresh connection, kept open until the end.
static void s_hello_fresh (gz_t *self, const char *kind, Sluice__Hello *hello)
{
    void *sock = s_socket (self, ZMQ_DEALER, P_CONTROL, NULL, false);
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_HELLO;
    env.hello = hello;
    s_send_env (self, sock, P_CONTROL, kind, NULL, 0, &env, SL_PROTOCOL_VERSION);
    s_keep (self, sock);
}

//  Hellos with absurd values, each from a connection of its own (once).
static void s_sc_hello_absurd (gz_t *self)
{
    char *name64k = s_repeat ('N', 64 * 1024);
    char name [64];
    Sluice__Hello h = SLUICE__HELLO__INIT;
    h.role = SLUICE__ROLE__ROLE_WORKER;
    h.name = (char *) "";
    h.slots = 1;
    s_hello_fresh (self, "hello: worker with an empty name", &h);
    h.name = name64k;
    s_hello_fresh (self, "hello: worker with a 64 KiB name", &h);
    snprintf (name, sizeof name, "zg-slots0-%" PRIx64, self->seed);
    h.name = name;
    h.slots = 0;
    s_hello_fresh (self, "hello: worker with 0 slots", &h);
    snprintf (name, sizeof name, "zg-slotsmax-%" PRIx64, self->seed);
    h.slots = UINT32_MAX;
    h.heartbeat_ms = 1;
    s_hello_fresh (self, "hello: worker, 2^32-1 slots, heartbeat 1 ms", &h);
    snprintf (name, sizeof name, "zg-immortal-%" PRIx64, self->seed);
    h.slots = 1;
    h.heartbeat_ms = UINT32_MAX;
    s_hello_fresh (self, "hello: worker with heartbeat 2^32-1 ms", &h);
    //  A sink while the real one is attached (refused), with 10,000 jobs
    //  it waits for and --from-start.
    enum { NWAIT = 10000 };
    char **waiting = s_xmalloc (NWAIT * sizeof *waiting);
    char *ids = s_xmalloc (NWAIT * 24);
    for (size_t i = 0; i < NWAIT; i++) {
        waiting [i] = ids + 24 * i;
        s_job_id (self, waiting [i], 24);
    }
    Sluice__Hello s = SLUICE__HELLO__INIT;
    s.role = SLUICE__ROLE__ROLE_SINK;
    snprintf (name, sizeof name, "zg-sink-%" PRIx64, self->seed);
    s.name = name;
    s.delivery = SL_DELIVERY_VERSION;
    s.waiting = waiting;
    s.n_waiting = NWAIT;
    s.from_start = true;
    s.job = self->zg_job;
    s_hello_fresh (self, "hello: second sink, 10,000 jobs waited for", &s);
    free (waiting);
    free (ids);
    free (name64k);
}

//  Hellos the broker refuses without making a peer: every round on ctl.
static void s_sc_hello_bad (gz_t *self)
{
    Sluice__Hello h = SLUICE__HELLO__INIT;
    h.name = (char *) "zg-bad:1";
    const char *kind;
    switch (self->turn_hello++ % 6) {
        case 0:
            h.role = (Sluice__Role) 7;
            kind = "hello: unknown role 7";
            break;
        case 1:
            h.role = SLUICE__ROLE__ROLE_UNKNOWN;
            kind = "hello: role unknown (0)";
            break;
        case 2:
            h.role = SLUICE__ROLE__ROLE_VENTILATOR;
            h.job = self->job10k;
            kind = "hello: ventilator, 10 KiB job id";
            break;
        case 3:
            h.role = SLUICE__ROLE__ROLE_VENTILATOR;
            h.job = (char *) "";
            kind = "hello: ventilator, empty job id";
            break;
        case 4:
            h.role = SLUICE__ROLE__ROLE_SINK;
            h.job = (char *) "bad id!/..";
            kind = "hello: sink, invalid job id";
            break;
        default:
            h.role = SLUICE__ROLE__ROLE_VENTILATOR;
            h.job = (char *) "zg-ventilator-only";
            kind = "hello: ventilator that sends nothing";
            break;
    }
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    s_send_env (self, self->ctl, P_CONTROL, kind, NULL, 0, &env, SL_PROTOCOL_VERSION);
}

//  One connection says hello as a worker, then as a sink under the same
//  name (the real sink is attached, so it is refused).
static void s_sc_rehello_role (gz_t *self)
{
    void *sock = s_socket (self, ZMQ_DEALER, P_CONTROL, NULL, false);
    char name [64];
    snprintf (name, sizeof name, "zg-role-%" PRIx64, self->seed);
    Sluice__Hello h = SLUICE__HELLO__INIT;
    h.role = SLUICE__ROLE__ROLE_WORKER;
    h.name = name;
    h.slots = 1;
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    s_send_env (self, sock, P_CONTROL, "re-hello: worker then sink, one connection", NULL, 0, &env,
                SL_PROTOCOL_VERSION);
    h.role = SLUICE__ROLE__ROLE_SINK;
    s_send_env (self, sock, P_CONTROL, "re-hello: worker then sink, one connection", NULL, 0, &env,
                SL_PROTOCOL_VERSION);
    s_keep (self, sock);
}

//  One connection says hello as worker A, then as worker B, then bye; then
//  a credit arrives for A and another connection says hello as A.
static void s_sc_rehello_name (gz_t *self)
{
    void *sock = s_socket (self, ZMQ_DEALER, P_CONTROL, NULL, false);
    char a [64], b [64];
    snprintf (a, sizeof a, "zg-name-a-%" PRIx64, self->seed);
    snprintf (b, sizeof b, "zg-name-b-%" PRIx64, self->seed);
    const char *kind = "re-hello: worker renamed, bye, old name again";
    Sluice__Hello h = SLUICE__HELLO__INIT;
    h.role = SLUICE__ROLE__ROLE_WORKER;
    h.name = a;
    h.slots = 1;
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    s_send_env (self, sock, P_CONTROL, kind, NULL, 0, &env, SL_PROTOCOL_VERSION);
    h.name = b;
    s_send_env (self, sock, P_CONTROL, kind, NULL, 0, &env, SL_PROTOCOL_VERSION);
    Sluice__Bye bye = SLUICE__BYE__INIT;
    Sluice__Envelope benv = SLUICE__ENVELOPE__INIT;
    benv.body_case = SLUICE__ENVELOPE__BODY_BYE;
    benv.bye = &bye;
    s_send_env (self, sock, P_CONTROL, kind, NULL, 0, &benv, SL_PROTOCOL_VERSION);
    s_keep (self, sock);
    //  The old name again: as a credit on the dispatch port (fair), and in
    //  a hello from another connection.
    void *disp = s_socket (self, ZMQ_DEALER, P_DISPATCH, a, false);
    Sluice__Envelope cenv;
    s_wrap (&self->b, &cenv, SLUICE__ENVELOPE__BODY_CREDIT);
    s_send_env (self, disp, P_DISPATCH, kind, NULL, 0, &cenv, SL_PROTOCOL_VERSION);
    s_keep (self, disp);
    h.name = a;
    s_hello_fresh (self, kind, &h);
}

//  Credits on the dispatch port from routing ids no worker has.
static void s_sc_unknown_credit (gz_t *self)
{
    Sluice__Envelope env;
    s_wrap (&self->b, &env, SLUICE__ENVELOPE__BODY_CREDIT);
    self->b.credit.credit = (uint32_t) s_rand (self);
    self->b.credit.absolute = s_below (self, 2);
    s_send_env (self, self->disp, P_DISPATCH, "credit from an unknown worker", NULL, 0, &env,
                SL_PROTOCOL_VERSION);
    self->b.credit.credit = 1;
    self->b.credit.absolute = false;
}

//  Every 200 ms a new routing id on the dispatch port, sending a credit.
static void s_sc_credit_ids (gz_t *self)
{
    char id [40];
    snprintf (id, sizeof id, "zg-unknown-%" PRIx64, s_rand (self));
    void *sock = s_socket (self, ZMQ_DEALER, P_DISPATCH, id, false);
    Sluice__Envelope env;
    s_wrap (&self->b, &env, SLUICE__ENVELOPE__BODY_CREDIT);
    self->b.credit.credit = UINT32_MAX;
    self->b.credit.absolute = true;
    s_send_env (self, sock, P_DISPATCH, "credit 2^32-1 from an unknown routing id", NULL, 0, &env,
                SL_PROTOCOL_VERSION);
    self->b.credit.credit = 1;
    self->b.credit.absolute = false;
    s_keep (self, sock);
}

//  Tasks no broker may accept, and one job whose only task has the largest
//  seq allowed.
static void s_sc_tasks_bad (gz_t *self)
{
    Sluice__Task t = SLUICE__TASK__INIT;
    Sluice__Task *tp [1] = { &t };
    Sluice__TaskBatch batch = SLUICE__TASK_BATCH__INIT;
    batch.job = self->zg_job;
    batch.tasks = tp;
    batch.n_tasks = 1;
    t.payload.data = (uint8_t *) "zg bad task";
    t.payload.len = 11;
    t.seq = 1;
    const char *kind;
    switch (self->turn_tasks++ % 6) {
        case 0:
            t.seq = 0;
            kind = "tasks: seq 0";
            break;
        case 1:
            t.seq = 1ULL << 63;
            kind = "tasks: seq 2^63";
            break;
        case 2:
            t.seq = (1ULL << 32) + 1;
            kind = "tasks: seq 2^32+1";
            break;
        case 3:
            batch.job = self->job10k;
            kind = "tasks: 10 KiB job id";
            break;
        case 4:
            batch.job = (char *) "";
            kind = "tasks: empty job id";
            break;
        default:
            batch.job = (char *) "bad id/../\n";
            kind = "tasks: invalid job id";
            break;
    }
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_TASKS;
    env.tasks = &batch;
    s_send_env (self, self->intake, P_INTAKE, kind, NULL, 0, &env, SL_PROTOCOL_VERSION);
}

static void s_sc_far_seq (gz_t *self)
{
    char job [72];
    snprintf (job, sizeof job, "zg-far-%" PRIx64, self->seed);
    Sluice__Task t = SLUICE__TASK__INIT;
    Sluice__Task *tp [1] = { &t };
    t.seq = 1ULL << 32;
    t.payload.data = (uint8_t *) "zg far";
    t.payload.len = 6;
    Sluice__TaskBatch batch = SLUICE__TASK_BATCH__INIT;
    batch.job = job;
    batch.tasks = tp;
    batch.n_tasks = 1;
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_TASKS;
    env.tasks = &batch;
    s_send_env (self, self->intake2, P_INTAKE, "tasks: seq 2^32 (the largest allowed)", NULL, 0,
                &env, SL_PROTOCOL_VERSION);
}

static void s_sc_jobend_bad (gz_t *self)
{
    Sluice__JobEnd end = SLUICE__JOB_END__INIT;
    end.job = self->zg_job;
    char dup [72];
    const char *kind;
    switch (self->turn_jobend++ % 4) {
        case 0:
            end.total = 1ULL << 62;
            kind = "job end: total 2^62";
            break;
        case 1:
            end.total = (1ULL << 32) + 1;
            kind = "job end: total 2^32+1";
            break;
        case 2:
            end.job = (char *) "";
            end.total = 3;
            kind = "job end: empty job id";
            break;
        default:
            //  A duplicate job (below) has 16 tasks: 3 contradicts them.
            snprintf (dup, sizeof dup, "zg-dup-%" PRIx64 "-0", self->seed);
            end.job = dup;
            end.total = 3;
            kind = "job end: total 3 for a job with 16 tasks";
            break;
    }
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_JOB_END;
    env.job_end = &end;
    s_send_env (self, self->intake, P_INTAKE, kind, NULL, 0, &env, SL_PROTOCOL_VERSION);
}

//  Every second a job of 16 tasks of our own, sent twice, and results for
//  it (from a "worker" that never got them), each sent twice too: the
//  broker must count duplicates and keep one result per task.
static void s_sc_duplicates (gz_t *self)
{
    char job [72];
    snprintf (job, sizeof job, "zg-dup-%" PRIx64 "-%" PRIu64, self->seed, self->dup_round++);
    enum { N = 16 };
    Sluice__Task t [N];
    Sluice__Task *tp [N];
    Sluice__Result r [N];
    Sluice__Result *rp [N];
    char payload [N][24];
    for (int i = 0; i < N; i++) {
        Sluice__Task tinit = SLUICE__TASK__INIT;
        Sluice__Result rinit = SLUICE__RESULT__INIT;
        t [i] = tinit;
        snprintf (payload [i], sizeof payload [i], "zg dup %d", i + 1);
        t [i].seq = (uint64_t) i + 1;
        t [i].payload.data = (uint8_t *) payload [i];
        t [i].payload.len = strlen (payload [i]);
        tp [i] = &t [i];
        r [i] = rinit;
        r [i].seq = (uint64_t) i + 1;
        r [i].status = SLUICE__STATUS__STATUS_OK;
        r [i].output = t [i].payload;
        r [i].worker = (char *) "zg-forger:1";
        r [i].attempt = 1;
        rp [i] = &r [i];
    }
    Sluice__TaskBatch batch = SLUICE__TASK_BATCH__INIT;
    batch.job = job;
    batch.tasks = tp;
    batch.n_tasks = N;
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_TASKS;
    env.tasks = &batch;
    for (int i = 0; i < 2; i++)
        s_send_env (self, self->intake2, P_INTAKE, "tasks: a job of ours, sent twice", NULL, 0,
                    &env, SL_PROTOCOL_VERSION);
    Sluice__JobEnd end = SLUICE__JOB_END__INIT;
    end.job = job;
    end.total = N;
    Sluice__Envelope eenv = SLUICE__ENVELOPE__INIT;
    eenv.body_case = SLUICE__ENVELOPE__BODY_JOB_END;
    eenv.job_end = &end;
    for (int i = 0; i < 2; i++)
        s_send_env (self, self->intake2, P_INTAKE, "job end: a job of ours, sent twice", NULL, 0,
                    &eenv, SL_PROTOCOL_VERSION);
    Sluice__ResultBatch rb = SLUICE__RESULT_BATCH__INIT;
    rb.job = job;
    rb.results = rp;
    rb.n_results = N;
    Sluice__Envelope renv = SLUICE__ENVELOPE__INIT;
    renv.body_case = SLUICE__ENVELOPE__BODY_RESULTS;
    renv.results = &rb;
    for (int i = 0; i < 2; i++)
        s_send_env (self, self->results2, P_RESULTS, "results: a job of ours, sent twice", NULL, 0,
                    &renv, SL_PROTOCOL_VERSION);
}

//  Results the broker must drop: unknown jobs and tasks, impossible seqs,
//  unknown statuses, and for the real job (--job) only failed runs that
//  are not the latest (never an ok result: that would forge output).
static void s_sc_results_bad (gz_t *self)
{
    char unknown [72];
    s_job_id (self, unknown, sizeof unknown);
    const char *real = self->job ? self->job : self->zg_job;
    Sluice__Result r = SLUICE__RESULT__INIT;
    Sluice__Result *rp [1] = { &r };
    Sluice__ResultBatch rb = SLUICE__RESULT_BATCH__INIT;
    rb.results = rp;
    rb.n_results = 1;
    rb.job = unknown;
    r.seq = 1;
    r.status = SLUICE__STATUS__STATUS_OK;
    r.attempt = 1;
    r.worker = (char *) "zg-forger:1";
    r.output.data = (uint8_t *) "forged";
    r.output.len = 6;
    const char *kind;
    switch (self->turn_results++ % 8) {
        case 0:
            kind = "results: unknown job";
            break;
        case 1:
            rb.job = (char *) real;
            r.seq = 0;
            kind = "results: seq 0";
            break;
        case 2:
            rb.job = (char *) real;
            r.seq = 1ULL << 63;
            kind = "results: seq 2^63";
            break;
        case 3:
            rb.job = (char *) real;
            r.seq = 1ULL << 32;
            kind = "results: a seq the job does not have";
            break;
        case 4:
            rb.job = (char *) real;
            r.seq = 1 + s_below (self, 100);
            r.status = (Sluice__Status) 99;
            kind = "results: status 99 for the real job";
            break;
        case 5:
            rb.job = (char *) real;
            r.seq = 1 + s_below (self, 100);
            r.status = SLUICE__STATUS__STATUS_UNKNOWN;
            kind = "results: status 0 for the real job";
            break;
        case 6:
            rb.job = (char *) real;
            r.seq = 1 + s_below (self, 100);
            r.status =
                s_below (self, 2) ? SLUICE__STATUS__STATUS_FAILED : SLUICE__STATUS__STATUS_TIMEOUT;
            r.attempt = 60000 + (uint32_t) s_below (self, 1000);
            kind = "results: stale failed run of the real job";
            break;
        default:
            rb.job = (char *) "../../etc/passwd";
            kind = "results: invalid job id";
            break;
    }
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_RESULTS;
    env.results = &rb;
    s_send_env (self, self->results, P_RESULTS, kind, NULL, 0, &env, SL_PROTOCOL_VERSION);
}

//  Control messages from a client the broker does not know, and acks from a
//  worker (not the sink).
static void s_sc_control_misc (gz_t *self)
{
    const char *real = self->job ? self->job : self->zg_job;
    uint64_t seqs [100];
    for (int i = 0; i < 100; i++)
        seqs [i] = (uint64_t) i + 1;
    Sluice__TaskRef refs [3];
    Sluice__TaskRef *ref_ptrs [3];
    for (int i = 0; i < 3; i++) {
        Sluice__TaskRef init = SLUICE__TASK_REF__INIT;
        refs [i] = init;
        ref_ptrs [i] = &refs [i];
    }
    refs [0].job = (char *) real;
    refs [0].seq = 0;
    refs [1].job = (char *) "no-such-job";
    refs [1].seq = 1ULL << 63;
    refs [2].job = self->job10k;
    refs [2].seq = 1;
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    Sluice__Ack ack = SLUICE__ACK__INIT;
    Sluice__JobQuery query = SLUICE__JOB_QUERY__INIT;
    Sluice__Heartbeat hb = SLUICE__HEARTBEAT__INIT;
    Sluice__Release rel = SLUICE__RELEASE__INIT;
    Sluice__Bye bye = SLUICE__BYE__INIT;
    void *sock = self->ctl;
    const char *kind;
    switch (self->turn_misc++ % 8) {
        case 0:
            ack.job = (char *) real;
            ack.seqs = seqs;
            ack.n_seqs = 100;
            env.body_case = SLUICE__ENVELOPE__BODY_ACK;
            env.ack = &ack;
            kind = "ack from an unknown client";
            break;
        case 1:
            ack.job = (char *) real;
            ack.seqs = seqs;
            ack.n_seqs = 100;
            env.body_case = SLUICE__ENVELOPE__BODY_ACK;
            env.ack = &ack;
            sock = self->ctl_fake;
            kind = "ack from a worker (not the sink)";
            break;
        case 2:
            query.job = self->job10k;
            query.want_missing = true;
            env.body_case = SLUICE__ENVELOPE__BODY_JOB_QUERY;
            env.job_query = &query;
            kind = "job query: 10 KiB job id";
            break;
        case 3:
            query.job = (char *) real;
            query.want_missing = true;
            env.body_case = SLUICE__ENVELOPE__BODY_JOB_QUERY;
            env.job_query = &query;
            kind = "job query from a stranger";
            break;
        case 4:
            hb.held = ref_ptrs;
            hb.n_held = 3;
            hb.running = UINT32_MAX;
            env.body_case = SLUICE__ENVELOPE__BODY_HEARTBEAT;
            env.heartbeat = &hb;
            kind = "heartbeat from an unknown client, claiming tasks";
            break;
        case 5:
            rel.tasks = ref_ptrs;
            rel.n_tasks = 3;
            env.body_case = SLUICE__ENVELOPE__BODY_RELEASE;
            env.release = &rel;
            kind = "release of impossible tasks";
            break;
        case 6:
            bye.unfinished = ref_ptrs;
            bye.n_unfinished = 3;
            env.body_case = SLUICE__ENVELOPE__BODY_BYE;
            env.bye = &bye;
            kind = "bye from an unknown client";
            break;
        default:
            hb.held = ref_ptrs;
            hb.n_held = 3;
            env.body_case = SLUICE__ENVELOPE__BODY_HEARTBEAT;
            env.heartbeat = &hb;
            sock = self->ctl_fake;
            kind = "heartbeat from a worker, impossible claims";
            break;
    }
    s_send_env (self, sock, P_CONTROL, kind, NULL, 0, &env, SL_PROTOCOL_VERSION);
}

//  The fake worker (ctl_fake) says hello now and then (it never takes tasks).
static void s_sc_fake_worker (gz_t *self)
{
    Sluice__Hello h = SLUICE__HELLO__INIT;
    h.role = SLUICE__ROLE__ROLE_WORKER;
    h.name = self->fake_name;
    h.slots = 1;
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    s_send_env (self, self->ctl_fake, P_CONTROL, "hello: a worker that never works", NULL, 0, &env,
                SL_PROTOCOL_VERSION);
}

//  With --job: the fake worker claims the real job's first runs in its
//  heartbeats, and hands some back, as if it held them.
static void s_sc_claims (gz_t *self)
{
    if (!self->job)
        return;
    enum { N = 64 };
    Sluice__TaskRef refs [N];
    Sluice__TaskRef *ptrs [N];
    uint64_t base = 1 + s_below (self, 2000);
    for (int i = 0; i < N; i++) {
        Sluice__TaskRef init = SLUICE__TASK_REF__INIT;
        refs [i] = init;
        refs [i].job = (char *) self->job;
        refs [i].seq = base + (uint64_t) i;
        refs [i].attempt = 1;
        ptrs [i] = &refs [i];
    }
    Sluice__Heartbeat hb = SLUICE__HEARTBEAT__INIT;
    hb.held = ptrs;
    hb.n_held = N;
    hb.running = N;
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    s_send_env (self, self->ctl_fake, P_CONTROL, "heartbeat claiming the real job's tasks", NULL, 0,
                &env, SL_PROTOCOL_VERSION);
    Sluice__Release rel = SLUICE__RELEASE__INIT;
    rel.tasks = ptrs;
    rel.n_tasks = N / 4;
    Sluice__Envelope renv = SLUICE__ENVELOPE__INIT;
    renv.body_case = SLUICE__ENVELOPE__BODY_RELEASE;
    renv.release = &rel;
    s_send_env (self, self->ctl_fake, P_CONTROL, "release of the real job's tasks", NULL, 0, &renv,
                SL_PROTOCOL_VERSION);
}

//  Tasks the thief got on the dispatch port: kept, never run.
static void s_on_stolen (gz_t *self, void *sock, zmq_msg_t *frames, size_t nframes)
{
    (void) sock;
    zmq_msg_t *last = &frames [nframes - 1];
    Sluice__Envelope *env =
        sluice__envelope__unpack (NULL, zmq_msg_size (last), zmq_msg_data (last));
    if (!env)
        return;
    if (env->body_case == SLUICE__ENVELOPE__BODY_TASKS) {
        for (size_t i = 0; i < env->tasks->n_tasks; i++) {
            self->stolen++;
            if (self->nheld < MAX_HELD) {
                held_t *h = &self->held [self->nheld++];
                snprintf (h->job, sizeof h->job, "%s", env->tasks->job);
                h->seq = env->tasks->tasks [i]->seq;
                h->attempt = env->tasks->tasks [i]->attempt;
            }
        }
    }
    sluice__envelope__free_unpacked (env, NULL);
}

//  Fair dispatch: a worker that asks for tasks and keeps them (it
//  heartbeats, so the broker thinks they run, until the end). Push
//  dispatch: the PULL on the dispatch port takes whatever PUSH deals it.
static void s_sc_thief (gz_t *self)
{
    int64_t now = s_now ();
    if (now >= self->thief_hb) {
        Sluice__Hello h = SLUICE__HELLO__INIT;
        h.role = SLUICE__ROLE__ROLE_WORKER;
        h.name = self->thief_name;
        h.slots = 4;
        h.heartbeat_ms = 1000;
        Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
        env.body_case = SLUICE__ENVELOPE__BODY_HELLO;
        env.hello = &h;
        if (self->thief_hb == 0)
            s_send_env (self, self->thief_ctl, P_CONTROL, "hello: a worker that keeps its tasks",
                        NULL, 0, &env, SL_PROTOCOL_VERSION);
        //  Heartbeat claiming what it holds (the latest 256).
        size_t n = self->nheld < 256 ? self->nheld : 256;
        Sluice__TaskRef refs [256];
        Sluice__TaskRef *ptrs [256];
        for (size_t i = 0; i < n; i++) {
            Sluice__TaskRef init = SLUICE__TASK_REF__INIT;
            held_t *held = &self->held [self->nheld - n + i];
            refs [i] = init;
            refs [i].job = held->job;
            refs [i].seq = held->seq;
            refs [i].attempt = held->attempt;
            ptrs [i] = &refs [i];
        }
        Sluice__Heartbeat hb = SLUICE__HEARTBEAT__INIT;
        hb.held = ptrs;
        hb.n_held = n;
        hb.running = 4;
        Sluice__Envelope henv = SLUICE__ENVELOPE__INIT;
        henv.body_case = SLUICE__ENVELOPE__BODY_HEARTBEAT;
        henv.heartbeat = &hb;
        s_send_env (self, self->thief_ctl, P_CONTROL, "heartbeat of a worker that keeps its tasks",
                    NULL, 0, &henv, SL_PROTOCOL_VERSION);
        self->thief_hb = now + 300;
        //  Asks for a few more.
        Sluice__Credit credit = SLUICE__CREDIT__INIT;
        credit.credit = 8;
        credit.absolute = true;
        Sluice__Envelope cenv = SLUICE__ENVELOPE__INIT;
        cenv.body_case = SLUICE__ENVELOPE__BODY_CREDIT;
        cenv.credit = &credit;
        s_send_env (self, self->thief_disp, P_DISPATCH, "credit of a worker that keeps its tasks",
                    NULL, 0, &cenv, SL_PROTOCOL_VERSION);
    }
    s_drain (self, self->thief_disp, P_DISPATCH, s_on_stolen);
    s_drain (self, self->disp_pull, P_DISPATCH, s_on_stolen);
}

//  At the end the thief hands half of what it holds back; the rest the
//  broker must take back when it falls silent.
static void s_thief_end (gz_t *self)
{
    size_t n = self->nheld / 2 < 512 ? self->nheld / 2 : 512;
    if (n == 0)
        return;
    Sluice__TaskRef *refs = s_xmalloc (n * sizeof *refs);
    Sluice__TaskRef **ptrs = s_xmalloc (n * sizeof *ptrs);
    for (size_t i = 0; i < n; i++) {
        Sluice__TaskRef init = SLUICE__TASK_REF__INIT;
        refs [i] = init;
        refs [i].job = self->held [i].job;
        refs [i].seq = self->held [i].seq;
        refs [i].attempt = self->held [i].attempt;
        ptrs [i] = &refs [i];
    }
    Sluice__Release rel = SLUICE__RELEASE__INIT;
    rel.tasks = ptrs;
    rel.n_tasks = n;
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_RELEASE;
    env.release = &rel;
    s_send_env (self, self->thief_ctl, P_CONTROL, "release of half the stolen tasks", NULL, 0, &env,
                SL_PROTOCOL_VERSION);
    free (refs);
    free (ptrs);
}

//  Heartbeat latency: the broker answers a stranger's heartbeat at once
//  (with "say hello again"); how long that takes shows a stalled loop.
static void s_on_probe (gz_t *self, void *sock, zmq_msg_t *frames, size_t nframes)
{
    (void) sock;
    (void) frames;
    (void) nframes;
    if (self->probe_sent) {
        int64_t ms = s_now () - self->probe_sent;
        self->probes++;
        self->probe_sum += ms;
        if (ms > self->probe_max)
            self->probe_max = ms;
        self->probe_sent = 0;
    }
}

static void s_sc_probe (gz_t *self)
{
    s_drain (self, self->probe, P_CONTROL, s_on_probe);
    if (self->probe_sent && s_now () - self->probe_sent > self->probe_max)
        self->probe_max = s_now () - self->probe_sent; //  still waiting: counts already
    if (self->probe_sent)
        return;
    Sluice__Envelope env;
    s_wrap (&self->b, &env, SLUICE__ENVELOPE__BODY_HEARTBEAT);
    if (s_send_env (self, self->probe, P_CONTROL, "heartbeat probe (latency)", NULL, 0, &env,
                    SL_PROTOCOL_VERSION))
        self->probe_sent = s_now ();
}

//  ZMTP greeting (3.0, NULL mechanism) for raw connections.
static size_t s_greeting (uint8_t *buf, const char *mechanism)
{
    memset (buf, 0, 64);
    buf [0] = 0xff;
    buf [9] = 0x7f;
    buf [10] = 3;
    buf [11] = 0;
    memcpy (buf + 12, mechanism, strlen (mechanism) < 20 ? strlen (mechanism) : 20);
    return 64;
}

//  READY command announcing socket type `type`.
static size_t s_ready (uint8_t *buf, const char *type)
{
    size_t n = 0;
    size_t tlen = strlen (type);
    size_t body = 1 + 5 + 1 + 11 + 4 + tlen;
    buf [n++] = 0x04;
    buf [n++] = (uint8_t) body;
    buf [n++] = 5;
    memcpy (buf + n, "READY", 5);
    n += 5;
    buf [n++] = 11;
    memcpy (buf + n, "Socket-Type", 11);
    n += 11;
    buf [n++] = 0;
    buf [n++] = 0;
    buf [n++] = 0;
    buf [n++] = (uint8_t) tlen;
    memcpy (buf + n, type, tlen);
    n += tlen;
    return n;
}

static const char *s_raw_kinds [] = {
    "raw TCP: random bytes",
    "raw TCP: greeting, unknown mechanism",
    "raw TCP: greeting + READY of the wrong socket type",
    "raw TCP: greeting + READY + a frame declaring 1 GiB",
    "raw TCP: greeting + READY + a frame declaring 2^63 bytes",
    "raw TCP: greeting + garbage command",
};

static void s_raw_send (gz_t *self, raw_t *raw)
{
    //  Not PULL on the delivery port: a PULL there would be a real peer of
    //  the broker's PUSH and take results (see the steal-results extra).
    static const char *types [P_COUNT] = { "DEALER", "PUSH", "DEALER", "PUSH", "DEALER" };
    static const char *wrong [P_COUNT] = { "PUB", "PULL", "PUSH", "SUB", "PUSH" };
    uint8_t buf [4096];
    size_t n = 0;
    switch (raw->what) {
        case 0:
            n = 1 + (size_t) s_below (self, sizeof buf - 1);
            s_fill (self, buf, n);
            if (raw->port == P_DELIVERY) {
                //  Not a ZMTP/1.0 peer there (see the raw-delivery scenario):
                //  a 3.0 greeting with a garbage mechanism, then garbage.
                n = n < 64 ? 64 : n;
                s_greeting (buf, "\x01\x02");
            }
            break;
        case 1:
            n = s_greeting (buf, "XYZZY");
            break;
        case 2:
            n = s_greeting (buf, "NULL");
            n += s_ready (buf + n, wrong [raw->port]);
            break;
        case 3:
        case 4: {
            n = s_greeting (buf, "NULL");
            n += s_ready (buf + n, types [raw->port]);
            uint64_t size = raw->what == 3 ? 1ULL << 30 : 1ULL << 63;
            buf [n++] = 0x02; //  long message frame
            for (int i = 7; i >= 0; i--)
                buf [n++] = (uint8_t) (size >> (8 * i));
            s_fill (self, buf + n, 1000);
            n += 1000;
            break;
        }
        default:
            n = s_greeting (buf, "NULL");
            buf [n++] = 0x04;
            buf [n++] = 200;
            s_fill (self, buf + n, 100); //  shorter than it says
            n += 100;
            break;
    }
    s_send (self, self->raw [raw->port], raw->port, s_raw_kinds [raw->what], raw->id,
            strlen (raw->id), buf, n);
}

//  Raw TCP connections to every port (ZMQ_STREAM): each connects, gets its
//  garbage 50 ms later, and is closed 200 ms after that.
static void s_sc_raw_tcp (gz_t *self)
{
    int64_t now = s_now ();
    for (int i = 0; i < MAX_RAW; i++) {
        raw_t *raw = &self->raws [i];
        if (!raw->used)
            continue;
        if (!raw->sent_at && now - raw->born >= 50) {
            s_raw_send (self, raw);
            raw->sent_at = now;
        } else if (raw->sent_at && now - raw->sent_at >= 200) {
            //  An empty frame to a STREAM peer closes the connection.
            zmq_send (self->raw [raw->port], raw->id, strlen (raw->id), ZMQ_DONTWAIT | ZMQ_SNDMORE);
            zmq_send (self->raw [raw->port], "", 0, ZMQ_DONTWAIT);
            raw->used = false;
        }
    }
    for (int port = 0; port < P_COUNT; port++)
        s_drain (self, self->raw [port], port, NULL);
    for (int i = 0; i < MAX_RAW; i++) {
        raw_t *raw = &self->raws [i];
        if (raw->used)
            continue;
        raw->port = (int) s_below (self, P_COUNT);
        raw->what = (int) (self->raw_seq % (sizeof s_raw_kinds / sizeof s_raw_kinds [0]));
        snprintf (raw->id, sizeof raw->id, "raw%" PRIu64, self->raw_seq++);
        void *sock = self->raw [raw->port];
        if (!sock)
            break;
        zmq_setsockopt (sock, ZMQ_CONNECT_ROUTING_ID, raw->id, strlen (raw->id));
        char endpoint [300];
        s_endpoint (self, raw->port, endpoint, sizeof endpoint);
        if (zmq_connect (sock, endpoint) == 0) {
            raw->used = true;
            raw->born = now;
            raw->sent_at = 0;
        }
        break; //  one new connection per call
    }
}

//  A plain TCP connection to `port` (waiting at most 100 ms), or -1.
static int s_tcp_connect (gz_t *self, int port)
{
    char service [16];
    snprintf (service, sizeof service, "%d", self->port + port);
    struct addrinfo hints, *ai = NULL;
    memset (&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo (self->host, service, &hints, &ai) != 0 || !ai)
        return -1;
    int fd = socket (ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd >= 0) {
        fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK);
        if (connect (fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
            close (fd);
            fd = -1;
        }
    }
    freeaddrinfo (ai);
    struct pollfd pfd = { fd, POLLOUT, 0 };
    int err = 0;
    socklen_t len = sizeof err;
    if (fd >= 0 && (poll (&pfd, 1, 100) != 1 ||
                    getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err)) {
        close (fd);
        fd = -1;
    }
    return fd;
}

//  A TCP connection to the delivery port that says two bytes: to libzmq an
//  unversioned (ZMTP/1.0) peer with an empty routing id, which gets no
//  socket-type check; the broker's PUSH then deals it results as to the
//  sink. It reads what comes and is replaced every second.
static void s_sc_raw_delivery (gz_t *self)
{
    int64_t now = s_now ();
    if (self->raw_deliv >= 0) {
        uint8_t buf [65536];
        ssize_t n;
        while ((n = recv (self->raw_deliv, buf, sizeof buf, 0)) > 0) {
            self->raw_deliv_bytes += (uint64_t) n;
            self->received [P_DELIVERY]++;
        }
        if (n == 0 || now - self->raw_deliv_at >= 1000) {
            close (self->raw_deliv);
            self->raw_deliv = -1;
        }
    }
    if (self->raw_deliv < 0) {
        self->raw_deliv = s_tcp_connect (self, P_DELIVERY);
        bool ok = self->raw_deliv >= 0 && send (self->raw_deliv, "\x01\x00", 2, MSG_NOSIGNAL) == 2;
        s_count (self, P_DELIVERY, "raw TCP: 2 bytes posing as a ZMTP/1.0 peer", ok, 2);
        self->raw_deliv_at = now;
    }
}

//  Once: a TCP connection to the delivery port that completes a proper
//  ZMTP 3.0 handshake as a PULL, then starts a message frame declaring 2^63
//  bytes. The broker never reads that port, but libzmq decodes what arrives
//  and allocates what a frame declares unless ZMQ_MAXMSGSIZE says no.
static void s_sc_delivery_bigframe (gz_t *self)
{
    int fd = s_tcp_connect (self, P_DELIVERY);
    uint8_t buf [256];
    size_t n = s_greeting (buf, "NULL");
    n += s_ready (buf + n, "PULL");
    bool ok = fd >= 0 && send (fd, buf, n, MSG_NOSIGNAL) == (ssize_t) n;
    zmq_poll (NULL, 0, 100); //  the handshake completes
    n = 0;
    buf [n++] = 0x02; //  long message frame
    for (int i = 7; i >= 0; i--)
        buf [n++] = (uint8_t) ((1ULL << 63) >> (8 * i));
    s_fill (self, buf + n, 100);
    n += 100;
    ok = ok && send (fd, buf, n, MSG_NOSIGNAL) == (ssize_t) n;
    s_count (self, P_DELIVERY, "raw TCP: a PULL's handshake, then a frame declaring 2^63 bytes", ok,
             n);
    if (self->bigframe >= 0)
        close (self->bigframe);
    self->bigframe = fd; //  closed at the end
}

//  500 sockets of assorted types (some of them wrong for their port) open
//  at once, each sends one bad message, all close 200 ms later.
static void s_sc_flood (gz_t *self)
{
    static const int types [] = { ZMQ_DEALER, ZMQ_PUSH, ZMQ_DEALER, ZMQ_PUSH, ZMQ_DEALER,
                                  ZMQ_REQ,    ZMQ_PAIR, ZMQ_PUB,    ZMQ_SUB,  ZMQ_ROUTER };
    void **socks = calloc (FLOOD_SOCKETS, sizeof *socks);
    if (!socks)
        return;
    uint8_t junk [64];
    for (int i = 0; i < FLOOD_SOCKETS; i++) {
        int type = types [i % 10];
        int port = i % P_COUNT;
        socks [i] = s_socket (self, type, port, NULL, false);
        if (!socks [i]) {
            self->flood_failed++;
            continue;
        }
        self->flood_opened++;
        if (type == ZMQ_SUB || type == ZMQ_ROUTER)
            continue;
        s_fill (self, junk, sizeof junk);
        s_send (self, socks [i], port, "connection flood: one message each", NULL, 0, junk,
                1 + (size_t) s_below (self, sizeof junk));
    }
    zmq_poll (NULL, 0, 200);
    for (int i = 0; i < FLOOD_SOCKETS; i++)
        s_close (&socks [i]);
    free (socks);
}

//  Each round, a new connection says hello as a worker with a new name:
//  the broker must not log every one (joined, then gone).
static void s_sc_hello_flood (gz_t *self)
{
    char name [64];
    snprintf (name, sizeof name, "zg-flood-%" PRIx64, s_rand (self));
    Sluice__Hello h = SLUICE__HELLO__INIT;
    h.role = s_below (self, 2) ? SLUICE__ROLE__ROLE_WORKER : SLUICE__ROLE__ROLE_SINK;
    h.name = name;
    h.delivery = SL_DELIVERY_VERSION;
    h.slots = 1;
    s_hello_fresh (self, "hello flood: a new client each round", &h);
}

//  A task with seq 2^32 for a job of unknown size, then a query for the
//  seqs it misses: the broker must not scan 2^32 seqs.
static void s_sc_stall (gz_t *self)
{
    s_sc_far_seq (self);
    zmq_poll (NULL, 0, 100);
    char job [72];
    snprintf (job, sizeof job, "zg-far-%" PRIx64, self->seed);
    Sluice__JobQuery q = SLUICE__JOB_QUERY__INIT;
    q.job = job;
    q.want_missing = true;
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_JOB_QUERY;
    env.job_query = &q;
    s_send_env (self, self->ctl, P_CONTROL, "job query: missing seqs of a job with seq 2^32", NULL,
                0, &env, SL_PROTOCOL_VERSION);
}

//  --- Extras: each exposes a known problem; off unless named in --extra --------

//  A sink that claims a heartbeat of 2^32-1 ms: if no sink is attached it
//  becomes the sink and is never given up.
static void s_sc_sink_lockout (gz_t *self)
{
    char name [64];
    snprintf (name, sizeof name, "zg-lockout-%" PRIx64, self->seed);
    Sluice__Hello h = SLUICE__HELLO__INIT;
    h.role = SLUICE__ROLE__ROLE_SINK;
    h.name = name;
    h.delivery = SL_DELIVERY_VERSION;
    h.heartbeat_ms = UINT32_MAX;
    s_hello_fresh (self, "hello: sink with heartbeat 2^32-1 ms", &h);
}

//  Results taken by the PULL on the delivery port.
static void s_on_results_taken (gz_t *self, void *sock, zmq_msg_t *frames, size_t nframes)
{
    (void) sock;
    zmq_msg_t *last = &frames [nframes - 1];
    Sluice__Envelope *env =
        sluice__envelope__unpack (NULL, zmq_msg_size (last), zmq_msg_data (last));
    if (env && env->body_case == SLUICE__ENVELOPE__BODY_RESULTS)
        self->results_taken += env->results->n_results;
    if (env)
        sluice__envelope__free_unpacked (env, NULL);
}

//  From 800 ms on, a PULL on the delivery port that reads results and never
//  acknowledges them (closed at the end).
static void s_sc_steal_results (gz_t *self)
{
    if (s_now () - self->start < 800)
        return;
    if (!self->deliv_pull)
        self->deliv_pull = s_socket (self, ZMQ_DEALER, P_DELIVERY, NULL, false);
    s_drain (self, self->deliv_pull, P_DELIVERY, s_on_results_taken);
}

static const scenario_t s_scenarios [] = {
    { "random", 0, false, s_sc_random, "random bytes of 0-64 KiB on every port" },
    { "empty", 0, false, s_sc_empty, "a zero-length frame on every port" },
    { "truncated", 0, false, s_sc_truncated, "valid envelopes cut short" },
    { "bitflip", 0, false, s_sc_bitflip, "valid envelopes with 1-3 bits flipped" },
    { "version", 0, false, s_sc_version, "envelopes of protocol versions 0, 2, 99, 2^32-1" },
    { "no-body", 0, false, s_sc_no_body, "envelopes without a body, or of an unknown type" },
    { "wrong-type", 0, false, s_sc_wrong_type, "every message type where it does not belong" },
    { "multi-frame", 0, false, s_sc_multi_frame, "2-4 frames per message" },
    { "oversize", 400, false, s_sc_oversize, "4 MiB messages, random or with a 4 MiB job id" },
    { "hello-absurd", -100, false, s_sc_hello_absurd,
      "hellos: empty/64 KiB names, 0/2^32-1 slots, heartbeat 1/2^32-1 ms, a second sink" },
    { "hello-bad", 0, false, s_sc_hello_bad, "hellos with unknown roles or invalid job ids" },
    { "rehello-role", -1000, false, s_sc_rehello_role,
      "one connection says hello as a worker, then as a sink" },
    { "rehello-name", -1200, false, s_sc_rehello_name,
      "one connection says hello as worker A, then B, then bye; then A again" },
    { "unknown-credit", 0, false, s_sc_unknown_credit, "credits from a routing id no worker has" },
    { "credit-ids", 200, false, s_sc_credit_ids, "credits 2^32-1 from ever new routing ids" },
    { "tasks-bad", 0, false, s_sc_tasks_bad, "tasks with seq 0, 2^63, 2^32+1, bad job ids" },
    { "far-seq", -500, false, s_sc_far_seq, "a job whose one task has seq 2^32" },
    { "jobend-bad", 0, false, s_sc_jobend_bad, "job ends with total 2^62, contradicting ones" },
    { "duplicates", 1000, false, s_sc_duplicates, "a job of ours sent twice, results twice" },
    { "results-bad", 0, false, s_sc_results_bad,
      "results for unknown jobs and seqs, bad statuses, stale runs of the real job" },
    { "control-misc", 0, false, s_sc_control_misc,
      "acks from a non-sink, queries, claims, releases and byes from strangers" },
    { "fake-worker", 1000, false, s_sc_fake_worker, "a worker that says hello and never works" },
    { "claims", 250, false, s_sc_claims, "(--job) the fake worker claims and releases real tasks" },
    { "thief", 0, false, s_sc_thief, "a worker (fair) or a PULL (push) that keeps its tasks" },
    { "probe", 0, false, s_sc_probe, "a heartbeat at a time, to measure the broker's latency" },
    { "raw-tcp", 20, false, s_sc_raw_tcp, "ZMTP garbage over raw TCP on every port" },
    { "raw-delivery", 0, false, s_sc_raw_delivery,
      "2 bytes on the delivery port that pass for a ZMTP/1.0 peer (which then gets results)" },
    { "delivery-bigframe", -1700, false, s_sc_delivery_bigframe,
      "a PULL's handshake on the delivery port, then a frame declaring 2^63 bytes" },
    { "flood", -1500, false, s_sc_flood, "500 connections opened and closed at once" },
    { "hello-flood", 0, false, s_sc_hello_flood,
      "a new client says hello each round (the broker's log of peers is rate-limited)" },
    { "stall", -500, false, s_sc_stall,
      "a query for the missing seqs of a job with seq 2^32 (must not stall the broker)" },
    { "sink-lockout", -100, true, s_sc_sink_lockout,
      "(extra) a sink with heartbeat 2^32-1 ms: no other sink is admitted (run before a sink)" },
    { "steal-results", 0, true, s_sc_steal_results,
      "(extra) a PULL on the delivery port that takes results and never acks them" },
};

#define NSCENARIOS (sizeof s_scenarios / sizeof s_scenarios [0])

//  --- Attack mode --------------------------------------------------------------

static void s_print_summary (gz_t *self, const char *mode)
{
    double secs = (s_now () - self->start) / 1000.0;
    printf ("zmq_garbage %s: %.1f s, %" PRIu64 " rounds, seed %" PRIu64 "\n", mode, secs,
            self->rounds, self->seed);
    uint64_t total = 0;
    for (int port = 0; port < P_COUNT; port++) {
        uint64_t sent = 0, blocked = 0, bytes = 0;
        for (size_t i = 0; i < self->ntally; i++)
            if (self->tally [i].port == port) {
                sent += self->tally [i].sent;
                blocked += self->tally [i].blocked;
                bytes += self->tally [i].bytes;
            }
        total += sent;
        printf ("%-8s (port +%d): %" PRIu64 " messages sent (%.1f MB), %" PRIu64
                " would block (dropped), %" PRIu64 " received\n",
                s_port_name [port], port, sent, bytes / 1e6, blocked, self->received [port]);
        for (size_t i = 0; i < self->ntally; i++)
            if (self->tally [i].port == port)
                printf ("    %-58s %8" PRIu64 " sent %8" PRIu64 " dropped\n", self->tally [i].kind,
                        self->tally [i].sent, self->tally [i].blocked);
    }
    printf ("total: %" PRIu64 " messages sent\n", total);
}

static int s_attack (gz_t *self, const char *skip, const char *only, const char *extra)
{
    s_job_id (self, self->zg_job, sizeof self->zg_job);
    //  Templates name no usable job: a flipped bit or a cut must not make
    //  tasks or results of a real job (or a new job per flip).
    s_bodies_init (&self->b, "zg/not/a/valid/job/id");
    snprintf (self->fake_name, sizeof self->fake_name, "zg-fake-%" PRIx64, self->seed);
    snprintf (self->thief_name, sizeof self->thief_name, "zg-thief-%" PRIx64, self->seed);
    char disp_id [40];
    snprintf (disp_id, sizeof disp_id, "zg-stranger-%" PRIx64, self->seed);
    self->ctl = s_socket (self, ZMQ_DEALER, P_CONTROL, NULL, false);
    self->ctl_fake = s_socket (self, ZMQ_DEALER, P_CONTROL, NULL, false);
    self->probe = s_socket (self, ZMQ_DEALER, P_CONTROL, NULL, false);
    self->intake = s_socket (self, ZMQ_PUSH, P_INTAKE, NULL, false);
    self->disp = s_socket (self, ZMQ_DEALER, P_DISPATCH, disp_id, false);
    self->disp_pull = s_socket (self, ZMQ_PULL, P_DISPATCH, NULL, false);
    self->results = s_socket (self, ZMQ_PUSH, P_RESULTS, NULL, false);
    self->intake2 = s_socket (self, ZMQ_PUSH, P_INTAKE, NULL, false);
    self->results2 = s_socket (self, ZMQ_PUSH, P_RESULTS, NULL, false);
    self->deliv = s_socket (self, ZMQ_DEALER, P_DELIVERY, NULL, false);
    self->thief_ctl = s_socket (self, ZMQ_DEALER, P_CONTROL, NULL, false);
    self->thief_disp = s_socket (self, ZMQ_DEALER, P_DISPATCH, self->thief_name, false);
    for (int port = 0; port < P_COUNT; port++)
        self->raw [port] = zmq_socket (self->ctx, ZMQ_STREAM);
    self->raw_deliv = -1;
    self->bigframe = -1;
    for (int port = 0; port < P_COUNT; port++) {
        int zero = 0;
        if (self->raw [port])
            zmq_setsockopt (self->raw [port], ZMQ_LINGER, &zero, sizeof zero);
    }
    self->held = s_xmalloc (MAX_HELD * sizeof *self->held);
    self->job10k = s_repeat ('j', 10 * 1024);
    if (!self->ctl || !self->intake || !self->results) {
        fprintf (stderr, "zmq_garbage: cannot set up sockets\n");
        return 1;
    }
    bool on [NSCENARIOS];
    int64_t next [NSCENARIOS];
    printf ("zmq_garbage: attacking tcp://%s:%d (ports +0..+4) for %.1f s, seed %" PRIu64 "%s%s\n",
            self->host, self->port, self->seconds, self->seed, self->job ? ", real job " : "",
            self->job ? self->job : "");
    for (size_t i = 0; i < NSCENARIOS; i++) {
        const scenario_t *sc = &s_scenarios [i];
        on [i] = (only ? s_in_list (only, sc->name) : !sc->extra || s_in_list (extra, sc->name)) &&
                 !s_in_list (skip, sc->name);
        next [i] = self->start + (sc->period_ms < 0 ? -sc->period_ms : 0);
    }
    fflush (stdout);
    while (!s_stop && s_now () < self->deadline) {
        self->rounds++;
        for (size_t i = 0; i < NSCENARIOS; i++) {
            if (!on [i] || s_now () < next [i])
                continue;
            s_scenarios [i].fn (self);
            int period = s_scenarios [i].period_ms;
            next [i] = period < 0 ? INT64_MAX : s_now () + period;
        }
        //  Replies (welcomes, refusals, heartbeats, job states) are read
        //  and dropped so that nothing piles up.
        s_drain (self, self->ctl, P_CONTROL, NULL);
        s_drain (self, self->ctl_fake, P_CONTROL, NULL);
        s_drain (self, self->thief_ctl, P_CONTROL, NULL);
        for (size_t i = 0; i < self->nspare; i++)
            s_drain (self, self->spare [i], P_CONTROL, NULL);
        zmq_pollitem_t items [] = { { self->probe, 0, ZMQ_POLLIN, 0 } };
        zmq_poll (items, self->probe ? 1 : 0, 2);
    }
    for (size_t i = 0; i < NSCENARIOS; i++)
        if (on [i] && s_scenarios [i].fn == s_sc_thief)
            s_thief_end (self);
    zmq_poll (NULL, 0, 50); //  lets the last messages leave
    s_print_summary (self, "attack");
    printf ("thieves: %" PRIu64 " tasks taken and never run (%zu held, half handed back)\n",
            self->stolen, self->nheld);
    if (self->deliv_pull)
        printf ("results taken on the delivery port and never acknowledged: %" PRIu64 "\n",
                self->results_taken);
    //  Each connection first gets the broker's 10-byte greeting.
    if (self->raw_deliv_bytes)
        printf ("the fake ZMTP/1.0 peer on the delivery port was sent %" PRIu64
                " bytes (beyond greetings: results the sink will never see)\n",
                self->raw_deliv_bytes);
    printf ("connection flood: %" PRIu64 " sockets opened and closed, %" PRIu64 " failed\n",
            self->flood_opened, self->flood_failed);
    printf ("broker heartbeat latency: %" PRIu64 " answers, mean %.1f ms, max %" PRId64 " ms\n",
            self->probes, self->probes ? (double) self->probe_sum / (double) self->probes : 0.0,
            self->probe_max);
    s_close (&self->ctl);
    s_close (&self->ctl_fake);
    s_close (&self->probe);
    s_close (&self->intake);
    s_close (&self->disp);
    s_close (&self->disp_pull);
    s_close (&self->results);
    s_close (&self->intake2);
    s_close (&self->results2);
    s_close (&self->deliv);
    s_close (&self->deliv_pull);
    s_close (&self->thief_ctl);
    s_close (&self->thief_disp);
    for (int port = 0; port < P_COUNT; port++)
        s_close (&self->raw [port]);
    if (self->raw_deliv >= 0)
        close (self->raw_deliv);
    if (self->bigframe >= 0)
        close (self->bigframe);
    for (size_t i = 0; i < self->nspare; i++)
        s_close (&self->spare [i]);
    free (self->held);
    free (self->job10k);
    return 0;
}

//  --- Impostor mode ------------------------------------------------------------

//  A reply no sluice client can accept: undecodable bytes, another version,
//  no body, or a welcome followed by extra frames.
static void s_imp_garbage (gz_t *self, void *sock, int port, const void *id, size_t id_size)
{
    Sluice__Envelope env;
    switch (s_below (self, 7)) {
        case 0: {
            size_t size = 1 + (size_t) s_below (self, 4096);
            uint8_t *buf = s_xmalloc (size);
            s_fill (self, buf, size);
            buf [0] = 0xff; //  never a valid protobuf tag
            s_send (self, sock, port, "garbage: random bytes", id, id_size, buf, size);
            free (buf);
            break;
        }
        case 1:
            s_send (self, sock, port, "garbage: empty frame", id, id_size, "", 0);
            break;
        case 2:
            s_wrap (&self->b, &env, SLUICE__ENVELOPE__BODY_WELCOME);
            s_send_env (self, sock, port, "garbage: welcome of version 99", id, id_size, &env, 99);
            break;
        case 3:
            s_wrap (&self->b, &env, SLUICE__ENVELOPE__BODY_HEARTBEAT);
            s_send_env (self, sock, port, "garbage: heartbeat of version 0", id, id_size, &env, 0);
            break;
        case 4:
            s_wrap (&self->b, &env, SLUICE__ENVELOPE__BODY__NOT_SET);
            s_send_env (self, sock, port, "garbage: envelope without a body", id, id_size, &env,
                        SL_PROTOCOL_VERSION);
            break;
        case 5: {
            s_wrap (&self->b, &env, SLUICE__ENVELOPE__BODY_WELCOME);
            size_t size;
            uint8_t *buf = s_pack (&env, SL_PROTOCOL_VERSION, &size);
            const void *data [2] = { buf, "junk" };
            size_t sizes [2] = { size, 4 };
            s_send_parts (self, sock, port, "garbage: welcome + an extra frame", id, id_size, data,
                          sizes, 2);
            free (buf);
            break;
        }
        default: {
            //  Cut inside the broker id: the length runs past the end.
            char *long_id = s_repeat ('b', 300);
            bodies_t b;
            s_bodies_init (&b, "zg");
            b.welcome.broker_id = long_id;
            s_wrap (&b, &env, SLUICE__ENVELOPE__BODY_WELCOME);
            size_t size;
            uint8_t *buf = s_pack (&env, SL_PROTOCOL_VERSION, &size);
            s_send (self, sock, port, "garbage: truncated welcome", id, id_size, buf, size / 2);
            free (buf);
            free (long_id);
            break;
        }
    }
}

//  After a welcome anything goes: garbage, or valid messages that make no
//  sense (wrong types, other broker ids, "say hello again").
static void s_imp_noise (gz_t *self, void *sock, int port, const void *id, size_t id_size)
{
    Sluice__Envelope env;
    uint64_t pick = s_below (self, 10);
    if (pick < 4) {
        s_imp_garbage (self, sock, port, id, id_size);
        return;
    }
    if (pick < 6) {
        int body = SLUICE__ENVELOPE__BODY_HELLO + (int) s_below (self, 15);
        if (body == SLUICE__ENVELOPE__BODY_REFUSE && port == P_CONTROL)
            body = SLUICE__ENVELOPE__BODY_JOB_STATE; //  a refusal would end the test early
        s_wrap (&self->b, &env, (Sluice__Envelope__BodyCase) body);
        s_send_env (self, sock, port, "noise: a valid message of any type", id, id_size, &env,
                    SL_PROTOCOL_VERSION);
        return;
    }
    Sluice__Heartbeat hb = SLUICE__HEARTBEAT__INIT;
    Sluice__Envelope henv = SLUICE__ENVELOPE__INIT;
    henv.body_case = SLUICE__ENVELOPE__BODY_HEARTBEAT;
    henv.heartbeat = &hb;
    const char *kind;
    if (pick == 6) {
        hb.broker_id = (char *) "zg-another-broker";
        kind = "noise: heartbeat of another broker";
    } else if (pick == 7) {
        hb.broker_id = self->broker_id;
        hb.rehello = true;
        kind = "noise: heartbeat saying hello again";
    } else {
        hb.broker_id = self->broker_id;
        kind = "noise: a proper heartbeat";
    }
    s_send_env (self, sock, port, kind, id, id_size, &henv, SL_PROTOCOL_VERSION);
}

static imp_peer_t *s_imp_peer (gz_t *self, const void *id, size_t id_size)
{
    for (size_t i = 0; i < self->npeers; i++)
        if (self->peers [i].id_size == id_size && memcmp (self->peers [i].id, id, id_size) == 0)
            return &self->peers [i];
    if (self->npeers == MAX_IMP_PEERS || id_size > sizeof self->peers [0].id)
        return NULL;
    imp_peer_t *peer = &self->peers [self->npeers++];
    memset (peer, 0, sizeof *peer);
    memcpy (peer->id, id, id_size);
    peer->id_size = id_size;
    return peer;
}

//  Welcome mode: valid messages the client must ignore before its welcome,
//  then a welcome with absurd but legal values.
static void s_imp_welcome (gz_t *self, imp_peer_t *peer)
{
    void *ctl = self->bound [P_CONTROL];
    Sluice__Envelope env;
    static const int ignorable [] = {
        SLUICE__ENVELOPE__BODY_HEARTBEAT, SLUICE__ENVELOPE__BODY_JOB_STATE,
        SLUICE__ENVELOPE__BODY_TASKS,     SLUICE__ENVELOPE__BODY_CREDIT,
        SLUICE__ENVELOPE__BODY_JOB_DONE,  SLUICE__ENVELOPE__BODY_RESULTS
    };
    for (size_t i = 0; i < sizeof ignorable / sizeof ignorable [0]; i++) {
        s_wrap (&self->b, &env, (Sluice__Envelope__BodyCase) ignorable [i]);
        s_send_env (self, ctl, P_CONTROL, "before the welcome: messages to ignore", peer->id,
                    peer->id_size, &env, SL_PROTOCOL_VERSION);
    }
    if (peer->hellos == 1) {
        //  Only before the first welcome: a refusal once welcomed ends a
        //  client (as it should), and this mode is about the ones that go on.
        Sluice__Refuse refuse = SLUICE__REFUSE__INIT;
        refuse.reason = (char *) "zg: busy, but try again";
        refuse.retry_ms = 60000;
        Sluice__Envelope renv = SLUICE__ENVELOPE__INIT;
        renv.body_case = SLUICE__ENVELOPE__BODY_REFUSE;
        renv.refuse = &refuse;
        s_send_env (self, ctl, P_CONTROL, "before the welcome: refuse, retry in 60 s", peer->id,
                    peer->id_size, &renv, SL_PROTOCOL_VERSION);
    }
    //  The welcome: a 10 KiB broker id, odd heartbeats, 300 jobs (some
    //  invalid), one of which never finishes.
    enum { NJOBS = 300 };
    char **jobs = s_xmalloc (NJOBS * sizeof *jobs);
    char *ids = s_xmalloc (NJOBS * 24);
    char *job10k = s_repeat ('j', 10 * 1024);
    jobs [0] = (char *) "zg-forever";
    jobs [1] = job10k;
    jobs [2] = (char *) "";
    jobs [3] = (char *) "bad id/..";
    for (size_t i = 4; i < NJOBS; i++) {
        jobs [i] = ids + 24 * i;
        s_job_id (self, jobs [i], 24);
    }
    static const uint32_t heartbeats [] = { 0, 1, 7, 100, 250, 1000, 5000 };
    char *broker_id = s_repeat ('B', 10 * 1024);
    memcpy (broker_id, self->broker_id, strlen (self->broker_id));
    Sluice__Welcome w = SLUICE__WELCOME__INIT;
    w.broker_id = peer->hellos % 3 == 2 ? broker_id : self->broker_id;
    w.heartbeat_ms = self->absurd_heartbeat ? 4000000000u : heartbeats [s_below (self, 7)];
    w.jobs = jobs;
    w.n_jobs = NJOBS;
    w.fair = !self->push;
    w.delivery = SL_DELIVERY_VERSION; //  else a collector gives up at once
    Sluice__Envelope wenv = SLUICE__ENVELOPE__INIT;
    wenv.body_case = SLUICE__ENVELOPE__BODY_WELCOME;
    wenv.welcome = &w;
    s_send_env (self, ctl, P_CONTROL, "welcome with absurd values", peer->id, peer->id_size, &wenv,
                SL_PROTOCOL_VERSION);
    free (broker_id);
    free (job10k);
    free (ids);
    free (jobs);
}

static void s_imp_on_control (gz_t *self, void *sock, zmq_msg_t *frames, size_t nframes)
{
    (void) sock;
    if (nframes < 2)
        return;
    imp_peer_t *peer = s_imp_peer (self, zmq_msg_data (&frames [0]), zmq_msg_size (&frames [0]));
    if (!peer)
        return;
    Sluice__Envelope *env =
        sluice__envelope__unpack (NULL, zmq_msg_size (&frames [1]), zmq_msg_data (&frames [1]));
    bool hello = env && env->body_case == SLUICE__ENVELOPE__BODY_HELLO;
    if (hello) {
        peer->hellos++;
        peer->role = env->hello->role;
        snprintf (peer->name, sizeof peer->name, "%s", env->hello->name);
    }
    if (env)
        sluice__envelope__free_unpacked (env, NULL);
    void *ctl = self->bound [P_CONTROL];
    if (!self->answer_welcome) {
        int n = 1 + (int) s_below (self, 3);
        for (int i = 0; i < n; i++)
            s_imp_garbage (self, ctl, P_CONTROL, peer->id, peer->id_size);
    } else if (hello)
        s_imp_welcome (self, peer);
    else {
        int n = 1 + (int) s_below (self, 3);
        for (int i = 0; i < n; i++)
            s_imp_noise (self, ctl, P_CONTROL, peer->id, peer->id_size);
    }
}

//  Tasks and garbage down the dispatch port: to each worker by name on the
//  ROUTER (fair), or to whoever PUSH deals them to.
static void s_imp_dispatch (gz_t *self)
{
    void *sock = self->bound [P_DISPATCH];
    size_t targets = self->push ? 1 : self->npeers; //  push: PUSH picks the worker
    for (size_t i = 0; i < targets; i++) {
        const char *id = NULL;
        size_t id_size = 0;
        if (!self->push) {
            imp_peer_t *peer = &self->peers [i];
            if (peer->role != SLUICE__ROLE__ROLE_WORKER || !peer->name [0])
                continue;
            id = peer->name;
            id_size = strlen (peer->name);
        }
        if (s_below (self, 2)) {
            s_imp_noise (self, sock, P_DISPATCH, id, id_size);
            continue;
        }
        //  Tasks: mostly runnable (up to 2,000 in all), some impossible.
        enum { N = 8 };
        Sluice__Task t [N];
        Sluice__Task *tp [N];
        uint8_t payload [N][256];
        for (int k = 0; k < N; k++) {
            Sluice__Task init = SLUICE__TASK__INIT;
            t [k] = init;
            t [k].seq = 1 + s_below (self, 100000);
            t [k].attempt = (uint32_t) s_below (self, 3);
            t [k].timeout_ms = s_below (self, 4) ? 0 : (uint32_t) s_below (self, 3);
            t [k].retries = (uint32_t) s_rand (self);
            size_t len = (size_t) s_below (self, sizeof payload [k]);
            s_fill (self, payload [k], len);
            t [k].payload.data = payload [k];
            t [k].payload.len = len;
            tp [k] = &t [k];
        }
        static const uint64_t odd_seqs [] = { 0, 1ULL << 63, UINT64_MAX, (1ULL << 32) + 1 };
        t [0].seq = odd_seqs [s_below (self, 4)];
        Sluice__TaskBatch batch = SLUICE__TASK_BATCH__INIT;
        batch.job = (char *) (s_below (self, 5) ? "zg-imp" : "bad job/id");
        batch.tasks = tp;
        batch.n_tasks = self->imp_tasks < 2000 ? N : 1;
        self->imp_tasks += batch.n_tasks;
        Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
        env.body_case = SLUICE__ENVELOPE__BODY_TASKS;
        env.tasks = &batch;
        s_send_env (self, sock, P_DISPATCH, "tasks: odd seqs, attempts, timeouts", id, id_size,
                    &env, SL_PROTOCOL_VERSION);
    }
}

//  Results, job starts and ends, and garbage down the delivery port.
static void s_imp_delivery (gz_t *self)
{
    void *sock = self->bound [P_DELIVERY];
    //  The delivery port is a ROUTER (delivery protocol 2): a collector's
    //  DEALER is addressed by its name, from its hello.
    const char *rid = NULL;
    for (size_t i = 0; i < self->npeers && !rid; i++)
        if (self->peers [i].role == SLUICE__ROLE__ROLE_SINK && self->peers [i].name [0])
            rid = self->peers [i].name;
    if (!rid)
        return;
    size_t rid_size = strlen (rid);
    uint64_t pick = s_below (self, 6);
    char job [72];
    s_job_id (self, job, sizeof job);
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    if (pick < 2) {
        s_imp_noise (self, sock, P_DELIVERY, rid, rid_size);
        return;
    }
    if (pick == 2) {
        Sluice__JobStart start = SLUICE__JOB_START__INIT;
        start.job = s_below (self, 4) ? job : (char *) "bad job/id";
        env.body_case = SLUICE__ENVELOPE__BODY_JOB_START;
        env.job_start = &start;
        s_send_env (self, sock, P_DELIVERY, "job start: unknown or invalid job", rid, rid_size, &env,
                    SL_PROTOCOL_VERSION);
        return;
    }
    if (pick == 3) {
        Sluice__JobDone done = SLUICE__JOB_DONE__INIT;
        done.job = job; //  never zg-forever: the sink must keep waiting
        done.total = s_rand (self);
        done.ok = s_rand (self);
        done.failed = s_rand (self);
        done.forgotten = s_below (self, 2);
        env.body_case = SLUICE__ENVELOPE__BODY_JOB_DONE;
        env.job_done = &done;
        s_send_env (self, sock, P_DELIVERY, "job done: a job nobody ran, absurd counts", rid, rid_size,
                    &env, SL_PROTOCOL_VERSION);
        return;
    }
    enum { N = 8 };
    Sluice__Result r [N];
    Sluice__Result *rp [N];
    uint8_t out [N][128];
    static const uint64_t odd_seqs [] = { 0, 1ULL << 63, UINT64_MAX, (1ULL << 32) + 1 };
    for (int k = 0; k < N; k++) {
        Sluice__Result init = SLUICE__RESULT__INIT;
        r [k] = init;
        r [k].seq = k == 0 ? odd_seqs [s_below (self, 4)] : 1 + s_below (self, 1u << 20);
        r [k].status = (Sluice__Status) s_below (self, 6);
        r [k].exit_code = (int32_t) s_rand (self);
        r [k].attempts = (uint32_t) s_rand (self);
        r [k].duration_ms = s_rand (self);
        r [k].worker = (char *) (s_below (self, 2) ? "" : "zg\n\"worker\\");
        size_t len = (size_t) s_below (self, sizeof out [k]);
        s_fill (self, out [k], len);
        r [k].output.data = out [k];
        r [k].output.len = len;
        r [k].stderr_tail.data = out [k];
        r [k].stderr_tail.len = len / 2;
        r [k].output_truncated = s_below (self, 2);
        rp [k] = &r [k];
    }
    Sluice__ResultBatch rb = SLUICE__RESULT_BATCH__INIT;
    rb.job = s_below (self, 3) ? (char *) "zg-forever" : job;
    rb.results = rp;
    rb.n_results = N;
    env.body_case = SLUICE__ENVELOPE__BODY_RESULTS;
    env.results = &rb;
    s_send_env (self, sock, P_DELIVERY, "results: odd seqs, statuses, bytes", rid, rid_size, &env,
                SL_PROTOCOL_VERSION);
    if (self->bitmap_bomb) {
        //  seq 2^32 is the largest a sink accepts: it sizes its bitmap of
        //  seen seqs for it (512 MiB and more), for every new job id.
        r [0].seq = 1ULL << 32;
        rb.n_results = 1;
        rb.job = job;
        s_send_env (self, sock, P_DELIVERY, "results: seq 2^32 for a new job (bitmap bomb)", NULL,
                    0, &env, SL_PROTOCOL_VERSION);
    }
}

static int s_impostor (gz_t *self)
{
    s_bodies_init (&self->b, "zg-imp");
    snprintf (self->broker_id, sizeof self->broker_id, "zg-%016" PRIx64, s_rand (self));
    static const int types [P_COUNT] = { ZMQ_ROUTER, ZMQ_PULL, ZMQ_ROUTER, ZMQ_PULL, ZMQ_ROUTER };
    for (int port = 0; port < P_COUNT; port++) {
        int type = port == P_DISPATCH && self->push ? ZMQ_PUSH : types [port];
        self->bound [port] = s_socket (self, type, port, NULL, true);
        if (!self->bound [port])
            return 1;
    }
    printf ("zmq_garbage: impostor on tcp://%s:%d (ports +0..+4, dispatch %s), answering with %s "
            "for %.1f s, seed %" PRIu64 "\n",
            self->host, self->port, self->push ? "PUSH" : "ROUTER",
            self->answer_welcome ? "a welcome, then garbage" : "garbage", self->seconds,
            self->seed);
    fflush (stdout);
    int64_t next_push = 0;
    while (!s_stop && s_now () < self->deadline) {
        self->rounds++;
        zmq_pollitem_t items [] = {
            { self->bound [P_CONTROL], 0, ZMQ_POLLIN, 0 },
            { self->bound [P_INTAKE], 0, ZMQ_POLLIN, 0 },
            { self->bound [P_DISPATCH], 0, self->push ? 0 : ZMQ_POLLIN, 0 },
            { self->bound [P_RESULTS], 0, ZMQ_POLLIN, 0 },
        };
        zmq_poll (items, 4, 5);
        s_drain (self, self->bound [P_CONTROL], P_CONTROL, s_imp_on_control);
        s_drain (self, self->bound [P_INTAKE], P_INTAKE, NULL);
        if (!self->push)
            s_drain (self, self->bound [P_DISPATCH], P_DISPATCH, NULL);
        s_drain (self, self->bound [P_RESULTS], P_RESULTS, NULL);
        int64_t now = s_now ();
        if (now >= next_push) {
            //  Every 5 ms: something down each data port, and unasked
            //  noise to every client on the control port.
            s_imp_dispatch (self);
            s_imp_delivery (self);
            if (self->answer_welcome)
                for (size_t i = 0; i < self->npeers; i++)
                    if (self->peers [i].hellos)
                        s_imp_noise (self, self->bound [P_CONTROL], P_CONTROL, self->peers [i].id,
                                     self->peers [i].id_size);
            next_push = now + 5;
        }
    }
    s_print_summary (self, "impostor");
    printf ("clients seen: %zu\n", self->npeers);
    for (size_t i = 0; i < self->npeers; i++)
        printf ("    %s (role %d): %" PRIu64 " hellos\n",
                self->peers [i].name [0] ? self->peers [i].name : "(no hello)",
                self->peers [i].role, self->peers [i].hellos);
    for (int port = 0; port < P_COUNT; port++)
        s_close (&self->bound [port]);
    return 0;
}

//  --- Main ---------------------------------------------------------------------

static void s_usage (FILE *out)
{
    fprintf (
        out,
        "usage: zmq_garbage tcp://HOST:PORT [SECONDS] [--job ID] [--seed N]\n"
        "                   [--skip LIST] [--only LIST] [--extra LIST] [--list]\n"
        "       zmq_garbage --impostor tcp://*:PORT SECONDS [--push] [--seed N]\n"
        "                   [--answer garbage|welcome] [--extra absurd-heartbeat,bitmap-bomb]\n"
        "Sends hostile input to a sluice broker's five ports (PORT..PORT+4), or poses as a\n"
        "broker that answers clients with garbage. LIST: scenario names, comma-separated.\n");
}

static void s_list (void)
{
    for (size_t i = 0; i < NSCENARIOS; i++)
        printf ("%-15s %s\n", s_scenarios [i].name, s_scenarios [i].about);
    printf ("%-15s %s\n", "absurd-heartbeat",
            "(impostor extra) welcome with a heartbeat of 4,000,000,000 ms");
    printf ("%-15s %s\n", "bitmap-bomb",
            "(impostor extra) results with seq 2^32 for ever new jobs to the sink");
}

//  True if every name in list is a scenario or an impostor extra (else
//  says which is not).
static bool s_names_known (const char *list)
{
    for (const char *p = list; p && *p;) {
        const char *end = strchr (p, ',');
        size_t len = end ? (size_t) (end - p) : strlen (p);
        bool known = (len == 16 && strncmp (p, "absurd-heartbeat", 16) == 0) ||
                     (len == 11 && strncmp (p, "bitmap-bomb", 11) == 0);
        for (size_t i = 0; i < NSCENARIOS && !known; i++)
            known =
                strlen (s_scenarios [i].name) == len && strncmp (p, s_scenarios [i].name, len) == 0;
        if (!known && len) {
            fprintf (stderr, "zmq_garbage: no scenario '%.*s' (see --list)\n", (int) len, p);
            return false;
        }
        p += len + (end ? 1 : 0);
    }
    return true;
}

int main (int argc, char *argv [])
{
    gz_t *self = calloc (1, sizeof *self);
    if (!self)
        return 1;
    const char *endpoint = NULL, *skip = NULL, *only = NULL, *extra = NULL;
    bool impostor = false, have_seconds = false;
    self->seconds = 5;
    self->seed = (uint64_t) time (NULL) ^ ((uint64_t) getpid () << 32);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv [i];
        bool has_value = i + 1 < argc;
        if (streq (arg, "--impostor"))
            impostor = true;
        else if (streq (arg, "--push"))
            self->push = true;
        else if (streq (arg, "--list")) {
            s_list ();
            free (self);
            return 0;
        } else if (streq (arg, "-h") || streq (arg, "--help")) {
            s_usage (stdout);
            free (self);
            return 0;
        } else if (streq (arg, "--job") && has_value)
            self->job = argv [++i];
        else if (streq (arg, "--seed") && has_value)
            self->seed = strtoull (argv [++i], NULL, 0);
        else if (streq (arg, "--skip") && has_value)
            skip = argv [++i];
        else if (streq (arg, "--only") && has_value)
            only = argv [++i];
        else if (streq (arg, "--extra") && has_value)
            extra = argv [++i];
        else if (streq (arg, "--answer") && has_value) {
            const char *answer = argv [++i];
            if (!streq (answer, "garbage") && !streq (answer, "welcome")) {
                s_usage (stderr);
                free (self);
                return 2;
            }
            self->answer_welcome = streq (answer, "welcome");
        } else if (arg [0] != '-' && !endpoint)
            endpoint = arg;
        else if (arg [0] != '-' && !have_seconds) {
            char *end;
            self->seconds = strtod (arg, &end);
            if (*end || self->seconds <= 0 || self->seconds > 3600) {
                fprintf (stderr, "zmq_garbage: '%s' is not a number of seconds\n", arg);
                free (self);
                return 2;
            }
            have_seconds = true;
        } else {
            s_usage (stderr);
            free (self);
            return 2;
        }
    }
    const char *colon = endpoint ? strrchr (endpoint, ':') : NULL;
    if (!endpoint || strncmp (endpoint, "tcp://", 6) != 0 || !colon || colon < endpoint + 6 ||
        (size_t) (colon - endpoint - 6) >= sizeof self->host) {
        s_usage (stderr);
        free (self);
        return 2;
    }
    memcpy (self->host, endpoint + 6, (size_t) (colon - endpoint - 6));
    self->port = atoi (colon + 1);
    if (self->port <= 0 || self->port + P_COUNT - 1 > 65535) {
        fprintf (stderr, "zmq_garbage: bad port in %s\n", endpoint);
        free (self);
        return 2;
    }
    if (!s_names_known (skip) || !s_names_known (only) || !s_names_known (extra)) {
        free (self);
        return 2;
    }
    self->absurd_heartbeat = s_in_list (extra, "absurd-heartbeat");
    self->bitmap_bomb = s_in_list (extra, "bitmap-bomb");
    self->rng = self->seed ? self->seed : 1;
    //  Room for the connection flood.
    struct rlimit rl;
    if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit (RLIMIT_NOFILE, &rl);
    }
    signal (SIGINT, s_on_signal);
    signal (SIGTERM, s_on_signal);
    signal (SIGPIPE, SIG_IGN);
    self->ctx = zmq_ctx_new ();
    if (!self->ctx) {
        fprintf (stderr, "zmq_garbage: no ZeroMQ context: %s\n", zmq_strerror (errno));
        free (self);
        return 1;
    }
    zmq_ctx_set (self->ctx, ZMQ_MAX_SOCKETS, 4096);
    self->start = s_now ();
    self->deadline = self->start + (int64_t) (self->seconds * 1000);
    int rc = impostor ? s_impostor (self) : s_attack (self, skip, only, extra);
    fflush (stdout);
    zmq_ctx_term (self->ctx);
    free (self);
    return rc;
}
