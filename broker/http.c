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
#include "sl_log.h"

typedef struct {
    char key [64];        //  routing id in hex
    zframe_t *routing_id; //  to answer
    char data [HTTP_MAX_REQUEST];
    size_t size; //  bytes at data
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
        snprintf (err, errlen, "cannot create the metrics socket");
        http_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->clients, s_client_free);
    zlistx_set_destructor (self->order, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_duplicator (self->order, (zlistx_duplicator_fn *) strdup);
    zlistx_set_comparator (self->order, (zlistx_comparator_fn *) strcmp);
    if (zsock_bind (self->sock, "%s", endpoint) < 0) {
        snprintf (err, errlen, "--metrics: cannot bind %s: %s", endpoint, zmq_strerror (errno));
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

int http_parse (const char *data, size_t size, char *method, size_t method_len, char *path,
                size_t path_len)
{
    //  Request line: METHOD SP TARGET SP HTTP/x.y CRLF
    const char *eol = memchr (data, '\n', size);
    size_t line_len = eol ? (size_t) (eol - data) : size;
    const char *sp1 = memchr (data, ' ', line_len);
    if (!sp1 || sp1 == data)
        return eol || size > 16 ? -1 : 0;
    for (const char *p = data; p < sp1; p++)
        if (*p < 'A' || *p > 'Z')
            return -1;
    if (!eol)
        return 0;
    const char *target = sp1 + 1;
    const char *sp2 = memchr (target, ' ', (size_t) (eol - target));
    if (!sp2 || sp2 == target || *target != '/' || (size_t) (eol - sp2) < 9 ||
        strncmp (sp2 + 1, "HTTP/1.", 7) != 0)
        return -1;
    //  The head ends with an empty line.
    bool complete = false;
    for (size_t i = (size_t) (eol - data); i + 1 < size && !complete; i++)
        complete =
            (data [i] == '\n' && data [i + 1] == '\n') ||
            (i + 2 < size && data [i] == '\n' && data [i + 1] == '\r' && data [i + 2] == '\n');
    if (!complete)
        return 0;
    snprintf (method, method_len, "%.*s", (int) (sp1 - data), data);
    size_t target_len = (size_t) (sp2 - target);
    const char *query = memchr (target, '?', target_len);
    if (query)
        target_len = (size_t) (query - target);
    snprintf (path, path_len, "%.*s", (int) target_len, target);
    return 1;
}

//  Sends [routing id][bytes]; with close, then [routing id][] to close.
static void s_send (http_t *self, client_t *client, const char *data, size_t size)
{
    zframe_t *id = zframe_dup (client->routing_id);
    zframe_send (&id, self->sock, ZFRAME_MORE | ZFRAME_DONTWAIT);
    zmq_send (zsock_resolve (self->sock), data, size, ZMQ_DONTWAIT);
    id = zframe_dup (client->routing_id);
    zframe_send (&id, self->sock, ZFRAME_MORE | ZFRAME_DONTWAIT);
    zmq_send (zsock_resolve (self->sock), "", 0, ZMQ_DONTWAIT);
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
                         : status == 431 ? "Request Header Fields Too Large"
                                         : "Error";
    size_t body_len = body ? strlen (body) : 0;
    char *reply = zsys_sprintf ("HTTP/1.1 %d %s\r\n"
                                "Content-Type: %s\r\n"
                                "Content-Length: %zu\r\n"
                                "Connection: close\r\n"
                                "%s"
                                "\r\n"
                                "%s",
                                status, reason, content_type, body_len, s_status_header (status),
                                head_only || !body ? "" : body);
    if (reply) {
        s_send (self, client, reply, strlen (reply));
        zstr_free (&reply);
    }
    if (status == 200)
        self->served++;
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
    char method [16], path [256];
    int rc = http_parse (client->data, client->size, method, sizeof method, path, sizeof path);
    if (rc == 0 && client->size < sizeof client->data)
        return; //  more to come
    char key [64];
    snprintf (key, sizeof key, "%s", client->key);
    if (rc <= 0) {
        self->refused++;
        sl_debug ("metrics: refused a malformed request");
        s_answer (self, client, rc == 0 ? 431 : 400, "text/plain; charset=utf-8",
                  rc == 0 ? "request too large\n" : "bad request\n", false);
    } else if (self->bearer && !bearer_allows (self->bearer, client->data, client->size)) {
        self->refused++;
        s_answer (self, client, 401, "text/plain; charset=utf-8",
                  "this endpoint wants the broker's join token: Authorization: Bearer TOKEN\n",
                  false);
    } else if (strcmp (method, "GET") != 0 && strcmp (method, "HEAD") != 0) {
        self->refused++;
        s_answer (self, client, 405, "text/plain; charset=utf-8", "only GET\n", false);
    } else {
        int status = 200;
        const char *content_type = "text/plain; charset=utf-8";
        char *body = render (arg, path, &status, &content_type);
        if (body)
            s_answer (self, client, status, content_type, body, streq (method, "HEAD"));
        else
            s_answer (self, client, 404, "text/plain; charset=utf-8", "not found\n",
                      streq (method, "HEAD"));
        zstr_free (&body);
    }
    s_forget (self, key);
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
                    s_forget (self, drop);
                }
                snprintf (client->key, sizeof client->key, "%s", key);
                client->routing_id = id;
                id = NULL;
                zhashx_insert (self->clients, key, client);
                zlistx_add_end (self->order, key);
            }
        } else if (client) {
            size_t room = sizeof client->data - client->size;
            size_t take = zframe_size (data) < room ? zframe_size (data) : room;
            memcpy (client->data + client->size, zframe_data (data), take);
            client->size += take;
            s_respond (self, client, render, arg);
        }
        zframe_destroy (&id);
        zframe_destroy (&data);
    }
}
