/*  idlers - N idle workers connected to a broker, in one process.

    Each idle worker is what a sluice-worker is to the broker, minus the
    work: a control DEALER that says Hello (ROLE_WORKER, its own name
    "HOST:PID-idle-I", 1 slot) and heartbeats at the agreed interval, a
    dispatch DEALER whose routing id is that name, and a results PUSH. So
    the broker holds N more peers, N more routing entries on its dispatch
    ROUTER (with ZMTP heartbeats to each), and N more heartbeats a second.

    What they ask for, so that they stay idle while real workers run a job:
    - if the protocol has named queues (Hello.queues; build.sh passes
      -DHAVE_QUEUES when build/proto/sluice.pb-c.h has them), each serves
      only the queue "bench-idle", on which no task is ever submitted, and
      sends Credit{1, absolute}: an idle worker with a free slot, as a real
      worker of another queue is;
    - else it sends no Credit: the broker knows it and keeps it alive, but
      deals it nothing (a worker with every slot busy looks the same).

    --no-credit sends no Credit even with named queues.

    Prints "idlers connected=N welcomed_ms=T" once every one is welcomed,
    then heartbeats until SIGTERM/SIGINT, says Bye on each and exits.

    usage: idlers --broker EP [--count N] [--no-credit]
*/
#include <czmq.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_endpoint.h"
#include "sl_proto.h"
#include "sl_util.h"

static bool s_credit = true; //  with named queues: send Credit{1}

typedef struct {
    char name [300];
    zsock_t *control, *dispatch, *results;
    bool welcomed;
    uint32_t heartbeat_ms;
    int64_t next_heartbeat, next_hello;
} idler_t;

static zsock_t *s_socket (int type, const char *broker, sl_port_t port, const char *identity)
{
    char ep [300], err [256];
    if (sl_endpoint_derive (broker, port, ep, sizeof ep, err, sizeof err)) {
        fprintf (stderr, "idlers: %s\n", err);
        exit (2);
    }
    zsock_t *sock = zsock_new (type);
    if (!sock) {
        fprintf (stderr, "idlers: cannot make a socket: %s\n", zmq_strerror (zmq_errno ()));
        exit (1);
    }
    zsock_set_linger (sock, 0);
    if (identity)
        zsock_set_identity (sock, identity);
    if (zsock_connect (sock, "%s", ep)) {
        fprintf (stderr, "idlers: cannot connect to %s\n", ep);
        exit (1);
    }
    return sock;
}

static void s_hello (idler_t *idler)
{
    Sluice__Hello hello = SLUICE__HELLO__INIT;
    hello.role = SLUICE__ROLE__ROLE_WORKER;
    hello.name = idler->name;
    hello.slots = 1;
#ifdef HAVE_QUEUES
    char *queues [] = { "bench-idle" };
    hello.queues = queues;
    hello.n_queues = 1;
#endif
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    sl_proto_send (idler->control, NULL, &env, ZMQ_DONTWAIT);
}

static void s_send_simple (idler_t *idler, Sluice__Envelope__BodyCase body)
{
    Sluice__Heartbeat hb = SLUICE__HEARTBEAT__INIT;
    Sluice__Bye bye = SLUICE__BYE__INIT;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = body;
    if (body == SLUICE__ENVELOPE__BODY_HEARTBEAT)
        env.heartbeat = &hb;
    else
        env.bye = &bye;
    sl_proto_send (idler->control, NULL, &env, ZMQ_DONTWAIT);
}

