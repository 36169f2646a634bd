/*  admit - the broker's ZAP handler, see admit.h.  */
#include "admit.h"

#include <string.h>

#include "sl_log.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define MONITOR_ENDPOINT "inproc://sluice-admit-monitor"

typedef struct {
    zsock_t *pipe;           //  to the broker's thread
    zsock_t *handler;        //  REP bound to ZAP_ENDPOINT
    zsock_t *monitor;        //  PAIR: handshake failures on the watched socket, or NULL
    char token_key [41];     //  the cluster client's public key, "" = none
    zcertstore_t *store;     //  --curve-clients, or NULL
    char clients_dir [4096]; //  its directory, for the log
    sl_ratelimit_t refusals; //  refusals logged at a bounded rate
} s_admit_t;

bool admit_allows (const char *token_key, zcertstore_t *store, const char *key)
{
    bool token = token_key && token_key [0];
    if (token && streq (key, token_key))
        return true;
    if (store)
        return zcertstore_lookup (store, key) != NULL;
    return !token;
}

//  Answers one ZAP request: [version][id][domain][address][identity]
//  [mechanism][credentials...] -> [version][id][status][text][user][metadata].
static void s_on_request (s_admit_t *self)
{
    zmsg_t *request = zmsg_recv (self->handler);
    if (!request)
        return;
    char *version = zmsg_popstr (request);
    char *id = zmsg_popstr (request);
    char *domain = zmsg_popstr (request);
    char *address = zmsg_popstr (request);
    char *identity = zmsg_popstr (request);
    char *mechanism = zmsg_popstr (request);
    zframe_t *credentials = zmsg_pop (request);
    char key [41] = "";
    bool allowed = false;
    const char *why = "it does not speak CurveZMQ";
    if (mechanism && streq (mechanism, "CURVE") && credentials && zframe_size (credentials) == 32) {
        zmq_z85_encode (key, zframe_data (credentials), 32);
        allowed = admit_allows (self->token_key, self->store, key);
        why = self->token_key [0] && self->store
                  ? "its key is neither the join token's nor in --curve-clients"
              : self->token_key [0] ? "its key is not the join token's (an old token, or "
                                      "another cluster's?)"
                                    : "its key is not in --curve-clients";
    }
    uint32_t suppressed = 0;
    if (!allowed && sl_ratelimit_allow (&self->refusals, zclock_mono (), &suppressed))
        sl_warn ("refused the client at %s: %s (key %s)%s%s", address ? address : "?", why,
                 key [0] ? key : "-",
                 self->token_key [0] ? "; give it the join token: sluice-ctl token prints it "
                                       "on this host"
                                     : "",
                 suppressed ? " (and more refusals not logged)" : "");
    zsock_send (self->handler, "ssssss", version ? version : "1.0", id ? id : "",
                allowed ? "200" : "400", allowed ? "OK" : "not admitted", allowed ? key : "", "");
    zstr_free (&version);
    zstr_free (&id);
    zstr_free (&domain);
    zstr_free (&address);
    zstr_free (&identity);
    zstr_free (&mechanism);
    zframe_destroy (&credentials);
    zmsg_destroy (&request);
}

//  A handshake that failed before any key reached the handler: a client
//  that speaks plain (mechanism mismatch) or holds another broker's key.
//  libzmq names the broker's endpoint only, not the client's address.
static void s_on_event (s_admit_t *self)
{
    zframe_t *head = zframe_recv (self->monitor);
    char *endpoint = zsock_rcvmore (self->monitor) ? zstr_recv (self->monitor) : NULL;
    if (head && zframe_size (head) == 6) {
        uint32_t value;
        memcpy (&value, zframe_data (head) + 2, 4);
        uint32_t suppressed = 0;
        if (sl_ratelimit_allow (&self->refusals, zclock_mono (), &suppressed))
            sl_warn ("refused a client on %s: %s%s%s", endpoint ? endpoint : "?",
                     value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
                         ? "it does not speak CurveZMQ"
                         : "its CurveZMQ handshake failed (another broker's key?)",
                     self->token_key [0] ? "; clients need the join token: sluice-ctl token prints "
                                           "it on this host"
                                         : "",
                     suppressed ? " (and more refusals not logged)" : "");
    }
    zframe_destroy (&head);
    zstr_free (&endpoint);
}

