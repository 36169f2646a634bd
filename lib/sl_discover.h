/*  sl_discover - finding the broker on the local network by UDP beacons
    (czmq's zbeacon), for --discover.

    A broker with --discover broadcasts a beacon every second on a UDP port
    (default 5670): "SLUICE", a version byte, its base TCP port and its
    name (the host name). It holds nothing secret: with CurveZMQ on,
    clients still need the broker's public key (--curve-server), since
    anyone on the network can send a beacon. A client with --discover
    listens on the same UDP port and connects to tcp://SENDER:PORT, SENDER
    being the address the beacon came from.

    Several brokers (an active one and its standbys on a shared NATS
    stream, --standby) each beacon; a standby's beacon says it is one. A
    client keeps listening for SL_DISCOVER_GATHER_MS after the first beacon
    it hears (a little over one beacon interval, so every broker that beacons
    is heard), and follows the brokers heard, active ones first, as it
    follows a list given with --broker a,b (sl_follow.h). Of --broker and --discover the
    last one given wins, so either on the command line beats the other
    from the config file.

    Beacons are broadcasts: they stay on the local network, and need an
    interface with broadcast (not loopback). zbeacon uses the first such
    interface, or the one named by the environment variable ZSYS_INTERFACE;
    a broker bound to one address (--bind tcp://10.0.0.5:5560) beacons on
    the interface that has it. Separate clusters on one network use
    separate UDP ports (--discover=PORT).
*/
#ifndef SL_DISCOVER_H_INCLUDED
#define SL_DISCOVER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_DISCOVER_PORT 5670        //  default UDP port of the beacons
#define SL_DISCOVER_INTERVAL_MS 1000 //  a broker beacons this often
#define SL_DISCOVER_VERSION 1        //  beacon format
#define SL_DISCOVER_NAME_MAX 64      //  longest broker name
#define SL_DISCOVER_ENDPOINT_MAX 72  //  tcp://[IPv6]:PORT and its NUL fit in this
#define SL_DISCOVER_FOUND_MAX 8      //  brokers a client keeps (sl_follow.h's SL_FOLLOW_MAX)
#define SL_DISCOVER_GATHER_MS (SL_DISCOVER_INTERVAL_MS + 250) //  listening after the first
#define SL_DISCOVER_LIST_MAX (SL_DISCOVER_FOUND_MAX * SL_DISCOVER_ENDPOINT_MAX) //  "a,b,..."

//  getopt code, option and help text of --discover[=PORT]: the broker
//  announces itself, a client looks for one.
#define SL_OPT_DISCOVER 1101
#define SL_DISCOVER_OPTION                                                                         \
    {                                                                                              \
        "discover", optional_argument, NULL, SL_OPT_DISCOVER                                       \
    }
#define SL_DISCOVER_HELP                                                                           \
    "      --discover[=PORT]      find the brokers on the local network by their UDP\n"            \
    "                             beacons on PORT (default 5670) instead of --broker\n"            \
    "                             (every one heard, active ones first)\n"

//  What a beacon says. The wire format (at most 75 bytes):
//  "SLUICE", version (1 byte), port (2 bytes, big-endian), name (0 to 64
//  bytes of A-Z a-z 0-9 . _ -, no terminator), then for a standby only a
//  NUL and a flags byte (1: standby). An active broker's beacon is what it
//  always was; a client from before standbys drops a standby's (its name
//  looks bad to it), so it finds only active brokers.
typedef struct {
    uint16_t port;                        //  the broker's base TCP port
    char name [SL_DISCOVER_NAME_MAX + 1]; //  its name, "" if none
    bool standby;                         //  a standby (--standby, not active now)
} sl_discover_beacon_t;

//  The brokers a client heard, each once (by address), at most
//  SL_DISCOVER_FOUND_MAX. Pure: sl_discover_find_all fills it.
typedef struct {
    char endpoint [SL_DISCOVER_FOUND_MAX][SL_DISCOVER_ENDPOINT_MAX]; //  tcp://HOST:PORT
    char name [SL_DISCOVER_FOUND_MAX][SL_DISCOVER_NAME_MAX + 1];     //  their names
    bool standby [SL_DISCOVER_FOUND_MAX]; //  what each one's last beacon said
    size_t n;                             //  how many
    size_t dropped;                       //  beacons of further brokers not kept
} sl_discover_found_t;

//  An empty set.
void sl_discover_found_init (sl_discover_found_t *self);

//  A beacon from endpoint: adds it (1), or updates the one known (0:
//  whether it is a standby now), or drops it when full (-1).
int sl_discover_found_add (sl_discover_found_t *self, const char *endpoint,
                           const sl_discover_beacon_t *beacon);

//  The brokers heard, active ones first (each group in the order heard),
//  comma-separated into out, for --broker (sl_follow.h). Returns how many.
size_t sl_discover_found_list (const sl_discover_found_t *self, char *out, size_t len);

//  Writes beacon into buf. Returns the beacon's size, or 0 if the beacon
//  is invalid (port or name) or len too small.
size_t sl_discover_encode (const sl_discover_beacon_t *beacon, uint8_t *buf, size_t len);

//  Reads a beacon from what arrived on the UDP port. Returns 0, or -1 with
//  what is wrong in why (not a sluice beacon, another version, a bad port
//  or name) for anything else.
int sl_discover_decode (const uint8_t *data, size_t size, sl_discover_beacon_t *beacon, char *why,
                        size_t whylen);

//  Parses the value of --discover[=PORT] (NULL: the default port). On
//  error prints "PROG: --discover: ..." on stderr and returns -1.
int sl_discover_port (const char *prog, const char *arg, uint16_t *port);

//  --- Broker: announcing -------------------------------------------------------

typedef struct _sl_discover_t sl_discover_t;

//  Starts beaconing the broker bound to bind (its --bind) on UDP port
//  udp_port, under name (NULL: the host name). May set czmq's interface
//  (zsys_set_interface) to the one of the bind address. Fails, with a
//  message in err, if the broker listens on loopback only or no interface
//  can broadcast. Caller owns the result.
sl_discover_t *sl_discover_announce (const char *bind, uint16_t udp_port, const char *name,
                                     char *err, size_t errlen);

//  Says from now on whether this broker is a standby (see the beacon).
void sl_discover_set_standby (sl_discover_t *self, bool standby);

//  Stops beaconing. NULL-safe, nulls *self_p.
void sl_discover_destroy (sl_discover_t **self_p);

//  --- Client: finding ----------------------------------------------------------

//  Listens on UDP port udp_port for a broker's beacon, the first one heard
//  or, if name_filter is not NULL, the first from a broker of that name,
//  and writes its address (tcp://HOST:PORT) into endpoint (len at least
//  SL_DISCOVER_ENDPOINT_MAX). timeout_ms < 0
//  waits until one comes ("waiting for a sluice broker ..." is logged
//  after a second, and every 30 s). Returns 0, or -1 with a message in err
//  after the timeout, on SIGINT/SIGTERM, or if no interface can receive
//  broadcasts.
int sl_discover_find (uint16_t udp_port, int64_t timeout_ms, const char *name_filter,
                      char *endpoint, size_t len, char *err, size_t errlen);

//  As sl_discover_find, but goes on listening for gather_ms after the
//  first beacon and keeps every broker heard in found (at least one on
//  success). Returns 0, or -1 with err as sl_discover_find.
int sl_discover_find_all (uint16_t udp_port, int64_t timeout_ms, int64_t gather_ms,
                          const char *name_filter, sl_discover_found_t *found, char *err,
                          size_t errlen);

#endif
