/*  http - a minimal HTTP/1.x server on a ZeroMQ STREAM socket, see http.h.

    A STREAM socket hands us [routing id][bytes] for every TCP read, and an
    empty [routing id][] when a connection opens or closes. We keep the
    bytes of each connection until its request head is complete, answer,
    then send [routing id][] to close it.
*/
#include "http.h"

#include <string.h>
#include <strings.h>

#include "bearer.h"
#include "httpreq.h"
#include "sl_log.h"

typedef struct {
    char key [64];        //  routing id in hex
    zframe_t *routing_id; //  to answer
    char *data;           //  what it sent so far (owned), grows to HTTP_MAX_REQUEST
    size_t size;          //  bytes at data
    size_t capacity;      //  room at data
    int64_t deadline;     //  when http_expire closes it (ms, zclock_mono)
    bool answered;        //  its answer is sent: waiting for it to close
} client_t;

struct _http_t {
    zsock_t *sock;     //  ZMQ_STREAM
    zhashx_t *clients; //  key -> client_t (owned)
    zlistx_t *order;   //  keys, oldest first, to drop the oldest client
    size_t served;
    size_t refused;
    char *bearer; //  token every request must carry (bearer.h), or NULL
};

static void s_client_free (void **item_p)
{
    client_t *client = (client_t *) *item_p;
    if (client) {
        zframe_destroy (&client->routing_id);
        free (client->data);
        free (client);
        *item_p = NULL;
    }
}

