/*  sl_client - a client's link to the broker, see sl_client.h.  */
#include "sl_client.h"

#include <errno.h>
#include <string.h>
#include <zmq.h>

#include "sl_log.h"

#define HELLO_RESEND_MS 250
#define HELLO_CONNECT_POLL_MS 5
#define HANDSHAKE_FAILURES 3 //  failed handshakes in a row that end a hello
#define MAX_SOCKETS 8

struct _sl_client_t {
    char broker [256];              //  the address the user gave
    zsock_t *control;               //  DEALER to the control port
    zsock_t *sockets [MAX_SOCKETS]; //  data sockets opened with sl_client_open
    size_t nsockets;                //  how many of them
    zframe_t *hello;                //  the packed hello, re-sent after a loss
    char broker_id [64];            //  the broker instance that welcomed us
    uint32_t heartbeat_ms;          //  agreed interval
    bool connected;                 //  welcomed and not lost since
    int64_t last_answer;            //  last heartbeat answer or welcome (ms)
    int64_t next_heartbeat;         //  when the next heartbeat is due
    int64_t next_hello;             //  while lost: when to say hello again
    bool refused_logged;            //  a refusal after a loss was logged
    char routing_id [256];          //  routing id for sockets opened, "" = none
    int sndhwm;                     //  send high-water mark for sockets opened, 0 = libzmq's
    const sl_curve_client_t *curve; //  CurveZMQ settings (borrowed), or NULL
    zactor_t *monitor;              //  watches the control socket's handshakes until welcomed
    sl_ratelimit_t link_log;        //  a broker that makes the link flap must not flood the log
    int handshake_failures;         //  failed handshakes seen while saying hello
};

sl_client_t *sl_client_new (const char *broker, const sl_curve_client_t *curve, char *err,
                            size_t errlen)
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
    self->curve = curve;
    self->link_log = (sl_ratelimit_t) SL_RATELIMIT_INIT (10, 60000);
    zsock_set_immediate (self->control, 1);
    zsock_set_linger (self->control, 200);
    sl_curve_client_apply (curve, self->control);
    //  A failed handshake (wrong keys, CurveZMQ on one side only) shows up
    //  nowhere but in socket events: watch for them while saying hello.
    self->monitor = zactor_new (zmonitor, self->control);
    if (self->monitor) {
        zstr_sendx (self->monitor, "LISTEN", "HANDSHAKE_FAILED_NO_DETAIL",
                    "HANDSHAKE_FAILED_PROTOCOL", "HANDSHAKE_FAILED_AUTH", NULL);
        zstr_sendx (self->monitor, "START", NULL);
        zsock_wait (self->monitor);
    }
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
        zactor_destroy (&self->monitor);
        for (size_t i = 0; i < self->nsockets; i++)
            zsock_destroy (&self->sockets [i]);
        zframe_destroy (&self->hello);
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

void sl_client_set_routing_id (sl_client_t *self, const char *routing_id)
{
    assert (self);
    snprintf (self->routing_id, sizeof self->routing_id, "%s", routing_id ? routing_id : "");
}

