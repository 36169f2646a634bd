/*  http - a minimal HTTP/1.x server on a ZeroMQ STREAM socket, for the
    broker's --http endpoint (the dashboard, its API, /metrics).

    It lives in the broker's own poll loop (no thread): the caller polls
    http_sock and calls http_handle when it is readable. Each connection
    sends one request (at most HTTP_MAX_REQUEST bytes of head); the
    server answers it through the caller's render function and closes the
    connection ("Connection: close"). Anything else gets a 4xx answer:
    a request head too large, not HTTP, a method other than GET or HEAD.
    The client closes the connection once it has the answer; one that does
    not is closed HTTP_ANSWERED_CLOSE_MS later (HTTP_REFUSED_CLOSE_MS after
    a 4xx), not at once: closing a STREAM connection drops the part of a
    large answer ZeroMQ has not written to the socket yet.
    Bounds, against hostile clients: a connection holds a buffer that grows
    with what it sent, up to HTTP_MAX_REQUEST bytes; at most
    HTTP_MAX_CLIENTS connections are held (a new one past that closes the
    oldest); one that has not completed its request head within
    HTTP_CLIENT_TIMEOUT_MS is closed (http_expire). The worst case is
    HTTP_MAX_CLIENTS * HTTP_MAX_REQUEST = 8 MiB of buffers. The request
    head is parsed by httpreq.c (pure, fuzzed).
*/
#ifndef HTTP_H_INCLUDED
#define HTTP_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_REQUEST 8192
#define HTTP_MAX_CLIENTS 1024
#define HTTP_CLIENT_TIMEOUT_MS 10000 //  to send a request head
#define HTTP_ANSWERED_CLOSE_MS 5000  //  to read an answer and close, before we close
#define HTTP_REFUSED_CLOSE_MS 1000   //  the same after a 4xx answer

typedef struct _http_t http_t;

//  Renders the body for GET `path` (the target up to '?', not decoded)
//  with `query` (after '?', "" = none). Returns a heap string (the caller
//  of the callback frees it) and sets *status (200, 404...) and
//  *content_type, or returns NULL for a 404.
typedef char *(http_render_fn) (void *arg, const char *path, const char *query, int *status,
                                const char **content_type);

//  Binds a STREAM socket to endpoint (tcp://IFACE:PORT). NULL with err.
http_t *http_new (const char *endpoint, char *err, size_t errlen);

//  NULL-safe, nulls *self_p.
void http_destroy (http_t **self_p);

//  The socket to poll for input.
zsock_t *http_sock (http_t *self);

//  Reads what arrived and answers every complete request.
void http_handle (http_t *self, http_render_fn *render, void *arg);

//  From now on, every request must carry `Authorization: Bearer TOKEN`
//  (others get 401); NULL: none need to. The token is copied.
void http_require_bearer (http_t *self, const char *token);

//  Closes the connections that have not sent a complete request head
//  within HTTP_CLIENT_TIMEOUT_MS of now (ms, zclock_mono).
void http_expire (http_t *self, int64_t now);

//  Connections held.
size_t http_clients (http_t *self);

//  Requests answered and requests refused as malformed, so far.
size_t http_served (http_t *self);
size_t http_refused (http_t *self);

//  Pure: parses the request head in data (size bytes). Returns 1 if the
//  head is complete (method and path copied, NUL-terminated and cut to
//  their buffers), 0 if more bytes are needed, -1 if it is not an HTTP
//  request line. Kept for its tests; httpreq_parse gives the query too.
int http_parse (const char *data, size_t size, char *method, size_t method_len, char *path,
                size_t path_len);

#endif
