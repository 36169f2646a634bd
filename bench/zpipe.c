/*  zpipe - the raw ZeroMQ pipeline sluice is measured against: no broker.

    Throughput (default): a ventilator PUSH (bind) deals N messages of
    --size bytes (default 100) round-robin to W worker processes (PULL,
    connect); each worker sends every message back unchanged (echo) on a
    PUSH to the sink's PULL (bind). The clock runs from the ventilator's
    first send (it sends its CLOCK_MONOTONIC start time to the sink first)
    to the sink's N-th result. Before the first send the ventilator waits
    until all W workers have completed the ZMTP handshake (socket monitor
    set up before bind), so the first messages are not all dealt to the
    first worker to connect. TCP on 127.0.0.1, like the peer harness in
    ../shared/bench (zmq/zpipe.c, written independently of this one: the
    same topology and clock rules, so the two can be cross-checked).

    Latency (--latency K): one client process binds both the PUSH and the
    PULL; K times, it sends one message, waits for its echo and takes the
    time between them (one in flight at a time, a pause of 0-1 ms between
    two). Prints percentiles in microseconds.

    --forwarder: a broker without bookkeeping in the middle, so that each
    message makes 4 hops as in sluice instead of 2: one process, one
    thread, binds a PULL for tasks (the ventilator connects), a PUSH to the
    workers, a PULL for their results and a PUSH to the sink (which then
    connects), and moves every message on as it comes (zmq_poll, no copy:
    the zmq_msg_t is passed on). The ventilator waits until the workers are
    attached to it, then sends its start time as the first message on the
    task path (a worker echoes it to the sink). Its pid goes to stderr
    ("zpipe: forwarder pid N") for bench/callgrind.sh.

    Each process is forked by the orchestrator before it makes its own
    ZeroMQ context, and every process ends by returning from main (the
    workers at SIGTERM), so that valgrind --tool=callgrind writes a profile
    for each of them (bench/callgrind.sh counts instructions per task over
    all of them).

    Output, one line in the format of ../shared/bench/README.md:
      peer=NAME workload=noop tasks=N workers=W seconds=S tasks_per_s=R
      peer=NAME workload=latency tasks=K workers=W p50_us=... p90_us=... p99_us=... max_us=...

    Build: cc -O2 -o zpipe zpipe.c -lzmq   (bench/build.sh does it)
*/
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define MAX_WORKERS 256
#define EP_LEN 256

static long o_tasks = 200000;
static int o_workers = 2;
static int o_size = 100;
static int o_timeout = 55;
static long o_latency = 0; //  > 0: latency mode, this many round trips
static const char *o_peer = NULL;
static int o_forwarder = 0; //  4 hops through a forwarder process

static volatile sig_atomic_t s_stop = 0;

static void s_on_term (int sig)
{
    (void) sig;
    s_stop = 1;
}

static int64_t s_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void s_die (const char *what)
{
    fprintf (stderr, "zpipe[%d]: %s: %s\n", (int) getpid (), what, zmq_strerror (errno));
    exit (2);
}

//  Endpoints go from a child to the orchestrator over a pipe, fixed size.
static void s_tell (int fd, const char *text)
{
    char buf [EP_LEN] = { 0 };
    snprintf (buf, sizeof buf, "%s", text);
    if (write (fd, buf, sizeof buf) != (ssize_t) sizeof buf)
        exit (3);
}

static void s_hear (int fd, char *out)
{
    size_t got = 0;
    while (got < EP_LEN) {
        ssize_t r = read (fd, out + got, EP_LEN - got);
        if (r <= 0) {
            fprintf (stderr, "zpipe: a child died before it said where it listens\n");
            exit (2);
        }
        got += (size_t) r;
    }
    out [EP_LEN - 1] = '\0';
}

//  Binds sock to a free port on loopback; its endpoint goes to out.
static void s_bind (void *sock, char *out)
{
    if (zmq_bind (sock, "tcp://127.0.0.1:*"))
        s_die ("bind");
    size_t len = EP_LEN;
    zmq_getsockopt (sock, ZMQ_LAST_ENDPOINT, out, &len);
}

//  A monitor of sock's successful handshakes, made before sock binds.
static void *s_monitor (void *ctx, void *sock, const char *tag)
{
    char ep [64];
    snprintf (ep, sizeof ep, "inproc://zpipe-mon-%s", tag);
    if (zmq_socket_monitor (sock, ep, ZMQ_EVENT_HANDSHAKE_SUCCEEDED))
        s_die ("zmq_socket_monitor");
    void *mon = zmq_socket (ctx, ZMQ_PAIR);
    if (zmq_connect (mon, ep))
        s_die ("monitor connect");
    return mon;
}

