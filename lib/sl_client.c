/*  sl_client - a client's link to the broker, see sl_client.h.  */
#include "sl_client.h"

#include <errno.h>
#include <string.h>
#include <zmq.h>

#include "sl_log.h"

#define HELLO_RESEND_MS 250
#define MAX_SOCKETS 8

struct _sl_client_t {
    char broker [256];              //  the address the user gave
    zsock_t *control;               //  DEALER to the control port
    zsock_t *sockets [MAX_SOCKETS]; //  data sockets opened with sl_client_open
    size_t nsockets;                //  how many of them
};

sl_client_t *sl_client_new (const char *broker, char *err, size_t errlen)
{
    char endpoint [300];
    if (strlen (broker) >= 256) {
        snprintf (err, errlen, "broker address '%.40s...' is too long", broker);
        return NULL;
    }
    if (sl_endpoint_derive (broker, SL_PORT_CONTROL, endpoint, sizeof endpoint, err, errlen))
        return NULL;
    sl_client_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    strcpy (self->broker, broker);
    self->control = zsock_new (ZMQ_DEALER);
    if (!self->control)
        goto err;
    zsock_set_immediate (self->control, 1);
    zsock_set_linger (self->control, 200);
    if (zsock_connect (self->control, "%s", endpoint) != 0)
        goto err;
    return self;
err:
    snprintf (err, errlen, "cannot connect to %s: %s", endpoint, zmq_strerror (errno));
    sl_client_destroy (&self);
    return NULL;
}

void sl_client_destroy (sl_client_t **self_p)
{
    assert (self_p);
    sl_client_t *self = *self_p;
    if (self) {
        for (size_t i = 0; i < self->nsockets; i++)
            zsock_destroy (&self->sockets [i]);
        zsock_destroy (&self->control);
        free (self);
        *self_p = NULL;
    }
}

zsock_t *sl_client_control (sl_client_t *self)
{
    assert (self);
    return self->control;
}

const char *sl_client_broker (sl_client_t *self)
{
    assert (self);
    return self->broker;
}

zsock_t *sl_client_open (sl_client_t *self, sl_port_t port, int type, int linger_ms, char *err,
                         size_t errlen)
{
    assert (self);
    assert (self->nsockets < MAX_SOCKETS);
    char endpoint [300];
    if (sl_endpoint_derive (self->broker, port, endpoint, sizeof endpoint, err, errlen))
        return NULL;
    zsock_t *sock = zsock_new (type);
    if (!sock) {
        snprintf (err, errlen, "cannot create a socket: %s", zmq_strerror (errno));
        return NULL;
    }
    zsock_set_linger (sock, linger_ms);
    if (zsock_connect (sock, "%s", endpoint) != 0) {
        snprintf (err, errlen, "cannot connect to %s: %s", endpoint, zmq_strerror (errno));
        zsock_destroy (&sock);
        return NULL;
    }
    self->sockets [self->nsockets++] = sock;
    return sock;
}

int sl_client_send (sl_client_t *self, sl_env_t *env)
{
    assert (self);
    return sl_proto_send (self->control, NULL, env, ZMQ_DONTWAIT);
}

sl_hello_t sl_client_hello (sl_client_t *self, Sluice__Hello *hello, int64_t timeout_ms,
                            sl_env_t **welcome_p, char *err, size_t errlen)
{
    assert (self);
    assert (welcome_p);
    *welcome_p = NULL;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_HELLO;
    env.hello = hello;

    int64_t start = zclock_mono ();
    int64_t next_send = start;
    int64_t next_notice = start + 1000;
    zpoller_t *poller = zpoller_new (self->control, NULL);
    sl_hello_t rc = SL_HELLO_TIMEOUT;
    while (true) {
        int64_t now = zclock_mono ();
        if (zsys_interrupted) {
            rc = SL_HELLO_INTERRUPTED;
            snprintf (err, errlen, "interrupted while waiting for the broker at %s", self->broker);
            break;
        }
        if (timeout_ms >= 0 && now - start >= timeout_ms) {
            snprintf (err, errlen,
                      "no broker answered at %s within %.1f s (is sluice-broker running there? "
                      "see --connect-timeout)",
                      self->broker, timeout_ms / 1000.0);
            break;
        }
        if (now >= next_notice) {
            sl_warn ("waiting for broker at %s ...", self->broker);
            next_notice = now + 30000;
        }
        if (now >= next_send) {
            //  EAGAIN just means "not connected yet" with ZMQ_IMMEDIATE.
            sl_proto_send (self->control, NULL, &env, ZMQ_DONTWAIT);
            next_send = now + HELLO_RESEND_MS;
        }
        int64_t wait = next_send - now;
        if (timeout_ms >= 0 && start + timeout_ms - now < wait)
            wait = start + timeout_ms - now;
        if (wait < 1)
            wait = 1;
        if (!zpoller_wait (poller, (int) wait))
            continue;
        sl_env_t *reply = NULL;
        char why [256];
        sl_recv_t got = sl_proto_recv (self->control, &reply, NULL, why, sizeof why);
        if (got == SL_RECV_NONE)
            continue;
        if (got != SL_RECV_OK) {
            snprintf (err, errlen, "the peer at %s is not a compatible sluice broker: %s",
                      self->broker, why);
            rc = SL_HELLO_REFUSED;
            break;
        }
        if (reply->body_case == SLUICE__ENVELOPE__BODY_WELCOME) {
            *welcome_p = reply;
            rc = SL_HELLO_WELCOME;
            break;
        }
        if (reply->body_case == SLUICE__ENVELOPE__BODY_REFUSE) {
            snprintf (err, errlen, "the broker at %s refused: %s", self->broker,
                      reply->refuse->reason);
            sl_proto_free (&reply);
            rc = SL_HELLO_REFUSED;
            break;
        }
        //  Anything else is left over from an earlier session: ignore it.
        sl_proto_free (&reply);
    }
    zpoller_destroy (&poller);
    return rc;
}
