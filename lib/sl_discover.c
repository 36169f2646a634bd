/*  sl_discover - the broker's UDP beacons and the clients that listen for
    them, see sl_discover.h. The beacon format is pure code (encode,
    decode); the rest drives a czmq zbeacon actor.
*/
#include "sl_discover.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sl_endpoint.h"
#include "sl_log.h"
#include "sl_util.h"

#define MAGIC "SLUICE"
#define MAGIC_SIZE 6
#define HEADER_SIZE (MAGIC_SIZE + 3) //  magic, version, port
#define NOTICE_FIRST_MS 1000         //  "waiting for a sluice broker" after this
#define NOTICE_EVERY_MS 30000        //  and again this often

#define FLAG_STANDBY 1 //  the flags byte after a standby's name

struct _sl_discover_t {
    zactor_t *beacon;          //  czmq zbeacon actor, publishing our beacon
    sl_discover_beacon_t says; //  what it publishes
};

static bool s_name_valid (const char *name, size_t len)
{
    if (len > SL_DISCOVER_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name [i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

//  A base port leaves room for the ports derived from it.
static bool s_port_valid (unsigned port)
{
    return port >= 1 && port <= 65535 - (SL_PORT_COUNT - 1);
}

size_t sl_discover_encode (const sl_discover_beacon_t *beacon, uint8_t *buf, size_t len)
{
    assert (beacon);
    size_t namelen = strnlen (beacon->name, sizeof beacon->name);
    size_t trailer = beacon->standby ? 2 : 0;
    if (!s_port_valid (beacon->port) || !s_name_valid (beacon->name, namelen) ||
        len < HEADER_SIZE + namelen + trailer)
        return 0;
    memcpy (buf, MAGIC, MAGIC_SIZE);
    buf [MAGIC_SIZE] = SL_DISCOVER_VERSION;
    buf [MAGIC_SIZE + 1] = (uint8_t) (beacon->port >> 8);
    buf [MAGIC_SIZE + 2] = (uint8_t) (beacon->port & 0xff);
    memcpy (buf + HEADER_SIZE, beacon->name, namelen);
    if (beacon->standby) {
        buf [HEADER_SIZE + namelen] = '\0';
        buf [HEADER_SIZE + namelen + 1] = FLAG_STANDBY;
    }
    return HEADER_SIZE + namelen + trailer;
}

int sl_discover_decode (const uint8_t *data, size_t size, sl_discover_beacon_t *beacon, char *why,
                        size_t whylen)
{
    assert (beacon);
    if (size < MAGIC_SIZE || memcmp (data, MAGIC, MAGIC_SIZE) != 0) {
        snprintf (why, whylen, "not a sluice beacon");
        return -1;
    }
    if (size > MAGIC_SIZE && data [MAGIC_SIZE] != SL_DISCOVER_VERSION) {
        snprintf (why, whylen, "a sluice beacon of version %d (this program reads version %d)",
                  data [MAGIC_SIZE], SL_DISCOVER_VERSION);
        return -1;
    }
    if (size < HEADER_SIZE) {
        snprintf (why, whylen, "a truncated sluice beacon (%zu bytes)", size);
        return -1;
    }
    unsigned port = (unsigned) data [MAGIC_SIZE + 1] << 8 | data [MAGIC_SIZE + 2];
    const char *name = (const char *) data + HEADER_SIZE;
    size_t namelen = size - HEADER_SIZE;
    //  A standby's beacon: the name, a NUL, a flags byte.
    const char *nul = memchr (name, '\0', namelen);
    bool standby = false;
    if (nul) {
        if (namelen - (size_t) (nul - name) != 2) {
            snprintf (why, whylen, "a sluice beacon with a bad flags trailer");
            return -1;
        }
        standby = (nul [1] & FLAG_STANDBY) != 0;
        namelen = (size_t) (nul - name);
    }
    if (!s_port_valid (port)) {
        snprintf (why, whylen, "a sluice beacon with port %u", port);
        return -1;
    }
    if (!s_name_valid (name, namelen)) {
        snprintf (why, whylen, "a sluice beacon with a bad broker name");
        return -1;
    }
    beacon->port = (uint16_t) port;
    beacon->standby = standby;
    memcpy (beacon->name, name, namelen);
    beacon->name [namelen] = '\0';
    return 0;
}

void sl_discover_found_init (sl_discover_found_t *self)
{
    assert (self);
    memset (self, 0, sizeof *self);
}

int sl_discover_found_add (sl_discover_found_t *self, const char *endpoint,
                           const sl_discover_beacon_t *beacon)
{
    assert (self && endpoint && beacon);
    for (size_t i = 0; i < self->n; i++)
        if (streq (self->endpoint [i], endpoint)) {
            self->standby [i] = beacon->standby; //  it may have taken over
            return 0;
        }
    if (self->n == SL_DISCOVER_FOUND_MAX) {
        self->dropped++;
        return -1;
    }
    snprintf (self->endpoint [self->n], sizeof self->endpoint [0], "%s", endpoint);
    snprintf (self->name [self->n], sizeof self->name [0], "%s", beacon->name);
    self->standby [self->n] = beacon->standby;
    self->n++;
    return 1;
}

size_t sl_discover_found_list (const sl_discover_found_t *self, char *out, size_t len)
{
    assert (self && out && len > 0);
    size_t used = 0, listed = 0;
    out [0] = '\0';
    for (int standby = 0; standby <= 1; standby++)
        for (size_t i = 0; i < self->n; i++) {
            if (self->standby [i] != (bool) standby)
                continue;
            int n =
                snprintf (out + used, len - used, "%s%s", listed ? "," : "", self->endpoint [i]);
            if (n < 0 || (size_t) n >= len - used) {
                out [used] = '\0'; //  no room for this one: the list so far
                return listed;
            }
            used += (size_t) n;
            listed++;
        }
    return listed;
}

int sl_discover_port (const char *prog, const char *arg, uint16_t *port)
{
    uint64_t value = SL_DISCOVER_PORT;
    if (arg && sl_parse_u64 (prog, "--discover", arg, 1, 65535, &value))
        return -1;
    *port = (uint16_t) value;
    return 0;
}

//  A zbeacon actor on udp_port; *address gets the address of the
//  interface it uses. Returns NULL with err if no interface can broadcast
//  (or the port is taken).
static zactor_t *s_beacon_new (uint16_t udp_port, char *address, size_t addrlen, char *err,
                               size_t errlen)
{
    zactor_t *beacon = zactor_new (zbeacon, NULL);
    if (!beacon) {
        snprintf (err, errlen, "cannot start a UDP beacon");
        return NULL;
    }
    zsock_send (beacon, "si", "CONFIGURE", (int) udp_port);
    char *hostname = zstr_recv (beacon);
    if (!hostname || !*hostname) {
        const char *iface = zsys_interface ();
        snprintf (err, errlen,
                  "cannot use UDP port %u for beacons: no network interface with broadcast%s%s%s "
                  "(ZSYS_INTERFACE chooses one), or the port is taken",
                  udp_port, *iface ? " named '" : "", iface, *iface ? "'" : "");
        zstr_free (&hostname);
        zactor_destroy (&beacon);
        return NULL;
    }
    snprintf (address, addrlen, "%s", hostname);
    zstr_free (&hostname);
    return beacon;
}

static bool s_is_loopback (const char *host)
{
    return strncmp (host, "127.", 4) == 0 || streq (host, "localhost") || streq (host, "lo") ||
           streq (host, "[::1]");
}

//  Beacons must leave from the interface the broker listens on, since
//  clients connect to the address they come from: for --bind on one
//  address (or interface name), that interface; for any other host
//  (*, a host name), zbeacon's choice.
static int s_choose_interface (const char *host, char *err, size_t errlen)
{
    if (s_is_loopback (host)) {
        snprintf (err, errlen,
                  "--discover: the broker listens on loopback only (%s): no other host could "
                  "reach it; give --bind tcp://*:PORT",
                  host);
        return -1;
    }
    if (streq (host, "*") || streq (host, "0.0.0.0"))
        return 0;
    ziflist_t *interfaces = ziflist_new ();
    bool found = false;
    for (const char *name = ziflist_first (interfaces); name && !found;
         name = ziflist_next (interfaces))
        if (streq (name, host) || streq (ziflist_address (interfaces), host)) {
            zsys_set_interface (name);
            found = true;
        }
    ziflist_destroy (&interfaces);
    struct in_addr ipv4;
    if (!found && inet_pton (AF_INET, host, &ipv4) == 1) {
        snprintf (err, errlen,
                  "--discover: no network interface with broadcast has the address %s the "
                  "broker listens on",
                  host);
        return -1;
    }
    return 0;
}

sl_discover_t *sl_discover_announce (const char *bind, uint16_t udp_port, const char *name,
                                     char *err, size_t errlen)
{
    assert (bind);
    if (sl_endpoint_check (bind, err, errlen))
        return NULL;
    //  tcp://HOST:PORT, checked above.
    const char *colon = strrchr (bind, ':');
    char host [256];
    snprintf (host, sizeof host, "%.*s", (int) (colon - bind - 6), bind + 6);
    sl_discover_beacon_t beacon = { .port = (uint16_t) strtoul (colon + 1, NULL, 10) };
    if (name && !s_name_valid (name, strlen (name))) {
        snprintf (err, errlen,
                  "--discover: '%s' is not a broker name (up to %d characters of A-Z a-z 0-9 . "
                  "_ -)",
                  name, SL_DISCOVER_NAME_MAX);
        return NULL;
    }
    if (name)
        strcpy (beacon.name, name);
    else if (gethostname (beacon.name, sizeof beacon.name) != 0 ||
             !s_name_valid (beacon.name, strnlen (beacon.name, sizeof beacon.name)))
        beacon.name [0] = '\0'; //  a host name a beacon cannot carry: none
    uint8_t data [HEADER_SIZE + SL_DISCOVER_NAME_MAX + 2];
    size_t size = sl_discover_encode (&beacon, data, sizeof data);
    assert (size);
    if (s_choose_interface (host, err, errlen))
        return NULL;
    char address [INET6_ADDRSTRLEN + 8];
    zactor_t *actor = s_beacon_new (udp_port, address, sizeof address, err, errlen);
    if (!actor)
        return NULL;
    sl_discover_t *self = malloc (sizeof *self);
    if (!self) {
        zactor_destroy (&actor);
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->beacon = actor;
    self->says = beacon;
    zsock_send (self->beacon, "sbi", "PUBLISH", data, size, SL_DISCOVER_INTERVAL_MS);
    sl_info ("announcing broker %s (port %u) on UDP port %u from %s for --discover",
             *beacon.name ? beacon.name : "(no name)", beacon.port, udp_port, address);
    return self;
}

void sl_discover_set_standby (sl_discover_t *self, bool standby)
{
    assert (self);
    if (self->says.standby == standby)
        return;
    self->says.standby = standby;
    uint8_t data [HEADER_SIZE + SL_DISCOVER_NAME_MAX + 2];
    size_t size = sl_discover_encode (&self->says, data, sizeof data);
    assert (size);
    //  zbeacon replaces what it publishes.
    zsock_send (self->beacon, "sbi", "PUBLISH", data, size, SL_DISCOVER_INTERVAL_MS);
    sl_info ("the --discover beacon now says this broker is %s", standby ? "a standby" : "active");
}

void sl_discover_destroy (sl_discover_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        sl_discover_t *self = *self_p;
        zactor_destroy (&self->beacon);
        free (self);
        *self_p = NULL;
    }
}

//  One message from the listening beacon: sender address, then the beacon.
//  Returns 0 with the broker's endpoint if it is a broker we want.
static int s_heard (zactor_t *actor, uint16_t udp_port, const char *name_filter, char *endpoint,
                    size_t len, sl_discover_beacon_t *beacon)
{
    zmsg_t *msg = zmsg_recv (actor);
    char *sender = msg ? zmsg_popstr (msg) : NULL;
    zframe_t *frame = msg ? zmsg_pop (msg) : NULL;
    zmsg_destroy (&msg);
    int rc = -1;
    char why [128];
    if (sender && frame) {
        if (sl_discover_decode (zframe_data (frame), zframe_size (frame), beacon, why, sizeof why))
            sl_warn_dropped ("ignoring a beacon from %s on UDP port %u: %s", sender, udp_port, why);
        else if (name_filter && !streq (beacon->name, name_filter))
            sl_debug ("ignoring broker %s at %s: not %s", beacon->name, sender, name_filter);
        else {
            //  An IPv6 address goes in brackets.
            snprintf (endpoint, len, strchr (sender, ':') ? "tcp://[%s]:%u" : "tcp://%s:%u", sender,
                      beacon->port);
            rc = 0;
        }
    }
    zstr_free (&sender);
    zframe_destroy (&frame);
    return rc;
}

//  Listens as sl_discover_find_all says; stops at the first broker heard
//  if gather_ms is 0.
int sl_discover_find_all (uint16_t udp_port, int64_t timeout_ms, int64_t gather_ms,
                          const char *name_filter, sl_discover_found_t *found, char *err,
                          size_t errlen)
{
    assert (found);
    sl_discover_found_init (found);
    char address [INET6_ADDRSTRLEN + 8];
    zactor_t *actor = s_beacon_new (udp_port, address, sizeof address, err, errlen);
    if (!actor)
        return -1;
    zsock_send (actor, "sb", "SUBSCRIBE", MAGIC, (size_t) MAGIC_SIZE);
    zpoller_t *poller = zpoller_new (actor, NULL);
    char named [SL_DISCOVER_NAME_MAX + 16] = "";
    if (name_filter)
        snprintf (named, sizeof named, " named %s", name_filter);
    sl_debug ("listening for a sluice broker%s on UDP port %u (interface address %s)", named,
              udp_port, address);
    int64_t start = zclock_mono ();
    int64_t next_notice = start + NOTICE_FIRST_MS;
    int64_t gathered_at = 0; //  when to stop listening, once one was heard
    while (true) {
        int64_t now = zclock_mono ();
        if (found->n && (gather_ms <= 0 || now >= gathered_at))
            break;
        if (zsys_interrupted) {
            if (!found->n)
                snprintf (err, errlen,
                          "interrupted while waiting for a sluice broker to announce itself");
            break;
        }
        if (!found->n && timeout_ms >= 0 && now - start >= timeout_ms) {
            snprintf (err, errlen,
                      "no sluice broker%s announced itself on UDP port %u within %.1f s; give "
                      "--broker",
                      named, udp_port, timeout_ms / 1000.0);
            break;
        }
        if (!found->n && now >= next_notice) {
            sl_warn ("waiting for a sluice broker%s to announce itself on UDP port %u ...", named,
                     udp_port);
            next_notice = now + NOTICE_EVERY_MS;
        }
        int64_t until = found->n ? gathered_at : next_notice;
        if (!found->n && timeout_ms >= 0 && start + timeout_ms < until)
            until = start + timeout_ms;
        int64_t wait = until - now;
        sl_discover_beacon_t beacon;
        char endpoint [SL_DISCOVER_ENDPOINT_MAX];
        if (zpoller_wait (poller, (int) (wait > 0 ? wait : 1)) &&
            s_heard (actor, udp_port, name_filter, endpoint, sizeof endpoint, &beacon) == 0 &&
            sl_discover_found_add (found, endpoint, &beacon) == 1) {
            sl_info ("found broker %s at %s%s (UDP beacon on port %u)",
                     *beacon.name ? beacon.name : "(no name)", endpoint,
                     beacon.standby ? ", a standby" : "", udp_port);
            if (found->n == 1)
                gathered_at = zclock_mono () + gather_ms;
        }
    }
    zpoller_destroy (&poller);
    zactor_destroy (&actor);
    return found->n ? 0 : -1;
}

int sl_discover_find (uint16_t udp_port, int64_t timeout_ms, const char *name_filter,
                      char *endpoint, size_t len, char *err, size_t errlen)
{
    assert (endpoint && len >= SL_DISCOVER_ENDPOINT_MAX);
    sl_discover_found_t found;
    if (sl_discover_find_all (udp_port, timeout_ms, 0, name_filter, &found, err, errlen))
        return -1;
    snprintf (endpoint, len, "%s", found.endpoint [0]);
    return 0;
}
