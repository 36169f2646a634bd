/*  sl_discover - finding the broker on the local network by UDP beacons
    (czmq's zbeacon), for --discover.

    A broker with --discover broadcasts a beacon every second on a UDP port
    (default 5670): "SLUICE", a version byte, its base TCP port and its
    name (the host name). It holds nothing secret: with CurveZMQ on,
    clients still need the broker's public key (--curve-server), since
    anyone on the network can send a beacon. A client with --discover
    listens on the same UDP port and connects to tcp://SENDER:PORT, SENDER
    being the address the beacon came from. Of --broker and --discover the
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

#include <stddef.h>
#include <stdint.h>

#define SL_DISCOVER_PORT 5670        //  default UDP port of the beacons
#define SL_DISCOVER_INTERVAL_MS 1000 //  a broker beacons this often
#define SL_DISCOVER_VERSION 1        //  beacon format
#define SL_DISCOVER_NAME_MAX 64      //  longest broker name
#define SL_DISCOVER_ENDPOINT_MAX 72  //  tcp://[IPv6]:PORT and its NUL fit in this

//  getopt code, option and help text of --discover[=PORT]: the broker
//  announces itself, a client looks for one.
#define SL_OPT_DISCOVER 1101
#define SL_DISCOVER_OPTION                                                                         \
    {                                                                                              \
        "discover", optional_argument, NULL, SL_OPT_DISCOVER                                       \
    }
#define SL_DISCOVER_HELP                                                                           \
    "      --discover[=PORT]      find the broker on the local network by its UDP\n"               \
    "                             beacons on PORT (default 5670) instead of --broker\n"

//  What a beacon says. The wire format (at most 73 bytes):
//  "SLUICE", version (1 byte), port (2 bytes, big-endian), name (0 to 64
//  bytes of A-Z a-z 0-9 . _ -, no terminator).
typedef struct {
    uint16_t port;                        //  the broker's base TCP port
    char name [SL_DISCOVER_NAME_MAX + 1]; //  its name, "" if none
} sl_discover_beacon_t;

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

#endif
