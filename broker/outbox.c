/*  outbox - answers that wait for their journal records, see outbox.h.

    A zlistx of entries in position order; the broker sends from the head.
*/
#include "outbox.h"

typedef struct {
    uint64_t after;       //  journal position that must be durable first
    zframe_t *routing_id; //  to whom (owned), or NULL
    zframe_t *msg;        //  the encoded answer (owned)
} s_entry_t;

struct _sl_outbox_t {
    zlistx_t *entries; //  s_entry_t (owned), oldest first
};

static void s_entry_free (void **item_p)
{
    s_entry_t *entry = (s_entry_t *) *item_p;
    if (entry) {
        zframe_destroy (&entry->routing_id);
        zframe_destroy (&entry->msg);
        free (entry);
        *item_p = NULL;
    }
}

sl_outbox_t *sl_outbox_new (void)
{
    sl_outbox_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->entries = zlistx_new ();
    if (!self->entries) {
        free (self);
        return NULL;
    }
    zlistx_set_destructor (self->entries, s_entry_free);
    return self;
}

void sl_outbox_destroy (sl_outbox_t **self_p)
{
    assert (self_p);
    sl_outbox_t *self = *self_p;
    if (self) {
        zlistx_destroy (&self->entries);
        free (self);
        *self_p = NULL;
    }
}

int sl_outbox_add (sl_outbox_t *self, uint64_t after, zframe_t *routing_id, zframe_t **msg_p)
{
    assert (self);
    assert (msg_p && *msg_p);
    s_entry_t *entry = calloc (1, sizeof *entry);
    if (entry && routing_id) {
        entry->routing_id = zframe_dup (routing_id);
        if (!entry->routing_id) {
            free (entry);
            entry = NULL;
        }
    }
    if (!entry) {
        zframe_destroy (msg_p);
        return -1;
    }
    //  Positions never go back: a later answer cannot need less.
    s_entry_t *last = (s_entry_t *) zlistx_last (self->entries);
    if (last && last->after > after)
        after = last->after;
    entry->after = after;
    entry->msg = *msg_p;
    *msg_p = NULL;
    if (!zlistx_add_end (self->entries, entry)) {
        s_entry_free ((void **) &entry);
        return -1;
    }
    return 0;
}

bool sl_outbox_peek (sl_outbox_t *self, uint64_t durable, zframe_t **routing_id_p,
                     zframe_t **msg_p)
{
    assert (self);
    s_entry_t *entry = (s_entry_t *) zlistx_first (self->entries);
    if (!entry || entry->after > durable)
        return false;
    *routing_id_p = entry->routing_id;
    *msg_p = entry->msg;
    return true;
}

void sl_outbox_pop (sl_outbox_t *self)
{
    assert (self);
    if (zlistx_first (self->entries))
        zlistx_delete (self->entries, NULL);
}

size_t sl_outbox_size (sl_outbox_t *self)
{
    assert (self);
    return zlistx_size (self->entries);
}

void sl_outbox_purge (sl_outbox_t *self)
{
    assert (self);
    zlistx_purge (self->entries);
}