//  Commands from the broker's thread: KEY z85, WATCH, $TERM.
static bool s_on_command (s_admit_t *self)
{
    char *command = NULL, *value = NULL;
    if (zstr_recvx (self->pipe, &command, &value, NULL) < 1)
        return false;
    bool go_on = !streq (command, "$TERM");
    if (streq (command, "KEY") && value) {
        snprintf (self->token_key, sizeof self->token_key, "%s", value);
        zsock_signal (self->pipe, 0);
    } else if (streq (command, "WATCH") && !self->monitor) {
        self->monitor = zsock_new_pair (">" MONITOR_ENDPOINT);
        zsock_signal (self->pipe, self->monitor ? 0 : 1);
    }
    zstr_free (&command);
    zstr_free (&value);
    return go_on;
}

//  What admit_new hands the actor, and what the actor says back before it
//  signals that it is ready (zactor_new waits for that signal).
typedef struct {
    const admit_config_t *config; //  what to admit
    bool bound;                   //  out: the handler is bound
} s_start_t;

static void s_actor (zsock_t *pipe, void *args)
{
    s_start_t *start = (s_start_t *) args;
    const admit_config_t *config = start->config;
    s_admit_t self = { .pipe = pipe, .refusals = SL_RATELIMIT_INIT (10, 60000) };
    if (config->token_key)
        snprintf (self.token_key, sizeof self.token_key, "%s", config->token_key);
    if (config->clients_dir) {
        snprintf (self.clients_dir, sizeof self.clients_dir, "%s", config->clients_dir);
        self.store = zcertstore_new (config->clients_dir);
    }
    self.handler = zsock_new (ZMQ_REP);
    if (!self.handler || zsock_bind (self.handler, ZAP_ENDPOINT) != 0) {
        zsock_destroy (&self.handler);
        zcertstore_destroy (&self.store);
        zsock_signal (pipe, 1);
        return;
    }
    start->bound = true;
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, self.handler, NULL);
    bool watching = false; //  the monitor is in the poller
    while (poller) {
        zsock_t *which = (zsock_t *) zpoller_wait (poller, -1);
        if (which == self.handler)
            s_on_request (&self);
        else if (which && which == self.monitor)
            s_on_event (&self);
        else if (which != pipe || !s_on_command (&self))
            break;
        if (self.monitor && !watching)
            watching = zpoller_add (poller, self.monitor) == 0;
    }
    zpoller_destroy (&poller);
    zsock_destroy (&self.monitor);
    zsock_destroy (&self.handler);
    zcertstore_destroy (&self.store);
}

zactor_t *admit_new (const admit_config_t *config, char *err, size_t errlen)
{
    assert (config);
    s_start_t start = { config, false };
    zactor_t *self = zactor_new (s_actor, &start);
    if (self && !start.bound)
        zactor_destroy (&self);
    if (!self) {
        snprintf (err, errlen, "cannot start the CurveZMQ authenticator (%s in use?)",
                  ZAP_ENDPOINT);
        return NULL;
    }
    return self;
}

int admit_watch (zactor_t *self, zsock_t *sock)
{
    assert (self);
    //  Not HANDSHAKE_FAILED_NO_DETAIL: a client that goes away in the
    //  middle of a handshake is no refusal.
    if (zmq_socket_monitor (zsock_resolve (sock), MONITOR_ENDPOINT,
                            ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) != 0)
        return -1;
    zstr_sendx (self, "WATCH", NULL);
    return zsock_wait (self) == 0 ? 0 : -1;
}

void admit_set_token_key (zactor_t *self, const char *token_key)
{
    assert (self);
    zstr_sendx (self, "KEY", token_key, NULL);
    zsock_wait (self);
}
