/*  peers - the broker's sessions, see peers.h.

    Two hashes (by connection key, owning; by name, not owning) and a list
    of the workers, newest first.
*/
#include "peers.h"

#include <string.h>

#include "sl_proto.h"
#include "sl_util.h"

struct _sl_peers_t {
    zhashx_t *by_key;  //  key -> sl_peer_t (owned)
    zhashx_t *by_name; //  name -> sl_peer_t (not owning)
    zlistx_t *workers; //  worker peers, newest first (not owning)
};

static void s_peer_free (void **item_p)
{
    sl_peer_t *peer = (sl_peer_t *) *item_p;
    if (peer) {
        zframe_destroy (&peer->routing_id);
        zlistx_destroy (&peer->waiting);
        zframe_destroy (&peer->dispatch_id);
        free (peer);
        *item_p = NULL;
    }
}

sl_peers_t *sl_peers_new (void)
{
    sl_peers_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->by_key = zhashx_new ();
    self->by_name = zhashx_new ();
    self->workers = zlistx_new ();
    if (!self->by_key || !self->by_name || !self->workers) {
        sl_peers_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->by_key, s_peer_free);
    return self;
}

void sl_peers_destroy (sl_peers_t **self_p)
{
    assert (self_p);
    sl_peers_t *self = *self_p;
    if (self) {
        zlistx_destroy (&self->workers);
        zhashx_destroy (&self->by_name);
        zhashx_destroy (&self->by_key);
        free (self);
        *self_p = NULL;
    }
}

sl_peer_t *sl_peers_by_key (sl_peers_t *self, const char *key)
{
    assert (self);
    return key && key [0] ? (sl_peer_t *) zhashx_lookup (self->by_key, key) : NULL;
}

sl_peer_t *sl_peers_by_name (sl_peers_t *self, const char *name)
{
    assert (self);
    return (sl_peer_t *) zhashx_lookup (self->by_name, name);
}

sl_peer_t *sl_peers_superseded (sl_peers_t *self, const char *key, int role, const char *name,
                                bool *again)
{
    assert (self);
    sl_peer_t *mine = sl_peers_by_key (self, key);
    *again = mine && mine->role == role && streq (mine->name, name);
    if (mine && !*again)
        return mine; //  this connection, now another client
    if (mine)
        return NULL; //  the same client again, on its own connection
    sl_peer_t *named = sl_peers_by_name (self, name);
    return named; //  the same client on an older connection, or NULL
}

sl_peer_t *sl_peers_add (sl_peers_t *self, const char *key, zframe_t *routing_id, int role,
                         const char *name, int64_t now)
{
    assert (self);
    assert (!sl_peers_by_key (self, key));
    sl_peer_t *peer = calloc (1, sizeof *peer);
    if (!peer)
        return NULL;
    snprintf (peer->key, sizeof peer->key, "%s", key);
    snprintf (peer->name, sizeof peer->name, "%s", name);
    peer->role = role;
    peer->last_seen = now;
    peer->routing_id = routing_id ? zframe_dup (routing_id) : NULL;
    if ((routing_id && !peer->routing_id) || zhashx_insert (self->by_key, peer->key, peer)) {
        s_peer_free ((void **) &peer);
        return NULL;
    }
    zhashx_update (self->by_name, peer->name, peer);
    if (role == SLUICE__ROLE__ROLE_WORKER)
        zlistx_add_start (self->workers, peer);
    return peer;
}

void sl_peers_remove (sl_peers_t *self, sl_peer_t *peer)
{
    assert (self);
    assert (peer);
    void *handle = zlistx_find (self->workers, peer);
    if (handle)
        zlistx_delete (self->workers, handle);
    if (zhashx_lookup (self->by_name, peer->name) == peer)
        zhashx_delete (self->by_name, peer->name);
    zhashx_delete (self->by_key, peer->key); //  frees it
}

size_t sl_peers_size (sl_peers_t *self)
{
    assert (self);
    return zhashx_size (self->by_key);
}

size_t sl_peers_workers (sl_peers_t *self)
{
    assert (self);
    return zlistx_size (self->workers);
}

sl_peer_t *sl_peers_worker_first (sl_peers_t *self)
{
    assert (self);
    return (sl_peer_t *) zlistx_first (self->workers);
}

sl_peer_t *sl_peers_worker_next (sl_peers_t *self)
{
    assert (self);
    return (sl_peer_t *) zlistx_next (self->workers);
}

size_t sl_peers_silent (sl_peers_t *self, int64_t now, sl_peer_t **gone, size_t max)
{
    assert (self);
    size_t n = 0;
    for (sl_peer_t *peer = (sl_peer_t *) zhashx_first (self->by_key); peer && n < max;
         peer = (sl_peer_t *) zhashx_next (self->by_key))
        if (now - peer->last_seen > (int64_t) SL_PEERS_LIVENESS * peer->heartbeat_ms)
            gone [n++] = peer;
    return n;
}

uint32_t sl_peers_heartbeat (uint32_t wished, uint32_t dflt)
{
    uint32_t ms = wished ? wished : dflt;
    return ms < SL_PEERS_MIN_HEARTBEAT   ? SL_PEERS_MIN_HEARTBEAT
           : ms > SL_PEERS_MAX_HEARTBEAT ? SL_PEERS_MAX_HEARTBEAT
                                         : ms;
}

bool sl_peers_hello_refused (const Sluice__Hello *hello, bool fair, char *why, size_t whylen)
{
    int role = hello->role;
    if (role != SLUICE__ROLE__ROLE_WORKER && role != SLUICE__ROLE__ROLE_SINK &&
        role != SLUICE__ROLE__ROLE_VENTILATOR && role != SLUICE__ROLE__ROLE_CONTROL) {
        snprintf (why, whylen, "unknown client role");
        return true;
    }
    bool job_needed = role == SLUICE__ROLE__ROLE_VENTILATOR;
    bool job_allowed = job_needed || role == SLUICE__ROLE__ROLE_SINK;
    const char *job = hello->job ? hello->job : "";
    if (job_allowed && (job_needed || job [0]) && !sl_job_id_valid (job)) {
        snprintf (why, whylen, "job id must be 1-64 characters of A-Z a-z 0-9 . _ -");
        return true;
    }
    if (role == SLUICE__ROLE__ROLE_SINK && hello->delivery != SL_DELIVERY_VERSION) {
        snprintf (why, whylen,
                  "this broker delivers results with delivery protocol %d (a ROUTER port; "
                  "collectors connect a DEALER named by their name) and this sink speaks "
                  "delivery protocol %u (%s): use a sink and libsluice of the broker's version",
                  SL_DELIVERY_VERSION, hello->delivery ? hello->delivery : 1,
                  hello->delivery < SL_DELIVERY_VERSION ? "an older sluice, reading with PULL"
                                                        : "a newer sluice");
        return true;
    }
    if (hello->n_queues > SL_PEERS_MAX_QUEUES) {
        snprintf (why, whylen, "at most %d queues per worker", SL_PEERS_MAX_QUEUES);
        return true;
    }
    for (size_t i = 0; i < hello->n_queues; i++) {
        const char *name = hello->queues [i];
        if (!sl_queue_name_valid (name)) {
            snprintf (why, whylen, "queue name '%.64s' is not 1-64 characters of A-Z a-z 0-9 . _ -",
                      name);
            return true;
        }
        if (!fair && !streq (name, SL_QUEUE_DEFAULT)) {
            snprintf (why, whylen,
                      "this broker runs --dispatch push, which has the default queue only "
                      "(named queues need --dispatch fair)");
            return true;
        }
    }
    return false;
}
