/*  http - a minimal HTTP/1.x server on a ZeroMQ STREAM socket, for the
    broker's --metrics endpoint.

    It lives in the broker's own poll loop (no thread): the caller polls
    http_sock and calls http_handle when it is readable. Each connection
    sends one request (at most HTTP_MAX_REQUEST bytes of head); the
    server answers it through the caller's render function and closes the
    connection ("Connection: close"). Anything else gets a 4xx answer:
    a request head too large, not HTTP, a method other than GET or HEAD.
    A client that connects and says nothing holds a small buffer until it
    goes away; at most HTTP_MAX_CLIENTS are buffered, the oldest dropped.
*/
#ifndef HTTP_H_INCLUDED
#define HTTP_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_REQUEST 8192
#define HTTP_MAX_CLIENTS 64

typedef struct _http_t http_t;

//  Renders the body for GET `path`. Returns a heap string (the caller of
//  the callback frees it) and sets *status (200, 404...) and
//  *content_type, or returns NULL for a 404.
typedef char *(http_render_fn) (void *arg, const char *path, int *status,
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

//  Requests answered and requests refused as malformed, so far.
size_t http_served (http_t *self);
size_t http_refused (http_t *self);

//  Pure: parses the request head in data (size bytes). Returns 1 if the
//  head is complete (method and path copied, NUL-terminated and cut to
//  their buffers), 0 if more bytes are needed, -1 if it is not an HTTP
//  request line. Exposed for tests.
int http_parse (const char *data, size_t size, char *method, size_t method_len, char *path,
                size_t path_len);

#endif