http_t *http_new (const char *endpoint, char *err, size_t errlen)
{
    http_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->clients = zhashx_new ();
    self->order = zlistx_new ();
    self->sock = zsock_new (ZMQ_STREAM);
    if (!self->clients || !self->order || !self->sock) {
        snprintf (err, errlen, "cannot create the HTTP socket");
        http_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->clients, s_client_free);
    zlistx_set_destructor (self->order, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_duplicator (self->order, (zlistx_duplicator_fn *) strdup);
    zlistx_set_comparator (self->order, (zlistx_comparator_fn *) strcmp);
    if (zsock_bind (self->sock, "%s", endpoint) < 0) {
        snprintf (err, errlen, "--http: cannot bind %s: %s", endpoint, zmq_strerror (errno));
        http_destroy (&self);
        return NULL;
    }
    return self;
}

void http_destroy (http_t **self_p)
{
    assert (self_p);
    http_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy (&self->sock);
    zhashx_destroy (&self->clients);
    zlistx_destroy (&self->order);
    zstr_free (&self->bearer);
    free (self);
    *self_p = NULL;
}

zsock_t *http_sock (http_t *self)
{
    assert (self);
    return self->sock;
}

size_t http_served (http_t *self)
{
    return self->served;
}

void http_require_bearer (http_t *self, const char *token)
{
    assert (self);
    zstr_free (&self->bearer);
    self->bearer = token ? strdup (token) : NULL;
}

size_t http_refused (http_t *self)
{
    return self->refused;
}

size_t http_clients (http_t *self)
{
    return zhashx_size (self->clients);
}

int http_parse (const char *data, size_t size, char *method, size_t method_len, char *path,
                size_t path_len)
{
    httpreq_t req;
    int rc = httpreq_parse (data, size, &req);
    if (rc == 1) {
        snprintf (method, method_len, "%s", req.method);
        snprintf (path, path_len, "%s", req.path);
    }
    return rc;
}

//  Sends [routing id][bytes]. The connection is not closed here: closing a
//  STREAM connection ([routing id][]) drops what ZeroMQ has not written to
//  the socket yet, so a large answer could be cut (the client then waited
//  for the rest forever). The client closes it after reading the answer
//  (Connection: close); http_expire closes it if it does not.
static void s_send (http_t *self, client_t *client, const char *data, size_t size)
{
    zframe_t *id = zframe_dup (client->routing_id);
    if (zframe_send (&id, self->sock, ZFRAME_MORE | ZFRAME_DONTWAIT) == 0)
        zmq_send (zsock_resolve (self->sock), data, size, ZMQ_DONTWAIT);
}

//  The header a status needs besides the usual ones, with its CRLF, or "".
static const char *s_status_header (int status)
{
    return status == 405   ? "Allow: GET, HEAD\r\n"
           : status == 401 ? "WWW-Authenticate: Bearer\r\n"
                           : "";
}

static void s_answer (http_t *self, client_t *client, int status, const char *content_type,
                      const char *body, bool head_only)
{
    const char *reason = status == 200   ? "OK"
                         : status == 400 ? "Bad Request"
                         : status == 401 ? "Unauthorized"
                         : status == 404 ? "Not Found"
                         : status == 405 ? "Method Not Allowed"
                         : status == 414 ? "URI Too Long"
                         : status == 431 ? "Request Header Fields Too Large"
                                         : "Error";
    size_t body_len = body ? strlen (body) : 0;
    char *reply =
        zsys_sprintf ("HTTP/1.1 %d %s\r\n"
                      "Content-Type: %s\r\n"
                      "Content-Length: %zu\r\n"
                      "Connection: close\r\n"
                      "Cache-Control: no-store\r\n"
                      "X-Content-Type-Options: nosniff\r\n"
                      "%s"
                      "\r\n"
                      "%s",
                      status, reason, content_type, body_len,
                      s_status_header (status), head_only || !body ? "" : body);
    if (reply) {
        s_send (self, client, reply, strlen (reply));
        zstr_free (&reply);
    }
    if (status == 200)
        self->served++;
}

//  Closes the connection of a client that gets no answer.
static void s_close (http_t *self, client_t *client)
{
    zframe_t *id = zframe_dup (client->routing_id);
    zframe_send (&id, self->sock, ZFRAME_MORE | ZFRAME_DONTWAIT);
    zmq_send (zsock_resolve (self->sock), "", 0, ZMQ_DONTWAIT);
}

static void s_forget (http_t *self, const char *key)
{
    void *handle = zlistx_find (self->order, (void *) key);
    if (handle)
        zlistx_delete (self->order, handle);
    zhashx_delete (self->clients, key);
}

static void s_respond (http_t *self, client_t *client, http_render_fn *render, void *arg)
{
    if (client->answered)
        return; //  one request per connection
    httpreq_t req;
    int rc = httpreq_parse (client->data, client->size, &req);
    if (rc == 0 && client->size < HTTP_MAX_REQUEST)
        return; //  more to come
    char key [64];
    snprintf (key, sizeof key, "%s", client->key);
    size_t refused_before = self->refused;
    if (rc <= 0) {
        self->refused++;
        sl_debug ("http: refused a malformed request");
        s_answer (self, client, rc == 0 ? 431 : 400, "text/plain; charset=utf-8",
                  rc == 0 ? "request too large\n" : "bad request\n", false);
    } else if (self->bearer && !bearer_allows (self->bearer, client->data, client->size)) {
        self->refused++;
        s_answer (self, client, 401, "text/plain; charset=utf-8",
                  "this endpoint wants the broker's join token: Authorization: Bearer TOKEN\n",
                  false);
    } else if (!streq (req.method, "GET") && !streq (req.method, "HEAD")) {
        self->refused++;
        s_answer (self, client, 405, "text/plain; charset=utf-8", "only GET\n", false);
    } else if (req.too_long) {
        self->refused++;
        s_answer (self, client, 414, "text/plain; charset=utf-8", "target too long\n",
                  streq (req.method, "HEAD"));
    } else {
        int status = 200;
        const char *content_type = "text/plain; charset=utf-8";
        char *body = render (arg, req.path, req.query, &status, &content_type);
        if (body)
            s_answer (self, client, status, content_type, body, streq (req.method, "HEAD"));
        else
            s_answer (self, client, 404, "text/plain; charset=utf-8", "not found\n",
                      streq (req.method, "HEAD"));
        zstr_free (&body);
    }
    bool refused = self->refused != refused_before;
    //  Now it is the client's turn to close; what else it sends is ignored.
    //  It gets HTTP_ANSWERED_CLOSE_MS to read its answer (one refused,
    //  HTTP_REFUSED_CLOSE_MS: it may well be sending a megabyte of header
    //  still), then it is closed.
    client->answered = true;
    client->deadline = zclock_mono () + (refused ? HTTP_REFUSED_CLOSE_MS : HTTP_ANSWERED_CLOSE_MS);
    void *handle = zlistx_find (self->order, key);
    if (handle)
        zlistx_move_end (self->order, handle);
}

//  Appends bytes to client's buffer, growing it up to HTTP_MAX_REQUEST.
static void s_append (client_t *client, const byte *bytes, size_t size)
{
    if (client->answered)
        return;
    size_t room = HTTP_MAX_REQUEST - client->size;
    size_t take = size < room ? size : room;
    if (client->size + take > client->capacity) {
        size_t capacity = client->capacity ? client->capacity : 512;
        while (capacity < client->size + take)
            capacity *= 2;
        if (capacity > HTTP_MAX_REQUEST)
            capacity = HTTP_MAX_REQUEST;
        char *data = (char *) realloc (client->data, capacity);
        if (!data)
            return;
        client->data = data;
        client->capacity = capacity;
    }
    memcpy (client->data + client->size, bytes, take);
    client->size += take;
}

void http_expire (http_t *self, int64_t now)
{
    assert (self);
    //  Every client, not only the oldest: deadlines differ (answered,
    //  refused, reading). At most HTTP_MAX_CLIENTS, twice a second.
    zlistx_t *expired = zlistx_new ();
    if (!expired)
        return;
    for (const char *key = (const char *) zlistx_first (self->order); key;
         key = (const char *) zlistx_next (self->order)) {
        client_t *client = (client_t *) zhashx_lookup (self->clients, key);
        if (!client || now >= client->deadline)
            zlistx_add_end (expired, (void *) key);
    }
    char key [64];
    for (const char *item = (const char *) zlistx_first (expired); item;
         item = (const char *) zlistx_next (expired)) {
        snprintf (key, sizeof key, "%s", item);
        client_t *client = (client_t *) zhashx_lookup (self->clients, key);
        if (client)
            s_close (self, client);
        s_forget (self, key);
    }
    zlistx_destroy (&expired);
}

void http_handle (http_t *self, http_render_fn *render, void *arg)
{
    assert (self);
    for (int i = 0; i < 256; i++) {
        zframe_t *id = zframe_recv_nowait (self->sock);
        if (!id)
            break;
        zframe_t *data = zsock_rcvmore (self->sock) ? zframe_recv (self->sock) : NULL;
        char *hex = zframe_strhex (id);
        if (!data || !hex) {
            zframe_destroy (&id);
            zframe_destroy (&data);
            zstr_free (&hex);
            continue;
        }
        char key [64];
        snprintf (key, sizeof key, "%s", hex);
        zstr_free (&hex);
        client_t *client = (client_t *) zhashx_lookup (self->clients, key);
        if (zframe_size (data) == 0) {
            //  Connected (a new buffer), or gone (forget it).
            if (client)
                s_forget (self, key);
            else if ((client = calloc (1, sizeof *client))) {
                if (zhashx_size (self->clients) >= HTTP_MAX_CLIENTS) {
                    const char *oldest = (const char *) zlistx_first (self->order);
                    char drop [64];
                    snprintf (drop, sizeof drop, "%s", oldest);
                    client_t *dropped = (client_t *) zhashx_lookup (self->clients, drop);
                    if (dropped)
                        s_close (self, dropped);
                    s_forget (self, drop);
                }
                client->deadline = zclock_mono () + HTTP_CLIENT_TIMEOUT_MS;
                snprintf (client->key, sizeof client->key, "%s", key);
                client->routing_id = id;
                id = NULL;
                zhashx_insert (self->clients, key, client);
                zlistx_add_end (self->order, key);
            }
        } else if (client) {
            s_append (client, zframe_data (data), zframe_size (data));
            s_respond (self, client, render, arg);
        }
        zframe_destroy (&id);
        zframe_destroy (&data);
    }
}
