/*  sl_client - a client's link to the broker, see sl_client.h.  */
#include "sl_client.h"

#include <errno.h>
#include <string.h>
#include <zmq.h>

#include "sl_follow.h"
#include "sl_log.h"

#define HELLO_RESEND_MS 250
#define HELLO_CONNECT_POLL_MS 5
#define HELLO_UNSENT_RETRY_MS 10 //  a hello after a loss that found no connection: again
#define HANDSHAKE_FAILURES 3 //  failed handshakes in a row that end a hello
#define MAX_SOCKETS 8

struct _sl_client_t {
    sl_follow_t follow;             //  the brokers given, and the one in use (sl_follow.h)
    char broker [SL_FOLLOW_ADDR];   //  the one in use: sl_follow_current
    zsock_t *control;               //  DEALER to the control port
    zsock_t *sockets [MAX_SOCKETS]; //  data sockets opened with sl_client_open
    sl_port_t ports [MAX_SOCKETS];  //  the broker port each is connected to
    size_t nsockets;                //  how many of them
    zframe_t *hello;                //  the packed hello, re-sent after a loss
    char broker_id [64];            //  the broker instance that welcomed us
    uint32_t heartbeat_ms;          //  agreed interval
    bool connected;                 //  welcomed and not lost since
    int64_t last_answer;            //  last heartbeat answer or welcome (ms)
    bool unsent;                    //  the last heartbeat found no connection to the broker
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
    sl_follow_t follow;
    if (sl_follow_init (&follow, broker, zclock_mono (), err, errlen) ||
        sl_endpoint_derive (sl_follow_current (&follow), SL_PORT_CONTROL, endpoint,
                            sizeof endpoint, err, errlen))
        return NULL;
    sl_client_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->follow = follow;
    snprintf (self->broker, sizeof self->broker, "%s", sl_follow_current (&follow));
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
    self->ports [self->nsockets] = port;
    self->sockets [self->nsockets++] = sock;
    return sock;
}

zsock_t *sl_client_open_delivery (sl_client_t *self, const char *name, char *err, size_t errlen)
{
    assert (self);
    assert (name && name [0]);
    char saved [sizeof self->routing_id];
    snprintf (saved, sizeof saved, "%s", self->routing_id);
    snprintf (self->routing_id, sizeof self->routing_id, "%s", name);
    zsock_t *sock = sl_client_open (self, SL_PORT_DELIVERY, ZMQ_DEALER, 0, err, errlen);
    snprintf (self->routing_id, sizeof self->routing_id, "%s", saved);
    return sock;
}

//  Moves the control socket and every data socket from the broker in use
//  to the one sl_follow now names (why: for the log).
static void s_switch (sl_client_t *self, const char *why)
{
    char from [300], to [300], err [256];
    const char *next = sl_follow_current (&self->follow);
    sl_warn ("the broker at %s %s; trying %s", self->broker, why, next);
    for (size_t i = 0; i <= self->nsockets; i++) {
        zsock_t *sock = i < self->nsockets ? self->sockets [i] : self->control;
        sl_port_t port = i < self->nsockets ? self->ports [i] : SL_PORT_CONTROL;
        if (sl_endpoint_derive (self->broker, port, from, sizeof from, err, sizeof err) == 0)
            zsock_disconnect (sock, "%s", from);
        if (sl_endpoint_derive (next, port, to, sizeof to, err, sizeof err) == 0)
            zsock_connect (sock, "%s", to);
    }
    snprintf (self->broker, sizeof self->broker, "%s", next);
    self->handshake_failures = 0;
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
    self->unsent = false;
    self->next_heartbeat = now + self->heartbeat_ms;
    self->refused_logged = false;
}

//  The state of one sl_client_hello.
typedef struct {
    int64_t start;       //  when it began (ms)
    int64_t next_send;   //  when to send the hello again
    int64_t retry_until; //  refused with a retry window: until then
    int64_t next_notice; //  when to log "waiting for broker" next
} hello_wait_t;

//  A refusal while saying hello. Returns SL_HELLO_REFUSED (with err) if
//  it ends the hello, SL_HELLO_TIMEOUT to go on.
static sl_hello_t s_hello_refused (sl_client_t *self, Sluice__Refuse *refuse, hello_wait_t *w,
                                   char *err, size_t errlen)
{
    int64_t at = zclock_mono ();
    sl_follow_action_t action = sl_follow_refused (&self->follow, refuse->reason, at);
    if (action == SL_FOLLOW_SWITCH) {
        s_switch (self, refuse->reason);
        w->next_send = at;
        return SL_HELLO_TIMEOUT;
    }
    if (action == SL_FOLLOW_STAY) {
        //  A standby, and no other broker to try: ask again soon, so that
        //  its takeover is found within SL_FOLLOW_RETRY_MS.
        w->next_send = at + SL_FOLLOW_RETRY_MS;
        return SL_HELLO_TIMEOUT;
    }
    if (refuse->retry_ms && !w->retry_until) {
        //  It may pass later: keep saying hello for that long.
        w->retry_until = at + refuse->retry_ms;
        sl_warn ("the broker at %s says: %s; trying again for %.1f s", self->broker,
                 refuse->reason, refuse->retry_ms / 1000.0);
    }
    if (w->retry_until && at < w->retry_until)
        return SL_HELLO_TIMEOUT;
    snprintf (err, errlen, "the broker at %s refused: %s", self->broker, refuse->reason);
    return SL_HELLO_REFUSED;
}