//  Reads the idler's control socket. Returns true if it was just welcomed.
static bool s_read (idler_t *idler, int64_t now)
{
    bool welcomed_now = false;
    sl_env_t *env = NULL;
    char why [256];
    sl_recv_t rc;
    while ((rc = sl_proto_recv (idler->control, &env, NULL, why, sizeof why)) != SL_RECV_NONE) {
        if (rc != SL_RECV_OK)
            continue;
        if (env->body_case == SLUICE__ENVELOPE__BODY_WELCOME && !idler->welcomed) {
            idler->welcomed = welcomed_now = true;
            idler->heartbeat_ms = env->welcome->heartbeat_ms ? env->welcome->heartbeat_ms : 1000;
            idler->next_heartbeat = now + idler->heartbeat_ms;
#ifdef HAVE_QUEUES
            if (env->welcome->fair && s_credit) {
                Sluice__Credit credit = SLUICE__CREDIT__INIT;
                credit.credit = 1;
                credit.absolute = true;
                sl_env_t cenv = SLUICE__ENVELOPE__INIT;
                cenv.body_case = SLUICE__ENVELOPE__BODY_CREDIT;
                cenv.credit = &credit;
                sl_proto_send (idler->dispatch, NULL, &cenv, ZMQ_DONTWAIT);
            }
#endif
        } else if (env->body_case == SLUICE__ENVELOPE__BODY_HEARTBEAT &&
                   env->heartbeat->rehello) {
            idler->welcomed = false;
            idler->next_hello = now;
        } else if (env->body_case == SLUICE__ENVELOPE__BODY_REFUSE) {
            fprintf (stderr, "idlers: %s refused: %s\n", idler->name, env->refuse->reason);
            exit (1);
        }
        sl_proto_free (&env);
    }
    return welcomed_now;
}

int main (int argc, char *argv [])
{
    const char *broker = SL_DEFAULT_BROKER;
    long count = 500;
    static const struct option longopts [] = {
        { "broker", required_argument, NULL, 'b' },
        { "count", required_argument, NULL, 'n' },
        { "no-credit", no_argument, NULL, 'C' },
        { NULL, 0, NULL, 0 },
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "b:n:", longopts, NULL)) != -1) {
        if (opt == 'b')
            broker = optarg;
        else if (opt == 'n')
            count = atol (optarg);
        else if (opt == 'C')
            s_credit = false;
        else {
            fprintf (stderr, "usage: idlers --broker EP [--count N] [--no-credit]\n");
            return 2;
        }
    }
    if (count < 1 || count > 20000)
        return 2;
    zsys_set_max_sockets (0); //  as many as the file descriptors allow
    zsys_init ();
    char self_name [256];
    sl_self_name (self_name, sizeof self_name);
    idler_t *idlers = calloc ((size_t) count, sizeof *idlers);
    int64_t start = zclock_mono ();
    for (long i = 0; i < count; i++) {
        idler_t *idler = &idlers [i];
        snprintf (idler->name, sizeof idler->name, "%s-idle-%ld", self_name, i);
        idler->control = s_socket (ZMQ_DEALER, broker, SL_PORT_CONTROL, NULL);
        idler->dispatch = s_socket (ZMQ_DEALER, broker, SL_PORT_DISPATCH, idler->name);
        idler->results = s_socket (ZMQ_PUSH, broker, SL_PORT_RESULTS, NULL);
        idler->next_hello = start;
    }
    long welcomed = 0;
    bool told = false;
    while (!zsys_interrupted) {
        int64_t now = zclock_mono ();
        for (long i = 0; i < count; i++) {
            idler_t *idler = &idlers [i];
            if (s_read (idler, now))
                welcomed++;
            if (!idler->welcomed && now >= idler->next_hello) {
                s_hello (idler);
                idler->next_hello = now + 1000;
            } else if (idler->welcomed && now >= idler->next_heartbeat) {
                s_send_simple (idler, SLUICE__ENVELOPE__BODY_HEARTBEAT);
                idler->next_heartbeat = now + idler->heartbeat_ms;
            }
        }
        if (!told && welcomed >= count) {
            bool credit = false;
#ifdef HAVE_QUEUES
            credit = s_credit;
#endif
            printf ("idlers connected=%ld welcomed_ms=%lld credit=%d\n", count,
                    (long long) (zclock_mono () - start), credit);
            fflush (stdout);
            told = true;
        }
        zclock_sleep (20);
    }
    for (long i = 0; i < count; i++) {
        zsock_set_linger (idlers [i].control, 200); //  the Bye gets out at exit
        s_send_simple (&idlers [i], SLUICE__ENVELOPE__BODY_BYE);
        zsock_destroy (&idlers [i].control);
        zsock_destroy (&idlers [i].dispatch);
        zsock_destroy (&idlers [i].results);
    }
    free (idlers);
    return 0;
}