//  Waits until `want` handshakes succeeded on the monitored socket.
static void s_await (void *sock, void *mon, int want)
{
    int timeout = 60000;
    zmq_setsockopt (mon, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    for (int got = 0; got < want;) {
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        if (zmq_msg_recv (&msg, mon, 0) < 0) {
            if (errno == EINTR)
                continue;
            s_die ("waiting for the workers to connect");
        }
        uint16_t event = 0;
        if (zmq_msg_size (&msg) >= 2)
            memcpy (&event, zmq_msg_data (&msg), 2);
        int more = zmq_msg_more (&msg);
        zmq_msg_close (&msg);
        if (more) { //  the endpoint frame
            zmq_msg_init (&msg);
            zmq_msg_recv (&msg, mon, 0);
            zmq_msg_close (&msg);
        }
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            got++;
    }
    zmq_socket_monitor (sock, NULL, 0);
    zmq_close (mon);
}

//  A task: its id in decimal, a space, 'x' up to o_size bytes.
static int s_task (char *buf, size_t cap, long id)
{
    int n = snprintf (buf, cap, "%ld ", id);
    if (n < o_size && (size_t) o_size <= cap) {
        memset (buf + n, 'x', (size_t) (o_size - n));
        n = o_size;
    }
    return n;
}

// --- Worker ---------------------------------------------------------------

static int s_worker (const char *tasks_ep, const char *results_ep)
{
    void *ctx = zmq_ctx_new ();
    void *in = zmq_socket (ctx, ZMQ_PULL);
    void *out = zmq_socket (ctx, ZMQ_PUSH);
    int linger = 0;
    zmq_setsockopt (in, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect (in, tasks_ep) || zmq_connect (out, results_ep))
        s_die ("worker connect");
    char buf [65536];
    while (!s_stop) {
        int n = zmq_recv (in, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            s_die ("worker recv");
        }
        if (n > (int) sizeof buf)
            n = sizeof buf;
        while (zmq_send (out, buf, (size_t) n, 0) < 0) {
            if (errno != EINTR || s_stop)
                break;
        }
    }
    zmq_setsockopt (out, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close (in);
    zmq_close (out);
    zmq_ctx_term (ctx);
    return 0;
}

// --- Sink -----------------------------------------------------------------

//  Binds and tells where, or (forwarder) connects to connect_ep.
static int s_sink (int tell_fd, const char *connect_ep)
{
    void *ctx = zmq_ctx_new ();
    void *in = zmq_socket (ctx, ZMQ_PULL);
    char ep [EP_LEN];
    if (connect_ep) {
        if (zmq_connect (in, connect_ep))
            s_die ("sink connect");
    } else {
        s_bind (in, ep);
        s_tell (tell_fd, ep);
    }
    uint8_t *seen = calloc ((size_t) o_tasks, 1);
    long got = 0, duplicates = 0, bad = 0;
    int64_t start = -1, end = 0;
    char buf [65536];
    while (got < o_tasks || start < 0) {
        int n = zmq_recv (in, buf, sizeof buf - 1, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            s_die ("sink recv");
        }
        if (n > (int) sizeof buf - 1)
            n = sizeof buf - 1;
        buf [n] = '\0';
        if (buf [0] == 'T') { //  "T <start ns>" from the ventilator
            start = strtoll (buf + 2, NULL, 10);
            continue;
        }
        char *endp;
        long id = strtol (buf, &endp, 10);
        if (endp == buf || id < 0 || id >= o_tasks) {
            bad++;
            continue;
        }
        if (seen [id]) {
            duplicates++;
            continue;
        }
        seen [id] = 1;
        if (++got == o_tasks)
            end = s_now_ns ();
    }
    double seconds = (double) (end - start) / 1e9;
    printf ("peer=%s workload=noop tasks=%ld workers=%d seconds=%.3f tasks_per_s=%.0f", o_peer,
            o_tasks, o_workers, seconds, (double) o_tasks / seconds);
    if (duplicates || bad)
        printf (" duplicates=%ld bad=%ld", duplicates, bad);
    printf ("\n");
    fflush (stdout);
    free (seen);
    zmq_close (in);
    zmq_ctx_term (ctx);
    return 0;
}

// --- Ventilator -----------------------------------------------------------

//  Binds and tells where (the workers connect), its start time going to
//  the sink at sink_ep; or (forwarder) connects to connect_ep and sends its
//  start time as the first message of the task path.
static int s_ventilator (int tell_fd, const char *sink_ep, const char *connect_ep)
{
    void *ctx = zmq_ctx_new ();
    void *out = zmq_socket (ctx, ZMQ_PUSH);
    void *clock = out;
    void *mon = s_monitor (ctx, out, "vent");
    if (connect_ep) {
        if (zmq_connect (out, connect_ep))
            s_die ("ventilator connect");
        s_await (out, mon, 1);
    } else {
        clock = zmq_socket (ctx, ZMQ_PUSH);
        if (zmq_connect (clock, sink_ep))
            s_die ("ventilator connect");
        char ep [EP_LEN];
        s_bind (out, ep);
        s_tell (tell_fd, ep);
        s_await (out, mon, o_workers);
    }
    char buf [65536];
    int64_t start = s_now_ns ();
    int n = snprintf (buf, sizeof buf, "T %lld", (long long) start);
    zmq_send (clock, buf, (size_t) n, 0);
    for (long id = 0; id < o_tasks; id++) {
        n = s_task (buf, sizeof buf, id);
        while (zmq_send (out, buf, (size_t) n, 0) < 0)
            if (errno != EINTR)
                s_die ("ventilator send");
    }
    //  Linger (default: forever) gets every queued message out before the
    //  context ends.
    zmq_close (out);
    if (clock != out)
        zmq_close (clock);
    zmq_ctx_term (ctx);
    return 0;
}

// --- Forwarder ------------------------------------------------------------

typedef struct {
    void *in, *out;
    zmq_msg_t held; //  received, not yet taken by out
    int has;
} dir_t;

//  Moves what it can (at most 256 messages) from d->in to d->out.
static void s_move (dir_t *d)
{
    for (int k = 0; k < 256; k++) {
        if (!d->has) {
            zmq_msg_init (&d->held);
            if (zmq_msg_recv (&d->held, d->in, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close (&d->held);
                return;
            }
            d->has = 1;
        }
        if (zmq_msg_send (&d->held, d->out, ZMQ_DONTWAIT) < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            s_die ("forwarder send");
        }
        d->has = 0;
    }
}

static int s_forwarder (int tell_fd, int ready_fd)
{
    void *ctx = zmq_ctx_new ();
    dir_t tasks = { zmq_socket (ctx, ZMQ_PULL), zmq_socket (ctx, ZMQ_PUSH), { { 0 } }, 0 };
    dir_t results = { zmq_socket (ctx, ZMQ_PULL), zmq_socket (ctx, ZMQ_PUSH), { { 0 } }, 0 };
    void *mon = s_monitor (ctx, tasks.out, "fwd");
    char ti [EP_LEN], to [EP_LEN], ri [EP_LEN], ro [EP_LEN], all [EP_LEN];
    s_bind (tasks.in, ti);
    s_bind (tasks.out, to);
    s_bind (results.in, ri);
    s_bind (results.out, ro);
    snprintf (all, sizeof all, "%.60s %.60s %.60s %.60s", ti, to, ri, ro);
    s_tell (tell_fd, all);
    fprintf (stderr, "zpipe: forwarder pid %d\n", (int) getpid ());
    s_await (tasks.out, mon, o_workers);
    s_tell (ready_fd, "READY");
    while (!s_stop) {
        zmq_pollitem_t items [] = {
            { tasks.has ? tasks.out : tasks.in, 0, tasks.has ? ZMQ_POLLOUT : ZMQ_POLLIN, 0 },
            { results.has ? results.out : results.in, 0,
              results.has ? ZMQ_POLLOUT : ZMQ_POLLIN, 0 },
        };
        if (zmq_poll (items, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            s_die ("forwarder poll");
        }
        if (items [0].revents)
            s_move (&tasks);
        if (items [1].revents)
            s_move (&results);
    }
    int zero = 0;
    zmq_setsockopt (tasks.out, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (results.out, ZMQ_LINGER, &zero, sizeof zero);
    if (tasks.has)
        zmq_msg_close (&tasks.held);
    if (results.has)
        zmq_msg_close (&results.held);
    zmq_close (tasks.in);
    zmq_close (tasks.out);
    zmq_close (results.in);
    zmq_close (results.out);
    zmq_ctx_term (ctx);
    return 0;
}

// --- Latency client -------------------------------------------------------

static int s_cmp (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y ? -1 : x > y;
}

//  Binds both sockets and tells where, or (forwarder) connects them to
//  out_ep and in_ep.
static int s_latency_client (int tell_fd, const char *out_ep, const char *in_ep)
{
    void *ctx = zmq_ctx_new ();
    void *out = zmq_socket (ctx, ZMQ_PUSH);
    void *in = zmq_socket (ctx, ZMQ_PULL);
    void *mon_out = s_monitor (ctx, out, "out");
    void *mon_in = s_monitor (ctx, in, "in");
    if (out_ep) {
        if (zmq_connect (out, out_ep) || zmq_connect (in, in_ep))
            s_die ("client connect");
        s_await (out, mon_out, 1);
        s_await (in, mon_in, 1);
    } else {
        char ep_out [EP_LEN], ep_in [EP_LEN], both [EP_LEN];
        s_bind (out, ep_out);
        s_bind (in, ep_in);
        snprintf (both, sizeof both, "%.120s %.120s", ep_out, ep_in);
        s_tell (tell_fd, both);
        s_await (out, mon_out, o_workers);
        s_await (in, mon_in, o_workers);
    }
    int64_t *lat = malloc ((size_t) o_latency * sizeof *lat);
    char buf [65536], back [65536];
    unsigned seed = (unsigned) getpid ();
    for (long i = -100; i < o_latency; i++) { //  100 round trips of warm-up
        int n = s_task (buf, sizeof buf, i < 0 ? 0 : i);
        int64_t t0 = s_now_ns ();
        if (zmq_send (out, buf, (size_t) n, 0) < 0)
            s_die ("send");
        while (zmq_recv (in, back, sizeof back, 0) < 0)
            if (errno != EINTR)
                s_die ("recv");
        int64_t t1 = s_now_ns ();
        if (i >= 0)
            lat [i] = t1 - t0;
        struct timespec pause = { 0, (long) (rand_r (&seed) % 1000) * 1000 };
        nanosleep (&pause, NULL);
    }
    qsort (lat, (size_t) o_latency, sizeof *lat, s_cmp);
#define PCT(p) ((double) lat [(size_t) ((double) (o_latency - 1) * (p))] / 1000)
    printf ("peer=%s workload=latency tasks=%ld workers=%d p50_us=%.0f p90_us=%.0f p99_us=%.0f "
            "max_us=%.0f\n",
            o_peer, o_latency, o_workers, PCT (0.50), PCT (0.90), PCT (0.99), PCT (1.0));
    fflush (stdout);
    free (lat);
    int zero = 0;
    zmq_setsockopt (out, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close (out);
    zmq_close (in);
    zmq_ctx_term (ctx);
    return 0;
}

// --- Orchestrator ---------------------------------------------------------

static pid_t s_kids [MAX_WORKERS + 4];
static int s_nkids = 0;

static void s_kill_kids (int sig)
{
    for (int i = 0; i < s_nkids; i++)
        if (s_kids [i] > 0)
            kill (s_kids [i], sig);
}

static void s_on_alarm (int sig)
{
    (void) sig;
    static const char msg [] = "zpipe: timed out or stopped, stopping its processes\n";
    if (write (2, msg, sizeof msg - 1)) {
    }
    s_kill_kids (SIGKILL);
    _exit (124);
}

//  Forks; in the child, returns 0 with the alarm and SIGTERM set up.
static pid_t s_spawn (void)
{
    fflush (stdout);
    pid_t pid = fork ();
    if (pid < 0) {
        perror ("fork");
        exit (2);
    }
    if (pid == 0) {
        signal (SIGALRM, SIG_DFL);
        signal (SIGINT, SIG_DFL);
        alarm ((unsigned) o_timeout + 5);
        struct sigaction sa = { .sa_handler = s_on_term }; //  no SA_RESTART: recv returns EINTR
        sigaction (SIGTERM, &sa, NULL);
        return 0;
    }
    s_kids [s_nkids++] = pid;
    return pid;
}

static void s_usage (void)
{
    fprintf (stderr, "usage: zpipe [--tasks N] [--workers W] [--size BYTES] [--latency K]\n"
                     "             [--forwarder] [--peer NAME] [--timeout SEC]\n");
    exit (2);
}

int main (int argc, char *argv [])
{
    for (int i = 1; i < argc; i += 2) {
        if (!strcmp (argv [i], "--forwarder")) {
            o_forwarder = 1;
            i--;
            continue;
        }
        if (i + 1 >= argc)
            s_usage ();
        const char *opt = argv [i], *val = argv [i + 1];
        if (!strcmp (opt, "--tasks"))
            o_tasks = atol (val);
        else if (!strcmp (opt, "--workers"))
            o_workers = atoi (val);
        else if (!strcmp (opt, "--size"))
            o_size = atoi (val);
        else if (!strcmp (opt, "--latency"))
            o_latency = atol (val);
        else if (!strcmp (opt, "--peer"))
            o_peer = val;
        else if (!strcmp (opt, "--timeout"))
            o_timeout = atoi (val);
        else
            s_usage ();
    }
    if (o_tasks < 1 || o_workers < 1 || o_workers > MAX_WORKERS || o_size < 1 ||
        o_size > 60000 || o_latency < 0)
        s_usage ();
    if (!o_peer)
        o_peer = o_forwarder ? "zmq_forwarder_4hops" : "zmq_raw_pipeline";
    signal (SIGALRM, s_on_alarm);
    signal (SIGTERM, s_on_alarm); //  stopped from outside: the children too
    signal (SIGINT, s_on_alarm);
    alarm ((unsigned) o_timeout);
    int fds [2];
    if (pipe (fds))
        exit (2);
    char sink_ep [EP_LEN], tasks_ep [EP_LEN], both [EP_LEN];
    pid_t last; //  the child whose exit ends the run
    if (o_forwarder) {
        //  forwarder, sink (connects), workers; once they are attached to
        //  the forwarder, the ventilator or the latency client (connect).
        int ready [2];
        char all [EP_LEN], ti [EP_LEN], to [EP_LEN], ri [EP_LEN], ro [EP_LEN];
        if (pipe (ready))
            exit (2);
        if (s_spawn () == 0)
            return s_forwarder (fds [1], ready [1]);
        s_hear (fds [0], all);
        if (sscanf (all, "%255s %255s %255s %255s", ti, to, ri, ro) != 4)
            exit (2);
        last = 0;
        if (!o_latency && (last = s_spawn ()) == 0)
            return s_sink (-1, ro);
        for (int w = 0; w < o_workers; w++)
            if (s_spawn () == 0)
                return s_worker (to, ri);
        s_hear (ready [0], all);
        if (o_latency) {
            if ((last = s_spawn ()) == 0)
                return s_latency_client (-1, ti, ro);
        } else if (s_spawn () == 0)
            return s_ventilator (-1, NULL, ti);
    } else {
        if (o_latency) {
            if ((last = s_spawn ()) == 0)
                return s_latency_client (fds [1], NULL, NULL);
            s_hear (fds [0], both);
            if (sscanf (both, "%255s %255s", tasks_ep, sink_ep) != 2)
                exit (2);
        } else {
            if ((last = s_spawn ()) == 0)
                return s_sink (fds [1], NULL);
            s_hear (fds [0], sink_ep);
            if (s_spawn () == 0)
                return s_ventilator (fds [1], sink_ep, NULL);
            s_hear (fds [0], tasks_ep);
        }
        for (int w = 0; w < o_workers; w++)
            if (s_spawn () == 0)
                return s_worker (tasks_ep, sink_ep);
    }
    //  The sink (or the latency client) ends the run; any other child
    //  ending first means it failed.
    int status = 1, failed = 0;
    for (;;) {
        int st;
        pid_t pid = waitpid (-1, &st, 0);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < s_nkids; i++)
            if (s_kids [i] == pid)
                s_kids [i] = 0;
        if (pid == last) {
            status = st;
            break;
        }
        if (!WIFEXITED (st) || WEXITSTATUS (st) != 0) {
            fprintf (stderr, "zpipe: child %d failed (status %d)\n", (int) pid, st);
            failed = 1;
            break;
        }
        //  The ventilator is done sending: fine.
    }
    s_kill_kids (failed ? SIGKILL : SIGTERM);
    for (int i = 0; i < s_nkids; i++)
        if (s_kids [i] > 0)
            while (waitpid (s_kids [i], NULL, 0) < 0 && errno == EINTR)
                ;
    if (failed)
        return 4;
    return WIFEXITED (status) ? WEXITSTATUS (status) : 1;
}