//  Reads what came while saying hello. Returns SL_HELLO_WELCOME (the
//  caller owns *welcome_p), SL_HELLO_REFUSED (err), or SL_HELLO_TIMEOUT to
//  go on waiting.
static sl_hello_t s_hello_read (sl_client_t *self, void *which, hello_wait_t *w,
                                sl_env_t **welcome_p, char *err, size_t errlen)
{
    if (which == self->monitor)
        return s_handshake_failed (self, err, errlen) ? SL_HELLO_REFUSED : SL_HELLO_TIMEOUT;
    sl_env_t *reply = NULL;
    char why [256];
    sl_recv_t got = sl_proto_recv (self->control, &reply, NULL, why, sizeof why);
    if (got == SL_RECV_NONE)
        return SL_HELLO_TIMEOUT;
    if (got != SL_RECV_OK) {
        snprintf (err, errlen, "the peer at %s is not a compatible sluice broker: %s",
                  self->broker, why);
        return SL_HELLO_REFUSED;
    }
    sl_hello_t rc = SL_HELLO_TIMEOUT;
    if (reply->body_case == SLUICE__ENVELOPE__BODY_WELCOME) {
        s_welcomed (self, reply->welcome, zclock_mono ());
        *welcome_p = reply;
        return SL_HELLO_WELCOME;
    }
    if (reply->body_case == SLUICE__ENVELOPE__BODY_REFUSE)
        rc = s_hello_refused (self, reply->refuse, w, err, errlen);
    //  Anything else is left over from an earlier session: ignore it.
    sl_proto_free (&reply);
    return rc;
}

//  One turn of waiting for the broker: gives up, sends the hello again or
//  moves to the next broker when it is time. Returns how long to wait
//  (ms), or -1 with rc and err when the hello ends.
static int64_t s_hello_turn (sl_client_t *self, sl_env_t *env, int64_t timeout_ms,
                             hello_wait_t *w, sl_hello_t *rc, char *err, size_t errlen)
{
    int64_t now = zclock_mono ();
    char list [SL_FOLLOW_MAX * SL_FOLLOW_ADDR];
    sl_follow_list (&self->follow, list, sizeof list);
    if (zsys_interrupted) {
        *rc = SL_HELLO_INTERRUPTED;
        snprintf (err, errlen, "interrupted while waiting for the broker at %s", list);
        return -1;
    }
    if (timeout_ms >= 0 && now - w->start >= timeout_ms) {
        *rc = SL_HELLO_TIMEOUT;
        snprintf (err, errlen,
                  "no broker answered at %s within %.1f s (is sluice-broker running there? "
                  "see --connect-timeout)",
                  list, timeout_ms / 1000.0);
        return -1;
    }
    if (now >= w->next_notice) {
        sl_warn ("waiting for broker at %s ...", list);
        w->next_notice = now + 30000;
    }
    if (sl_follow_silent (&self->follow, now) == SL_FOLLOW_SWITCH) {
        s_switch (self, "does not answer");
        w->next_send = now;
    }
    if (now >= w->next_send) {
        //  EAGAIN just means "not connected yet" with ZMQ_IMMEDIATE:
        //  try again soon, so that a broker that is there hears us at
        //  once; once sent, give it time to answer.
        bool sent = sl_proto_send (self->control, NULL, env, ZMQ_DONTWAIT) == 0;
        w->next_send = now + (sent ? HELLO_RESEND_MS : HELLO_CONNECT_POLL_MS);
    }
    int64_t wait = w->next_send - now;
    if (timeout_ms >= 0 && w->start + timeout_ms - now < wait)
        wait = w->start + timeout_ms - now;
    return wait < 1 ? 1 : wait;
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
    hello_wait_t w = { .start = start, .next_send = start, .next_notice = start + 1000 };
    zpoller_t *poller = zpoller_new (self->control, NULL);
    if (self->monitor)
        zpoller_add (poller, self->monitor);
    sl_hello_t rc = SL_HELLO_TIMEOUT;
    while (true) {
        int64_t wait = s_hello_turn (self, &env, timeout_ms, &w, &rc, err, errlen);
        if (wait < 0)
            break;
        void *which = zpoller_wait (poller, (int) wait);
        if (which && (rc = s_hello_read (self, which, &w, welcome_p, err, errlen)) !=
                         SL_HELLO_TIMEOUT)
            break;
    }
    zpoller_destroy (&poller);
    if (rc == SL_HELLO_WELCOME && hello->role == SLUICE__ROLE__ROLE_SINK &&
        (*welcome_p)->welcome->delivery != SL_DELIVERY_VERSION) {
        uint32_t theirs = (*welcome_p)->welcome->delivery;
        snprintf (err, errlen,
                  "the broker at %s delivers results with delivery protocol %u (%s) and this "
                  "collector speaks delivery protocol %d: use a broker of this version",
                  self->broker, theirs ? theirs : 1,
                  theirs < SL_DELIVERY_VERSION ? "an older sluice, one sink at a time over PUSH"
                                               : "a newer sluice",
                  SL_DELIVERY_VERSION);
        sl_proto_free (welcome_p);
        rc = SL_HELLO_REFUSED;
    }
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
    sl_client_heartbeat_sent (self, now, sl_client_send (self, &env) == 0);
}