void sl_client_set_sndhwm (sl_client_t *self, int messages)
{
    assert (self);
    self->sndhwm = messages;
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
    if (self->routing_id [0] && type == ZMQ_DEALER)
        zsock_set_identity (sock, self->routing_id);
    if (self->sndhwm > 0)
        zsock_set_sndhwm (sock, self->sndhwm); //  before connect: pipes take it then
    sl_curve_client_apply (self->curve, sock);
    //  No ZMTP heartbeats on the client's side: libzmq 4.3.4 asserts
    //  (!_io_error, stream_engine_base.cpp) when a heartbeat timeout resets
    //  a connection whose receive queue is full (libzmq#4364, #4767), which
    //  a worker's small task queue makes likely. The broker's side has them;
    //  the client notices a dead broker by its own heartbeats.
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

//  Reads a socket event from the monitor. True (with err) if it says the
//  handshake with the broker failed.
static bool s_handshake_failed (sl_client_t *self, char *err, size_t errlen)
{
    char *event = NULL, *value = NULL, *address = NULL;
    if (zstr_recvx (self->monitor, &event, &value, &address, NULL) < 1)
        return false;
    //  A refused key or a protocol mismatch is final. A handshake that just
    //  broke off may be a broker that died in the middle of it: only when
    //  that repeats (as a key mismatch does at every reconnect) is it final.
    bool failed = event && strncmp (event, "HANDSHAKE_FAILED", 16) == 0 &&
                  (!streq (event, "HANDSHAKE_FAILED_NO_DETAIL") ||
                   ++self->handshake_failures >= HANDSHAKE_FAILURES);
    const char *token = self->curve ? self->curve->token_origin : "";
    if (failed && streq (event, "HANDSHAKE_FAILED_AUTH") && token [0])
        snprintf (err, errlen,
                  "the broker at %s refused this client's join token (%s): it was rotated, or it "
                  "is another cluster's; `sluice-ctl token` on the broker host prints the "
                  "current one",
                  self->broker, token);
    else if (failed && streq (event, "HANDSHAKE_FAILED_AUTH"))
        snprintf (err, errlen,
                  "the broker at %s refused this client's CurveZMQ key (is its public "
                  "certificate in the broker's --curve-clients directory?)",
                  self->broker);
    else if (failed && token [0])
        snprintf (err, errlen,
                  "the CurveZMQ handshake with the broker at %s failed: keys do not match: the "
                  "join token (%s) is another broker's, or this broker does not use CurveZMQ "
                  "(`sluice-ctl token` on the broker host prints its token)",
                  self->broker, token);
    else if (failed && sl_curve_client_on (self->curve))
        snprintf (err, errlen,
                  "the CurveZMQ handshake with the broker at %s failed: keys do not match (wrong "
                  "--curve-server certificate, or CurveZMQ on one side only: a broker started "
                  "with --curve-secret needs clients with --curve-server, and the other way "
                  "round)",
                  self->broker);
    else if (failed)
        snprintf (err, errlen,
                  "the CurveZMQ handshake with the broker at %s failed: this client speaks plain, "
                  "and the broker admits only clients with its key. A broker that listens beyond "
                  "loopback wants its join token: give --token TOKEN or $" SL_TOKEN_ENV
                  " (on the broker host `sluice-ctl token` prints it); a broker with "
                  "--curve-secret wants --curve-server",
                  self->broker);
    zstr_free (&event);
    zstr_free (&value);
    zstr_free (&address);
    return failed;
}

static void s_welcomed (sl_client_t *self, Sluice__Welcome *welcome, int64_t now)
{
    snprintf (self->broker_id, sizeof self->broker_id, "%s", welcome->broker_id);
    self->heartbeat_ms = welcome->heartbeat_ms ? welcome->heartbeat_ms : 1000;
    self->connected = true;
    self->last_answer = now;
    self->next_heartbeat = now + self->heartbeat_ms;
    self->refused_logged = false;
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

    zframe_destroy (&self->hello);
    self->hello = sl_proto_encode (&env);
    int64_t start = zclock_mono ();
    int64_t next_send = start;
    int64_t retry_until = 0; //  refused with a retry window: until then
    int64_t next_notice = start + 1000;
    zpoller_t *poller = zpoller_new (self->control, NULL);
    if (self->monitor)
        zpoller_add (poller, self->monitor);
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
            //  EAGAIN just means "not connected yet" with ZMQ_IMMEDIATE:
            //  try again soon, so that a broker that is there hears us at
            //  once; once sent, give it time to answer.
            bool sent = sl_proto_send (self->control, NULL, &env, ZMQ_DONTWAIT) == 0;
            next_send = now + (sent ? HELLO_RESEND_MS : HELLO_CONNECT_POLL_MS);
        }
        int64_t wait = next_send - now;
        if (timeout_ms >= 0 && start + timeout_ms - now < wait)
            wait = start + timeout_ms - now;
        if (wait < 1)
            wait = 1;
        void *which = zpoller_wait (poller, (int) wait);
        if (!which)
            continue;
        if (which == self->monitor) {
            if (s_handshake_failed (self, err, errlen)) {
                rc = SL_HELLO_REFUSED;
                break;
            }
            continue;
        }
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
            s_welcomed (self, reply->welcome, zclock_mono ());
            *welcome_p = reply;
            rc = SL_HELLO_WELCOME;
            break;
        }
        if (reply->body_case == SLUICE__ENVELOPE__BODY_REFUSE) {
            int64_t at = zclock_mono ();
            if (reply->refuse->retry_ms && !retry_until) {
                //  It may pass later: keep saying hello for that long.
                retry_until = at + reply->refuse->retry_ms;
                sl_warn ("the broker at %s says: %s; trying again for %.1f s", self->broker,
                         reply->refuse->reason, reply->refuse->retry_ms / 1000.0);
            }
            if (!retry_until || at >= retry_until) {
                snprintf (err, errlen, "the broker at %s refused: %s", self->broker,
                          reply->refuse->reason);
                sl_proto_free (&reply);
                rc = SL_HELLO_REFUSED;
                break;
            }
        }
        //  Anything else is left over from an earlier session: ignore it.
        sl_proto_free (&reply);
    }
    zpoller_destroy (&poller);
    if (rc == SL_HELLO_WELCOME)
        zactor_destroy (&self->monitor); //  handshakes are fine: no need to watch
    return rc;
}

//  --- The link after the welcome ---------------------------------------------

