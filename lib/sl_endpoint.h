/*  sl_endpoint - the one address a user types, and the ports derived from it.

    The broker binds PORT, PORT+1, ... PORT+SL_PORT_COUNT-1 on one interface;
    clients are given tcp://HOST:PORT and derive the rest the same way, so a
    user never types more than one address.
*/
#ifndef SL_ENDPOINT_H_INCLUDED
#define SL_ENDPOINT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    SL_PORT_CONTROL = 0,  //  broker ROUTER <- client DEALER
    SL_PORT_INTAKE = 1,   //  broker PULL <- ventilator PUSH
    SL_PORT_DISPATCH = 2, //  broker PUSH -> worker PULL
    SL_PORT_RESULTS = 3,  //  broker PULL <- worker PUSH
    SL_PORT_DELIVERY = 4, //  broker PUSH -> sink PULL
    SL_PORT_COUNT = 5     //  ports used (at most 8, by contract)
} sl_port_t;

#define SL_DEFAULT_BROKER "tcp://127.0.0.1:5560"
#define SL_DEFAULT_BIND "tcp://127.0.0.1:5560" //  loopback: nothing beyond this host

//  Checks that base is tcp://HOST:PORT with room for every derived port.
//  Returns 0, or -1 with a message naming the endpoint in err.
int sl_endpoint_check (const char *base, char *err, size_t errlen);

//  True if base (already checked) names a loopback address only:
//  127.0.0.0/8, localhost or [::1]. "*", 0.0.0.0, an interface name or any
//  other address reach beyond this host.
bool sl_endpoint_loopback (const char *base);

//  Writes the endpoint for `port` derived from base into out.
//  Returns 0, or -1 with a message in err (same checks as sl_endpoint_check).
int sl_endpoint_derive (const char *base, sl_port_t port, char *out, size_t outlen, char *err,
                        size_t errlen);

#endif