void sl_client_heartbeat_sent (sl_client_t *self, int64_t now, bool sent)
{
    assert (self);
    //  With ZMQ_IMMEDIATE a send fails only without a connection (or with
    //  a full queue): the broker's process is gone, or its host refuses.
    self->unsent = !sent;
    self->next_heartbeat = now + self->heartbeat_ms;
}

//  Says hello again now; the welcome is handled by sl_client_handle.
static void s_rehello (sl_client_t *self, int64_t now)
{
    self->connected = false;
    bool sent = false;
    if (self->hello) {
        zframe_t *copy = zframe_dup (self->hello);
        sent = zframe_send (&copy, self->control, ZFRAME_DONTWAIT) == 0;
        if (!sent)
            zframe_destroy (&copy);
    }
    //  Not sent: not connected yet (ZMQ_IMMEDIATE), e.g. just moved to
    //  another broker: try again soon, as sl_client_hello does.
    self->next_hello = now + (!sent                     ? HELLO_UNSENT_RETRY_MS
                              : self->heartbeat_ms < 1000 ? self->heartbeat_ms
                                                          : 1000);
}

sl_link_t sl_client_tick (sl_client_t *self, int64_t now)
{
    assert (self);
    if (self->connected) {
        if (sl_follow_link_lost (&self->follow, now - self->last_answer, self->heartbeat_ms,
                                 self->unsent)) {
            if (sl_ratelimit_allow (&self->link_log, now, NULL))
                sl_warn ("the broker at %s has not answered for %lld ms%s; reconnecting",
                         self->broker, (long long) (now - self->last_answer),
                         self->unsent ? " and is not connected" : "");
            //  To the next broker at once, if there is one: a standby
            //  there is about to take over (sl_follow.h).
            if (sl_follow_lost (&self->follow, now) == SL_FOLLOW_SWITCH)
                s_switch (self, "is lost");
            s_rehello (self, now);
            return SL_LINK_LOST;
        }
    } else if (self->hello && now >= self->next_hello) {
        if (sl_follow_silent (&self->follow, now) == SL_FOLLOW_SWITCH)
            s_switch (self, "does not answer");
        s_rehello (self, now);
    }
    return SL_LINK_NONE;
}

bool sl_client_silent (sl_client_t *self, int64_t silent_ms, int64_t now)
{
    assert (self);
    uint32_t beat = self->heartbeat_ms ? self->heartbeat_ms : 1000;
    if (silent_ms <= 3 * (int64_t) beat ||
        sl_follow_silent (&self->follow, now) != SL_FOLLOW_SWITCH)
        return false;
    s_switch (self, "does not answer");
    return true;
}

int64_t sl_client_next_wake (sl_client_t *self)
{
    assert (self);
    if (!self->connected)
        return self->next_hello;
    int64_t lost_at =
        sl_follow_lost_at (&self->follow, self->last_answer, self->heartbeat_ms, self->unsent);
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
            } else {
                self->last_answer = now;
                self->unsent = false;
            }
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
            if (sl_follow_refused (&self->follow, env->refuse->reason, now) != SL_FOLLOW_FINAL) {
                //  A standby: to the broker it names, or the next one, or
                //  this one again until it takes over.
                bool moved = strcmp (sl_follow_current (&self->follow), self->broker) != 0;
                if (moved)
                    s_switch (self, env->refuse->reason);
                self->connected = false;
                //  A standby that stays the one to ask: again soon (not at
                //  once: that would be a hello per round trip).
                self->next_hello = moved ? now : now + SL_FOLLOW_RETRY_MS;
                return SL_LINK_NONE;
            }
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

sl_env_t *sl_client_recv (sl_client_t *self, int64_t now, sl_link_t *link, bool *consumed)
{
    assert (self);
    sl_env_t *env = NULL;
    char why [256];
    sl_recv_t rc;
    while ((rc = sl_proto_recv (sl_client_control (self), &env, NULL, why, sizeof why)) !=
           SL_RECV_NONE) {
        if (rc == SL_RECV_OK) {
            *link = sl_client_handle (self, env, now, consumed);
            return env;
        }
        sl_warn_dropped ("dropped a bad message from the broker: %s", why);
    }
    return NULL;
}