void sl_client_set_hello (sl_client_t *self, Sluice__Hello *hello)
{
    assert (self);
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_HELLO;
    env.hello = hello;
    zframe_t *frame = sl_proto_encode (&env);
    if (frame) {
        zframe_destroy (&self->hello);
        self->hello = frame;
    }
}

bool sl_client_connected (sl_client_t *self)
{
    assert (self);
    return self->connected;
}

uint32_t sl_client_heartbeat_ms (sl_client_t *self)
{
    assert (self);
    return self->heartbeat_ms;
}

const char *sl_client_broker_id (sl_client_t *self)
{
    assert (self);
    return self->broker_id;
}

bool sl_client_heartbeat_due (sl_client_t *self, int64_t now)
{
    assert (self);
    return self->connected && now >= self->next_heartbeat;
}

void sl_client_heartbeat (sl_client_t *self, Sluice__Heartbeat *hb, int64_t now)
{
    assert (self);
    Sluice__Heartbeat empty = SLUICE__HEARTBEAT__INIT;
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = hb ? hb : &empty;
    sl_client_send (self, &env);
    self->next_heartbeat = now + self->heartbeat_ms;
}

void sl_client_heartbeat_sent (sl_client_t *self, int64_t now)
{
    assert (self);
    self->next_heartbeat = now + self->heartbeat_ms;
}

//  Says hello again now; the welcome is handled by sl_client_handle.
static void s_rehello (sl_client_t *self, int64_t now)
{
    self->connected = false;
    if (self->hello) {
        zframe_t *copy = zframe_dup (self->hello);
        if (zframe_send (&copy, self->control, ZFRAME_DONTWAIT))
            zframe_destroy (&copy);
    }
    self->next_hello = now + (self->heartbeat_ms < 1000 ? self->heartbeat_ms : 1000);
}

sl_link_t sl_client_tick (sl_client_t *self, int64_t now)
{
    assert (self);
    if (self->connected) {
        if (now - self->last_answer > 3 * (int64_t) self->heartbeat_ms) {
            if (sl_ratelimit_allow (&self->link_log, now, NULL))
                sl_warn ("the broker at %s has not answered for %lld ms; reconnecting",
                         self->broker, (long long) (now - self->last_answer));
            s_rehello (self, now);
            return SL_LINK_LOST;
        }
    } else if (self->hello && now >= self->next_hello)
        s_rehello (self, now);
    return SL_LINK_NONE;
}

int64_t sl_client_next_wake (sl_client_t *self)
{
    assert (self);
    if (!self->connected)
        return self->next_hello;
    int64_t lost_at = self->last_answer + 3 * (int64_t) self->heartbeat_ms + 1;
    return self->next_heartbeat < lost_at ? self->next_heartbeat : lost_at;
}

sl_link_t sl_client_handle (sl_client_t *self, sl_env_t *env, int64_t now, bool *consumed)
{
    assert (self);
    assert (env);
    *consumed = true;
    switch (env->body_case) {
        case SLUICE__ENVELOPE__BODY_HEARTBEAT:
            if (env->heartbeat->rehello || !streq (env->heartbeat->broker_id, self->broker_id)) {
                if (self->connected && sl_ratelimit_allow (&self->link_log, now, NULL))
                    sl_warn ("the broker at %s %s; saying hello again", self->broker,
                             env->heartbeat->rehello ? "does not know this client" : "restarted");
                if (self->connected)
                    s_rehello (self, now);
            } else
                self->last_answer = now;
            return SL_LINK_NONE;
        case SLUICE__ENVELOPE__BODY_WELCOME: {
            if (self->connected && streq (env->welcome->broker_id, self->broker_id))
                return SL_LINK_NONE; //  an answer to a hello re-sent before
            bool same = streq (env->welcome->broker_id, self->broker_id);
            s_welcomed (self, env->welcome, now);
            if (sl_ratelimit_allow (&self->link_log, now, NULL))
                sl_info ("%s broker %s at %s", same ? "reconnected to" : "connected to new",
                         self->broker_id, self->broker);
            return same ? SL_LINK_BACK : SL_LINK_RESTARTED;
        }
        case SLUICE__ENVELOPE__BODY_REFUSE:
            if (!self->refused_logged)
                sl_error ("the broker at %s refused: %s", self->broker, env->refuse->reason);
            self->refused_logged = true;
            self->connected = false;
            return SL_LINK_REFUSED;
        default:
            *consumed = false;
            return SL_LINK_NONE;
    }
}

void sl_client_send_ack (void *client, const Sluice__Ack *ack)
{
    sl_env_t env = SLUICE__ENVELOPE__INIT;
    env.body_case = SLUICE__ENVELOPE__BODY_ACK;
    env.ack = (Sluice__Ack *) ack;
    sl_client_send ((sl_client_t *) client, &env);
}
